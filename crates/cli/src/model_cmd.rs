//! `balans model list | show | print`.

use crate::output::{emit, Format};
use crate::source::ModelSource;
use anyhow::{bail, Result};
use balans_model::{Model, Population, Semantics, Source, BUILTINS};
use serde_json::{json, Value};

/// Arguments of `balans model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelCommand {
    /// List the built-in models.
    #[command(after_help = "Example:\n  balans model list")]
    List,
    /// Show a model: paths with population values and their sources, implied correlations, R², and
    /// direct, indirect and total effects (every specific indirect route named, e.g. is->wfc->perf).
    #[command(
        after_help = "Examples:\n  balans model show --builtin seed\n  balans model show --model mediation.lav --standardized --format json"
    )]
    Show {
        #[command(flatten)]
        source: ModelSource,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a model file's text (a built-in one, to edit and run as your own).
    #[command(
        after_help = "Example:\n  balans model print --builtin seed > my-model.lav\n  balans model show --model my-model.lav"
    )]
    Print {
        #[command(flatten)]
        source: ModelSource,
    },
}

/// Runs `balans model …`.
pub fn run(args: &ModelArgs) -> Result<()> {
    match &args.command {
        ModelCommand::List => {
            let mut out = String::new();
            for b in BUILTINS {
                out.push_str(&format!("{:<16} {}\n", b.name, b.description));
            }
            emit(None, out.as_bytes())
        }
        ModelCommand::Print { source } => {
            let text = source.text()?;
            // Validate before printing so a broken file is reported, not echoed.
            source.load()?;
            emit(None, text.as_bytes())
        }
        ModelCommand::Show { source, format } => {
            let model = source.load()?;
            let pop = model.population()?;
            let report = report(&source.origin(), &model, &pop)?;
            match format {
                Format::Json => emit(
                    None,
                    format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes(),
                ),
                Format::Table => emit(None, table(&report).as_bytes()),
                Format::Csv => bail!("'model show' supports --format table or json"),
            }
        }
    }
}

fn source_tag(s: Option<Source>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.tag().to_string()))
}

