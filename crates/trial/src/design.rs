//! A trial design: who is randomised, how many employees each leader has, how the variables cluster
//! and change from pre to post, what the training does, who drops out, and what can interfere.
//!
//! Two forms, in the ripgrep manner: [`DesignSpec`] is what a user writes (a design file in TOML or
//! JSON, or flags — every field optional, defaults filled in), [`Design`] is the validated design
//! the simulator uses (no invalid state can exist: fields are private and checked once by
//! [`DesignSpec::resolve`]). Errors name the [`DesignField`] at fault so the CLI can name the flag or
//! file key.
//!
//! # The data-generating model
//! Variables are those of a built-in standardized population model (`seed-composite`: fssb → wfc,
//! wfe, eng → perf, amb; or `seed`: the four FSSB dimensions) with implied correlation matrix `R`.
//! For leader `j`, employee `i`, wave `t` (0 = pre, 1 = post, 2… = follow-ups) and variable `v`
//! with intraclass correlation `ρᵥ`:
//!
//! ```text
//! yᵢⱼₜ = √ρ · aⱼₜ + √(1 − ρ) · eᵢⱼₜ + sᵢⱼₜ        (elementwise in v)
//! aⱼ₀ ~ N(0, R),  aⱼₜ = r_L · aⱼ,ₜ₋₁ + √(1 − r_L²) · N(0, R)    (leader level, stability r_L)
//! eᵢⱼ₀ ~ N(0, R), eᵢⱼₜ = r_E · eᵢⱼ,ₜ₋₁ + √(1 − r_E²) · N(0, R)   (employee level, stability r_E)
//! ```
//!
//! so every variable has variance 1 at every wave, ICC ρᵥ, and pre–post correlation
//! `ρᵥ r_L + (1 − ρᵥ) r_E`. The training shifts FSSB at waves ≥ 1 for employees of trained leaders
//! who completed it: `Δᵢⱼ = (d_f + τ zⱼ) · m(level) · k(shock)` on each FSSB variable `f` (`zⱼ` a
//! standard normal per leader, `m` the moderator's effect in the employee's level relative to `d`,
//! `k` the share surviving a shock), and the shift propagates through the population model:
//! `sᵢⱼₜ = (I − B)⁻¹ Δ` — the expected effect on every variable is its total effect from FSSB times
//! the FSSB shift ([`Design::expected_effects`]).
//!
//! Defaults and their provenance: ICCs from the study's scale table (`balans_study::SCALES`:
//! FSSB .15, engagement .08, others .05 [E], docs/INTERVENTIONS.md A3); stability r_E = .5, r_L = .8 [E];
//! effect SD .10 (docs/INTERVENTIONS.md B: between-cluster SD .10–.15 [E]); uptake 1 (ITT of a fully
//! delivered training; Odle-Dusseau et al. 2016 had .71 [R]); attrition .2 (20–30% [E]).

use balans_model::{Model, Population};
use serde::{Deserialize, Serialize};

/// The fields of a design, named so the CLI can map each to a flag or file key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DesignField {
    /// `model`.
    Model,
    /// `leaders` / `leaders_per_arm`.
    Leaders,
    /// `share_trained`.
    ShareTrained,
    /// `team_size` / `team_sizes`.
    TeamSize,
    /// `team_size_cv`.
    TeamSizeCv,
    /// `icc`.
    Icc,
    /// `stability_employee`.
    StabilityEmployee,
    /// `stability_leader`.
    StabilityLeader,
    /// `effect` / `effects`.
    Effect,
    /// `effect_sd`.
    EffectSd,
    /// `uptake`.
    Uptake,
    /// `attrition`.
    Attrition,
    /// `attrition_mar`.
    AttritionMar,
    /// `attrition_strength`.
    AttritionStrength,
    /// `moderator`.
    Moderator,
    /// `shock`.
    Shock,
    /// `followup_waves`.
    FollowupWaves,
    /// `measurement`.
    Measurement,
}

