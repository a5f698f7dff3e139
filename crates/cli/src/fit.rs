//! `balans fit`: estimate a path model on CSV data, lavaan-style.

use crate::data::{read_csv, CsvOptions};
use crate::output::{emit, Format};
use crate::sizes;
use crate::source::ModelSource;
use crate::Failure;
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::{
    bootstrap, estimate_clustered, estimate_with, monte_carlo_ci, AnalysisSpec, BootstrapConfig,
    EstimateConfig, EvalError, Fit, Interval, MonteCarloConfig, SampleMoments,
};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Interval method for indirect effects and `:=` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiMethod {
    /// Delta method (Sobel), as lavaan's default `parameterEstimates()`.
    Delta,
    /// Monte Carlo interval, as `semTools::monteCarloCI`.
    Mc,
    /// Percentile bootstrap (resampling respondents).
    Percentile,
    /// Bias-corrected bootstrap (lavaan's `bca.simple`).
    Bc,
}

impl CiMethod {
    fn name(self) -> &'static str {
        match self {
            CiMethod::Delta => "delta",
            CiMethod::Mc => "mc",
            CiMethod::Percentile => "percentile",
            CiMethod::Bc => "bc",
        }
    }
}

/// Arguments of `balans fit`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans fit --data survey.csv                          the study's model (builtin seed) on your data
  balans fit --data survey.csv --model my.lav --ci bc --boot 2000 --seed 7
  balans fit --data export.csv --sep ';' --decimal , --na -99 --format json

Data: a CSV file with a header row. Each model variable is a column of that name, or else the mean
of item columns named <variable>1, <variable>2, … (as written by `balans simulate`). Missing values:
empty, NA, '.', NaN and the codes given with --na; rows with a missing value are dropped (listwise
deletion, reported), or with --missing ml every row enters the likelihood (FIML, lavaan's
missing = \"ml\"; rows missing a fixed covariate are dropped, as lavaan).

Estimation: normal-theory ML with lavaan's sem() defaults (fixed.x = TRUE, N in the denominator,
expected information). Numbers in the model text are population values and are ignored here: every
path is estimated. Latent variables (f =~ item1 + item2 + item3): the items are columns; the first
loading is fixed to 1 (or, with --std-lv, the latent variances); negative variance estimates
(Heywood cases) are reported.

Exit codes: 0 success, 1 bad input, 2 usage error, 3 the ML fit did not converge.")]
pub struct FitArgs {
    /// CSV data file.
    #[arg(long, value_name = "FILE")]
    pub(crate) data: PathBuf,
    #[command(flatten)]
    pub(crate) source: ModelSource,
    /// Interval method for indirect effects and defined parameters (bootstrap methods also give
    /// bootstrap intervals for the paths).
    #[arg(long, value_enum, default_value_t = CiMethod::Delta)]
    pub(crate) ci: CiMethod,
    /// Number of bootstrap resamples (with --ci percentile or bc).
    #[arg(long, value_name = "B", default_value_t = 1000)]
    pub(crate) boot: usize,
    /// Number of Monte Carlo draws (with --ci mc).
    #[arg(long, value_name = "D", default_value_t = 20_000)]
    pub(crate) mc_draws: usize,
    /// Seed of the Monte Carlo and bootstrap draws.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub(crate) level: f64,
    /// Iteration limit of the iterative ML fitter (Fisher scoring); a fit that needs more exits with
    /// code 3 and its diagnostics.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub(crate) max_iter: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
    /// Write the results to FILE instead of stdout (atomically).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Field separator (detected from the header when absent: ';', tab or ',').
    #[arg(long, value_name = "CHAR")]
    pub(crate) sep: Option<char>,
    /// Decimal separator ('.' by default; ',' when the separator is ';').
    #[arg(long, value_name = "CHAR")]
    pub(crate) decimal: Option<char>,
    /// Extra missing-value codes, comma separated (e.g. -99,999).
    #[arg(
        long,
        value_name = "CODES",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub(crate) na: Vec<String>,
    /// The minimum share of a scale's items that must be answered for its score (the mean of the
    /// answered items); otherwise the score is missing.
    #[arg(long, value_name = "SHARE", default_value_t = balans_sim::scale_score::DEFAULT_MIN_ITEM_SHARE)]
    pub(crate) min_items: f64,
    /// Analyse values that look like missing-value codes (-9, -99, 999, …) or lie outside a scale's
    /// known range as they are, instead of stopping.
    #[arg(long)]
    pub(crate) accept_codes: bool,
    /// Column naming each respondent's cluster (team, supervisor): cluster-robust standard errors
    /// (lavaan's `cluster =`, `se = "robust.cluster"`); estimates are unchanged.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) cluster: Option<String>,
    /// Column naming each respondent's group (context, sector, country): multi-group path analysis
    /// (lavaan's `group =`), with the likelihood-ratio test of equal regressions and per-path Wald
    /// tests of equality across groups.
    #[arg(long, value_name = "COLUMN", conflicts_with = "cluster")]
    group: Option<String>,
    /// With --group: hold these parameters equal across groups (lavaan's `group.equal`).
    #[arg(long, value_enum, requires = "group")]
    equal: Option<crate::groups::EqualArg>,
    /// Missing values: drop incomplete rows (listwise) or full-information ML (ml, lavaan's
    /// missing = "ml", with a mean structure).
    #[arg(long, value_enum, default_value_t = crate::fit_latent::MissingArg::Listwise)]
    pub(crate) missing: crate::fit_latent::MissingArg,
    /// Scale latent variables by fixing their (residual) variances to 1 and freeing every loading
    /// (lavaan's std.lv = TRUE).
    #[arg(long)]
    pub(crate) std_lv: bool,
    /// Information matrix of the standard errors for latent-variable and FIML fits (FIML always
    /// uses the observed information, as lavaan).
    #[arg(long, value_enum, default_value_t = crate::fit_latent::InformationArg::Expected)]
    pub(crate) information: crate::fit_latent::InformationArg,
}

