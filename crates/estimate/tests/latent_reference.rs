//! Latent-variable (CFA/SEM) and FIML fits against lavaan 0.6-14 (`tests/reference/latent_*.json`,
//! written by `scripts/reference/lavaan_latent_reference.R`): estimates, standard errors, `std.lv`
//! and `std.all` to 1e-6 relative against lavaan refitted at full convergence
//! (`parameters_tight`: BFGS, reltol 1e-20), R² likewise, fit measures to 1e-4 (relative to
//! max(1, |value|)).

use balans_estimate::sem::{fit_sem_rows, Information, Missing, SemConfig, SemOptions, SemSpec};
use balans_estimate::EvalError;
use balans_model::parse_model;
use serde_json::Value;
use std::path::PathBuf;

/// Estimates, SEs, standardized values, R² (relative, floor 1e-8 absolute).
const ESTIMATE_RTOL: f64 = 1e-6;
/// Fit measures, relative to max(1, |value|).
const MEASURE_TOL: f64 = 1e-4;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

fn load(case: &str) -> Value {
    let path = reference_dir().join(format!("latent_{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// Reads a reference CSV ("NA" = missing) and returns the columns `names`, row-major.
fn load_columns(file: &str, names: &[&str]) -> Vec<f64> {
    let path = reference_dir().join("data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).expect("column"))
        .collect();
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        for &j in &idx {
            out.push(if cells[j] == "NA" {
                f64::NAN
            } else {
                cells[j].parse().expect("number")
            });
        }
    }
    out
}

fn close(ours: f64, theirs: f64, rtol: f64) -> bool {
    (ours - theirs).abs() <= rtol * theirs.abs().max(1e-2)
}

fn check_case(case: &str) {
    let r = load(case);
    let model = parse_model(case, r["model"].as_str().unwrap()).expect("model parses");
    let opts = &r["options"];
    let options = SemOptions {
        std_lv: opts["std.lv"].as_bool().unwrap(),
        meanstructure: opts["meanstructure"].as_bool().unwrap(),
    };
    let spec = SemSpec::from_model(&model, options).expect("spec");
    let config = SemConfig {
        missing: if opts["missing"] == "ml" {
            Missing::Ml
        } else {
            Missing::Listwise
        },
        information: Some(if opts["information"] == "observed" {
            Information::Observed
        } else {
            Information::Expected
        }),
        ..SemConfig::default()
    };
    let data = load_columns(r["data"].as_str().unwrap(), &spec.observed());
    let fit = fit_sem_rows(&spec, &data, &config).expect("fit");
    let mut failures = Vec::new();
    assert_eq!(fit.n as u64, r["n"].as_u64().unwrap(), "{case}: n");

    for row in r["parameters_tight"].as_array().unwrap() {
        let (lhs, op, rhs) = (
            row["lhs"].as_str().unwrap(),
            row["op"].as_str().unwrap(),
            row["rhs"].as_str().unwrap(),
        );
        let est = row["est"].as_f64().unwrap();
        if op == ":=" {
            let e = fit.effects.iter().find(|e| e.name == lhs).expect(lhs);
            for (what, ours, theirs) in [
                ("est", e.est, est),
                ("se", e.std_err, row["se"].as_f64().unwrap()),
                ("std.all", e.std_all, row["std.all"].as_f64().unwrap()),
            ] {
                if !close(ours, theirs, ESTIMATE_RTOL) {
                    failures.push(format!("{lhs} := {what}: ours {ours} lavaan {theirs}"));
                }
            }
            continue;
        }
        let ours = fit.parameters.iter().find(|q| {
            q.op == op
                && ((q.lhs == lhs && q.rhs == rhs) || (op == "~~" && q.lhs == rhs && q.rhs == lhs))
        });
        let Some(ours) = ours else {
            // lavaan lists the fixed latent means (0) of a mean structure; balans does not.
            assert!(
                op == "~1" && est == 0.0,
                "{case}: row {lhs} {op} {rhs} missing"
            );
            continue;
        };
        let se = row["se"].as_f64().unwrap_or(0.0);
        let std_lv = row["std.lv"].as_f64().unwrap_or(f64::NAN);
        let std_all = row["std.all"].as_f64().unwrap_or(f64::NAN);
        for (what, o, t) in [
            ("est", ours.est, est),
            ("se", ours.std_err, se),
            ("std.lv", ours.std_lv, std_lv),
            ("std.all", ours.std_all, std_all),
        ] {
            if t.is_nan() {
                continue;
            }
            if !close(o, t, ESTIMATE_RTOL) {
                failures.push(format!("{lhs} {op} {rhs} {what}: ours {o} lavaan {t}"));
            }
        }
    }
    for (name, value) in r["r2"].as_object().unwrap() {
        let ours = fit
            .r_squared
            .iter()
            .find(|x| &x.variable == name)
            .expect(name);
        let t = value.as_f64().unwrap();
        if !close(ours.r_squared, t, ESTIMATE_RTOL) {
            failures.push(format!("r2 {name}: ours {} lavaan {t}", ours.r_squared));
        }
    }
    let m = serde_json::to_value(&fit.measures).unwrap();
    for (name, value) in r["fit_tight"].as_object().unwrap() {
        let key = name.replace('.', "_");
        let Some(t) = value.as_f64() else { continue };
        let o = m[&key].as_f64().unwrap_or(f64::NAN);
        let ok = (o - t).abs() <= MEASURE_TOL * t.abs().max(1.0);
        if !ok {
            failures.push(format!("fit {name}: ours {o} lavaan {t}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{case}: {} mismatches (iterations {}):\n{}",
        failures.len(),
        fit.convergence.iterations,
        failures.join("\n")
    );
}

#[test]
fn holzinger_three_factor_cfa() {
    check_case("hs_cfa");
}

#[test]
fn holzinger_cfa_std_lv() {
    check_case("hs_cfa_stdlv");
}

#[test]
fn holzinger_cfa_observed_information() {
    check_case("hs_cfa_observed");
}

#[test]
fn holzinger_cfa_meanstructure() {
    check_case("hs_cfa_means");
}

#[test]
fn political_democracy_sem_with_indirect_effect() {
    check_case("pd_sem");
}

#[test]
fn mimic_with_observed_covariates() {
    check_case("pd_mimic");
}

#[test]
fn holzinger_cfa_fiml() {
    check_case("hs_cfa_fiml");
}

#[test]
fn political_democracy_sem_fiml() {
    check_case("pd_sem_fiml");
}

#[test]
fn path_model_fiml_deletes_rows_missing_a_fixed_x() {
    check_case("hs_path_fiml");
}

#[test]
fn mimic_fiml() {
    check_case("pd_mimic_fiml");
}

fn spec_error(text: &str) -> String {
    let model = parse_model("m", text).expect("model parses");
    match SemSpec::from_model(&model, SemOptions::default()) {
        Err(e @ EvalError::Unidentified { .. }) => e.to_string(),
        other => panic!("expected Unidentified, got {other:?}"),
    }
}

#[test]
fn single_item_factor_needs_a_fixed_residual_variance() {
    let msg = spec_error("f =~ x1\ng =~ x2 + x3 + x4\ng ~ f");
    assert!(msg.contains("single item 'x1'"), "{msg}");
    let model = parse_model("m", "f =~ x1\nx1 ~~ 0*x1\ng =~ x2 + x3 + x4\ng ~ f").unwrap();
    assert!(SemSpec::from_model(&model, SemOptions::default()).is_ok());
}

#[test]
fn t_rule_violation_is_reported_with_counts() {
    // Two items, all free with std.lv off: 5 parameters for 3 moments.
    let msg = spec_error("f =~ x1 + x2");
    assert!(msg.contains("t-rule"), "{msg}");
}

#[test]
fn empirically_unidentified_model_is_an_error_not_a_panic() {
    // Four items with two pairs of correlated residuals: df = 0, but the four cross-pair
    // covariances identify only three of λ2, λ3, λ4, φ (tetrad constraint): the information is
    // singular — an error value, not a panic.
    let model = parse_model("m", "f =~ x1 + x2 + x3 + x4\nx1 ~~ x2\nx3 ~~ x4").unwrap();
    let spec = SemSpec::from_model(&model, SemOptions::default()).unwrap();
    let data = load_columns("holzinger.csv", &spec.observed());
    let result = fit_sem_rows(&spec, &data, &SemConfig::default());
    assert!(result.is_err(), "expected an error, got a fit");
}

#[test]
fn too_few_rows_for_fiml_is_an_error() {
    let model = parse_model("m", "f =~ x1 + x2 + x3").unwrap();
    let options = SemOptions {
        std_lv: false,
        meanstructure: true,
    };
    let spec = SemSpec::from_model(&model, options).unwrap();
    // x3 observed in one row only.
    let nan = f64::NAN;
    let data = [
        1.0, 2.0, 3.0, 2.0, 1.0, nan, 0.5, 0.1, nan, 3.0, 2.0, nan, 1.5, 2.5, nan,
    ];
    let config = SemConfig {
        missing: Missing::Ml,
        ..SemConfig::default()
    };
    let err = fit_sem_rows(&spec, &data, &config).unwrap_err();
    assert!(
        matches!(
            err,
            EvalError::TooFewCases { .. } | EvalError::TooFewObservations { .. }
        ),
        "{err}"
    );
}
