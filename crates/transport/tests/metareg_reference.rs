//! The nine τ² estimators and meta-regression against metafor 3.8-1
//! (`scripts/reference/meta_reference.R` wrote `tests/reference/meta_*.json`, every fit converged
//! with `control = list(threshold = 1e-12, maxiter = 1000, tol = 1e-12)`; balans uses the same
//! thresholds).
//!
//! Tolerances, each `|balans − metafor| ≤ tol · max(1, |metafor|)`: [`ESTIMATE_TOL`] for
//! coefficients, standard errors, test statistics, intervals and predictions; [`FIT_TOL`] for fit
//! measures (τ², its SE, I², H², QE, QM, R², p-values, weights, degrees of freedom).

use balans_transport::{
    meta_analyse, meta_regress, Design, MetaConfig, Moderator, RegressionConfig, Study, TauMethod,
};
use serde_json::Value;

/// Coefficients, SEs, statistics, intervals, predictions.
const ESTIMATE_TOL: f64 = 1e-6;
/// Fit measures (τ², I², H², QE, QM, R², p-values, weights).
const FIT_TOL: f64 = 1e-4;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/reference/meta_{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

fn method(name: &str) -> TauMethod {
    match name {
        "FE" => TauMethod::FE,
        "DL" => TauMethod::DL,
        "REML" => TauMethod::REML,
        "ML" => TauMethod::ML,
        "PM" => TauMethod::PM,
        "HE" => TauMethod::HE,
        "SJ" => TauMethod::SJ,
        "EB" => TauMethod::EB,
        "HS" => TauMethod::HS,
        other => panic!("unknown method {other}"),
    }
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

/// The moderators of the script's formula (`~ ablat + factor(alloc)`, `~ factor(region)`).
fn moderators(v: &Value) -> Vec<Moderator> {
    let Some(formula) = v["mods"].as_str() else {
        return Vec::new();
    };
    let data = v["data"].as_array().unwrap();
    formula
        .trim_start_matches('~')
        .split('+')
        .map(str::trim)
        .map(|term| {
            if let Some(name) = term
                .strip_prefix("factor(")
                .and_then(|t| t.strip_suffix(')'))
            {
                Moderator::Categorical {
                    name: name.into(),
                    values: data
                        .iter()
                        .map(|d| d[name].as_str().unwrap().to_string())
                        .collect(),
                }
            } else {
                Moderator::Continuous {
                    name: term.into(),
                    values: data.iter().map(|d| d[term].as_f64().unwrap()).collect(),
                }
            }
        })
        .collect()
}

struct Checker {
    set: &'static str,
    ctx: String,
    worst_estimate: f64,
    worst_fit: f64,
}

impl Checker {
    fn check(&mut self, what: &str, got: f64, want: f64, tol: f64) {
        let dev = (got - want).abs() / want.abs().max(1.0);
        if tol == ESTIMATE_TOL {
            self.worst_estimate = self.worst_estimate.max(dev);
        } else {
            self.worst_fit = self.worst_fit.max(dev);
        }
        assert!(
            dev <= tol,
            "{} {} {what}: balans {got:e}, metafor {want:e} (deviation {dev:e} > {tol:e})",
            self.set,
            self.ctx
        );
    }
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn compare(set: &'static str) {
    let v = load(set);
    let data = studies(&v);
    let mods = moderators(&v);
    let mut c = Checker {
        set,
        ctx: String::new(),
        worst_estimate: 0.0,
        worst_fit: 0.0,
    };
    let mut fits = 0;
    for fit in v["fits"].as_array().unwrap() {
        let m = method(fit["method"].as_str().unwrap());
        let knha = fit["knha"].as_bool().unwrap();
        let intercept_only = fit["intercept_only"].as_bool().unwrap_or(mods.is_empty());
        c.ctx = format!("{m:?} knha={knha} intercept_only={intercept_only}");
        let design = if intercept_only {
            Design::intercept(data.len())
        } else {
            Design::new(data.len(), &mods).unwrap()
        };
        let config = RegressionConfig {
            method: m,
            knapp_hartung: knha,
            level: 0.95,
        };
        if let Some(why) = fit["error"].as_str() {
            // metafor stopped (e.g. FE, DL, PM, HS with a variance of 0): balans refuses too.
            let e = meta_regress(&data, &design, &config).expect_err(why);
            assert!(
                e.to_string().contains("vi = 0"),
                "{set} {}: {e} (metafor: {why})",
                c.ctx
            );
            continue;
        }
        let r = meta_regress(&data, &design, &config)
            .unwrap_or_else(|e| panic!("{set} {}: {e}", c.ctx));
        let coefs = fit["coefficients"].as_array().unwrap();
        assert_eq!(r.coefficients.len(), coefs.len(), "{set} {}", c.ctx);
        for (ours, theirs) in r.coefficients.iter().zip(coefs) {
            assert_eq!(ours.term, theirs["term"].as_str().unwrap());
            let f = |k: &str| theirs[k].as_f64().unwrap();
            c.check("estimate", ours.estimate, f("estimate"), ESTIMATE_TOL);
            c.check("se", ours.std_error, f("se"), ESTIMATE_TOL);
            c.check("zval", ours.statistic, f("zval"), ESTIMATE_TOL);
            c.check("ci.lb", ours.conf_low, f("ci.lb"), ESTIMATE_TOL);
            c.check("ci.ub", ours.conf_high, f("ci.ub"), ESTIMATE_TOL);
            c.check("pval", ours.p_value, f("pval"), FIT_TOL);
        }
        let f = |k: &str| fit[k].as_f64().unwrap();
        c.check("tau2", r.tau2, f("tau2"), FIT_TOL);
        match opt(&fit["se.tau2"]) {
            Some(se) => c.check("se.tau2", r.se_tau2.unwrap(), se, FIT_TOL),
            None => assert!(r.se_tau2.is_none(), "{set} {}", c.ctx),
        }
        // metafor's NA (a variance of 0) is balans' None.
        for (key, ours) in [("I2", r.i2), ("H2", r.h2), ("QE", r.qe), ("QEp", r.qe_p)] {
            match opt(&fit[key]) {
                Some(want) => c.check(key, ours.unwrap(), want, FIT_TOL),
                None => assert!(ours.is_none(), "{set} {} {key}: {ours:?}", c.ctx),
            }
        }
        c.check("QEdf", r.qe_df as f64, f("QEdf"), FIT_TOL);
        if intercept_only {
            assert!(r.qm.is_none() && r.r2.is_none());
        } else {
            c.check("QM", r.qm.unwrap(), f("QM"), FIT_TOL);
            c.check("QMp", r.qm_p.unwrap(), f("QMp"), FIT_TOL);
            let (m1, m2) = r.qm_df.unwrap();
            let df = fit["QMdf"].as_array().unwrap();
            c.check("QMdf1", m1 as f64, df[0].as_f64().unwrap(), FIT_TOL);
            assert_eq!(m2.map(|d| d as f64), df[1].as_f64());
            c.check("R2", r.r2.unwrap(), f("R2"), FIT_TOL);
        }
        for (w, want) in r.weights.iter().zip(fit["weights"].as_array().unwrap()) {
            c.check("weight", *w, want.as_f64().unwrap(), FIT_TOL);
        }
        for pred in fit["predictions"].as_array().unwrap() {
            let at: Vec<(String, String)> = pred["at"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_string),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let row = design.new_row(&at).unwrap();
            let p = r.predict("", &row);
            let g = |k: &str| pred[k].as_f64().unwrap();
            c.check("pred", p.pred, g("pred"), ESTIMATE_TOL);
            c.check("pred.se", p.se, g("se"), ESTIMATE_TOL);
            c.check("pred.ci.lb", p.ci_lb, g("ci.lb"), ESTIMATE_TOL);
            c.check("pred.ci.ub", p.ci_ub, g("ci.ub"), ESTIMATE_TOL);
            c.check("pred.pi.lb", p.pi_lb, g("pi.lb"), ESTIMATE_TOL);
            c.check("pred.pi.ub", p.pi_ub, g("pi.ub"), ESTIMATE_TOL);
        }
        // The intercept-only API gives the same numbers (and refuses a variance of 0, where
        // Q, I² and H² are undefined).
        if intercept_only && data.iter().any(|s| s.vi == 0.0) {
            let e = meta_analyse(&data, &MetaConfig::default()).unwrap_err();
            assert!(e.to_string().contains("vi = 0"), "{e}");
        } else if intercept_only {
            let a = meta_analyse(
                &data,
                &MetaConfig {
                    method: m,
                    knapp_hartung: knha,
                    ..MetaConfig::default()
                },
            )
            .unwrap();
            c.check(
                "meta_analyse b",
                a.estimate,
                coefs[0]["estimate"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
            c.check(
                "meta_analyse se",
                a.std_error,
                coefs[0]["se"].as_f64().unwrap(),
                ESTIMATE_TOL,
            );
        }
        fits += 1;
    }
    // Printed with --nocapture: how close balans came, under the stated tolerances.
    println!(
        "{set}: {fits} fits, largest deviation {:.1e} (estimates, SEs, predictions) and {:.1e} (fit measures)",
        c.worst_estimate, c.worst_fit
    );
}

#[test]
fn bcg_meta_regression_with_a_continuous_and_a_categorical_moderator_equals_metafor() {
    compare("bcg_mods");
}

#[test]
fn two_studies_equal_metafor_for_every_method() {
    compare("two");
}

#[test]
fn a_variance_near_zero_equals_metafor() {
    compare("tiny_vi");
}

#[test]
fn a_variance_of_zero_fits_as_metafor_where_metafor_fits() {
    compare("zero_vi");
}

#[test]
fn normand_with_a_binary_factor_equals_metafor() {
    compare("normand");
}

/// metafor refuses a model matrix that is not of full rank (balans names the coefficient); a
/// one-level factor has no contrast; too few studies for p + 1 parameters.
#[test]
fn unusable_designs_are_refused_with_the_reason() {
    let g = |v: &[&str]| Moderator::Categorical {
        name: "g".into(),
        values: v.iter().map(|s| s.to_string()).collect(),
    };
    let e = Design::new(3, &[g(&["a", "a", "a"])]).unwrap_err();
    assert!(e.to_string().contains("at least two levels"), "{e}");
    let x = Moderator::Continuous {
        name: "x".into(),
        values: vec![1.0, 0.0, 1.0, 0.0],
    };
    let e = Design::new(4, &[g(&["b", "a", "b", "a"]), x]).unwrap_err();
    assert!(e.to_string().contains("coefficient 'x'"), "{e}");
    let studies: Vec<Study> = (0..2)
        .map(|i| Study {
            label: format!("s{i}"),
            yi: f64::from(i),
            vi: 0.1,
        })
        .collect();
    let design = Design::new(2, &[g(&["a", "b"])]).unwrap();
    let e = meta_regress(
        &studies,
        &design,
        &RegressionConfig {
            method: TauMethod::REML,
            knapp_hartung: false,
            level: 0.95,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs at least 3 studies"), "{e}");
}

/// Every estimate equal: Q = 0 and τ² = 0 under every estimator, as metafor (which prints
/// tau^2 = 0, QE = 0); Knapp–Hartung is refused because it would scale the SE to 0.
#[test]
fn equal_estimates_give_tau2_zero_and_knapp_hartung_is_refused() {
    let studies: Vec<Study> = [0.01, 0.02, 0.03]
        .iter()
        .enumerate()
        .map(|(i, &vi)| Study {
            label: format!("s{i}"),
            yi: 0.0,
            vi,
        })
        .collect();
    for m in [
        TauMethod::FE,
        TauMethod::DL,
        TauMethod::REML,
        TauMethod::ML,
        TauMethod::PM,
        TauMethod::HE,
        TauMethod::SJ,
        TauMethod::EB,
        TauMethod::HS,
    ] {
        let config = MetaConfig {
            method: m,
            ..MetaConfig::default()
        };
        let r = meta_analyse(&studies, &config).unwrap();
        assert!(
            r.tau2 == 0.0 && r.qe.abs() < 1e-300 && r.i2 == 0.0,
            "{m:?}: {r:?}"
        );
        // metafor: se = 1/sqrt(sum(1/vi)) = 0.0738548945875996 for these variances.
        assert!((r.std_error - 0.0738548945875996).abs() < 1e-15, "{m:?}");
        let e = meta_analyse(
            &studies,
            &MetaConfig {
                knapp_hartung: true,
                ..config
            },
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("use the z test instead"),
            "{m:?}: {e}"
        );
    }
}
