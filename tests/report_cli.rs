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
