//! Cluster-robust fits for employees nested in teams, as lavaan's `sem(..., cluster = "team")`
//! makes them: `se = "robust.cluster"` standard errors and the Yuan–Bentler scaled test
//! (`test = "yuan.bentler.mplus"`) with its robust fit measures.
//!
//! # Standard errors
//! The ML estimates are unchanged; their covariance matrix becomes the sandwich
//! `V = G/(G−1) · A⁻¹ B A⁻¹` with `B = Σ_c s_c s_cᵀ`, where `s_c` is the sum over the members of
//! cluster `c` of the casewise scores `s_i = ∂ℓ_i/∂θ` and `G` the number of clusters (Liang & Zeger
//! 1986; lavaan 0.6-14 `lav_model_nvcov_robust_sandwich` with `lav_mvnorm_information_firstorder`
//! summed by cluster and multiplied by `G/(G−1)`). The bread `A` is `N` times the unit information:
//! * [`Information::Observed`] (lavaan's default with `cluster =`: `information = "observed"`,
//!   `observed.information = "hessian"`): the Hessian of lavaan's objective `½ F_ML`,
//!   `H_kl = ½[2 tr(Σ⁻¹Σ_l Σ⁻¹SΣ⁻¹Σ_k) − tr(Σ⁻¹Σ_l Σ⁻¹Σ_k) + tr(W Σ_kl)]` with
//!   `W = Σ⁻¹ − Σ⁻¹SΣ⁻¹`, `Σ_k = ∂Σ/∂θ_k` and `Σ_kl = ∂²Σ/∂θ_k∂θ_l` (analytic here, where lavaan
//!   differentiates its analytic gradient numerically);
//! * [`Information::Expected`]: `I_kl = ½ tr(Σ⁻¹Σ_k Σ⁻¹Σ_l)`, i.e. the normal-theory
//!   [`FitOutput::vcov`].
//!
//! lavaan adds a saturated mean structure (`meanstructure = TRUE`); at the ML estimates `μ̂ = ȳ`, so
//! both informations are block-diagonal in (intercepts, θ) and the intercepts drop out of θ's
//! sandwich.
//!
//! Casewise scores of the normal log-likelihood: `s_ik = ½ tr(W_i Σ_k)` with
//! `W_i = Σ⁻¹ z_i z_iᵀ Σ⁻¹ − Σ⁻¹` and `z_i` the row centred at the sample means (`= μ̂`); the
//! intercepts' scores are `Jᵀ Σ⁻¹ z_i` with `J = ∂μ/∂ν`, the columns of `(I − B)⁻¹` of the variables
//! that are not fixed `x`. Under `fixed.x` the joint likelihood is the conditional one plus a
//! marginal of `x` free of θ, so the joint scores are the conditional ones. With `A = (I − B)⁻¹` and
//! `M_op = A e_o e_pᵀ`: `∂Σ/∂B_op = M_op Σ + Σ M_opᵀ`, `∂Σ/∂Ψ_ab = A (e_a e_bᵀ + e_b e_aᵀ) Aᵀ`
//! (one term when `a = b`), and the second derivatives `X + Xᵀ` with
//! `X = M_l M_k Σ + M_k Σ_l` for two paths `k, l` and `X = M_k Σ_l` for a path `k` and a
//! (co)variance `l` (zero for two (co)variances).
//!
//! # Scaled test
//! lavaan 0.6-14 `lav_test_yuan_bentler` with `test = "yuan.bentler.mplus"` (Yuan & Bentler 2000;
//! Mplus's MLR): the scaling factor is `c = tr(UΓ)/df` with
//! `tr(UΓ) = tr(A₁⁻¹B₁) − tr(B₀ E⁻¹)`, where
//! * `A₁` is the unstructured (saturated) unit information at `(ȳ, S)` — `S⁻¹` for the means and
//!   `½ Dᵀ(S⁻¹⊗S⁻¹)D` for `vech S` — and `B₁ = A₁ Γ A₁` with `Γ` lavaan's clustered asymptotic
//!   covariance of the sample moments under `fixed.x` (`lav_samplestats_Gamma`: per row
//!   `z_i = (y_i − ŷ_i, vech(y_c y_cᵀ − ŷ_c ŷ_cᵀ))`, `ŷ` the OLS fit of every variable on the fixed
//!   `x`, centred, summed by cluster, cross-product over `N`, times `G/(G−1)`), so
//!   `tr(A₁⁻¹B₁) = tr(Γ A₁)`;
//! * `B₀ = G/(G−1) · Σ_c s_c s_cᵀ / N` over intercepts and θ (the meat above), and `E` the unit
//!   information of the test: with `information = "observed"` lavaan uses
//!   `observed.information = "h1"` for tests, `E = Δᵀ A₁(Σ̂) Δ`, i.e. the Hessian above without its
//!   `tr(W Σ_kl)` term; with `"expected"` the expected information. Both are block-diagonal, with
//!   `E_νν = Jᵀ Σ⁻¹ J` for the intercepts.
//!
//! `chisq.scaled = χ²/c`. The baseline model (independence of the variables that are not fixed `x`)
//! gets its own `c_b` the same way; the robust CFI, TLI and RMSEA follow from them in
//! [`crate::measures::robust_measures`].

