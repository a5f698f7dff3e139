//! `balans fit`: estimate a path model on CSV data, lavaan-style.

use crate::data::{read_csv, CsvOptions, DataMatrix};
use crate::output::Format;
use crate::sizes;
use crate::source::ModelSource;
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::sem::Information;
use balans_estimate::{
    bootstrap, estimate_clustered, estimate_with, monte_carlo_ci, AnalysisSpec, BootstrapConfig,
    BootstrapCount, ClusterInfo, EstimateConfig, EvalError, Fit, FitContext, FitReport, Interval,
    IntervalMethod, IntervalSettings, MonteCarloConfig, SampleMoments, ScaleRow, VariableSource,
};
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

impl From<CiMethod> for IntervalMethod {
    fn from(m: CiMethod) -> IntervalMethod {
        match m {
            CiMethod::Delta => IntervalMethod::Delta,
            CiMethod::Mc => IntervalMethod::Mc,
            CiMethod::Percentile => IntervalMethod::Percentile,
            CiMethod::Bc => IntervalMethod::Bc,
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
  balans fit --data teams.csv --model my.lav --cluster team     cluster-robust SEs, scaled test
  balans fit --data teams.csv --model my.lav --cluster team --information expected

Data: a CSV file with a header row. Each model variable is a column of that name, or else the mean
of item columns named <variable>1, <variable>2, … (as written by `balans simulate`). Missing values:
empty, NA, '.', NaN and the codes given with --na; rows with a missing value are dropped (listwise
deletion, reported), or with --missing ml every row enters the likelihood (FIML, lavaan's
missing = \"ml\"; rows missing a fixed covariate are dropped, as lavaan).

Estimation: normal-theory ML with lavaan's sem() defaults (fixed.x = TRUE, N in the denominator,
expected information; with --cluster, lavaan's cluster = defaults: cluster-robust standard errors
with the observed information as the sandwich's bread, and the Yuan-Bentler scaled test with robust
CFI, TLI and RMSEA; --information expected for the expected information). Numbers in the model text are population values and are ignored here: every
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
    #[arg(long, value_name = "S", default_value_t = 1)]
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
    /// The item columns of a scale, named explicitly (repeatable), e.g. `--items
    /// eng=UWES_1,UWES_2,UWES_3`. Without it, a scale `eng` is read from a column `eng` or from
    /// items `eng1`, `eng2`, … in any case and with `_`, `.` or `-` before the number.
    #[arg(long, value_name = "SCALE=COL,COL,…")]
    pub(crate) items: Vec<String>,
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
    /// Information matrix of the standard errors (and, with --cluster, of the scaled test), as
    /// lavaan's defaults: observed with --cluster (the sandwich's bread), expected otherwise (FIML
    /// always uses the observed information).
    #[arg(long, value_enum)]
    pub(crate) information: Option<crate::fit_latent::InformationArg>,
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
pub fn run(args: &FitArgs) -> Result<()> {
    if let Some(column) = &args.group {
        return run_groups(args, column);
    }
    let report = fit_report(args)?;
    let output = balans_report::output::Output::Fit(Box::new(report));
    crate::output::write_output(args.out.as_deref(), &output, args.format)
}

/// The flag values `clap` cannot check on its own, and outputs that would overwrite an input.
fn check_args(args: &FitArgs) -> Result<()> {
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
    Ok(())
}

/// Reads the model and the data, fits, draws the intervals, and collects the report.
fn fit_report(args: &FitArgs) -> Result<FitReport> {
    check_args(args)?;
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
        items: crate::data::parse_items(&args.items)?,
    };
    let data = read_csv(&args.data, spec.variables(), &opts)?;
    let fit_started = std::time::Instant::now();
    let fit = fit_data(args, &spec, &data)?;
    let intervals = intervals(args, &spec, &data, &fit, fit_started.elapsed())?;
    Ok(FitReport::new(
        &fit,
        context(args, &data, intervals.bootstrap),
        &intervals.effects,
        intervals.parameters.as_deref(),
    ))
}

/// The bread of a cluster-robust fit: `--information`, or lavaan's default with `cluster =`,
/// observed information.
fn cluster_information(args: &FitArgs) -> Information {
    match args.information {
        Some(crate::fit_latent::InformationArg::Expected) => Information::Expected,
        Some(crate::fit_latent::InformationArg::Observed) | None => Information::Observed,
    }
}

/// The ML fit of `data` (cluster-robust standard errors with `--cluster`).
fn fit_data(args: &FitArgs, spec: &AnalysisSpec, data: &DataMatrix) -> Result<Fit> {
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
    let fitted = match &data.clusters {
        Some(c) => estimate_clustered(spec, &data.values, c, &config, cluster_information(args)),
        None => estimate_with(spec, &moments, &config),
    };
    fitted.map_err(anyhow::Error::new).with_context(|| {
        format!(
            "failed to fit the model to {origin} ({} complete rows)",
            data.n
        )
    })
}

/// The intervals `--ci` asks for.
struct Intervals {
    /// Per effect.
    effects: Vec<Interval>,
    /// Per free parameter (bootstrap methods only).
    parameters: Option<Vec<Interval>>,
    /// Bootstrap resamples drawn and successful (bootstrap methods only).
    bootstrap: Option<BootstrapCount>,
}

/// The effects' intervals (delta method, Monte Carlo or bootstrap) and, for bootstrap, the
/// paths' intervals.
fn intervals(
    args: &FitArgs,
    spec: &AnalysisSpec,
    data: &DataMatrix,
    fit: &Fit,
    per_fit: std::time::Duration,
) -> Result<Intervals> {
    let mut out = Intervals {
        effects: fit
            .effects
            .iter()
            .map(|e| Interval {
                lower: e.ci_lower,
                upper: e.ci_upper,
            })
            .collect(),
        parameters: None,
        bootstrap: None,
    };
    match args.ci {
        CiMethod::Delta => {}
        CiMethod::Mc => {
            let mc = MonteCarloConfig {
                draws: args.mc_draws,
                level: args.level,
                seed: args.seed,
            };
            announce_monte_carlo(spec, &fit.output, &mc);
            out.effects = monte_carlo_ci(spec, &fit.output, &mc).map_err(|e| anyhow!(e))?;
        }
        CiMethod::Percentile | CiMethod::Bc => {
            // Each resample is one refit, run in parallel.
            sizes::announce(
                &format!("the bootstrap ({} resamples)", args.boot),
                per_fit.mul_f64(args.boot as f64 / rayon::current_num_threads() as f64),
            );
            let bc = BootstrapConfig {
                resamples: args.boot,
                seed: args.seed,
                level: args.level,
            };
            let b = bootstrap(spec, &data.values, &fit.output, &bc).map_err(|e| anyhow!(e))?;
            let pick = |i: &balans_estimate::BootstrapInterval| {
                if args.ci == CiMethod::Bc {
                    i.bias_corrected
                } else {
                    i.percentile
                }
            };
            out.effects = b.effects.iter().map(pick).collect();
            out.parameters = Some(b.parameters.iter().map(pick).collect());
            out.bootstrap = Some(BootstrapCount {
                resamples: args.boot,
                successful: b.n_successful,
            });
        }
    }
    Ok(out)
}

/// What the report says besides the fit: origins, counts, interval settings, clusters.
fn context(args: &FitArgs, data: &DataMatrix, bootstrap: Option<BootstrapCount>) -> FitContext {
    FitContext {
        data: args.data.display().to_string(),
        model: args.source.origin(),
        n: data.n,
        n_dropped: data.n_dropped,
        variables: data
            .names
            .iter()
            .zip(&data.provenance)
            .map(|(name, from)| VariableSource {
                from: from.clone(),
                name: name.clone(),
            })
            .collect(),
        intervals: IntervalSettings {
            bootstrap,
            level: args.level,
            mc_draws: (args.ci == CiMethod::Mc).then_some(args.mc_draws),
            method: args.ci.into(),
            seed: args.seed,
        },
        cluster: match (&data.clusters, &args.cluster) {
            (Some(c), Some(column)) => Some(ClusterInfo {
                clusters: c.iter().copied().max().map_or(0, |m| m + 1),
                column: column.clone(),
            }),
            _ => None,
        },
        scales: data
            .scales
            .iter()
            .map(|r| ScaleRow {
                items: r.items,
                min_answered: r.min_answered,
                missing_rows: r.missing_rows,
                name: r.variable.clone(),
                partial_rows: r.partial_rows,
            })
            .collect(),
    }
}

/// `--group`: the multi-group analysis (crates/cli/src/groups.rs).
fn run_groups(args: &FitArgs, column: &str) -> Result<()> {
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must lie in (0, 1), got {}", args.level);
    }
    if args.ci != CiMethod::Delta {
        bail!("--group supports Wald (delta) intervals only; drop --ci");
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
        items: crate::data::parse_items(&args.items)?,
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
