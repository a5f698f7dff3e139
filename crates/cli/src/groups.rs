//! `balans fit --group COL [--equal regressions]`: multi-group path analysis (lavaan's `group =`,
//! `group.equal`), the likelihood-ratio test between free and equal regressions, and per-path Wald
//! tests of equality across groups.

use crate::data::{read_csv, CsvOptions};
use crate::output::{emit, Format};
use crate::source::ModelSource;
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::{
    estimate_multigroup, likelihood_ratio_test, path_equality_tests, AnalysisSpec, GroupEquality,
    GroupMoments, MultiGroupConfig, MultiGroupFit, SampleMoments,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `--equal` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EqualArg {
    /// Regression coefficients equal across groups (lavaan's `group.equal = "regressions"`).
    Regressions,
}

/// What `balans fit` passes on when `--group` is given.
pub struct GroupRequest<'a> {
    /// Data file.
    pub data: &'a PathBuf,
    /// Model.
    pub source: &'a ModelSource,
    /// How to read the CSV (the group column goes into `cluster`).
    pub csv: CsvOptions,
    /// The grouping column.
    pub column: &'a str,
    /// What to hold equal.
    pub equal: Option<EqualArg>,
    /// Confidence level.
    pub level: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Output format.
    pub format: Format,
    /// Output file.
    pub out: Option<&'a Path>,
}

/// The group labels in order of first appearance (lavaan's order), as `data.rs` numbers them.
fn group_labels(path: &Path, column: &str, csv: &CsvOptions) -> Result<Vec<String>> {
    let origin = path.display().to_string();
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read data file {origin}"))?;
    let text: String = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let header = text.lines().next().unwrap_or("");
    let sep = csv.separator.unwrap_or(if header.contains(';') {
        b';'
    } else if header.contains('\t') {
        b'\t'
    } else {
        b','
    });
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{origin}: cannot read the header row"))?
        .iter()
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let Some(c) = headers.iter().position(|h| h == column) else {
        let hint = balans_model::suggest(column, headers.iter().map(String::as_str))
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        bail!(
            "--group: the column '{column}' is not in {origin}{hint}; columns found: {}",
            headers.join(", ")
        );
    };
    let is_na = |s: &str| {
        s.is_empty() || matches!(s, "NA" | "." | "NaN" | "nan") || csv.na.iter().any(|n| n == s)
    };
    let mut labels: Vec<String> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| anyhow!("{origin}: {e}"))?;
        let cell = record.get(c).unwrap_or("").trim_matches('"');
        if !is_na(cell) && !labels.iter().any(|l| l == cell) {
            labels.push(cell.to_string());
        }
    }
    Ok(labels)
}

/// Each group's sample moments.
fn group_moments(req: &GroupRequest, spec: &AnalysisSpec) -> Result<(Vec<GroupMoments>, usize)> {
    let labels = group_labels(req.data, req.column, &req.csv)?;
    let mut csv = req.csv.clone();
    csv.cluster = Some(req.column.to_string());
    let data = read_csv(req.data, spec.variables(), &csv)?;
    let ids = data
        .clusters
        .as_ref()
        .expect("a group column was asked for");
    let p = spec.variables().len();
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for (r, &id) in ids.iter().enumerate() {
        rows[id as usize].extend_from_slice(&data.values[r * p..(r + 1) * p]);
    }
    if labels.len() < 2 {
        bail!(
            "--group {}: {} has {} group(s) ({}); multi-group analysis needs at least two",
            req.column,
            req.data.display(),
            labels.len(),
            labels.join(", ")
        );
    }
    let needed = spec.npar().max(p + 1);
    let mut groups = Vec::with_capacity(labels.len());
    for (label, values) in labels.into_iter().zip(rows) {
        let n = values.len() / p;
        if n < needed {
            bail!(
                "--group {}: group '{label}' has {n} complete cases, fewer than the {needed} needed (the model has {} free parameters per group and {p} variables); merge it with another group or drop it",
                req.column,
                spec.npar()
            );
        }
        let moments = SampleMoments::from_rows(&values, p)
            .map_err(|e| anyhow!(e))
            .with_context(|| format!("group '{label}'"))?;
        groups.push(GroupMoments { label, moments });
    }
    Ok((groups, data.n_dropped))
}

fn fit_json(fit: &MultiGroupFit) -> Value {
    json!({
        "equal": fit.equal, "chisq": fit.chisq, "df": fit.df, "pvalue": fit.pvalue, "npar": fit.npar,
        "chisq.group": fit.chisq_group, "iterations": fit.iterations,
    })
}

/// Runs `balans fit --group`.
pub fn run(req: &GroupRequest) -> Result<()> {
    let report = report(req)?;
    let text = match req.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        ),
        Format::Csv => csv_text(&report),
        Format::Table => table(&report),
    };
    emit(req.out, text.as_bytes())?;
    Ok(())
}

