//! Normal-distribution functions used to calibrate Likert items: `Φ`, `Φ⁻¹` and the bivariate
//! normal "excess" probability `Φ₂(h, k; ρ) − Φ(h)Φ(k)`.
//!
//! # References
//! * Marsaglia, G. (2004). Evaluating the normal distribution. *Journal of Statistical Software*
//!   11(4) — the Taylor series used by [`cdf`].
//! * Plackett, R. L. (1954). A reduction formula for normal multivariate integrals. *Biometrika*
//!   41, 351–360 — `∂Φ₂/∂ρ = φ₂`, so `Φ₂(h, k; ρ) − Φ(h)Φ(k) = ∫₀^ρ φ₂(h, k; r) dr`; with
//!   `r = sin θ` the integrand has no singularity at `|ρ| → 1` (as in Genz 2004, *Statistics and
//!   Computing* 14, 251–260).

use rand::Rng;
use rand_distr::StandardNormal;
use std::f64::consts::PI;

/// Fills `buf` with independent standard normal draws (rand_distr's ziggurat sampler, the one the
/// simulator uses): the baseline cost of any simulated data.
#[inline]
pub fn fill_standard_normal<R: Rng + ?Sized>(rng: &mut R, buf: &mut [f64]) {
    for v in buf.iter_mut() {
        *v = rng.sample(StandardNormal);
    }
}

/// Standard normal density `φ(x)`.
pub fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Standard normal distribution function `Φ(x)`, absolute error below 1e-15.
pub fn cdf(x: f64) -> f64 {
    if x < -38.0 {
        return 0.0;
    }
    if x > 38.0 {
        return 1.0;
    }
    if x.abs() > 7.0 {
        // Mills-ratio continued fraction for the tail (the series loses relative accuracy there).
        let z = x.abs();
        let mut cf = z;
        for k in (1..=60).rev() {
            cf = z + f64::from(k) / cf;
        }
        let tail = pdf(z) / cf;
        return if x > 0.0 { 1.0 - tail } else { tail };
    }
    // Marsaglia (2004): Φ(x) = 1/2 + φ(x) (x + x³/3 + x⁵/(3·5) + …).
    let q = x * x;
    let mut sum = x;
    let mut term = x;
    let mut i = 1.0;
    loop {
        i += 2.0;
        term *= q / i;
        let next = sum + term;
        if next.to_bits() == sum.to_bits() {
            break;
        }
        sum = next;
    }
    (0.5 + sum * pdf(x)).clamp(0.0, 1.0)
}

/// Inverse standard normal distribution function `Φ⁻¹(p)` for `p ∈ (0, 1)`, by bisection on
/// [`cdf`] (used only during set-up, never per respondent).
pub fn quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    bisect(|x| cdf(x) - p, -38.0, 38.0)
}

/// Root of an increasing function on `[lo, hi]` by bisection to machine precision.
pub(crate) fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Gauss–Legendre nodes and weights on [−1, 1], 5 points.
const GL_NODES: [f64; 5] = [
    -0.906_179_845_938_664,
    -0.538_469_310_105_683_1,
    0.0,
    0.538_469_310_105_683_1,
    0.906_179_845_938_664,
];
const GL_WEIGHTS: [f64; 5] = [
    0.236_926_885_056_189_1,
    0.478_628_670_499_366_5,
    0.568_888_888_888_888_9,
    0.478_628_670_499_366_5,
    0.236_926_885_056_189_1,
];
/// Panels of the composite Gauss–Legendre rule.
const PANELS: usize = 24;

