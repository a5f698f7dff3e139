//! End-to-end tests of `balans simulate`: the README example, reproducibility across thread
//! counts, output formats and levels, atomic output, and clean refusals of bad input.

mod common;

use common::{assert_clean_failure, balans, stderr, stdout};
use std::process::Command;

/// Runs `balans` with extra environment variables.
fn balans_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_balans"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the balans binary runs")
}

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn readme_example_gives_the_study_questionnaire() {
    let out = balans(&["simulate", "--builtin", "seed", "--n", "278", "--seed", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("seed: 1"),
        "the seed is echoed: {}",
        stderr(&out)
    );
    let (header, rows) = parse_csv(&stdout(&out));
    assert_eq!(rows.len(), 278);
    let mut expected: Vec<String> = [
        "id",
        "team",
        "woman",
        "age",
        "higher_edu",
        "partner",
        "care",
        "supervisor",
        "contract_hours",
        "actual_hours",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let scales = [
        ("es", 4),
        ("is", 3),
        ("rm", 3),
        ("cm", 4),
        ("wfc", 5),
        ("wfe", 9),
        ("eng", 9),
        ("perf", 5),
        ("amb", 9),
    ];
    for (name, k) in scales {
        expected.extend((1..=k).map(|i| format!("{name}{i}")));
    }
    expected.extend(scales.iter().map(|(n, _)| n.to_string()));
    assert_eq!(header, expected);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[0], (i + 1).to_string());
        for (name, cell) in header.iter().zip(row) {
            let v: f64 = cell
                .parse()
                .unwrap_or_else(|_| panic!("{name} = {cell:?} is not a number"));
            let is_item =
                name.chars().last().is_some_and(|c| c.is_ascii_digit()) && !name.contains('_');
            if is_item {
                let (lo, hi) = if name.starts_with("eng") {
                    (0.0, 6.0)
                } else {
                    (1.0, 7.0)
                };
                assert!(v >= lo && v <= hi && v.fract() == 0.0, "{name} = {v}");
            }
        }
    }
}

