//! Simulation power of a trial's analyses over a grid of leaders × team sizes, every analysis on the
//! same replications, with Monte Carlo SEs, bias, coverage, type I error (the same design with
//! the effect set to zero) and counts of singular and failed fits — a failed fit is counted and
//! reported, never silently taken as a non-rejection.
//!
//! Each replication is **generate → analyse → tally**:
//! * *generate* fills per-leader sufficient statistics of one outcome among employees observed at
//!   pre and post (`n, Σx, Σy, Σx², Σxy, Σy²`, x = pre, y = post). When the design's effect is
//!   constant within a leader (no moderator, no shock, MCAR attrition) they are drawn directly
//!   ([`draw_leader_stats`]): the completers' count is binomial, their means are bivariate normal
//!   and their within-leader scatter matrix is a 2 × 2 Wishart (Bartlett decomposition), exactly
//!   the distribution of the statistics of the employee-level model of [`crate::design`] — no
//!   employee rows. Otherwise the employee-level simulator runs and the statistics are summed.
//! * *analyse* runs each [`PowerAnalysis`] on the statistics.
//! * *tally* reduces the per-replication results in replication order.
//!
//! Replication `r` of condition (leaders J, team size n, effect or null) draws from the stream
//! `balans_montecarlo::replication_rng(seed, key(J, n, null), r)`; results are stored per replication
//! and reduced in order, so they are identical for any number of threads. The run uses the
//! ambient rayon pool (the CLI builds it from `--threads`).

mod analyses;

pub use analyses::{
    analyse_replication, analyse_with_rows, needs_rows, select_analyses, AnalysisScratch,
    AnalysisSpec, EmployeeRows, Needs, PowerAnalysis, Target, ANALYSES, LEADER_ANALYSES,
};

use crate::analyse::ClusterStats;
use crate::design::{Attrition, Design, TeamSizes};
use crate::simulate::{simulate, team_sizes};
use balans_montecarlo as montecarlo;
use balans_montecarlo::ReplicationRng;
use rand::Rng;
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Per-leader sufficient statistics of one outcome among employees observed at pre and post.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaderStats {
    /// Arm of each leader (0 = control, 1 = trained).
    pub arm: Vec<u8>,
    /// Completers.
    pub n: Vec<f64>,
    /// `Σ pre`.
    pub sx: Vec<f64>,
    /// `Σ post`.
    pub sy: Vec<f64>,
    /// `Σ pre²`.
    pub sxx: Vec<f64>,
    /// `Σ pre·post`.
    pub sxy: Vec<f64>,
    /// `Σ post²`.
    pub syy: Vec<f64>,
}

impl LeaderStats {
    fn reset(&mut self, leaders: usize) {
        for v in [
            &mut self.n,
            &mut self.sx,
            &mut self.sy,
            &mut self.sxx,
            &mut self.sxy,
            &mut self.syy,
        ] {
            v.clear();
            v.resize(leaders, 0.0);
        }
        self.arm.clear();
        self.arm.resize(leaders, 0);
    }

    /// Number of leaders.
    pub fn leaders(&self) -> usize {
        self.arm.len()
    }
}

/// A test result of one analysis in one replication.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// Estimate of the arm effect.
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Confidence limits.
    pub conf_low: f64,
    /// Upper confidence limit.
    pub conf_high: f64,
    /// Degrees of freedom of the t reference.
    pub df: f64,
    /// A singular fit (a variance component on its boundary, as lme4 reports it): the test is
    /// still made and counted, and the count is reported.
    pub singular: bool,
}

/// The per-leader statistics of `post ~ 1 + arm + pre` ([`ClusterStats`], p = 3) from the leader
/// sums: `Σx = (n, a·n, Σpre)`, `Σxxᵀ` from `n, Σpre, Σpre²` and the arm `a`, `Σxy = (Σpost,
/// a·Σpost, Σpre·post)`.
pub fn ancova_cluster_stats(stats: &LeaderStats, out: &mut ClusterStats) {
    out.reset(3, stats.leaders());
    for j in 0..stats.leaders() {
        let n = stats.n[j];
        if n == 0.0 {
            continue;
        }
        let a = f64::from(stats.arm[j]);
        let (sx, sxx) = (stats.sx[j], stats.sxx[j]);
        out.set_cluster(
            j,
            n,
            &[n, a * n, sx],
            &[n, a * n, sx, a * n, a * n, a * sx, sx, a * sx, sxx],
            &[stats.sy[j], a * stats.sy[j], stats.sxy[j]],
            stats.sy[j],
            stats.syy[j],
        );
    }
}

