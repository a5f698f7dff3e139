//! Cluster-robust standard errors against lavaan 0.6-14 `sem(..., cluster = "team")`
//! (`tests/reference/robust_cluster.json`, from `scripts/reference/robust_cluster_reference.R`,
//! lavaan refitted with BFGS at reltol 1e-20).

mod common;

use balans_estimate::{
    estimate_clustered, estimate_with, sem::Information, AnalysisSpec, EstimateConfig,
    SampleMoments,
};
use balans_model::parse_model;

/// Relative tolerance (of max(|value|, SE)) for estimates and robust SEs against lavaan.
const RTOL: f64 = 1e-6;

fn rows_of(spec: &AnalysisSpec) -> (Vec<f64>, Vec<u64>) {
    let (header, values) = common::load_csv("clustered.csv");
    let w = header.len();
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    let cols: Vec<usize> = spec.variables().iter().map(|v| col(v)).collect();
    let team = col("team");
    let n = values.len() / w;
    let rows = (0..n)
        .flat_map(|i| cols.iter().map(move |&c| (i, c)))
        .map(|(i, c)| values[i * w + c])
        .collect();
    let cluster = (0..n).map(|i| values[i * w + team] as u64).collect();
    (rows, cluster)
}

#[test]
fn robust_cluster_standard_errors_equal_lavaan() {
    let reference = common::load_case("robust_cluster");
    for case in ["mediation", "seed"] {
        let r = &reference[case];
        assert_eq!(r["se"], "robust.cluster");
        let model = parse_model(case, r["model"].as_str().expect("model")).expect("model parses");
        let spec = AnalysisSpec::from_model(&model).expect("spec");
        let (rows, cluster) = rows_of(&spec);
        let fit = estimate_clustered(
            &spec,
            &rows,
            &cluster,
            &EstimateConfig::default(),
            Information::Observed,
        )
        .expect("fit");
        let mut compared = 0;
        for want in r["parameters"].as_array().expect("rows") {
            let (lhs, op, rhs) = (
                want["lhs"].as_str().unwrap(),
                want["op"].as_str().unwrap(),
                want["rhs"].as_str().unwrap(),
            );
            let (est, se) = if op == ":=" {
                let e = fit
                    .effects
                    .iter()
                    .find(|e| e.name == lhs)
                    .unwrap_or_else(|| panic!("{case}: effect {lhs}"));
                (e.est, e.std_err)
            } else {
                let p = fit
                    .parameters
                    .iter()
                    .find(|p| p.lhs == lhs && p.op == op && p.rhs == rhs && p.free)
                    .unwrap_or_else(|| panic!("{case}: {lhs} {op} {rhs}"));
                (p.est, p.std_err)
            };
            let (west, wse) = (want["est"].as_f64().unwrap(), want["se"].as_f64().unwrap());
            let scale = west.abs().max(wse);
            assert!(
                (est - west).abs() <= RTOL * scale,
                "{case} {lhs}{op}{rhs}: est {est} vs lavaan {west}"
            );
            assert!(
                (se - wse).abs() <= RTOL * scale,
                "{case} {lhs}{op}{rhs}: se {se} vs lavaan {wse}"
            );
            compared += 1;
        }
        assert!(compared >= 7, "{case}: {compared} rows compared");
    }
}

#[test]
fn clustering_changes_standard_errors_not_estimates() {
    let model = parse_model("m", "eng ~ cm + rm\nperf ~ eng + cm\n").expect("model");
    let spec = AnalysisSpec::from_model(&model).expect("spec");
    let (rows, cluster) = rows_of(&spec);
    let naive = estimate_with(
        &spec,
        &SampleMoments::from_rows(&rows, 4).expect("moments"),
        &EstimateConfig::default(),
    )
    .expect("fit");
    let robust = estimate_clustered(
        &spec,
        &rows,
        &cluster,
        &EstimateConfig::default(),
        Information::Observed,
    )
    .expect("fit");
    for (a, b) in naive.parameters.iter().zip(&robust.parameters) {
        assert_eq!(a.est.to_bits(), b.est.to_bits());
    }
    assert!(naive
        .parameters
        .iter()
        .zip(&robust.parameters)
        .any(|(a, b)| (a.std_err - b.std_err).abs() > 1e-4));
    // One cluster per row is the heteroscedasticity-robust (HC0·N/(N−1)) case; one cluster is refused.
    let one = vec![1u64; cluster.len()];
    assert!(estimate_clustered(
        &spec,
        &rows,
        &one,
        &EstimateConfig::default(),
        Information::Observed
    )
    .is_err());
}
