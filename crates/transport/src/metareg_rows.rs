//! Renderings of a meta-regression ([`crate::MetaRegression`]): metafor's `print.rma.uni` layout
//! for mixed-effects models and a long CSV with broom's column names. (JSON is the serde form.)
//!
//! These sit beside the other meta-analysis renderers of this crate (`meta_csv`,
//! `meta_summary_text`) because `report` may not depend on `transport` (the layer table in
//! `xtask/src/tidy.rs`).

use crate::meta::{MetaResult, MetaRow};
use crate::metareg::{MetaRegression, Prediction};
use crate::rows::{csv_field, format_number, format_p};
use crate::TauMethod;
use serde::Serialize;

/// `x` to `d` decimals, `NA` when absent (metafor prints `NA`).
fn fixed(x: Option<f64>, d: usize) -> String {
    x.map_or_else(|| "NA".to_string(), |x| format!("{x:.d$}"))
}

/// A percentage to 2 decimals with `%`, `NA` when absent.
fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "NA".to_string(), |x| format!("{x:.2}%"))
}

/// metafor's `print.rma.uni` of a model with moderators: residual heterogeneity, R², the test
/// of residual heterogeneity, the omnibus test of the moderators, the coefficient table and the
/// predictions (`predict(res, newmods)`), then any notes.
pub fn regression_text(reg: &MetaRegression, predictions: &[Prediction], level: f64) -> String {
    let mut o = String::new();
    let moderators = reg.p > 1;
    if reg.method == TauMethod::FE {
        o.push_str(&format!(
            "{} Model (k = {})\n\n",
            if moderators {
                "Fixed-Effects with Moderators"
            } else {
                "Fixed-Effects"
            },
            reg.k
        ));
        o.push_str(&format!(
            "I^2 (residual heterogeneity / unaccounted variability): {}\nH^2 (unaccounted variability / sampling variability):   {}\n",
            percent(reg.i2),
            fixed(reg.h2, 2)
        ));
    } else {
        o.push_str(&format!(
            "{} Model (k = {}; tau^2 estimator: {})\n\n",
            if moderators {
                "Mixed-Effects"
            } else {
                "Random-Effects"
            },
            reg.k,
            reg.method.name()
        ));
        o.push_str(&format!(
            "tau^2 (estimated amount of residual heterogeneity):     {:.4} (SE = {})\ntau (square root of estimated tau^2 value):             {:.4}\nI^2 (residual heterogeneity / unaccounted variability): {}\nH^2 (unaccounted variability / sampling variability):   {}\n",
            reg.tau2,
            reg.se_tau2.map_or_else(|| "NA".to_string(), |s| format!("{s:.4}")),
            reg.tau,
            percent(reg.i2),
            fixed(reg.h2, 2)
        ));
    }
    if let Some(r2) = reg.r2 {
        o.push_str(&format!(
            "R^2 (amount of heterogeneity accounted for):            {r2:.2}%\n"
        ));
    }
    let eq = |p: f64| {
        let s = format_p(p);
        if s.starts_with('<') {
            s
        } else {
            format!("= {s}")
        }
    };
    match (reg.qe, reg.qe_p) {
        (Some(qe), Some(qe_p)) => o.push_str(&format!(
            "\nTest for Residual Heterogeneity:\nQE(df = {}) = {qe:.4}, p-val {}\n",
            reg.qe_df,
            eq(qe_p)
        )),
        _ => o.push_str("\nTest for Residual Heterogeneity: not defined with a sampling variance of 0 (as metafor)\n"),
    }
    if let (Some(qm), Some((m, d2)), Some(qm_p)) = (reg.qm, reg.qm_df, reg.qm_p) {
        let which = if m == 1 {
            "coefficient 2".to_string()
        } else {
            format!("coefficients 2:{}", m + 1)
        };
        match d2 {
            Some(d2) => o.push_str(&format!(
                "\nTest of Moderators ({which}):\nF(df1 = {m}, df2 = {d2}) = {qm:.4}, p-val {}\n",
                eq(qm_p)
            )),
            None => o.push_str(&format!(
                "\nTest of Moderators ({which}):\nQM(df = {m}) = {qm:.4}, p-val {}\n",
                eq(qm_p)
            )),
        }
    }
    let stat = if reg.knha { "tval" } else { "zval" };
    let width = reg
        .coefficients
        .iter()
        .map(|c| c.term.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    o.push_str(&format!(
        "\nModel Results:\n\n{:<width$} {:>9} {:>8} {:>8}{} {:>8} {:>9} {:>9}\n",
        "",
        "estimate",
        "se",
        stat,
        reg.df.map_or_else(String::new, |_| format!(" {:>4}", "df")),
        "pval",
        "ci.lb",
        "ci.ub"
    ));
    for c in &reg.coefficients {
        o.push_str(&format!(
            "{:<width$} {:>9.4} {:>8.4} {:>8.4}{} {:>8} {:>9.4} {:>9.4}\n",
            c.term,
            c.estimate,
            c.std_error,
            c.statistic,
            reg.df.map_or_else(String::new, |d| format!(" {d:>4}")),
            format_p(c.p_value),
            c.conf_low,
            c.conf_high
        ));
    }
    if !predictions.is_empty() {
        let w = predictions
            .iter()
            .map(|p| p.at.chars().count())
            .max()
            .unwrap_or(2)
            .max(2);
        o.push_str(&format!(
            "\nPredicted effects ({:.0}% CI and prediction interval for a new context):\n\n{:<w$} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
            100.0 * level,
            "at",
            "pred",
            "se",
            "ci.lb",
            "ci.ub",
            "pi.lb",
            "pi.ub"
        ));
        for p in predictions {
            o.push_str(&format!(
                "{:<w$} {:>9.4} {:>8.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4}\n",
                p.at, p.pred, p.se, p.ci_lb, p.ci_ub, p.pi_lb, p.pi_ub
            ));
        }
    }
    for note in &reg.notes {
        o.push_str(&format!("\nNote: {note}\n"));
    }
    o
}

/// Long CSV of a meta-regression: one row per coefficient (`type = coefficient`), prediction
/// (`type = prediction`, `term` = the moderator values) and fit measure (`type = fit`: `tau2`
/// with its SE, `I2`, `H2`, `R2`, and the tests `QE` and `QM` with statistic, p-value and
/// degrees of freedom); `NA` where a column does not apply.
pub fn regression_csv(reg: &MetaRegression, predictions: &[Prediction]) -> String {
    let n = format_number;
    let opt = |x: Option<f64>| x.map_or_else(|| "NA".to_string(), format_number);
    let optu = |x: Option<usize>| x.map_or_else(|| "NA".to_string(), |d| d.to_string());
    let mut o = String::from(
        "term,type,estimate,std.error,statistic,p.value,conf.low,conf.high,pi.lb,pi.ub,df1,df2,method\n",
    );
    let method = format!(
        "{}{}",
        reg.method.name(),
        if reg.knha { "+knha" } else { "" }
    );
    for c in &reg.coefficients {
        o.push_str(&format!(
            "{},coefficient,{},{},{},{},{},{},NA,NA,{},NA,{method}\n",
            csv_field(&c.term),
            n(c.estimate),
            n(c.std_error),
            n(c.statistic),
            n(c.p_value),
            n(c.conf_low),
            n(c.conf_high),
            optu(reg.df)
        ));
    }
    for p in predictions {
        o.push_str(&format!(
            "{},prediction,{},{},NA,NA,{},{},{},{},{},NA,{method}\n",
            csv_field(&p.at),
            n(p.pred),
            n(p.se),
            n(p.ci_lb),
            n(p.ci_ub),
            n(p.pi_lb),
            n(p.pi_ub),
            optu(reg.df)
        ));
    }
    o.push_str(&format!(
        "tau2,fit,{},{},NA,NA,NA,NA,NA,NA,NA,NA,{method}\n",
        n(reg.tau2),
        opt(reg.se_tau2)
    ));
    for (term, value) in [("I2", reg.i2), ("H2", reg.h2), ("R2", reg.r2)] {
        if let Some(v) = value {
            o.push_str(&format!(
                "{term},fit,{},NA,NA,NA,NA,NA,NA,NA,NA,NA,{method}\n",
                n(v)
            ));
        }
    }
    if let (Some(qe), Some(qe_p)) = (reg.qe, reg.qe_p) {
        o.push_str(&format!(
            "QE,fit,NA,NA,{},{},NA,NA,NA,NA,{},NA,{method}\n",
            n(qe),
            n(qe_p),
            reg.qe_df
        ));
    }
    if let (Some(qm), Some((m, d2)), Some(p)) = (reg.qm, reg.qm_df, reg.qm_p) {
        o.push_str(&format!(
            "QM,fit,NA,NA,{},{},NA,NA,NA,NA,{m},{},{method}\n",
            n(qm),
            n(p),
            optu(d2)
        ));
    }
    o
}

/// The pooled estimate and its intervals back on the correlation scale (`r = tanh z`; metafor's
/// `predict(res, transf = transf.ztor)`), for estimates that are Fisher z values of correlations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationScale {
    /// tanh of the estimate.
    pub estimate: f64,
    /// tanh of the CI lower bound.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// tanh of the CI upper bound.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
    /// tanh of the prediction-interval lower bound.
    #[serde(rename = "pi.lb")]
    pub pi_lb: f64,
    /// tanh of the prediction-interval upper bound.
    #[serde(rename = "pi.ub")]
    pub pi_ub: f64,
}

