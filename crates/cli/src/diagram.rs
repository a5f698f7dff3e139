//! `balans diagram`: the path diagram of a model (population values) or of a fit (estimates with
//! stars), as SVG.

use crate::output::emit;
use crate::source::ModelSource;
use anyhow::{Context, Result};
use balans_report::diagram::PathDiagram;
use std::path::PathBuf;

/// Arguments of `balans diagram`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans diagram --builtin seed --out seed.svg          population values of the study's model
  balans diagram --model my.lav --out my.svg
  balans fit --data survey.csv --format json > fit.json
  balans diagram --fit fit.json --out fit.svg           estimates: stars, non-significant paths dashed

Variables flow left to right in causal order; R² is shown in the boxes of endogenous variables,
(residual) covariances as curved arrows (three or more exogenous correlations as a small table).")]
pub struct DiagramArgs {
    #[command(flatten)]
    source: ModelSource,
    /// A fit result (`balans fit --format json`) or a model result (`balans model show --format
    /// json`) to draw instead of a model.
    #[arg(long, value_name = "RESULT.json", conflicts_with_all = ["model", "builtin"])]
    fit: Option<PathBuf>,
    /// Output file (SVG); `-` or absent: stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `balans diagram`.
pub fn run(args: &DiagramArgs) -> Result<()> {
    let inputs: Vec<&std::path::Path> = args
        .source
        .model
        .iter()
        .chain(&args.fit)
        .map(|p| p.as_path())
        .collect();
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &inputs)?;
    let diagram = match &args.fit {
        Some(path) => from_result(path)?,
        None => {
            let model = args.source.load()?;
            let population = model.population()?;
            PathDiagram::from_population(&model, &population)
        }
    };
    emit(args.out.as_deref(), diagram.to_svg().as_bytes())
}

fn from_result(path: &std::path::Path) -> Result<PathDiagram> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not valid JSON (write it with 'balans fit … --format json')",
            path.display()
        )
    })?;
    let kind = balans_report::html::detect_kind(&json).map(|k| k.name());
    let diagram = match kind {
        Some("fit") => balans_report::html::fit_diagram(&json),
        Some("model") => balans_report::html::model_diagram(&json),
        _ => {
            anyhow::bail!(
                "{}: --fit expects the JSON of 'balans fit --format json' or 'balans model show --format json'",
                path.display()
            )
        }
    };
    diagram.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
