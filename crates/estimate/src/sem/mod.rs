//! Latent-variable models (`=~`) and full-information ML under missing data, lavaan-equal.
//!
//! * [`SemSpec`] — the RAM-form estimation model with lavaan's `sem()` / `cfa()` defaults
//!   ([`SemOptions`]: `std_lv`, mean structure), identification checked when built.
//! * [`PatternData`] — sample moments per missing-data pattern (one pattern for complete data).
//! * [`fit_sem`] / [`fit_sem_rows`] → [`SemFit`] — `parameterEstimates()` rows with `std.lv` and
//!   `std.all`, effects with delta-method tests, R², `fitMeasures()`, improper solutions.
//!
//! Path models (no `=~`) go through the same code when FIML or a mean structure is asked for.

mod data;
mod em;
mod identify;
mod measures;
mod ml;
mod spec;
mod start;

pub use data::PatternData;
pub use spec::{SemKind, SemOptions, SemParameter, SemSpec};

use crate::effects::{delta_se, effect_value, scratch_len};
use crate::error::Convergence;
use crate::fit::{normal_pvalue, normal_quantile, EffectEstimate, RSquared};
use crate::measures::{fit_measures, FitMeasures};
use crate::spec::EffectKind;
use crate::EvalError;
use ml::Engine;
use nalgebra::DMatrix;

/// How missing values are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Rows with any missing value are dropped (lavaan's default `missing = "listwise"`).
    #[default]
    Listwise,
    /// Full-information ML (lavaan's `missing = "ml"`).
    Ml,
}

/// Which information matrix gives the standard errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Information {
    /// Expected information (lavaan's default for complete data).
    Expected,
    /// Observed information: the Hessian of `−log L` (lavaan's default under `missing = "ml"`).
    Observed,
}

/// Settings of [`fit_sem`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SemConfig {
    /// Missing-data handling of [`fit_sem_rows`].
    pub missing: Missing,
    /// Information matrix of the standard errors; `None`: lavaan's default (expected for complete
    /// data, observed under FIML). FIML always uses the observed information.
    pub information: Option<Information>,
    /// Confidence level of the Wald intervals.
    pub level: f64,
    /// Significance level of the joint-significance verdict of indirect routes.
    pub alpha: f64,
    /// Maximum Fisher-scoring iterations.
    pub max_iterations: usize,
    /// Convergence when the largest absolute gradient element of `F` is below this.
    pub gradient_tolerance: f64,
}

impl Default for SemConfig {
    fn default() -> Self {
        SemConfig {
            missing: Missing::Listwise,
            information: None,
            level: 0.95,
            alpha: 0.05,
            max_iterations: 1000,
            gradient_tolerance: 1e-10,
        }
    }
}

/// One row of `parameterEstimates(fit, standardized = TRUE)` of a latent-variable fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SemEstimate {
    /// Left side.
    pub lhs: String,
    /// `=~`, `~`, `~~` or `~1`.
    pub op: String,
    /// Right side.
    pub rhs: String,
    /// Label, empty when none.
    pub label: String,
    /// Estimated (true) or fixed.
    pub free: bool,
    /// Estimate (the fixed value for fixed rows).
    pub est: f64,
    /// Standard error (0 for fixed rows).
    pub std_err: f64,
    /// Wald z (`None` for fixed rows).
    pub z: Option<f64>,
    /// Two-sided p-value of z.
    pub pvalue: Option<f64>,
    /// Lower bound of the Wald interval.
    pub ci_lower: f64,
    /// Upper bound of the Wald interval.
    pub ci_upper: f64,
    /// Standardized on the latent variables only (`std.lv`).
    pub std_lv: f64,
    /// Completely standardized (`std.all`).
    pub std_all: f64,
}

/// A variance estimated below zero (a Heywood case): reported, not hidden.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImproperEstimate {
    /// The variable whose (residual) variance is negative.
    pub variable: String,
    /// The estimate.
    pub est: f64,
}

