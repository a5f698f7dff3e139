//! Construct scores: `y = (I − B)⁻¹ ζ`, `ζ ~ N(0, Ψ)`, so that `Cov(y) = Σ`, the model-implied
//! covariance matrix.
//!
//! [`ConstructSampler`] precomputes one lower-triangular factor `L = (I − B)⁻¹ chol(Ψ)` with
//! `L Lᵀ = Σ` (both factors are lower triangular because variables are in topological order), so a
//! row costs `p` standard normals and `p(p + 1)/2` multiply-adds, computed in place.

use crate::SimError;
use balans_model::Population;
use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

/// Rows transformed together by [`LowerFactor::apply_tile`].
const TILE: usize = 8;
/// Largest `p` for the tiled transform (a 2 KiB stack tile); larger models go row by row.
const MAX_TILE_DIM: usize = 32;

/// Column-major scratch of [`LowerFactor::draw_tile`]: `MAX_TILE_DIM` variables × `TILE` rows.
pub(crate) type Tile = [[f64; TILE]; MAX_TILE_DIM];

/// A lower-triangular `p × p` factor stored row-major, applied in place to a vector of standard
/// normals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LowerFactor {
    p: usize,
    /// Column-major packed lower triangle: column `j` holds `L[j..p][j]` starting at `offsets[j]`.
    packed: Vec<f64>,
    offsets: Vec<usize>,
}

impl LowerFactor {
    pub(crate) fn from_matrix(l: &DMatrix<f64>) -> LowerFactor {
        let p = l.nrows();
        let mut packed = Vec::with_capacity(p * (p + 1) / 2);
        let mut offsets = Vec::with_capacity(p);
        for j in 0..p {
            offsets.push(packed.len());
            for i in j..p {
                packed.push(l[(i, j)]);
            }
        }
        LowerFactor { p, packed, offsets }
    }

    /// The Cholesky factor of a symmetric matrix, or `None` when it is not positive definite.
    pub(crate) fn cholesky(m: &DMatrix<f64>) -> Option<LowerFactor> {
        if m.iter().any(|v| !v.is_finite()) {
            return None;
        }
        m.clone()
            .cholesky()
            .map(|c| LowerFactor::from_matrix(&c.l()))
    }

    pub(crate) fn dim(&self) -> usize {
        self.p
    }

    /// Overwrites `row` (standard normals ζ) with `L ζ`, column by column from the last: when
    /// column `j` is reached, `row[j]` still holds `ζⱼ` and `row[j+1..]` hold partial sums, so
    /// `ζⱼ` is scaled into place and added to the rows below it (an axpy, no dependency chain).
    #[inline]
    pub(crate) fn apply_in_place(&self, row: &mut [f64]) {
        let p = self.p;
        let row = &mut row[..p];
        for j in (0..p).rev() {
            let column = &self.packed[self.offsets[j]..self.offsets[j] + p - j];
            let zj = row[j];
            row[j] = column[0] * zj;
            for (r, c) in row[j + 1..].iter_mut().zip(&column[1..]) {
                *r += c * zj;
            }
        }
    }

    /// Fills `TILE` consecutive row-major rows with draws from `N(0, L Lᵀ)`. The standard normals
    /// are drawn straight into a column-major tile (variable by variable, eight rows each), so every
    /// multiply-add of `L ζ` works on eight rows at once (SIMD), then written out row by row.
    #[inline]
    pub(crate) fn draw_tile<R: Rng + ?Sized>(&self, rng: &mut R, s: &mut Tile, tile: &mut [f64]) {
        let p = self.p;
        debug_assert!(p <= MAX_TILE_DIM && tile.len() == TILE * p);
        for lane in s[..p].iter_mut() {
            for v in lane.iter_mut() {
                *v = rng.sample(StandardNormal);
            }
        }
        for j in (0..p).rev() {
            let column = &self.packed[self.offsets[j]..self.offsets[j] + p - j];
            let zj = s[j];
            for (v, z) in s[j].iter_mut().zip(&zj) {
                *v = column[0] * z;
            }
            for (target, c) in s[j + 1..p].iter_mut().zip(&column[1..]) {
                for (v, z) in target.iter_mut().zip(&zj) {
                    *v += c * z;
                }
            }
        }
        for (r, row) in tile.chunks_exact_mut(p).enumerate() {
            for (v, lane) in row.iter_mut().zip(&s[..p]) {
                *v = lane[r];
            }
        }
    }

    /// Fills `row` with one draw from `N(0, L Lᵀ)`.
    #[inline]
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R, row: &mut [f64]) {
        for v in row.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        self.apply_in_place(row);
    }
}

/// Draws continuous construct scores with covariance `Σ` (the model-implied covariance) into
/// caller-provided buffers, without allocating.
///
/// ```
/// use balans_model::Model;
/// use balans_sim::ConstructSampler;
/// use rand::SeedableRng;
///
/// let population = Model::builtin("seed").unwrap().population().unwrap();
/// let sampler = ConstructSampler::new(&population).unwrap();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let mut buf = vec![0.0; 278 * sampler.dim()];
/// sampler.fill(&mut rng, 278, &mut buf); // row-major: row r is buf[r * 9..(r + 1) * 9]
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConstructSampler {
    names: Vec<String>,
    factor: LowerFactor,
}

