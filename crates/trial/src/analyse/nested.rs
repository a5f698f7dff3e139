//! REML for the long layout's nested random intercepts, `y = Xβ + b_leader + u_employee + e`,
//! from per-employee sufficient statistics — no dense per-leader matrices.
//!
//! Within a leader, the employee blocks `D_i = σ²_e I + σ²_u J` (employee `i` has `m_i` waves)
//! have `D_i⁻¹ = σ_e⁻²(I − w_i J)`, `w_i = σ²_u/(σ²_e + m_iσ²_u)`, `D_i⁻¹1 = κ_i 1`,
//! `κ_i = 1/(σ²_e + m_iσ²_u)`, and the leader intercept adds a rank-one term (Woodbury;
//! determinant lemma):
//!
//! `XᵀV⁻¹X = σ_e⁻²(ΣSxx − Σ_m w(m) T_m) − Σ_j ρ_j t_j t_jᵀ`,
//! `t_j = Σ_{i∈j} κ_i sx_i`, `q_j = Σ_{i∈j} m_i κ_i`, `ρ_j = σ²_b/(1 + σ²_b q_j)`,
//! `log|V| = Σ_i [m_i log σ²_e + log(1 + m_iσ²_u/σ²_e)] + Σ_j log(1 + σ²_b q_j)`,
//!
//! with `T_m = Σ_{i: m_i = m} sx_i sx_iᵀ` (and the same for `Xᵀy`, `yᵀy`). The weights depend on an
//! employee only through `m_i`, so each leader keeps, per wave count `m`, the number of
//! employees and their `Σ sx_i`, `Σ sy_i`.
//!
//! The profiled REML criterion in θ = (σ_b/σ_e, σ_u/σ_e) (lme4's parametrisation, even in each
//! θ so the boundary needs no constraint) is minimised by Newton's method on central-difference
//! derivatives. Satterthwaite's df (lmerTest) use the Hessian of the REML deviance in
//! ψ = (σ²_b, σ²_u, σ²_e) and the Jacobian of `C = (XᵀV⁻¹X)⁻¹`, both by central differences of
//! these closed forms — as lmerTest does numerically (numDeriv) in (θ, σ).

use super::linalg::{
    chol_inverse, chol_logdet, chol_solve, cholesky, quad, Mat, Vect, ZERO_MAT, ZERO_VEC,
};
use super::AnalysisError;

/// One leader's employees with `m` waves: count, `Σ sx_i`, `Σ sy_i`.
#[derive(Debug, Clone, Copy)]
struct LeaderClass {
    leader: usize,
    /// Index of this wave count in `NestedStats::waves`.
    wave: usize,
    m: f64,
    count: f64,
    sx: Vect,
    sy: f64,
}

/// Employees with `m` waves, pooled over leaders: count, `Σ sx sxᵀ`, `Σ sx sy`, `Σ sy²` of the
/// employees' sums.
#[derive(Debug, Clone, Copy)]
struct WaveClass {
    m: f64,
    count: f64,
    t: Mat,
    ty: Vect,
    u: f64,
}

/// Sufficient statistics of the nested model.
#[derive(Debug, Clone, Default)]
pub struct NestedStats {
    p: usize,
    n_obs: f64,
    n_leaders: usize,
    sxx: Mat,
    sxy: Vect,
    syy: f64,
    leaders: Vec<LeaderClass>,
    waves: Vec<WaveClass>,
    /// Distinct leader compositions `[(m, employees with m waves)]` and how many leaders have
    /// each: `log(1 + σ²_b q_j)` depends on a leader only through its composition.
    compositions: Vec<(Vec<(f64, f64)>, f64)>,
}

