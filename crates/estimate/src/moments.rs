//! Sample moments: the covariance matrix with N in the denominator (lavaan's `sampstat`), from a
//! covariance matrix or from row-major data.

use crate::linalg::dot;
use crate::EvalError;
use nalgebra::DMatrix;

/// A sample covariance matrix (N denominator) and the number of observations it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleMoments {
    covariance: DMatrix<f64>,
    n: usize,
}

impl SampleMoments {
    /// Wraps a covariance matrix with N in the denominator (multiply an unbiased one by
    /// `(n − 1) / n` first).
    ///
    /// # Errors
    /// Non-square or asymmetric matrices, non-finite values.
    pub fn from_covariance(covariance: DMatrix<f64>, n: usize) -> Result<SampleMoments, EvalError> {
        let (r, c) = covariance.shape();
        if r != c {
            return Err(EvalError::Shape {
                expected: "a square covariance matrix".into(),
                found: format!("{r}×{c}"),
            });
        }
        if covariance.iter().any(|v| !v.is_finite()) {
            return Err(EvalError::NonFinite {
                what: "sample covariance matrix",
            });
        }
        for i in 0..r {
            for j in 0..i {
                let (a, b) = (covariance[(i, j)], covariance[(j, i)]);
                if (a - b).abs()
                    > 1e-10 * (covariance[(i, i)] * covariance[(j, j)]).sqrt().max(1e-300)
                {
                    return Err(EvalError::Shape {
                        expected: "a symmetric covariance matrix".into(),
                        found: format!("element ({i}, {j}) = {a} but ({j}, {i}) = {b}"),
                    });
                }
            }
        }
        Ok(SampleMoments { covariance, n })
    }

    /// Computes the covariance matrix (N denominator) of row-major `data` with `n_columns` columns.
    ///
    /// # Errors
    /// A length that is not a multiple of `n_columns`, non-finite values.
    pub fn from_rows(data: &[f64], n_columns: usize) -> Result<SampleMoments, EvalError> {
        let n = check_rows(data, n_columns)?;
        let mut covariance = DMatrix::zeros(n_columns, n_columns);
        let mut means = vec![0.0; n_columns];
        covariance_into(data, n_columns, &mut means, &mut covariance);
        Ok(SampleMoments { covariance, n })
    }

    /// The covariance matrix.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// The number of observations.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// Checks row-major data and returns the number of rows.
pub(crate) fn check_rows(data: &[f64], n_columns: usize) -> Result<usize, EvalError> {
    if n_columns == 0 || data.len() / n_columns * n_columns != data.len() {
        return Err(EvalError::Shape {
            expected: format!("row-major data with {n_columns} columns"),
            found: format!("{} values", data.len()),
        });
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite { what: "data" });
    }
    Ok(data.len() / n_columns)
}

/// Covariance matrix (N denominator) of row-major `data` with `p` columns, into `out`, using
/// `means` (length `p`) as workspace. Two passes (means, then centred cross-products).
pub fn covariance_into(data: &[f64], p: usize, means: &mut [f64], out: &mut DMatrix<f64>) {
    let n = data.len() / p;
    means.fill(0.0);
    for row in data.chunks_exact(p) {
        for (m, v) in means.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in means.iter_mut() {
        *m /= n as f64;
    }
    cross_products(data.chunks_exact(p), n, means, out);
}

/// Covariance matrix (N denominator) of column-major `data` (`n` rows, `out.nrows()` columns, each
/// column contiguous), into `out`. Centres the columns in place, then every entry is one contiguous
/// dot product, which vectorises: the power loop's row-level path draws its standard normals this
/// way.
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
            let v =
                crate::linalg::dot(&data[j * n..(j + 1) * n], &data[k * n..(k + 1) * n]) * inv_n;
            out[(j, k)] = v;
            out[(k, j)] = v;
        }
    }
}

/// Covariance matrix (N denominator) of the rows `indices` of row-major `data` (a bootstrap
/// resample), into `out`.
pub fn covariance_of_rows_into(
    data: &[f64],
    p: usize,
    indices: &[usize],
    means: &mut [f64],
    out: &mut DMatrix<f64>,
) {
    let n = indices.len();
    means.fill(0.0);
    for &r in indices {
        for (m, v) in means.iter_mut().zip(&data[r * p..(r + 1) * p]) {
            *m += v;
        }
    }
    for m in means.iter_mut() {
        *m /= n as f64;
    }
    cross_products(
        indices.iter().map(|&r| &data[r * p..(r + 1) * p]),
        n,
        means,
        out,
    );
}

/// Precomputed column-major data centred at the full-sample means, for fast covariance matrices of
/// bootstrap resamples given as row counts (how often each row was drawn).
#[derive(Debug, Clone)]
pub(crate) struct CentredColumns {
    /// `columns[j * n + r]`: row `r` of variable `j`, minus the mean of `j`.
    columns: Vec<f64>,
    weighted: Vec<f64>,
    n: usize,
    p: usize,
}

