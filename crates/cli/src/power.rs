//! `balans power`: Monte Carlo power analysis and sample-size planning.
//!
//! The flags are parsed by clap into [`PowerArgs`], turned into a validated
//! [`balans_power::PowerConfig`] (and sample sizes or a [`balans_power::SearchConfig`]) before any
//! work starts, then run; results go to stdout (`--format`; the table answers first, `--all` adds
//! the full grid), the plot to `--plot`, and progress to stderr ([`crate::progress`]).

use crate::output::{emit, write_atomic, Format};
use crate::sizes;
use crate::source::ModelSource;
use anyhow::{bail, Context, Result};
use balans_montecarlo::Session;
use balans_power::{
    DataMode, EffectSelection, MissingData, PowerConfig, PowerReport, Sampling, SearchConfig,
    Settings, Study, SurveyOptions, Test,
};
use std::path::PathBuf;

/// Arguments of `balans power`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # Power of every path and indirect effect of the study's model at three sample sizes
  balans power --builtin seed --n 100,200,278

  # How many employees to detect that creative management raises performance through engagement?
  balans power --builtin seed --effects 'cm->eng->perf' --tests joint,sobel,mc --target-power 0.8

  # A power curve with bootstrap tests, as CSV, with a plot
  balans power --builtin seed --effects ind_cm_eng_perf --n-range 50:400:50 \\
      --tests joint,percentile,bc --boot 1000 --reps 500 --format csv --plot power.svg

  # Item-level Likert data (the study's reliabilities), analysed as scale means
  balans power --builtin seed --measurement items --n 278

  # The study's situation: items, teams of about 8, 5% of items skipped
  balans power --builtin seed --measurement items --teams 8 --missingness mcar:0.05 --n 278 --reps 500

The table answers first: per hypothesised effect (a ':=' name shown with the route it equals) the
power ± Monte Carlo SE at each N and the N for power .80 (or --target-power) with its 95% Monte
Carlo interval; --all adds the full grid (every N, effect and test).
Effects: paths as 'outcome~predictor' (or their label), routes as 'x->m->y', ':=' names, or 'all'.
Paths get the Wald z test; indirect and ':=' effects the tests in --tests. The 'all_hypothesised'
row (full grid) counts replications in which every effect with a non-zero population value is
significant.
Power counts non-converged replications as non-rejections; the convergence rate is reported.
Replication r at sample size N uses the random stream (seed, N, r): results are identical for any
--threads.")]
pub struct PowerArgs {
    #[command(flatten)]
    source: ModelSource,
    /// Analysis model fitted to each simulated data set (default: the population model's structure,
    /// every path free, lavaan's sem() defaults).
    #[arg(long, value_name = "FILE")]
    analysis: Option<PathBuf>,
    /// Sample sizes, comma separated.
    #[arg(long, value_name = "N,…", value_delimiter = ',', group = "design")]
    n: Option<Vec<usize>>,
    /// A range of sample sizes FROM:TO:STEP, e.g. 50:1000:50.
    #[arg(long, value_name = "A:B:S", group = "design")]
    n_range: Option<String>,
    /// Search the smallest N whose power reaches P for every hypothesised effect and test.
    #[arg(
        long,
        value_name = "P",
        group = "design",
        allow_negative_numbers = true
    )]
    target_power: Option<f64>,
    /// Largest N the search considers.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20_000,
        requires = "target_power"
    )]
    n_max: usize,
    /// Replications per sample size.
    #[arg(long, value_name = "R", default_value_t = 1000)]
    reps: i64,
    /// Seed of the random streams.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Significance level (two-sided).
    #[arg(
        long,
        value_name = "A",
        default_value_t = 0.05,
        allow_negative_numbers = true
    )]
    alpha: f64,
    /// Tests of indirect and ':=' effects: joint, sobel, mc, percentile, bc.
    #[arg(long, value_name = "NAME,…", default_value = "joint,sobel")]
    tests: String,
    /// Bootstrap resamples per replication (percentile, bc).
    #[arg(long, value_name = "B", default_value_t = 1000)]
    boot: usize,
    /// Monte Carlo draws per replication (mc).
    #[arg(long, value_name = "D", default_value_t = 1000)]
    mc_draws: usize,
    /// How the constructs are measured in the simulated data: continuous construct scores, or
    /// Likert items analysed as scale means (`--data normal|items` is a deprecated spelling).
    #[arg(long, value_enum, default_value_t = DataArg::Scores, alias = "data")]
    measurement: DataArg,
    /// Employees nested under supervisors: mean team size (the survey simulator, with the study's
    /// ICCs); the analysis ignores the nesting, as the study did, unless --cluster-robust.
    #[arg(long, value_name = "MEAN")]
    teams: Option<f64>,
    /// With --teams: cluster-robust standard errors by team (lavaan's cluster = "team", observed
    /// information) instead of single-level ones; with few teams its z tests are liberal.
    #[arg(long, requires = "teams")]
    cluster_robust: bool,
    /// Item missingness, mcar:RATE or mar:RATE (listwise deletion of respondents without a scale
    /// score; scale means use the answered items).
    #[arg(long, value_name = "KIND:RATE", alias = "missing")]
    missingness: Option<String>,
    /// How each replication's covariance matrix is made: auto (Wishart when exactly valid), rows,
    /// wishart.
    #[arg(long, value_enum, default_value_t = SamplingArg::Auto)]
    sampling: SamplingArg,
    /// Effects to report: all, or names separated by commas.
    #[arg(long, value_name = "all|NAME,…", default_value = "all")]
    effects: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// With --format table: after the answer (per hypothesised effect the power at each N and the N
    /// for the target), print the full grid — every N, effect and test with bias, SEs and
    /// coverage, and the joint row of all hypothesised effects (CSV and JSON always hold it).
    #[arg(long)]
    all: bool,
    /// Write the results to FILE instead of stdout (atomically: an interrupted run leaves an
    /// existing FILE as it was).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also draw the power curve as an SVG plot to this file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Worker threads (default or 0: all cores); results do not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
}

