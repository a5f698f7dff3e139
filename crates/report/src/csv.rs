//! The CSV exporter: long-form rows with a header line.

use crate::simulation::{number, DataTable};
use balans_estimate::{FitReport, MultiGroupReport};
use balans_power::PowerReport;
use std::fmt::Write as _;

/// A number as JSON writes it (`1.0`, `1e-7`), `NA` when missing or not finite.
fn json_number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => serde_json::to_string(&x).expect("finite numbers serialize"),
        _ => "NA".to_string(),
    }
}

/// A text cell of a CSV row (quoted when it holds a separator, quote or line break).
fn text_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A multi-group fit with broom's names: the parameter rows of the reported model, then the
/// per-path Wald tests and the likelihood-ratio test.
pub fn groups(r: &MultiGroupReport) -> String {
    let mut o = String::from(
        "section,term,group,estimate,std.error,statistic,p.value,conf.low,conf.high,df\n",
    );
    for p in &r.parameters {
        let _ = writeln!(
            o,
            "parameter,{},{},{},{},{},{},{},{},NA",
            text_cell(&format!("{}{}{}", p.lhs, p.op, p.rhs)),
            text_cell(&p.group_label),
            json_number(Some(p.est)),
            json_number(Some(p.se)),
            json_number(p.z),
            json_number(p.pvalue),
            json_number(Some(p.ci_lower)),
            json_number(Some(p.ci_upper)),
        );
    }
    for w in &r.wald {
        let _ = writeln!(
            o,
            "wald.equal,{},all,NA,NA,{},{},NA,NA,{}",
            text_cell(&w.path),
            json_number(Some(w.statistic)),
            json_number(Some(w.p_value)),
            w.df
        );
    }
    let l = &r.comparison.lrt;
    let _ = writeln!(
        o,
        "lrt,regressions equal,all,NA,NA,{},{},NA,NA,{}",
        json_number(Some(l.chisq_diff)),
        json_number(Some(l.pvalue)),
        l.df_diff
    );
    o
}

/// A fit's parameter rows, then its effect rows, with lavaan's column names (`NA` = missing).
pub fn fit(r: &FitReport) -> String {
    let mut o = String::from(
        "section,lhs,op,rhs,label,est,se,z,pvalue,ci.lower,ci.upper,std.all,ci.method\n",
    );
    for p in &r.parameters {
        let _ = writeln!(
            o,
            "parameter,{},{},{},{},{},{},{},{},{},{},{},wald",
            p.lhs,
            p.op,
            p.rhs,
            p.label,
            json_number(Some(p.est)),
            json_number(Some(p.se)),
            json_number(p.z),
            json_number(p.pvalue),
            json_number(Some(p.ci_lower)),
            json_number(Some(p.ci_upper)),
            json_number(Some(p.std_all))
        );
    }
    for e in &r.effects {
        let _ = writeln!(
            o,
            "{},{},:=,,{},{},{},{},{},{},{},{},{}",
            e.kind,
            e.name,
            e.name,
            json_number(Some(e.est)),
            json_number(Some(e.se)),
            json_number(Some(e.z)),
            json_number(Some(e.pvalue)),
            json_number(Some(e.ci_lower)),
            json_number(Some(e.ci_upper)),
            json_number(Some(e.std_all)),
            e.ci_method.name()
        );
    }
    o
}

fn optional(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

/// A power analysis in long form: one line per (N, effect, test), the seed repeated on every
/// line; missing values empty.
pub fn power(report: &PowerReport) -> String {
    let mut out = String::from(
        "n,effect,kind,test,power,mc_se,population_value,mean_estimate,bias,mean_se,empirical_sd,coverage,convergence_rate,n_replications,n_converged,seed,alpha\n",
    );
    let config = &report.settings.config;
    for r in &report.rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.n,
            r.effect,
            r.kind,
            r.test,
            r.power,
            r.mc_se,
            optional(r.population_value),
            optional(r.mean_estimate),
            optional(r.bias),
            optional(r.mean_se),
            optional(r.empirical_sd),
            optional(r.coverage),
            r.convergence_rate,
            r.n_replications,
            r.n_converged,
            config.seed,
            config.alpha
        );
    }
    out
}

fn field(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// Simulated rows: a header, then one line per row; whole numbers without decimals, others
/// rounded to 6 decimals, missing values `NA`.
pub fn data(table: &DataTable<'_>) -> String {
    let mut out = Vec::with_capacity(table.rows.len() * table.columns.len() * 4 + 256);
    write_data(&mut out, table).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("CSV text is UTF-8")
}

/// [`data`], written row by row into `w` (a file or stdout): no second copy of the data as text.
///
/// # Errors
/// When `w` fails.
pub fn write_data(w: &mut dyn std::io::Write, table: &DataTable<'_>) -> std::io::Result<()> {
    let header: Vec<String> = table.columns.iter().map(|c| field(c.name)).collect();
    writeln!(w, "{}", header.join(","))?;
    let mut line = String::new();
    for row in &table.rows {
        line.clear();
        for (k, c) in table.columns.iter().enumerate() {
            if k > 0 {
                line.push(',');
            }
            match number(row[c.index], c.integer) {
                Some(s) => line.push_str(&s),
                None => line.push_str("NA"),
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}
