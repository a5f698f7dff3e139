//! The analyses of the power loop as a typed list: [`PowerAnalysis`] names one, [`ANALYSES`] is
//! the registry (name, target, the data it needs, the named sets it belongs to, a warning, and the
//! function that runs it on one replication), in output order.
//!
//! Analyses that share a fit (the mixed ANCOVA with Satterthwaite and Kenward–Roger df; the long
//! model with either; the moderation model's two simple effects) compute it once per replication:
//! [`Replicate`] holds each shared fit lazily.

use super::{LeaderStats, TestResult, TrialPowerError};
use crate::analyse::ancova::{kenward_roger_test, satterthwaite_test, unit};
use crate::analyse::long::LongMixed;
use crate::analyse::ols::Cr2Fit;
use crate::analyse::{
    cace, fit_random_intercept, long_mixed, long_stable_leader, moderation, wide_to_long,
    AncovaScratch, ClusterStats, Estimate, Outcome, RandomInterceptFit, TidyRow, WideData,
    STABLE_LEADER_WARNING,
};
use crate::design::Design;
use serde::Serialize;

/// An analysis of the power loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerAnalysis {
    /// (a) `post ~ arm + pre + (1 | leader)`, REML, Satterthwaite df.
    MixedAncova,
    /// (a) the same fit, Kenward–Roger covariance and df.
    MixedAncovaKr,
    /// (b) OLS with CR2 SEs and Satterthwaite df.
    OlsCr2,
    /// (c) OLS on leader means.
    LeaderMeans,
    /// (d) the long model's `time:arm` (leader-by-time variance), Satterthwaite df.
    LongMixed,
    /// (d) the same fit, Kenward–Roger covariance and df.
    LongMixedKr,
    /// The long model without leader-by-time variance (assumes stable leader means).
    LongStableLeader,
    /// (g) complier average causal effect (2SLS, CR2).
    Cace,
    /// (e) the arm's simple effect in the moderator's low level.
    ModerationLow,
    /// (e) the arm's simple effect in the moderator's high level.
    ModerationHigh,
}

/// The quantity an analysis estimates, whose value under the design is its truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The intention-to-treat effect.
    Itt,
    /// The effect among employees of leaders who completed the training (ITT / uptake).
    Cace,
    /// The ITT effect in the moderator's low level.
    ModeratorLow,
    /// The ITT effect in the moderator's high level.
    ModeratorHigh,
}

/// The data an analysis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Per-leader sufficient statistics (may be drawn without employee rows).
    LeaderStats,
    /// Employee rows.
    EmployeeRows,
    /// Employee rows and a design with a moderator.
    Moderator,
}

