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
    chol_inverse, chol_logdet, chol_solve, cholesky, Mat, Vect, MAXP, ZERO_MAT, ZERO_VEC,
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

    /// Cluster `j`'s `(n, Σx, Σxxᵀ, Σxy, Σy, Σy²)`.
    #[inline]
    fn cluster(&self, j: usize) -> (f64, Vect, Mat, Vect, f64, f64) {
        let p = self.p;
        let mut sx = ZERO_VEC;
        let mut sxy = ZERO_VEC;
        let mut sxx = ZERO_MAT;
        sx[..p].copy_from_slice(&self.sx[j * p..(j + 1) * p]);
        sxy[..p].copy_from_slice(&self.sxy[j * p..(j + 1) * p]);
        for i in 0..p {
            sxx[i][..p].copy_from_slice(&self.sxx[(j * p + i) * p..(j * p + i + 1) * p]);
        }
        (self.n[j], sx, sxx, sxy, self.sy[j], self.syy[j])
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

/// The criterion's pieces at one γ.
struct Profile {
    derivative: f64,
    criterion: f64,
    beta: Vect,
    rss: f64,
    a_chol: Mat,
}

/// Evaluates the profiled REML criterion and its derivative at `gamma`.
fn profile(stats: &ClusterStats, gamma: f64, n_obs: f64) -> Option<Profile> {
    let p = stats.p;
    let mut a = ZERO_MAT;
    let mut b = ZERO_VEC;
    let mut c = 0.0;
    let mut logdet_v = 0.0;
    let mut dlogdet_v = 0.0;
    for j in 0..stats.n.len() {
        let n = stats.n[j];
        if n == 0.0 {
            continue;
        }
        let (_, sx, sxx, sxy, sy, syy) = stats.cluster(j);
        let w = gamma / (1.0 + n * gamma);
        logdet_v += (n * gamma).ln_1p();
        dlogdet_v += n / (1.0 + n * gamma);
        c += syy - w * sy * sy;
        for i in 0..p {
            b[i] += sxy[i] - w * sx[i] * sy;
            for k in 0..=i {
                a[i][k] += sxx[i][k] - w * sx[i] * sx[k];
            }
        }
    }
    for i in 0..p {
        for k in 0..i {
            a[k][i] = a[i][k];
        }
    }
    let l = cholesky(&a, p)?;
    let beta = chol_solve(&l, p, &b);
    let rss = c - (0..p).map(|i| b[i] * beta[i]).sum::<f64>();
    if !(rss > 0.0) {
        return None;
    }
    let dof = n_obs - p as f64;
    let mut dlogdet_a = 0.0;
    let mut drss = 0.0;
    for j in 0..stats.n.len() {
        let n = stats.n[j];
        if n == 0.0 {
            continue;
        }
        let (_, sx, _, _, sy, _) = stats.cluster(j);
        let wd = 1.0 / ((1.0 + n * gamma) * (1.0 + n * gamma));
        let ainv_sx = chol_solve(&l, p, &sx);
        dlogdet_a -= wd * (0..p).map(|i| sx[i] * ainv_sx[i]).sum::<f64>();
        let e = sy - (0..p).map(|i| sx[i] * beta[i]).sum::<f64>();
        drss -= wd * e * e;
    }
    let derivative = dlogdet_v + dlogdet_a + dof * drss / rss;
    let criterion =
        logdet_v + chol_logdet(&l, p) + dof * (1.0 + (2.0 * std::f64::consts::PI * rss / dof).ln());
    Some(Profile {
        derivative,
        criterion,
        beta,
        rss,
        a_chol: l,
    })
}

/// Fits `y ~ X + (1 | cluster)` by REML from sufficient statistics.
///
/// Converges the variance ratio to relative precision 1e-13 (Brent's zeroin on the analytic
/// derivative), tighter than lme4's default so references converged tightly agree to 1e-8.
pub fn fit_random_intercept(stats: &ClusterStats) -> Result<RandomInterceptFit, AnalysisError> {
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
    let mut evaluations = 0;
    let mut eval = |g: f64| {
        evaluations += 1;
        profile(stats, g, n_obs).ok_or(AnalysisError::RankDeficient {
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
    let inference = inference_matrices(stats, &prof, sigma2_cluster, sigma2_resid);
    Ok(RandomInterceptFit {
        beta: prof.beta,
        sigma2_cluster,
        sigma2_resid,
        reml_criterion: prof.criterion,
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
fn inference_matrices(stats: &ClusterStats, prof: &Profile, s2b: f64, s2e: f64) -> VcInference {
    let p = stats.p;
    let k = 2;
    let mut c = chol_inverse(&prof.a_chol, p);
    for row in c.iter_mut().take(p) {
        for v in row.iter_mut().take(p) {
            *v *= s2e;
        }
    }
    let mut g = [ZERO_MAT; MAXK];
    let mut q = [ZERO_MAT; MAXK * (MAXK + 1) / 2];
    let mut ktrace = [[0.0; MAXK]; MAXK];
    let mut eqe = [[0.0; MAXK]; MAXK];
    let mut h = [ZERO_VEC; MAXK];
    let beta = prof.beta;
    for j in 0..stats.n.len() {
        let n = stats.n[j];
        if n == 0.0 {
            continue;
        }
        let (_, sx, sxx, sxy, sy, syy) = stats.cluster(j);
        let a = 1.0 / s2e;
        let b = -s2b / (s2e * (s2e + n * s2b));
        let vinv = Op(a, b);
        let comps = [Op(0.0, 1.0), Op(1.0, 0.0)];
        let vi: [Op; 2] = [
            vinv.mul(comps[0], n).mul(vinv, n),
            vinv.mul(comps[1], n).mul(vinv, n),
        ];
        // residual sums of the cluster
        let se = sy - (0..p).map(|i| sx[i] * beta[i]).sum::<f64>();
        let mut xe = ZERO_VEC;
        let mut see = syy;
        for i in 0..p {
            let sxx_b: f64 = (0..p).map(|l| sxx[i][l] * beta[l]).sum();
            xe[i] = sxy[i] - sxx_b;
            see += -2.0 * beta[i] * sxy[i] + beta[i] * sxx_b;
        }
        for i in 0..k {
            let op = vi[i];
            for r in 0..p {
                h[i][r] += op.0 * xe[r] + op.1 * sx[r] * se;
                for s in 0..p {
                    g[i][r][s] += op.0 * sxx[r][s] + op.1 * sx[r] * sx[s];
                }
            }
            for jj in i..k {
                let qop = vi[i].mul(comps[jj], n).mul(vinv, n);
                let qi = super::inference::pair(i, jj, k);
                for r in 0..p {
                    for s in 0..p {
                        q[qi][r][s] += qop.0 * sxx[r][s] + qop.1 * sx[r] * sx[s];
                    }
                }
                ktrace[i][jj] += vi[i].mul(comps[jj], n).trace(n);
                eqe[i][jj] += qop.0 * see + qop.1 * se * se;
            }
        }
    }
    let mut ie2 = [[0.0; MAXK]; MAXK];
    let mut hessian = [[0.0; MAXK]; MAXK];
    for i in 0..k {
        let cgi = super::linalg::mul(&c, &g[i], p);
        for jj in i..k {
            let cgj = super::linalg::mul(&c, &g[jj], p);
            let qi = super::inference::pair(i, jj, k);
            let t = ktrace[i][jj] - 2.0 * super::linalg::trace_mul(&c, &q[qi], p)
                + super::linalg::trace_mul(&cgi, &cgj, p);
            ie2[i][jj] = t;
            ie2[jj][i] = t;
            let yq = eqe[i][jj] - super::linalg::quad(&h[i], &c, &h[jj], p);
            let hv = -t + 2.0 * yq;
            hessian[i][jj] = hv;
            hessian[jj][i] = hv;
        }
    }
    VcInference {
        p,
        k,
        c,
        g,
        q,
        ie2,
        hessian,
        free: [s2b > 0.0, true, false],
    }
}