#[test]
fn same_seed_gives_identical_bytes_on_one_and_two_threads() {
    // Large enough for many generation blocks (about 1,024 invitees each; 30% respond).
    let args = [
        "simulate",
        "--builtin",
        "seed",
        "--n",
        "3000",
        "--seed",
        "17",
        "--response-rate",
        "0.3",
        "--self-selection",
        "0.5",
        "--missing",
        "mcar:0.05",
    ];
    let one = balans_env(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = balans_env(&args, &[("RAYON_NUM_THREADS", "2")]);
    assert!(
        one.status.success() && two.status.success(),
        "{}",
        stderr(&one)
    );
    assert!(one.stdout == two.stdout, "RAYON_NUM_THREADS=1 and 2 differ");
    let mut flagged = args.to_vec();
    flagged.extend(["--threads", "2"]);
    let three = balans(&flagged);
    assert!(three.stdout == one.stdout, "--threads 2 differs");
    let mut other = args.to_vec();
    other[6] = "18";
    let different = balans(&other);
    assert!(different.status.success());
    assert!(
        different.stdout != one.stdout,
        "different seeds must give different data"
    );
}

#[test]
fn levels_select_items_or_scales() {
    let items = balans(&["simulate", "--n", "5", "--seed", "2", "--level", "items"]);
    let (h, _) = parse_csv(&stdout(&items));
    assert!(h.contains(&"es1".to_string()) && !h.contains(&"es".to_string()));
    let scales = balans(&["simulate", "--n", "5", "--seed", "2", "--level", "scales"]);
    let (h, _) = parse_csv(&stdout(&scales));
    assert!(
        !h.contains(&"es1".to_string())
            && h.contains(&"es".to_string())
            && h.contains(&"team".to_string())
    );
}

#[test]
fn json_output_echoes_the_seed_and_holds_the_rows() {
    let out = balans(&[
        "simulate",
        "--builtin",
        "seed-composite",
        "--n",
        "40",
        "--seed",
        "9",
        "--format",
        "json",
        "--missing",
        "mar:0.1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(doc["seed"], 9);
    assert_eq!(doc["n"], 40);
    let data = doc["data"].as_array().unwrap();
    assert_eq!(data.len(), 40);
    assert!(
        data[0].get("fssb14").is_some(),
        "seed-composite measures FSSB with 14 items"
    );
    let missing = data
        .iter()
        .flat_map(|r| r.as_object().unwrap().values())
        .filter(|v| v.is_null())
        .count();
    assert!(missing > 0, "mar:0.1 leaves some items unanswered (null)");
}

#[test]
fn missing_values_are_na_in_csv() {
    let out = balans(&[
        "simulate",
        "--n",
        "200",
        "--seed",
        "4",
        "--missing",
        "mcar:0.1",
    ]);
    let text = stdout(&out);
    assert!(text.contains(",NA"), "missing items are written as NA");
    let (header, rows) = parse_csv(&text);
    // Background columns are never missing.
    let age = header.iter().position(|h| h == "age").unwrap();
    assert!(rows.iter().all(|r| r[age] != "NA"));
}

#[test]
fn user_models_use_their_items_and_continuous_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.lav");
    std::fs::write(&path, "f =~ x1 + x2 + x3\nf ~ 0.4*hours\nwfc ~ 0.3*f\n").unwrap();
    let out = balans(&[
        "simulate",
        "--model",
        path.to_str().unwrap(),
        "--n",
        "50",
        "--seed",
        "1",
        "--reliability",
        "hours=0.8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (h, rows) = parse_csv(&stdout(&out));
    for name in ["x1", "x2", "x3", "f", "hours", "wfc1", "wfc5", "wfc"] {
        assert!(
            h.contains(&name.to_string()),
            "missing column {name} in {h:?}"
        );
    }
    let hours = h.iter().position(|c| c == "hours").unwrap();
    assert!(
        rows.iter().any(|r| r[hours].contains('.')),
        "a variable without items is continuous"
    );
}

#[test]
fn out_file_is_written_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.csv");
    let f = file.to_str().unwrap();
    let failed = balans(&["simulate", "--n", "0", "--seed", "1", "--out", f]);
    assert_clean_failure(&failed, "--n");
    assert!(!file.exists(), "a failed run leaves no file");
    let ok = balans(&["simulate", "--n", "10", "--seed", "1", "--out", f]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let written = std::fs::read(&file).unwrap();
    let direct = balans(&["simulate", "--n", "10", "--seed", "1"]);
    assert_eq!(written, direct.stdout);
    // A later failure leaves the earlier file untouched, and no temporary files behind.
    let failed = balans(&[
        "simulate", "--n", "10", "--seed", "1", "--icc", "eng=1.5", "--out", f,
    ]);
    assert_clean_failure(&failed, "ICC");
    assert_eq!(std::fs::read(&file).unwrap(), written);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_input_is_refused_cleanly() {
    let cases: &[(&[&str], &str)] = &[
        (&["--n", "0"], "sample size must be at least 1"),
        (&["--icc", "eng=1"], "must lie in [0, 1)"),
        (&["--icc", "eng=-0.1"], "must lie in [0, 1)"),
        (&["--icc", "wfx=0.1"], "did you mean 'wfc'"),
        (&["--icc", "eng"], "expected NAME=VALUE"),
        (&["--reliability", "eng=1"], "strictly between 0 and 1"),
        (&["--reliability", "eng=0"], "strictly between 0 and 1"),
        (
            &["--reliability", "is=0.98"],
            "cannot be reached with 3 item(s)",
        ),
        (
            &["--response-rate", "0"],
            "response rate must lie in (0, 1]",
        ),
        (
            &["--response-rate", "1.2"],
            "response rate must lie in (0, 1]",
        ),
        (&["--missing", "mcar:1.5"], "missingness rate"),
        (&["--missing", "often"], "expected none, mcar:P or mar:P"),
        (&["--teams", "0.5"], "mean team size must be at least 1"),
        (&["--teams", "1e6"], "at most 10000"),
        (&["--n", "20000000"], "at most 10000000"),
        (
            &["--self-selection", "-1", "--response-rate", "0.5"],
            "self-selection strength",
        ),
        (&["--self-selection", "1"], "needs nonresponse"),
        (&["--icc", "es=0.9,is=0"], "cannot be combined"),
        (&["--builtin", "sed"], "did you mean 'seed'"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["simulate", "--seed", "1"];
        if !extra.contains(&"--n") {
            args.extend(["--n", "20"]);
        }
        args.extend_from_slice(extra);
        let out = balans(&args);
        assert_clean_failure(&out, message);
        assert!(out.stdout.is_empty(), "no partial output for {extra:?}");
    }
}

#[test]
fn help_shows_examples() {
    let out = balans(&["simulate", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("balans simulate --builtin seed --n 278 --seed 1"),
        "{text}"
    );
    assert!(text.contains("--response-rate") && text.contains("--icc"));
}

#[test]
fn output_file_is_readable_by_others() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data.csv");
        let o = common::balans(&[
            "simulate",
            "--n",
            "5",
            "--seed",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o644,
            "atomically written files get the usual mode, not the temp file's 0600"
        );
    }
}

/// Issue 20 item 4: one scale-score rule. A simulated scale score is missing unless at least half
/// of its items are answered (the rule `fit` applies to an item export), and otherwise the mean of
/// the answered items. At 60% MCAR a five-item scale often has one or two answers; before the fix
/// those rows got a score.
#[test]
fn simulated_scale_scores_follow_the_half_of_the_items_rule() {
    let out = balans(&[
        "simulate",
        "--n",
        "400",
        "--seed",
        "9",
        "--missing",
        "mcar:0.6",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (header, rows) = parse_csv(&stdout(&out));
    let mut too_few = 0usize;
    for scale in ["es", "wfc", "wfe", "eng", "amb"] {
        let s = header.iter().position(|h| h == scale).unwrap();
        let items: Vec<usize> = (1..)
            .map_while(|i| header.iter().position(|h| *h == format!("{scale}{i}")))
            .collect();
        let need = items.len().div_ceil(2);
        for r in &rows {
            let answered: Vec<f64> = items
                .iter()
                .filter(|&&j| r[j] != "NA")
                .map(|&j| r[j].parse().unwrap())
                .collect();
            if answered.len() < need {
                too_few += 1;
                assert_eq!(
                    r[s],
                    "NA",
                    "{scale} scored from {} of {} items",
                    answered.len(),
                    items.len()
                );
            } else {
                let mean = answered.iter().sum::<f64>() / answered.len() as f64;
                let got: f64 = r[s].parse().unwrap();
                assert!((got - mean).abs() < 1e-6, "{scale}: {got} vs mean {mean}");
            }
        }
    }
    assert!(
        too_few > 100,
        "the case must occur for the test to mean anything ({too_few})"
    );
}
