//! `plan` against R: PowerUpR's cra2r2 formulas written in base R and R's `pt`/`qt`
//! (scripts/reference/trial_plan.R → tests/reference/plan.json).

use balans_trial::plan::{noncentral_t_cdf, t_quantile, Cra2r2};
use serde_json::Value;

/// R's `pt` (AS 243) and ours follow the same series to an error bound of 1e-12.
const CDF_TOL: f64 = 1e-9;
/// statrs' t quantile against R's `qt`.
const QUANTILE_TOL: f64 = 1e-8;

fn reference() -> Value {
    serde_json::from_str(include_str!("reference/plan.json")).expect("plan.json parses")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[test]
fn noncentral_t_matches_r_pt() {
    let r = reference();
    for row in r["noncentral_t"].as_array().unwrap() {
        let (q, df, ncp) = (f(row, "q"), f(row, "df"), f(row, "ncp"));
        let ours = noncentral_t_cdf(q, df, ncp);
        let theirs = f(row, "cdf");
        assert!(
            (ours - theirs).abs() < CDF_TOL,
            "pt({q}, {df}, {ncp}): R {theirs}, ours {ours}"
        );
    }
}

#[test]
fn t_quantiles_match_r_qt() {
    let r = reference();
    for row in r["t_quantiles"].as_array().unwrap() {
        let (p, df) = (f(row, "p"), f(row, "df"));
        let ours = t_quantile(p, df);
        let theirs = f(row, "q");
        assert!(
            (ours - theirs).abs() < QUANTILE_TOL * theirs.abs().max(1.0),
            "qt({p}, {df}): R {theirs}, ours {ours}"
        );
    }
}

#[test]
fn cra2r2_matches_the_r_formulas() {
    let r = reference();
    for case in r["cases"].as_array().unwrap() {
        let design = Cra2r2 {
            team_size: f(case, "n"),
            icc: f(case, "rho2"),
            r2_employee: f(case, "r21"),
            r2_leader: f(case, "r22"),
            leader_covariates: f(case, "g2") as usize,
            share_trained: f(case, "p"),
            alpha: f(case, "alpha"),
            two_tailed: true,
        };
        let name = case["name"].as_str().unwrap();
        let j = f(case, "J");
        let m = design.mdes(j, f(case, "target")).unwrap();
        for (ours, key) in [
            (m.mdes, "mdes"),
            (m.conf_low, "conf.low"),
            (m.conf_high, "conf.high"),
            (m.df, "df"),
            (m.std_error, "sse"),
        ] {
            let theirs = f(case, key);
            assert!(
                (ours - theirs).abs() < 1e-8 * theirs.abs().max(1.0),
                "{name} {key}: R {theirs}, ours {ours}"
            );
        }
        let es = f(case, "es");
        let power = design.power(j, es).unwrap();
        assert!(
            (power - f(case, "power")).abs() < 1e-8,
            "{name} power: R {}, ours {power}",
            f(case, "power")
        );
        let one = Cra2r2 {
            two_tailed: false,
            ..design
        }
        .power(j, es)
        .unwrap();
        assert!(
            (one - f(case, "power_one_tailed")).abs() < 1e-8,
            "{name} one-tailed power"
        );
        let leaders = design
            .required_leaders(es, f(case, "target"), 100_000)
            .unwrap();
        assert_eq!(
            leaders as i64,
            f(case, "leaders").round() as i64,
            "{name} leaders"
        );
    }
}

#[test]
fn interventions_md_table_values() {
    // docs/INTERVENTIONS.md section C table (PowerUpR formula, one pretest covariate, 80% power).
    let d = Cra2r2 {
        team_size: 9.0,
        icc: 0.1,
        r2_employee: 0.5,
        r2_leader: 0.5,
        leader_covariates: 1,
        ..Cra2r2::default()
    };
    assert!((d.mdes(30.0, 0.8).unwrap().mdes - 0.336).abs() < 5e-4);
    assert!((d.power(30.0, 0.25).unwrap() - 0.55).abs() < 5e-3);
    let wfhn = Cra2r2 {
        team_size: 51.0,
        icc: 0.05,
        ..d
    };
    assert!((wfhn.mdes(30.0, 0.8).unwrap().mdes - 0.197).abs() < 5e-4);
}
