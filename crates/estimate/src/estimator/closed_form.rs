//! The closed-form ML estimates: when the equations fall into blocks with identical predictors
//! (seemingly unrelated regressions with a saturated residual covariance per block), ML is least
//! squares per block and the residual (co)variances are the regressions' (N denominator); random
//! exogenous variables with a saturated block take their sample (co)variances. [`Prefix`] is the
//! shared-factor variant when every block's predictors lead the variable order.
//!
//! # References
//! Zellner (1962), *J. Am. Stat. Assoc.* 57, 348–368 (SUR = OLS with identical regressors);
//! Bollen (1989), *Structural Equations with Latent Variables*, ch. 4 and ch. 8.

use super::{Estimator, FitOutput};
use crate::error::EvalError;
use crate::linalg::{back_substitute, cholesky_in_place, cholesky_inverse_small, cholesky_solve};
use crate::spec::{AnalysisSpec, Block, ClosedFormPlan};
use nalgebra::DMatrix;

/// Per-block buffers of the closed form: `S_PP` (or its factor) and a right-hand side.
#[derive(Debug, Clone)]
pub(super) struct BlockWork {
    pub(super) spp: DMatrix<f64>,
    pub(super) rhs: Vec<f64>,
}

/// The buffers of every block of `spec`'s closed form (none without one).
pub(super) fn block_work(spec: &AnalysisSpec) -> Vec<BlockWork> {
    spec.closed_form
        .as_ref()
        .map(|plan| {
            plan.blocks
                .iter()
                .map(|b| {
                    let k = b.predictors.len();
                    BlockWork {
                        spp: DMatrix::zeros(k, k),
                        rhs: vec![0.0; k],
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The closed-form path when every block's predictors are the first `k` variables (`0..k`) and
/// its fitted `Σ̂_PP` equals `S_PP` structurally: then the leading `k × k` block of the Cholesky
/// factor `U` of `S` (computed anyway to check that `S` is positive definite) is the factor of
/// `S_PP` (the factorisation of a leading block does not depend on later rows), the normal
/// equations `S_PP β = S_Py` reduce to `U_PP β = U_Py` (the forward substitution with `U_PPᵀ`
/// reproduces column `y` of `U` operation for operation), and `(Σ̂_PP)⁻¹ = (S_PP)⁻¹ = R Rᵀ` with
/// `R = U⁻¹` of the leading block, shared by all blocks.
///
/// When `Σ̂_ij = S_ij` exactly (for the ML estimates, whatever `S`), by the block structure of the
/// closed form (variables in topological order, `i ≥ j`, `P` the predictors of `i`'s block):
/// * both exogenous: `Ψ_xx` is `S_xx` (fixed `x`, or a saturated random-`x` block), `A_xx = I`;
/// * `i` endogenous and `j = i`, `j` in `i`'s block, or `j ∈ P`: when `Σ̂_PP = S_PP`, because
///   `Σ̂_ij = β_iᵀ Σ̂_PP β_j + ψ_ij` (same block) or `β_iᵀ Σ̂_Pj` (`j ∈ P`: no `Ψ` term, as a block
///   mate of `i` cannot be an ancestor of its own predictor), and the least-squares normal
///   equations `S_PP β_i = S_Pi`, `ψ_ij = S_ij − β_iᵀ S_Pj` turn both into `S_ij`;
/// * otherwise (`Σ̂_ij = β_iᵀ Σ̂_Pj` with `S_ij` not fitted, or `i` exogenous after an endogenous
///   `j`) not in general: treated as not exact.
#[derive(Debug, Clone)]
pub(super) struct Prefix {
    /// Largest block predictor count.
    pub(super) k_max: usize,
    /// Every pair is exact (`Σ̂ = S`: the model is saturated in this sense).
    pub(super) saturated: bool,
    /// `R = U⁻¹` of the leading `k_max` block, column-major with leading dimension `k_max`.
    pub(super) r: Vec<f64>,
}

impl Prefix {
    /// The plan when it applies to `spec` (see [`Prefix`]).
    pub(super) fn new(spec: &AnalysisSpec) -> Option<Prefix> {
        let plan = spec.closed_form.as_ref()?;
        let p = spec.names.len();
        let block_of = block_of_outcomes(plan, p)?;
        let exact = exact_pairs(spec, plan, &block_of);
        let mut k_max = 0;
        for block in &plan.blocks {
            let k = block.predictors.len();
            if block.predictors.iter().enumerate().any(|(a, &x)| a != x)
                || !all_exact(&exact, p, &block.predictors)
            {
                return None;
            }
            k_max = k_max.max(k);
        }
        let saturated = (0..p).all(|i| (0..=i).all(|j| exact[i * p + j]));
        Some(Prefix {
            k_max,
            saturated,
            r: vec![0.0; k_max * k_max],
        })
    }
}

/// Per variable the block it is an outcome of (`usize::MAX` for none); `None` when a block has a
/// predictor at or after its first outcome (not in topological order).
fn block_of_outcomes(plan: &ClosedFormPlan, p: usize) -> Option<Vec<usize>> {
    let mut block_of = vec![usize::MAX; p];
    for (b, block) in plan.blocks.iter().enumerate() {
        for &y in &block.outcomes {
            block_of[y] = b;
        }
        if block
            .predictors
            .iter()
            .any(|&x| x >= block.outcomes[0].min(p))
        {
            return None;
        }
    }
    Some(block_of)
}

/// Whether every pair of `vars` is exact (`exact` is `p × p`, lower triangle row-major).
fn all_exact(exact: &[bool], p: usize, vars: &[usize]) -> bool {
    vars.iter()
        .all(|&a| vars.iter().all(|&b| exact[a.max(b) * p + a.min(b)]))
}

/// Per pair `i ≥ j` (at `i * p + j`) whether `Σ̂_ij = S_ij` exactly, by the rules of [`Prefix`].
fn exact_pairs(spec: &AnalysisSpec, plan: &ClosedFormPlan, block_of: &[usize]) -> Vec<bool> {
    let p = block_of.len();
    let mut exact = vec![false; p * p];
    for i in 0..p {
        for j in 0..=i {
            let e = if spec.exogenous[i] && spec.exogenous[j] {
                true
            } else if spec.exogenous[i] || block_of[i] == usize::MAX {
                false
            } else {
                let block = &plan.blocks[block_of[i]];
                let related = j == i || block_of[j] == block_of[i] || block.predictors.contains(&j);
                related && all_exact(&exact, p, &block.predictors)
            };
            exact[i * p + j] = e;
        }
    }
    exact
}

impl Estimator {
    /// [`Self::closed_form`] on the shared factor of `S` ([`Prefix`]; `self.s_chol` from
    /// [`Self::check_input`], which has already rejected a singular `S`): the same estimates,
    /// operation for operation.
    pub(super) fn closed_form_prefix(&mut self, s: &DMatrix<f64>) {
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        fill_random_x(plan, s, &mut self.theta);
        let ld = self.p;
        let u = self.s_chol.as_slice();
        for (block, work) in plan.blocks.iter().zip(self.blocks.iter_mut()) {
            let k = block.predictors.len();
            for (o, &y) in block.outcomes.iter().enumerate() {
                // U_PPᵀ z = S_Py gives z = U[..k, y]; then U_PP β = z.
                work.rhs[..k].copy_from_slice(&u[y * ld..y * ld + k]);
                back_substitute(&self.s_chol, k, &mut work.rhs);
                for a in 0..k {
                    self.theta[block.beta_index[o * k + a]] = work.rhs[a];
                }
            }
            fill_residual_covariances(block, s, &mut self.theta);
        }
    }

    /// Least squares per block of equations with identical predictors (exactly ML, see
    /// [`crate::spec`]).
    pub(super) fn closed_form(&mut self, s: &DMatrix<f64>) -> Result<(), EvalError> {
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        fill_random_x(plan, s, &mut self.theta);
        for (block, work) in plan.blocks.iter().zip(self.blocks.iter_mut()) {
            let k = block.predictors.len();
            for (a, &x) in block.predictors.iter().enumerate() {
                for (b, &z) in block.predictors.iter().enumerate() {
                    work.spp[(a, b)] = s[(x, z)];
                }
            }
            if let Some(j) = cholesky_in_place(&mut work.spp, k) {
                return Err(EvalError::SingularCovariance {
                    names: block.predictors[..=j]
                        .iter()
                        .map(|&i| self.spec.names[i].as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            for (o, &y) in block.outcomes.iter().enumerate() {
                for (a, &x) in block.predictors.iter().enumerate() {
                    work.rhs[a] = s[(x, y)];
                }
                cholesky_solve(&work.spp, k, &mut work.rhs);
                for a in 0..k {
                    self.theta[block.beta_index[o * k + a]] = work.rhs[a];
                }
            }
            fill_residual_covariances(block, s, &mut self.theta);
        }
        Ok(())
    }

    /// The full `V` of the closed form into `out.vcov`: `Var(β) = Ψ_block ⊗ (N Σ̂_PP)⁻¹`,
    /// `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N`; blocks and `(β, ψ)` are uncorrelated (the
    /// likelihood factorises). Uses the lean path's `(Σ̂_PP)⁻¹` when it computed one for this fit.
    pub(super) fn closed_form_vcov(&mut self, out: &mut FitOutput) -> Result<(), EvalError> {
        let n = out.n as f64;
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        out.vcov.as_mut_slice().fill(0.0);
        if let Some((vars, idx)) = &plan.random_x {
            covariance_block_vcov(&mut out.vcov, &out.estimates, idx, vars.len(), n);
        }
        for (b, (block, work)) in plan.blocks.iter().zip(self.blocks.iter_mut()).enumerate() {
            let k = block.predictors.len();
            let m = block.outcomes.len();
            let inverse = match &self.delta {
                // (Σ̂_PP)⁻¹ as the lean path computed it for this fit (same values).
                Some(delta) => &delta.inverse[delta.offsets[b]..delta.offsets[b] + k * k],
                None => {
                    for (a, &x) in block.predictors.iter().enumerate() {
                        for (c, &z) in block.predictors.iter().enumerate() {
                            work.spp[(a, c)] = out.sigma[(x, z)];
                        }
                    }
                    if cholesky_in_place(&mut work.spp, k).is_some() {
                        return Err(EvalError::NotIdentified);
                    }
                    // k × k column-major in `tmp`.
                    cholesky_inverse_small(
                        &work.spp,
                        k,
                        self.c.as_mut_slice(),
                        self.tmp.as_mut_slice(),
                    );
                    &self.tmp.as_slice()[..k * k]
                }
            };
            for o1 in 0..m {
                for o2 in 0..m {
                    let psi = out.estimates[block.psi_index[o1 * m + o2]];
                    for a in 0..k {
                        for b in 0..k {
                            out.vcov
                                [(block.beta_index[o1 * k + a], block.beta_index[o2 * k + b])] =
                                psi * inverse[b * k + a] / n;
                        }
                    }
                }
            }
            covariance_block_vcov(&mut out.vcov, &out.estimates, &block.psi_index, m, n);
        }
        Ok(())
    }
}

/// Normal-theory covariance of the estimates of a saturated covariance block:
/// `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N`.
fn covariance_block_vcov(vcov: &mut DMatrix<f64>, theta: &[f64], idx: &[usize], m: usize, n: f64) {
    let psi = |i: usize, j: usize| theta[idx[i * m + j]];
    for i in 0..m {
        for j in i..m {
            for k in 0..m {
                for l in k..m {
                    let v = (psi(i, k) * psi(j, l) + psi(i, l) * psi(j, k)) / n;
                    vcov[(idx[i * m + j], idx[k * m + l])] = v;
                }
            }
        }
    }
}

/// Random exogenous variables with a saturated covariance block: their ML estimates are the sample
/// (co)variances.
fn fill_random_x(plan: &ClosedFormPlan, s: &DMatrix<f64>, theta: &mut [f64]) {
    if let Some((vars, idx)) = &plan.random_x {
        let m = vars.len();
        for a in 0..m {
            for b in 0..m {
                theta[idx[a * m + b]] = s[(vars[a], vars[b])];
            }
        }
    }
}

/// Residual (co)variances of a block once its coefficients are in `theta`:
/// `ψ_{y1 y2} = s_{y1 y2} − Σ_a β_{y1 a} s_{a y2}` (N denominator, as ML).
fn fill_residual_covariances(block: &Block, s: &DMatrix<f64>, theta: &mut [f64]) {
    let k = block.predictors.len();
    let m = block.outcomes.len();
    for o1 in 0..m {
        for o2 in o1..m {
            let (y1, y2) = (block.outcomes[o1], block.outcomes[o2]);
            let mut v = s[(y1, y2)];
            for (a, &x) in block.predictors.iter().enumerate() {
                v -= theta[block.beta_index[o1 * k + a]] * s[(x, y2)];
            }
            theta[block.psi_index[o1 * m + o2]] = v;
        }
    }
}