impl NestedStats {
    /// Builds the statistics from employees: for each employee its leader, wave count `m`,
    /// and the sums over its waves `Σx` (p), `Σxxᵀ` (p × p row-major), `Σxy` (p), `Σy`, `Σy²`.
    /// Leaders are dense indices.
    pub fn from_employees<'a>(
        p: usize,
        employees: impl Iterator<Item = (usize, f64, &'a [f64], &'a [f64], &'a [f64], f64, f64)>,
    ) -> Self {
        let mut s = NestedStats {
            p,
            ..Default::default()
        };
        for (leader, m, sx, sxx, sxy, sy, syy) in employees {
            if m == 0.0 {
                continue;
            }
            s.n_obs += m;
            s.syy += syy;
            s.n_leaders = s.n_leaders.max(leader + 1);
            for i in 0..p {
                s.sxy[i] += sxy[i];
                for k in 0..p {
                    s.sxx[i][k] += sxx[i * p + k];
                }
            }
            let lc = match s
                .leaders
                .iter()
                .position(|c| c.leader == leader && c.m.to_bits() == m.to_bits())
            {
                Some(i) => &mut s.leaders[i],
                None => {
                    s.leaders.push(LeaderClass {
                        leader,
                        wave: 0,
                        m,
                        count: 0.0,
                        sx: ZERO_VEC,
                        sy: 0.0,
                    });
                    s.leaders.last_mut().expect("pushed")
                }
            };
            lc.count += 1.0;
            lc.sy += sy;
            for i in 0..p {
                lc.sx[i] += sx[i];
            }
            let wc = match s.waves.iter().position(|c| c.m.to_bits() == m.to_bits()) {
                Some(i) => &mut s.waves[i],
                None => {
                    s.waves.push(WaveClass {
                        m,
                        count: 0.0,
                        t: ZERO_MAT,
                        ty: ZERO_VEC,
                        u: 0.0,
                    });
                    s.waves.last_mut().expect("pushed")
                }
            };
            wc.count += 1.0;
            wc.u += sy * sy;
            for i in 0..p {
                wc.ty[i] += sx[i] * sy;
                for k in 0..p {
                    wc.t[i][k] += sx[i] * sx[k];
                }
            }
        }
        s.leaders.sort_by_key(|c| c.leader);
        for lc in &mut s.leaders {
            lc.wave = s
                .waves
                .iter()
                .position(|w| w.m.to_bits() == lc.m.to_bits())
                .unwrap_or(0);
        }
        let mut idx = 0;
        while idx < s.leaders.len() {
            let leader = s.leaders[idx].leader;
            let mut comp = Vec::new();
            while idx < s.leaders.len() && s.leaders[idx].leader == leader {
                comp.push((s.leaders[idx].m, s.leaders[idx].count));
                idx += 1;
            }
            comp.sort_by(|a, b| a.0.total_cmp(&b.0));
            let same = |c: &Vec<(f64, f64)>| {
                c.len() == comp.len()
                    && c.iter().zip(&comp).all(|(a, b)| {
                        a.0.to_bits() == b.0.to_bits() && a.1.to_bits() == b.1.to_bits()
                    })
            };
            match s.compositions.iter().position(|(c, _)| same(c)) {
                Some(i) => s.compositions[i].1 += 1.0,
                None => s.compositions.push((comp, 1.0)),
            }
        }
        s
    }

    /// Observations.
    pub fn n_obs(&self) -> f64 {
        self.n_obs
    }
}

/// The closed forms at ψ = (σ²_b, σ²_u, σ²_e).
struct At {
    /// −2 ℓ_R (lme4's REML criterion), or the profiled criterion when evaluated by ratios.
    deviance: f64,
    beta: Vect,
    /// `(XᵀV⁻¹X)⁻¹`.
    c: Mat,
    /// `yᵀV⁻¹y − bᵀCb` (the generalised residual sum of squares).
    rss: f64,
}

