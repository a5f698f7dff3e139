//! End-to-end tests of `balans fit`: the binary reproduces lavaan 0.6-14 (committed reference numbers
//! in tests/reference, produced by scripts/reference/lavaan_reference.R) and fails cleanly on bad
//! input.

mod common;

use common::{assert_clean_failure, balans, stderr};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Estimates and standard errors: relative tolerance against lavaan (issue 4).
const EST_REL_TOL: f64 = 1e-6;
/// Fit measures: absolute tolerance against lavaan (issue 4).
const FIT_TOL: f64 = 1e-4;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

/// Relative closeness: |a − b| ≤ rel · max(|b|, se), i.e. relative to the value, or to its standard
/// error for values near zero (a relative criterion on an estimate of 0.0001 would test the last
/// bits of the optimiser, not the estimator).
fn close(a: f64, b: f64, rel: f64, se: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(se).max(1e-12)
}

fn write_temp(contents: &str, suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

fn fit_json(case: &str, extra: &[&str]) -> (Value, Value) {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(reference_dir().join(format!("{case}.json"))).unwrap(),
    )
    .unwrap();
    let model = write_temp(reference["model"].as_str().unwrap(), ".lav");
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
    let o = balans(&args);
    assert!(o.status.success(), "{case}: {}", stderr(&o));
    (serde_json::from_slice(&o.stdout).unwrap(), reference)
}

fn same_row(ours: &Value, theirs: &Value) -> bool {
    let (ol, oo, or) = (
        ours["lhs"].as_str().unwrap(),
        ours["op"].as_str().unwrap(),
        ours["rhs"].as_str().unwrap(),
    );
    let (tl, to, tr) = (
        theirs["lhs"].as_str().unwrap(),
        theirs["op"].as_str().unwrap(),
        theirs["rhs"].as_str().unwrap(),
    );
    oo == to && ((ol == tl && or == tr) || (oo == "~~" && ol == tr && or == tl))
}

