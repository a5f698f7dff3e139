//! Small-sample inference for fixed effects of a linear mixed model whose covariance is linear in
//! its variance components, `V = Σₖ ψₖ Vₖ`: Satterthwaite and Kenward–Roger degrees of freedom.
//!
//! Both engines (the sufficient-statistics random-intercept fit and the dense nested fit) reduce
//! a fit to the same few `p × p` matrices, stored in [`VcInference`]:
//! `C = (XᵀV⁻¹X)⁻¹`, `Gᵢ = XᵀV⁻¹VᵢV⁻¹X`, `Qᵢⱼ = XᵀV⁻¹VᵢV⁻¹VⱼV⁻¹X`, the expected REML
//! information `tr(P Vᵢ P Vⱼ)` and the observed Hessian of the REML deviance.
//!
//! # References
//! - Satterthwaite (1946); as implemented in lmerTest 3.1 (Kuznetsova, Brockhoff & Christensen
//!   2017, *J Stat Softw* 82(13)): `df = 2 (L C Lᵀ)² / (gᵀ A g)`, `gᵢ = ∂(L C Lᵀ)/∂ψᵢ = L C Gᵢ C Lᵀ`,
//!   `A = 2 H⁻¹` with `H` the Hessian of the REML deviance `−2ℓ_R` (observed, as lmerTest's
//!   numerical Hessian). The df is invariant to the variance parametrisation at an interior
//!   optimum, so (σ²_b, σ²_e) gives lmerTest's (θ, σ) answer.
//! - Kenward & Roger (1997), *Biometrics* 53:983–997, as implemented in pbkrtest 0.5
//!   (`vcovAdj_internal`, `Lb_ddf`; Halekoh & Højsgaard 2014, *J Stat Softw* 59(9)):
//!   `Φ_A = Φ + 2 Φ [Σᵢⱼ Wᵢⱼ (Qᵢⱼ − PᵢΦPⱼ)] Φ`, `Pᵢ = −Gᵢ`, `W = 2 (tr(PVᵢPVⱼ))⁻¹`.
//!   The observed Hessian: `∂²(−2ℓ_R)/∂ψᵢ∂ψⱼ = −tr(PVᵢPVⱼ) + 2 yᵀPVᵢPVⱼPy` (V linear in ψ).

use super::linalg::{add_scaled, mul, quad, Mat, Vect, ZERO_MAT};

/// Most variance components a model may have (leader, leader × time, employee, residual).
pub const MAXK: usize = 4;

/// The matrices small-sample inference on fixed effects needs, evaluated at the REML estimates.
#[derive(Debug, Clone, Copy)]
pub struct VcInference {
    /// Number of fixed effects.
    pub p: usize,
    /// Number of variance components.
    pub k: usize,
    /// `C = Φ = (XᵀV⁻¹X)⁻¹`, the model-based covariance of β̂.
    pub c: Mat,
    /// `Gᵢ = XᵀV⁻¹VᵢV⁻¹X` for each component.
    pub g: [Mat; MAXK],
    /// `Qᵢⱼ` for `i ≤ j`, packed row-wise (index [`pair`]).
    pub q: [Mat; MAXK * (MAXK + 1) / 2],
    /// `tr(P Vᵢ P Vⱼ)` (twice the expected REML information).
    pub ie2: [[f64; MAXK]; MAXK],
    /// Observed Hessian of the REML deviance `−2ℓ_R` in ψ.
    pub hessian: [[f64; MAXK]; MAXK],
    /// Components estimated in the interior; a component on its boundary (variance 0) is held
    /// fixed in Satterthwaite's formula, as lmerTest's (θ, σ) parametrisation implies there.
    pub free: [bool; MAXK],
}

/// Index of the pair `(i, j)`, `i ≤ j`, among the `k(k+1)/2` packed pairs.
pub fn pair(i: usize, j: usize, k: usize) -> usize {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    // rows before i hold k, k − 1, …, k − i + 1 entries
    i * k - i * i.saturating_sub(1) / 2 + (j - i)
}

/// Inverse of the leading `k × k` block of a small symmetric matrix; `None` when singular.
fn inverse_small(a: &[[f64; MAXK]; MAXK], k: usize) -> Option<[[f64; MAXK]; MAXK]> {
    let mut m = ZERO_MAT;
    for i in 0..k {
        for j in 0..k {
            m[i][j] = a[i][j];
        }
    }
    let l = super::linalg::cholesky(&m, k)?;
    let inv = super::linalg::chol_inverse(&l, k);
    let mut out = [[0.0; MAXK]; MAXK];
    for i in 0..k {
        for j in 0..k {
            out[i][j] = inv[i][j];
        }
    }
    Some(out)
}

impl VcInference {
    /// `L C Lᵀ`, the model-based variance of `L β̂`.
    pub fn variance(&self, l: &Vect) -> f64 {
        quad(l, &self.c, l, self.p)
    }