/// Everything about one latent-variable (or FIML) fit.
#[derive(Debug, Clone, PartialEq)]
pub struct SemFit {
    /// Every row of the parameter table (free and fixed), in [`SemSpec::rows`] order.
    pub parameters: Vec<SemEstimate>,
    /// Effects, in [`SemSpec::effects`] order.
    pub effects: Vec<EffectEstimate>,
    /// R² of every endogenous node (items, outcomes).
    pub r_squared: Vec<RSquared>,
    /// lavaan's fit measures.
    pub measures: FitMeasures,
    /// How the estimates were found.
    pub convergence: Convergence,
    /// Negative variance estimates.
    pub improper: Vec<ImproperEstimate>,
    /// Rows used, rows deleted, missing-data patterns.
    pub n: usize,
    /// Rows deleted before fitting (listwise, or missing a fixed covariate under FIML).
    pub n_deleted: usize,
    /// Missing-data patterns (1 for complete data).
    pub n_patterns: usize,
    /// The information matrix used for the standard errors.
    pub information: Information,
    /// `θ̂` in [`SemSpec::free_parameters`] order.
    pub theta: Vec<f64>,
    /// Covariance matrix of `θ̂`.
    pub vcov: DMatrix<f64>,
    /// Model-implied covariance matrix of the observed variables.
    pub sigma: DMatrix<f64>,
}

/// Fits `spec` to row-major `data` (columns in [`SemSpec::observed`] order, NaN = missing) with
/// listwise deletion or FIML as `config.missing` says.
///
/// # Errors
/// See [`fit_sem`]; [`PatternData::from_rows`].
pub fn fit_sem_rows(spec: &SemSpec, data: &[f64], config: &SemConfig) -> Result<SemFit, EvalError> {
    let required: Vec<bool> = spec.observed.iter().map(|&i| spec.fixed_x[i]).collect();
    let listwise = config.missing == Missing::Listwise;
    let patterns = PatternData::from_rows(data, spec.observed.len(), &required, listwise)?;
    fit_sem(spec, &patterns, config)
}

/// Fits `spec` to `data` by ML (one complete pattern) or FIML (several patterns).
///
/// # Errors
/// [`EvalError::TooFewCases`] (FIML without a mean structure, a variable observed in fewer than
/// two rows, a singular saturated model), [`EvalError::TooFewObservations`],
/// [`EvalError::NotConverged`], [`EvalError::Unidentified`] (singular information).
pub fn fit_sem(
    spec: &SemSpec,
    data: &PatternData,
    config: &SemConfig,
) -> Result<SemFit, EvalError> {
    let core = fit_core(spec, data, config)?;
    let measures = measures_of(
        spec,
        data,
        &core.engine,
        &core.saturated,
        data.is_complete(),
    );
    let n = core.theta.len();
    let mut vcov = DMatrix::zeros(n, n);
    crate::linalg::gram_of_inverse(core.vcov_factor.as_slice(), n, n, vcov.as_mut_slice());
    // θ = K θ*, Var(θ̂) = K Var(θ̂*) Kᵀ (the identity without constraints).
    let (theta, vcov) = if spec.has_equality_constraints() {
        let c = &spec.reduced;
        let k = c.len();
        (
            spec.expand(&core.theta),
            DMatrix::from_fn(k, k, |i, j| vcov[(c[i], c[j])]),
        )
    } else {
        (core.theta, vcov)
    };
    Ok(assemble(
        spec,
        &core.engine,
        theta,
        vcov,
        measures,
        core.convergence,
        data,
        core.information,
        config,
    ))
}

/// The numbers of a fit that a power replication needs, without parameter rows, standardized
/// values and fit measures (see [`fit_sem_lean`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LeanFit {
    /// `θ̂` in [`SemSpec::free_parameters`] order.
    pub theta: Vec<f64>,
    /// Standard errors of `θ̂`.
    pub std_err: Vec<f64>,
    /// Effect estimates, in [`SemSpec::effects`] order.
    pub effects: Vec<f64>,
    /// Delta-method standard errors of the effects.
    pub effect_std_err: Vec<f64>,
    /// Likelihood-ratio χ² against the saturated model.
    pub chisq: f64,
    /// How the estimates were found.
    pub convergence: Convergence,
    /// Number of negative (residual) variance estimates (Heywood cases).
    pub n_improper: usize,
}

