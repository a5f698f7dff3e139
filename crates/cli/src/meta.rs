//! `balans meta`: random-effects meta-analysis of published or collected results (metafor-equal).

use crate::output::{emit, write_atomic, Format};
use anyhow::{bail, Context, Result};
use balans_transport::{
    fisher_z, forest_svg, meta_analyse, meta_csv, meta_rows, meta_summary_text, MetaConfig, Study,
    TauMethod,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The τ² estimator flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Restricted maximum likelihood (metafor's default).
    #[value(name = "REML", alias = "reml")]
    Reml,
    /// DerSimonian–Laird.
    #[value(name = "DL", alias = "dl")]
    Dl,
    /// Fixed (common) effect.
    #[value(name = "FE", alias = "fe")]
    Fe,
}

impl MethodArg {
    /// The library's estimator.
    pub fn method(self) -> TauMethod {
        match self {
            MethodArg::Reml => TauMethod::REML,
            MethodArg::Dl => TauMethod::DL,
            MethodArg::Fe => TauMethod::FE,
        }
    }
}

/// Arguments of `balans meta`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans meta --data studies.csv                       columns yi and vi (or r and n)
  balans meta --data studies.csv --r cor --n size --method DL --knha
  balans meta --data studies.csv --format csv --forest forest.svg

Data: a CSV file with a header row and one study per row: an estimate and its sampling variance
(--yi, --vi; default columns yi and vi), or a correlation and a sample size (--r, --n; default
columns r/ri and n/ni), analysed as Fisher's z = atanh(r) with variance 1/(n − 3). A text column
named study, author or label (or --label) names the studies. Rows with a missing value are skipped
and reported.

Output: one row per study and an 'overall' row with broom's names (term, estimate, std.error,
statistic, p.value, conf.low, conf.high) and metafor's (tau2, se.tau2, I2, H2, QE, QEp, pi.lb,
pi.ub). Numbers equal metafor's rma(yi, vi, method, test) to 1e-8.

Exit codes: 0 success, 1 bad input (e.g. a negative variance or fewer than 2 studies), 2 usage error.")]
pub struct MetaArgs {
    /// CSV file with one study per row.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Column of the estimates.
    #[arg(long, value_name = "COL", conflicts_with_all = ["r", "n"])]
    yi: Option<String>,
    /// Column of the sampling variances (not standard errors).
    #[arg(long, value_name = "COL", conflicts_with_all = ["r", "n"])]
    vi: Option<String>,
    /// Column of correlations, analysed as Fisher's z (metafor's `ri`; `--r` is a deprecated
    /// spelling).
    #[arg(long = "ri", alias = "r", value_name = "COL", requires = "n")]
    r: Option<String>,
    /// Column of sample sizes, with --ri (metafor's `ni`; `--n` is a deprecated spelling: `--n`
    /// is a sample size in every other command).
    #[arg(long = "ni", alias = "n", value_name = "COL", requires = "r")]
    n: Option<String>,
    /// Column of study labels.
    #[arg(long, value_name = "COL")]
    label: Option<String>,
    /// Estimator of the between-study variance τ².
    #[arg(long, value_enum, default_value_t = MethodArg::Reml)]
    method: MethodArg,
    /// Knapp–Hartung adjustment (t tests with k − 1 df; metafor's test = "knha").
    #[arg(long)]
    knha: bool,
    /// Confidence level of the intervals.
    #[arg(long, value_name = "LEVEL", default_value_t = 0.95)]
    level: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the results to FILE instead of stdout (atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write a forest plot (SVG) to FILE.
    #[arg(long, value_name = "FILE.svg")]
    forest: Option<PathBuf>,
}

/// The studies read from a CSV file, with the rows skipped for missing values.
pub struct StudyTable {
    /// The studies.
    pub studies: Vec<Study>,
    /// Whether they are Fisher z values of correlations (results are also shown as r).
    pub correlations: bool,
    /// Data rows skipped because a value was missing.
    pub skipped: usize,
    /// What was read (`yi/vi` or `Fisher z of r, n`).
    pub measure: String,
}

fn separator(header: &str) -> u8 {
    if header.contains(';') {
        b';'
    } else if header.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

fn find_column(origin: &str, headers: &[String], wanted: &[&str], flag: &str) -> Result<usize> {
    for w in wanted {
        if let Some(i) = headers.iter().position(|h| h == w) {
            return Ok(i);
        }
    }
    bail!(
        "{origin}: no column {} (set it with {flag}); columns found: {}",
        wanted
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" or "),
        headers.join(", ")
    )
}

/// Reads the studies of `args` from its CSV file.
fn read_studies(args: &MetaArgs) -> Result<StudyTable> {
    let origin = args.data.display().to_string();
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("failed to read data file {origin}"))?;
    parse_studies(&origin, &text, args)
}

