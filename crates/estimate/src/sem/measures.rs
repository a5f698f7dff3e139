//! Fit measures of latent-variable fits: complete data as path models (`crate::measures`, SRMR
//! with the mean residuals when there is a mean structure), FIML from log-likelihoods.
//!
//! # References
//! lavaan 0.6-14 `lav_fit_measures`: under `missing = "ml"` `chisq = 2 (logl_H1 − logl_H0)` with
//! H1 the EM estimates, the baseline the independence model fitted by FIML; `srmr` (Bentler) uses
//! the H1 moments as the sample moments and, with a mean structure, adds the `p` standardized mean
//! residuals `(m_i − μ̂_i) / √s_ii` (denominator `p(p+1)/2 + p`). Checked against
//! `tests/reference/latent_*.json`.

use crate::measures::{chisq_sf, noncentral_chisq_cdf, noncentrality_for, FitMeasures};
use nalgebra::DMatrix;

/// SRMR (Bentler) of `sigma`, `mu` against `s`, `m`; the means enter when `means` is true.
pub(crate) fn srmr(
    s: &DMatrix<f64>,
    sigma: &DMatrix<f64>,
    m: &[f64],
    mu: &[f64],
    means: bool,
) -> f64 {
    let p = s.nrows();
    let mut ss = 0.0;
    for j in 0..p {
        for i in j..p {
            let r = (s[(i, j)] - sigma[(i, j)]) / (s[(i, i)] * s[(j, j)]).sqrt();
            ss += r * r;
        }
    }
    let mut count = p * (p + 1) / 2;
    if means {
        for i in 0..p {
            let r = (m[i] - mu[i]) / s[(i, i)].sqrt();
            ss += r * r;
        }
        count += p;
    }
    (ss / count as f64).sqrt()
}

/// The log-likelihood based inputs of [`from_loglik`].
pub(crate) struct Logliks {
    pub(crate) h0: f64,
    pub(crate) h1: f64,
    pub(crate) baseline: f64,
}

/// Fit measures from the log-likelihoods of the model, the saturated and the baseline model.
pub(crate) fn from_loglik(
    ll: &Logliks,
    n: usize,
    npar: usize,
    df: usize,
    baseline_df: usize,
    srmr: f64,
) -> FitMeasures {
    let nf = n as f64;
    let chisq = (2.0 * (ll.h1 - ll.h0)).max(0.0);
    let baseline_chisq = (2.0 * (ll.h1 - ll.baseline)).max(0.0);
    let (dff, dfb) = (df as f64, baseline_df as f64);
    let num = (chisq - dff).max(0.0);
    let den = (chisq - dff).max(baseline_chisq - dfb).max(0.0);
    let cfi = if den > 0.0 { 1.0 - num / den } else { 1.0 };
    let tli = if df > 0 && baseline_df > 0 {
        let t1 = baseline_chisq / dfb;
        (t1 - chisq / dff) / (t1 - 1.0)
    } else {
        1.0
    };
    let (rmsea, lo, hi, pclose) = if df > 0 {
        (
            ((chisq - dff) / (nf * dff)).max(0.0).sqrt(),
            (noncentrality_for(chisq, dff, 0.95) / (nf * dff)).sqrt(),
            (noncentrality_for(chisq, dff, 0.05) / (nf * dff)).sqrt(),
            Some(1.0 - noncentral_chisq_cdf(chisq, dff, nf * dff * 0.05 * 0.05)),
        )
    } else {
        (0.0, 0.0, 0.0, None)
    };
    let k = npar as f64;
    FitMeasures {
        npar,
        fmin: chisq / (2.0 * nf),
        chisq,
        df,
        pvalue: (df > 0).then(|| chisq_sf(chisq, dff)),
        baseline_chisq,
        baseline_df,
        baseline_pvalue: (baseline_df > 0).then(|| chisq_sf(baseline_chisq, dfb)),
        cfi,
        tli,
        rmsea,
        rmsea_ci_lower: lo,
        rmsea_ci_upper: hi,
        rmsea_pvalue: pclose,
        srmr,
        logl: ll.h0,
        unrestricted_logl: ll.h1,
        aic: -2.0 * ll.h0 + 2.0 * k,
        bic: -2.0 * ll.h0 + k * nf.ln(),
        bic2: -2.0 * ll.h0 + k * ((nf + 2.0) / 24.0).ln(),
        ntotal: n,
    }
}