    /// Satterthwaite degrees of freedom of `L β̂` (lmerTest). `None` when the Hessian of the free
    /// components is not positive definite.
    pub fn satterthwaite_df(&self, l: &Vect) -> Option<f64> {
        let p = self.p;
        let var = self.variance(l);
        let cl = super::linalg::mul_vec(&self.c, l, p);
        let free: Vec<usize> = (0..self.k).filter(|&i| self.free[i]).collect();
        let kf = free.len();
        let mut h = [[0.0; MAXK]; MAXK];
        let mut grad = [0.0; MAXK];
        for (a, &i) in free.iter().enumerate() {
            grad[a] = quad(&cl, &self.g[i], &cl, p);
            for (b, &j) in free.iter().enumerate() {
                h[a][b] = self.hessian[i][j];
            }
        }
        let hinv = inverse_small(&h, kf)?;
        let mut denom = 0.0;
        for a in 0..kf {
            for b in 0..kf {
                denom += grad[a] * 2.0 * hinv[a][b] * grad[b];
            }
        }
        Some(2.0 * var * var / denom)
    }

    /// `W = 2 (tr(P Vᵢ P Vⱼ))⁻¹`, Kenward–Roger's covariance of the variance components.
    fn kr_w(&self) -> Option<[[f64; MAXK]; MAXK]> {
        let inv = inverse_small(&self.ie2, self.k)?;
        let mut w = [[0.0; MAXK]; MAXK];
        for i in 0..self.k {
            for j in 0..self.k {
                w[i][j] = 2.0 * inv[i][j];
            }
        }
        Some(w)
    }

    /// Kenward–Roger's adjusted covariance `Φ_A` of β̂ (pbkrtest `vcovAdj`).
    pub fn kenward_roger_vcov(&self) -> Option<Mat> {
        let (p, k) = (self.p, self.k);
        let w = self.kr_w()?;
        let mut uu = ZERO_MAT;
        for i in 0..k {
            for j in 0..k {
                // Pᵢ Φ Pⱼ with Pᵢ = −Gᵢ: the signs cancel.
                let pfp = mul(&mul(&self.g[i], &self.c, p), &self.g[j], p);
                let q = if i <= j {
                    self.q[pair(i, j, k)]
                } else {
                    transpose(&self.q[pair(j, i, k)], p)
                };
                add_scaled(&mut uu, w[i][j], &q, p);
                add_scaled(&mut uu, -w[i][j], &pfp, p);
            }
        }
        let lambda = mul(&mul(&self.c, &uu, p), &self.c, p);
        let mut adj = self.c;
        add_scaled(&mut adj, 2.0, &lambda, p);
        Some(adj)
    }

    /// Kenward–Roger variance (from `Φ_A`) and denominator df (pbkrtest `Lb_ddf`, one row `L`).
    pub fn kenward_roger(&self, l: &Vect) -> Option<(f64, f64)> {
        let (p, k) = (self.p, self.k);
        let adj = self.kenward_roger_vcov()?;
        let w = self.kr_w()?;
        let var0 = self.variance(l);
        // With one row L, Θ = LᵀL / (L Φ Lᵀ) and uᵢ = Θ Φ Pᵢ Φ has tr(uᵢ) = L Φ Pᵢ Φ Lᵀ / s and
        // tr(uᵢ uⱼ) = tr(uᵢ) tr(uⱼ), so pbkrtest's A1 and A2 coincide.
        let cl = super::linalg::mul_vec(&self.c, l, p);
        let mut t = [0.0; MAXK];
        for (i, ti) in t.iter_mut().enumerate().take(k) {
            *ti = -quad(&cl, &self.g[i], &cl, p) / var0;
        }
        let mut a1 = 0.0;
        for i in 0..k {
            for j in 0..k {
                a1 += w[i][j] * t[i] * t[j];
            }
        }
        let a2 = a1;
        let q = 1.0;
        let b = (a1 + 6.0 * a2) / (2.0 * q);
        let g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2);
        let denom = 3.0 * q + 2.0 * (1.0 - g);
        let (c1, c2, c3) = (g / denom, (q - g) / denom, (q + 2.0 - g) / denom);
        let v0 = 1.0 + c1 * b;
        let v0 = if v0.abs() < 1e-10 { 0.0 } else { v0 };
        let v1 = 1.0 - c2 * b;
        let v2 = 1.0 - c3 * b;
        let ratio = if v1 == 0.0 { 0.0 } else { (1.0 - a2 / q) / v1 };
        let rho = ratio * ratio * v0 / v2 / q;
        let df = 4.0 + (q + 2.0) / (q * rho - 1.0);
        Some((quad(l, &adj, l, p), df))
    }
}

/// Transpose of the leading `p × p` block.
fn transpose(a: &Mat, p: usize) -> Mat {
    let mut t = ZERO_MAT;
    for i in 0..p {
        for j in 0..p {
            t[i][j] = a[j][i];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_packed_row_wise() {
        let k = 3;
        let got: Vec<usize> = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
            .iter()
            .map(|&(i, j)| pair(i, j, k))
            .collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(pair(1, 0, 2), 1);
        assert_eq!(pair(1, 1, 2), 2);
    }
}
