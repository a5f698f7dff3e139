//! The long model with a leader-by-time component,
//! `y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee)`, and the model
//! without it (stable leader means), against lmerTest 3.1-3 (Satterthwaite) and pbkrtest 0.5.2
//! (Kenward–Roger) on five data sets: scripts/reference/trial_long_time_reference.R →
//! tests/reference/trial_long_time.json (lme4 fits converged with bobyqa, rhoend = 1e-12, and a
//! boundary fit put exactly on 0).
//!
//! Tolerances: estimates, SEs, variance components and df to `LONG_REL_TOL` = 1e-6 relative (R's
//! fits stop at |∇ deviance| ≈ 1e-5 in θ, which moves these by ~1e-7); the REML criterion to 1e-9
//! relative, and never above R's by more than that (balans's optimum is at least as good).

mod common;

use balans_trial::analyse::{
    long_mixed, long_mixed_dense, long_stable_leader, wide_to_long, Components, LongData, TidyRow,
    WideData,
};
use common::{assert_rel, data, num, reference_dir, rows, Data};
use serde_json::Value;

const LONG_REL_TOL: f64 = 1e-6;

/// Long columns of a reference set: wide sets pivoted (outcome fssb), long sets read as they are.
struct Long {
    leader: Vec<usize>,
    employee: Vec<usize>,
    treated: Vec<bool>,
    time: Vec<f64>,
    y: Vec<f64>,
    n_leaders: usize,
}

impl Long {
    fn view(&self) -> LongData<'_> {
        LongData {
            leader: &self.leader,
            n_leaders: self.n_leaders,
            employee: &self.employee,
            treated: &self.treated,
            time: &self.time,
            y: &self.y,
        }
    }
}

fn long_of(set: &str) -> Long {
    let d: Data = data(set);
    let (leader, treated) = (d.leader(), d.treated());
    let n_leaders = d.n_leaders();
    if d.columns.contains_key("time") {
        return Long {
            employee: d.col("employee").iter().map(|&v| v as usize).collect(),
            time: d.col("time").to_vec(),
            y: d.col("y").to_vec(),
            leader,
            treated,
            n_leaders,
        };
    }
    let employee: Vec<usize> = if d.columns.contains_key("employee") {
        d.col("employee").iter().map(|&v| v as usize).collect()
    } else {
        (0..leader.len()).collect()
    };
    let wide = WideData {
        leader: &leader,
        n_leaders,
        treated: &treated,
    };
    let outcome = balans_trial::analyse::Outcome {
        name: "fssb",
        pre: d.col("fssb_pre"),
        post: d.col("fssb_post"),
    };
    let c = wide_to_long(&wide, &outcome, &employee);
    Long {
        leader: c.leader,
        employee: c.employee,
        treated: c.treated,
        time: c.time,
        y: c.y,
        n_leaders,
    }
}

