#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benchmarks: the cost of one Monte Carlo power replication of the study's model
//! (`seed`, N = 278, every path by Wald, every route and `:=` by joint significance and Sobel) on
//! one thread, on the row-level path (simulate 278 rows, covariance, fit, tests) and on the
//! sufficient-statistics path (Wishart draw of S, fit, tests). Criterion's throughput is in
//! replications, so "time per element" is the cost of one replication.
//!
//! Run: `cargo bench -p balans-benches --bench power` (targets: rows ≤ 20 µs, Wishart ≤ 2 µs).

use balans_model::Model;
use balans_power::{power_curve, EffectSelection, PowerConfig, Sampling, Study, Test};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Replications per measured run: enough that the per-condition set-up (estimator, Wishart
/// factor, workspaces: about 0.1 ms) is amortised to a few ns per replication.
///
/// Every run is on one thread: the engine runs in the ambient rayon pool, here a 1-thread pool.
const REPS: usize = 20_000;

fn replication_cost(c: &mut Criterion) {
    let model = Model::builtin("seed").expect("builtin model");
    let study = Study::new(&model, None, &EffectSelection::All).expect("study");
    let mut group = c.benchmark_group("power_replication_seed_n278");
    group.throughput(Throughput::Elements(REPS as u64));
    group.sample_size(20);
    let pool = one_thread();
    for (name, sampling) in [("rows", Sampling::Rows), ("wishart", Sampling::Wishart)] {
        let config = PowerConfig {
            replications: REPS,
            seed: 1,
            sampling,
            tests: vec![Test::Joint, Test::Sobel],
            ..PowerConfig::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| pool.install(|| power_curve(&study, &config, &[278], &|_| {}).expect("runs")))
        });
    }
    group.finish();
}

fn bootstrap_run(c: &mut Criterion) {
    // Percentile + BC bootstrap, B = 1000, of the headline indirect effect: cost per replication.
    let model = Model::builtin("seed").expect("builtin model");
    let study = Study::new(
        &model,
        None,
        &EffectSelection::Named(vec!["ind_cm_eng_perf".into()]),
    )
    .expect("study");
    let mut group = c.benchmark_group("power_bootstrap_seed_n278_b1000");
    let reps = 20;
    group.throughput(Throughput::Elements(reps as u64));
    group.sample_size(10);
    let config = PowerConfig {
        replications: reps,
        seed: 1,
        tests: vec![Test::Percentile, Test::Bc],
        bootstrap_draws: 1000,
        ..PowerConfig::default()
    };
    let pool = one_thread();
    group.bench_function("rows", |b| {
        b.iter(|| pool.install(|| power_curve(&study, &config, &[278], &|_| {}).expect("runs")))
    });
    group.finish();
}

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool")
}

criterion_group!(benches, replication_cost, bootstrap_run);
criterion_main!(benches);
