//! Shared helpers of the analysis tests: the committed reference data and R results.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Relative tolerance for estimates and standard errors against R (the task's 1e-6).
pub const REL_TOL: f64 = 1e-6;
/// Absolute tolerance for degrees of freedom against R (the task's 1e-4).
pub const DF_TOL: f64 = 1e-4;

/// The workspace's `tests/reference` directory.
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

/// A reference data set: columns by name (NA → NaN).
pub struct Data {
    pub columns: BTreeMap<String, Vec<f64>>,
}

impl Data {
    pub fn col(&self, name: &str) -> &[f64] {
        &self.columns[name]
    }
    pub fn leader(&self) -> Vec<usize> {
        self.col("leader").iter().map(|&v| v as usize - 1).collect()
    }
    pub fn treated(&self) -> Vec<bool> {
        self.col("arm").iter().map(|&v| v > 0.5).collect()
    }
    pub fn n_leaders(&self) -> usize {
        self.leader().iter().max().map_or(0, |m| m + 1)
    }
}

/// Reads `tests/reference/data/trial_<name>.csv` (written by scripts/reference/trial_reference.R).
pub fn data(name: &str) -> Data {
    let path = reference_dir().join(format!("data/trial_{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        for (c, cell) in line.split(',').enumerate() {
            let v = if cell == "NA" {
                f64::NAN
            } else {
                cell.parse().expect("number")
            };
            cols[c].push(v);
        }
    }
    Data {
        columns: header.into_iter().zip(cols).collect(),
    }
}

/// Reads `tests/reference/trial_<name>.json`.
pub fn reference(name: &str) -> Value {
    let path = reference_dir().join(format!("trial_{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

pub fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Asserts `|got − want| ≤ tol·|want|` (or ≤ tol when want is ~0), printing the context.
pub fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let scale = want.abs().max(1e-8);
    assert!(
        (got - want).abs() <= tol * scale,
        "{what}: got {got:.12e}, R {want:.12e}, rel err {:.2e} > {tol:e}",
        (got - want).abs() / scale
    );
}

/// Asserts `|got − want| ≤ tol`.
pub fn assert_abs(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.10}, R {want:.10}, abs err {:.2e} > {tol:e}",
        (got - want).abs()
    );
}

/// The reference rows (array of {term, estimate, std.error, df}) by term.
pub fn rows(v: &Value) -> Vec<(String, f64, f64, f64)> {
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["term"].as_str().expect("term").to_string(),
                num(&r["estimate"]),
                num(&r["std.error"]),
                num(&r["df"]),
            )
        })
        .collect()
}

/// Compares tidy rows with R's, term by term (`rename` maps R term names to balans's).
pub fn compare_rows(
    got: &[balans_trial::analyse::TidyRow],
    want: &Value,
    rename: &dyn Fn(&str) -> String,
    what: &str,
) {
    let want = rows(want);
    assert!(!want.is_empty(), "{what}: no reference rows");
    for (term, est, se, df) in want {
        let name = rename(&term);
        let row = got
            .iter()
            .find(|r| r.term == name)
            .unwrap_or_else(|| panic!("{what}: no row '{name}' (R '{term}')"));
        assert_rel(
            row.estimate,
            est,
            REL_TOL,
            &format!("{what} {term} estimate"),
        );
        assert_rel(
            row.std_error,
            se,
            REL_TOL,
            &format!("{what} {term} std.error"),
        );
        assert_abs(row.df, df, DF_TOL, &format!("{what} {term} df"));
        assert!(row.p_value > 0.0 && row.p_value <= 1.0);
        assert!(row.conf_low < row.estimate && row.estimate < row.conf_high);
    }
}
