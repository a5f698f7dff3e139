//! Issue 9: places where a researcher stops trusting a tool — each finding reproduced through the
//! binary as the user met it.

mod common;

use common::{assert_clean_failure, balans_in, stderr};

/// The user's model: `exhaustion` mistyped as `exhaustoin` in the second equation.
const TYPO_MODEL: &str =
    "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustoin + 0.1*demands\nind := a*b\n";

fn with_model(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.lav"), text).expect("model written");
    dir
}

#[test]
fn a_typo_in_a_variable_name_is_warned_with_did_you_mean() {
    let dir = with_model(TYPO_MODEL);
    for args in [
        &["model", "show", "--model", "m.lav"][..],
        &["simulate", "--model", "m.lav", "--n", "20", "--seed", "1"][..],
        &["power", "--model", "m.lav", "--n", "100", "--reps", "20"][..],
    ] {
        let out = balans_in(dir.path(), args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("warning: m.lav:2:19: 'exhaustoin' appears in this statement only"),
            "{args:?}: {err}"
        );
        assert!(err.contains("did you mean 'exhaustion'?"), "{err}");
        assert!(
            err.contains("':= ind' multiplies path labels that do not form one directed route"),
            "{err}"
        );
    }
}

#[test]
fn strict_refuses_a_model_with_warnings() {
    let dir = with_model(TYPO_MODEL);
    for args in [
        &["model", "show", "--model", "m.lav", "--strict"][..],
        &[
            "power",
            "--model",
            "m.lav",
            "--target-power",
            "0.8",
            "--reps",
            "20",
            "--strict",
        ][..],
    ] {
        let out = balans_in(dir.path(), args);
        assert_clean_failure(&out, "--strict refuses it");
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("did you mean 'exhaustion'?"));
    }
}

#[test]
fn a_correct_model_has_no_warning() {
    let dir = with_model(
        "exhaustion ~ 0.4*a*demands\nturnover ~ 0.25*b*exhaustion + 0.1*demands\nind := a*b\n",
    );
    let out = balans_in(
        dir.path(),
        &["model", "show", "--model", "m.lav", "--strict"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn shell_completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = common::balans(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = common::stdout(&out);
        assert!(
            text.contains("balans") && text.contains("power") && text.contains("target-power"),
            "{shell}"
        );
    }
    let out = common::balans(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}
