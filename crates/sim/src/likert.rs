//! Likert items: congeneric items cut into ordered categories, calibrated so that the *categorised*
//! items have the target item mean and the scale has the target reliability.
//!
//! Item model: the latent response to item `k` of a construct is
//! `y*ₖ = λₖ z + √(1 − λₖ²) eₖ` with `z` the standardized construct score and `eₖ ~ N(0, 1)`
//! independent, so two items of the construct correlate `λₖλₗ` before categorisation. The response is
//! `min + #{j : y*ₖ > τⱼ}`: categories `min..=max` cut at thresholds `τ₁ < … < τ_{K−1}`.
//!
//! * **Thresholds** are equally spaced in the normal metric ([`THRESHOLD_SPACING`] apart, so an item
//!   with its mean at the scale midpoint has a standard deviation of about 1.4 on a 7-point scale,
//!   typical of survey items) and shifted together by the amount that makes the expected
//!   *category-level* item mean `min + Σⱼ Φ(−τⱼ)` equal its target. A mean away from the midpoint thus
//!   comes with the skew it implies (a ceiling for perceived performance at 5.5 of 7).
//! * **Reliability**: with parallel items (`λₖ = λ`), Cronbach's α of the categorised items is
//!   `α = k r / (1 + (k − 1) r)` (Spearman–Brown) with `r` their Pearson correlation. Categorisation
//!   lowers `r` below `λ²`; `r` is computed exactly from the bivariate normal distribution
//!   (`Cov(Xₖ, Xₗ) = Σᵢ Σⱼ [Φ₂(−τᵢ, −τⱼ; λ²) − Φ(−τᵢ)Φ(−τⱼ)]`, [`crate::normal::bivariate_excess`]) and
//!   `λ` is found by bisection, so the *population* α of the categorised scale equals the target.
//! * **Feasibility**: an item whose latent reliability `λ²` exceeds [`MAX_ITEM_RELIABILITY`] would be
//!   a near-duplicate of its neighbours, not a survey item. A target that needs more is refused with
//!   the number of items that would reach it.
//!
//! # References
//! * Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. *Psychometrika*
//!   16, 297–334.
//! * Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation coefficient.
//!   *Psychometrika* 44, 443–460 — the latent-normal threshold model of ordinal items.

use crate::normal::{bisect, bivariate_excess, cdf};
use crate::SimError;
use rand::Rng;
use rand_distr::StandardNormal;

/// Distance between neighbouring thresholds, in standard deviations of the latent response.
pub const THRESHOLD_SPACING: f64 = 0.7;

/// Largest latent item reliability `λ²` the calibration will use [E]: above it, items are
/// near-duplicates rather than distinct questions.
pub const MAX_ITEM_RELIABILITY: f64 = 0.90;

/// What a Likert scale should look like.
#[derive(Debug, Clone, PartialEq)]
pub struct LikertTarget {
    /// Number of items.
    pub items: usize,
    /// Target reliability (Cronbach's α of the categorised items; for one item, its correlation
    /// with a parallel replicate).
    pub reliability: f64,
    /// Target mean of every item, on the category scale.
    pub item_mean: f64,
    /// Lowest category (1 for 1–7, 0 for 0–6).
    pub min: i32,
    /// Highest category.
    pub max: i32,
}

/// A calibrated response scale: thresholds and the expected properties of the categorised items.
#[derive(Debug, Clone, PartialEq)]
pub struct Likert {
    /// Lowest category.
    pub min: i32,
    /// Highest category.
    pub max: i32,
    /// Thresholds `τ₁ < … < τ_{K−1}` on the latent-response scale (mean 0, variance 1).
    pub thresholds: Vec<f64>,
    /// Standardized loading of each item on the construct.
    pub loadings: Vec<f64>,
    /// Expected item mean on the category scale.
    pub expected_item_mean: f64,
    /// Expected item standard deviation on the category scale.
    pub expected_item_sd: f64,
    /// Population Cronbach's α of the categorised items.
    pub expected_alpha: f64,
    /// `√(1 − λₖ²)` per item: the weight of the item's own noise in its latent response.
    noise: Vec<f64>,
}

impl Likert {
    /// Number of categories `K`.
    pub fn categories(&self) -> usize {
        (self.max - self.min + 1) as usize
    }

