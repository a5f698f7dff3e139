//! End-to-end tests of `balans meta` and `balans transport …`: the binary reproduces metafor 3.8-1
//! (tests/reference/metafor_*.json, scripts/reference/metafor_reference.R) and ReplicationSuccess's
//! printed examples, and fails cleanly on bad input.

mod common;

use common::{assert_clean_failure, balans, stderr, stdout};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Relative tolerance against metafor (REML converged to 1e-12 on both sides).
const METAFOR_REL: f64 = 1e-8;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

fn write_temp(contents: &str, suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

fn json_of(args: &[&str]) -> Value {
    let o = balans(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

#[test]
fn meta_equals_metafor_for_every_method_on_every_set() {
    for set in [
        "bcg",
        "molloy2014",
        "normand1999",
        "homogeneous",
        "three",
        "cycling",
    ] {
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(reference_dir().join(format!("metafor_{set}.json"))).unwrap(),
        )
        .unwrap();
        let data = reference_dir().join(format!("data/meta_{set}.csv"));
        for fit in reference["fits"].as_array().unwrap() {
            let method = fit["method"].as_str().unwrap();
            let mut args = vec![
                "meta",
                "--data",
                data.to_str().unwrap(),
                "--method",
                method,
                "--format",
                "json",
            ];
            // molloy2014 has r/n and yi/vi columns: read the correlations, as a user would.
            if set == "molloy2014" {
                args.extend(["--r", "ri", "--n", "ni"]);
            }
            if fit["knha"] == true {
                args.push("--knha");
            }
            let out = json_of(&args);
            let m = &out["model"];
            for (ours, theirs) in [
                ("estimate", "b"),
                ("std.error", "se"),
                ("statistic", "zval"),
                ("p.value", "pval"),
                ("conf.low", "ci.lb"),
                ("conf.high", "ci.ub"),
                ("tau2", "tau2"),
                ("I2", "I2"),
                ("H2", "H2"),
                ("QE", "QE"),
                ("QEp", "QEp"),
                ("pi.lb", "pi.lb"),
                ("pi.ub", "pi.ub"),
            ] {
                let (a, b) = (m[ours].as_f64().unwrap(), fit[theirs].as_f64().unwrap());
                assert!(
                    close(a, b, METAFOR_REL) || (a - b).abs() < 1e-13,
                    "{set} {method} knha={}: {ours} {a} vs metafor {theirs} {b}",
                    fit["knha"]
                );
            }
            // Correlations are also reported as r (metafor's predict(transf = transf.ztor)).
            if set == "molloy2014" {
                let r = out["r_scale"]["estimate"].as_f64().unwrap();
                assert!((r - m["estimate"].as_f64().unwrap().tanh()).abs() < 1e-15);
            } else {
                assert!(out["r_scale"].is_null());
            }
            // The overall row carries the same numbers under broom/metafor names.
            let overall = out["rows"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(overall["term"], "overall");
            assert_eq!(overall["estimate"], m["estimate"]);
            assert_eq!(overall["pi.ub"], m["pi.ub"]);
        }
    }
}

#[test]
fn meta_csv_has_broom_and_metafor_columns_and_forest_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("forest.svg");
    let data = reference_dir().join("data/meta_bcg.csv");
    let o = balans(&[
        "meta",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "--forest",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let header = text.lines().next().unwrap();
    for col in [
        "term",
        "estimate",
        "std.error",
        "statistic",
        "p.value",
        "conf.low",
        "conf.high",
        "tau2",
        "I2",
        "H2",
        "QE",
        "QEp",
        "pi.lb",
        "pi.ub",
    ] {
        assert!(
            header.split(',').any(|c| c == col),
            "{col} missing in {header}"
        );
    }
    assert_eq!(text.lines().count(), 1 + 13 + 1);
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("Aronson 1948") && svg.contains("<polygon"));
}

#[test]
fn meta_table_prints_the_bcg_reml_summary() {
    let data = reference_dir().join("data/meta_bcg.csv");
    let o = balans(&["meta", "--data", data.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(
        text.contains("tau^2 (estimated amount of total heterogeneity): 0.3132 (SE = 0.1664)"),
        "{text}"
    );
    assert!(text.contains("I^2 (total heterogeneity / total variability):   92.22%"));
    assert!(text.contains("-0.7145"));
}

#[test]
fn meta_bad_input_fails_cleanly() {
    let neg = write_temp("study,yi,vi\nA,0.1,0.01\nB,0.2,-0.02\n", ".csv");
    let o = balans(&["meta", "--data", neg.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(
        &o,
        ":3: column 'vi' (column 3): sampling variance vi = -0.02 must be positive",
    );
    // One study: analysed as metafor does (tau^2 = 0, z test), and said so.
    let one = write_temp("yi,vi\n0.1,0.01\n", ".csv");
    let o = balans(&["meta", "--data", one.path().to_str().unwrap(), "--knha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Note: k = 1: tau^2 is set to 0 and the z test is used"));
    let empty = write_temp("yi,vi\n", ".csv");
    let o = balans(&["meta", "--data", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "0 studies given but 1 are needed");
    let cols = write_temp("est,var\n0.1,0.01\n0.2,0.02\n", ".csv");
    let o = balans(&["meta", "--data", cols.path().to_str().unwrap()]);
    assert_clean_failure(&o, "no column 'yi' (set it with --yi)");
    let text = write_temp("yi,vi\n0.1,0.01\nabc,0.02\n", ".csv");
    let o = balans(&["meta", "--data", text.path().to_str().unwrap()]);
    assert_clean_failure(&o, ":3: column 'yi' (column 1): cannot read 'abc'");
    let r = write_temp("r,n\n0.3,100\n1.2,50\n", ".csv");
    let o = balans(&["meta", "--data", r.path().to_str().unwrap()]);
    assert_clean_failure(&o, "correlation r = 1.2 must lie strictly between");
}

fn row<'a>(out: &'a Value, term: &str) -> &'a Value {
    out["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["term"] == term)
        .unwrap_or_else(|| panic!("no row {term}"))
}

/// INTERVENTIONS.md D4: the Dutch context vector through the binary.
#[test]
fn replicate_reproduces_the_dutch_context_vector() {
    let (o, r) = (0.3f64.atanh(), 0.15f64.atanh());
    let (seo, ser) = (1.0 / 275f64.sqrt(), 1.0 / 147f64.sqrt());
    let out = json_of(&[
        "transport",
        "replicate",
        "--original",
        &format!("{o},{seo}"),
        "--replication",
        &format!("{r},{ser}"),
        "--format",
        "json",
    ]);
    let p = |t: &str| row(&out, t)["p.value"].as_f64().unwrap();
    assert!((p("p.sceptical.nominal.one.sided") - 0.0384).abs() < 5e-5);
    assert!((p("p.sceptical.golden.one.sided") - 0.0122).abs() < 5e-5);
    assert!((p("q.test") - 0.121).abs() < 5e-4);
    assert!((p("small.telescopes") - 0.76).abs() < 5e-3);
    let pc = row(&out, "power.conditional")["estimate"].as_f64().unwrap();
    assert!((pc - 0.963).abs() < 5e-4);
}

/// A planned replication: `--original-n` and `--replication-n`; with 2·n_o and z_o = p2z(0.005),
/// ReplicationSuccess prints 0.9777728 (conditional) and 0.8770464 (predictive).
#[test]
fn replicate_plans_power_as_replication_success() {
    let zo = 2.807033768343811; // qnorm(1 - 0.005/2)
    let out = json_of(&[
        "transport",
        "replicate",
        "--original",
        &format!("{},0.1", zo * 0.1),
        "--original-n",
        "100",
        "--replication-n",
        "200",
        "--format",
        "json",
    ]);
    let e = |t: &str| row(&out, t)["estimate"].as_f64().unwrap();
    assert!((e("power.conditional") - 0.9777728).abs() < 5e-8);
    assert!((e("power.predictive") - 0.8770464).abs() < 5e-8);
    // sampleSizeSignificance(zo = p2z(0.005), power = 0.8) = 0.9961217 → N = ceil(99.61) = 100.
    assert!((e("n.conditional") - 100.0).abs() < 1e-12);
}

#[test]
fn replicate_reads_an_effect_from_a_fit_result() {
    let fit = write_temp(
        r#"{"n": 278, "parameters": [{"lhs":"wfc","op":"~","rhs":"is","label":"a","free":true,"est":-0.3,"se":0.06}],
            "effects": [{"name":"is->wfc->perf","est":-0.045,"se":0.015}]}"#,
        ".json",
    );
    let f = fit.path().to_str().unwrap();
    let out = json_of(&[
        "transport",
        "replicate",
        "--from",
        f,
        "--effect",
        "wfc~is",
        "--format",
        "json",
    ]);
    assert_eq!(row(&out, "original")["estimate"], serde_json::json!(-0.3));
    assert_eq!(out["settings"]["original_n"], 278);
    let out = json_of(&[
        "transport",
        "replicate",
        "--from",
        f,
        "--effect",
        "is->wfc->perf",
        "--format",
        "json",
    ]);
    assert_eq!(row(&out, "original")["std.error"], serde_json::json!(0.015));
    let o = balans(&["transport", "replicate", "--from", f, "--effect", "wfc~isx"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "unknown effect 'wfc~isx'");
    assert_clean_failure(&o, "did you mean 'wfc~is'?");
}

/// From the model's population: the value and the expected ML SE at the original N (the same
/// numbers `transport difference` uses for context A).
#[test]
fn replicate_takes_a_population_value_and_its_expected_se() {
    let model = write_temp("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x\n", ".lav");
    let m = model.path().to_str().unwrap();
    let out = json_of(&[
        "transport",
        "replicate",
        "--model",
        m,
        "--effect",
        "m~x",
        "--original-n",
        "200",
        "--replication-n",
        "300",
        "--format",
        "json",
    ]);
    let o = row(&out, "original");
    assert!((o["estimate"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    // Var(x) = 1, residual variance 1: SE = √(1/200).
    assert!((o["std.error"].as_f64().unwrap() - (1.0f64 / 200.0).sqrt()).abs() < 1e-12);
    assert_eq!(out["settings"]["original_n"], 200);
}

#[test]
fn replicate_bad_input_fails_cleanly() {
    let o = balans(&["transport", "replicate", "--original", "0.3,-0.1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "standard error of the original estimate = -0.1");
    let o = balans(&["transport", "replicate", "--original", "0.3"]);
    assert_clean_failure(&o, "--original expects EST,SE");
    let o = balans(&[
        "transport",
        "replicate",
        "--original",
        "0.3,0.1",
        "--replication-n",
        "100",
    ]);
    assert_clean_failure(&o, "original sample size");
    let o = balans(&[
        "transport",
        "replicate",
        "--original",
        "0.3,0.1",
        "--tau",
        "-1",
    ]);
    assert_clean_failure(&o, "--tau");
}

/// INTERVENTIONS.md D3: Hammer's disordinal pattern, δ = 0.25, π* = .3 → ATE* = −0.4δ = −0.1.
#[test]
fn reweight_carries_hammers_pattern_to_a_low_conflict_workplace() {
    let out = json_of(&[
        "transport",
        "reweight",
        "--stratum",
        "high=0.25,0.1,0.3,0.5",
        "--stratum",
        "low=-0.25,0.1,0.7,0.5",
        "--format",
        "json",
    ]);
    let t = row(&out, "ate.target");
    assert!((t["estimate"].as_f64().unwrap() + 0.1).abs() < 1e-15);
    assert!((t["std.error"].as_f64().unwrap() - 0.1 * 0.58f64.sqrt()).abs() < 1e-15);
    assert!(row(&out, "ate.source")["estimate"].as_f64().unwrap().abs() < 1e-15);
    let o = balans(&[
        "transport",
        "reweight",
        "--stratum",
        "a=0.2,0.1,0.5",
        "--stratum",
        "b=0.1,0.1,0.6",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "sum of the target shares = 1.1");
    let o = balans(&["transport", "reweight", "--stratum", "a=0.2,0.1"]);
    assert_clean_failure(&o, "expected EST,SE,TARGET[,SOURCE]");
}

#[test]
fn sites_runs_reproducibly_and_reports_heterogeneity_power() {
    let model = write_temp("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x\n", ".lav");
    let m = model.path().to_str().unwrap();
    let args = |threads: &'static str| {
        vec![
            "transport",
            "sites",
            "--model",
            m,
            "--sites",
            "12",
            "--n",
            "200",
            "--tau",
            "m~x=0.15",
            "--reps",
            "60",
            "--seed",
            "9",
            "--threads",
            threads,
            "--format",
            "csv",
        ]
    };
    let one = balans(&args("1"));
    let two = balans(&args("2"));
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(one.stdout, two.stdout, "thread count changed the output");
    let text = stdout(&one);
    let line = text.lines().find(|l| l.starts_with("m~x,")).unwrap();
    let cols: Vec<&str> = line.split(',').collect();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let power_q: f64 = cols[header.iter().position(|h| *h == "power.Q").unwrap()]
        .parse()
        .unwrap();
    assert!(power_q > 0.8, "{line}");
    assert!(text.contains("x->m->y,indirect"));
    let o = balans(&[
        "transport",
        "sites",
        "--model",
        m,
        "--sites",
        "1",
        "--n",
        "100",
        "--reps",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "--sites");
    let o = balans(&[
        "transport",
        "sites",
        "--model",
        m,
        "--sites",
        "5",
        "--n",
        "100",
        "--tau",
        "y~z=0.1",
        "--reps",
        "5",
    ]);
    assert_clean_failure(&o, "unknown effect 'y~z'");
}

/// `balans fit --group` equals lavaan 0.6-14 (tests/reference/multigroup_*.json from
/// scripts/reference/multigroup_reference.R): estimates and SEs 1e-6 relative, χ² 1e-4.
#[test]
fn fit_group_equals_lavaan_free_and_equal_regressions() {
    for set in ["mediation", "parallel"] {
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(reference_dir().join(format!("multigroup_{set}.json")))
                .unwrap(),
        )
        .unwrap();
        let model = write_temp(reference["model"].as_str().unwrap(), ".lav");
        let data = reference_dir()
            .join("data")
            .join(reference["data"].as_str().unwrap());
        for (equal, key) in [(false, "free"), (true, "equal")] {
            let mut args = vec![
                "fit",
                "--data",
                data.to_str().unwrap(),
                "--model",
                model.path().to_str().unwrap(),
                "--group",
                "context",
                "--format",
                "json",
            ];
            if equal {
                args.extend(["--equal", "regressions"]);
            }
            let out = json_of(&args);
            let want = &reference[key];
            let chisq = out["fit"]["chisq"].as_f64().unwrap();
            assert!(
                (chisq - want["chisq"].as_f64().unwrap()).abs() < 1e-4,
                "{set} {key}: chisq {chisq}"
            );
            assert_eq!(out["fit"]["df"], want["df"]);
            for p in out["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["free"] == true)
            {
                let w = want["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|w| {
                        w["group"] == p["group"]
                            && w["op"] == p["op"]
                            && ((w["lhs"] == p["lhs"] && w["rhs"] == p["rhs"])
                                || (w["lhs"] == p["rhs"] && w["rhs"] == p["lhs"]))
                    })
                    .unwrap();
                let (e, s) = (w["est"].as_f64().unwrap(), w["se"].as_f64().unwrap());
                let (pe, ps) = (p["est"].as_f64().unwrap(), p["se"].as_f64().unwrap());
                assert!(
                    (pe - e).abs() <= 1e-6 * e.abs().max(s),
                    "{set} {key} {p}: est vs {e}"
                );
                assert!((ps - s).abs() <= 1e-6 * s, "{set} {key} {p}: se vs {s}");
            }
            let lrt = &out["comparison"]["lrt"];
            let d = lrt["chisq.diff"].as_f64().unwrap()
                - reference["lrt"]["chisq.diff"].as_f64().unwrap();
            assert!(d.abs() < 1e-4, "{set}: LRT {lrt}");
            for w in reference["wald"].as_array().unwrap() {
                let ours = out["wald"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["path"] == w["path"])
                    .unwrap();
                let d = ours["statistic"].as_f64().unwrap() - w["stat"].as_f64().unwrap();
                assert!(d.abs() < 1e-4, "{set}: Wald {ours} vs {w}");
            }
        }
    }
}

#[test]
fn fit_group_bad_input_fails_cleanly() {
    let model = write_temp("m ~ x\ny ~ m + x\n", ".lav");
    let m = model.path().to_str().unwrap();
    let mut rows = String::from("context,x,m,y\n");
    for i in 0..40 {
        let x = (i as f64 * 0.7).sin();
        rows.push_str(&format!(
            "a,{x},{},{}\n",
            0.5 * x + (i as f64).cos(),
            (i as f64 * 1.1).sin()
        ));
    }
    rows.push_str("b,0.1,0.2,0.3\nb,0.2,0.1,0.5\nb,0.4,0.3,0.1\n");
    let data = write_temp(&rows, ".csv");
    let d = data.path().to_str().unwrap();
    let o = balans(&["fit", "--data", d, "--model", m, "--group", "context"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(
        &o,
        "group 'b' has 3 complete cases, fewer than the 5 needed",
    );
    let o = balans(&["fit", "--data", d, "--model", m, "--group", "contxt"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "did you mean 'context'?");
    let o = balans(&["fit", "--data", d, "--model", m, "--equal", "regressions"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn difference_reports_power_and_n_per_context() {
    let model = write_temp("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x\n", ".lav");
    let m = model.path().to_str().unwrap();
    let out = json_of(&[
        "transport",
        "difference",
        "--model",
        m,
        "--shift",
        "m~x=-0.2",
        "--effect",
        "m~x,x->m->y",
        "--n-a",
        "150",
        "--n-b",
        "120",
        "--format",
        "json",
    ]);
    let d = row(&out, "m~x.difference");
    assert!((d["estimate"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    let power = row(&out, "m~x.power")["estimate"].as_f64().unwrap();
    assert!(power > 0.05 && power < 1.0);
    assert!(
        row(&out, "x->m->y.n.per.context")["estimate"]
            .as_f64()
            .unwrap()
            > 150.0
    );
    // Context B as a second model with the same shift gives the same answer.
    let model_b = write_temp("m ~ 0.2*x\ny ~ 0.3*m + 0.1*x\n", ".lav");
    let out_b = json_of(&[
        "transport",
        "difference",
        "--model",
        m,
        "--model-b",
        model_b.path().to_str().unwrap(),
        "--effect",
        "m~x",
        "--n-a",
        "150",
        "--n-b",
        "120",
        "--format",
        "json",
    ]);
    let pb = row(&out_b, "m~x.power")["estimate"].as_f64().unwrap();
    assert!((pb - power).abs() < 1e-9, "{pb} vs {power}");
    let o = balans(&[
        "transport",
        "difference",
        "--model",
        m,
        "--shift",
        "m~x=-0.2",
        "--effect",
        "m~z",
        "--n-a",
        "150",
        "--n-b",
        "120",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "--effects: unknown effect 'm~z'");
}