impl CentredColumns {
    pub(crate) fn new(n: usize, p: usize) -> CentredColumns {
        CentredColumns {
            columns: vec![0.0; n * p],
            weighted: vec![0.0; n],
            n,
            p,
        }
    }

    /// Loads row-major `data` (`n` rows of `p` columns; resizes when `n` changed), using `means`
    /// (length `p`) as workspace.
    pub(crate) fn set_data(&mut self, data: &[f64], means: &mut [f64]) {
        let p = self.p;
        let n = data.len() / p;
        if n != self.n {
            self.n = n;
            self.columns.resize(n * p, 0.0);
            self.weighted.resize(n, 0.0);
        }
        means.fill(0.0);
        for row in data.chunks_exact(p) {
            for (m, v) in means.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in means.iter_mut() {
            *m /= n as f64;
        }
        for (r, row) in data.chunks_exact(p).enumerate() {
            for j in 0..p {
                self.columns[j * n + r] = row[j] - means[j];
            }
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Covariance matrix (N denominator) of the resample in which row `r` appears `counts[r]` times
    /// (`Σ counts = n`): `(1/n) Σ_r w_r c_r c_rᵀ − d dᵀ`, `d = (1/n) Σ_r w_r c_r`, with `c` centred at
    /// the full-sample means (so the subtraction loses no precision).
    pub(crate) fn resample_covariance(
        &mut self,
        counts: &[f64],
        d: &mut [f64],
        out: &mut DMatrix<f64>,
    ) {
        let (n, p) = (self.n, self.p);
        let nf = n as f64;
        for (j, dj) in d.iter_mut().enumerate().take(p) {
            let cj = &self.columns[j * n..(j + 1) * n];
            *dj = dot(counts, cj) / nf;
        }
        for j in 0..p {
            let cj = &self.columns[j * n..(j + 1) * n];
            for ((w, c), out_w) in counts.iter().zip(cj).zip(self.weighted.iter_mut()) {
                *out_w = w * c;
            }
            for i in j..p {
                let ci = &self.columns[i * n..(i + 1) * n];
                let v = dot(ci, &self.weighted) / nf - d[i] * d[j];
                out[(i, j)] = v;
                out[(j, i)] = v;
            }
        }
    }
}

fn cross_products<'a>(
    rows: impl Iterator<Item = &'a [f64]>,
    n: usize,
    means: &[f64],
    out: &mut DMatrix<f64>,
) {
    let p = means.len();
    out.as_mut_slice().fill(0.0);
    // Accumulate the lower triangle column by column in a small stack buffer of centred values.
    let mut centred = [0.0f64; 64];
    let big = p > centred.len();
    for row in rows {
        if big {
            for j in 0..p {
                let cj = row[j] - means[j];
                for i in j..p {
                    out[(i, j)] += (row[i] - means[i]) * cj;
                }
            }
        } else {
            for k in 0..p {
                centred[k] = row[k] - means[k];
            }
            let sl = out.as_mut_slice();
            for j in 0..p {
                let cj = centred[j];
                let col = &mut sl[j * p..(j + 1) * p];
                for i in j..p {
                    col[i] += centred[i] * cj;
                }
            }
        }
    }
    let nf = n as f64;
    for j in 0..p {
        for i in j..p {
            let v = out[(i, j)] / nf;
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bootstrap's count-weighted covariance equals the covariance of the explicit resample.
    #[test]
    fn resample_covariance_equals_explicit_rows() {
        let p = 3;
        let data: Vec<f64> = (0..40)
            .flat_map(|i| {
                let x = (i as f64 * 0.37).sin() * 10.0 + 100.0;
                [x, x * 0.5 + (i as f64).cos(), (i % 7) as f64]
            })
            .collect();
        let indices: Vec<usize> = (0..40).map(|i| (i * 17 + 3) % 40 / 2).collect();
        let mut counts = vec![0.0; 40];
        for &r in &indices {
            counts[r] += 1.0;
        }
        let mut explicit = DMatrix::zeros(p, p);
        covariance_of_rows_into(&data, p, &indices, &mut vec![0.0; p], &mut explicit);
        let mut centred = CentredColumns::new(40, p);
        let mut means = vec![0.0; p];
        centred.set_data(&data, &mut means);
        let mut weighted = DMatrix::zeros(p, p);
        centred.resample_covariance(&counts, &mut means, &mut weighted);
        for (a, b) in explicit.iter().zip(weighted.iter()) {
            assert!(
                (a - b).abs() < 1e-10 * a.abs().max(1.0),
                "{explicit} vs {weighted}"
            );
        }
    }
}