/// `Φ₂(h, k; ρ) − Φ(h) Φ(k)`: how much more likely two standard normals with correlation `ρ` are to
/// be both below (`h`, `k`) than independent ones. It equals `Cov(1{X ≤ h}, 1{Y ≤ k})`, and also
/// `Cov(1{X > h}, 1{Y > k})`.
///
/// Computed as `∫₀^{asin ρ} exp(−(h² − 2hk sin θ + k²) / (2 cos² θ)) dθ / 2π` (Plackett 1954) with a
/// 120-point composite Gauss–Legendre rule; absolute error below 1e-12 for `|ρ| ≤ 0.99`.
pub fn bivariate_excess(h: f64, k: f64, rho: f64) -> f64 {
    let end = rho.clamp(-1.0, 1.0).asin();
    let width = end / PANELS as f64;
    let hk = h * k;
    let hh = 0.5 * (h * h + k * k);
    let mut total = 0.0;
    for panel in 0..PANELS {
        let mid = (panel as f64 + 0.5) * width;
        for (x, w) in GL_NODES.iter().zip(GL_WEIGHTS) {
            let theta = mid + 0.5 * width * x;
            let (s, c) = theta.sin_cos();
            let c2 = c * c;
            if c2 > 0.0 {
                total += w * (-(hh - hk * s) / c2).exp();
            }
        }
    }
    total * 0.5 * width / (2.0 * PI)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: R 4.3, `pnorm(c(-3, -1.5, 0, 0.5, 2.5, -8))`.
    #[test]
    fn cdf_matches_reference_values() {
        let table = [
            (-3.0, 0.001_349_898_031_630_094_6),
            (-1.5, 0.066_807_201_268_858_06),
            (0.0, 0.5),
            (0.5, 0.691_462_461_274_013_1),
            (2.5, 0.993_790_334_674_223_8),
            (-8.0, 6.220_960_574_271_785e-16),
        ];
        for (x, p) in table {
            let got = cdf(x);
            assert!((got - p).abs() < 1e-14, "Φ({x}) = {got}, expected {p}");
        }
    }

    #[test]
    fn quantile_inverts_cdf() {
        for p in [1e-6, 0.025, 0.3, 0.5, 0.8, 0.975] {
            let x = quantile(p);
            assert!((cdf(x) - p).abs() < 1e-14, "p = {p}, x = {x}");
        }
    }

    /// Closed form at the origin: `Φ₂(0, 0; ρ) = 1/4 + asin(ρ)/(2π)`.
    #[test]
    fn bivariate_excess_at_origin_is_closed_form() {
        for rho in [-0.9, -0.3, 0.0, 0.2, 0.7, 0.95, 0.99] {
            let got = bivariate_excess(0.0, 0.0, rho);
            let expected = rho.asin() / (2.0 * PI);
            assert!(
                (got - expected).abs() < 1e-13,
                "ρ = {rho}: {got} vs {expected}"
            );
        }
    }

    /// Exact properties (no reference table needed): symmetry, Fréchet bounds, and the `ρ = 1` limit.
    #[test]
    fn bivariate_excess_is_symmetric_and_bounded() {
        // Symmetries that hold exactly: (h, k) ↔ (k, h) and (h, k) ↔ (−h, −k).
        for (h, k, r) in [(0.3, -1.2, 0.6), (1.5, 0.4, -0.4), (-2.0, -0.5, 0.9)] {
            let a = bivariate_excess(h, k, r);
            assert!((a - bivariate_excess(k, h, r)).abs() < 1e-15);
            assert!((a - bivariate_excess(-h, -k, r)).abs() < 1e-15);
            // Fréchet bounds on the joint probability.
            let joint = a + cdf(h) * cdf(k);
            assert!(joint >= (cdf(h) + cdf(k) - 1.0).max(0.0) - 1e-12);
            assert!(joint <= cdf(h).min(cdf(k)) + 1e-12);
        }
        // ρ → 1: Φ₂(h, k; 1) = Φ(min(h, k)).
        let (h, k) = (0.4, -0.7);
        let near_one = bivariate_excess(h, k, 1.0) + cdf(h) * cdf(k);
        assert!((near_one - cdf(k)).abs() < 1e-6, "{near_one} vs {}", cdf(k));
    }
}