fn parse_studies(origin: &str, text: &str, args: &MetaArgs) -> Result<StudyTable> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header = text.lines().next().unwrap_or("");
    if header.trim().is_empty() {
        bail!("{origin}: the file is empty or has no header row");
    }
    let sep = separator(header);
    let decimal_comma = sep == b';';
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{origin}: cannot read the header row"))?
        .iter()
        .map(str::to_string)
        .collect();
    let correlations = args.r.is_some()
        || (args.yi.is_none()
            && args.vi.is_none()
            && !headers.iter().any(|h| h == "yi")
            && headers.iter().any(|h| h == "r" || h == "ri"));
    let (a, b, measure) = if correlations {
        let r = args.r.as_deref().map_or(vec!["r", "ri"], |c| vec![c]);
        let n = args.n.as_deref().map_or(vec!["n", "ni"], |c| vec![c]);
        (
            find_column(origin, &headers, &r, "--r")?,
            find_column(origin, &headers, &n, "--n")?,
            "Fisher z of r (variance 1/(n − 3))".to_string(),
        )
    } else {
        let y = args.yi.as_deref().map_or(vec!["yi"], |c| vec![c]);
        let v = args.vi.as_deref().map_or(vec!["vi"], |c| vec![c]);
        (
            find_column(origin, &headers, &y, "--yi")?,
            find_column(origin, &headers, &v, "--vi")?,
            "yi, vi".to_string(),
        )
    };
    let label = match &args.label {
        Some(c) => Some(find_column(origin, &headers, &[c.as_str()], "--label")?),
        None => ["study", "author", "authors", "label", "id"]
            .iter()
            .find_map(|w| headers.iter().position(|h| h == w)),
    };
    let mut studies = Vec::new();
    let mut skipped = 0;
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| anyhow::anyhow!("{origin}:{line}: {e}"))?;
        let cell = |c: usize| record.get(c).unwrap_or("").trim();
        let missing = |s: &str| s.is_empty() || s == "NA" || s == "." || s == "NaN";
        if missing(cell(a)) || missing(cell(b)) {
            skipped += 1;
            continue;
        }
        let number = |c: usize| -> Result<f64> {
            let s = cell(c);
            let s = if decimal_comma {
                s.replace(',', ".")
            } else {
                s.to_string()
            };
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{origin}:{line}: column '{}' (column {}): cannot read '{}' as a number",
                        headers[c],
                        c + 1,
                        cell(c)
                    )
                })
        };
        let name = label
            .map(|c| cell(c).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("study {}", i + 1));
        let located = format!("{origin}:{line} ({name})");
        let (x, y) = (number(a)?, number(b)?);
        let study = if correlations {
            fisher_z(&located, x, y)?
        } else {
            Study {
                label: located,
                yi: x,
                vi: y,
            }
        };
        studies.push(study);
    }
    Ok(StudyTable {
        studies,
        correlations,
        skipped,
        measure,
    })
}

/// Strips the location from the labels once the studies have been validated.
fn plain_labels(studies: &mut [Study]) {
    for s in studies {
        if let (Some(open), true) = (s.label.find(" ("), s.label.ends_with(')')) {
            s.label = s.label[open + 2..s.label.len() - 1].to_string();
        }
    }
}

/// Runs `balans meta`.
pub fn run(args: &MetaArgs) -> Result<()> {
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must lie in (0, 1), got {}", args.level);
    }
    let mut table = read_studies(args)?;
    let config = MetaConfig {
        method: args.method.method(),
        knapp_hartung: args.knha,
        level: args.level,
        ..MetaConfig::default()
    };
    let result = meta_analyse(&table.studies, &config)
        .with_context(|| format!("failed to meta-analyse {}", args.data.display()))?;
    plain_labels(&mut table.studies);
    let rows = meta_rows(&table.studies, &result, args.level);
    if let Some(path) = &args.forest {
        let title = format!("{} — {}", file_name(&args.data), table.measure);
        write_atomic(
            path,
            forest_svg(&table.studies, &result, &title, args.level).as_bytes(),
        )?;
    }
    let text = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "data": args.data.display().to_string(),
                "measure": table.measure,
                "skipped_rows": table.skipped,
                "level": args.level,
                "model": result,
                "rows": rows,
                "r_scale": table.correlations.then(|| json!({
                    "estimate": result.estimate.tanh(), "conf.low": result.conf_low.tanh(),
                    "conf.high": result.conf_high.tanh(), "pi.lb": result.pi_lb.tanh(),
                    "pi.ub": result.pi_ub.tanh(),
                })),
            }))?
        ),
        Format::Csv => meta_csv(&rows),
        Format::Table => {
            let mut o = format!(
                "balans {} — meta-analysis of {} ({}){}\n\n",
                env!("CARGO_PKG_VERSION"),
                args.data.display(),
                table.measure,
                if table.skipped > 0 {
                    format!("; {} rows with missing values skipped", table.skipped)
                } else {
                    String::new()
                }
            );
            o.push_str(&meta_summary_text(&result, args.level));
            if table.correlations {
                o.push_str(&format!(
                    "On the correlation scale (r = tanh z): {:.4} [{:.4}, {:.4}], prediction interval [{:.4}, {:.4}]\n",
                    result.estimate.tanh(),
                    result.conf_low.tanh(),
                    result.conf_high.tanh(),
                    result.pi_lb.tanh(),
                    result.pi_ub.tanh()
                ));
            }
            o.push_str(&format!(
                "\n{:<28} {:>9} {:>8} {:>9} {:>9} {:>7}\n",
                "study", "estimate", "se", "ci.lb", "ci.ub", "weight"
            ));
            for r in rows.iter().filter(|r| r.kind == "study") {
                o.push_str(&format!(
                    "{:<28} {:>9.4} {:>8.4} {:>9.4} {:>9.4} {:>6.2}%\n",
                    r.term,
                    r.estimate,
                    r.std_error,
                    r.conf_low,
                    r.conf_high,
                    r.weight.unwrap_or(f64::NAN)
                ));
            }
            o
        }
    };
    emit(args.out.as_deref(), text.as_bytes())
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}