/// One registry entry.
#[derive(Clone, Copy)]
pub struct AnalysisSpec {
    /// The analysis.
    pub analysis: PowerAnalysis,
    /// Its name in output and in `--analyses`.
    pub name: &'static str,
    /// What it estimates.
    pub target: Target,
    /// What data it needs.
    pub needs: Needs,
    /// Member of the set `ancova` (the leader-statistics analyses).
    pub in_ancova: bool,
    /// Member of the set `all` (every recommended analysis the design supports).
    pub in_all: bool,
    /// Printed with its results: when the analysis is valid.
    pub warning: Option<&'static str>,
    run: fn(&mut Replicate<'_>) -> Option<TestResult>,
}

impl std::fmt::Debug for AnalysisSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

const fn spec(
    analysis: PowerAnalysis,
    name: &'static str,
    target: Target,
    needs: Needs,
    sets: (bool, bool),
    run: fn(&mut Replicate<'_>) -> Option<TestResult>,
) -> AnalysisSpec {
    AnalysisSpec {
        analysis,
        name,
        target,
        needs,
        in_ancova: sets.0,
        in_all: sets.1,
        warning: None,
        run,
    }
}

/// The registry, in output order: (a)–(c) from per-leader statistics, then the analyses that need
/// employee rows. `long_mixed_kr` and `long_stable_leader` run only when named.
pub const ANALYSES: [AnalysisSpec; 10] = {
    use Needs::{EmployeeRows, LeaderStats as Stats, Moderator};
    use PowerAnalysis as A;
    use Target::{Cace as CaceT, Itt, ModeratorHigh, ModeratorLow};
    let mut stable = spec(
        A::LongStableLeader,
        "long_stable_leader",
        Itt,
        EmployeeRows,
        (false, false),
        run_long_stable_leader,
    );
    stable.warning = Some(STABLE_LEADER_WARNING);
    [
        spec(
            A::MixedAncova,
            "mixed_ancova",
            Itt,
            Stats,
            (true, true),
            run_mixed,
        ),
        spec(
            A::MixedAncovaKr,
            "mixed_ancova_kr",
            Itt,
            Stats,
            (true, true),
            run_mixed_kr,
        ),
        spec(A::OlsCr2, "ols_cr2", Itt, Stats, (true, true), run_ols_cr2),
        spec(
            A::LeaderMeans,
            "leader_means",
            Itt,
            Stats,
            (true, true),
            run_leader_means,
        ),
        spec(
            A::LongMixed,
            "long_mixed",
            Itt,
            EmployeeRows,
            (false, true),
            run_long,
        ),
        spec(
            A::LongMixedKr,
            "long_mixed_kr",
            Itt,
            EmployeeRows,
            (false, false),
            run_long_kr,
        ),
        stable,
        spec(
            A::Cace,
            "cace",
            CaceT,
            EmployeeRows,
            (false, true),
            run_cace,
        ),
        spec(
            A::ModerationLow,
            "moderation_low",
            ModeratorLow,
            Moderator,
            (false, true),
            run_mod_low,
        ),
        spec(
            A::ModerationHigh,
            "moderation_high",
            ModeratorHigh,
            Moderator,
            (false, true),
            run_mod_high,
        ),
    ]
};

impl PowerAnalysis {
    /// The registry entry.
    pub fn spec(self) -> &'static AnalysisSpec {
        ANALYSES
            .iter()
            .find(|s| s.analysis == self)
            .expect("every analysis is registered")
    }

    /// Its output name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Whether it needs employee rows.
    pub fn needs_rows(self) -> bool {
        self.spec().needs != Needs::LeaderStats
    }

    /// Its true value under `design` for variable `v`.
    pub fn truth(self, design: &Design, v: usize) -> f64 {
        let itt = design.expected_itt_effects()[v];
        match self.spec().target {
            Target::Itt => itt,
            Target::Cace if design.uptake() > 0.0 => itt / design.uptake(),
            Target::Cace => f64::NAN,
            Target::ModeratorLow => design.expected_level_effects(v).0,
            Target::ModeratorHigh => design.expected_level_effects(v).1,
        }
    }
}

/// The four analyses fitted from per-leader statistics (the set `ancova`).
pub const LEADER_ANALYSES: [PowerAnalysis; 4] = [
    PowerAnalysis::MixedAncova,
    PowerAnalysis::MixedAncovaKr,
    PowerAnalysis::OlsCr2,
    PowerAnalysis::LeaderMeans,
];

/// The analyses named in `names`, in registry order: `ancova`, `all` (every analysis of the set
/// the design supports; moderation needs a moderator), or names from [`ANALYSES`].
///
/// # Errors
/// An unknown name; moderation without a moderator in the design; an empty list.
pub fn select_analyses(
    names: &[String],
    design: &Design,
) -> Result<Vec<PowerAnalysis>, TrialPowerError> {
    let moderated = design.moderator().is_some();
    let supported = |s: &AnalysisSpec| s.needs != Needs::Moderator || moderated;
    let mut chosen = [false; ANALYSES.len()];
    for n in names {
        match n.as_str() {
            "ancova" => ANALYSES
                .iter()
                .zip(chosen.iter_mut())
                .for_each(|(s, c)| *c |= s.in_ancova),
            "all" => ANALYSES
                .iter()
                .zip(chosen.iter_mut())
                .for_each(|(s, c)| *c |= s.in_all && supported(s)),
            name => {
                let i = ANALYSES.iter().position(|s| s.name == name).ok_or_else(|| {
                    TrialPowerError::Setting {
                        setting: "analyses",
                        value: n.clone(),
                        expected: "ancova, all, or names from mixed_ancova, mixed_ancova_kr, ols_cr2, leader_means, long_mixed, long_mixed_kr, long_stable_leader, cace, moderation_low, moderation_high",
                    }
                })?;
                if !supported(&ANALYSES[i]) {
                    return Err(TrialPowerError::Setting {
                        setting: "analyses",
                        value: n.clone(),
                        expected:
                            "a design with a moderator (--moderator) for the moderation analyses",
                    });
                }
                chosen[i] = true;
            }
        }
    }
    let out: Vec<PowerAnalysis> = ANALYSES
        .iter()
        .zip(chosen)
        .filter(|(_, c)| *c)
        .map(|(s, _)| s.analysis)
        .collect();
    if out.is_empty() {
        return Err(TrialPowerError::Setting {
            setting: "analyses",
            value: String::new(),
            expected: "at least one analysis",
        });
    }
    Ok(out)
}

/// Whether any of `analyses` needs employee rows.
pub fn needs_rows(analyses: &[PowerAnalysis]) -> bool {
    analyses.iter().any(|a| a.needs_rows())
}

/// Per-thread buffers of the analyses.
#[derive(Debug, Default)]
pub struct AnalysisScratch {
    pub(super) means: Vec<[f64; 3]>,
    cluster: ClusterStats,
    cr2: Cr2Fit,
    ancova: AncovaScratch,
}

/// Employee-level columns of one replication (the row-level analyses' input).
#[derive(Debug, Default)]
pub struct EmployeeRows {
    /// Leader of each employee (dense index).
    pub leader: Vec<usize>,
    /// Arm (0/1).
    pub arm: Vec<u8>,
    /// Arm as a flag.
    pub treated: Vec<bool>,
    /// Pre-test (NaN = missing).
    pub pre: Vec<f64>,
    /// Post-test (NaN = missing).
    pub post: Vec<f64>,
    /// 1 when the employee's leader completed the training.
    pub uptake: Vec<f64>,
    /// Moderator level (0/1; NaN without a moderator).
    pub moderator: Vec<f64>,
    /// Employee id.
    pub employee: Vec<usize>,
}

/// One replication's inputs and its lazily computed shared fits.
pub struct Replicate<'a> {
    stats: &'a LeaderStats,
    rows: Option<&'a EmployeeRows>,
    leaders: usize,
    alpha: f64,
    scratch: &'a mut AnalysisScratch,
    cluster_ready: bool,
    mixed: Option<Option<RandomInterceptFit>>,
    long: Option<Option<LongMixed>>,
    moderation: Option<Option<Vec<TidyRow>>>,
}

