//! What the power analysis counts over replications ([`PowerTally`]) and the report rows made
//! from it.

use super::plan::Cell;
use super::Condition;
use crate::config::DataMode;
use crate::report::{PowerRow, RowKind};
use crate::study::EffectKind;
use balans_montecarlo::Tally;

/// Outcome bits of one (effect, test) cell in one replication.
pub(crate) const REJECT: u8 = 1;
pub(crate) const COVERED: u8 = 2;
pub(crate) const HAS_CI: u8 = 4;

/// Running sums over replications, in replication order.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PowerTally {
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

impl Tally for PowerTally {
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

    /// Counts add; means and sums of squared deviations combine by Chan, Golub & LeVeque's (1979)
    /// pairwise update.
    fn merge(&mut self, other: &PowerTally) {
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
}

impl PowerTally {
    pub(crate) fn new(n_effects: usize, n_cells: usize) -> PowerTally {
        PowerTally {
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

    /// Adds a converged replication: `(estimate, se)` per effect and outcome bits per cell.
    pub(crate) fn add(&mut self, estimates: &[(f64, f64)], flags: &[u8]) {
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

/// Turns the tally into report rows, one per cell.
pub(crate) fn rows(cond: &Condition<'_>, tally: &PowerTally) -> Vec<PowerRow> {
    cond.cells
        .iter()
        .enumerate()
        .map(|(c, cell)| row(cond, tally, c, cell))
        .collect()
}

fn row(cond: &Condition<'_>, tally: &PowerTally, c: usize, cell: &Cell) -> PowerRow {
    let reps = cond.config.replications;
    let r = reps as f64;
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
        empirical_sd: (has_est && count > 1).then(|| (tally.m2[e] / (count - 1) as f64).sqrt()),
        coverage: (tally.with_ci[c] > 0).then(|| tally.covered[c] as f64 / tally.with_ci[c] as f64),
        convergence_rate: tally.converged as f64 / r,
        n_replications: reps,
        n_converged: tally.converged,
    }
}
