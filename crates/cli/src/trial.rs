//! `balans trial plan | simulate | analyse | power`: cluster-randomised pre/post trials of leader
//! training.
//!
//! Flags are parsed by clap, turned into a validated [`balans_trial::design::Design`] (or a
//! [`balans_trial::plan::Cra2r2`]) before any work starts, then run. Design errors name the flag
//! that set the bad value, or the design file and its key.

use crate::output::{emit, write_atomic, Format};
use crate::trial_data::{analyse, AnalyseArgs};
use anyhow::{anyhow, bail, Context, Result};
use balans_trial::builtin::builtin_design;
use balans_trial::design::{
    Design, DesignError, DesignField, DesignSpec, Measurement, ModeratorSpec, ShockSpec,
};
use balans_trial::plan::{Cra2r2, PlanReport};
use balans_trial::power::{
    has_fast_path, search_leaders, select_analyses, trial_power, TrialPowerConfig,
};
use balans_trial::power_report::TrialPowerReport;
use balans_trial::simulate::{simulate, Table};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `balans trial`.
#[derive(Debug, clap::Args)]
pub struct TrialArgs {
    #[command(subcommand)]
    command: TrialCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TrialCommand {
    /// Analytic MDES, power and number of leaders (PowerUpR cra2r2), and the cost-optimal design.
    Plan(PlanArgs),
    /// Simulate employee-level trial data (wide or long layout).
    Simulate(SimulateArgs),
    /// Analyse a trial export (mixed ANCOVA, CR2, leader means, …).
    Analyse(AnalyseArgs),
    /// Simulation power of every analysis over a grid of leaders × team sizes.
    Power(PowerArgs),
}

impl TrialArgs {
    /// The command's `--threads` (only `trial power` has the flag).
    pub fn threads(&self) -> Option<usize> {
        match &self.command {
            TrialCommand::Power(a) => a.threads,
            _ => None,
        }
    }
}

/// Runs `balans trial …`.
pub fn run(args: &TrialArgs, session: &balans_montecarlo::Session) -> Result<()> {
    match &args.command {
        TrialCommand::Plan(a) => plan(a),
        TrialCommand::Simulate(a) => simulate_cmd(a),
        TrialCommand::Analyse(a) => analyse(a),
        TrialCommand::Power(a) => power(a, session),
    }
}

// ---------------------------------------------------------------------------------------------
// plan

/// Arguments of `balans trial plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # PowerUpR's cross-check: MDES 0.629, 95% CI [0.183, 1.075], df 18
  balans trial plan --leaders 20 --team-size 15 --icc 0.17 --power 0.8

  # Power of the Dutch single-organisation design to detect d = 0.25 with the pretest
  balans trial plan --leaders 30 --team-size 9 --icc 0.1 --r2-employee 0.5 --r2-leader 0.5 \\
      --leader-covariates 1 --effect 0.25

  # How many leaders for 80% power?
  balans trial plan --team-size 9 --icc 0.1 --r2-employee 0.5 --r2-leader 0.5 \\
      --effect 0.3 --target-power 0.8

