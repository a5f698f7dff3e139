//! The fit section: settings, sentences, the path diagram of the estimates (std.all with stars,
//! non-significant paths dashed, R² in the boxes), parameters, effects, R² and fit measures.

use super::page::{num, settings_table, text, Page, Table};
use super::{recorded_version, typed, ReportConfig, ReportInput, ResultKind};
use crate::diagram::{EstimateRow, PathDiagram};
use crate::markup::decimals_apa;
use crate::sentences::{count, p_value, percent, route};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `balans fit --format json`.
pub struct FitKind;

#[derive(Debug, Deserialize)]
struct FitJson {
    model: String,
    data: String,
    n: usize,
    #[serde(default)]
    n_dropped: usize,
    estimator: String,
    method: String,
    iterations: Option<usize>,
    ci: Option<Value>,
    parameters: Vec<Parameter>,
    #[serde(default)]
    effects: Vec<Effect>,
    #[serde(default)]
    r2: BTreeMap<String, f64>,
    #[serde(default)]
    fit: BTreeMap<String, Value>,
    #[serde(default)]
    variables: Vec<Variable>,
}

#[derive(Debug, Deserialize)]
struct Parameter {
    lhs: String,
    op: String,
    rhs: String,
    #[serde(default)]
    label: String,
    #[serde(default = "yes")]
    free: bool,
    est: f64,
    se: Option<f64>,
    z: Option<f64>,
    pvalue: Option<f64>,
    #[serde(rename = "ci.lower")]
    ci_lower: Option<f64>,
    #[serde(rename = "ci.upper")]
    ci_upper: Option<f64>,
    #[serde(rename = "std.all")]
    std_all: Option<f64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct Effect {
    name: String,
    kind: String,
    est: f64,
    se: Option<f64>,
    pvalue: Option<f64>,
    #[serde(rename = "ci.lower")]
    ci_lower: Option<f64>,
    #[serde(rename = "ci.upper")]
    ci_upper: Option<f64>,
    #[serde(rename = "ci.method")]
    ci_method: Option<String>,
    #[serde(rename = "std.all")]
    std_all: Option<f64>,
    joint_significant: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Variable {
    name: String,
}

/// The path diagram of a `balans fit --format json` result: standardized estimates (`std.all`)
/// with stars, paths with p ≥ .05 dashed, R² in the boxes.
///
/// # Errors
/// The JSON is not a fit result (the failing field is named).
pub fn fit_diagram(json: &Value) -> Result<PathDiagram, String> {
    let f: FitJson = typed(json)?;
    Ok(diagram(&f))
}

fn diagram(f: &FitJson) -> PathDiagram {
    let rows: Vec<EstimateRow> = f
        .parameters
        .iter()
        .map(|p| EstimateRow {
            lhs: p.lhs.clone(),
            op: p.op.clone(),
            rhs: p.rhs.clone(),
            value: p.std_all.unwrap_or(p.est),
            pvalue: if p.free { p.pvalue } else { None },
        })
        .collect();
    let names: Vec<String> = f.variables.iter().map(|v| v.name.clone()).collect();
    let r2: Vec<(String, f64)> = f.r2.iter().map(|(k, v)| (k.clone(), *v)).collect();
    PathDiagram::from_estimates(
        &names,
        &rows,
        &r2,
        0.05,
        &format!(
            "Standardized estimates (std.all), N = {}. * p < .05, ** p < .01, *** p < .001; dashed: not significant (p ≥ .05). Curved arrows: (residual) correlations, with stars when tested (no stars: fixed at the sample value).",
            count(f.n)
        ),
    )
}

impl ResultKind for FitKind {
    fn name(&self) -> &'static str {
        "fit"
    }

    fn title(&self) -> &'static str {
        "Model fit"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("estimator").is_some() && json.get("parameters").is_some()
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let f: FitJson = typed(&input.json)?;
        super::answer_section(&input.json, page);
        page.heading("Settings");
        let ci = f.ci.as_ref();
        let ci_field = |k: &str| {
            ci.and_then(|c| c.get(k))
                .filter(|v| !v.is_null())
                .map_or("–".into(), |v| {
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                })
        };
        page.table(&settings_table(&[
            ("seed (intervals)", ci_field("seed")),
            ("version", recorded_version(&input.json, config)),
            ("model", f.model.clone()),
            ("data", f.data.clone()),
            (
                "N analysed",
                format!("{} ({} dropped listwise)", count(f.n), count(f.n_dropped)),
            ),
            ("estimator", format!("{} ({})", f.estimator, f.method)),
            (
                "iterations",
                f.iterations.map_or("–".into(), |i| i.to_string()),
            ),
            (
                "intervals",
                format!(
                    "{} at level {} (bootstrap B {}, MC draws {})",
                    ci_field("method"),
                    ci_field("level"),
                    ci_field("bootstrap"),
                    ci_field("mc_draws")
                ),
            ),
        ]));
        page.heading("Key results");
        page.sentences(&sentences(&f));
        page.heading("Path diagram");
        let d = diagram(&f).with_id_prefix(section);
        page.figure(&d.to_svg(), "");
        page.heading("Parameters");
        page.table(&parameter_table(&f));
        page.heading("Indirect, total and defined effects");
        page.table(&effect_table(&f));
        page.heading("Fit measures");
        let mut t = Table::new("fit-measures", &["measure", "value"]);
        for (k, v) in &f.fit {
            let shown = match v {
                Value::Number(x) => x.as_f64().map_or(x.to_string(), |x| {
                    if x.fract() == 0.0 {
                        format!("{x:.0}")
                    } else {
                        format!("{x:.4}")
                    }
                }),
                Value::Null => "–".into(),
                other => other.to_string(),
            };
            t.row(vec![text(k.clone()), num(shown)]);
        }
        page.table(&t);
        Ok(())
    }
}

