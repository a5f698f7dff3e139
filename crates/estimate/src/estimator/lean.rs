//! The lean fit of the Monte Carlo power loop: the closed-form estimates, then standard errors
//! and effects with their delta-method standard errors straight from the block formulas of
//! [`DeltaPlan`](super::delta::DeltaPlan), without the `npar × npar` covariance matrix; on the
//! shared-factor path ([`Prefix`](super::closed_form::Prefix)) one Cholesky factor of `S` (or the
//! Wishart draw's own) serves the input check, the estimates and every `(Σ̂_PP)⁻¹`.

use super::{set_matrices, Estimator, FitOutput, CLOSED_FORM};
use crate::error::EvalError;
use crate::linalg::{
    cholesky_in_place, cholesky_inverse_small, gram_of_inverse, implied_covariance,
    inverse_i_minus_beta, triangular_inverse,
};
use nalgebra::DMatrix;

impl Estimator {
    /// [`Estimator::fit_moments_lean_factored`] on the shared-factor closed-form path: copies the
    /// caller's factor `U` (`S = Uᵀ U`) after checking it as the factorisation would.
    pub(super) fn fit_factored(
        &mut self,
        s: &DMatrix<f64>,
        factor: &[f64],
        n: usize,
        out: &mut FitOutput,
    ) -> Result<(), EvalError> {
        let p = self.p;
        self.check_moments(s, n)?;
        let u = self.s_chol.as_mut_slice();
        for j in 0..p {
            let col = &factor[j * p..j * p + j + 1];
            if col.iter().any(|v| !v.is_finite()) {
                return Err(EvalError::NonFinite {
                    what: "Cholesky factor of the sample covariance matrix",
                });
            }
            let d = col[j];
            // As `cholesky_in_place`: the pivot d² must be positive relative to S_jj.
            if d.is_nan() || d <= 0.0 || d * d <= 1e-13 * s[(j, j)].abs() {
                return Err(EvalError::SingularCovariance {
                    names: self.spec.names[..=j].join(", "),
                });
            }
            u[j * p..j * p + j + 1].copy_from_slice(col);
        }
        self.logdet_s = None;
        self.fit_closed_form_checked(s, n, out, true)
    }

    /// The closed-form path of [`Estimator::fit_moments_lean`]: estimates, implied moments, then
    /// `Var(β) = Ψ_block ⊗ (N Σ̂_PP)⁻¹` and `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N` entry by
    /// entry where the standard errors and the effects' delta method need them
    /// ([`DeltaPlan`](super::delta::DeltaPlan)). `lean`: the matrices may be skipped (see
    /// [`Estimator::select_effects`]).
    pub(super) fn fit_closed_form(
        &mut self,
        s: &DMatrix<f64>,
        n: usize,
        out: &mut FitOutput,
        lean: bool,
    ) -> Result<(), EvalError> {
        self.check_input(s, n)?;
        self.fit_closed_form_checked(s, n, out, lean)
    }

    /// [`Self::fit_closed_form`] after the input checks (`self.s_chol` holds the factor of `s`).
    fn fit_closed_form_checked(
        &mut self,
        s: &DMatrix<f64>,
        n: usize,
        out: &mut FitOutput,
        lean: bool,
    ) -> Result<(), EvalError> {
        out.n = n;
        if self.prefix.is_some() {
            self.closed_form_prefix(s);
        } else {
            self.closed_form(s)?;
        }
        out.convergence = CLOSED_FORM;
        out.estimates.copy_from_slice(&self.theta);
        if self.prefix.is_some() {
            self.prefix_moments(s, out, lean);
        } else {
            self.block_moments(s, out)?;
        }
        self.lean_standard_errors(out);
        self.lean_effects(out);
        Ok(())
    }