  # The cost-optimal team size and number of leaders for a budget
  balans trial plan --icc 0.1 --effect 0.3 --cost-leader 500 --cost-employee 40 --budget 30000

Formulas: PowerUpR cra2r2 (df = J - g2 - 2; MDES = (t(1-a/2) + t(power)) * SE; power by the
noncentral t). --leaders is the total number of leaders, split by --share-trained.")]
pub struct PlanArgs {
    /// Total number of leaders J.
    #[arg(long, value_name = "J")]
    leaders: Option<f64>,
    /// Employees per leader n (harmonic mean when sizes differ).
    #[arg(long, value_name = "N", default_value_t = 9.0)]
    team_size: f64,
    /// Intraclass correlation of the outcome, in [0, 1).
    #[arg(long, value_name = "RHO")]
    icc: f64,
    /// Share of employee-level variance explained by covariates (e.g. the pretest).
    #[arg(long, value_name = "R2", default_value_t = 0.0)]
    r2_employee: f64,
    /// Share of leader-level variance explained by covariates.
    #[arg(long, value_name = "R2", default_value_t = 0.0)]
    r2_leader: f64,
    /// Number of leader-level covariates (each costs one degree of freedom).
    #[arg(long, value_name = "G", default_value_t = 0)]
    leader_covariates: usize,
    /// Share of leaders trained.
    #[arg(long, value_name = "P", default_value_t = 0.5)]
    share_trained: f64,
    /// Significance level (two-sided).
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// One-tailed test.
    #[arg(long)]
    one_tailed: bool,
    /// Power at which to compute the MDES.
    #[arg(long, value_name = "P")]
    power: Option<f64>,
    /// Effect in SD units: report the power to detect it.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    effect: Option<f64>,
    /// With --effect: the number of leaders whose power reaches P.
    #[arg(long, value_name = "P", requires = "effect")]
    target_power: Option<f64>,
    /// Cost per leader (with --cost-employee and --budget).
    #[arg(long, value_name = "C", requires_all = ["cost_employee", "budget"])]
    cost_leader: Option<f64>,
    /// Cost per employee.
    #[arg(long, value_name = "C", requires_all = ["cost_leader", "budget"])]
    cost_employee: Option<f64>,
    /// Budget.
    #[arg(long, value_name = "B", requires_all = ["cost_leader", "cost_employee"])]
    budget: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// The flag of a plan parameter.
fn plan_flag(p: balans_trial::plan::PlanParameter) -> &'static str {
    use balans_trial::plan::PlanParameter as P;
    match p {
        P::Leaders => "--leaders",
        P::TeamSize => "--team-size",
        P::Icc => "--icc",
        P::R2Employee => "--r2-employee",
        P::R2Leader => "--r2-leader",
        P::ShareTrained => "--share-trained",
        P::Alpha => "--alpha",
        P::Power => "--power/--target-power",
        P::Effect => "--effect",
        P::CostLeader => "--cost-leader",
        P::CostEmployee => "--cost-employee",
        P::Budget => "--budget",
    }
}

fn plan_error(e: balans_trial::plan::PlanError) -> anyhow::Error {
    use balans_trial::plan::PlanError as E;
    match &e {
        E::OutOfRange { parameter, .. } => anyhow!("{}: {e}", plan_flag(*parameter)),
        E::TooFewLeaders { .. } => anyhow!("--leaders: {e}"),
        E::Unreachable(_) => anyhow!("{e}"),
    }
}

fn plan(args: &PlanArgs) -> Result<()> {
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &[])?;
    crate::sizes::trial_plan(
        args.leaders,
        args.budget
            .zip(args.cost_leader.zip(args.cost_employee))
            .map(|(b, (cl, ce))| b / (cl + ce).max(f64::MIN_POSITIVE)),
    )?;
    let design = Cra2r2 {
        team_size: args.team_size,
        icc: args.icc,
        r2_employee: args.r2_employee,
        r2_leader: args.r2_leader,
        leader_covariates: args.leader_covariates,
        share_trained: args.share_trained,
        alpha: args.alpha,
        two_tailed: !args.one_tailed,
    };
    design.validate().map_err(plan_error)?;
    let mdes_power = args.power.or(args.target_power).unwrap_or(0.8);
    let allocation = match (args.cost_leader, args.cost_employee, args.budget) {
        (Some(cl), Some(ce), Some(b)) => Some(
            design
                .cost_optimal(cl, ce, b, mdes_power, args.effect.unwrap_or(0.0))
                .map_err(plan_error)?,
        ),
        _ => None,
    };
    let leaders = match (args.target_power, args.effect, args.leaders, allocation) {
        (Some(t), Some(d), _, _) => design.required_leaders(d, t, 1_000_000).map_err(plan_error)? as f64,
        (None, _, Some(j), _) => j,
        (None, _, None, Some(a)) => a.leaders as f64,
        _ => bail!("say how many leaders: --leaders J (or --effect D --target-power P to search, or a budget)"),
    };
    if args.power.is_none() && args.effect.is_none() && allocation.is_none() {
        bail!("say what to compute: --power P (the MDES), --effect D (the power), --effect D --target-power P (the leaders)");
    }
    let design = match allocation {
        Some(a) if args.leaders.is_none() && args.target_power.is_none() => Cra2r2 {
            team_size: a.team_size as f64,
            ..design
        },
        _ => design,
    };
    let m = design.mdes(leaders, mdes_power).map_err(plan_error)?;
    let power = match args.effect {
        Some(d) => design.power(leaders, d).map_err(plan_error)?,
        None => mdes_power,
    };
    let report = PlanReport {
        design,
        leaders,
        effect: args.effect,
        mdes: m.mdes,
        conf_low: m.conf_low,
        conf_high: m.conf_high,
        mdes_power,
        df: m.df,
        std_error: m.std_error,
        power,
        target_power: args.target_power,
        allocation,
    };
    let output = balans_report::output::Output::TrialPlan(Box::new(report));
    crate::output::write_output(args.out.as_deref(), &output, args.format)
}

