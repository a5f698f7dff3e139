//! `balans diagram`: SVG of a model's population values or of a fit's estimates.

mod common;

use common::{assert_clean_failure, balans, stdout};

#[test]
fn diagram_of_the_builtin_model_has_one_arrow_per_non_zero_path() {
    let out = balans(&["diagram", "--builtin", "seed"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let svg = stdout(&out);
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    // 17 non-zero paths in the seed model (the eight direct FSSB -> outcome paths and amb ~ wfc are 0).
    assert_eq!(svg.matches(r#"class="path""#).count(), 17);
    assert_eq!(svg.matches(r#"class="variable""#).count(), 9);
}

#[test]
fn diagram_writes_a_file_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.svg");
    let out = balans(&[
        "diagram",
        "--builtin",
        "seed-composite",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains(">fssb<"));
    let out = balans(&["diagram", "--builtin", "sed"]);
    assert_clean_failure(&out, "did you mean 'seed'");
}
