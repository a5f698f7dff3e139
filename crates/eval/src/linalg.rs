//! Small dense linear algebra on preallocated `DMatrix` buffers, so the hot fit loop allocates
//! nothing. Matrices here are at most a few dozen rows (variables or free parameters).

use nalgebra::DMatrix;

/// Overwrites the lower triangle of the symmetric matrix `m` (first `n` rows/columns) with its
/// Cholesky factor `L` (`m = L Lᵀ`). Returns the first index whose pivot is not positive relative to
/// its diagonal (a non-positive-definite leading block), or `None` on success.
pub(crate) fn cholesky_in_place(m: &mut DMatrix<f64>, n: usize) -> Option<usize> {
    for j in 0..n {
        let diag = m[(j, j)];
        let mut d = diag;
        for k in 0..j {
            d -= m[(j, k)] * m[(j, k)];
        }
        if !(d > 1e-13 * diag.abs()) || !d.is_finite() {
            return Some(j);
        }
        let d = d.sqrt();
        m[(j, j)] = d;
        for i in j + 1..n {
            let mut s = m[(i, j)];
            for k in 0..j {
                s -= m[(i, k)] * m[(j, k)];
            }
            m[(i, j)] = s / d;
        }
    }
    None
}

/// `log det` from a Cholesky factor.
pub(crate) fn cholesky_logdet(l: &DMatrix<f64>, n: usize) -> f64 {
    2.0 * (0..n).map(|i| l[(i, i)].ln()).sum::<f64>()
}

/// Solves `L Lᵀ x = b` in place.
pub(crate) fn cholesky_solve(l: &DMatrix<f64>, n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[(i, k)] * b[k];
        }
        b[i] = s / l[(i, i)];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[(k, i)] * b[k];
        }
        b[i] = s / l[(i, i)];
    }
}

/// Writes the inverse of `L Lᵀ` into the first `n` rows/columns of `out` (full symmetric).
pub(crate) fn cholesky_inverse(l: &DMatrix<f64>, n: usize, out: &mut DMatrix<f64>) {
    // Column j of the inverse solves L Lᵀ x = e_j; by symmetry only i >= j is needed.
    for j in 0..n {
        // Forward: L y = e_j (y_i = 0 for i < j).
        for i in 0..n {
            let v = if i < j {
                0.0
            } else {
                let mut s = if i == j { 1.0 } else { 0.0 };
                for k in j..i {
                    s -= l[(i, k)] * out[(k, j)];
                }
                s / l[(i, i)]
            };
            out[(i, j)] = v;
        }
        // Backward: Lᵀ x = y.
        for i in (0..n).rev() {
            let mut s = out[(i, j)];
            for k in i + 1..n {
                s -= l[(k, i)] * out[(k, j)];
            }
            out[(i, j)] = s / l[(i, i)];
        }
    }
    for j in 0..n {
        for i in 0..j {
            out[(i, j)] = out[(j, i)];
        }
    }
}

/// `(I − B)⁻¹` for strictly lower triangular `B` (topological order), by forward substitution.
pub(crate) fn inverse_i_minus_beta(beta: &DMatrix<f64>, out: &mut DMatrix<f64>) {
    let p = beta.nrows();
    for c in 0..p {
        for i in 0..p {
            let mut s = if i == c { 1.0 } else { 0.0 };
            if i > c {
                for k in c..i {
                    s += beta[(i, k)] * out[(k, c)];
                }
            }
            out[(i, c)] = s;
        }
    }
}

/// `Σ = A Ψ Aᵀ` using `tmp` as workspace.
pub(crate) fn implied_covariance(
    a: &DMatrix<f64>,
    psi: &DMatrix<f64>,
    tmp: &mut DMatrix<f64>,
    sigma: &mut DMatrix<f64>,
) {
    tmp.gemm(1.0, a, psi, 0.0);
    let p = a.nrows();
    for j in 0..p {
        for i in j..p {
            let mut s = 0.0;
            // A is lower triangular: A[j, k] = 0 for k > j.
            for k in 0..=j {
                s += tmp[(i, k)] * a[(j, k)];
            }
            sigma[(i, j)] = s;
            sigma[(j, i)] = s;
        }
    }
}