    /// Shared-factor path: the matrices (unless a saturated lean fit may skip them), `Σ̂`, and
    /// every block's `(Σ̂_PP)⁻¹ = (S_PP)⁻¹ = R Rᵀ` from the factor of `S`.
    #[inline]
    fn prefix_moments(&mut self, s: &DMatrix<f64>, out: &mut FitOutput, lean: bool) {
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        let delta = self.delta.as_mut().expect("delta plan");
        let prefix = self.prefix.as_mut().expect("prefix plan");
        // Saturated: Σ̂ = S needs neither B nor Ψ; the effects need (I − B)⁻¹ only for totals.
        if lean && prefix.saturated && self.skip_matrices {
            // Not computed: marked NaN rather than left from an earlier fit.
            if !out.beta[(0, 0)].is_nan() {
                out.beta.fill(f64::NAN);
                out.psi.fill(f64::NAN);
                out.inverse_i_minus_beta.fill(f64::NAN);
            }
        } else {
            set_matrices(&self.spec, &self.theta, s, &mut out.beta, &mut out.psi);
            inverse_i_minus_beta(&out.beta, &mut out.inverse_i_minus_beta);
        }
        if prefix.saturated {
            out.sigma.as_mut_slice().copy_from_slice(s.as_slice());
        } else {
            implied_covariance(
                &out.inverse_i_minus_beta,
                &out.psi,
                &mut self.tmp,
                &mut out.sigma,
            );
        }
        // (Σ̂_PP)⁻¹ = (S_PP)⁻¹ from the shared factor of S.
        let k_max = prefix.k_max;
        triangular_inverse(&self.s_chol, k_max, &mut prefix.r);
        for (block, &offset) in plan.blocks.iter().zip(&delta.offsets) {
            let k = block.predictors.len();
            gram_of_inverse(
                &prefix.r,
                k_max,
                k,
                &mut delta.inverse[offset..offset + k * k],
            );
        }
    }

    /// Per-block path: the matrices, `Σ̂`, and every block's `(Σ̂_PP)⁻¹` from its own factor.
    #[inline]
    fn block_moments(&mut self, s: &DMatrix<f64>, out: &mut FitOutput) -> Result<(), EvalError> {
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        let delta = self.delta.as_mut().expect("delta plan");
        set_matrices(&self.spec, &self.theta, s, &mut out.beta, &mut out.psi);
        inverse_i_minus_beta(&out.beta, &mut out.inverse_i_minus_beta);
        implied_covariance(
            &out.inverse_i_minus_beta,
            &out.psi,
            &mut self.tmp,
            &mut out.sigma,
        );
        for ((block, work), &offset) in plan
            .blocks
            .iter()
            .zip(self.blocks.iter_mut())
            .zip(&delta.offsets)
        {
            let k = block.predictors.len();
            for (a, &x) in block.predictors.iter().enumerate() {
                for (b, &z) in block.predictors.iter().enumerate() {
                    work.spp[(a, b)] = out.sigma[(x, z)];
                }
            }
            if cholesky_in_place(&mut work.spp, k).is_some() {
                return Err(EvalError::NotIdentified);
            }
            cholesky_inverse_small(
                &work.spp,
                k,
                self.c.as_mut_slice(),
                &mut delta.inverse[offset..offset + k * k],
            );
        }
        Ok(())
    }

    /// The parameters' standard errors and the active weighted entries of `N · V`.
    #[inline]
    fn lean_standard_errors(&mut self, out: &mut FitOutput) {
        let delta = self.delta.as_mut().expect("delta plan");
        let nf = out.n as f64;
        let theta = &out.estimates;
        for (se, cov) in out.std_err.iter_mut().zip(&delta.variance) {
            *se = (cov.value(theta, &delta.inverse) / nf).max(0.0).sqrt();
        }
        // Doubling is exact, so `g_s g_t (2 V_st)` rounds as `2 g_s g_t V_st`.
        for &i in &delta.active_entries {
            let (weight, cov) = delta.entries[i];
            delta.values[i] = weight * cov.value(theta, &delta.inverse);
        }
    }

    /// The selected effects and their delta-method standard errors `sqrt(gᵀ V g)` from the plan's
    /// terms; the others NaN.
    #[inline]
    fn lean_effects(&mut self, out: &mut FitOutput) {
        let delta = self.delta.as_ref().expect("delta plan");
        let nf = out.n as f64;
        for &k in &self.unselected {
            out.effects[k] = f64::NAN;
            out.effect_std_err[k] = f64::NAN;
        }
        for &k in &self.selected {
            let (e, lean) = (&self.spec.effects[k], &delta.lean[k]);
            let grad = &mut *self.delta_grad;
            out.effects[k] = lean.value_and_gradient(
                e,
                &self.spec.parameters,
                &out.estimates,
                &out.inverse_i_minus_beta,
                &mut grad[..e.parameters.len()],
                &mut self.scratch,
            );
            let (lo, hi) = delta.ranges[k];
            let mut v = 0.0;
            for term in &delta.terms[lo..hi] {
                v += grad[usize::from(term.s)]
                    * grad[usize::from(term.t)]
                    * delta.values[term.entry as usize];
            }
            out.effect_std_err[k] = (v / nf).max(0.0).sqrt();
        }
    }
}