/// Everything `model show` reports, as one JSON object of arrays.
fn report(origin: &str, model: &Model, pop: &Population) -> Result<Value> {
    let names = pop.names();
    let std = pop.standardized()?;
    let r2 = pop.r_squared();
    let mut paths = Vec::new();
    for r in model.regressions() {
        paths.push(json!({
            "lhs": names[r.outcome], "op": "~", "rhs": names[r.predictor],
            "label": r.label, "value": pop.beta()[(r.outcome, r.predictor)],
            "std": std.beta()[(r.outcome, r.predictor)],
            "specified": r.value.is_some(), "source": source_tag(r.source),
        }));
    }
    // Every variance and covariance of the population: written ones, derived ones and defaults.
    for i in 0..pop.len() {
        for j in 0..=i {
            let written = model
                .covariances()
                .iter()
                .find(|c| (c.a == i && c.b == j) || (c.a == j && c.b == i));
            if i != j
                && written.is_none()
                && !(pop.exogenous()[i] && pop.exogenous()[j] && pop.psi()[(i, j)] != 0.0)
            {
                continue;
            }
            let kind = match (i == j, pop.exogenous()[i]) {
                (true, true) => "variance",
                (true, false) => "residual variance",
                (false, true) => "covariance",
                (false, false) => "residual covariance",
            };
            let (lhs, rhs) = match written {
                Some(c) => (names[c.a].clone(), names[c.b].clone()),
                None => (names[j].clone(), names[i].clone()),
            };
            let specified = written.is_some_and(|c| c.value.is_some());
            let how = if specified {
                "specified"
            } else if model.semantics() == Semantics::Standardized && !pop.exogenous()[i] && i == j
            {
                "derived"
            } else {
                "default"
            };
            paths.push(json!({
                "lhs": lhs, "op": "~~", "rhs": rhs, "kind": kind,
                "label": written.and_then(|c| c.label.clone()),
                "value": pop.psi()[(i, j)], "std": std.psi()[(i, j)],
                "specified": specified, "how": how,
                "source": written.map_or(Value::Null, |c| source_tag(c.source)),
            }));
        }
    }
    let variables: Vec<Value> = (0..pop.len())
        .map(|i| {
            json!({
                "name": names[i], "exogenous": pop.exogenous()[i], "latent": model.is_latent(i),
                "variance": pop.implied_covariance()[(i, i)], "r2": r2[i],
            })
        })
        .collect();
    let matrix = |m: &balans_model::Matrix| -> Vec<Vec<f64>> {
        (0..m.nrows())
            .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
            .collect()
    };
    let effects = pop.effects_along(&model.arrow_pattern());
    let mut pairs = Vec::new();
    let reach = balans_model::reachability(&model.arrow_pattern());
    for to in 0..pop.len() {
        for from in 0..pop.len() {
            if reach[(to, from)] {
                pairs.push(json!({
                    "from": names[from], "to": names[to],
                    "direct": effects.direct[(to, from)], "indirect": effects.indirect[(to, from)],
                    "total": effects.total[(to, from)],
                }));
            }
        }
    }
    let specific: Vec<Value> = effects
        .specific
        .iter()
        .map(|s| json!({
            "name": s.name, "from": names[s.route[0]], "to": names[*s.route.last().expect("routes are non-empty")],
            "via": s.route[1..s.route.len() - 1].iter().map(|&i| names[i].clone()).collect::<Vec<_>>(),
            "value": s.value,
        }))
        .collect();
    let values = model.label_values(pop);
    let defined: Vec<Value> = model
        .defined()
        .iter()
        .map(|d| {
            json!({
                "name": d.name, "expression": d.expr.to_string(),
                "value": values.iter().find(|(l, _)| *l == d.name).map(|(_, v)| *v),
            })
        })
        .collect();
    // Measurement part: loadings and item residual variances (unspecified loadings are 1, the
    // marker convention; unspecified residual variances are 1 under raw semantics and 1 − λ² under
    // standardized semantics, which gives items of unit variance).
    let measurement: Vec<Value> = model
        .latent_variables()
        .iter()
        .flat_map(|lv| {
            lv.indicators.iter().map(move |i| {
                let loading = i.loading.unwrap_or(1.0);
                let residual = i.residual_variance.unwrap_or(match model.semantics() {
                    Semantics::Raw => 1.0,
                    Semantics::Standardized => 1.0 - loading * loading,
                });
                json!({"latent": lv.name, "item": i.name, "label": i.label, "loading": loading,
                       "loading_specified": i.loading.is_some(), "residual_variance": residual})
            })
        })
        .collect();
    let mut report = json!({
        "model": origin,
        "measurement": measurement,
        "semantics": model.semantics(),
        "variables": variables,
        "parameters": paths,
        "implied_covariance": { "names": names, "matrix": matrix(pop.implied_covariance()) },
        "implied_correlation": { "names": names, "matrix": matrix(&pop.implied_correlation()) },
        "effects": pairs,
        "indirect_effects": specific,
        "defined": defined,
    });
    // A dense model has too many routes to list (2^(k−1) for k fully connected variables).
    if let Some(count) = effects.routes_not_listed {
        report["indirect_routes_not_listed"] = json!(count.min(u64::MAX as u128) as u64);
    }
    Ok(report)
}

