//! Helpers shared by the end-to-end tests: run the `balans` binary and capture its output.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `balans` with `args` and returns its output.
pub fn balans(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_balans"))
        .args(args)
        .output()
        .expect("the balans binary runs")
}

/// Runs `balans` with `args` in `dir`.
pub fn balans_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_balans"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the balans binary runs")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a run failed cleanly: non-zero exit, a message on stderr, and no panic.
pub fn assert_clean_failure(o: &Output, must_contain: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert_ne!(
        o.status.code(),
        Some(101),
        "exit code 101 means a panic: {err}"
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(
        err.contains(must_contain),
        "stderr should mention {must_contain:?}, got:\n{err}"
    );
}

/// Runs `balans` with `args` in `dir` with `stdin` closed, and fails the test when the run takes
/// longer than `seconds` or its resident memory exceeds `max_mb` megabytes (read from
/// `/proc/<pid>/status` where it exists). The child is killed in either case.
pub fn balans_bounded(dir: &std::path::Path, args: &[&str], seconds: f64, max_mb: u64) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the balans binary runs");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().expect("stdout piped");
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        out_pipe.read_to_end(&mut v).ok();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        err_pipe.read_to_end(&mut v).ok();
        v
    });
    let start = std::time::Instant::now();
    let mut peak_kb = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for balans") {
            break status;
        }
        peak_kb = peak_kb.max(resident_kb(child.id()));
        let over_time = start.elapsed().as_secs_f64() > seconds;
        if over_time || peak_kb > max_mb * 1024 {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "balans {args:?} {} (after {:.1} s, resident {} MB)",
                if over_time {
                    "ran too long"
                } else {
                    "used too much memory"
                },
                start.elapsed().as_secs_f64(),
                peak_kb / 1024
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_thread.join().expect("stdout reader"),
        stderr: err_thread.join().expect("stderr reader"),
    }
}

/// Resident set size of process `pid` in kB (0 where `/proc` is unavailable).
fn resident_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Asserts a clean failure (see [`assert_clean_failure`]) with exit code `code`.
pub fn assert_failure_code(o: &Output, code: i32, must_contain: &str) {
    assert_clean_failure(o, must_contain);
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code; stderr: {}",
        stderr(o)
    );
}

/// The binary under test: `BALANS_BIN` when set (to run the same cases against another build, e.g.
/// main's, and see them fail there), else this build's `balans`.
pub fn bin() -> String {
    std::env::var("BALANS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_balans").into())
}