/// Estimates, standard errors, effects with delta SEs and χ² only: the power loop's fit (what
/// lavaan's `sem()` computes before `fitMeasures()` is called).
///
/// # Errors
/// As [`fit_sem`].
pub fn fit_sem_lean(
    spec: &SemSpec,
    data: &PatternData,
    config: &SemConfig,
) -> Result<LeanFit, EvalError> {
    let mut core = fit_core(spec, data, config)?;
    let f_min = core.engine.objective(data).unwrap_or(f64::NAN);
    let st = &core.engine.state;
    let r = &core.vcov_factor;
    let n = core.theta.len();
    // θ = K θ*: free row i is element c[i] of θ* (the identity without constraints).
    let c = &spec.reduced;
    let theta = spec.expand(&core.theta);
    // V* = R Rᵀ: Var(θ̂_i) is the squared norm of row c[i] of R; gᵀ V g = ‖Rᵀ K g‖².
    let std_err = c
        .iter()
        .map(|&i| (i..n).map(|j| r[(i, j)] * r[(i, j)]).sum::<f64>().sqrt())
        .collect();
    let mut scratch = Vec::new();
    let mut effects = Vec::with_capacity(spec.effects.len());
    let mut effect_std_err = Vec::with_capacity(spec.effects.len());
    for e in &spec.effects {
        let mut grad = vec![0.0; e.parameters.len()];
        effects.push(effect_value(
            e,
            &spec.aligned,
            &theta,
            &st.a,
            Some(&mut grad),
            &mut scratch,
        ));
        let variance: f64 = (0..n)
            .map(|j| {
                let v: f64 = e
                    .parameters
                    .iter()
                    .zip(&grad)
                    .map(|(&i, g)| r[(c[i], j)] * g)
                    .sum();
                v * v
            })
            .sum();
        effect_std_err.push(variance.sqrt());
    }
    let chisq = if data.is_complete() {
        let g = &data.patterns[0];
        let f = f_min;
        let logdet_s = g.cov.clone().cholesky().map_or(f64::NAN, |c| {
            2.0 * c.l().diagonal().iter().map(|v| v.ln()).sum::<f64>()
        });
        (data.n as f64 * (f - logdet_s - spec.observed.len() as f64)).max(0.0)
    } else {
        let h0 = em::loglik(data, &st.mu, &st.sigma).unwrap_or(f64::NAN);
        let h1 = em::loglik(data, &core.saturated.mean, &core.saturated.cov).unwrap_or(f64::NAN);
        (2.0 * (h1 - h0)).max(0.0)
    };
    let n_improper = spec
        .free_parameters()
        .filter(
            |q| matches!(q.kind, SemKind::Covariance { a, b } if a == b && st.psi[(a, a)] < 0.0),
        )
        .count();
    Ok(LeanFit {
        theta,
        std_err,
        effects,
        effect_std_err,
        chisq,
        convergence: core.convergence,
        n_improper,
    })
}

/// What every fit computes: estimates, their covariance matrix, the saturated moments.
struct Core<'s> {
    engine: Engine<'s>,
    /// `θ̂*` (equal to `θ̂` without equality constraints).
    theta: Vec<f64>,
    /// `R` with `Var(θ̂*) = R Rᵀ` (upper triangular).
    vcov_factor: DMatrix<f64>,
    convergence: Convergence,
    saturated: em::Saturated,
    information: Information,
}

fn fit_core<'s>(
    spec: &'s SemSpec,
    data: &PatternData,
    config: &SemConfig,
) -> Result<Core<'s>, EvalError> {
    let complete = data.is_complete();
    if !complete && !spec.options.meanstructure {
        return Err(EvalError::TooFewCases {
            reason: "missing values need FIML with a mean structure (build the model with \
                     meanstructure and missing = ml)"
                .into(),
        });
    }
    let p = spec.observed.len();
    if data.n <= p.max(1) {
        return Err(EvalError::TooFewObservations {
            n: data.n,
            npar: spec.npar(),
            p,
            needed: p + 1,
        });
    }
    let names = spec.observed();
    let saturated = if complete {
        let g = &data.patterns[0];
        em::Saturated {
            mean: g.mean.clone(),
            cov: g.cov.clone(),
            iterations: 0,
        }
    } else {
        em::saturated(data, &names)?
    };
    let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    crate::variances::check_variances(&owned, |j| saturated.cov[(j, j)])?;
    let mut engine = Engine::new(spec);
    engine.set_fixed_x(&saturated.cov, &saturated.mean);
    // Start values of θ*: the first free row of each equality class.
    let start_full = start::start_values(spec, &saturated.cov, &saturated.mean);
    let mut theta = vec![0.0; spec.n_reduced];
    for (t, &c) in spec.reduced.iter().enumerate().rev() {
        theta[c] = start_full[t];
    }
    let convergence = engine.fisher_scoring(
        data,
        &mut theta,
        config.max_iterations,
        config.gradient_tolerance,
    )?;
    let information = match (complete, config.information) {
        (false, _) => Information::Observed,
        (true, Some(i)) => i,
        (true, None) => Information::Expected,
    };
    let nf = data.n as f64;
    let info = match information {
        Information::Expected => engine
            .expected_information()
            .map(|i| i * nf)
            .ok_or_else(ml::singular)?,
        Information::Observed => engine.observed_information(data, &theta),
    };
    let vcov_factor = ml::inverse_cholesky_factor(&info).ok_or_else(ml::singular)?;
    engine.set_theta(&theta);
    Ok(Core {
        engine,
        theta,
        vcov_factor,
        convergence,
        saturated,
        information,
    })
}