pub(crate) fn ascii(c: Option<char>, flag: &str) -> Result<Option<u8>> {
    match c {
        None => Ok(None),
        Some(c) if c.is_ascii() => Ok(Some(c as u8)),
        Some(c) => bail!("{flag} must be a single ASCII character, got '{c}'"),
    }
}

/// Column names that usually mean respondents are nested in clusters.
const CLUSTER_COLUMNS: &[&str] = &[
    "team",
    "supervisor_id",
    "leader",
    "cluster",
    "site",
    "department",
];

/// Warns when the data have a column that looks like a cluster and `--cluster` was not given.
pub(crate) fn warn_if_nested(columns: &[String]) {
    if let Some(col) = columns
        .iter()
        .find(|h| CLUSTER_COLUMNS.contains(&h.as_str()))
    {
        eprintln!("warning: the data have a column '{col}': if respondents are nested in {col}s, the standard errors ignore it and are too small; pass --cluster {col} for cluster-robust standard errors (lavaan's cluster =)");
    }
}

/// The response ranges of the study's item scales (1–7; engagement 0–6).
pub(crate) fn known_ranges() -> Vec<crate::data::KnownRange> {
    balans_study::SCALES
        .iter()
        .map(|s| crate::data::KnownRange {
            scale: s.name.to_string(),
            min: f64::from(s.min),
            max: f64::from(s.max),
        })
        .collect()
}

/// Runs `balans fit`.
pub fn run(args: &FitArgs) -> Result<(), Failure> {
    if let Some(column) = &args.group {
        return run_groups(args, column);
    }
    let report = fit_report(args).map_err(|e| {
        let code = match e.downcast_ref::<EvalError>() {
            Some(EvalError::NotConverged { .. }) => 3,
            _ => 1,
        };
        Failure { code, error: e }
    })?;
    let bytes = match args.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        ),
        Format::Csv => csv_text(&report),
        Format::Table => table(&report),
    };
    emit(args.out.as_deref(), bytes.as_bytes())?;
    Ok(())
}

