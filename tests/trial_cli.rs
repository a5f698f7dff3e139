//! End-to-end tests of `balans trial plan | simulate | analyse | power`.

mod common;

use common::{assert_clean_failure, balans, balans_in, stderr, stdout};
use std::path::Path;

fn json(args: &[&str]) -> serde_json::Value {
    let o = balans(args);
    assert!(o.status.success(), "balans {args:?} failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

fn f(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// PowerUpR's printed cross-check: mdes.cra2r2(power = .80, rho2 = .17, n = 15, J = 20).
#[test]
fn plan_reproduces_the_powerupr_cross_check() {
    let v = json(&[
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
    assert!((f(&v, "mdes") - 0.629).abs() < 5e-4, "{v}");
    assert!((f(&v, "conf.low") - 0.183).abs() < 5e-4, "{v}");
    assert!((f(&v, "conf.high") - 1.075).abs() < 5e-4, "{v}");
    assert!((f(&v, "df") - 18.0).abs() < 1e-12);
    assert!((f(&v, "power") - 0.8).abs() < 1e-12);
    assert!((f(&v, "leaders") - 20.0).abs() < 1e-12);
}

#[test]
fn plan_searches_leaders_and_budgets() {
    let v = json(&[
        "trial",
        "plan",
        "--team-size",
        "9",
        "--icc",
        "0.1",
        "--r2-employee",
        "0.5",
        "--r2-leader",
        "0.5",
        "--effect",
        "0.3",
        "--target-power",
        "0.8",
        "--format",
        "json",
    ]);
    let j = f(&v, "leaders");
    assert!(f(&v, "power") >= 0.8, "{v}");
    // One leader fewer falls short.
    let fewer = json(&[
        "trial",
        "plan",
        "--leaders",
        &format!("{}", j - 1.0),
        "--team-size",
        "9",
        "--icc",
        "0.1",
        "--r2-employee",
        "0.5",
        "--r2-leader",
        "0.5",
        "--effect",
        "0.3",
        "--format",
        "json",
    ]);
    assert!(f(&fewer, "power") < 0.8, "{fewer}");
    let b = json(&[
        "trial",
        "plan",
        "--icc",
        "0.1",
        "--effect",
        "0.3",
        "--cost-leader",
        "500",
        "--cost-employee",
        "40",
        "--budget",
        "30000",
        "--format",
        "json",
    ]);
    let a = &b["allocation"];
    assert!(f(a, "cost") <= 30000.0, "{b}");
    let csv = stdout(&balans(&[
        "trial",
        "plan",
        "--leaders",
        "30",
        "--icc",
        "0.1",
        "--effect",
        "0.25",
        "--format",
        "csv",
    ]));
    assert!(csv.starts_with("leaders,team_size,icc,"), "{csv}");
}

#[test]
fn plan_bad_input_names_the_flag() {
    let o = balans(&[
        "trial",
        "plan",
        "--leaders",
        "20",
        "--icc",
        "1",
        "--power",
        "0.8",
    ]);
    assert_clean_failure(&o, "--icc");
    assert_eq!(o.status.code(), Some(1));
    let o = balans(&[
        "trial",
        "plan",
        "--leaders",
        "2",
        "--icc",
        "0.1",
        "--power",
        "0.8",
    ]);
    assert_clean_failure(&o, "--leaders");
    assert_eq!(o.status.code(), Some(1));
    let o = balans(&["trial", "plan", "--leaders", "20", "--icc", "0.1"]);
    assert_clean_failure(&o, "--power");
    let o = balans(&["trial", "plan", "--leaders", "20"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a missing required flag is a usage error"
    );
}

#[test]
fn simulate_is_reproducible_and_has_both_layouts() {
    let a = balans(&["trial", "simulate", "--builtin", "dutch", "--seed", "5"]);
    let b = balans(&["trial", "simulate", "--builtin", "dutch", "--seed", "5"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let wide = stdout(&a);
    assert!(
        wide.starts_with("leader,arm,employee,uptake,fssb_pre,fssb_post,wfc_pre,"),
        "{wide}"
    );
    let long = stdout(&balans(&[
        "trial",
        "simulate",
        "--builtin",
        "dutch",
        "--seed",
        "5",
        "--layout",
        "long",
    ]));
    assert!(
        long.starts_with("leader,arm,employee,uptake,time,fssb,wfc,"),
        "{long}"
    );
    // Employees lost at post have only their pre row: long rows = employees + completers.
    let employees = wide.lines().count() - 1;
    let completers = wide
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(5).unwrap().eq("NA"))
        .count();
    assert_eq!(long.lines().count() - 1, employees + completers);
    let items = stdout(&balans(&[
        "trial",
        "simulate",
        "--leaders",
        "4",
        "--team-size",
        "3",
        "--measurement",
        "items",
        "--seed",
        "1",
    ]));
    assert!(
        items.lines().next().unwrap().contains("fssb1_pre"),
        "{items}"
    );
}

#[test]
fn a_saved_design_reproduces_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "simulate",
            "--builtin",
            "hammer2011",
            "--seed",
            "3",
            "--save-design",
            "d.json",
            "--out",
            "a.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = balans_in(
        dir.path(),
        &[
            "trial", "simulate", "--design", "d.json", "--seed", "3", "--out", "b.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read(dir.path().join("a.csv")).unwrap();
    assert_eq!(a, std::fs::read(dir.path().join("b.csv")).unwrap());
    assert!(String::from_utf8_lossy(&a).starts_with("leader,arm,employee,uptake,conflict_high,"));
}

#[test]
fn bad_designs_name_the_flag_or_file_key() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--leaders-per-arm", "1,5"],
            "--leaders-per-arm: the control arm has one leader",
        ),
        (
            &["--leaders", "10", "--share-trained", "1"],
            "--share-trained: the control arm has no leaders",
        ),
        (
            &["--leaders", "10", "--share-trained", "0"],
            "the trained arm has no leaders",
        ),
        (&["--icc", "fssb=1"], "--icc: fssb=1 is out of range"),
        (&["--icc", "1.5"], "--icc"),
        (
            &["--attrition-mar", "wfx"],
            "--attrition-mar: unknown variable 'wfx'",
        ),
        (
            &["--moderator", "wfc"],
            "--moderator needs --moderator-effects",
        ),
        (
            &["--shock", "0.5"],
            "--shock '0.5': expected SHARE:SURVIVES",
        ),
        (&["--design", "hamer"], "unknown built-in design 'hamer'"),
        (
            &["--builtin", "hamer"],
            "a trial design is chosen with --design",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["trial", "simulate", "--seed", "1"];
        args.extend_from_slice(flags);
        let o = balans(&args);
        assert_clean_failure(&o, want);
        assert_eq!(o.status.code(), Some(1), "{flags:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.toml"), "leaders_per_arm = [1, 4]\n").unwrap();
    std::fs::write(dir.path().join("typo.toml"), "leader = 12\n").unwrap();
    let o = balans_in(
        dir.path(),
        &["trial", "simulate", "--design", "one.toml", "--seed", "1"],
    );
    assert_clean_failure(
        &o,
        "invalid design (one.toml): key 'leaders': the control arm has one leader",
    );
    let o = balans_in(
        dir.path(),
        &["trial", "simulate", "--design", "typo.toml", "--seed", "1"],
    );
    assert_clean_failure(&o, "typo.toml");
    assert_clean_failure(&o, "leader");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn analyse_reads_wide_and_long_exports_alike() {
    let dir = tempfile::tempdir().unwrap();
    for layout in ["wide", "long"] {
        let o = balans_in(
            dir.path(),
            &[
                "trial",
                "simulate",
                "--builtin",
                "dutch",
                "--seed",
                "9",
                "--layout",
                layout,
                "--out",
                &format!("{layout}.csv"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let run = |layout: &str| {
        let o = balans_in(
            dir.path(),
            &[
                "trial",
                "analyse",
                "--data",
                &format!("{layout}.csv"),
                "--layout",
                layout,
                "--outcome",
                "fssb,eng",
                "--format",
                "json",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (w, l) = (run("wide"), run("long"));
    let rows = w["report"]["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for key in [
        "term",
        "estimate",
        "std.error",
        "statistic",
        "df",
        "p.value",
        "conf.low",
        "conf.high",
        "analysis",
        "outcome",
    ] {
        assert!(!rows[0][key].is_null(), "{key} missing: {}", rows[0]);
    }
    assert_eq!(
        w["rows"], l["rows"],
        "the long layout pivots to the same data"
    );
}

#[test]
fn analyse_bad_data_names_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let head = "leader,arm,employee,fssb_pre,fssb_post\n";
    let good = "a,0,1,0.1,0.2\na,0,2,0.3,0.1\nb,0,3,0.2,0.5\nb,0,4,-0.1,0.0\nc,1,5,0.4,0.9\nc,1,6,0.0,0.3\nd,1,7,0.2,0.6\nd,1,8,-0.3,0.1\n";
    write(dir.path(), "good.csv", &format!("{head}{good}"));
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "good.csv",
            "--outcome",
            "fssb",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: &[(&str, String, &str)] = &[
        (
            "both.csv",
            format!("{head}{good}a,1,9,0.1,0.2\n"),
            "both.csv:10: leader 'a' is in arm 1 here but in arm 0 on line 2",
        ),
        (
            "noarm.csv",
            format!("{head}{good}e,NA,9,0.1,0.2\n"),
            "noarm.csv:10: column 'arm' (the arm) is missing",
        ),
        (
            "badarm.csv",
            format!("{head}{good}e,2,9,0.1,0.2\n"),
            "badarm.csv:10: column 'arm': '2' is not an arm",
        ),
        (
            "text.csv",
            format!("{head}{good}e,1,9,abc,0.2\n"),
            "text.csv:10: column 'fssb_pre' (column 4): cannot read 'abc' as a number",
        ),
        (
            "one.csv",
            format!("{head}a,0,1,0.1,0.2\nc,1,5,0.4,0.9\nd,1,7,0.2,0.6\n"),
            "the control arm (arm=0) has 1 leader ('a')",
        ),
        (
            "empty_arm.csv",
            format!("{head}c,1,5,0.4,0.9\nd,1,7,0.2,0.6\n"),
            "the control arm (arm=0) has 0 leaders",
        ),
    ];
    for (name, text, want) in cases {
        write(dir.path(), name, text);
        let o = balans_in(
            dir.path(),
            &["trial", "analyse", "--data", name, "--outcome", "fssb"],
        );
        assert_clean_failure(&o, want);
        assert_eq!(o.status.code(), Some(1), "{name}");
    }
    let o = balans_in(
        dir.path(),
        &["trial", "analyse", "--data", "good.csv", "--outcome", "fsb"],
    );
    assert_clean_failure(&o, "no column 'fsb_pre' (did you mean 'fssb_pre'?)");
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "good.csv",
            "--outcome",
            "fssb",
            "--leader",
            "team",
        ],
    );
    assert_clean_failure(&o, "no column 'team'");
    assert_clean_failure(&o, "--leader");
    // Dutch dialect: semicolons, decimal commas, a missing-value code.
    write(
        dir.path(),
        "nl.csv",
        &format!(
            "{}{}",
            head.replace(',', ";"),
            good.replace(',', ";")
                .replace('.', ",")
                .replace("d;1;8;-0,3;0,1", "d;1;8;-99;0,1")
        ),
    );
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "nl.csv",
            "--outcome",
            "fssb",
            "--na",
            "-99",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["report"]["counts"][0]["dropped"], 1,
        "one row dropped for the missing pre-test: {v}"
    );
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "nl.csv",
            "--outcome",
            "fssb",
            "--na",
            "-99",
            "--format",
            "csv",
        ],
    );
    assert!(stdout(&o).starts_with(
        "analysis,outcome,term,estimate,std.error,statistic,df,p.value,conf.low,conf.high\n"
    ));
}

#[test]
fn power_is_identical_for_any_thread_count() {
    let args = |t: &'static str| {
        vec![
            "trial",
            "power",
            "--builtin",
            "dutch",
            "--reps",
            "300",
            "--seed",
            "4",
            "--leaders",
            "12,20",
            "--team-size-grid",
            "4,8",
            "--format",
            "json",
            "--threads",
            t,
        ]
    };
    let one = balans(&args("1"));
    let two = balans(&args("2"));
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(stdout(&one), stdout(&two));
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len() % 4, 0);
    for key in [
        "power",
        "mc_se",
        "bias",
        "coverage",
        "type1",
        "type1_mc_se",
        "singular",
        "failed",
        "leaders",
        "team_size",
    ] {
        assert!(!rows[0][key].is_null(), "{key} missing");
    }
    assert_eq!(v["settings"]["seed"], 4);
}

#[test]
fn power_writes_csv_svg_and_searches_leaders() {
    let dir = tempfile::tempdir().unwrap();
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "power",
            "--builtin",
            "dutch",
            "--effect",
            "0.4",
            "--reps",
            "200",
            "--seed",
            "2",
            "--leaders",
            "10,20",
            "--format",
            "csv",
            "--plot",
            "p.svg",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("leaders,team_size,analysis,"));
    assert!(std::fs::read_to_string(dir.path().join("p.svg"))
        .unwrap()
        .starts_with("<svg"));
    let v = json(&[
        "trial",
        "power",
        "--builtin",
        "dutch",
        "--effect",
        "0.5",
        "--reps",
        "200",
        "--seed",
        "2",
        "--target-power",
        "0.8",
        "--format",
        "json",
    ]);
    let j = v["search"]["leaders"]
        .as_u64()
        .expect("a number of leaders was found");
    assert!(v["search"]["power"].as_f64().unwrap() >= 0.8);
    let below: Vec<&serde_json::Value> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["leaders"].as_u64().unwrap() < j && r["analysis"] == "leader_means")
        .collect();
    assert!(
        below.iter().all(|r| r["power"].as_f64().unwrap() < 0.8),
        "smaller designs evaluated fall short"
    );
    let o = balans(&[
        "trial",
        "power",
        "--builtin",
        "dutch",
        "--outcome",
        "fsb",
        "--reps",
        "10",
    ]);
    assert_clean_failure(&o, "--outcome: unknown outcome 'fsb'");
    let o = balans(&["trial", "power", "--leaders-per-arm", "1,4", "--reps", "10"]);
    assert_clean_failure(&o, "--leaders-per-arm");
}

/// Every example in the `--help` texts of `balans trial …` runs as written (in a scratch folder,
/// with a small export for the analyse example that reads one).
#[test]
fn help_examples_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "export.csv",
        "team;condition;id;wave;fssb\nA;0;1;0;3,5\nA;0;1;1;3,9\nA;0;2;0;4,1\nA;0;2;1;-99\nB;0;3;0;2,9\nB;0;3;1;3,0\nC;1;4;0;3,3\nC;1;4;1;4,2\nD;1;5;0;3,6\nD;1;5;1;4,4\nD;1;6;0;3,1\nD;1;6;1;3,8\n",
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_balans"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for sub in ["plan", "simulate", "analyse", "power"] {
        let help = stdout(&balans(&["trial", sub, "--help"]));
        let examples = help
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub} --help has examples"));
        let mut command = String::new();
        for line in examples.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !line.starts_with("balans") && command.is_empty() {
                break;
            }
            command.push_str(line.trim_end_matches('\\'));
            command.push(' ');
            if line.ends_with('\\') {
                continue;
            }
            let cmd = command
                .replace("--reps 1000", "--reps 100")
                .replace("--reps 100 ", "--reps 30 ");
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .current_dir(dir.path())
                .env("PATH", &path)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "example failed: {cmd}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            command.clear();
        }
    }
}