impl CorrelationScale {
    /// The summary of `result` on the r scale.
    pub fn of(result: &MetaResult) -> CorrelationScale {
        CorrelationScale {
            estimate: result.estimate.tanh(),
            conf_low: result.conf_low.tanh(),
            conf_high: result.conf_high.tanh(),
            pi_lb: result.pi_lb.tanh(),
            pi_ub: result.pi_ub.tanh(),
        }
    }
}

/// What was analysed: the data file's name, the effect measure, the rows skipped, the level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaInput {
    /// The data file (as named by the user).
    pub data: String,
    /// The effect measure (`yi, vi` or `Fisher z of r …`).
    pub measure: String,
    /// Rows skipped for a missing value.
    pub skipped_rows: usize,
    /// The confidence level.
    pub level: f64,
}

/// The JSON document of `balans meta` without moderators: the input, metafor's model numbers, the
/// study and summary rows, and the r scale for correlations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaDocument {
    /// What was analysed.
    #[serde(flatten)]
    pub input: MetaInput,
    /// The fitted model.
    pub model: MetaResult,
    /// Study rows and the `overall` row.
    pub rows: Vec<MetaRow>,
    /// The summary on the correlation scale (correlations only).
    pub r_scale: Option<CorrelationScale>,
}

/// A moderator as listed in the JSON document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeratorInfo {
    /// Its column.
    pub name: String,
    /// `continuous` or `categorical`.
    pub kind: &'static str,
}

