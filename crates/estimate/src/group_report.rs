//! The multi-group comparison as a workflow and a typed result: fit the model with every
//! parameter free and with equal regressions, compare them (lavaan's `lavTestLRT`), test each path
//! for equality (`lavTestWald`), and report the model the user chose. `balans fit --group` renders
//! [`MultiGroupReport`]; the JSON keys are lavaan's and broom's names.

use crate::error::EvalError;
use crate::multigroup::{
    estimate_multigroup, likelihood_ratio_test, path_equality_tests, EqualityTest, GroupEquality,
    GroupMoments, GroupParameter, LikelihoodRatioTest, MultiGroupConfig, MultiGroupFit,
};
use crate::spec::AnalysisSpec;
use serde::Serialize;

/// Both fits of a group comparison and the tests between them.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupComparison {
    /// Every parameter free in every group.
    pub free: MultiGroupFit,
    /// Regressions equal across groups.
    pub equal_regressions: MultiGroupFit,
    /// Likelihood-ratio test of equal against free regressions.
    pub lrt: LikelihoodRatioTest,
    /// Per-path Wald tests of equality, from the free model.
    pub wald: Vec<EqualityTest>,
}

/// Fits `spec` to `groups` with every parameter free and with equal regressions, and tests the
/// difference (lavaan: `sem(group =)`, `sem(group =, group.equal = "regressions")`,
/// `lavTestLRT`, `lavTestWald`).
///
/// # Errors
/// The estimator's errors (non-convergence, singular information).
pub fn compare_groups(
    spec: &AnalysisSpec,
    groups: &[GroupMoments],
    level: f64,
    max_iterations: usize,
) -> Result<GroupComparison, EvalError> {
    let fit = |equal| {
        estimate_multigroup(
            spec,
            groups,
            &MultiGroupConfig {
                equal,
                level,
                max_iterations,
            },
        )
    };
    let free = fit(GroupEquality::None)?;
    let equal_regressions = fit(GroupEquality::Regressions)?;
    let lrt = likelihood_ratio_test(&equal_regressions, &free);
    let wald = path_equality_tests(&free);
    Ok(GroupComparison {
        free,
        equal_regressions,
        lrt,
        wald,
    })
}

/// A fit's test statistic and its settings, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFitSummary {
    /// What was held equal.
    pub equal: GroupEquality,
    /// Model χ².
    pub chisq: f64,
    /// Its degrees of freedom.
    pub df: usize,
    /// Its p-value.
    pub pvalue: Option<f64>,
    /// Free parameters.
    pub npar: usize,
    /// Each group's contribution to χ².
    #[serde(rename = "chisq.group")]
    pub chisq_group: Vec<f64>,
    /// Iterations.
    pub iterations: usize,
}

impl From<&MultiGroupFit> for GroupFitSummary {
    fn from(f: &MultiGroupFit) -> Self {
        GroupFitSummary {
            equal: f.equal,
            chisq: f.chisq,
            df: f.df,
            pvalue: f.pvalue,
            npar: f.npar,
            chisq_group: f.chisq_group.clone(),
            iterations: f.iterations,
        }
    }
}

/// A group's label and size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSize {
    /// The value of the grouping column.
    pub label: String,
    /// Complete cases.
    pub n: usize,
}

/// The likelihood-ratio test as reported (lavaan's names).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LrtRow {
    /// χ² difference.
    #[serde(rename = "chisq.diff")]
    pub chisq_diff: f64,
    /// df difference.
    #[serde(rename = "df.diff")]
    pub df_diff: usize,
    /// p-value.
    pub pvalue: f64,
}

/// A per-path Wald test as reported (broom's names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaldRow {
    /// The path.
    pub path: String,
    /// Wald χ².
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// p-value.
    #[serde(rename = "p.value")]
    pub p_value: f64,
}

/// The free and equal fits and their LRT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupComparisonSummary {
    /// Every parameter free.
    pub free: GroupFitSummary,
    /// Regressions equal.
    pub equal_regressions: GroupFitSummary,
    /// Equal against free.
    pub lrt: LrtRow,
}

/// The typed result of `balans fit --group`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiGroupReport {
    /// Data source.
    pub data: String,
    /// Model source.
    pub model: String,
    /// The grouping column.
    pub group: String,
    /// Each group's label and size.
    pub groups: Vec<GroupSize>,
    /// Rows dropped (missing values).
    pub n_dropped: usize,
    /// `ML`.
    pub estimator: &'static str,
    /// What the reported model holds equal: `none` or `regressions`.
    pub equal: &'static str,
    /// Confidence level of the intervals.
    pub level: f64,
    /// The reported model's fit.
    pub fit: GroupFitSummary,
    /// The reported model's parameters, group by group.
    pub parameters: Vec<GroupParameter>,
    /// Free against equal regressions.
    pub comparison: GroupComparisonSummary,
    /// Per-path Wald tests of equality.
    pub wald: Vec<WaldRow>,
}

/// Where a multi-group report's data came from, and what it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReportContext {
    /// Data source.
    pub data: String,
    /// Model source.
    pub model: String,
    /// The grouping column.
    pub group: String,
    /// Rows dropped.
    pub n_dropped: usize,
    /// Report the equal-regressions model (else the free one).
    pub equal_regressions: bool,
    /// Confidence level.
    pub level: f64,
}

impl MultiGroupReport {
    /// The report of a comparison: the chosen model's fit and parameters, both fits, the tests.
    pub fn new(c: &GroupComparison, groups: &[GroupMoments], ctx: GroupReportContext) -> Self {
        let chosen = if ctx.equal_regressions {
            &c.equal_regressions
        } else {
            &c.free
        };
        MultiGroupReport {
            data: ctx.data,
            model: ctx.model,
            group: ctx.group,
            groups: groups
                .iter()
                .map(|g| GroupSize {
                    label: g.label.clone(),
                    n: g.moments.n(),
                })
                .collect(),
            n_dropped: ctx.n_dropped,
            estimator: "ML",
            equal: if ctx.equal_regressions {
                "regressions"
            } else {
                "none"
            },
            level: ctx.level,
            fit: chosen.into(),
            parameters: chosen.parameters.clone(),
            comparison: GroupComparisonSummary {
                free: (&c.free).into(),
                equal_regressions: (&c.equal_regressions).into(),
                lrt: LrtRow {
                    chisq_diff: c.lrt.chisq_diff,
                    df_diff: c.lrt.df_diff,
                    pvalue: c.lrt.pvalue,
                },
            },
            wald: c
                .wald
                .iter()
                .map(|t| WaldRow {
                    path: t.path.clone(),
                    statistic: t.statistic,
                    df: t.df,
                    p_value: t.pvalue,
                })
                .collect(),
        }
    }
}
