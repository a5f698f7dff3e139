//! Issue 23 (hardening of the newer commands): every finding of the second probe that concerns
//! outputs, panics, memory budgets and meaningless numbers, reproduced through the binary. Each
//! case asserts the exit code, a message that names the problem, and that no file in the folder
//! (every input) changed.

mod common;

use common::{assert_failure_code, balans_bounded, stderr, stdout};
use std::collections::BTreeMap;
use std::path::Path;

/// Generous bounds for a case that should fail or finish at once (debug build, shared CI cores).
const QUICK_SECONDS: f64 = 20.0;
const QUICK_MB: u64 = 400;

fn quick(dir: &Path, args: &[&str]) -> std::process::Output {
    balans_bounded(dir, args, QUICK_SECONDS, QUICK_MB)
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("file written");
    }
    dir
}

/// Every regular file of `dir` (not recursive) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// Runs `args`, asserts a clean failure with exit 1 naming `message`, and that no file changed,
/// appeared or disappeared.
fn refused_unchanged(dir: &Path, args: &[&str], message: &str) {
    let before = snapshot(dir);
    let out = quick(dir, args);
    assert_failure_code(&out, 1, message);
    assert_eq!(before, snapshot(dir), "files changed by {args:?}");
}

/// A `balans power --format json` result to feed `report` and `transport replicate --from`.
fn power_json(dir: &Path) {
    let out = quick(
        dir,
        &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "200",
            "--reps",
            "10",
            "--format",
            "json",
            "--out",
            "in.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

// ---- 1. One output path ------------------------------------------------------------------------

#[test]
fn report_does_not_replace_its_input() {
    let dir = tempfile::tempdir().expect("dir");
    power_json(dir.path());
    for out in ["in.json", "./in.json"] {
        refused_unchanged(
            dir.path(),
            &["report", "in.json", "--out", out],
            "is an input of this run",
        );
    }
}

#[test]
fn trial_simulate_does_not_replace_its_design_or_write_two_outputs_to_one_file() {
    let dir = tempfile::tempdir().expect("dir");
    let out = quick(
        dir.path(),
        &[
            "trial",
            "simulate",
            "--save-design",
            "d.json",
            "--out",
            "data.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    refused_unchanged(
        dir.path(),
        &["trial", "simulate", "--design", "d.json", "--out", "d.json"],
        "--out d.json is an input of this run",
    );
    refused_unchanged(
        dir.path(),
        &[
            "trial",
            "simulate",
            "--out",
            "x.json",
            "--save-design",
            "x.json",
        ],
        "--save-design x.json is also the path of --out",
    );
    refused_unchanged(
        dir.path(),
        &[
            "trial", "power", "--design", "d.json", "--plot", "d.json", "--reps", "5",
        ],
        "--plot d.json is an input of this run",
    );
}

#[test]
fn transport_replicate_does_not_replace_its_fit_file() {
    let dir = tempfile::tempdir().expect("dir");
    power_json(dir.path());
    refused_unchanged(
        dir.path(),
        &[
            "transport",
            "replicate",
            "--from",
            "in.json",
            "--effects",
            "wfc~is",
            "--out",
            "in.json",
        ],
        "--out in.json is an input of this run",
    );
}

#[cfg(unix)]
#[test]
fn read_only_and_foreign_targets_are_refused_without_force() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir_with(&[("ro.txt", "keep me\n"), ("theirs.txt", "theirs\n")]);
    let ro = dir.path().join("ro.txt");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    refused_unchanged(
        dir.path(),
        &["model", "show", "--builtin", "seed", "--out", "ro.txt"],
        "--out ro.txt exists and is read-only",
    );
    let forced = quick(
        dir.path(),
        &[
            "model",
            "show",
            "--builtin",
            "seed",
            "--out",
            "ro.txt",
            "--force",
        ],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(std::fs::read(&ro).expect("read"), b"keep me\n");
    // A file of another user: only root can give it away; elsewhere this part cannot be set up.
    let theirs = dir.path().join("theirs.txt");
    if std::os::unix::fs::chown(&theirs, Some(65534), None).is_ok() {
        refused_unchanged(
            dir.path(),
            &["model", "show", "--builtin", "seed", "--out", "theirs.txt"],
            "belongs to another user (uid 65534)",
        );
    } else {
        eprintln!("not root: the foreign-owner case is not set up");
    }
}

#[test]
fn a_300_byte_file_name_fails_before_the_work() {
    let dir = tempfile::tempdir().expect("dir");
    let long = "a".repeat(300);
    // A run of minutes (50,000 replications) must fail in well under the quick bound.
    refused_unchanged(
        dir.path(),
        &[
            "power",
            "--builtin",
            "seed",
            "--n",
            "300",
            "--reps",
            "50000",
            "--out",
            &long,
        ],
        "the file name has 300 bytes; file systems allow at most 255",
    );
    refused_unchanged(
        dir.path(),
        &["teach", "class", "--students", "5", "--out", &long],
        "a folder name has 300 bytes",
    );
    refused_unchanged(
        dir.path(),
        &[
            "transport",
            "replicate",
            "--original",
            "0.3,0.1",
            "--replication",
            "0.2,0.1",
            "--out",
            &long,
        ],
        "the file name has 300 bytes",
    );
    // A 250-byte name is fine: its temporary name is shortened to fit.
    let fine = "b".repeat(250);
    let out = quick(
        dir.path(),
        &["model", "show", "--builtin", "seed", "--out", &fine],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join(&fine).exists());
}

#[test]
fn a_part_file_is_checked_before_the_run() {
    let dir = dir_with(&[
        ("m.lav", "m ~ 0.3*x\ny ~ 0.3*m\n"),
        ("table.csv", "a,b\n1,2\n"),
    ]);
    refused_unchanged(
        dir.path(),
        &[
            "power",
            "--model",
            "m.lav",
            "--n",
            "100",
            "--reps",
            "10",
            "--shard",
            "1/2",
            "--part",
            "table.csv",
        ],
        "--part table.csv exists and is not a part file",
    );
    refused_unchanged(
        dir.path(),
        &[
            "power", "--model", "m.lav", "--n", "100", "--reps", "10", "--shard", "1/2", "--part",
            "m.lav",
        ],
        "--part m.lav is also named as m.lav on the command line",
    );
}

#[test]
fn teach_refuses_a_file_as_its_kit_folder() {
    let dir = dir_with(&[("kit", "not a folder\n")]);
    refused_unchanged(
        dir.path(),
        &["teach", "class", "--students", "3", "--out", "kit"],
        "--out kit is a file",
    );
}

#[cfg(unix)]
#[test]
fn an_interrupted_stream_to_stdout_says_it_is_incomplete() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(common::bin())
        .current_dir(dir.path())
        .args([
            "simulate",
            "--builtin",
            "seed",
            "--n",
            "200000",
            "--seed",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("balans runs");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 4096];
    out.read_exact(&mut first)
        .expect("the CSV starts streaming");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // Keep draining so the child is not blocked on a full pipe while it handles the signal.
    let drain = std::thread::spawn(move || {
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).ok();
    });
    let status = child.wait().expect("wait");
    drain.join().ok();
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .ok();
    if status.code() == Some(0) {
        eprintln!("the run finished before the signal; nothing to check");
        return;
    }
    assert_eq!(status.code(), Some(130), "{status:?} {err}");
    assert!(err.contains("output on stdout is INCOMPLETE"), "{err}");
    assert!(!err.contains("no output written"), "{err}");
}

// ---- 2. No panic ---------------------------------------------------------------------------------

/// Runs `args` with stdout closed by its reader before anything is written.
#[cfg(unix)]
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(common::bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("balans runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly_not_with_a_panic() {
    let cases: &[&[&str]] = &[
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["completions", "powershell"],
        &["model", "show", "--builtin", "seed"],
        &["simulate", "--builtin", "seed", "--n", "5000"],
        &["teach", "demo", "list"],
    ];
    for args in cases {
        let out = with_closed_stdout(args);
        let err = stderr(&out);
        assert!(
            matches!(out.status.code(), Some(0 | 141)),
            "{args:?}: {:?} {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !err.contains("error"),
            "{args:?}: a closed pipe is no error: {err}"
        );
    }
}

#[test]
fn nan_and_inf_are_not_labels_or_values_in_a_model() {
    let dir = dir_with(&[
        ("nan.lav", "y ~ NaN*x\n"),
        ("inf.lav", "y ~ a*x\nd := a*Inf\n"),
    ]);
    refused_unchanged(
        dir.path(),
        &["model", "show", "--model", "nan.lav"],
        "nan.lav:1:5: 'NaN' is not a finite number",
    );
    refused_unchanged(
        dir.path(),
        &["model", "show", "--model", "inf.lav"],
        "inf.lav:2:8: 'Inf' is not a finite number",
    );
}

// ---- 3. Memory budget ---------------------------------------------------------------------------

#[test]
fn runs_past_the_memory_budget_or_a_count_limit_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: &[(&[&str], &str)] = &[
        (
            &["simulate", "--builtin", "seed", "--n", "1000000", "--format", "json"],
            "--n 1000000 (70 columns, JSON held in memory) would need about 4.2 GB of memory; the memory budget is 1.0 GB",
        ),
        (
            &["simulate", "--builtin", "seed", "--n", "2000000"],
            "--n 2000000 (70 columns) would need about 1.7 GB",
        ),
        (
            &[
                "power", "--builtin", "seed", "--tests", "mc", "--mc-draws", "10000000", "--n",
                "200", "--reps", "10", "--threads", "2",
            ],
            "--mc-draws 10000000 on 2 threads would need about 2.2 GB",
        ),
        (
            &["trial", "power", "--team-size-grid", "1000000", "--reps", "10"],
            "--team-size-grid 1000000 is out of range: at most 100000",
        ),
        (
            &["trial", "simulate", "--leaders", "100000", "--team-size", "100000"],
            "100000 leaders × 100000 employees per leader",
        ),
        (
            &["trial", "power", "--leaders", "500000", "--reps", "10", "--threads", "2"],
            "a replication of 500000 leaders × 9 employees on each of 2 threads would need about 2.7 GB",
        ),
        (
            &["trial", "power", "--reps", "1000000000"],
            "--reps 1000000000 is out of range: at most 1000000",
        ),
        (
            &["trial", "plan", "--icc", "0.1", "--leaders", "1e8", "--effect", "0.3"],
            "--leaders 100000000 is out of range: at most 1000000",
        ),
        (
            &[
                "trial", "plan", "--icc", "0.1", "--effect", "0.3", "--cost-leader", "500",
                "--cost-employee", "40", "--budget", "1e12",
            ],
            "--budget buys about 1.9e9 leaders",
        ),
        (
            &["transport", "sites", "--sites", "1000000", "--n", "100", "--reps", "10"],
            "--sites 1000000 is out of range: at most 100000",
        ),
        (
            &["transport", "sites", "--sites", "100000", "--n", "100", "--reps", "10"],
            "--sites 100000 × --n 100 × --reps 10",
        ),
        (
            &["transport", "sites", "--sites", "10", "--n", "100", "--reps", "1000000"],
            "the memory budget is 1.0 GB",
        ),
        (
            &["transport", "sites", "--sites", "10", "--n", "100", "--reps", "10000000"],
            "--reps 10000000 is out of range: at most 1000000",
        ),
        (
            &["teach", "class", "--n", "1000000000", "--out", "kit"],
            "--students 30 × --n 1000000000",
        ),
        (
            &["simulate", "--builtin", "seed", "--n", "200000", "--memory-limit", "100MB"],
            "the memory budget is 100 MB",
        ),
        (
            &["model", "show", "--builtin", "seed", "--memory-limit", "lots"],
            "--memory-limit 'lots' is not a size",
        ),
    ];
    for (args, message) in cases {
        refused_unchanged(dir.path(), args, message);
    }
    assert!(
        !dir.path().join("kit").exists(),
        "no kit folder before the check"
    );
}

#[test]
fn the_memory_limit_raises_the_budget() {
    let dir = tempfile::tempdir().expect("dir");
    // 2,000 respondents fit 1 GB but not 1 MB; with 2MB the same run succeeds.
    let args = [
        "simulate",
        "--builtin",
        "seed",
        "--n",
        "2000",
        "--out",
        "s.csv",
    ];
    let mut small: Vec<&str> = args.to_vec();
    small.extend(["--memory-limit", "1MB"]);
    refused_unchanged(dir.path(), &small, "the memory budget is 1 MB");
    let mut enough: Vec<&str> = args.to_vec();
    enough.extend(["--memory-limit", "2MB"]);
    let out = quick(dir.path(), &enough);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ---- 4. No meaningless result with exit 0 ---------------------------------------------------------

#[test]
fn transport_refuses_values_it_cannot_represent_with_the_flag_named() {
    let dir = tempfile::tempdir().expect("dir");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "transport",
                "replicate",
                "--original",
                "1e308,1e-308",
                "--replication",
                "0.15,0.083",
            ],
            "--original: the estimate 1e308 is out of range",
        ),
        (
            &[
                "transport",
                "replicate",
                "--original",
                "0.3,1e-308",
                "--replication",
                "0.15,0.083",
            ],
            "--original: the standard error 1e-308 is out of range",
        ),
        (
            &[
                "transport",
                "replicate",
                "--original",
                "0.31,0.06",
                "--replication",
                "0.15,0.083",
                "--tau",
                "1e308",
            ],
            "--tau 1e308: out of range",
        ),
        (
            &[
                "transport",
                "reweight",
                "--stratum",
                "a=1e308,0.05,0.6",
                "--stratum",
                "b=0.05,0.08,0.4",
            ],
            "--stratum a: the estimate 1e308 is out of range",
        ),
        (
            &[
                "transport",
                "sites",
                "--builtin",
                "seed",
                "--sites",
                "5",
                "--n",
                "100",
                "--reps",
                "5",
                "--moderator-slope",
                "wfc~is=NaN",
            ],
            "--moderator-slope wfc~is=NaN: out of range",
        ),
        (
            &[
                "transport",
                "sites",
                "--builtin",
                "seed",
                "--sites",
                "5",
                "--n",
                "100",
                "--reps",
                "5",
                "--tau",
                "wfc~is=inf",
            ],
            "--tau wfc~is=inf: out of range",
        ),
    ];
    for (args, message) in cases {
        refused_unchanged(dir.path(), args, message);
        let out = quick(dir.path(), args);
        assert!(!stdout(&out).contains("NaN"), "{args:?}");
    }
}

