//! Sample moments: the covariance matrix with N in the denominator (lavaan's `sampstat`), from a
//! covariance matrix or from row-major data.

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
                if (a - b).abs() > 1e-10 * (covariance[(i, i)] * covariance[(j, j)]).sqrt().max(1e-300) {
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
    if n_columns == 0 || data.len() % n_columns != 0 {
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
    cross_products(indices.iter().map(|&r| &data[r * p..(r + 1) * p]), n, means, out);
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
