//! Fixed-size dense linear algebra for the small systems of the trial analyses (at most
//! [`MAXP`] fixed effects). Everything lives on the stack, so a replication of the power loop
//! allocates nothing.

/// Largest number of fixed-effect columns an analysis may have.
pub const MAXP: usize = 7;

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

/// Eigen-decomposition of a symmetric 3 × 3 matrix in closed form: eigenvalues by the
/// trigonometric solution of the characteristic cubic (Smith 1961, *Comm ACM* 4:168), vectors as
/// the largest cross product of two rows of `A − λI` (Kopp 2008, *Int J Mod Phys C* 19:523).
/// Returns `None` when two eigenvalues are within 1e-5 of the largest magnitude, where the cross
/// products lose accuracy (error ~ ε‖A‖/gap); callers then use [`sym_eigen`].
pub fn sym_eigen3(a: &Mat) -> Option<(Vect, Mat)> {
    let p1 = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    let q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    let d = [a[0][0] - q, a[1][1] - q, a[2][2] - q];
    let p2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + 2.0 * p1;
    let pp = (p2 / 6.0).sqrt();
    if !(pp > 0.0) || p1 <= 1e-30 * p2 {
        return None;
    }
    let b = |i: usize, j: usize| (a[i][j] - if i == j { q } else { 0.0 }) / pp;
    let det = b(0, 0) * (b(1, 1) * b(2, 2) - b(1, 2) * b(2, 1))
        - b(0, 1) * (b(1, 0) * b(2, 2) - b(1, 2) * b(2, 0))
        + b(0, 2) * (b(1, 0) * b(2, 1) - b(1, 1) * b(2, 0));
    let r = (det / 2.0).clamp(-1.0, 1.0);
    let phi = r.acos() / 3.0;
    let l1 = q + 2.0 * pp * phi.cos();
    let l3 = q + 2.0 * pp * (phi + 2.0 * std::f64::consts::PI / 3.0).cos();
    let l2 = 3.0 * q - l1 - l3;
    let scale = l1.abs().max(l3.abs());
    if (l1 - l2) < 1e-5 * scale || (l2 - l3) < 1e-5 * scale {
        return None;
    }
    let vector = |lambda: f64| -> Option<[f64; 3]> {
        let m = |i: usize, j: usize| a[i][j] - if i == j { lambda } else { 0.0 };
        let rows = [
            [m(0, 0), m(0, 1), m(0, 2)],
            [m(1, 0), m(1, 1), m(1, 2)],
            [m(2, 0), m(2, 1), m(2, 2)],
        ];
        let cross = |u: [f64; 3], v: [f64; 3]| {
            [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ]
        };
        let cands = [
            cross(rows[0], rows[1]),
            cross(rows[0], rows[2]),
            cross(rows[1], rows[2]),
        ];
        let norm2 = |v: &[f64; 3]| v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        let best = cands.iter().max_by(|x, y| norm2(x).total_cmp(&norm2(y)))?;
        let n = norm2(best).sqrt();
        (n > 0.0).then(|| [best[0] / n, best[1] / n, best[2] / n])
    };
    let v1 = vector(l1)?;
    let v3 = vector(l3)?;
    // the middle vector completes the orthonormal basis
    let v2 = [
        v3[1] * v1[2] - v3[2] * v1[1],
        v3[2] * v1[0] - v3[0] * v1[2],
        v3[0] * v1[1] - v3[1] * v1[0],
    ];
    let mut values = ZERO_VEC;
    values[0] = l1;
    values[1] = l2;
    values[2] = l3;
    let mut vecs = ZERO_MAT;
    for i in 0..3 {
        vecs[i][0] = v1[i];
        vecs[i][1] = v2[i];
        vecs[i][2] = v3[i];
    }
    Some((values, vecs))
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
    fn closed_form_3x3_eigen_equals_jacobi() {
        let cases = [
            [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 0.0]],
            [[0.04, 0.04, 0.1], [0.04, 0.04, 0.1], [0.1, 0.1, 0.7]],
            [[0.2, -0.05, 0.01], [-0.05, 0.1, 0.03], [0.01, 0.03, 0.05]],
        ];
        for vals in cases {
            let mut a = ZERO_MAT;
            for i in 0..3 {
                for j in 0..3 {
                    a[i][j] = vals[i][j];
                }
            }
            let (l, v) = sym_eigen3(&a).expect("distinct eigenvalues");
            for i in 0..3 {
                for j in 0..3 {
                    let r: f64 = (0..3).map(|k| v[i][k] * l[k] * v[j][k]).sum();
                    assert!((r - a[i][j]).abs() < 1e-13, "{i},{j}: {r} vs {}", a[i][j]);
                    let o: f64 = (0..3).map(|k| v[k][i] * v[k][j]).sum();
                    let e = if i == j { 1.0 } else { 0.0 };
                    assert!((o - e).abs() < 1e-13, "orthonormal {i},{j}: {o}");
                }
            }
        }
        // repeated eigenvalues fall back to Jacobi
        let mut id = ZERO_MAT;
        for i in 0..3 {
            id[i][i] = 1.0;
        }
        id[0][1] = 1e-9;
        id[1][0] = 1e-9;
        assert!(sym_eigen3(&id).is_none());
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
