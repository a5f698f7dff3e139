//! Sections for the JSON of `balans trial plan` (analytic MDES and power, PowerUpR's `cra2r2`) and
//! `balans trial power` (simulation power of the trial analyses): the design and settings first,
//! a sentence per key result, the power curve by number of leaders with Monte Carlo bands, and the
//! full table with MC SE, type I error, coverage and the singular/failed fit counts.

use super::page::{num, settings_table, text, Page, Table};
use super::{recorded_version, typed, ReportConfig, ReportInput, ResultKind};
use crate::plot::{LinePlot, PlotPoint, Series};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `balans trial plan --format json`.
pub struct TrialPlanKind;

/// `balans trial power --format json`.
pub struct TrialPowerKind;

/// One row of a trial power run.
#[derive(Debug, Clone, Deserialize)]
struct PowerRow {
    leaders: usize,
    team_size: f64,
    analysis: String,
    outcome: String,
    effect: f64,
    reps: usize,
    power: f64,
    mc_se: f64,
    #[serde(default)]
    bias: Option<f64>,
    #[serde(default)]
    coverage: Option<f64>,
    #[serde(default)]
    type1: Option<f64>,
    #[serde(default)]
    type1_mc_se: Option<f64>,
    #[serde(default)]
    singular: usize,
    #[serde(default)]
    failed: usize,
}

#[derive(Debug, Deserialize)]
struct PowerJson {
    design: Value,
    settings: Value,
    rows: Vec<PowerRow>,
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or(n.to_string(), |x| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.4}")
            }
        }),
        other => other.to_string(),
    }
}

/// The non-null fields of an object as settings rows.
fn object_rows(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), show(v)))
                .collect()
        })
        .unwrap_or_default()
}

fn settings(page: &mut Page, version: String, parts: &[&Value]) {
    let mut rows = vec![("version".to_string(), version)];
    for p in parts {
        rows.extend(object_rows(p));
    }
    let refs: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    page.table(&settings_table(&refs));
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{x:.3}"))
}

impl ResultKind for TrialPowerKind {
    fn name(&self) -> &'static str {
        "trial power"
    }
    fn title(&self) -> &'static str {
        "Trial power (simulation)"
    }
    fn detect(&self, json: &Value) -> bool {
        json.get("design").is_some()
            && json["rows"]
                .get(0)
                .is_some_and(|r| r.get("analysis").is_some() && r.get("power").is_some())
    }
    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let r: PowerJson = typed(&input.json)?;
        super::answer_section(&input.json, page);
        settings(
            page,
            recorded_version(&input.json, config),
            &[&r.settings, &r.design],
        );
        page.sentences(&sentences(&r.rows));
        if let Some(svg) = curve(&r.rows) {
            page.figure(&svg, "Power by number of leaders (randomised supervisors), per analysis; bands ±1.96 Monte Carlo SE.");
        }
        page.table(&power_table(&r.rows));
        Ok(())
    }
}

/// One sentence per analysis: the smallest design that reaches 80% power, or the best one.
fn sentences(rows: &[PowerRow]) -> Vec<String> {
    let mut by: BTreeMap<&str, Vec<&PowerRow>> = BTreeMap::new();
    for r in rows {
        by.entry(r.analysis.as_str()).or_default().push(r);
    }
    by.iter()
        .map(|(analysis, rs)| {
            let best = rs
                .iter()
                .filter(|r| r.power >= 0.8)
                .min_by_key(|r| r.leaders)
                .or_else(|| rs.iter().max_by(|a, b| a.power.total_cmp(&b.power)))
                .expect("a group has rows");
            let singular = rs.iter().map(|r| r.singular).sum::<usize>();
            let failed = rs.iter().map(|r| r.failed).sum::<usize>();
            format!(
                "With {} leaders (teams of about {:.0}) the {} detects a training effect of {:.2} SD on {} with probability {:.2} ± {:.3} ({} replications){}.",
                best.leaders,
                best.team_size,
                analysis.replace('_', " "),
                best.effect,
                best.outcome,
                best.power,
                best.mc_se,
                best.reps,
                if singular + failed > 0 { format!(" — over all designs {singular} fits were singular (leader variance 0) and {failed} failed; see the table") } else { String::new() }
            )
        })
        .collect()
}

