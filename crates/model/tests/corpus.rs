//! A corpus of realistic lavaan path/mediation model texts: each parses, and printing then
//! re-parsing gives the same model (equal parameter tables and semantics).

use balans_model::{parse_model, Model};
use std::path::Path;

fn sorted_table(m: &Model) -> Vec<balans_model::ParameterRow> {
    let mut t = m.parameter_table();
    t.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in tables"));
    t
}

#[test]
fn every_corpus_model_parses_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "the corpus must hold at least 20 models, found {}",
        files.len()
    );
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let model =
            parse_model(&name, &text).unwrap_or_else(|e| panic!("{name} failed to parse:\n{e}"));
        let printed = model.to_string();
        let again = parse_model("printed", &printed)
            .unwrap_or_else(|e| panic!("{name}: printed text failed to parse:\n{e}\n{printed}"));
        assert_eq!(
            sorted_table(&model),
            sorted_table(&again),
            "{name}: round trip changed the model:\n{printed}"
        );
        assert_eq!(model.semantics(), again.semantics(), "{name}");
        // Printing is a fixed point after one round (statement order is canonical).
        assert_eq!(printed, again.to_string(), "{name}: printing is not stable");
        // Every model without latent variables has a raw-semantics population.
        if !model.has_latent_variables() {
            let pop = model
                .with_semantics(balans_model::Semantics::Raw)
                .population();
            assert!(pop.is_ok(), "{name}: {:?}", pop.err());
        }
    }
}

#[test]
fn specific_examples_read_as_documented() {
    let m = parse_model("t", "m ~ 0.39*a*x\ny ~ 0.35*b*m + 0.1*c*x\nind := a*b").unwrap();
    let pop = m.population().unwrap();
    let values = m.label_values(&pop);
    let get = |l: &str| values.iter().find(|(n, _)| n == l).unwrap().1;
    assert!((get("a") - 0.39).abs() < 1e-15);
    assert!((get("ind") - 0.39 * 0.35).abs() < 1e-15);

    // A minus between terms negates the following population value.
    let m = parse_model("t", "y ~ -0.05*x1 - 0.22*x2").unwrap();
    let pop = m.population().unwrap();
    let y = pop.index_of("y").unwrap();
    assert!((pop.beta()[(y, pop.index_of("x2").unwrap())] + 0.22).abs() < 1e-15);

    // A formula spanning lines is one statement.
    let m = parse_model("t", "perf ~ wfc +\n  eng\namb ~ eng\n  + wfe").unwrap();
    assert_eq!(m.regressions().len(), 4);

    // Raw semantics: unspecified variances are 1 (lavaan::simulateData).
    let m = parse_model("t", "m ~ 0.5*x\ny ~ 0.4*m").unwrap();
    let pop = m.population().unwrap();
    assert!((pop.implied_covariance()[(1, 1)] - 1.25).abs() < 1e-12);
}