/// Moderation, CACE and mediation run when their columns are named; a mediation chain must name
/// outcomes among --outcome.
#[test]
fn analyse_runs_moderation_cace_and_mediation() {
    let dir = tempfile::tempdir().unwrap();
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "simulate",
            "--builtin",
            "hammer2011",
            "--uptake",
            "0.7",
            "--seed",
            "4",
            "--out",
            "h.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "h.csv",
            "--outcome",
            "fssb,eng,perf",
            "--moderator",
            "conflict_high",
            "--uptake",
            "uptake",
            "--mediation",
            "fssb,eng,perf",
            "--mediation-draws",
            "2000",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let terms: Vec<String> = v["report"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["analysis"].as_str().unwrap(),
                r["term"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "mediation:indirect",
        "cace:uptake",
        "mixed_ancova:arm",
        "long_mixed:time:arm",
    ] {
        assert!(terms.iter().any(|t| t == want), "{want} missing: {terms:?}");
    }
    assert!(
        terms
            .iter()
            .any(|t| t.starts_with("moderation:arm|conflict_high=")),
        "{terms:?}"
    );
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "h.csv",
            "--outcome",
            "fssb",
            "--mediation",
            "fssb,eng,perf",
        ],
    );
    assert_clean_failure(
        &o,
        "--mediation: 'eng' is not among the --outcome variables",
    );
    let o = balans_in(
        dir.path(),
        &[
            "trial",
            "analyse",
            "--data",
            "h.csv",
            "--outcome",
            "fssb",
            "--moderator",
            "conflict",
        ],
    );
    assert_clean_failure(&o, "no column 'conflict'");
}

