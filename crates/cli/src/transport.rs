//! `balans transport replicate | sites | reweight | groups`: do the study's effects survive in new
//! contexts?

use crate::output::{emit, Format};
use anyhow::{bail, Context, Result};
use balans_transport::replication::{analyse, Estimate, ReplicationConfig};
use balans_transport::{tidy_csv, tidy_table, TidyRow};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Arguments of `balans transport`.
#[derive(Debug, clap::Args)]
pub struct TransportArgs {
    #[command(subcommand)]
    command: TransportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TransportCommand {
    /// Replication statistics for one effect: replication power and N, sceptical p-value,
    /// prediction interval, Q-test, small telescopes, TOST.
    Replicate(ReplicateArgs),
}

/// Output flags shared by the transport subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the results to FILE instead of stdout (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Arguments of `balans transport replicate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans transport replicate --original 0.31,0.060 --replication 0.15,0.083
  balans transport replicate --original 0.31,0.060 --original-n 278 --replication-n 150 --tau 0.1
  balans transport replicate --from fit.json --effect is->wfc->perf --sesoi 0.02

The original estimate comes from --original EST,SE or from a `balans fit --format json` result
(--from FIT.json --effect NAME, where NAME is a path 'wfc~is', a label, or an effect name such as
'is->wfc->perf'; the fit's N becomes the original N). Give the replication's estimate
(--replication EST,SE) or its planned size (--replication-n with --original-n).

Output rows (broom names): original and replication Wald tests; power.conditional /
power.predictive / power.EB (ReplicationSuccess's powerSignificance at the planned size, τ as
relative heterogeneity τ²/SE²); n.* (replication N for --target-power); p.sceptical.* (nominal and
golden, one- and two-sided; estimate = sceptical z); prediction.interval.* (Patil et al. 2016
with τ, and empirical-Bayes shrinkage); q.test; small.telescopes (d33: the effect the original had
33% power to detect); tost (equivalence within ±SESOI).

Exit codes: 0 success, 1 bad input, 2 usage error.")]
pub struct ReplicateArgs {
    /// Original estimate and its standard error.
    #[arg(
        long,
        value_name = "EST,SE",
        allow_hyphen_values = true,
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    original: Option<String>,
    /// A `balans fit --format json` result holding the original estimate.
    #[arg(long, value_name = "FIT.json", requires = "effect")]
    from: Option<PathBuf>,
    /// The effect in --from: a path (`wfc~is`), a label, or an effect name (`is->wfc->perf`).
    #[arg(long, value_name = "NAME", requires = "from")]
    effect: Option<String>,
    /// Replication estimate and its standard error.
    #[arg(
        long,
        value_name = "EST,SE",
        allow_hyphen_values = true,
        conflicts_with = "replication_n"
    )]
    replication: Option<String>,
    /// Planned replication sample size.
    #[arg(long, value_name = "N")]
    replication_n: Option<usize>,
    /// Original sample size (taken from --from when absent).
    #[arg(long, value_name = "N")]
    original_n: Option<usize>,
    /// Between-context heterogeneity τ (SD of the true effect across contexts).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    tau: f64,
    /// Smallest effect size of interest: TOST equivalence bounds ±D.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    sesoi: Option<f64>,
    /// Target power of the replication N rows.
    #[arg(long, value_name = "P", default_value_t = 0.8)]
    target_power: f64,
    /// Two-sided significance level.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Confidence level of intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    #[command(flatten)]
    output: OutputArgs,
}

/// Parses `EST,SE`.
fn pair(flag: &str, text: &str) -> Result<(f64, f64)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let numbers: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok()).collect();
    match numbers.as_deref() {
        Some([e, s]) => Ok((*e, *s)),
        _ => bail!("{flag} expects EST,SE (two numbers separated by a comma, e.g. 0.31,0.06), got '{text}'"),
    }
}

