//! The power analysis as a [`Replication`]: simulate → sample covariance → fit → test, for every
//! replication of one sample size, run by the generic engine ([`crate::montecarlo::run`]).
//!
//! * [`plan`]: which (effect, test) cells are counted, and the lookups the loop reads;
//! * [`source`]: where the data come from ([`DataSource`]: Wishart, normal moments, rows, items,
//!   survey — every generator is `balans_sim`'s);
//! * this module: the per-thread [`Workspace`] and the replication's analysis (fit, Monte Carlo
//!   and bootstrap intervals, decisions);
//! * [`tally`]: what is counted, and the report rows.

pub(crate) mod plan;
mod source;
mod tally;

pub(crate) use plan::{cells, Cell};

use crate::config::PowerConfig;
use crate::error::PowerError;
use crate::report::PowerRow;
use crate::study::{EffectKind, Study, Test};
use balans_estimate::sem::Information;
use balans_estimate::{
    apply_cluster_robust, bootstrap_interval_values, Bootstrapper, Estimator, FitOutput, Interval,
    MonteCarloSampler,
};
use balans_montecarlo::{self as montecarlo, Replication, ReplicationRng, Streams};
use plan::{test_slot, Plan};
use rand::{RngCore, SeedableRng};
use source::{Data, DataSource};
use tally::{PowerTally, COVERED, HAS_CI, REJECT};

/// One sample size of a power analysis: everything its replications share.
pub(crate) struct Condition<'a> {
    study: &'a Study,
    config: &'a PowerConfig,
    n: usize,
    source: DataSource,
    cells: &'a [Cell],
    plan: Plan,
}

/// Per-thread buffers, allocated once per sample size.
pub(crate) struct Workspace {
    data: Data,
    estimator: Estimator,
    fit: FitOutput,
    mc: Option<MonteCarloSampler>,
    mc_intervals: Vec<Interval>,
    boot: Option<Bootstrapper>,
    boot_rows: Vec<f64>,
    boot_column: Vec<f64>,
    /// Percentile and bias-corrected interval per analysis effect.
    boot_intervals: Vec<(Interval, Interval)>,
    /// `(estimate, se)` per effect of the current replication.
    est: Vec<(f64, f64)>,
    /// Outcome bits per cell of the current replication.
    flags: Vec<u8>,
    /// Per free parameter: its Wald decision in the current replication (where a cell uses it).
    significant: Vec<bool>,
}

const NAN_INTERVAL: Interval = Interval {
    lower: f64::NAN,
    upper: f64::NAN,
};

impl Replication for Condition<'_> {
    type Workspace = Workspace;
    type Tally = PowerTally;

    fn workspace(&self) -> Workspace {
        let spec = &self.study.spec;
        let (p, n_eff) = (spec.variables().len(), spec.effects().len());
        let mut estimator = Estimator::new(spec);
        estimator.select_effects(Some(&self.plan.fit_effects));
        let fit = estimator.new_output();
        let boot = self
            .plan
            .needs_boot
            .then(|| Bootstrapper::new(spec, self.n));
        let width = boot.as_ref().map_or(0, Bootstrapper::width);
        let b = if boot.is_some() {
            self.config.bootstrap_draws
        } else {
            0
        };
        Workspace {
            data: self.source.buffers(self.n, p, self.study.population.len()),
            estimator,
            fit,
            mc: self.plan.needs_mc.then(|| {
                MonteCarloSampler::with_effects(spec, self.config.mc_draws, &self.plan.fit_effects)
            }),
            mc_intervals: vec![NAN_INTERVAL; n_eff],
            boot,
            boot_rows: vec![0.0; b * width],
            boot_column: Vec::with_capacity(b),
            boot_intervals: vec![(NAN_INTERVAL, NAN_INTERVAL); n_eff],
            est: vec![(f64::NAN, f64::NAN); self.study.effects.len()],
            flags: vec![0; self.cells.len()],
            significant: vec![false; spec.npar()],
        }
    }

    fn tally(&self) -> PowerTally {
        PowerTally::new(self.study.effects.len(), self.cells.len())
    }

    fn generate(&self, ws: &mut Workspace, rng: &mut ReplicationRng) -> bool {
        self.source.generate(rng, self.study, self.n, &mut ws.data)
    }

    fn analyse(&self, ws: &mut Workspace, rng: &mut ReplicationRng) -> bool {
        // The Monte Carlo draws and the bootstrap resamples get their own streams, seeded by two
        // draws taken whatever the tests asked: a test's result is then the same whichever other
        // tests (and effects) run with it.
        let (mc_seed, boot_seed) = (rng.next_u64(), rng.next_u64());
        if !self.fit(ws) {
            return false;
        }
        // The stream is only built when Monte Carlo intervals are asked for (none in the lean
        // default loop).
        let mc_ok = ws.mc.is_some()
            && self.monte_carlo_intervals(ws, &mut ReplicationRng::seed_from_u64(mc_seed));
        let boot_ok = self.bootstrap_intervals(ws, boot_seed);
        self.decide(ws, mc_ok, boot_ok);
        true
    }

    fn record(&self, ws: &Workspace, ok: bool, tally: &mut PowerTally) {
        if ok {
            tally.add(&ws.est, &ws.flags);
        }
    }
}

