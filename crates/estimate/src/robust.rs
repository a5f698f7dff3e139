//! Cluster-robust (sandwich) standard errors for employees nested in teams: lavaan's
//! `sem(..., cluster = "team")`, i.e. `se = "robust.cluster"`.
//!
//! The ML estimates are unchanged; their covariance matrix becomes
//! `V = G/(G−1) · A⁻¹ B A⁻¹` with `A = N·I₁` the expected information (so `A⁻¹` is the
//! normal-theory [`FitOutput::vcov`]) and `B = Σ_c s_c s_cᵀ`, where `s_c` is the sum over the
//! members of cluster `c` of the casewise scores `s_i = ∂ℓ_i/∂θ` and `G` the number of clusters
//! (Liang & Zeger 1986; lavaan 0.6-14 `lav_model_nvcov_robust_sem` with `lav_scores_ml` summed by
//! cluster, and the `G/(G−1)` factor — checked against lavaan in `tests/robust_cluster.rs`).
//!
//! Casewise scores of the normal log-likelihood: `s_ik = ½ tr(W_i ∂Σ/∂θ_k)` with
//! `W_i = Σ⁻¹ z_i z_iᵀ Σ⁻¹ − Σ⁻¹` and `z_i` the row centred at the sample means. Under `fixed.x`
//! the joint likelihood is the conditional one plus a marginal of `x` that does not depend on the
//! free parameters, so the joint scores are the conditional ones. Centring at the sample means
//! gives the same slopes' and variances' influence functions as lavaan's mean structure (the
//! intercepts are profiled out), so the standard errors equal lavaan's. With `A = (I − B)⁻¹`:
//! `∂Σ/∂B_op = A e_o e_pᵀ Σ + (A e_o e_pᵀ Σ)ᵀ` and `∂Σ/∂Ψ_ab = A (e_a e_bᵀ + e_b e_aᵀ) Aᵀ`
//! (one term when `a = b`).

use crate::effects;
use crate::estimator::FitOutput;
use crate::fit::{estimate_adjusted, EstimateConfig, Fit};
use crate::moments::check_rows;
use crate::spec::{AnalysisSpec, ParameterKind};
use crate::{EvalError, SampleMoments};
use nalgebra::DMatrix;

/// Fits `spec` to `rows` (row-major, `spec.variables()` order) with cluster-robust standard errors
/// for the clusters `cluster[i]` of the rows; effects get delta-method SEs from the robust matrix.
///
/// # Errors
/// Fewer than two clusters, a cluster label per row missing, or any error of the fit itself.
pub fn estimate_clustered(
    spec: &AnalysisSpec,
    rows: &[f64],
    cluster: &[u64],
    config: &EstimateConfig,
) -> Result<Fit, EvalError> {
    let p = spec.variables().len();
    let n = check_rows(rows, p)?;
    if cluster.len() != n {
        return Err(EvalError::Shape {
            expected: format!("one cluster label per row ({n})"),
            found: format!("{} labels", cluster.len()),
        });
    }
    let moments = SampleMoments::from_rows(rows, p)?;
    estimate_adjusted(spec, &moments, config, |out| {
        let v = robust_vcov(spec, out, rows, cluster)?;
        apply_vcov(spec, out, v);
        Ok(())
    })
}

/// Number of distinct labels.
fn cluster_count(cluster: &[u64]) -> usize {
    let mut ids = cluster.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// `G/(G−1) · V B V` with `V` the normal-theory covariance of the fit in `out`.
fn robust_vcov(
    spec: &AnalysisSpec,
    out: &FitOutput,
    rows: &[f64],
    cluster: &[u64],
) -> Result<DMatrix<f64>, EvalError> {
    let g = cluster_count(cluster);
    if g < 2 {
        return Err(EvalError::Shape {
            expected: "at least two clusters for cluster-robust standard errors".to_string(),
            found: format!("{g} cluster"),
        });
    }
    let meat = cluster_meat(spec, out, rows, cluster)?;
    let v = &out.vcov;
    Ok(v * meat * v * (g as f64 / (g as f64 - 1.0)))
}

/// `Σ_c s_c s_cᵀ`, the cross-product of the cluster sums of the casewise scores.
fn cluster_meat(
    spec: &AnalysisSpec,
    out: &FitOutput,
    rows: &[f64],
    cluster: &[u64],
) -> Result<DMatrix<f64>, EvalError> {
    let p = spec.variables().len();
    let n = cluster.len();
    let q = spec.parameters().len();
    let sigma_inv = out
        .sigma
        .clone()
        .cholesky()
        .ok_or(EvalError::NotIdentified)?
        .inverse();
    let derivs = sigma_derivatives(spec, out);
    let means: Vec<f64> = (0..p)
        .map(|j| (0..n).map(|i| rows[i * p + j]).sum::<f64>() / n as f64)
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| cluster[i]);
    let mut meat = DMatrix::zeros(q, q);
    let mut sum = vec![0.0; q];
    let mut score = vec![0.0; q];
    for (k, &i) in order.iter().enumerate() {
        let z = nalgebra::DVector::from_fn(p, |j, _| rows[i * p + j] - means[j]);
        let u = &sigma_inv * z;
        let w = &u * u.transpose() - &sigma_inv;
        for (s, d) in score.iter_mut().zip(&derivs) {
            *s = 0.5 * w.component_mul(d).sum();
        }
        sum.iter_mut().zip(&score).for_each(|(a, b)| *a += b);
        let last = order
            .get(k + 1)
            .is_none_or(|&next| cluster[next] != cluster[i]);
        if last {
            let s = nalgebra::DVector::from_column_slice(&sum);
            meat += &s * s.transpose();
            sum.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    Ok(meat)
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
