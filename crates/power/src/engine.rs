//! The Monte Carlo loop: simulate → sample covariance → fit → test, for every replication of every
//! sample size, in parallel, with results that do not depend on the number of threads.
//!
//! Replications run in chunks of [`CHUNK`]; inside a chunk they run in parallel (rayon), each on its
//! thread's [`Workspace`] (every buffer allocated once per thread and sample size, nothing per
//! replication), writing its outcome into its own slot; the slots are then tallied sequentially in
//! replication order, so sums of floating-point numbers are the same for any thread count, and
//! memory does not grow with R.

use crate::config::MissingData;
use crate::config::{DataMode, PowerConfig, Sampling};
use crate::error::PowerError;
use crate::report::{PowerRow, RowKind};
use crate::stream::replication_rng;
use crate::study::{EffectKind, Study, Test};
use crate::wishart::WishartSampler;
use balans_estimate::{
    bootstrap_interval_values, Bootstrapper, Estimator, FitOutput, Interval, MonteCarloSampler,
};
use balans_sim::{
    ConstructSampler, Likert, LikertTarget, Missingness, Simulator, SurveyDesign, TeamSizes,
    STUDY_SCALES,
};
use nalgebra::DMatrix;
use rand::{Rng, RngCore};
use rand_distr::StandardNormal;
use std::sync::Mutex;

/// Replications per parallel chunk (memory per sample size is `CHUNK ×` one replication's outcome).
const CHUNK: usize = 512;

/// Replications per parallel task inside a chunk; fixed, so the order of the floating-point
/// reductions, and hence the results, do not depend on the number of threads.
const BLOCK: usize = 64;

/// Outcome bits of one (effect, test) cell in one replication.
const REJECT: u8 = 1;
const COVERED: u8 = 2;
const HAS_CI: u8 = 4;

/// One counted (effect, test) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) effect: usize,
    pub(crate) test: Test,
}