fn check_case(case: &str) {
    let (ours, reference) = fit_json(case, &[]);
    assert_eq!(ours["n"].as_u64(), reference["n"].as_u64(), "{case}: n");
    let params = ours["parameters"].as_array().unwrap();
    // Digit-level comparisons use lavaan at full convergence (`parameters_tight`: BFGS with
    // reltol 1e-20); lavaan's default nlminb stop leaves iterative estimates ~1e-7 from the optimum.
    for theirs in reference["parameters_tight"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["op"] != ":=")
    {
        let mine = params
            .iter()
            .find(|p| same_row(p, theirs))
            .unwrap_or_else(|| panic!("{case}: no row for {theirs}"));
        let se = theirs["se"].as_f64().unwrap();
        for key in ["est", "se", "std.all"] {
            let (a, b) = (mine[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            assert!(
                close(a, b, EST_REL_TOL, se),
                "{case} {} {} {} {key}: balans {a} lavaan {b}",
                theirs["lhs"],
                theirs["op"],
                theirs["rhs"]
            );
        }
    }
    // Every free parameter of ours is one of lavaan's (same set of free parameters).
    let n_free = params.iter().filter(|p| p["free"] == true).count();
    assert_eq!(
        n_free as u64,
        reference["fit"]["npar"].as_f64().unwrap().round() as u64,
        "{case}: npar"
    );
    // Defined parameters: estimate and delta-method SE.
    let effects = ours["effects"].as_array().unwrap();
    for theirs in reference["parameters_tight"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["op"] == ":=")
    {
        let mine = effects
            .iter()
            .find(|e| e["name"] == theirs["lhs"])
            .unwrap_or_else(|| panic!("{case}: no effect {}", theirs["lhs"]));
        let se = theirs["se"].as_f64().unwrap();
        for key in ["est", "se"] {
            let (a, b) = (mine[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            assert!(
                close(a, b, EST_REL_TOL, se),
                "{case} {} {key}: balans {a} lavaan {b}",
                theirs["lhs"]
            );
        }
    }
    for key in [
        "chisq",
        "df",
        "pvalue",
        "cfi",
        "tli",
        "rmsea",
        "rmsea.ci.lower",
        "rmsea.ci.upper",
        "srmr",
        "logl",
        "aic",
        "bic",
    ] {
        let theirs = &reference["fit"][key];
        let mine = &ours["fit"][key];
        match theirs.as_f64() {
            Some(b) => {
                let a = mine
                    .as_f64()
                    .unwrap_or_else(|| panic!("{case}: fit.{key} missing"));
                assert!(
                    (a - b).abs() <= FIT_TOL,
                    "{case} fit.{key}: balans {a} lavaan {b}"
                );
            }
            None => assert!(mine.is_null(), "{case} fit.{key}: lavaan NA, balans {mine}"),
        }
    }
}

#[test]
fn matches_lavaan_simple_mediation() {
    check_case("mediation_simple");
}

#[test]
fn matches_lavaan_seed_model() {
    check_case("seed_paths");
}

#[test]
fn matches_lavaan_parallel_and_serial_mediators() {
    check_case("parallel_mediators");
    check_case("serial_mediators");
}

#[test]
fn matches_lavaan_on_public_data_sets() {
    check_case("correlated_residuals_diff_predictors");
    check_case("overidentified");
    check_case("holzinger_path");
}

#[test]
fn bootstrap_output_is_deterministic_for_a_seed() {
    let a = fit_json(
        "mediation_simple",
        &["--ci", "bc", "--boot", "200", "--seed", "7"],
    )
    .0;
    let b = fit_json(
        "mediation_simple",
        &["--ci", "bc", "--boot", "200", "--seed", "7"],
    )
    .0;
    let c = fit_json(
        "mediation_simple",
        &["--ci", "bc", "--boot", "200", "--seed", "8"],
    )
    .0;
    assert_eq!(a["effects"], b["effects"]);
    assert_eq!(a["parameters"], b["parameters"]);
    assert_ne!(a["effects"], c["effects"]);
    assert_eq!(a["effects"][0]["ci.method"], "bc");
}

#[test]
fn table_and_csv_formats() {
    let reference = reference_dir();
    let data = reference.join("data/sim_seed.csv");
    let o = balans(&["fit", "--data", data.to_str().unwrap(), "--builtin", "seed"]);
    let text = common::stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.contains("Model Test User Model:") && text.contains("cm->eng->perf"),
        "{text}"
    );
    let o = balans(&["fit", "--data", data.to_str().unwrap(), "--format", "csv"]);
    let csv = common::stdout(&o);
    assert!(
        csv.starts_with("section,lhs,op,rhs,label,est,se,z,pvalue,ci.lower,ci.upper,std.all"),
        "{csv}"
    );
}

#[test]
fn dutch_spreadsheet_export_gives_the_same_estimates() {
    let reference = reference_dir();
    let text = std::fs::read_to_string(reference.join("data/sim_mediation.csv")).unwrap();
    let dutch: String = text.replace(',', ";").replace('.', ",");
    let dutch_file = write_temp(&dutch, ".csv");
    let model = write_temp("m ~ a*x\ny ~ b*m + c*x\nind := a*b\n", ".lav");
    let run = |path: &str| {
        let o = balans(&[
            "fit",
            "--data",
            path,
            "--model",
            model.path().to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let a = run(reference.join("data/sim_mediation.csv").to_str().unwrap());
    let b = run(dutch_file.path().to_str().unwrap());
    assert_eq!(a["parameters"], b["parameters"]);
}

fn fit_text(data: &str, model: &str, extra: &[&str]) -> std::process::Output {
    let d = write_temp(data, ".csv");
    let m = write_temp(model, ".lav");
    let mut args = vec![
        "fit",
        "--data",
        d.path().to_str().unwrap(),
        "--model",
        m.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    balans(&args)
}

#[test]
fn listwise_deletion_is_reported() {
    let mut data = String::from("x,m,y\n");
    for i in 0..40 {
        let x = (i as f64 * 0.37).sin();
        let m = 0.5 * x + (i as f64 * 1.3).cos();
        let y = 0.4 * m + (i as f64 * 2.1).sin();
        data.push_str(&format!("{x},{m},{y}\n"));
    }
    data.push_str("1,NA,2\n.,1,2\n");
    let o = fit_text(&data, "m ~ x\ny ~ m", &["--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["n"], 40);
    assert_eq!(v["n_dropped"], 2);
}

#[test]
fn non_numeric_cell_reports_row_and_column() {
    assert_clean_failure(
        &fit_text("x,m,y\n1,2,3\n2,abc,1\n", "m ~ x\ny ~ m", &[]),
        ":3: column 'm' (column 2): cannot read 'abc'",
    );
}

#[test]
fn model_variable_missing_from_data() {
    assert_clean_failure(
        &fit_text("x,m,yy\n1,2,3\n", "m ~ x\ny ~ m", &[]),
        "the model variable 'y' is not in the data (did you mean 'yy'?)",
    );
}

#[test]
fn constant_column() {
    let data = "x,m,y\n1,2,5\n2,1,5\n3,3,5\n4,2,5\n5,5,5\n6,1,5\n";
    assert_clean_failure(&fit_text(data, "m ~ x\ny ~ m", &[]), "'y' is constant");
}

#[test]
fn collinear_columns() {
    let data = "x,m,y\n1,2,1\n2,4,2\n3,6,4\n4,8,3\n5,10,5\n6,12,7\n7,14,6\n";
    assert_clean_failure(&fit_text(data, "y ~ x + m", &[]), "collinear");
}

#[test]
fn fewer_rows_than_parameters() {
    assert_clean_failure(
        &fit_text("x,m,y\n1,2,3\n2,1,2\n3,3,1\n", "m ~ x\ny ~ m + x", &[]),
        "too few observations",
    );
}

#[test]
fn latent_model_on_one_row_fails_cleanly() {
    // Latent variables are estimated (tests/latent_cli.rs); one row cannot identify anything.
    assert_clean_failure(
        &fit_text("x1,x2,x3,y\n1,2,3,4\n", "f =~ x1 + x2 + x3\ny ~ f", &[]),
        "too few observations",
    );
}

#[test]
fn non_convergence_exits_with_code_3_and_diagnostics() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(reference_dir().join("correlated_residuals_diff_predictors.json"))
            .unwrap(),
    )
    .unwrap();
    let model = write_temp(reference["model"].as_str().unwrap(), ".lav");
    let data = reference_dir().join("data/political_democracy.csv");
    let o = balans(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
        "--max-iter",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not converge after 2 iterations"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_data_file() {
    assert_clean_failure(
        &balans(&["fit", "--data", "/nonexistent.csv"]),
        "failed to read data file /nonexistent.csv",
    );
}

/// Issue 19 item 4: item columns as questionnaire exports spell them (`ES_1`, `wfc.2`, any case)
/// are scored, and the table states per scale how many rows were scored from fewer than all items
/// and how many are missing.
#[test]
fn item_exports_spelled_differently_are_scored_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("items.csv");
    let sim = common::balans(&[
        "simulate",
        "--n",
        "200",
        "--seed",
        "3",
        "--missing",
        "mcar:0.1",
        "--level",
        "items",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(sim.status.success(), "{}", common::stderr(&sim));
    let text = std::fs::read_to_string(&csv).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    let head = head
        .replace("es1,", "ES_1,")
        .replace("wfc2,", "WFC.2,")
        .replace("eng3,", "Eng-3,");
    std::fs::write(&csv, format!("{head}\n{rest}")).unwrap();
    let out = common::balans(&["fit", "--data", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let table = common::stdout(&out);
    assert!(
        table.contains("Scale scores (mean of the answered items):"),
        "{table}"
    );
    let es = table
        .lines()
        .find(|l| l.trim_start().starts_with("es "))
        .expect("a row for es");
    let cells: Vec<&str> = es.split_whitespace().collect();
    assert_eq!(cells[1..3], ["4", "2"], "{es}");
    assert!(
        cells[3].parse::<usize>().unwrap() > 0,
        "10% MCAR leaves some rows partly answered: {es}"
    );
}

/// `balans fit --cluster` on `tests/reference/cluster_teams.csv` (50 teams) with `extra` flags:
/// the JSON result, and lavaan's numbers for `case` (`tests/reference/cluster_reference.json`,
/// scripts/reference/cluster_reference.R, lavaan 0.6-14 `sem(..., cluster = "team")`).
fn cluster_fit(case: &str, extra: &[&str]) -> (Value, Value) {
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(reference_dir().join("cluster_reference.json")).unwrap(),
    )
    .unwrap();
    let reference = all[case].clone();
    let model = write_temp(reference["model"].as_str().unwrap(), ".lav");
    let data = reference_dir().join("cluster_teams.csv");
    let mut args = vec![
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
        "--cluster",
        "team",
    ];
    args.extend_from_slice(extra);
    let o = balans(&args);
    assert!(o.status.success(), "{case}: {}", stderr(&o));
    let out = if extra.contains(&"json") {
        serde_json::from_slice(&o.stdout).unwrap()
    } else {
        Value::String(String::from_utf8(o.stdout).unwrap())
    };
    (out, reference)
}

/// The robust SEs and the scaled test of `fit` equal lavaan's `reference`.
fn assert_cluster_fit_equals_lavaan(case: &str, fit: &Value, reference: &Value) {
    assert_eq!(fit["se"], "robust.cluster", "{case}");
    let mut compared = 0;
    for want in reference["parameters"].as_array().unwrap() {
        if want["op"] == ":=" {
            continue;
        }
        let got = fit["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| same_row(p, want))
            .unwrap_or_else(|| panic!("{case}: no row {want}"));
        let (se, want_se) = (got["se"].as_f64().unwrap(), want["se"].as_f64().unwrap());
        assert!(
            close(se, want_se, EST_REL_TOL, 1e-3),
            "{case} {}{}{}: se {se} vs lavaan {want_se}",
            want["lhs"],
            want["op"],
            want["rhs"]
        );
        compared += 1;
    }
    assert!(compared >= 9, "{case}: {compared} rows");
    for key in [
        "chisq",
        "chisq.scaled",
        "chisq.scaling.factor",
        "pvalue.scaled",
        "baseline.chisq.scaled",
        "baseline.chisq.scaling.factor",
        "cfi.robust",
        "tli.robust",
        "rmsea.robust",
    ] {
        let got = fit["fit"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{case}: fit.{key} missing"));
        let want = reference["measures"][key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= FIT_TOL * want.abs().max(1.0),
            "{case} {key}: {got} vs lavaan {want}"
        );
    }
}

#[test]
fn fit_cluster_defaults_to_lavaans_observed_information_and_scaled_test() {
    let (fit, reference) = cluster_fit("chain_observed", &["--format", "json"]);
    assert_eq!(fit["information"], "Observed");
    assert_cluster_fit_equals_lavaan("chain_observed", &fit, &reference);
    let (fit, reference) = cluster_fit("sur_observed", &["--format", "json"]);
    assert_cluster_fit_equals_lavaan("sur_observed", &fit, &reference);
}

#[test]
fn fit_cluster_information_expected_equals_lavaans_expected() {
    let (fit, reference) = cluster_fit(
        "chain_expected",
        &["--information", "expected", "--format", "json"],
    );
    assert_eq!(fit["information"], "Expected");
    assert_cluster_fit_equals_lavaan("chain_expected", &fit, &reference);
}

#[test]
fn fit_cluster_table_names_the_robust_standard_errors_and_the_scaled_test() {
    let (text, _) = cluster_fit("chain_observed", &[]);
    let text = text.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let said = |label: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with(label))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .collect()
    };
    // Header and parameter block agree: robust.cluster with the observed information.
    assert_eq!(
        said("Standard errors"),
        ["robust.cluster", "robust.cluster"],
        "{text}"
    );
    assert!(
        said("Information").iter().all(|i| i == "Observed"),
        "{text}"
    );
    assert_eq!(said("Clusters (team)"), ["50"], "{text}");
    assert_eq!(said("Test statistic (scaled)").len(), 2, "{text}");
    assert_eq!(
        said("Scaling correction factor"),
        ["1.021", "1.065"],
        "{text}"
    );
    assert_eq!(said("Robust RMSEA"), ["0.178"], "{text}");
    assert!(
        text.contains("Yuan-Bentler correction (Mplus variant)"),
        "{text}"
    );
    // Without --cluster: no scaled lines, normal-theory standard errors.
    let data = reference_dir().join("cluster_teams.csv");
    let model = write_temp("m1 ~ x1 + x2\nm2 ~ x1\ny ~ m1 + m2 + x2\n", ".lav");
    let o = balans(&[
        "fit",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.path().to_str().unwrap(),
    ]);
    let plain = String::from_utf8(o.stdout).unwrap();
    assert!(
        !plain.contains("scaled") && !plain.contains("robust"),
        "{plain}"
    );
    // The help shows how to choose the information.
    let help = String::from_utf8(balans(&["fit", "--help"]).stdout).unwrap();
    assert!(
        help.contains("--cluster team --information expected"),
        "{help}"
    );
}

/// Intercepts (`~ 1`) and equality constraints (shared labels, `a == b`) in path models (issue 20
/// item 3): `balans fit` against lavaan 0.6-14 `sem()` (tests/reference/meanstructure_*.json,
/// scripts/reference/meanstructure_reference.R): every parameterEstimates() row (est, se, z,
/// pvalue, ci) to 1e-6 relative, the fit measures to 1e-4 absolute.
#[test]
fn intercepts_and_equality_constraints_match_lavaan() {
    for case in ["intercepts", "shared", "equalities", "latent_shared"] {
        let (ours, reference) = fit_json(&format!("meanstructure_{case}"), &[]);
        let params = ours["parameters"].as_array().unwrap();
        let effects = ours["effects"].as_array().unwrap();
        let rows = reference["parameters"].as_array().unwrap();
        for theirs in rows {
            let mine = if theirs["op"] == ":=" {
                effects
                    .iter()
                    .find(|e| e["name"] == theirs["lhs"])
                    .unwrap_or_else(|| panic!("{case}: no effect {}", theirs["lhs"]))
            } else {
                params
                    .iter()
                    .find(|p| same_row(p, theirs))
                    .unwrap_or_else(|| panic!("{case}: no row for {theirs}"))
            };
            let se = theirs["se"].as_f64().unwrap();
            for key in ["est", "se", "z", "pvalue", "ci.lower", "ci.upper"] {
                match theirs[key].as_f64() {
                    Some(b) => {
                        let a = mine[key]
                            .as_f64()
                            .unwrap_or_else(|| panic!("{case} {theirs}: {key} missing in {mine}"));
                        let scale = if key == "pvalue" { 1.0 } else { se };
                        assert!(
                            close(a, b, EST_REL_TOL, scale),
                            "{case} {} {} {} {key}: balans {a} lavaan {b}",
                            theirs["lhs"],
                            theirs["op"],
                            theirs["rhs"]
                        );
                    }
                    None => assert!(mine[key].is_null(), "{case} {theirs}: {key} not NA"),
                }
            }
        }
        assert_eq!(
            params.len(),
            rows.iter().filter(|r| r["op"] != ":=").count(),
            "{case}: the same rows as lavaan"
        );
        for key in [
            "npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "logl", "aic", "bic",
        ] {
            let b = reference["fit"][key].as_f64().unwrap();
            let a = ours["fit"][key]
                .as_f64()
                .unwrap_or_else(|| panic!("{case}: fit.{key} missing"));
            assert!(
                (a - b).abs() <= FIT_TOL,
                "{case} fit.{key}: balans {a} lavaan {b}"
            );
        }
    }
}

/// Constraints balans cannot estimate are refused with the line, column and what is supported.
#[test]
fn nonlinear_and_inequality_constraints_are_refused_by_fit() {
    let data = reference_dir().join("data").join("meanstructure.csv");
    for (line, at) in [("a == b*2", ":3:6:"), ("a > 0", ":3:3:")] {
        let model = write_temp(&format!("m ~ a*x1\ny ~ b*m\n{line}\n"), ".lav");
        let o = balans(&[
            "fit",
            "--data",
            data.to_str().unwrap(),
            "--model",
            model.path().to_str().unwrap(),
        ]);
        assert_clean_failure(&o, at);
        assert!(stderr(&o).contains("('a == b')"), "{}", stderr(&o));
    }
}