fn curve(rows: &[PowerRow]) -> Option<String> {
    let mut by: BTreeMap<(String, String), Vec<&PowerRow>> = BTreeMap::new();
    for r in rows {
        by.entry((r.analysis.clone(), format!("{:.0}", r.team_size)))
            .or_default()
            .push(r);
    }
    if by.values().all(|v| v.len() < 2) {
        return None;
    }
    let series = by
        .iter()
        .map(|((a, n), rs)| Series {
            name: format!("{} (n = {n})", a.replace('_', " ")),
            points: rs
                .iter()
                .map(|r| PlotPoint {
                    x: r.leaders as f64,
                    y: r.power,
                    band: Some((r.power - 1.96 * r.mc_se, r.power + 1.96 * r.mc_se)),
                })
                .collect(),
            markers_only: false,
        })
        .collect();
    let plot = LinePlot {
        x_label: "leaders".into(),
        y_label: "power".into(),
        series,
        reference_lines: vec![(0.8, "power 0.8".into())],
        y_range: Some((0.0, 1.0)),
        note: "bands: ±1.96 MC SE".into(),
        ..LinePlot::default()
    };
    Some(plot.to_svg())
}

fn power_table(rows: &[PowerRow]) -> Table {
    let mut t = Table::new(
        "trial-power",
        &[
            "leaders",
            "team size",
            "analysis",
            "outcome",
            "effect",
            "power",
            "MC SE",
            "bias",
            "coverage",
            "type I",
            "type I MC SE",
            "singular",
            "failed",
        ],
    );
    for r in rows {
        t.row(vec![
            num(r.leaders.to_string()),
            num(format!("{:.1}", r.team_size)),
            text(r.analysis.clone()),
            text(r.outcome.clone()),
            num(format!("{:.3}", r.effect)),
            num(format!("{:.3}", r.power)),
            num(format!("{:.3}", r.mc_se)),
            num(opt(r.bias)),
            num(opt(r.coverage)),
            num(opt(r.type1)),
            num(opt(r.type1_mc_se)),
            num(r.singular.to_string()),
            num(r.failed.to_string()),
        ]);
    }
    t
}

impl ResultKind for TrialPlanKind {
    fn name(&self) -> &'static str {
        "trial plan"
    }
    fn title(&self) -> &'static str {
        "Trial plan (analytic, PowerUpR cra2r2)"
    }
    fn detect(&self, json: &Value) -> bool {
        json.get("mdes").is_some() && json.get("design").is_some()
    }
    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let j = &input.json;
        super::answer_section(j, page);
        let get = |k: &str| j.get(k).and_then(Value::as_f64);
        let (mdes, lo, hi) = (get("mdes"), get("conf.low"), get("conf.high"));
        let (Some(mdes), Some(lo), Some(hi)) = (mdes, lo, hi) else {
            return Err("missing field 'mdes', 'conf.low' or 'conf.high'".into());
        };
        settings(page, recorded_version(j, config), &[&j["design"]]);
        let leaders = get("leaders").map_or("–".into(), |l| format!("{l:.0}"));
        let power = get("power").map_or("–".into(), |p| format!("{p:.2}"));
        page.sentences(&[format!(
            "With {leaders} leaders randomised the minimum detectable effect is {mdes:.3} SD (95% interval {lo:.3} to {hi:.3}); power {power} at the planned effect (noncentral t, df {}).",
            get("df").map_or("–".into(), |d| format!("{d:.0}"))
        )]);
        let mut t = Table::new("trial-plan", &["quantity", "value"]);
        for (k, v) in object_rows(j).into_iter().filter(|(k, _)| k != "design") {
            t.row(vec![text(k), num(v)]);
        }
        page.table(&t);
        Ok(())
    }
}
