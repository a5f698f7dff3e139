//! `balans model list | show | print`.

use crate::output::{emit, Format};
use crate::source::ModelSource;
use anyhow::Result;
use balans_model::{ModelSummary, BUILTINS};
use std::path::{Path, PathBuf};

/// Arguments of `balans model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelCommand {
    /// List the built-in models.
    #[command(after_help = "Example:\n  balans model list")]
    List,
    /// Show a model: paths with population values and their sources, implied correlations, R², and
    /// direct, indirect and total effects (every specific indirect route named, e.g. is->wfc->perf).
    #[command(
        after_help = "Examples:\n  balans model show --builtin seed\n  balans model show --model mediation.lav --standardized --format json"
    )]
    Show {
        #[command(flatten)]
        source: ModelSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write the result to FILE (atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a model file's text (a built-in one, to edit and run as your own).
    #[command(
        after_help = "Example:\n  balans model print --builtin seed > my-model.lav\n  balans model show --model my-model.lav"
    )]
    Print {
        #[command(flatten)]
        source: ModelSource,
        /// Write the model text to FILE (atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Refuses an `--out` that would replace the model file (or is unusable) before any work.
fn check_out(source: &ModelSource, out: Option<&Path>) -> Result<()> {
    let inputs: Vec<&Path> = source.model.iter().map(PathBuf::as_path).collect();
    crate::paths::check_outputs(&[("--out", out)], &inputs)
}

/// Runs `balans model …`.
pub fn run(args: &ModelArgs) -> Result<()> {
    match &args.command {
        ModelCommand::List => {
            let mut out = String::new();
            for b in BUILTINS {
                out.push_str(&format!("{:<16} {}\n", b.name, b.description));
            }
            emit(None, out.as_bytes())
        }
        ModelCommand::Print { source, out } => {
            check_out(source, out.as_deref())?;
            let text = source.text()?;
            // Validate before printing so a broken file is reported, not echoed.
            source.load()?;
            emit(out.as_deref(), text.as_bytes())
        }
        ModelCommand::Show {
            source,
            format,
            out,
        } => {
            check_out(source, out.as_deref())?;
            let model = source.load()?;
            let pop = model.population()?;
            let summary = ModelSummary::new(&source.origin(), &model, &pop)?;
            let output = balans_report::output::Output::Model(Box::new(summary));
            crate::output::write_output(out.as_deref(), &output, *format)
        }
    }
}

/// Refuses a study whose `:=` effects have no finite population value (`d := log(a - 1)` with
/// a = 0.3): every replication would fail to estimate it, and a power of 0 or 1 for it would be
/// meaningless. Names the `:=` and its value.
pub fn refuse_undefined_effects(study: &balans_power::Study) -> Result<()> {
    for e in study.effects() {
        let defined = matches!(
            e.kind,
            balans_power::EffectKind::Function { defined: true, .. }
        );
        if defined && !e.population_value.is_some_and(f64::is_finite) {
            {
                let v = e
                    .population_value
                    .map_or_else(|| "undefined".to_string(), |v| v.to_string());
                anyhow::bail!(
                    "the ':=' effect '{}' is {v} at the population values (e.g. a log or square root of a negative number, or a division by zero); no analysis can estimate it\n = help: correct its expression or the population values it uses",
                    e.name
                );
            }
        }
    }
    Ok(())
}
