//! End-to-end tests of `balans meta` beyond FE/DL/REML: the six further τ² estimators and
//! meta-regression (moderators, QM, R², predictions) against metafor 3.8-1
//! (tests/reference/meta_*.json, scripts/reference/meta_reference.R, converged with
//! threshold = tol = 1e-12), and the issue-23 findings for `meta` as regression tests: no panic
//! when every estimate is equal, no runaway on extreme values, no −inf H², and no input or output
//! replaced by another output without `--force`.
//!
//! Tolerances, `|balans − metafor| ≤ tol · max(1, |metafor|)`: 1e-6 for estimates, SEs,
//! statistics, intervals and predictions; 1e-4 for fit measures (τ², I², H², QE, QM, R², p).

mod common;

use common::{assert_clean_failure, balans, balans_bounded, stderr, stdout};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

const ESTIMATE_TOL: f64 = 1e-6;
const FIT_TOL: f64 = 1e-4;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

fn reference(set: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(reference_dir().join(format!("meta_{set}.json"))).unwrap(),
    )
    .unwrap()
}

fn write_temp(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    path
}

fn json_of(args: &[&str]) -> Value {
    let o = balans(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    let dev = (got - want).abs() / want.abs().max(1.0);
    assert!(
        dev <= tol,
        "{what}: balans {got:e}, metafor {want:e} (deviation {dev:e} > {tol:e})"
    );
}

/// `--predict` arguments of a reference fit (`{"ablat": 20, "alloc": "random"}` → `ablat=20,alloc=random`).
fn predict_args(fit: &Value) -> Vec<String> {
    fit["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["at"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// Whether `balans meta` reports the data in the intercept-only layout (`model`): every variance
/// positive.
fn out_has_model(data: &Path) -> bool {
    let text = std::fs::read_to_string(data).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"'))
        .collect();
    let vi = header.iter().position(|h| *h == "vi").unwrap();
    lines.all(|l| l.split(',').nth(vi).unwrap().parse::<f64>().unwrap() > 0.0)
}

/// Every method, with and without Knapp–Hartung, through the binary: coefficients, fit measures
/// and predictions equal metafor's.
fn compare_regression(set: &str, mods: &[&str]) {
    let v = reference(set);
    let data = reference_dir().join(format!("meta_{set}.csv"));
    for fit in v["fits"].as_array().unwrap() {
        let intercept_only = fit["intercept_only"].as_bool().unwrap_or(mods.is_empty());
        let method = fit["method"].as_str().unwrap().to_lowercase();
        let mut args: Vec<String> = vec![
            "meta".into(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--method".into(),
            method.clone(),
            "--format".into(),
            "json".into(),
        ];
        if fit["knha"] == true {
            args.push("--knha".into());
        }
        let ctx = format!(
            "{set} {method} knha={} intercept_only={intercept_only}",
            fit["knha"]
        );
        if let Some(why) = fit["error"].as_str() {
            // metafor stopped (FE, DL, PM, HS with a variance of 0): balans refuses at the cell.
            if !intercept_only {
                args.push("--mods".into());
                args.push(mods.join(","));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = balans(&args);
            assert_clean_failure(&o, "sampling variance 0");
            assert!(
                why.contains("non-positive") || why.contains("Division by zero"),
                "{why}"
            );
            continue;
        }
        if intercept_only && !out_has_model(&data) {
            // A variance of 0: the intercept-only model in the meta-regression layout.
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = json_of(&args);
            let r = &out["regression"];
            let c = &fit["coefficients"][0];
            close(
                &format!("{ctx} b"),
                r["coefficients"][0]["estimate"].as_f64().unwrap(),
                c["estimate"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            close(
                &format!("{ctx} se"),
                r["coefficients"][0]["std.error"].as_f64().unwrap(),
                c["se"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            close(
                &format!("{ctx} tau2"),
                r["tau2"].as_f64().unwrap(),
                fit["tau2"].as_f64().unwrap(),
                FIT_TOL,
            );
            for key in ["I2", "H2", "QE", "QEp"] {
                assert!(fit[key].is_null() && r[key].is_null(), "{ctx} {key}");
            }
            let p = &fit["predictions"][0];
            let ours = out["predictions"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone();
            assert_eq!(ours["at"], "overall");
            for key in ["pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"] {
                close(
                    &format!("{ctx} {key}"),
                    ours[key].as_f64().unwrap(),
                    p[key].as_f64().unwrap(),
                    ESTIMATE_TOL,
                );
            }
            continue;
        }
        if intercept_only {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = json_of(&args);
            let m = &out["model"];
            let c = &fit["coefficients"][0];
            close(
                &format!("{ctx} b"),
                m["estimate"].as_f64().unwrap(),
                c["estimate"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            close(
                &format!("{ctx} se"),
                m["std.error"].as_f64().unwrap(),
                c["se"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            close(
                &format!("{ctx} tau2"),
                m["tau2"].as_f64().unwrap(),
                fit["tau2"].as_f64().unwrap(),
                FIT_TOL,
            );
            close(
                &format!("{ctx} I2"),
                m["I2"].as_f64().unwrap(),
                fit["I2"].as_f64().unwrap(),
                FIT_TOL,
            );
            close(
                &format!("{ctx} H2"),
                m["H2"].as_f64().unwrap(),
                fit["H2"].as_f64().unwrap(),
                FIT_TOL,
            );
            close(
                &format!("{ctx} QE"),
                m["QE"].as_f64().unwrap(),
                fit["QE"].as_f64().unwrap(),
                FIT_TOL,
            );
            let p = &fit["predictions"][0];
            close(
                &format!("{ctx} pi.lb"),
                m["pi.lb"].as_f64().unwrap(),
                p["pi.lb"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            close(
                &format!("{ctx} pi.ub"),
                m["pi.ub"].as_f64().unwrap(),
                p["pi.ub"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            continue;
        }
        args.push("--mods".into());
        args.push(mods.join(","));
        for p in predict_args(fit) {
            args.push("--predict".into());
            args.push(p);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = json_of(&args);
        let r = &out["regression"];
        for (ours, theirs) in r["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .zip(fit["coefficients"].as_array().unwrap())
        {
            assert_eq!(ours["term"], theirs["term"], "{ctx}");
            for (a, b) in [
                ("estimate", "estimate"),
                ("std.error", "se"),
                ("statistic", "zval"),
                ("conf.low", "ci.lb"),
                ("conf.high", "ci.ub"),
            ] {
                close(
                    &format!("{ctx} {a} of {}", ours["term"]),
                    ours[a].as_f64().unwrap(),
                    theirs[b].as_f64().unwrap(),
                    ESTIMATE_TOL,
                );
            }
            close(
                &format!("{ctx} p of {}", ours["term"]),
                ours["p.value"].as_f64().unwrap(),
                theirs["pval"].as_f64().unwrap(),
                FIT_TOL,
            );
        }
        for key in ["tau2", "I2", "H2", "QE", "QEp", "QM", "QMp", "R2"] {
            if fit[key].is_null() {
                assert!(
                    r[key].is_null(),
                    "{ctx} {key}: metafor NA, balans {}",
                    r[key]
                );
                continue;
            }
            close(
                &format!("{ctx} {key}"),
                r[key].as_f64().unwrap(),
                fit[key].as_f64().unwrap(),
                FIT_TOL,
            );
        }
        let preds = out["predictions"].as_array().unwrap();
        let want = fit["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), want.len(), "{ctx}");
        for (p, w) in preds.iter().zip(want) {
            for key in ["pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"] {
                close(
                    &format!("{ctx} prediction {} {key}", p["at"]),
                    p[key].as_f64().unwrap(),
                    w[key].as_f64().unwrap(),
                    ESTIMATE_TOL,
                );
            }
        }
    }
}

#[test]
fn meta_regression_on_bcg_equals_metafor_for_every_method() {
    compare_regression("bcg_mods", &["ablat", "factor(alloc)"]);
}

#[test]
fn a_binary_factor_declared_with_factor_flag_equals_metafor() {
    // --factor region is the same as --mods factor(region).
    let data = reference_dir().join("meta_normand.csv");
    let a = json_of(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--factor",
        "region",
        "--format",
        "json",
    ]);
    let b = json_of(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--mods",
        "factor(region)",
        "--format",
        "json",
    ]);
    assert_eq!(a["regression"], b["regression"]);
    compare_regression("normand", &["factor(region)"]);
}

/// Issue 22: a study with vi = 0 was refused under REML where metafor fits. Now ML, REML, EB, HE
/// and SJ fit as metafor (without QE, I², H²), with and without a moderator; FE, DL, PM and HS
/// are refused at the cell, as metafor stops.
#[test]
fn a_variance_of_zero_fits_where_metafor_fits() {
    compare_regression("zero_vi", &["x"]);
}

#[test]
fn every_estimator_on_two_studies_and_on_a_tiny_variance_equals_metafor() {
    compare_regression("two", &[]);
    compare_regression("tiny_vi", &[]);
}

#[test]
fn meta_regression_table_and_csv_carry_the_tests_and_predictions() {
    let data = reference_dir().join("meta_bcg_mods.csv");
    let d = data.to_str().unwrap();
    let o = balans(&[
        "meta",
        "--data",
        d,
        "--mods",
        "ablat,factor(alloc)",
        "--knha",
        "--predict",
        "ablat=40,alloc=random",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "Mixed-Effects Model (k = 13; tau^2 estimator: REML)",
        "R^2 (amount of heterogeneity accounted for):",
        "QE(df = 9) = 26.2034",
        "Test of Moderators (coefficients 2:4):\nF(df1 = 3, df2 = 9) =",
        "factor(alloc)systematic",
        "ablat=40,alloc=random",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    let o = balans(&[
        "meta",
        "--data",
        d,
        "--mods",
        "ablat",
        "--factor",
        "alloc",
        "--format",
        "csv",
        "--predict",
        "ablat=20,alloc=alternate",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "term,type,estimate,std.error,statistic,p.value,conf.low,conf.high,pi.lb,pi.ub,df1,df2,method"
    );
    let terms: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        terms,
        [
            "intrcpt",
            "ablat",
            "factor(alloc)random",
            "factor(alloc)systematic",
            "\"ablat=20",
            "tau2",
            "I2",
            "H2",
            "R2",
            "QE",
            "QM"
        ]
    );
}

#[test]
fn moderator_mistakes_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_temp(
        dir.path(),
        "d.csv",
        "study,yi,vi,x,g\na,0.1,0.01,1,u\nb,0.3,0.02,2,v\nc,0.2,0.01,abc,u\nd,0.5,0.03,4,v\ne,0.4,0.02,5,u\n",
    );
    let d = data.to_str().unwrap();
    let o = balans(&["meta", "--data", d, "--mods", "x"]);
    assert_clean_failure(
        &o,
        "d.csv:4: column 'x' (column 4): cannot read 'abc' as a number",
    );
    assert_clean_failure(&o, "--factor x");
    let o = balans(&["meta", "--data", d, "--mods", "nope"]);
    assert_clean_failure(&o, "no column 'nope'");
    let o = balans(&["meta", "--data", d, "--factor", "g", "--predict", "g=w"]);
    assert_clean_failure(&o, "one of the levels in the data: u, v");
    let o = balans(&["meta", "--data", d, "--factor", "g", "--predict", "g"]);
    assert_clean_failure(&o, "is not COL=VALUE");
    let o = balans(&["meta", "--data", d, "--predict", "g=u"]);
    assert_clean_failure(&o, "--predict needs moderators");
    let o = balans(&[
        "meta",
        "--data",
        d,
        "--factor",
        "g",
        "--forest",
        dir.path().join("f.svg").to_str().unwrap(),
    ]);
    assert_clean_failure(
        &o,
        "--forest draws the pooled estimate of a model without moderators",
    );
    // g and a copy of it: the model matrix is not of full rank; the redundant coefficient is named.
    let twin = write_temp(
        dir.path(),
        "t.csv",
        "yi,vi,g,h\n0.1,0.01,u,p\n0.3,0.02,v,q\n0.2,0.01,u,p\n0.5,0.03,v,q\n",
    );
    let o = balans(&["meta", "--data", twin.to_str().unwrap(), "--factor", "g,h"]);
    assert_clean_failure(&o, "coefficient 'factor(h)q'");
    // A categorical moderator with a level per study: refused before any k × p allocation.
    let mut many = String::from("yi,vi,id\n");
    for i in 0..300 {
        many.push_str(&format!("0.{},0.01,study{i}\n", i % 10));
    }
    let many = write_temp(dir.path(), "many.csv", &many);
    let o = balans(&["meta", "--data", many.to_str().unwrap(), "--factor", "id"]);
    assert_clean_failure(
        &o,
        "number of coefficients of the moderators = 300: at most 200",
    );
}

/// Issue 23: `meta` panicked in statrs (beta.rs:101) when every yᵢ was equal (0/0 t statistic
/// under Knapp–Hartung). Now: every method gives τ² = 0 and Q = 0 as metafor; Knapp–Hartung
/// (whose SE would be 0) is refused with the reason.
#[test]
fn equal_estimates_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for y in ["0", "0.3"] {
        let data = write_temp(
            dir.path(),
            "eq.csv",
            &format!("yi,vi\n{y},0.01\n{y},0.02\n{y},0.03\n"),
        );
        let d = data.to_str().unwrap();
        for method in ["fe", "dl", "reml", "ml", "pm", "he", "sj", "eb", "hs"] {
            let out = json_of(&["meta", "--data", d, "--method", method, "--format", "json"]);
            assert!(out["model"]["tau2"].as_f64().unwrap() < 1e-20, "{method}");
            assert!(out["model"]["QE"].as_f64().unwrap() < 1e-20, "{method}");
            let o = balans(&["meta", "--data", d, "--method", method, "--knha"]);
            assert_clean_failure(&o, "use the z test instead");
            // With a moderator every estimate is on the fitted line, too.
            let m = write_temp(
                dir.path(),
                "m.csv",
                &format!("yi,vi,x\n{y},0.01,1\n{y},0.02,2\n{y},0.03,3\n{y},0.02,4\n"),
            );
            let o = balans(&[
                "meta",
                "--data",
                m.to_str().unwrap(),
                "--method",
                method,
                "--mods",
                "x",
                "--knha",
            ]);
            assert_clean_failure(&o, "use the z test instead");
            let o = balans(&[
                "meta",
                "--data",
                m.to_str().unwrap(),
                "--method",
                method,
                "--mods",
                "x",
            ]);
            assert!(o.status.success(), "{method}: {}", stderr(&o));
        }
    }
}

/// Issue 23: REML with one yᵢ ≈ 1e100 ran for over 120 s. Such values are refused at their cell;
/// large values inside the bounds finish (the test fails if the run exceeds 60 s or 500 MB, a
/// guard against a runaway, not a speed claim).
#[test]
fn extreme_estimates_are_refused_or_finish() {
    let dir = tempfile::tempdir().unwrap();
    write_temp(
        dir.path(),
        "big.csv",
        "yi,vi\n0.1,0.01\n1e100,0.02\n0.3,0.03\n",
    );
    let o = balans_bounded(
        dir.path(),
        &["meta", "--data", "big.csv", "--method", "REML"],
        60.0,
        500,
    );
    assert_clean_failure(
        &o,
        "big.csv:3: column 'yi' (column 1): estimate 1e100 is beyond",
    );
    write_temp(
        dir.path(),
        "large.csv",
        "yi,vi\n0.1,0.01\n1e40,0.02\n0.3,0.03\n-2e39,0.01\n",
    );
    for method in ["REML", "ML", "EB", "PM"] {
        let o = balans_bounded(
            dir.path(),
            &[
                "meta",
                "--data",
                "large.csv",
                "--method",
                method,
                "--format",
                "json",
            ],
            60.0,
            500,
        );
        // Either a result with finite numbers or a clean refusal: never a hang, a panic or a NaN.
        if o.status.success() {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            for key in ["estimate", "std.error", "tau2", "I2", "H2", "QE"] {
                assert!(
                    v["model"][key].as_f64().is_some_and(f64::is_finite),
                    "{method} {key}: {}",
                    v["model"]
                );
            }
        } else {
            assert_clean_failure(&o, "");
        }
    }
}

/// Issue 23: every vᵢ = 1e-300 gave H² = −inf with exit 0. Such variances are refused at their
/// cell with the representable range; vᵢ = 0 is refused where metafor stops (DL), naming it.
#[test]
fn variances_the_analysis_cannot_represent_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = write_temp(
        dir.path(),
        "tiny.csv",
        "yi,vi\n0.1,1e-300\n0.2,1e-300\n0.3,1e-300\n",
    );
    let o = balans(&["meta", "--data", tiny.to_str().unwrap()]);
    assert_clean_failure(
        &o,
        "tiny.csv:2: column 'vi' (column 2): sampling variance 1e-300 lies outside [1e-50, 1e50]",
    );
    let zero = write_temp(dir.path(), "zero.csv", "yi,vi\n0.1,0\n0.2,0.01\n0.3,0.02\n");
    let o = balans(&["meta", "--data", zero.to_str().unwrap(), "--method", "dl"]);
    assert_clean_failure(
        &o,
        "zero.csv:2: column 'vi' (column 2): sampling variance 0",
    );
    assert_clean_failure(&o, "ML, REML, EB, HE and SJ fit with vi = 0");
    let big_mod = write_temp(
        dir.path(),
        "bm.csv",
        "yi,vi,x\n0.1,0.01,1\n0.2,0.01,1e60\n0.3,0.02,3\n",
    );
    let o = balans(&["meta", "--data", big_mod.to_str().unwrap(), "--mods", "x"]);
    assert_clean_failure(
        &o,
        "bm.csv:3: column 'x' (column 3): moderator value 1e60 is beyond",
    );
}

/// Issue 23: `meta --data F --forest F`, `--data F --out F` and `--out X --forest X` replaced
/// files without `--force`. Every output is now checked against the input and the others before
/// the run; the files stay as they were.
#[test]
fn outputs_never_replace_the_data_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(reference_dir().join("data/meta_bcg.csv")).unwrap();
    let data = write_temp(dir.path(), "bcg.csv", &original);
    let d = data.to_str().unwrap();
    let o = balans(&["meta", "--data", d, "--forest", d]);
    assert_clean_failure(&o, "is an input of this run");
    let o = balans(&["meta", "--data", d, "--out", d]);
    assert_clean_failure(&o, "is an input of this run");
    // The same file through another spelling.
    let dotted = dir.path().join(".").join("bcg.csv");
    let o = balans(&["meta", "--data", d, "--out", dotted.to_str().unwrap()]);
    assert_clean_failure(&o, "is an input of this run");
    assert_eq!(std::fs::read_to_string(&data).unwrap(), original);
    let x = dir.path().join("x.out");
    let o = balans(&[
        "meta",
        "--data",
        d,
        "--out",
        x.to_str().unwrap(),
        "--forest",
        x.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "is also the path of --out");
    assert!(!x.exists(), "nothing is written when the outputs collide");
    // --forest over an existing non-SVG file is refused too.
    let notes = write_temp(dir.path(), "notes.txt", "my notes\n");
    let o = balans(&["meta", "--data", d, "--forest", notes.to_str().unwrap()]);
    assert_clean_failure(&o, "is not an SVG image");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    // With --force the user may replace what they name.
    let o = balans(&[
        "--force",
        "meta",
        "--data",
        d,
        "--out",
        notes.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A level so close to 1 that the critical value is infinite is refused (it printed [-inf, inf]);
/// one study is analysed as metafor does, and the note reaches CSV users on stderr.
#[test]
fn degenerate_levels_are_refused_and_k1_is_announced() {
    let data = reference_dir().join("data/meta_bcg.csv");
    let o = balans(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--level",
        "0.9999999999999999",
    ]);
    assert_clean_failure(&o, "a level whose critical value is finite");
    let dir = tempfile::tempdir().unwrap();
    let one = write_temp(dir.path(), "one.csv", "yi,vi\n0.3,0.01\n");
    let o = balans(&[
        "meta",
        "--data",
        one.to_str().unwrap(),
        "--format",
        "csv",
        "--method",
        "dl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: k = 1: tau^2 is set to 0"),
        "{}",
        stderr(&o)
    );
    // metafor 3.8-1, rma(0.3, 0.01): b = 0.3, se = 0.1, ci.lb = 0.1040, ci.ub = 0.4960.
    let overall = stdout(&o).lines().last().unwrap().to_string();
    let cells: Vec<&str> = overall.split(',').collect();
    assert_eq!(&cells[..2], ["overall", "summary"], "{overall}");
    for (i, want) in [(2, 0.3), (3, 0.1), (6, 0.1040), (7, 0.4960)] {
        close(
            &format!("column {i}"),
            cells[i].parse().unwrap(),
            want,
            5e-5,
        );
    }
}

/// Studies with a missing moderator are left out and reported (metafor's `na.omit` drops them
/// with a warning); the fit equals the fit of the remaining rows.
#[test]
fn rows_with_a_missing_moderator_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let full = "yi,vi,x\n0.1,0.01,1\n0.3,0.02,2\n0.2,0.01,NA\n0.5,0.03,4\n0.4,0.02,5\n0.6,0.02,7\n";
    let kept = "yi,vi,x\n0.1,0.01,1\n0.3,0.02,2\n0.5,0.03,4\n0.4,0.02,5\n0.6,0.02,7\n";
    let a = write_temp(dir.path(), "a.csv", full);
    let b = write_temp(dir.path(), "b.csv", kept);
    let o = balans(&["meta", "--data", a.to_str().unwrap(), "--mods", "x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("; 1 rows with missing values skipped"));
    let ja = json_of(&[
        "meta",
        "--data",
        a.to_str().unwrap(),
        "--mods",
        "x",
        "--format",
        "json",
    ]);
    let jb = json_of(&[
        "meta",
        "--data",
        b.to_str().unwrap(),
        "--mods",
        "x",
        "--format",
        "json",
    ]);
    assert_eq!(ja["regression"], jb["regression"]);
    assert_eq!(ja["skipped_rows"], 1);
}

/// `balans report` renders a meta-regression: the answer in words, the coefficients and the
/// predictions (metafor's BCG model: QM = 11.06 on 3 df, R² = 53.84%).
#[test]
fn report_renders_a_meta_regression() {
    let dir = tempfile::tempdir().unwrap();
    let data = reference_dir().join("meta_bcg_mods.csv");
    let o = balans(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--mods",
        "ablat,factor(alloc)",
        "--predict",
        "ablat=40,alloc=random",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json = dir.path().join("reg.json");
    std::fs::write(&json, &o.stdout).unwrap();
    let html = dir.path().join("r.html");
    let o = balans(&[
        "report",
        json.to_str().unwrap(),
        "--out",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("Meta-regression — "), "title");
    assert!(html.contains("omnibus test QM = 11.06, p = .011"), "{html}");
    assert!(html.contains("account for 54% of the between-study variance"));
    assert!(html.contains("factor(alloc)systematic") && html.contains("ablat=40,alloc=random"));
}

/// Correlations (r, n) with a moderator: analysed as Fisher z, predictions also on the r scale.
#[test]
fn correlation_predictions_are_also_given_as_r() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_temp(
        dir.path(),
        "r.csv",
        "study,r,n,age\na,0.10,120,25\nb,0.25,80,35\nc,0.31,200,45\nd,0.18,150,30\ne,0.40,60,55\n",
    );
    let out = json_of(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--mods",
        "age",
        "--predict",
        "age=40",
        "--format",
        "json",
    ]);
    assert_eq!(out["measure"], "Fisher z of r (variance 1/(n − 3))");
    let z = &out["predictions"][0];
    let r = &out["r_scale"][0];
    for key in ["pred", "ci.lb", "ci.ub", "pi.lb", "pi.ub"] {
        let (zv, rv) = (z[key].as_f64().unwrap(), r[key].as_f64().unwrap());
        assert!((rv - zv.tanh()).abs() < 1e-15, "{key}: {rv} vs tanh({zv})");
    }
}
