//! Small dense linear algebra on preallocated `DMatrix` buffers, so the hot fit loop allocates
//! nothing. Matrices here are at most a few dozen rows (variables or free parameters).

use nalgebra::DMatrix;

/// Dot product with four partial sums (vectorisable, fixed summation order).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
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

/// Cholesky factorisation `A = Uᵀ U` of the symmetric matrix in the first `n` rows/columns of `m`,
/// overwriting its upper triangle with `U` (columns of `U` are contiguous in the column-major
/// storage, so every inner loop is a contiguous dot product). Returns the first index whose pivot is
/// not positive relative to its diagonal (a non-positive-definite leading block), or `None`.
pub(crate) fn cholesky_in_place(m: &mut DMatrix<f64>, n: usize) -> Option<usize> {
    let ld = m.nrows();
    let a = m.as_mut_slice();
    for j in 0..n {
        for i in 0..j {
            let (left, right) = a.split_at_mut(j * ld);
            let ci = &left[i * ld..i * ld + i + 1];
            let cj = &mut right[..j + 1];
            let v = (cj[i] - dot(&ci[..i], &cj[..i])) / ci[i];
            cj[i] = v;
        }
        let cj = &mut a[j * ld..j * ld + j + 1];
        let diag = cj[j];
        let d = diag - dot(&cj[..j], &cj[..j]);
        if d.is_nan() || d <= 1e-13 * diag.abs() || !d.is_finite() {
            return Some(j);
        }
        cj[j] = d.sqrt();
    }
    None
}

/// `log det` from a Cholesky factor.
pub(crate) fn cholesky_logdet(u: &DMatrix<f64>, n: usize) -> f64 {
    2.0 * (0..n).map(|i| u[(i, i)].ln()).sum::<f64>()
}

/// Solves `Uᵀ U x = b` in place (`b` of length at least `n`).
pub(crate) fn cholesky_solve(u: &DMatrix<f64>, n: usize, b: &mut [f64]) {
    let ld = u.nrows();
    let a = u.as_slice();
    // Uᵀ y = b: y_i = (b_i − U[..i, i] · y[..i]) / U[i, i].
    for i in 0..n {
        let ci = &a[i * ld..i * ld + i + 1];
        b[i] = (b[i] - dot(&ci[..i], &b[..i])) / ci[i];
    }
    back_substitute(u, n, b);
}

/// Solves `U x = b` in place (`U` the upper factor of [`cholesky_in_place`]).
pub(crate) fn back_substitute(u: &DMatrix<f64>, n: usize, b: &mut [f64]) {
    let ld = u.nrows();
    let a = u.as_slice();
    // U x = y, column-oriented: x_i = y_i / U[i, i]; y[..i] −= U[..i, i] x_i.
    for i in (0..n).rev() {
        let ci = &a[i * ld..i * ld + i + 1];
        let xi = b[i] / ci[i];
        b[i] = xi;
        for (bk, uk) in b[..i].iter_mut().zip(&ci[..i]) {
            *bk -= uk * xi;
        }
    }
}

