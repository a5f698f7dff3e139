//! Fitter internals: the closed form equals Fisher scoring where both apply, the analytic gradient
//! equals finite differences, effects are consistent, bad input is an `Err`.

mod common;

use balans_estimate::{
    estimate, estimate_with, AnalysisSpec, EffectKind, EstimateConfig, Estimator, EstimatorConfig,
    EvalError, Method, SampleMoments, Strategy,
};
use balans_model::{parse_model, Model};
use common::*;
use proptest::prelude::*;

const AGREE_RTOL: f64 = 1e-8;

fn iterative() -> EstimateConfig {
    EstimateConfig {
        estimator: EstimatorConfig {
            strategy: Strategy::FisherScoring,
            ..EstimatorConfig::default()
        },
        ..EstimateConfig::default()
    }
}

#[test]
fn closed_form_equals_fisher_scoring() {
    for name in [
        "mediation_simple",
        "parallel_mediators",
        "serial_mediators",
        "overidentified",
        "holzinger_path",
    ] {
        let c = case(name);
        assert!(c.spec.has_closed_form(), "{name} should be closed form");
        let a = estimate(&c.spec, &c.moments).unwrap();
        let b = estimate_with(&c.spec, &c.moments, &iterative()).unwrap();
        assert_eq!(a.convergence.method, Method::ClosedForm);
        assert_eq!(b.convergence.method, Method::FisherScoring);
        assert!(
            a.convergence.gradient_norm < 1e-10,
            "{name}: {:?}",
            a.convergence
        );
        for (x, y) in a.parameters.iter().zip(&b.parameters) {
            assert!(
                close(x.est, y.est, AGREE_RTOL, y.std_err),
                "{name} {x:?} {y:?}"
            );
            assert!(
                close(x.std_err, y.std_err, AGREE_RTOL, 1e-12),
                "{name} {x:?} {y:?}"
            );
        }
        for (x, y) in a.effects.iter().zip(&b.effects) {
            assert!(
                close(x.est, y.est, AGREE_RTOL, y.std_err),
                "{name} {x:?} {y:?}"
            );
            assert!(
                close(x.std_err, y.std_err, AGREE_RTOL, 1e-12),
                "{name} {x:?} {y:?}"
            );
        }
        assert!(close(a.measures.chisq, b.measures.chisq, 1e-6, 1e-6));
    }
}

/// The study's model: residual covariances among wfc, wfe, eng (same four predictors) and the
/// auto.cov.y perf ~~ amb (same seven predictors) — SUR with identical regressors, closed form.
#[test]
fn builtin_seed_is_closed_form_and_matches_fisher_scoring() {
    let model = Model::builtin("seed").unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    assert!(spec.has_closed_form());
    // 26 paths, 5 residual variances, 3 written + 1 auto residual covariances, 10 x (co)variances.
    assert_eq!(spec.npar(), 26 + 5 + 3 + 1 + 10);
    assert!(spec.parameter_index("perf~~amb").is_some());
    assert_eq!(spec.df(), 0);
    let c = case("seed_paths");
    let data = select_columns(
        &load_csv("sim_seed.csv").0,
        &load_csv("sim_seed.csv").1,
        spec.variables(),
    );
    let _ = c;
    let m = SampleMoments::from_rows(&data, spec.variables().len()).unwrap();
    let a = estimate(&spec, &m).unwrap();
    let b = estimate_with(&spec, &m, &iterative()).unwrap();
    for (x, y) in a.parameters.iter().zip(&b.parameters) {
        assert!(close(x.est, y.est, AGREE_RTOL, y.std_err), "{x:?} {y:?}");
        assert!(
            close(x.std_err, y.std_err, AGREE_RTOL, 1e-12),
            "{x:?} {y:?}"
        );
    }
    assert!(a.measures.chisq.abs() < 1e-9);
    let names: Vec<&str> = spec.effects().iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"is->wfc->perf"));
    assert!(names.contains(&"ind_is_wfc_perf"));
}

