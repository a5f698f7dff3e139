//! Meta-analysis against metafor 3.8-1 (`scripts/reference/metafor_reference.R` wrote
//! `tests/reference/metafor_*.json`; REML converged to 1e-12 there and here).

use balans_transport::{meta_analyse, MetaConfig, Study, TauMethod};
use serde_json::Value;

/// Relative tolerance for every number metafor reports (estimates, SEs, τ², I², H², Q, p-values).
const REL: f64 = 1e-8;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/reference/metafor_{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

fn studies(v: &Value) -> Vec<Study> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| Study {
            label: d["study"].as_str().unwrap().to_string(),
            yi: d["yi"].as_f64().unwrap(),
            vi: d["vi"].as_f64().unwrap(),
        })
        .collect()
}

fn check(set: &str, what: &str, got: f64, want: f64, ctx: &str) {
    let scale = want.abs().max(1e-300);
    assert!(
        ((got - want) / scale).abs() < REL || (got - want).abs() < 1e-13,
        "{set} {ctx} {what}: balans {got:e}, metafor {want:e}"
    );
}

fn compare(set: &str) {
    let v = load(set);
    let data = studies(&v);
    for fit in v["fits"].as_array().unwrap() {
        let method = match fit["method"].as_str().unwrap() {
            "FE" => TauMethod::FE,
            "DL" => TauMethod::DL,
            _ => TauMethod::REML,
        };
        let knha = fit["knha"].as_bool().unwrap();
        let config = MetaConfig {
            method,
            knapp_hartung: knha,
            ..MetaConfig::default()
        };
        let r = meta_analyse(&data, &config).unwrap();
        let ctx = format!("{method:?} knha={knha}");
        let f = |k: &str| fit[k].as_f64().unwrap();
        check(set, "b", r.estimate, f("b"), &ctx);
        check(set, "se", r.std_error, f("se"), &ctx);
        check(set, "zval", r.statistic, f("zval"), &ctx);
        check(set, "pval", r.p_value, f("pval"), &ctx);
        check(set, "ci.lb", r.conf_low, f("ci.lb"), &ctx);
        check(set, "ci.ub", r.conf_high, f("ci.ub"), &ctx);
        check(set, "tau2", r.tau2, f("tau2"), &ctx);
        if let Some(se) = fit["se.tau2"].as_f64() {
            check(set, "se.tau2", r.se_tau2.unwrap(), se, &ctx);
        }
        check(set, "I2", r.i2, f("I2"), &ctx);
        check(set, "H2", r.h2, f("H2"), &ctx);
        check(set, "QE", r.qe, f("QE"), &ctx);
        check(set, "QEp", r.qe_p, f("QEp"), &ctx);
        check(set, "pi.lb", r.pi_lb, f("pi.lb"), &ctx);
        check(set, "pi.ub", r.pi_ub, f("pi.ub"), &ctx);
        for (w, want) in r.weights.iter().zip(fit["weights"].as_array().unwrap()) {
            check(set, "weight", *w, want.as_f64().unwrap(), &ctx);
        }
    }
}

#[test]
fn bcg_equals_metafor() {
    compare("bcg");
}

#[test]
fn molloy2014_fisher_z_equals_metafor() {
    let v = load("molloy2014");
    // The r/n input gives metafor's escalc("ZCOR") yi and vi.
    for d in v["data"].as_array().unwrap() {
        let s =
            balans_transport::fisher_z("x", d["ri"].as_f64().unwrap(), d["ni"].as_f64().unwrap())
                .unwrap();
        assert!((s.yi - d["yi"].as_f64().unwrap()).abs() < 1e-14);
        assert!((s.vi - d["vi"].as_f64().unwrap()).abs() < 1e-15);
    }
    compare("molloy2014");
}

#[test]
fn normand1999_equals_metafor() {
    compare("normand1999");
}

#[test]
fn homogeneous_studies_equal_metafor_at_the_boundary() {
    compare("homogeneous");
}

#[test]
fn three_studies_equal_metafor() {
    compare("three");
}

/// Scoring cycles on these 20 site estimates; the bisection fallback finds metafor's (step-halved)
/// REML solution.
#[test]
fn cycling_scoring_falls_back_to_the_reml_root() {
    compare("cycling");
}

/// The printed dat.bcg values (metafor README and its test file), to the digits given.
#[test]
fn bcg_printed_values() {
    let data = studies(&load("bcg"));
    // Printed to `d` decimals, as metafor prints.
    let printed = |x: f64, d: usize, want: &str| {
        assert_eq!(format!("{x:.d$}"), want, "{x} printed to {d} decimals");
    };
    let fit = |method, knapp_hartung| {
        meta_analyse(
            &data,
            &MetaConfig {
                method,
                knapp_hartung,
                ..MetaConfig::default()
            },
        )
        .unwrap()
    };
    let reml = fit(TauMethod::REML, false);
    printed(reml.estimate, 4, "-0.7145");
    printed(reml.tau2, 4, "0.3132");
    printed(reml.se_tau2.unwrap(), 4, "0.1664");
    printed(reml.i2, 2, "92.22");
    printed(reml.h2, 2, "12.86");
    let dl = fit(TauMethod::DL, false);
    printed(dl.estimate, 4, "-0.7141");
    printed(dl.conf_low, 4, "-1.0644");
    printed(dl.conf_high, 4, "-0.3638");
    printed(dl.tau2, 4, "0.3088");
    let fe = fit(TauMethod::FE, false);
    printed(fe.estimate, 4, "-0.4303");
    printed(fe.qe, 4, "152.2330");
    let kh = fit(TauMethod::REML, true);
    printed(kh.std_error, 4, "0.1808");
    printed(kh.conf_low, 4, "-1.1084");
    printed(kh.conf_high, 4, "-0.3206");
}

#[test]
fn bad_input_is_refused_with_the_study_named() {
    let one = vec![Study {
        label: "a".into(),
        yi: 0.1,
        vi: 0.01,
    }];
    // One study: metafor 3.8-1 `rma(0.1, 0.01, test = "knha")` warns 'Setting argument test="z"
    // since k=1' and returns b = 0.1, se = 0.1, tau2 = 0, QE = 0, I2 = 0, H2 = 1.
    let r = meta_analyse(
        &one,
        &MetaConfig {
            knapp_hartung: true,
            ..MetaConfig::default()
        },
    )
    .unwrap();
    assert!((r.estimate - 0.1).abs() < 1e-15 && (r.std_error - 0.1).abs() < 1e-15);
    assert!(r.tau2 == 0.0 && r.qe == 0.0 && r.i2 == 0.0 && (r.h2 - 1.0).abs() < 1e-15);
    assert!(!r.knha && r.df.is_none() && r.se_tau2.is_none());
    assert!(r.notes[0].contains("k = 1"), "{:?}", r.notes);
    let e = meta_analyse(&[], &MetaConfig::default()).unwrap_err();
    assert!(e.to_string().contains("0 studies given but 1"), "{e}");
    let neg = vec![
        Study {
            label: "a".into(),
            yi: 0.1,
            vi: 0.01,
        },
        Study {
            label: "Smith 2020".into(),
            yi: 0.2,
            vi: -0.02,
        },
    ];
    let e = meta_analyse(&neg, &MetaConfig::default()).unwrap_err();
    assert!(
        e.to_string().contains("Smith 2020") && e.to_string().contains("-0.02"),
        "{e}"
    );
}