/// `--data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DataArg {
    /// Continuous construct scores (`normal` is the deprecated spelling).
    #[value(alias = "normal")]
    Scores,
    /// Likert items, scale means.
    Items,
}

/// `--sampling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SamplingArg {
    /// Wishart where exactly valid, rows otherwise.
    Auto,
    /// Simulate N rows per replication.
    Rows,
    /// Draw the sample covariance matrix directly.
    Wishart,
}

/// What to run: a curve over sample sizes or a search.
enum Design {
    Curve(Vec<usize>),
    Search(SearchConfig),
}

/// Validated settings, ready to run.
struct Plan {
    study: Study,
    config: PowerConfig,
    design: Design,
    settings_model: String,
    settings_analysis: String,
    effects: String,
}

fn parse_range(text: &str) -> Result<Vec<usize>> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || {
        anyhow::anyhow!(
            "--n-range '{text}' is not FROM:TO:STEP with whole numbers, e.g. 50:1000:50"
        )
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let v: Vec<usize> = parts
        .iter()
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let (a, b, s) = (v[0], v[1], v[2]);
    if s == 0 || a > b {
        bail!("--n-range '{text}': FROM must not exceed TO and STEP must be positive, e.g. 50:1000:50");
    }
    // Counted before the list is made: 1:1000000000:1 must not allocate a billion entries.
    let count = (b - a) / s + 1;
    if count > 1000 {
        bail!("--n-range '{text}' gives {count} sample sizes; use a larger step (at most 1000 sample sizes)");
    }
    Ok((a..=b).step_by(s).collect())
}

