//! Random-effects meta-analysis of `k` estimates `y_i` with sampling variances `v_i`, as
//! metafor's `rma.uni` (intercept-only model).
//!
//! Model: `y_i = μ + u_i + e_i`, `u_i ~ N(0, τ²)`, `e_i ~ N(0, v_i)`. Estimators of τ²:
//! * fixed effect (`FE`): τ² = 0;
//! * DerSimonian–Laird (`DL`): `τ² = max(0, (Q − (k−1)) / (Σw − Σw²/Σw))` with `w = 1/v`;
//! * restricted ML (`REML`): Fisher scoring from the Hedges estimator, step
//!   `Δ = (y'PPy − tr P) / tr(PP)` halved while it would make τ² negative, as metafor (Viechtbauer
//!   2005), iterated to a change below 1e-12 (metafor's default threshold is 1e-5); when scoring
//!   has not settled after 100 steps (it can cycle), the root of the REML estimating equation
//!   `y'PPy = tr P` is found by bisection instead.
//!
//! Then `μ̂ = Σw*y/Σw*`, `w* = 1/(v + τ̂²)`, `SE = 1/√Σw*`, Wald z (or Knapp–Hartung: SE scaled by
//! `√(Σw*(y−μ̂)²/(k−1))`, t(k−1)); heterogeneity `Q_E = Σw(y − μ̂_FE)²` against χ²(k−1);
//! `I² = τ²/(τ² + ṽ)` and `H² = (τ² + ṽ)/ṽ` with the typical within-study variance
//! `ṽ = (k−1)/tr P_FE` (Higgins & Thompson 2002, metafor's definition), and for FE models
//! `I² = max(0, (Q−(k−1))/Q)`, `H² = Q/(k−1)`; the prediction interval for a new context
//! `μ̂ ± crit·√(SE² + τ̂²)` (Riley, Higgins & Deeks 2011, as metafor's `predict`).
//!
//! # References
//! DerSimonian & Laird (1986), *Control. Clin. Trials* 7, 177–188; Viechtbauer (2005), *JEBS* 30,
//! 261–293; Knapp & Hartung (2003), *Stat. Med.* 22, 2693–2710; Higgins & Thompson (2002), *Stat.
//! Med.* 21, 1539–1558; Viechtbauer (2010), metafor, *J. Stat. Softw.* 36(3).

use crate::dist::{pchisq_upper, pnorm_upper, pt_upper, qnorm, qt};
use crate::TransportError;
use serde::Serialize;

/// The τ² estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TauMethod {
    /// Fixed (common) effect: τ² = 0.
    FE,
    /// DerSimonian–Laird moment estimator.
    DL,
    /// Restricted maximum likelihood.
    REML,
}

impl TauMethod {
    /// metafor's name.
    pub fn name(self) -> &'static str {
        match self {
            TauMethod::FE => "FE",
            TauMethod::DL => "DL",
            TauMethod::REML => "REML",
        }
    }
}

/// Settings of [`meta_analyse`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetaConfig {
    /// The τ² estimator.
    pub method: TauMethod,
    /// Knapp–Hartung adjustment (metafor `test = "knha"`).
    pub knapp_hartung: bool,
    /// Confidence level of the CI and prediction interval.
    pub level: f64,
    /// REML iteration limit.
    pub max_iterations: usize,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            method: TauMethod::REML,
            knapp_hartung: false,
            level: 0.95,
            max_iterations: 1000,
        }
    }
}

/// One study: an estimate and its sampling variance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Study {
    /// Label (for errors and the forest plot).
    pub label: String,
    /// Estimate `y_i`.
    pub yi: f64,
    /// Sampling variance `v_i`.
    pub vi: f64,
}

/// Fisher's z of a correlation, `atanh r`, with variance `1/(n − 3)` (metafor `escalc("ZCOR")`).
///
/// # Errors
/// `|r| ≥ 1` or `n ≤ 3`.
pub fn fisher_z(label: &str, r: f64, n: f64) -> Result<Study, TransportError> {
    if !(r.is_finite() && r.abs() < 1.0) {
        return Err(TransportError::Study {
            study: label.into(),
            problem: format!("correlation r = {r} must lie strictly between −1 and 1"),
        });
    }
    if !(n.is_finite() && n > 3.0) {
        return Err(TransportError::Study {
            study: label.into(),
            problem: format!(
                "sample size n = {n} must exceed 3 for Fisher's z (variance 1/(n − 3))"
            ),
        });
    }
    Ok(Study {
        label: label.into(),
        yi: r.atanh(),
        vi: 1.0 / (n - 3.0),
    })
}

