//! Monte Carlo checks of `trial power`: the simulated power of the leader-means ANCOVA agrees with
//! PowerUpR's analytic cra2r2 power (3 MC SE, balanced design); type I error and coverage are
//! within 4 MC SE of nominal at 30 leaders; the directly drawn leader statistics give the same
//! results as employee rows (4 MC SE); the thread count does not change a single bit.

use balans_trial::design::DesignSpec;
use balans_trial::plan::Cra2r2;
use balans_trial::power::{
    trial_power, PowerAnalysis, TrialPowerConfig, TrialPowerRow, LEADER_ANALYSES,
};

const LEADER_MEANS: [PowerAnalysis; 1] = [PowerAnalysis::LeaderMeans];

fn config(reps: usize, seed: u64) -> TrialPowerConfig {
    TrialPowerConfig {
        outcome: "fssb".into(),
        reps,
        seed,
        alpha: 0.05,
        employee_level: false,
        analyses: LEADER_ANALYSES.to_vec(),
    }
}

fn balanced(effect: f64) -> balans_trial::design::Design {
    DesignSpec {
        leaders: Some(30),
        team_size: Some(8.0),
        effect: Some(effect),
        effect_sd: Some(0.0),
        attrition: Some(0.0),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

fn row<'a>(rows: &'a [TrialPowerRow], analysis: &str) -> &'a TrialPowerRow {
    rows.iter().find(|r| r.analysis == analysis).unwrap()
}

#[test]
fn leader_means_power_matches_the_analytic_power() {
    let d = balanced(0.35);
    let (rho, n) = (d.icc()[0], 8.0);
    let [r_e, r_l] = d.stability();
    // Leader means: var V = ρ + (1 − ρ)/n, pre–post covariance C = ρ r_L + (1 − ρ) r_E / n; the
    // leader-level R² of the pre-test mean is (C/V)², used at both levels with one covariate.
    let v = rho + (1.0 - rho) / n;
    let c = rho * r_l + (1.0 - rho) * r_e / n;
    let r2 = (c / v).powi(2);
    let plan = Cra2r2 {
        team_size: n,
        icc: rho,
        r2_employee: r2,
        r2_leader: r2,
        leader_covariates: 1,
        ..Cra2r2::default()
    };
    let analytic = plan.power(30.0, 0.35).unwrap();
    let reps = 4000;
    let cfg = TrialPowerConfig {
        analyses: LEADER_MEANS.to_vec(),
        ..config(reps, 7)
    };
    let rows = trial_power(&d, &cfg, &[30], &[None], &|_| {}).unwrap();
    let r = row(&rows, "leader_means");
    let se = (analytic * (1.0 - analytic) / reps as f64).sqrt();
    assert!(
        (r.power - analytic).abs() <= 3.0 * se,
        "simulated {} vs analytic {analytic} (3 SE = {:.4}, seed 7)",
        r.power,
        3.0 * se
    );
    assert_eq!(r.failed, 0);
}

#[test]
fn type1_and_coverage_are_nominal_at_30_leaders() {
    type1_and_coverage(1500, 8);
}

#[test]
#[ignore = "long: 20,000 replications of every analysis (cargo xtask validate)"]
fn type1_and_coverage_are_nominal_at_30_leaders_long() {
    type1_and_coverage(20_000, 18);
}

