//! The model section (`balans model show --format json`): settings, sentences, the path diagram of
//! the population values, paths with their sources, R² and indirect effects.

use super::page::{num, settings_table, text, Page, Table};
use super::{recorded_version, typed, ReportConfig, ReportInput, ResultKind};
use crate::diagram::{DiagramCovariance, DiagramPath, DiagramVariable, PathDiagram};
use crate::markup::decimals_apa;
use crate::sentences::{percent, route};
use serde::Deserialize;
use serde_json::Value;

/// `balans model show --format json`.
pub struct ModelKind;

#[derive(Debug, Deserialize)]
struct ModelJson {
    model: String,
    semantics: String,
    variables: Vec<Variable>,
    parameters: Vec<Parameter>,
    #[serde(default)]
    indirect_effects: Vec<Indirect>,
    #[serde(default)]
    defined: Vec<Defined>,
}

#[derive(Debug, Deserialize)]
struct Variable {
    name: String,
    #[serde(default)]
    latent: bool,
    r2: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Parameter {
    lhs: String,
    op: String,
    rhs: String,
    label: Option<String>,
    value: Option<f64>,
    std: Option<f64>,
    source: Option<String>,
    /// Whether the value is written in the model text (older results lack the field: written).
    #[serde(default = "written")]
    specified: bool,
}

fn written() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct Indirect {
    name: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
struct Defined {
    name: String,
    expression: String,
    value: f64,
}

/// The path diagram of a `balans model show --format json` result: population values, every
/// non-zero path and covariance, R² in the boxes.
///
/// # Errors
/// The JSON is not a model result (the failing field is named).
pub fn model_diagram(json: &Value) -> Result<PathDiagram, String> {
    let m: ModelJson = typed(json)?;
    Ok(diagram(&m))
}

fn diagram(m: &ModelJson) -> PathDiagram {
    let index = |n: &str| m.variables.iter().position(|v| v.name == n);
    // (Residual) variances, to show covariances as correlations under standardized semantics.
    let variance = |n: &str| {
        m.parameters
            .iter()
            .find(|p| p.op == "~~" && p.lhs == n && p.rhs == n)
            .and_then(|p| p.value)
    };
    let standardized = m.semantics == "standardized";
    let mut paths = Vec::new();
    let mut covariances = Vec::new();
    for p in &m.parameters {
        let (Some(a), Some(b)) = (index(&p.lhs), index(&p.rhs)) else {
            continue;
        };
        // Every path of the model is drawn, blank when the model text gives no value; one fixed at
        // 0 is not an arrow of the population.
        let given = if p.specified { p.value } else { None };
        if given == Some(0.0) {
            continue;
        }
        match p.op.as_str() {
            "~" => paths.push(DiagramPath {
                from: b,
                to: a,
                value: given,
                label: p.label.clone(),
                pvalue: None,
            }),
            "~~" if a != b => {
                let as_shown = |v: f64| match (standardized, variance(&p.lhs), variance(&p.rhs)) {
                    (true, Some(va), Some(vb)) if va > 0.0 && vb > 0.0 => v / (va * vb).sqrt(),
                    _ => v,
                };
                let value = given.map(as_shown);
                covariances.push(DiagramCovariance {
                    a,
                    b,
                    value,
                    label: p.label.clone(),
                    pvalue: None,
                })
            }
            _ => {}
        }
    }
    PathDiagram {
        variables: m
            .variables
            .iter()
            .enumerate()
            .map(|(i, v)| DiagramVariable {
                name: v.name.clone(),
                // R² is unknown while an incoming path has no value.
                r_squared: v
                    .r2
                    .filter(|_| !paths.iter().any(|q| q.to == i && q.value.is_none())),
                latent: v.latent,
            })
            .collect(),
        paths,
        covariances,
        alpha: 0.05,
        caption: format!(
            "Population values ({} semantics): paths with their coefficients, curved arrows (residual) {}; R² in the boxes.",
            m.semantics,
            if m.semantics == "standardized" { "correlations" } else { "covariances" }
        ),
        id_prefix: "pd".into(),
        standardized,
    }
}

impl ResultKind for ModelKind {
    fn name(&self) -> &'static str {
        "model"
    }

    fn title(&self) -> &'static str {
        "Model"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("implied_covariance").is_some() && json.get("parameters").is_some()
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let m: ModelJson = typed(&input.json)?;
        let paths: Vec<&Parameter> = m.parameters.iter().filter(|p| p.op == "~").collect();
        let estimates = m
            .parameters
            .iter()
            .filter(|p| p.source.as_deref() == Some("E"))
            .count();
        page.heading("Settings");
        page.table(&settings_table(&[
            ("seed", "– (a model involves no random numbers)".into()),
            ("version", recorded_version(&input.json, config)),
            ("model", m.model.clone()),
            ("semantics", m.semantics.clone()),
            ("variables", m.variables.len().to_string()),
            ("paths", paths.len().to_string()),
        ]));
        page.heading("Key results");
        let mut s = Vec::new();
        s.push(format!(
            "The model has {} variables and {} paths, {} of them non-zero in the population.",
            m.variables.len(),
            paths.len(),
            paths
                .iter()
                .filter(|p| p.value.unwrap_or(0.0) != 0.0)
                .count()
        ));
        if let Some(best) = m
            .indirect_effects
            .iter()
            .max_by(|a, b| a.value.abs().total_cmp(&b.value.abs()))
        {
            s.push(format!(
                "The largest specific indirect effect is {} = {}.",
                route(&best.name),
                decimals_apa(best.value, 3)
            ));
        }
        let r2: Vec<String> = m
            .variables
            .iter()
            .filter_map(|v| v.r2.map(|r| format!("{} {}", v.name, percent(r))))
            .collect();
        if !r2.is_empty() {
            s.push(format!("Variance explained (R²): {}.", r2.join(", ")));
        }
        if estimates > 0 {
            s.push(format!("{estimates} values are tagged [E]: engineering estimates, not numbers read in a source."));
        }
        page.sentences(&s);
        page.heading("Path diagram");
        let d = diagram(&m).with_id_prefix(section);
        page.figure(&d.to_svg(), "");
        page.heading("Parameters");
        let mut t = Table::new(
            "parameters",
            &[
                "lhs",
                "op",
                "rhs",
                "label",
                "value",
                "standardized",
                "source",
            ],
        );
        for p in &m.parameters {
            t.row(vec![
                text(p.lhs.clone()),
                text(p.op.clone()),
                text(p.rhs.clone()),
                text(p.label.clone().unwrap_or_default()),
                num(p.value.map_or("–".into(), |v| format!("{v:.4}"))),
                num(p.std.map_or("–".into(), |v| format!("{v:.4}"))),
                text(p.source.clone().map_or(String::new(), |s| format!("[{s}]"))),
            ]);
        }
        page.table(&t);
        if !m.indirect_effects.is_empty() || !m.defined.is_empty() {
            page.heading("Indirect effects and defined parameters");
            let mut t = Table::new("effects", &["effect", "definition", "value"]);
            for e in &m.indirect_effects {
                t.row(vec![
                    text(route(&e.name)),
                    text("product of the paths on the route"),
                    num(format!("{:.4}", e.value)),
                ]);
            }
            for d in &m.defined {
                t.row(vec![
                    text(d.name.clone()),
                    text(d.expression.clone()),
                    num(format!("{:.4}", d.value)),
                ]);
            }
            page.table(&t);
        }
        Ok(())
    }
}