    /// Calibrates parallel items to a target reliability and item mean.
    pub fn calibrate(construct: &str, target: &LikertTarget) -> Result<Likert, SimError> {
        let thresholds = thresholds_for_mean(construct, target.item_mean, target.min, target.max)?;
        let k = target.items;
        let categories = (target.max - target.min + 1) as usize;
        if !(target.reliability > 0.0 && target.reliability < 1.0) {
            return Err(SimError::Reliability {
                construct: construct.into(),
                value: target.reliability,
            });
        }
        let var = categorised_variance(&thresholds);
        let alpha_at = |rho: f64, k: usize| {
            let r = categorised_covariance(&thresholds, &thresholds, rho) / var;
            k as f64 * r / (1.0 + (k as f64 - 1.0) * r)
        };
        let best = alpha_at(MAX_ITEM_RELIABILITY, k);
        if best < target.reliability {
            let needed =
                (k..=200).find(|&m| alpha_at(MAX_ITEM_RELIABILITY, m) >= target.reliability);
            let more = match needed {
                Some(m) => format!("use at least {m} items or a lower target"),
                None => "use a lower target".to_string(),
            };
            return Err(SimError::InfeasibleReliability {
                construct: construct.into(),
                target: target.reliability,
                items: k,
                categories,
                reason: format!(
                    "even items with latent reliability {MAX_ITEM_RELIABILITY} each (near-duplicates) give α = {best:.3} after categorisation; {more}"
                ),
            });
        }
        let rho = bisect(
            |rho| alpha_at(rho, k) - target.reliability,
            0.0,
            MAX_ITEM_RELIABILITY,
        );
        Likert::with_loadings(target.min, target.max, thresholds, vec![rho.sqrt(); k])
    }

    /// Congeneric items with given standardized loadings and a target item mean.
    pub fn from_loadings(
        construct: &str,
        items: &[(String, f64)],
        item_mean: f64,
        min: i32,
        max: i32,
    ) -> Result<Likert, SimError> {
        for (item, value) in items {
            if !(value.abs() < 1.0 && *value != 0.0) {
                return Err(SimError::Loading {
                    construct: construct.into(),
                    item: item.clone(),
                    value: *value,
                });
            }
        }
        let thresholds = thresholds_for_mean(construct, item_mean, min, max)?;
        Likert::with_loadings(
            min,
            max,
            thresholds,
            items.iter().map(|(_, l)| *l).collect(),
        )
    }

    fn with_loadings(
        min: i32,
        max: i32,
        thresholds: Vec<f64>,
        loadings: Vec<f64>,
    ) -> Result<Likert, SimError> {
        let var = categorised_variance(&thresholds);
        let k = loadings.len();
        let expected_alpha = if k == 1 {
            categorised_covariance(&thresholds, &thresholds, loadings[0] * loadings[0]) / var
        } else {
            let mut total = 0.0;
            for a in 0..k {
                for b in 0..k {
                    total += if a == b {
                        var
                    } else {
                        categorised_covariance(&thresholds, &thresholds, loadings[a] * loadings[b])
                    };
                }
            }
            k as f64 / (k as f64 - 1.0) * (1.0 - k as f64 * var / total)
        };
        let expected_item_mean = f64::from(min) + thresholds.iter().map(|t| cdf(-t)).sum::<f64>();
        let noise = loadings.iter().map(|l| (1.0 - l * l).sqrt()).collect();
        Ok(Likert {
            min,
            max,
            thresholds,
            noise,
            loadings,
            expected_item_mean,
            expected_item_sd: var.sqrt(),
            expected_alpha,
        })
    }

    /// The category of a latent response `y*`: `min + #{j : y* > τⱼ}`. The one place where items
    /// are cut into categories.
    #[inline]
    pub fn categorise(&self, latent: f64) -> f64 {
        let above = self.thresholds.iter().filter(|&&t| latent > t).count();
        f64::from(self.min) + above as f64
    }

    /// One answer to item `item` of a person with standardized construct score `z`: the latent
    /// response `λz + √(1 − λ²) e` (`e` one standard normal drawn from `rng`), categorised.
    #[inline]
    pub fn response<R: Rng + ?Sized>(&self, item: usize, z: f64, rng: &mut R) -> f64 {
        let e: f64 = rng.sample(StandardNormal);
        self.categorise(self.loadings[item] * z + self.noise[item] * e)
    }