// ---------------------------------------------------------------------------------------------
// design flags

/// Design flags shared by `simulate` and `power` (override a design file or built-in design).
#[derive(Debug, Clone, clap::Args)]
pub struct DesignArgs {
    /// The trial design: a built-in design (dutch, hammer2011, wfhn) or a design file, TOML or
    /// JSON (`--save-design` writes one); the other flags override it.
    #[arg(long, value_name = "DESIGN")]
    design: Option<String>,
    /// The built-in population model: seed-composite (fssb as one variable) or seed (four FSSB
    /// dimensions). (`--model NAME` and `--builtin DESIGN` are deprecated spellings.)
    #[arg(long, value_name = "NAME")]
    builtin: Option<String>,
    /// use --builtin NAME (the population model)
    #[arg(long = "model", value_name = "NAME", hide = true)]
    legacy_model: Option<String>,
    /// Leaders in the control and the trained arm, e.g. 15,15.
    #[arg(long, value_name = "C,T", value_delimiter = ',')]
    leaders_per_arm: Option<Vec<usize>>,
    /// Share of leaders trained (with --leaders).
    #[arg(long, value_name = "P")]
    share_trained: Option<f64>,
    /// Employees per leader (fixed; the mean with --team-size-cv).
    #[arg(long, value_name = "N")]
    team_size: Option<f64>,
    /// Team sizes, recycled over leaders, e.g. 6,9,12.
    #[arg(long, value_name = "N,…", value_delimiter = ',')]
    team_sizes: Option<Vec<usize>>,
    /// Coefficient of variation of team sizes (lognormal sizes around --team-size).
    #[arg(long, value_name = "CV")]
    team_size_cv: Option<f64>,
    /// ICCs: NAME=V,… (e.g. fssb=0.15,eng=0.08), or one number for every variable.
    #[arg(long, value_name = "NAME=V,…")]
    icc: Option<String>,
    /// Pre–post stability of the employee-level part.
    #[arg(long, value_name = "R")]
    stability_employee: Option<f64>,
    /// Pre–post stability of the leader-level part.
    #[arg(long, value_name = "R")]
    stability_leader: Option<f64>,
    /// The training effect on every FSSB variable, in SD units.
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    effect: Option<f64>,
    /// The training effect per FSSB dimension: NAME=D,… (model seed: es, is, rm, cm).
    /// (`--effects` is a deprecated spelling: `--effects` names effects in every other command.)
    #[arg(long = "effect-sizes", alias = "effects", value_name = "NAME=D,…")]
    effects: Option<String>,
    /// Between-leader SD of the effect.
    #[arg(long, value_name = "SD")]
    effect_sd: Option<f64>,
    /// Share of trained leaders who complete the training.
    #[arg(long, value_name = "P")]
    uptake: Option<f64>,
    /// Share of employees lost at post.
    #[arg(long, value_name = "P")]
    attrition: Option<f64>,
    /// Attrition missing at random on the baseline score of VAR (default: MCAR).
    #[arg(long, value_name = "VAR")]
    attrition_mar: Option<String>,
    /// Probit slope of MAR attrition on the standardized baseline score.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    attrition_strength: Option<f64>,
    /// A baseline moderator: VAR (high = above its median, or see --moderator-share) or 'random'.
    #[arg(long, value_name = "VAR|random")]
    moderator: Option<String>,
    /// The FSSB effect in the low and the high level, e.g. -0.2,0.3 (disordinal allowed).
    #[arg(
        long,
        value_name = "LOW,HIGH",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    moderator_effects: Option<Vec<f64>>,
    /// Share of employees in the moderator's high level.
    #[arg(long, value_name = "P")]
    moderator_share: Option<f64>,
    /// Column name of the moderator in the data.
    #[arg(long, value_name = "NAME")]
    moderator_name: Option<String>,
    /// A shock: SHARE of employees measured after it and the share of the effect that SURVIVES.
    #[arg(long, value_name = "SHARE:SURVIVES")]
    shock: Option<String>,
    /// Extra follow-up waves after post.
    #[arg(long, value_name = "K")]
    followup_waves: Option<usize>,
    /// Scale scores or Likert items (the study's scales).
    #[arg(long, value_enum)]
    measurement: Option<MeasurementArg>,
}

/// `--measurement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MeasurementArg {
    Scores,
    Items,
}

