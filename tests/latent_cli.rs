//! End-to-end tests of `balans fit` with latent variables (`=~`), `--missing ml` and `--std-lv`:
//! the binary reproduces lavaan 0.6-14 (`tests/reference/latent_*.json`, written by
//! `scripts/reference/lavaan_latent_reference.R`) and fails cleanly (exit 1) on models that are not
//! identified or data that cannot be fitted.

mod common;

use common::{assert_failure_code, balans, stderr};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Estimates and SEs against lavaan at full convergence (relative).
const EST_REL_TOL: f64 = 1e-6;
/// Fit measures (relative to max(1, |value|)).
const FIT_TOL: f64 = 1e-4;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

fn write_temp(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".lav").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

/// Runs `balans fit --format json` on a reference case with extra flags.
fn fit_case(case: &str, extra: &[&str]) -> (Value, Value) {
    let path = reference_dir().join(format!("latent_{case}.json"));
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model = write_temp(reference["model"].as_str().unwrap());
    let data = reference_dir()
        .join("data")
        .join(reference["data"].as_str().unwrap());
    let mut args = vec![
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = balans(&args);
    assert!(out.status.success(), "balans fit failed: {}", stderr(&out));
    (serde_json::from_slice(&out.stdout).unwrap(), reference)
}

fn check(ours: &Value, reference: &Value) {
    let mut failures = Vec::new();
    for row in reference["parameters_tight"].as_array().unwrap() {
        let op = row["op"].as_str().unwrap();
        if op == ":=" {
            continue;
        }
        let Some(p) = ours["parameters"].as_array().unwrap().iter().find(|p| {
            p["op"] == op
                && ((p["lhs"] == row["lhs"] && p["rhs"] == row["rhs"])
                    || (op == "~~" && p["lhs"] == row["rhs"] && p["rhs"] == row["lhs"]))
        }) else {
            assert!(op == "~1", "row {row} missing");
            continue;
        };
        for key in ["est", "se", "std.lv", "std.all"] {
            let (o, t) = (p[key].as_f64().unwrap(), row[key].as_f64().unwrap_or(0.0));
            if (o - t).abs() > EST_REL_TOL * t.abs().max(1e-2) {
                failures.push(format!(
                    "{} {op} {} {key}: {o} vs lavaan {t}",
                    row["lhs"], row["rhs"]
                ));
            }
        }
    }
    for key in ["chisq", "cfi", "tli", "rmsea", "srmr", "logl", "bic"] {
        let (o, t) = (
            ours["fit"][key].as_f64().unwrap(),
            reference["fit_tight"][key].as_f64().unwrap(),
        );
        if (o - t).abs() > FIT_TOL * t.abs().max(1.0) {
            failures.push(format!("fit {key}: {o} vs lavaan {t}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn three_factor_cfa_matches_lavaan() {
    let (ours, reference) = fit_case("hs_cfa", &[]);
    check(&ours, &reference);
    assert_eq!(ours["n"], 301);
}

#[test]
fn std_lv_matches_lavaan() {
    let (ours, reference) = fit_case("hs_cfa_stdlv", &["--std-lv"]);
    check(&ours, &reference);
}

#[test]
fn political_democracy_fiml_matches_lavaan() {
    let (ours, reference) = fit_case("pd_sem_fiml", &["--missing", "ml"]);
    check(&ours, &reference);
    assert_eq!(ours["information"], "Observed");
    assert!(ours["missing_patterns"].as_u64().unwrap() > 1);
}

#[test]
fn fiml_path_model_drops_rows_missing_a_fixed_x_as_lavaan() {
    let (ours, reference) = fit_case("hs_path_fiml", &["--missing", "ml"]);
    check(&ours, &reference);
    assert_eq!(ours["n"], reference["n"]);
    assert_eq!(ours["n_dropped"], 301 - 227);
}

#[test]
fn table_output_lists_latent_variables() {
    let model = write_temp("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6");
    let data = reference_dir().join("data/holzinger.csv");
    let out = balans(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Latent Variables:\n"), "{text}");
    assert!(text.contains("  visual =~\n"), "{text}");
}

#[test]
fn unidentified_models_exit_1_with_the_reason() {
    let data = reference_dir().join("data/holzinger.csv");
    for (text, reason) in [
        ("f =~ x1\ng =~ x2 + x3 + x4\ng ~ f", "single item 'x1'"),
        ("f =~ x1 + x2", "t-rule"),
    ] {
        let model = write_temp(text);
        let out = balans(&[
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--model",
            model.path().to_str().unwrap(),
        ]);
        assert_failure_code(&out, 1, reason);
    }
}

#[test]
fn fiml_with_a_variable_observed_too_rarely_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    let mut rows = String::from("x1,x2,x3\n");
    for i in 0..20 {
        let x3 = if i == 0 {
            "1.5".to_string()
        } else {
            "NA".to_string()
        };
        rows.push_str(&format!("{},{},{x3}\n", i % 7, (i * 3) % 5));
    }
    std::fs::write(&csv, rows).unwrap();
    let model = write_temp("f =~ x1 + x2 + x3");
    let out = balans(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
        "--missing",
        "ml",
    ]);
    assert_failure_code(&out, 1, "observed in 1 rows");
}

#[test]
fn power_with_a_latent_model_reports_power_and_counts() {
    let model = write_temp(
        "#!balans standardized\nf =~ 0.7*x1 + 0.7*x2 + 0.7*x3\ng =~ 0.7*y1 + 0.7*y2 + 0.7*y3\ng ~ 0.3*f",
    );
    let out = balans(&[
        "power",
        "--model",
        model.path().to_str().unwrap(),
        "--n",
        "120",
        "--reps",
        "60",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["effect"] == "g~f")
        .expect("row g~f");
    assert_eq!(row["replications"], 60);
    assert!(row["not_converged"].is_u64() && row["improper"].is_u64());
    let p = row["power"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
}

#[test]
fn power_with_a_latent_model_refuses_unsupported_flags() {
    let model = write_temp("f =~ x1 + x2 + x3\ng =~ y1 + y2 + y3\ng ~ f");
    let out = balans(&[
        "power",
        "--model",
        model.path().to_str().unwrap(),
        "--n",
        "120",
        "--target-power",
        "0.8",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = balans(&[
        "power",
        "--model",
        model.path().to_str().unwrap(),
        "--n",
        "120",
        "--teams",
        "8",
    ]);
    assert_failure_code(&out, 1, "--teams is not available");
}
