#![allow(missing_docs)] // criterion_group! generates an undocumented public function
//! Criterion benchmarks of the trial analyses (crates/trial/src/analyse) for the power loop's
//! standard design, 30 leaders × 8 employees, randomised 15 / 15:
//!
//! - `fit_from_stats`: REML fit of `post ~ arm + pre + (1|leader)` from per-leader sufficient
//!   statistics plus the arm's Satterthwaite test — the analysis cost of one power replication;
//! - `replication`: simulate one trial straight into the sufficient statistics (two normal draws
//!   per employee, two per leader) and then `fit_from_stats` (target ≤ 10 µs);
//! - `kenward_roger`, `cr2`: the other per-replication analyses from statistics;
//! - `power_analyses`: what the power loop runs per replication from statistics — (a) with
//!   Satterthwaite and Kenward–Roger, (b) CR2, (c) leader means, each with p-value and CI;
//! - `rows_*`: each analysis of item 3 from employee rows (the `trial analyse` path);
//! - `all_analyses`: every analysis of item 3 from rows — mixed ANCOVA (Satterthwaite + KR), CR2,
//!   leader means, long layout, moderation, CACE, ICCs, balance, d — but the mediation's Monte
//!   Carlo CI, timed alone in `mediation_mc_1000` (target for the rest ≤ 50 µs).
//!
//! Times are the benchmark thread's CPU time (`/proc/thread-self/schedstat`), not wall time, so
//! a loaded machine (other builds sharing the cores) does not inflate them; on an idle machine
//! the two agree. The kernel updates that counter at scheduler ticks (≤ 4 ms apart), so each of
//! the 10 samples runs ≥ 0.3 s of CPU and the tick rounding stays below about 1.5%.
//!
//! Run: `cargo bench -p balans-benches --bench trial`.

use balans_trial::analyse::ancova::{satterthwaite_test, unit};
use balans_trial::analyse::ols::Cr2Fit;
use balans_trial::analyse::{
    analyse_all, fit_random_intercept_with, AnalyseConfig, AnalysisPlan, ClusterStats, Outcome,
    RiScratch, WideData,
};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// CPU time of the calling thread in ns (Linux `/proc/thread-self/schedstat`, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Criterion measurement: thread CPU time.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time.
struct CpuFormatter;