/// Refuses flag values that would allocate or run without bound, before anything is built.
fn check_sizes(args: &PowerArgs) -> Result<()> {
    if args.reps > sizes::MAX_REPS {
        bail!(
            "--reps {} is out of range: at most {} (the Monte Carlo SE of a power estimate is then below .0005)",
            args.reps,
            sizes::MAX_REPS
        );
    }
    let why = "power is 1 long before; simulate at most that many respondents per replication";
    for &n in args.n.iter().flatten() {
        sizes::at_most("--n", n, sizes::MAX_POWER_N, why)?;
    }
    if let Some(range) = &args.n_range {
        for &n in &parse_range(range)? {
            sizes::at_most("--n-range", n, sizes::MAX_POWER_N, why)?;
        }
    }
    if let Some(target) = args.target_power {
        sizes::at_most("--n-max", args.n_max, sizes::MAX_POWER_N, why)?;
        if args.n_max == 0 {
            bail!("--n-max 0 is out of range: the largest N of the search must be positive, e.g. 20000");
        }
        // With R replications a power estimate cannot tell 1 − 3/R from 1; a higher target gives
        // an N that contradicts its own interval.
        let resolvable = 1.0 - 3.0 / args.reps.max(1) as f64;
        if target > resolvable && target < 1.0 {
            bail!(
                "--target-power {target} cannot be resolved with --reps {}: a power estimate from {} replications cannot tell it from 1; use a target of at most {:.4} or more replications",
                args.reps, args.reps, resolvable.max(0.0)
            );
        }
    }
    sizes::at_most(
        "--boot",
        args.boot,
        sizes::MAX_BOOT,
        "lavaan's examples use 1000 to 5000",
    )?;
    sizes::at_most(
        "--mc-draws",
        args.mc_draws,
        sizes::MAX_MC_DRAWS,
        "1000 per replication is usual",
    )?;
    if args
        .tests
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("mc"))
    {
        sizes::power_mc_draws(
            args.mc_draws,
            args.threads
                .filter(|&t| t > 0)
                .unwrap_or_else(rayon::current_num_threads),
        )?;
    }
    Ok(())
}

fn survey_options(args: &PowerArgs) -> Result<Option<SurveyOptions>> {
    let missing = match &args.missingness {
        None => None,
        Some(text) => {
            let bad = || {
                anyhow::anyhow!(
                    "--missingness '{text}' is not KIND:RATE with KIND mcar or mar, e.g. mcar:0.05"
                )
            };
            let (kind, rate) = text.split_once(':').ok_or_else(bad)?;
            let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
            Some(match kind.trim() {
                "mcar" => MissingData::Mcar(rate),
                "mar" => MissingData::Mar(rate),
                _ => return Err(bad()),
            })
        }
    };
    Ok(
        (args.teams.is_some() || missing.is_some()).then_some(SurveyOptions {
            teams: args.teams,
            missing,
            cluster_robust: args.cluster_robust,
        }),
    )
}

/// The validated settings: models, effects, Monte Carlo configuration and sample sizes.
fn plan(args: &PowerArgs) -> Result<Plan> {
    check_sizes(args)?;
    let config = config(args)?;
    let study = study(args)?;
    let design = design(args)?;
    if let Design::Curve(ns) = &design {
        balans_power::check_sample_sizes(&study, ns)?;
    }
    Ok(Plan {
        study,
        config,
        design,
        settings_model: args.source.origin(),
        settings_analysis: args
            .analysis
            .as_ref()
            .map_or_else(|| "same as model".to_string(), |p| p.display().to_string()),
        effects: args.effects.clone(),
    })
}

