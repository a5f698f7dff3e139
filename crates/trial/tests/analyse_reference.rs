//! Every analysis against R (lme4 + lmerTest, pbkrtest, clubSandwich, lm, AER) on the data sets
//! of scripts/reference/trial_reference.R: estimates and SEs to 1e-6 relative, df to 1e-4.

mod common;

use balans_trial::analyse::{
    cr2_ancova, leader_means_ancova, mixed_ancova, moderation, Analysis, AncovaScratch, Outcome,
    WideData,
};
use common::*;

const SETS: [&str; 3] = ["balanced", "unbalanced", "small"];
const OUTCOMES: [&str; 2] = ["fssb", "wfc"];

fn same(t: &str) -> String {
    t.to_string()
}

fn for_each_outcome(mut f: impl FnMut(&str, &str, &Data, &serde_json::Value)) {
    for set in SETS {
        let d = data(set);
        let r = reference(set);
        for y in OUTCOMES {
            f(set, y, &d, &r[y]);
        }
    }
}

#[test]
fn mixed_ancova_equals_lmertest_and_pbkrtest() {
    let mut scratch = AncovaScratch::default();
    for_each_outcome(|set, y, d, r| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let pre = format!("{y}_pre");
        let post = format!("{y}_post");
        let outcome = Outcome {
            name: y,
            pre: d.col(&pre),
            post: d.col(&post),
        };
        let out = mixed_ancova(&wide, &outcome, 0.05, &mut scratch).expect("fit");
        let what = format!("{set}/{y}");
        assert_eq!(
            Some(out.count.used as u64),
            r["n_used"].as_u64(),
            "{what} rows used"
        );
        let sat: Vec<_> = out
            .rows
            .iter()
            .filter(|r| r.analysis == Analysis::MixedAncova)
            .cloned()
            .collect();
        let kr: Vec<_> = out
            .rows
            .iter()
            .filter(|r| r.analysis == Analysis::MixedAncovaKr)
            .cloned()
            .collect();
        compare_rows(
            &sat,
            &r["mixed_satterthwaite"],
            &same,
            &format!("{what} Satterthwaite"),
        );
        compare_rows(&kr, &r["mixed_kr"], &same, &format!("{what} Kenward-Roger"));
        assert_rel(
            out.fit.sigma2_cluster,
            num(&r["mixed_varcomp"]["leader"]),
            REL_TOL,
            &format!("{what} σ²_b"),
        );
        assert_rel(
            out.fit.sigma2_resid,
            num(&r["mixed_varcomp"]["Residual"]),
            REL_TOL,
            &format!("{what} σ²_e"),
        );
        assert_rel(
            out.fit.reml_criterion,
            num(&r["mixed_reml_criterion"]),
            1e-9,
            &format!("{what} REML criterion"),
        );
    });
}

#[test]
fn cr2_ancova_equals_clubsandwich() {
    let mut scratch = AncovaScratch::default();
    for_each_outcome(|set, y, d, r| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let (pre, post) = (format!("{y}_pre"), format!("{y}_post"));
        let outcome = Outcome {
            name: y,
            pre: d.col(&pre),
            post: d.col(&post),
        };
        let (rows, count) = cr2_ancova(&wide, &outcome, 0.05, &mut scratch).expect("fit");
        assert_eq!(Some(count.used as u64), r["n_used"].as_u64());
        compare_rows(&rows, &r["ols_cr2"], &same, &format!("{set}/{y} CR2"));
    });
}

#[test]
fn leader_means_ancova_equals_lm() {
    let mut scratch = AncovaScratch::default();
    for_each_outcome(|set, y, d, r| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let (pre, post) = (format!("{y}_pre"), format!("{y}_post"));
        let outcome = Outcome {
            name: y,
            pre: d.col(&pre),
            post: d.col(&post),
        };
        let (rows, count) = leader_means_ancova(&wide, &outcome, 0.05, &mut scratch).expect("fit");
        assert_eq!(Some(count.leaders as u64), r["n_leaders"].as_u64());
        compare_rows(
            &rows,
            &r["leader_means"],
            &same,
            &format!("{set}/{y} leader means"),
        );
    });
}

#[test]
fn moderation_equals_lmertest_contest1d() {
    let mut scratch = AncovaScratch::default();
    for_each_outcome(|set, y, d, r| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let (pre, post) = (format!("{y}_pre"), format!("{y}_post"));
        let outcome = Outcome {
            name: y,
            pre: d.col(&pre),
            post: d.col(&post),
        };
        let (rows, _) =
            moderation(&wide, &outcome, "mod", d.col("mod"), 0.05, &mut scratch).expect("fit");
        let rename = |t: &str| match t {
            "mod1" => "mod1".to_string(),
            "armmod1" => "arm:mod1".to_string(),
            other => other.to_string(),
        };
        compare_rows(
            &rows,
            &r["moderation"],
            &rename,
            &format!("{set}/{y} moderation"),
        );
    });
}

