//! Maximum-likelihood estimation with a reusable workspace ([`Estimator`]): the closed-form path
//! (equation-by-equation least squares where that is exactly ML) and Fisher scoring on
//!
//! ```text
//! F_ML(θ) = log|Σ(θ)| + tr(S Σ(θ)⁻¹) − log|S| − p
//! ```
//!
//! with the analytic gradient `∂F/∂θ_a = tr(M ∂_aΣ)`, `M = Σ⁻¹ − Σ⁻¹ S Σ⁻¹`, and the expected
//! information `I1_ab = ½ tr(Σ⁻¹ ∂_aΣ Σ⁻¹ ∂_bΣ)`. Every `∂_aΣ` is a symmetric rank-two matrix
//! `s_a (u vᵀ + v uᵀ)` with `u, v` columns of `A = (I − B)⁻¹` or of `Σ`
//! (`∂Σ/∂B_ij = a_i σ_jᵀ + σ_j a_iᵀ`, `∂Σ/∂Ψ_kl = a_k a_lᵀ + a_l a_kᵀ`, `∂Σ/∂Ψ_kk = a_k a_kᵀ`),
//! and the inner products `⟨x, y⟩ = xᵀ Σ⁻¹ y` among them are entries of `Ψ⁻¹`, `A` and `Σ`
//! (`Aᵀ Σ⁻¹ A = Ψ⁻¹`, `Aᵀ Σ⁻¹ Σ = Aᵀ`), so the information costs O(1) per element.
//!
//! Standard errors: `V = (N · I1(θ̂))⁻¹` (lavaan: `information = "expected"`, structured, N in the
//! denominator; under `fixed.x` only the free parameters enter).
//!
//! The methods live in one module each:
//! * `closed_form` — least squares per block (exactly ML), the shared-factor plan, the block
//!   formulas of `V`;
//! * `fisher` — `F_ML`, its gradient, the expected information, Fisher scoring, start values;
//! * `delta` — the closed-form delta-method plan (standard errors of parameters and effects
//!   without `V`);
//! * `lean` — the lean fit of the Monte Carlo power loop built on that plan;
//! * `selection` — which effects a fit computes, their values and delta-method standard errors.
//!
//! # References
//! lavaan 0.6-14: `lav_model_information_expected`, `lav_model_vcov`; Bollen (1989), *Structural
//! Equations with Latent Variables*, ch. 4 (ML fitting function) and ch. 8 (recursive models).

mod closed_form;
mod delta;
mod fisher;
mod lean;
mod selection;
#[cfg(test)]
mod tests;

use crate::effects;
use crate::error::{Convergence, EvalError, Method};
use crate::linalg::{cholesky_in_place, implied_covariance, inverse_i_minus_beta};
use crate::spec::{AnalysisSpec, ParameterKind};
use closed_form::{BlockWork, Prefix};
use delta::{DeltaPlan, MAX_EFFECT_PARAMETERS};
use fisher::Vector;
use nalgebra::DMatrix;

/// Which estimation path to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Closed form where it is exactly ML, Fisher scoring otherwise.
    #[default]
    Auto,
    /// Always Fisher scoring (to cross-check the closed form).
    FisherScoring,
}

/// Settings of the fitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorConfig {
    /// Estimation path.
    pub strategy: Strategy,
    /// Maximum Fisher-scoring iterations.
    pub max_iterations: usize,
    /// Convergence when the largest absolute gradient element of `F_ML` is below this.
    pub gradient_tolerance: f64,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            strategy: Strategy::Auto,
            max_iterations: 500,
            gradient_tolerance: 1e-11,
        }
    }
}

/// The numbers of one fit, in preallocated buffers (see [`Estimator::new_output`]); refilled by every
/// call of [`Estimator::fit_moments`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOutput {
    /// `θ̂`, in [`AnalysisSpec::parameters`] order.
    pub estimates: Vec<f64>,
    /// Standard errors of `θ̂` (expected information, N denominator).
    pub std_err: Vec<f64>,
    /// Covariance matrix of `θ̂`, `V = (N · I1)⁻¹`.
    pub vcov: DMatrix<f64>,
    /// Effect estimates, in [`AnalysisSpec::effects`] order.
    pub effects: Vec<f64>,
    /// Delta-method standard errors of the effects.
    pub effect_std_err: Vec<f64>,
    /// `B`, `[(outcome, predictor)]`.
    pub beta: DMatrix<f64>,
    /// `Ψ` (fixed `x` block at the sample values).
    pub psi: DMatrix<f64>,
    /// Model-implied covariance matrix `Σ(θ̂)`.
    pub sigma: DMatrix<f64>,
    /// `(I − B)⁻¹`.
    pub inverse_i_minus_beta: DMatrix<f64>,
    /// Number of observations.
    pub n: usize,
    /// How the fit went.
    pub convergence: Convergence,
}

