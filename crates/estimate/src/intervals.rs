//! Resampling intervals for parameters and effects: Monte Carlo (parametric, as
//! `semTools::monteCarloCI`) and the nonparametric bootstrap (percentile and bias-corrected, as
//! lavaan's `boot.ci.type = "perc"` and `"bca.simple"`).
//!
//! Determinism: the Monte Carlo sampler draws from one `ChaCha8Rng` seeded with the seed; the
//! bootstrap derives resample `b`'s generator from `(seed, b)` (ChaCha8 seeded with `seed`, stream
//! `b`), so a 1-thread and an N-thread run give identical draws. rayon is used in [`bootstrap`] only.
//!
//! # References
//! * semTools 0.5-6 `monteCarloCI`: draws `θ* ~ N(θ̂, V̂)` (`MASS::mvrnorm`), evaluates the
//!   functions, and reports `quantile(type = 7)` at `(1 ± level)/2`.
//! * lavaan 0.6-14 `parameterEstimates`: percentile and `bca.simple` intervals use `norm.inter`
//!   (copied from the boot package, Davison & Hinkley 1997, eq. 5.8: interpolation between order
//!   statistics on the normal quantile scale); `bca.simple` shifts the probabilities to
//!   `Φ(2w + z_α)` with `w = Φ⁻¹(#{t* < t̂} / R)` (bias correction, no acceleration).

use crate::effects;
use crate::estimator::{set_matrices, Estimator, FitOutput};
use crate::fit::normal_quantile;
use crate::linalg::{cholesky_in_place, inverse_i_minus_beta};
use crate::moments::{check_rows, CentredColumns};
use crate::spec::{AnalysisSpec, EffectKind};
use crate::EvalError;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// Settings of [`monte_carlo_ci`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonteCarloConfig {
    /// Number of parameter draws (semTools' `nRep`).
    pub draws: usize,
    /// Confidence level.
    pub level: f64,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for MonteCarloConfig {
    fn default() -> Self {
        MonteCarloConfig {
            draws: 20_000,
            level: 0.95,
            seed: 1,
        }
    }
}

