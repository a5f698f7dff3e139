//! REML for the long layout of a pre/post cluster trial with a leader-by-time variance component,
//!
//! `y = Xβ + a_leader + c_leader,time + u_employee + e`, in lme4's notation
//! `y ~ time * arm + (1 | leader) + (1 | leader:time) + (1 | leader:employee)`,
//!
//! the standard model of a cluster-randomised pre/post trial with a cohort (Teerenstra et al.
//! 2012, *Stat Med* 31:2169–2178; Hooper et al. 2016, *Stat Med* 35:4718–4728): leader means may
//! change between waves, by `c` — a model without it ([`Components::stable_leader`], also fitted
//! here) takes every leader's change as exactly shared and its test of `time:arm` is too liberal
//! when leaders differ in their change.
//!
//! # Algebra (all closed form, from per-employee sums; no dense per-leader matrices)
//! Within leader `j`, `D = σ²_e I + σ²_u Z_u Z_uᵀ` is block-diagonal over employees with
//! `D_i⁻¹ = σ_e⁻²(I − w_i J)`, `w_i = σ²_u κ_i`, `κ_i = 1/(σ²_e + m_iσ²_u)` (`m_i` rows of employee
//! `i`). The leader and leader-by-time intercepts are `F Γ Fᵀ` with `F` the `n × T` wave
//! indicators and `Γ = σ²_c I_T + σ²_a J_T` (`1 = F 1_T`), so by Woodbury
//!
//! `V⁻¹ = D⁻¹ − D⁻¹F M FᵀD⁻¹`, `M = Γ (I + KΓ)⁻¹` (symmetric), `K = FᵀD⁻¹F`,
//! `log|V| = log|D| + log|I + KΓ|` (no `Γ⁻¹`: a zero variance needs no special case).
//!
//! Every form the REML criterion and its derivatives need is `AᵀV⁻¹B` with `A, B` among
//! `X, y, F, Z_u` and follows from `AᵀD⁻¹B` by the rank-`T` correction: with `R = I − KM`,
//! `FᵀV⁻¹X = R FᵀD⁻¹X`, `FᵀV⁻¹F = RK`, `Z_uᵀV⁻¹F = Nᵀ Rᵀ` (`N` the `T × E` matrix of columns
//! `κ_i n_i`, `n_i` the employee's rows per wave), `Z_uᵀV⁻¹Z_u = diag(m_iκ_i) − NᵀMN`. With
//! `V_k = Z_k Z_kᵀ` for the leader, leader-by-time and employee components:
//! `G_k = XᵀV⁻¹V_kV⁻¹X = (Z_kᵀV⁻¹X)ᵀ(Z_kᵀV⁻¹X)`, `Q_kl = (Z_kᵀV⁻¹X)ᵀ(Z_kᵀV⁻¹Z_l)(Z_lᵀV⁻¹X)`,
//! `tr(V⁻¹V_kV⁻¹V_l) = ‖Z_kᵀV⁻¹Z_l‖²_F`, `tr(V⁻¹V_k) = tr(Z_kᵀV⁻¹Z_k)`, and the same with `e`
//! (`e = y − Xβ̂`, `Py = V⁻¹e`) in place of `X`. The residual component (`V_e = I`) follows from
//! homogeneity, `Σ_k ψ_k V_k = V`: `Σ_k ψ_k G_k = XᵀV⁻¹X`, `Σ_l ψ_l Q_kl = G_k`,
//! `Σ_l ψ_l tr(V⁻¹V_kV⁻¹V_l) = tr(V⁻¹V_k)`, `Σ_k ψ_k tr(V⁻¹V_k) = N`, `Σ_k ψ_k XᵀV⁻¹V_kV⁻¹e =
//! XᵀV⁻¹e = 0`, so nothing of size `n × n` is ever formed.
//!
//! From these [`VcInference`] gives Satterthwaite's df (lmerTest: gradient of `L C Lᵀ` from
//! `∂C/∂ψ_k = −C G_k C` and the observed Hessian of the REML deviance, both analytic) and
//! Kenward–Roger's (pbkrtest). The fit is Fisher scoring then Newton on the analytic Hessian
//! ([`super::dense::fit_by_scoring`]), converged to a relative change of 1e-12.

use super::dense::{fit_by_scoring, total_variance, Eval};
use super::inference::{pair, VcInference, MAXK};
use super::linalg::{
    chol_inverse, chol_logdet, chol_solve, cholesky, dot, mul, quad, trace_mul, Mat, Vect, MAXP,
    ZERO_MAT, ZERO_VEC,
};
use super::AnalysisError;

/// Most waves (levels of `time`) per leader.
pub const MAXT: usize = 4;

type TMat = [[f64; MAXT]; MAXT];
type TVec = [f64; MAXT];
const ZERO_T: TMat = [[0.0; MAXT]; MAXT];

