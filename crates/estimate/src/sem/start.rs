//! Start values of a latent-variable fit from the sample (or EM) moments.
//!
//! Per latent variable, the leading eigenvector `v` (eigenvalue `e`) of its items' covariance
//! matrix gives one-factor loadings: scaled to the marker (`λ_j = v_j / v_1`, `φ = e v_1²`), or
//! with `std_lv` `λ_j = v_j √e` and `φ = 1`. Item residual variances start at half the item
//! variance (lavaan's "simple" start), observed endogenous residual variances and random `x`
//! (co)variances at their sample values, paths and covariances at 0, intercepts at the means.

use super::spec::{SemKind, SemSpec};
use nalgebra::DMatrix;

/// Start values of θ from the moments `cov`, `mean` of the observed variables.
pub(crate) fn start_values(spec: &SemSpec, cov: &DMatrix<f64>, mean: &[f64]) -> Vec<f64> {
    let m = spec.nodes.len();
    // Observed column of each node.
    let mut column = vec![usize::MAX; m];
    for (x, &i) in spec.observed.iter().enumerate() {
        column[i] = x;
    }
    let mut loading = vec![f64::NAN; m];
    let mut phi = vec![f64::NAN; m];
    for f in (0..m).filter(|&f| spec.latent[f]) {
        let items: Vec<usize> = spec
            .rows
            .iter()
            .filter_map(|q| match q.kind {
                SemKind::Loading { latent, item } if latent == f => Some(item),
                _ => None,
            })
            .collect();
        let k = items.len();
        let s = DMatrix::from_fn(k, k, |a, b| cov[(column[items[a]], column[items[b]])]);
        let eig = s.clone().symmetric_eigen();
        let top = (0..k)
            .max_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]))
            .unwrap_or(0);
        let e = eig.eigenvalues[top].max(1e-6);
        let mut v: Vec<f64> = (0..k).map(|a| eig.eigenvectors[(a, top)]).collect();
        if v.iter().sum::<f64>() < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        if spec.options.std_lv || v[0].abs() < 1e-3 {
            for (a, &it) in items.iter().enumerate() {
                loading[it] = if spec.options.std_lv {
                    v[a] * e.sqrt()
                } else {
                    1.0
                };
            }
            phi[f] = if spec.options.std_lv {
                1.0
            } else {
                s[(0, 0)] * 0.5
            };
        } else {
            for (a, &it) in items.iter().enumerate() {
                loading[it] = v[a] / v[0];
            }
            phi[f] = e * v[0] * v[0];
        }
    }
    spec.free
        .iter()
        .map(|&k| match spec.rows[k].kind {
            SemKind::Loading { item, .. } => loading[item],
            SemKind::Regression { .. } => 0.0,
            SemKind::Covariance { a, b } if a == b => {
                if spec.latent[a] {
                    phi[a]
                } else if is_item(spec, a) {
                    0.5 * cov[(column[a], column[a])]
                } else {
                    cov[(column[a], column[a])]
                }
            }
            SemKind::Covariance { a, b } => {
                let exogenous_pair = !spec.latent[a]
                    && !spec.latent[b]
                    && !is_item(spec, a)
                    && !is_item(spec, b)
                    && !has_predictors(spec, a)
                    && !has_predictors(spec, b);
                if exogenous_pair {
                    cov[(column[a], column[b])]
                } else {
                    0.0
                }
            }
            SemKind::Intercept { node } => mean[column[node]],
        })
        .collect()
}

fn is_item(spec: &SemSpec, node: usize) -> bool {
    spec.rows
        .iter()
        .any(|q| matches!(q.kind, SemKind::Loading { item, .. } if item == node))
}

fn has_predictors(spec: &SemSpec, node: usize) -> bool {
    spec.rows
        .iter()
        .any(|q| matches!(q.kind, SemKind::Regression { outcome, .. } if outcome == node))
}
