//! Multi-group path analysis, as lavaan's `sem(model, data, group = "g")`: one covariance matrix
//! per group, every parameter free in every group, or the regressions held equal across groups
//! (`group.equal = "regressions"`); the likelihood-ratio test between the two (`lavTestLRT`) and
//! per-path Wald tests of equality across groups (`lavTestWald`).
//!
//! The fit function is lavaan's multi-group ML discrepancy `F = Σ_g (N_g/N) F_ML(S_g, Σ_g(θ))`
//! with `Σ_g = (I − B)⁻¹ Ψ_g (I − B)⁻ᵀ`, `B` shared (equal regressions) or per group, `Ψ_g` per
//! group with its fixed-`x` block at group g's sample values (`fixed.x = TRUE`); `χ² = Σ_g N_g F_g`.
//! The mean structure lavaan adds for groups is saturated (free intercepts per group), so it
//! changes no estimate, standard error or χ² of the covariance structure and is left out.
//!
//! Estimation: start from the single-group ML fit of each group ([`crate::Estimator`]; shared
//! regressions start at their N-weighted mean), then Fisher scoring on `F` with the analytic
//! gradient `∂F_g/∂θ_k = tr(Σ⁻¹(Σ − S)Σ⁻¹ ∂Σ/∂θ_k)` and expected Hessian
//! `tr(Σ⁻¹ ∂Σ/∂θ_k Σ⁻¹ ∂Σ/∂θ_l)`, step-halving when F would rise. Standard errors from the
//! expected information `Σ_g (N_g/2) tr(Σ_g⁻¹ ∂_k Σ_g Σ_g⁻¹ ∂_l Σ_g)`.
//!
//! # References
//! Jöreskog, K. G. (1971). Simultaneous factor analysis in several populations. *Psychometrika*
//! 36, 409–426. Rosseel, Y. (2012). lavaan. *J. Stat. Softw.* 48(2).

use crate::error::EvalError;
use crate::estimator::Estimator;
use crate::fit::normal_quantile;
use crate::moments::SampleMoments;
use crate::spec::{AnalysisSpec, ParameterKind};
use nalgebra::DMatrix;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Which parameters are held equal across groups (lavaan's `group.equal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupEquality {
    /// Every parameter free in every group.
    None,
    /// Regression coefficients equal across groups (`group.equal = "regressions"`).
    Regressions,
}

/// One group's data: its label and sample moments (N denominator).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMoments {
    /// The group's label (a value of the grouping column).
    pub label: String,
    /// Its covariance matrix and N.
    pub moments: SampleMoments,
}

/// Settings of [`estimate_multigroup`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiGroupConfig {
    /// What is equal across groups.
    pub equal: GroupEquality,
    /// Confidence level of the Wald intervals.
    pub level: f64,
    /// Fisher-scoring iteration limit.
    pub max_iterations: usize,
}

impl Default for MultiGroupConfig {
    fn default() -> Self {
        MultiGroupConfig {
            equal: GroupEquality::None,
            level: 0.95,
            max_iterations: 500,
        }
    }
}

/// One row of `parameterEstimates()` of a multi-group fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupParameter {
    /// Left side.
    pub lhs: String,
    /// `~` or `~~`.
    pub op: &'static str,
    /// Right side.
    pub rhs: String,
    /// Group number (1-based, lavaan's `group`).
    pub group: usize,
    /// The group's label.
    pub group_label: String,
    /// Held equal across groups.
    pub equal: bool,
    /// Free (estimated) or a fixed `x` (co)variance at its sample value.
    pub free: bool,
    /// Estimate.
    pub est: f64,
    /// Standard error (0 for fixed).
    pub se: f64,
    /// Wald z (`None` for fixed).
    pub z: Option<f64>,
    /// Two-sided p-value.
    pub pvalue: Option<f64>,
    /// Lower bound of the Wald interval.
    pub ci_lower: f64,
    /// Upper bound.
    pub ci_upper: f64,
}

