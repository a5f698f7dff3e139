//! The power section: settings, sentences ("with 216 employees the joint test detects
//! cm→eng→perf with probability .80 ± .013"), the recommended N, power curves with Monte Carlo
//! bands, the path diagram of the population model, and every (n, effect, test) row.

use super::page::{num, num_class, settings_table, text, Page, Table};
use super::{recorded_version, typed, ReportConfig, ReportInput, ResultKind};
use crate::diagram::PathDiagram;
use crate::markup::decimals_apa;
use crate::plot::{LinePlot, PlotPoint, Series};
use crate::sentences::{count, detects, probability_with_se, route, test_name};
use serde::Deserialize;
use serde_json::Value;

/// Population values below this are treated as zero (null effects: their rejection rate is a
/// type I error rate, not power), as in balans-power.
const NULL_EFFECT: f64 = 1e-12;
/// Most sentences about single (effect, test) series before the rest is summarised.
const MAX_SENTENCES: usize = 12;
/// Most curves drawn in one figure.
const MAX_CURVES: usize = 10;

/// `balans power --format json`.
pub struct PowerKind;

#[derive(Debug, Deserialize)]
struct PowerJson {
    settings: Value,
    target_power: Option<f64>,
    rows: Vec<Row>,
    sample_size: Option<Vec<SampleSize>>,
    #[serde(default)]
    notes: Vec<String>,
}

/// One (n, effect, test) row.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Row {
    pub n: usize,
    pub effect: String,
    pub kind: String,
    pub test: String,
    pub power: f64,
    pub mc_se: f64,
    pub population_value: Option<f64>,
    pub mean_estimate: Option<f64>,
    pub bias: Option<f64>,
    pub mean_se: Option<f64>,
    pub empirical_sd: Option<f64>,
    pub coverage: Option<f64>,
    pub convergence_rate: f64,
    pub n_replications: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct SampleSize {
    effect: String,
    test: String,
    status: String,
    n: Option<usize>,
    n_lower: Option<usize>,
    n_upper: Option<usize>,
    fitted_power: Option<f64>,
    bracket: Option<((usize, f64), (usize, f64))>,
}

impl Row {
    fn hypothesised(&self) -> bool {
        self.kind == "all" || self.population_value.is_some_and(|v| v.abs() > NULL_EFFECT)
    }
}

impl ResultKind for PowerKind {
    fn name(&self) -> &'static str {
        "power"
    }

    fn title(&self) -> &'static str {
        "Power analysis"
    }

    fn detect(&self, json: &Value) -> bool {
        json.get("settings").is_some()
            && json
                .get("rows")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().take(1).all(|r| r.get("power").is_some()))
    }

    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        section: &str,
        page: &mut Page,
    ) -> Result<(), String> {
        let p: PowerJson = typed(&input.json)?;
        super::answer_section(&input.json, page);
        page.heading("Settings");
        page.table(&settings(&p, &input.json, config));
        page.heading("Key results");
        page.sentences(&key_sentences(&p));
        if let Some(sizes) = &p.sample_size {
            page.heading(&format!(
                "Recommended sample size for power {}",
                p.target_power.map_or("?".into(), |t| decimals_apa(t, 2))
            ));
            page.table(&sample_size_table(sizes, p.settings.get("replications")));
        }
        page.heading("Power curves");
        let (plot, omitted) = curves(&p);
        page.figure(
            &plot.to_svg(),
            &format!(
                "Power against sample size for each hypothesised effect and test; shaded bands and whiskers: ±1.96 Monte Carlo SE.{}",
                if omitted > 0 {
                    format!(" {omitted} more curves are in the table below.")
                } else {
                    String::new()
                }
            ),
        );
        if let Some(d) = population_diagram(&p, input, section) {
            page.heading("Path diagram of the population model");
            page.figure(&d.to_svg(), "The model the data were simulated from, with its population values; the analysis model frees every path.");
        }
        page.heading("Every result");
        page.table(&rows_table(&p.rows));
        for n in &p.notes {
            page.paragraph_class("note", &format!("Note: {n}"));
        }
        Ok(())
    }
}

fn setting(s: &Value, key: &str) -> String {
    match s.get(key) {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(v)) => v.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => v.to_string(),
    }
}

