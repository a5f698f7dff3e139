//! Cluster-robust fits against lavaan 0.6-14 `sem(model, data, cluster = "team")` with its
//! defaults (observed information; Yuan–Bentler scaled test) and with `information = "expected"`:
//! `tests/reference/cluster_reference.json` from `scripts/reference/cluster_reference.R` (50
//! simulated teams, `tests/reference/cluster_teams.csv`; lavaan converged with nlminb at
//! rel.tol = 1e-14, its largest gradient element ≤ 2e-7).

mod common;

use balans_estimate::{estimate_clustered, sem::Information, AnalysisSpec, EstimateConfig};
use balans_model::parse_model;
use serde_json::Value;

/// Relative tolerance (of max(|value|, 1e-3)) of estimates and robust SEs against lavaan.
const RTOL: f64 = 1e-6;
/// Tolerance of fit measures against lavaan, relative to max(1, |value|).
const MEASURE_TOL: f64 = 1e-4;

fn data_for(spec: &AnalysisSpec) -> (Vec<f64>, Vec<u64>) {
    let (header, values) = common::load_csv("../cluster_teams.csv");
    let w = header.len();
    let team = header.iter().position(|h| h == "team").expect("team");
    let rows = common::select_columns(&header, &values, spec.variables());
    let cluster = values.chunks(w).map(|r| r[team] as u64).collect();
    (rows, cluster)
}

fn close(got: f64, want: f64, tol: f64, scale: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(scale)
}

fn check_case(name: &str, information: Information) {
    let reference = common::load_case("cluster_reference");
    let r = &reference[name];
    assert_eq!(r["se"], "robust.cluster");
    let model = parse_model(name, r["model"].as_str().expect("model")).expect("model parses");
    let spec = AnalysisSpec::from_model(&model).expect("spec");
    let (rows, cluster) = data_for(&spec);
    let fit = estimate_clustered(
        &spec,
        &rows,
        &cluster,
        &EstimateConfig::default(),
        information,
    )
    .expect("fit");
    let mut compared = 0;
    for want in r["parameters"].as_array().expect("rows") {
        let field = |k: &str| want[k].as_str().expect("text");
        let (lhs, op, rhs) = (field("lhs"), field("op"), field("rhs"));
        let (est, se) = if op == ":=" {
            let e = fit
                .effects
                .iter()
                .find(|e| e.name == lhs)
                .unwrap_or_else(|| panic!("{name}: effect {lhs}"));
            (e.est, e.std_err)
        } else {
            let p = fit
                .parameters
                .iter()
                .find(|p| {
                    p.op == op
                        && ((p.lhs == lhs && p.rhs == rhs)
                            || (op == "~~" && p.lhs == rhs && p.rhs == lhs))
                })
                .unwrap_or_else(|| panic!("{name}: {lhs} {op} {rhs}"));
            (p.est, p.std_err)
        };
        let (want_est, want_se) = (want["est"].as_f64().unwrap(), want["se"].as_f64().unwrap());
        assert!(
            close(est, want_est, RTOL, 1e-3),
            "{name} {lhs} {op} {rhs}: est {est} vs lavaan {want_est}"
        );
        assert!(
            close(se, want_se, RTOL, 1e-3),
            "{name} {lhs} {op} {rhs}: se {se} vs lavaan {want_se} (rel {:.2e})",
            (se - want_se) / want_se
        );
        compared += 1;
    }
    assert!(compared >= 9, "{name}: {compared} rows compared");
    let robust = fit.robust.as_ref().expect("cluster-robust result");
    assert_eq!(robust.clusters, r["nclusters"].as_u64().unwrap() as usize);
    assert_eq!(robust.information, information);
    let m: &Value = &r["measures"];
    let t = &robust.test;
    let pairs = [
        ("chisq", Some(fit.measures.chisq)),
        ("baseline.chisq", Some(fit.measures.baseline_chisq)),
        ("chisq.scaled", t.chisq_scaled),
        ("chisq.scaling.factor", t.chisq_scaling_factor),
        ("pvalue.scaled", t.pvalue_scaled),
        ("baseline.chisq.scaled", t.baseline_chisq_scaled),
        (
            "baseline.chisq.scaling.factor",
            t.baseline_chisq_scaling_factor,
        ),
        ("cfi.robust", t.cfi_robust),
        ("tli.robust", t.tli_robust),
        ("rmsea.robust", t.rmsea_robust),
    ];
    for (key, got) in pairs {
        let want = m[key].as_f64().unwrap_or_else(|| panic!("{key}"));
        let got = got.unwrap_or_else(|| panic!("{name}: {key} missing"));
        assert!(
            close(got, want, MEASURE_TOL, 1.0),
            "{name} {key}: {got} vs lavaan {want}"
        );
    }
}

#[test]
fn observed_information_cluster_fits_equal_lavaans_defaults() {
    check_case("chain_observed", Information::Observed);
    check_case("sur_observed", Information::Observed);
}

#[test]
fn expected_information_cluster_fits_equal_lavaan() {
    check_case("chain_expected", Information::Expected);
    check_case("sur_expected", Information::Expected);
}

/// The two informations give different SEs on an over-identified model (the reason the choice is
/// a flag): at least one robust SE differs by more than 0.1%.
#[test]
fn observed_and_expected_information_differ_on_an_overidentified_model() {
    let reference = common::load_case("cluster_reference");
    let model = parse_model(
        "chain",
        reference["chain_observed"]["model"].as_str().unwrap(),
    )
    .expect("model");
    let spec = AnalysisSpec::from_model(&model).expect("spec");
    let (rows, cluster) = data_for(&spec);
    let config = EstimateConfig::default();
    let obs = estimate_clustered(&spec, &rows, &cluster, &config, Information::Observed).unwrap();
    let exp = estimate_clustered(&spec, &rows, &cluster, &config, Information::Expected).unwrap();
    let largest = obs
        .parameters
        .iter()
        .zip(&exp.parameters)
        .filter(|(a, _)| a.free)
        .map(|(a, b)| (a.std_err / b.std_err - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(largest > 1e-3, "largest relative SE difference {largest}");
}
