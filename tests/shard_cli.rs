//! End-to-end tests of `--shard k/K --part FILE` and `balans merge`: the merged output is byte
//! for byte the single run's; parts of other runs, missing and duplicated shards, damaged,
//! truncated, edited and forged parts and non-regular files are refused with a message naming
//! the part, never with a panic.

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
        // The format comes from the merge's own flags, never from a part.
        if let Some(i) = run.iter().position(|a| *a == "--format") {
            args.extend(["--format", run[i + 1]]);
        }
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
    refused(&["a1.json", "nope.json"], "nope.json");
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

/// SHA-256 (hex) as the part files use it.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Re-seals a part whose body text was changed (as a forger who knows the format would).
fn reseal(part: &str, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(part).unwrap();
    format!(
        "{{\"format\":{},\"digest\":\"{}\",\"body\":{body}}}\n",
        v["format"],
        sha256_hex(body.as_bytes())
    )
}

/// Damaged, truncated, edited, forged and non-regular parts: each refused with exit 1 and a
/// message naming the part file; nothing is written where a part asks.
#[test]
fn damaged_edited_forged_and_special_parts_are_refused() {
    let dir = temp_dir("hostile");
    for (spec, part) in [("1/2", "h1.json"), ("2/2", "h2.json")] {
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
                "5",
                "--format",
                "json",
                "--shard",
                spec,
                "--part",
                part,
            ],
        );
    }
    ok(&dir, &["merge", "h1.json", "h2.json", "--format", "json"]);
    let text = std::fs::read_to_string(dir.join("h2.json")).unwrap();
    let refused = |bad: &str, content: Option<&str>, says: &str| {
        if let Some(c) = content {
            std::fs::write(dir.join(bad), c).unwrap();
        }
        let o = balans(&dir, &["merge", "h1.json", bad, "--format", "json"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains(bad),
            "{bad}: the message should name the part: {err}"
        );
        assert!(err.contains(says), "{bad}: expected '{says}' in {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty(), "{bad}: output written");
    };
    // One hex digit of a block tally flipped.
    let at = text.find("\"blocks\":[\"").unwrap() + 11;
    let mut flipped = text.clone().into_bytes();
    flipped[at + 3] = if flipped[at + 3] == b'0' { b'1' } else { b'0' };
    refused(
        "flipped.json",
        Some(std::str::from_utf8(&flipped).unwrap()),
        "damaged",
    );
    // Truncated.
    refused("truncated.json", Some(&text[..text.len() / 2]), "damaged");
    // An edited seed (in the configuration and in the tallies), digest not recomputed.
    let edited = text
        .replace("\"seed\":5", "\"seed\":6")
        .replace("[\"5\"]", "[\"6\"]");
    assert_ne!(edited, text);
    refused("edited.json", Some(&edited), "damaged");
    // A forged part claiming an output path, correctly sealed.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut body = v["body"].clone();
    body["run"]["options"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "plot", "values": ["evil.svg"]}));
    let forged = reseal(&text, &serde_json::to_string(&body).unwrap());
    std::fs::write(dir.join("forged-plot.json"), &forged).unwrap();
    let other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("h1.json")).unwrap()).unwrap();
    let mut body1 = other["body"].clone();
    body1["run"] = body["run"].clone();
    let forged1 = reseal(&text, &serde_json::to_string(&body1).unwrap());
    std::fs::write(dir.join("forged-plot-1.json"), &forged1).unwrap();
    let o = balans(
        &dir,
        &[
            "merge",
            "forged-plot-1.json",
            "forged-plot.json",
            "--format",
            "json",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("claims the output") && err.contains("forged-plot"),
        "{err}"
    );
    assert!(
        !dir.join("evil.svg").exists(),
        "a part chose an output path"
    );
    // A sealed part whose tallies were edited: refused by the replay, not a panic.
    let mut garbage = other["body"].clone();
    garbage["entries"][0]["blocks"][0] = serde_json::json!("zz");
    let g = reseal(&text, &serde_json::to_string(&garbage).unwrap());
    std::fs::write(dir.join("garbage.json"), g).unwrap();
    let o = balans(
        &dir,
        &["merge", "garbage.json", "h2.json", "--format", "json"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not hex") && !err.contains("panicked"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    // A directory, and a FIFO (which would block a reader forever).
    std::fs::create_dir_all(dir.join("dir.json")).unwrap();
    refused("dir.json", None, "not a regular file");
    #[cfg(unix)]
    {
        let fifo = dir.join("fifo.json");
        let made = Command::new("mkfifo").arg(&fifo).status();
        if made.map(|s| s.success()).unwrap_or(false) {
            refused("fifo.json", None, "not a regular file");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The many-sites simulation shards and merges through the same engine sessions.
#[test]
fn transport_sites_merges_byte_identically() {
    shards_merge_to_the_single_run(
        "sites",
        &[
            "transport",
            "sites",
            "--builtin",
            "seed",
            "--sites",
            "5",
            "--n",
            "150",
            "--tau",
            "wfc~is=0.1",
            "--reps",
            "100",
            "--seed",
            "2",
            "--format",
            "csv",
        ],
        &[2],
    );
}