/// Evaluates the model at variances `psi` (σ²_b, σ²_u, σ²_e).
fn evaluate(s: &NestedStats, psi: [f64; 3]) -> Option<At> {
    let p = s.p;
    let (s2b, s2u, s2e) = (psi[0], psi[1], psi[2]);
    if !(s2e > 0.0) || s2b < 0.0 || s2u < 0.0 {
        return None;
    }
    let mut xvx = ZERO_MAT;
    let mut xvy = ZERO_VEC;
    let mut yvy = 0.0;
    let mut logdet = 0.0;
    for wc in &s.waves {
        let w = s2u / (s2e + wc.m * s2u);
        logdet += wc.count * (wc.m * s2e.ln() + (wc.m * s2u / s2e).ln_1p());
        yvy += -w * wc.u / s2e;
        for i in 0..p {
            xvy[i] -= w * wc.ty[i] / s2e;
            for k in 0..p {
                xvx[i][k] -= w * wc.t[i][k] / s2e;
            }
        }
    }
    yvy += s.syy / s2e;
    for i in 0..p {
        xvy[i] += s.sxy[i] / s2e;
        for k in 0..p {
            xvx[i][k] += s.sxx[i][k] / s2e;
        }
    }
    // leader rank-one terms (lower triangle), with κ(m) = 1/(σ²_e + mσ²_u) per wave count
    let mut kappa = [0.0; 8];
    let many = s.waves.len() > kappa.len();
    for (w, k) in s.waves.iter().zip(kappa.iter_mut()) {
        *k = 1.0 / (s2e + w.m * s2u);
    }
    let mut idx = 0;
    while idx < s.leaders.len() {
        let leader = s.leaders[idx].leader;
        let mut t = ZERO_VEC;
        let mut tau = 0.0;
        let mut q = 0.0;
        while idx < s.leaders.len() && s.leaders[idx].leader == leader {
            let lc = &s.leaders[idx];
            let k = if many {
                1.0 / (s2e + lc.m * s2u)
            } else {
                kappa[lc.wave]
            };
            q += lc.m * k * lc.count;
            tau += k * lc.sy;
            for i in 0..p {
                t[i] += k * lc.sx[i];
            }
            idx += 1;
        }
        let rho = s2b / (1.0 + s2b * q);
        yvy -= rho * tau * tau;
        for i in 0..p {
            let rt = rho * t[i];
            xvy[i] -= rt * tau;
            for k in 0..=i {
                xvx[i][k] -= rt * t[k];
            }
        }
    }
    for i in 0..p {
        for k in 0..i {
            xvx[k][i] = xvx[i][k];
        }
    }
    for (comp, leaders) in &s.compositions {
        let q: f64 = comp
            .iter()
            .map(|&(m, count)| m * count / (s2e + m * s2u))
            .sum();
        logdet += leaders * (s2b * q).ln_1p();
    }
    let l = cholesky(&xvx, p)?;
    let beta = chol_solve(&l, p, &xvy);
    let rss = yvy - (0..p).map(|i| beta[i] * xvy[i]).sum::<f64>();
    let dof = s.n_obs - p as f64;
    let deviance = logdet + chol_logdet(&l, p) + rss + dof * (2.0 * std::f64::consts::PI).ln();
    Some(At {
        deviance,
        beta,
        c: chol_inverse(&l, p),
        rss,
    })
}

/// The profiled REML criterion at θ = (σ_b/σ_e, σ_u/σ_e) and the σ²_e it implies.
fn profiled(s: &NestedStats, theta: [f64; 2]) -> Option<(f64, f64)> {
    let at = evaluate(s, [theta[0] * theta[0], theta[1] * theta[1], 1.0])?;
    let dof = s.n_obs - s.p as f64;
    if !(at.rss > 0.0) {
        return None;
    }
    // with σ²_e = 1 the deviance holds log|Ṽ| + log|XᵀṼ⁻¹X| + r + dof log 2π; profile σ²_e = r/dof
    let base = at.deviance - at.rss - dof * (2.0 * std::f64::consts::PI).ln();
    Some((
        base + dof * (1.0 + (2.0 * std::f64::consts::PI * at.rss / dof).ln()),
        at.rss / dof,
    ))
}