fn assignments(flag: &str, text: &str) -> Result<std::collections::BTreeMap<String, f64>> {
    let mut out = std::collections::BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, v) = part.split_once('=').ok_or_else(|| {
            anyhow!("{flag} '{part}': expected NAME=VALUE, e.g. {flag} fssb=0.15")
        })?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{flag} '{part}': '{v}' is not a number"))?;
        out.insert(name.trim().to_string(), v);
    }
    Ok(out)
}

/// Where a design came from (for error messages).
struct DesignOrigin {
    label: String,
    flags: DesignSpec,
}

/// Where `--design` (or the deprecated `--builtin DESIGN`) points.
enum DesignSource {
    /// A built-in design by name.
    Builtin(String),
    /// A design file.
    File(PathBuf),
    /// Neither: the defaults.
    Defaults,
}

/// Whether `name` is one of the built-in trial designs.
fn is_builtin_design(name: &str) -> bool {
    builtin_design(name).is_ok()
}

/// `--design NAME|FILE`: a built-in design name unless a file of that name exists; the old
/// spelling `--builtin DESIGN` (before `--builtin` named the population model) still works.
fn design_source(args: &DesignArgs) -> DesignSource {
    match (&args.design, &args.builtin) {
        // A name without an extension that is no file is meant as a built-in design (so that a
        // misspelt name gets "unknown built-in design", not "no such file").
        (Some(d), _)
            if !Path::new(d).exists()
                && (is_builtin_design(d) || Path::new(d).extension().is_none()) =>
        {
            DesignSource::Builtin(d.clone())
        }
        (Some(d), _) => DesignSource::File(PathBuf::from(d)),
        (None, Some(b)) if is_builtin_design(b) => DesignSource::Builtin(b.clone()),
        (None, _) => DesignSource::Defaults,
    }
}

/// The files a design reads (its design file), which no output may replace.
fn design_inputs(args: &DesignArgs) -> Vec<PathBuf> {
    match design_source(args) {
        DesignSource::File(p) => vec![p],
        _ => Vec::new(),
    }
}

/// The population model named by `--builtin` (not when it is the deprecated design spelling).
fn population_model(args: &DesignArgs) -> Option<String> {
    let builtin = args
        .builtin
        .clone()
        .filter(|b| !(args.design.is_none() && is_builtin_design(b)));
    builtin.or_else(|| args.legacy_model.clone())
}

/// The design from a file or built-in, with the flags laid over it.
fn load_design(args: &DesignArgs, leaders: Option<usize>) -> Result<(Design, DesignSpec)> {
    if let Some(b) = population_model(args) {
        if !balans_model::BUILTINS.iter().any(|m| m.name == b) {
            let names: Vec<&str> = balans_model::BUILTINS.iter().map(|m| m.name).collect();
            bail!(
                "--builtin: unknown built-in model '{b}'; built-in models: {}\n = help: a trial design is chosen with --design (dutch, hammer2011, wfhn, or a design file)",
                names.join(", ")
            );
        }
    }
    let (base, label) = match design_source(args) {
        DesignSource::File(path) => (read_design_file(&path)?, path.display().to_string()),
        DesignSource::Builtin(name) => (
            builtin_design(&name).map_err(|e| anyhow!("--design: {e}"))?,
            format!("built-in design '{name}'"),
        ),
        DesignSource::Defaults => (DesignSpec::default(), "defaults".into()),
    };
    let flags = flag_spec(args, leaders, &base)?;
    let spec = base.overlay(&flags);
    let origin = DesignOrigin { label, flags };
    let design = spec.resolve().map_err(|e| design_error(&e, &origin))?;
    Ok((design, spec))
}

