//! Type I error and CI coverage of the mixed ANCOVA (Satterthwaite and Kenward–Roger), the CR2
//! OLS ANCOVA and the leader-means ANCOVA at 30 leaders, balanced (8 per leader) and unbalanced
//! (3–14 per leader, 20% of post values missing at random). Monte Carlo bounds: with R
//! replications the rejection rate must be within 4·sqrt(α(1−α)/R) of α, the coverage within
//! 4·sqrt(.95·.05/R) of .95. A short run is part of `cargo test`; the long one is ignored.

use balans_trial::analyse::{
    cr2_ancova, leader_means_ancova, mixed_ancova, Analysis, AncovaScratch, Outcome, TidyRow,
    WideData,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const LEADERS: usize = 30;
const ALPHA: f64 = 0.05;

/// One simulated trial: leader ICC .15 at pre, leader effect at post (ICC of post residual
/// about .1), pre–post slope .5, training effect `effect` on post.
struct Trial {
    leader: Vec<usize>,
    treated: Vec<bool>,
    pre: Vec<f64>,
    post: Vec<f64>,
}

fn simulate(rng: &mut ChaCha8Rng, effect: f64, balanced: bool) -> Trial {
    let mut t = Trial {
        leader: vec![],
        treated: vec![],
        pre: vec![],
        post: vec![],
    };
    let z = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
    for j in 0..LEADERS {
        let arm = j % 2 == 1;
        let size = if balanced { 8 } else { 3 + (j * 7) % 12 };
        let u_pre = 0.387 * z(rng);
        let u_post = 0.6 * u_pre + 0.27 * z(rng);
        for _ in 0..size {
            let pre = u_pre + 0.922 * z(rng);
            let mut post = 0.5 * pre + u_post + if arm { effect } else { 0.0 } + 0.8 * z(rng);
            if !balanced && rng.gen::<f64>() < 0.2 {
                post = f64::NAN;
            }
            t.leader.push(j);
            t.treated.push(arm);
            t.pre.push(pre);
            t.post.push(post);
        }
    }
    t
}

/// Rejection rate at `effect` = 0 and CI coverage of `effect` for each analysis.
fn run(reps: usize, seed: u64, balanced: bool, effect: f64) -> Vec<(Analysis, f64, f64)> {
    let kinds = [
        Analysis::MixedAncova,
        Analysis::MixedAncovaKr,
        Analysis::OlsCr2,
        Analysis::LeaderMeans,
    ];
    let mut reject = [0usize; 4];
    let mut cover = [0usize; 4];
    let mut scratch = AncovaScratch::default();
    let arm_row = |rows: &[TidyRow], a: Analysis| {
        rows.iter()
            .find(|r| r.analysis == a && r.term == "arm")
            .cloned()
            .expect("arm row")
    };
    for rep in 0..reps {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(rep as u64);
        let t = simulate(&mut rng, effect, balanced);
        let data = WideData {
            leader: &t.leader,
            n_leaders: LEADERS,
            treated: &t.treated,
        };
        let o = Outcome {
            name: "y",
            pre: &t.pre,
            post: &t.post,
        };
        let mixed = mixed_ancova(&data, &o, ALPHA, &mut scratch).expect("mixed");
        let (cr2, _) = cr2_ancova(&data, &o, ALPHA, &mut scratch).expect("cr2");
        let (means, _) = leader_means_ancova(&data, &o, ALPHA, &mut scratch).expect("means");
        let rows = [
            arm_row(&mixed.rows, Analysis::MixedAncova),
            arm_row(&mixed.rows, Analysis::MixedAncovaKr),
            arm_row(&cr2, Analysis::OlsCr2),
            arm_row(&means, Analysis::LeaderMeans),
        ];
        for (k, r) in rows.iter().enumerate() {
            // the null is "no effect": test against `effect` (0 for type I error)
            let t_stat = (r.estimate - effect) / r.std_error;
            let p = 2.0 * students_t_sf(t_stat.abs(), r.df);
            reject[k] += usize::from(p < ALPHA);
            cover[k] += usize::from(r.conf_low <= effect && effect <= r.conf_high);
        }
    }
    kinds
        .iter()
        .enumerate()
        .map(|(k, &a)| {
            (
                a,
                reject[k] as f64 / reps as f64,
                cover[k] as f64 / reps as f64,
            )
        })
        .collect()
}

fn students_t_sf(t: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df).expect("df").sf(t)
}

fn check(reps: usize, seed: u64, balanced: bool, effect: f64) {
    let bound_alpha = 4.0 * (ALPHA * (1.0 - ALPHA) / reps as f64).sqrt();
    let bound_cov = 4.0 * (0.95 * 0.05 / reps as f64).sqrt();
    for (a, rate, coverage) in run(reps, seed, balanced, effect) {
        eprintln!("{a:?} balanced={balanced} effect={effect}: rejection {rate:.4}, coverage {coverage:.4} (R={reps}, seed={seed})");
        assert!(
            (rate - ALPHA).abs() <= bound_alpha,
            "{a:?} balanced={balanced}: type I error {rate:.4} vs α {ALPHA} ± {bound_alpha:.4} (R={reps}, seed={seed})"
        );
        assert!(
            (coverage - 0.95).abs() <= bound_cov,
            "{a:?} balanced={balanced}: coverage {coverage:.4} vs .95 ± {bound_cov:.4} (R={reps}, seed={seed})"
        );
    }
}

#[test]
fn type_one_error_and_coverage_balanced() {
    check(1500, 11, true, 0.0);
}

#[test]
fn type_one_error_and_coverage_unbalanced_with_missing_posts() {
    check(1500, 12, false, 0.0);
}

#[test]
fn coverage_with_an_effect() {
    check(1000, 13, false, 0.3);
}

#[test]
#[ignore = "long: 20,000 replications per design (cargo xtask validate)"]
fn type_one_error_and_coverage_long() {
    check(20_000, 21, true, 0.0);
    check(20_000, 22, false, 0.0);
    check(20_000, 23, false, 0.3);
}