use crate::effects;
use crate::estimator::FitOutput;
use crate::fit::{estimate_adjusted, EstimateConfig, Fit};
use crate::measures::{robust_measures, RobustMeasures};
use crate::moments::check_rows;
use crate::sem::Information;
use crate::spec::{AnalysisSpec, ParameterKind};
use crate::{EvalError, SampleMoments};
use nalgebra::{DMatrix, DVector};

/// What a cluster-robust fit adds to a [`Fit`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterRobust {
    /// Number of clusters.
    pub clusters: usize,
    /// The information matrix of the sandwich's bread (and of the scaled test).
    pub information: Information,
    /// The Yuan–Bentler scaled test and the robust fit measures.
    pub test: RobustMeasures,
}

/// Fits `spec` to `rows` (row-major, `spec.variables()` order) with cluster-robust standard errors
/// for the clusters `cluster[i]` of the rows, the bread from `information` (lavaan's default is
/// [`Information::Observed`]); effects get delta-method SEs from the robust matrix, and
/// [`Fit::robust`] the Yuan–Bentler scaled test.
///
/// # Errors
/// Fewer than two clusters, a cluster label per row missing, a singular information matrix, or any
/// error of the fit itself.
pub fn estimate_clustered(
    spec: &AnalysisSpec,
    rows: &[f64],
    cluster: &[u64],
    config: &EstimateConfig,
    information: Information,
) -> Result<Fit, EvalError> {
    let p = spec.variables().len();
    let n = check_rows(rows, p)?;
    if cluster.len() != n {
        return Err(EvalError::Shape {
            expected: format!("one cluster label per row ({n})"),
            found: format!("{} labels", cluster.len()),
        });
    }
    let groups = ClusterIndex::new(cluster);
    if groups.count < 2 {
        return Err(EvalError::Shape {
            expected: "at least two clusters for cluster-robust standard errors".to_string(),
            found: format!("{} cluster", groups.count),
        });
    }
    let moments = SampleMoments::from_rows(rows, p)?;
    let data = Rows::new(rows, p);
    let s = moments.covariance().clone();
    let mut trace_h0 = 0.0;
    let mut fit = estimate_adjusted(spec, &moments, config, |out| {
        trace_h0 = robust_standard_errors(spec, out, &data, &groups, &s, information)?;
        Ok(())
    })?;
    let trace_h1 = saturated_trace(spec, &s, &data, &groups);
    let baseline = Structure::baseline(spec, &s);
    let baseline_inv = inverse(&baseline.sigma)?;
    let baseline_meat = cluster_meat(&baseline, &baseline_inv, &data, &groups);
    let baseline_h0 = test_trace_h0(
        &baseline,
        &baseline_inv,
        &s,
        &baseline_meat,
        n,
        groups.count,
        information,
    )?;
    let m = &fit.measures;
    let test = robust_measures(m, trace_h1 - trace_h0, trace_h1 - baseline_h0);
    fit.robust = Some(ClusterRobust {
        clusters: groups.count,
        information,
        test,
    });
    Ok(fit)
}