/// Issue 18 item 3: the flag grammar. `--design` names a design, `--builtin` the population
/// model; the old spellings still work with a note; `--out` writes plan, analyse and power results.
#[test]
fn grammar_spellings_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let new = common::balans(&[
        "trial",
        "power",
        "--design",
        "dutch",
        "--reps",
        "40",
        "--leaders",
        "20",
        "--builtin",
        "seed-composite",
    ]);
    assert!(new.status.success(), "{}", common::stderr(&new));
    assert!(
        !common::stderr(&new).contains("deprecated"),
        "{}",
        common::stderr(&new)
    );
    let old = common::balans(&[
        "trial",
        "power",
        "--builtin",
        "dutch",
        "--reps",
        "40",
        "--leaders",
        "20",
        "--model",
        "seed-composite",
    ]);
    assert!(old.status.success(), "{}", common::stderr(&old));
    assert_eq!(
        new.stdout, old.stdout,
        "old and new spellings give the same result"
    );
    let notes = common::stderr(&old);
    assert!(
        notes.contains("--builtin dutch is a deprecated spelling of --design dutch"),
        "{notes}"
    );
    assert!(
        notes.contains("--model is a deprecated spelling here: use --builtin NAME"),
        "{notes}"
    );
    let out = dir.path().join("plan.txt");
    let plan = common::balans(&[
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
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        plan.status.success() && plan.stdout.is_empty(),
        "{}",
        common::stderr(&plan)
    );
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("MDES at power 0.80: 0.629"));
}