/// total = direct + total indirect, and total indirect = sum of the specific routes.
#[test]
fn total_equals_direct_plus_indirect() {
    let c = case("holzinger_path");
    let fit = estimate(&c.spec, &c.moments).unwrap();
    for (k, e) in c.spec.effects().iter().enumerate() {
        if let EffectKind::Total { from, to } = e.kind {
            let ind = c
                .spec
                .effects()
                .iter()
                .position(|x| x.kind == EffectKind::TotalIndirect { from, to })
                .unwrap();
            let direct = c
                .spec
                .parameter_index(&format!(
                    "{}~{}",
                    c.spec.variables()[to],
                    c.spec.variables()[from]
                ))
                .map_or(0.0, |i| fit.output.estimates[i]);
            let total = fit.effects[k].est;
            assert!((total - direct - fit.effects[ind].est).abs() < 1e-12);
            let routes: f64 = c
                .spec
                .effects()
                .iter()
                .enumerate()
                .filter(|(_, x)| {
                    matches!(&x.kind, EffectKind::SpecificIndirect { route }
                    if route[0] == from && *route.last().unwrap() == to)
                })
                .map(|(i, _)| fit.effects[i].est)
                .sum();
            assert!((routes - fit.effects[ind].est).abs() < 1e-12);
        }
    }
    // The := total_x4_x9 equals the total effect x4->x9.
    let total = fit
        .effects
        .iter()
        .find(|e| e.name == "x4->x9" && e.kind == balans_estimate::EffectClass::Total)
        .unwrap();
    let def = fit
        .effects
        .iter()
        .find(|e| e.name == "total_x4_x9")
        .unwrap();
    assert!((total.est - def.est).abs() < 1e-12 && (total.std_err - def.std_err).abs() < 1e-12);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The analytic gradient of F_ML equals central finite differences at random points near the
    /// estimates (a model with correlated residuals between equations with different predictors).
    #[test]
    fn gradient_matches_finite_differences(
        shifts in proptest::collection::vec(-0.2f64..0.2, 7),
        case_index in 0usize..2,
    ) {
        let name = ["correlated_residuals_diff_predictors", "auto_cov_y_probe"][case_index];
        let c = case(name);
        let fit = estimate(&c.spec, &c.moments).unwrap();
        let s = c.moments.covariance();
        let n = c.moments.n();
        let mut est = Estimator::new(&c.spec);
        let q = c.spec.npar();
        let theta: Vec<f64> = fit.output.estimates.iter().enumerate()
            .map(|(k, v)| v + shifts[k % shifts.len()] * fit.output.std_err[k] * 3.0)
            .collect();
        let mut g = vec![0.0; q];
        let mut scratch = vec![0.0; q];
        let Some(_) = est.objective(&theta, s, n, &mut g).unwrap() else { return Ok(()) };
        let h = 1e-6;
        for k in 0..q {
            let mut tp = theta.clone();
            tp[k] += h;
            let mut tm = theta.clone();
            tm[k] -= h;
            let fp = est.objective(&tp, s, n, &mut scratch).unwrap().unwrap();
            let fm = est.objective(&tm, s, n, &mut scratch).unwrap().unwrap();
            let fd = (fp - fm) / (2.0 * h);
            prop_assert!((fd - g[k]).abs() <= 1e-6 * (1.0 + g[k].abs()),
                "{name} parameter {k}: analytic {} finite difference {fd}", g[k]);
        }
    }
}

fn simple_spec() -> AnalysisSpec {
    AnalysisSpec::from_model(&parse_model("t", "m ~ x\ny ~ m + x").unwrap()).unwrap()
}

fn rows(n: usize, f: impl Fn(usize) -> [f64; 3]) -> Vec<f64> {
    (0..n).flat_map(f).collect()
}

