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

#[test]
fn long_layout_equals_lmertest() {
    for set in SETS {
        let d = data(set);
        let r = &reference(set)["long"];
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let employee: Vec<usize> = d.col("employee").iter().map(|&v| v as usize).collect();
        let cols = balans_trial::analyse::wide_to_long(
            &wide,
            &outcome(&d, "fssb", "fssb_pre", "fssb_post"),
            &employee,
        );
        let long = cols.as_data(d.n_leaders());
        let out = balans_trial::analyse::long_stable_leader(&long, "fssb", 0.05).expect("fit");
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
            out.fit.psi[2],
            num(&vc["employee"]),
            REL_TOL,
            &format!("{what} σ²_employee"),
        );
        assert_rel(
            out.fit.psi[3],
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
        // the dense engine, an independent implementation, agrees with R too
        let (dense_rows, dense) = balans_trial::analyse::long_mixed_dense(
            &long,
            "fssb",
            0.05,
            balans_trial::analyse::Components::stable_leader(),
        )
        .expect("dense fit");
        compare_rows(
            &dense_rows,
            &r["rows"],
            &same,
            &format!("{what} (dense engine)"),
        );
        assert_rel(
            dense.psi[1],
            num(&vc["employee"]),
            REL_TOL,
            &format!("{what} dense σ²_u"),
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

#[test]
fn effect_sizes_iccs_and_balance_equal_r() {
    use balans_trial::analyse::{analyse_all, AnalyseConfig, AnalysisPlan};
    for set in SETS {
        let d = data(set);
        let r = reference(set);
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let plan = AnalysisPlan {
            data: wide,
            outcomes: vec![
                outcome(&d, "fssb", "fssb_pre", "fssb_post"),
                outcome(&d, "wfc", "wfc_pre", "wfc_post"),
                outcome(&d, "eng", "eng_pre", "eng_post"),
                outcome(&d, "perf", "perf_pre", "perf_post"),
            ],
            moderator: Some(("mod", d.col("mod"))),
            uptake: Some(("uptake", d.col("uptake"))),
            mediation: Some([0, 2, 3]),
        };
        let config = AnalyseConfig {
            mediation_draws: 2000,
            ..AnalyseConfig::default()
        };
        let report = analyse_all(&plan, &config).expect("report");
        assert!(report.failures.is_empty(), "{set}: {:?}", report.failures);
        for y in OUTCOMES {
            let what = format!("{set}/{y}");
            let ry = &r[y];
            let d_row = report
                .rows
                .iter()
                .find(|row| row.outcome == y && row.analysis == Analysis::EffectSize)
                .expect("d row");
            assert_rel(d_row.estimate, num(&ry["d"]), REL_TOL, &format!("{what} d"));
            for (var, key) in [("pre", "icc_pre"), ("post", "icc_post")] {
                let icc = report
                    .iccs
                    .iter()
                    .find(|i| i.outcome == y && i.variable == var)
                    .expect("icc");
                assert_rel(
                    icc.sigma2_leader,
                    num(&ry[key]["leader"]),
                    REL_TOL,
                    &format!("{what} {key} σ²_b"),
                );
                assert_rel(
                    icc.sigma2_resid,
                    num(&ry[key]["Residual"]),
                    REL_TOL,
                    &format!("{what} {key} σ²_e"),
                );
            }
            let bal = report
                .balance
                .iter()
                .find(|b| b.outcome == y && b.variable == y)
                .expect("balance");
            let rb = &ry["balance"];
            assert_rel(
                bal.mean_control,
                num(&rb["mean"][0]),
                1e-12,
                &format!("{what} mean control"),
            );
            assert_rel(
                bal.mean_treated,
                num(&rb["mean"][1]),
                1e-12,
                &format!("{what} mean treated"),
            );
            assert_rel(
                bal.sd_control,
                num(&rb["sd"][0]),
                1e-12,
                &format!("{what} sd control"),
            );
            assert_rel(
                bal.sd_treated,
                num(&rb["sd"][1]),
                1e-12,
                &format!("{what} sd treated"),
            );
            assert_eq!(Some(bal.n_control as u64), rb["n"][0].as_u64());
            // every analysis reports its rows used and dropped
            for a in [
                Analysis::MixedAncova,
                Analysis::OlsCr2,
                Analysis::LeaderMeans,
                Analysis::LongMixed,
                Analysis::Moderation,
                Analysis::Cace,
            ] {
                let c = report
                    .counts
                    .iter()
                    .find(|c| c.outcome == y && c.analysis == a)
                    .expect("count");
                assert_eq!(
                    c.used + c.dropped,
                    d.leader().len() * if a == Analysis::LongMixed { 2 } else { 1 }
                );
            }
        }
        assert!(report
            .rows
            .iter()
            .any(|r| r.analysis == Analysis::Mediation && r.term == "indirect"));
    }
}

#[test]
fn singular_fit_equals_lmertest_at_the_boundary() {
    let d = data("singular");
    let r = reference("singular");
    let (leader, treated) = (d.leader(), d.treated());
    let wide = WideData {
        leader: &leader,
        n_leaders: d.n_leaders(),
        treated: &treated,
    };
    let o = outcome(&d, "fssb", "fssb_pre", "fssb_post");
    let out = mixed_ancova(&wide, &o, 0.05, &mut AncovaScratch::default()).expect("fit");
    assert!(
        out.fit.singular,
        "the leader variance should be on its boundary"
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
        "singular Satterthwaite",
    );
    compare_rows(&kr, &r["mixed_kr"], &same, "singular Kenward-Roger");
}

#[test]
fn long_layout_with_the_leader_variance_on_its_boundary_equals_lmertest() {
    let d = data("singular");
    let r = &reference("singular")["long"];
    let (leader, treated) = (d.leader(), d.treated());
    let wide = WideData {
        leader: &leader,
        n_leaders: d.n_leaders(),
        treated: &treated,
    };
    let employee: Vec<usize> = (0..leader.len()).collect();
    let cols = balans_trial::analyse::wide_to_long(
        &wide,
        &outcome(&d, "fssb", "fssb_pre", "fssb_post"),
        &employee,
    );
    let out = balans_trial::analyse::long_stable_leader(&cols.as_data(d.n_leaders()), "fssb", 0.05)
        .expect("fit");
    assert!(
        out.fit.singular && out.fit.psi[0] <= 0.0,
        "leader variance {:?}",
        out.fit.psi
    );
    compare_rows(&out.rows, &r["rows"], &same, "singular long");
    assert_rel(
        out.fit.psi[2],
        num(&r["varcomp"]["employee"]),
        REL_TOL,
        "singular long σ²_u",
    );
    assert_rel(
        out.fit.reml_criterion,
        num(&r["reml_criterion"]),
        1e-9,
        "singular long REML",
    );
}

#[test]
fn leader_means_from_statistics_equal_the_row_analysis() {
    use balans_trial::analyse::ancova::{ancova_stats, leader_means_arm_test};
    let mut scratch = AncovaScratch::default();
    for_each_outcome(|set, y, d, _| {
        let (leader, treated) = (d.leader(), d.treated());
        let wide = WideData {
            leader: &leader,
            n_leaders: d.n_leaders(),
            treated: &treated,
        };
        let (pre, post) = (format!("{y}_pre"), format!("{y}_post"));
        let o = outcome(d, y, &pre, &post);
        let (rows, _) = leader_means_ancova(&wide, &o, 0.05, &mut scratch).expect("rows");
        ancova_stats(&wide, &o, &mut scratch.stats);
        let e = leader_means_arm_test(&scratch.stats, 0.05).expect("stats");
        let arm = rows.iter().find(|r| r.term == "arm").expect("arm");
        assert_rel(
            e.estimate,
            arm.estimate,
            1e-12,
            &format!("{set}/{y} estimate"),
        );
        assert_rel(e.std_error, arm.std_error, 1e-12, &format!("{set}/{y} se"));
        assert_abs(e.df, arm.df, 1e-12, &format!("{set}/{y} df"));
    });
}
