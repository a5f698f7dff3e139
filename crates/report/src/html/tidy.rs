//! A section for any other balans result whose JSON holds broom-style rows (`term`, `estimate`, …):
//! `transport reweight`, `transport difference`, `transport sites` and `trial analyse` (rows under
//! `report`). Settings (every non-row field) first, then one table with every field of the rows,
//! so nothing the JSON holds is left out.

use super::page::{num, settings_table, text, Page, Table};
use super::{recorded_version, ReportConfig, ReportInput, ResultKind};
use serde_json::Value;

/// Any result with broom-style rows.
pub struct TidyKind;

/// The rows array: `rows` at the top or under `report`.
fn rows(json: &Value) -> Option<&Vec<Value>> {
    json.get("rows")
        .or_else(|| json.get("report").and_then(|r| r.get("rows")))
        .and_then(Value::as_array)
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or(n.to_string(), |x| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{x:.0}")
            } else {
                format!("{x:.4}")
            }
        }),
        other => other.to_string(),
    }
}

impl ResultKind for TidyKind {
    fn name(&self) -> &'static str {
        "rows"
    }
    fn title(&self) -> &'static str {
        "Results (broom-style rows)"
    }
    fn detect(&self, json: &Value) -> bool {
        rows(json)
            .and_then(|r| r.first())
            .is_some_and(|r| r.get("term").is_some())
    }
    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        _section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let rs = rows(&input.json).ok_or("missing field 'rows'")?;
        let mut settings = vec![("version".to_string(), recorded_version(&input.json, config))];
        if let Some(o) = input.json.as_object() {
            for (k, v) in o
                .iter()
                .filter(|(k, _)| k.as_str() != "rows" && k.as_str() != "report")
            {
                settings.push((k.clone(), cell(v)));
            }
        }
        let refs: Vec<(&str, String)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        page.table(&settings_table(&refs));
        let mut columns: Vec<String> = vec!["term".into()];
        for r in rs {
            for k in r.as_object().into_iter().flat_map(|o| o.keys()) {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let header: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut t = Table::new("tidy", &header);
        for r in rs {
            t.row(
                columns
                    .iter()
                    .map(|c| match r.get(c) {
                        Some(Value::Number(_)) => num(cell(&r[c])),
                        Some(v) => text(cell(v)),
                        None => text(""),
                    })
                    .collect(),
            );
        }
        page.table(&t);
        Ok(())
    }
}
