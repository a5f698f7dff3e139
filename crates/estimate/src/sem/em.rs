//! The saturated (H1) model under missing data: mean vector and covariance matrix by the EM
//! algorithm, and the pattern-wise normal log-likelihood.
//!
//! E-step per pattern `g` with observed `o` and missing `m` columns: `B = Σ_mo Σ_oo⁻¹`,
//! `C = Σ_mm − B Σ_om`; the expected sufficient statistics of its `n_g` rows follow from the
//! pattern's mean `x̄_o` and covariance `S_o` alone: `E Σ x_m = n_g (μ_m + B (x̄_o − μ_o))`,
//! `E Σ x_m x_mᵀ = n_g [x̂_m x̂_mᵀ + B S_o Bᵀ + C]`, `E Σ x_o x_mᵀ = n_g [x̄_o x̂_mᵀ + S_o Bᵀ]`.
//! The M-step sets `μ = T₁/N`, `Σ = T₂/N − μ μᵀ`. Iterated until no element changes by more than
//! `1e-13` relative (EM increases the likelihood at every step).
//!
//! # References
//! Dempster, Laird & Rubin (1977); Little & Rubin (2002), *Statistical Analysis with Missing
//! Data*, §11.2; lavaan 0.6-14 `lav_mvnorm_missing_h1_estimate_moments`.

use super::data::PatternData;
use super::ml::spd_inverse;
use crate::linalg::{cholesky_in_place, cholesky_inverse, cholesky_logdet};
use crate::EvalError;
use nalgebra::{DMatrix, DVector};

/// The EM estimates of the saturated model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Saturated {
    pub(crate) mean: Vec<f64>,
    pub(crate) cov: DMatrix<f64>,
    pub(crate) iterations: usize,
}

/// EM estimates of `μ` and `Σ` from pattern data.
///
/// # Errors
/// [`EvalError::TooFewCases`] when a variable is never observed, or the estimate is singular
/// (too few rows observe some pair of variables).
pub(crate) fn saturated(data: &PatternData, names: &[&str]) -> Result<Saturated, EvalError> {
    let p = data.p;
    let nf = data.n as f64;
    let counts = data.column_counts();
    if let Some(j) = (0..p).find(|&j| counts[j] < 2) {
        return Err(EvalError::TooFewCases {
            reason: format!("variable '{}' is observed in {} rows", names[j], counts[j]),
        });
    }
    // Start: available-case means and variances, no covariances.
    let mut mean = vec![0.0; p];
    let mut var = vec![0.0; p];
    for g in &data.patterns {
        for (a, &j) in g.columns.iter().enumerate() {
            mean[j] += g.n as f64 * g.mean[a];
        }
    }
    for j in 0..p {
        mean[j] /= counts[j] as f64;
    }
    for g in &data.patterns {
        for (a, &j) in g.columns.iter().enumerate() {
            let d = g.mean[a] - mean[j];
            var[j] += g.n as f64 * (g.cov[(a, a)] + d * d);
        }
    }
    let mut cov = DMatrix::from_fn(p, p, |i, j| {
        if i == j {
            var[i] / counts[i] as f64
        } else {
            0.0
        }
    });
    let singular = || EvalError::TooFewCases {
        reason: "the EM estimate of the covariance matrix is singular: too few rows observe some \
                 pair of variables together"
            .into(),
    };
    for iteration in 1..=10_000 {
        let mut t1 = DVector::<f64>::zeros(p);
        let mut t2 = DMatrix::<f64>::zeros(p, p);
        for g in &data.patterns {
            let o = &g.columns;
            let miss: Vec<usize> = (0..p).filter(|j| !o.contains(j)).collect();
            let ng = g.n as f64;
            let (k, r) = (o.len(), miss.len());
            let s_oo = DMatrix::from_fn(k, k, |a, b| cov[(o[a], o[b])]);
            let s_mo = DMatrix::from_fn(r, k, |a, b| cov[(miss[a], o[b])]);
            let w = spd_inverse(&s_oo).ok_or_else(singular)?;
            let bm = &s_mo * &w;
            let c = DMatrix::from_fn(r, r, |a, b| cov[(miss[a], miss[b])]) - &bm * s_mo.transpose();
            let xo = DVector::from_column_slice(&g.mean);
            let mo = DVector::from_fn(k, |a, _| mean[o[a]]);
            let xm = DVector::from_fn(r, |a, _| mean[miss[a]]) + &bm * (&xo - &mo);
            // Full expected mean and second moments of the pattern (per row).
            let mut x = DVector::zeros(p);
            for a in 0..k {
                x[o[a]] = xo[a];
            }
            for a in 0..r {
                x[miss[a]] = xm[a];
            }
            let mut second = &x * x.transpose();
            let sbt = &g.cov * bm.transpose();
            for a in 0..k {
                for b in 0..k {
                    second[(o[a], o[b])] += g.cov[(a, b)];
                }
                for b in 0..r {
                    second[(o[a], miss[b])] += sbt[(a, b)];
                    second[(miss[b], o[a])] += sbt[(a, b)];
                }
            }
            let bsb = &bm * &sbt;
            for a in 0..r {
                for b in 0..r {
                    second[(miss[a], miss[b])] += bsb[(a, b)] + c[(a, b)];
                }
            }
            t1 += ng * x;
            t2 += ng * second;
        }
        let new_mean: Vec<f64> = t1.iter().map(|v| v / nf).collect();
        let new_cov = DMatrix::from_fn(p, p, |i, j| t2[(i, j)] / nf - new_mean[i] * new_mean[j]);
        let mut change = 0.0f64;
        for i in 0..p {
            let scale = cov[(i, i)].sqrt();
            change = change.max((new_mean[i] - mean[i]).abs() / scale);
            for j in 0..p {
                let s2 = (cov[(i, i)] * cov[(j, j)]).sqrt();
                change = change.max((new_cov[(i, j)] - cov[(i, j)]).abs() / s2);
            }
        }
        mean = new_mean;
        cov = DMatrix::from_fn(p, p, |i, j| 0.5 * (new_cov[(i, j)] + new_cov[(j, i)]));
        if change < 1e-13 {
            return Ok(Saturated {
                mean,
                cov,
                iterations: iteration,
            });
        }
    }
    Ok(Saturated {
        mean,
        cov,
        iterations: 10_000,
    })
}