/// Sums per leader of one outcome over employees observed at pre and post, from employee rows
/// (`leader` dense indices, `arm` 0/1 per row, NaN = missing): the leader-means ANCOVA's input.
pub fn leader_stats_from_rows(
    leader: &[usize],
    arm: &[u8],
    pre: &[f64],
    post: &[f64],
    leaders: usize,
) -> LeaderStats {
    let mut stats = LeaderStats::default();
    stats.reset(leaders);
    for i in 0..leader.len() {
        let j = leader[i];
        stats.arm[j] = arm[i];
        let (x, y) = (pre[i], post[i]);
        if x.is_nan() || y.is_nan() {
            continue;
        }
        stats.n[j] += 1.0;
        stats.sx[j] += x;
        stats.sy[j] += y;
        stats.sxx[j] += x * x;
        stats.sxy[j] += x * y;
        stats.syy[j] += y * y;
    }
    stats
}

/// (c) the leader-means ANCOVA: OLS of each leader's mean post-test on arm and its mean pre-test
/// over leaders with at least one completer, t test with `J − 3` df.
pub fn leader_means_test(
    stats: &LeaderStats,
    alpha: f64,
    scratch: &mut AnalysisScratch,
) -> Option<TestResult> {
    scratch.means.clear();
    for j in 0..stats.leaders() {
        if stats.n[j] > 0.0 {
            scratch.means.push([
                f64::from(stats.arm[j]),
                stats.sx[j] / stats.n[j],
                stats.sy[j] / stats.n[j],
            ]);
        }
    }
    ols_arm_test(&scratch.means, alpha)
}

/// OLS of `y` on `1, arm, x` for rows `[arm, x, y]`: the arm coefficient's t test (`k − 3` df).
fn ols_arm_test(rows: &[[f64; 3]], alpha: f64) -> Option<TestResult> {
    let k = rows.len() as f64;
    let treated = rows.iter().filter(|r| r[0] > 0.5).count();
    if treated < 2 || rows.len() - treated < 2 || rows.len() < 4 {
        return None;
    }
    let mean = |c: usize| rows.iter().map(|r| r[c]).sum::<f64>() / k;
    let (ma, mx, my) = (mean(0), mean(1), mean(2));
    let (mut saa, mut sax, mut sxx, mut say, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for r in rows {
        let (a, x, y) = (r[0] - ma, r[1] - mx, r[2] - my);
        saa += a * a;
        sax += a * x;
        sxx += x * x;
        say += a * y;
        sxy += x * y;
        syy += y * y;
    }
    let det = saa * sxx - sax * sax;
    if det <= 1e-12 * saa * sxx {
        return None;
    }
    let b_arm = (sxx * say - sax * sxy) / det;
    let b_x = (saa * sxy - sax * say) / det;
    let df = k - 3.0;
    let rss = (syy - b_arm * say - b_x * sxy).max(0.0);
    let se = (rss / df * sxx / det).sqrt();
    Some(t_result(b_arm, se, df, alpha, false))
}

/// A two-sided t test and CI.
pub fn t_result(estimate: f64, std_error: f64, df: f64, alpha: f64, singular: bool) -> TestResult {
    let t = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    let q = t.inverse_cdf(1.0 - alpha / 2.0);
    TestResult {
        estimate,
        std_error,
        p_value: 2.0 * t.cdf(-(estimate / std_error).abs()),
        conf_low: estimate - q * std_error,
        conf_high: estimate + q * std_error,
        df,
        singular,
    }
}

/// Settings of a power run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialPowerConfig {
    /// The outcome variable analysed.
    pub outcome: String,
    /// Replications per condition.
    pub reps: usize,
    /// Seed of the streams.
    pub seed: u64,
    /// Two-sided level.
    pub alpha: f64,
    /// Always simulate employee rows (the general path), even when the leader statistics could be
    /// drawn directly; for checking the fast path and for peer comparisons.
    pub employee_level: bool,
    /// The analyses to run, in output order ([`select_analyses`]); the rows name them.
    #[serde(skip)]
    pub analyses: Vec<PowerAnalysis>,
}