/// A fitted multi-group model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MultiGroupFit {
    /// What was held equal.
    pub equal: GroupEquality,
    /// Group labels, in order.
    pub groups: Vec<String>,
    /// Group sizes.
    pub n: Vec<usize>,
    /// Parameter rows, group by group, in [`AnalysisSpec::parameters`] order, then the fixed `x`
    /// rows of each group.
    pub parameters: Vec<GroupParameter>,
    /// Model χ² (`Σ_g N_g F_g`).
    pub chisq: f64,
    /// Its degrees of freedom.
    pub df: usize,
    /// Its p-value (`None` when df = 0).
    pub pvalue: Option<f64>,
    /// Free parameters of the covariance structure.
    pub npar: usize,
    /// Each group's contribution to χ².
    pub chisq_group: Vec<f64>,
    /// Fisher-scoring iterations.
    pub iterations: usize,
    /// Largest absolute gradient element at the solution.
    pub gradient_norm: f64,
}

/// Where each spec parameter of each group sits in θ.
struct Layout {
    /// `slot[k][g]`: index in θ of parameter k in group g.
    slot: Vec<Vec<usize>>,
    /// Whether parameter k is shared.
    shared: Vec<bool>,
    len: usize,
}

fn layout(spec: &AnalysisSpec, groups: usize, equal: GroupEquality) -> Layout {
    let mut slot = Vec::with_capacity(spec.parameters.len());
    let mut shared = Vec::with_capacity(spec.parameters.len());
    let mut next = 0;
    for p in &spec.parameters {
        let same = equal == GroupEquality::Regressions
            && matches!(p.kind, ParameterKind::Regression { .. });
        if same {
            slot.push(vec![next; groups]);
            next += 1;
        } else {
            slot.push((next..next + groups).collect());
            next += groups;
        }
        shared.push(same);
    }
    Layout {
        slot,
        shared,
        len: next,
    }
}

/// The pieces of group g at θ: `A = (I − B)⁻¹`, `Σ`, `Σ⁻¹`.
struct GroupState {
    a: DMatrix<f64>,
    sigma: DMatrix<f64>,
    sigma_inv: DMatrix<f64>,
}

fn group_state(
    spec: &AnalysisSpec,
    lay: &Layout,
    theta: &[f64],
    g: usize,
    s: &DMatrix<f64>,
) -> Option<GroupState> {
    let p = spec.names.len();
    let mut b = DMatrix::<f64>::zeros(p, p);
    let mut psi = DMatrix::<f64>::zeros(p, p);
    for (k, par) in spec.parameters.iter().enumerate() {
        let v = theta[lay.slot[k][g]];
        match par.kind {
            ParameterKind::Regression { outcome, predictor } => b[(outcome, predictor)] = v,
            ParameterKind::Covariance { a, b: c } => {
                psi[(a, c)] = v;
                psi[(c, a)] = v;
            }
        }
    }
    for par in &spec.fixed {
        if let ParameterKind::Covariance { a, b: c } = par.kind {
            psi[(a, c)] = s[(a, c)];
            psi[(c, a)] = s[(a, c)];
        }
    }
    let a = (DMatrix::<f64>::identity(p, p) - b).try_inverse()?;
    let sigma = &a * &psi * a.transpose();
    let sigma = (&sigma + sigma.transpose()) * 0.5;
    let sigma_inv = sigma.clone().cholesky()?.inverse();
    Some(GroupState {
        a,
        sigma,
        sigma_inv,
    })
}

/// `F_ML(S, Σ) = log|Σ| + tr(SΣ⁻¹) − log|S| − p`.
fn f_ml(st: &GroupState, s: &DMatrix<f64>) -> f64 {
    let p = s.nrows() as f64;
    let log_det = |m: &DMatrix<f64>| {
        m.clone()
            .cholesky()
            .map(|c| 2.0 * c.l().diagonal().iter().map(|d| d.ln()).sum::<f64>())
    };
    match (log_det(&st.sigma), log_det(s)) {
        (Some(ls), Some(lss)) => ls + (s * &st.sigma_inv).trace() - lss - p,
        _ => f64::INFINITY,
    }
}