impl Replicate<'_> {
    fn cluster(&mut self) -> &ClusterStats {
        if !self.cluster_ready {
            super::ancova_cluster_stats(self.stats, &mut self.scratch.cluster);
            self.cluster_ready = true;
        }
        &self.scratch.cluster
    }

    fn mixed(&mut self) -> Option<RandomInterceptFit> {
        if self.mixed.is_none() {
            let fit = fit_random_intercept(self.cluster()).ok();
            self.mixed = Some(fit);
        }
        self.mixed.flatten()
    }

    fn long(&mut self) -> Option<&LongMixed> {
        if self.long.is_none() {
            let fit = self.rows.and_then(|r| {
                let (data, outcome) = wide(r, self.leaders);
                let long = wide_to_long(&data, &outcome, &r.employee);
                long_mixed(&long.as_data(self.leaders), "y", self.alpha).ok()
            });
            self.long = Some(fit);
        }
        self.long.as_ref().and_then(Option::as_ref)
    }

    fn moderation(&mut self) -> Option<&[TidyRow]> {
        if self.moderation.is_none() {
            let rows = self.rows.and_then(|r| {
                let (data, outcome) = wide(r, self.leaders);
                moderation(
                    &data,
                    &outcome,
                    "m",
                    &r.moderator,
                    self.alpha,
                    &mut self.scratch.ancova,
                )
                .ok()
                .map(|m| m.0)
            });
            self.moderation = Some(rows);
        }
        self.moderation.as_ref().and_then(Option::as_deref)
    }
}

/// The wide view of employee rows over `leaders` leaders.
fn wide(r: &EmployeeRows, leaders: usize) -> (WideData<'_>, Outcome<'_>) {
    (
        WideData {
            leader: &r.leader,
            n_leaders: leaders,
            treated: &r.treated,
        },
        Outcome {
            name: "y",
            pre: &r.pre,
            post: &r.post,
        },
    )
}

/// A [`TestResult`] from a tidy row of `rows` with `term`.
fn pick(rows: &[TidyRow], term: &str, singular: bool) -> Option<TestResult> {
    rows.iter().find(|r| r.term == term).map(|r| TestResult {
        estimate: r.estimate,
        std_error: r.std_error,
        p_value: r.p_value,
        conf_low: r.conf_low,
        conf_high: r.conf_high,
        df: r.df,
        singular,
    })
}

