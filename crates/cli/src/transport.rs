//! `balans transport replicate | sites | reweight | groups`: do the study's effects survive in new
//! contexts?

use crate::output::Format;
use anyhow::{bail, Context, Result};
use balans_report::output::{Output, TidyResult, TidySettings};
use balans_transport::replication::{analyse, Estimate, ReplicationConfig};
use balans_transport::TidyRow;
use serde_json::Value;
use std::path::PathBuf;

/// Arguments of `balans transport`.
#[derive(Debug, clap::Args)]
pub struct TransportArgs {
    #[command(subcommand)]
    command: TransportCommand,
}

impl TransportArgs {
    /// The command's `--threads` (only `transport sites` has the flag): the CLI's one pool
    /// ([`crate::threads::pool`]) is built with it.
    pub fn threads(&self) -> Option<usize> {
        match &self.command {
            TransportCommand::Sites(a) => a.threads,
            _ => None,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum TransportCommand {
    /// Replication statistics for one effect: replication power and N, sceptical p-value,
    /// prediction interval, Q-test, small telescopes, TOST.
    Replicate(ReplicateArgs),
    /// Simulate K contexts whose paths vary, fit each, meta-analyse every path and indirect
    /// effect across them; repeated R times: power to detect heterogeneity, expected width of the
    /// prediction interval.
    Sites(SitesArgs),
    /// Carry a moderated effect to a target population with another mix of the effect modifiers:
    /// ATE* = Σ CATE(z) P*(z), with its delta-method SE.
    Reweight(ReweightArgs),
    /// Power to detect that a path or indirect effect differs between two contexts of given
    /// sizes (and the N per context for a target power).
    Difference(DifferenceArgs),
}

/// Arguments of `balans transport difference`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans transport difference --builtin seed --shift 'wfc~is=0.1' --effects wfc~is --n-a 278 --n-b 150
  balans transport difference --model office.lav --model-b remote.lav --effects is->wfc->perf --n-a 300 --n-b 300

Context A is the model (--model or --builtin); context B is a second model file (--model-b, same
variables) or context A with some paths shifted (--shift NAME=D, comma separated). Each context's
standard error is the ML expected-information SE at its N; the test is the two-sided Wald z-test
of the difference of two independent estimates (what `balans fit --group` reports as the Wald
equality test for two groups).

Exit codes: 0 success, 1 bad input, 2 usage error.")]
pub struct DifferenceArgs {
    #[command(flatten)]
    source: crate::source::ModelSource,
    /// Model of context B (lavaan syntax, same variables).
    #[arg(long, value_name = "FILE", conflicts_with = "shift")]
    model_b: Option<PathBuf>,
    /// Context B = context A with these paths shifted: NAME=D, comma separated.
    #[arg(
        long,
        value_name = "NAME=D",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    shift: Vec<String>,
    /// Effects to compare: paths (`wfc~is`), routes (`is->wfc->perf`) or `:=` names, comma
    /// separated.
    #[arg(
        long = "effects",
        alias = "effect",
        value_name = "NAME,…",
        value_delimiter = ',',
        required = true
    )]
    effect: Vec<String>,
    /// Respondents in context A.
    #[arg(long, value_name = "N")]
    n_a: usize,
    /// Respondents in context B.
    #[arg(long, value_name = "N")]
    n_b: usize,
    /// Two-sided significance level.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Target power of the N-per-context row.
    #[arg(long, value_name = "P", default_value_t = 0.8)]
    target_power: f64,
    #[command(flatten)]
    output: OutputArgs,
}

fn run_difference(args: &DifferenceArgs) -> Result<()> {
    use balans_transport::contrast::{difference_power, shifted_covariance};
    let model = args.source.load()?;
    let study = balans_power::Study::new(&model, None, &balans_power::EffectSelection::All)?;
    crate::model_cmd::refuse_undefined_effects(&study)?;
    let sigma_b = match &args.model_b {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read model file {}", path.display()))?;
            let model_b = balans_model::parse_model(&path.display().to_string(), &text)?;
            let model_b = if args.source.standardized {
                model_b.with_semantics(balans_model::Semantics::Standardized)
            } else {
                model_b
            };
            let study_b = balans_power::Study::new(
                &model_b,
                Some(&model),
                &balans_power::EffectSelection::All,
            )
            .context("--model-b")?;
            study_b.analysis_covariance()
        }
        None => {
            if args.shift.is_empty() {
                bail!("give context B: --model-b FILE or --shift NAME=D");
            }
            let shifts = assignments("--shift", &args.shift)?;
            shifted_covariance(&study, &shifts).context("--shift")?
        }
    };
    let mut rows = Vec::new();
    for name in &args.effect {
        let d = difference_power(
            &study,
            &sigma_b,
            name.trim(),
            args.n_a,
            args.n_b,
            args.alpha,
            args.target_power,
        )
        .map_err(|e| {
            let flag = match &e {
                balans_transport::TransportError::UnknownEffect { .. } => "--effects",
                balans_transport::TransportError::Invalid { what, .. }
                    if what.contains("context A") =>
                {
                    "--n-a"
                }
                balans_transport::TransportError::Invalid { what, .. }
                    if what.contains("context B") =>
                {
                    "--n-b"
                }
                balans_transport::TransportError::Invalid { what, .. }
                    if what.contains("target") =>
                {
                    "--target-power"
                }
                balans_transport::TransportError::Invalid { .. } => "--alpha",
                _ => "transport difference",
            };
            anyhow::Error::new(e).context(flag)
        })?;
        let mut diff = TidyRow::value(
            format!("{}.difference", d.effect),
            d.difference,
            format!(
                "A {:.4} (SE {:.4} at N {}) − B {:.4} (SE {:.4} at N {})",
                d.value_a, d.se_a, args.n_a, d.value_b, d.se_b, args.n_b
            ),
        );
        diff.std_error = Some(d.se_difference);
        diff.statistic = Some(d.difference / d.se_difference);
        rows.push(diff);
        rows.push(TidyRow::value(
            format!("{}.power", d.effect),
            d.power,
            format!("two-sided Wald z-test of the difference at {}", args.alpha),
        ));
        rows.push(TidyRow::value(
            format!("{}.n.per.context", d.effect),
            d.n_per_context.map_or(f64::NAN, f64::ceil),
            match d.n_per_context {
                Some(_) => format!("equal N per context for power {}", args.target_power),
                None => format!(
                    "none: no N per context reaches power {} (the effect does not differ between the contexts, difference {:.4})",
                    args.target_power, d.difference
                ),
            },
        ));
    }
    let header = format!(
        "balans {} — difference of effects between two contexts ({} vs {})",
        env!("CARGO_PKG_VERSION"),
        args.source.origin(),
        args.model_b.as_ref().map_or_else(
            || format!("shifted: {}", args.shift.join(", ")),
            |p| p.display().to_string()
        )
    );
    let settings = TidySettings::Difference {
        n_a: args.n_a,
        n_b: args.n_b,
        alpha: args.alpha,
        effects: args.effect.clone(),
    };
    write_tidy(&args.output, header, settings, rows)
}

