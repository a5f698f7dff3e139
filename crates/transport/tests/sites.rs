//! Many-site simulation: operating characteristics checked against what is known exactly —
//! the Q-test's type I error when τ = 0, the DL estimator's point mass at 0, REML's unbiasedness
//! for τ² with K ≥ 20 — with tolerances of 4 Monte Carlo standard errors.

use balans_model::parse_model;
use balans_power::{EffectSelection, Study};
use balans_transport::sites::{simulate_sites, PathVariation, SiteDesign, SitesConfig, SitesRow};
use balans_transport::{MetaConfig, TauMethod};

const MODEL: &str = "m ~ a*x\ny ~ b*m + x\nind := a*b";

fn study(text: &str) -> Study {
    let model = parse_model(
        "sites",
        &text.replace("a*x", "0.4*x").replace("b*m", "0.3*m"),
    )
    .unwrap_or_else(|_| parse_model("sites", text).unwrap());
    Study::new(&model, None, &EffectSelection::All).unwrap()
}

fn row<'a>(rows: &'a [SitesRow], term: &str) -> &'a SitesRow {
    rows.iter().find(|r| r.term == term).unwrap_or_else(|| {
        panic!(
            "no row {term}; rows: {:?}",
            rows.iter().map(|r| &r.term).collect::<Vec<_>>()
        )
    })
}

fn within(p_hat: f64, p: f64, r: usize, what: &str, seed: u64) {
    let mcse = (p * (1.0 - p) / r as f64).sqrt();
    assert!(
        (p_hat - p).abs() <= 4.0 * mcse,
        "{what}: {p_hat} vs {p} (R = {r}, 4 MC SE = {}, seed {seed})",
        4.0 * mcse
    );
}

/// χ²(df) distribution function at x (regularised lower gamma), via the library's upper tail.
fn pchisq(x: f64, df: f64) -> f64 {
    1.0 - balans_transport::pchisq_upper(x, df)
}

#[test]
fn no_heterogeneity_gives_nominal_q_test_and_dl_point_mass() {
    let s = study("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x");
    let design = SiteDesign {
        sites: 10,
        n: vec![300],
        variation: vec![],
    };
    let config = SitesConfig {
        replications: 600,
        seed: 11,
        meta: MetaConfig {
            method: TauMethod::DL,
            ..MetaConfig::default()
        },
        ..SitesConfig::default()
    };
    let report = simulate_sites(&s, &design, &config, &|_| {}).unwrap();
    assert_eq!(report.failed_replications, 0);
    for term in ["m~x", "y~m", "y~x"] {
        let r = row(&report.rows, term);
        assert_eq!(r.replications, 600);
        within(
            r.power_q,
            0.05,
            600,
            &format!("{term}: Q-test type I error"),
            11,
        );
        // DL's τ̂² is 0 exactly when Q ≤ K − 1.
        within(
            r.share_tau2_zero,
            pchisq(9.0, 9.0),
            600,
            &format!("{term}: P(tau2 = 0)"),
            11,
        );
        // I² ≈ 0: its median is 0 (more than half of the replications have Q ≤ K − 1).
        assert!(r.share_tau2_zero > 0.5, "{term}: {r:?}");
        assert_eq!(r.true_tau2, Some(0.0));
    }
    // The route from pooled paths: unbiased, its delta-method CI covers at the nominal rate.
    let p = row(&report.rows, "x->m->y (pooled paths)");
    assert!((p.estimate - 0.12).abs() <= 4.0 * p.mcse_estimate, "{p:?}");
    within(p.coverage, 0.95, 600, "pooled-path route: coverage", 11);
}

#[test]
fn reml_tau2_is_unbiased_for_a_known_tau_with_20_sites() {
    let s = study("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x");
    let tau = 0.1;
    let design = SiteDesign {
        sites: 24,
        n: vec![250],
        variation: vec![PathVariation {
            path: "m~x".into(),
            tau,
            moderator_slope: 0.0,
        }],
    };
    let config = SitesConfig {
        replications: 400,
        seed: 5,
        ..SitesConfig::default()
    };
    let report = simulate_sites(&s, &design, &config, &|_| {}).unwrap();
    let r = row(&report.rows, "m~x");
    assert_eq!(r.true_tau2, Some(tau * tau));
    assert!(
        (r.tau2 - tau * tau).abs() <= 4.0 * r.mcse_tau2,
        "REML tau2 mean {} vs {} (4 MC SE = {}, R = 400, seed 5)",
        r.tau2,
        tau * tau,
        4.0 * r.mcse_tau2
    );
    // The mean effect is unbiased too, and the Q-test detects this heterogeneity nearly always.
    assert!((r.estimate - 0.4).abs() <= 4.0 * r.mcse_estimate, "{r:?}");
    assert!(r.power_q > 0.9, "{r:?}");
    // A path that does not vary stays homogeneous: its Q-test keeps its level.
    let y = row(&report.rows, "y~m");
    within(y.power_q, 0.05, 400, "y~m: Q-test type I error", 5);
}

#[test]
fn moderator_adds_its_slope_squared_and_results_do_not_depend_on_threads() {
    let s = study("m ~ 0.4*x\ny ~ 0.3*m + 0.1*x");
    let design = SiteDesign {
        sites: 8,
        n: vec![150, 200, 250, 300, 150, 200, 250, 300],
        variation: vec![PathVariation {
            path: "y~m".into(),
            tau: 0.05,
            moderator_slope: 0.1,
        }],
    };
    let config = SitesConfig {
        replications: 40,
        seed: 3,
        ..SitesConfig::default()
    };
    // The library runs in the ambient pool: the caller chooses the threads.
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| simulate_sites(&s, &design, &config, &|_| {}).unwrap())
    };
    let (one, two) = (on(1), on(2));
    // Same bytes (NaN-safe: the pooled-path rows have no τ²).
    assert_eq!(
        serde_json::to_string(&one.rows).unwrap(),
        serde_json::to_string(&two.rows).unwrap()
    );
    let r = row(&one.rows, "y~m");
    assert!((r.true_tau2.unwrap() - 0.0125).abs() < 1e-15);
    // The indirect route is meta-analysed too.
    assert!(one
        .rows
        .iter()
        .any(|r| r.kind == "indirect" && r.term == "x->m->y"));
}

#[test]
fn bad_designs_are_refused() {
    let s = study(MODEL);
    let config = SitesConfig {
        replications: 2,
        ..SitesConfig::default()
    };
    let one_site = SiteDesign {
        sites: 1,
        n: vec![100],
        variation: vec![],
    };
    let e = simulate_sites(&s, &one_site, &config, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("1 studies given but 2"), "{e}");
    let unknown = SiteDesign {
        sites: 5,
        n: vec![100],
        variation: vec![PathVariation {
            path: "y~z".into(),
            tau: 0.1,
            moderator_slope: 0.0,
        }],
    };
    let e = simulate_sites(&s, &unknown, &config, &|_| {}).unwrap_err();
    assert!(
        e.to_string().contains("unknown effect 'y~z'") && e.to_string().contains("m~x"),
        "{e}"
    );
    let small = SiteDesign {
        sites: 5,
        n: vec![3],
        variation: vec![],
    };
    assert!(simulate_sites(&s, &small, &config, &|_| {}).is_err());
}
