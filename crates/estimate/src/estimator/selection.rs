//! Which effects a fit computes ([`Estimator::select_effects`]), their values and delta-method
//! standard errors `sqrt(gᵀ V g)` on the paths that have the full `V`.
//!
//! # References
//! Sobel (1982), *Sociological Methodology* 13, 290–312 (delta method for indirect effects);
//! lavaan 0.6-14 `lav_model_vcov_se` for `:=` parameters.

use super::{Estimator, FitOutput};
use crate::effects;
use crate::spec::Program;

impl Estimator {
    /// Restricts every later fit to the effects with indices `selected` (into
    /// [`AnalysisSpec::effects`](crate::AnalysisSpec::effects); out-of-range indices are ignored):
    /// only their values and delta-method standard errors are computed, the other entries of
    /// `FitOutput::effects` and `FitOutput::effect_std_err` are NaN. The selected effects get the
    /// same numbers as without a selection. `None` restores the default, every effect. What the
    /// Monte Carlo power loop uses when it reports only some effects.
    ///
    /// With a selection that has no total or total indirect effect, the lean fits
    /// ([`Estimator::fit_moments_lean`], [`Estimator::fit_moments_lean_factored`]) of a model whose
    /// implied covariance matrix is `S` itself (saturated closed form) do not compute
    /// `FitOutput::beta`, `FitOutput::psi` and `FitOutput::inverse_i_minus_beta` (they are NaN),
    /// which nothing they compute needs; every other output is as without a selection.
    pub fn select_effects(&mut self, selected: Option<&[usize]>) {
        let n_eff = self.spec.effects.len();
        let mut wanted = vec![selected.is_none(); n_eff];
        for &k in selected.unwrap_or(&[]) {
            if k < n_eff {
                wanted[k] = true;
            }
        }
        self.selected = (0..n_eff).filter(|&k| wanted[k]).collect();
        self.skip_matrices = selected.is_some()
            && self
                .selected
                .iter()
                .all(|&k| !matches!(self.spec.effects[k].program, Program::Total { .. }));
        self.unselected = (0..n_eff).filter(|&k| !wanted[k]).collect();
        if let Some(delta) = self.delta.as_mut() {
            delta.activate(&self.selected);
        }
    }

    /// The indices of the effects the fits compute (see [`Estimator::select_effects`]).
    pub fn selected_effects(&self) -> &[usize] {
        &self.selected
    }

    /// The selected effects' values at `out.estimates` (the others NaN).
    pub(super) fn effect_values(&mut self, out: &mut FitOutput) {
        for &k in &self.unselected {
            out.effects[k] = f64::NAN;
        }
        for &k in &self.selected {
            let e = &self.spec.effects[k];
            out.effects[k] = effects::effect_value(
                e,
                &self.spec.parameters,
                &out.estimates,
                &out.inverse_i_minus_beta,
                None,
                &mut self.scratch,
            );
        }
    }

    /// The selected effects' delta-method standard errors from `out.vcov` (the others NaN).
    pub(super) fn effect_standard_errors(&mut self, out: &mut FitOutput) {
        for &k in &self.unselected {
            out.effect_std_err[k] = f64::NAN;
        }
        for &k in &self.selected {
            let e = &self.spec.effects[k];
            let m = e.parameters.len();
            let g = &mut self.effect_grad[..m];
            effects::effect_value(
                e,
                &self.spec.parameters,
                &out.estimates,
                &out.inverse_i_minus_beta,
                Some(g),
                &mut self.scratch,
            );
            out.effect_std_err[k] = effects::delta_se(&e.parameters, g, &out.vcov);
        }
    }
}
