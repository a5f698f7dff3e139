//! Wide-layout analyses of `post` on `arm` and `pre`: (a) the mixed-model ANCOVA, (b) OLS with
//! CR2, (c) the leader-means ANCOVA and (e) moderation by a categorical baseline variable.

use super::linalg::{Vect, ZERO_VEC};
use super::ols::{ols_rows, Cr2Fit};
use super::reml::{fit_random_intercept_with, ClusterStats, RandomInterceptFit, RiScratch};
use super::{Analysis, AnalysisError, Estimate, Outcome, RowCount, TidyRow, WideData};

/// Names of the ANCOVA's fixed effects, in column order.
pub const ANCOVA_TERMS: [&str; 3] = ["(Intercept)", "arm", "pre"];

/// Reusable buffers of the wide-layout analyses.
#[derive(Debug, Clone, Default)]
pub struct AncovaScratch {
    /// Per-leader statistics of `post ~ 1 + arm + pre`.
    pub stats: ClusterStats,
    /// The CR2 fit.
    pub cr2: Cr2Fit,
    /// The REML fit's buffers.
    pub ri: RiScratch,
    means: Vec<f64>,
}

/// The unit vector selecting coefficient `i`.
pub fn unit(i: usize) -> Vect {
    let mut v = ZERO_VEC;
    v[i] = 1.0;
    v
}

/// Fills `stats` with `post ~ 1 + arm + pre` over complete rows; returns rows used.
pub fn ancova_stats(data: &WideData, outcome: &Outcome, stats: &mut ClusterStats) -> usize {
    stats.reset(3, data.n_leaders);
    let mut used = 0;
    for i in 0..data.leader.len() {
        let (pre, post) = (outcome.pre[i], outcome.post[i]);
        if pre.is_finite() && post.is_finite() {
            let arm = if data.treated[i] { 1.0 } else { 0.0 };
            stats.add_row(data.leader[i], &[1.0, arm, pre], post);
            used += 1;
        }
    }
    used
}

fn count(
    analysis: Analysis,
    data: &WideData,
    outcome: &Outcome,
    used: usize,
    leaders: usize,
) -> RowCount {
    RowCount {
        analysis,
        outcome: outcome.name.to_string(),
        used,
        dropped: data.leader.len() - used,
        leaders,
    }
}

/// The arm effect of a random-intercept fit with Satterthwaite df (lmerTest), for the power
/// loop. `None` when the df cannot be computed.
pub fn satterthwaite_test(fit: &RandomInterceptFit, l: &Vect, alpha: f64) -> Option<Estimate> {
    let p = fit.p();
    let est: f64 = (0..p).map(|i| l[i] * fit.beta[i]).sum();
    let var = fit.inference.variance(l);
    let df = fit.inference.satterthwaite_df(l)?;
    Some(Estimate::t(est, var.sqrt(), df, alpha))
}

/// The same with the Kenward–Roger covariance and df (pbkrtest via lmerTest).
pub fn kenward_roger_test(fit: &RandomInterceptFit, l: &Vect, alpha: f64) -> Option<Estimate> {
    let p = fit.p();
    let est: f64 = (0..p).map(|i| l[i] * fit.beta[i]).sum();
    let (var, df) = fit.inference.kenward_roger(l)?;
    Some(Estimate::t(est, var.sqrt(), df, alpha))
}

/// Output of the mixed-model ANCOVA (a).
#[derive(Debug, Clone)]
pub struct MixedAncova {
    /// Rows of every fixed effect, Satterthwaite then Kenward–Roger.
    pub rows: Vec<TidyRow>,
    /// Rows used and dropped.
    pub count: RowCount,
    /// The REML fit.
    pub fit: RandomInterceptFit,
}

/// (a) `post ~ arm + pre + (1 | leader)` by REML; every fixed effect with Satterthwaite df
/// (lmerTest `summary`) and with the Kenward–Roger covariance and df
/// (`summary(ddf = "Kenward-Roger")`).
pub fn mixed_ancova(
    data: &WideData,
    outcome: &Outcome,
    alpha: f64,
    scratch: &mut AncovaScratch,
) -> Result<MixedAncova, AnalysisError> {
    data.validate(&[outcome.pre, outcome.post])?;
    let used = ancova_stats(data, outcome, &mut scratch.stats);
    let fit = fit_random_intercept_with(&scratch.stats, &mut scratch.ri)?;
    let mut rows = Vec::with_capacity(6);
    for (analysis, kr) in [
        (Analysis::MixedAncova, false),
        (Analysis::MixedAncovaKr, true),
    ] {
        for (i, term) in ANCOVA_TERMS.iter().enumerate() {
            let l = unit(i);
            let e = if kr {
                kenward_roger_test(&fit, &l, alpha)
            } else {
                satterthwaite_test(&fit, &l, alpha)
            }
            .ok_or(AnalysisError::NotConverged {
                what: "degrees of freedom of the mixed ANCOVA",
            })?;
            rows.push(TidyRow::new(analysis, outcome.name, term, e));
        }
    }
    Ok(MixedAncova {
        rows,
        count: count(Analysis::MixedAncova, data, outcome, used, fit.n_clusters),
        fit,
    })
}