impl DesignField {
    /// The key of the field in a design file.
    pub fn key(self) -> &'static str {
        match self {
            DesignField::Model => "model",
            DesignField::Leaders => "leaders",
            DesignField::ShareTrained => "share_trained",
            DesignField::TeamSize => "team_size",
            DesignField::TeamSizeCv => "team_size_cv",
            DesignField::Icc => "icc",
            DesignField::StabilityEmployee => "stability_employee",
            DesignField::StabilityLeader => "stability_leader",
            DesignField::Effect => "effect",
            DesignField::EffectSd => "effect_sd",
            DesignField::Uptake => "uptake",
            DesignField::Attrition => "attrition",
            DesignField::AttritionMar => "attrition_mar",
            DesignField::AttritionStrength => "attrition_strength",
            DesignField::Moderator => "moderator",
            DesignField::Shock => "shock",
            DesignField::FollowupWaves => "followup_waves",
            DesignField::Measurement => "measurement",
        }
    }
}

/// Why a design cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// A value out of range or inconsistent; the message says what is allowed.
    #[error("{}: {message}", field.key())]
    Invalid {
        /// The field at fault.
        field: DesignField,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A design file that does not parse.
    #[error("{0}")]
    Parse(String),
    /// An unknown built-in design.
    #[error("unknown built-in design '{name}'; built-in designs: {known}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The known names.
        known: String,
    },
}

fn invalid(field: DesignField, message: impl Into<String>) -> DesignError {
    DesignError::Invalid {
        field,
        message: message.into(),
    }
}

/// An optional baseline moderator: employees are split into a low and a high level, and the
/// training's FSSB effect differs by level (it may change sign: Hammer et al. 2011 found positive
/// effects for employees with high family→work conflict and negative ones for low).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeratorSpec {
    /// Column name of the moderator in the data (0 = low, 1 = high).
    #[serde(default = "default_moderator_name")]
    pub name: String,
    /// The model variable whose *pre* score defines the level (high = above its `1 − share_high`
    /// quantile); without it the level is drawn independently with probability `share_high`.
    #[serde(default)]
    pub variable: Option<String>,
    /// Share of employees in the high level.
    #[serde(default = "half")]
    pub share_high: f64,
    /// The FSSB effect (SD units) in the low and the high level.
    pub effects: [f64; 2],
}

fn default_moderator_name() -> String {
    "moderator".into()
}
fn half() -> f64 {
    0.5
}

/// An optional shock during the trial (Moen et al. 2016: a merger announcement mid-study wiped out
/// most effects for employees surveyed after it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShockSpec {
    /// Share of employees measured after the shock.
    pub share_after: f64,
    /// Share of the training effect that survives for them.
    pub effect_survives: f64,
}

/// How variables are written: continuous scale scores or Likert items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Measurement {
    /// Continuous standardized scale scores.
    #[default]
    Scores,
    /// Likert items calibrated to the study's scales (`balans_study::SCALES`).
    Items,
}

