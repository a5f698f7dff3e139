//! Fixed-size dense linear algebra for the small systems of the trial analyses (at most
//! [`MAXP`] fixed effects). Everything lives on the stack, so a replication of the power loop
//! allocates nothing.

/// Largest number of fixed-effect columns an analysis may have.
pub const MAXP: usize = 10;

/// A `MAXP × MAXP` matrix of which the leading `p × p` block is used.
pub type Mat = [[f64; MAXP]; MAXP];
/// A `MAXP` vector of which the leading `p` entries are used.
pub type Vect = [f64; MAXP];

/// The zero matrix.
pub const ZERO_MAT: Mat = [[0.0; MAXP]; MAXP];
/// The zero vector.
pub const ZERO_VEC: Vect = [0.0; MAXP];

/// Lower Cholesky factor `L` (`A = L Lᵀ`) of the leading `p × p` block of the symmetric `a`.
/// Returns `None` when a pivot is not positive relative to its diagonal (rank deficiency).
pub fn cholesky(a: &Mat, p: usize) -> Option<Mat> {
    let mut l = ZERO_MAT;
    for j in 0..p {
        let mut d = a[j][j];
        for k in 0..j {
            d -= l[j][k] * l[j][k];
        }
        if !(d > 1e-12 * a[j][j].abs()) || !d.is_finite() {
            return None;
        }
        let djj = d.sqrt();
        l[j][j] = djj;
        for i in j + 1..p {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = s / djj;
        }
    }
    Some(l)
}

/// `log det A` from its lower Cholesky factor.
pub fn chol_logdet(l: &Mat, p: usize) -> f64 {
    (0..p).map(|i| 2.0 * l[i][i].ln()).sum()
}

/// Solves `A x = b` given the lower Cholesky factor of `A`.
pub fn chol_solve(l: &Mat, p: usize, b: &Vect) -> Vect {
    let mut z = ZERO_VEC;
    for i in 0..p {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i][k] * z[k];
        }
        z[i] = s / l[i][i];
    }
    let mut x = ZERO_VEC;
    for i in (0..p).rev() {
        let mut s = z[i];
        for k in i + 1..p {
            s -= l[k][i] * x[k];
        }
        x[i] = s / l[i][i];
    }
    x
}

/// `A⁻¹` from the lower Cholesky factor of `A`.
pub fn chol_inverse(l: &Mat, p: usize) -> Mat {
    let mut inv = ZERO_MAT;
    for j in 0..p {
        let mut e = ZERO_VEC;
        e[j] = 1.0;
        let col = chol_solve(l, p, &e);
        for i in 0..p {
            inv[i][j] = col[i];
        }
    }
    inv
}

/// `A B` for the leading `p × p` blocks.
pub fn mul(a: &Mat, b: &Mat, p: usize) -> Mat {
    let mut c = ZERO_MAT;
    for i in 0..p {
        for k in 0..p {
            let aik = a[i][k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..p {
                c[i][j] += aik * b[k][j];
            }
        }
    }
    c
}

/// `A v`.
pub fn mul_vec(a: &Mat, v: &Vect, p: usize) -> Vect {
    let mut out = ZERO_VEC;
    for i in 0..p {
        out[i] = (0..p).map(|j| a[i][j] * v[j]).sum();
    }
    out
}

/// `uᵀ v`.
pub fn dot(u: &Vect, v: &Vect, p: usize) -> f64 {
    (0..p).map(|i| u[i] * v[i]).sum()
}

/// `uᵀ A v`.
pub fn quad(u: &Vect, a: &Mat, v: &Vect, p: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..p {
        for j in 0..p {
            s += u[i] * a[i][j] * v[j];
        }
    }
    s
}

/// `tr(A B)`.
pub fn trace_mul(a: &Mat, b: &Mat, p: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..p {
        for j in 0..p {
            s += a[i][j] * b[j][i];
        }
    }
    s
}

/// `A + s B` in place.
pub fn add_scaled(a: &mut Mat, s: f64, b: &Mat, p: usize) {
    for i in 0..p {
        for j in 0..p {
            a[i][j] += s * b[i][j];
        }
    }
}

/// Eigen-decomposition of the leading `p × p` block of the symmetric `a` by cyclic Jacobi
/// rotations (Golub & Van Loan 2013, §8.5). Returns eigenvalues and eigenvectors (columns).
pub fn sym_eigen(a: &Mat, p: usize) -> (Vect, Mat) {
    let mut m = *a;
    let mut v = ZERO_MAT;
    for (i, row) in v.iter_mut().enumerate().take(p) {
        row[i] = 1.0;
    }
    for _sweep in 0..30 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..p {
            diag += m[i][i] * m[i][i];
            for j in i + 1..p {
                off += m[i][j] * m[i][j];
            }
        }
        if off <= 1e-22 * diag {
            break;
        }
        for q in 0..p {
            for r in q + 1..p {
                if m[q][r] == 0.0 {
                    continue;
                }
                let theta = (m[r][r] - m[q][q]) / (2.0 * m[q][r]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..p {
                    let mkq = m[k][q];
                    let mkr = m[k][r];
                    m[k][q] = c * mkq - s * mkr;
                    m[k][r] = s * mkq + c * mkr;
                }
                for k in 0..p {
                    let mqk = m[q][k];
                    let mrk = m[r][k];
                    m[q][k] = c * mqk - s * mrk;
                    m[r][k] = s * mqk + c * mrk;
                }
                for row in v.iter_mut().take(p) {
                    let vkq = row[q];
                    let vkr = row[r];
                    row[q] = c * vkq - s * vkr;
                    row[r] = s * vkq + c * vkr;
                }
                // the rotation annihilates (q, r); store the exact zero, not its rounding
                m[q][r] = 0.0;
                m[r][q] = 0.0;
            }
        }
    }
    let mut values = ZERO_VEC;
    for i in 0..p {
        values[i] = m[i][i];
    }
    (values, v)
}

/// Inverse of a symmetric 2 × 2 or 3 × 3 (leading block of a `[[f64; 3]; 3]`) by Cholesky; `None`
/// when singular.
pub fn small_inverse(a: &[[f64; 3]; 3], k: usize) -> Option<[[f64; 3]; 3]> {
    let mut m = ZERO_MAT;
    for i in 0..k {
        for j in 0..k {
            m[i][j] = a[i][j];
        }
    }
    let l = cholesky(&m, k)?;
    let inv = chol_inverse(&l, k);
    let mut out = [[0.0; 3]; 3];
    for i in 0..k {
        for j in 0..k {
            out[i][j] = inv[i][j];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_reconstructs_a_symmetric_matrix() {
        let mut a = ZERO_MAT;
        let vals = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 0.0]];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] = vals[i][j];
            }
        }
        let (lambda, v) = sym_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| v[i][k] * lambda[k] * v[j][k]).sum();
                assert!((r - a[i][j]).abs() < 1e-12, "{i},{j}: {r} vs {}", a[i][j]);
            }
        }
    }

    #[test]
    fn cholesky_solves_and_inverts() {
        let mut a = ZERO_MAT;
        let vals = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] = vals[i][j];
            }
        }
        let l = cholesky(&a, 3).expect("positive definite");
        let inv = chol_inverse(&l, 3);
        let id = mul(&a, &inv, 3);
        for i in 0..3 {
            for j in 0..3 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((id[i][j] - e).abs() < 1e-12);
            }
        }
        assert!(cholesky(&ZERO_MAT, 2).is_none());
    }
}