impl Condition<'_> {
    /// Fits the analysis model to the data's moments. Monte Carlo intervals draw from the
    /// covariance matrix of the estimates; everything else needs only the standard errors, which
    /// the lean fit computes without forming that matrix (reusing the Wishart draw's own Cholesky
    /// factor where there is one).
    fn fit(&self, ws: &mut Workspace) -> bool {
        let Data { s, n_used, .. } = &ws.data;
        if self.source.clustered() {
            // lavaan's `cluster = "team"`: the full fit, then the sandwich with the observed
            // information as its bread (allocates per replication).
            return ws.estimator.fit_moments(s, *n_used, &mut ws.fit).is_ok()
                && apply_cluster_robust(
                    &self.study.spec,
                    &mut ws.fit,
                    &ws.data.rows,
                    &ws.data.clusters,
                    Information::Observed,
                )
                .is_ok();
        }
        let fitted = if ws.mc.is_some() {
            ws.estimator.fit_moments(s, *n_used, &mut ws.fit)
        } else if self.source.has_factor() {
            ws.estimator
                .fit_moments_lean_factored(s, &ws.data.factor, *n_used, &mut ws.fit)
        } else {
            ws.estimator.fit_moments_lean(s, *n_used, &mut ws.fit)
        };
        fitted.is_ok()
    }

    /// Monte Carlo intervals of the reported effects (semTools' `monteCarloCI`); whether they
    /// exist.
    fn monte_carlo_intervals(&self, ws: &mut Workspace, rng: &mut ReplicationRng) -> bool {
        match ws.mc.as_mut() {
            Some(mc) => mc
                .intervals(&ws.fit, 1.0 - self.config.alpha, rng, &mut ws.mc_intervals)
                .is_ok(),
            None => false,
        }
    }

    /// Percentile and bias-corrected bootstrap intervals of every reported effect, from
    /// resamples of the rows seeded by `seed`. As lavaan: intervals from the successful
    /// resamples, none at all when most failed. Whether they exist.
    fn bootstrap_intervals(&self, ws: &mut Workspace, seed: u64) -> bool {
        let Some(boot) = ws.boot.as_mut() else {
            return false;
        };
        let width = boot.width();
        let b = self.config.bootstrap_draws;
        let mut successes = 0;
        if boot.set_data(&ws.data.rows).is_ok() {
            for (k, row) in ws.boot_rows.chunks_exact_mut(width).take(b).enumerate() {
                successes += usize::from(boot.resample_loaded(seed, k as u64, row));
            }
        }
        if 2 * successes <= b {
            return false;
        }
        let fit = &ws.fit;
        let q = fit.estimates.len();
        for effect in &self.study.effects {
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
                    1.0 - self.config.alpha,
                );
                ws.boot_intervals[j] = (perc, bc);
            }
        }
        true
    }

    /// Every cell's decision and every effect's `(estimate, se)` of this replication.
    fn decide(&self, ws: &mut Workspace, mc_ok: bool, boot_ok: bool) {
        let (fit, flags, est) = (&ws.fit, &mut ws.flags, &mut ws.est);
        flags.fill(0);
        let z = self.plan.z_crit;
        // Each Wald decision once: paths and the joint-significance tests share them.
        let significant = &mut ws.significant;
        for &k in &self.plan.wald_parameters {
            significant[k] = (fit.estimates[k] / fit.std_err[k]).abs() > z;
        }
        for plan in &self.plan.paths {
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
        for plan in &self.plan.functions {
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
        for &e in &self.plan.jointly {
            est[e] = (f64::NAN, f64::NAN);
        }
        // The joint row: every hypothesised effect rejected (paths by Wald, others by the row's test).
        for (c, members) in &self.plan.joint {
            let all = members
                .iter()
                .all(|m| m.is_some_and(|k| flags[k] & REJECT != 0));
            flags[*c] = if all { REJECT } else { 0 };
        }
    }
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

/// Runs every replication at sample size `n` in the ambient rayon pool, calling `progress(k)`
/// after every chunk of `k` replications.
pub(crate) fn run_condition(
    study: &Study,
    config: &PowerConfig,
    cells: &[Cell],
    n: usize,
    progress: &dyn montecarlo::RunContext,
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
    let plan = Plan::new(study, config, cells);
    let cond = Condition {
        study,
        config,
        n,
        source: DataSource::new(study, config, n, plan.needs_boot)?,
        cells,
        plan,
    };
    let streams = Streams {
        seed: config.seed,
        condition: n as u64,
    };
    let tally = montecarlo::run(&cond, streams, config.replications, progress)?;
    Ok(tally::rows(&cond, &tally))
}
