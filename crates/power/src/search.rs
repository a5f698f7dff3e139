//! Sample-size planning: the smallest N whose power reaches a target, with a Monte Carlo
//! uncertainty interval.
//!
//! 1. **Bracketing**: start at [`SearchConfig::n_start`] and double (or halve) N until, for every
//!    target (effect, test), some evaluated N has power below the target and a larger one at or
//!    above it (or the search hits `n_min` / `n_max`).
//! 2. **Refinement**: fit a probit curve `power(N) = Φ(a + b·√N)` by maximum likelihood to the
//!    binomial counts of the evaluated sample sizes inside the bracket (√N because the
//!    noncentrality of a Wald test grows with √N, so the curve is exactly of this form for a z test
//!    of one coefficient; Jeffreys' ½ added to the counts keeps the fit finite when a bracket end
//!    has power 0 or 1), evaluate the N where the curve crosses the target, and repeat.
//! 3. **Interval**: the N where the pointwise 95% band of the fitted curve (`η ± 1.96·se(η)`, from
//!    the inverse Fisher information of (a, b)) crosses the target: `n_lower` where the upper band
//!    reaches it, `n_upper` where the lower band does.
//!
//! Each N has its own random stream, so the evaluated conditions are independent and the binomial
//! likelihood is exact.
//!
//! # References
//! Probit dose–response fitting: Finney (1971), *Probit Analysis*, 3rd ed.; the same idea for
//! simulation-based sample-size search: Schoemann, Miller, Pornprasertmanit & Wu (2014), "Using
//! Monte Carlo simulations to determine power and sample size for planned missing designs",
//! IJBD 38:471–479 (simsem's varying-N power curves).

use crate::config::PowerConfig;
use crate::engine::{run_condition, Cell};
use crate::error::PowerError;
use crate::report::PowerRow;
use crate::study::{EffectKind, Study, Test};
use serde::Serialize;
use statrs::distribution::{Continuous, ContinuousCDF, Normal};
use std::collections::BTreeMap;

/// Settings of the sample-size search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchConfig {
    /// Target power, in (0, 1).
    pub target: f64,
    /// First N evaluated (raised to the smallest usable N).
    pub n_start: usize,
    /// Largest N considered.
    pub n_max: usize,
    /// Refinement rounds after bracketing.
    pub refine_rounds: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            target: 0.8,
            n_start: 100,
            n_max: 20_000,
            refine_rounds: 3,
        }
    }
}

/// How the search ended for one (effect, test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchStatus {
    /// The target is crossed between two evaluated sample sizes.
    Found,
    /// Already reached at the smallest usable N.
    AtMinimum,
    /// Not reached at `n_max`.
    AboveMaximum,
}

/// The sample size needed for one (effect, test).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSizeEstimate {
    /// Effect name.
    pub effect: String,
    /// The test.
    pub test: Test,
    /// How the search ended.
    pub status: SearchStatus,
    /// The smallest N whose fitted power reaches the target.
    pub n: Option<usize>,
    /// Lower end of the 95% Monte Carlo interval for that N.
    pub n_lower: Option<usize>,
    /// Upper end (`None`: beyond `n_max`).
    pub n_upper: Option<usize>,
    /// Fitted power at `n`.
    pub fitted_power: Option<f64>,
    /// Observed power at the two sample sizes of the doubling phase that bracket the target:
    /// `(n, power)`.
    pub bracket: Option<((usize, f64), (usize, f64))>,
}

