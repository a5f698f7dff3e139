//! Recovery: simulate from known population values, estimate, and check the bias and the ratio of
//! the mean standard error to the empirical SD across replications, within Monte Carlo error.
//!
//! Bounds (derived): the mean of R estimates has Monte Carlo SE `SD/√R`; an empirical SD has
//! relative SE `1/√(2(R−1))`. ML (co)variance estimates with N in the denominator have the known
//! finite-sample bias factor `(N − k − 1)/N` (k predictors plus the mean), and expected-information
//! SEs use N where the exact sampling variance of a regression weight uses `N − k − 1`, a relative
//! difference of at most `(k + 1)/N`; both are added to the Monte Carlo bound. Assert
//! `|mean − E| ≤ 4·SD/√R` and `|mean SE / SD − 1| ≤ 4/√(2(R−1)) + (k+1)/N`.

use balans_estimate::{estimate, AnalysisSpec, ParameterKind, SampleMoments};
use balans_model::parse_model;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn simulate(l: &DMatrix<f64>, n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let p = l.nrows();
    let mut data = Vec::with_capacity(n * p);
    for _ in 0..n {
        let z = DVector::from_fn(p, |_, _| StandardNormal.sample(rng));
        data.extend((l * z).iter());
    }
    data
}

fn recover(text: &str, n: usize, reps: usize, seed: u64) {
    let model = parse_model("recovery", text).unwrap();
    let population = model.population().unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    assert_eq!(population.names(), spec.variables());
    let l = population
        .implied_covariance()
        .clone()
        .cholesky()
        .unwrap()
        .l();
    let q = spec.npar();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut est = vec![Vec::with_capacity(reps); q];
    let mut se = vec![0.0; q];
    for _ in 0..reps {
        let data = simulate(&l, n, &mut rng);
        let m = SampleMoments::from_rows(&data, spec.variables().len()).unwrap();
        let fit = estimate(&spec, &m).unwrap();
        for k in 0..q {
            est[k].push(fit.output.estimates[k]);
            se[k] += fit.output.std_err[k] / reps as f64;
        }
    }
    let predictors = |y: usize| {
        spec.parameters()
            .iter()
            .filter(|p| matches!(p.kind, ParameterKind::Regression { outcome, .. } if outcome == y))
            .count()
    };
    for (k, par) in spec.parameters().iter().enumerate() {
        let (truth, k_pred) = match par.kind {
            ParameterKind::Regression { outcome, predictor } => {
                (population.beta()[(outcome, predictor)], predictors(outcome))
            }
            ParameterKind::Covariance { a, b } => {
                let kp = predictors(a).max(predictors(b));
                let factor = (n - kp - 1) as f64 / n as f64;
                (population.psi()[(a, b)] * factor, kp)
            }
        };
        let mean = est[k].iter().sum::<f64>() / reps as f64;
        let sd =
            (est[k].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        let bias_bound = 4.0 * sd / (reps as f64).sqrt();
        let ratio = se[k] / sd;
        let ratio_bound = 4.0 / (2.0 * (reps - 1) as f64).sqrt() + (k_pred + 1) as f64 / n as f64;
        assert!(
            (mean - truth).abs() <= bias_bound,
            "{}: mean {mean} vs E {truth} (bound {bias_bound}), R = {reps}, seed {seed}",
            par.name()
        );
        assert!(
            (ratio - 1.0).abs() <= ratio_bound,
            "{}: mean SE / SD = {ratio} (bound 1 ± {ratio_bound}), R = {reps}, seed {seed}",
            par.name()
        );
    }
}

/// Parallel mediators with correlated residuals (closed form, SUR with identical predictors).
#[test]
fn recovery_closed_form() {
    recover(
        "m1 ~ 0.4*x\nm2 ~ 0.3*x\ny ~ 0.35*m1 + 0.2*m2 + 0.1*x\nm1 ~~ 0.3*m2",
        200,
        500,
        11,
    );
}

/// Correlated residuals between equations with different predictors (Fisher scoring).
#[test]
fn recovery_fisher_scoring() {
    recover(
        "x1 ~~ 0.3*x2 + 0.2*x3\nx2 ~~ 0.1*x3\ny1 ~ 0.5*x1 + 0.3*x2\ny2 ~ 0.4*x1 + 0.2*x3\ny1 ~~ 0.4*y2",
        200,
        300,
        12,
    );
}