/// The type-7 sample quantile (R's default `quantile`) of `values` at `prob`; reorders `values`.
pub fn percentile_type7(values: &mut [f64], prob: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * prob;
    let lo = h.floor() as usize;
    let (_, &mut x_lo, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let frac = h - lo as f64;
    if frac <= 0.0 || rest.is_empty() {
        return x_lo;
    }
    let x_hi = rest.iter().copied().fold(f64::INFINITY, f64::min);
    x_lo + frac * (x_hi - x_lo)
}

/// A reusable Monte Carlo interval sampler (no allocation per call): draws only the free parameters
/// the effects depend on, from their joint normal distribution `N(θ̂_sub, V̂_sub)` (a sub-vector of a
/// multivariate normal is multivariate normal with the sub-matrix, so the intervals are those of
/// drawing every parameter).
#[derive(Debug, Clone)]
pub struct MonteCarloSampler {
    spec: AnalysisSpec,
    draws: usize,
    used: Vec<usize>,
    chol: DMatrix<f64>,
    z: Vec<f64>,
    theta: Vec<f64>,
    beta: DMatrix<f64>,
    psi: DMatrix<f64>,
    a: DMatrix<f64>,
    values: Vec<f64>,
    scratch: Vec<f64>,
    needs_a: bool,
    selected: Vec<usize>,
}

impl MonteCarloSampler {
    /// A sampler for every effect of `spec` with `draws` draws per call.
    pub fn new(spec: &AnalysisSpec, draws: usize) -> MonteCarloSampler {
        let all: Vec<usize> = (0..spec.effects.len()).collect();
        MonteCarloSampler::with_effects(spec, draws, &all)
    }

    /// A sampler for the effects with indices `selected` (into [`AnalysisSpec::effects`]) only:
    /// cheaper when, say, only specific indirect effects are tested. The other entries of the result
    /// are NaN.
    pub fn with_effects(
        spec: &AnalysisSpec,
        draws: usize,
        selected: &[usize],
    ) -> MonteCarloSampler {
        let mut selected: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&k| k < spec.effects.len())
            .collect();
        selected.sort_unstable();
        selected.dedup();
        let mut used: Vec<usize> = selected
            .iter()
            .flat_map(|&k| spec.effects[k].parameters.iter().copied())
            .collect();
        used.sort_unstable();
        used.dedup();
        let m = used.len();
        let p = spec.names.len();
        let needs_a = selected.iter().any(|&k| {
            matches!(
                spec.effects[k].kind,
                EffectKind::Total { .. } | EffectKind::TotalIndirect { .. }
            )
        });
        let max_scratch = spec
            .effects
            .iter()
            .map(effects::scratch_len)
            .max()
            .unwrap_or(0);
        MonteCarloSampler {
            spec: spec.clone(),
            draws,
            used,
            chol: DMatrix::zeros(m, m),
            z: vec![0.0; m],
            theta: vec![0.0; spec.parameters.len()],
            beta: DMatrix::zeros(p, p),
            psi: DMatrix::zeros(p, p),
            a: DMatrix::identity(p, p),
            values: vec![0.0; draws * selected.len()],
            scratch: Vec::with_capacity(max_scratch),
            needs_a,
            selected,
        }
    }

    /// Monte Carlo intervals of the effects (in [`AnalysisSpec::effects`] order; `result` has one
    /// entry per effect of the spec) at confidence `level`, drawing from `rng`. Allocates nothing.
    ///
    /// # Errors
    /// [`EvalError::NotIdentified`] when the covariance matrix of the drawn parameters is not
    /// positive definite.
    pub fn intervals<R: Rng>(
        &mut self,
        fit: &FitOutput,
        level: f64,
        rng: &mut R,
        result: &mut [Interval],
    ) -> Result<(), EvalError> {
        let m = self.used.len();
        for (r, &i) in self.used.iter().enumerate() {
            for (c, &j) in self.used.iter().enumerate() {
                self.chol[(r, c)] = fit.vcov[(i, j)];
            }
        }
        if m > 0 && cholesky_in_place(&mut self.chol, m).is_some() {
            return Err(EvalError::NotIdentified);
        }
        let n_eff = self.spec.effects.len();
        self.theta.copy_from_slice(&fit.estimates);
        let dummy_s = &fit.sigma;
        for d in 0..self.draws {
            for z in self.z.iter_mut() {
                *z = rng.sample(StandardNormal);
            }
            for r in 0..m {
                let mut v = fit.estimates[self.used[r]];
                for c in 0..=r {
                    v += self.chol[(c, r)] * self.z[c];
                }
                self.theta[self.used[r]] = v;
            }
            if self.needs_a {
                set_matrices(
                    &self.spec,
                    &self.theta,
                    dummy_s,
                    &mut self.beta,
                    &mut self.psi,
                );
                inverse_i_minus_beta(&self.beta, &mut self.a);
            }
            for (slot, &k) in self.selected.iter().enumerate() {
                self.values[slot * self.draws + d] = effects::effect_value(
                    &self.spec.effects[k],
                    &self.spec.parameters,
                    &self.theta,
                    &self.a,
                    None,
                    &mut self.scratch,
                );
            }
        }
        let half = (1.0 - level) / 2.0;
        for res in result.iter_mut().take(n_eff) {
            *res = Interval {
                lower: f64::NAN,
                upper: f64::NAN,
            };
        }
        for (slot, &k) in self.selected.iter().enumerate() {
            let col = &mut self.values[slot * self.draws..(slot + 1) * self.draws];
            result[k] = Interval {
                lower: percentile_type7(col, half),
                upper: percentile_type7(col, 1.0 - half),
            };
        }
        Ok(())
    }
}

