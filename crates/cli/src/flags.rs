//! Library errors → the flag to fix: the one place where the CLI names flags for errors that the
//! libraries report in domain terms (a setting, a construct, a model source). `main` prefixes the
//! message with `invalid FLAG:` and adds a help line; the exit code is chosen in `main` too.

use balans_model::ModelError;
use balans_power::PowerError;
use balans_sim::SimError;

/// The subcommand that failed (flags differ between subcommands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `balans model …`.
    Model,
    /// `balans simulate`.
    Simulate,
    /// `balans fit`.
    Fit,
    /// `balans power`.
    Power,
    /// Every other subcommand.
    Other,
}

/// What the CLI adds to a library error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advice {
    /// The flag whose value is wrong (`--icc`), for an `invalid --icc:` prefix.
    pub flag: Option<&'static str>,
    /// A help line naming the flag that fixes it.
    pub help: Option<&'static str>,
}

/// The advice for `error` from `command`: the first library error in its chain that names a
/// setting decides.
pub fn advice(command: CommandKind, error: &anyhow::Error) -> Advice {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<ModelError>() {
            return model(e);
        }
        if let (CommandKind::Simulate, Some(e)) = (command, cause.downcast_ref::<SimError>()) {
            return Advice {
                flag: simulate(e),
                help: None,
            };
        }
        if let (CommandKind::Power, Some(e)) = (command, cause.downcast_ref::<PowerError>()) {
            return power(e);
        }
    }
    Advice::default()
}

fn model(e: &ModelError) -> Advice {
    match e {
        ModelError::Empty { .. } => Advice {
            flag: None,
            help: Some("or start from a built-in model: --builtin seed"),
        },
        ModelError::UnknownBuiltin { .. } => Advice {
            flag: Some("--builtin"),
            help: Some("list the built-in models with: balans model list"),
        },
        _ => Advice::default(),
    }
}

/// The `balans simulate` flag a simulator error is about.
fn simulate(e: &SimError) -> Option<&'static str> {
    Some(match e {
        SimError::SampleSize { .. } => "--n",
        SimError::UnknownConstruct { setting: "ICC", .. }
        | SimError::Icc { .. }
        | SimError::IccIncompatible { .. } => "--icc",
        SimError::UnknownConstruct {
            setting: "reliability",
            ..
        }
        | SimError::Reliability { .. }
        | SimError::InfeasibleReliability { .. } => "--reliability",
        SimError::UnknownConstruct { .. } | SimError::ItemMean { .. } => "--item-mean",
        SimError::ResponseRate { .. } => "--response-rate",
        SimError::SelfSelection { .. } => "--self-selection",
        SimError::MissingRate { .. } => "--missingness",
        SimError::TeamSize { .. } => "--teams",
        _ => return None,
    })
}

/// The `balans power` flag of a power-analysis setting.
fn power(e: &PowerError) -> Advice {
    match e {
        PowerError::Setting { setting, .. } => Advice {
            flag: power_setting(setting),
            help: None,
        },
        PowerError::NothingToPlan => Advice {
            flag: Some("--effects"),
            help: Some("choose effects with a non-zero population value with --effects"),
        },
        PowerError::UnknownEffect { .. } => Advice {
            flag: Some("--effects"),
            help: None,
        },
        PowerError::UnknownTest { .. } => Advice {
            flag: Some("--tests"),
            help: None,
        },
        PowerError::SampleTooSmall { .. } => Advice {
            flag: None,
            help: Some("use larger sample sizes with --n or --n-range"),
        },
        _ => Advice::default(),
    }
}

fn power_setting(setting: &str) -> Option<&'static str> {
    Some(match setting {
        "reps" => "--reps",
        "alpha" => "--alpha",
        "boot" => "--boot",
        "mc-draws" => "--mc-draws",
        "threads" => "--threads",
        "teams" => "--teams",
        "missing" => "--missingness",
        "target-power" => "--target-power",
        "n" => "--n",
        _ => return None,
    })
}
