//! REML for linear mixed models with block-diagonal covariance `V_j = Σₖ ψₖ Gₖⱼ + ψ_e I` per
//! cluster (any nesting inside a leader, e.g. employees measured twice), with dense per-cluster
//! algebra. Used by the long-layout analysis (d); the random-intercept fast path is in
//! [`super::reml`].
//!
//! The fit maximises the restricted likelihood by Fisher scoring (expected information
//! `½ tr(PVᵢPVⱼ)`, score `−½[tr(PVᵢ) − yᵀPVᵢPy]`; Harville 1977, *JASA* 72:320–338) and
//! finishes with Newton steps on the observed Hessian until the relative change of every
//! component is below 1e-12. A component whose estimate reaches 0 is held at 0 (lme4's boundary
//! fit) and marked not free for Satterthwaite's df.

use nalgebra::{DMatrix, DVector};

use super::inference::{pair, VcInference, MAXK};
use super::linalg::{Vect, MAXP, ZERO_MAT, ZERO_VEC};
use super::AnalysisError;

/// One cluster: `n` rows of `X` (row-major, `p` columns), `y`, and the structure matrices of the
/// non-residual components (each `n × n`, row-major).
#[derive(Debug, Clone)]
pub struct DenseCluster {
    /// Rows.
    pub n: usize,
    /// Fixed-effect design, row-major.
    pub x: Vec<f64>,
    /// Response.
    pub y: Vec<f64>,
    /// `Gₖ` for each non-residual component.
    pub g: Vec<Vec<f64>>,
}

/// A dense variance-components fit.
#[derive(Debug, Clone, Copy)]
pub struct DenseFit {
    /// Fixed effects.
    pub beta: Vect,
    /// Variance components, the residual last.
    pub psi: [f64; MAXK],
    /// lme4's REML criterion at the estimates.
    pub reml_criterion: f64,
    /// Scoring and Newton iterations used.
    pub iterations: usize,
    /// Some component is on its boundary (0).
    pub singular: bool,
    /// Matrices for standard errors and df.
    pub inference: VcInference,
}

/// The REML criterion and its derivatives at one ψ.
pub(crate) struct Eval {
    /// lme4's REML criterion `−2ℓ_R`.
    pub(crate) crit: f64,
    /// β̂ at ψ.
    pub(crate) beta: Vect,
    /// `∂(−2ℓ_R)/∂ψᵢ = tr(PVᵢ) − yᵀPVᵢPy`.
    pub(crate) grad: [f64; MAXK],
    /// `C`, `Gᵢ`, `Qᵢⱼ`, expected and observed information at ψ.
    pub(crate) inference: VcInference,
}

