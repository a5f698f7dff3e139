//! Interval coverage is tested, not assumed: the 95% Wald interval of a regression path covers the
//! population value as often as the exact finite-sample theory says.
//!
//! Exact coverage: with one predictor and ML standard errors (residual variance RSS/N),
//! `(β̂ − β)/SE_ML = t·sqrt(N/(N − 2))` with `t ~ t(N − 2)` given the predictor, so the coverage of
//! `β̂ ± 1.96·SE_ML` is `P(|t(N − 2)| ≤ 1.96·sqrt((N − 2)/N))` (slightly below .95 for small N).
//! Bounds: `|ĉ − c| ≤ 4·sqrt(c(1 − c)/R)`.

use balans_model::parse_model;
use balans_power::{power_curve, EffectSelection, PowerConfig, Sampling, Study};
use statrs::distribution::{ContinuousCDF, StudentsT};

fn exact_wald_coverage(n: usize) -> f64 {
    let df = (n - 2) as f64;
    let t = StudentsT::new(0.0, 1.0, df).unwrap();
    let crit = 1.959_963_984_540_054 * (df / n as f64).sqrt();
    t.cdf(crit) - t.cdf(-crit)
}

fn check_coverage(replications: usize, ns: &[usize], seed: u64) {
    let model = parse_model("test", "y ~ 0.3*x\n").unwrap();
    let study = Study::new(&model, None, &EffectSelection::All).unwrap();
    for sampling in [Sampling::Wishart, Sampling::Rows] {
        let config = PowerConfig {
            replications,
            seed,
            sampling,
            ..PowerConfig::default()
        };
        let rows = power_curve(&study, &config, ns, &|_| {}).unwrap();
        for &n in ns {
            let r = rows
                .iter()
                .find(|r| r.n == n && r.effect == "y~x" && r.test == balans_power::Test::Wald)
                .unwrap();
            let c = exact_wald_coverage(n);
            let bound = 4.0 * (c * (1.0 - c) / replications as f64).sqrt();
            let got = r.coverage.unwrap();
            assert!(
                (got - c).abs() <= bound,
                "{sampling:?} N={n}: coverage {got}, exact {c:.4}, R = {replications}, seed {seed}, bound {bound:.4}"
            );
        }
    }
}

#[test]
fn wald_interval_coverage_matches_exact_theory() {
    check_coverage(4000, &[20, 60, 200], 5);
}

#[test]
#[ignore = "long (R = 100,000): run with cargo xtask validate"]
fn wald_interval_coverage_matches_exact_theory_long() {
    check_coverage(100_000, &[12, 20, 40, 100, 400], 17);
}
