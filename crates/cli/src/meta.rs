//! `balans meta`: random-effects meta-analysis of published or collected results (metafor-equal).

use crate::output::{emit, write_atomic, Format};
use anyhow::{bail, Context, Result};
use balans_transport::metareg::{MAX_MAGNITUDE, MIN_VARIANCE, ZERO_VARIANCE_METHODS};
use balans_transport::{
    fisher_z, forest_svg, meta_analyse, meta_csv, meta_regress, meta_rows, meta_summary_text,
    regression_csv, regression_text, CorrelationPrediction, CorrelationScale, Design, MetaConfig,
    MetaDocument, MetaInput, Moderator, ModeratorInfo, RegressionConfig, RegressionDocument,
    RegressionStudy, Study, TauMethod,
};

/// The input part of the JSON documents.
fn input_of(args: &MetaArgs, table: &StudyTable) -> MetaInput {
    MetaInput {
        data: args.data.display().to_string(),
        measure: table.measure.clone(),
        skipped_rows: table.skipped,
        level: args.level,
    }
}
use std::path::{Path, PathBuf};

/// The τ² estimator flag (metafor's `method`).
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
    /// Maximum likelihood.
    #[value(name = "ML", alias = "ml")]
    Ml,
    /// Paule–Mandel.
    #[value(name = "PM", alias = "pm")]
    Pm,
    /// Hedges (unweighted least squares).
    #[value(name = "HE", alias = "he")]
    He,
    /// Sidik–Jonkman.
    #[value(name = "SJ", alias = "sj")]
    Sj,
    /// Empirical Bayes.
    #[value(name = "EB", alias = "eb")]
    Eb,
    /// Hunter–Schmidt.
    #[value(name = "HS", alias = "hs")]
    Hs,
}

impl MethodArg {
    /// The library's estimator.
    pub fn method(self) -> TauMethod {
        match self {
            MethodArg::Reml => TauMethod::REML,
            MethodArg::Dl => TauMethod::DL,
            MethodArg::Fe => TauMethod::FE,
            MethodArg::Ml => TauMethod::ML,
            MethodArg::Pm => TauMethod::PM,
            MethodArg::He => TauMethod::HE,
            MethodArg::Sj => TauMethod::SJ,
            MethodArg::Eb => TauMethod::EB,
            MethodArg::Hs => TauMethod::HS,
        }
    }
}

/// Arguments of `balans meta`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans meta --data studies.csv                       columns yi and vi (or r and n)
  balans meta --data studies.csv --ri cor --ni size --method DL --knha
  balans meta --data studies.csv --format csv --forest forest.svg
  balans meta --data bcg.csv --mods ablat,factor(alloc) --predict ablat=40,alloc=random

Data: a CSV file with a header row and one study per row: an estimate and its sampling variance
(--yi, --vi; default columns yi and vi), or a correlation and a sample size (--r, --n; default
columns r/ri and n/ni), analysed as Fisher's z = atanh(r) with variance 1/(n − 3). A text column
named study, author or label (or --label) names the studies. Rows with a missing value are skipped
and reported.

Moderators (meta-regression, metafor's rma(yi, vi, mods = ~ x + factor(g))): --mods names the
columns; a categorical one is written factor(COL) or declared with --factor COL and dummy coded
with its first level (sorted as R's factor()) as reference. Rows with a missing moderator are
skipped and reported. --predict COL=V,... (repeatable) predicts the effect at new moderator values
with a CI and a prediction interval.

Output: one row per study and an 'overall' row with broom's names (term, estimate, std.error,
statistic, p.value, conf.low, conf.high) and metafor's (tau2, se.tau2, I2, H2, QE, QEp, pi.lb,
pi.ub); with moderators, the coefficients, the tests QE and QM, R^2 and the predictions. Numbers
equal metafor 3.8-1's rma(yi, vi, mods, method, test) (tests/reference/meta_*.json). One study
(k = 1) is analysed as metafor does: tau^2 = 0 and the z test, with a note. A study with vi = 0
is fitted by ML, REML, EB, HE and SJ as metafor (no Q, I^2 or H^2) and refused by FE, DL, PM, HS.

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
    /// Knapp–Hartung adjustment (t tests with k − p df, F test of the moderators; metafor's
    /// test = "knha").
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
    /// Moderators for a meta-regression: columns, comma separated; factor(COL) for a categorical
    /// one.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    mods: Vec<String>,
    /// Columns to treat as categorical moderators (dummy coded, first level the reference); added
    /// to the moderators when not in --mods.
    #[arg(long, value_name = "COL,…", value_delimiter = ',')]
    factor: Vec<String>,
    /// Predict the effect at moderator values, e.g. ablat=40,alloc=random (repeatable).
    #[arg(long, value_name = "COL=V,…")]
    predict: Vec<String>,
}