/// Replaces the normal-theory standard errors of a full fit `out` of `spec` (from
/// [`crate::Estimator::fit_moments`] on the sample covariance matrix of `rows`) by cluster-robust
/// ones, as [`estimate_clustered`] (without the scaled test): for Monte Carlo studies of nested
/// data, which fit once and then need lavaan's `cluster =` standard errors.
///
/// # Errors
/// Fewer than two clusters, a cluster label per row missing, or a singular information matrix.
pub fn apply_cluster_robust(
    spec: &AnalysisSpec,
    out: &mut FitOutput,
    rows: &[f64],
    cluster: &[u64],
    information: Information,
) -> Result<(), EvalError> {
    let p = spec.variables().len();
    let n = check_rows(rows, p)?;
    if cluster.len() != n {
        return Err(EvalError::Shape {
            expected: format!("one cluster label per row ({n})"),
            found: format!("{} labels", cluster.len()),
        });
    }
    let groups = ClusterIndex::new(cluster);
    if groups.count < 2 {
        return Err(EvalError::Shape {
            expected: "at least two clusters for cluster-robust standard errors".to_string(),
            found: format!("{} cluster", groups.count),
        });
    }
    let data = Rows::new(rows, p);
    let s = SampleMoments::from_rows(rows, p)?.covariance().clone();
    robust_standard_errors(spec, out, &data, &groups, &s, information).map(|_| ())
}

/// The sandwich of the module docs into `out` (SEs, effect SEs, `vcov`); returns `tr(B₀E⁻¹)` of
/// the scaled test.
fn robust_standard_errors(
    spec: &AnalysisSpec,
    out: &mut FitOutput,
    data: &Rows<'_>,
    groups: &ClusterIndex,
    s: &DMatrix<f64>,
    information: Information,
) -> Result<f64, EvalError> {
    let n = data.len();
    let model = Structure::of_fit(spec, out);
    let sigma_inv = inverse(&out.sigma)?;
    let meat = cluster_meat(&model, &sigma_inv, data, groups);
    let q = model.derivs.len();
    let meat_theta = meat.view((0, 0), (q, q)).into_owned();
    let bread = match information {
        Information::Expected => out.vcov.clone(),
        Information::Observed => {
            let h = hessian(spec, out, &model, &sigma_inv, s);
            inverse(&(h * n as f64))?
        }
    };
    let trace_h0 = test_trace_h0(&model, &sigma_inv, s, &meat, n, groups.count, information)?;
    let g = groups.count as f64;
    let v = &bread * meat_theta * &bread * (g / (g - 1.0));
    apply_vcov(spec, out, v);
    Ok(trace_h0)
}

/// The inverse of a symmetric positive-definite matrix.
fn inverse(m: &DMatrix<f64>) -> Result<DMatrix<f64>, EvalError> {
    Ok(m.clone()
        .cholesky()
        .ok_or(EvalError::NotIdentified)?
        .inverse())
}

/// Rows with their sample means (the ML intercepts).
struct Rows<'a> {
    values: &'a [f64],
    p: usize,
    means: Vec<f64>,
}

