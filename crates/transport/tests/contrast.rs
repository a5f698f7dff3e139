//! The closed-form power of a between-context difference against a Monte Carlo run of the test it
//! describes (two independent Wishart samples, each fitted with the ML estimator, Wald z of the
//! difference): within 4 Monte Carlo standard errors.

use balans_estimate::Estimator;
use balans_model::parse_model;
use balans_power::{replication_rng, EffectSelection, Study};
use balans_sim::WishartSampler;
use balans_transport::contrast::{difference_power, shifted_covariance};
use balans_transport::{pnorm, qnorm};
use nalgebra::DMatrix;

fn study() -> Study {
    let model = parse_model("c", "m ~ 0.4*x\ny ~ 0.3*m + 0.1*x").unwrap();
    Study::new(&model, None, &EffectSelection::All).unwrap()
}

#[test]
fn closed_form_power_matches_simulation_of_the_test() {
    let s = study();
    let sigma_b = shifted_covariance(&s, &[("m~x".into(), -0.2)]).unwrap();
    let (n_a, n_b, alpha) = (150, 120, 0.05);
    let d = difference_power(&s, &sigma_b, "m~x", n_a, n_b, alpha, 0.8).unwrap();
    assert!((d.difference - 0.2).abs() < 1e-9, "{d:?}");
    let spec = s.analysis();
    let k = spec.parameter_index("m~x").unwrap();
    let (wa, wb) = (
        WishartSampler::new(&s.analysis_covariance(), n_a).unwrap(),
        WishartSampler::new(&sigma_b, n_b).unwrap(),
    );
    let p = spec.variables().len();
    let mut est = Estimator::new(spec);
    let (mut oa, mut ob) = (est.new_output(), est.new_output());
    let (mut scratch, mut buf) = (vec![0.0; p * p], vec![0.0; p * p]);
    let reps = 2000;
    let z = qnorm(1.0 - alpha / 2.0);
    let mut rejected = 0;
    for r in 0..reps {
        let mut rng = replication_rng(17, 0, r);
        wa.sample_covariance(&mut rng, &mut scratch, &mut buf);
        est.fit_moments(&DMatrix::from_row_slice(p, p, &buf), n_a, &mut oa)
            .unwrap();
        wb.sample_covariance(&mut rng, &mut scratch, &mut buf);
        est.fit_moments(&DMatrix::from_row_slice(p, p, &buf), n_b, &mut ob)
            .unwrap();
        let diff = oa.estimates[k] - ob.estimates[k];
        let se = (oa.std_err[k].powi(2) + ob.std_err[k].powi(2)).sqrt();
        rejected += usize::from((diff / se).abs() > z);
    }
    let rate = rejected as f64 / reps as f64;
    let mcse = (d.power * (1.0 - d.power) / reps as f64).sqrt();
    assert!(
        (rate - d.power).abs() <= 4.0 * mcse,
        "simulated {rate} vs closed form {} (4 MC SE {}, R = {reps}, seed 17)",
        d.power,
        4.0 * mcse
    );
    // The N per context for 80% power gives 80% by the same formula (one tail dominates).
    let n = d.n_per_context.unwrap();
    let se = ((d.se_a.powi(2) * n_a as f64 + d.se_b.powi(2) * n_b as f64) / n).sqrt();
    assert!((pnorm(d.difference / se - z) - 0.8).abs() < 1e-12);
}

#[test]
fn unknown_effects_and_small_contexts_are_refused() {
    let s = study();
    let e = shifted_covariance(&s, &[("y~z".into(), 0.1)]).unwrap_err();
    assert!(
        e.to_string().contains("unknown effect 'y~z'") && e.to_string().contains("m~x"),
        "{e}"
    );
    let sigma = s.analysis_covariance();
    let e = difference_power(&s, &sigma, "x->q->y", 100, 100, 0.05, 0.8).unwrap_err();
    assert!(e.to_string().contains("x->m->y"), "{e}");
    assert!(difference_power(&s, &sigma, "m~x", 2, 100, 0.05, 0.8).is_err());
    // An indirect effect works too; no difference → power = alpha, no N.
    let d = difference_power(&s, &sigma, "x->m->y", 100, 100, 0.05, 0.8).unwrap();
    assert!((d.power - 0.05).abs() < 1e-12 && d.n_per_context.is_none());
}
