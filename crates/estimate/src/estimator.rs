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
//! # References
//! lavaan 0.6-14: `lav_model_information_expected`, `lav_model_vcov`; Bollen (1989), *Structural
//! Equations with Latent Variables*, ch. 4 (ML fitting function) and ch. 8 (recursive models).

use crate::effects;
use crate::error::{Convergence, EvalError, Method};
use crate::linalg::{
    back_substitute, cholesky_in_place, cholesky_inverse, cholesky_inverse_small, cholesky_logdet,
    cholesky_solve, gram_of_inverse, implied_covariance, inverse_i_minus_beta, mul_add_into,
    mul_into, triangular_inverse,
};
use crate::spec::{AnalysisSpec, ParameterKind};
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

/// Which unit vector of `A` or `Σ` a derivative uses.
#[derive(Debug, Clone, Copy)]
enum Vector {
    A(usize),
    S(usize),
}

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

#[derive(Debug, Clone)]
struct BlockWork {
    spp: DMatrix<f64>,
    rhs: Vec<f64>,
}

/// One nonzero entry of the closed-form `N · V` (`V` the covariance matrix of `θ̂`), by its block
/// formula: `Cov(β_{o1 a1}, β_{o2 a2}) = ψ_{o1 o2} [(Σ̂_PP)⁻¹]_{a1 a2} / N` and
/// `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N`; entries between blocks are zero.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Covariance {
    /// `θ[psi] · inverse[c]`, with `inverse` the blocks' `(Σ̂_PP)⁻¹`, flattened.
    Beta { psi: usize, c: usize },
    /// `θ[a] θ[b] + θ[c] θ[d]`.
    Psi {
        a: usize,
        b: usize,
        c: usize,
        d: usize,
    },
}

impl Covariance {
    #[inline(always)]
    fn value(self, theta: &[f64], inverse: &[f64]) -> f64 {
        match self {
            Covariance::Beta { psi, c } => theta[psi] * inverse[c],
            Covariance::Psi { a, b, c, d } => theta[a] * theta[b] + theta[c] * theta[d],
        }
    }
}

/// A term `g_s g_t · weight · N V_st` of an effect's delta-method variance `gᵀ V g`, with
/// `weight · N V_st` at `DeltaPlan::values[entry]`.
#[derive(Debug, Clone, Copy)]
struct DeltaTerm {
    /// Slots in the effect's gradient (at most [`MAX_EFFECT_PARAMETERS`], so indexing a gradient
    /// buffer of that length needs no bounds check).
    s: u8,
    t: u8,
    entry: u32,
}

/// Precomputed index plan of the closed-form standard errors: per parameter its variance term, per
/// effect the nonzero terms of `gᵀ V g` (pairs of its parameters in the same block), so that no
/// `npar × npar` matrix is needed.
#[derive(Debug, Clone)]
struct DeltaPlan {
    /// Offset of each block's `k × k` `(Σ̂_PP)⁻¹` (column-major) in `inverse`.
    offsets: Vec<usize>,
    /// The blocks' `(Σ̂_PP)⁻¹`, refilled by every fit.
    inverse: Vec<f64>,
    /// Per parameter: `N · Var(θ̂_i)`.
    variance: Vec<Covariance>,
    /// Per effect: its range in `terms`.
    ranges: Vec<(usize, usize)>,
    terms: Vec<DeltaTerm>,
    /// The distinct `(weight, N V_st)` the terms use, and their values, refilled by every fit.
    entries: Vec<(f64, Covariance)>,
    values: Vec<f64>,
    /// The entries the selected effects' terms use (all by default), ascending.
    active_entries: Vec<usize>,
    /// Per effect: its value and gradient in a directly evaluable form.
    lean: Vec<LeanEffect>,
}

/// An effect of the closed-form path, for evaluation without [`effects::effect_value`]'s dispatch (same
/// operations, so the same values).
#[derive(Debug, Clone)]
enum LeanEffect {
    /// `θ_i θ_j` (a route of two paths).
    Product2(usize, usize),
    /// `A[to, from]` (minus `θ[direct]`); per parameter `(outcome, predictor, is the subtracted
    /// direct path)`, gradient `A[to, outcome] A[predictor, from]` (− 1).
    Total {
        to: usize,
        from: usize,
        direct: Option<usize>,
        paths: Vec<(usize, usize, bool)>,
    },
    /// Anything else: [`effects::effect_value`].
    Other,
}

