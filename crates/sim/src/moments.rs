//! The sample covariance matrix of N normal rows, drawn without writing the rows down.
//!
//! A data set of construct scores is `Y = Z Lᵀ` with `Z` an N × p matrix of independent standard
//! normals and `L = (I − B)⁻¹ chol(Ψ)` ([`crate::ConstructSampler`]'s factor, `Σ = L Lᵀ`). The
//! sample covariance matrix of the analysed columns of `Y` is exactly `M S_Z Mᵀ`, with `M` the rows
//! of `L` of those columns and `S_Z` the sample covariance matrix of `Z`. Drawing `Z` column by
//! column and forming `S_Z` with contiguous dot products avoids materialising `Y`: the same random
//! rows, the same statistic, a third of the work. Unlike the Wishart draw
//! ([`crate::WishartSampler`]) the N rows exist (as `Z`), so the statistic is that of real rows.

use crate::SimError;
use balans_model::Population;
use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

/// Draws the ML sample covariance matrix (divisor N) of selected columns of N normal rows with
/// the population's covariance `Σ`; see the module documentation.
#[derive(Debug, Clone)]
pub struct RowCovarianceSampler {
    /// Rows of `L` for the selected columns (p × p_pop).
    m: DMatrix<f64>,
    /// Its transpose.
    m_t: DMatrix<f64>,
}

/// Reusable buffers of [`RowCovarianceSampler::sample_covariance`] for one N.
#[derive(Debug, Clone)]
pub struct RowCovarianceScratch {
    n: usize,
    /// Column-major standard normals (N × p_pop).
    z: Vec<f64>,
    /// Their sample covariance matrix.
    cz: DMatrix<f64>,
    /// `M S_Z` (p × p_pop).
    mz: DMatrix<f64>,
}

impl RowCovarianceSampler {
    /// A sampler of the covariance matrix of the population's variables `columns` (indices into
    /// [`Population::names`], in the order wanted). Fails when `Ψ` is not positive definite.
    pub fn new(
        population: &Population,
        columns: &[usize],
    ) -> Result<RowCovarianceSampler, SimError> {
        let chol =
            population
                .psi()
                .clone()
                .cholesky()
                .ok_or_else(|| SimError::NotPositiveDefinite {
                    what: "residual",
                    names: population.names().join(", "),
                })?;
        let l = population.inverse_i_minus_beta() * chol.l();
        let m = DMatrix::from_fn(columns.len(), population.len(), |a, j| l[(columns[a], j)]);
        let m_t = m.transpose();
        Ok(RowCovarianceSampler { m, m_t })
    }

    /// Number of selected columns `p` (the size of the drawn matrix).
    pub fn dim(&self) -> usize {
        self.m.nrows()
    }

    /// Buffers for data sets of `n` rows.
    pub fn scratch(&self, n: usize) -> RowCovarianceScratch {
        let (p, pop_p) = self.m.shape();
        RowCovarianceScratch {
            n,
            z: vec![0.0; n * pop_p],
            cz: DMatrix::zeros(pop_p, pop_p),
            mz: DMatrix::zeros(p, pop_p),
        }
    }

    /// Draws the N × p_pop standard normals (column by column) and writes the sample covariance
    /// matrix of the selected columns of `Y = Z Lᵀ` into `out` (p × p, exactly symmetric).
    /// Allocates nothing.
    pub fn sample_covariance<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        scratch: &mut RowCovarianceScratch,
        out: &mut DMatrix<f64>,
    ) {
        let RowCovarianceScratch { n, z, cz, mz } = scratch;
        for v in z.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        covariance_of_columns_into(z, *n, cz);
        mz.gemm(1.0, &self.m, cz, 0.0);
        out.gemm(1.0, mz, &self.m_t, 0.0);
        let p = out.nrows();
        for a in 0..p {
            for b in 0..a {
                let v = 0.5 * (out[(a, b)] + out[(b, a)]);
                out[(a, b)] = v;
                out[(b, a)] = v;
            }
        }
    }
}

/// Covariance matrix (N denominator) of column-major `data` (`n` rows, `out.nrows()` columns, each
/// column contiguous), into `out`. Centres the columns in place, then every entry is one contiguous
/// dot product, which vectorises. The same arithmetic, in the same order, as
/// `balans_estimate::covariance_of_columns_into` (sim does not depend on estimate).
pub fn covariance_of_columns_into(data: &mut [f64], n: usize, out: &mut DMatrix<f64>) {
    let p = out.nrows();
    let inv_n = 1.0 / n as f64;
    for column in data.chunks_exact_mut(n).take(p) {
        let mean = column.iter().sum::<f64>() * inv_n;
        for v in column.iter_mut() {
            *v -= mean;
        }
    }
    for j in 0..p {
        for k in 0..=j {
            let v = dot(&data[j * n..(j + 1) * n], &data[k * n..(k + 1) * n]) * inv_n;
            out[(j, k)] = v;
            out[(k, j)] = v;
        }
    }
}

/// Dot product with four partial sums (vectorisable, fixed summation order).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    if n < 8 {
        let mut s = 0.0;
        for (x, y) in a.iter().zip(b) {
            s += x * y;
        }
        return s;
    }
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The drawn matrix is the sample covariance matrix (N denominator) of the rows `Z Lᵀ` built
    /// from the same normals, to rounding (1e-12 relative).
    #[test]
    fn equals_the_covariance_of_the_rows_it_implies() {
        let population = balans_model::Model::builtin("seed")
            .unwrap()
            .population()
            .unwrap();
        let columns = [8, 2, 5];
        let sampler = RowCovarianceSampler::new(&population, &columns).unwrap();
        let n = 37;
        let mut scratch = sampler.scratch(n);
        let mut s = DMatrix::zeros(3, 3);
        sampler.sample_covariance(&mut ChaCha8Rng::seed_from_u64(4), &mut scratch, &mut s);
        let pop_p = population.len();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let z = DMatrix::<f64>::from_fn(n, pop_p, |_, _| 0.0);
        let mut z = z;
        for j in 0..pop_p {
            for i in 0..n {
                z[(i, j)] = rng.sample(StandardNormal);
            }
        }
        let l =
            population.inverse_i_minus_beta() * population.psi().clone().cholesky().unwrap().l();
        let y = &z * l.transpose();
        let y = DMatrix::from_fn(n, 3, |i, a| y[(i, columns[a])]);
        let mean = y.row_mean();
        let centred = DMatrix::from_fn(n, 3, |i, a| y[(i, a)] - mean[a]);
        let expected = centred.transpose() * &centred / n as f64;
        for a in 0..3 {
            for b in 0..3 {
                let (x, e) = (s[(a, b)], expected[(a, b)]);
                assert!(
                    (x - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "{a},{b}: {x} vs {e}"
                );
            }
        }
    }
}