/// A fitted random-effects model: metafor's `rma.uni` numbers under metafor's names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaResult {
    /// The τ² estimator.
    pub method: TauMethod,
    /// Whether the Knapp–Hartung adjustment was used.
    pub knha: bool,
    /// Number of studies.
    pub k: usize,
    /// Pooled effect μ̂ (metafor `b`).
    pub estimate: f64,
    /// Its standard error (`se`).
    #[serde(rename = "std.error")]
    pub std_error: f64,
    /// z or t statistic (`zval`).
    pub statistic: f64,
    /// Its two-sided p-value (`pval`).
    #[serde(rename = "p.value")]
    pub p_value: f64,
    /// CI lower bound (`ci.lb`).
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// CI upper bound (`ci.ub`).
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
    /// Between-study variance τ̂².
    pub tau2: f64,
    /// Its standard error (`se.tau2`; `None` for FE).
    #[serde(rename = "se.tau2")]
    pub se_tau2: Option<f64>,
    /// τ̂.
    pub tau: f64,
    /// I² in percent.
    #[serde(rename = "I2")]
    pub i2: f64,
    /// H².
    #[serde(rename = "H2")]
    pub h2: f64,
    /// Cochran's Q.
    #[serde(rename = "QE")]
    pub qe: f64,
    /// Degrees of freedom of Q (k − 1).
    #[serde(rename = "QEdf")]
    pub qe_df: usize,
    /// p-value of Q.
    #[serde(rename = "QEp")]
    pub qe_p: f64,
    /// Prediction interval lower bound for a new context.
    #[serde(rename = "pi.lb")]
    pub pi_lb: f64,
    /// Prediction interval upper bound.
    #[serde(rename = "pi.ub")]
    pub pi_ub: f64,
    /// Degrees of freedom of the t tests (Knapp–Hartung), `None` for z.
    pub df: Option<usize>,
    /// REML iterations (0 otherwise).
    pub iterations: usize,
    /// Relative weight of each study in percent (metafor `weights()`).
    pub weights: Vec<f64>,
}

/// Checks the studies: at least 2, finite estimates, positive finite variances.
fn validate(studies: &[Study], config: &MetaConfig) -> Result<(), TransportError> {
    if studies.len() < 2 {
        return Err(TransportError::TooFewStudies {
            found: studies.len(),
            needed: 2,
            why: "a meta-analysis pools at least two estimates".into(),
        });
    }
    for s in studies {
        if !s.yi.is_finite() {
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!("estimate yi = {} is not a finite number", s.yi),
            });
        }
        if !(s.vi.is_finite() && s.vi > 0.0) {
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!(
                    "sampling variance vi = {} must be positive (a variance, not a standard error or a negative number)",
                    s.vi
                ),
            });
        }
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(TransportError::invalid(
            "the confidence level",
            config.level,
            "a number strictly between 0 and 1",
        ));
    }
    Ok(())
}

/// Weighted mean and the sum of weights with weights `1/(v + tau2)`.
fn weighted_mean(studies: &[Study], tau2: f64) -> (f64, f64) {
    let (mut sw, mut swy) = (0.0, 0.0);
    for s in studies {
        let w = 1.0 / (s.vi + tau2);
        sw += w;
        swy += w * s.yi;
    }
    (swy / sw, sw)
}

/// `tr P` and `tr(PP)` of `P = W − w wᵀ/Σw`, `W = diag(w)`, `w = 1/(v + τ²)`, and `y'Py`, `y'PPy`.
struct PMoments {
    trace: f64,
    trace_pp: f64,
    ypy: f64,
    yppy: f64,
}

fn p_moments(studies: &[Study], tau2: f64) -> PMoments {
    let (mu, sw) = weighted_mean(studies, tau2);
    let (mut sw2, mut sw3, mut ypy, mut yppy) = (0.0, 0.0, 0.0, 0.0);
    for s in studies {
        let w = 1.0 / (s.vi + tau2);
        sw2 += w * w;
        sw3 += w * w * w;
        let r = s.yi - mu;
        ypy += w * r * r;
        yppy += w * w * r * r; // Py = w ∘ (y − μ̂)
    }
    // tr(PP) = Σw² − 2Σw³/Σw + (Σw²)²/(Σw)²
    PMoments {
        trace: sw - sw2 / sw,
        trace_pp: sw2 - 2.0 * sw3 / sw + (sw2 / sw).powi(2),
        ypy,
        yppy,
    }
}

/// DerSimonian–Laird τ² from Q with FE weights.
fn tau2_dl(studies: &[Study]) -> f64 {
    let m = p_moments(studies, 0.0);
    let k = studies.len() as f64;
    ((m.ypy - (k - 1.0)) / m.trace).max(0.0)
}

