//! Random-effects meta-analysis of `k` estimates `y_i` with sampling variances `v_i`, as
//! metafor's `rma.uni` (intercept-only model).
//!
//! Model: `y_i = μ + u_i + e_i`, `u_i ~ N(0, τ²)`, `e_i ~ N(0, v_i)`. The τ² estimators — FE,
//! DL, REML, ML, PM, HE, SJ, EB, HS — are metafor 3.8-1's, shared with meta-regression and
//! documented with their formulas in [`crate::metareg`]. One study (k = 1) gives τ² = 0 and the
//! z test, as metafor, with a note in the result.
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

use crate::dist::{pnorm_upper, qnorm};
use crate::metareg::{meta_regress, Design, RegressionConfig};
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
    /// Maximum likelihood.
    ML,
    /// Paule–Mandel (generalised Q) estimator.
    PM,
    /// Hedges (unweighted least squares) estimator.
    HE,
    /// Sidik–Jonkman estimator.
    SJ,
    /// Empirical Bayes (Morris) estimator.
    EB,
    /// Hunter–Schmidt estimator.
    HS,
}

impl TauMethod {
    /// metafor's name.
    pub fn name(self) -> &'static str {
        match self {
            TauMethod::FE => "FE",
            TauMethod::DL => "DL",
            TauMethod::REML => "REML",
            TauMethod::ML => "ML",
            TauMethod::PM => "PM",
            TauMethod::HE => "HE",
            TauMethod::SJ => "SJ",
            TauMethod::EB => "EB",
            TauMethod::HS => "HS",
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
    /// Kept for compatibility; the iterative estimators bound their own steps (100 Fisher-scoring
    /// steps, then a bounded bisection).
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
    /// What balans did differently from the request, and why (e.g. k = 1: τ² = 0 and the z
    /// test, as metafor).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Fits the random-effects (or fixed-effect) model to `studies`: the intercept-only case of
/// [`crate::metareg::meta_regress`] (every τ² estimator is documented there).
///
/// # Errors
/// No studies, non-finite or out-of-range estimates or variances (see
/// [`crate::metareg::MAX_MAGNITUDE`]), a level outside (0, 1), Knapp–Hartung with zero residual
/// heterogeneity, an estimator without a finite root.
pub fn meta_analyse(studies: &[Study], config: &MetaConfig) -> Result<MetaResult, TransportError> {
    if let Some(s) = studies.iter().find(|s| s.vi == 0.0) {
        return Err(TransportError::Study {
            study: s.label.clone(),
            problem: "sampling variance vi = 0: Q, I² and H² are undefined (metafor reports NA), so this summary cannot be formed; the intercept-only meta_regress reports the fit without them".into(),
        });
    }
    let design = Design::intercept(studies.len());
    let reg = meta_regress(
        studies,
        &design,
        &RegressionConfig {
            method: config.method,
            knapp_hartung: config.knapp_hartung,
            level: config.level,
        },
    )?;
    let c = &reg.coefficients[0];
    let pi = reg.predict("", &[1.0]);
    // Defined whenever every variance is positive (checked above).
    let (Some(i2), Some(h2), Some(qe), Some(qe_p)) = (reg.i2, reg.h2, reg.qe, reg.qe_p) else {
        return Err(TransportError::Model(
            "Q, I² and H² are undefined for these variances".into(),
        ));
    };
    Ok(MetaResult {
        method: reg.method,
        knha: reg.knha,
        k: reg.k,
        estimate: c.estimate,
        std_error: c.std_error,
        statistic: c.statistic,
        p_value: c.p_value,
        conf_low: c.conf_low,
        conf_high: c.conf_high,
        tau2: reg.tau2,
        se_tau2: reg.se_tau2,
        tau: reg.tau,
        i2,
        h2,
        qe,
        qe_df: reg.qe_df,
        qe_p,
        pi_lb: pi.pi_lb,
        pi_ub: pi.pi_ub,
        df: reg.df,
        iterations: reg.iterations,
        weights: reg.weights,
        notes: reg.notes,
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
            "tau^2 (estimated amount of total heterogeneity): {:.4} (SE = {})\ntau (square root of estimated tau^2 value):      {:.4}\nI^2 (total heterogeneity / total variability):   {:.2}%\nH^2 (total variability / sampling variability):  {:.2}\n\n",
            result.tau2,
            result.se_tau2
                .map_or_else(|| "NA".to_string(), |s| format!("{s:.4}")),
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
    for note in &result.notes {
        o.push_str(&format!("\nNote: {note}\n"));
    }
    o
}