impl CpuFormatter {
    fn unit(typical: f64) -> (f64, &'static str) {
        match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        }
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (f, u) = Self::unit(typical);
        values.iter_mut().for_each(|v| *v *= f);
        u
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "elem/s (CPU)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

const LEADERS: usize = 30;
const TEAM: usize = 8;

/// One simulated trial straight into `stats` (ICC .15, pre–post slope .5, effect .3).
fn simulate_into(rng: &mut Xoshiro256PlusPlus, stats: &mut ClusterStats) {
    stats.reset(3, LEADERS);
    let mut sx = [0.0; 3];
    let mut sxx = [0.0; 9];
    let mut sxy = [0.0; 3];
    for j in 0..LEADERS {
        let arm = (j % 2) as f64;
        let z1: f64 = StandardNormal.sample(rng);
        let z2: f64 = StandardNormal.sample(rng);
        let (u_pre, u_post) = (0.387 * z1, 0.3 * z2);
        let (mut s_pre, mut s_pre2, mut s_post, mut s_post2, mut s_pp) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for _ in 0..TEAM {
            let e1: f64 = StandardNormal.sample(rng);
            let e2: f64 = StandardNormal.sample(rng);
            let pre = u_pre + 0.922 * e1;
            let post = 0.5 * pre + u_post + 0.3 * arm + 0.8 * e2;
            s_pre += pre;
            s_pre2 += pre * pre;
            s_post += post;
            s_post2 += post * post;
            s_pp += pre * post;
        }
        let n = TEAM as f64;
        sx[0] = n;
        sx[1] = n * arm;
        sx[2] = s_pre;
        sxx[0] = n;
        sxx[1] = n * arm;
        sxx[2] = s_pre;
        sxx[3] = n * arm;
        sxx[4] = n * arm;
        sxx[5] = s_pre * arm;
        sxx[6] = s_pre;
        sxx[7] = s_pre * arm;
        sxx[8] = s_pre2;
        sxy[0] = s_post;
        sxy[1] = s_post * arm;
        sxy[2] = s_pp;
        stats.set_cluster(j, n, &sx, &sxx, &sxy, s_post, s_post2);
    }
}

fn per_replication(c: &mut Criterion<ThreadCpu>) {
    let mut group = c.benchmark_group("trial_30x8");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut stats = ClusterStats::new(3, LEADERS);
    simulate_into(&mut rng, &mut stats);
    let arm = unit(1);
    let mut ri = RiScratch::default();
    group.bench_function("fit_from_stats", |b| {
        b.iter(|| {
            let fit = fit_random_intercept_with(black_box(&stats), &mut ri).expect("fit");
            satterthwaite_test(&fit, &arm, 0.05).expect("df").p_value
        })
    });
    group.bench_function("replication", |b| {
        b.iter(|| {
            simulate_into(&mut rng, &mut stats);
            let fit = fit_random_intercept_with(&stats, &mut ri).expect("fit");
            satterthwaite_test(&fit, &arm, 0.05).expect("df").p_value
        })
    });
    simulate_into(&mut rng, &mut stats);
    let fit = fit_random_intercept_with(&stats, &mut ri).expect("fit");
    group.bench_function("kenward_roger", |b| {
        b.iter(|| black_box(&fit).inference.kenward_roger(&arm).expect("kr"))
    });
    let mut cr2 = Cr2Fit::default();
    group.bench_function("cr2", |b| {
        b.iter(|| {
            cr2.fit(black_box(&stats)).expect("cr2");
            cr2.test(&arm).expect("df")
        })
    });
    group.bench_function("power_analyses", |b| {
        b.iter(|| {
            let fit = fit_random_intercept_with(black_box(&stats), &mut ri).expect("fit");
            let s = satterthwaite_test(&fit, &arm, 0.05).expect("df");
            let k =
                balans_trial::analyse::ancova::kenward_roger_test(&fit, &arm, 0.05).expect("kr");
            cr2.fit(&stats).expect("cr2");
            let (var, df) = cr2.test(&arm).expect("df");
            let c = balans_trial::analyse::Estimate::t(0.0, var.sqrt(), df, 0.05);
            let m =
                balans_trial::analyse::ancova::leader_means_arm_test(&stats, 0.05).expect("means");
            s.p_value + k.p_value + c.p_value + m.p_value
        })
    });
    group.bench_function("t_cdf", |b| {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        b.iter(|| {
            StudentsT::new(0.0, 1.0, black_box(27.3))
                .expect("t")
                .cdf(-2.1)
        })
    });
    group.bench_function("t_quantile", |b| {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        b.iter(|| {
            StudentsT::new(0.0, 1.0, black_box(27.3))
                .expect("t")
                .inverse_cdf(0.975)
        })
    });
    group.finish();
}

/// Employee rows of one simulated trial: leader, arm, pre/post of two outcomes, a binary
/// moderator and uptake.
struct Rows {
    leader: Vec<usize>,
    treated: Vec<bool>,
    cols: Vec<Vec<f64>>,
}

fn simulate_rows(rng: &mut Xoshiro256PlusPlus) -> Rows {
    let mut r = Rows {
        leader: Vec::new(),
        treated: Vec::new(),
        cols: vec![Vec::new(); 8],
    };
    let mut z = || -> f64 { StandardNormal.sample(rng) };
    for j in 0..LEADERS {
        let arm = j % 2 == 1;
        let (u1, u2, u3) = (0.387 * z(), 0.3 * z(), 0.2 * z());
        let took = if arm && z() > -0.5 { 1.0 } else { 0.0 };
        for i in 0..TEAM {
            let a = if arm { 1.0 } else { 0.0 };
            let pre = u1 + 0.922 * z();
            let post = 0.5 * pre + u2 + 0.3 * a + 0.8 * z();
            let m_pre = 0.4 * pre + u3 + 0.9 * z();
            let m_post = 0.4 * post + 0.4 * m_pre + 0.8 * z();
            let y_pre = 0.35 * m_pre + 0.9 * z();
            let y_post = 0.35 * m_post + 0.4 * y_pre + 0.85 * z();
            r.leader.push(j);
            r.treated.push(arm);
            for (c, v) in [
                pre,
                post,
                m_pre,
                m_post,
                y_pre,
                y_post,
                (i % 2) as f64,
                took,
            ]
            .into_iter()
            .enumerate()
            {
                r.cols[c].push(v);
            }
        }
    }
    r
}

fn all_analyses(c: &mut Criterion<ThreadCpu>) {
    let mut group = c.benchmark_group("trial_30x8_rows");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let rows = simulate_rows(&mut rng);
    let data = WideData {
        leader: &rows.leader,
        n_leaders: LEADERS,
        treated: &rows.treated,
    };
    let fssb = Outcome {
        name: "fssb",
        pre: &rows.cols[0],
        post: &rows.cols[1],
    };
    let eng = Outcome {
        name: "eng",
        pre: &rows.cols[2],
        post: &rows.cols[3],
    };
    let perf = Outcome {
        name: "perf",
        pre: &rows.cols[4],
        post: &rows.cols[5],
    };
    let plan = AnalysisPlan {
        data,
        outcomes: vec![fssb],
        moderator: Some(("mod", &rows.cols[6])),
        uptake: Some(("uptake", &rows.cols[7])),
        mediation: None,
    };
    let config = AnalyseConfig::default();
    {
        use balans_trial::analyse::{
            cace, cr2_ancova, iccs, leader_means_ancova, long_mixed, mixed_ancova, moderation,
            wide_to_long, AncovaScratch,
        };
        let mut s = AncovaScratch::default();
        group.bench_function("rows_mixed_ancova", |b| {
            b.iter(|| mixed_ancova(&data, &fssb, 0.05, &mut s).expect("a"))
        });
        group.bench_function("rows_cr2", |b| {
            b.iter(|| cr2_ancova(&data, &fssb, 0.05, &mut s).expect("b"))
        });
        group.bench_function("rows_leader_means", |b| {
            b.iter(|| leader_means_ancova(&data, &fssb, 0.05, &mut s).expect("c"))
        });
        let employee: Vec<usize> = (0..rows.leader.len()).collect();
        let long = wide_to_long(&data, &fssb, &employee);
        group.bench_function("rows_long", |b| {
            b.iter(|| long_mixed(&long.as_data(LEADERS), "fssb", 0.05).expect("d"))
        });
        group.bench_function("rows_moderation", |b| {
            b.iter(|| moderation(&data, &fssb, "mod", &rows.cols[6], 0.05, &mut s).expect("e"))
        });
        group.bench_function("rows_cace", |b| {
            b.iter(|| cace(&data, &fssb, "uptake", &rows.cols[7], 0.05, &mut s.cr2).expect("g"))
        });
        group.bench_function("rows_iccs", |b| {
            b.iter(|| iccs(&data, &fssb, &mut s.stats).expect("h"))
        });
    }
    group.bench_function("all_analyses", |b| {
        b.iter(|| analyse_all(black_box(&plan), &config).expect("report"))
    });
    let med = balans_trial::analyse::MediationConfig {
        alpha: 0.05,
        draws: 1000,
        seed: 1,
    };
    group.bench_function("mediation_mc_1000", |b| {
        b.iter(|| balans_trial::analyse::mediation(&data, &fssb, &eng, &perf, &med).expect("med"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(3));
    targets = per_replication, all_analyses
}
criterion_main!(benches);