/// `∂Σ/∂θ_k` for spec parameter `k` in a group with state `st`.
fn d_sigma(spec: &AnalysisSpec, k: usize, st: &GroupState) -> DMatrix<f64> {
    let p = spec.names.len();
    match spec.parameters[k].kind {
        ParameterKind::Regression { outcome, predictor } => {
            // dΣ = A E_ij Σ + (A E_ij Σ)ᵀ, (A E_ij Σ)[r, c] = A[r, i] Σ[j, c].
            let m = DMatrix::from_fn(p, p, |r, c| st.a[(r, outcome)] * st.sigma[(predictor, c)]);
            &m + m.transpose()
        }
        ParameterKind::Covariance { a, b } if a == b => {
            DMatrix::from_fn(p, p, |r, c| st.a[(r, a)] * st.a[(c, a)])
        }
        ParameterKind::Covariance { a, b } => DMatrix::from_fn(p, p, |r, c| {
            st.a[(r, a)] * st.a[(c, b)] + st.a[(r, b)] * st.a[(c, a)]
        }),
    }
}

/// Objective, gradient and expected Hessian of `F = Σ_g w_g F_g`, `w_g = N_g / N`.
fn derivatives(
    spec: &AnalysisSpec,
    lay: &Layout,
    theta: &[f64],
    groups: &[GroupMoments],
) -> Option<(f64, Vec<f64>, DMatrix<f64>)> {
    let total: f64 = groups.iter().map(|g| g.moments.n() as f64).sum();
    let q = lay.len;
    let mut f = 0.0;
    let mut grad = vec![0.0; q];
    let mut hess = DMatrix::<f64>::zeros(q, q);
    for (g, gm) in groups.iter().enumerate() {
        let s = gm.moments.covariance();
        let st = group_state(spec, lay, theta, g, s)?;
        let w = gm.moments.n() as f64 / total;
        f += w * f_ml(&st, s);
        let resid = &st.sigma_inv * (&st.sigma - s) * &st.sigma_inv;
        let qs: Vec<DMatrix<f64>> = (0..spec.parameters.len())
            .map(|k| &st.sigma_inv * d_sigma(spec, k, &st))
            .collect();
        for k in 0..spec.parameters.len() {
            let dk = &st.sigma * &qs[k]; // = ∂Σ_k
            let i = lay.slot[k][g];
            grad[i] += w * resid.component_mul(&dk).sum();
            for l in 0..=k {
                let j = lay.slot[l][g];
                let t = w * qs[k].component_mul(&qs[l].transpose()).sum();
                hess[(i, j)] += t;
                if i != j {
                    hess[(j, i)] += t;
                }
            }
        }
    }
    Some((f, grad, hess))
}

/// Checks that every group can be fitted and its moments have the spec's size.
fn check_groups(spec: &AnalysisSpec, groups: &[GroupMoments]) -> Result<(), EvalError> {
    if groups.len() < 2 {
        return Err(EvalError::Shape {
            expected: "at least two groups".into(),
            found: format!("{} group(s)", groups.len()),
        });
    }
    let p = spec.names.len();
    let needed = spec.npar().max(p + 1);
    for g in groups {
        if g.moments.covariance().nrows() != p {
            return Err(EvalError::Shape {
                expected: format!("a {p}×{p} covariance matrix for group '{}'", g.label),
                found: format!(
                    "{}×{}",
                    g.moments.covariance().nrows(),
                    g.moments.covariance().ncols()
                ),
            });
        }
        if g.moments.n() < needed {
            return Err(EvalError::Shape {
                expected: format!(
                    "at least {needed} cases in group '{}' (the model has {} free parameters per group and {p} variables)",
                    g.label,
                    spec.npar()
                ),
                found: format!("{} cases", g.moments.n()),
            });
        }
    }
    Ok(())
}

