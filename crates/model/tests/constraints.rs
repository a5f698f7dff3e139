//! Equality constraints in model texts (issue 20 item 3): shared labels and `a == b` are read as
//! lavaan reads them; nonlinear and inequality constraints get a located error saying what is
//! supported.

use balans_model::parse_model;

#[test]
fn shared_labels_and_explicit_equalities_are_read() {
    let m = parse_model(
        "t",
        "m ~ a*x1 + a*x2\ny ~ b*m + c*x1\ny ~ i*1\nm ~ i*1\nb == c",
    )
    .unwrap();
    assert!(m.has_equality_constraints());
    assert_eq!(m.parameter_labels(), vec!["a", "a", "b", "c", "i", "i"]);
    assert_eq!(m.equalities().len(), 1);
    assert_eq!(
        (
            m.equalities()[0].lhs.as_str(),
            m.equalities()[0].rhs.as_str()
        ),
        ("b", "c")
    );
    // Print then parse keeps the constraints.
    let printed = m.to_string();
    assert!(printed.contains("b == c"), "{printed}");
    let again = parse_model("printed", &printed).unwrap();
    assert_eq!(again.equalities(), m.equalities());
    assert_eq!(again.parameter_labels(), m.parameter_labels());
    assert_eq!(printed, again.to_string());
}

#[test]
fn models_without_constraints_have_none() {
    let m = parse_model("t", "m ~ a*x\ny ~ b*m + x\ny ~ 1\nind := a*b").unwrap();
    assert!(!m.has_equality_constraints());
    assert!(m.equalities().is_empty());
}

/// Parses `text` and returns its error message (the test fails when it parses).
fn error_of(text: &str) -> String {
    match parse_model("model.lav", text) {
        Ok(_) => panic!("'{text}' parsed"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn nonlinear_and_inequality_constraints_are_refused_with_a_location() {
    let text = "m ~ a*x\ny ~ b*m + c*x\n";
    for (line, col, what) in [
        ("a == b*c", 6, "nonlinear or numeric constraints"),
        ("a == 0.5", 6, "nonlinear or numeric constraints"),
        ("2*a == b", 1, "nonlinear or numeric constraints"),
        ("a + b == c", 1, "nonlinear or numeric constraints"),
        ("a > 0", 3, "inequality constraints"),
        ("a < b", 3, "inequality constraints"),
    ] {
        let e = error_of(&format!("{text}{line}\n"));
        let located = format!("model.lav:3:{col}:");
        assert!(e.contains(&located), "{line}: {e}");
        assert!(e.contains(what), "{line}: {e}");
        assert!(
            e.contains("('a == b')"),
            "{line}: says what is supported: {e}"
        );
        assert!(e.contains('^'), "{line}: has a caret: {e}");
    }
}

#[test]
fn unknown_label_in_an_equality_is_located() {
    let e = error_of("m ~ a*x\ny ~ b*m\na == bb\n");
    assert!(
        e.contains("model.lav:3:6: unknown label 'bb' in '=='"),
        "{e}"
    );
    assert!(e.contains("did you mean 'b'?"), "{e}");
    let e = error_of("m ~ a*x\ny ~ b*m\nx == b\n");
    assert!(
        e.contains("model.lav:3:1: unknown label 'x' in '=='"),
        "{e}"
    );
    assert!(e.contains("not variables"), "{e}");
}
