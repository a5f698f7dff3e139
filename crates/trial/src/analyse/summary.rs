//! (h) Effect sizes, intraclass correlations and baseline balance.

use serde::{Deserialize, Serialize};

use super::reml::{fit_random_intercept, ClusterStats};
use super::{Analysis, AnalysisError, Outcome, TidyRow, WideData};

/// The standardised effect `d = β_arm / SD(pre)` of an arm row (e.g. the mixed ANCOVA's), with
/// its SE and CI divided by the same SD (the SD treated as fixed); `SD(pre)` is the total
/// sample SD (`n − 1`) of the pre-test over all rows with a pre value (R `sd(pre, na.rm = TRUE)`).
pub fn effect_size(arm_row: &TidyRow, pre: &[f64]) -> Result<TidyRow, AnalysisError> {
    let sd = sample_sd(pre.iter().copied().filter(|v| v.is_finite()));
    if !(sd > 0.0) {
        return Err(AnalysisError::BadInput(format!(
            "the pre-test of '{}' has no spread; d is undefined",
            arm_row.outcome
        )));
    }
    Ok(TidyRow {
        analysis: Analysis::EffectSize,
        term: format!("d({})", arm_row.analysis.name()),
        estimate: arm_row.estimate / sd,
        std_error: arm_row.std_error / sd,
        conf_low: arm_row.conf_low / sd,
        conf_high: arm_row.conf_high / sd,
        ..arm_row.clone()
    })
}

/// Sample SD with `n − 1`.
pub fn sample_sd(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0.0, 0.0), |(n, s), v| (n + 1.0, s + v));
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = sum / n;
    (values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// One intraclass correlation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IccRow {
    /// The outcome.
    pub outcome: String,
    /// `pre` and `post` (null models `y ~ 1 + (1 | leader)`) or `post_adjusted` (the residual
    /// ICC of the mixed ANCOVA).
    pub variable: String,
    /// `σ²_b / (σ²_b + σ²_e)`.
    pub icc: f64,
    /// Between-leader variance.
    pub sigma2_leader: f64,
    /// Within-leader variance.
    pub sigma2_resid: f64,
    /// Observations used.
    pub n_obs: usize,
    /// The leader variance is estimated as 0.
    pub singular: bool,
}

/// ICCs of the pre- and post-test by REML null models `y ~ 1 + (1 | leader)` (lme4), each over
/// the rows where that value is present.
pub fn iccs(
    data: &WideData,
    outcome: &Outcome,
    stats: &mut ClusterStats,
) -> Result<Vec<IccRow>, AnalysisError> {
    let mut out = Vec::with_capacity(2);
    for (variable, col) in [("pre", outcome.pre), ("post", outcome.post)] {
        stats.reset(1, data.n_leaders);
        for (i, &v) in col.iter().enumerate() {
            if v.is_finite() {
                stats.add_row(data.leader[i], &[1.0], v);
            }
        }
        let fit = fit_random_intercept(stats)?;
        out.push(IccRow {
            outcome: outcome.name.to_string(),
            variable: variable.to_string(),
            icc: fit.icc(),
            sigma2_leader: fit.sigma2_cluster,
            sigma2_resid: fit.sigma2_resid,
            n_obs: fit.n_obs,
            singular: fit.singular,
        });
    }
    Ok(out)
}

/// Baseline balance of one variable by arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceRow {
    /// The outcome whose completers (post observed) define the sample.
    pub outcome: String,
    /// The baseline variable.
    pub variable: String,
    /// Completers with the variable in the control arm.
    pub n_control: usize,
    /// Completers with the variable in the training arm.
    pub n_treated: usize,
    /// Leaders with completers in the control arm.
    pub leaders_control: usize,
    /// Leaders with completers in the training arm.
    pub leaders_treated: usize,
    /// Mean in the control arm.
    pub mean_control: f64,
    /// Mean in the training arm.
    pub mean_treated: f64,
    /// SD (n − 1) in the control arm.
    pub sd_control: f64,
    /// SD (n − 1) in the training arm.
    pub sd_treated: f64,
    /// `(mean_treated − mean_control) / sqrt((sd_control² + sd_treated²)/2)` (Austin 2009).
    pub std_diff: f64,
}

/// Baseline balance by arm among completers of `outcome` (rows with a post value): for each
/// baseline column, counts, means, SDs and the standardised difference.
pub fn baseline_balance(
    data: &WideData,
    outcome: &Outcome,
    baseline: &[(&str, &[f64])],
) -> Vec<BalanceRow> {
    baseline
        .iter()
        .map(|(name, col)| {
            let pick = |arm: bool| {
                (0..data.leader.len()).filter(move |&i| {
                    data.treated[i] == arm && outcome.post[i].is_finite() && col[i].is_finite()
                })
            };
            let stats = |arm: bool| {
                let vals = pick(arm).map(|i| col[i]);
                let n = vals.clone().count();
                let mean = vals.clone().sum::<f64>() / n as f64;
                let mut leaders: Vec<usize> = pick(arm).map(|i| data.leader[i]).collect();
                leaders.sort_unstable();
                leaders.dedup();
                (n, mean, sample_sd(vals), leaders.len())
            };
            let (n0, m0, s0, l0) = stats(false);
            let (n1, m1, s1, l1) = stats(true);
            BalanceRow {
                outcome: outcome.name.to_string(),
                variable: name.to_string(),
                n_control: n0,
                n_treated: n1,
                leaders_control: l0,
                leaders_treated: l1,
                mean_control: m0,
                mean_treated: m1,
                sd_control: s0,
                sd_treated: s1,
                std_diff: (m1 - m0) / ((s0 * s0 + s1 * s1) / 2.0).sqrt(),
            }
        })
        .collect()
}
