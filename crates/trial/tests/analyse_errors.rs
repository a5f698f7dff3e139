//! Bad data give a typed error naming the problem, never a panic.

use balans_trial::analyse::{
    cr2_ancova, leader_means_ancova, long_mixed, mixed_ancova, moderation, AnalysisError,
    AncovaScratch, LongData, Outcome, WideData,
};

fn columns(leaders: usize, per: usize) -> (Vec<usize>, Vec<bool>, Vec<f64>, Vec<f64>) {
    let mut l = vec![];
    let mut t = vec![];
    let mut pre = vec![];
    let mut post = vec![];
    for j in 0..leaders {
        for i in 0..per {
            l.push(j);
            t.push(j % 2 == 1);
            let x = ((j * 7 + i * 3) % 11) as f64 / 5.0;
            pre.push(x);
            post.push(0.5 * x + ((j * 5 + i) % 7) as f64 / 7.0);
        }
    }
    (l, t, pre, post)
}

#[test]
fn a_leader_in_both_arms_is_named() {
    let (l, mut t, pre, post) = columns(6, 4);
    t[1] = !t[1];
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    let err = mixed_ancova(&data, &o, 0.05, &mut AncovaScratch::default()).unwrap_err();
    assert_eq!(err, AnalysisError::LeaderInBothArms { leader: 0 });
    assert!(err.to_string().contains("leader 0 appears in both arms"));
}

#[test]
fn one_leader_per_arm_or_an_empty_arm_is_refused() {
    let (l, t, pre, post) = columns(2, 5);
    let data = WideData {
        leader: &l,
        n_leaders: 2,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    let mut s = AncovaScratch::default();
    assert!(matches!(
        cr2_ancova(&data, &o, 0.05, &mut s),
        Err(AnalysisError::TooFewLeadersInArm { n: 1, .. })
    ));
    let (l, _, pre, post) = columns(6, 3);
    let t = vec![false; l.len()];
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    assert_eq!(
        leader_means_ancova(&data, &o, 0.05, &mut s).unwrap_err(),
        AnalysisError::TooFewLeadersInArm { arm: 1, n: 0 }
    );
}

#[test]
fn unequal_lengths_and_bad_leader_indices_are_bad_input() {
    let (l, t, pre, post) = columns(6, 3);
    let short = &post[..post.len() - 1];
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: short,
    };
    assert!(matches!(
        mixed_ancova(&data, &o, 0.05, &mut AncovaScratch::default()),
        Err(AnalysisError::BadInput(_))
    ));
    let data = WideData {
        leader: &l,
        n_leaders: 5,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    let err = mixed_ancova(&data, &o, 0.05, &mut AncovaScratch::default()).unwrap_err();
    assert!(err.to_string().contains("leader index 5"), "{err}");
}

#[test]
fn a_constant_pretest_is_rank_deficient_not_a_panic() {
    let (l, t, _, post) = columns(6, 4);
    let pre = vec![1.0; l.len()];
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    let mut s = AncovaScratch::default();
    assert!(matches!(
        mixed_ancova(&data, &o, 0.05, &mut s),
        Err(AnalysisError::RankDeficient { .. })
    ));
    assert!(matches!(
        cr2_ancova(&data, &o, 0.05, &mut s),
        Err(AnalysisError::RankDeficient { .. })
    ));
}

#[test]
fn all_posts_missing_is_too_few_observations() {
    let (l, t, pre, _) = columns(6, 4);
    let post = vec![f64::NAN; l.len()];
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    assert!(matches!(
        mixed_ancova(&data, &o, 0.05, &mut AncovaScratch::default()),
        Err(AnalysisError::TooFewObservations { .. })
    ));
}

#[test]
fn a_moderator_with_too_many_levels_is_named() {
    let (l, t, pre, post) = columns(6, 4);
    let m: Vec<f64> = (0..l.len()).map(|i| i as f64).collect();
    let data = WideData {
        leader: &l,
        n_leaders: 6,
        treated: &t,
    };
    let o = Outcome {
        name: "y",
        pre: &pre,
        post: &post,
    };
    let err = moderation(&data, &o, "fwc", &m, 0.05, &mut AncovaScratch::default()).unwrap_err();
    assert!(
        err.to_string().contains("moderator 'fwc' has 24 levels"),
        "{err}"
    );
}

#[test]
fn an_employee_under_two_leaders_is_bad_input() {
    let leader = vec![0, 0, 1, 1, 2, 2, 3, 3];
    let employee = vec![0, 1, 2, 0, 4, 5, 6, 7];
    let treated = vec![false, false, true, true, false, false, true, true];
    let time = vec![0.0; 8];
    let y = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let data = LongData {
        leader: &leader,
        n_leaders: 4,
        employee: &employee,
        treated: &treated,
        time: &time,
        y: &y,
    };
    let err = long_mixed(&data, "y", 0.05).unwrap_err();
    assert!(
        err.to_string()
            .contains("employee 0 appears under two leaders"),
        "{err}"
    );
}