fn wobble(i: usize, k: u64) -> f64 {
    // A deterministic pseudo-random value in (-1, 1).
    let x = (i as u64 + 1)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(k * 1442695040888963407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

#[test]
fn constant_column_is_an_error() {
    let spec = simple_spec();
    let data = rows(50, |i| [wobble(i, 1), 3.0, wobble(i, 2)]);
    let m = SampleMoments::from_rows(&data, 3).unwrap();
    let err = estimate(&spec, &m).unwrap_err();
    assert!(
        matches!(&err, EvalError::ConstantVariable { name, .. } if name == "m"),
        "{err}"
    );
}

#[test]
fn collinear_columns_are_an_error() {
    let spec = simple_spec();
    let data = rows(50, |i| {
        [wobble(i, 1), 2.0 * wobble(i, 1) + 1.0, wobble(i, 2)]
    });
    let m = SampleMoments::from_rows(&data, 3).unwrap();
    let err = estimate(&spec, &m).unwrap_err();
    assert!(
        matches!(&err, EvalError::SingularCovariance { names } if names == "x, m"),
        "{err}"
    );
}

#[test]
fn too_few_rows_is_an_error() {
    let spec = simple_spec();
    let data = rows(4, |i| [wobble(i, 1), wobble(i, 3), wobble(i, 2)]);
    let m = SampleMoments::from_rows(&data, 3).unwrap();
    let err = estimate(&spec, &m).unwrap_err();
    assert!(
        matches!(err, EvalError::TooFewObservations { n: 4, npar: 5, .. }),
        "{err}"
    );
}

#[test]
fn bad_shapes_and_values_are_errors() {
    assert!(matches!(
        SampleMoments::from_rows(&[1.0, 2.0, 3.0, 4.0], 3),
        Err(EvalError::Shape { .. })
    ));
    assert!(matches!(
        SampleMoments::from_rows(&[1.0, f64::NAN, 3.0], 3),
        Err(EvalError::NonFinite { .. })
    ));
    let spec = simple_spec();
    let m = SampleMoments::from_covariance(nalgebra::DMatrix::identity(2, 2), 100).unwrap();
    assert!(matches!(estimate(&spec, &m), Err(EvalError::Shape { .. })));
    let asym = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.2, 1.0]);
    assert!(SampleMoments::from_covariance(asym, 100).is_err());
    let not_pd =
        nalgebra::DMatrix::from_row_slice(3, 3, &[1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0]);
    let m = SampleMoments::from_covariance(not_pd, 100).unwrap();
    assert!(matches!(
        estimate(&spec, &m),
        Err(EvalError::SingularCovariance { .. })
    ));
}

#[test]
fn latent_variables_are_refused() {
    let model = parse_model("t", "f =~ x1 + x2 + x3\ny ~ f").unwrap();
    let err = AnalysisSpec::from_model(&model).unwrap_err();
    assert!(
        err.to_string()
            .contains("latent variables are not estimated yet"),
        "{err}"
    );
}

#[test]
fn non_convergence_carries_diagnostics() {
    let c = case("correlated_residuals_diff_predictors");
    let config = EstimateConfig {
        estimator: EstimatorConfig {
            max_iterations: 1,
            ..EstimatorConfig::default()
        },
        ..EstimateConfig::default()
    };
    match estimate_with(&c.spec, &c.moments, &config) {
        Err(EvalError::NotConverged { diagnostics }) => {
            assert_eq!(diagnostics.iterations, 1);
            assert!(diagnostics.gradient_norm > 1e-11);
        }
        other => panic!("expected NotConverged, got {other:?}"),
    }
}

#[test]
fn too_many_residual_covariances_is_an_error() {
    // y1 ~~ y2 with y2 ~ y1 and both ~ x: 3 moments short.
    let model = parse_model("t", "y1 ~ x\ny2 ~ y1 + x\ny1 ~~ y2").unwrap();
    assert!(matches!(
        AnalysisSpec::from_model(&model),
        Err(EvalError::TooManyParameters { .. })
    ));
}