/// Monte Carlo confidence intervals of every effect of `spec` (as `semTools::monteCarloCI`).
///
/// # Errors
/// See [`MonteCarloSampler::intervals`].
pub fn monte_carlo_ci(
    spec: &AnalysisSpec,
    fit: &FitOutput,
    config: &MonteCarloConfig,
) -> Result<Vec<Interval>, EvalError> {
    let mut sampler = MonteCarloSampler::new(spec, config.draws);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut result = vec![
        Interval {
            lower: f64::NAN,
            upper: f64::NAN
        };
        spec.effects.len()
    ];
    sampler.intervals(fit, config.level, &mut rng, &mut result)?;
    Ok(result)
}

/// Settings of [`bootstrap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapConfig {
    /// Number of resamples `B`.
    pub resamples: usize,
    /// Seed; resample `b` uses the generator derived from `(seed, b)`.
    pub seed: u64,
    /// Confidence level.
    pub level: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 1000,
            seed: 1,
            level: 0.95,
        }
    }
}

/// Bootstrap intervals of one quantity (a free parameter or an effect).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapInterval {
    /// Parameter name (lavaan's) or effect name.
    pub name: String,
    /// Estimate on the full data.
    pub est: f64,
    /// Standard deviation of the successful bootstrap draws (lavaan's bootstrap `se`).
    pub std_err: f64,
    /// Percentile interval.
    pub percentile: Interval,
    /// Bias-corrected interval (`bca.simple`).
    pub bias_corrected: Interval,
}

/// The result of a bootstrap: every draw and the intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    /// Row-major draws, one row per resample: the free parameters, then the effects. Failed
    /// resamples are rows of NaN.
    pub draws: Vec<f64>,
    /// Values per row (`npar + number of effects`).
    pub width: usize,
    /// Resamples whose fit succeeded.
    pub n_successful: usize,
    /// Intervals of the free parameters, in [`AnalysisSpec::parameters`] order.
    pub parameters: Vec<BootstrapInterval>,
    /// Intervals of the effects, in [`AnalysisSpec::effects`] order.
    pub effects: Vec<BootstrapInterval>,
}

/// A reusable single-threaded bootstrap workspace: one resample = draw row indices, covariance
/// matrix of those rows, point fit (closed form when available), effects; nothing allocated.
#[derive(Debug, Clone)]
pub struct Bootstrapper {
    estimator: Estimator,
    out: FitOutput,
    counts: Vec<f64>,
    means: Vec<f64>,
    s: DMatrix<f64>,
    p: usize,
    centred: CentredColumns,
}

impl Bootstrapper {
    /// A workspace for data sets of `n_rows` rows of `spec`'s variables; load a data set with
    /// [`Bootstrapper::set_data`].
    pub fn new(spec: &AnalysisSpec, n_rows: usize) -> Bootstrapper {
        let estimator = Estimator::new(spec);
        let out = estimator.new_output();
        let p = spec.names.len();
        Bootstrapper {
            estimator,
            out,
            counts: vec![0.0; n_rows],
            means: vec![0.0; p],
            s: DMatrix::zeros(p, p),
            p,
            centred: CentredColumns::new(n_rows, p),
        }
    }

    /// Loads row-major `data` (columns in [`AnalysisSpec::variables`] order) to resample from;
    /// allocation-free when the number of rows is unchanged.
    ///
    /// # Errors
    /// Bad shape or non-finite values.
    pub fn set_data(&mut self, data: &[f64]) -> Result<(), EvalError> {
        let n = check_rows(data, self.p)?;
        self.centred.set_data(data, &mut self.means);
        if self.counts.len() != n {
            self.counts.resize(n, 0.0);
        }
        Ok(())
    }

    /// Starts the iterative fits of the resamples from `estimates` (the full-data estimates),
    /// see [`Estimator::set_start_values`]; deterministic, whatever order resamples are drawn in.
    pub fn set_start_values(&mut self, estimates: Option<&[f64]>) {
        self.estimator.set_start_values(estimates);
    }

