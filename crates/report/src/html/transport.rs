//! Sections for the JSON of `balans meta` (random-effects meta-analysis, broom/metafor names) and
//! `balans transport replicate` (replication statistics): settings, sentences, a forest plot or an
//! interval plot, and the tables.

use super::page::{num, settings_table, text, Page, Table};
use super::{recorded_version, typed, ReportConfig, ReportInput, ResultKind};
use crate::markup::{decimals_apa, escape};
use crate::sentences::{count, p_value};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;

/// `balans meta --format json`.
pub struct MetaKind;

/// `balans transport replicate --format json`.
pub struct ReplicationKind;

/// One broom-style row (`term`, `estimate`, `std.error`, `conf.low`, `conf.high`, …).
#[derive(Debug, Clone, Deserialize)]
struct TermRow {
    term: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    estimate: Option<f64>,
    #[serde(rename = "std.error")]
    std_error: Option<f64>,
    #[serde(rename = "conf.low")]
    conf_low: Option<f64>,
    #[serde(rename = "conf.high")]
    conf_high: Option<f64>,
    #[serde(rename = "p.value")]
    p_value: Option<f64>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MetaJson {
    #[serde(default)]
    data: String,
    level: f64,
    #[serde(default)]
    measure: String,
    model: Value,
    rows: Vec<TermRow>,
    #[serde(default)]
    skipped_rows: usize,
}

#[derive(Debug, Deserialize)]
struct ReplicationJson {
    settings: Value,
    rows: Vec<TermRow>,
}

fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.as_f64().map_or(n.to_string(), |x| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.4}")
            }
        }),
        Some(other) => other.to_string(),
    }
}

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn rows_table(class: &str, rows: &[TermRow]) -> Table {
    let mut t = Table::new(
        class,
        &[
            "term",
            "estimate",
            "std.error",
            "conf.low",
            "conf.high",
            "p",
            "weight",
            "note",
        ],
    );
    for r in rows {
        t.row(vec![
            text(r.term.clone()),
            num(opt(r.estimate, 4)),
            num(opt(r.std_error, 4)),
            num(opt(r.conf_low, 4)),
            num(opt(r.conf_high, 4)),
            num(opt(r.p_value, 4)),
            num(opt(r.weight, 2)),
            text(r.note.clone().unwrap_or_default()),
        ]);
    }
    t
}

/// A forest plot: one line per row with its interval, a square sized by weight for studies and a
/// diamond for summaries.
fn forest(rows: &[&TermRow], reference: f64) -> String {
    let label_w = rows
        .iter()
        .map(|r| crate::markup::text_width(&r.term, 12.0))
        .fold(80.0, f64::max)
        + 16.0;
    let (plot_w, row_h, top) = (420.0, 22.0, 28.0);
    let width = label_w + plot_w + 150.0;
    let height = top + row_h * rows.len() as f64 + 44.0;
    let lo = rows
        .iter()
        .filter_map(|r| r.conf_low)
        .fold(reference, f64::min);
    let hi = rows
        .iter()
        .filter_map(|r| r.conf_high)
        .fold(reference, f64::max);
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let max_w = rows.iter().filter_map(|r| r.weight).fold(0.0, f64::max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="forest" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.1} {height:.1}" font-family="Helvetica, Arial, 'DejaVu Sans', sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{top}" y2="{1:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
        x(reference),
        top + row_h * rows.len() as f64
    );
    for (k, r) in rows.iter().enumerate() {
        let y = top + row_h * (k as f64 + 0.5);
        let _ = writeln!(
            out,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + 4.0,
            escape(&r.term)
        );
        let (Some(est), Some(a), Some(b)) = (r.estimate, r.conf_low, r.conf_high) else {
            continue;
        };
        let summary = r.kind.as_deref() == Some("summary");
        if summary {
            let _ = writeln!(
                out,
                r##"<polygon points="{:.1},{y:.1} {:.1},{:.1} {:.1},{y:.1} {:.1},{:.1}" fill="#0072B2"/>"##,
                x(a),
                x(est),
                y - 7.0,
                x(b),
                x(est),
                y + 7.0
            );
        } else {
            let size = r
                .weight
                .filter(|_| max_w > 0.0)
                .map_or(6.0, |w| 4.0 + 8.0 * (w / max_w).sqrt());
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#333"/><rect x="{:.1}" y="{:.1}" width="{size:.1}" height="{size:.1}" fill="#333"/>"##,
                x(a),
                x(b),
                x(est) - size / 2.0,
                y - size / 2.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{est:.2} [{a:.2}, {b:.2}]</text>"#,
            label_w + plot_w + 10.0,
            y + 4.0
        );
    }
    let axis_y = top + row_h * rows.len() as f64 + 6.0;
    for t in crate::plot::ticks(lo, hi, 6) {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{axis_y:.1}" y2="{1:.1}" stroke="#333"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(t),
            axis_y + 5.0,
            axis_y + 18.0,
            decimals_apa(t, 2)
        );
    }
    out.push_str("</svg>\n");
    out
}