#[test]
fn auto_cov_y_rule() {
    // Terminal outcomes (never predictors) get free residual covariances; mediators do not.
    let model = parse_model("t", "wfc ~ is\neng ~ cm\nperf ~ wfc + eng\namb ~ eng").unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    let covs: Vec<String> = spec
        .parameters()
        .iter()
        .filter(|p| p.op == "~~" && p.lhs != p.rhs)
        .map(|p| format!("{}~~{}", p.lhs, p.rhs))
        .collect();
    assert_eq!(covs, ["perf~~amb"]);
    assert_eq!(spec.fixed_parameters().len(), 3);
    // A `~~` on an exogenous variable makes it random (free variance), as lavaan does.
    let model = parse_model("t", "y1 ~ x1 + x2\ny2 ~ y1\nx1 ~~ x1").unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    assert!(spec.parameter_index("x1~~x1").is_some());
    assert_eq!(spec.fixed_parameters().len(), 1);
    assert!(!spec.has_closed_form());
}

/// Joint significance: every path of the route significant at alpha; Sobel p from the delta SE.
#[test]
fn joint_significance_and_sobel() {
    let c = case("seed_paths");
    let fit = estimate(&c.spec, &c.moments).unwrap();
    let p_of = |name: &str| {
        let k = c.spec.parameter_index(name).unwrap();
        balans_estimate::normal_pvalue(fit.output.estimates[k] / fit.output.std_err[k])
    };
    // is->wfc->perf: a1 has p = .050063 (not significant at .05), b1 is significant.
    let e = fit
        .effects
        .iter()
        .find(|e| e.name == "is->wfc->perf")
        .unwrap();
    assert!(p_of("a1") > 0.05 && p_of("b1") < 0.05);
    assert_eq!(e.joint_significant, Some(false));
    let e = fit
        .effects
        .iter()
        .find(|e| e.name == "rm->wfe->amb")
        .unwrap();
    assert!(p_of("a2") < 0.05 && p_of("b2") < 0.05);
    assert_eq!(e.joint_significant, Some(true));
    // The route effect equals the := product with the same delta SE.
    let d = fit
        .effects
        .iter()
        .find(|e| e.name == "ind_rm_wfe_amb")
        .unwrap();
    assert!((e.est - d.est).abs() < 1e-15 && (e.std_err - d.std_err).abs() < 1e-15);
    assert_eq!(d.joint_significant, None);
}

/// A Monte Carlo sampler restricted to some effects gives the same intervals for them as the full
/// one would with the same draws of their parameters, and NaN elsewhere.
#[test]
fn monte_carlo_subset() {
    use rand::SeedableRng;
    let c = case("mediation_simple");
    let fit = estimate(&c.spec, &c.moments).unwrap();
    let k = c
        .spec
        .effects()
        .iter()
        .position(|e| e.name == "ind")
        .unwrap();
    let mut sampler = balans_estimate::MonteCarloSampler::with_effects(&c.spec, 2000, &[k]);
    let mut result = vec![
        balans_estimate::Interval {
            lower: 0.0,
            upper: 0.0
        };
        c.spec.effects().len()
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    sampler
        .intervals(&fit.output, 0.95, &mut rng, &mut result)
        .unwrap();
    assert!(result[k].lower.is_finite() && result[k].lower < result[k].upper);
    assert!(result
        .iter()
        .enumerate()
        .all(|(i, r)| i == k || r.lower.is_nan()));
}

/// Starting Fisher scoring elsewhere (warm start) reaches the same estimates.
#[test]
fn start_values_do_not_change_the_estimates() {
    let c = case("correlated_residuals_diff_predictors");
    let s = c.moments.covariance();
    let n = c.moments.n();
    let mut cold = Estimator::new(&c.spec);
    let mut a = cold.new_output();
    cold.fit_moments(s, n, &mut a).unwrap();
    let mut warm = Estimator::new(&c.spec);
    let start: Vec<f64> = a.estimates.iter().map(|v| v * 0.9).collect();
    warm.set_start_values(Some(&start));
    let mut b = warm.new_output();
    warm.fit_moments(s, n, &mut b).unwrap();
    for k in 0..c.spec.npar() {
        assert!(
            close(a.estimates[k], b.estimates[k], 1e-8, a.std_err[k]),
            "{k}"
        );
        assert!(close(a.std_err[k], b.std_err[k], 1e-8, 1e-12), "{k}");
    }
}