fn f3(v: &Value) -> String {
    v.as_f64().map_or("-".to_string(), |x| {
        format!("{:.3}", if x.abs() < 5e-4 { 0.0 } else { x })
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The human-readable layout of a `model show` report.
fn table(r: &Value) -> String {
    let mut out = String::new();
    let semantics = s(&r["semantics"]);
    out.push_str(&format!(
        "Model: {}   semantics: {}\n",
        s(&r["model"]),
        semantics
    ));
    if semantics == "standardized" {
        out.push_str("  every variable has variance 1; residual variances are derived; '~~' between endogenous variables are residual correlations\n");
    } else {
        out.push_str("  numbers are population values (lavaan::simulateData); unspecified variances are 1, unspecified paths and covariances 0\n");
    }
    out.push_str(
        "  source: [R] read in a cited source, [E] engineering estimate, blank: not tagged\n\n",
    );
    let measurement = r["measurement"].as_array().expect("array");
    if !measurement.is_empty() {
        out.push_str("Latent variables (measurement):\n");
        out.push_str(&format!(
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>10}\n",
            "latent", "op", "item", "label", "loading", "residual"
        ));
        for m in measurement {
            out.push_str(&format!(
                "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>10}\n",
                s(&m["latent"]),
                "=~",
                s(&m["item"]),
                s(&m["label"]),
                f3(&m["loading"]),
                f3(&m["residual_variance"])
            ));
        }
        out.push('\n');
    }
    out.push_str("Regressions:\n");
    out.push_str(&format!(
        "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {}\n",
        "lhs", "op", "rhs", "label", "value", "std.all", "source"
    ));
    let params = r["parameters"].as_array().expect("array");
    for p in params.iter().filter(|p| p["op"] == "~") {
        out.push_str(&format!(
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {}\n",
            s(&p["lhs"]),
            "~",
            s(&p["rhs"]),
            s(&p["label"]),
            f3(&p["value"]),
            f3(&p["std"]),
            source_label(&p["source"])
        ));
    }
    out.push_str("\nVariances and covariances:\n");
    out.push_str(&format!(
        "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {:<6} {}\n",
        "lhs", "op", "rhs", "label", "value", "std.all", "source", "kind"
    ));
    for p in params.iter().filter(|p| p["op"] == "~~") {
        out.push_str(&format!(
            "  {:<10} {:<3} {:<10} {:<8} {:>8} {:>8}  {:<6} {} ({})\n",
            s(&p["lhs"]),
            "~~",
            s(&p["rhs"]),
            s(&p["label"]),
            f3(&p["value"]),
            f3(&p["std"]),
            source_label(&p["source"]),
            s(&p["kind"]),
            s(&p["how"])
        ));
    }
    out.push_str("\nR²:\n");
    for v in r["variables"].as_array().expect("array") {
        if !v["r2"].is_null() {
            out.push_str(&format!("  {:<10} {:>6}\n", s(&v["name"]), f3(&v["r2"])));
        }
    }
    out.push_str("\nImplied correlations:\n");
    let names: Vec<String> = r["implied_correlation"]["names"]
        .as_array()
        .expect("array")
        .iter()
        .map(s)
        .collect();
    out.push_str(&format!("  {:<8}", ""));
    for n in &names {
        out.push_str(&format!("{:>8}", truncate(n, 7)));
    }
    out.push('\n');
    for (i, row) in r["implied_correlation"]["matrix"]
        .as_array()
        .expect("array")
        .iter()
        .enumerate()
    {
        out.push_str(&format!("  {:<8}", truncate(&names[i], 7)));
        for (j, v) in row.as_array().expect("array").iter().enumerate() {
            if j <= i {
                out.push_str(&format!("{:>8}", f3(v)));
            }
        }
        out.push('\n');
    }
    out.push_str("\nEffects (from -> to):\n");
    out.push_str(&format!(
        "  {:<10} {:<10} {:>8} {:>8} {:>8}\n",
        "from", "to", "direct", "indirect", "total"
    ));
    for e in r["effects"].as_array().expect("array") {
        out.push_str(&format!(
            "  {:<10} {:<10} {:>8} {:>8} {:>8}\n",
            s(&e["from"]),
            s(&e["to"]),
            f3(&e["direct"]),
            f3(&e["indirect"]),
            f3(&e["total"])
        ));
    }
    let specific = r["indirect_effects"].as_array().expect("array");
    if !specific.is_empty() {
        out.push_str("\nSpecific indirect effects:\n");
        for e in specific {
            out.push_str(&format!("  {:<28} {:>8}\n", s(&e["name"]), f3(&e["value"])));
        }
    }
    if let Some(count) = r["indirect_routes_not_listed"].as_u64() {
        out.push_str(&format!(
            "\nSpecific indirect effects: {} routes, too many to list (balans lists at most {}); the indirect and total effects above include them all\n",
            if count == u64::MAX { "more than 1.8e19".to_string() } else { count.to_string() },
            balans_model::limits::MAX_ROUTES
        ));
    }
    let defined = r["defined"].as_array().expect("array");
    if !defined.is_empty() {
        out.push_str("\nDefined parameters:\n");
        for d in defined {
            out.push_str(&format!(
                "  {:<18} := {:<24} {:>8}\n",
                s(&d["name"]),
                s(&d["expression"]),
                f3(&d["value"])
            ));
        }
    }
    out
}

/// `[R]` / `[E]`, or nothing for an untagged value.
fn source_label(v: &Value) -> String {
    let tag = s(v);
    if tag.is_empty() {
        tag
    } else {
        format!("[{tag}]")
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
