//! Cluster-randomised pre/post trials of leader training: designs, simulation, mixed-model and
//! cluster-robust analyses, analytic and simulation power.
//!
//! Main types and functions:
//! * [`plan::Cra2r2`] — analytic MDES, power, leaders for a target power and the cost-optimal
//!   allocation of a two-level cluster-randomised design (PowerUpR's `cra2r2`).

pub mod plan;
