//! End-to-end tests of `--shard k/K --part FILE` and `balans merge`: the merged output is byte
//! for byte the single run's; parts of other runs, missing and duplicated shards are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn balans(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_balans"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("balans runs")
}

fn ok(dir: &Path, args: &[&str]) {
    let o = balans(dir, args);
    assert!(
        o.status.success(),
        "balans {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("balans-shard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `run` whole and in K shards, merges the parts in reverse order and compares bytes.
fn shards_merge_to_the_single_run(name: &str, run: &[&str], ks: &[usize]) {
    let dir = temp_dir(name);
    let mut single = run.to_vec();
    single.extend(["--out", "single.out"]);
    ok(&dir, &single);
    let expected = std::fs::read(dir.join("single.out")).unwrap();
    assert!(!expected.is_empty());
    for &k in ks {
        let mut parts = Vec::new();
        for i in (1..=k).rev() {
            let part = format!("part-{k}-{i}.json");
            let spec = format!("{i}/{k}");
            let mut args = run.to_vec();
            args.extend(["--shard", &spec, "--part", &part]);
            ok(&dir, &args);
            parts.push(part);
        }
        let merged = format!("merged-{k}.out");
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(String::as_str));
        args.extend(["--out", &merged]);
        ok(&dir, &args);
        let got = std::fs::read(dir.join(&merged)).unwrap();
        assert!(
            got == expected,
            "{name}: K = {k} merged output differs from the single run"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn power_curve_with_several_tests_merges_byte_identically_for_k_1_3_7() {
    shards_merge_to_the_single_run(
        "power",
        &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "80,150,260",
            "--reps",
            "130",
            "--seed",
            "11",
            "--tests",
            "joint,sobel,mc,percentile",
            "--boot",
            "20",
            "--format",
            "json",
        ],
        &[1, 3, 7],
    );
}

#[test]
fn csv_output_merges_byte_identically() {
    shards_merge_to_the_single_run(
        "csv",
        &[
            "power",
            "--builtin",
            "seed",
            "--n-range",
            "100:300:100",
            "--reps",
            "150",
            "--seed",
            "3",
            "--format",
            "csv",
        ],
        &[3],
    );
}

#[test]
fn missing_duplicate_and_foreign_parts_are_refused() {
    let dir = temp_dir("refuse");
    let run = |seed: &str, spec: &str, part: &str| {
        ok(
            &dir,
            &[
                "power",
                "--builtin",
                "seed",
                "--n",
                "100",
                "--reps",
                "130",
                "--seed",
                seed,
                "--format",
                "json",
                "--shard",
                spec,
                "--part",
                part,
            ],
        )
    };
    run("1", "1/2", "a1.json");
    run("1", "2/2", "a2.json");
    run("2", "2/2", "b2.json");
    let refused = |parts: &[&str], says: &str| {
        let mut args = vec!["merge"];
        args.extend(parts);
        let o = balans(&dir, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{parts:?}: {err}");
        assert!(err.contains(says), "{parts:?}: expected '{says}' in {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(&["a1.json"], "missing");
    refused(&["a1.json", "a1.json", "a2.json"], "given twice");
    refused(&["a1.json", "b2.json"], "different runs");
    let o = balans(
        &dir,
        &[
            "power",
            "--builtin",
            "seed",
            "--target-power",
            "0.8",
            "--shard",
            "1/2",
            "--part",
            "t.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("power curve"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Trial power (stdout output) through the same engine mechanism: merge to stdout equals the
/// single run's stdout.
#[test]
fn trial_power_merges_byte_identically_to_stdout() {
    let dir = temp_dir("trial");
    let run = [
        "trial",
        "power",
        "--builtin",
        "dutch",
        "--effect",
        "0.25",
        "--reps",
        "130",
        "--seed",
        "1",
        "--leaders",
        "20,30",
    ];
    let single = balans(&dir, &run);
    assert!(single.status.success());
    for i in 1..=3 {
        let (spec, part) = (format!("{i}/3"), format!("t{i}.json"));
        let mut args = run.to_vec();
        args.extend(["--shard", &spec, "--part", &part]);
        ok(&dir, &args);
    }
    let merged = balans(&dir, &["merge", "t3.json", "t1.json", "t2.json"]);
    assert!(merged.status.success());
    assert!(
        merged.stdout == single.stdout,
        "trial power: merged stdout differs"
    );
    std::fs::remove_dir_all(&dir).ok();
}