impl LeanEffect {
    fn new(effect: &crate::spec::Effect, parameters: &[crate::spec::Parameter]) -> LeanEffect {
        use crate::spec::Program;
        let idx = &effect.parameters;
        match &effect.program {
            Program::Product if idx.len() == 2 => LeanEffect::Product2(idx[0], idx[1]),
            Program::Total {
                from,
                to,
                direct,
                minus_direct,
            } => {
                let mut paths = Vec::with_capacity(idx.len());
                for &pi in idx {
                    let ParameterKind::Regression { outcome, predictor } = parameters[pi].kind
                    else {
                        return LeanEffect::Other;
                    };
                    paths.push((outcome, predictor, *minus_direct && *direct == Some(pi)));
                }
                LeanEffect::Total {
                    to: *to,
                    from: *from,
                    direct: if *minus_direct { *direct } else { None },
                    paths,
                }
            }
            _ => LeanEffect::Other,
        }
    }
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
struct Prefix {
    /// Largest block predictor count.
    k_max: usize,
    /// Every pair is exact (`Σ̂ = S`: the model is saturated in this sense).
    saturated: bool,
    /// `R = U⁻¹` of the leading `k_max` block, column-major with leading dimension `k_max`.
    r: Vec<f64>,
}

impl Prefix {
    fn new(spec: &AnalysisSpec) -> Option<Prefix> {
        let plan = spec.closed_form.as_ref()?;
        let p = spec.names.len();
        // Topological order (strictly lower triangular B) is what the closed form relies on too.
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
        let mut exact = vec![false; p * p];
        let all_exact = |exact: &[bool], vars: &[usize]| {
            vars.iter()
                .all(|&a| vars.iter().all(|&b| exact[a.max(b) * p + a.min(b)]))
        };
        for i in 0..p {
            for j in 0..=i {
                let e = if spec.exogenous[i] && spec.exogenous[j] {
                    true
                } else if spec.exogenous[i] || block_of[i] == usize::MAX {
                    false
                } else {
                    let block = &plan.blocks[block_of[i]];
                    let related =
                        j == i || block_of[j] == block_of[i] || block.predictors.contains(&j);
                    related && all_exact(&exact, &block.predictors)
                };
                exact[i * p + j] = e;
            }
        }
        let mut k_max = 0;
        for block in &plan.blocks {
            let k = block.predictors.len();
            if block.predictors.iter().enumerate().any(|(a, &x)| a != x)
                || !all_exact(&exact, &block.predictors)
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

/// Largest number of parameters of one effect on the [`DeltaPlan`] path (slot indices are `u8`).
const MAX_EFFECT_PARAMETERS: usize = 256;

/// Where a free parameter sits in the closed-form plan.
#[derive(Debug, Clone, Copy)]
enum Role<'a> {
    /// Path `outcomes[o] ~ predictors[a]` of block `block`.
    Beta { block: usize, o: usize, a: usize },
    /// Entry `(i, j)` of a saturated covariance block with `m × m` parameter indices `idx`.
    Psi {
        group: usize,
        idx: &'a [usize],
        m: usize,
        i: usize,
        j: usize,
    },
}

impl DeltaPlan {
    fn new(spec: &AnalysisSpec) -> Option<DeltaPlan> {
        let plan = spec.closed_form.as_ref()?;
        let q = spec.parameters.len();
        let mut role: Vec<Option<Role<'_>>> = vec![None; q];
        let mut offsets = Vec::with_capacity(plan.blocks.len());
        let mut size = 0;
        let mut group = 0;
        for (b, block) in plan.blocks.iter().enumerate() {
            let k = block.predictors.len();
            offsets.push(size);
            size += k * k;
            for o in 0..block.outcomes.len() {
                for a in 0..k {
                    role[block.beta_index[o * k + a]] = Some(Role::Beta { block: b, o, a });
                }
            }
        }
        let mut groups: Vec<(&[usize], usize)> = plan
            .blocks
            .iter()
            .map(|block| (block.psi_index.as_slice(), block.outcomes.len()))
            .collect();
        if let Some((vars, idx)) = &plan.random_x {
            groups.push((idx.as_slice(), vars.len()));
        }
        for &(idx, m) in &groups {
            for i in 0..m {
                for j in i..m {
                    role[idx[i * m + j]] = Some(Role::Psi {
                        group,
                        idx,
                        m,
                        i,
                        j,
                    });
                }
            }
            group += 1;
        }
        let role: Vec<Role<'_>> = role.into_iter().collect::<Option<_>>()?;
        let covariance = |x: Role<'_>, y: Role<'_>| -> Option<Covariance> {
            match (x, y) {
                (
                    Role::Beta { block, o, a },
                    Role::Beta {
                        block: block2,
                        o: o2,
                        a: a2,
                    },
                ) if block == block2 => {
                    let bl = &plan.blocks[block];
                    let (m, k) = (bl.outcomes.len(), bl.predictors.len());
                    Some(Covariance::Beta {
                        psi: bl.psi_index[o * m + o2],
                        c: offsets[block] + a2 * k + a,
                    })
                }
                (
                    Role::Psi {
                        group,
                        idx,
                        m,
                        i,
                        j,
                    },
                    Role::Psi {
                        group: group2,
                        i: k,
                        j: l,
                        ..
                    },
                ) if group == group2 => {
                    let psi = |r: usize, c: usize| idx[r * m + c];
                    Some(Covariance::Psi {
                        a: psi(i, k),
                        b: psi(j, l),
                        c: psi(i, l),
                        d: psi(j, k),
                    })
                }
                _ => None,
            }
        };
        let variance = role
            .iter()
            .map(|&r| covariance(r, r).expect("a parameter is in its own block"))
            .collect();
        let mut ranges = Vec::with_capacity(spec.effects.len());
        let mut terms = Vec::new();
        let mut entries: Vec<(f64, Covariance)> = Vec::new();
        for e in &spec.effects {
            let start = terms.len();
            let idx = &e.parameters;
            for s in 0..idx.len() {
                for t in s..idx.len() {
                    // V is symmetric: (s, t) and (t, s) count once each.
                    if let Some(cov) = covariance(role[idx[s]], role[idx[t]]) {
                        let key = (if s == t { 1.0 } else { 2.0 }, cov);
                        let entry = match entries.iter().position(|x| *x == key) {
                            Some(i) => i,
                            None => {
                                entries.push(key);
                                entries.len() - 1
                            }
                        };
                        terms.push(DeltaTerm {
                            s: u8::try_from(s).ok()?,
                            t: u8::try_from(t).ok()?,
                            entry: u32::try_from(entry).ok()?,
                        });
                    }
                }
            }
            ranges.push((start, terms.len()));
        }
        Some(DeltaPlan {
            offsets,
            inverse: vec![0.0; size],
            variance,
            ranges,
            terms,
            values: vec![0.0; entries.len()],
            active_entries: (0..entries.len()).collect(),
            entries,
            lean: spec
                .effects
                .iter()
                .map(|e| LeanEffect::new(e, &spec.parameters))
                .collect(),
        })
    }
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
        let derivs = spec
            .parameters
            .iter()
            .map(|par| match par.kind {
                ParameterKind::Regression { outcome, predictor } => {
                    (Vector::A(outcome), Vector::S(predictor), 1.0)
                }
                ParameterKind::Covariance { a, b } if a == b => (Vector::A(a), Vector::A(a), 0.5),
                ParameterKind::Covariance { a, b } => (Vector::A(a), Vector::A(b), 1.0),
            })
            .collect();
        let mut spec = spec.clone();
        if config.strategy == Strategy::FisherScoring {
            spec.closed_form = None;
        }
        let blocks = spec
            .closed_form
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
            .unwrap_or_default();
        let max_m = spec
            .effects
            .iter()
            .map(|e| e.parameters.len())
            .max()
            .unwrap_or(0);
        let max_scratch = spec
            .effects
            .iter()
            .map(effects::scratch_len)
            .max()
            .unwrap_or(0);
        let zp = || DMatrix::<f64>::zeros(p, p);
        let equations = (0..p)
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
            .collect();
        let delta = DeltaPlan::new(&spec);
        let n_effects = spec.effects.len();
        let prefix = delta.as_ref().and_then(|_| Prefix::new(&spec));
        Estimator {
            spec,
            config,
            p,
            q,
            derivs,
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
            blocks,
            equations,
            effect_grad: vec![0.0; max_m],
            delta_grad: Box::new([0.0; MAX_EFFECT_PARAMETERS]),
            scratch: Vec::with_capacity(max_scratch),
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

    /// Restricts every later fit to the effects with indices `selected` (into
    /// [`AnalysisSpec::effects`]; out-of-range indices are ignored): only their values and
    /// delta-method standard errors are computed, the other entries of `FitOutput::effects` and
    /// `FitOutput::effect_std_err` are NaN. The selected effects get the same numbers as without a
    /// selection. `None` restores the default, every effect. What the Monte Carlo power loop uses
    /// when it reports only some effects.
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
            && self.selected.iter().all(|&k| {
                !matches!(
                    self.spec.effects[k].program,
                    crate::spec::Program::Total { .. }
                )
            });
        self.unselected = (0..n_eff).filter(|&k| !wanted[k]).collect();
        if let Some(delta) = self.delta.as_mut() {
            let mut used = vec![false; delta.entries.len()];
            for &k in &self.selected {
                let (lo, hi) = delta.ranges[k];
                for term in &delta.terms[lo..hi] {
                    used[term.entry as usize] = true;
                }
            }
            delta.active_entries = (0..used.len()).filter(|&i| used[i]).collect();
        }
    }

    /// The indices of the effects the fits compute (see [`Estimator::select_effects`]).
    pub fn selected_effects(&self) -> &[usize] {
        &self.selected
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
            convergence: Convergence {
                method: Method::ClosedForm,
                iterations: 0,
                gradient_norm: 0.0,
            },
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
        let p = self.p;
        if self.prefix.is_none() || self.delta.is_none() || factor.len() != p * p {
            return self.fit_moments_lean(s, n, out);
        }
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
    /// entry where the standard errors and the effects' delta method need them ([`DeltaPlan`]).
    /// `lean`: the matrices may be skipped (see [`Estimator::select_effects`]).
    fn fit_closed_form(
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
        out.convergence = Convergence {
            method: Method::ClosedForm,
            iterations: 0,
            gradient_norm: 0.0,
        };
        out.estimates.copy_from_slice(&self.theta);
        let plan = self.spec.closed_form.as_ref().expect("closed-form plan");
        let delta = self.delta.as_mut().expect("delta plan");
        if let Some(prefix) = self.prefix.as_mut() {
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
        } else {
            // Borrow-splitting: `fill_matrices` needs `&mut self`.
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
        }
        let nf = n as f64;
        let theta = &out.estimates;
        for (se, cov) in out.std_err.iter_mut().zip(&delta.variance) {
            *se = (cov.value(theta, &delta.inverse) / nf).max(0.0).sqrt();
        }
        // Doubling is exact, so `g_s g_t (2 V_st)` rounds as `2 g_s g_t V_st`.
        for &i in &delta.active_entries {
            let (weight, cov) = delta.entries[i];
            delta.values[i] = weight * cov.value(theta, &delta.inverse);
        }
        let p = self.p;
        let a = out.inverse_i_minus_beta.as_slice();
        for &k in &self.unselected {
            out.effects[k] = f64::NAN;
            out.effect_std_err[k] = f64::NAN;
        }
        for &k in &self.selected {
            let (e, lean) = (&self.spec.effects[k], &delta.lean[k]);
            let grad = &mut *self.delta_grad;
            let g = &mut grad[..e.parameters.len()];
            // The values of `effects::effect_value`, operation for operation, without its dispatch.
            out.effects[k] = match lean {
                LeanEffect::Product2(i, j) => {
                    let (x, y) = (theta[*i], theta[*j]);
                    g[0] = y;
                    g[1] = x;
                    x * y
                }
                LeanEffect::Total {
                    to,
                    from,
                    direct,
                    paths,
                } => {
                    let mut value = a[from * p + to];
                    if let Some(d) = direct {
                        value -= theta[*d];
                    }
                    for (gs, &(o, x, is_direct)) in g.iter_mut().zip(paths) {
                        let mut d = a[o * p + to] * a[from * p + x];
                        if is_direct {
                            d -= 1.0;
                        }
                        *gs = d;
                    }
                    value
                }
                LeanEffect::Other => effects::effect_value(
                    e,
                    &self.spec.parameters,
                    theta,
                    &out.inverse_i_minus_beta,
                    Some(g),
                    &mut self.scratch,
                ),
            };
            let (lo, hi) = delta.ranges[k];
            let mut v = 0.0;
            for term in &delta.terms[lo..hi] {
                v += grad[usize::from(term.s)]
                    * grad[usize::from(term.t)]
                    * delta.values[term.entry as usize];
            }
            out.effect_std_err[k] = (v / nf).max(0.0).sqrt();
        }
        Ok(())
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
            out.convergence = Convergence {
                method: Method::ClosedForm,
                iterations: 0,
                gradient_norm: 0.0,
            };
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
        let scale = (0..p).map(|i| s[(i, i)].abs()).fold(0.0, f64::max);
        for i in 0..p {
            if s[(i, i)].is_nan() || s[(i, i)] <= 1e-12 * scale.max(f64::MIN_POSITIVE) {
                return Err(EvalError::ConstantVariable {
                    name: self.spec.names[i].clone(),
                    variance: s[(i, i)],
                });
            }
        }
        Ok(())
    }

    /// [`Self::closed_form`] on the shared factor of `S` ([`Prefix`]; `self.s_chol` from
    /// [`Self::check_input`], which has already rejected a singular `S`): the same estimates,
    /// operation for operation.
    fn closed_form_prefix(&mut self, s: &DMatrix<f64>) {
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
    fn closed_form(&mut self, s: &DMatrix<f64>) -> Result<(), EvalError> {
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
}

impl Estimator {
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

    fn effect_values(&mut self, out: &mut FitOutput) {
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

    fn effect_standard_errors(&mut self, out: &mut FitOutput) {
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

    /// `V = (N · I1(θ̂))⁻¹` and standard errors; block formulas on the closed-form path.
    fn standard_errors(&mut self, out: &mut FitOutput) -> Result<(), EvalError> {
        let n = out.n as f64;
        if let Some(plan) = &self.spec.closed_form {
            // Var(β) = Ψ_block ⊗ (N Σ̂_PP)⁻¹; Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N;
            // blocks and (β, ψ) are uncorrelated (the likelihood factorises).
            out.vcov.as_mut_slice().fill(0.0);
            if let Some((vars, idx)) = &plan.random_x {
                covariance_block_vcov(&mut out.vcov, &out.estimates, idx, vars.len(), n);
            }
            for (b, (block, work)) in plan.blocks.iter().zip(self.blocks.iter_mut()).enumerate() {
                let k = block.predictors.len();
                let m = block.outcomes.len();
                if self.delta.is_none() {
                    for (a, &x) in block.predictors.iter().enumerate() {
                        for (c, &z) in block.predictors.iter().enumerate() {
                            work.spp[(a, c)] = out.sigma[(x, z)];
                        }
                    }
                }
                let inverse = match &self.delta {
                    // (Σ̂_PP)⁻¹ as the lean path computed it for this fit (same values).
                    Some(delta) => &delta.inverse[delta.offsets[b]..delta.offsets[b] + k * k],
                    None => {
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
                                out.vcov[(
                                    block.beta_index[o1 * k + a],
                                    block.beta_index[o2 * k + b],
                                )] = psi * inverse[b * k + a] / n;
                            }
                        }
                    }
                }
                covariance_block_vcov(&mut out.vcov, &out.estimates, &block.psi_index, m, n);
            }
        } else {
            self.information(&out.psi, &out.sigma, &out.inverse_i_minus_beta)?;
            let q = self.q;
            self.info_chol.copy_from(&self.info);
            if cholesky_in_place(&mut self.info_chol, q).is_some() {
                return Err(EvalError::NotIdentified);
            }
            cholesky_inverse(&self.info_chol, q, &mut out.vcov);
            out.vcov /= n;
        }
        for i in 0..self.q {
            out.std_err[i] = out.vcov[(i, i)].max(0.0).sqrt();
        }
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

    fn fisher_scoring(
        &mut self,
        s: &DMatrix<f64>,
        out: &mut FitOutput,
    ) -> Result<Convergence, EvalError> {
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
        let start = match warm {
            Some(f) => Some(f),
            None => self.discrepancy(&theta, s, out),
        };
        let mut f = match start {
            Some(f) => f,
            None => {
                // Start from uncorrelated residuals.
                for (k, q) in self.spec.parameters.iter().enumerate() {
                    if let ParameterKind::Covariance { a, b } = q.kind {
                        if a != b {
                            theta[k] = 0.0;
                        }
                    }
                }
                match self.discrepancy(&theta, s, out) {
                    Some(f) => f,
                    None => {
                        self.theta = theta;
                        return Err(EvalError::NotConverged {
                            diagnostics: Convergence {
                                method: Method::FisherScoring,
                                iterations: 0,
                                gradient_norm: f64::INFINITY,
                            },
                        });
                    }
                }
            }
        };
        let q = self.q;
        let mut iterations = 0;
        let mut gnorm = self.gradient(s, out);
        while gnorm > self.config.gradient_tolerance && iterations < self.config.max_iterations {
            iterations += 1;
            self.information_from_out(out)?;
            self.info_chol.copy_from(&self.info);
            if cholesky_in_place(&mut self.info_chol, q).is_some() {
                self.theta = theta;
                return Err(EvalError::NotIdentified);
            }
            // Δ = −(2 I1)⁻¹ ∇F
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
                    if ft <= f + 1e-14 * f.abs().max(1.0) {
                        f = ft;
                        accepted = true;
                        break;
                    }
                }
                t *= 0.5;
            }
            self.step = step;
            if !accepted {
                // Restore the state at theta and stop: no descent possible.
                self.trial = trial;
                self.discrepancy(&theta, s, out);
                gnorm = self.gradient(s, out);
                break;
            }
            std::mem::swap(&mut theta, &mut trial);
            self.trial = trial;
            gnorm = self.gradient(s, out);
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

    fn information_from_out(&mut self, out: &FitOutput) -> Result<(), EvalError> {
        // Borrow-splitting: `information` reads out's matrices only.
        let (psi, sigma, a) = (&out.psi, &out.sigma, &out.inverse_i_minus_beta);
        self.information(psi, sigma, a)
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

/// Random exogenous variables with a saturated covariance block: their ML estimates are the sample
/// (co)variances.
fn fill_random_x(plan: &crate::spec::ClosedFormPlan, s: &DMatrix<f64>, theta: &mut [f64]) {
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
fn fill_residual_covariances(block: &crate::spec::Block, s: &DMatrix<f64>, theta: &mut [f64]) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use balans_model::Model;

    /// Relative agreement of the lean closed-form standard errors with the full covariance matrix.
    const REL_TOL: f64 = 1e-12;

    fn seed_moments() -> (AnalysisSpec, DMatrix<f64>) {
        let model = Model::builtin("seed").unwrap();
        let spec = AnalysisSpec::from_model(&model).unwrap();
        let sigma = model.population().unwrap().implied_covariance().clone();
        // A sample-like perturbation of Σ (symmetric, still positive definite).
        let p = sigma.nrows();
        let s = DMatrix::from_fn(p, p, |i, j| {
            sigma[(i, j)] * (1.0 + 0.03 * (((i * 7 + j * 7 + i * j) % 5) as f64 - 2.0))
        });
        (spec, s)
    }

    /// The shared-factor path applies to the (saturated) seed model and agrees with the per-block
    /// path: identical estimates and effects, standard errors within rounding.
    #[test]
    fn prefix_path_matches_per_block_path() {
        let (spec, s) = seed_moments();
        let mut fast = Estimator::new(&spec);
        let prefix = fast
            .prefix
            .as_ref()
            .expect("seed model takes the prefix path");
        assert!(prefix.saturated);
        let mut slow = fast.clone();
        slow.prefix = None;
        let (mut a, mut b) = (fast.new_output(), slow.new_output());
        fast.fit_moments_lean(&s, 278, &mut a).unwrap();
        slow.fit_moments_lean(&s, 278, &mut b).unwrap();
        for (x, y) in a.estimates.iter().zip(&b.estimates) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        for (x, y) in a.effects.iter().zip(&b.effects) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        for (x, y) in a
            .std_err
            .iter()
            .zip(&b.std_err)
            .chain(a.effect_std_err.iter().zip(&b.effect_std_err))
        {
            assert!((x - y).abs() <= REL_TOL * y.abs(), "{x:e} vs {y:e}");
        }
        // A singular S is still an error, not NaN.
        let mut singular = s.clone();
        for i in 0..singular.nrows() {
            singular[(8, i)] = s[(7, i)];
            singular[(i, 8)] = s[(i, 7)];
        }
        singular[(8, 8)] = s[(7, 7)];
        assert!(fast.fit_moments_lean(&singular, 278, &mut a).is_err());
    }

    /// A selection of effects computes exactly those (bit for bit as without a selection, on the
    /// lean, full and Fisher-scoring paths), NaN for the others; `None` restores every effect.
    #[test]
    fn selected_effects_match_full_computation() {
        let (spec, s) = seed_moments();
        let n_eff = spec.effects.len();
        // Every third effect (totals among them), and the routes only (no (I − B)⁻¹ needed).
        let every_third: Vec<usize> = (0..n_eff)
            .filter(|k| k % 3 == 1)
            .chain([n_eff + 5])
            .collect();
        let routes: Vec<usize> = (0..n_eff)
            .filter(|&k| {
                matches!(
                    spec.effects[k].kind,
                    crate::spec::EffectKind::SpecificIndirect { .. }
                )
            })
            .chain([n_eff + 5])
            .collect();
        assert!(routes.len() > 2 && routes.len() < n_eff);
        for (chosen, config) in [every_third.clone(), routes.clone()]
            .into_iter()
            .flat_map(|c| {
                [
                    EstimatorConfig::default(),
                    EstimatorConfig {
                        strategy: Strategy::FisherScoring,
                        ..EstimatorConfig::default()
                    },
                ]
                .map(|config| (c.clone(), config))
            })
        {
            let mut all = Estimator::with_config(&spec, config);
            let mut some = all.clone();
            some.select_effects(Some(&chosen));
            assert_eq!(some.selected_effects().len(), chosen.len() - 1);
            type Fit =
                fn(&mut Estimator, &DMatrix<f64>, usize, &mut FitOutput) -> Result<(), EvalError>;
            let fits: [Fit; 3] = [
                Estimator::fit_moments_lean,
                Estimator::fit_moments,
                Estimator::fit_point,
            ];
            for fit in fits {
                let (mut a, mut b) = (all.new_output(), some.new_output());
                fit(&mut all, &s, 278, &mut a).unwrap();
                fit(&mut some, &s, 278, &mut b).unwrap();
                assert_eq!(a.estimates, b.estimates);
                assert_eq!(a.std_err, b.std_err);
                assert_eq!(a.sigma, b.sigma);
                for k in 0..n_eff {
                    if chosen.contains(&k) {
                        assert_eq!(a.effects[k].to_bits(), b.effects[k].to_bits());
                        assert_eq!(a.effect_std_err[k].to_bits(), b.effect_std_err[k].to_bits());
                    } else {
                        assert!(b.effects[k].is_nan());
                    }
                }
            }
            some.select_effects(None);
            let (mut a, mut b) = (all.new_output(), some.new_output());
            all.fit_moments_lean(&s, 278, &mut a).unwrap();
            some.fit_moments_lean(&s, 278, &mut b).unwrap();
            assert_eq!(a, b);
        }
    }

    /// The lean fit gives the same numbers as the full one, and its effect SEs equal
    /// `sqrt(gᵀ V g)` with the full `V`.
    #[test]
    fn lean_fit_matches_full_fit_and_delta_method_on_vcov() {
        let (spec, s) = seed_moments();
        assert!(spec.has_closed_form());
        let mut est = Estimator::new(&spec);
        let mut full = est.new_output();
        let mut lean = est.new_output();
        est.fit_moments(&s, 278, &mut full).unwrap();
        est.fit_moments_lean(&s, 278, &mut lean).unwrap();
        assert_eq!(full.estimates, lean.estimates);
        assert_eq!(full.std_err, lean.std_err);
        assert_eq!(full.effects, lean.effects);
        assert_eq!(full.effect_std_err, lean.effect_std_err);
        let mut scratch = Vec::new();
        for (k, e) in spec.effects.iter().enumerate() {
            let mut g = vec![0.0; e.parameters.len()];
            let value = effects::effect_value(
                e,
                &spec.parameters,
                &full.estimates,
                &full.inverse_i_minus_beta,
                Some(&mut g),
                &mut scratch,
            );
            let se = effects::delta_se(&e.parameters, &g, &full.vcov);
            assert!(
                value.to_bits() == full.effects[k].to_bits(),
                "{}: {value} vs {}",
                e.name,
                full.effects[k]
            );
            let got = full.effect_std_err[k];
            assert!(
                (got - se).abs() <= REL_TOL * se.abs(),
                "{}: lean SE {got:e}, sqrt(g'Vg) {se:e}",
                e.name
            );
        }
        for i in 0..spec.parameters.len() {
            let se = full.vcov[(i, i)].sqrt();
            assert!(
                (full.std_err[i] - se).abs() <= REL_TOL * se,
                "parameter {i}"
            );
        }
    }
}
