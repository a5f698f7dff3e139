//! The closed-form path's delta-method plan ([`DeltaPlan`]): the nonzero entries of the
//! covariance matrix of `θ̂` by their block formulas, and per effect the terms of `gᵀ V g` that use
//! them, so that the lean fit needs no `npar × npar` matrix.
//!
//! `Cov(β_{o1 a1}, β_{o2 a2}) = ψ_{o1 o2} [(Σ̂_PP)⁻¹]_{a1 a2} / N` within a block of equations with
//! identical predictors, `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N` within a saturated
//! covariance block, zero between blocks and between `β` and `ψ` (the likelihood factorises).
//!
//! # References
//! Bollen (1989), *Structural Equations with Latent Variables*, ch. 4 (asymptotic covariance of ML
//! estimates) and ch. 8 (recursive models); lavaan 0.6-14 `lav_model_vcov` (expected information).

use crate::effects;
use crate::spec::{AnalysisSpec, ClosedFormPlan, Effect, Parameter, ParameterKind, Program};
use nalgebra::DMatrix;

/// Largest number of parameters of one effect on the [`DeltaPlan`] path (slot indices are `u8`).
pub(super) const MAX_EFFECT_PARAMETERS: usize = 256;

/// One nonzero entry of the closed-form `N · V` (`V` the covariance matrix of `θ̂`), by its block
/// formula: `Cov(β_{o1 a1}, β_{o2 a2}) = ψ_{o1 o2} [(Σ̂_PP)⁻¹]_{a1 a2} / N` and
/// `Cov(ψ_ij, ψ_kl) = (ψ_ik ψ_jl + ψ_il ψ_jk) / N`; entries between blocks are zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Covariance {
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
    /// The entry's value at `theta`, with `inverse` the blocks' `(Σ̂_PP)⁻¹`.
    #[inline(always)]
    pub(super) fn value(self, theta: &[f64], inverse: &[f64]) -> f64 {
        match self {
            Covariance::Beta { psi, c } => theta[psi] * inverse[c],
            Covariance::Psi { a, b, c, d } => theta[a] * theta[b] + theta[c] * theta[d],
        }
    }
}

/// A term `g_s g_t · weight · N V_st` of an effect's delta-method variance `gᵀ V g`, with
/// `weight · N V_st` at `DeltaPlan::values[entry]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeltaTerm {
    /// Slots in the effect's gradient (at most [`MAX_EFFECT_PARAMETERS`], so indexing a gradient
    /// buffer of that length needs no bounds check).
    pub(super) s: u8,
    pub(super) t: u8,
    pub(super) entry: u32,
}

/// Precomputed index plan of the closed-form standard errors: per parameter its variance term, per
/// effect the nonzero terms of `gᵀ V g` (pairs of its parameters in the same block), so that no
/// `npar × npar` matrix is needed.
#[derive(Debug, Clone)]
pub(super) struct DeltaPlan {
    /// Offset of each block's `k × k` `(Σ̂_PP)⁻¹` (column-major) in `inverse`.
    pub(super) offsets: Vec<usize>,
    /// The blocks' `(Σ̂_PP)⁻¹`, refilled by every fit.
    pub(super) inverse: Vec<f64>,
    /// Per parameter: `N · Var(θ̂_i)`.
    pub(super) variance: Vec<Covariance>,
    /// Per effect: its range in `terms`.
    pub(super) ranges: Vec<(usize, usize)>,
    pub(super) terms: Vec<DeltaTerm>,
    /// The distinct `(weight, N V_st)` the terms use, and their values, refilled by every fit.
    pub(super) entries: Vec<(f64, Covariance)>,
    pub(super) values: Vec<f64>,
    /// The entries the selected effects' terms use (all by default), ascending.
    pub(super) active_entries: Vec<usize>,
    /// Per effect: its value and gradient in a directly evaluable form.
    pub(super) lean: Vec<LeanEffect>,
}