fn read_design_file(path: &Path) -> Result<DesignSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--design: failed to read design file {}", path.display()))?;
    let json = path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let parsed = if json {
        DesignSpec::from_json(&text)
    } else {
        DesignSpec::from_toml(&text)
    };
    parsed.map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn flag_spec(args: &DesignArgs, leaders: Option<usize>, base: &DesignSpec) -> Result<DesignSpec> {
    let per_arm = match &args.leaders_per_arm {
        None => None,
        Some(v) if v.len() == 2 => Some([v[0], v[1]]),
        Some(v) => bail!(
            "--leaders-per-arm: expected two numbers CONTROL,TRAINED (e.g. 15,15), got {} numbers",
            v.len()
        ),
    };
    let icc = match args.icc.as_deref() {
        None => None,
        Some(t) => match t.trim().parse::<f64>() {
            Ok(v) => {
                let d = DesignSpec {
                    model: population_model(args).or(base.model.clone()),
                    ..DesignSpec::default()
                }
                .resolve()
                .map_err(|e| anyhow!("--model: {e}"))?;
                Some(d.variables().iter().map(|n| (n.clone(), v)).collect())
            }
            Err(_) => Some(assignments("--icc", t)?),
        },
    };
    let moderator = match (&args.moderator, &args.moderator_effects) {
        (None, None) => None,
        (m, effects) => {
            let old = base.moderator.clone();
            let effects = match (effects, &old) {
                (Some(e), _) if e.len() == 2 => [e[0], e[1]],
                (Some(e), _) => bail!("--moderator-effects: expected two numbers LOW,HIGH (e.g. -0.2,0.3), got {} numbers", e.len()),
                (None, Some(o)) => o.effects,
                (None, None) => bail!("--moderator needs --moderator-effects LOW,HIGH: the FSSB effect in each level"),
            };
            let variable = match m.as_deref() {
                Some("random") => None,
                Some(v) => Some(v.to_string()),
                None => old.as_ref().and_then(|o| o.variable.clone()),
            };
            Some(ModeratorSpec {
                name: args
                    .moderator_name
                    .clone()
                    .or(old.as_ref().map(|o| o.name.clone()))
                    .unwrap_or_else(|| "moderator".into()),
                variable,
                share_high: args
                    .moderator_share
                    .or(old.map(|o| o.share_high))
                    .unwrap_or(0.5),
                effects,
            })
        }
    };
    let shock = match args.shock.as_deref() {
        None => None,
        Some(s) => {
            let (a, b) = s.split_once(':').ok_or_else(|| {
                anyhow!("--shock '{s}': expected SHARE:SURVIVES, e.g. --shock 0.5:0.2")
            })?;
            let num = |x: &str| {
                x.trim()
                    .parse::<f64>()
                    .map_err(|_| anyhow!("--shock '{s}': '{x}' is not a number"))
            };
            Some(ShockSpec {
                share_after: num(a)?,
                effect_survives: num(b)?,
            })
        }
    };
    Ok(DesignSpec {
        model: population_model(args),
        leaders,
        leaders_per_arm: per_arm,
        share_trained: args.share_trained,
        team_size: args.team_size,
        team_sizes: args.team_sizes.clone(),
        team_size_cv: args.team_size_cv,
        icc,
        stability_employee: args.stability_employee,
        stability_leader: args.stability_leader,
        effect: args.effect,
        effects: args
            .effects
            .as_deref()
            .map(|t| assignments("--effect-sizes", t))
            .transpose()?,
        effect_sd: args.effect_sd,
        uptake: args.uptake,
        attrition: args.attrition,
        attrition_mar: args.attrition_mar.clone(),
        attrition_strength: args.attrition_strength,
        moderator,
        shock,
        followup_waves: args.followup_waves,
        measurement: args.measurement.map(|m| match m {
            MeasurementArg::Scores => Measurement::Scores,
            MeasurementArg::Items => Measurement::Items,
        }),
        ..DesignSpec::default()
    })
}

/// The flags that can set a design field, and the file keys.
fn field_flags(field: DesignField) -> (&'static [&'static str], &'static [&'static str]) {
    use DesignField as F;
    match field {
        F::Model => (&["--builtin"], &["model"]),
        F::Leaders => (
            &["--leaders", "--leaders-per-arm"],
            &["leaders", "leaders_per_arm"],
        ),
        F::ShareTrained => (&["--share-trained"], &["share_trained"]),
        F::TeamSize => (
            &["--team-size", "--team-sizes"],
            &["team_size", "team_sizes"],
        ),
        F::TeamSizeCv => (&["--team-size-cv"], &["team_size_cv"]),
        F::Icc => (&["--icc"], &["icc"]),
        F::StabilityEmployee => (&["--stability-employee"], &["stability_employee"]),
        F::StabilityLeader => (&["--stability-leader"], &["stability_leader"]),
        F::Effect => (&["--effect", "--effect-sizes"], &["effect", "effects"]),
        F::EffectSd => (&["--effect-sd"], &["effect_sd"]),
        F::Uptake => (&["--uptake"], &["uptake"]),
        F::Attrition => (&["--attrition"], &["attrition"]),
        F::AttritionMar => (&["--attrition-mar"], &["attrition_mar"]),
        F::AttritionStrength => (&["--attrition-strength"], &["attrition_strength"]),
        F::Moderator => (
            &["--moderator", "--moderator-effects", "--moderator-share"],
            &["moderator"],
        ),
        F::Shock => (&["--shock"], &["shock"]),
        F::FollowupWaves => (&["--followup-waves"], &["followup_waves"]),
        F::Measurement => (&["--measurement"], &["measurement"]),
    }
}