impl ConstructSampler {
    /// Precomputes `L = (I − B)⁻¹ chol(Ψ)`. Fails when `Ψ` is not positive definite.
    pub fn new(population: &Population) -> Result<ConstructSampler, SimError> {
        let chol_psi =
            population
                .psi()
                .clone()
                .cholesky()
                .ok_or_else(|| SimError::NotPositiveDefinite {
                    what: "residual",
                    names: population.names().join(", "),
                })?;
        let l = population.inverse_i_minus_beta() * chol_psi.l();
        Ok(ConstructSampler {
            names: population.names().to_vec(),
            factor: LowerFactor::from_matrix(&l),
        })
    }

    /// Variable names, in the column order of the rows written by [`ConstructSampler::fill`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of variables `p` (values per row).
    pub fn dim(&self) -> usize {
        self.factor.dim()
    }

    /// Writes `n` independent rows of construct scores, row-major, into `buf[..n * p]`.
    ///
    /// # Panics
    /// When `buf` is shorter than `n * p` (a programming error, like `copy_from_slice`).
    #[inline]
    pub fn fill<R: Rng + ?Sized>(&self, rng: &mut R, n: usize, buf: &mut [f64]) {
        let p = self.dim();
        assert!(
            buf.len() >= n * p,
            "ConstructSampler::fill: buffer holds {} values, {n} rows of {p} need {}",
            buf.len(),
            n * p
        );
        if p == 0 {
            return;
        }
        let buf = &mut buf[..n * p];
        if p > MAX_TILE_DIM {
            for row in buf.chunks_exact_mut(p) {
                self.factor.draw(rng, row);
            }
            return;
        }
        // Scratch, zeroed once per call (every lane used is overwritten by each tile's draws).
        let mut scratch: Tile = [[0.0; TILE]; MAX_TILE_DIM];
        let mut tiles = buf.chunks_exact_mut(TILE * p);
        for tile in &mut tiles {
            self.factor.draw_tile(rng, &mut scratch, tile);
        }
        for row in tiles.into_remainder().chunks_exact_mut(p) {
            self.factor.draw(rng, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn factor_reproduces_sigma_exactly() {
        let population = balans_model::Model::builtin("seed")
            .unwrap()
            .population()
            .unwrap();
        let sampler = ConstructSampler::new(&population).unwrap();
        let p = sampler.dim();
        let mut l = DMatrix::zeros(p, p);
        for i in 0..p {
            let mut e = vec![0.0; p];
            e[i] = 1.0;
            sampler.factor.apply_in_place(&mut e);
            for r in 0..p {
                l[(r, i)] = e[r];
            }
        }
        let sigma = &l * l.transpose();
        let diff = (&sigma - population.implied_covariance()).abs().max();
        assert!(diff < 1e-12, "L Lᵀ differs from Σ by {diff}");
    }

    /// `fill` must equal `L ζ` for the standard normals in the order it draws them: per tile of
    /// eight rows variable by variable, then row by row for the remainder.
    #[test]
    fn fill_is_l_times_the_normals_it_draws() {
        let population = balans_model::Model::builtin("seed")
            .unwrap()
            .population()
            .unwrap();
        let sampler = ConstructSampler::new(&population).unwrap();
        let p = sampler.dim();
        let l =
            population.inverse_i_minus_beta() * population.psi().clone().cholesky().unwrap().l();
        let n = 8 * 3 + 5; // three tiles and a remainder
        let mut got = vec![0.0; n * p];
        sampler.fill(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2), n, &mut got);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut zeta = DMatrix::<f64>::zeros(p, n);
        for t in 0..3 {
            for i in 0..p {
                for r in 0..8 {
                    zeta[(i, t * 8 + r)] = rng.sample(StandardNormal);
                }
            }
        }
        for r in 24..n {
            for i in 0..p {
                zeta[(i, r)] = rng.sample(StandardNormal);
            }
        }
        let expected = &l * zeta;
        for r in 0..n {
            for i in 0..p {
                let (a, b) = (expected[(i, r)], got[r * p + i]);
                assert!((a - b).abs() < 1e-12, "row {r}, variable {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn fill_is_reproducible_and_leaves_the_tail_alone() {
        let population = balans_model::Model::builtin("seed")
            .unwrap()
            .population()
            .unwrap();
        let sampler = ConstructSampler::new(&population).unwrap();
        let mut a = vec![7.0; 10 * 9 + 3];
        let mut b = vec![7.0; 10 * 9 + 3];
        sampler.fill(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5), 10, &mut a);
        sampler.fill(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5), 10, &mut b);
        assert_eq!(a, b);
        assert!(a[90..].iter().all(|&v| (v - 7.0).abs() < f64::EPSILON));
    }
}