/// Issue 20 item 6 / issue 23: line numbers of `trial analyse` errors are the file's own line
/// numbers also with CRLF line ends (the csv crate counted one short there), and after a blank
/// line; wide and long layouts alike.
#[test]
fn analyse_line_numbers_count_crlf_files_right() {
    let dir = tempfile::tempdir().unwrap();
    let wide = "leader,arm,fssb_pre,fssb_post\n1,0,1.0,2.0\n2,0,abc,2.0\n3,1,1,1\n4,1,1,1\n";
    let long = "leader,arm,employee,time,fssb\n1,0,1,0,1\n1,0,1,1,1\n2,0,2,0,1\n2,0,2,1,1\n2,0,2,1,1\n3,1,3,0,1\n4,1,4,0,1\n";
    let cases = [
        (
            "lf.csv",
            wide.to_string(),
            "wide",
            "lf.csv:3: column 'fssb_pre'",
        ),
        (
            "crlf.csv",
            wide.replace('\n', "\r\n"),
            "wide",
            "crlf.csv:3: column 'fssb_pre'",
        ),
        (
            "blank.csv",
            wide.replacen('\n', "\n\n", 1),
            "wide",
            "blank.csv:4: column 'fssb_pre'",
        ),
        (
            "long.csv",
            long.to_string(),
            "long",
            "long.csv:6: employee '2' has two rows",
        ),
        (
            "longcrlf.csv",
            long.replace('\n', "\r\n"),
            "long",
            "longcrlf.csv:6: employee '2' has two rows",
        ),
    ];
    for (name, text, layout, want) in cases {
        write(dir.path(), name, &text);
        let o = balans_in(
            dir.path(),
            &[
                "trial",
                "analyse",
                "--data",
                name,
                "--layout",
                layout,
                "--outcome",
                "fssb",
            ],
        );
        assert_clean_failure(&o, want);
    }
}

