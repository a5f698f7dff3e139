//! Analyses of a cluster-randomised pre/post trial of leader training.
//!
//! Main types:
//! - [`ClusterStats`] and [`fit_random_intercept_with`] (reusing a [`RiScratch`]): REML for
//!   `y ~ X + (1 | leader)` from per-leader sufficient statistics (the power loop's fast path; no
//!   employee rows); [`ancova::satterthwaite_test`], [`ancova::kenward_roger_test`],
//!   [`ols::Cr2Fit`] and [`ancova::leader_means_arm_test`] test the arm from the same statistics.
//! - [`leader_time`]: REML for the long layout (leader, leader × time and employee intercepts)
//!   from per-employee statistics with analytic derivatives; [`dense`] fits the same models with
//!   dense per-leader algebra (an independent cross-check).
//! - [`VcInference`]: Satterthwaite (lmerTest) and Kenward–Roger (pbkrtest) df for any contrast.
//! - [`ols`]: OLS, and CR2 cluster-robust covariance with Satterthwaite df (clubSandwich).
//! - [`WideData`] / [`LongData`] and one function per analysis (`mixed_ancova`, `cr2_ancova`,
//!   `leader_means_ancova`, `long_mixed`, `moderation`, `mediation`, `cace`, `effect_size`,
//!   `iccs`, `baseline_balance`),
//!   each returning [`TidyRow`]s with broom's column names, and [`analyse_all`] that runs them.
//!
//! Rows with a missing value (NaN) in a variable an analysis needs are dropped from that
//! analysis; [`RowCount`] reports rows used and dropped. Leaders are dense indices `0..n_leaders`.

// Index loops mirror the formulas they implement; `!(x > 0.0)` deliberately also catches NaN.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod all;
pub mod ancova;
mod answer;
pub mod dense;
pub mod inference;
pub mod leader_time;
pub mod linalg;
pub mod long;
pub mod mediation;
pub mod ols;
pub mod reml;
pub mod summary;

pub use all::{
    analyse_all, wide_to_long, AnalysisFailure, AnalysisPlan, AnalysisReport, LongColumns,
};
pub use ancova::{cr2_ancova, leader_means_ancova, mixed_ancova, moderation, AncovaScratch};
pub use inference::VcInference;
pub use leader_time::{fit_leader_time, Components, LeaderTimeFit, LeaderTimeStats};
pub use long::{long_mixed, long_mixed_dense, long_stable_leader, LongData, STABLE_LEADER_WARNING};
pub use mediation::{cace, mediation, Cace, Mediation, MediationConfig};
pub use reml::{
    fit_random_intercept, fit_random_intercept_with, ClusterStats, RandomInterceptFit, RiScratch,
};
pub use summary::{baseline_balance, effect_size, iccs, BalanceRow, IccRow};

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Why an analysis could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// Fewer usable observations than the model needs.
    #[error("{what}: {n} usable observations, at least {needed} needed")]
    TooFewObservations {
        /// The analysis.
        what: &'static str,
        /// Usable observations (or clusters).
        n: usize,
        /// Needed.
        needed: usize,
    },
    /// The design matrix is rank deficient (e.g. a constant covariate, an empty arm).
    #[error(
        "{what}: the design is rank deficient (a constant or collinear column, or an empty arm)"
    )]
    RankDeficient {
        /// The analysis.
        what: &'static str,
    },
    /// The variance-component optimisation did not converge.
    #[error("{what} did not converge")]
    NotConverged {
        /// The analysis.
        what: &'static str,
    },
    /// More fixed effects than [`linalg::MAXP`].
    #[error("the model has {p} fixed effects; at most {max} are supported")]
    TooManyColumns {
        /// Columns requested.
        p: usize,
        /// Maximum.
        max: usize,
    },
    /// Columns of unequal length or an out-of-range leader index.
    #[error("bad input: {0}")]
    BadInput(String),
    /// A leader appears in both arms.
    #[error("leader {leader} appears in both arms")]
    LeaderInBothArms {
        /// The leader index.
        leader: usize,
    },
    /// One arm has fewer than two leaders.
    #[error("arm {arm} has {n} leader(s) with data; at least 2 per arm are needed")]
    TooFewLeadersInArm {
        /// 0 = control, 1 = training.
        arm: u8,
        /// Leaders in it.
        n: usize,
    },
}

