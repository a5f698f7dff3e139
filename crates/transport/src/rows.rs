//! Output rows with broom's names (`term`, `estimate`, `std.error`, `statistic`, `p.value`,
//! `conf.low`, `conf.high`) and metafor's heterogeneity names (`tau2`, `I2`, `H2`, `QE`, `QEp`,
//! `pi.lb`, `pi.ub`), with one renderer per text format (CSV and an aligned table; JSON is the
//! serde form).

use serde::Serialize;

/// One result row, as `broom::tidy()` names its columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TidyRow {
    /// What the row is (`original`, `power.predictive`, `mu`, `wfc~is`, …).
    pub term: String,
    /// The estimate (a power, a p-value's z, an effect…: see `term`).
    pub estimate: f64,
    /// Its standard error, when it has one.
    #[serde(rename = "std.error")]
    pub std_error: Option<f64>,
    /// The test statistic, when there is a test.
    pub statistic: Option<f64>,
    /// The p-value of the test.
    #[serde(rename = "p.value")]
    pub p_value: Option<f64>,
    /// Lower bound of the row's interval.
    #[serde(rename = "conf.low")]
    pub conf_low: Option<f64>,
    /// Upper bound of the row's interval.
    #[serde(rename = "conf.high")]
    pub conf_high: Option<f64>,
    /// How to read the row (method, design prior, level…).
    pub note: String,
}

impl TidyRow {
    /// A row with only a term and an estimate.
    pub fn value(term: impl Into<String>, estimate: f64, note: impl Into<String>) -> TidyRow {
        TidyRow {
            term: term.into(),
            estimate,
            std_error: None,
            statistic: None,
            p_value: None,
            conf_low: None,
            conf_high: None,
            note: note.into(),
        }
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or_else(|| "NA".to_string(), format_number)
}

/// A number as R prints it in CSV: shortest round-trip representation, `NA` for NaN, `Inf`.
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        "NA".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV with a header row; `NA` for absent values.
pub fn tidy_csv(rows: &[TidyRow]) -> String {
    let mut o = String::from("term,estimate,std.error,statistic,p.value,conf.low,conf.high,note\n");
    for r in rows {
        o.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_field(&r.term),
            format_number(r.estimate),
            cell(r.std_error),
            cell(r.statistic),
            cell(r.p_value),
            cell(r.conf_low),
            cell(r.conf_high),
            csv_field(&r.note)
        ));
    }
    o
}

/// `x` with `digits` decimals, never `-0.0000`: a value that rounds to zero is printed unsigned.
pub fn fixed(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// A p-value as printed in tables: 4 decimals, `<.0001` below.
pub fn format_p(p: f64) -> String {
    if p < 1e-4 {
        "<.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// An aligned text table (4 decimals).
pub fn tidy_table(rows: &[TidyRow]) -> String {
    let width = rows
        .iter()
        .map(|r| r.term.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut o = format!(
        "{:<width$} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}  note\n",
        "term", "estimate", "std.error", "statistic", "p.value", "conf.low", "conf.high"
    );
    let num = |x: Option<f64>| {
        x.map_or_else(|| format!("{:>10}", ""), |v| format!("{:>10}", fixed(v, 4)))
    };
    for r in rows {
        o.push_str(&format!(
            "{:<width$} {:>10} {} {} {:>8} {} {}  {}\n",
            r.term,
            fixed(r.estimate, 4),
            num(r.std_error),
            num(r.statistic),
            r.p_value.map_or_else(String::new, format_p),
            num(r.conf_low),
            num(r.conf_high),
            r.note
        ));
    }
    o
}

#[cfg(test)]
mod fixed_tests {
    use super::fixed;

    #[test]
    fn no_negative_zero() {
        assert_eq!(fixed(-0.00001, 4), "0.0000");
        assert_eq!(fixed(-0.0, 3), "0.000");
        assert_eq!(fixed(-0.00006, 4), "-0.0001");
        assert_eq!(fixed(1.5, 2), "1.50");
    }
}