/// A nested fit.
#[derive(Debug, Clone, Copy)]
pub struct NestedFit {
    /// Fixed effects.
    pub beta: Vect,
    /// Model-based covariance of β̂.
    pub vcov: Mat,
    /// (σ²_leader, σ²_employee, σ²_e).
    pub psi: [f64; 3],
    /// lme4's REML criterion.
    pub reml_criterion: f64,
    /// A variance component is estimated as 0.
    pub singular: bool,
    /// Criterion evaluations of the optimisation.
    pub evaluations: usize,
    hessian: [[f64; 3]; 3],
    jacobian: [Mat; 3],
    free: [bool; 3],
    p: usize,
}

/// Fits the nested model by REML.
pub fn fit_nested(s: &NestedStats) -> Result<NestedFit, AnalysisError> {
    let what = "mixed model (long layout)";
    let p = s.p;
    if s.n_obs <= p as f64 + 1.0 {
        return Err(AnalysisError::TooFewObservations {
            what,
            n: s.n_obs as usize,
            needed: p + 2,
        });
    }
    let mut evaluations = 0usize;
    let mut f = |th: [f64; 2]| -> Result<f64, AnalysisError> {
        evaluations += 1;
        profiled(s, [th[0].abs(), th[1].abs()])
            .map(|v| v.0)
            .ok_or(AnalysisError::RankDeficient { what })
    };
    // Newton on central differences (damped when not convex), with backtracking; θ starts at
    // (0.5, 0.5). A component that gets near 0 is tried at exactly 0 (lme4's boundary) and held
    // there when that does not raise the criterion.
    let mut th = [0.5, 0.5];
    let mut fx = f(th)?;
    let mut fixed = [false; 2];
    let mut converged = false;
    for _ in 0..200 {
        for i in 0..2 {
            if !fixed[i] && th[i].abs() < 1e-3 {
                let mut z = th;
                z[i] = 0.0;
                let fz = f(z)?;
                if fz <= fx {
                    th = z;
                    fx = fz;
                    fixed[i] = true;
                }
            }
        }
        let h = [1e-4 * th[0].abs().max(0.05), 1e-4 * th[1].abs().max(0.05)];
        let mut g = [0.0; 2];
        let mut hs = [[0.0; 2]; 2];
        for i in (0..2).filter(|&i| !fixed[i]) {
            let mut a = th;
            a[i] += h[i];
            let fp = f(a)?;
            a[i] = th[i] - h[i];
            let fm = f(a)?;
            g[i] = (fp - fm) / (2.0 * h[i]);
            hs[i][i] = (fp - 2.0 * fx + fm) / (h[i] * h[i]);
        }
        if !fixed[0] && !fixed[1] {
            let mut cross = 0.0;
            for (si, sj) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
                cross += si * sj * f([th[0] + si * h[0], th[1] + sj * h[1]])?;
            }
            hs[0][1] = cross / (4.0 * h[0] * h[1]);
            hs[1][0] = hs[0][1];
        }
        for i in 0..2 {
            if fixed[i] {
                hs[i][i] = 1.0;
            }
        }
        // Levenberg damping until positive definite
        let mut lambda = 0.0;
        let scale = hs[0][0].abs() + hs[1][1].abs();
        let step = loop {
            let (a, d, c) = (hs[0][0] + lambda, hs[1][1] + lambda, hs[0][1]);
            let det = a * d - c * c;
            if a > 0.0 && det > 0.0 {
                break [-(d * g[0] - c * g[1]) / det, -(a * g[1] - c * g[0]) / det];
            }
            lambda = if lambda > 0.0 {
                lambda * 10.0
            } else {
                1e-3 * scale.max(1e-8)
            };
        };
        let mut step = step;
        let mut accepted = false;
        for _ in 0..50 {
            let cand = [th[0] + step[0], th[1] + step[1]];
            let fc = f(cand)?;
            if fc <= fx {
                let small = (0..2).all(|i| step[i].abs() <= 1e-10 * cand[i].abs().max(1e-3));
                th = cand;
                fx = fc;
                accepted = true;
                converged = small;
                break;
            }
            step = [step[0] * 0.5, step[1] * 0.5];
        }
        if !accepted || converged {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(AnalysisError::NotConverged { what });
    }
    let th = [th[0].abs(), th[1].abs()];
    let (_, s2e) = profiled(s, th).ok_or(AnalysisError::RankDeficient { what })?;
    let psi = [th[0] * th[0] * s2e, th[1] * th[1] * s2e, s2e];
    let at = evaluate(s, psi).ok_or(AnalysisError::RankDeficient { what })?;
    let free = [th[0] > 0.0, th[1] > 0.0, true];
    let (hessian, jacobian) =
        numeric_derivatives(s, psi, &free).ok_or(AnalysisError::RankDeficient { what })?;
    Ok(NestedFit {
        beta: at.beta,
        vcov: at.c,
        psi,
        reml_criterion: at.deviance,
        singular: !free[0] || !free[1],
        evaluations,
        hessian,
        jacobian,
        free,
        p,
    })
}