/// Issue 23: degenerate settings are errors naming the flag, not panics.
#[test]
fn degenerate_settings_are_errors_not_panics() {
    for (flag, value) in [("--power", "1e-300"), ("--power", "1e-17")] {
        let o = balans(&[
            "trial",
            "plan",
            "--leaders",
            "20",
            "--icc",
            "0.1",
            flag,
            value,
        ]);
        assert_clean_failure(&o, "out of range");
        assert_clean_failure(&o, flag);
    }
    let o = balans(&[
        "trial",
        "plan",
        "--leaders",
        "20",
        "--icc",
        "0.1",
        "--power",
        "0.8",
        "--alpha",
        "1e-300",
    ]);
    assert_clean_failure(&o, "--alpha: alpha = 1e-300 is out of range");
    let o = balans(&[
        "trial",
        "plan",
        "--leaders",
        "20",
        "--icc",
        "0.1",
        "--effect",
        "0.3",
        "--target-power",
        "1e-300",
    ]);
    assert_clean_failure(&o, "out of range");
    let dir = tempfile::tempdir().unwrap();
    let head = "leader,arm,employee,fssb_pre,fssb_post,eng_pre,eng_post,perf_pre,perf_post\n";
    let mut text = head.to_string();
    for j in 0..8 {
        for e in 0..4 {
            let v = f64::from(j * 4 + e) / 10.0;
            text += &format!(
                "{j},{},{},{v},{},{},{},{},{}\n",
                j % 2,
                j * 4 + e,
                v * 0.5 + 0.1,
                (v * 7.0) % 1.0,
                (v * 3.0) % 1.0,
                (v * 5.0) % 1.0,
                (v * 11.0) % 1.0
            );
        }
    }
    write(dir.path(), "t.csv", &text);
    for draws in ["0", "1", "99999999999"] {
        let o = balans_in(
            dir.path(),
            &[
                "trial",
                "analyse",
                "--data",
                "t.csv",
                "--outcome",
                "fssb,eng,perf",
                "--mediation",
                "fssb,eng,perf",
                "--mediation-draws",
                draws,
            ],
        );
        assert_clean_failure(&o, "--mediation-draws");
    }
}

/// Issue 20 item 1: the long model that assumes stable leader means runs only when asked, and
/// then with a warning saying when it is valid; the default long model is the leader-by-time one.
#[test]
fn the_stable_leader_long_model_only_on_request_and_with_a_warning() {
    let args = [
        "trial",
        "analyse",
        "--data",
        "golden/inputs/trial_dutch.csv",
        "--outcome",
        "fssb",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
    let o = balans_in(&root, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("long_mixed_kr"), "{text}");
    assert!(
        !text.contains("long_stable_leader") && !text.contains("warning"),
        "{text}"
    );
    let mut with = args.to_vec();
    with.push("--long-stable-leader");
    let o = balans_in(&root, &with);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("long_stable_leader fssb"), "{text}");
    assert!(
        text.contains("warning: long_stable_leader assumes that every leader's mean changes by the same amount"),
        "{text}"
    );
    with.extend(["--format", "csv"]);
    let o = balans_in(&root, &with);
    assert!(o.status.success());
    assert!(stderr(&o).contains("warning: long_stable_leader assumes"));
    assert!(stdout(&o).contains("long_stable_leader,fssb,time:arm,"));
}
