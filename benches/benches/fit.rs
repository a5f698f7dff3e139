#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benchmarks of the estimator (issue 4), on the built-in `seed` model as the analysis
//! model (all paths free) with N = 278 simulated respondents:
//! * `fit/seed_closed_form` — one fit from the sample covariance matrix: estimates, expected-
//!   information SEs, every specific indirect / total / `:=` effect with delta SEs (target ≤ 10 µs);
//! * `fit/seed_closed_form_lean` — the same without the covariance matrix of the estimates
//!   (`Estimator::fit_moments_lean`, what the power loop runs without Monte Carlo intervals);
//! * `fit/seed_from_rows` — the same from the raw rows (covariance matrix included);
//! * `fit/seed_paths_fisher_scoring` — the iterative path (perf ~~ amb with different predictors);
//! * `bootstrap/seed_2000_2threads` — 2,000 resamples on 2 threads (target ≤ 50 ms), and on 1;
//! * `monte_carlo/seed_20000` — Monte Carlo intervals of every effect, 20,000 draws.

use balans_estimate::{
    bootstrap, covariance_into, AnalysisSpec, BootstrapConfig, Estimator, MonteCarloSampler,
};
use balans_model::{parse_model, Model};
use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

const N: usize = 278;

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.gen::<f64>();
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Row-major multivariate normal data with covariance `sigma`.
fn simulate(sigma: &DMatrix<f64>, n: usize, seed: u64) -> Vec<f64> {
    let p = sigma.nrows();
    let l = sigma.clone().cholesky().expect("PD population").l();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * p);
    for _ in 0..n {
        let z = DVector::from_fn(p, |_, _| standard_normal(&mut rng));
        data.extend((&l * z).iter());
    }
    data
}

fn seed_setup() -> (AnalysisSpec, Vec<f64>, DMatrix<f64>) {
    let model = Model::builtin("seed").expect("builtin");
    let population = model.population().expect("population");
    let spec = AnalysisSpec::from_model(&model).expect("spec");
    assert_eq!(population.names(), spec.variables());
    let data = simulate(population.implied_covariance(), N, 1);
    let p = spec.variables().len();
    let mut s = DMatrix::zeros(p, p);
    covariance_into(&data, p, &mut vec![0.0; p], &mut s);
    (spec, data, s)
}

fn bench_fit(c: &mut Criterion) {
    let (spec, data, s) = seed_setup();
    assert!(spec.has_closed_form());
    let mut estimator = Estimator::new(&spec);
    let mut out = estimator.new_output();
    c.bench_function("fit/seed_closed_form", |b| {
        b.iter(|| {
            estimator.fit_moments(black_box(&s), N, &mut out).unwrap();
            black_box(out.effect_std_err[0])
        })
    });
    c.bench_function("fit/seed_closed_form_lean", |b| {
        b.iter(|| {
            estimator
                .fit_moments_lean(black_box(&s), N, &mut out)
                .unwrap();
            black_box(out.effect_std_err[0])
        })
    });
    let p = spec.variables().len();
    let mut means = vec![0.0; p];
    let mut s2 = DMatrix::zeros(p, p);
    c.bench_function("fit/seed_from_rows", |b| {
        b.iter(|| {
            covariance_into(black_box(&data), p, &mut means, &mut s2);
            estimator.fit_moments(&s2, N, &mut out).unwrap();
            black_box(out.effect_std_err[0])
        })
    });

    // The iterative path: the reference `seed_paths` model (amb without FSSB paths, so perf ~~ amb
    // joins equations with different predictors).
    let text =
        "wfc ~ a1*is + es + rm + cm\nwfe ~ a2*rm + es + is + cm\neng ~ a3*cm + es + is + rm\n\
                perf ~ b1*wfc + wfe + b3*eng + es + is + rm + cm\namb ~ wfc + b2*wfe + b4*eng\n\
                wfc ~~ wfe\nwfc ~~ eng\nwfe ~~ eng";
    let it_spec = AnalysisSpec::from_model(&parse_model("seed_paths", text).unwrap()).unwrap();
    assert!(!it_spec.has_closed_form());
    let idx: Vec<usize> = it_spec
        .variables()
        .iter()
        .map(|v| spec.variables().iter().position(|w| w == v).unwrap())
        .collect();
    let s_it = DMatrix::from_fn(idx.len(), idx.len(), |i, j| s[(idx[i], idx[j])]);
    let mut it_est = Estimator::new(&it_spec);
    let mut it_out = it_est.new_output();
    c.bench_function("fit/seed_paths_fisher_scoring", |b| {
        b.iter(|| {
            it_est
                .fit_moments(black_box(&s_it), N, &mut it_out)
                .unwrap();
            black_box(it_out.effect_std_err[0])
        })
    });
}

fn bench_resampling(c: &mut Criterion) {
    let (spec, data, s) = seed_setup();
    let mut estimator = Estimator::new(&spec);
    let mut out = estimator.new_output();
    estimator.fit_moments(&s, N, &mut out).unwrap();
    let config = BootstrapConfig {
        resamples: 2000,
        seed: 1,
        level: 0.95,
    };
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
    };
    let (two, one) = (pool(2), pool(1));
    let mut group = c.benchmark_group("bootstrap");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("seed_2000_2threads", |b| {
        b.iter(|| two.install(|| bootstrap(&spec, black_box(&data), &out, &config).unwrap()))
    });
    group.bench_function("seed_2000_1thread", |b| {
        b.iter(|| one.install(|| bootstrap(&spec, black_box(&data), &out, &config).unwrap()))
    });
    group.finish();
    let mut sampler = MonteCarloSampler::new(&spec, 20_000);
    let mut result = vec![
        balans_estimate::Interval {
            lower: 0.0,
            upper: 0.0
        };
        spec.effects().len()
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("monte_carlo");
    group.sample_size(10);
    group.bench_function("seed_20000", |b| {
        b.iter(|| {
            sampler
                .intervals(&out, 0.95, &mut rng, &mut result)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_fit, bench_resampling);
criterion_main!(benches);