/// The Hedges (HE) estimator, metafor's REML starting value: `max(0, var(y) − mean(v))`.
fn tau2_he(studies: &[Study]) -> f64 {
    let k = studies.len() as f64;
    let mean = studies.iter().map(|s| s.yi).sum::<f64>() / k;
    let var = studies.iter().map(|s| (s.yi - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let mv = studies.iter().map(|s| s.vi).sum::<f64>() / k;
    (var - mv).max(0.0)
}

/// REML τ² by Fisher scoring (metafor's algorithm, tighter threshold), falling back to bisection
/// on the REML estimating equation when scoring does not settle within 100 steps.
fn tau2_reml(studies: &[Study], max_iterations: usize) -> Result<(f64, usize), TransportError> {
    let mut tau2 = tau2_he(studies);
    for it in 1..=max_iterations.min(SCORING_STEPS) {
        let m = p_moments(studies, tau2);
        let mut step = (m.yppy - m.trace) / m.trace_pp;
        while tau2 + step < 0.0 {
            step /= 2.0;
            if step.abs() < 1e-300 {
                step = -tau2;
                break;
            }
        }
        let old = tau2;
        tau2 = (tau2 + step).max(0.0);
        if (tau2 - old).abs() < 1e-12 {
            return Ok((tau2, it));
        }
    }
    tau2_reml_bisection(studies, max_iterations)
}

/// Fisher-scoring steps before the bisection fallback (metafor's default `maxiter`).
const SCORING_STEPS: usize = 100;

/// The REML estimate as the root of the estimating equation `y'PPy − tr P = 0` (the derivative of
/// the restricted log-likelihood, times 2): 0 when the score is not positive at 0, else the root
/// bracketed by doubling and found by bisection to 1e-15 relative. Scoring can fall into a
/// two-cycle near a small τ² (metafor then stops with "Fisher scoring algorithm did not
/// converge"); the bisection cannot.
fn tau2_reml_bisection(
    studies: &[Study],
    max_iterations: usize,
) -> Result<(f64, usize), TransportError> {
    let score = |t: f64| {
        let m = p_moments(studies, t);
        m.yppy - m.trace
    };
    if score(0.0) <= 0.0 {
        return Ok((0.0, SCORING_STEPS));
    }
    let mut hi = studies.iter().map(|s| s.vi).sum::<f64>() / studies.len() as f64;
    let mut lo = 0.0;
    let mut it = SCORING_STEPS;
    while score(hi) > 0.0 {
        lo = hi;
        hi *= 2.0;
        it += 1;
        if it > max_iterations.max(SCORING_STEPS) + 2000 || !hi.is_finite() {
            return Err(TransportError::NotConverged {
                method: "REML",
                iterations: it,
            });
        }
    }
    while hi - lo > 1e-15 * hi {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if score(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        it += 1;
    }
    Ok((0.5 * (lo + hi), it))
}

/// Fits the random-effects (or fixed-effect) model to `studies`.
///
/// # Errors
/// Fewer than 2 studies, non-finite estimates, non-positive variances, a level outside (0, 1),
/// REML not converging.
pub fn meta_analyse(studies: &[Study], config: &MetaConfig) -> Result<MetaResult, TransportError> {
    validate(studies, config)?;
    let k = studies.len();
    let kf = k as f64;
    let (tau2, iterations) = match config.method {
        TauMethod::FE => (0.0, 0),
        TauMethod::DL => (tau2_dl(studies), 0),
        TauMethod::REML => tau2_reml(studies, config.max_iterations)?,
    };
    let fe = p_moments(studies, 0.0);
    let qe = fe.ypy;
    let (mu, sw) = weighted_mean(studies, tau2);
    let mut se = 1.0 / sw.sqrt();
    let df = k - 1;
    let (crit, df_t) = if config.knapp_hartung {
        let s2 = p_moments(studies, tau2).ypy / (kf - 1.0);
        se *= s2.sqrt();
        (qt(0.5 + config.level / 2.0, df as f64), Some(df))
    } else {
        (qnorm(0.5 + config.level / 2.0), None)
    };
    let statistic = mu / se;
    let p_value = match df_t {
        Some(d) => 2.0 * pt_upper(statistic.abs(), d as f64),
        None => 2.0 * pnorm_upper(statistic.abs()),
    };
    let typical_v = (kf - 1.0) / fe.trace;
    let (i2, h2) = if config.method == TauMethod::FE {
        ((100.0 * (qe - (kf - 1.0)) / qe).max(0.0), qe / (kf - 1.0))
    } else {
        (100.0 * tau2 / (typical_v + tau2), tau2 / typical_v + 1.0)
    };
    let se_tau2 = match config.method {
        TauMethod::FE => None,
        TauMethod::REML => Some((2.0 / p_moments(studies, tau2).trace_pp).sqrt()),
        TauMethod::DL => {
            // metafor: √(tr(P)⁻² (2(k−p) + 4τ² tr P + 2τ⁴ tr PP)) with the FE-weighted P.
            let t = tau2.max(0.0);
            Some(
                ((2.0 * (kf - 1.0) + 4.0 * t * fe.trace + 2.0 * t * t * fe.trace_pp)
                    / (fe.trace * fe.trace))
                    .sqrt(),
            )
        }
    };
    let pi_half = crit * (se * se + tau2).sqrt();
    let weights = studies.iter().map(|s| 100.0 / (s.vi + tau2) / sw).collect();
    Ok(MetaResult {
        method: config.method,
        knha: config.knapp_hartung,
        k,
        estimate: mu,
        std_error: se,
        statistic,
        p_value,
        conf_low: mu - crit * se,
        conf_high: mu + crit * se,
        tau2,
        se_tau2,
        tau: tau2.sqrt(),
        i2,
        h2,
        qe,
        qe_df: df,
        qe_p: pchisq_upper(qe, df as f64),
        pi_lb: mu - pi_half,
        pi_ub: mu + pi_half,
        df: df_t,
        iterations,
        weights,
    })
}

/// One output row of a meta-analysis: a study (`type = "study"`) or the pooled estimate
/// (`type = "summary"`, with metafor's heterogeneity columns), broom's `tidy.rma` names for the
/// estimate columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaRow {
    /// Study label, `overall`, or (many sites) the path or effect name.
    pub term: String,
    /// `study` or `summary`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Estimate.
    pub estimate: f64,
    /// Standard error.
    #[serde(rename = "std.error")]
    pub std_error: f64,
    /// z (or t) statistic.
    pub statistic: f64,
    /// Two-sided p-value.
    #[serde(rename = "p.value")]
    pub p_value: f64,
    /// CI lower bound.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// CI upper bound.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
    /// Weight in percent (studies).
    pub weight: Option<f64>,
    /// τ² (summary).
    pub tau2: Option<f64>,
    /// SE of τ² (summary, DL and REML).
    #[serde(rename = "se.tau2")]
    pub se_tau2: Option<f64>,
    /// τ (summary).
    pub tau: Option<f64>,
    /// I² in percent (summary).
    #[serde(rename = "I2")]
    pub i2: Option<f64>,
    /// H² (summary).
    #[serde(rename = "H2")]
    pub h2: Option<f64>,
    /// Cochran's Q (summary).
    #[serde(rename = "QE")]
    pub qe: Option<f64>,
    /// Its p-value (summary).
    #[serde(rename = "QEp")]
    pub qe_p: Option<f64>,
    /// Prediction interval lower bound (summary).
    #[serde(rename = "pi.lb")]
    pub pi_lb: Option<f64>,
    /// Prediction interval upper bound (summary).
    #[serde(rename = "pi.ub")]
    pub pi_ub: Option<f64>,
    /// Number of studies (summary).
    pub k: Option<usize>,
    /// Estimator, with `+knha` for Knapp–Hartung (summary).
    pub method: Option<String>,
}

impl MetaRow {
    /// The summary row of `result` under `term`.
    pub fn summary(term: &str, result: &MetaResult) -> MetaRow {
        MetaRow {
            term: term.into(),
            kind: "summary",
            estimate: result.estimate,
            std_error: result.std_error,
            statistic: result.statistic,
            p_value: result.p_value,
            conf_low: result.conf_low,
            conf_high: result.conf_high,
            weight: None,
            tau2: Some(result.tau2),
            se_tau2: result.se_tau2,
            tau: Some(result.tau),
            i2: Some(result.i2),
            h2: Some(result.h2),
            qe: Some(result.qe),
            qe_p: Some(result.qe_p),
            pi_lb: Some(result.pi_lb),
            pi_ub: Some(result.pi_ub),
            k: Some(result.k),
            method: Some(format!(
                "{}{}",
                result.method.name(),
                if result.knha { "+knha" } else { "" }
            )),
        }
    }
}

/// The study rows (estimate, SE `√v_i`, z, p, Wald CI at `level`, weight) and the `overall`
/// summary row.
pub fn meta_rows(studies: &[Study], result: &MetaResult, level: f64) -> Vec<MetaRow> {
    let z = qnorm(0.5 + level / 2.0);
    let mut rows: Vec<MetaRow> = studies
        .iter()
        .zip(&result.weights)
        .map(|(s, &w)| {
            let se = s.vi.sqrt();
            MetaRow {
                term: s.label.clone(),
                kind: "study",
                estimate: s.yi,
                std_error: se,
                statistic: s.yi / se,
                p_value: 2.0 * pnorm_upper((s.yi / se).abs()),
                conf_low: s.yi - z * se,
                conf_high: s.yi + z * se,
                weight: Some(w),
                tau2: None,
                se_tau2: None,
                tau: None,
                i2: None,
                h2: None,
                qe: None,
                qe_p: None,
                pi_lb: None,
                pi_ub: None,
                k: None,
                method: None,
            }
        })
        .collect();
    rows.push(MetaRow::summary("overall", result));
    rows
}

/// CSV of meta rows with one header (heterogeneity columns `NA` on study rows).
pub fn meta_csv(rows: &[MetaRow]) -> String {
    use crate::rows::{csv_field, format_number};
    let opt = |x: Option<f64>| x.map_or_else(|| "NA".to_string(), format_number);
    let mut o = String::from("term,type,estimate,std.error,statistic,p.value,conf.low,conf.high,weight,tau2,se.tau2,tau,I2,H2,QE,QEp,pi.lb,pi.ub,k,method\n");
    for r in rows {
        o.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.term),
            r.kind,
            format_number(r.estimate),
            format_number(r.std_error),
            format_number(r.statistic),
            format_number(r.p_value),
            format_number(r.conf_low),
            format_number(r.conf_high),
            opt(r.weight),
            opt(r.tau2),
            opt(r.se_tau2),
            opt(r.tau),
            opt(r.i2),
            opt(r.h2),
            opt(r.qe),
            opt(r.qe_p),
            opt(r.pi_lb),
            opt(r.pi_ub),
            r.k.map_or_else(|| "NA".into(), |k| k.to_string()),
            r.method.as_deref().unwrap_or("NA")
        ));
    }
    o
}