/// Why a power run cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrialPowerError {
    /// A setting out of range.
    #[error("{setting} = {value} is out of range: {expected}")]
    Setting {
        /// The setting.
        setting: &'static str,
        /// The value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A replay of merged shards does not match this run.
    #[error(transparent)]
    Shard(balans_montecarlo::ShardError),
    /// The outcome is not a variable of the design's model.
    #[error("unknown outcome '{name}'; variables: {known}")]
    UnknownOutcome {
        /// The name.
        name: String,
        /// The variables.
        known: String,
    },
}

/// One (leaders, team size, analysis) result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialPowerRow {
    /// Total leaders.
    pub leaders: usize,
    /// Employees per leader (the design's mean team size when sizes vary).
    pub team_size: f64,
    /// Analysis.
    pub analysis: &'static str,
    /// Outcome.
    pub outcome: String,
    /// The true intention-to-treat effect (SD units).
    pub effect: f64,
    /// Replications.
    pub reps: usize,
    /// Rejection rate over all replications.
    pub power: f64,
    /// Its Monte Carlo SE `sqrt(p(1 − p)/R)`.
    pub mc_se: f64,
    /// Mean estimate over fitted replications.
    pub mean_estimate: f64,
    /// `mean_estimate − effect`.
    pub bias: f64,
    /// SD of the estimates.
    pub empirical_sd: f64,
    /// Mean standard error.
    pub mean_std_error: f64,
    /// Share of CIs containing the effect.
    pub coverage: f64,
    /// Rejection rate when the effect is zero (type I error).
    pub type1: f64,
    /// Its Monte Carlo SE.
    pub type1_mc_se: f64,
    /// Singular fits (effect and null runs together).
    pub singular: usize,
    /// Failed fits (effect and null runs together); they count as non-rejections in `power` and
    /// `type1` and are excluded from the means.
    pub failed: usize,
}

/// Team sizes of a grid column: `None` = the design's own sizes.
pub type TeamSizeChoice = Option<usize>;

/// The stream condition key of (leaders, team size, null).
pub fn condition_key(leaders: usize, team_size: TeamSizeChoice, null: bool) -> u64 {
    ((leaders as u64) << 33) | ((team_size.unwrap_or(0) as u64) << 1) | u64::from(null)
}

/// Whether [`draw_leader_stats`] is exact for the design: the effect is constant within leaders
/// and attrition does not depend on the data.
pub fn has_fast_path(design: &Design) -> bool {
    design.moderator().is_none()
        && design.shock().is_none()
        && matches!(design.attrition(), Attrition::Mcar(_))
}

/// Per-thread buffers of generation.
#[derive(Debug, Default)]
pub struct GenerateScratch {
    chi2: Vec<ChiSquared<f64>>,
    sizes: Vec<usize>,
}

impl GenerateScratch {
    fn chi2(&mut self, df: usize) -> &ChiSquared<f64> {
        while self.chi2.len() < df {
            let k = self.chi2.len() + 1;
            self.chi2.push(ChiSquared::new(k as f64).expect("df > 0"));
        }
        &self.chi2[df - 1]
    }
}