fn measures_of(
    spec: &SemSpec,
    data: &PatternData,
    engine: &Engine,
    saturated: &em::Saturated,
    complete: bool,
) -> FitMeasures {
    let fixed_x: Vec<bool> = spec.observed.iter().map(|&i| spec.fixed_x[i]).collect();
    let st = &engine.state;
    let means = spec.options.meanstructure;
    let srmr = measures::srmr(&saturated.cov, &st.sigma, &saturated.mean, &st.mu, means);
    // Without equality constraints the mean structure is saturated (every non-x observed variable
    // has a free intercept), the mean residuals are 0 and χ² is the covariance part alone; with
    // them the means may misfit, so χ² and logl come from the full log-likelihoods (below).
    if complete && !(means && spec.has_equality_constraints()) {
        let mut m = fit_measures(
            &saturated.cov,
            &st.sigma,
            data.n,
            &fixed_x,
            spec.npar(),
            spec.df(),
        );
        m.srmr = srmr;
        return m;
    }
    let p = fixed_x.len();
    let q = fixed_x.iter().filter(|x| **x).count();
    let logliks = measures::Logliks {
        h0: em::loglik(data, &st.mu, &st.sigma).unwrap_or(f64::NAN),
        h1: em::loglik(data, &saturated.mean, &saturated.cov).unwrap_or(f64::NAN),
        baseline: em::baseline_loglik(data, &fixed_x),
    };
    // The fixed x block enters neither model: its log-likelihood is left out (as lavaan).
    let logl_x = x_loglik(data, &fixed_x, saturated);
    let ll = measures::Logliks {
        h0: logliks.h0 - logl_x,
        h1: logliks.h1 - logl_x,
        baseline: logliks.baseline - logl_x,
    };
    let baseline_df = spec.n_moments() - 2 * (p - q);
    measures::from_loglik(&ll, data.n, spec.npar(), spec.df(), baseline_df, srmr)
}

