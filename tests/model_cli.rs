//! End-to-end tests of `balans model`: listing, showing and printing models, and clear errors
//! (non-zero exit, message with file:line:col, never a panic) for bad model files.

mod common;

use common::{assert_clean_failure, balans, stdout};
use std::io::Write;

fn model_file(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".lav").tempfile().unwrap();
    f.write_all(contents).unwrap();
    f
}

fn show(contents: &[u8], extra: &[&str]) -> std::process::Output {
    let f = model_file(contents);
    let path = f.path().to_str().unwrap().to_string();
    let mut args = vec!["model", "show", "--model", path.as_str()];
    args.extend_from_slice(extra);
    balans(&args)
}

#[test]
fn list_names_both_builtins() {
    let out = stdout(&balans(&["model", "list"]));
    assert!(
        out.contains("seed ") && out.contains("seed-composite"),
        "{out}"
    );
}

#[test]
fn show_json_reports_effects_by_route_and_sources() {
    let o = balans(&["model", "show", "--builtin", "seed", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["indirect_effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"is->wfc->perf") && names.contains(&"cm->eng->amb"),
        "{names:?}"
    );
    // Every regression of the built-in model is tagged [E].
    assert!(v["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["op"] == "~")
        .all(|p| p["source"] == "E"));
    // total = direct + indirect in the JSON too.
    for e in v["effects"].as_array().unwrap() {
        let (d, i, t) = (
            e["direct"].as_f64().unwrap(),
            e["indirect"].as_f64().unwrap(),
            e["total"].as_f64().unwrap(),
        );
        assert!((d + i - t).abs() < 1e-12);
    }
}

#[test]
fn print_gives_a_model_file_that_runs() {
    let text = balans(&["model", "print", "--builtin", "seed"]).stdout;
    let o = show(&text, &["--format", "json"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let direct = balans(&["model", "show", "--builtin", "seed", "--format", "json"]).stdout;
    let a: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&direct).unwrap();
    assert_eq!(a["implied_correlation"], b["implied_correlation"]);
}

#[test]
fn standardized_flag_changes_semantics() {
    let raw = show(b"m ~ 0.5*x\ny ~ 0.4*m\n", &["--format", "json"]);
    let std = show(
        b"m ~ 0.5*x\ny ~ 0.4*m\n",
        &["--format", "json", "--standardized"],
    );
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let std: serde_json::Value = serde_json::from_slice(&std.stdout).unwrap();
    let var_m = |v: &serde_json::Value| {
        v["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "m")
            .unwrap()["variance"]
            .as_f64()
            .unwrap()
    };
    assert!((var_m(&raw) - 1.25).abs() < 1e-12);
    assert!((var_m(&std) - 1.0).abs() < 1e-12);
}

#[test]
fn unknown_label_in_defined_parameter() {
    let o = show(b"m ~ a*x\ny ~ b*m\nind := a*bb\n", &[]);
    assert_clean_failure(&o, ":3:10: unknown label 'bb'");
    assert_clean_failure(&o, "did you mean 'b'?");
}

#[test]
fn variable_instead_of_label_in_defined_parameter() {
    let o = show(b"m ~ a*x\ny ~ b*m\nind := a*m\n", &[]);
    assert_clean_failure(&o, "unknown label 'm'");
}

#[test]
fn unbalanced_parentheses() {
    assert_clean_failure(
        &show(b"m ~ a*x\ny ~ b*m\nind := (a*b\n", &[]),
        "'(' is never closed",
    );
    assert_clean_failure(&show(b"m ~ a*x\ny ~ b*m\nind := a*b)\n", &[]), ":3:11");
}

#[test]
fn regression_with_an_empty_side() {
    assert_clean_failure(&show(b"y ~\n", &[]), "nothing on its right side");
    assert_clean_failure(&show(b"~ x\n", &[]), "nothing on its left side");
}

#[test]
fn cyclic_model_is_refused() {
    let o = show(b"a ~ x\nb ~ a\na ~ b\n", &[]);
    assert_clean_failure(&o, "cyclic");
    assert_clean_failure(&o, "b -> a -> b");
}

#[test]
fn infeasible_standardized_r_squared() {
    let o = show(
        b"#!balans standardized\nx1 ~~ 0.9*x2\ny ~ 0.8*x1 + 0.8*x2\n",
        &[],
    );
    assert_clean_failure(&o, "'y' would have implied R²");
}

#[test]
fn exogenous_correlations_not_positive_definite() {
    let o = show(
        b"a ~~ 0.9*b + 0.9*c\nb ~~ -0.9*c\ny ~ 0.1*a + 0.1*b + 0.1*c\n",
        &["--standardized"],
    );
    assert_clean_failure(&o, "not positive definite");
}

/// A label on two parameters is an equality constraint (as lavaan reads it), not an error.
#[test]
fn shared_label_is_an_equality_constraint() {
    let o = show(b"m ~ a*x\ny ~ a*m\n", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn inequality_constraint_is_refused_with_a_location() {
    let o = show(b"m ~ a*x\ny ~ b*m\na > 0\n", &[]);
    assert_clean_failure(
        &o,
        ":3:3: inequality constraints ('a > 0', 'a < b') are not supported",
    );
}

#[test]
fn empty_file() {
    assert_clean_failure(&show(b"", &[]), "the model is empty");
    assert_clean_failure(&show(b"# only a comment\n\n", &[]), "the model is empty");
}

#[test]
fn non_utf8_bytes() {
    let o = show(b"m ~ x\ny ~ m\xff\n", &[]);
    assert_clean_failure(&o, ":2:6: the model file is not valid UTF-8");
}

#[test]
fn caret_points_at_the_offending_text() {
    let o = show(b"m ~ a*x\ny ~ b*m $ x\n", &[]);
    let err = common::stderr(&o);
    assert_clean_failure(&o, ":2:9: unexpected character '$'");
    assert!(err.contains(" 2 | y ~ b*m $ x\n   |         ^"), "{err}");
}

#[test]
fn typo_in_a_covariance_suggests_the_variable() {
    let o = show(b"wfc ~ is\nwfe ~ is\nwfx ~~ wfe\n", &[]);
    assert_clean_failure(&o, "did you mean 'wfc'?");
}

#[test]
fn unknown_builtin_suggests() {
    assert_clean_failure(
        &balans(&["model", "show", "--builtin", "sed"]),
        "did you mean 'seed'?",
    );
}

#[test]
fn missing_model_file() {
    assert_clean_failure(
        &balans(&["model", "show", "--model", "/nonexistent/m.lav"]),
        "failed to read model file /nonexistent/m.lav",
    );
}

/// Issue 18 item 3: `model show` and `model print` take `--out`, and never over their input.
#[test]
fn model_show_and_print_write_to_out() {
    let dir = tempfile::tempdir().unwrap();
    let lav = dir.path().join("m.lav");
    let o = common::balans(&[
        "model",
        "print",
        "--builtin",
        "seed",
        "--out",
        lav.to_str().unwrap(),
    ]);
    assert!(
        o.status.success() && o.stdout.is_empty(),
        "{}",
        common::stderr(&o)
    );
    let before = std::fs::read(&lav).unwrap();
    let o = common::balans(&[
        "model",
        "show",
        "--model",
        lav.to_str().unwrap(),
        "--out",
        lav.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success(),
        "model show --out over its own model file must be refused"
    );
    assert_eq!(
        std::fs::read(&lav).unwrap(),
        before,
        "the input is unchanged"
    );
}
