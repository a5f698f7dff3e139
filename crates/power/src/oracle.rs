//! Closed-form power of the Wald z test of one regression coefficient: the test oracle.
//!
//! Model: `y = β x + e` with `x ~ N(0, σx²)` and `e ~ N(0, σe²)`, N rows, ML estimation as lavaan
//! (`se = sqrt(ψ̂ / (N s²x))` with divisors N). Then `z_ML = t · sqrt(N/(N − 2))` where, given x,
//! `t` is noncentral t with `ν = N − 2` degrees of freedom and noncentrality `δ = β sqrt(SSx)/σe`,
//! and `SSx/σx² ~ χ²(N − 1)`. So
//!
//! ```text
//! P(|z_ML| > z₁₋α/₂) = E_U E_V [ Φ(δ(U) − c·sqrt(V/ν)) + Φ(−δ(U) − c·sqrt(V/ν)) ],
//!     c = z₁₋α/₂ · sqrt((N − 2)/N),  δ(U) = β σx sqrt(U)/σe,  U ~ χ²(N − 1),  V ~ χ²(N − 2),
//! ```
//!
//! integrated here by the midpoint rule on the quantile scale of U and V (an exact noncentral-t
//! power averaged over the random predictor; the rule's error is below 1e-4).
//!
//! # References
//! Noncentral t for a regression coefficient: Cohen (1988), ch. 9; the unconditional (random x)
//! version: Gatsonis & Sampson (1989), Psychological Bulletin 106:516–524.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Quadrature points per dimension.
const QUADRATURE_POINTS: usize = 300;

/// Power of the two-sided Wald z test (ML SE, divisors N) of `β` in `y = β x + e` at sample size
/// `n` (≥ 4), level `alpha`. With `beta = 0` it is the exact type I error rate of that test.
pub fn single_path_power(beta: f64, sd_x: f64, sd_residual: f64, n: usize, alpha: f64) -> f64 {
    assert!(n >= 4, "the oracle needs n >= 4");
    if !(alpha > 0.0 && alpha < 1.0) {
        return f64::NAN;
    }
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let nf = n as f64;
    let nu = nf - 2.0;
    let c = normal.inverse_cdf(1.0 - alpha / 2.0) * (nu / nf).sqrt();
    let u_dist = ChiSquared::new(nf - 1.0).expect("df > 0");
    let v_dist = ChiSquared::new(nu).expect("df > 0");
    let m = QUADRATURE_POINTS;
    let mid = |k: usize| (k as f64 + 0.5) / m as f64;
    let delta: Vec<f64> = (0..m)
        .map(|k| beta * sd_x * u_dist.inverse_cdf(mid(k)).sqrt() / sd_residual)
        .collect();
    let crit: Vec<f64> = (0..m)
        .map(|k| c * (v_dist.inverse_cdf(mid(k)) / nu).sqrt())
        .collect();
    let mut total = 0.0;
    for d in &delta {
        for cv in &crit {
            total += normal.cdf(d - cv) + normal.cdf(-d - cv);
        }
    }
    total / (m * m) as f64
}

/// Normal-approximation power of a two-sided z test with noncentrality `delta`:
/// `Φ(δ − z) + Φ(−δ − z)`.
pub fn z_test_power(delta: f64, alpha: f64) -> f64 {
    if !(alpha > 0.0 && alpha < 1.0) {
        return f64::NAN;
    }
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let z = normal.inverse_cdf(1.0 - alpha / 2.0);
    normal.cdf(delta - z) + normal.cdf(-delta - z)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large N: the exact power approaches the z approximation with δ = β σx sqrt(N)/σe.
    #[test]
    fn agrees_with_the_normal_approximation_at_large_n() {
        let n = 5000;
        let exact = single_path_power(0.04, 1.0, 1.0, n, 0.05);
        let approx = z_test_power(0.04 * (n as f64).sqrt(), 0.05);
        assert!(
            (exact - approx).abs() < 0.005,
            "exact {exact}, approx {approx}"
        );
    }

    /// β = 0: the ML z test is slightly liberal at small N (t with N − 2 df, SE with divisor N):
    /// P(|t₄₈| > 1.96·sqrt(48/50)) = 0.06076 (R 4.2.2: `2*pt(-qnorm(.975)*sqrt(48/50), 48)`).
    #[test]
    fn type_one_error_at_small_n_matches_the_t_distribution() {
        let size = single_path_power(0.0, 1.0, 1.0, 50, 0.05);
        assert!((size - 0.06076).abs() < 0.0005, "size {size}");
    }
}