/// Arguments of `balans transport reweight`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans transport reweight --stratum 'high FWC=0.25,0.1,0.3,0.5' --stratum 'low FWC=-0.25,0.1,0.7,0.5'
  balans transport reweight --stratum a=0.2,0.05,0.6 --stratum b=0.05,0.08,0.4 --target-n 400

Each --stratum is NAME=EST,SE,TARGET[,SOURCE]: the conditional effect in that level of the effect
modifiers (from a fit with an interaction, a trial analysis or a paper), its standard error, the
share of the target population in that level and, optionally, the share in the source population.
Target (and source) shares must sum to 1. The strata are taken as independent estimates; with
--target-n M the target shares count as estimated from M people (multinomial variance added).

Hammer et al. (2011) found the training helped employees with high family→work conflict and
harmed those with low; the first example carries that pattern to a workplace where 30% have high
conflict: ATE* = 0.25 × 0.3 − 0.25 × 0.7 = −0.10.

Exit codes: 0 success, 1 bad input, 2 usage error.")]
pub struct ReweightArgs {
    /// A stratum: NAME=EST,SE,TARGET[,SOURCE] (repeat the flag for each stratum).
    #[arg(
        long,
        value_name = "NAME=EST,SE,TARGET[,SOURCE]",
        required = true,
        allow_hyphen_values = true
    )]
    stratum: Vec<String>,
    /// Size of the target sample the target shares were estimated from.
    #[arg(long, value_name = "M")]
    target_n: Option<usize>,
    /// Confidence level.
    #[arg(long, value_name = "LEVEL", default_value_t = 0.95)]
    level: f64,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_stratum(text: &str) -> Result<balans_transport::reweight::Stratum> {
    let (name, rest) = text
        .split_once('=')
        .with_context(|| format!("--stratum expects NAME=EST,SE,TARGET[,SOURCE], got '{text}'"))?;
    let numbers: Result<Vec<f64>, _> = rest.split(',').map(|p| p.trim().parse::<f64>()).collect();
    if let Ok([e, s, ..]) = numbers.as_deref() {
        representable(&format!("--stratum {}", name.trim()), *e, *s)?;
    }
    match numbers.as_deref() {
        Ok([e, s, t]) => Ok(balans_transport::reweight::Stratum {
            label: name.trim().into(),
            cate: *e,
            std_error: *s,
            target_share: *t,
            source_share: None,
        }),
        Ok([e, s, t, src]) => Ok(balans_transport::reweight::Stratum {
            label: name.trim().into(),
            cate: *e,
            std_error: *s,
            target_share: *t,
            source_share: Some(*src),
        }),
        _ => bail!(
            "--stratum {name}: expected EST,SE,TARGET[,SOURCE] (3 or 4 numbers), got '{rest}'"
        ),
    }
}