/// Searches the smallest N reaching `search.target` for every hypothesised (effect, test). Returns
/// the rows of every evaluated N (sorted by N) and one estimate per target.
///
/// Each target is searched on its own: its bracket, refinement points and probit fit use only the
/// sample sizes its own search evaluated, so its answer is the same whichever other effects and
/// tests are asked in the same run (conditions are shared through a cache, and the rows of one N
/// are the same for every target because each N has its own random stream).
pub(crate) fn search(
    study: &Study,
    config: &PowerConfig,
    cells: &[Cell],
    search: &SearchConfig,
    progress: &dyn balans_montecarlo::RunContext,
) -> Result<(Vec<PowerRow>, Vec<SampleSizeEstimate>), PowerError> {
    let targets: Vec<usize> = (0..cells.len())
        .filter(|&c| {
            let e = &study.effects[cells[c].effect];
            e.is_hypothesised() || matches!(e.kind, EffectKind::AllJointly)
        })
        .collect();
    if targets.is_empty() {
        return Err(PowerError::NothingToPlan);
    }
    let n_min = study.min_sample_size();
    let mut cache = Conditions {
        study,
        config,
        cells,
        progress,
        evaluated: BTreeMap::new(),
    };
    let mut estimates = Vec::with_capacity(targets.len());
    for &cell in &targets {
        let mut one = Search {
            cache: &mut cache,
            cell,
            target: search.target,
            n_min,
            n_max: search.n_max.max(n_min),
            own: BTreeMap::new(),
        };
        one.eval(search.n_start.clamp(n_min, one.n_max))?;
        one.bracket_target()?;
        // The bracket after the doubling phase (a factor of at most 2 in N): the probit curve is
        // fitted to every N of this target's search inside it, so refinement points add
        // information instead of narrowing the fit to a range where Monte Carlo noise dominates.
        let b = bracket(&one.own, cell, one.target);
        one.refine(b, search.refine_rounds)?;
        estimates.push(one.estimate(b));
    }
    let rows = cache.evaluated.into_values().flatten().collect();
    Ok((rows, estimates))
}

/// The conditions run so far (every N of every target's search), each run once.
struct Conditions<'a> {
    study: &'a Study,
    config: &'a PowerConfig,
    cells: &'a [Cell],
    progress: &'a dyn balans_montecarlo::RunContext,
    evaluated: BTreeMap<usize, Vec<PowerRow>>,
}

impl Conditions<'_> {
    /// The rows at `n`, running the condition unless it has been run.
    fn rows(&mut self, n: usize) -> Result<&Vec<PowerRow>, PowerError> {
        if !self.evaluated.contains_key(&n) {
            let rows = run_condition(self.study, self.config, self.cells, n, self.progress)?;
            self.evaluated.insert(n, rows);
        }
        Ok(&self.evaluated[&n])
    }
}

/// The search for one target cell: the sample sizes it evaluated and their rows.
struct Search<'a, 'b> {
    cache: &'a mut Conditions<'b>,
    /// The cell searched for (a hypothesised effect and test, or the joint row).
    cell: usize,
    target: f64,
    n_min: usize,
    n_max: usize,
    /// The rows of the sample sizes this search evaluated.
    own: BTreeMap<usize, Vec<PowerRow>>,
}

impl Search<'_, '_> {
    /// Evaluates `n` for this search (from the cache when another target ran it).
    fn eval(&mut self, n: usize) -> Result<(), PowerError> {
        if !self.own.contains_key(&n) {
            let rows = self.cache.rows(n)?.clone();
            self.own.insert(n, rows);
        }
        Ok(())
    }

    /// Doubles (or halves) N until the target has an evaluated N below and one at or above it,
    /// or the search hits `n_min` / `n_max`.
    fn bracket_target(&mut self) -> Result<(), PowerError> {
        loop {
            let (Some(&lo_n), Some(&hi_n)) = (self.own.keys().next(), self.own.keys().next_back())
            else {
                return Ok(());
            };
            let power = |n: usize| self.own[&n][self.cell].power;
            if power(hi_n) < self.target && hi_n < self.n_max {
                self.eval((hi_n * 2).min(self.n_max))?;
            } else if power(lo_n) >= self.target && lo_n > self.n_min {
                self.eval((lo_n / 2).max(self.n_min))?;
            } else {
                return Ok(());
            }
        }
    }

    /// Up to `rounds` rounds: evaluate where the bracket's probit curve crosses the target.
    fn refine(&mut self, bracket: Option<(usize, usize)>, rounds: usize) -> Result<(), PowerError> {
        let Some((lo, hi)) = bracket else {
            return Ok(());
        };
        let r = self.cache.config.replications;
        for _ in 0..rounds {
            let Some(fit) = fit_in(&self.own, self.cell, lo, hi, r) else {
                break;
            };
            let n = fit.crossing(self.target).round() as usize;
            if n <= lo || n >= hi || self.own.contains_key(&n) {
                break;
            }
            self.eval(n)?;
        }
        Ok(())
    }