impl ResultKind for MetaKind {
    fn name(&self) -> &'static str {
        "meta"
    }

    fn title(&self) -> &'static str {
        "Meta-analysis"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("model").is_some_and(|m| m.get("tau2").is_some()) && json.get("rows").is_some()
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let m: MetaJson = typed(&input.json)?;
        let model = &m.model;
        page.heading("Settings");
        page.table(&settings_table(&[
            ("seed", "– (no random numbers)".into()),
            ("version", recorded_version(&input.json, config)),
            ("data", m.data.clone()),
            ("effect measure", m.measure.clone()),
            ("method (τ² estimator)", field(model, "method")),
            ("Knapp–Hartung adjustment", field(model, "knha")),
            ("confidence level", m.level.to_string()),
            ("studies k", field(model, "k")),
            ("rows skipped", m.skipped_rows.to_string()),
        ]));
        page.heading("Key results");
        let mut s = Vec::new();
        if let (Some(est), Some(lo), Some(hi)) = (
            number(model, "estimate"),
            number(model, "conf.low"),
            number(model, "conf.high"),
        ) {
            s.push(format!(
                "Across {} studies the pooled effect is {} ({}% CI {} to {}, {}).",
                field(model, "k"),
                decimals_apa(est, 3),
                (m.level * 100.0).round(),
                decimals_apa(lo, 3),
                decimals_apa(hi, 3),
                number(model, "p.value").map_or("p –".into(), p_value)
            ));
        }
        if let (Some(tau), Some(i2)) = (number(model, "tau"), number(model, "I2")) {
            let q = number(model, "QEp");
            s.push(format!(
                "{}: τ = {} and I² = {:.0}% of the variation is between studies{}.",
                match q {
                    Some(p) if p < 0.05 => format!("The studies disagree beyond chance (Q test {})", p_value(p)),
                    Some(p) => format!("The Q test finds no heterogeneity beyond chance ({}), but that is weak evidence of none", p_value(p)),
                    None => "Heterogeneity".to_string(),
                },
                decimals_apa(tau, 3),
                i2,
                match (number(model, "pi.lb"), number(model, "pi.ub")) {
                    (Some(a), Some(b)) => format!(
                        "; in a new context the effect is expected between {} and {} (prediction interval)",
                        decimals_apa(a, 3),
                        decimals_apa(b, 3)
                    ),
                    _ => String::new(),
                }
            ));
        }
        page.sentences(&s);
        page.heading("Forest plot");
        let rows: Vec<&TermRow> = m.rows.iter().collect();
        page.figure(
            &forest(&rows, 0.0),
            "Each study's estimate with its confidence interval (squares sized by weight); the diamond is the pooled estimate.",
        );
        page.heading("Studies and pooled estimate");
        page.table(&rows_table("meta-rows", &m.rows));
        Ok(())
    }
}

impl ResultKind for ReplicationKind {
    fn name(&self) -> &'static str {
        "replication"
    }

    fn title(&self) -> &'static str {
        "Replication"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("settings")
            .is_some_and(|s| s.get("original").is_some())
            && json
                .get("rows")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().take(1).all(|r| r.get("term").is_some()))
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let r: ReplicationJson = typed(&input.json)?;
        let st = &r.settings;
        let pair = |k: &str| {
            st.get(k).map_or("–".into(), |v| {
                format!("{} (SE {})", field(v, "estimate"), field(v, "std_error"))
            })
        };
        page.heading("Settings");
        page.table(&settings_table(&[
            ("seed", "– (no random numbers)".into()),
            ("version", recorded_version(&input.json, config)),
            ("original estimate", pair("original")),
            ("original N", field(st, "original_n")),
            ("replication estimate", pair("replication")),
            ("replication N", field(st, "replication_n")),
            ("α", field(st, "alpha")),
            ("level", field(st, "level")),
            ("target power", field(st, "target_power")),
            ("heterogeneity τ between contexts", field(st, "tau")),
            ("smallest effect of interest", field(st, "sesoi")),
        ]));
        page.heading("Key results");
        let find = |t: &str| r.rows.iter().find(|x| x.term == t);
        let mut s = Vec::new();
        if let (Some(o), Some(p)) = (find("original"), find("replication")) {
            s.push(format!(
                "The original estimate {} (SE {}) was followed by a replication estimate of {} (SE {}, {}).",
                o.estimate.map_or("–".into(), |v| decimals_apa(v, 3)),
                o.std_error.map_or("–".into(), |v| decimals_apa(v, 3)),
                p.estimate.map_or("–".into(), |v| decimals_apa(v, 3)),
                p.std_error.map_or("–".into(), |v| decimals_apa(v, 3)),
                p.p_value.map_or("p –".into(), p_value)
            ));
        }
        for t in ["power.conditional", "power.predictive"] {
            if let Some(x) = find(t).and_then(|x| x.estimate) {
                s.push(format!(
                    "{} power of such a replication: {}.",
                    if t.ends_with("conditional") {
                        "Conditional (taking the original estimate as true)"
                    } else {
                        "Predictive (allowing for the original's uncertainty)"
                    },
                    decimals_apa(x, 2)
                ));
            }
        }
        if let Some(x) = find("n.predictive").and_then(|x| x.estimate) {
            let n = number(st, "original_n").map(|n| (n * x).ceil() as usize);
            s.push(match n {
                Some(n) => format!(
                    "For power {} the replication needs N = {} (predictive).",
                    field(st, "target_power"),
                    count(n)
                ),
                None => format!(
                    "For power {} the replication needs {:.2} times the original N (predictive).",
                    field(st, "target_power"),
                    x
                ),
            });
        }
        page.sentences(&s);
        let intervals: Vec<&TermRow> = r
            .rows
            .iter()
            .filter(|x| x.conf_low.is_some() && x.conf_high.is_some())
            .collect();
        if !intervals.is_empty() {
            page.heading("Estimates and intervals");
            page.figure(&forest(&intervals, 0.0), "Original and replication estimates with their intervals, and the prediction intervals for the replication.");
        }
        page.heading("Every statistic");
        page.table(&rows_table("replication-rows", &r.rows));
        Ok(())
    }
}