/// A moderator column to read: its name and whether it is categorical.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModeratorSpec {
    name: String,
    categorical: bool,
}

/// The moderators of `--mods` and `--factor`, in the order given.
fn moderator_specs(args: &MetaArgs) -> Result<Vec<ModeratorSpec>> {
    let mut specs: Vec<ModeratorSpec> = Vec::new();
    let mut add = |name: &str, categorical: bool, flag: &str| -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            bail!("{flag}: an empty column name (write --mods x,factor(g))");
        }
        if let Some(s) = specs.iter_mut().find(|s| s.name == name) {
            if flag == "--mods" {
                bail!("--mods names '{name}' twice");
            }
            s.categorical = true;
            return Ok(());
        }
        specs.push(ModeratorSpec {
            name: name.to_string(),
            categorical,
        });
        Ok(())
    };
    for m in &args.mods {
        let m = m.trim();
        match m.strip_prefix("factor(").and_then(|t| t.strip_suffix(')')) {
            Some(name) => add(name, true, "--mods")?,
            None => add(m, args.factor.iter().any(|f| f.trim() == m), "--mods")?,
        }
    }
    for f in &args.factor {
        add(f, true, "--factor")?;
    }
    Ok(specs)
}

/// One `--predict COL=V,...` as (moderator, value) pairs.
fn parse_prediction(spec: &str) -> Result<Vec<(String, String)>> {
    spec.split(',')
        .map(|part| {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                anyhow::anyhow!(
                    "--predict '{spec}': '{part}' is not COL=VALUE (write e.g. --predict ablat=40,alloc=random)"
                )
            })?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || value.is_empty() {
                bail!("--predict '{spec}': '{part}' needs a column and a value");
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
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
    /// The moderators, one value per study.
    pub moderators: Vec<Moderator>,
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
fn read_studies(args: &MetaArgs, specs: &[ModeratorSpec]) -> Result<StudyTable> {
    let origin = args.data.display().to_string();
    let bytes = crate::data::read_bounded(&args.data, crate::data::MAX_DATA_BYTES, "data file")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{origin}: the data file is not UTF-8 text"))?;
    parse_studies(&origin, &text, args, specs)
}

/// A cell that counts as missing (metafor's `na.omit` drops such studies).
fn missing(s: &str) -> bool {
    s.is_empty() || s == "NA" || s == "." || s == "NaN"
}

fn parse_studies(
    origin: &str,
    text: &str,
    args: &MetaArgs,
    specs: &[ModeratorSpec],
) -> Result<StudyTable> {
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
    let mod_columns: Vec<usize> = specs
        .iter()
        .map(|m| {
            find_column(
                origin,
                &headers,
                &[m.name.as_str()],
                if m.categorical { "--factor" } else { "--mods" },
            )
        })
        .collect::<Result<_>>()?;
    let mut continuous: Vec<Vec<f64>> = vec![Vec::new(); specs.len()];
    let mut categorical: Vec<Vec<String>> = vec![Vec::new(); specs.len()];
    let mut studies = Vec::new();
    let mut skipped = 0;
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| anyhow::anyhow!("{origin}:{line}: {e}"))?;
        let cell = |c: usize| record.get(c).unwrap_or("").trim();
        if missing(cell(a)) || missing(cell(b)) || mod_columns.iter().any(|&c| missing(cell(c))) {
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
        let cell_at = |c: usize| {
            format!(
                "{origin}:{line}: column '{}' (column {})",
                headers[c],
                c + 1
            )
        };
        for (j, (spec, &c)) in specs.iter().zip(&mod_columns).enumerate() {
            if spec.categorical {
                categorical[j].push(cell(c).to_string());
            } else {
                let x = number(c).map_err(|e| {
                    anyhow::anyhow!(
                        "{e} (a continuous moderator; declare a categorical one with --factor {})",
                        spec.name
                    )
                })?;
                if x.abs() > MAX_MAGNITUDE {
                    bail!("{}: moderator value {x:e} is beyond ±{MAX_MAGNITUDE:e}, which the meta-regression cannot represent (its cross-products overflow); rescale the moderator", cell_at(c));
                }
                continuous[j].push(x);
            }
        }
        let name = label
            .map(|c| cell(c).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("study {}", i + 1));
        let located = format!("{origin}:{line} ({name})");
        let (x, y) = (number(a)?, number(b)?);
        if !correlations {
            check_estimate(&cell_at(a), x)?;
            check_variance(&cell_at(b), y, args.method.method())?;
        }
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
    let moderators = specs
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            if spec.categorical {
                Moderator::Categorical {
                    name: spec.name.clone(),
                    values: std::mem::take(&mut categorical[j]),
                }
            } else {
                Moderator::Continuous {
                    name: spec.name.clone(),
                    values: std::mem::take(&mut continuous[j]),
                }
            }
        })
        .collect();
    Ok(StudyTable {
        studies,
        correlations,
        skipped,
        measure,
        moderators,
    })
}