/// Fits the multi-group model.
///
/// # Errors
/// Fewer than two groups, a group with fewer cases than parameters, single-group fit failures,
/// a non-positive-definite implied matrix, non-convergence.
pub fn estimate_multigroup(
    spec: &AnalysisSpec,
    groups: &[GroupMoments],
    config: &MultiGroupConfig,
) -> Result<MultiGroupFit, EvalError> {
    check_groups(spec, groups)?;
    let lay = layout(spec, groups.len(), config.equal);
    let total: f64 = groups.iter().map(|g| g.moments.n() as f64).sum();
    // Start: each group's own ML fit; shared regressions at the N-weighted mean.
    let mut theta = vec![0.0; lay.len];
    let mut estimator = Estimator::new(spec);
    for (g, gm) in groups.iter().enumerate() {
        let mut out = estimator.new_output();
        estimator.fit_moments(gm.moments.covariance(), gm.moments.n(), &mut out)?;
        let w = gm.moments.n() as f64 / total;
        for k in 0..spec.parameters.len() {
            let i = lay.slot[k][g];
            if lay.shared[k] {
                theta[i] += w * out.estimates[k];
            } else {
                theta[i] = out.estimates[k];
            }
        }
    }
    let singular = || EvalError::NotIdentified;
    let (mut f, mut grad, mut hess) =
        derivatives(spec, &lay, &theta, groups).ok_or_else(singular)?;
    let mut iterations = 0;
    while grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) > 1e-12 {
        if iterations >= config.max_iterations {
            return Err(not_converged(iterations, &grad));
        }
        iterations += 1;
        let step = hess
            .clone()
            .cholesky()
            .ok_or_else(singular)?
            .solve(&DMatrix::from_column_slice(lay.len, 1, &grad));
        let mut scale = 1.0;
        loop {
            let trial: Vec<f64> = theta
                .iter()
                .zip(step.iter())
                .map(|(t, s)| t - scale * s)
                .collect();
            if let Some((ft, gt, ht)) = derivatives(spec, &lay, &trial, groups) {
                if ft <= f + 1e-15 * f.abs().max(1.0) || scale < 1e-10 {
                    theta = trial;
                    (f, grad, hess) = (ft, gt, ht);
                    break;
                }
            }
            scale /= 2.0;
            if scale < 1e-12 {
                return Err(not_converged(iterations, &grad));
            }
        }
        if step.amax() * scale < 1e-15 {
            break;
        }
    }
    // Standard errors: V = (N/2 · H)⁻¹.
    let vcov = (hess * (total / 2.0)).try_inverse().ok_or_else(singular)?;
    let crit = normal_quantile(0.5 + config.level / 2.0);
    let mut parameters = Vec::new();
    let mut chisq_group = Vec::with_capacity(groups.len());
    for (g, gm) in groups.iter().enumerate() {
        let s = gm.moments.covariance();
        let st = group_state(spec, &lay, &theta, g, s).ok_or_else(singular)?;
        chisq_group.push(gm.moments.n() as f64 * f_ml(&st, s));
        for (k, par) in spec.parameters.iter().enumerate() {
            let i = lay.slot[k][g];
            let (est, se) = (theta[i], vcov[(i, i)].sqrt());
            let z = est / se;
            parameters.push(GroupParameter {
                lhs: par.lhs.clone(),
                op: par.op,
                rhs: par.rhs.clone(),
                group: g + 1,
                group_label: gm.label.clone(),
                equal: lay.shared[k],
                free: true,
                est,
                se,
                z: Some(z),
                pvalue: Some(crate::fit::normal_pvalue(z)),
                ci_lower: est - crit * se,
                ci_upper: est + crit * se,
            });
        }
        for par in &spec.fixed {
            if let ParameterKind::Covariance { a, b } = par.kind {
                parameters.push(GroupParameter {
                    lhs: par.lhs.clone(),
                    op: par.op,
                    rhs: par.rhs.clone(),
                    group: g + 1,
                    group_label: gm.label.clone(),
                    equal: false,
                    free: false,
                    est: s[(a, b)],
                    se: 0.0,
                    z: None,
                    pvalue: None,
                    ci_lower: s[(a, b)],
                    ci_upper: s[(a, b)],
                });
            }
        }
    }
    let moments_per_group = spec.df() + spec.npar();
    let df = groups.len() * moments_per_group - lay.len;
    let chisq: f64 = chisq_group.iter().sum();
    Ok(MultiGroupFit {
        equal: config.equal,
        groups: groups.iter().map(|g| g.label.clone()).collect(),
        n: groups.iter().map(|g| g.moments.n()).collect(),
        parameters,
        chisq,
        df,
        pvalue: chisq_pvalue(chisq, df),
        npar: lay.len,
        chisq_group,
        iterations,
        gradient_norm: grad.iter().fold(0.0f64, |m, g| m.max(g.abs())),
    })
}

