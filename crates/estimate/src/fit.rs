//! The full fit of one data set, as lavaan users see it: `parameterEstimates()` rows (with `std.all`),
//! effects, R², fit measures.

use crate::effects;
use crate::error::Convergence;
use crate::estimator::{Estimator, EstimatorConfig, FitOutput};
use crate::measures::{fit_measures, FitMeasures};
use crate::robust::ClusterRobust;
use crate::spec::{AnalysisSpec, EffectClass, EffectKind, ParameterKind};
use crate::{EvalError, SampleMoments};
use nalgebra::DMatrix;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::erf::erfc;

/// Settings of [`estimate_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateConfig {
    /// Confidence level of the Wald intervals (lavaan's `level`, 0.95).
    pub level: f64,
    /// Significance level of the joint-significance verdict of indirect routes.
    pub alpha: f64,
    /// Settings of the fitter.
    pub estimator: EstimatorConfig,
}

impl Default for EstimateConfig {
    fn default() -> Self {
        EstimateConfig {
            level: 0.95,
            alpha: 0.05,
            estimator: EstimatorConfig::default(),
        }
    }
}

/// One row of lavaan's `parameterEstimates(fit, standardized = TRUE)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParameterEstimate {
    /// Left side.
    pub lhs: String,
    /// `~` or `~~`.
    pub op: String,
    /// Right side.
    pub rhs: String,
    /// Label, empty when none.
    pub label: String,
    /// Free (estimated) or fixed at its sample value (`fixed.x`).
    pub free: bool,
    /// Estimate.
    pub est: f64,
    /// Standard error (0 for fixed parameters).
    pub std_err: f64,
    /// Wald z (`None` for fixed parameters).
    pub z: Option<f64>,
    /// Two-sided p-value of z.
    pub pvalue: Option<f64>,
    /// Lower bound of the Wald interval.
    pub ci_lower: f64,
    /// Upper bound of the Wald interval.
    pub ci_upper: f64,
    /// Completely standardized estimate (`std.all`).
    pub std_all: f64,
}

/// An effect with its delta-method test and interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffectEstimate {
    /// Route (`is->wfc->perf`), pair (`is->perf`) or `:=` name.
    pub name: String,
    /// Specific indirect, total, total indirect or defined.
    pub kind: EffectClass,
    /// Estimate.
    pub est: f64,
    /// Delta-method standard error.
    pub std_err: f64,
    /// `est / std_err`.
    pub z: f64,
    /// Two-sided p-value (the Sobel test for a specific indirect effect).
    pub pvalue: f64,
    /// Lower bound of the delta-method interval.
    pub ci_lower: f64,
    /// Upper bound of the delta-method interval.
    pub ci_upper: f64,
    /// Completely standardized value.
    pub std_all: f64,
    /// For specific indirect effects: whether every path on the route is significant at `alpha`.
    pub joint_significant: Option<bool>,
}

/// R² of one endogenous variable: `1 − ψ_ii / σ̂_ii`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RSquared {
    /// The variable.
    pub variable: String,
    /// Its R².
    pub r_squared: f64,
}

/// Everything about one fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Free parameters (in [`AnalysisSpec::parameters`] order), then the fixed `x` (co)variances.
    pub parameters: Vec<ParameterEstimate>,
    /// Effects, in [`AnalysisSpec::effects`] order.
    pub effects: Vec<EffectEstimate>,
    /// R² of every endogenous variable.
    pub r_squared: Vec<RSquared>,
    /// lavaan's fit measures.
    pub measures: FitMeasures,
    /// How the estimates were found.
    pub convergence: Convergence,
    /// The raw numbers (`θ̂`, `V`, `B`, `Ψ`, `Σ̂`).
    pub output: FitOutput,
    /// Cluster-robust fits ([`crate::estimate_clustered`]): clusters, information and the scaled
    /// test; `None` for normal-theory fits.
    pub robust: Option<ClusterRobust>,
}

/// Fits `spec` to `moments` with the default [`EstimateConfig`].
///
/// # Errors
/// See [`Estimator::fit_moments`].
pub fn estimate(spec: &AnalysisSpec, moments: &SampleMoments) -> Result<Fit, EvalError> {
    estimate_with(spec, moments, &EstimateConfig::default())
}

