//! REML fit of the random-intercept model `y = Xβ + b_cluster + e` from per-cluster sufficient
//! statistics — no employee rows.
//!
//! With one random intercept, `V_j = σ²_e (I + γ J)` (`J` the all-ones matrix, `γ = σ²_b/σ²_e`),
//! so `V_j⁻¹ = σ_e⁻² (I − w_j J)` with `w_j = γ/(1 + n_j γ)`, and every quadratic form the
//! likelihood needs is a combination of the cluster's `n_j, Σx, Σxxᵀ, Σxy, Σy, Σy²`.
//! Profiling out β and σ²_e leaves a one-dimensional REML criterion in γ (Bates et al. 2015,
//! *J Stat Softw* 67(1), eq. 42):
//!
//! `d(γ) = Σ_j log(1 + n_j γ) + log|A(γ)| + (N − p)(1 + log(2π r(γ)/(N − p)))`,
//! `A = Σ_j (Sxx_j − w_j sx_j sx_jᵀ)`, `r = Σ_j (Syy_j − w_j sy_j²) − bᵀA⁻¹b`.
//!
//! Its derivative is closed-form (envelope theorem for r):
//! `d'(γ) = Σ n_j/(1+n_jγ) − Σ w'_j sx_jᵀA⁻¹sx_j − (N−p)/r · Σ w'_j (sy_j − sx_jᵀβ̂)²`,
//! `w'_j = (1 + n_j γ)⁻²`; the fit is the root of `d'` (Brent 1973, zeroin), or `γ = 0` when
//! `d'(0) ≥ 0` (a singular fit, as lme4 reports it).
//!
//! The inference matrices of [`VcInference`] follow from the algebra of matrices `αI + βJ`
//! within a cluster: `(α₁,β₁)(α₂,β₂) = (α₁α₂, α₁β₂ + β₁α₂ + nβ₁β₂)`, `tr = n(α + β)`,
//! `Xᵀ(αI+βJ)X = α Sxx + β sx sxᵀ`.

use super::inference::{VcInference, MAXK};
use super::linalg::{
    chol_inverse, chol_logdet, chol_solve, cholesky, quad, Mat, Vect, MAXP, ZERO_MAT, ZERO_VEC,
};
use super::AnalysisError;

/// Per-cluster sufficient statistics of a linear model with `p` fixed-effect columns. Reuse one
/// value across replications ([`ClusterStats::reset`] keeps its buffers).
#[derive(Debug, Clone, Default)]
pub struct ClusterStats {
    p: usize,
    n: Vec<f64>,
    sx: Vec<f64>,
    sxx: Vec<f64>,
    sxy: Vec<f64>,
    sy: Vec<f64>,
    syy: Vec<f64>,
}

impl ClusterStats {
    /// Empty statistics for `n_clusters` clusters and `p` columns.
    pub fn new(p: usize, n_clusters: usize) -> Self {
        let mut s = Self::default();
        s.reset(p, n_clusters);
        s
    }

    /// Zeroes the statistics for `n_clusters` clusters and `p` columns, keeping the buffers.
    pub fn reset(&mut self, p: usize, n_clusters: usize) {
        self.p = p;
        for (v, width) in [
            (&mut self.n, 1),
            (&mut self.sx, p),
            (&mut self.sxx, p * p),
            (&mut self.sxy, p),
            (&mut self.sy, 1),
            (&mut self.syy, 1),
        ] {
            v.clear();
            v.resize(n_clusters * width, 0.0);
        }
    }

    /// Number of fixed-effect columns.
    pub fn p(&self) -> usize {
        self.p
    }

    /// Number of clusters (including empty ones, which contribute nothing).
    pub fn n_clusters(&self) -> usize {
        self.n.len()
    }

