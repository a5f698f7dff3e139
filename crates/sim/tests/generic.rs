//! The simulator with a bare design: no study facts (no scale table, no background variables, no
//! inclusion rule) — what sim does on its own.

use balans_model::parse_model;
use balans_sim::{
    Background, BackgroundVariable, ColumnKind, InclusionRule, Missingness, SimError, Simulator,
    SurveyDesign,
};
use std::borrow::Cow;

fn model() -> balans_model::Model {
    parse_model("t", "m ~ 0.4*x\ny ~ 0.3*m + 0.1*x\n").unwrap()
}

#[test]
fn a_bare_design_gives_continuous_columns_only() {
    let design = SurveyDesign {
        n: 50,
        ..SurveyDesign::default()
    };
    let sim = Simulator::new(&model(), &design).unwrap();
    let names: Vec<&str> = sim.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "team", "x", "m", "y"]);
    assert!(sim.columns()[2..]
        .iter()
        .all(|c| c.kind == ColumnKind::Observed));
    let data = sim.simulate(3);
    assert_eq!(data.n_rows(), 50);
    assert_eq!(data, sim.simulate_sequential(3));
}

#[test]
fn study_facts_must_be_given_before_they_are_used() {
    let inclusion = SurveyDesign {
        inclusion: true,
        ..SurveyDesign::default()
    };
    assert_eq!(
        Simulator::new(&model(), &inclusion).unwrap_err(),
        SimError::NoInclusionRule
    );
    let mar = SurveyDesign {
        missing: Missingness::Mar(0.1),
        ..SurveyDesign::default()
    };
    assert_eq!(
        Simulator::new(&model(), &mar).unwrap_err(),
        SimError::NoMarVariable
    );
    let wrong = SurveyDesign {
        background: Background {
            variables: vec![BackgroundVariable::numeric(
                "age", "", 40.0, 10.0, 18.0, 67.0,
            )],
            inclusion: Some(InclusionRule {
                any_of: (Cow::Borrowed("age"), Cow::Borrowed("partner")),
                kept: 0.9,
            }),
            ..Background::default()
        },
        ..SurveyDesign::default()
    };
    let e = Simulator::new(&model(), &wrong).unwrap_err();
    assert!(matches!(e, SimError::UnknownBackground { .. }), "{e}");
    assert!(e.to_string().contains("'partner'"), "{e}");
}

/// A design's own background variable with a link to a construct: drawn, and kept at its share.
#[test]
fn a_designs_own_background_is_drawn() {
    let design = SurveyDesign {
        n: 4000,
        background: Background {
            variables: vec![BackgroundVariable::binary("smoker", "1 = smokes", 0.3)],
            construct_links: vec![(Cow::Borrowed("smoker"), Cow::Borrowed("y"), 0.1)],
            ..Background::default()
        },
        ..SurveyDesign::default()
    };
    let data = Simulator::new(&model(), &design).unwrap().simulate(8);
    let smokers = data.column("smoker").unwrap();
    let share = smokers.iter().sum::<f64>() / 4000.0;
    // 4 SE of a proportion .3 with N = 4000: 0.029.
    assert!(
        (share - 0.3).abs() < 4.0 * (0.3f64 * 0.7 / 4000.0).sqrt(),
        "{share}"
    );
}
