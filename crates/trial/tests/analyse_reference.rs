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
        assert_eq!(Some(out.count.used as u64), r["n_used"].as_u64(), "{what} rows used");
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