fn fit_report(args: &FitArgs) -> Result<Value> {
    let inputs: Vec<&std::path::Path> = std::iter::once(&args.data)
        .chain(&args.source.model)
        .map(|p| p.as_path())
        .collect();
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &inputs)?;
    if !(0.0..=1.0).contains(&args.min_items) {
        bail!("--min-items must be a share between 0 and 1 (e.g. 0.5 for half of a scale's items), got {}", args.min_items);
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must lie in (0, 1), got {}", args.level);
    }
    if matches!(args.ci, CiMethod::Percentile | CiMethod::Bc) && args.boot < 10 {
        bail!(
            "--boot must be at least 10 for a bootstrap interval, got {}",
            args.boot
        );
    }
    if args.ci == CiMethod::Mc && args.mc_draws < 100 {
        bail!("--mc-draws must be at least 100, got {}", args.mc_draws);
    }
    if let Some(d) = args.decimal.filter(|d| !matches!(d, '.' | ',')) {
        bail!("--decimal '{d}' is not a decimal mark: use '.' or ','");
    }
    let model = args.source.load()?;
    if crate::fit_latent::applies(args, &model) {
        return crate::fit_latent::fit_report(args, &model);
    }
    let spec = AnalysisSpec::from_model(&model)
        .map_err(|e| anyhow!(e))
        .context("failed to set up the analysis model")?;
    check_draws(args, &spec)?;
    let opts = CsvOptions {
        separator: ascii(args.sep, "--sep")?,
        decimal: ascii(args.decimal, "--decimal")?,
        na: args.na.clone(),
        min_item_share: args.min_items,
        accept_codes: args.accept_codes,
        known_ranges: known_ranges(),
        cluster: args.cluster.clone(),
        keep_incomplete: false,
    };
    let data = read_csv(&args.data, spec.variables(), &opts)?;
    let origin = args.data.display().to_string();
    // Refuse too few rows before the estimator allocates its npar × npar matrices.
    let p = spec.variables().len();
    let needed = spec.npar().max(p + 1);
    if data.n < needed {
        return Err(anyhow!(EvalError::TooFewObservations {
            n: data.n,
            npar: spec.npar(),
            p,
            needed,
        }))
        .with_context(|| format!("failed to fit the model to {origin}"));
    }
    let moments = SampleMoments::from_rows(&data.values, spec.variables().len())
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("{origin}: {} complete rows", data.n))?;
    let mut config = EstimateConfig {
        level: args.level,
        ..EstimateConfig::default()
    };
    config.estimator.max_iterations = args.max_iter;
    if args.cluster.is_some() && matches!(args.ci, CiMethod::Percentile | CiMethod::Bc) {
        bail!("--cluster with a bootstrap interval is not supported (the bootstrap would have to resample clusters); use --ci delta or --ci mc");
    }
    if args.cluster.is_none() {
        warn_if_nested(&data.columns);
    }
    let fit_started = std::time::Instant::now();
    let fitted = match &data.clusters {
        Some(c) => estimate_clustered(&spec, &data.values, c, &config),
        None => estimate_with(&spec, &moments, &config),
    };
    let fit = fitted.map_err(anyhow::Error::new).with_context(|| {
        format!(
            "failed to fit the model to {origin} ({} complete rows)",
            data.n
        )
    })?;

    // Intervals of the effects (and, for bootstrap, of the paths).
    let mut effect_ci: Vec<Interval> = fit
        .effects
        .iter()
        .map(|e| Interval {
            lower: e.ci_lower,
            upper: e.ci_upper,
        })
        .collect();
    let mut param_ci: Option<Vec<Interval>> = None;
    let mut boot_info = Value::Null;
    match args.ci {
        CiMethod::Delta => {}
        CiMethod::Mc => {
            let mc = MonteCarloConfig {
                draws: args.mc_draws,
                level: args.level,
                seed: args.seed,
            };
            announce_monte_carlo(&spec, &fit.output, &mc);
            effect_ci = monte_carlo_ci(&spec, &fit.output, &mc).map_err(|e| anyhow!(e))?;
        }
        CiMethod::Percentile | CiMethod::Bc => {
            // Each resample is one refit, run in parallel.
            let per_fit = fit_started.elapsed();
            sizes::announce(
                &format!("the bootstrap ({} resamples)", args.boot),
                per_fit.mul_f64(args.boot as f64 / rayon::current_num_threads() as f64),
            );
            let bc = BootstrapConfig {
                resamples: args.boot,
                seed: args.seed,
                level: args.level,
            };
            let b = bootstrap(&spec, &data.values, &fit.output, &bc).map_err(|e| anyhow!(e))?;
            let pick = |i: &balans_estimate::BootstrapInterval| {
                if args.ci == CiMethod::Bc {
                    i.bias_corrected
                } else {
                    i.percentile
                }
            };
            effect_ci = b.effects.iter().map(pick).collect();
            param_ci = Some(b.parameters.iter().map(pick).collect());
            boot_info = json!({"resamples": args.boot, "successful": b.n_successful});
        }
    }
    let mut report = report_json(
        args,
        &origin,
        &model_origin(args),
        &data,
        &fit,
        &effect_ci,
        param_ci.as_deref(),
        boot_info,
    );
    if !data.scales.is_empty() {
        report["scales"] = json!(data
            .scales
            .iter()
            .map(
                |r| json!({"name": r.variable, "items": r.items, "min_answered": r.min_answered,
                            "partial_rows": r.partial_rows, "missing_rows": r.missing_rows})
            )
            .collect::<Vec<_>>());
    }
    if let (Some(c), Some(col)) = (&data.clusters, &args.cluster) {
        let g = c.iter().copied().max().map_or(0, |m| m + 1);
        report["se"] = json!("robust.cluster");
        report["cluster"] = json!({"column": col, "clusters": g});
    }
    Ok(report)
}

