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

/// The `class` attribute values of the SVG's elements, counted.
fn count(svg: &str, class: &str) -> usize {
    svg.matches(&format!(r#"class="{class}""#)).count()
}

/// Texts of the coefficient labels (the `<text>` right after each label box).
fn label_texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(k) = rest.find(r#"class="label""#) {
        rest = &rest[k..];
        let start = rest.find("<text").unwrap();
        let open = rest[start..].find('>').unwrap() + start + 1;
        let close = rest[open..].find("</text>").unwrap() + open;
        out.push(rest[open..close].to_string());
        rest = &rest[close..];
    }
    out
}

#[test]
fn a_model_without_values_draws_every_path_blank_or_with_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("mediation.lav");
    std::fs::write(&bare, "m ~ x\ny ~ m + x\n").unwrap();
    let out = balans(&["diagram", "--model", bare.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let svg = stdout(&out);
    assert_eq!(
        count(&svg, "path"),
        3,
        "three arrows, not three unconnected boxes"
    );
    assert_eq!(count(&svg, "label"), 0, "no numbers: the model gives none");
    assert!(!svg.contains("R\u{b2} = "), "no R² without path values");
    assert!(
        svg.contains("no population values"),
        "the caption says why the arrows carry no numbers"
    );
    for (from, to) in [("x", "m"), ("m", "y"), ("x", "y")] {
        assert!(
            svg.contains(&format!(r#"data-from="{from}" data-to="{to}""#)),
            "arrow {from} -> {to}"
        );
    }

    // Labels are shown when there is no value; values win over labels; 0* paths are not arrows.
    let labelled = dir.path().join("labelled.lav");
    std::fs::write(&labelled, "m ~ a*x\ny ~ b*m + 0.2*c*x + 0*z\n").unwrap();
    let svg = stdout(&balans(&["diagram", "--model", labelled.to_str().unwrap()]));
    assert_eq!(count(&svg, "path"), 3);
    let mut labels = label_texts(&svg);
    labels.sort();
    assert_eq!(labels, [".20", "a", "b"]);

    // The same model through its JSON result (`model show --format json`).
    let json = dir.path().join("model.json");
    let out = balans(&[
        "model",
        "show",
        "--model",
        bare.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let svg = stdout(&balans(&["diagram", "--fit", json.to_str().unwrap()]));
    assert_eq!(
        count(&svg, "path"),
        3,
        "the model result draws the arrows too"
    );
    assert_eq!(count(&svg, "label"), 0);
}

#[test]
fn the_study_model_shows_its_six_fssb_correlations_in_one_table() {
    let svg = stdout(&balans(&["diagram", "--builtin", "seed"]));
    assert_eq!(count(&svg, "correlation-table"), 1);
    assert_eq!(
        svg.matches(r#"class="table-cell" "#).count(),
        6,
        "es, is, rm, cm: six pairs"
    );
    assert_eq!(svg.matches(">.70</text>").count(), 6);
    assert!(svg.contains(">Correlations</text>"));
    // Only the three residual correlations among the mediators remain curved arrows.
    assert_eq!(count(&svg, "covariance"), 3);
    // Every non-zero path has its label.
    assert_eq!(count(&svg, "label"), 17 + 3);
}