fn settings(p: &PowerJson, json: &Value, config: &ReportConfig) -> Table {
    let s = &p.settings;
    settings_table(&[
        ("seed", setting(s, "seed")),
        ("version", recorded_version(json, config)),
        ("population model", setting(s, "model")),
        ("analysis model", setting(s, "analysis")),
        ("replications R per sample size", setting(s, "replications")),
        ("significance level α (two-sided)", setting(s, "alpha")),
        ("tests of indirect effects", setting(s, "tests")),
        ("tests of paths", "Wald z".into()),
        ("data", setting(s, "data")),
        ("survey design (teams, missingness)", setting(s, "survey")),
        (
            "sampling",
            format!(
                "{} (used: {})",
                setting(s, "sampling"),
                setting(s, "sampling_used")
            ),
        ),
        ("bootstrap resamples B", setting(s, "bootstrap_draws")),
        ("Monte Carlo CI draws", setting(s, "mc_draws")),
        ("effects reported", setting(s, "effects")),
        (
            "target power",
            p.target_power
                .map_or("– (power at given N)".into(), |t| t.to_string()),
        ),
        (
            "sample sizes evaluated",
            distinct_ns(&p.rows)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ])
}

fn distinct_ns(rows: &[Row]) -> Vec<usize> {
    let mut ns: Vec<usize> = rows.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// Series of rows per (effect, test), in first-seen order, sorted by n.
fn series(rows: &[Row]) -> Vec<((String, String), Vec<&Row>)> {
    let mut out: Vec<((String, String), Vec<&Row>)> = Vec::new();
    for r in rows {
        let key = (r.effect.clone(), r.test.clone());
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    for (_, v) in &mut out {
        v.sort_by_key(|r| r.n);
    }
    out
}

/// One sentence per hypothesised (effect, test): the recommended N when a search ran, else the
/// smallest evaluated N reaching .80 (or the best power seen); one sentence for null effects.
fn key_sentences(p: &PowerJson) -> Vec<String> {
    let target = p.target_power.unwrap_or(0.8);
    let mut out = Vec::new();
    if let Some(sizes) = &p.sample_size {
        for s in sizes {
            let r = p.rows.first().map_or(0, |r| r.n_replications).max(1) as f64;
            match (s.status.as_str(), s.n, s.fitted_power) {
                ("found", Some(n), Some(fp)) | ("at_minimum", Some(n), Some(fp)) => {
                    let se = (fp * (1.0 - fp) / r).sqrt();
                    let mut line = detects(n, &s.test, &s.effect, fp, se);
                    if let (Some(lo), Some(hi)) = (s.n_lower, s.n_upper) {
                        line.pop();
                        line.push_str(&format!(
                            " (95% Monte Carlo interval for the required N: {}–{}).",
                            count(lo),
                            count(hi)
                        ));
                    }
                    out.push(line);
                }
                _ => out.push(format!(
                    "{} does not reach power {} for {} at any sample size searched.",
                    capitalise(&test_name(&s.test)),
                    decimals_apa(target, 2),
                    route(&s.effect)
                )),
            }
        }
        return out;
    }
    let mut nulls = Vec::new();
    let all = series(&p.rows);
    let hypothesised: Vec<_> = all.iter().filter(|(_, r)| r[0].hypothesised()).collect();
    // A sentence per key result: every series when there are few; otherwise the study's named
    // (`:=`) effects and the joint row, or else the largest effects, and one summary of the rest.
    let key: Vec<_> = if hypothesised.len() <= MAX_SENTENCES {
        hypothesised.clone()
    } else {
        let named: Vec<_> = hypothesised
            .iter()
            .copied()
            .filter(|(_, r)| r[0].kind == "defined" || r[0].kind == "all")
            .collect();
        if named.is_empty() {
            let mut by_size = hypothesised.clone();
            by_size.sort_by(|a, b| {
                let v = |x: &&((String, String), Vec<&Row>)| {
                    x.1[0].population_value.unwrap_or(0.0).abs()
                };
                v(b).total_cmp(&v(a))
            });
            by_size.truncate(MAX_SENTENCES);
            by_size
        } else {
            named
        }
    };
    for ((effect, test), rows) in &key {
        let label = if rows[0].kind == "all" {
            "every hypothesised effect at once".to_string()
        } else {
            effect.clone()
        };
        match rows.iter().find(|r| r.power >= target) {
            Some(r) => out.push(detects(r.n, test, &label, r.power, r.mc_se)),
            None => {
                let best = rows.last().expect("non-empty");
                out.push(format!(
                    "Even with {} employees {} detects {} only with probability {} (below {}).",
                    count(best.n),
                    test_name(test),
                    route(&label),
                    probability_with_se(best.power, best.mc_se),
                    decimals_apa(target, 2)
                ));
            }
        }
    }
    let rest: Vec<_> = hypothesised
        .iter()
        .filter(|s| !key.iter().any(|k| k.0 == s.0))
        .collect();
    if !rest.is_empty() {
        let reached = rest
            .iter()
            .filter(|(_, r)| r.iter().any(|x| x.power >= target))
            .count();
        out.push(format!(
            "Of the other {} combinations of effect and test, {} reach power {} at a sample size run; the table below lists every one.",
            rest.len(),
            reached,
            decimals_apa(target, 2)
        ));
    }
    for ((effect, test), rows) in &all {
        if rows[0].hypothesised() {
            continue;
        }
        let worst = rows
            .iter()
            .max_by(|a, b| a.power.total_cmp(&b.power))
            .expect("non-empty");
        nulls.push(format!(
            "{} ({} {})",
            route(effect),
            test,
            probability_with_se(worst.power, worst.mc_se)
        ));
    }
    if !nulls.is_empty() {
        out.push(format!(
            "Effects whose population value is zero reject at the type I error rate, not with power (highest rate per effect and test): {}.",
            nulls.join("; ")
        ));
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn sample_size_table(sizes: &[SampleSize], replications: Option<&Value>) -> Table {
    let mut t = Table::new(
        "sample-size",
        &[
            "effect",
            "test",
            "required N",
            "95% MC interval",
            "fitted power at N",
            "observed power (bracket)",
            "status",
        ],
    );
    for s in sizes {
        t.row(vec![
            text(route(&s.effect)),
            text(s.test.clone()),
            num(s.n.map_or("–".into(), count)),
            num(match (s.n_lower, s.n_upper) {
                (Some(a), Some(b)) => format!("{}–{}", count(a), count(b)),
                (Some(a), None) => format!("{}–?", count(a)),
                _ => "–".into(),
            }),
            num(s.fitted_power.map_or("–".into(), |v| decimals_apa(v, 3))),
            text(s.bracket.map_or("–".into(), |((n1, p1), (n2, p2))| {
                format!(
                    "{} at N = {}, {} at N = {}",
                    decimals_apa(p1, 3),
                    count(n1),
                    decimals_apa(p2, 3),
                    count(n2)
                )
            })),
            text(s.status.replace('_', " ")),
        ]);
    }
    let _ = replications;
    t
}

fn curves(p: &PowerJson) -> (LinePlot, usize) {
    let all = series(&p.rows);
    let mut drawn: Vec<_> = all.iter().filter(|(_, r)| r[0].hypothesised()).collect();
    if drawn.len() > MAX_CURVES {
        // The study's named (`:=`) effects first, then the rest in the run's order.
        drawn.sort_by_key(|(_, r)| r[0].kind != "defined");
    }
    let omitted = drawn.len().saturating_sub(MAX_CURVES);
    let plot = LinePlot {
        title: String::new(),
        x_label: "sample size N".into(),
        y_label: "power".into(),
        series: drawn
            .iter()
            .take(MAX_CURVES)
            .map(|((effect, test), rows)| Series {
                name: format!("{} ({test})", route(effect)),
                points: rows
                    .iter()
                    .map(|r| PlotPoint {
                        x: r.n as f64,
                        y: r.power,
                        band: Some((r.power - 1.96 * r.mc_se, r.power + 1.96 * r.mc_se)),
                    })
                    .collect(),
                markers_only: false,
            })
            .collect(),
        reference_lines: vec![(
            p.target_power.unwrap_or(0.8),
            format!("power {}", decimals_apa(p.target_power.unwrap_or(0.8), 2)),
        )],
        reference_slopes: Vec::new(),
        y_range: Some((0.0, 1.0)),
        note: "bands: ±1.96 MC SE".into(),
    };
    (plot, omitted)
}

fn population_diagram(p: &PowerJson, input: &ReportInput, section: &str) -> Option<PathDiagram> {
    let origin = p.settings.get("model").and_then(Value::as_str)?;
    let model = match (&input.model_text, origin.strip_prefix("builtin:")) {
        (Some(text), _) => balans_model::parse_model(origin, text).ok()?,
        (None, Some(name)) => balans_model::Model::builtin(name).ok()?,
        _ => return None,
    };
    let population = model.population().ok()?;
    Some(PathDiagram::from_population(&model, &population).with_id_prefix(section))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// Every row, with power and MC SE in classed cells (`power`, `mc_se`).
pub(crate) fn rows_table(rows: &[Row]) -> Table {
    let mut t = Table::new(
        "power-rows",
        &[
            "N",
            "effect",
            "kind",
            "test",
            "power",
            "MC SE",
            "population value",
            "mean estimate",
            "bias",
            "mean SE",
            "empirical SD",
            "coverage",
            "converged",
        ],
    );
    for r in rows {
        t.row_with(
            vec![
                ("n".into(), r.n.to_string()),
                ("effect".into(), r.effect.clone()),
                ("test".into(), r.test.clone()),
            ],
            vec![
                num(r.n.to_string()),
                text(route(&r.effect)),
                text(r.kind.clone()),
                text(r.test.clone()),
                num_class(format!("{:.3}", r.power), "power"),
                num_class(format!("{:.4}", r.mc_se), "mc_se"),
                num(opt(r.population_value, 4)),
                num(opt(r.mean_estimate, 4)),
                num(opt(r.bias, 4)),
                num(opt(r.mean_se, 4)),
                num(opt(r.empirical_sd, 4)),
                num(opt(r.coverage, 3)),
                num(format!("{:.1}%", 100.0 * r.convergence_rate)),
            ],
        );
    }
    t
}