/// Which non-residual variance components the model has (the leader intercept and the employee
/// intercept always; the leader-by-time intercept optionally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Components {
    /// Include `(1 | leader:time)`.
    pub leader_time: bool,
}

impl Components {
    /// `(1 | leader) + (1 | leader:time) + (1 | leader:employee)`: the default long model.
    pub const LEADER_TIME: Components = Components { leader_time: true };

    /// `(1 | leader) + (1 | leader:employee)`: assumes every leader's mean changes by the same
    /// amount between waves (no leader-by-time variance).
    pub fn stable_leader() -> Components {
        Components { leader_time: false }
    }

    /// Number of variance components, the residual included.
    pub fn k(self) -> usize {
        if self.leader_time {
            4
        } else {
            3
        }
    }
}

/// One employee's sums: rows per wave, `Σx` and `Σy` per wave, and over waves.
#[derive(Debug, Clone, Copy)]
struct Employee {
    m: f64,
    n: TVec,
    sx_t: [Vect; MAXT],
    sy_t: TVec,
    sx: Vect,
    sy: f64,
}

/// Sufficient statistics of the long model: per employee and wave sums, grouped by leader.
#[derive(Debug, Clone, Default)]
pub struct LeaderTimeStats {
    p: usize,
    waves: usize,
    n_obs: f64,
    sxx: Mat,
    sxy: Vect,
    syy: f64,
    employees: Vec<Employee>,
    /// `employees[leaders[j].0..leaders[j].1]` belong to leader `j` (leaders with data only).
    leaders: Vec<(usize, usize)>,
    /// The outcome values (for the start value's scale).
    y: Vec<f64>,
}

/// One row of a long data set: leader, employee, wave level, fixed-effect row, outcome.
#[derive(Debug, Clone, Copy)]
pub struct LongRow<'a> {
    /// Leader (dense index).
    pub leader: usize,
    /// Employee (any id; unique within the data).
    pub employee: usize,
    /// Wave level `0..waves`.
    pub wave: usize,
    /// Fixed-effect row (`p` entries).
    pub x: &'a [f64],
    /// Outcome.
    pub y: f64,
}

impl LeaderTimeStats {
    /// Sums rows into the statistics; `waves` levels of time, `p` fixed effects.
    ///
    /// # Errors
    /// More than [`MAXT`] waves or [`MAXP`] columns; a wave level out of range; an employee under
    /// two leaders.
    pub fn from_rows<'a>(
        p: usize,
        waves: usize,
        rows: impl Iterator<Item = LongRow<'a>>,
    ) -> Result<Self, AnalysisError> {
        if p == 0 || p > MAXP {
            return Err(AnalysisError::TooManyColumns { p, max: MAXP });
        }
        if waves == 0 || waves > MAXT {
            return Err(AnalysisError::BadInput(format!(
                "{waves} waves; the long model supports 1 to {MAXT}"
            )));
        }
        let mut rows: Vec<LongRow> = rows.collect();
        rows.sort_by_key(|r| (r.leader, r.employee));
        let mut s = LeaderTimeStats {
            p,
            waves,
            ..Default::default()
        };
        let mut k = 0;
        while k < rows.len() {
            let leader = rows[k].leader;
            let start = s.employees.len();
            while k < rows.len() && rows[k].leader == leader {
                let id = rows[k].employee;
                let mut e = Employee {
                    m: 0.0,
                    n: [0.0; MAXT],
                    sx_t: [ZERO_VEC; MAXT],
                    sy_t: [0.0; MAXT],
                    sx: ZERO_VEC,
                    sy: 0.0,
                };
                while k < rows.len() && rows[k].leader == leader && rows[k].employee == id {
                    let r = rows[k];
                    if r.wave >= waves {
                        return Err(AnalysisError::BadInput(format!(
                            "wave level {} is not below {waves}",
                            r.wave
                        )));
                    }
                    e.m += 1.0;
                    e.n[r.wave] += 1.0;
                    e.sy_t[r.wave] += r.y;
                    e.sy += r.y;
                    s.syy += r.y * r.y;
                    s.y.push(r.y);
                    for a in 0..p {
                        e.sx_t[r.wave][a] += r.x[a];
                        e.sx[a] += r.x[a];
                        s.sxy[a] += r.x[a] * r.y;
                        for b in 0..p {
                            s.sxx[a][b] += r.x[a] * r.x[b];
                        }
                    }
                    k += 1;
                }
                s.n_obs += e.m;
                s.employees.push(e);
            }
            s.leaders.push((start, s.employees.len()));
        }
        // an employee id under two leaders would appear in two leader blocks
        let mut ids: Vec<(usize, usize)> = rows.iter().map(|r| (r.employee, r.leader)).collect();
        ids.sort_unstable();
        ids.dedup();
        if let Some(w) = ids.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(AnalysisError::BadInput(format!(
                "employee {} appears under two leaders ({} and {})",
                w[0].0, w[0].1, w[1].1
            )));
        }
        Ok(s)
    }

    /// Observations.
    pub fn n_obs(&self) -> f64 {
        self.n_obs
    }

    /// Leaders with data.
    pub fn n_leaders(&self) -> usize {
        self.leaders.len()
    }
}