fn run_reweight(args: &ReweightArgs) -> Result<()> {
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must lie in (0, 1), got {}", args.level);
    }
    let strata = args
        .stratum
        .iter()
        .map(|s| parse_stratum(s))
        .collect::<Result<Vec<_>>>()?;
    let config = balans_transport::reweight::ReweightConfig {
        covariance: None,
        target_n: args.target_n,
        level: args.level,
    };
    let rows = balans_transport::reweight::reweight_rows(&strata, &config).context("--stratum")?;
    let header = format!(
        "balans {} — transport by reweighting ({} strata)",
        env!("CARGO_PKG_VERSION"),
        strata.len()
    );
    let settings = TidySettings::Reweight {
        strata: serde_json::to_value(&strata)?,
        target_n: args.target_n,
        level: args.level,
    };
    write_tidy(&args.output, header, settings, rows)
}

/// Arguments of `balans transport sites`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans transport sites --builtin seed --sites 20 --n 150 --tau 'wfc~is=0.13' --reps 500 --seed 1
  balans transport sites --model m.lav --sites 10 --n 100,200,300,100,200,300,100,200,300,100 \\
      --moderator-slope 'eng~cwfm=0.1' --method DL --knha --format csv

Each site draws its own value of every varied path: beta + tau * u + slope * z, u standard normal
per path and z a standard-normal context variable (e.g. a sector's remote-work share) shared by
the moderated paths of the site. Residual variances stay at the model's values. The site's sample
covariance matrix (n normal rows) is fitted with the ML estimator and every path, specific
indirect effect and := parameter is meta-analysed across the K sites.

Rows per term: true value, mean pooled estimate (mu) with the CI's coverage and the power for mu,
true and mean estimated tau2, mean I2, power.Q (share of replications whose Q-test rejects
homogeneity: the power to detect heterogeneity; its type I error when tau = 0) with its Monte
Carlo SE, and the mean width of the prediction interval for a new context.

Exit codes: 0 success, 1 bad input, 2 usage error.")]
pub struct SitesArgs {
    #[command(flatten)]
    source: crate::source::ModelSource,
    /// Number of sites K.
    #[arg(long, value_name = "K")]
    sites: usize,
    /// Respondents per site: one N for all, or K comma-separated values.
    #[arg(long, value_name = "N,…", value_delimiter = ',', required = true)]
    n: Vec<usize>,
    /// Between-site SD of paths: NAME=T, comma separated (NAME as `wfc~is`).
    #[arg(long, value_name = "NAME=T", value_delimiter = ',')]
    tau: Vec<String>,
    /// Slopes of paths on a standardized context-level moderator: NAME=SLOPE, comma separated.
    #[arg(
        long = "moderator-slope",
        alias = "moderator",
        value_name = "NAME=SLOPE",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    moderator: Vec<String>,
    /// Replications R.
    #[arg(long, value_name = "R", default_value_t = 500)]
    reps: usize,
    /// Seed of the random numbers; the same seed gives the same bytes on any number of threads.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Estimator of tau2 in each meta-analysis.
    #[arg(long, value_enum, default_value_t = crate::meta::MethodArg::Reml)]
    method: crate::meta::MethodArg,
    /// Knapp–Hartung adjustment.
    #[arg(long)]
    knha: bool,
    /// Significance level of the Q-test and of the test of mu.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Worker threads (results do not depend on it).
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Parses `NAME=VALUE` items of `flag`.
fn assignments(flag: &str, items: &[String]) -> Result<Vec<(String, f64)>> {
    items
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (name, value) = item.split_once('=').with_context(|| {
                format!("{flag} expects NAME=VALUE (e.g. 'wfc~is=0.1'), got '{item}'")
            })?;
            let v: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("{flag} {name}: cannot read '{value}' as a number"))?;
            if v.is_nan() || v.abs() > MAX_MAGNITUDE {
                bail!("{flag} {}={value}: out of range: a finite number of at most {MAX_MAGNITUDE:e} in magnitude", name.trim());
            }
            Ok((name.trim().to_string(), v))
        })
        .collect()
}

