//! Where the time of one row-level replication goes (seed model, N = 278): sampling, covariance,
//! fit with SEs and effects. `cargo run --release -p balans-power --example profile_replication`.

use balans_eval::{covariance_into, AnalysisSpec, Estimator};
use balans_model::Model;
use balans_power::{replication_rng, WishartSampler};
use balans_sim::ConstructSampler;
use nalgebra::DMatrix;
use std::time::Instant;

fn main() {
    let model = Model::builtin("seed").unwrap();
    let pop = model.population().unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    let sampler = ConstructSampler::new(&pop).unwrap();
    let n = 278;
    let p = pop.len();
    let mut buf = vec![0.0; n * p];
    let mut means = vec![0.0; p];
    let mut s = DMatrix::zeros(p, p);
    let mut est = Estimator::new(&spec);
    let mut out = est.new_output();
    let reps = 20_000u64;
    let time = |label: &str, f: &mut dyn FnMut(u64)| {
        let t = Instant::now();
        for r in 0..reps {
            f(r);
        }
        println!(
            "{label:<28} {:>8.2} µs",
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        );
    };
    time("rng setup", &mut |r| {
        std::hint::black_box(replication_rng(1, 278, r));
    });
    time("fill 278 rows", &mut |r| {
        let mut rng = replication_rng(1, 278, r);
        sampler.fill(&mut rng, n, &mut buf);
    });
    time("covariance", &mut |_| {
        covariance_into(&buf, p, &mut means, &mut s)
    });
    time("fit_moments", &mut |_| {
        est.fit_moments(&s, n, &mut out).unwrap()
    });
    time("fit_point", &mut |_| {
        est.fit_point(&s, n, &mut out).unwrap()
    });
    let w = WishartSampler::new(pop.implied_covariance(), n).unwrap();
    let mut scratch = vec![0.0; p * p];
    time("wishart draw", &mut |r| {
        let mut rng = replication_rng(1, 278, r);
        w.sample_covariance(&mut rng, &mut scratch, s.as_mut_slice());
    });
    println!(
        "effects in spec: {}, parameters: {}",
        spec.effects().len(),
        spec.npar()
    );
    for (label, sampling) in [
        ("power_curve rows", balans_power::Sampling::Rows),
        ("power_curve wishart", balans_power::Sampling::Wishart),
    ] {
        let study =
            balans_power::Study::new(&model, None, &balans_power::EffectSelection::All).unwrap();
        let config = balans_power::PowerConfig {
            replications: reps as usize,
            sampling,
            threads: Some(1),
            ..Default::default()
        };
        let t = Instant::now();
        balans_power::power_curve(&study, &config, &[n], &|_| {}).unwrap();
        println!(
            "{label:<28} {:>8.2} µs",
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        );
    }
}
