//! `balans report`: one self-contained offline HTML file for the JSON results of `model show`,
//! `fit`, `power`, `meta` and `transport replicate`.

use crate::output::emit;
use anyhow::{Context, Result};
use balans_report::html::{render_report, ReportConfig, ReportInput};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Arguments of `balans report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans power --builtin seed --effects 'cm->eng->perf' --tests joint,sobel --target-power 0.8 \\
      --format json > power.json
  balans report power.json --out report.html

  balans model show --builtin seed --format json > model.json
  balans fit --data survey.csv --format json > fit.json
  balans report model.json fit.json power.json --out report.html
  balans meta --data studies.csv --format json > meta.json
  balans report meta.json --out meta.html

The report is one HTML file with inline styles and figures: it opens offline, in any browser,
and prints. Each result starts with its settings, seed and version, then sentences for the key
results, power curves with Monte Carlo bands, the path diagram and the tables.")]
pub struct ReportArgs {
    /// JSON results written by balans (`--format json`); the kind is detected from the content.
    #[arg(value_name = "RESULT.json", required = true)]
    inputs: Vec<PathBuf>,
    /// The HTML file to write; `-`: stdout.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// Title of the report.
    #[arg(long, default_value = "balans report")]
    title: String,
}

/// Runs `balans report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let input_paths: Vec<&Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    crate::paths::check_outputs(&[("--out", Some(&args.out))], &input_paths)?;
    let inputs = args
        .inputs
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>>>()?;
    let config = ReportConfig {
        title: args.title.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let html = render_report(&inputs, &config)?;
    emit(Some(&args.out), html.as_bytes())
}

fn read(path: &Path) -> Result<ReportInput> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not valid JSON ({e}); write results with --format json",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    // A power analysis of a model file: read the file (as given, or beside the JSON) so the report
    // can draw its diagram. Built-in models need nothing.
    let model_text = json
        .get("settings")
        .and_then(|s| s.get("model"))
        .and_then(Value::as_str)
        .filter(|m| !m.starts_with("builtin:"))
        .and_then(|m| {
            let beside = path.parent().map(|d| d.join(m));
            std::fs::read_to_string(m)
                .ok()
                .or_else(|| beside.and_then(|b| std::fs::read_to_string(b).ok()))
        });
    Ok(ReportInput {
        name: path.display().to_string(),
        json,
        model_text,
    })
}