#[test]
fn a_zero_shift_explains_why_there_is_no_sample_size() {
    let dir = tempfile::tempdir().expect("dir");
    let out = quick(
        dir.path(),
        &[
            "transport",
            "difference",
            "--builtin",
            "seed",
            "--shift",
            "wfc~is=0",
            "--effects",
            "wfc~is",
            "--n-a",
            "200",
            "--n-b",
            "200",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no N per context reaches power 0.8 (the effect does not differ"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_defined_effect_that_is_nan_at_the_population_is_refused_by_name() {
    let dir = dir_with(&[("m.lav", "m ~ a*0.3*x\ny ~ b*0.3*m\nd := log(a - 1)\n")]);
    for args in [
        &["power", "--model", "m.lav", "--n", "100", "--reps", "10"][..],
        &[
            "transport",
            "sites",
            "--model",
            "m.lav",
            "--sites",
            "5",
            "--n",
            "100",
            "--reps",
            "5",
        ],
    ] {
        refused_unchanged(
            dir.path(),
            args,
            "the ':=' effect 'd' is undefined at the population values",
        );
    }
}

#[test]
fn trial_analyse_refuses_a_cell_of_1e308() {
    let dir = tempfile::tempdir().expect("dir");
    let out = quick(dir.path(), &["trial", "simulate", "--out", "t.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("t.csv")).expect("read");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let column = lines[0]
        .split(',')
        .position(|h| h == "fssb_pre")
        .expect("fssb_pre");
    let mut cells: Vec<String> = lines[3].split(',').map(String::from).collect();
    cells[column] = "1e308".into();
    lines[3] = cells.join(",");
    std::fs::write(dir.path().join("t.csv"), lines.join("\n") + "\n").expect("write");
    refused_unchanged(
        dir.path(),
        &["trial", "analyse", "--data", "t.csv", "--outcome", "fssb"],
        "column 'fssb_pre': the value 1e308 is out of range: at most 1e100",
    );
}

#[test]
fn a_column_multiplied_by_1e150_is_named_not_another_called_constant() {
    let dir = tempfile::tempdir().expect("dir");
    let out = quick(
        dir.path(),
        &[
            "simulate",
            "--builtin",
            "seed",
            "--n",
            "300",
            "--seed",
            "2",
            "--out",
            "s.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("s.csv")).expect("read");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let eng = header
        .split(',')
        .position(|h| h == "eng")
        .expect("eng column");
    let mut scaled = format!("{header}\n");
    for line in lines {
        let cells: Vec<String> = line
            .split(',')
            .enumerate()
            .map(|(i, c)| match (i == eng, c.parse::<f64>()) {
                (true, Ok(v)) => format!("{:e}", v * 1e150),
                _ => c.to_string(),
            })
            .collect();
        scaled.push_str(&cells.join(","));
        scaled.push('\n');
    }
    std::fs::write(dir.path().join("s.csv"), scaled).expect("write");
    let out = quick(dir.path(), &["fit", "--data", "s.csv", "--builtin", "seed"]);
    assert_failure_code(
        &out,
        1,
        "rescale the variables to similar units (e.g. divide 'eng'",
    );
    assert!(!stderr(&out).contains("is constant"), "{}", stderr(&out));
}
