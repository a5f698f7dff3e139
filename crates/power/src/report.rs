//! The typed results of a power analysis: long-form rows ([`PowerRow`]) and the whole report
//! ([`PowerReport`]) with the settings echoed. Serialised by serde; rendered as a table, CSV, JSON
//! or an SVG power curve by `balans-report`.

use crate::config::PowerConfig;
use crate::search::SampleSizeEstimate;
use crate::study::{EffectKind, Test};
use serde::Serialize;

/// One (sample size, effect, test) result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerRow {
    /// Sample size N.
    pub n: usize,
    /// Effect name.
    pub effect: String,
    /// Path, indirect, defined or all hypothesised effects jointly.
    pub kind: RowKind,
    /// The test.
    pub test: Test,
    /// Rejection rate over all replications (non-converged replications count as non-rejections).
    pub power: f64,
    /// Monte Carlo standard error of `power`: `sqrt(p(1 − p)/R)`.
    pub mc_se: f64,
    /// Population value (construct level).
    pub population_value: Option<f64>,
    /// Mean estimate over converged replications.
    pub mean_estimate: Option<f64>,
    /// `mean_estimate − population_value` (normal data only).
    pub bias: Option<f64>,
    /// Mean standard error (expected information / delta method).
    pub mean_se: Option<f64>,
    /// Standard deviation of the estimates across replications.
    pub empirical_sd: Option<f64>,
    /// Share of the test's confidence intervals that contain the population value (normal data).
    pub coverage: Option<f64>,
    /// Share of replications in which the analysis model could be fitted.
    pub convergence_rate: f64,
    /// Replications R.
    pub n_replications: usize,
    /// Replications that converged.
    pub n_converged: usize,
}

/// What kind of effect a [`PowerRow`] is about (serialised as `path`, `indirect`, `defined`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// A regression path (Wald test).
    Path,
    /// A specific indirect effect.
    Indirect,
    /// A `:=` parameter.
    Defined,
    /// Every hypothesised effect jointly.
    All,
}

impl RowKind {
    /// The kind of `effect`.
    pub fn of(effect: &EffectKind) -> RowKind {
        match effect {
            EffectKind::Path { .. } => RowKind::Path,
            EffectKind::Function { defined: false, .. } => RowKind::Indirect,
            EffectKind::Function { defined: true, .. } => RowKind::Defined,
            EffectKind::AllJointly => RowKind::All,
        }
    }

    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            RowKind::Path => "path",
            RowKind::Indirect => "indirect",
            RowKind::Defined => "defined",
            RowKind::All => "all",
        }
    }
}

impl std::fmt::Display for RowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::fmt::Display for Test {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Settings echoed with the results (everything that determines them; not the thread count,
/// which does not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Where the population model came from (`builtin:seed` or a file name).
    pub model: String,
    /// Where the analysis model came from (`same as model` by default).
    pub analysis: String,
    /// The Monte Carlo settings.
    #[serde(flatten)]
    pub config: PowerConfig,
    /// The sampling actually used (`wishart` or `rows`).
    pub sampling_used: crate::config::Sampling,
    /// The effect selection as given.
    pub effects: String,
}

/// A complete power analysis: settings, rows (sorted by N, then effect order, then test), the
/// sample-size search when one was asked for, and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerReport {
    /// Settings, including the seed.
    pub settings: Settings,
    /// Target power of a sample-size search.
    pub target_power: Option<f64>,
    /// One row per (n, effect, test).
    pub rows: Vec<PowerRow>,
    /// Sample-size search results, one per (effect, test), when a target power was given.
    pub sample_size: Option<Vec<SampleSizeEstimate>>,
    /// Remarks for the reader.
    pub notes: Vec<String>,
}