/// Refuses an estimate the analysis cannot represent, located at its cell.
fn check_estimate(at: &str, yi: f64) -> Result<()> {
    if yi.abs() > MAX_MAGNITUDE {
        bail!("{at}: estimate {yi:e} is beyond ±{MAX_MAGNITUDE:e}, which the meta-analysis cannot represent (the estimating equations square it and multiply by squared weights, overflowing double precision); rescale the estimates (other units)");
    }
    Ok(())
}

/// Refuses a sampling variance the analysis cannot use, located at its cell: 0 under an estimator
/// that weights by 1/vi (metafor refuses those too), negative, or outside [`MIN_VARIANCE`,
/// `MAX_MAGNITUDE`]. A variance of 0 is accepted for ML, REML, EB, HE and SJ, as metafor.
fn check_variance(at: &str, vi: f64, method: TauMethod) -> Result<()> {
    if vi == 0.0 && !ZERO_VARIANCE_METHODS.contains(&method) {
        bail!("{at}: sampling variance 0; the {} estimator weights by 1/vi and needs positive variances (metafor stops too); ML, REML, EB, HE and SJ fit with vi = 0 when tau^2 > 0, without Q, I^2 and H^2, as metafor (--method reml)", method.name());
    }
    if vi == 0.0 {
        return Ok(());
    }
    if vi < 0.0 {
        bail!("{at}: sampling variance vi = {vi} must be positive (a variance, not a standard error or a negative number)");
    }
    if !(MIN_VARIANCE..=MAX_MAGNITUDE).contains(&vi) {
        bail!("{at}: sampling variance {vi:e} lies outside [{MIN_VARIANCE:e}, {MAX_MAGNITUDE:e}], where the weights 1/vi and their cubes stay representable in double precision; rescale the estimates (other units)");
    }
    Ok(())
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
    // Every output is checked against the input and the others before any work.
    crate::paths::check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--forest", args.forest.as_deref()),
        ],
        &[args.data.as_path()],
    )?;
    if let Some(forest) = &args.forest {
        crate::paths::check_svg_target("--forest", forest)?;
    }
    let specs = moderator_specs(args)?;
    let predictions = args
        .predict
        .iter()
        .map(|p| parse_prediction(p).map(|v| (p.clone(), v)))
        .collect::<Result<Vec<_>>>()?;
    if specs.is_empty() && !predictions.is_empty() {
        bail!("--predict needs moderators (--mods); without them the pooled estimate and its prediction interval are the prediction");
    }
    if !specs.is_empty() && args.forest.is_some() {
        bail!("--forest draws the pooled estimate of a model without moderators; run it without --mods");
    }
    let mut table = read_studies(args, &specs)?;
    let zero_variance = table.studies.iter().any(|s| s.vi == 0.0);
    if zero_variance && args.forest.is_some() {
        bail!("--forest: a study has sampling variance 0 (no confidence interval to draw, and no Q, I^2 or H^2); run it without --forest");
    }
    // With a variance of 0, Q, I² and H² are undefined (metafor's NA): the meta-regression
    // layout, which shows them as NA, reports the intercept-only model.
    if !specs.is_empty() || zero_variance {
        return run_regression(args, &mut table, &predictions);
    }
    let config = MetaConfig {
        method: args.method.method(),
        knapp_hartung: args.knha,
        level: args.level,
        ..MetaConfig::default()
    };
    let result = meta_analyse(&table.studies, &config)
        .with_context(|| format!("failed to meta-analyse {}", args.data.display()))?;
    plain_labels(&mut table.studies);
    if args.format != Format::Table {
        for note in &result.notes {
            eprintln!("note: {note}");
        }
    }
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
            // Through a serde_json::Value: keys sorted, as before the document was typed.
            serde_json::to_string_pretty(&serde_json::to_value(MetaDocument {
                input: input_of(args, &table),
                r_scale: table.correlations.then(|| CorrelationScale::of(&result)),
                model: result,
                rows,
            })?)?
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