/// `--group`: the multi-group analysis (crates/cli/src/groups.rs).
fn run_groups(args: &FitArgs, column: &str) -> Result<(), Failure> {
    if !(args.level > 0.0 && args.level < 1.0) {
        return Err(anyhow!("--level must lie in (0, 1), got {}", args.level).into());
    }
    if args.ci != CiMethod::Delta {
        return Err(anyhow!("--group supports Wald (delta) intervals only; drop --ci").into());
    }
    let csv = CsvOptions {
        separator: ascii(args.sep, "--sep")?,
        decimal: ascii(args.decimal, "--decimal")?,
        na: args.na.clone(),
        min_item_share: args.min_items,
        accept_codes: args.accept_codes,
        known_ranges: known_ranges(),
        cluster: None,
        keep_incomplete: false,
    };
    crate::groups::run(&crate::groups::GroupRequest {
        data: &args.data,
        source: &args.source,
        csv,
        column,
        equal: args.equal,
        level: args.level,
        max_iter: args.max_iter,
        format: args.format,
        out: args.out.as_deref(),
    })
}

/// Refuses `--boot` and `--mc-draws` values whose draws would not fit in memory at once.
fn check_draws(args: &FitArgs, spec: &AnalysisSpec) -> Result<()> {
    let effects = spec.effects().len();
    match args.ci {
        CiMethod::Percentile | CiMethod::Bc => {
            sizes::at_most(
                "--boot",
                args.boot,
                sizes::MAX_BOOT,
                "lavaan's examples use 1000 to 5000",
            )?;
            sizes::within_memory(
                "--boot",
                args.boot,
                spec.npar() + effects,
                "bootstrap estimates",
            )
        }
        CiMethod::Mc => {
            sizes::at_most(
                "--mc-draws",
                args.mc_draws,
                sizes::MAX_MC_DRAWS,
                "20000 is semTools' default",
            )?;
            sizes::within_memory("--mc-draws", args.mc_draws, effects, "Monte Carlo draws")
        }
        CiMethod::Delta => Ok(()),
    }
}

/// Times a pilot of 2,000 Monte Carlo draws and announces a long run.
fn announce_monte_carlo(
    spec: &AnalysisSpec,
    fit: &balans_estimate::FitOutput,
    mc: &MonteCarloConfig,
) {
    const PILOT: usize = 2000;
    if mc.draws <= 10 * PILOT {
        return;
    }
    let started = std::time::Instant::now();
    let pilot = MonteCarloConfig {
        draws: PILOT,
        ..*mc
    };
    if monte_carlo_ci(spec, fit, &pilot).is_ok() {
        sizes::announce(
            &format!("the Monte Carlo interval ({} draws)", mc.draws),
            started.elapsed().mul_f64(mc.draws as f64 / PILOT as f64),
        );
    }
}

pub(crate) fn model_origin(args: &FitArgs) -> String {
    args.source.origin()
}

