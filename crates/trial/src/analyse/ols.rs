//! Ordinary least squares from cross-products, and the CR2 cluster-robust covariance with
//! Satterthwaite degrees of freedom.
//!
//! # References
//! - Bell & McCaffrey (2002), *Survey Methodology* 28:169–181 (CR2, "bias-reduced linearization").
//! - Pustejovsky & Tipton (2018), *J Bus Econ Stat* 36:672–683, as in clubSandwich 0.5
//!   (`vcovCR(type = "CR2")`, `coef_test(test = "Satterthwaite")`) with the working model
//!   `Φ = I` of an unweighted `lm`:
//!   `A_j = (I − H_jj)^{-1/2}` (symmetric root), `V = M Σ_j X_jᵀA_j e_j e_jᵀA_j X_j M`,
//!   `M = (XᵀX)⁻¹`, and for a contrast `c`, `p_j = (I − H)_jᵀ A_j X_j M c`,
//!   `df = (Σ_j p_jᵀp_j)² / Σ_i Σ_j (p_iᵀp_j)²` (clubSandwich `Satterthwaite`: `2E²/V`).
//!
//! Everything is computed from per-cluster sufficient statistics: `H_jj = X_j M X_jᵀ` has rank
//! ≤ p, so with `M = LLᵀ` and `K_j = LᵀSxx_jL`, `A_j = I + X_j B_j X_jᵀ` with
//! `B_j = L f(K_j) Lᵀ`, `f(λ) = ((1 − λ)^{-1/2} − 1)/λ`. Then `p_iᵀp_j = δᵢⱼ sᵢ − uᵢᵀ M uⱼ`
//! with `v_j = (I + B_j Sxx_j) M c`, `s_j = v_jᵀ Sxx_j v_j`, `u_j = Sxx_j v_j`.

use super::linalg::{
    chol_inverse, chol_solve, cholesky, mul, mul_vec, quad, sym_eigen, sym_eigen3, Mat, Vect,
    ZERO_MAT, ZERO_VEC,
};
use super::reml::ClusterStats;
use super::AnalysisError;

/// An OLS fit.
#[derive(Debug, Clone, Copy)]
pub struct OlsFit {
    /// Number of coefficients.
    pub p: usize,
    /// Coefficients.
    pub beta: Vect,
    /// `(XᵀX)⁻¹`.
    pub xtx_inv: Mat,
    /// Residual variance `RSS / (n − p)`.
    pub sigma2: f64,
    /// Observations.
    pub n_obs: usize,
}

impl OlsFit {
    /// Residual degrees of freedom `n − p`.
    pub fn df_resid(&self) -> f64 {
        self.n_obs as f64 - self.p as f64
    }

    /// Classical standard error of coefficient `i`.
    pub fn std_error(&self, i: usize) -> f64 {
        (self.sigma2 * self.xtx_inv[i][i]).sqrt()
    }
}

/// OLS from `XᵀX`, `Xᵀy`, `yᵀy` and `n`.
pub fn ols_from_moments(
    xtx: &Mat,
    xty: &Vect,
    yty: f64,
    n: usize,
    p: usize,
    what: &'static str,
) -> Result<OlsFit, AnalysisError> {
    if n <= p {
        return Err(AnalysisError::TooFewObservations {
            what,
            n,
            needed: p + 1,
        });
    }
    let l = cholesky(xtx, p).ok_or(AnalysisError::RankDeficient { what })?;
    let beta = chol_solve(&l, p, xty);
    let rss = yty - (0..p).map(|i| beta[i] * xty[i]).sum::<f64>();
    Ok(OlsFit {
        p,
        beta,
        xtx_inv: chol_inverse(&l, p),
        sigma2: rss.max(0.0) / (n - p) as f64,
        n_obs: n,
    })
}

/// OLS on rows (`x` row-major, `p` columns).
pub fn ols_rows(
    x: &[f64],
    y: &[f64],
    p: usize,
    what: &'static str,
) -> Result<OlsFit, AnalysisError> {
    let mut xtx = ZERO_MAT;
    let mut xty = ZERO_VEC;
    let mut yty = 0.0;
    for (row, &yi) in x.chunks_exact(p).zip(y) {
        yty += yi * yi;
        for i in 0..p {
            xty[i] += row[i] * yi;
            for j in 0..p {
                xtx[i][j] += row[i] * row[j];
            }
        }
    }
    ols_from_moments(&xtx, &xty, yty, y.len(), p, what)
}

/// One cluster's CR2 pieces.
#[derive(Debug, Clone, Copy)]
struct Cr2Cluster {
    sxx: Mat,
    b: Mat,
}

/// OLS with the CR2 cluster-robust covariance (clubSandwich `vcovCR(type = "CR2")`).
#[derive(Debug, Clone, Default)]
pub struct Cr2Fit {
    /// The OLS fit (`None` before [`Cr2Fit::fit`]).
    pub ols: Option<OlsFit>,
    /// CR2 covariance of β̂.
    pub vcov: Mat,
    clusters: Vec<Cr2Cluster>,
}