/// A design error naming the flag that set the value, or the design file and key.
fn design_error(e: &DesignError, origin: &DesignOrigin) -> anyhow::Error {
    match e {
        DesignError::Invalid { field, message } => {
            let (flags, keys) = field_flags(*field);
            let set = serde_json::to_value(&origin.flags).unwrap_or_default();
            let set_flags: Vec<&str> = keys
                .iter()
                .zip(flags.iter())
                .filter(|(k, _)| !set[**k].is_null())
                .map(|(_, f)| *f)
                .collect();
            if set_flags.is_empty() {
                anyhow!(
                    "invalid design ({}): key '{}': {message} (flag {})",
                    origin.label,
                    keys[0],
                    flags[0]
                )
            } else {
                anyhow!("invalid design: {}: {message}", set_flags.join("/"))
            }
        }
        other => anyhow!("invalid design ({}): {other}", origin.label),
    }
}

// ---------------------------------------------------------------------------------------------
// simulate

/// `--layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One row per employee: <var>_pre, <var>_post, …
    Wide,
    /// One row per employee and observed wave, with a time column (0 = pre, 1 = post, …).
    Long,
}

/// Arguments of `balans trial simulate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # The Dutch single-organisation design (30 leaders, teams of about 9), wide layout
  balans trial simulate --design dutch --seed 1 --out trial.csv

  # A Hammer-2011-like trial: 12 stores, disordinal moderation by baseline conflict, long layout
  balans trial simulate --design hammer2011 --seed 2 --layout long --out hammer.csv

  # Own design by flags: 40 leaders, 8 employees each, d = 0.3 on FSSB, 70% uptake, MAR attrition
  balans trial simulate --leaders 40 --team-size 8 --effect 0.3 --uptake 0.7 \\
      --attrition 0.25 --attrition-mar wfc --seed 3 --out my_trial.csv

  # Save the design for reuse, then simulate from the file with one change
  balans trial simulate --design wfhn --seed 4 --save-design wfhn.json --out /dev/null
  balans trial simulate --design wfhn.json --effect 0.1 --seed 5 --out wfhn_small.csv

Columns: leader, arm (0 control, 1 trained), employee, uptake (1 when the leader completed the
training), [moderator], [after_shock], then per variable <var>_pre, <var>_post, <var>_fu1, … (wide)
or time and the variables (long; employees lost at post have only their pre row). Missing = NA.
Built-in designs: dutch, hammer2011, wfhn (provenance in the README and the --save-design file).")]
pub struct SimulateArgs {
    #[command(flatten)]
    design: DesignArgs,
    /// Total number of leaders (split by --share-trained, default 0.5).
    #[arg(long, value_name = "J")]
    leaders: Option<usize>,
    /// Seed of the random numbers (default 1, as every command); recorded in the output.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Data layout.
    #[arg(long, value_enum, default_value_t = Layout::Wide)]
    layout: Layout,
    /// Write the data to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format (csv: the data; json: seed, design and records; table: aligned columns).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Also write the design (all fields, JSON) to FILE for reuse with --design.
    #[arg(long, value_name = "FILE")]
    save_design: Option<PathBuf>,
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        "NA".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.6}")
    }
}

fn table_csv(t: &Table) -> String {
    let mut out = t.header.join(",");
    out.push('\n');
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|&v| cell(v)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn table_text(t: &Table) -> String {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|&v| cell(v)).collect())
        .collect();
    let widths: Vec<usize> = (0..t.header.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].len())
                .chain([t.header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, r: &[String]| {
        let parts: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join(" "));
    };
    line(&mut out, &t.header);
    for r in &cells {
        line(&mut out, r);
    }
    out
}

fn table_json(t: &Table, seed: u64, spec: &DesignSpec) -> Result<String> {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = t
        .rows
        .iter()
        .map(|r| {
            t.header
                .iter()
                .zip(r)
                .map(|(h, &v)| {
                    let value = if v.is_nan() {
                        serde_json::Value::Null
                    } else {
                        serde_json::json!(v)
                    };
                    (h.clone(), value)
                })
                .collect()
        })
        .collect();
    let doc =
        serde_json::json!({ "seed": seed, "design": spec, "columns": t.header, "rows": rows });
    Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?))
}