    /// Number of values per resample: free parameters then effects.
    pub fn width(&self) -> usize {
        self.out.estimates.len() + self.out.effects.len()
    }

    /// Loads `data` ([`Bootstrapper::set_data`]) and draws resample `index` of it
    /// ([`Bootstrapper::resample_loaded`]). For many resamples of one data set, call `set_data` once
    /// and then `resample_loaded`: this convenience reloads the data on every call.
    pub fn resample(&mut self, data: &[f64], seed: u64, index: u64, row: &mut [f64]) -> bool {
        if self.set_data(data).is_err() {
            row.fill(f64::NAN);
            return false;
        }
        self.resample_loaded(seed, index, row)
    }

    /// Draws resample `index` of the loaded data (rows resampled with replacement with the
    /// generator derived from `(seed, index)`), fits it (estimates only) and writes the free
    /// parameters then the effects into `row` (length [`Bootstrapper::width`]). Returns `false`
    /// (and NaN values) when the resample cannot be fitted.
    pub fn resample_loaded(&mut self, seed: u64, index: u64, row: &mut [f64]) -> bool {
        let n = self.centred.n();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        self.counts.fill(0.0);
        // Row indices as 32-bit draws (ChaCha's native word): unbiased by rejection (Lemire).
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        for _ in 0..n {
            self.counts[rng.gen_range(0..n32) as usize] += 1.0;
        }
        self.centred
            .resample_covariance(&self.counts, &mut self.means, &mut self.s);
        match self.estimator.fit_point(&self.s, n, &mut self.out) {
            Ok(()) => {
                let q = self.out.estimates.len();
                row[..q].copy_from_slice(&self.out.estimates);
                row[q..].copy_from_slice(&self.out.effects);
                true
            }
            Err(_) => {
                row.fill(f64::NAN);
                false
            }
        }
    }
}

/// Resamples per parallel task (each task owns one [`Bootstrapper`]).
const RESAMPLES_PER_TASK: usize = 32;

/// Nonparametric bootstrap of respondents: `config.resamples` resamples of the rows of row-major
/// `data` (columns in [`AnalysisSpec::variables`] order), each refitted; percentile and
/// bias-corrected intervals for every free parameter and effect. `fit` is the fit to the full data.
/// Parallel over resamples in the ambient rayon pool (the caller's `ThreadPool::install`, else the
/// global pool; a library builds no pools); the result does not depend on the number of threads.
///
/// # Errors
/// Bad data shapes or values.
pub fn bootstrap(
    spec: &AnalysisSpec,
    data: &[f64],
    fit: &FitOutput,
    config: &BootstrapConfig,
) -> Result<Bootstrap, EvalError> {
    bootstrap_with_progress(spec, data, fit, config, &|_| {})
}