    /// Adds one observation (`x` of length `p`, response `y`) to `cluster`.
    #[inline]
    pub fn add_row(&mut self, cluster: usize, x: &[f64], y: f64) {
        let p = self.p;
        self.n[cluster] += 1.0;
        self.sy[cluster] += y;
        self.syy[cluster] += y * y;
        let sx = &mut self.sx[cluster * p..(cluster + 1) * p];
        let sxy = &mut self.sxy[cluster * p..(cluster + 1) * p];
        let sxx = &mut self.sxx[cluster * p * p..(cluster + 1) * p * p];
        for i in 0..p {
            sx[i] += x[i];
            sxy[i] += x[i] * y;
            for j in 0..p {
                sxx[i * p + j] += x[i] * x[j];
            }
        }
    }

    /// Sets a cluster's statistics directly (e.g. from a simulator that never forms rows):
    /// `n`, `Σx` (p), `Σxxᵀ` (p × p row-major), `Σxy` (p), `Σy`, `Σy²`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_cluster(
        &mut self,
        cluster: usize,
        n: f64,
        sx: &[f64],
        sxx: &[f64],
        sxy: &[f64],
        sy: f64,
        syy: f64,
    ) {
        let p = self.p;
        self.n[cluster] = n;
        self.sy[cluster] = sy;
        self.syy[cluster] = syy;
        self.sx[cluster * p..(cluster + 1) * p].copy_from_slice(&sx[..p]);
        self.sxy[cluster * p..(cluster + 1) * p].copy_from_slice(&sxy[..p]);
        self.sxx[cluster * p * p..(cluster + 1) * p * p].copy_from_slice(&sxx[..p * p]);
    }

    /// Total number of observations.
    pub fn n_obs(&self) -> f64 {
        self.n.iter().sum()
    }

    /// Number of clusters with at least one observation.
    pub fn n_nonempty(&self) -> usize {
        self.n.iter().filter(|&&n| n > 0.0).count()
    }

    /// `Σ_j Sxx_j`, `Σ_j Sxy_j`, `Σ_j Syy_j` (the pooled OLS cross-products).
    pub fn pooled(&self) -> (Mat, Vect, f64) {
        let p = self.p;
        let (mut sxx, mut sxy, mut syy) = (ZERO_MAT, ZERO_VEC, 0.0);
        for j in 0..self.n.len() {
            syy += self.syy[j];
            for i in 0..p {
                sxy[i] += self.sxy[j * p + i];
                for k in 0..p {
                    sxx[i][k] += self.sxx[(j * p + i) * p + k];
                }
            }
        }
        (sxx, sxy, syy)
    }

    /// Cluster `j`'s statistics as public slices: `(n, Σx, Σxxᵀ row-major, Σxy, Σy, Σy²)`.
    pub fn cluster_slices(&self, j: usize) -> (f64, &[f64], &[f64], &[f64], f64, f64) {
        let p = self.p;
        (
            self.n[j],
            &self.sx[j * p..(j + 1) * p],
            &self.sxx[j * p * p..(j + 1) * p * p],
            &self.sxy[j * p..(j + 1) * p],
            self.sy[j],
            self.syy[j],
        )
    }
}

/// A REML fit of the random-intercept model.
#[derive(Debug, Clone, Copy)]
pub struct RandomInterceptFit {
    /// Fixed effects β̂ (leading `p` entries).
    pub beta: Vect,
    /// Between-cluster variance σ²_b.
    pub sigma2_cluster: f64,
    /// Residual variance σ²_e.
    pub sigma2_resid: f64,
    /// lme4's REML criterion (−2 × restricted log-likelihood) at the estimates.
    pub reml_criterion: f64,
    /// Observations used.
    pub n_obs: usize,
    /// Clusters with at least one observation.
    pub n_clusters: usize,
    /// The between-cluster variance is estimated as zero (lme4's "boundary (singular) fit").
    pub singular: bool,
    /// Evaluations of the criterion's derivative.
    pub evaluations: usize,
    /// Matrices for standard errors and Satterthwaite / Kenward–Roger df.
    pub inference: VcInference,
}

impl RandomInterceptFit {
    /// Number of fixed effects.
    pub fn p(&self) -> usize {
        self.inference.p
    }

    /// Model-based standard error of β̂ᵢ.
    pub fn std_error(&self, i: usize) -> f64 {
        self.inference.c[i][i].sqrt()
    }

