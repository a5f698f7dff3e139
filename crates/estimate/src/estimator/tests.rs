//! Unit tests of the estimator paths against each other (lean vs full, shared factor vs per block).

use super::*;
use balans_model::Model;

/// Relative agreement of the lean closed-form standard errors with the full covariance matrix.
const REL_TOL: f64 = 1e-12;

fn seed_moments() -> (AnalysisSpec, DMatrix<f64>) {
    let model = Model::builtin("seed").unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    let sigma = model.population().unwrap().implied_covariance().clone();
    // A sample-like perturbation of Σ (symmetric, still positive definite).
    let p = sigma.nrows();
    let s = DMatrix::from_fn(p, p, |i, j| {
        sigma[(i, j)] * (1.0 + 0.03 * (((i * 7 + j * 7 + i * j) % 5) as f64 - 2.0))
    });
    (spec, s)
}

/// The shared-factor path applies to the (saturated) seed model and agrees with the per-block
/// path: identical estimates and effects, standard errors within rounding.
#[test]
fn prefix_path_matches_per_block_path() {
    let (spec, s) = seed_moments();
    let mut fast = Estimator::new(&spec);
    let prefix = fast
        .prefix
        .as_ref()
        .expect("seed model takes the prefix path");
    assert!(prefix.saturated);
    let mut slow = fast.clone();
    slow.prefix = None;
    let (mut a, mut b) = (fast.new_output(), slow.new_output());
    fast.fit_moments_lean(&s, 278, &mut a).unwrap();
    slow.fit_moments_lean(&s, 278, &mut b).unwrap();
    for (x, y) in a.estimates.iter().zip(&b.estimates) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
    for (x, y) in a.effects.iter().zip(&b.effects) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
    for (x, y) in a
        .std_err
        .iter()
        .zip(&b.std_err)
        .chain(a.effect_std_err.iter().zip(&b.effect_std_err))
    {
        assert!((x - y).abs() <= REL_TOL * y.abs(), "{x:e} vs {y:e}");
    }
    // A singular S is still an error, not NaN.
    let mut singular = s.clone();
    for i in 0..singular.nrows() {
        singular[(8, i)] = s[(7, i)];
        singular[(i, 8)] = s[(i, 7)];
    }
    singular[(8, 8)] = s[(7, 7)];
    assert!(fast.fit_moments_lean(&singular, 278, &mut a).is_err());
}

/// A selection of effects computes exactly those (bit for bit as without a selection, on the
/// lean, full and Fisher-scoring paths), NaN for the others; `None` restores every effect.
#[test]
fn selected_effects_match_full_computation() {
    let (spec, s) = seed_moments();
    let n_eff = spec.effects.len();
    // Every third effect (totals among them), and the routes only (no (I − B)⁻¹ needed).
    let every_third: Vec<usize> = (0..n_eff)
        .filter(|k| k % 3 == 1)
        .chain([n_eff + 5])
        .collect();
    let routes: Vec<usize> = (0..n_eff)
        .filter(|&k| {
            matches!(
                spec.effects[k].kind,
                crate::spec::EffectKind::SpecificIndirect { .. }
            )
        })
        .chain([n_eff + 5])
        .collect();
    assert!(routes.len() > 2 && routes.len() < n_eff);
    for (chosen, config) in [every_third.clone(), routes.clone()]
        .into_iter()
        .flat_map(|c| {
            [
                EstimatorConfig::default(),
                EstimatorConfig {
                    strategy: Strategy::FisherScoring,
                    ..EstimatorConfig::default()
                },
            ]
            .map(|config| (c.clone(), config))
        })
    {
        let mut all = Estimator::with_config(&spec, config);
        let mut some = all.clone();
        some.select_effects(Some(&chosen));
        assert_eq!(some.selected_effects().len(), chosen.len() - 1);
        type Fit =
            fn(&mut Estimator, &DMatrix<f64>, usize, &mut FitOutput) -> Result<(), EvalError>;
        let fits: [Fit; 3] = [
            Estimator::fit_moments_lean,
            Estimator::fit_moments,
            Estimator::fit_point,
        ];
        for fit in fits {
            let (mut a, mut b) = (all.new_output(), some.new_output());
            fit(&mut all, &s, 278, &mut a).unwrap();
            fit(&mut some, &s, 278, &mut b).unwrap();
            assert_eq!(a.estimates, b.estimates);
            assert_eq!(a.std_err, b.std_err);
            assert_eq!(a.sigma, b.sigma);
            for k in 0..n_eff {
                if chosen.contains(&k) {
                    assert_eq!(a.effects[k].to_bits(), b.effects[k].to_bits());
                    assert_eq!(a.effect_std_err[k].to_bits(), b.effect_std_err[k].to_bits());
                } else {
                    assert!(b.effects[k].is_nan());
                }
            }
        }
        some.select_effects(None);
        let (mut a, mut b) = (all.new_output(), some.new_output());
        all.fit_moments_lean(&s, 278, &mut a).unwrap();
        some.fit_moments_lean(&s, 278, &mut b).unwrap();
        assert_eq!(a, b);
    }
}

/// The lean fit gives the same numbers as the full one, and its effect SEs equal
/// `sqrt(gᵀ V g)` with the full `V`.
#[test]
fn lean_fit_matches_full_fit_and_delta_method_on_vcov() {
    let (spec, s) = seed_moments();
    assert!(spec.has_closed_form());
    let mut est = Estimator::new(&spec);
    let mut full = est.new_output();
    let mut lean = est.new_output();
    est.fit_moments(&s, 278, &mut full).unwrap();
    est.fit_moments_lean(&s, 278, &mut lean).unwrap();
    assert_eq!(full.estimates, lean.estimates);
    assert_eq!(full.std_err, lean.std_err);
    assert_eq!(full.effects, lean.effects);
    assert_eq!(full.effect_std_err, lean.effect_std_err);
    let mut scratch = Vec::new();
    for (k, e) in spec.effects.iter().enumerate() {
        let mut g = vec![0.0; e.parameters.len()];
        let value = effects::effect_value(
            e,
            &spec.parameters,
            &full.estimates,
            &full.inverse_i_minus_beta,
            Some(&mut g),
            &mut scratch,
        );
        let se = effects::delta_se(&e.parameters, &g, &full.vcov);
        assert!(
            value.to_bits() == full.effects[k].to_bits(),
            "{}: {value} vs {}",
            e.name,
            full.effects[k]
        );
        let got = full.effect_std_err[k];
        assert!(
            (got - se).abs() <= REL_TOL * se.abs(),
            "{}: lean SE {got:e}, sqrt(g'Vg) {se:e}",
            e.name
        );
    }
    for i in 0..spec.parameters.len() {
        let se = full.vcov[(i, i)].sqrt();
        assert!(
            (full.std_err[i] - se).abs() <= REL_TOL * se,
            "parameter {i}"
        );
    }
}