#[allow(clippy::too_many_arguments)]
fn report_json(
    args: &FitArgs,
    data_origin: &str,
    model_origin: &str,
    data: &crate::data::DataMatrix,
    fit: &Fit,
    effect_ci: &[Interval],
    param_ci: Option<&[Interval]>,
    boot_info: Value,
) -> Value {
    let n_free = fit.parameters.iter().filter(|p| p.free).count();
    let parameters: Vec<Value> = fit
        .parameters
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let (lo, hi) = match param_ci {
                Some(ci) if k < n_free && p.free => (ci[k].lower, ci[k].upper),
                _ => (p.ci_lower, p.ci_upper),
            };
            json!({
                "lhs": p.lhs, "op": p.op, "rhs": p.rhs, "label": p.label, "free": p.free,
                "est": p.est, "se": p.std_err, "z": p.z, "pvalue": p.pvalue,
                "ci.lower": lo, "ci.upper": hi, "std.all": p.std_all,
            })
        })
        .collect();
    let method = args.ci.name();
    let effects: Vec<Value> = fit
        .effects
        .iter()
        .zip(effect_ci)
        .map(|(e, ci)| {
            json!({
                "name": e.name, "kind": e.kind, "est": e.est, "se": e.std_err, "z": e.z, "pvalue": e.pvalue,
                "ci.lower": ci.lower, "ci.upper": ci.upper, "ci.method": method, "std.all": e.std_all,
                "joint_significant": e.joint_significant,
            })
        })
        .collect();
    let m = &fit.measures;
    let r2: serde_json::Map<String, Value> = fit
        .r_squared
        .iter()
        .map(|r| (r.variable.clone(), json!(r.r_squared)))
        .collect();
    json!({
        "data": data_origin,
        "model": model_origin,
        "n": data.n,
        "n_dropped": data.n_dropped,
        "variables": data.names.iter().zip(&data.provenance).map(|(n, p)| json!({"name": n, "from": p})).collect::<Vec<_>>(),
        "estimator": "ML",
        "method": match format!("{:?}", fit.convergence.method).to_lowercase().as_str() { "closedform" => "closed form".to_string(), "fisherscoring" => "Fisher scoring".to_string(), other => other.to_string() },
        "iterations": fit.convergence.iterations,
        "ci": {"method": method, "level": args.level, "seed": args.seed, "bootstrap": boot_info,
               "mc_draws": if args.ci == CiMethod::Mc { json!(args.mc_draws) } else { Value::Null }},
        "fit": {
            "npar": m.npar, "chisq": m.chisq, "df": m.df, "pvalue": m.pvalue,
            "baseline.chisq": m.baseline_chisq, "baseline.df": m.baseline_df,
            "cfi": m.cfi, "tli": m.tli, "rmsea": m.rmsea, "rmsea.ci.lower": m.rmsea_ci_lower,
            "rmsea.ci.upper": m.rmsea_ci_upper, "rmsea.pvalue": m.rmsea_pvalue, "srmr": m.srmr,
            "logl": m.logl, "unrestricted.logl": m.unrestricted_logl, "aic": m.aic, "bic": m.bic,
        },
        "r2": r2,
        "parameters": parameters,
        "effects": effects,
    })
}

