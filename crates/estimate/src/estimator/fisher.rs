//! Fisher scoring on the ML discrepancy
//!
//! ```text
//! F_ML(θ) = log|Σ(θ)| + tr(S Σ(θ)⁻¹) − log|S| − p
//! ```
//!
//! with the analytic gradient `∂F/∂θ_a = tr(M ∂_aΣ)`, `M = Σ⁻¹ − Σ⁻¹ S Σ⁻¹`, the expected
//! information `I1_ab = ½ tr(Σ⁻¹ ∂_aΣ Σ⁻¹ ∂_bΣ)` (computed in O(1) per element, see
//! [`super`]), step halving, and least-squares start values; and the information-based covariance
//! matrix `V = (N · I1(θ̂))⁻¹` of the estimates.
//!
//! # References
//! lavaan 0.6-14: `lav_model_information_expected`, `lav_model_vcov`, `lav_start`; Bollen (1989),
//! *Structural Equations with Latent Variables*, ch. 4.

use super::{set_matrices, Estimator, FitOutput};
use crate::error::{Convergence, EvalError, Method};
use crate::linalg::{
    cholesky_in_place, cholesky_inverse, cholesky_logdet, cholesky_solve, implied_covariance,
    inverse_i_minus_beta, mul_add_into, mul_into,
};
use crate::spec::{AnalysisSpec, ParameterKind};
use nalgebra::DMatrix;

/// Which unit vector of `A` or `Σ` a derivative uses.
#[derive(Debug, Clone, Copy)]
pub(super) enum Vector {
    A(usize),
    S(usize),
}

/// Per parameter its derivative `∂_aΣ = s_a (u vᵀ + v uᵀ)` as `(u, v, s_a)`:
/// `∂Σ/∂B_ij = a_i σ_jᵀ + σ_j a_iᵀ`, `∂Σ/∂Ψ_kl = a_k a_lᵀ + a_l a_kᵀ`, `∂Σ/∂Ψ_kk = a_k a_kᵀ`.
pub(super) fn derivatives(spec: &AnalysisSpec) -> Vec<(Vector, Vector, f64)> {
    spec.parameters
        .iter()
        .map(|par| match par.kind {
            ParameterKind::Regression { outcome, predictor } => {
                (Vector::A(outcome), Vector::S(predictor), 1.0)
            }
            ParameterKind::Covariance { a, b } if a == b => (Vector::A(a), Vector::A(a), 0.5),
            ParameterKind::Covariance { a, b } => (Vector::A(a), Vector::A(b), 1.0),
        })
        .collect()
}

