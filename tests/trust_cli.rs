//! Issue 9: places where a researcher stops trusting a tool — each finding reproduced through the
//! binary as the user met it.

mod common;

use common::{assert_clean_failure, balans_in, stderr};

/// The user's model: `exhaustion` mistyped as `exhaustoin` in the second equation.
const TYPO_MODEL: &str =
    "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustoin + 0.1*demands\nind := a*b\n";

fn with_model(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.lav"), text).expect("model written");
    dir
}

#[test]
fn a_typo_in_a_variable_name_is_warned_with_did_you_mean() {
    let dir = with_model(TYPO_MODEL);
    for args in [
        &["model", "show", "--model", "m.lav"][..],
        &["simulate", "--model", "m.lav", "--n", "20", "--seed", "1"][..],
        &["power", "--model", "m.lav", "--n", "100", "--reps", "20"][..],
    ] {
        let out = balans_in(dir.path(), args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("warning: m.lav:2:19: 'exhaustoin' appears in this statement only"),
            "{args:?}: {err}"
        );
        assert!(err.contains("did you mean 'exhaustion'?"), "{err}");
        assert!(
            err.contains("':= ind' multiplies path labels that do not form one directed route"),
            "{err}"
        );
    }
}

#[test]
fn strict_refuses_a_model_with_warnings() {
    let dir = with_model(TYPO_MODEL);
    for args in [
        &["model", "show", "--model", "m.lav", "--strict"][..],
        &[
            "power",
            "--model",
            "m.lav",
            "--target-power",
            "0.8",
            "--reps",
            "20",
            "--strict",
        ][..],
    ] {
        let out = balans_in(dir.path(), args);
        assert_clean_failure(&out, "--strict refuses it");
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("did you mean 'exhaustion'?"));
    }
}