fn reference() -> Value {
    let path = reference_dir().join("trial_long_time.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("reference json")).expect("json")
}

const SETS: [&str; 5] = [
    "balanced",
    "unbalanced",
    "singular",
    "long_time",
    "long_near_zero",
];

fn compare(got: &[TidyRow], want: &Value, what: &str) {
    let want = rows(want);
    assert_eq!(want.len(), 4, "{what}");
    for (term, est, se, df) in want {
        let row = got
            .iter()
            .find(|r| r.term == term)
            .unwrap_or_else(|| panic!("{what}: no row {term}"));
        let scale_est = est.abs().max(se);
        assert!(
            (row.estimate - est).abs() <= LONG_REL_TOL * scale_est,
            "{what} {term} estimate: got {:.12e}, R {est:.12e}",
            row.estimate
        );
        assert_rel(
            row.std_error,
            se,
            LONG_REL_TOL,
            &format!("{what} {term} SE"),
        );
        assert_rel(row.df, df, LONG_REL_TOL, &format!("{what} {term} df"));
    }
}

fn compare_fit(psi: [f64; 4], crit: f64, r: &Value, with_time: bool, what: &str) {
    let vc = &r["varcomp"];
    let want = [
        num(&vc["leader"]),
        if with_time {
            num(&vc["leader:time"])
        } else {
            0.0
        },
        num(&vc["leader:employee"]),
        num(&vc["Residual"]),
    ];
    for (i, name) in ["leader", "leader:time", "employee", "residual"]
        .iter()
        .enumerate()
    {
        if want[i] == 0.0 {
            assert!(psi[i] == 0.0, "{what} σ²_{name}: got {}, R 0", psi[i]);
        } else {
            assert_rel(psi[i], want[i], LONG_REL_TOL, &format!("{what} σ²_{name}"));
        }
    }
    let rc = num(&r["reml_criterion"]);
    assert_rel(crit, rc, 1e-9, &format!("{what} REML criterion"));
    assert!(
        crit <= rc + 1e-9 * rc.abs(),
        "{what}: {crit} above R's {rc}"
    );
}

#[test]
fn leader_time_model_equals_lmertest_and_pbkrtest() {
    let reference = reference();
    for set in SETS {
        let long = long_of(set);
        let r = &reference[set]["leader_time"];
        let fit = long_mixed(&long.view(), "y", 0.05).unwrap_or_else(|e| panic!("{set}: {e}"));
        assert_eq!(
            Some(fit.count.used as u64),
            reference[set]["n_used"].as_u64(),
            "{set}"
        );
        let what = format!("{set} leader×time");
        compare(
            &fit.rows,
            &r["satterthwaite"],
            &format!("{what} Satterthwaite"),
        );
        compare(
            &fit.kr_rows,
            &r["kenward_roger"],
            &format!("{what} Kenward-Roger"),
        );
        compare_fit(fit.fit.psi, fit.fit.reml_criterion, r, true, &what);
    }
}

#[test]
fn stable_leader_model_equals_lmertest_and_pbkrtest() {
    let reference = reference();
    for set in SETS {
        let long = long_of(set);
        let r = &reference[set]["stable_leader"];
        let fit = long_stable_leader(&long.view(), "y", 0.05).unwrap_or_else(|e| panic!("{e}"));
        let what = format!("{set} stable leader");
        compare(
            &fit.rows,
            &r["satterthwaite"],
            &format!("{what} Satterthwaite"),
        );
        compare(
            &fit.kr_rows,
            &r["kenward_roger"],
            &format!("{what} Kenward-Roger"),
        );
        compare_fit(fit.fit.psi, fit.fit.reml_criterion, r, false, &what);
    }
}

/// The closed-form engine against the dense one (`n_j × n_j` matrices, derivatives from the
/// matrices themselves): the same fit to 1e-8 relative.
#[test]
fn closed_forms_equal_the_dense_engine() {
    for set in ["unbalanced", "long_time"] {
        let long = long_of(set);
        for components in [Components::LEADER_TIME, Components::stable_leader()] {
            let fast = if components.leader_time {
                long_mixed(&long.view(), "y", 0.05)
            } else {
                long_stable_leader(&long.view(), "y", 0.05)
            }
            .expect("fit");
            let (rows, dense) =
                long_mixed_dense(&long.view(), "y", 0.05, components).expect("dense");
            for (a, b) in fast.rows.iter().zip(&rows) {
                let what = format!("{set} {components:?} {}", a.term);
                assert_rel(a.estimate, b.estimate, 1e-8, &format!("{what} estimate"));
                assert_rel(a.std_error, b.std_error, 1e-8, &format!("{what} SE"));
                assert_rel(a.df, b.df, 1e-7, &format!("{what} df"));
            }
            assert_rel(
                fast.fit.reml_criterion,
                dense.reml_criterion,
                1e-10,
                &format!("{set} REML"),
            );
        }
    }
}