/// The Monte Carlo settings (validated).
fn config(args: &PowerArgs) -> Result<PowerConfig> {
    if args.reps < 1 {
        bail!("--reps {} is out of range: use at least 1 replication (1000 or more for a power estimate with MC SE ≤ .016)", args.reps);
    }
    let tests = args
        .tests
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(Test::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if tests.is_empty() {
        bail!("--tests is empty: give at least one of joint, sobel, mc, percentile, bc");
    }
    let config = PowerConfig {
        replications: args.reps as usize,
        seed: args.seed,
        alpha: args.alpha,
        tests,
        bootstrap_draws: args.boot,
        mc_draws: args.mc_draws,
        data: match args.measurement {
            DataArg::Scores => DataMode::Normal,
            DataArg::Items => DataMode::Items,
        },
        sampling: match args.sampling {
            SamplingArg::Auto => Sampling::Auto,
            SamplingArg::Rows => Sampling::Rows,
            SamplingArg::Wishart => Sampling::Wishart,
        },
        survey: survey_options(args)?,
        design: balans_study::survey_design(),
    };
    config.validate()?;
    Ok(config)
}

/// The population model, the analysis model and the selected effects.
fn study(args: &PowerArgs) -> Result<Study> {
    let model = args.source.load()?;
    let analysis = match &args.analysis {
        Some(path) => {
            let src = ModelSource {
                model: Some(path.clone()),
                builtin: None,
                standardized: false,
                strict: args.source.strict,
            };
            Some(src.load().context("failed to read the analysis model")?)
        }
        None => None,
    };
    let selection = if args.effects.trim() == "all" {
        EffectSelection::All
    } else {
        EffectSelection::Named(
            args.effects
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    };
    let study = Study::new(&model, analysis.as_ref(), &selection)?;
    crate::model_cmd::refuse_undefined_effects(&study)?;
    Ok(study)
}

/// A power curve over the given sample sizes, or a sample-size search.
fn design(args: &PowerArgs) -> Result<Design> {
    Ok(match (&args.n, &args.n_range, args.target_power) {
        (Some(ns), _, _) => Design::Curve(ns.clone()),
        (_, Some(range), _) => Design::Curve(parse_range(range)?),
        (_, _, Some(target)) => {
            if !(target > 0.0 && target < 1.0) {
                bail!("--target-power {target} is out of range: the target power must be strictly between 0 and 1, e.g. 0.8");
            }
            Design::Search(SearchConfig {
                target,
                n_max: args.n_max,
                ..SearchConfig::default()
            })
        }
        _ => bail!(
            "say which sample sizes: --n 100,200,278, --n-range 50:1000:50 or --target-power 0.8"
        ),
    })
}

impl PowerArgs {
    /// The first flag the latent-variable power path does not support, if given.
    pub(crate) fn unsupported_for_latent(&self) -> Option<&'static str> {
        if self.target_power.is_some() {
            Some("--target-power")
        } else if self.measurement != DataArg::Scores {
            Some("--measurement items")
        } else if self.teams.is_some() {
            Some("--teams")
        } else if self.missingness.is_some() {
            Some("--missingness")
        } else if self.tests.trim() != "joint,sobel" {
            Some("--tests")
        } else if self.plot.is_some() {
            Some("--plot")
        } else {
            None
        }
    }
    pub(crate) fn replications(&self) -> usize {
        self.reps.max(1) as usize
    }
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }
    pub(crate) fn alpha(&self) -> f64 {
        self.alpha
    }
    pub(crate) fn format(&self) -> Format {
        self.format
    }
    pub(crate) fn out_path(&self) -> Option<&std::path::Path> {
        self.out.as_deref()
    }
    pub(crate) fn model_origin(&self) -> String {
        self.source.origin()
    }
    /// `--effects` as names (empty for `all`).
    pub(crate) fn effect_names(&self) -> Vec<String> {
        if self.effects.trim() == "all" {
            return Vec::new();
        }
        self.effects
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Routes a run with a latent-variable analysis model to `power_latent`; `None` otherwise.
fn run_latent_if_needed(args: &PowerArgs, session: &Session) -> Result<Option<()>> {
    let model = args.source.load()?;
    let analysis = match &args.analysis {
        Some(path) => Some(
            ModelSource {
                model: Some(path.clone()),
                builtin: None,
                standardized: false,
                strict: args.source.strict,
            }
            .load()
            .context("failed to read the analysis model")?,
        ),
        None => None,
    };
    if !crate::power_latent::applies(&model, analysis.as_ref()) {
        return Ok(None);
    }
    if args.reps < 1 {
        bail!(
            "--reps {} is out of range: use at least 1 replication",
            args.reps
        );
    }
    let ns = match (&args.n, &args.n_range) {
        (Some(ns), _) => ns.clone(),
        (_, Some(range)) => parse_range(range)?,
        _ => bail!("say which sample sizes: --n 200,300 or --n-range 100:600:100 (--target-power is not available for latent-variable analysis models yet)"),
    };
    crate::power_latent::run(args, &model, analysis.as_ref(), &ns, session)?;
    Ok(Some(()))
}

/// Runs `balans power` in the run mode of `session` (whole, a shard, or a merge's replay).
pub fn run(args: &PowerArgs, session: &Session) -> Result<()> {
    let inputs: Vec<&std::path::Path> = args
        .source
        .model
        .iter()
        .chain(&args.analysis)
        .map(|p| p.as_path())
        .collect();
    crate::paths::check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--plot", args.plot.as_deref()),
        ],
        &inputs,
    )?;
    if let Some(plot) = &args.plot {
        crate::paths::check_svg_target("--plot", plot)?;
    }
    if run_latent_if_needed(args, session)?.is_some() {
        return Ok(());
    }
    let plan = plan(args)?;
    let progress = crate::progress::Progress::start(
        match &plan.design {
            Design::Curve(_) => "the power analysis",
            Design::Search(_) => "the sample-size search",
        },
        "replications",
        match &plan.design {
            Design::Curve(ns) => Some((ns.len() * plan.config.replications) as u64),
            Design::Search(_) => None,
        },
    );
    let tick = |k: u64| progress.tick(k);
    let result = match &plan.design {
        Design::Curve(ns) => {
            balans_power::power_curve(&plan.study, &plan.config, ns, &session.with_progress(&tick))
                .map(|rows| (rows, None, None))
        }
        Design::Search(search) => balans_power::required_sample_size(
            &plan.study,
            &plan.config,
            search,
            &session.with_progress(&tick),
        )
        .map(|(rows, found)| (rows, Some(found), Some(search.target))),
    };
    progress.finish();
    let (rows, sample_size, target) = result?;
    let mut notes = Vec::new();
    if plan.config.data == DataMode::Items {
        notes.push("item data: paths are estimated on scale means (attenuated by unreliability, in scale units), so bias and coverage against the construct-level population values are not reported".to_string());
    }
    if plan.config.survey.is_some_and(|s| s.cluster_robust()) {
        notes.push("teams: data are nested under supervisors (the study's ICCs); standard errors are cluster-robust by team (lavaan's cluster = \"team\", observed information), whose z tests are liberal with few teams; bootstrap intervals resample employees, not teams".to_string());
    } else if plan.config.survey.is_some_and(|s| s.teams.is_some()) {
        notes.push("teams: data are nested under supervisors (the study's ICCs) but the analysis is single-level ML, as in the study, so standard errors ignore the nesting (--cluster-robust for lavaan's cluster = \"team\" standard errors)".to_string());
    }
    if plan.config.survey.is_some_and(|s| s.missing.is_some()) {
        notes.push("missing items: scale means use the answered items; respondents without a score are deleted listwise, so N per replication can be smaller than the N shown".to_string());
    }
    let sampling_used = plan.config.resolved_sampling();
    if sampling_used == Sampling::Wishart {
        notes.push("sufficient-statistics path: each replication's sample covariance matrix is drawn from its Wishart distribution (exact for normal complete data and these tests)".to_string());
    }
    let report = PowerReport {
        settings: Settings {
            model: plan.settings_model.clone(),
            analysis: plan.settings_analysis.clone(),
            config: plan.config.clone(),
            sampling_used,
            effects: plan.effects.clone(),
        },
        target_power: target,
        rows,
        sample_size,
        notes,
    };
    if let Some(path) = &args.plot {
        let plot = balans_report::power_svg::power_curve(&report);
        write_atomic(path, plot.svg.as_bytes())?;
        if plot.omitted > 0 {
            eprintln!(
                "note: {} more series are not drawn in {}; select fewer with --effects",
                plot.omitted,
                path.display()
            );
        }
    }
    if report.sample_size.as_ref().is_some_and(|sizes| {
        sizes
            .iter()
            .any(|e| e.status == balans_power::SearchStatus::AboveMaximum)
    }) {
        eprintln!(
            "note: some targets are not reached below --n-max {}; raise --n-max",
            args.n_max
        );
    }
    let text = match args.format {
        Format::Table if args.all => format!(
            "{}\nFull grid (every N, effect and test; also in --format csv and json):\n\n{}",
            balans_report::table::power(&report),
            balans_report::table::power_grid(&report)
        ),
        Format::Table => format!(
            "{}Every N, effect and test with bias and coverage: --all (or --format csv|json).\n",
            balans_report::table::power(&report)
        ),
        Format::Json => balans_report::json::power(&report),
        Format::Csv => balans_report::csv::power(&report),
    };
    emit(args.out.as_deref(), text.as_bytes())
}