/// A study of a meta-regression: its estimate, variance and weight in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionStudy {
    /// The study's label.
    pub term: String,
    /// `y_i`.
    pub estimate: f64,
    /// `v_i`.
    pub vi: f64,
    /// Weight in percent.
    pub weight: f64,
}

/// A prediction on the correlation scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationPrediction {
    /// The moderator values.
    pub at: String,
    /// tanh of the prediction.
    pub pred: f64,
    /// tanh of the CI lower bound.
    #[serde(rename = "ci.lb")]
    pub ci_lb: f64,
    /// tanh of the CI upper bound.
    #[serde(rename = "ci.ub")]
    pub ci_ub: f64,
    /// tanh of the prediction-interval lower bound.
    #[serde(rename = "pi.lb")]
    pub pi_lb: f64,
    /// tanh of the prediction-interval upper bound.
    #[serde(rename = "pi.ub")]
    pub pi_ub: f64,
}

impl CorrelationPrediction {
    /// `p` on the r scale.
    pub fn of(p: &Prediction) -> CorrelationPrediction {
        CorrelationPrediction {
            at: p.at.clone(),
            pred: p.pred.tanh(),
            ci_lb: p.ci_lb.tanh(),
            ci_ub: p.ci_ub.tanh(),
            pi_lb: p.pi_lb.tanh(),
            pi_ub: p.pi_ub.tanh(),
        }
    }
}

/// The JSON document of `balans meta` with moderators (or with a sampling variance of 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionDocument {
    /// What was analysed.
    #[serde(flatten)]
    pub input: MetaInput,
    /// The moderators.
    pub moderators: Vec<ModeratorInfo>,
    /// The coefficient names (metafor's).
    pub coefficient_names: Vec<String>,
    /// The fitted model.
    pub regression: MetaRegression,
    /// The predictions.
    pub predictions: Vec<Prediction>,
    /// The predictions on the correlation scale (correlations only).
    pub r_scale: Option<Vec<CorrelationPrediction>>,
    /// The studies with their weights.
    pub studies: Vec<RegressionStudy>,
}