/// (b) OLS `post ~ arm + pre` with CR2 standard errors clustered by leader and Satterthwaite df
/// (clubSandwich `coef_test(fit, vcov = "CR2", cluster = leader, test = "Satterthwaite")`).
pub fn cr2_ancova(
    data: &WideData,
    outcome: &Outcome,
    alpha: f64,
    scratch: &mut AncovaScratch,
) -> Result<(Vec<TidyRow>, RowCount), AnalysisError> {
    data.validate(&[outcome.pre, outcome.post])?;
    let used = ancova_stats(data, outcome, &mut scratch.stats);
    let rows = cr2_rows(
        &scratch.stats,
        &mut scratch.cr2,
        outcome.name,
        alpha,
        Analysis::OlsCr2,
        &ANCOVA_TERMS,
    )?;
    let leaders = scratch.stats.n_nonempty();
    Ok((rows, count(Analysis::OlsCr2, data, outcome, used, leaders)))
}

/// Rows of every coefficient of a CR2 fit of `stats`.
pub fn cr2_rows(
    stats: &ClusterStats,
    cr2: &mut Cr2Fit,
    outcome: &str,
    alpha: f64,
    analysis: Analysis,
    terms: &[&str],
) -> Result<Vec<TidyRow>, AnalysisError> {
    cr2.fit(stats)?;
    let beta = cr2.ols.as_ref().map(|o| o.beta).unwrap_or(ZERO_VEC);
    terms
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let (var, df) = cr2.test(&unit(i)).ok_or(AnalysisError::RankDeficient {
                what: "CR2 covariance",
            })?;
            Ok(TidyRow::new(
                analysis,
                outcome,
                term,
                Estimate::t(beta[i], var.sqrt(), df, alpha),
            ))
        })
        .collect()
}

/// Per-leader means of `post` and `pre` over complete rows, with the leader's arm:
/// `(mean_post, mean_pre, arm)` for each leader with data.
pub fn leader_means(
    data: &WideData,
    outcome: &Outcome,
    buf: &mut Vec<f64>,
) -> Vec<(f64, f64, f64)> {
    buf.clear();
    buf.resize(3 * data.n_leaders, 0.0);
    let mut arm = vec![0.0; data.n_leaders];
    for i in 0..data.leader.len() {
        let (pre, post) = (outcome.pre[i], outcome.post[i]);
        if pre.is_finite() && post.is_finite() {
            let l = data.leader[i];
            buf[3 * l] += 1.0;
            buf[3 * l + 1] += post;
            buf[3 * l + 2] += pre;
            arm[l] = if data.treated[i] { 1.0 } else { 0.0 };
        }
    }
    (0..data.n_leaders)
        .filter(|&l| buf[3 * l] > 0.0)
        .map(|l| {
            (
                buf[3 * l + 1] / buf[3 * l],
                buf[3 * l + 2] / buf[3 * l],
                arm[l],
            )
        })
        .collect()
}

/// (c) the leader-means ANCOVA's arm test from the per-leader statistics of
/// `post ~ 1 + arm + pre` ([`ancova_stats`]): leader `j`'s means are `Σy/n`, `Σpre/n` and its arm
/// `Σarm/n`. For the power loop (no rows, no allocation); equal to [`leader_means_ancova`]'s
/// `arm` row.
pub fn leader_means_arm_test(stats: &ClusterStats, alpha: f64) -> Result<Estimate, AnalysisError> {
    let what = "leader-means ANCOVA";
    let mut xtx = super::linalg::ZERO_MAT;
    let mut xty = ZERO_VEC;
    let (mut yty, mut leaders) = (0.0, 0usize);
    for j in 0..stats.n_clusters() {
        let (n, sx, _, _, sy, _) = stats.cluster_slices(j);
        if n == 0.0 {
            continue;
        }
        let x = [1.0, sx[1] / n, sx[2] / n];
        let y = sy / n;
        leaders += 1;
        yty += y * y;
        for a in 0..3 {
            xty[a] += x[a] * y;
            for b in 0..3 {
                xtx[a][b] += x[a] * x[b];
            }
        }
    }
    let fit = super::ols::ols_from_moments(&xtx, &xty, yty, leaders, 3, what)?;
    Ok(Estimate::t(
        fit.beta[1],
        fit.std_error(1),
        fit.df_resid(),
        alpha,
    ))
}