/// Type I error (the null design) and coverage (the design with its effect) of every analysis,
/// within 4 MC SE of α and 1 − α.
fn type1_and_coverage(reps: usize, seed: u64) {
    let d = DesignSpec {
        leaders: Some(30),
        team_size: Some(8.0),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let rows = trial_power(&d, &config(reps, seed), &[30], &[None], &|_| {}).unwrap();
    assert_eq!(rows.len(), 4);
    let se = (0.05 * 0.95 / reps as f64).sqrt();
    for r in &rows {
        assert!(
            (r.type1 - 0.05).abs() <= 4.0 * se,
            "{}: type I {} (4 SE {:.4})",
            r.analysis,
            r.type1,
            4.0 * se
        );
        assert!(
            (r.coverage - 0.95).abs() <= 4.0 * se,
            "{}: coverage {} (4 SE {:.4})",
            r.analysis,
            r.coverage,
            4.0 * se
        );
    }
}

#[test]
fn direct_leader_statistics_match_employee_rows() {
    let d = DesignSpec {
        leaders: Some(20),
        team_size: Some(6.0),
        team_size_cv: Some(0.3),
        uptake: Some(0.8),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let reps = 3000;
    let fast = trial_power(
        &d,
        &TrialPowerConfig {
            analyses: LEADER_MEANS.to_vec(),
            ..config(reps, 9)
        },
        &[20],
        &[None],
        &|_| {},
    )
    .unwrap();
    let slow = trial_power(
        &d,
        &TrialPowerConfig {
            employee_level: true,
            analyses: LEADER_MEANS.to_vec(),
            ..config(reps, 10)
        },
        &[20],
        &[None],
        &|_| {},
    )
    .unwrap();
    for (f, s) in fast.iter().zip(&slow) {
        let se = (f.mc_se.powi(2) + s.mc_se.powi(2)).sqrt();
        assert!(
            (f.power - s.power).abs() <= 4.0 * se,
            "{}: fast {} slow {}",
            f.analysis,
            f.power,
            s.power
        );
        let se_est = ((f.empirical_sd.powi(2) + s.empirical_sd.powi(2)) / reps as f64).sqrt();
        assert!(
            (f.mean_estimate - s.mean_estimate).abs() <= 4.0 * se_est,
            "{}: mean {} vs {}",
            f.analysis,
            f.mean_estimate,
            s.mean_estimate
        );
        // SD of the estimates: relative SE of an SD is about 1/sqrt(2R).
        let rel = (1.0 / (2.0 * reps as f64)).sqrt() * std::f64::consts::SQRT_2;
        assert!(
            (f.empirical_sd / s.empirical_sd - 1.0).abs() <= 4.0 * rel,
            "{}: sd {} vs {}",
            f.analysis,
            f.empirical_sd,
            s.empirical_sd
        );
    }
}

#[test]
fn thread_count_does_not_change_results() {
    let d = DesignSpec::default().resolve().unwrap();
    // 300 replications: more than one block of the engine, so the block merge is exercised.
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            trial_power(&d, &config(300, 3), &[12, 20], &[Some(5), None], &|_| {}).unwrap()
        })
    };
    assert_eq!(format!("{:?}", run(1)), format!("{:?}", run(4)));
}

/// The power loop fits from per-leader sums; on the same data they must give the arm rows of the
/// row-level analyses (`analyse::mixed_ancova`, `cr2_ancova`, `leader_means_ancova`), which are
/// themselves checked against lmerTest / pbkrtest / clubSandwich / lm.
#[test]
fn leader_sums_give_the_row_level_analyses() {
    use balans_trial::analyse::{
        cr2_ancova, leader_means_ancova, mixed_ancova, Analysis, AncovaScratch, Outcome, WideData,
    };
    use balans_trial::power::{analyse_replication, leader_stats_from_rows, AnalysisScratch};
    use rand::SeedableRng;
    let d = DesignSpec {
        leaders: Some(14),
        team_size: Some(6.0),
        team_size_cv: Some(0.4),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let data = balans_trial::simulate::simulate(
        &d,
        &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(77),
    );
    let leader: Vec<usize> = data
        .employees
        .iter()
        .map(|e| e.leader as usize - 1)
        .collect();
    let arm: Vec<u8> = data.employees.iter().map(|e| e.arm).collect();
    let treated: Vec<bool> = arm.iter().map(|&a| a == 1).collect();
    let pre: Vec<f64> = (0..leader.len()).map(|i| data.score(i, 0, 0)).collect();
    let post: Vec<f64> = (0..leader.len()).map(|i| data.score(i, 1, 0)).collect();
    let wide = WideData {
        leader: &leader,
        n_leaders: 14,
        treated: &treated,
    };
    let outcome = Outcome {
        name: "fssb",
        pre: &pre,
        post: &post,
    };
    let mut sc = AncovaScratch::default();
    let mixed = mixed_ancova(&wide, &outcome, 0.05, &mut sc).unwrap();
    let cr2 = cr2_ancova(&wide, &outcome, 0.05, &mut sc).unwrap().0;
    let means = leader_means_ancova(&wide, &outcome, 0.05, &mut sc)
        .unwrap()
        .0;
    let arm_row = |rows: &[balans_trial::analyse::TidyRow], a: Analysis| {
        rows.iter()
            .find(|r| r.term == "arm" && r.analysis == a)
            .unwrap()
            .clone()
    };
    let want = [
        arm_row(&mixed.rows, Analysis::MixedAncova),
        arm_row(&mixed.rows, Analysis::MixedAncovaKr),
        arm_row(&cr2, Analysis::OlsCr2),
        arm_row(&means, Analysis::LeaderMeans),
    ];
    let stats = leader_stats_from_rows(&leader, &arm, &pre, &post, 14);
    let mut out = Vec::new();
    analyse_replication(
        &stats,
        0.05,
        &LEADER_ANALYSES,
        &mut AnalysisScratch::default(),
        &mut out,
    );
    for ((got, want), name) in out
        .iter()
        .zip(&want)
        .zip(LEADER_ANALYSES.map(PowerAnalysis::name))
    {
        let got = got.unwrap_or_else(|| panic!("{name} failed"));
        for (a, b, what) in [
            (got.estimate, want.estimate, "estimate"),
            (got.std_error, want.std_error, "se"),
            (got.df, want.df, "df"),
            (got.p_value, want.p_value, "p"),
        ] {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{name} {what}: sums {a}, rows {b}"
            );
        }
    }
}