/// The convergence record of a closed-form fit (exact: no iterations, gradient not computed).
const CLOSED_FORM: Convergence = Convergence {
    method: Method::ClosedForm,
    iterations: 0,
    gradient_norm: 0.0,
};

/// A reusable ML fitter for one [`AnalysisSpec`]: holds every buffer, so that
/// [`Estimator::fit_moments`] allocates nothing (the Monte Carlo hot loop).
#[derive(Debug, Clone)]
pub struct Estimator {
    spec: AnalysisSpec,
    config: EstimatorConfig,
    p: usize,
    q: usize,
    derivs: Vec<(Vector, Vector, f64)>,
    s_chol: DMatrix<f64>,
    tmp: DMatrix<f64>,
    sigma_chol: DMatrix<f64>,
    sigma_inv: DMatrix<f64>,
    psi_inv: DMatrix<f64>,
    m: DMatrix<f64>,
    c: DMatrix<f64>,
    info: DMatrix<f64>,
    info_chol: DMatrix<f64>,
    theta: Vec<f64>,
    trial: Vec<f64>,
    grad: Vec<f64>,
    step: Vec<f64>,
    blocks: Vec<BlockWork>,
    /// Per variable: its paths as (parameter index, predictor).
    equations: Vec<Vec<(usize, usize)>>,
    effect_grad: Vec<f64>,
    /// The closed-form path's effect gradient (indexed by `u8` slots: no bounds checks).
    delta_grad: Box<[f64; MAX_EFFECT_PARAMETERS]>,
    scratch: Vec<f64>,
    /// Closed-form path: covariance terms of the standard errors (see [`DeltaPlan`]).
    delta: Option<DeltaPlan>,
    /// Closed-form path: the shared-factor plan (see [`Prefix`]), when it applies.
    prefix: Option<Prefix>,
    /// `log |S|` of the last checked input, computed on first use (Fisher scoring only).
    logdet_s: Option<f64>,
    /// Start values set by [`Estimator::set_start_values`].
    previous: Vec<f64>,
    has_previous: bool,
    /// Indices of the effects every fit computes (all by default, see
    /// [`Estimator::select_effects`]), ascending, and of the others (NaN in the output).
    selected: Vec<usize>,
    unselected: Vec<usize>,
    /// A selection without total effects: the lean fits may leave `B`, `Ψ`, `(I − B)⁻¹` out.
    skip_matrices: bool,
}

impl Estimator {
    /// A fitter for `spec` with default settings.
    pub fn new(spec: &AnalysisSpec) -> Estimator {
        Estimator::with_config(spec, EstimatorConfig::default())
    }

    /// A fitter for `spec` with the given settings.
    pub fn with_config(spec: &AnalysisSpec, config: EstimatorConfig) -> Estimator {
        let p = spec.names.len();
        let q = spec.parameters.len();
        let mut spec = spec.clone();
        if config.strategy == Strategy::FisherScoring {
            spec.closed_form = None;
        }
        let max_m = spec.effects.iter().map(|e| e.parameters.len()).max();
        let max_scratch = spec.effects.iter().map(effects::scratch_len).max();
        let zp = || DMatrix::<f64>::zeros(p, p);
        let delta = DeltaPlan::new(&spec);
        let n_effects = spec.effects.len();
        let prefix = delta.as_ref().and_then(|_| Prefix::new(&spec));
        Estimator {
            derivs: fisher::derivatives(&spec),
            blocks: closed_form::block_work(&spec),
            equations: fisher::equations(&spec),
            spec,
            config,
            p,
            q,
            s_chol: zp(),
            tmp: zp(),
            sigma_chol: zp(),
            sigma_inv: zp(),
            psi_inv: zp(),
            m: zp(),
            c: zp(),
            info: DMatrix::zeros(q, q),
            info_chol: DMatrix::zeros(q, q),
            theta: vec![0.0; q],
            trial: vec![0.0; q],
            grad: vec![0.0; q],
            step: vec![0.0; q],
            effect_grad: vec![0.0; max_m.unwrap_or(0)],
            delta_grad: Box::new([0.0; MAX_EFFECT_PARAMETERS]),
            scratch: Vec::with_capacity(max_scratch.unwrap_or(0)),
            delta,
            prefix,
            logdet_s: None,
            previous: vec![0.0; q],
            has_previous: false,
            selected: (0..n_effects).collect(),
            unselected: Vec::new(),
            skip_matrices: false,
        }
    }