fn simulate_cmd(args: &SimulateArgs) -> Result<()> {
    let inputs = design_inputs(&args.design);
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    crate::paths::check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--save-design", args.save_design.as_deref()),
        ],
        &inputs,
    )?;
    let (design, spec) = load_design(&args.design, args.leaders)?;
    crate::sizes::trial_simulate(
        design.total_leaders() as f64,
        crate::sizes::largest_team(design.team_sizes()),
    )?;
    let mut rng = balans_power::replication_rng(args.seed, 0, 0);
    let data = simulate(&design, &mut rng);
    let table = match args.layout {
        Layout::Wide => data.wide(),
        Layout::Long => data.long(),
    };
    let text = match args.format {
        Format::Csv => table_csv(&table),
        Format::Table => table_text(&table),
        Format::Json => table_json(&table, args.seed, &spec)?,
    };
    if let Some(path) = &args.save_design {
        let json = format!("{}\n", serde_json::to_string_pretty(&spec)?);
        write_atomic(path, json.as_bytes())?;
    }
    emit(args.out.as_deref(), text.as_bytes())?;
    eprintln!(
        "simulated {} employees of {} leaders ({} control, {} trained), seed {}",
        data.employees.len(),
        design.total_leaders(),
        design.leaders()[0],
        design.leaders()[1],
        args.seed
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// power

/// Arguments of `balans trial power`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # Power of every analysis for 20, 30 and 40 leaders of the Dutch design, 1000 replications
  balans trial power --design dutch --effect 0.25 --reps 1000 --seed 1 --leaders 20,30,40

  # Leaders × team sizes, as CSV, with a plot
  balans trial power --design dutch --effect 0.3 --reps 500 --seed 2 --leaders 20,40,60 \\
      --team-size-grid 5,10,20 --format csv --plot power.svg

  # Every analysis, incl. the long model, the CACE (70% uptake) and the moderated effects
  balans trial power --design hammer2011 --uptake 0.7 --reps 100 --seed 4 --analyses all

  # How many leaders for 80% power with the mixed ANCOVA (REML, Satterthwaite df)?
  balans trial power --design dutch --effect 0.3 --reps 1000 --seed 3 --target-power 0.8

Each condition runs the design with the effect (power, bias, coverage) and with the effect set to
zero (type I error), every analysis on the same replications. Failed fits are counted in 'failed'
(and as non-rejections); singular fits (a variance component at zero) in 'singular'. Replication r
of condition (leaders, team size) uses the random stream (seed, condition, r): results are identical
for any --threads.")]
pub struct PowerArgs {
    #[command(flatten)]
    design: DesignArgs,
    /// Total numbers of leaders to evaluate, e.g. 20,30,40 (default: the design's).
    #[arg(
        long,
        value_name = "J,…",
        value_delimiter = ',',
        conflicts_with = "target_power"
    )]
    leaders: Option<Vec<usize>>,
    /// Team sizes to evaluate (fixed teams), e.g. 5,10,20 (default: the design's sizes).
    #[arg(long, value_name = "N,…", value_delimiter = ',')]
    team_size_grid: Option<Vec<usize>>,
    /// Search the smallest number of leaders whose power reaches P.
    #[arg(long, value_name = "P")]
    target_power: Option<f64>,
    /// The analyses to run: all, ancova, or names from mixed_ancova, mixed_ancova_kr, ols_cr2,
    /// leader_means, long_mixed, long_mixed_kr, cace, moderation_low, moderation_high, and
    /// long_stable_leader (valid only when leader means are stable; never in all).
    #[arg(
        long,
        value_name = "NAME,…",
        value_delimiter = ',',
        default_value = "all"
    )]
    analyses: Vec<String>,
    /// The analysis the search is for.
    #[arg(long, value_name = "NAME", default_value = "mixed_ancova")]
    search_analysis: String,
    /// Largest number of leaders the search considers.
    #[arg(long, value_name = "J", default_value_t = 2000)]
    leaders_max: usize,
    /// The outcome analysed.
    #[arg(long, value_name = "NAME", default_value = "fssb")]
    outcome: String,
    /// Replications per condition.
    #[arg(long, value_name = "R", default_value_t = 1000)]
    reps: usize,
    /// Seed of the random streams.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Significance level (two-sided).
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Simulate employee rows even when leader statistics could be drawn directly.
    #[arg(long)]
    employee_level: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write an SVG plot of power against the number of leaders.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Worker threads (default or 0: all cores); results do not depend on it.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
}