    /// Intraclass correlation σ²_b / (σ²_b + σ²_e) of the residuals.
    pub fn icc(&self) -> f64 {
        self.sigma2_cluster / (self.sigma2_cluster + self.sigma2_resid)
    }
}

/// Clusters of one size `n`: the REML weights depend on a cluster only through `n`, so the
/// per-evaluation work is one `p × p` update per distinct size (one for a balanced design).
#[derive(Debug, Clone, Copy)]
struct SizeGroup {
    n: f64,
    count: f64,
    /// `Σ sx sxᵀ` (lower triangle).
    t: Mat,
    /// `Σ sx sy`.
    ty: Vect,
    /// `Σ sy²`.
    u: f64,
}

/// Reusable buffers of [`fit_random_intercept_with`].
#[derive(Debug, Clone, Default)]
pub struct RiScratch {
    groups: Vec<SizeGroup>,
}

/// Groups the clusters by size.
fn group_by_size(stats: &ClusterStats, groups: &mut Vec<SizeGroup>) {
    groups.clear();
    let p = stats.p;
    for j in 0..stats.n.len() {
        let n = stats.n[j];
        if n == 0.0 {
            continue;
        }
        let g = match groups.iter().position(|g| g.n.to_bits() == n.to_bits()) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(SizeGroup {
                    n,
                    count: 0.0,
                    t: ZERO_MAT,
                    ty: ZERO_VEC,
                    u: 0.0,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        let sx = &stats.sx[j * p..(j + 1) * p];
        let sy = stats.sy[j];
        g.count += 1.0;
        g.u += sy * sy;
        for i in 0..p {
            g.ty[i] += sx[i] * sy;
            for k in 0..=i {
                g.t[i][k] += sx[i] * sx[k];
            }
        }
    }
}

/// The criterion's pieces at one γ.
struct Profile {
    derivative: f64,
    beta: Vect,
    rss: f64,
    a_chol: Mat,
}

/// Evaluates the derivative of the profiled REML criterion at `gamma` (and β̂, RSS).
///
/// With `w(n) = γ/(1+nγ)`, `w'(n) = (1+nγ)⁻²` and the size groups' `T_n = Σ sx sxᵀ`,
/// `t_n = Σ sx sy`, `u_n = Σ sy²`: `A = ΣSxx − Σ_n w T_n`, `b = ΣSxy − Σ_n w t_n`,
/// `c = ΣSyy − Σ_n w u_n`, and the derivative's `Σ w'_j sx_jᵀA⁻¹sx_j = tr(A⁻¹S₁)`,
/// `Σ w'_j (sy_j − sx_jᵀβ)² = c₁ − 2βᵀs₁ + βᵀS₁β` with `S₁ = Σ_n w' T_n`, `s₁ = Σ_n w' t_n`,
/// `c₁ = Σ_n w' u_n`.
fn profile(
    p: usize,
    pooled: &(Mat, Vect, f64),
    groups: &[SizeGroup],
    gamma: f64,
    n_obs: f64,
) -> Option<Profile> {
    let (mut a, mut b, mut c) = (pooled.0, pooled.1, pooled.2);
    let mut s1 = ZERO_MAT;
    let mut s1y = ZERO_VEC;
    let mut c1 = 0.0;
    let mut dlogdet_v = 0.0;
    for g in groups {
        let d = 1.0 + g.n * gamma;
        let w = gamma / d;
        let wd = 1.0 / (d * d);
        dlogdet_v += g.count * g.n / d;
        c -= w * g.u;
        c1 += wd * g.u;
        for i in 0..p {
            b[i] -= w * g.ty[i];
            s1y[i] += wd * g.ty[i];
            for k in 0..=i {
                a[i][k] -= w * g.t[i][k];
                s1[i][k] += wd * g.t[i][k];
            }
        }
    }
    for i in 0..p {
        for k in 0..i {
            a[k][i] = a[i][k];
            s1[k][i] = s1[i][k];
        }
    }
    let l = cholesky(&a, p)?;
    let beta = chol_solve(&l, p, &b);
    let rss = c - (0..p).map(|i| b[i] * beta[i]).sum::<f64>();
    if !(rss > 0.0) {
        return None;
    }
    let dof = n_obs - p as f64;
    let ainv = chol_inverse(&l, p);
    let dlogdet_a = -super::linalg::trace_mul(&ainv, &s1, p);
    let drss = -(c1 - 2.0 * super::linalg::dot(&beta, &s1y, p) + quad(&beta, &s1, &beta, p));
    Some(Profile {
        derivative: dlogdet_v + dlogdet_a + dof * drss / rss,
        beta,
        rss,
        a_chol: l,
    })
}

/// lme4's REML criterion at `gamma` given the profile there.
fn criterion(p: usize, groups: &[SizeGroup], prof: &Profile, gamma: f64, n_obs: f64) -> f64 {
    let dof = n_obs - p as f64;
    let logdet_v: f64 = groups.iter().map(|g| g.count * (g.n * gamma).ln_1p()).sum();
    logdet_v
        + chol_logdet(&prof.a_chol, p)
        + dof * (1.0 + (2.0 * std::f64::consts::PI * prof.rss / dof).ln())
}

/// Fits `y ~ X + (1 | cluster)` by REML from sufficient statistics (allocates its scratch; the
/// power loop calls [`fit_random_intercept_with`]).
pub fn fit_random_intercept(stats: &ClusterStats) -> Result<RandomInterceptFit, AnalysisError> {
    fit_random_intercept_with(stats, &mut RiScratch::default())
}

/// Fits `y ~ X + (1 | cluster)` by REML from sufficient statistics, reusing `scratch`.
///
/// Converges the variance ratio to relative precision 1e-13 (Brent's zeroin on the analytic
/// derivative), tighter than lme4's default so references converged tightly agree to 1e-8.
pub fn fit_random_intercept_with(
    stats: &ClusterStats,
    scratch: &mut RiScratch,
) -> Result<RandomInterceptFit, AnalysisError> {
    let p = stats.p;
    if p == 0 || p > MAXP {
        return Err(AnalysisError::TooManyColumns { p, max: MAXP });
    }
    let n_obs = stats.n_obs();
    let n_clusters = stats.n_nonempty();
    if n_obs <= p as f64 || n_clusters < 2 {
        return Err(AnalysisError::TooFewObservations {
            what: "random-intercept model",
            n: n_obs as usize,
            needed: p + 1,
        });
    }
    let pooled = stats.pooled();
    group_by_size(stats, &mut scratch.groups);
    let groups = &scratch.groups[..];
    let mut evaluations = 0;
    let mut eval = |g: f64| {
        evaluations += 1;
        profile(p, &pooled, groups, g, n_obs).ok_or(AnalysisError::RankDeficient {
            what: "random-intercept model",
        })
    };
    let at_zero = eval(0.0)?;
    let (gamma, prof) = if at_zero.derivative >= 0.0 {
        (0.0, at_zero)
    } else {
        let (mut lo, mut f_lo) = (0.0, at_zero.derivative);
        let mut hi = 0.25;
        let mut f_hi = eval(hi)?.derivative;
        while f_hi < 0.0 {
            if hi > 1e10 {
                return Err(AnalysisError::NotConverged {
                    what: "random-intercept REML (variance ratio diverges)",
                });
            }
            lo = hi;
            f_lo = f_hi;
            hi *= 8.0;
            f_hi = eval(hi)?.derivative;
        }
        let gamma = zeroin(lo, hi, f_lo, f_hi, |g| eval(g).map(|pr| pr.derivative))?;
        (gamma, eval(gamma)?)
    };
    let dof = n_obs - p as f64;
    let sigma2_resid = prof.rss / dof;
    let sigma2_cluster = gamma * sigma2_resid;
    let reml_criterion = criterion(p, groups, &prof, gamma, n_obs);
    let inference = inference_matrices(p, &pooled, groups, &prof, sigma2_cluster, sigma2_resid);
    Ok(RandomInterceptFit {
        beta: prof.beta,
        sigma2_cluster,
        sigma2_resid,
        reml_criterion,
        n_obs: n_obs as usize,
        n_clusters,
        singular: gamma == 0.0,
        evaluations,
        inference,
    })
}

/// Brent's (1973) zeroin: a root of `f` in `[a, b]` with `f(a) < 0 < f(b)`, to relative
/// precision 1e-13.
fn zeroin<F>(
    mut a: f64,
    mut b: f64,
    mut fa: f64,
    mut fb: f64,
    mut f: F,
) -> Result<f64, AnalysisError>
where
    F: FnMut(f64) -> Result<f64, AnalysisError>,
{
    let mut c = a;
    let mut fc = fa;
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if fb.signum() == fc.signum() {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 1e-13 * b.abs() + 1e-300;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut pp, mut q);
            if a.to_bits() == c.to_bits() {
                pp = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                let qa = fa / fc;
                let r = fb / fc;
                pp = s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0));
                q = (qa - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if pp > 0.0 {
                q = -q;
            } else {
                pp = -pp;
            }
            if 2.0 * pp < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = pp / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol * m.signum() };
        fb = f(b)?;
    }
    Err(AnalysisError::NotConverged {
        what: "random-intercept REML",
    })
}