/// The pattern-wise normal log-likelihood of `mean`, `cov` (`None` if some block is not positive
/// definite).
pub(crate) fn loglik(data: &PatternData, mean: &[f64], cov: &DMatrix<f64>) -> Option<f64> {
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let mut total = 0.0;
    for g in &data.patterns {
        let o = &g.columns;
        let k = o.len();
        let mut u = DMatrix::from_fn(k, k, |a, b| cov[(o[a], o[b])]);
        if cholesky_in_place(&mut u, k).is_some() {
            return None;
        }
        let mut w = DMatrix::zeros(k, k);
        cholesky_inverse(&u, k, &mut w);
        let mut tr = 0.0;
        for a in 0..k {
            let da = g.mean[a] - mean[o[a]];
            for b in 0..k {
                let db = g.mean[b] - mean[o[b]];
                tr += w[(a, b)] * (g.cov[(b, a)] + da * db);
            }
        }
        total -= 0.5 * g.n as f64 * (k as f64 * ln2pi + cholesky_logdet(&u, k) + tr);
    }
    Some(total)
}

/// Log-likelihood of the baseline (independence) model under FIML: every non-fixed variable its
/// own mean and variance (available cases, N denominator: the ML estimates, as the likelihood
/// factorises), the fixed `x` block at its sample moments.
pub(crate) fn baseline_loglik(data: &PatternData, fixed_x: &[bool]) -> f64 {
    let p = data.p;
    let mut mean = vec![0.0; p];
    let counts = data.column_counts();
    for g in &data.patterns {
        for (a, &j) in g.columns.iter().enumerate() {
            mean[j] += g.n as f64 * g.mean[a] / counts[j] as f64;
        }
    }
    let mut cov = DMatrix::zeros(p, p);
    for g in &data.patterns {
        for (a, &j) in g.columns.iter().enumerate() {
            for (b, &l) in g.columns.iter().enumerate() {
                if j == l || (fixed_x[j] && fixed_x[l]) {
                    let (dj, dl) = (g.mean[a] - mean[j], g.mean[b] - mean[l]);
                    cov[(j, l)] += g.n as f64 * (g.cov[(a, b)] + dj * dl) / counts[j] as f64;
                }
            }
        }
    }
    loglik(data, &mean, &cov).unwrap_or(f64::NAN)
}