/// The estimate, SE and N of `name` in a `balans fit --format json` result.
fn from_fit(path: &PathBuf, name: &str) -> Result<(f64, f64, Option<usize>)> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read fit file {origin}"))?;
    let fit: Value = serde_json::from_str(&text).with_context(|| {
        format!("{origin}: not a JSON document (write it with `balans fit --format json --out {origin}`)")
    })?;
    let n = fit["n"].as_u64().map(|n| n as usize);
    let mut known = Vec::new();
    let params = fit["parameters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for p in params.iter().filter(|p| p["free"] == true) {
        let path_name = format!(
            "{}{}{}",
            p["lhs"].as_str().unwrap_or(""),
            p["op"].as_str().unwrap_or(""),
            p["rhs"].as_str().unwrap_or("")
        );
        let label = p["label"].as_str().unwrap_or("");
        if path_name == name || (!label.is_empty() && label == name) {
            return Ok((
                p["est"].as_f64().unwrap_or(f64::NAN),
                p["se"].as_f64().unwrap_or(f64::NAN),
                n,
            ));
        }
        if p["op"] == "~" {
            known.push(path_name);
        }
    }
    let effects = fit["effects"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for e in effects {
        let en = e["name"].as_str().unwrap_or("");
        if en == name {
            return Ok((
                e["est"].as_f64().unwrap_or(f64::NAN),
                e["se"].as_f64().unwrap_or(f64::NAN),
                n,
            ));
        }
        known.push(en.to_string());
    }
    if params.is_empty() && effects.is_empty() {
        bail!("{origin}: no 'parameters' or 'effects' found; is this the output of `balans fit --format json`?");
    }
    let suggestion = balans_model::suggest(name, known.iter().map(String::as_str))
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default();
    bail!(
        "--effect: unknown effect '{name}' in {origin}{suggestion}; known effects: {}",
        known.join(", ")
    )
}

fn replication_config(args: &ReplicateArgs) -> Result<ReplicationConfig> {
    let (est, se, fit_n) = match (&args.original, &args.from, &args.effect) {
        (Some(t), _, _) => {
            let (e, s) = pair("--original", t)?;
            (e, s, None)
        }
        (None, Some(path), Some(name)) => from_fit(path, name)?,
        _ => bail!("give --original EST,SE or --from FIT.json --effect NAME"),
    };
    let original = Estimate::new(est, se, "original").context("--original")?;
    let mut config = ReplicationConfig::new(original);
    if let Some(t) = &args.replication {
        let (e, s) = pair("--replication", t)?;
        config.replication = Some(Estimate::new(e, s, "replication").context("--replication")?);
    }
    config.original_n = args.original_n.or(fit_n);
    config.replication_n = args.replication_n;
    config.tau = args.tau;
    config.sesoi = args.sesoi;
    config.target_power = args.target_power;
    config.alpha = args.alpha;
    config.level = args.level;
    Ok(config)
}

/// Renders tidy rows in the chosen format, with `header` above the table and `meta` in the JSON.
pub fn render_tidy(rows: &[TidyRow], format: Format, header: &str, meta: Value) -> Result<String> {
    Ok(match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({"settings": meta, "rows": rows}))?
        ),
        Format::Csv => tidy_csv(rows),
        Format::Table => format!("{header}\n\n{}", tidy_table(rows)),
    })
}

fn run_replicate(args: &ReplicateArgs) -> Result<()> {
    let config = replication_config(args)?;
    let rows = analyse(&config).map_err(|e| {
        let flag = match &e {
            balans_transport::TransportError::Invalid { what, .. } => match what.as_str() {
                "tau" => "--tau",
                "the target power" => "--target-power",
                "the significance level" => "--alpha",
                "the confidence level" => "--level",
                "the smallest effect size of interest" => "--sesoi",
                "the original sample size" => "--original-n",
                "the replication sample size" => "--replication-n",
                _ => "input",
            },
            _ => "input",
        };
        anyhow::Error::new(e).context(flag)
    })?;
    let header = format!(
        "balans {} — replication of an effect (original {} ± {}{})",
        env!("CARGO_PKG_VERSION"),
        config.original.estimate(),
        config.original.std_error(),
        config
            .original_n
            .map_or_else(String::new, |n| format!(", N = {n}"))
    );
    let text = render_tidy(
        &rows,
        args.output.format,
        &header,
        serde_json::to_value(&config)?,
    )?;
    emit(args.output.out.as_deref(), text.as_bytes())
}

/// Runs `balans transport …`.
pub fn run(args: &TransportArgs) -> Result<()> {
    match &args.command {
        TransportCommand::Replicate(a) => run_replicate(a),
    }
}