/// Per-leader pieces of pass 1 kept for the derivative pass.
#[derive(Clone, Copy)]
struct LeaderPart {
    k: TMat,
    m: TMat,
    fx: [Vect; MAXT],
    fy: TVec,
}

fn t_mul(a: &TMat, b: &TMat, t: usize) -> TMat {
    let mut c = ZERO_T;
    for i in 0..t {
        for j in 0..t {
            c[i][j] = (0..t).map(|l| a[i][l] * b[l][j]).sum();
        }
    }
    c
}

fn t_vec(a: &TMat, v: &TVec, t: usize) -> TVec {
    let mut c = [0.0; MAXT];
    for i in 0..t {
        c[i] = (0..t).map(|l| a[i][l] * v[l]).sum();
    }
    c
}

/// Inverse and log-determinant of a general `t × t` matrix (Gauss–Jordan, partial pivoting);
/// `None` when singular or the determinant is not positive.
fn t_inverse_logdet(a: &TMat, t: usize) -> Option<(TMat, f64)> {
    let mut m = *a;
    let mut inv = ZERO_T;
    for i in 0..t {
        inv[i][i] = 1.0;
    }
    let mut logdet = 0.0;
    let mut sign = 1.0;
    for c in 0..t {
        let piv = (c..t).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if !(m[piv][c].abs() > 0.0) {
            return None;
        }
        if piv != c {
            m.swap(piv, c);
            inv.swap(piv, c);
            sign = -sign;
        }
        let d = m[c][c];
        sign *= d.signum();
        logdet += d.abs().ln();
        for j in 0..t {
            m[c][j] /= d;
            inv[c][j] /= d;
        }
        for i in 0..t {
            if i != c {
                let f = m[i][c];
                for j in 0..t {
                    m[i][j] -= f * m[c][j];
                    inv[i][j] -= f * inv[c][j];
                }
            }
        }
    }
    (sign > 0.0).then_some((inv, logdet))
}

/// `Σ_t a[t] · rows[t]` (a `p`-vector).
fn combine(a: &TVec, rows: &[Vect; MAXT], t: usize, p: usize) -> Vect {
    let mut out = ZERO_VEC;
    for s in 0..t {
        for r in 0..p {
            out[r] += a[s] * rows[s][r];
        }
    }
    out
}

/// `Aᵀ B` for `t × p` row blocks `A`, `B` (a `p × p` matrix).
fn cross(a: &[Vect; MAXT], b: &[Vect; MAXT], t: usize, p: usize) -> Mat {
    let mut out = ZERO_MAT;
    for s in 0..t {
        for r in 0..p {
            for c in 0..p {
                out[r][c] += a[s][r] * b[s][c];
            }
        }
    }
    out
}

/// `M · rows` for a `t × t` matrix and `t × p` rows.
fn t_rows(m: &TMat, rows: &[Vect; MAXT], t: usize, p: usize) -> [Vect; MAXT] {
    let mut out = [ZERO_VEC; MAXT];
    for i in 0..t {
        for l in 0..t {
            for r in 0..p {
                out[i][r] += m[i][l] * rows[l][r];
            }
        }
    }
    out
}

fn outer_add(a: &mut Mat, s: f64, u: &Vect, v: &Vect, p: usize) {
    for r in 0..p {
        for c in 0..p {
            a[r][c] += s * u[r] * v[c];
        }
    }
}