/// [`bootstrap`], calling `progress(k)` (from worker threads) after every `k` finished resamples,
/// so that a caller can show how far it is. The result does not depend on it.
///
/// # Errors
/// Bad data shapes or values.
pub fn bootstrap_with_progress(
    spec: &AnalysisSpec,
    data: &[f64],
    fit: &FitOutput,
    config: &BootstrapConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Bootstrap, EvalError> {
    let p = spec.names.len();
    let n = check_rows(data, p)?;
    let width = spec.parameters.len() + spec.effects.len();
    let mut draws = vec![f64::NAN; config.resamples * width];
    let run = |draws: &mut [f64]| -> usize {
        draws
            .par_chunks_mut(width * RESAMPLES_PER_TASK)
            .enumerate()
            .map(|(task, chunk)| {
                let mut worker = Bootstrapper::new(spec, n);
                worker.set_start_values(Some(&fit.estimates));
                if worker.set_data(data).is_err() {
                    return 0;
                }
                let mut ok = 0;
                for (k, row) in chunk.chunks_mut(width).enumerate() {
                    let b = (task * RESAMPLES_PER_TASK + k) as u64;
                    ok += usize::from(worker.resample_loaded(config.seed, b, row));
                }
                progress((chunk.len() / width.max(1)) as u64);
                ok
            })
            .sum()
    };
    let ok = run(&mut draws);
    let estimates: Vec<f64> = fit.estimates.iter().chain(&fit.effects).copied().collect();
    let names: Vec<String> = spec
        .parameters
        .iter()
        .map(|q| q.name())
        .chain(spec.effects.iter().map(|e| e.name.clone()))
        .collect();
    let mut column = Vec::with_capacity(config.resamples);
    let mut intervals = Vec::with_capacity(width);
    for k in 0..width {
        column.clear();
        column.extend(
            draws
                .chunks_exact(width)
                .map(|r| r[k])
                .filter(|v| v.is_finite()),
        );
        intervals.push(bootstrap_interval(
            names[k].clone(),
            estimates[k],
            &mut column,
            config.level,
        ));
    }
    let effects = intervals.split_off(spec.parameters.len());
    Ok(Bootstrap {
        draws,
        width,
        n_successful: ok,
        parameters: intervals,
        effects,
    })
}

/// Percentile and bias-corrected intervals (lavaan's `perc` and `bca.simple`) of the finite draws
/// `t` of a quantity estimated as `t0`; sorts `t`.
pub fn bootstrap_interval_values(t: &mut [f64], t0: f64, level: f64) -> (f64, Interval, Interval) {
    let r = t.len();
    if r == 0 {
        let nan = Interval {
            lower: f64::NAN,
            upper: f64::NAN,
        };
        return (f64::NAN, nan, nan);
    }
    t.sort_unstable_by(f64::total_cmp);
    let mean = t.iter().sum::<f64>() / r as f64;
    let var = t.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (r as f64 - 1.0).max(1.0);
    let alpha = [(1.0 - level) / 2.0, (1.0 + level) / 2.0];
    let percentile = Interval {
        lower: norm_inter(t, alpha[0]),
        upper: norm_inter(t, alpha[1]),
    };
    let bias_corrected = if var > 0.0 {
        let normal = Normal::new(0.0, 1.0).expect("standard normal");
        let below = t.iter().filter(|&&x| x < t0).count() as f64;
        let w = normal_quantile(below / r as f64);
        let adj = |a: f64| normal.cdf(2.0 * w + normal_quantile(a));
        Interval {
            lower: norm_inter(t, adj(alpha[0])),
            upper: norm_inter(t, adj(alpha[1])),
        }
    } else {
        Interval {
            lower: t0,
            upper: t0,
        }
    };
    (var.sqrt(), percentile, bias_corrected)
}

fn bootstrap_interval(name: String, est: f64, t: &mut [f64], level: f64) -> BootstrapInterval {
    let (std_err, percentile, bias_corrected) = bootstrap_interval_values(t, est, level);
    BootstrapInterval {
        name,
        est,
        std_err,
        percentile,
        bias_corrected,
    }
}

/// boot's `norm.inter` on sorted draws: the `alpha` quantile interpolated between the order
/// statistics `k = ⌊(R+1)α⌋` and `k+1` on the normal quantile scale.
fn norm_inter(sorted: &[f64], alpha: f64) -> f64 {
    let r = sorted.len();
    let rk = (r as f64 + 1.0) * alpha;
    if !rk.is_finite() {
        return f64::NAN;
    }
    let k = rk.trunc();
    if k <= 0.0 {
        return sorted[0];
    }
    let ku = k as usize;
    if ku >= r {
        return sorted[r - 1];
    }
    if rk.fract() == 0.0 {
        return sorted[ku - 1];
    }
    let rp1 = r as f64 + 1.0;
    let t1 = normal_quantile(alpha);
    let t2 = normal_quantile(k / rp1);
    let t3 = normal_quantile((k + 1.0) / rp1);
    let (tk, tk1) = (sorted[ku - 1], sorted[ku]);
    tk + (t1 - t2) / (t3 - t2) * (tk1 - tk)
}