impl<'a> Rows<'a> {
    fn new(values: &'a [f64], p: usize) -> Rows<'a> {
        let n = values.len() / p;
        let means = (0..p)
            .map(|j| (0..n).map(|i| values[i * p + j]).sum::<f64>() / n as f64)
            .collect();
        Rows { values, p, means }
    }

    fn len(&self) -> usize {
        self.values.len() / self.p
    }

    /// Row `i` centred at the sample means.
    fn centred(&self, i: usize) -> DVector<f64> {
        DVector::from_fn(self.p, |j, _| self.values[i * self.p + j] - self.means[j])
    }
}

/// The cluster of every row as an index `0..count` (labels in sorted order).
struct ClusterIndex {
    of_row: Vec<usize>,
    count: usize,
}

impl ClusterIndex {
    fn new(cluster: &[u64]) -> ClusterIndex {
        let mut labels = cluster.to_vec();
        labels.sort_unstable();
        labels.dedup();
        let of_row = cluster
            .iter()
            .map(|c| labels.binary_search(c).unwrap_or(0))
            .collect();
        ClusterIndex {
            of_row,
            count: labels.len(),
        }
    }
}

/// A covariance structure at its estimates: `Σ̂`, `∂Σ/∂θ_k` for every free (co)variance parameter,
/// and `J = ∂μ/∂ν` for the intercepts of the variables that are not fixed `x`.
struct Structure {
    sigma: DMatrix<f64>,
    derivs: Vec<DMatrix<f64>>,
    mean_jacobian: DMatrix<f64>,
}

impl Structure {
    /// The structure of a path-model fit.
    fn of_fit(spec: &AnalysisSpec, out: &FitOutput) -> Structure {
        let a = &out.inverse_i_minus_beta;
        let free: Vec<usize> = (0..spec.variables().len())
            .filter(|&j| !spec.is_fixed_x(j))
            .collect();
        Structure {
            sigma: out.sigma.clone(),
            derivs: sigma_derivatives(spec, out),
            mean_jacobian: DMatrix::from_fn(a.nrows(), free.len(), |i, k| a[(i, free[k])]),
        }
    }