/// The cells of a study under a configuration: Wald for paths; the configured tests for routes and
/// `:=` parameters (joint significance only for products of paths); for the joint row, every
/// configured test that every hypothesised function effect has (Wald when only paths are selected).
pub(crate) fn cells(study: &Study, tests: &[Test]) -> Vec<Cell> {
    let mut tests = tests.to_vec();
    tests.retain(|t| *t != Test::Wald);
    tests.sort_unstable();
    tests.dedup();
    let applies = |kind: &EffectKind, t: Test| match kind {
        EffectKind::Path { .. } => t == Test::Wald,
        EffectKind::Function {
            product_of_paths, ..
        } => t != Test::Wald && (t != Test::Joint || *product_of_paths),
        EffectKind::AllJointly => false,
    };
    let mut out = Vec::new();
    for (e, effect) in study.effects.iter().enumerate() {
        match &effect.kind {
            EffectKind::Path { .. } => out.push(Cell {
                effect: e,
                test: Test::Wald,
            }),
            kind @ EffectKind::Function { .. } => {
                out.extend(
                    tests
                        .iter()
                        .filter(|t| applies(kind, **t))
                        .map(|&test| Cell { effect: e, test }),
                );
            }
            EffectKind::AllJointly => {
                let functions: Vec<&EffectKind> = study
                    .effects
                    .iter()
                    .filter(|x| {
                        x.is_hypothesised() && matches!(x.kind, EffectKind::Function { .. })
                    })
                    .map(|x| &x.kind)
                    .collect();
                if functions.is_empty() {
                    out.push(Cell {
                        effect: e,
                        test: Test::Wald,
                    });
                } else {
                    for &t in &tests {
                        if functions.iter().all(|k| applies(k, t)) {
                            out.push(Cell { effect: e, test: t });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Per sample size: everything the replications share.
struct Condition<'a> {
    study: &'a Study,
    config: &'a PowerConfig,
    n: usize,
    sampling: Sampling,
    wishart: Option<WishartSampler>,
    constructs: Option<ConstructSampler>,
    /// Normal complete data without bootstrap on the row-level path: the rows of the factor
    /// `L = (I − B)⁻¹ chol(Ψ)` (`Σ = L Lᵀ`) for the analysis variables, `M` (p × p_pop). A data set
    /// is `Y = Z Lᵀ` with `Z` an N × p_pop matrix of independent standard normals, so its sample
    /// covariance matrix is exactly `M S_Z Mᵀ`: drawing `Z` and forming `S_Z` column by column
    /// avoids materialising `Y` (same random rows, same statistic, a third of the work). Kept with
    /// its transpose.
    row_factor: Option<(DMatrix<f64>, DMatrix<f64>)>,
    /// The survey simulator and, per analysis variable, its column in the survey data.
    survey: Option<(Simulator, Vec<usize>)>,
    /// Per analysis variable: its Likert scale and the construct's population SD (items mode).
    scales: Vec<Option<(Likert, f64)>>,
    cells: &'a [Cell],
    /// The study's paths, routes and `:=` parameters, and its joint rows (study effect indices):
    /// what the replication loop needs (precomputed lookups).
    paths: Vec<PathPlan>,
    functions: Vec<FunctionPlan>,
    jointly: Vec<usize>,
    /// The free parameters whose Wald decision some cell uses (paths, joint significance),
    /// ascending: each z statistic is formed once per replication.
    wald_parameters: Vec<usize>,
    /// Per joint-row cell: its index and the cells of the hypothesised effects it combines (`None`
    /// where such an effect has no cell for the test: never rejected).
    joint: Vec<(usize, Vec<Option<usize>>)>,
    z_crit: f64,
    needs_mc: bool,
    needs_boot: bool,
    /// The analysis model's effects (routes, `:=` parameters) that the study reports, ascending:
    /// the only ones the fits and the Monte Carlo intervals compute.
    fit_effects: Vec<usize>,
}

const N_TESTS: usize = 6;

/// A path effect, as the replication loop reads it.
struct PathPlan {
    /// Study effect index.
    effect: usize,
    /// Free parameter.
    parameter: usize,
    /// Population value when coverage is counted (normal data).
    truth: Option<f64>,
    /// Its Wald cell.
    wald: Option<usize>,
}

/// A route or `:=` parameter, as the replication loop reads it.
struct FunctionPlan {
    /// Study effect index.
    effect: usize,
    /// Analysis-model effect index.
    spec_effect: usize,
    /// The free parameters its joint-significance test needs (empty without a joint cell).
    parameters: Vec<usize>,
    /// Population value when coverage is counted (normal data).
    truth: Option<f64>,
    /// Its cell per test slot.
    cells: [Option<usize>; N_TESTS],
}

fn test_slot(t: Test) -> usize {
    t as usize
}

/// Per-thread buffers, allocated once per sample size.
struct Workspace {
    rows: Vec<f64>,
    data: Vec<f64>,
    means: Vec<f64>,
    /// Column-major standard normals (N × p_pop) of the factor path.
    z: Vec<f64>,
    /// Their sample covariance matrix.
    cz: DMatrix<f64>,
    /// `M S_Z` (p × p_pop).
    mz: DMatrix<f64>,
    s: DMatrix<f64>,
    scratch: Vec<f64>,
    estimator: Estimator,
    fit: FitOutput,
    mc: Option<MonteCarloSampler>,
    mc_intervals: Vec<Interval>,
    boot: Option<Bootstrapper>,
    boot_rows: Vec<f64>,
    boot_column: Vec<f64>,
    /// Percentile and bias-corrected interval per analysis effect.
    boot_intervals: Vec<(Interval, Interval)>,
    /// Upper Cholesky factor of the last Wishart draw (column-major p × p).
    factor: Vec<f64>,
    /// Reused buffers of the survey simulator (teams, missingness).
    survey: Option<balans_sim::SurveyScratch>,
    /// `(estimate, se)` per effect of the current replication.
    est: Vec<(f64, f64)>,
    /// Outcome bits per cell of the current replication.
    flags: Vec<u8>,
    /// Per free parameter: its Wald decision in the current replication (where a cell uses it).
    significant: Vec<bool>,
}

impl Workspace {
    fn new(cond: &Condition<'_>) -> Workspace {
        let spec = &cond.study.spec;
        let p = spec.variables().len();
        let pop_p = cond.study.population.len();
        let n = cond.n;
        let mut estimator = Estimator::new(spec);
        estimator.select_effects(Some(&cond.fit_effects));
        let fit = estimator.new_output();
        let rows_needed = cond.sampling == Sampling::Rows && cond.row_factor.is_none();
        let n_eff = spec.effects().len();
        let boot = cond.needs_boot.then(|| Bootstrapper::new(spec, n));
        let width = boot.as_ref().map_or(0, Bootstrapper::width);
        let b = if cond.needs_boot {
            cond.config.bootstrap_draws
        } else {
            0
        };
        let nan = Interval {
            lower: f64::NAN,
            upper: f64::NAN,
        };
        Workspace {
            rows: if rows_needed {
                vec![0.0; n * pop_p]
            } else {
                Vec::new()
            },
            data: if rows_needed {
                vec![0.0; n * p]
            } else {
                Vec::new()
            },
            means: vec![0.0; p],
            z: if cond.row_factor.is_some() {
                vec![0.0; n * pop_p]
            } else {
                Vec::new()
            },
            cz: DMatrix::zeros(pop_p, pop_p),
            mz: DMatrix::zeros(p, pop_p),
            s: DMatrix::zeros(p, p),
            scratch: vec![0.0; p * p],
            estimator,
            fit,
            mc: cond.needs_mc.then(|| {
                MonteCarloSampler::with_effects(spec, cond.config.mc_draws, &cond.fit_effects)
            }),
            mc_intervals: vec![nan; n_eff],
            boot,
            boot_rows: vec![0.0; b * width],
            boot_column: Vec::with_capacity(b),
            boot_intervals: vec![(nan, nan); n_eff],
            factor: vec![0.0; p * p],
            survey: None,
            est: vec![(f64::NAN, f64::NAN); cond.study.effects.len()],
            flags: vec![0; cond.cells.len()],
            significant: vec![false; spec.npar()],
        }
    }
}

/// Running sums over replications, in replication order.
struct Tally {
    converged: usize,
    /// Per effect: count, mean and M2 of the estimates (Welford), sum of SEs.
    count: Vec<usize>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    sum_se: Vec<f64>,
    /// Per cell.
    rejected: Vec<usize>,
    covered: Vec<usize>,
    with_ci: Vec<usize>,
}

impl Tally {
    fn new(n_effects: usize, n_cells: usize) -> Tally {
        Tally {
            converged: 0,
            count: vec![0; n_effects],
            mean: vec![0.0; n_effects],
            m2: vec![0.0; n_effects],
            sum_se: vec![0.0; n_effects],
            rejected: vec![0; n_cells],
            covered: vec![0; n_cells],
            with_ci: vec![0; n_cells],
        }
    }

    fn reset(&mut self) {
        self.converged = 0;
        self.count.fill(0);
        self.mean.fill(0.0);
        self.m2.fill(0.0);
        self.sum_se.fill(0.0);
        self.rejected.fill(0);
        self.covered.fill(0);
        self.with_ci.fill(0);
    }

    /// Adds another tally (of later replications): counts add; means and sums of squared deviations
    /// combine by Chan, Golub & LeVeque's (1979) pairwise update.
    fn merge(&mut self, other: &Tally) {
        self.converged += other.converged;
        for e in 0..self.count.len() {
            let (na, nb) = (self.count[e], other.count[e]);
            if nb == 0 {
                continue;
            }
            let n = na + nb;
            let delta = other.mean[e] - self.mean[e];
            self.mean[e] += delta * nb as f64 / n as f64;
            self.m2[e] += other.m2[e] + delta * delta * (na as f64) * (nb as f64) / n as f64;
            self.count[e] = n;
            self.sum_se[e] += other.sum_se[e];
        }
        for c in 0..self.rejected.len() {
            self.rejected[c] += other.rejected[c];
            self.covered[c] += other.covered[c];
            self.with_ci[c] += other.with_ci[c];
        }
    }

    fn add(&mut self, estimates: &[(f64, f64)], flags: &[u8], converged: bool) {
        if converged {
            self.converged += 1;
            // Zipped (no per-element bounds checks); Welford's update, in effect order.
            let sums = self
                .count
                .iter_mut()
                .zip(self.mean.iter_mut())
                .zip(self.m2.iter_mut().zip(self.sum_se.iter_mut()));
            for (&(est, se), ((count, mean), (m2, sum_se))) in estimates.iter().zip(sums) {
                if est.is_finite() && se.is_finite() {
                    *count += 1;
                    let delta = est - *mean;
                    *mean += delta / *count as f64;
                    *m2 += delta * (est - *mean);
                    *sum_se += se;
                }
            }
        }
        let counts = self
            .rejected
            .iter_mut()
            .zip(self.with_ci.iter_mut().zip(self.covered.iter_mut()));
        for (&f, (rejected, (with_ci, covered))) in flags.iter().zip(counts) {
            *rejected += usize::from(f & REJECT != 0);
            if f & HAS_CI != 0 {
                *with_ci += 1;
                *covered += usize::from(f & COVERED != 0);
            }
        }
    }
}

/// Runs every replication at sample size `n` inside `pool`, calling `progress(k)` after every chunk
/// of `k` replications.
pub(crate) fn run_condition(
    study: &Study,
    config: &PowerConfig,
    cells: &[Cell],
    n: usize,
    pool: &rayon::ThreadPool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PowerRow>, PowerError> {
    let needed = study.min_sample_size();
    if n < needed {
        return Err(PowerError::SampleTooSmall {
            n,
            needed,
            reason: format!(
                "{} free parameters, {} variables",
                study.spec.npar(),
                study.spec.variables().len()
            ),
        });
    }
    let cond = condition(study, config, cells, n)?;
    let n_eff = study.effects.len();
    let n_cells = cells.len();
    let threads = pool.current_num_threads();
    let workspaces: Vec<Mutex<Option<Workspace>>> =
        (0..threads).map(|_| Mutex::new(None)).collect();
    // A chunk is cut into blocks of a fixed number of replications; each block runs on one thread
    // and is tallied there in replication order; block tallies are merged in block order. The
    // partition does not depend on the thread count, so neither do the results, and the tally runs
    // in parallel too (no serial step per replication).
    let n_blocks = CHUNK.div_ceil(BLOCK);
    let mut partials: Vec<Tally> = (0..n_blocks).map(|_| Tally::new(n_eff, n_cells)).collect();
    let mut tally = Tally::new(n_eff, n_cells);
    let reps = config.replications;
    let mut start = 0;
    while start < reps {
        let len = CHUNK.min(reps - start);
        let blocks = len.div_ceil(BLOCK);
        pool.install(|| {
            use rayon::prelude::*;
            partials[..blocks]
                .par_iter_mut()
                .enumerate()
                .for_each(|(b, part)| {
                    let t = rayon::current_thread_index().unwrap_or(0) % threads;
                    let mut guard = workspaces[t]
                        .lock()
                        .expect("workspace lock is never poisoned");
                    let ws = guard.get_or_insert_with(|| Workspace::new(&cond));
                    part.reset();
                    let mut est = std::mem::take(&mut ws.est);
                    let mut flags = std::mem::take(&mut ws.flags);
                    for i in b * BLOCK..((b + 1) * BLOCK).min(len) {
                        let conv = replicate(&cond, ws, (start + i) as u64, &mut est, &mut flags);
                        part.add(&est, &flags, conv);
                    }
                    ws.est = est;
                    ws.flags = flags;
                });
        });
        for part in &partials[..blocks] {
            tally.merge(part);
        }
        start += len;
        progress(len as u64);
    }
    Ok(rows(&cond, &tally))
}

fn condition<'a>(
    study: &'a Study,
    config: &'a PowerConfig,
    cells: &'a [Cell],
    n: usize,
) -> Result<Condition<'a>, PowerError> {
    let sampling = config.resolved_sampling();
    let wishart = match sampling {
        Sampling::Wishart => Some(WishartSampler::new(&study.analysis_covariance(), n)?),
        _ => None,
    };
    let survey = match &config.survey {
        Some(options) => {
            let design = SurveyDesign {
                n,
                teams: options
                    .teams
                    .map_or(TeamSizes::None, |mean| TeamSizes::Poisson { mean }),
                missing: match options.missing {
                    None => Missingness::None,
                    Some(MissingData::Mcar(r)) => Missingness::Mcar(r),
                    Some(MissingData::Mar(r)) => Missingness::Mar(r),
                },
                true_scores: config.data == DataMode::Normal,
                ..SurveyDesign::default()
            };
            let simulator = Simulator::from_population(&study.model, &study.population, &design)?;
            let columns = study
                .spec
                .variables()
                .iter()
                .map(|v| {
                    let name = if config.data == DataMode::Normal {
                        format!("true_{v}")
                    } else {
                        v.clone()
                    };
                    simulator
                        .columns()
                        .iter()
                        .position(|c| c.name == name)
                        .ok_or_else(|| {
                            PowerError::Incompatible(format!(
                                "the survey simulator has no column '{name}' for the analysis"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some((simulator, columns))
        }
        None => None,
    };
    let constructs = match sampling {
        Sampling::Rows if survey.is_none() => Some(ConstructSampler::new(&study.population)?),
        _ => None,
    };
    let needs_rows = cells.iter().any(|c| c.test.needs_rows());
    let row_factor = match sampling {
        Sampling::Rows if survey.is_none() && config.data == DataMode::Normal && !needs_rows => {
            let pop = &study.population;
            let chol = pop.psi().clone().cholesky().ok_or_else(|| {
                PowerError::Incompatible(
                    "the population residual covariance matrix is not positive definite".into(),
                )
            })?;
            let l = pop.inverse_i_minus_beta() * chol.l();
            let p = study.spec.variables().len();
            let m = DMatrix::from_fn(p, pop.len(), |a, j| l[(study.columns[a], j)]);
            let m_t = m.transpose();
            Some((m, m_t))
        }
        _ => None,
    };
    let sigma = study.population.implied_covariance();
    let mut scales = Vec::new();
    if config.data == DataMode::Items && survey.is_none() {
        for (i, name) in study.spec.variables().iter().enumerate() {
            let scale = match STUDY_SCALES.iter().find(|s| s.name == name) {
                Some(s) => {
                    let target = LikertTarget {
                        items: s.items,
                        reliability: s.reliability,
                        item_mean: s.item_mean,
                        min: s.min,
                        max: s.max,
                    };
                    let c = study.columns[i];
                    Some((Likert::calibrate(name, &target)?, sigma[(c, c)].sqrt()))
                }
                None => None,
            };
            scales.push(scale);
        }
    }
    let mut cell_of = vec![None; study.effects.len() * N_TESTS];
    for (c, cell) in cells.iter().enumerate() {
        cell_of[cell.effect * N_TESTS + test_slot(cell.test)] = Some(c);
    }
    let truth_of = |e: usize| {
        study.effects[e]
            .population_value
            .filter(|_| config.data == DataMode::Normal)
    };
    let cells_of = |e: usize| -> [Option<usize>; N_TESTS] {
        std::array::from_fn(|t| cell_of[e * N_TESTS + t])
    };
    let mut paths = Vec::new();
    let mut functions = Vec::new();
    let mut jointly = Vec::new();
    let mut wald_parameters = Vec::new();
    for (e, effect) in study.effects.iter().enumerate() {
        match &effect.kind {
            EffectKind::Path { parameter } => {
                let wald = cells_of(e)[test_slot(Test::Wald)];
                if wald.is_some() {
                    wald_parameters.push(*parameter);
                }
                paths.push(PathPlan {
                    effect: e,
                    parameter: *parameter,
                    truth: truth_of(e),
                    wald,
                });
            }
            EffectKind::Function {
                effect: j,
                parameters,
                ..
            } => {
                let cells = cells_of(e);
                let parameters = if cells[test_slot(Test::Joint)].is_some() {
                    wald_parameters.extend(parameters);
                    parameters.clone()
                } else {
                    Vec::new()
                };
                functions.push(FunctionPlan {
                    effect: e,
                    spec_effect: *j,
                    parameters,
                    truth: truth_of(e),
                    cells,
                });
            }
            EffectKind::AllJointly => jointly.push(e),
        }
    }
    wald_parameters.sort_unstable();
    wald_parameters.dedup();
    let joint = cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| matches!(study.effects[cell.effect].kind, EffectKind::AllJointly))
        .map(|(c, cell)| {
            let members = study
                .effects
                .iter()
                .enumerate()
                .filter(|(_, x)| x.is_hypothesised())
                .map(|(x, effect)| {
                    let test = match effect.kind {
                        EffectKind::Path { .. } => Test::Wald,
                        _ => cell.test,
                    };
                    cell_of[x * N_TESTS + test_slot(test)]
                })
                .collect();
            (c, members)
        })
        .collect();
    let z_crit = balans_estimate::normal_quantile(1.0 - config.alpha / 2.0);
    let mut fit_effects: Vec<usize> = study
        .effects
        .iter()
        .filter_map(|e| match e.kind {
            EffectKind::Function { effect, .. } => Some(effect),
            _ => None,
        })
        .collect();
    fit_effects.sort_unstable();
    fit_effects.dedup();
    Ok(Condition {
        study,
        config,
        n,
        sampling,
        wishart,
        constructs,
        row_factor,
        survey,
        scales,
        cells,
        paths,
        functions,
        jointly,
        wald_parameters,
        joint,
        z_crit,
        needs_mc: cells.iter().any(|c| c.test == Test::Mc),
        needs_boot: cells.iter().any(|c| c.test.needs_rows()),
        fit_effects,
    })
}

/// Draws an N × p matrix `Z` of independent standard normals, column-major into `z`, and writes its
/// sample covariance matrix (N denominator) into `cz`.
fn normal_covariance<R: Rng>(rng: &mut R, n: usize, z: &mut [f64], cz: &mut DMatrix<f64>) {
    for v in z.iter_mut() {
        *v = rng.sample(StandardNormal);
    }
    balans_estimate::covariance_of_columns_into(z, n, cz);
}

/// One replication: returns whether the analysis model could be fitted.
fn replicate(
    cond: &Condition<'_>,
    ws: &mut Workspace,
    rep: u64,
    est: &mut [(f64, f64)],
    flags: &mut [u8],
) -> bool {
    let mut rng = replication_rng(cond.config.seed, cond.n as u64, rep);
    let n = cond.n;
    let study = cond.study;
    let p = study.spec.variables().len();
    match cond.sampling {
        Sampling::Wishart => {
            let w = cond.wishart.as_ref().expect("wishart sampler");
            w.sample_covariance(&mut rng, &mut ws.scratch, ws.s.as_mut_slice());
            // The draw knows its own Cholesky factor; the fit need not factor S again.
            w.factor_of_last(&ws.scratch, &mut ws.factor);
        }
        _ if cond.survey.is_some() => {
            let (simulator, columns) = cond.survey.as_ref().expect("survey simulator");
            let scratch = ws.survey.get_or_insert_with(|| simulator.new_scratch());
            let values = simulator.simulate_into(rng.next_u64(), scratch);
            // Listwise deletion; the buffer has room for n rows, so this does not reallocate.
            ws.data.clear();
            for row in values.chunks_exact(simulator.columns().len()) {
                if columns.iter().all(|&c| row[c].is_finite()) {
                    ws.data.extend(columns.iter().map(|&c| row[c]));
                }
            }
            if ws.data.len() / p < study.min_sample_size() {
                flags.fill(0);
                est.fill((f64::NAN, f64::NAN));
                return false;
            }
            balans_estimate::covariance_into(&ws.data, p, &mut ws.means, &mut ws.s);
        }
        _ if cond.row_factor.is_some() => {
            let (m, m_t) = cond.row_factor.as_ref().expect("checked");
            normal_covariance(&mut rng, n, &mut ws.z, &mut ws.cz);
            ws.mz.gemm(1.0, m, &ws.cz, 0.0);
            ws.s.gemm(1.0, &ws.mz, m_t, 0.0);
            for a in 0..p {
                for b in 0..a {
                    let v = 0.5 * (ws.s[(a, b)] + ws.s[(b, a)]);
                    ws.s[(a, b)] = v;
                    ws.s[(b, a)] = v;
                }
            }
        }
        _ => {
            let sampler = cond.constructs.as_ref().expect("construct sampler");
            let pop_p = sampler.dim();
            sampler.fill(&mut rng, n, &mut ws.rows);
            if cond.scales.is_empty() {
                for (row, out) in ws.rows.chunks_exact(pop_p).zip(ws.data.chunks_exact_mut(p)) {
                    for (o, &c) in out.iter_mut().zip(&study.columns) {
                        *o = row[c];
                    }
                }
            } else {
                for (row, out) in ws.rows.chunks_exact(pop_p).zip(ws.data.chunks_exact_mut(p)) {
                    for ((o, &c), scale) in out.iter_mut().zip(&study.columns).zip(&cond.scales) {
                        *o = match scale {
                            None => row[c],
                            Some((likert, sd)) => {
                                let z = row[c] / sd;
                                let mut sum = 0.0;
                                for &l in &likert.loadings {
                                    let e: f64 = rng.sample(StandardNormal);
                                    sum += likert.categorise(l * z + (1.0 - l * l).sqrt() * e);
                                }
                                sum / likert.loadings.len() as f64
                            }
                        };
                    }
                }
            }
            balans_estimate::covariance_into(&ws.data, p, &mut ws.means, &mut ws.s);
        }
    }
    flags.fill(0);
    let n_used = if cond.survey.is_some() {
        ws.data.len() / p
    } else {
        n
    };
    // Monte Carlo intervals draw from the covariance matrix of the estimates; everything else
    // needs only the standard errors, which the lean fit computes without forming that matrix.
    let fitted = if ws.mc.is_some() {
        ws.estimator.fit_moments(&ws.s, n_used, &mut ws.fit)
    } else if cond.sampling == Sampling::Wishart {
        ws.estimator
            .fit_moments_lean_factored(&ws.s, &ws.factor, n_used, &mut ws.fit)
    } else {
        ws.estimator.fit_moments_lean(&ws.s, n_used, &mut ws.fit)
    };
    if fitted.is_err() {
        est.fill((f64::NAN, f64::NAN));
        return false;
    }
    let fit = &ws.fit;
    let mc_ok = match ws.mc.as_mut() {
        Some(mc) => mc
            .intervals(fit, 1.0 - cond.config.alpha, &mut rng, &mut ws.mc_intervals)
            .is_ok(),
        None => false,
    };
    let mut boot_ok = false;
    if let Some(boot) = ws.boot.as_mut() {
        let seed = rng.next_u64();
        let width = boot.width();
        let b = cond.config.bootstrap_draws;
        let mut successes = 0;
        if boot.set_data(&ws.data).is_ok() {
            for (k, row) in ws.boot_rows.chunks_exact_mut(width).take(b).enumerate() {
                successes += usize::from(boot.resample_loaded(seed, k as u64, row));
            }
        }
        // As lavaan: intervals from the successful resamples; none at all when most failed.
        boot_ok = 2 * successes > b;
        if boot_ok {
            let q = fit.estimates.len();
            for effect in &study.effects {
                if let EffectKind::Function { effect: j, .. } = effect.kind {
                    ws.boot_column.clear();
                    ws.boot_column.extend(
                        ws.boot_rows
                            .chunks_exact(width)
                            .map(|r| r[q + j])
                            .filter(|v| v.is_finite()),
                    );
                    let (_, perc, bc) = bootstrap_interval_values(
                        &mut ws.boot_column,
                        fit.effects[j],
                        1.0 - cond.config.alpha,
                    );
                    ws.boot_intervals[j] = (perc, bc);
                }
            }
        }
    }
    let z = cond.z_crit;
    // Each Wald decision once: paths and the joint-significance tests share them.
    let significant = &mut ws.significant;
    for &k in &cond.wald_parameters {
        significant[k] = (fit.estimates[k] / fit.std_err[k]).abs() > z;
    }
    for plan in &cond.paths {
        let (b, se) = (fit.estimates[plan.parameter], fit.std_err[plan.parameter]);
        est[plan.effect] = (b, se);
        if let Some(c) = plan.wald {
            flags[c] = outcome(
                significant[plan.parameter],
                Some((b - z * se, b + z * se)),
                plan.truth,
            );
        }
    }
    for plan in &cond.functions {
        let truth = plan.truth;
        let j = plan.spec_effect;
        let cell = |test: Test| plan.cells[test_slot(test)];
        let (v, se) = (fit.effects[j], fit.effect_std_err[j]);
        est[plan.effect] = (v, se);
        if let Some(c) = cell(Test::Joint) {
            flags[c] = outcome(plan.parameters.iter().all(|&k| significant[k]), None, truth);
        }
        if let Some(c) = cell(Test::Sobel) {
            flags[c] = outcome((v / se).abs() > z, Some((v - z * se, v + z * se)), truth);
        }
        if mc_ok {
            if let Some(c) = cell(Test::Mc) {
                let ci = ws.mc_intervals[j];
                flags[c] = outcome(excludes_zero(ci), Some((ci.lower, ci.upper)), truth);
            }
        }
        if boot_ok {
            let (perc, bc) = ws.boot_intervals[j];
            if let Some(c) = cell(Test::Percentile) {
                flags[c] = outcome(excludes_zero(perc), Some((perc.lower, perc.upper)), truth);
            }
            if let Some(c) = cell(Test::Bc) {
                flags[c] = outcome(excludes_zero(bc), Some((bc.lower, bc.upper)), truth);
            }
        }
    }
    for &e in &cond.jointly {
        est[e] = (f64::NAN, f64::NAN);
    }
    // The joint row: every hypothesised effect rejected (paths by Wald, others by the row's test).
    for (c, members) in &cond.joint {
        let all = members
            .iter()
            .all(|m| m.is_some_and(|k| flags[k] & REJECT != 0));
        flags[*c] = if all { REJECT } else { 0 };
    }
    true
}

/// The outcome bits of one cell: rejection, and coverage of the population value `truth` by a
/// finite interval `ci`.
#[inline]
fn outcome(reject: bool, ci: Option<(f64, f64)>, truth: Option<f64>) -> u8 {
    let mut f = if reject { REJECT } else { 0 };
    if let (Some((lo, hi)), Some(v)) = (ci, truth) {
        if lo.is_finite() && hi.is_finite() {
            f |= HAS_CI;
            if lo <= v && v <= hi {
                f |= COVERED;
            }
        }
    }
    f
}

fn excludes_zero(ci: Interval) -> bool {
    ci.lower > 0.0 || ci.upper < 0.0
}

/// Turns the tally into report rows.
fn rows(cond: &Condition<'_>, tally: &Tally) -> Vec<PowerRow> {
    let reps = cond.config.replications;
    let r = reps as f64;
    cond.cells
        .iter()
        .enumerate()
        .map(|(c, cell)| {
            let effect = &cond.study.effects[cell.effect];
            let e = cell.effect;
            let power = tally.rejected[c] as f64 / r;
            let count = tally.count[e];
            let has_est = count > 0 && !matches!(effect.kind, EffectKind::AllJointly);
            let truth = effect
                .population_value
                .filter(|_| cond.config.data == DataMode::Normal);
            let mean = has_est.then(|| tally.mean[e]);
            PowerRow {
                n: cond.n,
                effect: effect.name.clone(),
                kind: RowKind::of(&effect.kind),
                test: cell.test,
                power,
                mc_se: (power * (1.0 - power) / r).sqrt(),
                population_value: effect.population_value,
                mean_estimate: mean,
                bias: mean.zip(truth).map(|(m, t)| m - t),
                mean_se: has_est.then(|| tally.sum_se[e] / count as f64),
                empirical_sd: (has_est && count > 1)
                    .then(|| (tally.m2[e] / (count - 1) as f64).sqrt()),
                coverage: (tally.with_ci[c] > 0)
                    .then(|| tally.covered[c] as f64 / tally.with_ci[c] as f64),
                convergence_rate: tally.converged as f64 / r,
                n_replications: reps,
                n_converged: tally.converged,
            }
        })
        .collect()
}