    /// The estimate of this search with its bracket `b` (none: at the minimum or above the
    /// maximum).
    fn estimate(&self, b: Option<(usize, usize)>) -> SampleSizeEstimate {
        let (c, target, n_min, evaluated) = (self.cell, self.target, self.n_min, &self.own);
        let cell = self.cache.cells[c];
        let lo_n = *evaluated.keys().next().expect("evaluated");
        let hi_n = *evaluated.keys().next_back().expect("evaluated");
        let empty = |status, n| SampleSizeEstimate {
            effect: self.cache.study.effects[cell.effect].name.clone(),
            test: cell.test,
            status,
            n,
            n_lower: n,
            n_upper: n,
            fitted_power: None,
            bracket: None,
        };
        let Some((lo, hi)) = b else {
            return if evaluated[&lo_n][c].power >= target {
                empty(SearchStatus::AtMinimum, Some(lo_n))
            } else {
                SampleSizeEstimate {
                    n_upper: None,
                    ..empty(SearchStatus::AboveMaximum, None)
                }
            };
        };
        let b = Some(((lo, evaluated[&lo][c].power), (hi, evaluated[&hi][c].power)));
        match fit_in(evaluated, c, lo, hi, self.cache.config.replications) {
            Some(fit) => {
                let n = fit.crossing(target).ceil().clamp(lo as f64, hi as f64) as usize;
                let (nl, nu) =
                    fit.interval(target, n_min as f64, 4.0 * hi_n.max(self.n_max) as f64);
                SampleSizeEstimate {
                    status: SearchStatus::Found,
                    n: Some(n),
                    n_lower: Some(nl.floor().max(n_min as f64) as usize),
                    n_upper: nu.map(|v| v.ceil() as usize),
                    fitted_power: Some(fit.power(n as f64)),
                    bracket: b,
                    ..empty(SearchStatus::Found, None)
                }
            }
            None => SampleSizeEstimate {
                n: Some(hi),
                n_lower: Some(lo),
                n_upper: Some(hi),
                bracket: b,
                ..empty(SearchStatus::Found, None)
            },
        }
    }
}

/// The tightest bracket of the target for cell `c`: the smallest evaluated N with power ≥ target
/// and the largest smaller evaluated N with power below it.
fn bracket(
    evaluated: &BTreeMap<usize, Vec<PowerRow>>,
    c: usize,
    target: f64,
) -> Option<(usize, usize)> {
    let hi = evaluated
        .iter()
        .find(|(_, rows)| rows[c].power >= target)
        .map(|(n, _)| *n)?;
    let lo = evaluated
        .range(..hi)
        .rev()
        .find(|(_, rows)| rows[c].power < target)
        .map(|(n, _)| *n)?;
    Some((lo, hi))
}

fn fit_in(
    evaluated: &BTreeMap<usize, Vec<PowerRow>>,
    c: usize,
    lo: usize,
    hi: usize,
    r: usize,
) -> Option<ProbitFit> {
    let points: Vec<(f64, f64, f64)> = evaluated
        .range(lo..=hi)
        .map(|(n, rows)| ((*n as f64).sqrt(), rows[c].power * r as f64, r as f64))
        .collect();
    ProbitFit::fit(&points)
}

/// A probit curve `Φ(a + b·x)`, `x = √N`, with the covariance of `(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbitFit {
    /// Intercept.
    pub a: f64,
    /// Slope on √N.
    pub b: f64,
    /// Covariance matrix of (a, b): `[var a, cov, var b]`.
    pub cov: [f64; 3],
}