    /// Starts Fisher scoring from `theta` (e.g. the full-sample estimates when fitting bootstrap
    /// resamples) instead of least-squares start values, falling back to those when `theta` is not
    /// admissible; `None` restores the default. Fewer iterations; the estimates do not depend on
    /// the start beyond the convergence tolerance. No effect on the closed-form path.
    pub fn set_start_values(&mut self, theta: Option<&[f64]>) {
        match theta {
            Some(t) if t.len() == self.q && t.iter().all(|v| v.is_finite()) => {
                self.previous.copy_from_slice(t);
                self.has_previous = true;
            }
            _ => self.has_previous = false,
        }
    }

    /// The analysis model this fitter was built for.
    pub fn spec(&self) -> &AnalysisSpec {
        &self.spec
    }

    /// An output with buffers of the right sizes, to pass to [`Estimator::fit_moments`].
    pub fn new_output(&self) -> FitOutput {
        let (p, q, e) = (self.p, self.q, self.spec.effects.len());
        FitOutput {
            estimates: vec![0.0; q],
            std_err: vec![0.0; q],
            vcov: DMatrix::zeros(q, q),
            effects: vec![0.0; e],
            effect_std_err: vec![0.0; e],
            beta: DMatrix::zeros(p, p),
            psi: DMatrix::zeros(p, p),
            sigma: DMatrix::zeros(p, p),
            inverse_i_minus_beta: DMatrix::zeros(p, p),
            n: 0,
            convergence: CLOSED_FORM,
        }
    }

    /// Fits the model to the sample covariance matrix `s` (N denominator, variables in
    /// [`AnalysisSpec::variables`] order) of `n` observations: estimates, standard errors (and
    /// their covariance matrix `vcov`), effects with delta-method standard errors. Allocates
    /// nothing.
    ///
    /// # Errors
    /// Bad shapes or values, too few observations, a constant variable or collinear variables, an
    /// unidentified model, non-convergence.
    pub fn fit_moments(
        &mut self,
        s: &DMatrix<f64>,
        n: usize,
        out: &mut FitOutput,
    ) -> Result<(), EvalError> {
        if self.delta.is_some() {
            self.fit_closed_form(s, n, out, false)?;
            // The full covariance matrix of the estimates (same block formulas).
            return self.standard_errors(out);
        }
        self.fit_point(s, n, out)?;
        self.standard_errors(out)?;
        self.effect_standard_errors(out);
        Ok(())
    }

    /// Like [`Estimator::fit_moments`] (estimates, standard errors, effects and their delta-method
    /// standard errors, implied moments, identical values) but `out.vcov` is not filled on the
    /// closed-form path, where the standard errors come from the block formulas directly: what the
    /// Monte Carlo power loop needs when no interval is drawn from `vcov`. On the Fisher-scoring
    /// path it is [`Estimator::fit_moments`].
    ///
    /// # Errors
    /// As [`Estimator::fit_moments`].
    pub fn fit_moments_lean(
        &mut self,
        s: &DMatrix<f64>,
        n: usize,
        out: &mut FitOutput,
    ) -> Result<(), EvalError> {
        if self.delta.is_some() {
            self.fit_closed_form(s, n, out, true)
        } else {
            self.fit_moments(s, n, out)
        }
    }

    /// [`Estimator::fit_moments_lean`] with the Cholesky factor of `s` supplied by the caller (the
    /// Wishart sampler draws `S = (L T)(L T)ᵀ / N` and so knows its factor): `factor` is `U`,
    /// `S = Uᵀ U`, upper triangular, column-major `p × p` (the strict lower triangle is ignored).
    /// Saves the factorisation of `S` on the shared-factor closed-form path; the factor is still
    /// checked (finite, pivots positive relative to `S`'s diagonal, as in the factorisation), so a
    /// singular `S` is an error, never NaN. Elsewhere (or with a factor of the wrong size) it is
    /// [`Estimator::fit_moments_lean`]. The estimates agree with it to rounding (the factor is not
    /// the one the factorisation would compute bit for bit).
    ///
    /// # Errors
    /// As [`Estimator::fit_moments`].
    pub fn fit_moments_lean_factored(
        &mut self,
        s: &DMatrix<f64>,
        factor: &[f64],
        n: usize,
        out: &mut FitOutput,
    ) -> Result<(), EvalError> {
        if self.prefix.is_none() || self.delta.is_none() || factor.len() != self.p * self.p {
            return self.fit_moments_lean(s, n, out);
        }
        self.fit_factored(s, factor, n, out)
    }