/// Pass 1 at ψ = (σ²_a, σ²_c, σ²_u, σ²_e): `XᵀV⁻¹X`, `XᵀV⁻¹y`, `yᵀV⁻¹y`, `log|V|` and the
/// per-leader pieces.
fn pass_one(
    s: &LeaderTimeStats,
    psi: [f64; 4],
    parts: &mut Vec<LeaderPart>,
) -> Option<(Mat, Vect, f64, f64)> {
    let (p, t) = (s.p, s.waves);
    let [s2a, s2c, s2u, s2e] = psi;
    let inv_e = 1.0 / s2e;
    let mut xvx = ZERO_MAT;
    let mut xvy = ZERO_VEC;
    let mut yvy = s.syy * inv_e;
    for a in 0..p {
        xvy[a] = s.sxy[a] * inv_e;
        for b in 0..p {
            xvx[a][b] = s.sxx[a][b] * inv_e;
        }
    }
    let mut logdet = 0.0;
    let mut gamma = ZERO_T;
    for i in 0..t {
        for j in 0..t {
            gamma[i][j] = s2a + if i == j { s2c } else { 0.0 };
        }
    }
    parts.clear();
    for &(lo, hi) in &s.leaders {
        let mut k = ZERO_T;
        let mut fx = [ZERO_VEC; MAXT];
        let mut fy = [0.0; MAXT];
        for e in &s.employees[lo..hi] {
            let kappa = 1.0 / (s2e + e.m * s2u);
            let w = s2u * kappa;
            logdet += e.m * s2e.ln() + (e.m * s2u / s2e).ln_1p();
            yvy -= inv_e * w * e.sy * e.sy;
            for a in 0..p {
                xvy[a] -= inv_e * w * e.sx[a] * e.sy;
                for b in 0..p {
                    xvx[a][b] -= inv_e * w * e.sx[a] * e.sx[b];
                }
            }
            for i in 0..t {
                k[i][i] += inv_e * e.n[i];
                fy[i] += inv_e * (e.sy_t[i] - w * e.n[i] * e.sy);
                for j in 0..t {
                    k[i][j] -= inv_e * w * e.n[i] * e.n[j];
                }
                for a in 0..p {
                    fx[i][a] += inv_e * (e.sx_t[i][a] - w * e.n[i] * e.sx[a]);
                }
            }
        }
        let mut b = t_mul(&k, &gamma, t);
        for i in 0..t {
            b[i][i] += 1.0;
        }
        let (binv, ld) = t_inverse_logdet(&b, t)?;
        logdet += ld;
        let m = t_mul(&gamma, &binv, t);
        let mfx = t_rows(&m, &fx, t, p);
        let mfy = t_vec(&m, &fy, t);
        yvy -= (0..t).map(|i| fy[i] * mfy[i]).sum::<f64>();
        for i in 0..t {
            for a in 0..p {
                xvy[a] -= fx[i][a] * mfy[i];
                for c in 0..p {
                    xvx[a][c] -= fx[i][a] * mfx[i][c];
                }
            }
        }
        parts.push(LeaderPart { k, m, fx, fy });
    }
    Some((xvx, xvy, yvy, logdet))
}

/// Sums over leaders of the non-residual components' forms, indexed a = 0 (leader),
/// c = 1 (leader × time), u = 2 (employee).
#[derive(Default)]
struct Forms {
    g: [Mat; 3],
    q: [[Mat; 3]; 3],
    h: [Vect; 3],
    trv: [f64; 3],
    ktrace: [[f64; 3]; 3],
    ewe: [f64; 3],
    eqe: [[f64; 3]; 3],
}

/// The employee component's per-leader sums: `P_u = Σ κ_i n_i rowᵢᵀ`, `S = Σ κ_i² n_i n_iᵀ`,
/// `N f_u = Σ κ_i n_i f_u,i`.
struct EmployeeSums {
    pu: [Vect; MAXT],
    sm: TMat,
    nf: TVec,
}

/// One leader's employees: adds their terms of the employee component's `G`, `Q`, `h`,
/// `eᵀV⁻¹V_uV⁻¹e`, `tr(V⁻¹V_u)` and `tr(V⁻¹V_uV⁻¹V_u)` to `f` (before the leader's rank-`T`
/// corrections) and returns the sums those corrections need. `row_i = κ_i(sx_i − FXᵀM n_i)` is
/// employee `i`'s row of `Z_uᵀV⁻¹X` and `f_u,i = κ_i(r_i − n_iᵀM Fe)` its entry of `Z_uᵀV⁻¹e`.
fn employee_forms(
    employees: &[Employee],
    (s2u, s2e): (f64, f64),
    part: &LeaderPart,
    mfe: &TVec,
    beta: &Vect,
    (t, p): (usize, usize),
    f: &mut Forms,
) -> EmployeeSums {
    let m = &part.m;
    let mut pu = [ZERO_VEC; MAXT];
    let mut sm = ZERO_T;
    let mut nf = [0.0; MAXT];
    for e in employees {
        let kappa = 1.0 / (s2e + e.m * s2u);
        let mn = t_vec(m, &e.n, t);
        let fxmn = combine(&mn, &part.fx, t, p);
        let mut row = ZERO_VEC;
        for a in 0..p {
            row[a] = kappa * (e.sx[a] - fxmn[a]);
        }
        let resid = e.sy - dot(&e.sx, beta, p);
        let nmfe: f64 = (0..t).map(|i| e.n[i] * mfe[i]).sum();
        let fu = kappa * (resid - nmfe);
        let mk = e.m * kappa;
        outer_add(&mut f.g[2], 1.0, &row, &row, p);
        outer_add(&mut f.q[2][2], mk, &row, &row, p);
        for i in 0..t {
            for a in 0..p {
                pu[i][a] += kappa * e.n[i] * row[a];
            }
            for j in 0..t {
                sm[i][j] += kappa * kappa * e.n[i] * e.n[j];
            }
            nf[i] += kappa * e.n[i] * fu;
        }
        for a in 0..p {
            f.h[2][a] += row[a] * fu;
        }
        f.ewe[2] += fu * fu;
        f.eqe[2][2] += mk * fu * fu;
        f.trv[2] += mk;
        let nmn: f64 = (0..t).map(|i| e.n[i] * mn[i]).sum();
        f.ktrace[2][2] += mk * mk - 2.0 * mk * kappa * kappa * nmn;
    }
    EmployeeSums { pu, sm, nf }
}