impl ProbitFit {
    /// Maximum-likelihood fit (Fisher scoring) to `(x, successes, trials)`, with ½ added to the
    /// successes and the failures. `None` when fewer than two distinct x or no increasing fit.
    pub fn fit(points: &[(f64, f64, f64)]) -> Option<ProbitFit> {
        let normal = Normal::new(0.0, 1.0).expect("standard normal");
        let distinct = points.iter().any(|p| (p.0 - points[0].0).abs() > 1e-12);
        if points.len() < 2 || !distinct {
            return None;
        }
        let data: Vec<(f64, f64, f64)> = points
            .iter()
            .map(|&(x, k, m)| (x, k + 0.5, m + 1.0))
            .collect();
        // Start from the least-squares line through the probits of the observed proportions.
        let z: Vec<(f64, f64)> = data
            .iter()
            .map(|&(x, k, m)| (x, probit(&normal, k / m)))
            .collect();
        let mx = z.iter().map(|p| p.0).sum::<f64>() / z.len() as f64;
        let my = z.iter().map(|p| p.1).sum::<f64>() / z.len() as f64;
        let sxy: f64 = z.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = z.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
        let mut b = sxy / sxx;
        let mut a = my - b * mx;
        let mut info = [0.0; 3];
        for _ in 0..100 {
            let (mut g0, mut g1) = (0.0, 0.0);
            info = [0.0; 3];
            for &(x, k, m) in &data {
                let eta = a + b * x;
                let p = normal.cdf(eta).clamp(1e-300, 1.0 - 1e-16);
                let d = normal.pdf(eta);
                let score = d * (k - m * p) / (p * (1.0 - p));
                let w = m * d * d / (p * (1.0 - p));
                g0 += score;
                g1 += score * x;
                info[0] += w;
                info[1] += w * x;
                info[2] += w * x * x;
            }
            let det = info[0] * info[2] - info[1] * info[1];
            if det.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return None;
            }
            let da = (info[2] * g0 - info[1] * g1) / det;
            let db = (info[0] * g1 - info[1] * g0) / det;
            a += da;
            b += db;
            if da.abs() + db.abs() < 1e-12 {
                break;
            }
        }
        let det = info[0] * info[2] - info[1] * info[1];
        let cov = [info[2] / det, -info[1] / det, info[0] / det];
        (b > 0.0 && a.is_finite()).then_some(ProbitFit { a, b, cov })
    }

    /// Fitted power at N.
    pub fn power(&self, n: f64) -> f64 {
        Normal::new(0.0, 1.0)
            .expect("standard normal")
            .cdf(self.a + self.b * n.sqrt())
    }

    /// The N where the fitted power equals `target`.
    pub fn crossing(&self, target: f64) -> f64 {
        let q = probit(&Normal::new(0.0, 1.0).expect("standard normal"), target);
        let x = ((q - self.a) / self.b).max(0.0);
        x * x
    }

    fn se_eta(&self, x: f64) -> f64 {
        (self.cov[0] + 2.0 * x * self.cov[1] + x * x * self.cov[2])
            .max(0.0)
            .sqrt()
    }

    /// The 95% interval of the crossing: where `η ± 1.96·se(η)` reaches the target's probit, searched
    /// in `[n_min, n_max]`; the upper end is `None` when the lower band stays below the target.
    pub fn interval(&self, target: f64, n_min: f64, n_max: f64) -> (f64, Option<f64>) {
        let q = probit(&Normal::new(0.0, 1.0).expect("standard normal"), target);
        let x_star = self.crossing(target).sqrt();
        let upper_band = |x: f64| self.a + self.b * x + 1.96 * self.se_eta(x) - q;
        let lower_band = |x: f64| self.a + self.b * x - 1.96 * self.se_eta(x) - q;
        let (x_min, x_max) = (n_min.sqrt(), n_max.sqrt());
        let lower = if upper_band(x_min) >= 0.0 {
            x_min
        } else {
            bisect(&upper_band, x_min, x_star.max(x_min))
        };
        let upper =
            (lower_band(x_max) >= 0.0).then(|| bisect(&lower_band, x_star.min(x_max), x_max));
        (lower * lower, upper.map(|x| x * x))
    }
}

/// Root of an increasing-through-zero function on `[lo, hi]` with `f(lo) < 0 ≤ f(hi)`.
fn bisect(f: &dyn Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Φ⁻¹(p), NaN for p outside [0, 1] (statrs' `inverse_cdf` panics there; targets come from users).
fn probit(normal: &Normal, p: f64) -> f64 {
    if (0.0..=1.0).contains(&p) {
        normal.inverse_cdf(p)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With exact expected counts from a probit curve, the fit recovers the curve.
    #[test]
    fn probit_fit_recovers_a_known_curve() {
        let normal = Normal::new(0.0, 1.0).unwrap();
        let (a, b) = (-1.96, 0.15);
        let m = 1e6;
        let pts: Vec<(f64, f64, f64)> = [100.0_f64, 150.0, 200.0, 300.0]
            .iter()
            .map(|&n| (n.sqrt(), m * normal.cdf(a + b * n.sqrt()), m))
            .collect();
        let fit = ProbitFit::fit(&pts).unwrap();
        assert!(
            (fit.a - a).abs() < 1e-3 && (fit.b - b).abs() < 1e-4,
            "{fit:?}"
        );
        let n80 = fit.crossing(0.8);
        let expect = ((normal.inverse_cdf(0.8) - a) / b).powi(2);
        assert!((n80 - expect).abs() < 1.0, "{n80} vs {expect}");
        let (lo, hi) = fit.interval(0.8, 10.0, 10_000.0);
        assert!(lo < n80 && hi.unwrap() > n80);
    }
}