/// Two-sided normal p-value of `z`.
pub fn normal_pvalue(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// The standard normal quantile `Φ⁻¹(prob)`; NaN for `prob` outside [0, 1] or NaN (statrs'
/// `inverse_cdf` panics there).
pub fn normal_quantile(prob: f64) -> f64 {
    if !(0.0..=1.0).contains(&prob) {
        return f64::NAN;
    }
    Normal::new(0.0, 1.0)
        .expect("standard normal")
        .inverse_cdf(prob)
}

/// Fits `spec` to `moments`: estimates, standard errors, Wald tests and intervals, `std.all`,
/// effects, R², fit measures.
///
/// # Errors
/// See [`Estimator::fit_moments`].
pub fn estimate_with(
    spec: &AnalysisSpec,
    moments: &SampleMoments,
    config: &EstimateConfig,
) -> Result<Fit, EvalError> {
    estimate_adjusted(spec, moments, config, |_| Ok(()))
}

/// [`estimate_with`], with `adjust` applied to the raw fit before the results are built (e.g. a
/// cluster-robust parameter covariance matrix replacing the normal-theory one).
pub(crate) fn estimate_adjusted(
    spec: &AnalysisSpec,
    moments: &SampleMoments,
    config: &EstimateConfig,
    adjust: impl FnOnce(&mut FitOutput) -> Result<(), EvalError>,
) -> Result<Fit, EvalError> {
    let s = moments.covariance();
    let mut estimator = Estimator::with_config(spec, config.estimator);
    let mut out = estimator.new_output();
    estimator.fit_moments(s, moments.n(), &mut out)?;
    adjust(&mut out)?;
    let p = spec.names.len();
    let crit = normal_quantile(0.5 + config.level / 2.0);
    let sd: Vec<f64> = (0..p).map(|i| out.sigma[(i, i)].sqrt()).collect();

    // Standardized parameter vector (std.all), for parameters and effects alike.
    let std_of = |kind: ParameterKind, value: f64, psi: &DMatrix<f64>| -> f64 {
        match kind {
            ParameterKind::Regression { outcome, predictor } => value * sd[predictor] / sd[outcome],
            ParameterKind::Covariance { a, b } if a == b => value / out.sigma[(a, a)],
            ParameterKind::Covariance { a, b } => value / (psi[(a, a)] * psi[(b, b)]).sqrt(),
        }
    };
    let std_theta: Vec<f64> = spec
        .parameters
        .iter()
        .zip(&out.estimates)
        .map(|(q, &v)| std_of(q.kind, v, &out.psi))
        .collect();

    let mut parameters = Vec::with_capacity(spec.parameters.len() + spec.fixed.len());
    for (k, q) in spec.parameters.iter().enumerate() {
        let est = out.estimates[k];
        let se = out.std_err[k];
        let z = est / se;
        parameters.push(ParameterEstimate {
            lhs: q.lhs.clone(),
            op: q.op.to_string(),
            rhs: q.rhs.clone(),
            label: q.label.clone().unwrap_or_default(),
            free: true,
            est,
            std_err: se,
            z: Some(z),
            pvalue: Some(normal_pvalue(z)),
            ci_lower: est - crit * se,
            ci_upper: est + crit * se,
            std_all: std_theta[k],
        });
    }
    for q in &spec.fixed {
        let ParameterKind::Covariance { a, b } = q.kind else {
            continue;
        };
        let est = s[(a, b)];
        parameters.push(ParameterEstimate {
            lhs: q.lhs.clone(),
            op: q.op.to_string(),
            rhs: q.rhs.clone(),
            label: String::new(),
            free: false,
            est,
            std_err: 0.0,
            z: None,
            pvalue: None,
            ci_lower: est,
            ci_upper: est,
            std_all: std_of(q.kind, est, &out.psi),
        });
    }

    // Effects on the standardized scale: evaluate with standardized θ and (I − B_std)⁻¹.
    let a_std = DMatrix::from_fn(p, p, |i, j| {
        out.inverse_i_minus_beta[(i, j)] * sd[j] / sd[i]
    });
    let mut scratch = Vec::new();
    let mut effects_out = Vec::with_capacity(spec.effects.len());
    for (k, e) in spec.effects.iter().enumerate() {
        let est = out.effects[k];
        let se = out.effect_std_err[k];
        let z = est / se;
        let std_all =
            effects::effect_value(e, &spec.parameters, &std_theta, &a_std, None, &mut scratch);
        let joint_significant = match e.kind {
            EffectKind::SpecificIndirect { .. } => Some(
                e.parameters
                    .iter()
                    .all(|&i| normal_pvalue(out.estimates[i] / out.std_err[i]) < config.alpha),
            ),
            _ => None,
        };
        effects_out.push(EffectEstimate {
            name: e.name.clone(),
            kind: e.kind_name(),
            est,
            std_err: se,
            z,
            pvalue: normal_pvalue(z),
            ci_lower: est - crit * se,
            ci_upper: est + crit * se,
            std_all,
            joint_significant,
        });
    }

    let r_squared = (0..p)
        .filter(|&i| !spec.exogenous[i])
        .map(|i| RSquared {
            variable: spec.names[i].clone(),
            r_squared: 1.0 - out.psi[(i, i)] / out.sigma[(i, i)],
        })
        .collect();
    let measures = fit_measures(
        s,
        &out.sigma,
        moments.n(),
        &spec.fixed_x,
        spec.npar(),
        spec.df(),
    );
    let mut convergence = out.convergence;
    convergence.gradient_norm = estimator.gradient_norm_at(s, &out);
    Ok(Fit {
        parameters,
        effects: effects_out,
        r_squared,
        measures,
        convergence,
        output: out,
        robust: None,
    })
}
