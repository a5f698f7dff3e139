//! Where the time of one row-level replication goes (seed model, N = 278): sampling, covariance,
//! fit with SEs and effects. `cargo run --release -p balans-power --example profile_replication`.

use balans_estimate::{covariance_into, AnalysisSpec, Estimator};
use balans_model::Model;
use balans_power::replication_rng;
use balans_sim::{ConstructSampler, WishartSampler};
use nalgebra::DMatrix;
use std::time::Instant;

fn main() {
    // One thread: the engine runs in the ambient (here the global) rayon pool.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("one-thread pool");
    let model = Model::builtin("seed").unwrap();
    // `profile_replication wishart R`: only the Wishart power curve with R replications (for
    // callgrind: instructions per replication = (total − setup) / R).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("dump") {
        // Every number of 300 lean and full fits (Wishart draws): for before/after comparisons
        // (`dump factored`: the lean fits with the sampler's Cholesky factor).
        let pop = model.population().unwrap();
        let spec = AnalysisSpec::from_model(&model).unwrap();
        let p = pop.len();
        let w = WishartSampler::new(pop.implied_covariance(), 278).unwrap();
        let mut s = DMatrix::zeros(p, p);
        let mut scratch = vec![0.0; p * p];
        let mut est = Estimator::new(&spec);
        let mut out = est.new_output();
        let factored = args.get(2).map(String::as_str) == Some("factored");
        let mut factor = vec![0.0; p * p];
        for r in 0..300 {
            let mut rng = replication_rng(7, 278, r);
            w.sample_covariance(&mut rng, &mut scratch, s.as_mut_slice());
            if factored {
                w.factor_of_last(&scratch, &mut factor);
                est.fit_moments_lean_factored(&s, &factor, 278, &mut out)
                    .unwrap();
            } else {
                est.fit_moments_lean(&s, 278, &mut out).unwrap();
            }
            let mut line: Vec<f64> = Vec::new();
            for v in [
                &out.estimates,
                &out.std_err,
                &out.effects,
                &out.effect_std_err,
            ] {
                line.extend(v.iter());
            }
            line.extend(out.sigma.iter());
            est.fit_moments(&s, 278, &mut out).unwrap();
            for v in [
                &out.estimates,
                &out.std_err,
                &out.effects,
                &out.effect_std_err,
            ] {
                line.extend(v.iter());
            }
            line.extend(out.vcov.iter());
            let text: Vec<String> = line.iter().map(|v| format!("{v:?}")).collect();
            println!("{}", text.join(" "));
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("wishart") {
        let reps = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(1000);
        let study =
            balans_power::Study::new(&model, None, &balans_power::EffectSelection::All).unwrap();
        let config = balans_power::PowerConfig {
            replications: reps,
            sampling: balans_power::Sampling::Wishart,
            ..Default::default()
        };
        let rows = balans_power::power_curve(&study, &config, &[278], &|_| {}).unwrap();
        println!("{}", std::hint::black_box(rows).len());
        return;
    }
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