/// (c) OLS of leader means: `mean_post ~ arm + mean_pre` over leaders, classical SEs on
/// `J − 3` df (R: `lm` on the aggregated data).
pub fn leader_means_ancova(
    data: &WideData,
    outcome: &Outcome,
    alpha: f64,
    scratch: &mut AncovaScratch,
) -> Result<(Vec<TidyRow>, RowCount), AnalysisError> {
    data.validate(&[outcome.pre, outcome.post])?;
    let means = leader_means(data, outcome, &mut scratch.means);
    let x: Vec<f64> = means
        .iter()
        .flat_map(|&(_, pre, arm)| [1.0, arm, pre])
        .collect();
    let y: Vec<f64> = means.iter().map(|m| m.0).collect();
    let fit = ols_rows(&x, &y, 3, "leader-means ANCOVA")?;
    let rows = ANCOVA_TERMS
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let e = Estimate::t(fit.beta[i], fit.std_error(i), fit.df_resid(), alpha);
            TidyRow::new(Analysis::LeaderMeans, outcome.name, term, e)
        })
        .collect();
    let used = outcome
        .pre
        .iter()
        .zip(outcome.post)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .count();
    Ok((
        rows,
        count(Analysis::LeaderMeans, data, outcome, used, means.len()),
    ))
}

/// The most levels a moderator may have.
pub const MAX_MODERATOR_LEVELS: usize = 3;

/// (e) `post ~ arm * factor(moderator) + pre + (1 | leader)` by REML (lmerTest, Satterthwaite),
/// with the simple effect of arm in each moderator level (`arm|<moderator>=<level>`:
/// `β_arm + β_arm:level`, tested by lmerTest's `contest1D`). Levels are the distinct finite
/// values, sorted; the first is the reference.
pub fn moderation(
    data: &WideData,
    outcome: &Outcome,
    moderator_name: &str,
    moderator: &[f64],
    alpha: f64,
    scratch: &mut AncovaScratch,
) -> Result<(Vec<TidyRow>, RowCount), AnalysisError> {
    data.validate(&[outcome.pre, outcome.post, moderator])?;
    let mut levels: Vec<f64> = moderator
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    if levels.len() < 2 || levels.len() > MAX_MODERATOR_LEVELS {
        return Err(AnalysisError::BadInput(format!(
            "moderator '{moderator_name}' has {} levels; 2 to {MAX_MODERATOR_LEVELS} are supported (give a categorical column)",
            levels.len()
        )));
    }
    let k = levels.len();
    let p = 3 + 2 * (k - 1);
    scratch.stats.reset(p, data.n_leaders);
    let mut used = 0;
    let mut x = [0.0; super::linalg::MAXP];
    for i in 0..data.leader.len() {
        let (pre, post, m) = (outcome.pre[i], outcome.post[i], moderator[i]);
        if !(pre.is_finite() && post.is_finite() && m.is_finite()) {
            continue;
        }
        let arm = if data.treated[i] { 1.0 } else { 0.0 };
        let level = levels
            .iter()
            .position(|v| v.total_cmp(&m).is_eq())
            .unwrap_or(0);
        x[..p].fill(0.0);
        x[0] = 1.0;
        x[1] = arm;
        x[2] = pre;
        if level > 0 {
            x[2 + level] = 1.0;
            x[2 + (k - 1) + level] = arm;
        }
        scratch.stats.add_row(data.leader[i], &x[..p], post);
        used += 1;
    }
    let fit = fit_random_intercept_with(&scratch.stats, &mut scratch.ri)?;
    let fmt = |v: f64| format!("{v}");
    let mut terms: Vec<(String, Vect)> = vec![
        ("(Intercept)".into(), unit(0)),
        ("arm".into(), unit(1)),
        ("pre".into(), unit(2)),
    ];
    for (lv, &level) in levels.iter().enumerate().skip(1) {
        terms.push((format!("{moderator_name}{}", fmt(level)), unit(2 + lv)));
    }
    for (lv, &level) in levels.iter().enumerate().skip(1) {
        terms.push((
            format!("arm:{moderator_name}{}", fmt(level)),
            unit(2 + (k - 1) + lv),
        ));
    }
    for (lv, &level) in levels.iter().enumerate() {
        let mut l = unit(1);
        if lv > 0 {
            l[2 + (k - 1) + lv] = 1.0;
        }
        terms.push((format!("arm|{moderator_name}={}", fmt(level)), l));
    }
    let rows = terms
        .iter()
        .map(|(term, l)| {
            satterthwaite_test(&fit, l, alpha)
                .map(|e| TidyRow::new(Analysis::Moderation, outcome.name, term, e))
                .ok_or(AnalysisError::NotConverged {
                    what: "degrees of freedom of the moderation model",
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let n = data.leader.len();
    Ok((
        rows,
        RowCount {
            analysis: Analysis::Moderation,
            outcome: outcome.name.to_string(),
            used,
            dropped: n - used,
            leaders: fit.n_clusters,
        },
    ))
}