#[test]
fn a_correct_model_has_no_warning() {
    let dir = with_model(
        "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustion + 0.1*demands\nind := a*b\n",
    );
    let out = balans_in(
        dir.path(),
        &["model", "show", "--model", "m.lav", "--strict"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn shell_completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = common::balans(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = common::stdout(&out);
        assert!(
            text.contains("balans") && text.contains("power") && text.contains("target-power"),
            "{shell}"
        );
    }
    let out = common::balans(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Simulated item export of the study (278 respondents, 5% of item answers missing, as `NA`).
fn item_export(dir: &std::path::Path) -> String {
    let out = balans_in(
        dir,
        &[
            "simulate",
            "--builtin",
            "seed",
            "--n",
            "278",
            "--seed",
            "1",
            "--missing",
            "mcar:0.05",
            "--level",
            "items",
            "--out",
            "d.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(dir.join("d.csv")).expect("export")
}

fn fit_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["fit", "--format", "json"];
    args.extend_from_slice(extra);
    let out = balans_in(dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn item_exports_with_missing_answers_keep_their_respondents() {
    let dir = tempfile::tempdir().expect("temp dir");
    item_export(dir.path());
    // Before: a scale score only when every item was answered — 21 of 278 rows were left.
    let fit = fit_json(dir.path(), &["--data", "d.csv"]);
    let n = fit["n"].as_u64().expect("n");
    assert!(
        n >= 270,
        "rows kept with half of the items as the minimum: {n}"
    );
    let eng = fit["variables"]
        .as_array()
        .expect("variables")
        .iter()
        .find(|v| v["name"] == "eng")
        .expect("eng");
    let from = eng["from"].as_str().expect("from");
    assert!(from.contains("when at least 5 of 9 are answered"), "{from}");
    // Requiring every item reproduces the old rule: about 21 of 278 rows complete, too few to fit.
    let all = balans_in(dir.path(), &["fit", "--data", "d.csv", "--min-items", "1"]);
    assert_clean_failure(&all, "too few observations");
    let bad = balans_in(dir.path(), &["fit", "--data", "d.csv", "--min-items", "2"]);
    assert_clean_failure(&bad, "--min-items must be a share between 0 and 1");
}

#[test]
fn sentinel_codes_stop_the_fit_and_name_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = item_export(dir.path());
    std::fs::write(dir.path().join("codes.csv"), text.replace("NA", "-99")).expect("written");
    let out = balans_in(dir.path(), &["fit", "--data", "codes.csv"]);
    assert_clean_failure(&out, "look like missing-value codes");
    let err = stderr(&out);
    assert!(err.contains("-99 ×"), "{err}");
    assert!(err.contains("pass --na -99"), "{err}");
    assert!(err.contains("eng"), "{err}");
    // With --na the fit equals the fit of the NA export.
    let coded = fit_json(dir.path(), &["--data", "codes.csv", "--na", "-99"]);
    let plain = fit_json(dir.path(), &["--data", "d.csv"]);
    assert_eq!(coded["parameters"], plain["parameters"]);
    // Accepting the codes deliberately runs (and gives other numbers).
    let accepted = fit_json(dir.path(), &["--data", "codes.csv", "--accept-codes"]);
    assert_ne!(accepted["parameters"], plain["parameters"]);
}

#[test]
fn values_outside_a_study_scale_range_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = item_export(dir.path());
    // A 0–10 rescoring of one engagement item (out of the study's 0–6).
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|h| *h == "eng3").expect("eng3");
    for line in lines.iter_mut().skip(1).take(10) {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells[col] = "9".to_string();
        *line = cells.join(",");
    }
    std::fs::write(dir.path().join("r.csv"), lines.join("\n") + "\n").expect("written");
    let out = balans_in(dir.path(), &["fit", "--data", "r.csv"]);
    assert_clean_failure(&out, "eng3: 9 × 10 (outside the scale's range 0–6)");
}

#[test]
fn power_writes_its_results_to_out_atomically_and_help_examples_are_quoted() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("keep.csv"), "old results\n").expect("written");
    // A failing run leaves the old file as it was (a shell `>` would have truncated it).
    let bad = balans_in(
        dir.path(),
        &[
            "power",
            "--n",
            "100",
            "--reps",
            "20",
            "--effects",
            "nope",
            "--out",
            "keep.csv",
        ],
    );
    assert!(!bad.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.csv")).expect("kept"),
        "old results\n"
    );
    let ok = balans_in(
        dir.path(),
        &[
            "power", "--n", "100", "--reps", "20", "--format", "csv", "--out", "keep.csv",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(ok.stdout.is_empty());
    assert!(std::fs::read_to_string(dir.path().join("keep.csv"))
        .expect("new")
        .starts_with("n,effect,"));
    // Every example in --help with an arrow is quoted, so pasting it does not redirect the shell.
    let help = common::stdout(&common::balans(&["power", "--help"]));
    for line in help.lines().filter(|l| l.contains("->")) {
        assert!(
            line.contains("'") || !line.trim_start().starts_with("balans"),
            "unquoted: {line}"
        );
    }
}

#[test]
fn fit_with_cluster_gives_lavaans_robust_cluster_standard_errors() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/reference/robust_cluster.json"
        ))
        .expect("reference"),
    )
    .expect("json");
    let dir = with_model(reference["mediation"]["model"].as_str().expect("model"));
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/data/clustered.csv"
    );
    let fit = fit_json(
        dir.path(),
        &["--data", data, "--model", "m.lav", "--cluster", "team"],
    );
    assert_eq!(fit["se"], "robust.cluster");
    assert_eq!(fit["cluster"]["clusters"], 21);
    for want in reference["mediation"]["parameters"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["op"] == "~")
    {
        let got = fit["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["lhs"] == want["lhs"] && p["op"] == "~" && p["rhs"] == want["rhs"])
            .expect("row");
        let (a, b) = (
            got["se"].as_f64().expect("se"),
            want["se"].as_f64().expect("se"),
        );
        assert!(
            (a - b).abs() <= 1e-6 * b,
            "{}~{}: {a} vs lavaan {b}",
            want["lhs"],
            want["rhs"]
        );
    }
    // Without --cluster the nesting is named in a warning.
    let out = balans_in(dir.path(), &["fit", "--data", data, "--model", "m.lav"]);
    assert!(
        stderr(&out).contains("pass --cluster team"),
        "{}",
        stderr(&out)
    );
    let bad = balans_in(
        dir.path(),
        &[
            "fit",
            "--data",
            data,
            "--model",
            "m.lav",
            "--cluster",
            "teem",
        ],
    );
    assert_clean_failure(&bad, "did you mean 'team'?");
}
