//! [`analyse_all`]: every analysis of a wide data set, for `balans trial analyse`.

use serde::{Deserialize, Serialize};

use super::ancova::{cr2_ancova, leader_means_ancova, mixed_ancova, moderation, AncovaScratch};
use super::long::{long_mixed, long_stable_leader, LongData, STABLE_LEADER_WARNING};
use super::mediation::{cace, mediation, MediationConfig};
use super::summary::{baseline_balance, effect_size, iccs, BalanceRow, IccRow};
use super::{AnalyseConfig, Analysis, AnalysisError, Outcome, RowCount, TidyRow, WideData};

/// What to analyse in a wide data set.
#[derive(Debug, Clone)]
pub struct AnalysisPlan<'a> {
    /// Leaders and arms.
    pub data: WideData<'a>,
    /// Outcomes (pre and post columns); each gets (a)–(d), (h) and, when given, (e) and (g).
    pub outcomes: Vec<Outcome<'a>>,
    /// A categorical baseline moderator `(name, column)` for (e).
    pub moderator: Option<(&'a str, &'a [f64])>,
    /// An uptake column `(name, column)` (1 = the employee's leader completed the training) for
    /// the CACE (g); without it the analyses are intention-to-treat only.
    pub uptake: Option<(&'a str, &'a [f64])>,
    /// Indices into `outcomes` of the serial chain FSSB → mediator → outcome for (f).
    pub mediation: Option<[usize; 3]>,
}

/// An analysis that could not be computed (reported, never silently dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisFailure {
    /// The analysis.
    pub analysis: Analysis,
    /// The outcome.
    pub outcome: String,
    /// Why.
    pub error: String,
}

/// Everything [`analyse_all`] computes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// Coefficient rows of every analysis.
    pub rows: Vec<TidyRow>,
    /// Rows used and dropped per analysis and outcome.
    pub counts: Vec<RowCount>,
    /// ICCs of pre, post and the adjusted post.
    pub iccs: Vec<IccRow>,
    /// Baseline balance by arm among completers.
    pub balance: Vec<BalanceRow>,
    /// Analyses that failed, with the reason.
    pub failures: Vec<AnalysisFailure>,
    /// When an analysis run is valid only under an assumption (e.g. `long_stable_leader`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AnalysisReport {
    fn fail(&mut self, analysis: Analysis, outcome: &str, e: AnalysisError) {
        self.failures.push(AnalysisFailure {
            analysis,
            outcome: outcome.to_string(),
            error: e.to_string(),
        });
    }
}

/// Runs (a)–(h) on a wide data set. Errors in the leaders/arms themselves (a leader in both
/// arms, fewer than two leaders in an arm, bad lengths) fail the whole call; a failure of one
/// analysis is recorded in [`AnalysisReport::failures`] and the others still run.
pub fn analyse_all(
    plan: &AnalysisPlan,
    config: &AnalyseConfig,
) -> Result<AnalysisReport, AnalysisError> {
    let data = &plan.data;
    let mut cols: Vec<&[f64]> = plan.outcomes.iter().flat_map(|o| [o.pre, o.post]).collect();
    cols.extend(plan.moderator.iter().map(|m| m.1));
    cols.extend(plan.uptake.iter().map(|u| u.1));
    data.validate(&cols)?;
    let alpha = config.alpha;
    let mut report = AnalysisReport::default();
    let mut scratch = AncovaScratch::default();
    let baseline: Vec<(&str, &[f64])> = plan
        .outcomes
        .iter()
        .map(|o| (o.name, o.pre))
        .chain(plan.moderator.iter().copied())
        .collect();
    let employee: Vec<usize> = (0..data.leader.len()).collect();
    for o in &plan.outcomes {
        analyse_outcome(
            plan,
            o,
            config,
            (&employee, &baseline),
            &mut scratch,
            &mut report,
        );
    }
    if config.long_stable_leader {
        report.warnings.push(STABLE_LEADER_WARNING.to_string());
    }
    if let Some([f, m, y]) = plan.mediation {
        let get = |i: usize| {
            plan.outcomes.get(i).ok_or_else(|| {
                AnalysisError::BadInput(format!(
                    "mediation names outcome {i} of {}",
                    plan.outcomes.len()
                ))
            })
        };
        let mc = MediationConfig {
            alpha,
            draws: config.mediation_draws,
            seed: config.seed,
        };
        let (fo, mo, yo) = (get(f)?, get(m)?, get(y)?);
        match mediation(data, fo, mo, yo, &mc) {
            Ok(med) => {
                report.rows.extend(med.rows);
                report.counts.push(med.count);
            }
            Err(e) => report.fail(Analysis::Mediation, yo.name, e),
        }
    }
    Ok(report)
}

