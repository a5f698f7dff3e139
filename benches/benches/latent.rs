#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benchmark of the latent-variable fit (issue 13): the built-in `seed-latent` model
//! (9 factors, 51 items) as the analysis model, fitted by ML to N = 278 respondents simulated from
//! its population (multivariate normal items):
//! * `latent/seed_latent_fit` — one complete fit from the sample moments: estimates, expected-
//!   information SEs, every effect with delta SEs, fit measures (target: ≤ 1/300 of lavaan's time
//!   for the same fit; `scripts/peer/latent_fit_timing.R` times lavaan on the same model and N);
//! * `latent/seed_latent_fit_lean` — estimates, SEs, effects with delta SEs and χ² only (what
//!   lavaan's `sem()` computes before `fitMeasures()`; the power loop's fit).

use balans_estimate::covariance_into;
use balans_estimate::sem::{fit_sem, fit_sem_lean, PatternData, SemConfig, SemOptions, SemSpec};
use balans_model::Model;
use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const N: usize = 278;

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = 1.0 - rng.gen::<f64>();
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The sample moments of N rows drawn from the model's observed population, and the spec.
pub fn seed_latent_setup() -> (SemSpec, PatternData, Vec<f64>) {
    let model = Model::builtin("seed-latent").expect("builtin");
    let population = model.population().expect("population");
    let observed = model.observed_population(&population);
    let spec = SemSpec::from_model(&model, SemOptions::default()).expect("spec");
    assert_eq!(
        spec.observed(),
        observed
            .names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let p = observed.names.len();
    let l = observed.covariance.clone().cholesky().expect("PD").l();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut rows = Vec::with_capacity(N * p);
    for _ in 0..N {
        let z = DVector::from_fn(p, |_, _| standard_normal(&mut rng));
        rows.extend((&l * z).iter());
    }
    let mut s = DMatrix::zeros(p, p);
    let mut means = vec![0.0; p];
    covariance_into(&rows, p, &mut means, &mut s);
    (spec, PatternData::complete(s, means, N), rows)
}

fn bench_latent(c: &mut Criterion) {
    let (spec, data, _) = seed_latent_setup();
    let config = SemConfig::default();
    let fit = fit_sem(&spec, &data, &config).expect("fit");
    eprintln!(
        "seed-latent: {} free parameters, {} Fisher-scoring iterations, chisq {:.3} (df {})",
        spec.npar(),
        fit.convergence.iterations,
        fit.measures.chisq,
        fit.measures.df
    );
    let mut group = c.benchmark_group("latent");
    group.sample_size(20);
    group.bench_function("seed_latent_fit", |b| {
        b.iter(|| black_box(fit_sem(&spec, black_box(&data), &config).unwrap().theta[0]))
    });
    group.bench_function("seed_latent_fit_lean", |b| {
        b.iter(|| {
            black_box(
                fit_sem_lean(&spec, black_box(&data), &config)
                    .unwrap()
                    .chisq,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_latent);
criterion_main!(benches);
