//! End-to-end tests of `balans power`.

mod common;

use common::{assert_clean_failure, balans, stdout};

fn json(args: &[&str]) -> serde_json::Value {
    let o = balans(args);
    assert!(
        o.status.success(),
        "balans {args:?} failed: {}",
        common::stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

/// 1, 2 and all cores (`--threads 0`) give byte-identical JSON, on both sampling paths and with
/// Monte Carlo CIs.
#[test]
fn one_and_two_threads_give_identical_json() {
    for sampling in ["rows", "wishart"] {
        let args = |t: &'static str| {
            vec![
                "power",
                "--builtin",
                "seed",
                "--n",
                "100,278",
                "--reps",
                "200",
                "--seed",
                "7",
                "--tests",
                "joint,sobel,mc",
                "--mc-draws",
                "200",
                "--sampling",
                sampling,
                "--format",
                "json",
                "--threads",
                t,
            ]
        };
        let one = balans(&args("1"));
        let two = balans(&args("2"));
        let all = balans(&args("0"));
        assert!(
            one.status.success() && two.status.success() && all.status.success(),
            "{}",
            common::stderr(&one)
        );
        assert_eq!(
            stdout(&one),
            stdout(&two),
            "sampling {sampling}: JSON differs between 1 and 2 threads"
        );
        assert_eq!(
            stdout(&one),
            stdout(&all),
            "sampling {sampling}: JSON differs between 1 thread and all cores"
        );
    }
}

/// JSON is long form with the required fields, and echoes the seed and settings.
#[test]
fn json_rows_have_the_long_form_fields() {
    let v = json(&[
        "power",
        "--builtin",
        "seed",
        "--n",
        "278",
        "--reps",
        "50",
        "--seed",
        "3",
        "--effects",
        "ind_cm_eng_perf,eng~cm",
        "--format",
        "json",
    ]);
    assert_eq!(v["settings"]["seed"], 3);
    assert_eq!(v["settings"]["replications"], 50);
    assert_eq!(v["settings"]["model"], "builtin:seed");
    let rows = v["rows"].as_array().unwrap();
    // eng~cm (wald), ind_cm_eng_perf (joint, sobel), all_hypothesised (joint, sobel).
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["effect"].as_str().unwrap().to_string(),
                r["test"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    for r in rows {
        for field in [
            "n",
            "effect",
            "test",
            "power",
            "mc_se",
            "mean_estimate",
            "bias",
            "mean_se",
            "empirical_sd",
            "coverage",
            "convergence_rate",
        ] {
            assert!(r.get(field).is_some(), "missing {field} in {r}");
        }
        let p = r["power"].as_f64().unwrap();
        let se = r["mc_se"].as_f64().unwrap();
        assert!((se - (p * (1.0 - p) / 50.0).sqrt()).abs() < 1e-12);
    }
}

/// CSV: one header and one line per (n, effect, test); the plot is an SVG with the target line.
#[test]
fn csv_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("power.svg");
    let o = balans(&[
        "power",
        "--builtin",
        "seed",
        "--n-range",
        "100:300:100",
        "--reps",
        "40",
        "--effects",
        "cm->eng->perf",
        "--format",
        "csv",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("n,effect,kind,test,power,mc_se,"));
    assert_eq!(lines.len(), 1 + 3 * 2, "{text}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("cm-&gt;eng-&gt;perf (joint)"));
}

/// The target-power search reports N with an interval.
#[test]
fn target_power_reports_n_with_an_interval() {
    let v = json(&[
        "power",
        "--builtin",
        "seed",
        "--effects",
        "ind_cm_eng_perf",
        "--target-power",
        "0.8",
        "--reps",
        "300",
        "--format",
        "json",
    ]);
    let found = v["sample_size"].as_array().unwrap();
    let joint = found.iter().find(|e| e["test"] == "joint").unwrap();
    assert_eq!(joint["status"], "found", "{joint}");
    let (lo, n, hi) = (
        joint["n_lower"].as_u64().unwrap(),
        joint["n"].as_u64().unwrap(),
        joint["n_upper"].as_u64().unwrap(),
    );
    assert!(lo <= n && n <= hi && n > 50 && n < 1000, "{joint}");
}

#[test]
fn help_has_examples() {
    let o = balans(&["power", "--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("Examples:") && text.contains("--target-power 0.8"));
}

#[test]
fn bad_input_fails_cleanly() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["power", "--builtin", "seed", "--n", "100", "--reps", "0"],
            "--reps 0",
        ),
        (
            &["power", "--builtin", "seed", "--target-power", "1"],
            "between 0 and 1",
        ),
        (
            &["power", "--builtin", "seed", "--target-power", "0"],
            "between 0 and 1",
        ),
        (&["power", "--builtin", "seed", "--n", "30"], "too small"),
        (
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--effects",
                "cm->eng->pref",
            ],
            "did you mean 'cm->eng->perf'",
        ),
        (
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--tests",
                "joint,sobl",
            ],
            "did you mean 'sobel'",
        ),
        (
            &["power", "--builtin", "seed", "--n", "100", "--alpha", "1.5"],
            "alpha",
        ),
        (
            &["power", "--builtin", "seed", "--n-range", "100:50:10"],
            "--n-range",
        ),
        (
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--sampling",
                "wishart",
                "--tests",
                "percentile",
            ],
            "bootstrap",
        ),
        (
            &["power", "--builtin", "sed", "--n", "100"],
            "did you mean 'seed'",
        ),
        (&["power", "--builtin", "seed"], "--target-power"),
        (
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--teams",
                "8",
                "--sampling",
                "wishart",
            ],
            "teams",
        ),
        (
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--missing",
                "often:0.1",
            ],
            "--missing",
        ),
        (
            &["power", "--builtin", "seed", "--n", "100", "--teams", "0.5"],
            "team size",
        ),
    ];
    for (args, msg) in cases {
        let o = balans(args);
        assert_clean_failure(&o, msg);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
    }
}

