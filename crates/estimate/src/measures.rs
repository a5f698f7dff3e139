//! Fit measures with lavaan's (0.6-14) definitions under `fixed.x = TRUE`.
//!
//! # References
//! lavaan 0.6-14 `lav_fit_measures` (and `lav_fit_rmsea_*`, `lav_fit_cfi`, `lav_fit_srmr_*`); the
//! formulas below were checked numerically against `fitMeasures()` in
//! `tests/reference/formula_checks.json`:
//! * `chisq = N · F_ML(S, Σ̂)` (N, not N − 1); `df = p(p+1)/2 − q(q+1)/2 − npar` with `q` fixed `x`;
//! * baseline: `Σ_b = diag(S_yy) ⊕ S_xx` (independence among the non-fixed variables, the `x` block
//!   fixed), `df_b = p(p+1)/2 − q(q+1)/2 − (p − q)`;
//! * `cfi = 1 − max(χ² − df, 0) / max(χ² − df, χ²_b − df_b, 0)`;
//!   `tli = (χ²_b/df_b − χ²/df) / (χ²_b/df_b − 1)` (1 when df = 0);
//! * `rmsea = sqrt(max((χ² − df) / (N · df), 0))`, 90% CI by inverting the noncentral χ² CDF in its
//!   noncentrality λ (`rmsea = sqrt(λ / (N · df))`), `rmsea.pvalue = P(χ²_df(λ = N·df·0.05²) ≥ χ²)`;
//! * `srmr` (Bentler, lavaan's default): root mean square of `(s_ij − σ̂_ij) / sqrt(s_ii s_jj)` over
//!   the `p(p+1)/2` lower-triangle elements of all observed variables;
//! * `logl` is the log-likelihood of the non-fixed variables given the fixed `x`: the joint normal
//!   log-likelihood minus that of the `x` block at `S_xx`; `aic = −2 logl + 2 npar`,
//!   `bic = −2 logl + npar · ln N`.

use nalgebra::DMatrix;
use statrs::function::gamma::{gamma_ur, ln_gamma};

/// lavaan's `fitMeasures()` for one fit (names as lavaan's, `.` replaced by `_`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitMeasures {
    /// Number of free parameters.
    pub npar: usize,
    /// Minimum of lavaan's fit function, `F_ML / 2`.
    pub fmin: f64,
    /// Likelihood-ratio χ² against the saturated model, `N · F_ML`.
    pub chisq: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// p-value of χ² (`None` when df = 0, as lavaan's `NA`).
    pub pvalue: Option<f64>,
    /// χ² of the baseline (independence) model.
    pub baseline_chisq: f64,
    /// Degrees of freedom of the baseline model.
    pub baseline_df: usize,
    /// p-value of the baseline χ².
    pub baseline_pvalue: Option<f64>,
    /// Comparative fit index.
    pub cfi: f64,
    /// Tucker–Lewis index.
    pub tli: f64,
    /// Root mean square error of approximation.
    pub rmsea: f64,
    /// Lower bound of its 90% confidence interval.
    pub rmsea_ci_lower: f64,
    /// Upper bound of its 90% confidence interval.
    pub rmsea_ci_upper: f64,
    /// p-value of H0: RMSEA ≤ .05 ("p-close"); `None` when df = 0.
    pub rmsea_pvalue: Option<f64>,
    /// Standardized root mean square residual (Bentler).
    pub srmr: f64,
    /// Log-likelihood of the model (conditional on the fixed `x`).
    pub logl: f64,
    /// Log-likelihood of the saturated model (conditional on the fixed `x`).
    pub unrestricted_logl: f64,
    /// Akaike information criterion.
    pub aic: f64,
    /// Bayesian information criterion.
    pub bic: f64,
    /// Sample-size adjusted BIC (`ln((N + 2) / 24)`).
    pub bic2: f64,
    /// Number of observations.
    pub ntotal: usize,
}

fn logdet_and_trace(s: &DMatrix<f64>, sigma: &DMatrix<f64>) -> Option<(f64, f64)> {
    let chol = sigma.clone().cholesky()?;
    let logdet = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let inv = chol.inverse();
    let tr = s.component_mul(&inv).sum();
    Some((logdet, tr))
}

fn logdet(m: &DMatrix<f64>) -> f64 {
    m.clone()
        .cholesky()
        .map(|c| 2.0 * c.l().diagonal().iter().map(|v| v.ln()).sum::<f64>())
        .unwrap_or(f64::NAN)
}

