//! `balans whatif`: the expected change of every outcome when the model's levers are shifted.

use crate::output::Format;
use crate::source::ModelSource;
use anyhow::{anyhow, Result};
use balans_model::whatif::{what_if, Shift};
use std::path::PathBuf;

/// Arguments of `balans whatif`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  balans whatif --builtin seed-levers --shift load=-0.5,supp=0.3\n  balans whatif --builtin seed-levers --compare --outcome perf"
)]
pub struct WhatIfArgs {
    #[command(flatten)]
    source: ModelSource,
    /// Shift of one or more levers (exogenous variables) in SD units, e.g. load=-0.5,supp=0.3.
    #[arg(long, value_name = "NAME=SD,…")]
    shift: Option<String>,
    /// Share of employees the intervention reaches, in (0, 1].
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    share: f64,
    /// Rank every lever by its effect on --outcome per +1 SD (without --shift: only the ranking).
    #[arg(long)]
    compare: bool,
    /// The outcome the levers are ranked on.
    #[arg(long, value_name = "NAME", default_value = "eng")]
    outcome: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Parses `NAME=SD,…`.
fn parse_shifts(text: &str) -> Result<Vec<Shift>> {
    text.split(',')
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| anyhow!("--shift: '{item}' is not NAME=SD (e.g. load=-0.5)"))?;
            let sd: f64 = value
                .trim()
                .parse()
                .map_err(|_| anyhow!("--shift: '{value}' in '{item}' is not a number"))?;
            Ok(Shift {
                lever: name.trim().to_string(),
                sd,
            })
        })
        .collect()
}

/// Runs `balans whatif`.
pub fn run(args: &WhatIfArgs) -> Result<()> {
    let inputs: Vec<&std::path::Path> = args.source.model.iter().map(PathBuf::as_path).collect();
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &inputs)?;
    let shifts = match &args.shift {
        Some(s) => parse_shifts(s)?,
        None if args.compare => Vec::new(),
        None => return Err(anyhow!("give --shift NAME=SD,… or --compare")),
    };
    let model = args.source.load()?;
    let pop = model.population()?;
    let report = what_if(
        &args.source.origin(),
        &pop,
        &shifts,
        args.share,
        &args.outcome,
    )?;
    let output = balans_report::output::Output::WhatIf(Box::new(report));
    crate::output::write_output(args.out.as_deref(), &output, args.format)
}
