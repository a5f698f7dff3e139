//! Path models with a mean structure (`~ 1`) and equality constraints (shared labels, `a == b`)
//! against lavaan 0.6-14 (`tests/reference/meanstructure_*.json`, written by
//! `scripts/reference/meanstructure_reference.R`: `sem()` with nlminb `rel.tol` down to 1e-14 or
//! BFGS `reltol = 1e-20`, whichever has the smaller projected gradient, `max |K'g| < 1e-8`). Estimates, SEs, z, p-values and Wald intervals to
//! 1e-6 (relative to max(|value|, 1e-2)); fit measures to 1e-4 (relative to max(1, |value|)).

use balans_estimate::sem::{fit_sem_rows, SemConfig, SemOptions, SemSpec};
use balans_estimate::EvalError;
use balans_model::parse_model;
use serde_json::Value;
use std::path::PathBuf;

/// Estimates, SEs, z, p, CI bounds: relative to max(|lavaan|, 1e-2).
const ESTIMATE_RTOL: f64 = 1e-6;
/// Fit measures, relative to max(1, |lavaan|).
const MEASURE_TOL: f64 = 1e-4;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference")
}

fn load(case: &str) -> Value {
    let path = reference_dir().join(format!("meanstructure_{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// The columns `names` of the reference CSV, row-major.
fn load_columns(file: &str, names: &[&str]) -> Vec<f64> {
    let path = reference_dir().join("data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).expect("column"))
        .collect();
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        for &j in &idx {
            out.push(cells[j].parse().expect("number"));
        }
    }
    out
}

fn close(ours: f64, theirs: f64, rtol: f64, floor: f64) -> bool {
    (ours - theirs).abs() <= rtol * theirs.abs().max(floor)
}

/// Fits one case and returns the list of disagreements with lavaan (empty when all agree).
fn check_case(case: &str) -> Vec<String> {
    let r = load(case);
    let model = parse_model(case, r["model"].as_str().unwrap()).expect("model parses");
    let spec = SemSpec::from_model(&model, SemOptions::default()).expect("spec");
    assert!(spec.has_meanstructure() == r["options"]["meanstructure"].as_bool().unwrap());
    let data = load_columns(r["data"].as_str().unwrap(), &spec.observed());
    let fit = fit_sem_rows(&spec, &data, &SemConfig::default()).expect("fit");
    let mut failures = Vec::new();
    assert_eq!(fit.n as u64, r["n"].as_u64().unwrap(), "{case}: n");
    let rows = r["parameters"].as_array().unwrap();
    for row in rows {
        let s = |k: &str| row[k].as_str().unwrap();
        let (lhs, op, rhs) = (s("lhs"), s("op"), s("rhs"));
        let num = |k: &str| row[k].as_f64();
        let est = num("est").unwrap();
        let ours: Vec<(&str, f64, Option<f64>)> = if op == ":=" {
            let e = fit.effects.iter().find(|e| e.name == lhs).expect(lhs);
            vec![
                ("est", e.est, Some(est)),
                ("se", e.std_err, num("se")),
                ("z", e.z, num("z")),
                ("pvalue", e.pvalue, num("pvalue")),
                ("ci.lower", e.ci_lower, num("ci.lower")),
                ("ci.upper", e.ci_upper, num("ci.upper")),
            ]
        } else {
            let q = fit
                .parameters
                .iter()
                .find(|q| {
                    q.op == op
                        && ((q.lhs == lhs && q.rhs == rhs)
                            || (op == "~~" && q.lhs == rhs && q.rhs == lhs))
                })
                .unwrap_or_else(|| panic!("{case}: row {lhs} {op} {rhs} missing"));
            assert_eq!(q.label, s("label"), "{case}: label of {lhs} {op} {rhs}");
            assert_eq!(q.free, num("z").is_some(), "{case}: {lhs} {op} {rhs} free");
            let mut v = vec![
                ("est", q.est, Some(est)),
                ("se", q.std_err, num("se")),
                ("ci.lower", q.ci_lower, num("ci.lower")),
                ("ci.upper", q.ci_upper, num("ci.upper")),
            ];
            if let (Some(z), Some(p)) = (q.z, q.pvalue) {
                v.push(("z", z, num("z")));
                v.push(("pvalue", p, num("pvalue")));
            }
            v
        };
        for (what, o, t) in ours {
            let t = t.unwrap_or_else(|| panic!("{case}: {lhs} {op} {rhs} {what} is NA"));
            // p-values near 0 are compared absolutely (lavaan prints 0 below 1e-300).
            let floor = if what == "pvalue" { 1.0 } else { 1e-2 };
            if !close(o, t, ESTIMATE_RTOL, floor) {
                failures.push(format!("{lhs} {op} {rhs} {what}: ours {o} lavaan {t}"));
            }
        }
    }
    // Every row of ours is in lavaan's table (no extra rows).
    let n_rows = rows.iter().filter(|r| r["op"] != ":=").count();
    assert_eq!(fit.parameters.len(), n_rows, "{case}: number of rows");
    let fm = &r["fit"];
    let m = &fit.measures;
    for (name, ours) in [
        ("npar", m.npar as f64),
        ("chisq", m.chisq),
        ("df", m.df as f64),
        ("pvalue", m.pvalue.unwrap_or(f64::NAN)),
        ("cfi", m.cfi),
        ("tli", m.tli),
        ("rmsea", m.rmsea),
        ("srmr", m.srmr),
        ("aic", m.aic),
        ("bic", m.bic),
        ("logl", m.logl),
    ] {
        let theirs = fm[name].as_f64().unwrap();
        if !close(ours, theirs, MEASURE_TOL, 1.0) {
            failures.push(format!("fitMeasures {name}: ours {ours} lavaan {theirs}"));
        }
    }
    failures
}

fn assert_case(case: &str) {
    let failures = check_case(case);
    assert!(
        failures.is_empty(),
        "{case}: {} disagreements with lavaan:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// (a) A mediation with `m ~ 1`, `y ~ 1`: intercept rows, exogenous means (fixed at the sample
/// means), χ² and df as without the (saturated) mean structure.
#[test]
fn intercepts_in_a_mediation_equal_lavaan() {
    assert_case("intercepts");
}

/// (b) `m ~ c*x1 + c*x2`: one estimate for both paths, df + 1.
#[test]
fn shared_label_equals_lavaan() {
    assert_case("shared");
}

/// (c) `a == b` across two regressions and `i1 == i2` across two labelled intercepts.
#[test]
fn explicit_equalities_and_equal_intercepts_equal_lavaan() {
    assert_case("equalities");
}

/// Shared labels on loadings and on residual variances of a two-factor CFA
/// (HolzingerSwineford1939): the same reparametrisation in the latent-variable model.
#[test]
fn shared_labels_in_a_latent_model_equal_lavaan() {
    assert_case("latent_shared");
}

/// The constrained fit is a different model from the unconstrained one: dropping the `==`
/// lines changes χ², df and the estimates (a guard that the constraints are not ignored).
#[test]
fn constraints_change_the_fit() {
    let r = load("equalities");
    let text = r["model"].as_str().unwrap();
    let free: String = text
        .lines()
        .filter(|l| !l.contains("=="))
        .collect::<Vec<_>>()
        .join("\n");
    let spec_c =
        SemSpec::from_model(&parse_model("c", text).unwrap(), SemOptions::default()).unwrap();
    let spec_f =
        SemSpec::from_model(&parse_model("f", &free).unwrap(), SemOptions::default()).unwrap();
    assert_eq!(spec_c.df(), spec_f.df() + 2);
    assert_eq!(spec_c.npar() + 2, spec_f.npar());
    assert_eq!(spec_c.n_free(), spec_f.n_free());
    let data = load_columns("meanstructure.csv", &spec_c.observed());
    let c = fit_sem_rows(&spec_c, &data, &SemConfig::default()).unwrap();
    let f = fit_sem_rows(&spec_f, &data, &SemConfig::default()).unwrap();
    let a = |fit: &balans_estimate::sem::SemFit, rhs: &str| {
        fit.parameters
            .iter()
            .find(|q| q.op == "~" && q.rhs == rhs && q.lhs != "x2")
            .unwrap()
            .est
    };
    assert!((a(&c, "x1") - a(&c, "m")).abs() < 1e-12);
    assert!((a(&f, "x1") - a(&f, "m")).abs() > 1e-3);
    assert!(c.measures.chisq > f.measures.chisq + 1e-3);
}

/// A label on a fixed parameter cannot be constrained: a clear error, not a silent fit.
#[test]
fn constraint_on_a_fixed_parameter_is_refused() {
    let model = parse_model("m", "f =~ v1*x1 + x2 + x3\nx2 ~~ v1*x2").unwrap();
    let err = SemSpec::from_model(&model, SemOptions::default()).unwrap_err();
    assert!(
        matches!(&err, EvalError::EqualityConstraints { reason } if reason.contains("fixed")),
        "{err}"
    );
}

/// The covariance-only path estimator cannot impose equality constraints: it refuses them with a
/// message naming them, instead of fitting the unconstrained model.
#[test]
fn path_estimator_refuses_equality_constraints() {
    for (text, names) in [
        ("m ~ c*x1 + c*x2\ny ~ b*m", "label 'c' on 2 parameters"),
        ("m ~ a*x1\ny ~ b*m\na == b", "a == b"),
    ] {
        let model = parse_model("t", text).unwrap();
        let err = balans_estimate::AnalysisSpec::from_model(&model).unwrap_err();
        assert!(
            matches!(&err, EvalError::EqualityConstraints { reason } if reason.contains(names)),
            "{err}"
        );
    }
}