/// Computes the fit measures of a fit with implied covariance `sigma` to sample covariance `s` of
/// `n` observations; `fixed_x[i]` marks the fixed exogenous variables.
pub(crate) fn fit_measures(
    s: &DMatrix<f64>,
    sigma: &DMatrix<f64>,
    n: usize,
    fixed_x: &[bool],
    npar: usize,
    df: usize,
) -> FitMeasures {
    let p = s.nrows();
    let nf = n as f64;
    let pf = p as f64;
    let logdet_s = logdet(s);
    let (logdet_sigma, tr) = logdet_and_trace(s, sigma).unwrap_or((f64::NAN, f64::NAN));
    let f_ml = (logdet_sigma + tr - logdet_s - pf).max(0.0);
    let chisq = nf * f_ml;
    let pvalue = (df > 0).then(|| chisq_sf(chisq, df as f64));

    // Baseline: diag(S) for non-fixed variables, S_xx block for fixed x.
    let xs: Vec<usize> = (0..p).filter(|&i| fixed_x[i]).collect();
    let q = xs.len();
    let sb = DMatrix::from_fn(p, p, |i, j| {
        if i == j || (fixed_x[i] && fixed_x[j]) {
            s[(i, j)]
        } else {
            0.0
        }
    });
    let (logdet_b, tr_b) = logdet_and_trace(s, &sb).unwrap_or((f64::NAN, f64::NAN));
    let baseline_chisq = nf * (logdet_b + tr_b - logdet_s - pf).max(0.0);
    let baseline_df = p * (p + 1) / 2 - q * (q + 1) / 2 - (p - q);
    let baseline_pvalue = (baseline_df > 0).then(|| chisq_sf(baseline_chisq, baseline_df as f64));

    let dff = df as f64;
    let dfb = baseline_df as f64;
    let num = (chisq - dff).max(0.0);
    let den = (chisq - dff).max(baseline_chisq - dfb).max(0.0);
    let cfi = if den > 0.0 { 1.0 - num / den } else { 1.0 };
    let tli = if df > 0 && dfb > 0.0 {
        let t1 = baseline_chisq / dfb;
        (t1 - chisq / dff) / (t1 - 1.0)
    } else {
        1.0
    };
    let (rmsea, rmsea_ci_lower, rmsea_ci_upper, rmsea_pvalue) = if df > 0 {
        let rmsea = ((chisq - dff) / (nf * dff)).max(0.0).sqrt();
        let lower = (noncentrality_for(chisq, dff, 0.95) / (nf * dff)).sqrt();
        let upper = (noncentrality_for(chisq, dff, 0.05) / (nf * dff)).sqrt();
        let pclose = 1.0 - noncentral_chisq_cdf(chisq, dff, nf * dff * 0.05 * 0.05);
        (rmsea, lower, upper, Some(pclose))
    } else {
        (0.0, 0.0, 0.0, None)
    };

    let mut ss = 0.0;
    for j in 0..p {
        for i in j..p {
            let r = (s[(i, j)] - sigma[(i, j)]) / (s[(i, i)] * s[(j, j)]).sqrt();
            ss += r * r;
        }
    }
    let srmr = (ss / (pf * (pf + 1.0) / 2.0)).sqrt();

    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let logl_x = if q > 0 {
        let sxx = DMatrix::from_fn(q, q, |i, j| s[(xs[i], xs[j])]);
        -nf / 2.0 * (q as f64 * ln2pi + logdet(&sxx) + q as f64)
    } else {
        0.0
    };
    let logl = -nf / 2.0 * (pf * ln2pi + logdet_sigma + tr) - logl_x;
    let unrestricted_logl = -nf / 2.0 * (pf * ln2pi + logdet_s + pf) - logl_x;
    let k = npar as f64;
    FitMeasures {
        npar,
        fmin: f_ml / 2.0,
        chisq,
        df,
        pvalue,
        baseline_chisq,
        baseline_df,
        baseline_pvalue,
        cfi,
        tli,
        rmsea,
        rmsea_ci_lower,
        rmsea_ci_upper,
        rmsea_pvalue,
        srmr,
        logl,
        unrestricted_logl,
        aic: -2.0 * logl + 2.0 * k,
        bic: -2.0 * logl + k * nf.ln(),
        bic2: -2.0 * logl + k * ((nf + 2.0) / 24.0).ln(),
        ntotal: n,
    }
}

/// The Yuan–Bentler scaled test (lavaan's `test = "yuan.bentler.mplus"`, the default with
/// `cluster =`) and the robust fit measures built on it.
///
/// # References
/// lavaan 0.6-14: `lav_test_yuan_bentler` (`scaling.factor = tr(UΓ)/df`,
/// `chisq.scaled = chisq / scaling.factor`; `NA` when df = 0); `lav_fit_cfi`, `lav_fit_tli` and
/// `lav_fit_rmsea` with `c.hat` = the scaling factors of the user and baseline models (Brosseau-Liard
/// & Savalei 2014; Brosseau-Liard, Savalei & Li 2012):
/// * `cfi.robust = 1 − max(χ² − c·df, 0) / max(χ² − c·df, χ²_b − c_b·df_b, 0)` (1 when both are 0);
/// * `tli.robust = 1 − (χ² − c·df)·df_b / ((χ²_b − c_b·df_b)·df)`;
/// * `rmsea.robust = sqrt(max(χ²/(N·df) − c/N, 0))`,
///
/// with the unscaled χ² of the user (`χ²`) and baseline (`χ²_b`) models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RobustMeasures {
    /// `tr(UΓ)` of the user model (the sum of the eigenvalues the scaling averages).
    pub trace_ugamma: f64,
    /// Scaling correction factor `c = tr(UΓ)/df` (`None` when df = 0).
    pub chisq_scaling_factor: Option<f64>,
    /// `χ² / c` (`None` when df = 0).
    pub chisq_scaled: Option<f64>,
    /// p-value of the scaled χ² on df degrees of freedom.
    pub pvalue_scaled: Option<f64>,
    /// Scaling correction factor of the baseline model.
    pub baseline_chisq_scaling_factor: Option<f64>,
    /// Scaled χ² of the baseline model.
    pub baseline_chisq_scaled: Option<f64>,
    /// Robust comparative fit index.
    pub cfi_robust: Option<f64>,
    /// Robust Tucker–Lewis index.
    pub tli_robust: Option<f64>,
    /// Robust RMSEA.
    pub rmsea_robust: Option<f64>,
}

