//! # balans-power
//!
//! Monte Carlo power analysis and sample-size planning for path/mediation models: simulate data
//! from a population model, fit the analysis model, and count how often each test rejects.
//!
//! Main types and functions:
//! * [`Study`] — population model + analysis model + the [`Effect`]s to count (every path, every
//!   specific indirect route, every `:=` parameter, and all hypothesised effects jointly), built
//!   with an [`EffectSelection`].
//! * [`PowerConfig`] — replications, seed, α, the [`Test`]s (Wald for paths; joint significance,
//!   Sobel, Monte Carlo CI, percentile and bias-corrected bootstrap for indirect effects), the
//!   [`DataMode`] (normal construct scores or Likert items) and the [`Sampling`] (rows, or the
//!   sample covariance matrix drawn directly from its Wishart distribution, `balans_sim::WishartSampler`).
//! * [`power_curve`] → [`PowerRow`]s, one per (N, effect, test): power, its Monte Carlo SE, mean
//!   estimate, bias, mean SE vs empirical SD, coverage, convergence.
//! * [`required_sample_size`] with a [`SearchConfig`] → [`SampleSizeEstimate`]s: the smallest N
//!   reaching a target power, with a Monte Carlo interval.
//! * [`PowerReport`] — everything with the settings echoed (typed, serde; rendered by
//!   `balans-report`).
//! * [`single_path_power`] — the closed-form power of one coefficient, the test oracle.
//! * [`PowerError`] — every failure, as a value.
//!
//! **Reproducibility**: replication r at sample size N draws from the Xoshiro256++ stream
//! `(seed, N, r)` ([`replication_rng`]) and results are reduced in replication order, so they are
//! identical for any number of threads. The inner loop allocates nothing per replication. The
//! replications run in the ambient rayon pool (a caller's `ThreadPool::install`, else the global
//! pool): the library builds no thread pools. The replications run on the generic engine of
//! `balans-montecarlo` (its streams are re-exported here: [`replication_rng`]).

mod config;
mod engine;
mod error;
pub mod latent;
mod oracle;
mod report;
mod search;
mod study;

pub use balans_montecarlo::{replication_rng, ReplicationRng, RunContext, MAX_REPLICATIONS};
pub use config::{DataMode, MissingData, PowerConfig, Sampling, SurveyOptions};
pub use error::PowerError;
pub use oracle::{single_path_power, z_test_power};
pub use report::{PowerReport, PowerRow, RowKind, Settings};
pub use search::{ProbitFit, SampleSizeEstimate, SearchConfig, SearchStatus};
pub use study::{
    Effect, EffectKind, EffectSelection, Study, Test, ALL_JOINTLY, NULL_EFFECT, TEST_NAMES,
};

/// Power at each of `sample_sizes` (rows sorted by N, then effect, then test). `progress` is the
/// run context of the engine: a closure called after every `k` finished replications, or a
/// [`balans_montecarlo::RunConfig`] that also says which shard to run.
///
/// # Errors
/// Invalid settings, sample sizes too small for the analysis model, simulator refusals.
pub fn power_curve(
    study: &Study,
    config: &PowerConfig,
    sample_sizes: &[usize],
    progress: &dyn RunContext,
) -> Result<Vec<PowerRow>, PowerError> {
    config.validate()?;
    check_sample_sizes(study, sample_sizes)?;
    let cells = engine::cells(study, &config.tests);
    let mut ns = sample_sizes.to_vec();
    ns.sort_unstable();
    ns.dedup();
    let mut rows = Vec::new();
    for n in ns {
        rows.extend(engine::run_condition(study, config, &cells, n, progress)?);
    }
    Ok(rows)
}

/// The smallest N whose power reaches `search.target`, for every hypothesised (effect, test) of
/// the study, with the rows of every sample size evaluated on the way.
///
/// # Errors
/// Invalid settings (target outside (0, 1)), no hypothesised effect, simulator refusals.
pub fn required_sample_size(
    study: &Study,
    config: &PowerConfig,
    search: &SearchConfig,
    progress: &dyn RunContext,
) -> Result<(Vec<PowerRow>, Vec<SampleSizeEstimate>), PowerError> {
    config.validate()?;
    if !(search.target > 0.0 && search.target < 1.0) {
        return Err(PowerError::Setting {
            setting: "target-power",
            value: search.target.to_string(),
            expected: "the target power must be strictly between 0 and 1, e.g. 0.8".into(),
        });
    }
    let cells = engine::cells(study, &config.tests);
    search::search(study, config, &cells, search, progress)
}

/// Checks that every sample size can be fitted.
///
/// # Errors
/// [`PowerError::SampleTooSmall`] naming the smallest usable N.
pub fn check_sample_sizes(study: &Study, sample_sizes: &[usize]) -> Result<(), PowerError> {
    let needed = study.min_sample_size();
    if sample_sizes.is_empty() {
        return Err(PowerError::Setting {
            setting: "n",
            value: "(none)".into(),
            expected: "give at least one sample size".into(),
        });
    }
    match sample_sizes.iter().find(|&&n| n < needed) {
        Some(&n) => Err(PowerError::SampleTooSmall {
            n,
            needed,
            reason: format!(
                "the analysis model has {} free parameters and {} variables",
                study.analysis().npar(),
                study.analysis().variables().len()
            ),
        }),
        None => Ok(()),
    }
}