/// (a)–(e), (g), (h), the ICCs and the baseline balance of one outcome, into `report`.
fn analyse_outcome(
    plan: &AnalysisPlan,
    o: &Outcome,
    config: &AnalyseConfig,
    (employee, baseline): (&[usize], &[(&str, &[f64])]),
    scratch: &mut AncovaScratch,
    report: &mut AnalysisReport,
) {
    let data = &plan.data;
    let alpha = config.alpha;
    match mixed_ancova(data, o, alpha, scratch) {
        Ok(m) => {
            let arm_row = m
                .rows
                .iter()
                .find(|r| r.term == "arm" && r.analysis == Analysis::MixedAncova)
                .cloned();
            report.rows.extend(m.rows);
            report.counts.push(m.count);
            if let Some(arm_row) = arm_row {
                match effect_size(&arm_row, o.pre) {
                    Ok(d) => report.rows.push(d),
                    Err(e) => report.fail(Analysis::EffectSize, o.name, e),
                }
            }
            report.iccs.push(IccRow {
                outcome: o.name.to_string(),
                variable: "post_adjusted".to_string(),
                icc: m.fit.icc(),
                sigma2_leader: m.fit.sigma2_cluster,
                sigma2_resid: m.fit.sigma2_resid,
                n_obs: m.fit.n_obs,
                singular: m.fit.singular,
            });
        }
        Err(e) => report.fail(Analysis::MixedAncova, o.name, e),
    }
    match cr2_ancova(data, o, alpha, scratch) {
        Ok((rows, count)) => {
            report.rows.extend(rows);
            report.counts.push(count);
        }
        Err(e) => report.fail(Analysis::OlsCr2, o.name, e),
    }
    match leader_means_ancova(data, o, alpha, scratch) {
        Ok((rows, count)) => {
            report.rows.extend(rows);
            report.counts.push(count);
        }
        Err(e) => report.fail(Analysis::LeaderMeans, o.name, e),
    }
    long_analyses(data, o, employee, config, report);
    if let Some((name, col)) = plan.moderator {
        match moderation(data, o, name, col, alpha, scratch) {
            Ok((rows, count)) => {
                report.rows.extend(rows);
                report.counts.push(count);
            }
            Err(e) => report.fail(Analysis::Moderation, o.name, e),
        }
    }
    if let Some((name, col)) = plan.uptake {
        match cace(data, o, name, col, alpha, &mut scratch.cr2) {
            Ok(c) => {
                report.rows.extend(c.rows);
                report.counts.push(c.count);
            }
            Err(e) => report.fail(Analysis::Cace, o.name, e),
        }
    }
    match iccs(data, o, &mut scratch.stats) {
        Ok(rows) => report.iccs.extend(rows),
        Err(e) => report.fail(Analysis::EffectSize, o.name, e),
    }
    report.balance.extend(baseline_balance(data, o, baseline));
}

/// (d) the long model (and, when asked, the stable-leader model) of one outcome, into `report`.
fn long_analyses(
    data: &WideData,
    o: &Outcome,
    employee: &[usize],
    config: &AnalyseConfig,
    report: &mut AnalysisReport,
) {
    let alpha = config.alpha;
    let long_cols = wide_to_long(data, o, employee);
    let long = long_cols.as_data(data.n_leaders);
    match long_mixed(&long, o.name, alpha) {
        Ok(l) => {
            report.rows.extend(l.rows);
            report.rows.extend(l.kr_rows);
            report.counts.push(l.count);
        }
        Err(e) => report.fail(Analysis::LongMixed, o.name, e),
    }
    if config.long_stable_leader {
        match long_stable_leader(&long, o.name, alpha) {
            Ok(l) => {
                report.rows.extend(l.rows);
                report.counts.push(l.count);
            }
            Err(e) => report.fail(Analysis::LongStableLeader, o.name, e),
        }
    }
}

/// Owned long-layout columns (see [`LongData`]).
#[derive(Debug, Clone, Default)]
pub struct LongColumns {
    /// Leader of each row.
    pub leader: Vec<usize>,
    /// Employee of each row.
    pub employee: Vec<usize>,
    /// Arm of each row.
    pub treated: Vec<bool>,
    /// Wave of each row.
    pub time: Vec<f64>,
    /// Outcome of each row.
    pub y: Vec<f64>,
}

impl LongColumns {
    /// Borrowed view for the analyses.
    pub fn as_data(&self, n_leaders: usize) -> LongData<'_> {
        LongData {
            leader: &self.leader,
            n_leaders,
            employee: &self.employee,
            treated: &self.treated,
            time: &self.time,
            y: &self.y,
        }
    }
}

/// The long layout of one outcome: every wide row's pre (time 0) then post (time 1);
/// `employee[i]` identifies wide row `i`.
pub fn wide_to_long(data: &WideData, outcome: &Outcome, employee: &[usize]) -> LongColumns {
    let n = data.leader.len();
    let mut out = LongColumns::default();
    for (t, col) in [(0.0, outcome.pre), (1.0, outcome.post)] {
        for i in 0..n {
            out.leader.push(data.leader[i]);
            out.employee.push(employee[i]);
            out.treated.push(data.treated[i]);
            out.time.push(t);
            out.y.push(col[i]);
        }
    }
    out
}