fn run_sites(args: &SitesArgs, session: &balans_montecarlo::Session) -> Result<()> {
    use balans_transport::sites::{PathVariation, SiteDesign, SitesConfig};
    let model = args.source.load()?;
    crate::sizes::transport_sites(
        args.sites,
        args.n.iter().copied().max().unwrap_or(0),
        model.variables().len(),
        2 * model.variables().len(),
        args.reps,
        args.threads
            .filter(|&t| t > 0)
            .unwrap_or_else(rayon::current_num_threads),
    )?;
    let study = balans_power::Study::new(&model, None, &balans_power::EffectSelection::All)?;
    crate::model_cmd::refuse_undefined_effects(&study)?;
    let mut variation: Vec<PathVariation> = Vec::new();
    for (name, tau) in assignments("--tau", &args.tau)? {
        if tau < 0.0 {
            bail!("--tau {name}={tau}: tau is a standard deviation and cannot be negative");
        }
        variation.push(PathVariation {
            path: name,
            tau,
            moderator_slope: 0.0,
        });
    }
    for (name, slope) in assignments("--moderator-slope", &args.moderator)? {
        match variation.iter_mut().find(|v| v.path == name) {
            Some(v) => v.moderator_slope = slope,
            None => variation.push(PathVariation {
                path: name,
                tau: 0.0,
                moderator_slope: slope,
            }),
        }
    }
    if args.n.len() != 1 && args.n.len() != args.sites {
        bail!(
            "--n: give one sample size for all sites or one per site ({} values for --sites {})",
            args.n.len(),
            args.sites
        );
    }
    let design = SiteDesign {
        sites: args.sites,
        n: args.n.clone(),
        variation,
    };
    let config = SitesConfig {
        replications: args.reps,
        seed: args.seed,
        meta: balans_transport::MetaConfig {
            method: args.method.method(),
            knapp_hartung: args.knha,
            ..balans_transport::MetaConfig::default()
        },
        alpha: args.alpha,
    };
    let progress = crate::progress::Progress::start(
        "the many-sites simulation",
        "replications",
        Some(config.replications as u64),
    );
    let report = balans_transport::sites::simulate_sites(
        &study,
        &design,
        &config,
        &session.with_progress(&|k| progress.tick(k)),
    );
    progress.finish();
    let report = report.map_err(|e| {
        let flag = match &e {
            balans_transport::TransportError::UnknownEffect { .. } => "--tau/--moderator-slope",
            balans_transport::TransportError::TooFewStudies { .. } => "--sites",
            balans_transport::TransportError::Invalid { what, .. }
                if what.contains("sample size") =>
            {
                "--n"
            }
            balans_transport::TransportError::Invalid { what, .. }
                if what.contains("replications") =>
            {
                "--reps"
            }
            balans_transport::TransportError::Invalid { what, .. }
                if what.contains("significance") =>
            {
                "--alpha"
            }
            _ => "transport sites",
        };
        anyhow::Error::new(e).context(flag)
    })?;
    let result = Output::Sites(Box::new(report), args.source.origin());
    crate::output::write_output(args.output.out.as_deref(), &result, args.output.format)
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
  balans transport replicate --from fit.json --effects is->wfc->perf --sesoi 0.02
  balans transport replicate --builtin seed --effects wfc~is --original-n 278 --replication-n 150

The original estimate comes from --original EST,SE, from a `balans fit --format json` result
(--from FIT.json --effects NAME, where NAME is a path 'wfc~is', a label, or an effect name such as
'is->wfc->perf'; the fit's N becomes the original N), or from a model's population values
(--effects NAME with --model/--builtin, default the study's model 'seed': the value and the
expected ML standard error at --original-n, default 278, the Dutch study's N). Give the replication's estimate
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
        conflicts_with_all = ["from", "effect"]
    )]
    original: Option<String>,
    /// A `balans fit --format json` result holding the original estimate.
    #[arg(long, value_name = "FIT.json", requires = "effect")]
    from: Option<PathBuf>,
    /// The effect in --from (or in the model's population): a path (`wfc~is`), a label, or an
    /// effect name (`is->wfc->perf`). (`--effect` is a deprecated spelling: `--effect` is a size.)
    #[arg(long = "effects", alias = "effect", value_name = "NAME,…")]
    effect: Option<String>,
    #[command(flatten)]
    source: crate::source::ModelSource,
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
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Confidence level of intervals.
    #[arg(long, value_name = "LEVEL", default_value_t = 0.95)]
    level: f64,
    #[command(flatten)]
    output: OutputArgs,
}