/// `--analysis FILE`: a different (over-identified) analysis model; its variables must exist in the
/// population.
#[test]
fn analysis_model_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("full_mediation.lav");
    std::fs::write(
        &file,
        "wfc ~ es + is + rm + cm\nwfe ~ es + is + rm + cm\neng ~ es + is + rm + cm\n\
         wfc ~~ wfe + eng\nwfe ~~ eng\nperf ~ wfc + wfe + eng\namb ~ wfc + wfe + eng\n",
    )
    .unwrap();
    let v = json(&[
        "power",
        "--builtin",
        "seed",
        "--analysis",
        file.to_str().unwrap(),
        "--n",
        "278",
        "--reps",
        "100",
        "--format",
        "json",
    ]);
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["effect"] == "perf~eng"));
    assert!(
        !rows.iter().any(|r| r["effect"] == "perf~es"),
        "the analysis model has no direct paths"
    );
    assert!(rows.iter().all(|r| r["convergence_rate"] == 1.0));
    let bad = dir.path().join("bad.lav");
    std::fs::write(&bad, "perf ~ wfc + stress\n").unwrap();
    let o = balans(&[
        "power",
        "--builtin",
        "seed",
        "--analysis",
        bad.to_str().unwrap(),
        "--n",
        "100",
    ]);
    assert_clean_failure(&o, "'stress'");
}

/// Teams and missing items run through the survey simulator; every replication converges.
#[test]
fn teams_and_missing_items() {
    let v = json(&[
        "power",
        "--builtin",
        "seed",
        "--data",
        "items",
        "--teams",
        "8",
        "--missing",
        "mcar:0.05",
        "--n",
        "278",
        "--reps",
        "60",
        "--effects",
        "eng~cm",
        "--format",
        "json",
    ]);
    let r = &v["rows"][0];
    assert_eq!(r["convergence_rate"], 1.0);
    assert!(r["power"].as_f64().unwrap() > 0.5, "{r}");
    assert_eq!(v["settings"]["survey"]["teams"], 8.0);
}