/// Writes the inverse of `Uᵀ U` into the first `n` rows/columns of `out` (full symmetric).
pub(crate) fn cholesky_inverse(u: &DMatrix<f64>, n: usize, out: &mut DMatrix<f64>) {
    let ld = out.nrows();
    for j in 0..n {
        let col = &mut out.as_mut_slice()[j * ld..j * ld + n];
        col.fill(0.0);
        col[j] = 1.0;
        cholesky_solve(u, n, col);
    }
    for j in 0..n {
        for i in 0..j {
            let v = 0.5 * (out[(i, j)] + out[(j, i)]);
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
}

/// Writes the inverse of `Uᵀ U` (`U` the upper Cholesky factor in the first `k` rows/columns of
/// `u`) into `out[..k * k]`, column-major with leading dimension `k`, full symmetric: `R = U⁻¹` by
/// back substitution into `r[..k * k]`, then `(Uᵀ U)⁻¹ = R Rᵀ`. About `k³/3` multiply-adds (a
/// third of [`cholesky_inverse`]); for the small predictor blocks of the closed-form path.
pub(crate) fn cholesky_inverse_small(u: &DMatrix<f64>, k: usize, r: &mut [f64], out: &mut [f64]) {
    triangular_inverse(u, k, r);
    gram_of_inverse(r, k, k, out);
}

/// `R = U⁻¹` (upper triangular, `U` in the first `k` rows/columns of `u`) into `r[..k * k]`,
/// column-major with leading dimension `k` (the strict lower triangle is not written). Column `j`
/// of `R` depends on the first `j + 1` columns of `U` only.
pub(crate) fn triangular_inverse(u: &DMatrix<f64>, k: usize, r: &mut [f64]) {
    let ld = u.nrows();
    let a = u.as_slice();
    let r = &mut r[..k * k];
    // R U = I, column j: R_ij U_jj = −Σ_{i ≤ l < j} R_il U_lj.
    for j in 0..k {
        let uj = &a[j * ld..j * ld + j + 1];
        let d = 1.0 / uj[j];
        for i in 0..j {
            let mut s = 0.0;
            for l in i..j {
                s += r[l * k + i] * uj[l];
            }
            r[j * k + i] = -s * d;
        }
        r[j * k + j] = d;
    }
}

/// `(Uᵀ U)⁻¹ = R Rᵀ` of the leading `k × k` block, from `R = U⁻¹` ([`triangular_inverse`], leading
/// dimension `ld ≥ k`), into `out[..k * k]` (leading dimension `k`, full symmetric).
pub(crate) fn gram_of_inverse(r: &[f64], ld: usize, k: usize, out: &mut [f64]) {
    let out = &mut out[..k * k];
    // C_ab = Σ_{l ≥ max(a, b)} R_al R_bl.
    for b in 0..k {
        // Columns l = b..k of R, each cut to its rows 0..=b (so `a ≤ b` needs no bounds check).
        let columns = r[b * ld..k * ld].chunks_exact(ld).map(|c| &c[..=b]);
        for a in 0..=b {
            let mut s = 0.0;
            for col in columns.clone() {
                s += col[a] * col[b];
            }
            out[b * k + a] = s;
            out[a * k + b] = s;
        }
    }
}

/// `(I − B)⁻¹` for strictly lower triangular `B` (topological order), by forward substitution.
pub(crate) fn inverse_i_minus_beta(beta: &DMatrix<f64>, out: &mut DMatrix<f64>) {
    let p = beta.nrows();
    let b = beta.as_slice();
    let o = out.as_mut_slice();
    for c in 0..p {
        let col = &mut o[c * p..(c + 1) * p];
        col[..c].fill(0.0);
        col[c] = 1.0;
        for i in c + 1..p {
            // Same summation order as `0.0 + Σ_{k = c}^{i − 1}` (the `0.0 +` is exact).
            let mut s = 0.0;
            for k in c..i {
                s += b[k * p + i] * col[k];
            }
            col[i] = s;
        }
    }
}

/// `out = alpha · a b` for square column-major matrices of equal size (a few dozen rows at most):
/// column-oriented axpy loops, so no BLAS kernel is needed (and debug builds of the dependants stay
/// fast).
pub(crate) fn mul_into(alpha: f64, a: &DMatrix<f64>, b: &DMatrix<f64>, out: &mut DMatrix<f64>) {
    out.as_mut_slice().fill(0.0);
    mul_add_into(alpha, a, b, out);
}

/// `out += alpha · a b` (see [`mul_into`]).
pub(crate) fn mul_add_into(alpha: f64, a: &DMatrix<f64>, b: &DMatrix<f64>, out: &mut DMatrix<f64>) {
    let n = a.nrows();
    let (sa, sb) = (a.as_slice(), b.as_slice());
    let so = out.as_mut_slice();
    for j in 0..n {
        let col = &mut so[j * n..(j + 1) * n];
        for k in 0..n {
            let f = alpha * sb[j * n + k];
            if f != 0.0 {
                for (o, x) in col.iter_mut().zip(&sa[k * n..(k + 1) * n]) {
                    *o += f * x;
                }
            }
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
    mul_into(1.0, a, psi, tmp);
    let p = a.nrows();
    let (t, a) = (tmp.as_slice(), a.as_slice());
    let sg = sigma.as_mut_slice();
    for j in 0..p {
        for i in j..p {
            let mut s = 0.0;
            // A is lower triangular: A[j, k] = 0 for k > j.
            for k in 0..=j {
                s += t[k * p + i] * a[k * p + j];
            }
            sg[j * p + i] = s;
            sg[i * p + j] = s;
        }
    }
}