/// The long layout of a wide reference data set (fssb): rows pre then post.
fn long_of(d: &Data) -> (Vec<usize>, Vec<usize>, Vec<bool>, Vec<f64>, Vec<f64>) {
    let (leader, treated) = (d.leader(), d.treated());
    let n = leader.len();
    let emp: Vec<usize> = d.col("employee").iter().map(|&v| v as usize).collect();
    let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, col) in [(0.0, "fssb_pre"), (1.0, "fssb_post")] {
        for i in 0..n {
            out.0.push(leader[i]);
            out.1.push(emp[i]);
            out.2.push(treated[i]);
            out.3.push(t);
            out.4.push(d.col(col)[i]);
        }
    }
    out
}

#[test]
fn long_layout_equals_lmertest() {
    for set in SETS {
        let d = data(set);
        let r = &reference(set)["long"];
        let (leader, employee, treated, time, y) = long_of(&d);
        let long = balans_trial::analyse::LongData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            employee: &employee,
            treated: &treated,
            time: &time,
            y: &y,
        };
        let out = balans_trial::analyse::long_mixed(&long, "fssb", 0.05).expect("fit");
        assert_eq!(Some(out.count.used as u64), r["n_used"].as_u64());
        let what = format!("{set} long");
        compare_rows(&out.rows, &r["rows"], &same, &what);
        let vc = &r["varcomp"];
        assert_rel(
            out.fit.psi[0],
            num(&vc["leader"]),
            REL_TOL,
            &format!("{what} σ²_leader"),
        );
        assert_rel(
            out.fit.psi[1],
            num(&vc["employee"]),
            REL_TOL,
            &format!("{what} σ²_employee"),
        );
        assert_rel(
            out.fit.psi[2],
            num(&vc["Residual"]),
            REL_TOL,
            &format!("{what} σ²_e"),
        );
        assert_rel(
            out.fit.reml_criterion,
            num(&r["reml_criterion"]),
            1e-9,
            &format!("{what} REML"),
        );
    }
}

fn outcome<'a>(d: &'a Data, y: &'a str, pre: &'a str, post: &'a str) -> Outcome<'a> {
    Outcome {
        name: y,
        pre: d.col(pre),
        post: d.col(post),
    }
}

#[test]
fn mediation_paths_equal_lm_and_the_monte_carlo_ci_agrees_with_r() {
    use balans_trial::analyse::{mediation, MediationConfig};
    for set in SETS {
        let d = data(set);
        let r = &reference(set)["mediation"];
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let draws = 400_000;
        let config = MediationConfig {
            alpha: 0.05,
            draws,
            seed: 7,
        };
        let out = mediation(
            &wide,
            &outcome(&d, "fssb", "fssb_pre", "fssb_post"),
            &outcome(&d, "eng", "eng_pre", "eng_post"),
            &outcome(&d, "perf", "perf_pre", "perf_post"),
            &config,
        )
        .expect("mediation");
        assert_eq!(Some(out.count.used as u64), r["n_used"].as_u64());
        for (row, key) in out.rows.iter().zip(["a", "d", "b"]) {
            let what = format!("{set} mediation {key}");
            assert_rel(row.estimate, num(&r[key]["estimate"]), REL_TOL, &what);
            assert_rel(row.std_error, num(&r[key]["std.error"]), REL_TOL, &what);
            assert_abs(row.df, num(&r[key]["df"]), DF_TOL, &what);
        }
        let ind = &out.rows[3];
        assert_rel(ind.estimate, num(&r["indirect"]), REL_TOL, "indirect");
        // Monte Carlo error of a percentile q̂_p: sqrt(p(1−p)/R)/f(q_p), with the density f
        // estimated from the spread of R's and balans's intervals (a conservative 1/f bound
        // from the interval width over the normal quantile spacing).
        let r_draws = num(&r["mc_draws"]);
        let (lo, hi) = (num(&r["mc_ci"][0]), num(&r["mc_ci"][1]));
        let inv_density = (hi - lo) / (2.0 * 1.959964)
            * (2.0 * std::f64::consts::PI).sqrt()
            * (1.959964f64.powi(2) / 2.0).exp();
        let se = |n: f64| (0.025 * 0.975 / n).sqrt() * inv_density;
        let tol = 4.0 * (se(draws as f64).powi(2) + se(r_draws).powi(2)).sqrt();
        assert_abs(ind.conf_low, lo, tol, &format!("{set} MC CI low"));
        assert_abs(ind.conf_high, hi, tol, &format!("{set} MC CI high"));
    }
}

#[test]
fn cace_equals_clubsandwich_on_ivreg() {
    use balans_trial::analyse::{cace, ols::Cr2Fit};
    let mut cr2 = Cr2Fit::default();
    for_each_outcome(|set, y, d, r| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let (pre, post) = (format!("{y}_pre"), format!("{y}_post"));
        let out = cace(
            &wide,
            &outcome(d, y, &pre, &post),
            "uptake",
            d.col("uptake"),
            0.05,
            &mut cr2,
        )
        .expect("cace");
        compare_rows(&out.rows, &r["cace"], &same, &format!("{set}/{y} CACE"));
    });
}