/// `--cluster-robust` analyses the same simulated teams (same seed: same estimates) with lavaan's
/// `cluster = "team"` standard errors instead of single-level ones, and says so.
#[test]
fn cluster_robust_teams_change_the_standard_errors_not_the_estimates() {
    let args = |robust: bool| {
        let mut a = vec![
            "power",
            "--builtin",
            "seed",
            "--teams",
            "8",
            "--n",
            "160",
            "--reps",
            "40",
            "--effects",
            "perf~es,eng~cm",
            "--seed",
            "11",
            "--format",
            "json",
        ];
        if robust {
            a.push("--cluster-robust");
        }
        json(&a)
    };
    let (naive, robust) = (args(false), args(true));
    assert_eq!(robust["settings"]["survey"]["cluster_robust"], true);
    assert_eq!(naive["settings"]["survey"]["cluster_robust"], false);
    for (a, b) in naive["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(robust["rows"].as_array().unwrap())
    {
        assert_eq!(a["effect"], b["effect"]);
        assert_eq!(a["mean_estimate"], b["mean_estimate"], "{a} {b}");
        assert_eq!(b["convergence_rate"], 1.0, "{b}");
        let (sa, sb) = (
            a["mean_se"].as_f64().unwrap(),
            b["mean_se"].as_f64().unwrap(),
        );
        assert!((sa - sb).abs() > 1e-4 * sa, "{} {sa} vs {sb}", a["effect"]);
    }
    let text = robust.to_string();
    assert!(text.contains("cluster-robust by team"), "{text}");
    // The switch needs teams.
    let o = balans(&[
        "power",
        "--builtin",
        "seed",
        "--n",
        "100",
        "--cluster-robust",
    ]);
    assert!(!o.status.success());
}

/// The README's main job answers on one screen: at most 30 lines; the headline effect once (its
/// `:=` name with its route), with power ± MC SE at every N and the N for power .80; the answer
/// sentences; what the tests mean. `--all` adds the full grid with the joint row explained.
#[test]
fn the_main_job_answers_in_at_most_30_lines() {
    let args = [
        "power",
        "--builtin",
        "seed",
        "--n",
        "100,200,278",
        "--reps",
        "400",
    ];
    let o = balans(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 30, "{} lines:\n{text}", lines.len());
    let head = lines
        .iter()
        .position(|l| l.contains("N = 100") && l.contains("N = 278") && l.contains("N for .80"))
        .unwrap_or_else(|| panic!("no header with the sample sizes and N for .80:\n{text}"));
    let headline: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("cm->eng->perf"))
        .collect();
    assert_eq!(headline.len(), 1, "the headline effect once:\n{text}");
    assert!(
        lines
            .iter()
            .position(|l| l.contains("cm->eng->perf"))
            .unwrap()
            > head
    );
    let line = headline[0];
    assert!(line.contains("ind_cm_eng_perf = cm->eng->perf"), "{line}");
    assert_eq!(
        line.matches('\u{b1}').count(),
        3,
        "power ± SE at each N: {line}"
    );
    // N for .80 of the joint test: between 200 and 278 with an interval (power .78 at 200 and
    // .89 at 278 with 1,000 replications; at 400 replications the crossing is still inside).
    let cell = line
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .last()
        .unwrap()
        .trim();
    let n: usize = cell
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{cell}"));
    assert!(
        (150..=300).contains(&n) && cell.contains("95% MC"),
        "{cell}"
    );
    assert!(
        text.contains("Answer:") && text.contains("Tests: joint = "),
        "{text}"
    );
    assert!(!text.contains("all_hypothesised"), "{text}");

    let mut all_args = args.to_vec();
    all_args.push("--all");
    let all = stdout(&balans(&all_args));
    assert!(
        all.starts_with(&text[..text.find("Every N").unwrap()]),
        "{all}"
    );
    assert!(all.contains("   278  all_hypothesised  joint"), "{all}");
    assert!(
        all.contains("all_hypothesised: every selected effect"),
        "{all}"
    );
}

/// The JSON carries the same answer as the table, and the headline table.
#[test]
fn json_has_the_answer() {
    let v = json(&[
        "power",
        "--builtin",
        "seed",
        "--n",
        "100,278",
        "--reps",
        "200",
        "--format",
        "json",
    ]);
    let answer = v["answer"].as_array().expect("answer field");
    assert!((1..=5).contains(&answer.len()), "{answer:?}");
    let table = stdout(&balans(&[
        "power",
        "--builtin",
        "seed",
        "--n",
        "100,278",
        "--reps",
        "200",
    ]));
    for s in answer {
        assert!(table.contains(s.as_str().unwrap()), "{s} not in\n{table}");
    }
    let effects = v["headline"]["effects"]
        .as_array()
        .expect("headline effects");
    assert!(effects
        .iter()
        .any(|e| e["effect"] == "ind_cm_eng_perf" && e["route"] == "cm->eng->perf"));
    assert!(v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["effect"] == "all_hypothesised"));
}