fn not_converged(iterations: usize, grad: &[f64]) -> EvalError {
    EvalError::NotConverged {
        diagnostics: crate::error::Convergence {
            method: crate::error::Method::FisherScoring,
            iterations,
            gradient_norm: grad.iter().fold(0.0f64, |m, g| m.max(g.abs())),
        },
    }
}

fn chisq_pvalue(x: f64, df: usize) -> Option<f64> {
    (df > 0).then(|| ChiSquared::new(df as f64).map_or(f64::NAN, |d| d.sf(x.max(0.0))))
}

/// A likelihood-ratio (χ² difference) test between nested models.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LikelihoodRatioTest {
    /// χ² difference (restricted − free).
    pub chisq_diff: f64,
    /// Degrees of freedom difference.
    pub df_diff: usize,
    /// Its p-value.
    pub pvalue: f64,
}

/// lavaan's `lavTestLRT(free, restricted)` for ML: `Δχ² = χ²_r − χ²_f` on `df_r − df_f`.
pub fn likelihood_ratio_test(
    restricted: &MultiGroupFit,
    free: &MultiGroupFit,
) -> LikelihoodRatioTest {
    let df_diff = restricted.df.saturating_sub(free.df);
    let chisq_diff = restricted.chisq - free.chisq;
    LikelihoodRatioTest {
        chisq_diff,
        df_diff,
        pvalue: chisq_pvalue(chisq_diff, df_diff).unwrap_or(f64::NAN),
    }
}

/// A Wald test that one path is equal in every group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EqualityTest {
    /// The path, `outcome~predictor`.
    pub path: String,
    /// Wald χ².
    pub statistic: f64,
    /// Degrees of freedom (groups − 1).
    pub df: usize,
    /// p-value.
    pub pvalue: f64,
}

/// Wald tests of `β_1 = β_2 = … = β_G` for every regression of a model fitted with every
/// parameter free (groups are independent, so the covariance of the group estimates is diagonal):
/// `W = (Cβ)ᵀ(C D Cᵀ)⁻¹(Cβ)` with `C` the contrasts with group 1 and `D = diag(SE_g²)`; equal to
/// lavaan's `lavTestWald(fit, "b1 == b2; b1 == b3")`.
pub fn path_equality_tests(free: &MultiGroupFit) -> Vec<EqualityTest> {
    let groups = free.groups.len();
    let mut out = Vec::new();
    let first: Vec<&GroupParameter> = free
        .parameters
        .iter()
        .filter(|p| p.group == 1 && p.op == "~")
        .collect();
    for p in first {
        let rows: Vec<&GroupParameter> = free
            .parameters
            .iter()
            .filter(|q| q.op == "~" && q.lhs == p.lhs && q.rhs == p.rhs)
            .collect();
        let d = groups - 1;
        let c_beta = DMatrix::from_fn(d, 1, |i, _| rows[i + 1].est - rows[0].est);
        let v0 = rows[0].se.powi(2);
        let cdc = DMatrix::from_fn(d, d, |i, j| {
            v0 + if i == j { rows[i + 1].se.powi(2) } else { 0.0 }
        });
        let w = cdc
            .try_inverse()
            .map_or(f64::NAN, |inv| (c_beta.transpose() * inv * &c_beta)[(0, 0)]);
        out.push(EqualityTest {
            path: format!("{}~{}", p.lhs, p.rhs),
            statistic: w,
            df: d,
            pvalue: chisq_pvalue(w, d).unwrap_or(f64::NAN),
        });
    }
    out
}