/// A within-cluster matrix `αI + βJ`.
#[derive(Clone, Copy)]
struct Op(f64, f64);

impl Op {
    fn mul(self, o: Op, n: f64) -> Op {
        Op(self.0 * o.0, self.0 * o.1 + self.1 * o.0 + n * self.1 * o.1)
    }
    fn trace(self, n: f64) -> f64 {
        n * (self.0 + self.1)
    }
}

/// Builds `C`, `Gᵢ`, `Qᵢⱼ`, `tr(PVᵢPVⱼ)` and the observed Hessian for components
/// (σ²_b with `V_b = J`, σ²_e with `V_e = I`).
///
/// Every within-cluster operator here is `αI + β_jJ` with `α` the same in all clusters (a power
/// of `1/σ²_e`), so `Σ_j X_jᵀ(αI + β_jJ)X_j = α ΣSxx + Σ_j β_j sx_j sx_jᵀ`, and likewise for the
/// residual forms: only `n_j`, `Σx_j`, `Σy_j` are needed per cluster.
fn inference_matrices(
    p: usize,
    pooled: &(Mat, Vect, f64),
    groups: &[SizeGroup],
    prof: &Profile,
    s2b: f64,
    s2e: f64,
) -> VcInference {
    let k = 2;
    let mut c = chol_inverse(&prof.a_chol, p);
    for row in c.iter_mut().take(p) {
        for v in row.iter_mut().take(p) {
            *v *= s2e;
        }
    }
    let beta = prof.beta;
    let a = 1.0 / s2e;
    let comps = [Op(0.0, 1.0), Op(1.0, 0.0)];
    // V⁻¹VᵢV⁻¹ and Qᵢⱼ = V⁻¹VᵢV⁻¹VⱼV⁻¹ as (α, β_n) operators
    let ops_of = |n: f64, b: f64| {
        let vinv = Op(a, b);
        let vi = [
            vinv.mul(comps[0], n).mul(vinv, n),
            vinv.mul(comps[1], n).mul(vinv, n),
        ];
        let q = [
            vi[0].mul(comps[0], n).mul(vinv, n),
            vi[0].mul(comps[1], n).mul(vinv, n),
            vi[1].mul(comps[1], n).mul(vinv, n),
        ];
        (vi, q)
    };
    let (vi_alpha, q_alpha) = ops_of(1.0, 0.0);
    // pooled residual forms: Σ X_jᵀe_j and Σ e_jᵀe_j
    let (sxx, sxy, syy) = pooled;
    let sxxb = super::linalg::mul_vec(sxx, &beta, p);
    let mut xe_pooled = ZERO_VEC;
    for i in 0..p {
        xe_pooled[i] = sxy[i] - sxxb[i];
    }
    let ee_pooled = syy - 2.0 * super::linalg::dot(&beta, sxy, p) + quad(&beta, sxx, &beta, p);
    // size-varying β parts: Σ_j β_n sx sxᵀ = β_n T_n; Σ_j β_n sx (sy − sxᵀβ) = β_n (t_n − T_nβ);
    // Σ_j β_n (sy − sxᵀβ)² = β_n (u_n − 2βᵀt_n + βᵀT_nβ)
    let mut g_beta = [ZERO_MAT; 2];
    let mut q_beta = [ZERO_MAT; 3];
    let mut h = [ZERO_VEC; MAXK];
    let mut ktrace = [[0.0; MAXK]; MAXK];
    let mut eqe = [[0.0; MAXK]; MAXK];
    for gr in groups {
        let n = gr.n;
        let b = -s2b / (s2e * (s2e + n * s2b));
        let (vi, q) = ops_of(n, b);
        let mut tfull = gr.t;
        for i in 0..p {
            for t in 0..i {
                tfull[t][i] = tfull[i][t];
            }
        }
        let tb = super::linalg::mul_vec(&tfull, &beta, p);
        let ee =
            gr.u - 2.0 * super::linalg::dot(&beta, &gr.ty, p) + super::linalg::dot(&beta, &tb, p);
        for i in 0..k {
            for r in 0..p {
                h[i][r] += vi[i].1 * (gr.ty[r] - tb[r]);
                for t in 0..=r {
                    g_beta[i][r][t] += vi[i].1 * gr.t[r][t];
                }
            }
        }
        for (idx, (i, jj)) in [(0, 0), (0, 1), (1, 1)].into_iter().enumerate() {
            for r in 0..p {
                for t in 0..=r {
                    q_beta[idx][r][t] += q[idx].1 * gr.t[r][t];
                }
            }
            ktrace[i][jj] += gr.count * vi[i].mul(comps[jj], n).trace(n);
            eqe[i][jj] += q[idx].1 * ee;
        }
    }
    let mut g = [ZERO_MAT; MAXK];
    let mut qm = [ZERO_MAT; MAXK * (MAXK + 1) / 2];
    for i in 0..k {
        for r in 0..p {
            h[i][r] += vi_alpha[i].0 * xe_pooled[r];
            for t in 0..p {
                let (rr, tt) = if t <= r { (r, t) } else { (t, r) };
                g[i][r][t] = vi_alpha[i].0 * sxx[r][t] + g_beta[i][rr][tt];
            }
        }
    }
    for (idx, (i, jj)) in [(0, 0), (0, 1), (1, 1)].into_iter().enumerate() {
        let qi = super::inference::pair(i, jj, k);
        for r in 0..p {
            for t in 0..p {
                let (rr, tt) = if t <= r { (r, t) } else { (t, r) };
                qm[qi][r][t] = q_alpha[idx].0 * sxx[r][t] + q_beta[idx][rr][tt];
            }
        }
        eqe[i][jj] += q_alpha[idx].0 * ee_pooled;
    }
    let mut ie2 = [[0.0; MAXK]; MAXK];
    let mut hessian = [[0.0; MAXK]; MAXK];
    let cg = [
        super::linalg::mul(&c, &g[0], p),
        super::linalg::mul(&c, &g[1], p),
    ];
    for i in 0..k {
        for jj in i..k {
            let qi = super::inference::pair(i, jj, k);
            let t = ktrace[i][jj] - 2.0 * super::linalg::trace_mul(&c, &qm[qi], p)
                + super::linalg::trace_mul(&cg[i], &cg[jj], p);
            ie2[i][jj] = t;
            ie2[jj][i] = t;
            let hv = -t + 2.0 * (eqe[i][jj] - quad(&h[i], &c, &h[jj], p));
            hessian[i][jj] = hv;
            hessian[jj][i] = hv;
        }
    }
    VcInference {
        p,
        k,
        c,
        g,
        q: qm,
        ie2,
        hessian,
        free: [s2b > 0.0, true, false, false],
    }
}
