//! Issue 15 (hardening): every finding of the attack probe, reproduced through the binary. Each
//! case must end with a clear message and a documented exit code (1 bad input, 2 usage) in bounded
//! time and memory — never a panic (101), an abort (134) or a runaway allocation.

mod common;

use common::{assert_failure_code, balans_bounded, stderr, stdout};
use std::path::Path;

/// Generous bounds for a case that should fail or finish at once (debug build, shared CI cores).
const QUICK_SECONDS: f64 = 20.0;
const QUICK_MB: u64 = 400;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("file written");
    }
    dir
}

fn quick(dir: &Path, args: &[&str]) -> std::process::Output {
    balans_bounded(dir, args, QUICK_SECONDS, QUICK_MB)
}

/// The four commands that read a model, each pointed at `m.lav` (fit at a data file that need not
/// exist: the model is read first).
const EVERY_COMMAND: [&[&str]; 4] = [
    &["model", "show", "--model", "m.lav"],
    &["simulate", "--model", "m.lav", "--n", "10"],
    &["fit", "--model", "m.lav", "--data", "d.csv"],
    &["power", "--model", "m.lav", "--n", "100", "--reps", "10"],
];

// ---- Panics and aborts -------------------------------------------------------------------------

#[test]
fn huge_finite_population_values_are_refused_not_a_panic() {
    for text in ["y ~ 1e154*x\n", "x ~~ 1e308*x\ny ~ x\n"] {
        let dir = dir_with(&[("m.lav", text)]);
        let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
        assert_failure_code(&out, 1, "out of the computable range");
    }
}

#[test]
fn numbers_beyond_f64_are_out_of_range_not_inf() {
    let dir = dir_with(&[("m.lav", "y ~ 1e400*x\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "m.lav:1:5: number out of range '1e400'");
    assert!(!stderr(&out).contains("inf"), "{}", stderr(&out));
}

#[test]
fn a_65534_character_name_is_refused_before_the_power_table() {
    let text = format!("y ~ 0.3*{}\n", "x".repeat(65_534));
    let dir = dir_with(&[("m.lav", &text)]);
    let out = quick(
        dir.path(),
        &["power", "--model", "m.lav", "--n", "100", "--reps", "10"],
    );
    assert_failure_code(
        &out,
        1,
        "a name of 65534 characters; names may have at most 256",
    );
    assert!(
        stderr(&out).len() < 2000,
        "the message shows a window of the line"
    );
}

fn assert_deep_expression_refused(rhs: &str) {
    let text = format!("y ~ a*x\nd := {rhs}\n");
    let dir = dir_with(&[("m.lav", &text)]);
    for args in EVERY_COMMAND {
        let out = quick(dir.path(), args);
        assert_failure_code(
            &out,
            1,
            "the expression is nested more than 200 levels deep",
        );
    }
}

#[test]
fn deeply_nested_parentheses_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&format!("{}a{}", "(".repeat(8734), ")".repeat(8734)));
}

#[test]
fn long_unary_minus_chains_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&format!("{}a", "-".repeat(16_367)));
}

#[test]
fn long_plus_chains_do_not_overflow_the_stack() {
    assert_deep_expression_refused(&vec!["a"; 87_216].join("+"));
}

#[test]
fn a_model_with_too_many_variables_is_refused_at_once() {
    let terms: Vec<String> = (0..87_216).map(|i| format!("x{i}")).collect();
    let text = format!("y ~ {}\n", terms.join(" + "));
    let dir = dir_with(&[("m.lav", &text)]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "balans handles models of at most 1000 variables");
}

// ---- Messages that mislead ---------------------------------------------------------------------

#[test]
fn a_leading_byte_order_mark_is_skipped_in_models() {
    let dir = dir_with(&[("m.lav", "\u{feff}m ~ 0.3*x\ny ~ 0.2*m\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("x->m->y"), "{}", stdout(&out));
}

#[test]
fn invisible_characters_are_shown_escaped_in_messages() {
    let dir = dir_with(&[("m.lav", "y ~ x\u{200b} + m\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert_failure_code(&out, 1, "m.lav:1:6: unexpected character '\\u{200b}'");
    assert!(!stderr(&out).contains('\u{200b}'), "{}", stderr(&out));
}
