//! sim's generators as the power loop uses them with estimate's fitter: the Wishart draw's own
//! Cholesky factor handed to the lean fit, and sim's column covariance equal to estimate's.

use balans_sim::WishartSampler;
use nalgebra::DMatrix;

/// The sampler's factor reproduces S, and a fit with it agrees with the fit that factorises
/// S (to rounding: relative 1e-12 of the estimate or its standard error, whichever is larger).
#[test]
fn factor_of_last_is_the_cholesky_factor_and_fits_agree() {
    let model = balans_model::Model::builtin("seed").unwrap();
    let spec = balans_estimate::AnalysisSpec::from_model(&model).unwrap();
    let sigma = model.population().unwrap().implied_covariance().clone();
    let p = sigma.nrows();
    let w = WishartSampler::new(&sigma, 278).unwrap();
    let (mut scratch, mut factor) = (vec![0.0; p * p], vec![0.0; p * p]);
    let mut s = DMatrix::zeros(p, p);
    let mut est = balans_estimate::Estimator::new(&spec);
    let (mut a, mut b) = (est.new_output(), est.new_output());
    for r in 0..50 {
        let mut rng = balans_power::replication_rng(5, 278, r);
        w.sample_covariance(&mut rng, &mut scratch, s.as_mut_slice());
        w.factor_of_last(&scratch, &mut factor);
        for i in 0..p {
            for j in i..p {
                let utu: f64 = (0..=i).map(|k| factor[i * p + k] * factor[j * p + k]).sum();
                assert!((utu - s[(i, j)]).abs() <= 1e-13 * s[(i, i)].max(s[(j, j)]));
            }
        }
        est.fit_moments_lean(&s, 278, &mut a).unwrap();
        est.fit_moments_lean_factored(&s, &factor, 278, &mut b)
            .unwrap();
        let close = |x: f64, y: f64, scale: f64| (x - y).abs() <= 1e-12 * x.abs().max(scale);
        for k in 0..a.estimates.len() {
            assert!(
                close(a.estimates[k], b.estimates[k], a.std_err[k]),
                "estimate {k}"
            );
            assert!(close(a.std_err[k], b.std_err[k], 0.0), "se {k}");
        }
        for k in 0..a.effects.len() {
            let se = a.effect_std_err[k];
            assert!(close(a.effects[k], b.effects[k], se), "effect {k}");
            assert!(close(se, b.effect_std_err[k], 0.0), "effect se {k}");
        }
    }
    // A singular S (a repeated variable) is an error, not NaN.
    let mut singular = s.clone();
    for i in 0..p {
        singular[(p - 1, i)] = s[(p - 2, i)];
        singular[(i, p - 1)] = s[(i, p - 2)];
    }
    singular[(p - 1, p - 1)] = s[(p - 2, p - 2)];
    factor[(p - 1) * p + p - 1] = 0.0;
    assert!(est
        .fit_moments_lean_factored(&singular, &factor, 278, &mut b)
        .is_err());
}

/// sim's `covariance_of_columns_into` (the row-level path's moments) is estimate's, bit for bit, so
/// moving the generator did not change a single power estimate.
#[test]
fn column_covariance_of_sim_is_that_of_estimate_bit_for_bit() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for (n, p) in [(5, 3), (37, 9), (278, 12)] {
        let data: Vec<f64> = (0..n * p).map(|_| rng.gen::<f64>() * 3.0 - 1.0).collect();
        let (mut a, mut b) = (data.clone(), data);
        let (mut ca, mut cb) = (DMatrix::zeros(p, p), DMatrix::zeros(p, p));
        balans_sim::covariance_of_columns_into(&mut a, n, &mut ca);
        balans_estimate::covariance_of_columns_into(&mut b, n, &mut cb);
        let bits = |m: &DMatrix<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ca), bits(&cb), "n {n}, p {p}");
    }
}
