//! Shared helpers of the estimator tests: the committed lavaan reference files and their data.
#![allow(dead_code)]

use balans_estimate::{AnalysisSpec, SampleMoments};
use balans_model::{parse_model, Model};
use serde_json::Value;
use std::path::PathBuf;

/// Relative tolerance of estimates and standard errors against lavaan (issue 4).
pub const ESTIMATE_RTOL: f64 = 1e-6;
/// Relative tolerance of estimate-derived quantities on the iterative path, where lavaan's own
/// optimum is only stationary to about 1e-7 (see `lavaan_reference.rs`).
pub const ITERATIVE_EST_RTOL: f64 = 1e-5;
/// Tolerance of fit measures against lavaan (issue 4), relative to max(1, |value|).
pub const MEASURE_TOL: f64 = 1e-4;

/// `tests/reference` at the workspace root.
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

/// A reference case: the JSON written by `scripts/reference/lavaan_reference.R`.
pub fn load_case(case: &str) -> Value {
    let path = reference_dir().join(format!("{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// A data set of the references: header names and row-major values.
pub fn load_csv(file: &str) -> (Vec<String>, Vec<f64>) {
    let path = reference_dir().join("data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let mut values = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        for cell in line.split(',') {
            values.push(cell.trim().parse::<f64>().expect("numeric cell"));
        }
    }
    (header, values)
}

/// The columns of `data` (with `header`) in the order of `names`, row-major.
pub fn select_columns(header: &[String], data: &[f64], names: &[String]) -> Vec<f64> {
    let w = header.len();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .unwrap_or_else(|| panic!("column {n}"))
        })
        .collect();
    data.chunks_exact(w)
        .flat_map(|row| idx.iter().map(move |&i| row[i]))
        .collect()
}

/// Model, spec, data in spec order and sample moments of a reference case.
pub struct Case {
    pub json: Value,
    pub model: Model,
    pub spec: AnalysisSpec,
    pub data: Vec<f64>,
    pub moments: SampleMoments,
}

pub fn case(name: &str) -> Case {
    let json = load_case(name);
    let model = parse_model(name, json["model"].as_str().unwrap()).expect("model parses");
    let spec = AnalysisSpec::from_model(&model).expect("spec");
    let (header, all) = load_csv(json["data"].as_str().unwrap());
    let data = select_columns(&header, &all, spec.variables());
    let moments = SampleMoments::from_rows(&data, spec.variables().len()).expect("moments");
    Case {
        json,
        model,
        spec,
        data,
        moments,
    }
}

/// `|a − b| ≤ rtol · max(|b|, floor)`.
pub fn close(a: f64, b: f64, rtol: f64, floor: f64) -> bool {
    (a - b).abs() <= rtol * b.abs().max(floor)
}