    /// The scale score (mean of every item's [`Likert::response`], items in order) of a person
    /// with standardized construct score `z`: complete answers, no missing items.
    #[inline]
    pub fn scale_score<R: Rng + ?Sized>(&self, z: f64, rng: &mut R) -> f64 {
        let mut sum = 0.0;
        for item in 0..self.loadings.len() {
            sum += self.response(item, z, rng);
        }
        sum / self.loadings.len() as f64
    }
}

/// Equally spaced thresholds shifted so that the expected category mean is `mean`.
pub fn thresholds_for_mean(
    construct: &str,
    mean: f64,
    min: i32,
    max: i32,
) -> Result<Vec<f64>, SimError> {
    if !(mean > f64::from(min) && mean < f64::from(max)) || max <= min {
        return Err(SimError::ItemMean {
            construct: construct.into(),
            value: mean,
            min,
            max,
        });
    }
    let gaps = (max - min) as usize;
    let centre = gaps as f64 / 2.0;
    let base: Vec<f64> = (1..=gaps)
        .map(|j| (j as f64 - centre) * THRESHOLD_SPACING)
        .collect();
    let mean_at = |shift: f64| f64::from(min) + base.iter().map(|b| cdf(shift - b)).sum::<f64>();
    let shift = bisect(|s| mean_at(s) - mean, -30.0, 30.0);
    Ok(base.iter().map(|b| b - shift).collect())
}

/// Variance of an item categorised at `thresholds` (latent response standard normal).
pub fn categorised_variance(thresholds: &[f64]) -> f64 {
    let mut v = 0.0;
    for &a in thresholds {
        for &b in thresholds {
            v += cdf(-a.max(b)) - cdf(-a) * cdf(-b);
        }
    }
    v
}

/// Covariance of two items categorised at `a` and `b` whose latent responses correlate `rho`.
pub fn categorised_covariance(a: &[f64], b: &[f64], rho: f64) -> f64 {
    let mut c = 0.0;
    for &ta in a {
        for &tb in b {
            c += bivariate_excess(ta, tb, rho);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(items: usize, reliability: f64, item_mean: f64) -> LikertTarget {
        LikertTarget {
            items,
            reliability,
            item_mean,
            min: 1,
            max: 7,
        }
    }

    #[test]
    fn calibration_hits_alpha_and_mean_exactly_in_the_population() {
        for (k, rel, mean) in [
            (4, 0.85, 4.8),
            (3, 0.80, 4.8),
            (9, 0.92, 4.5),
            (5, 0.80, 5.5),
            (5, 0.88, 3.5),
        ] {
            let s = Likert::calibrate("x", &target(k, rel, mean)).unwrap();
            assert!(
                (s.expected_alpha - rel).abs() < 1e-9,
                "{k} items: α {}",
                s.expected_alpha
            );
            assert!(
                (s.expected_item_mean - mean).abs() < 1e-9,
                "mean {}",
                s.expected_item_mean
            );
            // Categorisation costs reliability: the latent item correlation exceeds the categorised one.
            let r_cat = rel / (k as f64 - (k as f64 - 1.0) * rel);
            assert!(s.loadings[0].powi(2) > r_cat);
        }
    }

    #[test]
    fn skewed_means_put_mass_at_the_ceiling() {
        let s = Likert::calibrate("perf", &target(5, 0.8, 5.5)).unwrap();
        let top = 1.0 - cdf(s.thresholds[5]);
        let bottom = cdf(s.thresholds[0]);
        assert!(top > 0.15 && bottom < 0.01, "P(7) = {top}, P(1) = {bottom}");
    }

    #[test]
    fn unreachable_reliability_is_refused_with_a_reason() {
        let err = Likert::calibrate("is", &target(3, 0.98, 4.8)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'is'") && msg.contains("3 item") && msg.contains("at least"),
            "{msg}"
        );
        assert!(matches!(
            Likert::calibrate("is", &target(3, 1.0, 4.8)),
            Err(SimError::Reliability { .. })
        ));
        assert!(matches!(
            Likert::calibrate("is", &target(3, 0.8, 7.0)),
            Err(SimError::ItemMean { .. })
        ));
    }
}