fn sentences(f: &FitJson) -> Vec<String> {
    let mut out = Vec::new();
    let num_field = |k: &str| f.fit.get(k).and_then(Value::as_f64);
    if let (Some(chisq), Some(df)) = (num_field("chisq"), num_field("df")) {
        if df > 0.0 {
            out.push(format!(
                "The model fits with χ²({df:.0}) = {chisq:.2}{}, CFI = {}, RMSEA = {}, SRMR = {}.",
                num_field("pvalue").map_or(String::new(), |p| format!(", {}", p_value(p))),
                num_field("cfi").map_or("–".into(), |v| decimals_apa(v, 3)),
                num_field("rmsea").map_or("–".into(), |v| decimals_apa(v, 3)),
                num_field("srmr").map_or("–".into(), |v| decimals_apa(v, 3)),
            ));
        } else {
            out.push("The model is saturated (df = 0): it reproduces the sample covariances exactly, so fit measures say nothing about it; judge it by its paths.".into());
        }
    }
    let paths: Vec<&Parameter> = f.parameters.iter().filter(|p| p.op == "~").collect();
    let significant = paths
        .iter()
        .filter(|p| p.pvalue.is_some_and(|v| v < 0.05))
        .count();
    out.push(format!(
        "{} of {} paths are significant at .05 (N = {}).",
        significant,
        paths.len(),
        count(f.n)
    ));
    let mut indirect: Vec<&Effect> = f
        .effects
        .iter()
        .filter(|e| e.kind == "indirect" && e.joint_significant == Some(true))
        .collect();
    indirect.sort_by(|a, b| a.pvalue.unwrap_or(1.0).total_cmp(&b.pvalue.unwrap_or(1.0)));
    for e in indirect.iter().take(5) {
        out.push(format!(
            "{} is estimated at {} (95% CI {} to {}, {}; std.all {}), and every path on it is significant (joint test).",
            route(&e.name),
            decimals_apa(e.est, 3),
            e.ci_lower.map_or("–".into(), |v| decimals_apa(v, 3)),
            e.ci_upper.map_or("–".into(), |v| decimals_apa(v, 3)),
            e.pvalue.map_or("p –".into(), p_value),
            e.std_all.map_or("–".into(), |v| decimals_apa(v, 3)),
        ));
    }
    if indirect.is_empty() {
        out.push("No specific indirect effect has every path significant (joint test).".into());
    }
    if !f.r2.is_empty() {
        let parts: Vec<String> =
            f.r2.iter()
                .map(|(k, v)| format!("{k} {}", percent(*v)))
                .collect();
        out.push(format!(
            "The model explains this share of each outcome's variance (R²): {}.",
            parts.join(", ")
        ));
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn parameter_table(f: &FitJson) -> Table {
    let mut t = Table::new(
        "parameters",
        &[
            "lhs", "op", "rhs", "label", "est", "se", "z", "p", "ci.lower", "ci.upper", "std.all",
        ],
    );
    for p in &f.parameters {
        t.row(vec![
            text(p.lhs.clone()),
            text(p.op.clone()),
            text(p.rhs.clone()),
            text(p.label.clone()),
            num(format!("{:.4}", p.est)),
            num(opt(p.se, 4)),
            num(opt(p.z, 3)),
            num(opt(p.pvalue, 4)),
            num(opt(p.ci_lower, 4)),
            num(opt(p.ci_upper, 4)),
            num(opt(p.std_all, 3)),
        ]);
    }
    t
}

fn effect_table(f: &FitJson) -> Table {
    let mut t = Table::new(
        "effects",
        &[
            "effect",
            "kind",
            "est",
            "se",
            "p",
            "ci.lower",
            "ci.upper",
            "interval",
            "std.all",
            "joint test",
        ],
    );
    for e in &f.effects {
        t.row(vec![
            text(route(&e.name)),
            text(e.kind.clone()),
            num(format!("{:.4}", e.est)),
            num(opt(e.se, 4)),
            num(opt(e.pvalue, 4)),
            num(opt(e.ci_lower, 4)),
            num(opt(e.ci_upper, 4)),
            text(e.ci_method.clone().unwrap_or_default()),
            num(opt(e.std_all, 3)),
            text(match e.joint_significant {
                Some(true) => "significant",
                Some(false) => "not significant",
                None => "",
            }),
        ]);
    }
    t
}