/// Which analysis produced a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Analysis {
    /// (a) `post ~ arm + pre + (1|leader)`, REML, Satterthwaite df (lmerTest).
    MixedAncova,
    /// (a) the same model, Kenward–Roger covariance and df (pbkrtest).
    MixedAncovaKr,
    /// (b) OLS `post ~ arm + pre`, CR2 SEs, Satterthwaite df (clubSandwich).
    OlsCr2,
    /// (c) OLS on leader means of post and pre.
    LeaderMeans,
    /// (d) long layout `y ~ time*arm + (1|leader) + (1|leader:time) + (1|leader:employee)`,
    /// Satterthwaite df.
    LongMixed,
    /// (d) the same model, Kenward–Roger covariance and df (pbkrtest).
    LongMixedKr,
    /// The long model without `(1|leader:time)`, which assumes stable leader means; not a
    /// default analysis (see [`long::STABLE_LEADER_WARNING`]).
    LongStableLeader,
    /// (e) `post ~ arm*moderator + pre + (1|leader)`, simple effects of arm per level.
    Moderation,
    /// (f) leader-level serial mediation arm → FSSB → mediator → outcome.
    Mediation,
    /// (g) complier average causal effect (2SLS, randomisation as instrument, CR2).
    Cace,
    /// (h) standardised effect d = arm effect of (a) / pre-test total SD.
    EffectSize,
}

impl Analysis {
    /// The Kenward–Roger twin of a Satterthwaite analysis, if it has one.
    pub fn kenward_roger(self) -> Option<Analysis> {
        match self {
            Analysis::MixedAncova => Some(Analysis::MixedAncovaKr),
            Analysis::LongMixed => Some(Analysis::LongMixedKr),
            _ => None,
        }
    }

    /// The snake-case name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Analysis::MixedAncova => "mixed_ancova",
            Analysis::MixedAncovaKr => "mixed_ancova_kr",
            Analysis::OlsCr2 => "ols_cr2",
            Analysis::LeaderMeans => "leader_means",
            Analysis::LongMixed => "long_mixed",
            Analysis::LongMixedKr => "long_mixed_kr",
            Analysis::LongStableLeader => "long_stable_leader",
            Analysis::Moderation => "moderation",
            Analysis::Mediation => "mediation",
            Analysis::Cace => "cace",
            Analysis::EffectSize => "effect_size",
        }
    }
}

/// A coefficient test: estimate, standard error, t statistic, df, two-sided p and CI.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate.
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// `estimate / std_error`.
    pub statistic: f64,
    /// Degrees of freedom of the t reference (infinite = normal).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower confidence limit.
    pub conf_low: f64,
    /// Upper confidence limit.
    pub conf_high: f64,
}

impl Estimate {
    /// The t test and `1 − alpha` CI of `estimate` with standard error `std_error` on `df` df.
    pub fn t(estimate: f64, std_error: f64, df: f64, alpha: f64) -> Estimate {
        let statistic = estimate / std_error;
        let (p_value, q) = t_tail_and_quantile(statistic, df, alpha);
        Estimate {
            estimate,
            std_error,
            statistic,
            df,
            p_value,
            conf_low: estimate - q * std_error,
            conf_high: estimate + q * std_error,
        }
    }

    /// Whether the two-sided test rejects at level `alpha`.
    pub fn rejects(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }

    /// Whether the CI covers `value`.
    pub fn covers(&self, value: f64) -> bool {
        self.conf_low <= value && value <= self.conf_high
    }
}

/// Two-sided p-value of `t` and the `1 − alpha/2` quantile, on `df` df (normal when `df` is
/// infinite or NaN-free huge).
fn t_tail_and_quantile(t: f64, df: f64, alpha: f64) -> (f64, f64) {
    if !(df > 0.0) || !t.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    if df.is_infinite() || df > 1e7 {
        let n = statrs::distribution::Normal::new(0.0, 1.0).expect("standard normal");
        return (2.0 * n.cdf(-t.abs()), n.inverse_cdf(1.0 - alpha / 2.0));
    }
    let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    (
        2.0 * dist.cdf(-t.abs()),
        dist.inverse_cdf(1.0 - alpha / 2.0),
    )
}

/// One output row with broom's column names (`std.error`, `p.value`, `conf.low`, `conf.high`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TidyRow {
    /// The analysis.
    pub analysis: Analysis,
    /// The outcome variable.
    pub outcome: String,
    /// The model term (R's name, e.g. `arm`, `pre`, `time:arm`, `arm|level=1`).
    pub term: String,
    /// Point estimate.
    pub estimate: f64,
    /// Standard error.
    #[serde(rename = "std.error")]
    pub std_error: f64,
    /// t statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    #[serde(rename = "p.value")]
    pub p_value: f64,
    /// Lower confidence limit.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// Upper confidence limit.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
}