/// Draws the leader statistics of outcome `v` directly (see the module doc): for leader j with
/// `m` completers, `x̄ = √ρ a₀ + √(1−ρ) g₁/√m`, `ȳ = √ρ a₁ + s_j + √(1−ρ)(r_E g₁ + √(1−r_E²) g₂)/√m`
/// and the scatter matrix `(1−ρ) L A Aᵀ Lᵀ`, `L = chol([[1, r_E], [r_E, 1]])`, `A` Bartlett's lower
/// triangle (`√χ²(m−1)`, `√χ²(m−2)` on the diagonal, a standard normal below).
pub fn draw_leader_stats<R: Rng + ?Sized>(
    design: &Design,
    v: usize,
    rng: &mut R,
    stats: &mut LeaderStats,
    scratch: &mut GenerateScratch,
) {
    let [c0, c1] = design.leaders();
    stats.reset(c0 + c1);
    stats.arm[c0..].fill(1);
    let rho = design.icc()[v];
    let (cl, ce) = (rho.sqrt(), (1.0 - rho).sqrt());
    let [r_e, r_l] = design.stability();
    let (s_e, s_l) = ((1.0 - r_e * r_e).sqrt(), (1.0 - r_l * r_l).sqrt());
    let t = design.population().inverse_i_minus_beta();
    let (mut mean_shift, mut sd_shift) = (0.0, 0.0);
    for (k, &f) in design.fssb().iter().enumerate() {
        mean_shift += t[(v, f)] * design.effects()[k];
        sd_shift += t[(v, f)] * design.effect_sd();
    }
    let keep = match design.attrition() {
        Attrition::Mcar(a) => 1.0 - a,
        Attrition::Mar { .. } => unreachable!("the fast path is MCAR only"),
    };
    let mut sizes = std::mem::take(&mut scratch.sizes);
    sizes.clear();
    sizes.extend(team_sizes(design.team_sizes(), c0 + c1, rng));
    for (j, &size) in sizes.iter().enumerate() {
        let a0: f64 = rng.sample(StandardNormal);
        let a1 = r_l * a0 + s_l * rng.sample::<f64, _>(StandardNormal);
        let completed = stats.arm[j] == 1 && rng.gen::<f64>() < design.uptake();
        let het: f64 = rng.sample(StandardNormal);
        let shift = if completed {
            mean_shift + sd_shift * het
        } else {
            0.0
        };
        let m = if keep >= 1.0 {
            size
        } else {
            (0..size).filter(|_| rng.gen::<f64>() < keep).count()
        };
        if m == 0 {
            continue;
        }
        let mf = m as f64;
        let g1: f64 = rng.sample(StandardNormal);
        let g2: f64 = rng.sample(StandardNormal);
        let xbar = cl * a0 + ce * g1 / mf.sqrt();
        let ybar = cl * a1 + shift + ce * (r_e * g1 + s_e * g2) / mf.sqrt();
        let (mut wxx, mut wxy, mut wyy) = (0.0, 0.0, 0.0);
        if m >= 2 {
            let c1sq = scratch.chi2(m - 1).sample(rng);
            let c2sq = if m >= 3 {
                scratch.chi2(m - 2).sample(rng)
            } else {
                0.0
            };
            let z: f64 = rng.sample(StandardNormal);
            let c1 = c1sq.sqrt();
            let w = 1.0 - rho;
            wxx = w * c1sq;
            wxy = w * (r_e * c1sq + s_e * c1 * z);
            wyy = w * (r_e * r_e * c1sq + 2.0 * r_e * s_e * c1 * z + s_e * s_e * (z * z + c2sq));
        }
        stats.n[j] = mf;
        stats.sx[j] = mf * xbar;
        stats.sy[j] = mf * ybar;
        stats.sxx[j] = wxx + mf * xbar * xbar;
        stats.sxy[j] = wxy + mf * xbar * ybar;
        stats.syy[j] = wyy + mf * ybar * ybar;
    }
    scratch.sizes = sizes;
}

/// The leader statistics of outcome `v` summed from employee-level data simulated under the design
/// (the general path: moderators, shocks, MAR attrition).
pub fn employee_leader_stats<R: Rng + ?Sized>(
    design: &Design,
    v: usize,
    rng: &mut R,
    stats: &mut LeaderStats,
) {
    let data = simulate(design, rng);
    stats.reset(design.total_leaders());
    for (i, e) in data.employees.iter().enumerate() {
        let (x, y) = (data.score(i, 0, v), data.score(i, 1, v));
        if y.is_nan() {
            continue;
        }
        let j = e.leader as usize - 1;
        stats.arm[j] = e.arm;
        stats.n[j] += 1.0;
        stats.sx[j] += x;
        stats.sy[j] += y;
        stats.sxx[j] += x * x;
        stats.sxy[j] += x * y;
        stats.syy[j] += y * y;
    }
    // Leaders without completers still carry their arm.
    for e in &data.employees {
        stats.arm[e.leader as usize - 1] = e.arm;
    }
}