/// One leader's rank-`T` corrections of the employee component and its leader (`a`) and
/// leader × time (`c`) terms, added to `f`: with `R = I − KM`, `FᵀV⁻¹X = R·FX` (`rfx`),
/// `FᵀV⁻¹e = R·Fe` (`fc`), `FᵀV⁻¹F = RK`, `FᵀV⁻¹Z_u = RN`, and `1 = F 1_T` for the leader.
fn leader_corrections(
    (k, m, r): (&TMat, &TMat, &TMat),
    (rfx, fc): (&[Vect; MAXT], &TVec),
    sums: &EmployeeSums,
    (t, p): (usize, usize),
    f: &mut Forms,
) {
    let (pu, sm, nf) = (&sums.pu, &sums.sm, &sums.nf);
    let rk = t_mul(r, k, t);
    let ones = [1.0; MAXT];
    let orfx = combine(&ones, rfx, t, p);
    let fa: f64 = fc[..t].iter().sum();
    let rk1 = t_vec(&rk, &ones, t);
    let ork1: f64 = rk1[..t].iter().sum();
    let mpu = t_rows(m, pu, t, p);
    let puqpu = cross(pu, &mpu, t, p);
    let ms = t_mul(m, sm, t);
    let msms = t_mul(&ms, &ms, t);
    let mnf = t_vec(m, nf, t);
    for a in 0..p {
        for b in 0..p {
            f.q[2][2][a][b] -= puqpu[a][b];
        }
    }
    f.eqe[2][2] -= (0..t).map(|i| nf[i] * mnf[i]).sum::<f64>();
    f.trv[2] -= (0..t).map(|i| ms[i][i]).sum::<f64>();
    f.ktrace[2][2] += (0..t).map(|i| msms[i][i]).sum::<f64>();
    // leader × time (c) and leader (a)
    let rkrfx = t_rows(&rk, rfx, t, p);
    let rpu = t_rows(r, pu, t, p);
    let rnf = t_vec(r, nf, t);
    let rs = t_mul(r, sm, t);
    let mut rsr = ZERO_T;
    for i in 0..t {
        for j in 0..t {
            rsr[i][j] = (0..t).map(|l| rs[i][l] * r[j][l]).sum();
        }
    }
    let g_c = cross(rfx, rfx, t, p);
    let q_cc = cross(rfx, &rkrfx, t, p);
    let q_cu = cross(rfx, &rpu, t, p);
    let orpu = combine(&ones, &rpu, t, p);
    let v_ac = combine(&rk1, rfx, t, p);
    for a in 0..p {
        f.h[1][a] += (0..t).map(|i| rfx[i][a] * fc[i]).sum::<f64>();
        f.h[0][a] += orfx[a] * fa;
        for b in 0..p {
            f.g[1][a][b] += g_c[a][b];
            f.q[1][1][a][b] += q_cc[a][b];
            f.q[1][2][a][b] += q_cu[a][b];
            f.g[0][a][b] += orfx[a] * orfx[b];
            f.q[0][0][a][b] += ork1 * orfx[a] * orfx[b];
            f.q[0][1][a][b] += orfx[a] * v_ac[b];
            f.q[0][2][a][b] += orfx[a] * orpu[b];
        }
    }
    f.trv[1] += (0..t).map(|i| rk[i][i]).sum::<f64>();
    f.trv[0] += ork1;
    f.ktrace[1][1] += (0..t)
        .flat_map(|i| (0..t).map(move |j| (i, j)))
        .map(|(i, j)| rk[i][j] * rk[i][j])
        .sum::<f64>();
    f.ktrace[0][0] += ork1 * ork1;
    f.ktrace[0][1] += rk1[..t].iter().map(|v| v * v).sum::<f64>();
    f.ktrace[1][2] += (0..t).map(|i| rsr[i][i]).sum::<f64>();
    f.ktrace[0][2] += rsr[..t]
        .iter()
        .map(|row| row[..t].iter().sum::<f64>())
        .sum::<f64>();
    f.ewe[1] += fc[..t].iter().map(|v| v * v).sum::<f64>();
    f.ewe[0] += fa * fa;
    let rkfc = t_vec(&rk, fc, t);
    f.eqe[1][1] += (0..t).map(|i| fc[i] * rkfc[i]).sum::<f64>();
    f.eqe[0][0] += ork1 * fa * fa;
    f.eqe[0][1] += fa * (0..t).map(|i| rk1[i] * fc[i]).sum::<f64>();
    f.eqe[1][2] += (0..t).map(|i| fc[i] * rnf[i]).sum::<f64>();
    f.eqe[0][2] += fa * rnf[..t].iter().sum::<f64>();
}