    /// Like [`Estimator::fit_moments`] but without standard errors (estimates, implied moments and
    /// effect values only): what a bootstrap resample needs.
    ///
    /// # Errors
    /// As [`Estimator::fit_moments`].
    pub fn fit_point(
        &mut self,
        s: &DMatrix<f64>,
        n: usize,
        out: &mut FitOutput,
    ) -> Result<(), EvalError> {
        self.check_input(s, n)?;
        out.n = n;
        if self.spec.closed_form.is_some() {
            self.closed_form(s)?;
            out.convergence = CLOSED_FORM;
            out.estimates.copy_from_slice(&self.theta);
            self.fill_matrices(s, out);
        } else {
            let conv = self.fisher_scoring(s, out)?;
            out.convergence = conv;
            out.estimates.copy_from_slice(&self.theta);
        }
        self.effect_values(out);
        Ok(())
    }

    /// [`Self::check_moments`], then the Cholesky factor of `s` into `self.s_chol` (a singular `s`
    /// is an error naming the collinear variables).
    fn check_input(&mut self, s: &DMatrix<f64>, n: usize) -> Result<(), EvalError> {
        self.check_moments(s, n)?;
        let p = self.p;
        self.s_chol.as_mut_slice().copy_from_slice(s.as_slice());
        if let Some(k) = cholesky_in_place(&mut self.s_chol, p) {
            return Err(EvalError::SingularCovariance {
                names: self.spec.names[..=k].join(", "),
            });
        }
        self.logdet_s = None;
        Ok(())
    }

    /// The checks of [`Self::check_input`] before the factorisation.
    fn check_moments(&self, s: &DMatrix<f64>, n: usize) -> Result<(), EvalError> {
        let p = self.p;
        if s.shape() != (p, p) {
            return Err(EvalError::Shape {
                expected: format!("a {p}×{p} covariance matrix"),
                found: format!("{}×{}", s.nrows(), s.ncols()),
            });
        }
        if s.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(EvalError::NonFinite {
                what: "sample covariance matrix",
            });
        }
        let needed = self.q.max(p + 1);
        if n < needed {
            return Err(EvalError::TooFewObservations {
                n,
                npar: self.q,
                p,
                needed,
            });
        }
        crate::variances::check_variances(&self.spec.names, |i| s[(i, i)])
    }

    /// Writes `B`, `Ψ` (fixed `x` block from `s`), `(I − B)⁻¹` and `Σ` for `self.theta` into `out`.
    fn fill_matrices(&mut self, s: &DMatrix<f64>, out: &mut FitOutput) {
        set_matrices(&self.spec, &self.theta, s, &mut out.beta, &mut out.psi);
        inverse_i_minus_beta(&out.beta, &mut out.inverse_i_minus_beta);
        implied_covariance(
            &out.inverse_i_minus_beta,
            &out.psi,
            &mut self.tmp,
            &mut out.sigma,
        );
    }

    /// `V` and standard errors: block formulas on the closed-form path, `(N · I1)⁻¹` otherwise.
    fn standard_errors(&mut self, out: &mut FitOutput) -> Result<(), EvalError> {
        if self.spec.closed_form.is_some() {
            self.closed_form_vcov(out)?;
        } else {
            self.information_vcov(out)?;
        }
        for i in 0..self.q {
            out.std_err[i] = out.vcov[(i, i)].max(0.0).sqrt();
        }
        Ok(())
    }
}

/// Writes `B` and `Ψ` for `theta`; the fixed `x` block of `Ψ` is taken from `s`.
pub(crate) fn set_matrices(
    spec: &AnalysisSpec,
    theta: &[f64],
    s: &DMatrix<f64>,
    beta: &mut DMatrix<f64>,
    psi: &mut DMatrix<f64>,
) {
    beta.as_mut_slice().fill(0.0);
    psi.as_mut_slice().fill(0.0);
    for (k, q) in spec.parameters.iter().enumerate() {
        match q.kind {
            ParameterKind::Regression { outcome, predictor } => {
                beta[(outcome, predictor)] = theta[k]
            }
            ParameterKind::Covariance { a, b } => {
                psi[(a, b)] = theta[k];
                psi[(b, a)] = theta[k];
            }
        }
    }
    for q in &spec.fixed {
        if let ParameterKind::Covariance { a, b } = q.kind {
            psi[(a, b)] = s[(a, b)];
            psi[(b, a)] = s[(a, b)];
        }
    }
}
