//! Monte Carlo checks of the trial simulator: the training's effect on every variable is the
//! population model's total effect from FSSB times the FSSB shift; the moderator's levels get
//! their own effects; MAR attrition has its average rate. Tolerances are 4 Monte Carlo SEs
//! computed from the same data (leader-level, so the clustering is respected).

use balans_trial::design::DesignSpec;
use balans_trial::simulate::{simulate, TrialData};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Mean and SE over leaders of the per-leader mean post − pre change, by arm, for variable `v`,
/// among employees passing `keep`.
fn change_by_arm(data: &TrialData, v: usize, keep: impl Fn(usize) -> bool) -> [(f64, f64); 2] {
    let leaders = data.employees.iter().map(|e| e.leader).max().unwrap() as usize;
    let mut sum = vec![0.0; leaders];
    let mut n = vec![0usize; leaders];
    let mut arm = vec![0u8; leaders];
    for (i, e) in data.employees.iter().enumerate() {
        let d = data.score(i, 1, v) - data.score(i, 0, v);
        if d.is_nan() || !keep(i) {
            continue;
        }
        let j = e.leader as usize - 1;
        sum[j] += d;
        n[j] += 1;
        arm[j] = e.arm;
    }
    let mut out = [(0.0, 0.0); 2];
    for (a, slot) in out.iter_mut().enumerate() {
        let means: Vec<f64> = (0..leaders)
            .filter(|&j| arm[j] as usize == a && n[j] > 0)
            .map(|j| sum[j] / n[j] as f64)
            .collect();
        let k = means.len() as f64;
        let m = means.iter().sum::<f64>() / k;
        let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
        *slot = (m, (var / k).sqrt());
    }
    out
}

fn effect(data: &TrialData, v: usize, keep: impl Fn(usize) -> bool) -> (f64, f64) {
    let [c, t] = change_by_arm(data, v, keep);
    (t.0 - c.0, (t.1 * t.1 + c.1 * c.1).sqrt())
}

#[test]
fn effects_propagate_through_the_population_model() {
    for (model, seed) in [("seed-composite", 11), ("seed", 12)] {
        let spec = DesignSpec {
            model: Some(model.into()),
            leaders: Some(600),
            team_size: Some(10.0),
            effect: Some(0.3),
            effect_sd: Some(0.1),
            attrition: Some(0.0),
            ..Default::default()
        };
        let d = spec.resolve().unwrap();
        let expected = d.expected_effects();
        // The expected effect is the total effect times the shift (stated independently here).
        let total = d.population().effects().total;
        for (v, e) in expected.iter().enumerate() {
            let manual: f64 = d
                .fssb()
                .iter()
                .map(|&f| if f == v { 0.3 } else { 0.3 * total[(v, f)] })
                .sum();
            assert!(
                (e - manual).abs() < 1e-12,
                "{model} {}: {e} vs {manual}",
                d.variables()[v]
            );
        }
        let data = simulate(&d, &mut Xoshiro256PlusPlus::seed_from_u64(seed));
        for (v, name) in d.variables().iter().enumerate() {
            let (est, se) = effect(&data, v, |_| true);
            assert!(
                (est - expected[v]).abs() <= 4.0 * se,
                "{model} {name}: simulated {est:.4} ± {se:.4}, expected {:.4} (seed {seed})",
                expected[v]
            );
        }
    }
}

#[test]
fn uptake_and_shock_scale_the_itt_effect() {
    let spec = DesignSpec {
        leaders: Some(600),
        team_size: Some(10.0),
        effect: Some(0.4),
        uptake: Some(0.6),
        attrition: Some(0.0),
        shock: Some(balans_trial::design::ShockSpec {
            share_after: 0.5,
            effect_survives: 0.2,
        }),
        ..Default::default()
    };
    let d = spec.resolve().unwrap();
    let itt = d.expected_itt_effects();
    assert!((itt[0] - 0.4 * 0.6 * 0.6).abs() < 1e-12);
    let data = simulate(&d, &mut Xoshiro256PlusPlus::seed_from_u64(21));
    let (est, se) = effect(&data, 0, |_| true);
    assert!(
        (est - itt[0]).abs() <= 4.0 * se,
        "ITT {est} ± {se}, expected {}",
        itt[0]
    );
}

#[test]
fn a_disordinal_moderator_gets_its_effect_in_each_level() {
    let spec = DesignSpec {
        leaders: Some(600),
        team_size: Some(10.0),
        attrition: Some(0.0),
        moderator: Some(balans_trial::design::ModeratorSpec {
            name: "conflict_high".into(),
            variable: Some("wfc".into()),
            share_high: 0.5,
            effects: [-0.3, 0.3],
        }),
        ..Default::default()
    };
    let d = spec.resolve().unwrap();
    let data = simulate(&d, &mut Xoshiro256PlusPlus::seed_from_u64(31));
    for (level, want) in [(false, -0.3), (true, 0.3)] {
        let (est, se) = effect(&data, 0, |i| {
            data.employees[i].moderator_high == Some(level)
        });
        assert!(
            (est - want).abs() <= 4.0 * se,
            "level {level}: {est} ± {se}, expected {want}"
        );
    }
    let high = data
        .employees
        .iter()
        .filter(|e| e.moderator_high == Some(true))
        .count() as f64
        / data.employees.len() as f64;
    assert!((high - 0.5).abs() < 0.05, "share high {high}");
}

#[test]
fn mar_attrition_has_its_rate_and_depends_on_the_baseline() {
    let spec = DesignSpec {
        leaders: Some(200),
        team_size: Some(10.0),
        attrition: Some(0.25),
        attrition_mar: Some("wfc".into()),
        attrition_strength: Some(1.0),
        ..Default::default()
    };
    let d = spec.resolve().unwrap();
    let data = simulate(&d, &mut Xoshiro256PlusPlus::seed_from_u64(41));
    let wfc = d.population().index_of("wfc").unwrap();
    let n = data.employees.len() as f64;
    let lost: Vec<bool> = data
        .employees
        .iter()
        .map(|e| e.observed_waves == 1)
        .collect();
    let rate = lost.iter().filter(|&&l| l).count() as f64 / n;
    // Losses are independent given the baseline score, whose leader-level part (ICC .05) barely
    // correlates them; the binomial SE is used.
    let se = (0.25 * 0.75 / n).sqrt();
    assert!((rate - 0.25).abs() <= 4.0 * se, "rate {rate}, SE {se}");
    let mean_pre = |want: bool| {
        let v: Vec<f64> = (0..data.employees.len())
            .filter(|&i| lost[i] == want)
            .map(|i| data.score(i, 0, wfc))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(
        mean_pre(true) > mean_pre(false) + 0.3,
        "lost employees had higher baseline wfc"
    );
}