/// A trial design as written by a user: every field optional, defaults filled by [`Self::resolve`].
///
/// A design file is this struct in TOML or JSON (unknown keys are refused), e.g.
///
/// ```toml
/// model = "seed-composite"
/// leaders = 30            # total, split by share_trained; or leaders_per_arm = [15, 15]
/// team_size = 9           # or team_sizes = [7, 9, 12], or team_size = 9 with team_size_cv = 0.4
/// icc = { fssb = 0.15 }
/// effect = 0.25           # on every FSSB variable; or effects = { cm = 0.3, is = 0.2 }
/// effect_sd = 0.1
/// uptake = 0.7
/// attrition = 0.2
/// attrition_mar = "wfc"   # MAR on the baseline score of wfc
/// [moderator]
/// variable = "wfc"
/// effects = [-0.2, 0.4]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    /// A name for the design (echoed in outputs).
    #[serde(default)]
    pub name: Option<String>,
    /// Where the design's values come from.
    #[serde(default)]
    pub provenance: Option<String>,
    /// Built-in population model: `seed-composite` (default) or `seed`.
    #[serde(default)]
    pub model: Option<String>,
    /// Total number of leaders.
    #[serde(default)]
    pub leaders: Option<usize>,
    /// Leaders in the control and the trained arm (instead of `leaders` and `share_trained`).
    #[serde(default)]
    pub leaders_per_arm: Option<[usize; 2]>,
    /// Share of leaders trained (default .5).
    #[serde(default)]
    pub share_trained: Option<f64>,
    /// Employees per leader (fixed, or the mean with `team_size_cv`).
    #[serde(default)]
    pub team_size: Option<f64>,
    /// Team sizes, recycled over leaders.
    #[serde(default)]
    pub team_sizes: Option<Vec<usize>>,
    /// Coefficient of variation of team sizes (lognormal, rounded, at least 2).
    #[serde(default)]
    pub team_size_cv: Option<f64>,
    /// ICC per variable (others from the study's scale table).
    #[serde(default)]
    pub icc: Option<std::collections::BTreeMap<String, f64>>,
    /// Pre–post stability of the employee-level part (default .5).
    #[serde(default)]
    pub stability_employee: Option<f64>,
    /// Pre–post stability of the leader-level part (default .8).
    #[serde(default)]
    pub stability_leader: Option<f64>,
    /// The training effect on every FSSB variable, SD units (default 0.25).
    #[serde(default)]
    pub effect: Option<f64>,
    /// The training effect per FSSB variable (overrides `effect` for the named ones).
    #[serde(default)]
    pub effects: Option<std::collections::BTreeMap<String, f64>>,
    /// Between-leader SD of the effect (default .10).
    #[serde(default)]
    pub effect_sd: Option<f64>,
    /// Share of trained leaders who complete the training (default 1).
    #[serde(default)]
    pub uptake: Option<f64>,
    /// Share of employees lost at post (default .2).
    #[serde(default)]
    pub attrition: Option<f64>,
    /// Attrition missing at random on the baseline score of this variable (default MCAR).
    #[serde(default)]
    pub attrition_mar: Option<String>,
    /// Strength of MAR attrition: probit slope on the baseline score (default 0.5).
    #[serde(default)]
    pub attrition_strength: Option<f64>,
    /// A baseline moderator.
    #[serde(default)]
    pub moderator: Option<ModeratorSpec>,
    /// A shock.
    #[serde(default)]
    pub shock: Option<ShockSpec>,
    /// Extra follow-up waves after post (default 0).
    #[serde(default)]
    pub followup_waves: Option<usize>,
    /// Scale scores (default) or Likert items.
    #[serde(default)]
    pub measurement: Option<Measurement>,
}

/// Default total number of leaders (the Dutch single organisation, [`crate::builtin`]).
pub const DEFAULT_LEADERS: usize = 30;
/// Default team size.
pub const DEFAULT_TEAM_SIZE: f64 = 9.0;
/// Default employee-level pre–post stability [E].
pub const DEFAULT_STABILITY_EMPLOYEE: f64 = 0.5;
/// Default leader-level pre–post stability [E].
pub const DEFAULT_STABILITY_LEADER: f64 = 0.8;
/// Default FSSB effect, SD units (docs/INTERVENTIONS.md B: d ≈ 0.20–0.30 [E]).
pub const DEFAULT_EFFECT: f64 = 0.25;
/// Default between-leader SD of the effect (docs/INTERVENTIONS.md B: .10–.15 [E]).
pub const DEFAULT_EFFECT_SD: f64 = 0.10;
/// Default attrition at post (docs/INTERVENTIONS.md B: 20–30% [E]).
pub const DEFAULT_ATTRITION: f64 = 0.20;
/// Default MAR probit slope [E].
pub const DEFAULT_ATTRITION_STRENGTH: f64 = 0.5;
/// Largest number of leaders and of employees per leader a design may have.
pub const MAX_LEADERS: usize = 100_000;

/// How attrition at post happens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Attrition {
    /// Missing completely at random with this probability.
    Mcar(f64),
    /// Missing at random: `P(lost) = Φ(c + s·y_pre)` on the baseline score of variable `variable`,
    /// with `c = Φ⁻¹(rate)·√(1 + s²)` so the average rate is `rate` (the baseline score is N(0, 1)).
    Mar {
        /// Average rate.
        rate: f64,
        /// Index of the variable.
        variable: usize,
        /// Probit slope `s`.
        strength: f64,
    },
}

/// Team sizes of a design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TeamSizes {
    /// Every leader has this many employees.
    Fixed(usize),
    /// Sizes recycled over leaders.
    List(Vec<usize>),
    /// Lognormal sizes with this mean and coefficient of variation, rounded, at least 2.
    MeanCv {
        /// Mean.
        mean: f64,
        /// Coefficient of variation.
        cv: f64,
    },
}

