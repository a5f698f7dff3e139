//! Property tests: random recursive models print and re-parse to the same model; their implied Σ is
//! symmetric positive definite; total = direct + Σ specific indirect routes; standardized
//! populations have unit variances; the parser never panics on arbitrary input.

use balans_model::{parse_model, Semantics};
use proptest::prelude::*;

/// A random recursive model: `p` variables v0..v{p-1}, path v_j -> v_i (j < i) with probability ~1/2,
/// values in [-0.4, 0.4], some labels.
fn model_text() -> impl Strategy<Value = String> {
    (3usize..7)
        .prop_flat_map(|p| {
            let n_pairs = p * (p - 1) / 2;
            (
                Just(p),
                prop::collection::vec(prop::option::weighted(0.55, -0.4f64..0.4), n_pairs),
                prop::collection::vec(any::<bool>(), n_pairs),
            )
        })
        .prop_map(|(p, values, labelled)| {
            let mut text = String::new();
            let mut k = 0;
            for i in 1..p {
                let mut terms = Vec::new();
                for j in 0..i {
                    if let Some(v) = values[k] {
                        let label = if labelled[k] {
                            format!("l{j}_{i}*")
                        } else {
                            String::new()
                        };
                        terms.push(format!("{v}*{label}v{j}"));
                    }
                    k += 1;
                }
                if !terms.is_empty() {
                    text.push_str(&format!("v{i} ~ {}\n", terms.join(" + ")));
                }
            }
            if text.is_empty() {
                text.push_str("v1 ~ 0.3*v0\n");
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(text in model_text()) {
        let m = parse_model("random", &text).unwrap();
        let again = parse_model("printed", &m.to_string()).unwrap();
        let mut a = m.parameter_table();
        let mut b = again.parameter_table();
        a.sort_by(|x, y| x.partial_cmp(y).unwrap());
        b.sort_by(|x, y| x.partial_cmp(y).unwrap());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn total_is_direct_plus_specific_routes(text in model_text()) {
        let m = parse_model("random", &text).unwrap();
        let pop = m.population().unwrap();
        let sigma = pop.implied_covariance();
        prop_assert!((sigma - sigma.transpose()).abs().max() < 1e-12);
        prop_assert!(sigma.clone().cholesky().is_some());
        let eff = pop.effects_along(&m.arrow_pattern());
        for to in 0..pop.len() {
            for from in 0..pop.len() {
                let routes: f64 = eff.specific.iter()
                    .filter(|s| s.route[0] == from && *s.route.last().unwrap() == to)
                    .map(|s| s.value).sum();
                let lhs = eff.total[(to, from)];
                let rhs = eff.direct[(to, from)] + routes;
                prop_assert!((lhs - rhs).abs() < 1e-12, "total {} vs direct + routes {}", lhs, rhs);
                prop_assert!((eff.indirect[(to, from)] - routes).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn standardized_populations_have_unit_variances(text in model_text()) {
        let m = parse_model("random", &text).unwrap().with_semantics(Semantics::Standardized);
        // Some random models are infeasible (R² ≥ 1): those must be refused, not mis-built.
        if let Ok(pop) = m.population() {
            for i in 0..pop.len() {
                prop_assert!((pop.implied_covariance()[(i, i)] - 1.0).abs() < 1e-9);
            }
            for r2 in pop.r_squared().into_iter().flatten() {
                prop_assert!((0.0..1.0).contains(&r2));
            }
        }
    }

}

proptest! {
    // Fuzzing the parser: many cheap cases.
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_model("fuzz", &text).map(|m| m.population());
    }

    #[test]
    fn parser_never_panics_on_near_syntax(text in "[a-c xy0-9.*+\\-~=:;()#!\\n]{0,80}") {
        let _ = parse_model("fuzz", &text).map(|m| m.population());
    }
}