/// The Dutch study's sample size, the default original N for a model's population values.
const DUTCH_N: usize = 278;

/// Largest magnitude of an estimate, SE or τ the replication statistics take: their squares
/// (variances, τ² + SE²) and ratios (z = estimate / SE) must stay finite doubles (≤ 1.8e308).
pub const MAX_MAGNITUDE: f64 = 1e100;
/// Smallest standard error: an estimate over a smaller SE overflows the z statistic.
pub const MIN_STD_ERROR: f64 = 1e-100;

/// Refuses an estimate or SE of `flag` outside what the statistics can represent.
fn representable(flag: &str, estimate: f64, std_error: f64) -> Result<()> {
    if estimate.is_nan() || estimate.abs() > MAX_MAGNITUDE {
        bail!("{flag}: the estimate {estimate:e} is out of range: at most {MAX_MAGNITUDE:e} in magnitude (its square must stay a finite number)");
    }
    if std_error.is_finite()
        && std_error > 0.0
        && !(MIN_STD_ERROR..=MAX_MAGNITUDE).contains(&std_error)
    {
        bail!("{flag}: the standard error {std_error:e} is out of range: between {MIN_STD_ERROR:e} and {MAX_MAGNITUDE:e} (z = estimate / SE and SE² must stay finite numbers)");
    }
    Ok(())
}