fn num(v: &Value, width: usize, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:>width$.digits$}"),
        None => format!("{:>width$}", ""),
    }
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// lavaan `summary()`-like text.
pub(crate) fn table(r: &Value) -> String {
    let mut o = String::new();
    let f = &r["fit"];
    let line = |o: &mut String, label: &str, value: String| {
        if value.chars().count() > 14 {
            o.push_str(&format!("  {label:<20}{value:>38}\n"));
        } else {
            o.push_str(&format!("  {label:<44}{value:>14}\n"));
        }
    };
    o.push_str(&format!(
        "balans {} — ML estimation ({})\n\n",
        env!("CARGO_PKG_VERSION"),
        text(&r["method"])
    ));
    line(&mut o, "Data", text(&r["data"]));
    line(&mut o, "Model", text(&r["model"]));
    line(&mut o, "Estimator", "ML".into());
    line(&mut o, "Optimization method", text(&r["method"]));
    line(&mut o, "Number of model parameters", f["npar"].to_string());
    line(&mut o, "Number of observations", r["n"].to_string());
    let dropped_label = match r["missing"].as_str() {
        Some("ml") => "Rows dropped (no value or missing a fixed x)",
        _ => "Rows dropped (listwise deletion)",
    };
    line(&mut o, dropped_label, r["n_dropped"].to_string());
    if let Some(k) = r["missing_patterns"].as_u64() {
        line(&mut o, "Missing-data patterns (FIML)", k.to_string());
    }
    if let Some(c) = r.get("cluster") {
        line(&mut o, "Standard errors", "robust.cluster".into());
        line(
            &mut o,
            &format!("Clusters ({})", c["column"].as_str().unwrap_or("")),
            c["clusters"].to_string(),
        );
    }
    o.push_str("\nModel Test User Model:\n");
    line(&mut o, "Test statistic", num(&f["chisq"], 0, 3));
    line(&mut o, "Degrees of freedom", f["df"].to_string());
    if f["pvalue"].is_number() {
        line(&mut o, "P-value (Chi-square)", num(&f["pvalue"], 0, 3));
    }
    o.push_str("\nModel Test Baseline Model:\n");
    line(&mut o, "Test statistic", num(&f["baseline.chisq"], 0, 3));
    line(&mut o, "Degrees of freedom", f["baseline.df"].to_string());
    o.push_str("\nUser Model versus Baseline Model:\n");
    line(&mut o, "Comparative Fit Index (CFI)", num(&f["cfi"], 0, 3));
    line(&mut o, "Tucker-Lewis Index (TLI)", num(&f["tli"], 0, 3));
    o.push_str("\nLoglikelihood and Information Criteria:\n");
    line(
        &mut o,
        "Loglikelihood user model (H0)",
        num(&f["logl"], 0, 3),
    );
    line(
        &mut o,
        "Loglikelihood unrestricted model (H1)",
        num(&f["unrestricted.logl"], 0, 3),
    );
    line(&mut o, "Akaike (AIC)", num(&f["aic"], 0, 3));
    line(&mut o, "Bayesian (BIC)", num(&f["bic"], 0, 3));
    o.push_str("\nRoot Mean Square Error of Approximation:\n");
    line(&mut o, "RMSEA", num(&f["rmsea"], 0, 3));
    line(
        &mut o,
        "90 Percent confidence interval - lower",
        num(&f["rmsea.ci.lower"], 0, 3),
    );
    line(
        &mut o,
        "90 Percent confidence interval - upper",
        num(&f["rmsea.ci.upper"], 0, 3),
    );
    if f["rmsea.pvalue"].is_number() {
        line(
            &mut o,
            "P-value H_0: RMSEA <= 0.050",
            num(&f["rmsea.pvalue"], 0, 3),
        );
    }
    o.push_str("\nStandardized Root Mean Square Residual:\n");
    line(&mut o, "SRMR", num(&f["srmr"], 0, 3));
    o.push_str("\nParameter Estimates:\n");
    line(&mut o, "Standard errors", "Standard".into());
    line(
        &mut o,
        "Information",
        r["information"].as_str().unwrap_or("Expected").to_string(),
    );
    let ci_method = text(&r["ci"]["method"]);
    let header = format!(
        "  {:<22}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
        "", "Estimate", "Std.Err", "z-value", "P(>|z|)", "ci.lower", "ci.upper", "Std.all"
    );
    let params = r["parameters"].as_array().expect("array");
    let row = |o: &mut String, name: String, p: &Value| {
        o.push_str(&format!(
            "    {:<20}{}{}{}{}{}{}{}\n",
            name,
            num(&p["est"], 10, 3),
            if p["free"] == true {
                num(&p["se"], 9, 3)
            } else {
                format!("{:>9}", "")
            },
            num(&p["z"], 9, 3),
            num(&p["pvalue"], 9, 3),
            num(&p["ci.lower"], 9, 3),
            num(&p["ci.upper"], 9, 3),
            num(&p["std.all"], 9, 3),
        ))
    };
    let labelled = |p: &Value, name: &str| {
        let l = text(&p["label"]);
        if l.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({l})")
        }
    };
    let loadings: Vec<&Value> = params.iter().filter(|p| p["op"] == "=~").collect();
    if !loadings.is_empty() {
        o.push_str("\nLatent Variables:\n");
        o.push_str(&header);
        let mut last = String::new();
        for p in loadings {
            let lhs = text(&p["lhs"]);
            if lhs != last {
                o.push_str(&format!("  {lhs} =~\n"));
                last = lhs;
            }
            row(&mut o, labelled(p, &text(&p["rhs"])), p);
        }
    }
    o.push_str("\nRegressions:\n");
    o.push_str(&header);
    let mut last = String::new();
    for p in params.iter().filter(|p| p["op"] == "~") {
        let lhs = text(&p["lhs"]);
        if lhs != last {
            o.push_str(&format!("  {lhs} ~\n"));
            last = lhs;
        }
        row(&mut o, labelled(p, &text(&p["rhs"])), p);
    }
    let covs: Vec<&Value> = params
        .iter()
        .filter(|p| p["op"] == "~~" && p["lhs"] != p["rhs"])
        .collect();
    if !covs.is_empty() {
        o.push_str("\nCovariances:\n");
        o.push_str(&header);
        for p in covs {
            let dot = if p["free"] == true { "." } else { " " };
            row(
                &mut o,
                labelled(
                    p,
                    &format!("{dot}{} ~~ {dot}{}", text(&p["lhs"]), text(&p["rhs"])),
                ),
                p,
            );
        }
    }
    let intercepts: Vec<&Value> = params.iter().filter(|p| p["op"] == "~1").collect();
    if !intercepts.is_empty() {
        o.push_str("\nIntercepts:\n");
        o.push_str(&header);
        for p in intercepts {
            let dot = if p["free"] == true { "." } else { " " };
            row(&mut o, labelled(p, &format!("{dot}{}", text(&p["lhs"]))), p);
        }
    }
    o.push_str("\nVariances:\n");
    o.push_str(&header);
    for p in params
        .iter()
        .filter(|p| p["op"] == "~~" && p["lhs"] == p["rhs"])
    {
        let dot = if p["free"] == true { "." } else { " " };
        row(&mut o, labelled(p, &format!("{dot}{}", text(&p["lhs"]))), p);
    }
    if let Some(improper) = r["improper"].as_array().filter(|v| !v.is_empty()) {
        o.push_str("\nImproper solution (Heywood case): negative variance estimates:\n");
        for v in improper {
            o.push_str(&format!(
                "    {:<20}{}\n",
                text(&v["variable"]),
                num(&v["est"], 10, 3)
            ));
        }
    }
    o.push_str("\nR-Square:\n");
    if let Some(r2) = r["r2"].as_object() {
        for (k, v) in r2 {
            o.push_str(&format!("    {k:<20}{}\n", num(v, 10, 3)));
        }
    }
    let effects = r["effects"].as_array().expect("array");
    if !effects.is_empty() {
        o.push_str(&format!(
            "\nEffects (delta-method SE and z; intervals: {ci_method}{}):\n",
            if ci_method == "delta" { "" } else { ", seeded" }
        ));
        o.push_str(&format!(
            "  {:<30}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}  {}\n",
            "", "Estimate", "Std.Err", "z-value", "P(>|z|)", "ci.lower", "ci.upper", "kind"
        ));
        for e in effects {
            let joint = match e["joint_significant"].as_bool() {
                Some(true) => ", joint: significant",
                Some(false) => ", joint: n.s.",
                None => "",
            };
            o.push_str(&format!(
                "    {:<28}{}{}{}{}{}{}  {}{}\n",
                text(&e["name"]),
                num(&e["est"], 9, 3),
                num(&e["se"], 9, 3),
                num(&e["z"], 9, 3),
                num(&e["pvalue"], 9, 3),
                num(&e["ci.lower"], 9, 3),
                num(&e["ci.upper"], 9, 3),
                text(&e["kind"]),
                joint
            ));
        }
    }
    o
}

