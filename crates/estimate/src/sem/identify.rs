//! Identification checks made before fitting: every latent variable has items and a scale, a
//! single-item latent variable has a fixed residual variance, and the t-rule holds
//! (`npar ≤` number of sample moments).
//!
//! These are necessary conditions; a model that passes them can still be empirically
//! under-identified, which the fitter reports as a singular information matrix.
//!
//! # References
//! Bollen (1989), *Structural Equations with Latent Variables*, ch. 7 (t-rule, scaling).

use super::spec::{SemKind, SemSpec};
use crate::EvalError;
use balans_model::Model;

/// Checks the necessary identification conditions of `spec` (built from `model`).
///
/// # Errors
/// [`EvalError::Unidentified`] naming the latent variable or the counts, with the fix.
pub(crate) fn check(spec: &SemSpec, model: &Model) -> Result<(), EvalError> {
    for lv in model.latent_variables() {
        let f = &lv.name;
        if lv.indicators.is_empty() {
            return Err(EvalError::Unidentified {
                reason: format!(
                    "latent variable '{f}' has no items; write '{f} =~ item1 + item2 + item3'"
                ),
            });
        }
        let scaled = spec.options.std_lv
            || spec.rows.iter().any(|q| {
                !q.free
                    && matches!(q.kind, SemKind::Loading { latent, .. } if latent == lv.variable)
            });
        if !scaled {
            return Err(EvalError::Unidentified {
                reason: format!(
                    "latent variable '{f}' has no scale; fix a loading or use --std-lv"
                ),
            });
        }
        if let [item] = &lv.indicators[..] {
            let node = spec.nodes.iter().position(|n| *n == item.name);
            let fixed = spec.rows.iter().any(|q| {
                !q.free
                    && matches!(q.kind, SemKind::Covariance { a, b } if Some(a) == node && a == b)
            });
            if !fixed {
                let x = &item.name;
                return Err(EvalError::Unidentified {
                    reason: format!(
                        "latent variable '{f}' has a single item '{x}' with a free residual variance; \
                         add items or fix it (e.g. '{x} ~~ 0*{x}' for a perfectly reliable item)"
                    ),
                });
            }
        }
    }
    let (npar, moments) = (spec.npar(), spec.n_moments());
    if npar > moments {
        return Err(EvalError::Unidentified {
            reason: format!(
                "{npar} free parameters but only {moments} sample moments (t-rule, df = {}); \
                 add items or remove '~~' statements",
                moments as i64 - npar as i64
            ),
        });
    }
    Ok(())
}
