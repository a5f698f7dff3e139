//! `balans report` and `balans diagram --fit`: end to end, from JSON written by balans itself.

mod common;

use common::{assert_clean_failure, balans, balans_in, stdout};

#[test]
fn report_of_a_power_run_and_a_fit_is_one_offline_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let power = balans(&[
        "power",
        "--builtin",
        "seed",
        "--effects",
        "cm->eng->perf",
        "--n",
        "150,300",
        "--reps",
        "200",
        "--format",
        "json",
    ]);
    assert!(power.status.success());
    std::fs::write(dir.path().join("power.json"), &power.stdout).unwrap();
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests");
    let fit = balans_in(
        std::path::Path::new(golden),
        &[
            "fit",
            "--data",
            "reference/data/sim_seed.csv",
            "--format",
            "json",
        ],
    );
    assert!(fit.status.success());
    std::fs::write(dir.path().join("fit.json"), &fit.stdout).unwrap();
    let out = balans_in(
        dir.path(),
        &["report", "power.json", "fit.json", "--out", "report.html"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("Power analysis — power.json"));
    assert!(html.contains("Model fit — fit.json"));
    assert!(html.contains("With 300 employees") || html.contains("At the largest sample size run"));
    // The fit's diagram from the same JSON.
    let out = balans_in(dir.path(), &["diagram", "--fit", "fit.json"]);
    assert!(out.status.success());
    let svg = stdout(&out);
    assert_eq!(
        svg.matches(r#"class="path""#).count(),
        26,
        "every estimated path"
    );
    assert!(
        svg.contains("stroke-dasharray"),
        "non-significant paths are dashed"
    );
}

#[test]
fn report_of_a_power_run_on_a_model_file_draws_that_model() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my.lav"),
        "#!balans standardized\nm ~ 0.4*a*x\ny ~ 0.3*b*m + 0.1*x\nind := a*b\n",
    )
    .unwrap();
    let power = balans_in(
        dir.path(),
        &[
            "power", "--model", "my.lav", "--n", "100", "--reps", "100", "--format", "json",
        ],
    );
    assert!(power.status.success(), "{}", common::stderr(&power));
    std::fs::write(dir.path().join("power.json"), &power.stdout).unwrap();
    let out = balans_in(dir.path(), &["report", "power.json", "--out", "r.html"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("Path diagram of the population model"));
    assert_eq!(
        html.matches(r#"class="path""#).count(),
        3,
        "x->m, m->y, x->y"
    );
}

#[test]
fn report_of_a_meta_analysis_and_a_replication() {
    let dir = tempfile::tempdir().unwrap();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reference/data/meta_bcg.csv"
    );
    let meta = balans(&["meta", "--data", data, "--format", "json"]);
    assert!(meta.status.success(), "{}", common::stderr(&meta));
    std::fs::write(dir.path().join("meta.json"), &meta.stdout).unwrap();
    let replication = balans(&[
        "transport",
        "replicate",
        "--original",
        "0.31,0.06",
        "--replication",
        "0.15,0.083",
        "--format",
        "json",
    ]);
    assert!(
        replication.status.success(),
        "{}",
        common::stderr(&replication)
    );
    std::fs::write(dir.path().join("replication.json"), &replication.stdout).unwrap();
    let out = balans_in(
        dir.path(),
        &["report", "meta.json", "replication.json", "--out", "r.html"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("Meta-analysis — meta.json</h2>"));
    assert!(html.contains("Replication — replication.json</h2>"));
    // metafor's REML estimate for the BCG data (tests/reference/metafor_bcg.json): −.7145.
    assert!(
        html.contains("Across 13 studies the pooled effect is \u{2212}.715"),
        "{html}"
    );
    assert_eq!(html.matches(r#"class="forest""#).count(), 2);
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn report_refuses_unknown_json_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), "{\"a\": 1}").unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"a\": ").unwrap();
    let out = balans_in(dir.path(), &["report", "x.json", "--out", "r.html"]);
    assert_clean_failure(&out, "x.json: not a balans result");
    let out = balans_in(dir.path(), &["report", "broken.json", "--out", "r.html"]);
    assert_clean_failure(&out, "broken.json:1:");
    assert!(
        !dir.path().join("r.html").exists(),
        "nothing written on failure"
    );
    let out = balans_in(dir.path(), &["diagram", "--fit", "x.json"]);
    assert_clean_failure(&out, "x.json: --fit expects");
}