    /// lavaan's baseline model: `Σ_b = diag(S) ⊕ S_xx`, a free variance and intercept for every
    /// variable that is not a fixed `x` (ML estimates: the sample variances and means).
    fn baseline(spec: &AnalysisSpec, s: &DMatrix<f64>) -> Structure {
        let p = s.nrows();
        let fixed = |i: usize| spec.is_fixed_x(i);
        let sigma = DMatrix::from_fn(p, p, |i, j| {
            if i == j || (fixed(i) && fixed(j)) {
                s[(i, j)]
            } else {
                0.0
            }
        });
        let free: Vec<usize> = (0..p).filter(|&j| !fixed(j)).collect();
        let derivs = free
            .iter()
            .map(|&j| DMatrix::from_fn(p, p, |a, b| if a == j && b == j { 1.0 } else { 0.0 }))
            .collect();
        let mean_jacobian =
            DMatrix::from_fn(p, free.len(), |i, k| if i == free[k] { 1.0 } else { 0.0 });
        Structure {
            sigma,
            derivs,
            mean_jacobian,
        }
    }
}

/// `Σ_c s_c s_cᵀ`, the cross-product of the cluster sums of the casewise scores, over θ (first)
/// and the intercepts (last).
fn cluster_meat(
    model: &Structure,
    sigma_inv: &DMatrix<f64>,
    data: &Rows<'_>,
    groups: &ClusterIndex,
) -> DMatrix<f64> {
    let q = model.derivs.len();
    let m = model.mean_jacobian.ncols();
    // tr(Σ⁻¹ Σ_k), the constant part of ½ tr(W_i Σ_k).
    let traces: Vec<f64> = model
        .derivs
        .iter()
        .map(|d| sigma_inv.component_mul(d).sum())
        .collect();
    let mut sums = DMatrix::zeros(groups.count, q + m);
    for i in 0..data.len() {
        let u = sigma_inv * data.centred(i);
        let c = groups.of_row[i];
        for (k, d) in model.derivs.iter().enumerate() {
            sums[(c, k)] += 0.5 * ((d * &u).dot(&u) - traces[k]);
        }
        let nu = model.mean_jacobian.tr_mul(&u);
        for k in 0..m {
            sums[(c, q + k)] += nu[k];
        }
    }
    sums.tr_mul(&sums)
}

/// `½ tr(Σ⁻¹Σ_k Σ⁻¹Σ_l)` (expected) or `½[2 tr(Σ⁻¹Σ_l Σ⁻¹SΣ⁻¹Σ_k) − tr(Σ⁻¹Σ_l Σ⁻¹Σ_k)]` (lavaan's
/// observed h1 information at the structured moments, `Δᵀ A₁(Σ̂) Δ`): the unit information of θ
/// without second derivatives of Σ.
fn first_derivative_information(
    model: &Structure,
    sigma_inv: &DMatrix<f64>,
    s: &DMatrix<f64>,
    information: Information,
) -> DMatrix<f64> {
    let q = model.derivs.len();
    let left: Vec<DMatrix<f64>> = model.derivs.iter().map(|d| sigma_inv * d).collect();
    let right: Vec<DMatrix<f64>> = match information {
        Information::Expected => left.clone(),
        Information::Observed => {
            let t = sigma_inv * s * sigma_inv;
            let twice = &t * 2.0 - sigma_inv;
            model.derivs.iter().map(|d| &twice * d).collect()
        }
    };
    // tr(X Y) = Σ_ij X_ij Y_ji.
    DMatrix::from_fn(q, q, |k, l| {
        0.5 * left[l].component_mul(&right[k].transpose()).sum()
    })
}

/// The Hessian of lavaan's objective `½ F_ML` in θ at the estimates (unit observed information).
fn hessian(
    spec: &AnalysisSpec,
    out: &FitOutput,
    model: &Structure,
    sigma_inv: &DMatrix<f64>,
    s: &DMatrix<f64>,
) -> DMatrix<f64> {
    let mut h = first_derivative_information(model, sigma_inv, s, Information::Observed);
    let w = sigma_inv - sigma_inv * s * sigma_inv;
    let a = &out.inverse_i_minus_beta;
    let sigma = &out.sigma;
    let p = sigma.nrows();
    let params = spec.parameters();
    // ½ tr(W (X + Xᵀ)) = tr(W X) for symmetric W.
    let term = |k: usize, l: usize| -> Option<f64> {
        let ParameterKind::Regression {
            outcome: o,
            predictor: pk,
        } = params[k].kind
        else {
            return None;
        };
        let sigma_l = &model.derivs[l];
        let x = match params[l].kind {
            ParameterKind::Regression {
                outcome: o2,
                predictor: p2,
            } => DMatrix::from_fn(p, p, |i, j| {
                a[(p2, o)] * a[(i, o2)] * sigma[(pk, j)] + a[(i, o)] * sigma_l[(pk, j)]
            }),
            ParameterKind::Covariance { .. } => {
                DMatrix::from_fn(p, p, |i, j| a[(i, o)] * sigma_l[(pk, j)])
            }
        };
        Some(w.component_mul(&x).sum())
    };
    let q = params.len();
    for k in 0..q {
        for l in 0..q {
            if let Some(t) = term(k, l).or_else(|| term(l, k)) {
                h[(k, l)] += t;
            }
        }
    }
    h
}

/// `tr(B₀ E⁻¹)` of the test: `B₀ = G/(G−1) · meat / N`, `E` block-diagonal in θ and intercepts.
fn test_trace_h0(
    model: &Structure,
    sigma_inv: &DMatrix<f64>,
    s: &DMatrix<f64>,
    meat: &DMatrix<f64>,
    n: usize,
    g: usize,
    information: Information,
) -> Result<f64, EvalError> {
    let q = model.derivs.len();
    let m = model.mean_jacobian.ncols();
    let e_theta = first_derivative_information(model, sigma_inv, s, information);
    let j = &model.mean_jacobian;
    let e_nu = j.tr_mul(&(sigma_inv * j));
    let b_theta = meat.view((0, 0), (q, q)).into_owned();
    let b_nu = meat.view((q, q), (m, m)).into_owned();
    let tr = (inverse(&e_theta)? * b_theta).trace() + (inverse(&e_nu)? * b_nu).trace();
    let gf = g as f64;
    Ok(tr * gf / (gf - 1.0) / n as f64)
}

/// `tr(A₁⁻¹B₁) = tr(Γ A₁)` of the saturated model (see the module docs), over the means and the
/// lower triangle of the covariance matrix.
fn saturated_trace(
    spec: &AnalysisSpec,
    s: &DMatrix<f64>,
    data: &Rows<'_>,
    groups: &ClusterIndex,
) -> f64 {
    let p = s.nrows();
    let xs: Vec<usize> = (0..p).filter(|&j| spec.is_fixed_x(j)).collect();
    // OLS slopes of every variable on the fixed x (identity rows for the x themselves).
    let slopes: DMatrix<f64> = if xs.is_empty() {
        DMatrix::zeros(0, p)
    } else {
        let sxx = DMatrix::from_fn(xs.len(), xs.len(), |a, b| s[(xs[a], xs[b])]);
        let sxy = DMatrix::from_fn(xs.len(), p, |a, j| s[(xs[a], j)]);
        sxx.cholesky()
            .map_or_else(|| DMatrix::zeros(xs.len(), p), |c| c.solve(&sxy))
    };
    let pairs: Vec<(usize, usize)> = (0..p).flat_map(|b| (b..p).map(move |a| (a, b))).collect();
    let width = p + pairs.len();
    let n = data.len();
    let mut z = DMatrix::zeros(n, width);
    for i in 0..n {
        let yc = data.centred(i);
        let xc = DVector::from_fn(xs.len(), |a, _| yc[xs[a]]);
        let hat = slopes.tr_mul(&xc);
        for j in 0..p {
            z[(i, j)] = yc[j] - hat[j];
        }
        for (e, &(a, b)) in pairs.iter().enumerate() {
            z[(i, p + e)] = yc[a] * yc[b] - hat[a] * hat[b];
        }
    }
    let mut sums = DMatrix::zeros(groups.count, width);
    for e in 0..width {
        let mean = z.column(e).mean();
        for i in 0..n {
            sums[(groups.of_row[i], e)] += z[(i, e)] - mean;
        }
    }
    let g = groups.count as f64;
    let gamma = sums.tr_mul(&sums) * (g / (g - 1.0) / n as f64);
    let Some(k) = s.clone().cholesky().map(|c| c.inverse()) else {
        return f64::NAN;
    };
    let mult = |(a, b): (usize, usize)| if a == b { 1.0 } else { 2.0 };
    let mut a1 = DMatrix::zeros(width, width);
    for i in 0..p {
        for j in 0..p {
            a1[(i, j)] = k[(i, j)];
        }
    }
    for (e, &(a, b)) in pairs.iter().enumerate() {
        for (f, &(c, d)) in pairs.iter().enumerate() {
            a1[(p + e, p + f)] = 0.25
                * mult((a, b))
                * mult((c, d))
                * (k[(a, c)] * k[(b, d)] + k[(a, d)] * k[(b, c)]);
        }
    }
    gamma.component_mul(&a1).sum()
}

/// `∂Σ/∂θ_k` for every free parameter, at the estimates.
fn sigma_derivatives(spec: &AnalysisSpec, out: &FitOutput) -> Vec<DMatrix<f64>> {
    let p = spec.variables().len();
    let a = &out.inverse_i_minus_beta;
    spec.parameters()
        .iter()
        .map(|q| match q.kind {
            ParameterKind::Regression { outcome, predictor } => {
                // A e_o e_pᵀ Σ: column o of A times row p of Σ.
                let m = DMatrix::from_fn(p, p, |i, j| a[(i, outcome)] * out.sigma[(predictor, j)]);
                &m + m.transpose()
            }
            ParameterKind::Covariance { a: x, b: y } => {
                let m = DMatrix::from_fn(p, p, |i, j| a[(i, x)] * a[(j, y)]);
                if x == y {
                    m
                } else {
                    &m + m.transpose()
                }
            }
        })
        .collect()
}

/// Replaces the parameter covariance, SEs and effect SEs of `out` by those of `v`.
fn apply_vcov(spec: &AnalysisSpec, out: &mut FitOutput, v: DMatrix<f64>) {
    for (k, se) in out.std_err.iter_mut().enumerate() {
        *se = v[(k, k)].max(0.0).sqrt();
    }
    let mut scratch = Vec::new();
    for (k, e) in spec.effects().iter().enumerate() {
        let mut grad = vec![0.0; e.parameters.len()];
        scratch.resize(effects::scratch_len(e), 0.0);
        effects::effect_value(
            e,
            spec.parameters(),
            &out.estimates,
            &out.inverse_i_minus_beta,
            Some(&mut grad),
            &mut scratch,
        );
        let mut var = 0.0;
        for (s, &i) in e.parameters.iter().enumerate() {
            for (t, &j) in e.parameters.iter().enumerate() {
                var += grad[s] * v[(i, j)] * grad[t];
            }
        }
        out.effect_std_err[k] = var.max(0.0).sqrt();
    }
    out.vcov = v;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimator::Estimator;
    use balans_model::parse_model;

    /// A deterministic data set with clusters: `n` rows of `p` values from a fixed recurrence.
    fn rows(n: usize, p: usize) -> Vec<f64> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut out = Vec::with_capacity(n * p);
        for _ in 0..n {
            let mut prev = 0.0;
            for _ in 0..p {
                // Correlated columns: each adds half of the previous one.
                prev = next() + 0.5 * prev;
                out.push(prev);
            }
        }
        out
    }