/// Per variable its paths as (parameter index, predictor), for the start values.
pub(super) fn equations(spec: &AnalysisSpec) -> Vec<Vec<(usize, usize)>> {
    (0..spec.names.len())
        .map(|y| {
            spec.parameters
                .iter()
                .enumerate()
                .filter_map(|(k, q)| match q.kind {
                    ParameterKind::Regression { outcome, predictor } if outcome == y => {
                        Some((k, predictor))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect()
}

impl Estimator {
    /// `F_ML(θ)` for the sample covariance matrix `s` of `n` observations, with its analytic
    /// gradient written into `grad` (length `npar`): for diagnostics, tests and external
    /// optimisers. `None` when `Σ(θ)` or `Ψ(θ)` is not positive definite.
    ///
    /// # Errors
    /// As [`Estimator::fit_moments`] for bad `s` or `n`.
    pub fn objective(
        &mut self,
        theta: &[f64],
        s: &DMatrix<f64>,
        n: usize,
        grad: &mut [f64],
    ) -> Result<Option<f64>, EvalError> {
        self.check_input(s, n)?;
        let mut work = self.new_output();
        let Some(f) = self.discrepancy(theta, s, &mut work) else {
            return Ok(None);
        };
        self.gradient(s, &work);
        grad.copy_from_slice(&self.grad);
        Ok(Some(f))
    }

    /// Largest absolute gradient element of `F_ML` at `out.estimates` (for diagnostics); uses the
    /// sample statistics of the last fit.
    pub(crate) fn gradient_norm_at(&mut self, s: &DMatrix<f64>, out: &FitOutput) -> f64 {
        let mut work = out.clone();
        let theta = out.estimates.clone();
        if self.discrepancy(&theta, s, &mut work).is_none() {
            return f64::NAN;
        }
        self.gradient(s, &work)
    }

    /// `V = (N · I1(θ̂))⁻¹` into `out.vcov`.
    pub(super) fn information_vcov(&mut self, out: &mut FitOutput) -> Result<(), EvalError> {
        let n = out.n as f64;
        self.information(&out.psi, &out.sigma, &out.inverse_i_minus_beta)?;
        let q = self.q;
        self.info_chol.copy_from(&self.info);
        if cholesky_in_place(&mut self.info_chol, q).is_some() {
            return Err(EvalError::NotIdentified);
        }
        cholesky_inverse(&self.info_chol, q, &mut out.vcov);
        out.vcov /= n;
        Ok(())
    }

    /// Expected information `I1` (per observation) at `(Ψ, Σ, A)` into `self.info`.
    fn information(
        &mut self,
        psi: &DMatrix<f64>,
        sigma: &DMatrix<f64>,
        a: &DMatrix<f64>,
    ) -> Result<(), EvalError> {
        let p = self.p;
        self.tmp.copy_from(psi);
        if cholesky_in_place(&mut self.tmp, p).is_some() {
            return Err(EvalError::NotIdentified);
        }
        cholesky_inverse(&self.tmp, p, &mut self.psi_inv);
        let inner = |x: Vector, y: Vector| -> f64 {
            match (x, y) {
                (Vector::A(i), Vector::A(k)) => self.psi_inv[(i, k)],
                (Vector::A(i), Vector::S(j)) | (Vector::S(j), Vector::A(i)) => a[(j, i)],
                (Vector::S(j), Vector::S(l)) => sigma[(j, l)],
            }
        };
        for x in 0..self.q {
            let (ua, va, sa) = self.derivs[x];
            for y in 0..=x {
                let (ub, vb, sb) = self.derivs[y];
                let v = sa * sb * (inner(ua, ub) * inner(va, vb) + inner(ua, vb) * inner(va, ub));
                self.info[(x, y)] = v;
                self.info[(y, x)] = v;
            }
        }
        Ok(())
    }

    /// `F_ML` at `theta`, with `out`'s matrices and `sigma_inv` updated; `None` when `Σ` or `Ψ` is
    /// not positive definite.
    fn discrepancy(&mut self, theta: &[f64], s: &DMatrix<f64>, out: &mut FitOutput) -> Option<f64> {
        let p = self.p;
        set_matrices(&self.spec, theta, s, &mut out.beta, &mut out.psi);
        inverse_i_minus_beta(&out.beta, &mut out.inverse_i_minus_beta);
        implied_covariance(
            &out.inverse_i_minus_beta,
            &out.psi,
            &mut self.tmp,
            &mut out.sigma,
        );
        self.sigma_chol.copy_from(&out.sigma);
        if cholesky_in_place(&mut self.sigma_chol, p).is_some() {
            return None;
        }
        // Ψ must stay positive definite too (a valid covariance of the residuals).
        self.tmp.copy_from(&out.psi);
        if cholesky_in_place(&mut self.tmp, p).is_some() {
            return None;
        }
        cholesky_inverse(&self.sigma_chol, p, &mut self.sigma_inv);
        let mut tr = 0.0;
        for j in 0..p {
            for i in 0..p {
                tr += s[(i, j)] * self.sigma_inv[(i, j)];
            }
        }
        let logdet_s = *self
            .logdet_s
            .get_or_insert_with(|| cholesky_logdet(&self.s_chol, p));
        let f = cholesky_logdet(&self.sigma_chol, p) + tr - logdet_s - p as f64;
        f.is_finite().then_some(f)
    }

    /// Gradient of `F_ML` into `self.grad`, using the state left by [`Self::discrepancy`].
    fn gradient(&mut self, s: &DMatrix<f64>, out: &FitOutput) -> f64 {
        // M = Σ⁻¹ − Σ⁻¹ S Σ⁻¹
        mul_into(1.0, &self.sigma_inv, s, &mut self.tmp);
        self.m.copy_from(&self.sigma_inv);
        mul_add_into(-1.0, &self.tmp, &self.sigma_inv, &mut self.m);
        // C = Σ M A (β gradients), D = Aᵀ M A (ψ gradients); tmp = M A.
        mul_into(1.0, &self.m, &out.inverse_i_minus_beta, &mut self.tmp);
        mul_into(1.0, &out.sigma, &self.tmp, &mut self.c);
        let a = &out.inverse_i_minus_beta;
        let mut norm: f64 = 0.0;
        for (k, par) in self.spec.parameters.iter().enumerate() {
            let g = match par.kind {
                ParameterKind::Regression { outcome, predictor } => {
                    2.0 * self.c[(predictor, outcome)]
                }
                ParameterKind::Covariance { a: x, b: y } => {
                    // (Aᵀ M A)[y, x] = a_yᵀ (M A)[:, x]
                    let mut d = 0.0;
                    for r in 0..self.p {
                        d += a[(r, y)] * self.tmp[(r, x)];
                    }
                    if x == y {
                        d
                    } else {
                        2.0 * d
                    }
                }
            };
            self.grad[k] = g;
            norm = norm.max(g.abs());
        }
        norm
    }

    fn start_values(&mut self, s: &DMatrix<f64>) {
        // Least squares per equation for the paths, residual (co)variances of those regressions for
        // Ψ, sample (co)variances for random exogenous variables, 0 for x–y covariances.
        // Allocation-free: `tmp` holds S_PP, `step` the right-hand side.
        let p = self.p;
        for (y, preds) in self.equations.iter().enumerate() {
            let k = preds.len();
            if k == 0 {
                continue;
            }
            for (a, &(_, x)) in preds.iter().enumerate() {
                self.step[a] = s[(x, y)];
                for (b, &(_, z)) in preds.iter().enumerate() {
                    self.tmp[(a, b)] = s[(x, z)];
                }
            }
            if cholesky_in_place(&mut self.tmp, k).is_none() {
                cholesky_solve(&self.tmp, k, &mut self.step[..k]);
            } else {
                self.step[..k].fill(0.0);
            }
            for (a, &(idx, _)) in preds.iter().enumerate() {
                self.theta[idx] = self.step[a];
            }
        }
        // Residual covariance matrix of all equations at these paths: (I − B) S (I − B)ᵀ, with
        // `m` = I − B, `c` = (I − B) S, `sigma_inv` = the result (scratch until Fisher scoring).
        self.m.fill_with_identity();
        for (k, q) in self.spec.parameters.iter().enumerate() {
            if let ParameterKind::Regression { outcome, predictor } = q.kind {
                self.m[(outcome, predictor)] = -self.theta[k];
            }
        }
        mul_into(1.0, &self.m, s, &mut self.c);
        for j in 0..p {
            for i in 0..p {
                let mut v = 0.0;
                for r in 0..p {
                    v += self.c[(i, r)] * self.m[(j, r)];
                }
                self.sigma_inv[(i, j)] = v;
            }
        }
        let spec = &self.spec;
        for (k, q) in spec.parameters.iter().enumerate() {
            if let ParameterKind::Covariance { a, b } = q.kind {
                let mixed = spec.exogenous[a] != spec.exogenous[b];
                self.theta[k] = if mixed { 0.0 } else { self.sigma_inv[(a, b)] };
            }
        }
    }

    /// Fisher scoring from [`Self::starting_point`] until the gradient is below the tolerance, no
    /// step descends, or the iterations run out; leaves `θ̂` in `self.theta` and `out`'s matrices at
    /// it.
    pub(super) fn fisher_scoring(
        &mut self,
        s: &DMatrix<f64>,
        out: &mut FitOutput,
    ) -> Result<Convergence, EvalError> {
        let (mut theta, mut f) = self.starting_point(s, out)?;
        let mut iterations = 0;
        let mut gnorm = self.gradient(s, out);
        while gnorm > self.config.gradient_tolerance && iterations < self.config.max_iterations {
            iterations += 1;
            let accepted = match self.scoring_step(&mut theta, &mut f, s, out) {
                Ok(accepted) => accepted,
                Err(e) => {
                    self.theta = theta;
                    return Err(e);
                }
            };
            gnorm = self.gradient(s, out);
            if !accepted {
                // The state at theta is restored: no descent possible.
                break;
            }
        }
        self.theta = theta;
        let conv = Convergence {
            method: Method::FisherScoring,
            iterations,
            gradient_norm: gnorm,
        };
        // Accept a stalled fit when the gradient is negligible at rounding level.
        if gnorm > self.config.gradient_tolerance.max(1e-8) {
            return Err(EvalError::NotConverged { diagnostics: conv });
        }
        Ok(conv)
    }

    /// The admissible start `(θ₀, F_ML(θ₀))`, taken out of `self.theta` (the caller puts `θ̂` back):
    /// the caller's start values when admissible, else least-squares start values, else those
    /// with uncorrelated residuals.
    fn starting_point(
        &mut self,
        s: &DMatrix<f64>,
        out: &mut FitOutput,
    ) -> Result<(Vec<f64>, f64), EvalError> {
        let mut warm = None;
        if self.has_previous {
            let previous = std::mem::take(&mut self.previous);
            warm = self.discrepancy(&previous, s, out);
            self.previous = previous;
        }
        let mut theta = std::mem::take(&mut self.theta);
        if warm.is_some() {
            theta.copy_from_slice(&self.previous);
        } else {
            self.theta = theta;
            self.start_values(s);
            theta = std::mem::take(&mut self.theta);
        }
        if let Some(f) = warm.or_else(|| self.discrepancy(&theta, s, out)) {
            return Ok((theta, f));
        }
        // Start from uncorrelated residuals.
        for (k, q) in self.spec.parameters.iter().enumerate() {
            if let ParameterKind::Covariance { a, b } = q.kind {
                if a != b {
                    theta[k] = 0.0;
                }
            }
        }
        match self.discrepancy(&theta, s, out) {
            Some(f) => Ok((theta, f)),
            None => {
                self.theta = theta;
                Err(EvalError::NotConverged {
                    diagnostics: Convergence {
                        method: Method::FisherScoring,
                        iterations: 0,
                        gradient_norm: f64::INFINITY,
                    },
                })
            }
        }
    }

    /// One scoring step `Δ = −(2 I1)⁻¹ ∇F` from `theta` (objective `f`, gradient in `self.grad`),
    /// halved until `F_ML` does not increase: on success `theta` and `f` move to the new point;
    /// otherwise `out` is restored at `theta`. Returns whether a step was taken.
    fn scoring_step(
        &mut self,
        theta: &mut Vec<f64>,
        f: &mut f64,
        s: &DMatrix<f64>,
        out: &mut FitOutput,
    ) -> Result<bool, EvalError> {
        let q = self.q;
        self.information_from_out(out)?;
        self.info_chol.copy_from(&self.info);
        if cholesky_in_place(&mut self.info_chol, q).is_some() {
            return Err(EvalError::NotIdentified);
        }
        for k in 0..q {
            self.step[k] = -0.5 * self.grad[k];
        }
        let mut step = std::mem::take(&mut self.step);
        cholesky_solve(&self.info_chol, q, &mut step);
        let mut t = 1.0;
        let mut accepted = false;
        let mut trial = std::mem::take(&mut self.trial);
        for _ in 0..40 {
            for k in 0..q {
                trial[k] = theta[k] + t * step[k];
            }
            if let Some(ft) = self.discrepancy(&trial, s, out) {
                if ft <= *f + 1e-14 * f.abs().max(1.0) {
                    *f = ft;
                    accepted = true;
                    break;
                }
            }
            t *= 0.5;
        }
        self.step = step;
        if accepted {
            std::mem::swap(theta, &mut trial);
        } else {
            self.discrepancy(theta, s, out);
        }
        self.trial = trial;
        Ok(accepted)
    }

    fn information_from_out(&mut self, out: &FitOutput) -> Result<(), EvalError> {
        // Borrow-splitting: `information` reads out's matrices only.
        let (psi, sigma, a) = (&out.psi, &out.sigma, &out.inverse_i_minus_beta);
        self.information(psi, sigma, a)
    }
}
