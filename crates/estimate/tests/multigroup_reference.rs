//! Multi-group path analysis against lavaan 0.6-14 (`scripts/reference/multigroup_reference.R`
//! wrote `tests/reference/multigroup_*.json` and the data): estimates and SEs to 1e-6 relative,
//! χ² to 1e-4, for every parameter free and for `group.equal = "regressions"`; `lavTestLRT`;
//! per-path `lavTestWald` equality tests.

use balans_estimate::{
    estimate_multigroup, likelihood_ratio_test, path_equality_tests, AnalysisSpec, GroupEquality,
    GroupMoments, MultiGroupConfig, MultiGroupFit, SampleMoments,
};
use balans_model::parse_model;
use serde_json::Value;

/// Estimates and standard errors, relative (the tolerance).
const EST_REL: f64 = 1e-6;
/// χ² and test statistics, absolute (the tolerance).
const CHISQ_ABS: f64 = 1e-4;

fn reference(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/reference/multigroup_{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
}

/// Groups in order of first appearance, complete rows of the spec's variables.
fn groups(name: &str, spec: &AnalysisSpec) -> Vec<GroupMoments> {
    let path = format!(
        "{}/../../tests/reference/data/multigroup_{name}.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let col = |v: &str| header.iter().position(|h| h == v).unwrap();
    let g = col("context");
    let cols: Vec<usize> = spec.variables().iter().map(|v| col(v)).collect();
    let mut labels: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let label = cells[g].trim_matches('"').to_string();
        let k = labels.iter().position(|l| *l == label).unwrap_or_else(|| {
            labels.push(label);
            rows.push(Vec::new());
            labels.len() - 1
        });
        rows[k].extend(cols.iter().map(|&c| cells[c].parse::<f64>().unwrap()));
    }
    labels
        .into_iter()
        .zip(rows)
        .map(|(label, r)| GroupMoments {
            label,
            moments: SampleMoments::from_rows(&r, cols.len()).unwrap(),
        })
        .collect()
}

fn compare(set: &str, fit: &MultiGroupFit, theirs: &Value) {
    let want = theirs["parameters"].as_array().unwrap();
    let free: Vec<_> = fit.parameters.iter().filter(|p| p.free).collect();
    assert_eq!(
        free.len(),
        want.iter()
            .filter(|w| w["se"].as_f64().unwrap_or(0.0) > 0.0)
            .count(),
        "{set}: parameter count"
    );
    for p in free {
        let w = want
            .iter()
            .find(|w| {
                w["group"].as_u64() == Some(p.group as u64)
                    && w["op"] == p.op
                    && ((w["lhs"] == p.lhs.as_str() && w["rhs"] == p.rhs.as_str())
                        || (w["lhs"] == p.rhs.as_str() && w["rhs"] == p.lhs.as_str()))
            })
            .unwrap_or_else(|| {
                panic!(
                    "{set}: lavaan has no row {} {} {} group {}",
                    p.lhs, p.op, p.rhs, p.group
                )
            });
        let (est, se) = (w["est"].as_f64().unwrap(), w["se"].as_f64().unwrap());
        let ctx = format!(
            "{set} {:?} {}{}{} group {}",
            fit.equal, p.lhs, p.op, p.rhs, p.group
        );
        assert!(
            (p.est - est).abs() <= EST_REL * est.abs().max(se),
            "{ctx}: est {} vs lavaan {est}",
            p.est
        );
        assert!(
            (p.se - se).abs() <= EST_REL * se,
            "{ctx}: se {} vs lavaan {se}",
            p.se
        );
    }
    let chisq = theirs["chisq"].as_f64().unwrap();
    assert!(
        (fit.chisq - chisq).abs() <= CHISQ_ABS,
        "{set} {:?}: chisq {} vs lavaan {chisq}",
        fit.equal,
        fit.chisq
    );
    assert_eq!(
        fit.df as u64,
        theirs["df"].as_u64().unwrap(),
        "{set} {:?}: df",
        fit.equal
    );
}

fn check(set: &str) {
    let r = reference(set);
    let model = parse_model(set, r["model"].as_str().unwrap()).unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    let data = groups(set, &spec);
    let labels: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(
        data.iter().map(|g| g.label.as_str()).collect::<Vec<_>>(),
        labels
    );
    let fit = |equal| {
        estimate_multigroup(
            &spec,
            &data,
            &MultiGroupConfig {
                equal,
                ..MultiGroupConfig::default()
            },
        )
        .unwrap()
    };
    let free = fit(GroupEquality::None);
    let equal = fit(GroupEquality::Regressions);
    compare(set, &free, &r["free"]);
    compare(set, &equal, &r["equal"]);
    let lrt = likelihood_ratio_test(&equal, &free);
    let want = &r["lrt"];
    assert!(
        (lrt.chisq_diff - want["chisq.diff"].as_f64().unwrap()).abs() <= CHISQ_ABS,
        "{set}: {lrt:?}"
    );
    assert_eq!(lrt.df_diff as u64, want["df.diff"].as_u64().unwrap());
    assert!(
        (lrt.pvalue - want["p.value"].as_f64().unwrap()).abs() <= 1e-6,
        "{set}: {lrt:?}"
    );
    let tests = path_equality_tests(&free);
    for w in r["wald"].as_array().unwrap() {
        let t = tests.iter().find(|t| w["path"] == t.path.as_str()).unwrap();
        let stat = w["stat"].as_f64().unwrap();
        assert!(
            (t.statistic - stat).abs() <= CHISQ_ABS.max(1e-6 * stat),
            "{set} {}: {} vs lavaan {stat}",
            t.path,
            t.statistic
        );
        assert_eq!(t.df as u64, w["df"].as_u64().unwrap());
        assert!((t.pvalue - w["p.value"].as_f64().unwrap()).abs() <= 1e-6);
    }
}

#[test]
fn two_groups_mediation_equals_lavaan() {
    check("mediation");
}

#[test]
fn three_groups_parallel_mediators_equal_lavaan() {
    check("parallel");
}

#[test]
fn a_group_with_fewer_cases_than_parameters_is_refused() {
    let model = parse_model("m", "m ~ x\ny ~ m + x").unwrap();
    let spec = AnalysisSpec::from_model(&model).unwrap();
    let rows = |n: usize| -> Vec<f64> {
        (0..n)
            .flat_map(|i| {
                let x = (i as f64 * 0.37).sin();
                [x, 0.5 * x + (i as f64 * 1.3).cos(), (i as f64 * 0.7).sin()]
            })
            .collect()
    };
    let data = vec![
        GroupMoments {
            label: "big".into(),
            moments: SampleMoments::from_rows(&rows(50), 3).unwrap(),
        },
        GroupMoments {
            label: "tiny".into(),
            moments: SampleMoments::from_rows(&rows(4), 3).unwrap(),
        },
    ];
    let e = estimate_multigroup(&spec, &data, &MultiGroupConfig::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("group 'tiny'") && msg.contains("4 cases"),
        "{msg}"
    );
}
