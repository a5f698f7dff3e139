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

#[test]
fn report_of_a_trial_power_run_and_plan_shows_every_power_with_its_mc_se() {
    let dir = tempfile::tempdir().unwrap();
    let power = balans(&[
        "trial",
        "power",
        "--builtin",
        "dutch",
        "--effect",
        "0.3",
        "--reps",
        "60",
        "--seed",
        "1",
        "--leaders",
        "20,30",
        "--format",
        "json",
    ]);
    assert!(power.status.success(), "{}", common::stderr(&power));
    std::fs::write(dir.path().join("tp.json"), &power.stdout).unwrap();
    let plan = balans(&[
        "trial",
        "plan",
        "--leaders",
        "20",
        "--team-size",
        "15",
        "--icc",
        "0.17",
        "--power",
        "0.8",
        "--format",
        "json",
    ]);
    assert!(plan.status.success(), "{}", common::stderr(&plan));
    std::fs::write(dir.path().join("plan.json"), &plan.stdout).unwrap();
    let out = balans_in(
        dir.path(),
        &["report", "tp.json", "plan.json", "--out", "r.html"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(
        html.contains("Trial power (simulation)")
            && html.contains("Trial plan (analytic, PowerUpR cra2r2)")
    );
    assert!(
        html.contains("minimum detectable effect is 0.629 SD (95% interval 0.183 to 1.075)"),
        "PowerUpR's cross-check"
    );
    let json: serde_json::Value = serde_json::from_slice(&power.stdout).unwrap();
    for r in json["rows"].as_array().unwrap() {
        let row = format!(
            "<tr><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td>{}</td><td>{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td>",
            r["leaders"], r["team_size"].as_f64().unwrap(), r["analysis"].as_str().unwrap(), r["outcome"].as_str().unwrap(),
            r["effect"].as_f64().unwrap(), r["power"].as_f64().unwrap(), r["mc_se"].as_f64().unwrap()
        );
        assert!(html.contains(&row), "row missing from the report: {row}");
    }
    assert!(
        !html.contains("https://") && !html.contains("src=\"http"),
        "no network resources"
    );
}

#[test]
fn report_of_reweighting_and_trial_analysis_rows_shows_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let rw = balans(&[
        "transport",
        "reweight",
        "--stratum",
        "high=0.25,0.1,0.3,0.5",
        "--stratum",
        "low=-0.25,0.1,0.7,0.5",
        "--format",
        "json",
    ]);
    assert!(rw.status.success(), "{}", common::stderr(&rw));
    std::fs::write(dir.path().join("rw.json"), &rw.stdout).unwrap();
    let sim = balans_in(
        dir.path(),
        &[
            "trial",
            "simulate",
            "--builtin",
            "dutch",
            "--seed",
            "1",
            "--out",
            "t.csv",
        ],
    );
    assert!(sim.status.success(), "{}", common::stderr(&sim));
    let ta = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "t.csv",
            "--outcome",
            "fssb",
            "--format",
            "json",
        ],
    );
    assert!(ta.status.success(), "{}", common::stderr(&ta));
    std::fs::write(dir.path().join("ta.json"), &ta.stdout).unwrap();
    let out = balans_in(
        dir.path(),
        &["report", "rw.json", "ta.json", "--out", "r.html"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    for json in [&rw.stdout, &ta.stdout] {
        let v: serde_json::Value = serde_json::from_slice(json).unwrap();
        let rows = v
            .get("rows")
            .or_else(|| v["report"].get("rows"))
            .unwrap()
            .as_array()
            .unwrap();
        assert!(!rows.is_empty());
        for r in rows {
            let term = r["term"].as_str().unwrap();
            assert!(
                html.contains(&format!("<td>{term}</td>")),
                "term {term} missing"
            );
            if let Some(e) = r["estimate"].as_f64() {
                assert!(
                    html.contains(&format!("{e:.4}")),
                    "estimate of {term} missing"
                );
            }
        }
    }
}