/// The derivative pass: the forms of [`Forms`] at ψ with β̂.
fn pass_two(s: &LeaderTimeStats, psi: [f64; 4], parts: &[LeaderPart], beta: &Vect) -> Forms {
    let (p, t) = (s.p, s.waves);
    let [_, _, s2u, s2e] = psi;
    let mut f = Forms::default();
    for (&(lo, hi), part) in s.leaders.iter().zip(parts) {
        let (k, m) = (&part.k, &part.m);
        let km = t_mul(k, m, t);
        let mut r = ZERO_T;
        for i in 0..t {
            for j in 0..t {
                r[i][j] = f64::from(u8::from(i == j)) - km[i][j];
            }
        }
        let mut fe = [0.0; MAXT];
        for i in 0..t {
            fe[i] = part.fy[i] - dot(&part.fx[i], beta, p);
        }
        let rfx = t_rows(&r, &part.fx, t, p);
        let fc = t_vec(&r, &fe, t);
        let mfe = t_vec(m, &fe, t);
        let sums = employee_forms(
            &s.employees[lo..hi],
            (s2u, s2e),
            part,
            &mfe,
            beta,
            (t, p),
            &mut f,
        );
        leader_corrections((k, m, &r), (&rfx, &fc), &sums, (t, p), &mut f);
    }
    f
}

/// The forms of a model's components (non-residual ones from [`Forms`], the residual last),
/// in the layout of [`VcInference`].
struct ComponentForms {
    k: usize,
    g: [Mat; MAXK],
    q: [Mat; MAXK * (MAXK + 1) / 2],
    h: [Vect; MAXK],
    trv: [f64; MAXK],
    ewe: [f64; MAXK],
    ktrace: [[f64; MAXK]; MAXK],
    eqe: [[f64; MAXK]; MAXK],
}

/// The non-residual components `comps[..k−1]` (indices into a, c, u) of `f`.
fn select_components(f: &Forms, comps: &[usize]) -> ComponentForms {
    let k = comps.len();
    let kr = k - 1;
    let mut out = ComponentForms {
        k,
        g: [ZERO_MAT; MAXK],
        q: [ZERO_MAT; MAXK * (MAXK + 1) / 2],
        h: [ZERO_VEC; MAXK],
        trv: [0.0; MAXK],
        ewe: [0.0; MAXK],
        ktrace: [[0.0; MAXK]; MAXK],
        eqe: [[0.0; MAXK]; MAXK],
    };
    for i in 0..kr {
        let a = comps[i];
        out.g[i] = f.g[a];
        out.h[i] = f.h[a];
        out.trv[i] = f.trv[a];
        out.ewe[i] = f.ewe[a];
        for j in 0..kr {
            // forms are stored for a ≤ b; comps is increasing
            let (lo, hi) = (comps[i.min(j)], comps[i.max(j)]);
            out.ktrace[i][j] = f.ktrace[lo][hi];
            out.eqe[i][j] = f.eqe[lo][hi];
            if i <= j {
                out.q[pair(i, j, k)] = f.q[lo][hi];
            }
        }
    }
    out
}

/// `Q_ij` for any order (`Q_ji = Q_ijᵀ`).
fn q_of(cf: &ComponentForms, i: usize, j: usize, p: usize) -> Mat {
    if i <= j {
        cf.q[pair(i, j, cf.k)]
    } else {
        transpose(&cf.q[pair(j, i, cf.k)], p)
    }
}

fn divide(m: &mut Mat, d: f64, p: usize) {
    for row in m.iter_mut().take(p) {
        for v in row.iter_mut().take(p) {
            *v /= d;
        }
    }
}

