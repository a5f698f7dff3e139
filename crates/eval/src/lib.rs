//! # balans-eval
//!
//! Estimation of observed-variable path models with lavaan's `sem()` defaults (normal-theory ML,
//! `fixed.x = TRUE`, N in the denominator, expected information), their effects, and resampling
//! intervals.
//!
//! Main types:
//! * [`AnalysisSpec`] — the estimation model built from a [`balans_model::Model`]: free paths,
//!   residual (co)variances (with lavaan's `auto.cov.y`), fixed `x` (co)variances, effects.
//! * [`SampleMoments`] — a sample covariance matrix (N denominator) and N.
//! * [`estimate`] → [`Fit`] — parameter rows as `parameterEstimates()` (with `std.all`), effects with
//!   delta-method tests, R², [`FitMeasures`].
//! * [`Estimator`] — a reusable, allocation-free fitter for the Monte Carlo hot loop
//!   ([`Estimator::fit_moments`] into a [`FitOutput`]); closed form where exactly ML, Fisher scoring
//!   otherwise.
//! * [`monte_carlo_ci`], [`bootstrap`] — Monte Carlo (semTools) and bootstrap (percentile and
//!   bias-corrected) intervals, deterministic for a seed whatever the thread count.
//! * [`EvalError`] — every failure, as a value.

mod effects;
mod error;
mod estimator;
mod fit;
mod intervals;
mod linalg;
mod measures;
mod moments;
mod spec;

pub use error::{Convergence, EvalError, Method};
pub use estimator::{Estimator, EstimatorConfig, FitOutput, Strategy};
pub use fit::{
    estimate, estimate_with, normal_pvalue, normal_quantile, EffectEstimate, EstimateConfig, Fit,
    ParameterEstimate, RSquared,
};
pub use intervals::{
    bootstrap, bootstrap_interval_values, monte_carlo_ci, percentile_type7, Bootstrap, BootstrapConfig, BootstrapInterval,
    Bootstrapper, Interval, MonteCarloConfig, MonteCarloSampler,
};
pub use measures::{noncentral_chisq_cdf, FitMeasures};
pub use moments::{covariance_into, covariance_of_rows_into, SampleMoments};
pub use spec::{AnalysisSpec, Effect, EffectKind, Parameter, ParameterKind};