fn report(req: &GroupRequest) -> Result<Value> {
    let model = req.source.load()?;
    let spec = AnalysisSpec::from_model(&model)
        .map_err(|e| anyhow!(e))
        .context("failed to set up the analysis model")?;
    let (groups, dropped) = group_moments(req, &spec)?;
    let config = |equal| MultiGroupConfig {
        equal,
        level: req.level,
        max_iterations: req.max_iter,
    };
    let fit = |equal| {
        estimate_multigroup(&spec, &groups, &config(equal))
            .map_err(anyhow::Error::new)
            .with_context(|| {
                format!(
                    "failed to fit the multi-group model to {}",
                    req.data.display()
                )
            })
    };
    let free = fit(GroupEquality::None)?;
    let equal = fit(GroupEquality::Regressions)?;
    let lrt = likelihood_ratio_test(&equal, &free);
    let wald = path_equality_tests(&free);
    let chosen = match req.equal {
        Some(EqualArg::Regressions) => &equal,
        None => &free,
    };
    Ok(json!({
        "data": req.data.display().to_string(),
        "model": req.source.origin(),
        "group": req.column,
        "groups": groups.iter().map(|g| json!({"label": g.label, "n": g.moments.n()})).collect::<Vec<_>>(),
        "n_dropped": dropped,
        "estimator": "ML",
        "equal": match req.equal { Some(_) => "regressions", None => "none" },
        "level": req.level,
        "fit": fit_json(chosen),
        "parameters": chosen.parameters,
        "comparison": {
            "free": fit_json(&free),
            "equal_regressions": fit_json(&equal),
            "lrt": {"chisq.diff": lrt.chisq_diff, "df.diff": lrt.df_diff, "pvalue": lrt.pvalue},
        },
        "wald": wald.iter().map(|t| json!({"path": t.path, "statistic": t.statistic, "df": t.df, "p.value": t.pvalue})).collect::<Vec<_>>(),
    }))
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NA".into(),
        Value::String(s) => balans_transport::csv_field(s),
        other => other.to_string(),
    }
}

/// CSV with broom's names: the parameter rows of the chosen model, then the Wald and LRT rows.
fn csv_text(r: &Value) -> String {
    let mut o = String::from(
        "section,term,group,estimate,std.error,statistic,p.value,conf.low,conf.high,df\n",
    );
    for p in r["parameters"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "parameter,{},{},{},{},{},{},{},{},NA\n",
            cell(&json!(format!(
                "{}{}{}",
                text(&p["lhs"]),
                text(&p["op"]),
                text(&p["rhs"])
            ))),
            cell(&p["group_label"]),
            cell(&p["est"]),
            cell(&p["se"]),
            cell(&p["z"]),
            cell(&p["pvalue"]),
            cell(&p["ci_lower"]),
            cell(&p["ci_upper"]),
        ));
    }
    for w in r["wald"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "wald.equal,{},all,NA,NA,{},{},NA,NA,{}\n",
            cell(&w["path"]),
            cell(&w["statistic"]),
            cell(&w["p.value"]),
            cell(&w["df"])
        ));
    }
    let l = &r["comparison"]["lrt"];
    o.push_str(&format!(
        "lrt,regressions equal,all,NA,NA,{},{},NA,NA,{}\n",
        cell(&l["chisq.diff"]),
        cell(&l["pvalue"]),
        cell(&l["df.diff"])
    ));
    o
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn num(v: &Value, w: usize, d: usize) -> String {
    v.as_f64()
        .map_or_else(|| format!("{:>w$}", ""), |x| format!("{x:>w$.d$}"))
}

/// lavaan `summary()`-like text, group by group, then the comparison of free and equal paths.
fn table(r: &Value) -> String {
    let mut o = format!(
        "balans {} — multi-group ML estimation (group = {}, equal: {})\n\n",
        env!("CARGO_PKG_VERSION"),
        text(&r["group"]),
        text(&r["equal"])
    );
    o.push_str(&format!(
        "  Data {}\n  Model {}\n",
        text(&r["data"]),
        text(&r["model"])
    ));
    for g in r["groups"].as_array().into_iter().flatten() {
        o.push_str(&format!("  {:<30}{:>10}\n", text(&g["label"]), g["n"]));
    }
    let f = &r["fit"];
    o.push_str(&format!(
        "\nModel Test User Model:\n  Test statistic {:>20}\n  Degrees of freedom {:>16}\n  P-value (Chi-square) {:>14}\n",
        num(&f["chisq"], 0, 3),
        f["df"].to_string(),
        num(&f["pvalue"], 0, 3)
    ));
    let mut current = 0;
    for p in r["parameters"].as_array().into_iter().flatten() {
        let g = p["group"].as_u64().unwrap_or(0);
        if g != current {
            current = g;
            o.push_str(&format!(
                "\nGroup {g} [{}]:\n  {:<24}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
                text(&p["group_label"]),
                "",
                "Estimate",
                "Std.Err",
                "z-value",
                "P(>|z|)",
                "ci.lower",
                "ci.upper"
            ));
        }
        let name = format!(
            "{} {} {}{}",
            text(&p["lhs"]),
            text(&p["op"]),
            text(&p["rhs"]),
            if p["equal"] == true { " (equal)" } else { "" }
        );
        o.push_str(&format!(
            "    {:<22}{}{}{}{}{}{}\n",
            name,
            num(&p["est"], 10, 3),
            if p["free"] == true {
                num(&p["se"], 9, 3)
            } else {
                format!("{:>9}", "")
            },
            num(&p["z"], 9, 3),
            num(&p["pvalue"], 9, 3),
            num(&p["ci_lower"], 9, 3),
            num(&p["ci_upper"], 9, 3)
        ));
    }
    let c = &r["comparison"];
    o.push_str(&format!(
        "\nAre the paths equal across groups?\n  Likelihood-ratio test, regressions equal vs free: chisq diff = {}, df = {}, p = {}\n",
        num(&c["lrt"]["chisq.diff"], 0, 3),
        c["lrt"]["df.diff"],
        num(&c["lrt"]["pvalue"], 0, 4)
    ));
    o.push_str("  Wald tests of equality, path by path (from the free model):\n");
    for w in r["wald"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "    {:<22} chisq = {:>8}  df = {}  p = {}\n",
            text(&w["path"]),
            num(&w["statistic"], 0, 3),
            w["df"],
            num(&w["p.value"], 0, 4)
        ));
    }
    o
}