/// Log-likelihood of the (complete) fixed `x` columns at their sample moments.
fn x_loglik(data: &PatternData, fixed_x: &[bool], saturated: &em::Saturated) -> f64 {
    let xs: Vec<usize> = (0..fixed_x.len()).filter(|&i| fixed_x[i]).collect();
    let q = xs.len();
    if q == 0 {
        return 0.0;
    }
    let sxx = DMatrix::from_fn(q, q, |a, b| saturated.cov[(xs[a], xs[b])]);
    let logdet = sxx
        .cholesky()
        .map(|c| 2.0 * c.l().diagonal().iter().map(|v| v.ln()).sum::<f64>())
        .unwrap_or(f64::NAN);
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    -(data.n as f64) / 2.0 * (q as f64 * ln2pi + logdet + q as f64)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    spec: &SemSpec,
    engine: &Engine,
    theta: Vec<f64>,
    vcov: DMatrix<f64>,
    measures: FitMeasures,
    convergence: Convergence,
    data: &PatternData,
    information: Information,
    config: &SemConfig,
) -> SemFit {
    let st = &engine.state;
    let m = spec.nodes.len();
    let crit = normal_quantile(0.5 + config.level / 2.0);
    let sd_all: Vec<f64> = (0..m).map(|i| st.sigma_full[(i, i)].sqrt()).collect();
    let sd_lv: Vec<f64> = (0..m)
        .map(|i| if spec.latent[i] { sd_all[i] } else { 1.0 })
        .collect();
    let standardize = |kind: SemKind, est: f64, sd: &[f64], all: bool| -> f64 {
        match kind {
            SemKind::Loading { latent: j, item: i }
            | SemKind::Regression {
                outcome: i,
                predictor: j,
            } => est * sd[j] / sd[i],
            SemKind::Covariance { a, b } if a == b => est / (sd[a] * sd[a]),
            SemKind::Covariance { a, b } => {
                if all || (spec.latent[a] && spec.latent[b]) {
                    est / (st.psi[(a, a)] * st.psi[(b, b)]).sqrt()
                } else {
                    est / (sd[a] * sd[b])
                }
            }
            SemKind::Intercept { node } => est / sd[node],
        }
    };
    let mut parameters = Vec::with_capacity(spec.rows.len());
    let mut std_theta = Vec::with_capacity(theta.len());
    let mut t = 0;
    for q in &spec.rows {
        let est = match q.kind {
            SemKind::Loading { latent, item } => st.beta[(item, latent)],
            SemKind::Regression { outcome, predictor } => st.beta[(outcome, predictor)],
            SemKind::Covariance { a, b } => st.psi[(a, b)],
            SemKind::Intercept { node } => st.alpha[node],
        };
        let (se, z, pvalue) = if q.free {
            let se = vcov[(t, t)].max(0.0).sqrt();
            t += 1;
            (se, Some(est / se), Some(normal_pvalue(est / se)))
        } else {
            (0.0, None, None)
        };
        let std_all = standardize(q.kind, est, &sd_all, true);
        if q.free {
            std_theta.push(std_all);
        }
        parameters.push(SemEstimate {
            lhs: q.lhs.clone(),
            op: q.op.to_string(),
            rhs: q.rhs.clone(),
            label: q.label.clone().unwrap_or_default(),
            free: q.free,
            est,
            std_err: se,
            z,
            pvalue,
            ci_lower: est - crit * se,
            ci_upper: est + crit * se,
            std_lv: standardize(q.kind, est, &sd_lv, false),
            std_all,
        });
    }
    let effects = effects_of(
        spec,
        st,
        &theta,
        &std_theta,
        &sd_all,
        &vcov,
        crit,
        config.alpha,
    );
    let endogenous = |i: usize| {
        spec.rows.iter().any(|q| {
            matches!(q.kind, SemKind::Loading { item, .. } if item == i)
                || matches!(q.kind, SemKind::Regression { outcome, .. } if outcome == i)
        })
    };
    let r_squared = (0..m)
        .filter(|&i| endogenous(i))
        .map(|i| RSquared {
            variable: spec.nodes[i].clone(),
            r_squared: 1.0 - st.psi[(i, i)] / st.sigma_full[(i, i)],
        })
        .collect();
    let improper = spec
        .free_parameters()
        .filter_map(|q| match q.kind {
            SemKind::Covariance { a, b } if a == b && st.psi[(a, a)] < 0.0 => {
                Some(ImproperEstimate {
                    variable: spec.nodes[a].clone(),
                    est: st.psi[(a, a)],
                })
            }
            _ => None,
        })
        .collect();
    SemFit {
        parameters,
        effects,
        r_squared,
        measures,
        convergence,
        improper,
        n: data.n,
        n_deleted: data.n_deleted,
        n_patterns: data.patterns.len(),
        information,
        theta,
        vcov,
        sigma: st.sigma.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn effects_of(
    spec: &SemSpec,
    st: &ml::State,
    theta: &[f64],
    std_theta: &[f64],
    sd: &[f64],
    vcov: &DMatrix<f64>,
    crit: f64,
    alpha: f64,
) -> Vec<EffectEstimate> {
    let m = sd.len();
    let a_std = DMatrix::from_fn(m, m, |i, j| st.a[(i, j)] * sd[j] / sd[i]);
    let mut scratch = Vec::new();
    spec.effects
        .iter()
        .map(|e| {
            scratch.reserve(scratch_len(e));
            let mut grad = vec![0.0; e.parameters.len()];
            let est = effect_value(
                e,
                &spec.aligned,
                theta,
                &st.a,
                Some(&mut grad),
                &mut scratch,
            );
            let se = delta_se(&e.parameters, &grad, vcov);
            let std_all = effect_value(e, &spec.aligned, std_theta, &a_std, None, &mut scratch);
            let z = est / se;
            let joint_significant = match e.kind {
                EffectKind::SpecificIndirect { .. } => Some(
                    e.parameters
                        .iter()
                        .all(|&i| normal_pvalue(theta[i] / vcov[(i, i)].sqrt()) < alpha),
                ),
                _ => None,
            };
            EffectEstimate {
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
            }
        })
        .collect()
}
