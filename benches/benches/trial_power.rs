#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benchmarks of one `balans trial power` replication for 30 leaders × 8 employees
//! (the default design, `seed-composite`, FSSB outcome, 20% MCAR attrition, uptake 1, effect SD
//! .10), on one thread, as the power loop runs it (crates/trial/src/power.rs):
//!
//! - `generate`: the per-leader statistics drawn directly (binomial completers, bivariate normal
//!   means, 2 × 2 Wishart scatter — no employee rows);
//! - `generate_mixed_satterthwaite`: `generate` + REML fit of `post ~ arm + pre + (1|leader)` +
//!   the arm's Satterthwaite test (target ≤ 10 µs);
//! - `generate_all_power_analyses`: `generate` + every analysis of the power loop (mixed ANCOVA
//!   with Satterthwaite and Kenward–Roger, CR2, leader means);
//! - `generate_employee_rows`: the general path (employee rows simulated, then summed), for
//!   designs with moderators, shocks or MAR attrition.
//!
//! Run: `cargo bench -p balans-benches --bench trial_power`.

use balans_power::replication_rng;
use balans_trial::analyse::ancova::{satterthwaite_test, unit};
use balans_trial::analyse::{fit_random_intercept, ClusterStats};
use balans_trial::design::DesignSpec;
use balans_trial::power::{
    analyse_replication, ancova_cluster_stats, draw_leader_stats, employee_leader_stats,
    AnalysisScratch, GenerateScratch, LeaderStats, ALL_ANALYSES,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn replication(c: &mut Criterion) {
    let design = DesignSpec {
        leaders: Some(30),
        team_size: Some(8.0),
        ..Default::default()
    }
    .resolve()
    .expect("the default design resolves");
    let mut group = c.benchmark_group("trial_power_replication_30x8");
    let mut stats = LeaderStats::default();
    let mut gen = GenerateScratch::default();
    let mut cluster = ClusterStats::default();
    let mut scratch = AnalysisScratch::default();
    let mut out = Vec::new();
    let mut r = 0u64;
    group.bench_function("generate", |b| {
        b.iter(|| {
            r += 1;
            let mut rng = replication_rng(1, 30, r);
            draw_leader_stats(&design, 0, &mut rng, &mut stats, &mut gen);
            black_box(stats.sy[0])
        })
    });
    group.bench_function("generate_mixed_satterthwaite", |b| {
        b.iter(|| {
            r += 1;
            let mut rng = replication_rng(1, 30, r);
            draw_leader_stats(&design, 0, &mut rng, &mut stats, &mut gen);
            ancova_cluster_stats(&stats, &mut cluster);
            let fit = fit_random_intercept(&cluster).expect("fits");
            black_box(satterthwaite_test(&fit, &unit(1), 0.05))
        })
    });
    group.bench_function("generate_all_power_analyses", |b| {
        b.iter(|| {
            r += 1;
            let mut rng = replication_rng(1, 30, r);
            draw_leader_stats(&design, 0, &mut rng, &mut stats, &mut gen);
            out.clear();
            analyse_replication(&stats, 0.05, &ALL_ANALYSES, &mut scratch, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("generate_employee_rows", |b| {
        b.iter(|| {
            r += 1;
            let mut rng = replication_rng(1, 30, r);
            employee_leader_stats(&design, 0, &mut rng, &mut stats);
            black_box(stats.sy[0])
        })
    });
    group.finish();
}

criterion_group!(benches, replication);
criterion_main!(benches);