/// `balans meta --mods … --format json` (meta-regression; also the intercept-only model when a
/// study has a sampling variance of 0): settings, the answer in words, the coefficients and the
/// predictions. The numbers are metafor's `rma.uni` names (`tau2`, `I2`, `QE`, `QM`, `R2`).
pub struct MetaRegressionKind;

#[derive(Debug, Deserialize)]
struct MetaRegressionJson {
    #[serde(default)]
    data: String,
    level: f64,
    #[serde(default)]
    measure: String,
    regression: Value,
    #[serde(default)]
    predictions: Vec<Value>,
    #[serde(default)]
    skipped_rows: usize,
}

impl ResultKind for MetaRegressionKind {
    fn name(&self) -> &'static str {
        "meta-regression"
    }

    fn title(&self) -> &'static str {
        "Meta-regression"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("regression")
            .is_some_and(|m| m.get("tau2").is_some() && m.get("coefficients").is_some())
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let m: MetaRegressionJson = typed(&input.json)?;
        let reg = &m.regression;
        let coefficients: Vec<TermRow> =
            serde_json::from_value(reg.get("coefficients").cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("regression.coefficients: {e}"))?;
        page.heading("Settings");
        page.table(&settings_table(&[
            ("seed", "– (no random numbers)".into()),
            ("version", recorded_version(&input.json, config)),
            ("data", m.data.clone()),
            ("effect measure", m.measure.clone()),
            ("method (τ² estimator)", field(reg, "method")),
            ("Knapp–Hartung adjustment", field(reg, "knha")),
            ("confidence level", m.level.to_string()),
            ("studies k", field(reg, "k")),
            ("rows skipped", m.skipped_rows.to_string()),
        ]));
        page.heading("Key results");
        let mut s = Vec::new();
        if let (Some(qm), Some(p)) = (number(reg, "QM"), number(reg, "QMp")) {
            s.push(format!(
                "The moderators {} the effect (omnibus test QM = {qm:.2}, {}){}.",
                if p < 0.05 {
                    "change"
                } else {
                    "do not detectably change"
                },
                p_value(p),
                number(reg, "R2").map_or(String::new(), |r2| format!(
                    " and account for {r2:.0}% of the between-study variance"
                ))
            ));
        }
        if let Some(tau) = number(reg, "tau") {
            s.push(format!(
                "Residual heterogeneity: τ = {}{}.",
                decimals_apa(tau, 3),
                match (number(reg, "I2"), number(reg, "QEp")) {
                    (Some(i2), Some(p)) => format!(
                        ", I² = {i2:.0}% (test of residual heterogeneity {})",
                        p_value(p)
                    ),
                    _ => " (Q, I² and H² are not defined with a sampling variance of 0)".into(),
                }
            ));
        }
        page.sentences(&s);
        page.heading("Coefficients");
        page.table(&rows_table("meta-coefficients", &coefficients));
        if !m.predictions.is_empty() {
            page.heading("Predictions");
            let mut t = Table::new(
                "meta-predictions",
                &["at", "pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"],
            );
            for p in &m.predictions {
                let mut row = vec![text(field(p, "at"))];
                for key in ["pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"] {
                    row.push(num(opt(number(p, key), 4)));
                }
                t.row(row);
            }
            page.table(&t);
        }
        Ok(())
    }
}