/// Central differences (step `2e-4·ψᵢ`) of the REML deviance (Hessian) and of `C` (Jacobian) in
/// ψ; components not free get zero rows. Truncation error ~ (h/ψ)²/12 ≈ 3e-9 relative, rounding
/// ~ ε|f|/h² ≈ 3e-8 relative, well inside the df tolerance.
fn numeric_derivatives(
    s: &NestedStats,
    psi: [f64; 3],
    free: &[bool; 3],
) -> Option<([[f64; 3]; 3], [Mat; 3])> {
    let p = s.p;
    let f0 = evaluate(s, psi)?.deviance;
    let mut hess = [[0.0; 3]; 3];
    let mut jac = [ZERO_MAT; 3];
    let step = |i: usize| 2e-4 * psi[i];
    let shifted = |d: &[(usize, f64)]| {
        let mut q = psi;
        for &(i, v) in d {
            q[i] += v;
        }
        evaluate(s, q)
    };
    for i in 0..3 {
        if !free[i] {
            continue;
        }
        let h = step(i);
        let plus = shifted(&[(i, h)])?;
        let minus = shifted(&[(i, -h)])?;
        hess[i][i] = (plus.deviance - 2.0 * f0 + minus.deviance) / (h * h);
        for a in 0..p {
            for b in 0..p {
                jac[i][a][b] = (plus.c[a][b] - minus.c[a][b]) / (2.0 * h);
            }
        }
        for j in 0..i {
            if !free[j] {
                continue;
            }
            let (hi, hj) = (step(i), step(j));
            let pp = shifted(&[(i, hi), (j, hj)])?.deviance;
            let pm = shifted(&[(i, hi), (j, -hj)])?.deviance;
            let mp = shifted(&[(i, -hi), (j, hj)])?.deviance;
            let mm = shifted(&[(i, -hi), (j, -hj)])?.deviance;
            hess[i][j] = (pp - pm - mp + mm) / (4.0 * hi * hj);
            hess[j][i] = hess[i][j];
        }
    }
    Some((hess, jac))
}

impl NestedFit {
    /// Model-based variance of `L β̂`.
    pub fn variance(&self, l: &Vect) -> f64 {
        quad(l, &self.vcov, l, self.p)
    }

    /// Satterthwaite df of `L β̂` (lmerTest): `2 (LCLᵀ)² / (gᵀ A g)`, `A = 2 H⁻¹` over the free
    /// components.
    pub fn satterthwaite_df(&self, l: &Vect) -> Option<f64> {
        let p = self.p;
        let var = self.variance(l);
        let free: Vec<usize> = (0..3).filter(|&i| self.free[i]).collect();
        let k = free.len();
        let mut h = ZERO_MAT;
        let mut g = ZERO_VEC;
        for (a, &i) in free.iter().enumerate() {
            g[a] = quad(l, &self.jacobian[i], l, p);
            for (b, &j) in free.iter().enumerate() {
                h[a][b] = self.hessian[i][j];
            }
        }
        let lh = cholesky(&h, k)?;
        let hinv = chol_inverse(&lh, k);
        let denom = 2.0 * quad(&g, &hinv, &g, k);
        Some(2.0 * var * var / denom)
    }
}