fn power(args: &PowerArgs, session: &balans_montecarlo::Session) -> Result<()> {
    let inputs = design_inputs(&args.design);
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    crate::paths::check_outputs(
        &[
            ("--out", args.out.as_deref()),
            ("--plot", args.plot.as_deref()),
        ],
        &inputs,
    )?;
    let (design, spec) = load_design(&args.design, None)?;
    crate::sizes::trial_power(
        match (&args.leaders, args.target_power) {
            (_, Some(_)) => args.leaders_max as f64,
            (Some(v), None) => v.iter().copied().max().unwrap_or(0) as f64,
            (None, None) => design.total_leaders() as f64,
        },
        match &args.team_size_grid {
            Some(v) => v.iter().copied().max().unwrap_or(1) as f64,
            None => crate::sizes::largest_team(design.team_sizes()),
        },
        args.reps,
        rayon::current_num_threads(),
    )?;
    if args.reps < 2 {
        bail!(
            "--reps {} is out of range: at least 2 replications",
            args.reps
        );
    }
    let config = TrialPowerConfig {
        outcome: args.outcome.clone(),
        reps: args.reps,
        seed: args.seed,
        alpha: args.alpha,
        employee_level: args.employee_level,
        analyses: select_analyses(&args.analyses, &design)
            .map_err(|e| anyhow!("--analyses: {e}"))?,
    };
    let grid: Vec<Option<usize>> = match &args.team_size_grid {
        Some(v) => {
            if let Some(bad) = v.iter().find(|&&n| n == 0) {
                bail!("--team-size-grid: {bad} is not a team size (at least 1)");
            }
            v.iter().map(|&n| Some(n)).collect()
        }
        None => vec![None],
    };
    // Every (leaders, team size) runs its replications twice: under the effect and under the null
    // (balans_trial::power::trial_power); a search's total is not known in advance.
    let total = match args.target_power {
        Some(_) => None,
        None => {
            let conditions = args.leaders.as_ref().map_or(1, Vec::len) * grid.len();
            Some((2 * conditions * args.reps) as u64)
        }
    };
    let progress = crate::progress::Progress::start(
        match args.target_power {
            Some(_) => "the leader search",
            None => "the trial power analysis",
        },
        "replications",
        total,
    );
    let tick = |k: u64| progress.tick(k);
    let map = |e: balans_trial::power::TrialPowerError| match &e {
        balans_trial::power::TrialPowerError::UnknownOutcome { .. } => anyhow!("--outcome: {e}"),
        balans_trial::power::TrialPowerError::Setting { setting, .. } => {
            anyhow!("--{setting}: {e}")
        }
        balans_trial::power::TrialPowerError::Shard(_) => anyhow!("{e}"),
    };
    let (rows, search) = match args.target_power {
        Some(target) => {
            if grid.len() > 1 {
                bail!("--target-power searches leaders at one team size: give at most one --team-size-grid value");
            }
            let (s, rows) = search_leaders(
                &design,
                &config,
                &args.search_analysis,
                target,
                grid[0],
                args.leaders_max,
                &session.with_progress(&tick),
            )
            .map_err(map)?;
            (rows, Some(s))
        }
        None => {
            let leaders = args
                .leaders
                .clone()
                .unwrap_or_else(|| vec![design.total_leaders()]);
            (
                trial_power(
                    &design,
                    &config,
                    &leaders,
                    &grid,
                    &session.with_progress(&tick),
                )
                .map_err(map)?,
                None,
            )
        }
    };
    progress.finish();
    let mut notes = vec![
        "power counts failed fits as non-rejections; see the 'failed' column".to_string(),
        "effect: the intention-to-treat effect on the outcome (total effect from FSSB × FSSB shift × uptake)".to_string(),
    ];
    if !has_fast_path(&design) || args.employee_level {
        notes.push("employee rows simulated (moderator, shock or MAR attrition)".into());
    }
    for a in &config.analyses {
        if let Some(w) = a.spec().warning {
            notes.push(format!("warning: {w}"));
        }
    }
    let report = TrialPowerReport {
        design: spec,
        settings: config,
        direct_leader_statistics: has_fast_path(&design) && !args.employee_level,
        rows,
        search,
        notes,
    };
    if let Some(path) = &args.plot {
        write_atomic(path, report.to_svg().as_bytes())?;
    }
    let output = balans_report::output::Output::TrialPower(Box::new(report));
    crate::output::write_output(args.out.as_deref(), &output, args.format)
}
