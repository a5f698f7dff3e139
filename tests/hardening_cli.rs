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

// ---- Runaway memory and time -------------------------------------------------------------------

/// `v1 ~ v0`, `v2 ~ v0 + v1`, …: every variable predicts every later one.
fn fully_connected(k: usize) -> String {
    (1..k)
        .map(|i| {
            let terms: Vec<String> = (0..i).map(|j| format!("0.01*v{j}")).collect();
            format!("v{i} ~ {}\n", terms.join(" + "))
        })
        .collect()
}

#[test]
fn a_fully_connected_30_variable_model_counts_its_routes_instead_of_listing_them() {
    let dir = dir_with(&[("m.lav", &fully_connected(30)), ("d.csv", "v0,v1\n1,2\n")]);
    let out = quick(dir.path(), &["model", "show", "--model", "m.lav"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 2^30 − 1 − 30 − 435 routes of two or more arrows.
    assert!(
        stdout(&out).contains("1073741358 routes, too many to list (balans lists at most 10000)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).len() < 1_000_000);
    for args in [
        &["fit", "--model", "m.lav", "--data", "d.csv"][..],
        &["power", "--model", "m.lav", "--n", "100", "--reps", "10"][..],
    ] {
        let out = quick(dir.path(), args);
        assert_failure_code(&out, 1, "the model has 1073741358 specific indirect routes");
    }
}

fn outcomes(k: usize) -> String {
    (0..k).map(|i| format!("y{i} ~ 0.2*x\n")).collect()
}

#[test]
fn power_refuses_a_500_outcome_model_at_once() {
    let dir = dir_with(&[("m.lav", &outcomes(500))]);
    let out = quick(
        dir.path(),
        &["power", "--model", "m.lav", "--n", "50", "--reps", "10"],
    );
    assert_failure_code(
        &out,
        1,
        "the analysis model has 125750 free parameters; balans estimates at most 2000",
    );
}

#[test]
fn fit_refuses_too_few_rows_before_allocating() {
    let header: Vec<String> = std::iter::once("x".to_string())
        .chain((0..200).map(|i| format!("y{i}")))
        .collect();
    let row = |r: usize| -> String {
        (0..201)
            .map(|i| ((r * 7 + i * 3) % 11).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let csv = format!("{}\n{}\n{}\n{}\n", header.join(","), row(0), row(1), row(2));
    let dir = dir_with(&[
        ("big.lav", &outcomes(200)),
        ("small.lav", &outcomes(40)),
        ("d.csv", &csv),
    ]);
    let out = quick(
        dir.path(),
        &["fit", "--model", "big.lav", "--data", "d.csv"],
    );
    assert_failure_code(&out, 1, "the analysis model has 20300 free parameters");
    let out = quick(
        dir.path(),
        &["fit", "--model", "small.lav", "--data", "d.csv"],
    );
    assert_failure_code(
        &out,
        1,
        "too few observations: 3 rows for 860 free parameters",
    );
}