/// The scaled test and robust fit measures of a fit with measures `m`, from `tr(UΓ)` of the user
/// model (`trace`) and of the baseline model (`baseline_trace`); see [`RobustMeasures`].
pub(crate) fn robust_measures(m: &FitMeasures, trace: f64, baseline_trace: f64) -> RobustMeasures {
    let factor = |tr: f64, df: usize| (df > 0 && tr > 0.0).then(|| tr / df as f64);
    let c = factor(trace, m.df);
    let cb = factor(baseline_trace, m.baseline_df);
    let chisq_scaled = c.map(|c| m.chisq / c);
    let (df, dfb, n) = (m.df as f64, m.baseline_df as f64, m.ntotal as f64);
    let (cfi_robust, tli_robust, rmsea_robust) = match (c, cb) {
        (Some(c), Some(cb)) => {
            let t1 = (m.chisq - c * df).max(0.0);
            let t2 = (m.chisq - c * df).max(m.baseline_chisq - cb * dfb).max(0.0);
            let cfi = if t1.abs() < 1e-8 && t2.abs() < 1e-8 {
                1.0
            } else {
                1.0 - t1 / t2
            };
            let u1 = (m.chisq - c * df) * dfb;
            let u2 = (m.baseline_chisq - cb * dfb) * df;
            let tli = if u2.abs() > 0.0 { 1.0 - u1 / u2 } else { 1.0 };
            let rmsea = (m.chisq / n / df - c / n).max(0.0).sqrt();
            (Some(cfi), Some(tli), Some(rmsea))
        }
        _ => (None, None, None),
    };
    RobustMeasures {
        trace_ugamma: trace,
        chisq_scaling_factor: c,
        chisq_scaled,
        pvalue_scaled: chisq_scaled.map(|x| chisq_sf(x, df)),
        baseline_chisq_scaling_factor: cb,
        baseline_chisq_scaled: cb.map(|cb| m.baseline_chisq / cb),
        cfi_robust,
        tli_robust,
        rmsea_robust,
    }
}

/// Upper tail of the central χ² distribution.
pub(crate) fn chisq_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else {
        gamma_ur(df / 2.0, x / 2.0)
    }
}

/// CDF of the noncentral χ² distribution with `df` degrees of freedom and noncentrality `lambda`:
/// a Poisson(λ/2) mixture of central χ² CDFs with `df + 2j` degrees of freedom, summed outward
/// from the Poisson mode until the weights are negligible.
pub fn noncentral_chisq_cdf(x: f64, df: f64, lambda: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let cdf_central = |k: f64| 1.0 - gamma_ur(k / 2.0, x / 2.0);
    if lambda <= 0.0 {
        return cdf_central(df);
    }
    let h = lambda / 2.0;
    let mode = h.floor();
    let weight = |j: f64| (-h + j * h.ln() - ln_gamma(j + 1.0)).exp();
    let mut total = 0.0;
    let mut j = mode;
    loop {
        let w = weight(j);
        total += w * cdf_central(df + 2.0 * j);
        if (w < 1e-17 && j > mode) || j > mode + 10_000.0 {
            break;
        }
        j += 1.0;
    }
    let mut j = mode - 1.0;
    while j >= 0.0 {
        let w = weight(j);
        total += w * cdf_central(df + 2.0 * j);
        if w < 1e-17 {
            break;
        }
        j -= 1.0;
    }
    total.clamp(0.0, 1.0)
}

/// The noncentrality `λ ≥ 0` with `P(χ²_df(λ) ≤ x) = prob` (0 when even λ = 0 gives less).
pub(crate) fn noncentrality_for(x: f64, df: f64, prob: f64) -> f64 {
    let f = |l: f64| noncentral_chisq_cdf(x, df, l) - prob;
    if f(0.0) <= 0.0 {
        return 0.0;
    }
    let mut hi = x.max(1.0);
    while f(hi) > 0.0 {
        hi *= 2.0;
        if hi > 1e8 {
            return hi;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}