fn from_estimate(e: Estimate, singular: bool) -> TestResult {
    TestResult {
        estimate: e.estimate,
        std_error: e.std_error,
        p_value: e.p_value,
        conf_low: e.conf_low,
        conf_high: e.conf_high,
        df: e.df,
        singular,
    }
}

fn run_mixed(r: &mut Replicate<'_>) -> Option<TestResult> {
    let fit = r.mixed()?;
    satterthwaite_test(&fit, &unit(1), r.alpha).map(|e| from_estimate(e, fit.singular))
}

fn run_mixed_kr(r: &mut Replicate<'_>) -> Option<TestResult> {
    let fit = r.mixed()?;
    kenward_roger_test(&fit, &unit(1), r.alpha).map(|e| from_estimate(e, fit.singular))
}

fn run_ols_cr2(r: &mut Replicate<'_>) -> Option<TestResult> {
    r.cluster();
    let alpha = r.alpha;
    let sc = &mut *r.scratch;
    sc.cr2.fit(&sc.cluster).ok()?;
    sc.cr2.test(&unit(1)).and_then(|(var, df)| {
        let beta = sc.cr2.ols.as_ref()?.beta[1];
        (var > 0.0 && df > 0.0)
            .then(|| from_estimate(Estimate::t(beta, var.sqrt(), df, alpha), false))
    })
}

fn run_leader_means(r: &mut Replicate<'_>) -> Option<TestResult> {
    super::leader_means_test(r.stats, r.alpha, r.scratch)
}

fn run_long(r: &mut Replicate<'_>) -> Option<TestResult> {
    let l = r.long()?;
    pick(&l.rows, "time:arm", l.fit.singular)
}

fn run_long_kr(r: &mut Replicate<'_>) -> Option<TestResult> {
    let l = r.long()?;
    pick(&l.kr_rows, "time:arm", l.fit.singular)
}

fn run_long_stable_leader(r: &mut Replicate<'_>) -> Option<TestResult> {
    let rows = r.rows?;
    let (data, outcome) = wide(rows, r.leaders);
    let long = wide_to_long(&data, &outcome, &rows.employee);
    let l = long_stable_leader(&long.as_data(r.leaders), "y", r.alpha).ok()?;
    pick(&l.rows, "time:arm", l.fit.singular)
}

fn run_cace(r: &mut Replicate<'_>) -> Option<TestResult> {
    let rows = r.rows?;
    let (data, outcome) = wide(rows, r.leaders);
    let c = cace(
        &data,
        &outcome,
        "uptake",
        &rows.uptake,
        r.alpha,
        &mut r.scratch.ancova.cr2,
    )
    .ok()?;
    pick(&c.rows, "uptake", false)
}

fn run_mod_low(r: &mut Replicate<'_>) -> Option<TestResult> {
    pick(r.moderation()?, "arm|m=0", false)
}

fn run_mod_high(r: &mut Replicate<'_>) -> Option<TestResult> {
    pick(r.moderation()?, "arm|m=1", false)
}

/// Runs `analyses` (in the order given) on one replication — per-leader statistics and, for the
/// analyses that need them, employee rows over `leaders` leaders — pushing one result per
/// analysis (`None` = the fit failed, or rows were needed and not given) onto `out`.
pub fn analyse_with_rows(
    stats: &LeaderStats,
    rows: Option<&EmployeeRows>,
    leaders: usize,
    alpha: f64,
    analyses: &[PowerAnalysis],
    scratch: &mut AnalysisScratch,
    out: &mut Vec<Option<TestResult>>,
) {
    let mut rep = Replicate {
        stats,
        rows,
        leaders,
        alpha,
        scratch,
        cluster_ready: false,
        mixed: None,
        long: None,
        moderation: None,
    };
    for a in analyses {
        out.push((a.spec().run)(&mut rep));
    }
}

/// Runs the leader-statistics `analyses` on one replication's statistics (the analyses that need
/// employee rows push `None`).
pub fn analyse_replication(
    stats: &LeaderStats,
    alpha: f64,
    analyses: &[PowerAnalysis],
    scratch: &mut AnalysisScratch,
    out: &mut Vec<Option<TestResult>>,
) {
    analyse_with_rows(stats, None, stats.leaders(), alpha, analyses, scratch, out);
}