/// Fills the residual component's forms by homogeneity (`Σ_k ψ_k V_k = V`, see the module doc)
/// from `XᵀV⁻¹X`, `N` and `eᵀV⁻¹e`; `psi[i]` are the non-residual variances, `s2e` the residual.
fn add_residual(
    cf: &mut ComponentForms,
    psi: &[f64],
    s2e: f64,
    xvx: &Mat,
    (n_obs, rss): (f64, f64),
    p: usize,
) {
    let kr = cf.k - 1;
    let mut ge = *xvx;
    let mut he = ZERO_VEC;
    let (mut trv_e, mut ewe_e) = (n_obs, rss);
    for i in 0..kr {
        for a in 0..p {
            he[a] -= psi[i] * cf.h[i][a] / s2e;
            for b in 0..p {
                ge[a][b] -= psi[i] * cf.g[i][a][b];
            }
        }
        trv_e -= psi[i] * cf.trv[i];
        ewe_e -= psi[i] * cf.ewe[i];
    }
    divide(&mut ge, s2e, p);
    cf.g[kr] = ge;
    cf.h[kr] = he;
    cf.trv[kr] = trv_e / s2e;
    cf.ewe[kr] = ewe_e / s2e;
    // Q_ie = (G_i − Σ_l ψ_l Q_il) / ψ_e, and the same for the traces and e-forms; then Q_ee
    for i in 0..=kr {
        let mut m = cf.g[i];
        let (mut kt, mut eq) = (cf.trv[i], cf.ewe[i]);
        for j in 0..kr {
            let qij = q_of(cf, i, j, p);
            for a in 0..p {
                for b in 0..p {
                    m[a][b] -= psi[j] * qij[a][b];
                }
            }
            kt -= psi[j] * cf.ktrace[i][j];
            eq -= psi[j] * cf.eqe[i][j];
        }
        divide(&mut m, s2e, p);
        cf.q[pair(i, kr, cf.k)] = m;
        cf.ktrace[i][kr] = kt / s2e;
        cf.ktrace[kr][i] = kt / s2e;
        cf.eqe[i][kr] = eq / s2e;
        cf.eqe[kr][i] = eq / s2e;
    }
}

/// The REML criterion, β̂, gradient and inference matrices at ψ (full order a, c, u, e); the
/// model's components are `comps` (indices into that order, residual last).
fn evaluate(
    s: &LeaderTimeStats,
    psi_full: [f64; 4],
    comps: &[usize],
    parts: &mut Vec<LeaderPart>,
) -> Option<Eval> {
    let p = s.p;
    let (xvx, xvy, yvy, logdet) = pass_one(s, psi_full, parts)?;
    let l = cholesky(&xvx, p)?;
    let beta = chol_solve(&l, p, &xvy);
    let c = chol_inverse(&l, p);
    let rss = yvy - dot(&beta, &xvy, p);
    if !(rss > 0.0) {
        return None;
    }
    let dof = s.n_obs - p as f64;
    let crit = logdet + chol_logdet(&l, p) + rss + dof * (2.0 * std::f64::consts::PI).ln();
    let forms = pass_two(s, psi_full, parts, &beta);
    let mut cf = select_components(&forms, comps);
    let k = cf.k;
    let psi: Vec<f64> = comps.iter().map(|&i| psi_full[i]).collect();
    add_residual(&mut cf, &psi[..k - 1], psi_full[3], &xvx, (s.n_obs, rss), p);
    let mut ie2 = [[0.0; MAXK]; MAXK];
    let mut hessian = [[0.0; MAXK]; MAXK];
    let mut grad = [0.0; MAXK];
    let cg: Vec<Mat> = (0..k).map(|i| mul(&c, &cf.g[i], p)).collect();
    for i in 0..k {
        grad[i] = cf.trv[i] - trace_mul(&c, &cf.g[i], p) - cf.ewe[i];
        for j in i..k {
            let tr = cf.ktrace[i][j] - 2.0 * trace_mul(&c, &cf.q[pair(i, j, k)], p)
                + trace_mul(&cg[i], &cg[j], p);
            ie2[i][j] = tr;
            ie2[j][i] = tr;
            let hv = -tr + 2.0 * (cf.eqe[i][j] - quad(&cf.h[i], &c, &cf.h[j], p));
            hessian[i][j] = hv;
            hessian[j][i] = hv;
        }
    }
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
            g: cf.g,
            q: cf.q,
            ie2,
            hessian,
            free,
        },
    })
}

fn transpose(a: &Mat, p: usize) -> Mat {
    let mut t = ZERO_MAT;
    for i in 0..p {
        for j in 0..p {
            t[i][j] = a[j][i];
        }
    }
    t
}

/// A REML fit of the long model.
#[derive(Debug, Clone, Copy)]
pub struct LeaderTimeFit {
    /// Fixed effects.
    pub beta: Vect,
    /// (σ²_leader, σ²_leader×time, σ²_employee, σ²_e); σ²_leader×time is 0 when the model
    /// has no such component.
    pub psi: [f64; 4],
    /// lme4's REML criterion at the estimates.
    pub reml_criterion: f64,
    /// Some variance component is estimated as 0 (lme4's "boundary (singular) fit").
    pub singular: bool,
    /// Scoring and Newton iterations.
    pub iterations: usize,
    /// The components fitted.
    pub components: Components,
    /// Matrices for SEs and Satterthwaite / Kenward–Roger df.
    pub inference: VcInference,
}