/// One condition of a power run as a [`balans_montecarlo::Replication`]: generate the
/// leader statistics, run the selected analyses, tally each analysis's outcome.
struct TrialReplication<'a> {
    design: &'a Design,
    v: usize,
    alpha: f64,
    analyses: &'a [PowerAnalysis],
    fast: bool,
    /// The true value of each selected analysis, in order.
    truths: Vec<f64>,
}

/// Per-thread buffers of a replication.
struct Workspace {
    stats: LeaderStats,
    gen: GenerateScratch,
    an: AnalysisScratch,
    rows: EmployeeRows,
    out: Vec<Option<TestResult>>,
}

/// What one analysis counts over replications.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct AnalysisTally {
    reject: usize,
    cover: usize,
    fitted: usize,
    singular: usize,
    failed: usize,
    sum: f64,
    sum2: f64,
    sum_se: f64,
}

/// The tallies of every selected analysis.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Tallies(Vec<AnalysisTally>);

impl montecarlo::Tally for Tallies {
    fn reset(&mut self) {
        self.0
            .iter_mut()
            .for_each(|t| *t = AnalysisTally::default());
    }
    fn merge(&mut self, later: &Tallies) {
        for (a, b) in self.0.iter_mut().zip(&later.0) {
            a.reject += b.reject;
            a.cover += b.cover;
            a.fitted += b.fitted;
            a.singular += b.singular;
            a.failed += b.failed;
            a.sum += b.sum;
            a.sum2 += b.sum2;
            a.sum_se += b.sum_se;
        }
    }
}

impl montecarlo::Replication for TrialReplication<'_> {
    type Workspace = Workspace;
    type Tally = Tallies;

    fn workspace(&self) -> Workspace {
        Workspace {
            stats: LeaderStats::default(),
            gen: GenerateScratch::default(),
            an: AnalysisScratch::default(),
            rows: EmployeeRows::default(),
            out: Vec::with_capacity(self.analyses.len()),
        }
    }

    fn tally(&self) -> Tallies {
        Tallies(vec![AnalysisTally::default(); self.analyses.len()])
    }

    fn generate(&self, ws: &mut Workspace, rng: &mut ReplicationRng) -> bool {
        if needs_rows(self.analyses) {
            fill_rows(self.design, self.v, rng, &mut ws.rows);
            let r = &ws.rows;
            ws.stats = leader_stats_from_rows(
                &r.leader,
                &r.arm,
                &r.pre,
                &r.post,
                self.design.total_leaders(),
            );
        } else if self.fast {
            draw_leader_stats(self.design, self.v, rng, &mut ws.stats, &mut ws.gen);
        } else {
            employee_leader_stats(self.design, self.v, rng, &mut ws.stats);
        }
        true
    }

    fn analyse(&self, ws: &mut Workspace, _rng: &mut ReplicationRng) -> bool {
        ws.out.clear();
        let rows = needs_rows(self.analyses).then_some(&ws.rows);
        analyse_with_rows(
            &ws.stats,
            rows,
            self.design.total_leaders(),
            self.alpha,
            self.analyses,
            &mut ws.an,
            &mut ws.out,
        );
        true
    }

    fn record(&self, ws: &Workspace, ok: bool, tally: &mut Tallies) {
        for (a, t) in tally.0.iter_mut().enumerate() {
            match ws.out.get(a).copied().flatten().filter(|_| ok) {
                None => t.failed += 1,
                Some(r) => {
                    t.fitted += 1;
                    t.reject += usize::from(r.p_value < self.alpha);
                    let truth = self.truths[a];
                    t.cover += usize::from(r.conf_low <= truth && truth <= r.conf_high);
                    t.singular += usize::from(r.singular);
                    t.sum += r.estimate;
                    t.sum2 += r.estimate * r.estimate;
                    t.sum_se += r.std_error;
                }
            }
        }
    }
}

/// Employee rows of outcome `v` simulated under the design (all employees; posts NaN after
/// attrition), with uptake and moderator columns.
fn fill_rows<R: Rng + ?Sized>(design: &Design, v: usize, rng: &mut R, rows: &mut EmployeeRows) {
    let data = simulate(design, rng);
    *rows = EmployeeRows::default();
    for (i, e) in data.employees.iter().enumerate() {
        rows.leader.push(e.leader as usize - 1);
        rows.arm.push(e.arm);
        rows.treated.push(e.arm == 1);
        rows.pre.push(data.score(i, 0, v));
        rows.post.push(data.score(i, 1, v));
        rows.uptake.push(f64::from(u8::from(e.uptake)));
        rows.moderator.push(
            e.moderator_high
                .map_or(f64::NAN, |h| f64::from(u8::from(h))),
        );
        rows.employee.push(i);
    }
}

