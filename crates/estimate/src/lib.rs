//! # balans-estimate
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
//!   bias-corrected) intervals, deterministic for a seed whatever the thread count; their
//!   allocation-free workspaces [`MonteCarloSampler`] and [`Bootstrapper`] (`set_data` once, then
//!   `resample_loaded` per resample) for loops that are parallel elsewhere.
//! * [`EvalError`] — every failure, as a value.
//!
//! ```
//! use balans_estimate::{estimate, AnalysisSpec, Estimator, SampleMoments};
//! use balans_model::parse_model;
//!
//! let model = parse_model("example", "m ~ a*x\ny ~ b*m + x\nind := a*b").unwrap();
//! let spec = AnalysisSpec::from_model(&model).unwrap();
//! // Columns in spec.variables() order (x, m, y), row-major.
//! let data: Vec<f64> = (0..50)
//!     .flat_map(|i| {
//!         let x = ((i * 37) % 11) as f64 - 5.0;
//!         let m = 0.5 * x + ((i * 13) % 7) as f64 - 3.0;
//!         let y = 0.4 * m + ((i * 29) % 5) as f64 - 2.0;
//!         [x, m, y]
//!     })
//!     .collect();
//! let moments = SampleMoments::from_rows(&data, spec.variables().len()).unwrap();
//!
//! // Everything lavaan's summary shows:
//! let fit = estimate(&spec, &moments).unwrap();
//! let ind = fit.effects.iter().find(|e| e.name == "ind").unwrap();
//! assert!(ind.std_err > 0.0);
//!
//! // The hot loop: one workspace, refilled without allocating.
//! let mut estimator = Estimator::new(&spec);
//! let mut out = estimator.new_output();
//! estimator.fit_moments(moments.covariance(), moments.n(), &mut out).unwrap();
//! let k = spec.effects().iter().position(|e| e.name == "ind").unwrap();
//! assert!((out.effects[k] - ind.est).abs() < 1e-12);
//! assert!((out.effect_std_err[k] - ind.std_err).abs() < 1e-12);
//! ```

mod effects;
mod error;
mod estimator;
mod fit;
mod group_report;
mod intervals;
mod linalg;
mod measures;
mod moments;
mod multigroup;
mod robust;
pub mod sem;
mod spec;
mod summary;
mod variances;

pub use error::{Convergence, EvalError, Method};
pub use estimator::{Estimator, EstimatorConfig, FitOutput, Strategy};
pub use fit::{
    estimate, estimate_with, normal_pvalue, normal_quantile, EffectEstimate, EstimateConfig, Fit,
    ParameterEstimate, RSquared,
};
pub use group_report::{
    compare_groups, GroupComparison, GroupComparisonSummary, GroupFitSummary, GroupReportContext,
    GroupSize, LrtRow, MultiGroupReport, WaldRow,
};
pub use intervals::{
    bootstrap, bootstrap_interval_values, bootstrap_with_progress, monte_carlo_ci,
    percentile_type7, Bootstrap, BootstrapConfig, BootstrapInterval, Bootstrapper, Interval,
    MonteCarloConfig, MonteCarloSampler,
};
pub use measures::{noncentral_chisq_cdf, FitMeasures, RobustMeasures};
pub use moments::{
    covariance_into, covariance_of_columns_into, covariance_of_rows_into, SampleMoments,
};
pub use multigroup::{
    estimate_multigroup, likelihood_ratio_test, path_equality_tests, EqualityTest, GroupEquality,
    GroupMoments, GroupParameter, LikelihoodRatioTest, MultiGroupConfig, MultiGroupFit,
};
pub use robust::{apply_cluster_robust, estimate_clustered, ClusterRobust};
pub use spec::{
    AnalysisSpec, Effect, EffectClass, EffectKind, Parameter, ParameterKind, MAX_FREE_PARAMETERS,
};
pub use summary::{
    method_label_text, BootstrapCount, ClusterInfo, EffectRow, EstimatorName, FitContext,
    FitReport, ImproperRow, InformationName, IntervalMethod, IntervalSettings, MeasuresRow,
    MissingRule, ParameterRow, ScaleRow, StandardErrors, VariableSource,
};
