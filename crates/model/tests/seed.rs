//! The built-in seed model against the values listed in docs/STUDY.md ("Population values of the
//! built-in models").

use balans_model::{Model, Semantics};
use nalgebra::DMatrix;

/// docs/STUDY.md lists implied values to two decimals, so they are checked to 0.01.
const STUDY_TOLERANCE: f64 = 0.01;

#[test]
fn seed_model_reproduces_study_md() {
    let model = Model::builtin("seed").unwrap();
    assert_eq!(model.semantics(), Semantics::Standardized);
    let pop = model.population().unwrap();
    let sigma = pop.implied_covariance();
    assert!(
        sigma.clone().cholesky().is_some(),
        "implied Σ must be positive definite"
    );
    for i in 0..pop.len() {
        assert!(
            (sigma[(i, i)] - 1.0).abs() < 1e-10,
            "{} variance {}",
            pop.names()[i],
            sigma[(i, i)]
        );
    }
    let r2 = pop.r_squared();
    for (name, expected) in [
        ("wfc", 0.09),
        ("wfe", 0.19),
        ("eng", 0.19),
        ("perf", 0.19),
        ("amb", 0.23),
    ] {
        let i = pop.index_of(name).unwrap();
        let got = r2[i].unwrap();
        assert!(
            (got - expected).abs() <= STUDY_TOLERANCE,
            "R² {name}: got {got:.4}, STUDY.md {expected}"
        );
    }
    // FSSB composite = mean of the four dimensions; its correlation with each outcome.
    let dims: Vec<usize> = ["es", "is", "rm", "cm"]
        .iter()
        .map(|n| pop.index_of(n).unwrap())
        .collect();
    let w = DMatrix::from_fn(
        pop.len(),
        1,
        |i, _| if dims.contains(&i) { 0.25 } else { 0.0 },
    );
    let var_fssb = (w.transpose() * sigma * &w)[(0, 0)];
    for (name, expected) in [
        ("wfc", -0.29),
        ("wfe", 0.42),
        ("eng", 0.42),
        ("perf", 0.21),
        ("amb", 0.23),
    ] {
        let i = pop.index_of(name).unwrap();
        let cov = (sigma.row(i) * &w)[(0, 0)];
        let r = cov / (var_fssb.sqrt() * sigma[(i, i)].sqrt());
        assert!(
            (r - expected).abs() <= STUDY_TOLERANCE,
            "r(fssb, {name}): got {r:.4}, STUDY.md {expected}"
        );
    }
}