/// One condition's tallies, by the generic replication engine
/// ([`balans_montecarlo::run`]: streams `(seed, key, r)`, fixed blocks merged in order).
fn run_condition(
    design: &Design,
    v: usize,
    config: &TrialPowerConfig,
    key: u64,
    truths: Vec<f64>,
    progress: &dyn montecarlo::RunContext,
) -> Result<Tallies, TrialPowerError> {
    let rep = TrialReplication {
        design,
        v,
        alpha: config.alpha,
        analyses: &config.analyses,
        fast: has_fast_path(design) && !config.employee_level,
        truths,
    };
    montecarlo::run(
        &rep,
        montecarlo::Streams {
            seed: config.seed,
            condition: key,
        },
        config.reps,
        progress,
    )
    .map_err(TrialPowerError::Shard)
}

/// Power of every analysis at every (leaders, team size) of the grid. `progress(k)` is called
/// after every `k` finished replications (effect and null runs).
///
/// # Errors
/// Settings out of range, an unknown outcome, a thread pool that cannot start.
pub fn trial_power(
    design: &Design,
    config: &TrialPowerConfig,
    leaders: &[usize],
    team_sizes_grid: &[TeamSizeChoice],
    progress: &dyn montecarlo::RunContext,
) -> Result<Vec<TrialPowerRow>, TrialPowerError> {
    let v = validate(design, config)?;
    for &j in leaders {
        if j < 4 {
            return Err(TrialPowerError::Setting {
                setting: "leaders",
                value: j.to_string(),
                expected: "at least 4 (2 per arm)",
            });
        }
    }
    let mut rows = Vec::new();
    for &j in leaders {
        for &n in team_sizes_grid {
            let d = design.with_size(j, n);
            let null = d.scaled_effect(0.0);
            let truths: Vec<f64> = config.analyses.iter().map(|a| a.truth(&d, v)).collect();
            let key = condition_key(j, n, false);
            let res = run_condition(&d, v, config, key, truths.clone(), progress)?;
            let zeros = vec![0.0; config.analyses.len()];
            let key0 = condition_key(j, n, true);
            let res0 = run_condition(&null, v, config, key0, zeros, progress)?;
            let team_size = n.map_or_else(|| mean_team_size(d.team_sizes()), |n| n as f64);
            for (a, analysis) in config.analyses.iter().enumerate() {
                rows.push(power_row(
                    config,
                    (d.total_leaders(), team_size),
                    analysis.name(),
                    truths[a],
                    (&res.0[a], &res0.0[a]),
                ));
            }
        }
    }
    Ok(rows)
}

/// One analysis's row from its effect-run and null-run tallies.
fn power_row(
    config: &TrialPowerConfig,
    (leaders, team_size): (usize, f64),
    analysis: &'static str,
    truth: f64,
    (t, t0): (&AnalysisTally, &AnalysisTally),
) -> TrialPowerRow {
    let reps = config.reps as f64;
    let power = t.reject as f64 / reps;
    let type1 = t0.reject as f64 / reps;
    let fitted = t.fitted.max(1) as f64;
    let mean = t.sum / fitted;
    TrialPowerRow {
        leaders,
        team_size,
        analysis,
        outcome: config.outcome.clone(),
        effect: truth,
        reps: config.reps,
        power,
        mc_se: (power * (1.0 - power) / reps).sqrt(),
        mean_estimate: mean,
        bias: mean - truth,
        empirical_sd: ((t.sum2 / fitted - mean * mean) * fitted / (fitted - 1.0).max(1.0))
            .max(0.0)
            .sqrt(),
        mean_std_error: t.sum_se / fitted,
        coverage: t.cover as f64 / fitted,
        type1,
        type1_mc_se: (type1 * (1.0 - type1) / reps).sqrt(),
        singular: t.singular + t0.singular,
        failed: t.failed + t0.failed,
    }
}