/// The row-level analyses (long model, CACE, simple effects of a disordinal moderator) on the
/// same replications: no failures, and their CIs cover the values they estimate (ITT, ITT/uptake,
/// the effect in each level) within 4 MC SE of 95%.
#[test]
fn row_level_analyses_cover_their_targets() {
    let d = DesignSpec {
        leaders: Some(30),
        team_size: Some(8.0),
        uptake: Some(0.7),
        moderator: Some(balans_trial::design::ModeratorSpec {
            name: "m".into(),
            variable: None,
            share_high: 0.5,
            effects: [-0.3, 0.4],
        }),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let analyses = balans_trial::power::select_analyses(&["all".to_string()], &d).unwrap();
    let reps = 400;
    let rows = trial_power(
        &d,
        &TrialPowerConfig {
            analyses,
            ..config(reps, 12)
        },
        &[30],
        &[None],
        &|_| {},
    )
    .unwrap();
    assert_eq!(rows.len(), 8);
    let se = (0.05 * 0.95 / reps as f64).sqrt();
    for r in &rows {
        // Failed fits are counted, not hidden; they must stay rare.
        assert!(
            r.failed <= reps / 50,
            "{}: {} failed fits",
            r.analysis,
            r.failed
        );
        assert!(
            (r.coverage - 0.95).abs() <= 4.0 * se,
            "{}: coverage {} (truth {})",
            r.analysis,
            r.coverage,
            r.effect
        );
        assert!(
            (r.type1 - 0.05).abs() <= 4.0 * se,
            "{}: type I {}",
            r.analysis,
            r.type1
        );
    }
    let low = rows
        .iter()
        .find(|r| r.analysis == "moderation_low")
        .unwrap();
    let high = rows
        .iter()
        .find(|r| r.analysis == "moderation_high")
        .unwrap();
    assert!((low.effect + 0.3 * 0.7).abs() < 1e-12 && (high.effect - 0.4 * 0.7).abs() < 1e-12);
    let cace = rows.iter().find(|r| r.analysis == "cace").unwrap();
    let itt = rows.iter().find(|r| r.analysis == "mixed_ancova").unwrap();
    assert!((cace.effect - itt.effect / 0.7).abs() < 1e-12);
}

/// The long model `y ~ time*arm + (1|leader) + (1|leader:time) + (1|leader:employee)` covers its
/// target both when leaders' means do not change (leader stability 1, no effect heterogeneity)
/// and when they do (stability .8, effect SD .1).
#[test]
fn the_long_model_covers_with_stable_and_changing_leaders() {
    let spec = |stability: f64, effect_sd: f64| DesignSpec {
        leaders: Some(30),
        team_size: Some(8.0),
        stability_leader: Some(stability),
        effect_sd: Some(effect_sd),
        ..Default::default()
    };
    let reps = 400;
    let se = (0.05 * 0.95 / reps as f64).sqrt();
    let analyses = vec![PowerAnalysis::LongMixed];
    let d = spec(1.0, 0.0).resolve().unwrap();
    let r = &trial_power(
        &d,
        &TrialPowerConfig {
            analyses: analyses.clone(),
            ..config(reps, 13)
        },
        &[30],
        &[None],
        &|_| {},
    )
    .unwrap()[0];
    assert!(
        (r.coverage - 0.95).abs() <= 4.0 * se,
        "coverage {}",
        r.coverage
    );
    assert!((r.type1 - 0.05).abs() <= 4.0 * se, "type I {}", r.type1);
    let d = spec(0.8, 0.1).resolve().unwrap();
    let r = &trial_power(
        &d,
        &TrialPowerConfig {
            analyses,
            ..config(reps, 14)
        },
        &[30],
        &[None],
        &|_| {},
    )
    .unwrap()[0];
    assert!(
        (r.coverage - 0.95).abs() <= 4.0 * se,
        "changing leaders: coverage {}",
        r.coverage
    );
    assert!(
        (r.type1 - 0.05).abs() <= 4.0 * se,
        "changing leaders: type I {}",
        r.type1
    );
}
