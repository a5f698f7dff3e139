//! Criterion benchmarks of the simulator (`cargo bench -p balans-benches --bench sim`).
//!
//! * `survey/seed_items` — item-level generation for the `seed` model (48 Likert items, 9 scale
//!   scores, 8 background variables, teams of about 8) on one core, in memory. Target: ≥ 1,000,000
//!   respondents per second (criterion's `thrpt` line, in elements/s).
//! * `constructs/fill_278` vs `constructs/normals_278x9` — the allocation-free construct fast path
//!   at N = 278 against drawing the 278 × 9 standard normals alone; their time ratio is the cost of
//!   the structure (`L ζ`) on top of the random numbers.

use balans_model::Model;
use balans_sim::{ConstructSampler, Simulator, SurveyDesign};
use criterion::{black_box, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn survey(c: &mut Criterion) {
    let model = Model::builtin("seed").expect("the built-in model parses");
    let n = 20_000;
    let design = SurveyDesign {
        n,
        ..balans_study::survey_design()
    };
    let simulator = Simulator::new(&model, &design).expect("the study design is feasible");
    let mut group = c.benchmark_group("survey");
    group.throughput(Throughput::Elements(n as u64));
    let mut seed = 0;
    group.bench_function("seed_items", |b| {
        b.iter(|| {
            seed += 1;
            black_box(simulator.simulate_sequential(seed))
        })
    });
    group.finish();
}

fn constructs(c: &mut Criterion) {
    let population = Model::builtin("seed")
        .and_then(|m| m.population())
        .expect("the built-in model builds");
    let sampler = ConstructSampler::new(&population).expect("Ψ is positive definite");
    let n = 278;
    let p = sampler.dim();
    let mut buf = vec![0.0; n * p];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("constructs");
    group.throughput(Throughput::Elements((n * p) as u64));
    group.bench_function("fill_278", |b| {
        b.iter(|| {
            sampler.fill(&mut rng, n, &mut buf);
            black_box(&buf);
        })
    });
    group.bench_function("normals_278x9", |b| {
        b.iter(|| {
            balans_sim::normal::fill_standard_normal(&mut rng, &mut buf);
            black_box(&buf);
        })
    });
    group.finish();
}

/// The benchmark group (`criterion_group!` makes an undocumented `pub fn`).
#[allow(missing_docs)]
mod group {
    use super::{constructs, survey};
    criterion::criterion_group!(benches, survey, constructs);
}
criterion_main!(group::benches);
