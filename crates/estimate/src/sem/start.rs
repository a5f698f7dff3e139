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
    let structural = Structural::new(spec, cov, &column, &loading, &phi);
    spec.free
        .iter()
        .map(|&k| match spec.rows[k].kind {
            SemKind::Loading { item, .. } => loading[item],
            SemKind::Regression { outcome, predictor } => structural.beta(outcome, predictor),
            SemKind::Covariance { a, b } if a == b && has_predictors(spec, a) => {
                structural.residual_covariance(a, a)
            }
            SemKind::Covariance { a, b } if has_predictors(spec, a) && has_predictors(spec, b) => {
                structural.residual_covariance(a, b)
            }
            SemKind::Covariance { a, b } if spec.latent[a] && spec.latent[b] => {
                structural.c[(a, b)]
            }
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

/// Start values of the structural part from a moment estimate `C` of the structural variables'
/// covariance matrix: latent (co)variances from item covariances divided by the start loadings,
/// then per outcome least squares `β = C_PP⁻¹ C_Py` and the implied residual (co)variances.
struct Structural {
    c: DMatrix<f64>,
    /// Per structural node: its predictors and their least-squares coefficients.
    equations: Vec<(Vec<usize>, Vec<f64>)>,
}

impl Structural {
    fn new(
        spec: &SemSpec,
        cov: &DMatrix<f64>,
        column: &[usize],
        loading: &[f64],
        phi: &[f64],
    ) -> Structural {
        let m = spec.nodes.len();
        // Each node as (observed columns, loadings): a latent by its items, an observed by itself.
        let indicators: Vec<Vec<(usize, f64)>> = (0..m)
            .map(|f| {
                if spec.latent[f] {
                    spec.rows
                        .iter()
                        .filter_map(|q| match q.kind {
                            SemKind::Loading { latent, item } if latent == f => {
                                Some((column[item], loading[item]))
                            }
                            _ => None,
                        })
                        .collect()
                } else if column[f] != usize::MAX {
                    vec![(column[f], 1.0)]
                } else {
                    Vec::new()
                }
            })
            .collect();
        let c = DMatrix::from_fn(m, m, |f, g| {
            if f == g && spec.latent[f] {
                return phi[f];
            }
            let (xs, ys) = (&indicators[f], &indicators[g]);
            let mut sum = 0.0;
            let mut count = 0.0;
            for &(i, li) in xs {
                for &(j, lj) in ys {
                    if i != j || f == g {
                        sum += cov[(i, j)] / (li * lj);
                        count += 1.0;
                    }
                }
            }
            if count > 0.0 {
                sum / count
            } else {
                0.0
            }
        });
        let equations = (0..m)
            .map(|y| {
                let preds: Vec<usize> = spec
                    .rows
                    .iter()
                    .filter_map(|q| match q.kind {
                        SemKind::Regression { outcome, predictor } if outcome == y => {
                            Some(predictor)
                        }
                        _ => None,
                    })
                    .collect();
                let k = preds.len();
                let cpp = DMatrix::from_fn(k, k, |a, b| c[(preds[a], preds[b])]);
                let cpy = nalgebra::DVector::from_fn(k, |a, _| c[(preds[a], y)]);
                let beta = cpp
                    .cholesky()
                    .map(|ch| ch.solve(&cpy).iter().copied().collect())
                    .unwrap_or_else(|| vec![0.0; k]);
                (preds, beta)
            })
            .collect();
        Structural { c, equations }
    }

    fn beta(&self, outcome: usize, predictor: usize) -> f64 {
        let (preds, beta) = &self.equations[outcome];
        let b = preds
            .iter()
            .position(|&p| p == predictor)
            .map_or(0.0, |k| beta[k]);
        if b.is_finite() {
            b
        } else {
            0.0
        }
    }

    /// `Cov(ζ_a, ζ_b) = C_ab − β_aᵀ C_{P_a b} − β_bᵀ C_{P_b a} + β_aᵀ C_{P_a P_b} β_b`; a variance
    /// is kept above a tenth of the total.
    fn residual_covariance(&self, a: usize, b: usize) -> f64 {
        let (pa, ba) = &self.equations[a];
        let (pb, bb) = &self.equations[b];
        let c = &self.c;
        let mut v = c[(a, b)];
        for (i, &x) in pa.iter().enumerate() {
            v -= ba[i] * c[(x, b)];
        }
        for (j, &z) in pb.iter().enumerate() {
            v -= bb[j] * c[(z, a)];
        }
        for (i, &x) in pa.iter().enumerate() {
            for (j, &z) in pb.iter().enumerate() {
                v += ba[i] * c[(x, z)] * bb[j];
            }
        }
        if a == b {
            v.max(0.1 * c[(a, a)])
        } else if v.is_finite() {
            v
        } else {
            0.0
        }
    }
}