fn evaluate(clusters: &[DenseCluster], p: usize, psi: &[f64; MAXK], k: usize) -> Option<Eval> {
    let kr = k - 1;
    let mut xvx = ZERO_MAT;
    let mut xvy = ZERO_VEC;
    let mut logdet = 0.0;
    let mut n_total = 0usize;
    let mut vinvs = Vec::with_capacity(clusters.len());
    for cl in clusters {
        let n = cl.n;
        n_total += n;
        let mut v = DMatrix::<f64>::zeros(n, n);
        for (c, g) in cl.g.iter().enumerate() {
            for a in 0..n {
                for b in 0..n {
                    v[(a, b)] += psi[c] * g[a * n + b];
                }
            }
        }
        for a in 0..n {
            v[(a, a)] += psi[kr];
        }
        let chol = v.cholesky()?;
        logdet += 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
        let vinv = chol.inverse();
        let x = DMatrix::from_row_slice(n, p, &cl.x);
        let y = DVector::from_column_slice(&cl.y);
        let vx = &vinv * &x;
        let xtvx = x.transpose() * &vx;
        let xtvy = vx.transpose() * &y;
        for i in 0..p {
            xvy[i] += xtvy[i];
            for j in 0..p {
                xvx[i][j] += xtvx[(i, j)];
            }
        }
        vinvs.push(vinv);
    }
    let l = super::linalg::cholesky(&xvx, p)?;
    let beta = super::linalg::chol_solve(&l, p, &xvy);
    let c = super::linalg::chol_inverse(&l, p);
    let mut g = [ZERO_MAT; MAXK];
    let mut q = [ZERO_MAT; MAXK * (MAXK + 1) / 2];
    let mut h = [ZERO_VEC; MAXK];
    let mut ktrace = [[0.0; MAXK]; MAXK];
    let mut eqe = [[0.0; MAXK]; MAXK];
    let mut trv = [0.0; MAXK];
    let mut ewe = [0.0; MAXK];
    let mut quad_e = 0.0;
    for (cl, vinv) in clusters.iter().zip(&vinvs) {
        let n = cl.n;
        let x = DMatrix::from_row_slice(n, p, &cl.x);
        let bvec = DVector::from_column_slice(&beta[..p]);
        let e = DVector::from_column_slice(&cl.y) - &x * bvec;
        let ve = vinv * &e;
        quad_e += e.dot(&ve);
        let vx = vinv * &x;
        let comps: Vec<DMatrix<f64>> = (0..k)
            .map(|c| {
                if c < kr {
                    DMatrix::from_row_slice(n, n, &cl.g[c])
                } else {
                    DMatrix::identity(n, n)
                }
            })
            .collect();
        // Wᵢ = V⁻¹ Gᵢ V⁻¹
        let w: Vec<DMatrix<f64>> = comps.iter().map(|gc| vinv * gc * vinv).collect();
        for i in 0..k {
            let gi = x.transpose() * &w[i] * &x;
            let hi = x.transpose() * &w[i] * &e;
            trv[i] += (vinv * &comps[i]).trace();
            ewe[i] += e.dot(&(&w[i] * &e));
            for r in 0..p {
                h[i][r] += hi[r];
                for s in 0..p {
                    g[i][r][s] += gi[(r, s)];
                }
            }
            for j in i..k {
                let wg = &w[i] * &comps[j];
                let qij = x.transpose() * &wg * &vx;
                let idx = pair(i, j, k);
                for r in 0..p {
                    for s in 0..p {
                        q[idx][r][s] += qij[(r, s)];
                    }
                }
                ktrace[i][j] += wg.trace();
                eqe[i][j] += e.dot(&(&wg * &ve));
            }
        }
    }
    let mut ie2 = [[0.0; MAXK]; MAXK];
    let mut hessian = [[0.0; MAXK]; MAXK];
    let mut grad = [0.0; MAXK];
    for i in 0..k {
        let cgi = super::linalg::mul(&c, &g[i], p);
        grad[i] = trv[i] - super::linalg::trace_mul(&c, &g[i], p) - ewe[i];
        for j in i..k {
            let cgj = super::linalg::mul(&c, &g[j], p);
            let t = ktrace[i][j] - 2.0 * super::linalg::trace_mul(&c, &q[pair(i, j, k)], p)
                + super::linalg::trace_mul(&cgi, &cgj, p);
            ie2[i][j] = t;
            ie2[j][i] = t;
            let hv = -t + 2.0 * (eqe[i][j] - super::linalg::quad(&h[i], &c, &h[j], p));
            hessian[i][j] = hv;
            hessian[j][i] = hv;
        }
    }
    let crit = logdet
        + super::linalg::chol_logdet(&l, p)
        + quad_e
        + (n_total - p) as f64 * (2.0 * std::f64::consts::PI).ln();
    let mut free = [false; MAXK];
    for i in 0..k {
        free[i] = psi[i] > 0.0;
    }
    Some(Eval {
        crit,
        beta,
        grad,
        inference: VcInference {
            p,
            k,
            c,
            g,
            q,
            ie2,
            hessian,
            free,
        },
    })
}

/// Solves the `m × m` system `a x = b` (m ≤ MAXK) on the free components.
fn solve_free(
    a: &[[f64; MAXK]; MAXK],
    b: &[f64; MAXK],
    free: &[bool; MAXK],
    k: usize,
) -> Option<[f64; MAXK]> {
    let idx: Vec<usize> = (0..k).filter(|&i| free[i]).collect();
    let m = idx.len();
    let mut am = DMatrix::<f64>::zeros(m, m);
    let mut bm = DVector::<f64>::zeros(m);
    for (r, &i) in idx.iter().enumerate() {
        bm[r] = b[i];
        for (s, &j) in idx.iter().enumerate() {
            am[(r, s)] = a[i][j];
        }
    }
    let x = am.lu().solve(&bm)?;
    let mut out = [0.0; MAXK];
    for (r, &i) in idx.iter().enumerate() {
        out[i] = x[r];
    }
    Some(out)
}

/// Fits the model by REML. `k` counts the residual; `clusters[j].g.len() == k − 1`.
pub fn fit_dense(clusters: &[DenseCluster], p: usize, k: usize) -> Result<DenseFit, AnalysisError> {
    let what = "mixed model (long layout)";
    if p > MAXP || !(2..=MAXK).contains(&k) {
        return Err(AnalysisError::TooManyColumns { p, max: MAXP });
    }
    let n: usize = clusters.iter().map(|c| c.n).sum();
    if n <= p {
        return Err(AnalysisError::TooFewObservations {
            what,
            n,
            needed: p + 1,
        });
    }
    let yy: Vec<f64> = clusters.iter().flat_map(|c| c.y.iter().copied()).collect();
    let fit = fit_by_scoring(k, total_variance(&yy), what, |psi| {
        evaluate(clusters, p, psi, k)
    })?;
    Ok(DenseFit {
        beta: fit.eval.beta,
        psi: fit.psi,
        reml_criterion: fit.eval.crit,
        iterations: fit.iterations,
        singular: fit.singular,
        inference: fit.eval.inference,
    })
}