/// The meta-regression branch of `balans meta` (with `--mods` or `--factor`).
fn run_regression(
    args: &MetaArgs,
    table: &mut StudyTable,
    predictions: &[(String, Vec<(String, String)>)],
) -> Result<()> {
    let k = table.studies.len();
    let design = Design::new(k, &table.moderators)
        .with_context(|| format!("failed to build the moderators of {}", args.data.display()))?;
    let rows = predictions
        .iter()
        .map(|(spec, values)| {
            design
                .new_row(values)
                .with_context(|| format!("--predict {spec}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let config = RegressionConfig {
        method: args.method.method(),
        knapp_hartung: args.knha,
        level: args.level,
    };
    let reg = meta_regress(&table.studies, &design, &config)
        .with_context(|| format!("failed to meta-analyse {}", args.data.display()))?;
    plain_labels(&mut table.studies);
    if args.format != Format::Table {
        for note in &reg.notes {
            eprintln!("note: {note}");
        }
    }
    let mut predicted: Vec<_> = predictions
        .iter()
        .zip(&rows)
        .map(|((spec, _), row)| reg.predict(spec, row))
        .collect();
    if table.moderators.is_empty() {
        // The intercept-only model (a variance of 0): the pooled effect in a new context.
        predicted.push(reg.predict("overall", &[1.0]));
    }
    let text = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::to_value(RegressionDocument {
                input: input_of(args, table),
                moderators: table
                    .moderators
                    .iter()
                    .map(|m| match m {
                        Moderator::Continuous { name, .. } => ModeratorInfo {
                            name: name.clone(),
                            kind: "continuous",
                        },
                        Moderator::Categorical { name, .. } => ModeratorInfo {
                            name: name.clone(),
                            kind: "categorical",
                        },
                    })
                    .collect(),
                coefficient_names: design.names().to_vec(),
                r_scale: table
                    .correlations
                    .then(|| predicted.iter().map(CorrelationPrediction::of).collect()),
                studies: table
                    .studies
                    .iter()
                    .zip(&reg.weights)
                    .map(|(s, w)| RegressionStudy {
                        term: s.label.clone(),
                        estimate: s.yi,
                        vi: s.vi,
                        weight: *w,
                    })
                    .collect(),
                predictions: predicted.clone(),
                regression: reg.clone(),
            })?)?
        ),
        Format::Csv => regression_csv(&reg, &predicted),
        Format::Table => {
            let mut o = format!(
                "balans {} — meta-{} of {} ({}){}\n\n",
                env!("CARGO_PKG_VERSION"),
                if table.moderators.is_empty() {
                    "analysis"
                } else {
                    "regression"
                },
                args.data.display(),
                table.measure,
                if table.skipped > 0 {
                    format!("; {} rows with missing values skipped", table.skipped)
                } else {
                    String::new()
                }
            );
            o.push_str(&regression_text(&reg, &predicted, args.level));
            if table.correlations && !predicted.is_empty() {
                o.push_str("\nOn the correlation scale (r = tanh z):\n");
                for p in &predicted {
                    o.push_str(&format!(
                        "{}: {:.4} [{:.4}, {:.4}], prediction interval [{:.4}, {:.4}]\n",
                        p.at,
                        p.pred.tanh(),
                        p.ci_lb.tanh(),
                        p.ci_ub.tanh(),
                        p.pi_lb.tanh(),
                        p.pi_ub.tanh()
                    ));
                }
            }
            o
        }
    };
    emit(args.out.as_deref(), text.as_bytes())
}