impl TidyRow {
    /// A row from an [`Estimate`].
    pub fn new(analysis: Analysis, outcome: &str, term: &str, e: Estimate) -> TidyRow {
        TidyRow {
            analysis,
            outcome: outcome.to_string(),
            term: term.to_string(),
            estimate: e.estimate,
            std_error: e.std_error,
            statistic: e.statistic,
            df: e.df,
            p_value: e.p_value,
            conf_low: e.conf_low,
            conf_high: e.conf_high,
        }
    }
}

/// Rows used and dropped (missing values) by one analysis of one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCount {
    /// The analysis.
    pub analysis: Analysis,
    /// The outcome.
    pub outcome: String,
    /// Rows (employees, or employee-waves in the long layout) used.
    pub used: usize,
    /// Rows dropped for a missing value.
    pub dropped: usize,
    /// Leaders with at least one used row.
    pub leaders: usize,
}

/// An employee-level wide data set: one row per employee.
#[derive(Debug, Clone, Copy)]
pub struct WideData<'a> {
    /// Leader of each row, a dense index `0..n_leaders`.
    pub leader: &'a [usize],
    /// Number of leaders.
    pub n_leaders: usize,
    /// Arm of each row: `true` = training.
    pub treated: &'a [bool],
}

/// One outcome's pre- and post-test columns (NaN = missing).
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The variable name (reported in rows).
    pub name: &'a str,
    /// Pre-test values.
    pub pre: &'a [f64],
    /// Post-test values.
    pub post: &'a [f64],
}

impl WideData<'_> {
    /// Checks lengths, leader indices, that no leader is in both arms and that each arm has at
    /// least two leaders. Returns each leader's arm.
    pub fn validate(&self, columns: &[&[f64]]) -> Result<Vec<bool>, AnalysisError> {
        let n = self.leader.len();
        if self.treated.len() != n || columns.iter().any(|c| c.len() != n) {
            return Err(AnalysisError::BadInput(format!(
                "columns differ in length (leader column has {n} rows)"
            )));
        }
        let mut arm: Vec<Option<bool>> = vec![None; self.n_leaders];
        for (&l, &t) in self.leader.iter().zip(self.treated) {
            let slot = arm.get_mut(l).ok_or_else(|| {
                AnalysisError::BadInput(format!(
                    "leader index {l} is not below the number of leaders {}",
                    self.n_leaders
                ))
            })?;
            match slot {
                Some(a) if *a != t => return Err(AnalysisError::LeaderInBothArms { leader: l }),
                _ => *slot = Some(t),
            }
        }
        for (a, name) in [(false, 0u8), (true, 1u8)] {
            let count = arm.iter().filter(|&&x| x == Some(a)).count();
            if count < 2 {
                return Err(AnalysisError::TooFewLeadersInArm {
                    arm: name,
                    n: count,
                });
            }
        }
        Ok(arm.into_iter().map(|a| a.unwrap_or(false)).collect())
    }
}

/// Options of [`analyse_all`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyseConfig {
    /// Two-sided test level; CIs are `1 − alpha`.
    pub alpha: f64,
    /// Monte Carlo draws for the mediation CI.
    pub mediation_draws: usize,
    /// Seed of the mediation Monte Carlo CI.
    pub seed: u64,
    /// Also fit the long model without leader-by-time variance ([`long_stable_leader`]; valid
    /// only when leader means are stable — its rows come with [`STABLE_LEADER_WARNING`]).
    pub long_stable_leader: bool,
}

impl Default for AnalyseConfig {
    fn default() -> Self {
        AnalyseConfig {
            alpha: 0.05,
            mediation_draws: 20_000,
            seed: 1,
            long_stable_leader: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_and_p_values_equal_r() {
        // R 4.2: qt(0.975, df) and 2 * pt(-2.1, df)
        let cases = [
            (27.3, 2.050_776_009_386_826),
            (3.5, 2.940_088_637_982_729),
            (150.2, 1.9758839352312485),
            (12.0, 2.1788128296672284),
        ];
        for (df, q) in cases {
            let e = Estimate::t(0.0, 1.0, df, 0.05);
            assert!(
                (e.conf_high - q).abs() < 1e-10 * q,
                "df {df}: {} vs {q}",
                e.conf_high
            );
        }
        let e = Estimate::t(2.1, 1.0, 12.0, 0.05);
        assert!(
            (e.p_value - 0.05754493873495118).abs() < 1e-12,
            "{}",
            e.p_value
        );
    }
}