/// `f(λ) = ((1 − λ)^{-1/2} − 1)/λ`, by its series near 0 and with clubSandwich's pseudo-inverse
/// convention (`(1 − λ)^{-1/2} → 0`) at leverage 1.
fn cr2_f(lambda: f64) -> f64 {
    if lambda.abs() < 1e-6 {
        0.5 + 0.375 * lambda + 0.3125 * lambda * lambda
    } else if 1.0 - lambda < 1e-10 {
        -1.0 / lambda
    } else {
        (1.0 / (1.0 - lambda).sqrt() - 1.0) / lambda
    }
}

impl Cr2Fit {
    /// Fits OLS and its CR2 covariance from per-cluster statistics, reusing this value's buffers.
    pub fn fit(&mut self, stats: &ClusterStats) -> Result<(), AnalysisError> {
        let p = stats.p();
        let what = "OLS ANCOVA with CR2";
        let (xtx, xty, yty) = stats.pooled();
        let ols = ols_from_moments(&xtx, &xty, yty, stats.n_obs() as usize, p, what)?;
        let beta = ols.beta;
        let parts = (0..stats.n_clusters()).filter_map(|j| {
            let (n, _, sxx_s, sxy_s, _, _) = stats.cluster_slices(j);
            if n == 0.0 {
                return None;
            }
            let mut sxx = ZERO_MAT;
            let mut xe = ZERO_VEC;
            for i in 0..p {
                sxx[i][..p].copy_from_slice(&sxx_s[i * p..(i + 1) * p]);
                xe[i] = sxy_s[i] - (0..p).map(|k| sxx_s[i * p + k] * beta[k]).sum::<f64>();
            }
            Some((sxx, xe))
        });
        self.fit_parts(ols, parts, what)
    }

    /// The CR2 covariance of a linear estimator with bread `ols.xtx_inv`, given each cluster's
    /// `X_jᵀX_j` and `X_jᵀe_j` (for 2SLS, X is the projected design and e the structural
    /// residuals, as clubSandwich's `ivreg` method).
    pub fn fit_parts(
        &mut self,
        ols: OlsFit,
        parts: impl Iterator<Item = (Mat, Vect)>,
        what: &'static str,
    ) -> Result<(), AnalysisError> {
        let p = ols.p;
        let m = ols.xtx_inv;
        let lm = cholesky(&m, p).ok_or(AnalysisError::RankDeficient { what })?;
        let mut lt = ZERO_MAT;
        for i in 0..p {
            for k in 0..p {
                lt[i][k] = lm[k][i];
            }
        }
        self.clusters.clear();
        let mut meat = ZERO_MAT;
        for (sxx, xe) in parts {
            // K = Lᵀ Sxx L, B = L f(K) Lᵀ
            let kmat = mul(&mul(&lt, &sxx, p), &lm, p);
            let (vals, vecs) = if p == 3 {
                sym_eigen3(&kmat).unwrap_or_else(|| sym_eigen(&kmat, p))
            } else {
                sym_eigen(&kmat, p)
            };
            let mut fk = ZERO_MAT;
            for i in 0..p {
                for k in 0..p {
                    fk[i][k] = (0..p)
                        .map(|r| vecs[i][r] * cr2_f(vals[r]) * vecs[k][r])
                        .sum();
                }
            }
            let b = mul(&mul(&lm, &fk, p), &lt, p);
            // X_jᵀ A_j e_j = (I + Sxx B) X_jᵀ e_j
            let corr = mul_vec(&sxx, &mul_vec(&b, &xe, p), p);
            let mut g = ZERO_VEC;
            for i in 0..p {
                g[i] = xe[i] + corr[i];
            }
            for i in 0..p {
                for k in 0..p {
                    meat[i][k] += g[i] * g[k];
                }
            }
            self.clusters.push(Cr2Cluster { sxx, b });
        }
        self.vcov = mul(&mul(&m, &meat, p), &m, p);
        self.ols = Some(ols);
        Ok(())
    }

    /// CR2 variance of `cᵀβ̂` and its Satterthwaite df (clubSandwich `coef_test`).
    pub fn test(&self, c: &Vect) -> Option<(f64, f64)> {
        let ols = self.ols.as_ref()?;
        let p = ols.p;
        let m = &ols.xtx_inv;
        let mc = mul_vec(m, c, p);
        let mut sum_s = 0.0;
        let mut sum_s2 = 0.0;
        let mut cross = 0.0;
        let mut big_s = ZERO_MAT;
        for cl in &self.clusters {
            let bsmc = mul_vec(&cl.b, &mul_vec(&cl.sxx, &mc, p), p);
            let mut v = ZERO_VEC;
            for i in 0..p {
                v[i] = mc[i] + bsmc[i];
            }
            let u = mul_vec(&cl.sxx, &v, p);
            let s: f64 = (0..p).map(|i| v[i] * u[i]).sum();
            sum_s += s;
            sum_s2 += s * s;
            cross += s * quad(&u, m, &u, p);
            for i in 0..p {
                for k in 0..p {
                    big_s[i][k] += u[i] * u[k];
                }
            }
        }
        let ms = mul(m, &big_s, p);
        let tr_ms2 = super::linalg::trace_mul(&ms, &ms, p);
        let denom = sum_s2 - 2.0 * cross + tr_ms2;
        // E = Σ_j p_jᵀp_j = Σ_j s_j − tr(M S)
        let expectation = sum_s - super::linalg::trace_mul(m, &big_s, p);
        Some((quad(c, &self.vcov, c, p), expectation * expectation / denom))
    }
}