/// The sample variance of the outcome (the scale of the start values).
pub(crate) fn total_variance(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0)
}

/// A converged fit of [`fit_by_scoring`].
pub(crate) struct ScoringFit {
    pub(crate) psi: [f64; MAXK],
    pub(crate) eval: Eval,
    pub(crate) iterations: usize,
    pub(crate) singular: bool,
}

/// Backtracking along `step` from `psi` (halving up to 60 times): the first trial point whose
/// criterion does not exceed the current one (to 1e-12 relative; 1e-9 absolute when a component
/// was clamped to its boundary 0). `None` when no such point exists.
fn line_search<F>(
    psi: &[f64; MAXK],
    step: &[f64; MAXK],
    free: &[bool; MAXK],
    k: usize,
    cur: &Eval,
    evaluate: &mut F,
) -> Option<([f64; MAXK], Eval)>
where
    F: FnMut(&[f64; MAXK]) -> Option<Eval>,
{
    let mut t = 1.0;
    for _ in 0..60 {
        let mut trial = *psi;
        for i in 0..k {
            if free[i] {
                trial[i] = psi[i] + t * step[i];
            }
        }
        let mut clamped = false;
        for v in trial.iter_mut().take(k - 1) {
            if *v <= 0.0 {
                *v = 0.0;
                clamped = true;
            }
        }
        if trial[k - 1] > 0.0 {
            if let Some(ev) = evaluate(&trial) {
                if ev.crit <= cur.crit + 1e-12 * cur.crit.abs()
                    || clamped && ev.crit <= cur.crit + 1e-9
                {
                    return Some((trial, ev));
                }
            }
        }
        t *= 0.5;
    }
    None
}

/// Maximises the restricted likelihood over `k` variance components (the residual last) given
/// `evaluate(ψ)` (criterion, β̂, gradient, analytic Hessian and inference matrices at ψ): Fisher
/// scoring from `ψ = var/k` each, then Newton steps on the observed Hessian once the relative
/// change is below 1e-6, until it is below 1e-12. A step that takes a component below 0 puts it
/// on 0 (lme4's boundary); a component on 0 takes part in the next step only when the gradient
/// points into the interior (Karush–Kuhn–Tucker), so a transient visit to 0 is not final.
pub(crate) fn fit_by_scoring<F>(
    k: usize,
    var: f64,
    what: &'static str,
    mut evaluate: F,
) -> Result<ScoringFit, AnalysisError>
where
    F: FnMut(&[f64; MAXK]) -> Option<Eval>,
{
    let mut psi = [0.0; MAXK];
    for c in psi.iter_mut().take(k) {
        *c = var / k as f64;
    }
    let mut cur = evaluate(&psi).ok_or(AnalysisError::RankDeficient { what })?;
    let mut iterations = 0;
    let mut newton = false;
    loop {
        iterations += 1;
        if iterations > 500 {
            return Err(AnalysisError::NotConverged { what });
        }
        let mut free = [false; MAXK];
        for i in 0..k {
            free[i] = psi[i] > 0.0 || cur.grad[i] < 0.0;
        }
        // Fisher scoring: ψ += (½ IE2)⁻¹ (−½ grad); Newton: ψ −= H⁻¹ grad
        let mut neg = [0.0; MAXK];
        for i in 0..k {
            neg[i] = -cur.grad[i];
        }
        let step = if newton {
            solve_free(&cur.inference.hessian, &neg, &free, k)
                .or_else(|| solve_free(&cur.inference.ie2, &neg, &free, k))
        } else {
            solve_free(&cur.inference.ie2, &neg, &free, k)
        }
        .ok_or(AnalysisError::NotConverged { what })?;
        let accepted = line_search(&psi, &step, &free, k, &cur, &mut evaluate);
        let Some((next, ev)) = accepted else {
            // no decrease possible: at the optimum to working precision
            break;
        };
        let change = (0..k)
            .map(|i| (next[i] - psi[i]).abs() / psi[i].abs().max(1e-8 * var))
            .fold(0.0, f64::max);
        psi = next;
        cur = ev;
        if change < 1e-6 {
            newton = true;
        }
        if change < 1e-12 {
            break;
        }
    }
    let singular = (0..k - 1).any(|i| psi[i] <= 0.0);
    Ok(ScoringFit {
        psi,
        eval: cur,
        iterations,
        singular,
    })
}
