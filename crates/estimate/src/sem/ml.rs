//! ML and FIML for RAM models ([`super::SemSpec`]): the discrepancy, its analytic gradient, the
//! expected information, Fisher scoring, and the observed information.
//!
//! With `T_g = S_g + (x̄_g − μ_g)(x̄_g − μ_g)ᵀ` the moments of pattern `g` (`n_g` rows, observed
//! columns `O_g`), the function minimised is
//!
//! ```text
//! F(θ) = Σ_g (n_g / N) [log|Σ_OO| + tr(Σ_OO⁻¹ T_g)]   (= −2 log L / N + const)
//! ```
//!
//! (complete data: one pattern; without a mean structure `T = S`). Its differential is
//! `dF = tr(G dΣ) + g_μᵀ dμ` with `G = Σ_g (n_g/N) [W − W T_g W]` and `g_μ = −2 Σ_g (n_g/N) W d_g`
//! (`W = Σ_OO⁻¹`, embedded in `p × p`). Every `∂Σ/∂θ_a` is `s_a (u vᵀ + v uᵀ)` with `u, v`
//! columns of `FA` (`A = (I − B)⁻¹`) or of `F Σ_full`:
//! `∂Σ/∂B_ij = FA_i (FΣ_j)ᵀ + FΣ_j FA_iᵀ`, `∂μ/∂B_ij = FA_i μ_full,j`, `∂Σ/∂Ψ_kl = FA_k FA_lᵀ + FA_l FA_kᵀ`
//! (`½` of that for `k = l`), `∂μ/∂α_k = FA_k`; so the gradient is `2 (FAᵀ G FΣ)_ij`,
//! `2 (FAᵀ G FA)_kl` etc., and the expected information per observation
//! `I_ab = s_a s_b [⟨v_a,u_b⟩⟨u_a,v_b⟩ + ⟨u_a,u_b⟩⟨v_a,v_b⟩] + c_a c_b ⟨FA_i, FA_j⟩`
//! with `⟨x, y⟩ = xᵀ Σ⁻¹ y` (Fisher scoring uses the complete-data information also under FIML).
//!
//! With equality constraints the engine works on the reduced vector `θ*` (`θ = K θ*`, see
//! [`super::spec`]): [`Engine::set_theta`] takes `θ*`, the gradient is `Kᵀ ∂F/∂θ` and the
//! information `Kᵀ I K`; without constraints `K = I` and nothing changes.
//!
//! Standard errors: expected `V = (N I)⁻¹` (lavaan's default for complete data), observed
//! `V = H⁻¹` with `H` the Hessian of `−log L` by the five-point central difference of the analytic
//! gradient with step `1e-6`, symmetrised — lavaan's `lav_model_hessian` (its default under
//! `missing = "ml"`).
//!
//! # References
//! lavaan 0.6-14: `lav_model_gradient`, `lav_model_information_expected`, `lav_model_hessian`;
//! McArdle & McDonald (1984) (RAM); Bollen (1989) ch. 4 and 8; Jamshidian & Bentler (1999) (FIML
//! by patterns).

use super::data::PatternData;
use super::spec::{SemKind, SemSpec};
use crate::error::{Convergence, EvalError, Method};
use crate::linalg::{
    cholesky_in_place, cholesky_logdet, cholesky_solve, gram_of_inverse, implied_covariance,
    inverse_i_minus_beta, triangular_inverse,
};
use nalgebra::{DMatrix, DVector};

/// Which vector of a derivative `s (u vᵀ + v uᵀ)`: a column of `FA` or of `FΣ_full`.
#[derive(Debug, Clone, Copy)]
enum Vector {
    A(usize),
    S(usize),
}

/// The derivative structure of one free parameter.
#[derive(Debug, Clone, Copy)]
struct Derivative {
    u: Vector,
    v: Vector,
    s: f64,
    /// `∂μ = FA_node · coef`, coef = `μ_full[coef_node]` (or 1 when `None`).
    mean: Option<(usize, Option<usize>)>,
}