/// Long-form CSV: the parameter rows, then the effect rows, with lavaan's column names.
pub(crate) fn csv_text(r: &Value) -> String {
    let mut o = String::from(
        "section,lhs,op,rhs,label,est,se,z,pvalue,ci.lower,ci.upper,std.all,ci.method\n",
    );
    let cell = |v: &Value| match v {
        Value::Null => "NA".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for p in r["parameters"].as_array().expect("array") {
        o.push_str(&format!(
            "parameter,{},{},{},{},{},{},{},{},{},{},{},wald\n",
            cell(&p["lhs"]),
            cell(&p["op"]),
            cell(&p["rhs"]),
            cell(&p["label"]),
            cell(&p["est"]),
            cell(&p["se"]),
            cell(&p["z"]),
            cell(&p["pvalue"]),
            cell(&p["ci.lower"]),
            cell(&p["ci.upper"]),
            cell(&p["std.all"])
        ));
    }
    for e in r["effects"].as_array().expect("array") {
        o.push_str(&format!(
            "{},{},:=,,{},{},{},{},{},{},{},{},{}\n",
            cell(&e["kind"]),
            cell(&e["name"]),
            cell(&e["name"]),
            cell(&e["est"]),
            cell(&e["se"]),
            cell(&e["z"]),
            cell(&e["pvalue"]),
            cell(&e["ci.lower"]),
            cell(&e["ci.upper"]),
            cell(&e["std.all"]),
            cell(&e["ci.method"])
        ));
    }
    o
}