/// A validated trial design (built by [`DesignSpec::resolve`]).
#[derive(Debug, Clone)]
pub struct Design {
    pub(crate) name: String,
    pub(crate) model_name: String,
    pub(crate) population: Population,
    pub(crate) leaders: [usize; 2],
    pub(crate) team_sizes: TeamSizes,
    pub(crate) icc: Vec<f64>,
    pub(crate) stability: [f64; 2],
    pub(crate) fssb: Vec<usize>,
    pub(crate) effects: Vec<f64>,
    pub(crate) effect_sd: f64,
    pub(crate) uptake: f64,
    pub(crate) attrition: Attrition,
    pub(crate) moderator: Option<(ModeratorSpec, Option<usize>)>,
    pub(crate) shock: Option<ShockSpec>,
    pub(crate) followup_waves: usize,
    pub(crate) measurement: Measurement,
    pub(crate) spec: DesignSpec,
}

fn unit(field: DesignField, v: f64, lo_open: bool, hi_open: bool) -> Result<f64, DesignError> {
    let lo_ok = if lo_open { v > 0.0 } else { v >= 0.0 };
    let hi_ok = if hi_open { v < 1.0 } else { v <= 1.0 };
    if v.is_finite() && lo_ok && hi_ok {
        Ok(v)
    } else {
        let range = format!(
            "{}0, 1{}",
            if lo_open { "(" } else { "[" },
            if hi_open { ")" } else { "]" }
        );
        Err(invalid(
            field,
            format!("{v} is out of range: must be in {range}"),
        ))
    }
}

impl DesignSpec {
    /// Parses a design file in TOML.
    ///
    /// # Errors
    /// [`DesignError::Parse`] with the line and column of the problem.
    pub fn from_toml(text: &str) -> Result<DesignSpec, DesignError> {
        toml::from_str(text).map_err(|e| DesignError::Parse(e.to_string().trim_end().to_string()))
    }

    /// Parses a design file in JSON.
    ///
    /// # Errors
    /// [`DesignError::Parse`] with the line and column of the problem.
    pub fn from_json(text: &str) -> Result<DesignSpec, DesignError> {
        serde_json::from_str(text).map_err(|e| DesignError::Parse(e.to_string()))
    }

    /// Fields set in `other` replace those of `self` (flags over a design file).
    pub fn overlay(mut self, other: &DesignSpec) -> DesignSpec {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        take!(
            name,
            provenance,
            model,
            leaders,
            leaders_per_arm,
            share_trained,
            team_size,
            team_sizes,
            team_size_cv,
            icc,
            stability_employee,
            stability_leader,
            effect,
            effects,
            effect_sd,
            uptake,
            attrition,
            attrition_mar,
            attrition_strength,
            moderator,
            shock,
            followup_waves,
            measurement
        );
        if other.leaders.is_some() {
            self.leaders_per_arm = other.leaders_per_arm;
        }
        self
    }