/// Parses `EST,SE`.
fn pair(flag: &str, text: &str) -> Result<(f64, f64)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let numbers: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok()).collect();
    match numbers.as_deref() {
        Some([e, s]) => {
            representable(flag, *e, *s)?;
            Ok((*e, *s))
        }
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
        (None, None, Some(name)) => {
            let n = args.original_n.unwrap_or(DUTCH_N);
            let model = args.source.load()?;
            let study =
                balans_power::Study::new(&model, None, &balans_power::EffectSelection::All)?;
            if n < study.min_sample_size() {
                bail!("--original-n {n}: the model needs at least {} respondents", study.min_sample_size());
            }
            let (e, s) = balans_transport::contrast::value_and_se(
                &study,
                &study.analysis_covariance(),
                n,
                name,
            )
            .context("--effects")?;
            (e, s, Some(n))
        }
        _ => bail!("give --original EST,SE, --from FIT.json --effects NAME, or --effects NAME (with --model or --builtin)"),
    };
    let original = Estimate::new(est, se, "original").context("--original")?;
    let mut config = ReplicationConfig::new(original);
    if let Some(t) = &args.replication {
        let (e, s) = pair("--replication", t)?;
        config.replication = Some(Estimate::new(e, s, "replication").context("--replication")?);
    }
    config.original_n = args.original_n.or(fit_n);
    config.replication_n = args.replication_n;
    if args.tau.is_finite() && args.tau > MAX_MAGNITUDE {
        bail!(
            "--tau {:e}: out of range: at most {MAX_MAGNITUDE:e} (τ² must stay a finite number)",
            args.tau
        );
    }
    if let Some(d) = args
        .sesoi
        .filter(|d| d.is_finite() && d.abs() > MAX_MAGNITUDE)
    {
        bail!("--sesoi {d}: out of range: at most {MAX_MAGNITUDE:e}");
    }
    config.tau = args.tau;
    config.sesoi = args.sesoi;
    config.target_power = args.target_power;
    config.alpha = args.alpha;
    config.level = args.level;
    Ok(config)
}

/// Writes tidy rows as the chosen output, with `title` above the table and the settings in the JSON.
fn write_tidy(
    output: &OutputArgs,
    title: String,
    settings: TidySettings,
    rows: Vec<TidyRow>,
) -> Result<()> {
    let result = Output::Tidy(Box::new(TidyResult {
        title,
        answer: Vec::new(),
        settings,
        rows,
    }));
    crate::output::write_output(output.out.as_deref(), &result, output.format)
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
        "balans {} — replication of an effect (original {:.4} ± {:.4}{})",
        env!("CARGO_PKG_VERSION"),
        config.original.estimate(),
        config.original.std_error(),
        config
            .original_n
            .map_or_else(String::new, |n| format!(", N = {n}"))
    );
    let answer = balans_transport::replication::replication_answer(&config, &rows);
    let settings = TidySettings::Replicate(serde_json::to_value(&config)?);
    let result = Output::Tidy(Box::new(TidyResult {
        title: header,
        answer,
        settings,
        rows,
    }));
    crate::output::write_output(args.output.out.as_deref(), &result, args.output.format)
}

/// Runs `balans transport …`.
pub fn run(args: &TransportArgs, session: &balans_montecarlo::Session) -> Result<()> {
    // Every file a subcommand reads is an input that no output may replace, checked before the run.
    let (output, inputs): (&OutputArgs, Vec<&std::path::Path>) = match &args.command {
        TransportCommand::Replicate(a) => (
            &a.output,
            a.from
                .iter()
                .chain(&a.source.model)
                .map(PathBuf::as_path)
                .collect(),
        ),
        TransportCommand::Sites(a) => (
            &a.output,
            a.source.model.iter().map(PathBuf::as_path).collect(),
        ),
        TransportCommand::Reweight(a) => (&a.output, Vec::new()),
        TransportCommand::Difference(a) => (
            &a.output,
            a.source
                .model
                .iter()
                .chain(&a.model_b)
                .map(PathBuf::as_path)
                .collect(),
        ),
    };
    crate::paths::check_outputs(&[("--out", output.out.as_deref())], &inputs)?;
    match &args.command {
        TransportCommand::Replicate(a) => run_replicate(a),
        TransportCommand::Sites(a) => run_sites(a, session),
        TransportCommand::Reweight(a) => run_reweight(a),
        TransportCommand::Difference(a) => run_difference(a),
    }
}
