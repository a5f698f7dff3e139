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