    /// Validates the design and fills in the defaults.
    ///
    /// # Errors
    /// The first invalid field: fewer than two leaders in an arm, an arm without leaders, an ICC
    /// or stability outside [0, 1), unknown variables, shares outside [0, 1], …
    pub fn resolve(&self) -> Result<Design, DesignError> {
        use DesignField as F;
        let model_name = self
            .model
            .clone()
            .unwrap_or_else(|| "seed-composite".into());
        let model = Model::builtin(&model_name).map_err(|e| invalid(F::Model, e.to_string()))?;
        let population = model
            .population()
            .map_err(|e| invalid(F::Model, e.to_string()))?
            .standardized()
            .map_err(|e| invalid(F::Model, e.to_string()))?;
        let names: Vec<String> = population.names().to_vec();
        let index = |field: DesignField, name: &str| {
            names.iter().position(|n| n == name).ok_or_else(|| {
                invalid(
                    field,
                    format!("unknown variable '{name}'; variables: {}", names.join(", ")),
                )
            })
        };
        let leaders = self.arms()?;
        let team_sizes = self.team_sizes()?;
        let mut icc: Vec<f64> = names.iter().map(|n| default_icc(n)).collect();
        for (name, &v) in self.icc.iter().flatten() {
            icc[index(F::Icc, name)?] = unit(F::Icc, v, false, true).map_err(|_| {
                invalid(
                    F::Icc,
                    format!("{name}={v} is out of range: an ICC must be in [0, 1)"),
                )
            })?;
        }
        let stability = [
            unit(
                F::StabilityEmployee,
                self.stability_employee
                    .unwrap_or(DEFAULT_STABILITY_EMPLOYEE),
                false,
                true,
            )?,
            unit(
                F::StabilityLeader,
                self.stability_leader.unwrap_or(DEFAULT_STABILITY_LEADER),
                false,
                false,
            )?,
        ];
        let fssb: Vec<usize> = (0..names.len())
            .filter(|&i| population.exogenous()[i])
            .collect();
        let d = self.effect.unwrap_or(DEFAULT_EFFECT);
        if !d.is_finite() || d.abs() > 5.0 {
            return Err(invalid(
                F::Effect,
                format!("{d} is out of range: an effect in SD units must be within ±5"),
            ));
        }
        let mut effects = vec![d; fssb.len()];
        for (name, &v) in self.effects.iter().flatten() {
            let i = index(F::Effect, name)?;
            let k = fssb.iter().position(|&f| f == i).ok_or_else(|| {
                invalid(
                    F::Effect,
                    format!(
                        "'{name}' is not an FSSB variable (the training acts on {})",
                        fssb.iter()
                            .map(|&f| names[f].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if !v.is_finite() || v.abs() > 5.0 {
                return Err(invalid(
                    F::Effect,
                    format!("{name}={v} is out of range: within ±5"),
                ));
            }
            effects[k] = v;
        }
        let effect_sd = self.effect_sd.unwrap_or(DEFAULT_EFFECT_SD);
        if !(effect_sd.is_finite() && (0.0..=5.0).contains(&effect_sd)) {
            return Err(invalid(
                F::EffectSd,
                format!("{effect_sd} is out of range: must be in [0, 5]"),
            ));
        }
        let uptake = unit(F::Uptake, self.uptake.unwrap_or(1.0), false, false)?;
        let rate = unit(
            F::Attrition,
            self.attrition.unwrap_or(DEFAULT_ATTRITION),
            false,
            true,
        )?;
        let attrition = match &self.attrition_mar {
            None => Attrition::Mcar(rate),
            Some(v) => {
                let strength = self
                    .attrition_strength
                    .unwrap_or(DEFAULT_ATTRITION_STRENGTH);
                if !(strength.is_finite() && strength.abs() <= 5.0) {
                    return Err(invalid(
                        F::AttritionStrength,
                        format!("{strength} is out of range: within ±5"),
                    ));
                }
                Attrition::Mar {
                    rate,
                    variable: index(F::AttritionMar, v)?,
                    strength,
                }
            }
        };
        let moderator = match &self.moderator {
            None => None,
            Some(m) => {
                unit(F::Moderator, m.share_high, true, true).map_err(|_| {
                    invalid(
                        F::Moderator,
                        format!(
                            "share_high = {} must be strictly between 0 and 1",
                            m.share_high
                        ),
                    )
                })?;
                if m.effects.iter().any(|e| !e.is_finite() || e.abs() > 5.0) {
                    return Err(invalid(
                        F::Moderator,
                        "effects must be two numbers within ±5",
                    ));
                }
                let var = m
                    .variable
                    .as_deref()
                    .map(|v| index(F::Moderator, v))
                    .transpose()?;
                Some((m.clone(), var))
            }
        };
        if let Some(s) = &self.shock {
            unit(F::Shock, s.share_after, false, false)?;
            if !s.effect_survives.is_finite() || s.effect_survives.abs() > 5.0 {
                return Err(invalid(
                    F::Shock,
                    "effect_survives must be a finite share (1 = unchanged)",
                ));
            }
        }
        let followup_waves = self.followup_waves.unwrap_or(0);
        if followup_waves > 20 {
            return Err(invalid(
                F::FollowupWaves,
                format!("{followup_waves} is too many: at most 20"),
            ));
        }
        Ok(Design {
            name: self.name.clone().unwrap_or_else(|| "custom".into()),
            model_name,
            population,
            leaders,
            team_sizes,
            icc,
            stability,
            fssb,
            effects,
            effect_sd,
            uptake,
            attrition,
            moderator,
            shock: self.shock,
            followup_waves,
            measurement: self.measurement.unwrap_or_default(),
            spec: self.clone(),
        })
    }

    /// Leaders in [control, trained].
    fn arms(&self) -> Result<[usize; 2], DesignError> {
        use DesignField as F;
        let arms = match (self.leaders_per_arm, self.leaders) {
            (Some(a), _) => a,
            (None, total) => {
                let total = total.unwrap_or(DEFAULT_LEADERS);
                let p = self.share_trained.unwrap_or(0.5);
                if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                    return Err(invalid(
                        F::ShareTrained,
                        format!("{p} is out of range: must be in (0, 1)"),
                    ));
                }
                let trained = (total as f64 * p).round() as usize;
                [total - trained.min(total), trained.min(total)]
            }
        };
        let field = if self.leaders_per_arm.is_some() || self.share_trained.is_none() {
            F::Leaders
        } else {
            F::ShareTrained
        };
        for (arm, &k) in ["control", "trained"].iter().zip(&arms) {
            if k == 0 {
                return Err(invalid(field, format!("the {arm} arm has no leaders ({} control, {} trained): both arms need at least 2", arms[0], arms[1])));
            }
            if k == 1 {
                return Err(invalid(field, format!("the {arm} arm has one leader ({} control, {} trained): the between-leader variance cannot be estimated; both arms need at least 2", arms[0], arms[1])));
            }
        }
        if arms[0] + arms[1] > MAX_LEADERS {
            return Err(invalid(
                F::Leaders,
                format!(
                    "{} leaders is too many: at most {MAX_LEADERS}",
                    arms[0] + arms[1]
                ),
            ));
        }
        Ok(arms)
    }

    fn team_sizes(&self) -> Result<TeamSizes, DesignError> {
        use DesignField as F;
        if let Some(list) = &self.team_sizes {
            if list.is_empty() || list.iter().any(|&k| k == 0 || k > MAX_LEADERS) {
                return Err(invalid(F::TeamSize, format!("team sizes {list:?}: need a non-empty list of sizes from 1 to {MAX_LEADERS}")));
            }
            return Ok(TeamSizes::List(list.clone()));
        }
        let mean = self.team_size.unwrap_or(DEFAULT_TEAM_SIZE);
        if !(mean.is_finite() && mean >= 1.0 && mean <= MAX_LEADERS as f64) {
            return Err(invalid(
                F::TeamSize,
                format!(
                    "{mean} is out of range: employees per leader must be from 1 to {MAX_LEADERS}"
                ),
            ));
        }
        match self.team_size_cv {
            None | Some(0.0) => {
                if mean.fract() != 0.0 {
                    return Err(invalid(F::TeamSize, format!("{mean} is not a whole number; give team_size_cv to draw sizes around a mean")));
                }
                Ok(TeamSizes::Fixed(mean as usize))
            }
            Some(cv) if cv.is_finite() && cv > 0.0 && cv <= 3.0 => {
                Ok(TeamSizes::MeanCv { mean, cv })
            }
            Some(cv) => Err(invalid(
                F::TeamSizeCv,
                format!("{cv} is out of range: must be in [0, 3]"),
            )),
        }
    }
}

/// The ICC of a variable by the study's scale table (`balans_study::SCALES`), else
/// `balans_sim::DEFAULT_ICC`.
pub fn default_icc(name: &str) -> f64 {
    balans_study::scale(name).map_or(balans_sim::DEFAULT_ICC, |s| s.icc)
}

impl Design {
    /// The design's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The built-in population model's name.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }
    /// The standardized population.
    pub fn population(&self) -> &Population {
        &self.population
    }
    /// Variable names.
    pub fn variables(&self) -> &[String] {
        self.population.names()
    }
    /// Leaders in the control and the trained arm.
    pub fn leaders(&self) -> [usize; 2] {
        self.leaders
    }
    /// Total leaders.
    pub fn total_leaders(&self) -> usize {
        self.leaders[0] + self.leaders[1]
    }
    /// Team sizes.
    pub fn team_sizes(&self) -> &TeamSizes {
        &self.team_sizes
    }
    /// ICC of each variable.
    pub fn icc(&self) -> &[f64] {
        &self.icc
    }
    /// Employee- and leader-level pre–post stability.
    pub fn stability(&self) -> [f64; 2] {
        self.stability
    }
    /// Indices of the FSSB variables (the population's exogenous variables).
    pub fn fssb(&self) -> &[usize] {
        &self.fssb
    }
    /// The training effect on each FSSB variable (same order as [`Self::fssb`]).
    pub fn effects(&self) -> &[f64] {
        &self.effects
    }
    /// Between-leader SD of the effect.
    pub fn effect_sd(&self) -> f64 {
        self.effect_sd
    }
    /// Uptake.
    pub fn uptake(&self) -> f64 {
        self.uptake
    }
    /// Attrition.
    pub fn attrition(&self) -> Attrition {
        self.attrition
    }
    /// Moderator and the index of its defining variable.
    pub fn moderator(&self) -> Option<&ModeratorSpec> {
        self.moderator.as_ref().map(|m| &m.0)
    }
    /// Shock.
    pub fn shock(&self) -> Option<ShockSpec> {
        self.shock
    }
    /// Extra follow-up waves.
    pub fn followup_waves(&self) -> usize {
        self.followup_waves
    }
    /// Measurement.
    pub fn measurement(&self) -> Measurement {
        self.measurement
    }
    /// The spec the design was resolved from (for echoing in outputs and re-use as a file).
    pub fn spec(&self) -> &DesignSpec {
        &self.spec
    }

    /// The same design with every FSSB effect (and the moderator's effects) multiplied by `factor`
    /// — `0` gives the null design used for type I error.
    pub fn scaled_effect(&self, factor: f64) -> Design {
        let mut d = self.clone();
        d.effects.iter_mut().for_each(|e| *e *= factor);
        if let Some((m, _)) = &mut d.moderator {
            m.effects.iter_mut().for_each(|e| *e *= factor);
        }
        d
    }

    /// The same design with `leaders` total leaders split in the design's proportion (at least 2
    /// per arm) and, if given, fixed teams of `team_size`.
    pub fn with_size(&self, leaders: usize, team_size: Option<usize>) -> Design {
        let mut d = self.clone();
        let share = self.leaders[1] as f64 / self.total_leaders() as f64;
        let trained =
            ((leaders as f64 * share).round() as usize).clamp(2, leaders.saturating_sub(2).max(2));
        d.leaders = [leaders.saturating_sub(trained).max(2), trained];
        if let Some(n) = team_size {
            d.team_sizes = TeamSizes::Fixed(n.max(1));
        }
        d
    }

    /// The FSSB shift of one employee of a leader who completed the training, as a vector over
    /// FSSB variables, before between-leader variation: the design's effects, or with a moderator
    /// its effect in the employee's level (applied to each FSSB variable in proportion to the
    /// design's effects when they are not all equal, else as given).
    pub(crate) fn fssb_effect(&self, k: usize, high: Option<bool>) -> f64 {
        match (&self.moderator, high) {
            (Some((m, _)), Some(h)) => m.effects[usize::from(h)],
            _ => self.effects[k],
        }
    }

    /// The expected effect of the training on every variable, `(I − B)⁻¹ Δ` for the FSSB shift Δ
    /// of a completed training without moderator or shock: each variable's total effect from the
    /// FSSB variables times their shifts. Entry `v` is the expected post-test difference between
    /// arms of variable `v` (SD units) among employees of leaders who completed the training.
    pub fn expected_effects(&self) -> Vec<f64> {
        let t = self.population.inverse_i_minus_beta();
        (0..self.population.len())
            .map(|v| {
                self.fssb
                    .iter()
                    .zip(&self.effects)
                    .map(|(&f, &d)| t[(v, f)] * d)
                    .sum()
            })
            .collect()
    }

    /// The intention-to-treat effect on variable `v` in the moderator's low and the high level
    /// (`(I − B)⁻¹` applied to the level's FSSB effect, × uptake × the shock's survival); the
    /// design's ITT effect in both when there is no moderator.
    pub fn expected_level_effects(&self, v: usize) -> (f64, f64) {
        let t = self.population.inverse_i_minus_beta();
        let mut factor = self.uptake;
        if let Some(s) = self.shock {
            factor *= 1.0 - s.share_after + s.share_after * s.effect_survives;
        }
        match &self.moderator {
            None => {
                let itt = self.expected_itt_effects()[v];
                (itt, itt)
            }
            Some((m, _)) => {
                let level = |d: f64| self.fssb.iter().map(|&f| t[(v, f)] * d * factor).sum();
                (level(m.effects[0]), level(m.effects[1]))
            }
        }
    }

    /// The intention-to-treat expected effects: [`Self::expected_effects`] × uptake, with the
    /// moderator's level-weighted effect and the shock's survival.
    pub fn expected_itt_effects(&self) -> Vec<f64> {
        let t = self.population.inverse_i_minus_beta();
        let mut shift: Vec<f64> = self.effects.clone();
        if let Some((m, _)) = &self.moderator {
            let avg = (1.0 - m.share_high) * m.effects[0] + m.share_high * m.effects[1];
            shift.iter_mut().for_each(|s| *s = avg);
        }
        let mut factor = self.uptake;
        if let Some(s) = self.shock {
            factor *= 1.0 - s.share_after + s.share_after * s.effect_survives;
        }
        (0..self.population.len())
            .map(|v| {
                self.fssb
                    .iter()
                    .zip(&shift)
                    .map(|(&f, &d)| t[(v, f)] * d * factor)
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DesignSpec {
        DesignSpec::default()
    }

    #[test]
    fn defaults_resolve() {
        let d = spec().resolve().unwrap();
        assert_eq!(d.leaders(), [15, 15]);
        assert_eq!(d.variables()[0], "fssb");
        assert_eq!(d.fssb(), &[0]);
    }

    #[test]
    fn bad_designs_name_their_field() {
        let one = DesignSpec {
            leaders_per_arm: Some([1, 5]),
            ..spec()
        };
        let e = one.resolve().unwrap_err();
        assert!(
            matches!(
                e,
                DesignError::Invalid {
                    field: DesignField::Leaders,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("one leader"), "{e}");
        let none = DesignSpec {
            leaders: Some(10),
            share_trained: Some(1.0),
            ..spec()
        };
        let e = none.resolve().unwrap_err();
        assert!(
            matches!(
                e,
                DesignError::Invalid {
                    field: DesignField::ShareTrained,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("control arm has no leaders"), "{e}");
        let icc = DesignSpec {
            icc: Some([("fssb".to_string(), 1.0)].into()),
            ..spec()
        };
        let e = icc.resolve().unwrap_err();
        assert!(
            matches!(
                e,
                DesignError::Invalid {
                    field: DesignField::Icc,
                    ..
                }
            ),
            "{e}"
        );
        let var = DesignSpec {
            attrition_mar: Some("wfx".into()),
            ..spec()
        };
        assert!(var
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("unknown variable 'wfx'"));
    }

    #[test]
    fn files_parse_and_refuse_unknown_keys() {
        let t = DesignSpec::from_toml("leaders = 12\nteam_size = 20\n[moderator]\nvariable = \"wfc\"\neffects = [-0.2, 0.4]\n").unwrap();
        assert_eq!(t.leaders, Some(12));
        let e = DesignSpec::from_toml("leader = 12\n").unwrap_err();
        assert!(e.to_string().contains("leader"), "{e}");
        let j = DesignSpec::from_json(r#"{"leaders_per_arm": [6, 6], "effect": 0.3}"#).unwrap();
        assert_eq!(j.resolve().unwrap().leaders(), [6, 6]);
    }

    #[test]
    fn expected_effects_are_total_effects_times_the_shift() {
        // seed-composite: wfc's total effect from fssb is its direct path (no route via others).
        let d = DesignSpec {
            effect: Some(0.25),
            ..spec()
        }
        .resolve()
        .unwrap();
        let p = d.population();
        let wfc = p.index_of("wfc").unwrap();
        let fssb = p.index_of("fssb").unwrap();
        let e = d.expected_effects();
        assert!((e[wfc] - 0.25 * p.beta()[(wfc, fssb)]).abs() < 1e-12);
        assert!((e[fssb] - 0.25).abs() < 1e-12);
        let total = p.effects().total;
        let perf = p.index_of("perf").unwrap();
        assert!((e[perf] - 0.25 * total[(perf, fssb)]).abs() < 1e-12);
    }
}
