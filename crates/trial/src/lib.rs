//! Cluster-randomised pre/post trials of leader training: designs, simulation, mixed-model and
//! cluster-robust analyses, analytic and simulation power.
//!
//! Main types and functions:
//! * [`design::DesignSpec`] (what a user writes: a TOML/JSON design file or flags) →
//!   [`design::Design`] (validated), with built-in designs in [`builtin`].
//! * [`simulate::simulate`] → [`simulate::TrialData`]: employee-level data, wide or long, scores or
//!   Likert items; the training's FSSB shift propagates through the population model.
//! * [`analyse`]: the analyses of a trial (mixed ANCOVA with Satterthwaite / Kenward–Roger df,
//!   CR2 OLS, leader means, long layout, moderation, mediation, CACE, effect sizes), from rows or
//!   from per-leader sufficient statistics.
//! * [`plan::Cra2r2`] — analytic MDES, power, leaders for a target power and the cost-optimal
//!   allocation of a two-level cluster-randomised design (PowerUpR's `cra2r2`).
//! * [`power::trial_power`] — simulation power of the analyses over leaders × team sizes
//!   ([`power_report::TrialPowerReport`] renders it).

pub mod analyse;
pub mod builtin;
pub mod design;
pub mod plan;
pub mod power;
pub mod power_report;
pub mod simulate;