/// Fits the long model with `components` by REML.
///
/// # Errors
/// Too few observations or leaders; a rank-deficient design; no convergence.
pub fn fit_leader_time(
    s: &LeaderTimeStats,
    components: Components,
) -> Result<LeaderTimeFit, AnalysisError> {
    let what = "mixed model (long layout)";
    let p = s.p;
    if s.n_obs <= p as f64 + 1.0 || s.leaders.len() < 2 {
        return Err(AnalysisError::TooFewObservations {
            what,
            n: s.n_obs as usize,
            needed: p + 2,
        });
    }
    let comps: &[usize] = if components.leader_time {
        &[0, 1, 2, 3]
    } else {
        &[0, 2, 3]
    };
    let k = comps.len();
    let mut parts = Vec::with_capacity(s.leaders.len());
    let full = |psi: &[f64; MAXK]| {
        let mut f = [0.0; 4];
        for (i, &c) in comps.iter().enumerate() {
            f[c] = psi[i];
        }
        f
    };
    let fit = fit_by_scoring(k, total_variance(&s.y), what, |psi| {
        evaluate(s, full(psi), comps, &mut parts)
    })?;
    Ok(LeaderTimeFit {
        beta: fit.eval.beta,
        psi: full(&fit.psi),
        reml_criterion: fit.eval.crit,
        singular: fit.singular,
        iterations: fit.iterations,
        components,
        inference: fit.eval.inference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small unbalanced long data set: 6 leaders, 2–5 employees, some waves missing.
    fn stats() -> LeaderTimeStats {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        let mut rows: Vec<(usize, usize, usize, [f64; 4], f64)> = Vec::new();
        let mut id = 0;
        for j in 0..6 {
            let arm = (j % 2) as f64;
            let (a, c0, c1) = (next(), 0.5 * next(), 0.5 * next());
            for _ in 0..2 + j % 4 {
                id += 1;
                let u = next();
                for t in 0..2 {
                    if (id + t) % 5 == 0 {
                        continue;
                    }
                    let tf = t as f64;
                    let y = 0.3 * tf * arm + a + if t == 0 { c0 } else { c1 } + u + next();
                    rows.push((j, id, t, [1.0, tf, arm, tf * arm], y));
                }
            }
        }
        LeaderTimeStats::from_rows(
            4,
            2,
            rows.iter().map(|(l, e, w, x, y)| LongRow {
                leader: *l,
                employee: *e,
                wave: *w,
                x,
                y: *y,
            }),
        )
        .expect("stats")
    }

    fn eval(s: &LeaderTimeStats, psi: [f64; 4]) -> Eval {
        evaluate(s, psi, &[0, 1, 2, 3], &mut Vec::new()).expect("evaluates")
    }

    fn close(a: f64, b: f64, tol: f64, what: &str) {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1e-3),
            "{what}: analytic {a:.10e}, finite difference {b:.10e}"
        );
    }

    /// The analytic gradient and observed Hessian of the REML deviance and the Jacobian of
    /// `C = (XᵀV⁻¹X)⁻¹` (`∂C/∂ψᵢ = C Gᵢ C`), which Satterthwaite's df are made of, equal central
    /// differences (step 1e-5; truncation and rounding error ≲ 1e-7 relative here).
    #[test]
    fn analytic_derivatives_equal_finite_differences() {
        let s = stats();
        let psi = [0.2, 0.1, 0.5, 0.4];
        let at = eval(&s, psi);
        let p = 4;
        let h = 1e-5;
        for i in 0..4 {
            let mut up = psi;
            let mut down = psi;
            up[i] += h;
            down[i] -= h;
            let (eu, ed) = (eval(&s, up), eval(&s, down));
            close(
                at.grad[i],
                (eu.crit - ed.crit) / (2.0 * h),
                1e-6,
                &format!("gradient {i}"),
            );
            for j in 0..4 {
                close(
                    at.inference.hessian[j][i],
                    (eu.grad[j] - ed.grad[j]) / (2.0 * h),
                    1e-6,
                    &format!("Hessian {j},{i}"),
                );
            }
            let cgc = mul(
                &mul(&at.inference.c, &at.inference.g[i], p),
                &at.inference.c,
                p,
            );
            for a in 0..p {
                for b in 0..p {
                    close(
                        cgc[a][b],
                        (eu.inference.c[a][b] - ed.inference.c[a][b]) / (2.0 * h),
                        1e-6,
                        &format!("dC/dψ{i} [{a}][{b}]"),
                    );
                }
            }
        }
    }
}