/// metafor's `print.rma.uni` layout: heterogeneity, the Q-test, the model results and the
/// prediction interval.
pub fn meta_summary_text(result: &MetaResult, level: f64) -> String {
    use crate::rows::format_p;
    let mut o = String::new();
    if result.method == TauMethod::FE {
        o.push_str(&format!("Fixed-Effects Model (k = {})\n\n", result.k));
        o.push_str(&format!(
            "I^2 (total heterogeneity / total variability):  {:.2}%\nH^2 (total variability / sampling variability): {:.2}\n\n",
            result.i2, result.h2
        ));
    } else {
        o.push_str(&format!(
            "Random-Effects Model (k = {}; tau^2 estimator: {})\n\n",
            result.k,
            result.method.name()
        ));
        o.push_str(&format!(
            "tau^2 (estimated amount of total heterogeneity): {:.4} (SE = {:.4})\ntau (square root of estimated tau^2 value):      {:.4}\nI^2 (total heterogeneity / total variability):   {:.2}%\nH^2 (total variability / sampling variability):  {:.2}\n\n",
            result.tau2,
            result.se_tau2.unwrap_or(f64::NAN),
            result.tau,
            result.i2,
            result.h2
        ));
    }
    let p = format_p(result.qe_p);
    o.push_str(&format!(
        "Test for Heterogeneity:\nQ(df = {}) = {:.4}, p-val {}{}\n\nModel Results:\n\n",
        result.qe_df,
        result.qe,
        if p.starts_with('<') { "" } else { "= " },
        p
    ));
    let stat = if result.knha { "tval" } else { "zval" };
    let df = result
        .df
        .map_or_else(String::new, |_| format!("{:>5}", "df"));
    o.push_str(&format!(
        "{:>9} {:>8} {:>8}{} {:>8} {:>9} {:>9}\n",
        "estimate", "se", stat, df, "pval", "ci.lb", "ci.ub"
    ));
    let dfv = result.df.map_or_else(String::new, |d| format!("{d:>5}"));
    o.push_str(&format!(
        "{:>9.4} {:>8.4} {:>8.4}{} {:>8} {:>9.4} {:>9.4}\n\n",
        result.estimate,
        result.std_error,
        result.statistic,
        dfv,
        format_p(result.p_value),
        result.conf_low,
        result.conf_high
    ));
    o.push_str(&format!(
        "{:.0}% prediction interval for a new context: [{:.4}, {:.4}]\n",
        100.0 * level,
        result.pi_lb,
        result.pi_ub
    ));
    o
}
