//! Power of latent-variable analysis models (issue 13): the power of a structural path with
//! perfectly reliable single indicators equals the closed-form path-analysis power within Monte
//! Carlo error, the type I error of a zero structural path is α within 4 MC SE, and results do not
//! depend on the number of threads.

use balans_model::parse_model;
use balans_power::latent::{latent_power_curve, LatentPowerConfig, LatentStudy};
use balans_power::single_path_power;

const ALPHA: f64 = 0.05;
const REPS: usize = 2000;

fn study(population: &str, analysis: &str) -> LatentStudy {
    let population = parse_model("population", population).unwrap();
    let analysis = parse_model("analysis", analysis).unwrap();
    LatentStudy::new(&population, &analysis, false).unwrap()
}

#[test]
fn perfectly_reliable_single_indicators_give_path_analysis_power() {
    let text = "#!balans standardized\nf =~ 1*x\nx ~~ 0*x\ng =~ 1*y\ny ~~ 0*y\ng ~ 0.25*f";
    let s = study(text, text);
    let config = LatentPowerConfig {
        replications: REPS,
        seed: 13,
        alpha: ALPHA,
    };
    let n = 100;
    let rows = latent_power_curve(&s, &config, &[n], &|_| {}).unwrap();
    let row = rows.iter().find(|r| r.effect == "g~f").unwrap();
    // Path analysis y ~ x with standardized β = .25: residual SD sqrt(1 − .25²).
    let expected = single_path_power(0.25, 1.0, (1.0f64 - 0.0625).sqrt(), n, ALPHA);
    let bound = 4.0 * (expected * (1.0 - expected) / REPS as f64).sqrt();
    assert_eq!(row.not_converged, 0);
    assert!(
        (row.power - expected).abs() <= bound,
        "latent power {} vs path-analysis power {expected} (bound {bound}, R = {REPS}, seed 13)",
        row.power
    );
}

#[test]
fn type_one_error_of_a_zero_structural_path() {
    let population = "#!balans standardized\nf =~ 0.8*x1 + 0.8*x2 + 0.8*x3\ng =~ 0.8*y1 + 0.8*y2 + 0.8*y3\ng ~ 0*f";
    let analysis = "f =~ x1 + x2 + x3\ng =~ y1 + y2 + y3\ng ~ f";
    let s = study(population, analysis);
    let config = LatentPowerConfig {
        replications: REPS,
        seed: 7,
        alpha: ALPHA,
    };
    let rows = latent_power_curve(&s, &config, &[150], &|_| {}).unwrap();
    let row = rows.iter().find(|r| r.effect == "g~f").unwrap();
    let r = (row.replications - row.not_converged) as f64;
    let bound = 4.0 * (ALPHA * (1.0 - ALPHA) / r).sqrt();
    assert!(
        (row.power - ALPHA).abs() <= bound,
        "type I error {} vs alpha {ALPHA} (bound {bound}, R = {r}, seed 7)",
        row.power
    );
}

#[test]
fn same_rows_for_one_and_two_threads() {
    let population = "#!balans standardized\nf =~ 0.7*x1 + 0.7*x2 + 0.7*x3\nm =~ 0.7*m1 + 0.7*m2 + 0.7*m3\ng =~ 0.7*y1 + 0.7*y2 + 0.7*y3\nm ~ 0.4*a*f\ng ~ 0.4*b*m\nind := a*b";
    let analysis =
        "f =~ x1 + x2 + x3\nm =~ m1 + m2 + m3\ng =~ y1 + y2 + y3\nm ~ a*f\ng ~ b*m + f\nind := a*b";
    let s = study(population, analysis);
    let config = LatentPowerConfig {
        replications: 200,
        seed: 3,
        alpha: ALPHA,
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| latent_power_curve(&s, &config, &[80], &|_| {}).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    assert!(one.iter().any(|r| r.effect == "ind" && r.test == "joint"));
}