/// An effect of the closed-form path, for evaluation without [`effects::effect_value`]'s dispatch (same
/// operations, so the same values).
#[derive(Debug, Clone)]
pub(super) enum LeanEffect {
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
    fn new(effect: &Effect, parameters: &[Parameter]) -> LeanEffect {
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

    /// The value of `effect` at `theta` with its gradient in `g` (one slot per parameter of the
    /// effect): the values of [`effects::effect_value`], operation for operation, without its
    /// dispatch. `a` is `(I − B)⁻¹`.
    #[inline(always)]
    pub(super) fn value_and_gradient(
        &self,
        effect: &Effect,
        parameters: &[Parameter],
        theta: &[f64],
        a: &DMatrix<f64>,
        g: &mut [f64],
        scratch: &mut Vec<f64>,
    ) -> f64 {
        match self {
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
                let p = a.nrows();
                let a = a.as_slice();
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
            LeanEffect::Other => {
                effects::effect_value(effect, parameters, theta, a, Some(g), scratch)
            }
        }
    }
}

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
    /// The plan of `spec`'s closed form; `None` without one (or when an effect has more than
    /// [`MAX_EFFECT_PARAMETERS`] parameters, or a parameter has no place in the plan).
    pub(super) fn new(spec: &AnalysisSpec) -> Option<DeltaPlan> {
        let plan = spec.closed_form.as_ref()?;
        let (offsets, size) = inverse_offsets(plan);
        let role = roles(plan, spec.parameters.len())?;
        let covariance = |x: Role<'_>, y: Role<'_>| covariance(plan, &offsets, x, y);
        let variance = role
            .iter()
            .map(|&r| covariance(r, r).expect("a parameter is in its own block"))
            .collect();
        let (ranges, terms, entries) = effect_terms(spec, &role, covariance)?;
        Some(DeltaPlan {
            inverse: vec![0.0; size],
            offsets,
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

    /// Keeps only the entries the `selected` effects' terms use up to date.
    pub(super) fn activate(&mut self, selected: &[usize]) {
        let mut used = vec![false; self.entries.len()];
        for &k in selected {
            let (lo, hi) = self.ranges[k];
            for term in &self.terms[lo..hi] {
                used[term.entry as usize] = true;
            }
        }
        self.active_entries = (0..used.len()).filter(|&i| used[i]).collect();
    }
}

/// Offsets of each block's `k × k` `(Σ̂_PP)⁻¹` in the flattened buffer, and its total length.
fn inverse_offsets(plan: &ClosedFormPlan) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(plan.blocks.len());
    let mut size = 0;
    for block in &plan.blocks {
        offsets.push(size);
        size += block.predictors.len() * block.predictors.len();
    }
    (offsets, size)
}

/// The role of each of the `q` free parameters; `None` when one has none.
fn roles(plan: &ClosedFormPlan, q: usize) -> Option<Vec<Role<'_>>> {
    let mut role: Vec<Option<Role<'_>>> = vec![None; q];
    for (b, block) in plan.blocks.iter().enumerate() {
        let k = block.predictors.len();
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
    for (group, &(idx, m)) in groups.iter().enumerate() {
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
    }
    role.into_iter().collect()
}

/// The entry `N · Cov(θ̂_x, θ̂_y)` by its block formula; `None` between blocks (zero).
fn covariance(
    plan: &ClosedFormPlan,
    offsets: &[usize],
    x: Role<'_>,
    y: Role<'_>,
) -> Option<Covariance> {
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
}

/// Per effect the nonzero terms of `gᵀ V g` (its range in the terms), the terms, and the distinct
/// weighted entries they use.
#[allow(clippy::type_complexity)]
fn effect_terms<'a>(
    spec: &AnalysisSpec,
    role: &[Role<'a>],
    covariance: impl Fn(Role<'a>, Role<'a>) -> Option<Covariance>,
) -> Option<(Vec<(usize, usize)>, Vec<DeltaTerm>, Vec<(f64, Covariance)>)> {
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
    Some((ranges, terms, entries))
}