fn mean_team_size(sizes: &TeamSizes) -> f64 {
    match sizes {
        TeamSizes::Fixed(n) => *n as f64,
        TeamSizes::List(l) => l.iter().sum::<usize>() as f64 / l.len() as f64,
        TeamSizes::MeanCv { mean, .. } => *mean,
    }
}

fn validate(design: &Design, config: &TrialPowerConfig) -> Result<usize, TrialPowerError> {
    if config.reps < 2 || config.reps as u64 > balans_montecarlo::MAX_REPLICATIONS {
        return Err(TrialPowerError::Setting {
            setting: "reps",
            value: config.reps.to_string(),
            expected: "at least 2",
        });
    }
    if !(config.alpha > 0.0 && config.alpha < 1.0) {
        return Err(TrialPowerError::Setting {
            setting: "alpha",
            value: config.alpha.to_string(),
            expected: "strictly between 0 and 1",
        });
    }
    design
        .population()
        .index_of(&config.outcome)
        .ok_or_else(|| TrialPowerError::UnknownOutcome {
            name: config.outcome.clone(),
            known: design.variables().join(", "),
        })
}

/// The result of a search for the number of leaders.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadersSearch {
    /// The analysis searched for.
    pub analysis: &'static str,
    /// Target power.
    pub target: f64,
    /// The smallest number of leaders evaluated whose simulated power reached the target
    /// (`None` when even the largest did not).
    pub leaders: Option<usize>,
    /// Its simulated power and MC SE.
    pub power: Option<f64>,
    /// Monte Carlo SE of that power.
    pub mc_se: Option<f64>,
}

/// Searches the smallest total number of leaders (in steps that keep the design's allocation,
/// between 4 and `max`) whose simulated power of `analysis` reaches `target`, by bisection on the
/// simulated power (each evaluation its own stream, so the search is reproducible). Returns the
/// search result and every row evaluated.
///
/// # Errors
/// As [`trial_power`]; `target` outside (0, 1); an unknown analysis.
pub fn search_leaders(
    design: &Design,
    config: &TrialPowerConfig,
    analysis: &str,
    target: f64,
    team_size: TeamSizeChoice,
    max: usize,
    progress: &dyn montecarlo::RunContext,
) -> Result<(LeadersSearch, Vec<TrialPowerRow>), TrialPowerError> {
    if !(target > 0.0 && target < 1.0) {
        return Err(TrialPowerError::Setting {
            setting: "target-power",
            value: target.to_string(),
            expected: "strictly between 0 and 1",
        });
    }
    let name = config
        .analyses
        .iter()
        .map(|a| a.name())
        .find(|a| *a == analysis)
        .ok_or(TrialPowerError::Setting {
            setting: "analysis",
            value: analysis.to_string(),
            expected:
                "one of the analyses run (mixed_ancova, mixed_ancova_kr, ols_cr2, leader_means)",
        })?;
    let mut rows: Vec<TrialPowerRow> = Vec::new();
    let eval = |j: usize, rows: &mut Vec<TrialPowerRow>| -> Result<f64, TrialPowerError> {
        let r = trial_power(design, config, &[j], &[team_size], progress)?;
        let p = r
            .iter()
            .find(|r| r.analysis == name)
            .map_or(0.0, |r| r.power);
        rows.extend(r);
        Ok(p)
    };
    let (mut lo, mut hi) = (4usize, 8usize);
    let mut found = None;
    while hi <= max {
        if eval(hi, &mut rows)? >= target {
            found = Some(hi);
            break;
        }
        lo = hi;
        hi *= 2;
    }
    if found.is_some() {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if eval(mid, &mut rows)? >= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        found = Some(hi);
    }
    rows.sort_by(|a, b| (a.leaders, a.analysis).cmp(&(b.leaders, b.analysis)));
    rows.dedup_by(|a, b| a.leaders == b.leaders && a.analysis == b.analysis);
    let at = found.and_then(|j| {
        rows.iter().find(|r| {
            r.leaders == design.with_size(j, team_size).total_leaders() && r.analysis == name
        })
    });
    Ok((
        LeadersSearch {
            analysis: name,
            target,
            leaders: at.map(|r| r.leaders),
            power: at.map(|r| r.power),
            mc_se: at.map(|r| r.mc_se),
        },
        rows,
    ))
}