/// The model matrices and their derived quantities at one θ.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) beta: DMatrix<f64>,
    pub(crate) psi: DMatrix<f64>,
    pub(crate) alpha: Vec<f64>,
    pub(crate) a: DMatrix<f64>,
    pub(crate) sigma_full: DMatrix<f64>,
    pub(crate) mu_full: Vec<f64>,
    pub(crate) sigma: DMatrix<f64>,
    pub(crate) mu: Vec<f64>,
    tmp: DMatrix<f64>,
}

/// Reusable ML/FIML fitter of one [`SemSpec`].
#[derive(Debug, Clone)]
pub(crate) struct Engine<'s> {
    pub(crate) spec: &'s SemSpec,
    derivs: Vec<Derivative>,
    pub(crate) state: State,
    /// Fixed `x` sample covariance (`Ψ` block) and means, per node.
    x_cov: DMatrix<f64>,
    x_mean: Vec<f64>,
    meanstructure: bool,
    /// Per pattern `Σ_OO⁻¹` at the current state, valid after [`Engine::objective`].
    inverses: Vec<DMatrix<f64>>,
    inverses_valid: bool,
    scratch: Vec<f64>,
}

impl<'s> Engine<'s> {
    pub(crate) fn new(spec: &'s SemSpec) -> Engine<'s> {
        let m = spec.nodes.len();
        let p = spec.observed.len();
        let derivs = spec
            .free
            .iter()
            .map(|&k| match spec.rows[k].kind {
                SemKind::Loading { latent, item } => Derivative {
                    u: Vector::A(item),
                    v: Vector::S(latent),
                    s: 1.0,
                    mean: Some((item, Some(latent))),
                },
                SemKind::Regression { outcome, predictor } => Derivative {
                    u: Vector::A(outcome),
                    v: Vector::S(predictor),
                    s: 1.0,
                    mean: Some((outcome, Some(predictor))),
                },
                SemKind::Covariance { a, b } => Derivative {
                    u: Vector::A(a),
                    v: Vector::A(b),
                    s: if a == b { 0.5 } else { 1.0 },
                    mean: None,
                },
                SemKind::Intercept { node } => Derivative {
                    u: Vector::A(node),
                    v: Vector::A(node),
                    s: 0.0,
                    mean: Some((node, None)),
                },
            })
            .collect();
        Engine {
            spec,
            derivs,
            state: State {
                beta: DMatrix::zeros(m, m),
                psi: DMatrix::zeros(m, m),
                alpha: vec![0.0; m],
                a: DMatrix::zeros(m, m),
                sigma_full: DMatrix::zeros(m, m),
                mu_full: vec![0.0; m],
                sigma: DMatrix::zeros(p, p),
                mu: vec![0.0; p],
                tmp: DMatrix::zeros(m, m),
            },
            x_cov: DMatrix::zeros(m, m),
            x_mean: vec![0.0; m],
            meanstructure: spec.options.meanstructure,
            inverses: Vec::new(),
            inverses_valid: false,
            scratch: Vec::new(),
        }
    }

    /// Sets the fixed-`x` sample statistics from the "sample" moments (complete data or the
    /// complete `x` columns).
    pub(crate) fn set_fixed_x(&mut self, cov: &DMatrix<f64>, mean: &[f64]) {
        let obs = &self.spec.observed;
        for (a, &i) in obs.iter().enumerate() {
            self.x_mean[i] = mean[a];
            for (b, &j) in obs.iter().enumerate() {
                self.x_cov[(i, j)] = cov[(a, b)];
            }
        }
    }

    /// Fills `B`, `Ψ`, `α` from `θ*` (`θ = K θ*`) and the fixed rows, then `A`, `Σ_full`,
    /// `μ_full`, `Σ`, `μ`.
    pub(crate) fn set_theta(&mut self, theta: &[f64]) {
        let classes = &self.spec.reduced;
        self.inverses_valid = false;
        let st = &mut self.state;
        st.beta.fill(0.0);
        st.psi.fill(0.0);
        st.alpha.fill(0.0);
        let mut t = 0;
        for q in &self.spec.rows {
            let value = if q.free {
                t += 1;
                theta[classes[t - 1]]
            } else if q.sample_value {
                match q.kind {
                    SemKind::Covariance { a, b } => self.x_cov[(a, b)],
                    SemKind::Intercept { node } => self.x_mean[node],
                    _ => q.value,
                }
            } else {
                q.value
            };
            match q.kind {
                SemKind::Loading { latent, item } => st.beta[(item, latent)] = value,
                SemKind::Regression { outcome, predictor } => st.beta[(outcome, predictor)] = value,
                SemKind::Covariance { a, b } => {
                    st.psi[(a, b)] = value;
                    st.psi[(b, a)] = value;
                }
                SemKind::Intercept { node } => st.alpha[node] = value,
            }
        }
        inverse_i_minus_beta(&st.beta, &mut st.a);
        implied_covariance(&st.a, &st.psi, &mut st.tmp, &mut st.sigma_full);
        let m = st.alpha.len();
        for i in 0..m {
            st.mu_full[i] = (0..=i).map(|k| st.a[(i, k)] * st.alpha[k]).sum();
        }
        let obs = &self.spec.observed;
        for (x, &i) in obs.iter().enumerate() {
            st.mu[x] = st.mu_full[i];
            for (y, &j) in obs.iter().enumerate() {
                st.sigma[(x, y)] = st.sigma_full[(i, j)];
            }
        }
    }

    fn fa(&self) -> DMatrix<f64> {
        let obs = &self.spec.observed;
        let m = self.spec.nodes.len();
        DMatrix::from_fn(obs.len(), m, |x, k| self.state.a[(obs[x], k)])
    }

    fn fs(&self) -> DMatrix<f64> {
        let obs = &self.spec.observed;
        let m = self.spec.nodes.len();
        DMatrix::from_fn(obs.len(), m, |x, k| self.state.sigma_full[(obs[x], k)])
    }

    /// `F(θ)` at the current state (see the module docs), `None` when some `Σ_OO` is not positive
    /// definite.
    pub(crate) fn objective(&mut self, data: &PatternData) -> Option<f64> {
        let nf = data.n as f64;
        let mut f = 0.0;
        self.inverses
            .resize(data.patterns.len(), DMatrix::zeros(0, 0));
        self.inverses_valid = false;
        for (gi, g) in data.patterns.iter().enumerate() {
            let k = g.columns.len();
            let mut u =
                DMatrix::from_fn(k, k, |a, b| self.state.sigma[(g.columns[a], g.columns[b])]);
            if cholesky_in_place(&mut u, k).is_some() {
                return None;
            }
            let logdet = cholesky_logdet(&u, k);
            let w = &mut self.inverses[gi];
            if w.nrows() != k {
                *w = DMatrix::zeros(k, k);
            }
            self.scratch.resize(k * k, 0.0);
            triangular_inverse(&u, k, &mut self.scratch);
            gram_of_inverse(&self.scratch, k, k, w.as_mut_slice());
            let mut tr = 0.0;
            for (x, y) in w.as_slice().iter().zip(g.cov.as_slice()) {
                tr += x * y;
            }
            if self.meanstructure {
                for a in 0..k {
                    let da = g.mean[a] - self.state.mu[g.columns[a]];
                    for b in 0..k {
                        tr += da * w[(a, b)] * (g.mean[b] - self.state.mu[g.columns[b]]);
                    }
                }
            }
            f += g.n as f64 / nf * (logdet + tr);
        }
        self.inverses_valid = true;
        Some(f)
    }

    /// `G` and `g_μ` of the module docs (Σ_OO positive definite assumed).
    fn sigma_gradient(&mut self, data: &PatternData) -> (DMatrix<f64>, Vec<f64>) {
        if !self.inverses_valid {
            self.objective(data);
        }
        let p = self.spec.observed.len();
        let nf = data.n as f64;
        let mut big_g = DMatrix::zeros(p, p);
        let mut g_mu = vec![0.0; p];
        for (gi, g) in data.patterns.iter().enumerate() {
            let k = g.columns.len();
            let w = &self.inverses[gi];
            let mut t = g.cov.clone();
            let mut d = DVector::zeros(k);
            if self.meanstructure {
                for a in 0..k {
                    d[a] = g.mean[a] - self.state.mu[g.columns[a]];
                }
                t += &d * d.transpose();
            }
            let wtw = w * &t * w;
            let wd = w * &d;
            let share = g.n as f64 / nf;
            for a in 0..k {
                for b in 0..k {
                    big_g[(g.columns[a], g.columns[b])] += share * (w[(a, b)] - wtw[(a, b)]);
                }
                g_mu[g.columns[a]] -= 2.0 * share * wd[a];
            }
        }
        (big_g, g_mu)
    }

    /// The analytic gradient `∂F/∂θ* = Kᵀ ∂F/∂θ` at the current state.
    pub(crate) fn gradient(&mut self, data: &PatternData, out: &mut [f64]) {
        if self.spec.has_equality_constraints() {
            let mut full = vec![0.0; self.derivs.len()];
            self.full_gradient(data, &mut full);
            out.fill(0.0);
            for (t, g) in full.iter().enumerate() {
                out[self.spec.reduced[t]] += g;
            }
        } else {
            self.full_gradient(data, out);
        }
    }

    /// The analytic gradient `∂F/∂θ` (one element per free row) at the current state.
    fn full_gradient(&mut self, data: &PatternData, out: &mut [f64]) {
        let (big_g, g_mu) = self.sigma_gradient(data);
        let fa = self.fa();
        let fs = self.fs();
        let k = fa.transpose() * &big_g;
        let ga = &k * &fa;
        let gs = &k * &fs;
        let h_mu = fa.transpose() * DVector::from_vec(g_mu);
        for (t, d) in self.derivs.iter().enumerate() {
            let cov = match (d.u, d.v) {
                (Vector::A(i), Vector::S(j)) => 2.0 * gs[(i, j)],
                (Vector::A(a), Vector::A(b)) => 2.0 * d.s * ga[(a, b)],
                _ => unreachable!("derivatives are (A, S) or (A, A)"),
            };
            let mean = match d.mean {
                Some((node, coef)) if self.meanstructure => {
                    h_mu[node] * coef.map_or(1.0, |j| self.state.mu_full[j])
                }
                _ => 0.0,
            };
            out[t] = if d.s == 0.0 { mean } else { cov + mean };
        }
    }

    /// The expected information per observation of `θ*`, `Kᵀ I K` (complete-data formula), at the
    /// current state. `None` when `Σ` is not positive definite.
    pub(crate) fn expected_information(&self) -> Option<DMatrix<f64>> {
        let full = self.full_expected_information()?;
        if !self.spec.has_equality_constraints() {
            return Some(full);
        }
        let classes = &self.spec.reduced;
        let mut info = DMatrix::zeros(self.spec.n_reduced, self.spec.n_reduced);
        for i in 0..full.nrows() {
            for j in 0..full.ncols() {
                info[(classes[i], classes[j])] += full[(i, j)];
            }
        }
        Some(info)
    }

    /// The expected information per observation of `θ` (one row per free row).
    fn full_expected_information(&self) -> Option<DMatrix<f64>> {
        let p = self.spec.observed.len();
        let cached =
            self.inverses_valid && self.inverses.len() == 1 && self.inverses[0].nrows() == p;
        let sinv = if cached {
            self.inverses[0].clone()
        } else {
            spd_inverse(&self.state.sigma)?
        };
        let fa = self.fa();
        let fs = self.fs();
        let pa = &sinv * &fa;
        let ps = &sinv * &fs;
        let gaa = fa.transpose() * &pa;
        let gas = fa.transpose() * &ps;
        let gss = fs.transpose() * &ps;
        let ip = |x: Vector, y: Vector| match (x, y) {
            (Vector::A(a), Vector::A(b)) => gaa[(a, b)],
            (Vector::A(a), Vector::S(b)) => gas[(a, b)],
            (Vector::S(a), Vector::A(b)) => gas[(b, a)],
            (Vector::S(a), Vector::S(b)) => gss[(a, b)],
        };
        let n = self.derivs.len();
        let mut info = DMatrix::zeros(n, n);
        for i in 0..n {
            let di = self.derivs[i];
            for j in 0..=i {
                let dj = self.derivs[j];
                let mut v = di.s
                    * dj.s
                    * (ip(di.v, dj.u) * ip(di.u, dj.v) + ip(di.u, dj.u) * ip(di.v, dj.v));
                if self.meanstructure {
                    if let (Some((ni, ci)), Some((nj, cj))) = (di.mean, dj.mean) {
                        let c = |c: Option<usize>| c.map_or(1.0, |k| self.state.mu_full[k]);
                        v += c(ci) * c(cj) * gaa[(ni, nj)];
                    }
                }
                info[(i, j)] = v;
                info[(j, i)] = v;
            }
        }
        Some(info)
    }

    /// Fisher scoring from `theta` (updated in place) with step halving.
    ///
    /// # Errors
    /// [`EvalError::NotConverged`], [`EvalError::Unidentified`] (singular information).
    pub(crate) fn fisher_scoring(
        &mut self,
        data: &PatternData,
        theta: &mut [f64],
        max_iterations: usize,
        tolerance: f64,
    ) -> Result<Convergence, EvalError> {
        let n = theta.len();
        let mut grad = vec![0.0; n];
        let mut trial = vec![0.0; n];
        // Quasi-Newton phase: the inverse of the last expected information, BFGS-updated.
        let mut h_inv: Option<DMatrix<f64>> = None;
        let mut fisher_step: Vec<f64> = Vec::with_capacity(n);
        let mut last: Option<(Vec<f64>, Vec<f64>)> = None; // (step taken, gradient before it)
        self.set_theta(theta);
        let mut f = self.objective(data).ok_or_else(not_positive_definite)?;
        for iteration in 0..max_iterations {
            self.gradient(data, &mut grad);
            let gnorm = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            if gnorm < tolerance {
                return Ok(Convergence {
                    method: Method::FisherScoring,
                    iterations: iteration,
                    gradient_norm: gnorm,
                });
            }
            match (&mut h_inv, &last) {
                (Some(h), Some((s_step, g_old))) if gnorm < QUASI_NEWTON_BELOW => {
                    let y: Vec<f64> = grad.iter().zip(g_old).map(|(a, b)| a - b).collect();
                    bfgs_inverse_update(h, s_step, &y);
                }
                _ => {
                    let info = self
                        .expected_information()
                        .ok_or_else(not_positive_definite)?;
                    if gnorm < QUASI_NEWTON_BELOW {
                        h_inv = Some(spd_inverse(&(info * 2.0)).ok_or_else(singular)?);
                    } else {
                        // A plain Fisher step: factor and solve, no inverse.
                        h_inv = None;
                        let mut u = info;
                        if cholesky_in_place(&mut u, n).is_some() {
                            return Err(singular());
                        }
                        fisher_step.clear();
                        fisher_step.extend(grad.iter().map(|g| -0.5 * g));
                        cholesky_solve(&u, n, &mut fisher_step);
                    }
                }
            }
            let step: Vec<f64> = match &h_inv {
                Some(h) => (0..n)
                    .map(|i| -(0..n).map(|j| h[(i, j)] * grad[j]).sum::<f64>())
                    .collect(),
                None => fisher_step.clone(),
            };
            let mut scale = 1.0;
            let mut accepted = false;
            for _ in 0..40 {
                for t in 0..n {
                    trial[t] = theta[t] + scale * step[t];
                }
                self.set_theta(&trial);
                if let Some(ft) = self.objective(data) {
                    if ft <= f + 1e-10 * f.abs().max(1.0) {
                        f = ft;
                        accepted = true;
                        break;
                    }
                }
                scale *= 0.5;
            }
            if !accepted {
                self.set_theta(theta);
                // No decrease possible: at the optimum up to rounding when the gradient is small.
                if gnorm < tolerance.sqrt() {
                    return Ok(Convergence {
                        method: Method::FisherScoring,
                        iterations: iteration,
                        gradient_norm: gnorm,
                    });
                }
                return Err(EvalError::NotConverged {
                    diagnostics: Convergence {
                        method: Method::FisherScoring,
                        iterations: iteration,
                        gradient_norm: gnorm,
                    },
                });
            }
            let taken: Vec<f64> = step.iter().map(|v| v * scale).collect();
            last = Some((taken, grad.clone()));
            theta.copy_from_slice(&trial);
        }
        self.set_theta(theta);
        self.gradient(data, &mut grad);
        let gnorm = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        Err(EvalError::NotConverged {
            diagnostics: Convergence {
                method: Method::FisherScoring,
                iterations: max_iterations,
                gradient_norm: gnorm,
            },
        })
    }

    /// Hessian of `−log L = (N/2) F` at `theta` by lavaan's five-point central difference of the
    /// analytic gradient (step `1e-6`), symmetrised. Leaves the state at `theta`.
    pub(crate) fn observed_information(
        &mut self,
        data: &PatternData,
        theta: &[f64],
    ) -> DMatrix<f64> {
        let n = theta.len();
        let h = 1e-6;
        let mut x = theta.to_vec();
        let mut g = [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        let mut hess = DMatrix::zeros(n, n);
        for j in 0..n {
            for (slot, offset) in [-2.0, -1.0, 1.0, 2.0].iter().enumerate() {
                x[j] = theta[j] + offset * h;
                self.set_theta(&x);
                self.gradient(data, &mut g[slot]);
            }
            x[j] = theta[j];
            for i in 0..n {
                hess[(i, j)] = (g[0][i] - 8.0 * g[1][i] + 8.0 * g[2][i] - g[3][i]) / (12.0 * h);
            }
        }
        self.set_theta(theta);
        let scale = data.n as f64 / 2.0;
        DMatrix::from_fn(n, n, |i, j| scale * 0.5 * (hess[(i, j)] + hess[(j, i)]))
    }
}

/// Below this largest gradient element the fitter keeps the inverse expected information of the
/// last Fisher step and refines it by BFGS updates (superlinear instead of linear convergence,
/// and no information matrix per iteration).
const QUASI_NEWTON_BELOW: f64 = 1e-1;

/// The BFGS update of an inverse Hessian `h` by the step `s` and gradient change `y`:
/// `H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`, `ρ = 1 / yᵀs`; skipped unless `yᵀs > 0`.
///
/// # References
/// Nocedal & Wright (2006), *Numerical Optimization*, eq. 6.17.
fn bfgs_inverse_update(h: &mut DMatrix<f64>, s: &[f64], y: &[f64]) {
    let n = s.len();
    let ys: f64 = y.iter().zip(s).map(|(a, b)| a * b).sum();
    if ys <= 1e-300 {
        return;
    }
    let rho = 1.0 / ys;
    let hy: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[(i, j)] * y[j]).sum())
        .collect();
    let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
    for j in 0..n {
        for i in 0..n {
            h[(i, j)] +=
                -rho * (s[i] * hy[j] + hy[i] * s[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

fn not_positive_definite() -> EvalError {
    EvalError::Unidentified {
        reason: "the model-implied covariance matrix is not positive definite at the start values"
            .into(),
    }
}

pub(crate) fn singular() -> EvalError {
    EvalError::Unidentified {
        reason: "the information matrix is singular at the estimates (empirically \
                 under-identified: e.g. a latent variable with two items and no covariance with \
                 another latent variable)"
            .into(),
    }
}

/// Inverse of a symmetric positive definite matrix, `None` when it is not: Cholesky `Uᵀ U`,
/// `R = U⁻¹`, `R Rᵀ` (about `n³/2` multiply-adds).
pub(crate) fn spd_inverse(m: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let n = m.nrows();
    let r = inverse_cholesky_factor(m)?;
    let mut out = DMatrix::zeros(n, n);
    gram_of_inverse(r.as_slice(), n, n, out.as_mut_slice());
    Some(out)
}

/// `R = U⁻¹` for the Cholesky factor `m = Uᵀ U` (so `m⁻¹ = R Rᵀ`), `None` when `m` is not positive
/// definite. Column `j` of `R` solves `U x = e_j` by column-oriented back substitution on the
/// leading `(j+1) × (j+1)` block (contiguous axpy loops; `n³/6` multiply-adds).
pub(crate) fn inverse_cholesky_factor(m: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let n = m.nrows();
    let mut u = m.clone();
    if cholesky_in_place(&mut u, n).is_some() {
        return None;
    }
    let mut r = DMatrix::zeros(n, n);
    let us = u.as_slice();
    for j in 0..n {
        let col = &mut r.as_mut_slice()[j * n..j * n + j + 1];
        col[j] = 1.0;
        for i in (0..=j).rev() {
            let ci = &us[i * n..i * n + i + 1];
            let xi = col[i] / ci[i];
            col[i] = xi;
            for (c, x) in col[..i].iter_mut().zip(&ci[..i]) {
                *c -= x * xi;
            }
        }
    }
    Some(r)
}