    /// The analytic Hessian of `½ F_ML` equals central differences of the analytic gradient
    /// (`Estimator::objective`), on an over-identified model with a residual covariance, where the
    /// second-derivative term `tr(W Σ_kl)` does not vanish.
    #[test]
    fn analytic_hessian_matches_finite_differences_of_the_gradient() {
        let model = parse_model("m", "m1 ~ x1 + x2\nm2 ~ x1\ny ~ m1 + m2\nm1 ~~ m2").unwrap();
        let spec = AnalysisSpec::from_model(&model).unwrap();
        let p = spec.variables().len();
        let data = rows(300, p);
        let moments = SampleMoments::from_rows(&data, p).unwrap();
        let s = moments.covariance().clone();
        let fit = crate::estimate(&spec, &moments).unwrap();
        let out = &fit.output;
        let model_structure = Structure::of_fit(&spec, out);
        let sigma_inv = inverse(&out.sigma).unwrap();
        let h = hessian(&spec, out, &model_structure, &sigma_inv, &s);
        let mut estimator = Estimator::new(&spec);
        let q = spec.npar();
        let step = 1e-5;
        let (mut up, mut down) = (vec![0.0; q], vec![0.0; q]);
        for l in 0..q {
            let mut theta = out.estimates.clone();
            theta[l] += step;
            estimator
                .objective(&theta, &s, moments.n(), &mut up)
                .unwrap()
                .unwrap();
            theta[l] -= 2.0 * step;
            estimator
                .objective(&theta, &s, moments.n(), &mut down)
                .unwrap()
                .unwrap();
            for k in 0..q {
                // F_ML's gradient; lavaan's objective is ½ F_ML.
                let numeric = 0.5 * (up[k] - down[k]) / (2.0 * step);
                assert!(
                    (h[(k, l)] - numeric).abs() <= 1e-6 * h[(k, k)].abs().max(1.0),
                    "H[{k},{l}] = {} vs finite differences {numeric}",
                    h[(k, l)]
                );
            }
        }
        // The second-derivative term matters here: H differs from the h1 part alone.
        let h1 =
            first_derivative_information(&model_structure, &sigma_inv, &s, Information::Observed);
        assert!((&h - &h1).abs().max() > 1e-6, "{h} vs {h1}");
    }
}
