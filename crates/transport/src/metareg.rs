//! Meta-regression as metafor 3.8-1's `rma.uni(yi, vi, mods = ~ x + factor(g), method, test)`,
//! and the nine τ² estimators it shares with the intercept-only model of [`crate::meta`].
//!
//! Model: `y = Xβ + u + e`, `u ~ N(0, τ²I)`, `e ~ N(0, diag(v))`, with `X` an intercept column and
//! the moderators (continuous columns as given, a categorical moderator as dummy columns for every
//! level but the first, as R's treatment contrasts). With weights `w = 1/(v + τ²)`, `W = diag(w)`:
//! `β̂ = (XᵀWX)⁻¹XᵀWy`, `Var β̂ = (XᵀWX)⁻¹`, and `P = W − WX(XᵀWX)⁻¹XᵀW`.
//!
//! τ² estimators, each as in metafor's `R/rma.uni.r` (3.8-1), p = number of coefficients,
//! `Y` the centred estimates, every estimate truncated at 0 (`tau2.min`):
//! * `FE`: τ² = 0.
//! * `DL` (DerSimonian–Laird; Raudenbush 2009 for p > 1): `(YᵀP₀Y − (k − p)) / tr P₀` with
//!   `P₀` at `w = 1/v`; `SE = √((2(k−p) + 4τ² tr P₀ + 2τ⁴ tr P₀P₀)) / tr P₀`.
//! * `HE` (Hedges 1983): `(YᵀP_OLS Y − tr(P_OLS V)) / (k − p)` with `P_OLS = I − X(XᵀX)⁻¹Xᵀ`,
//!   `V = diag(v)`; `SE = √(2 tr(PVPV) + 4τ² tr(PV) + 2τ⁴(k−p)) / (k − p)`.
//! * `HS` (Hunter–Schmidt): `(YᵀP₀Y − k) / Σ(1/v)`;
//!   `SE = √(2(k−p) + 4τ² tr P₀ + 2τ⁴ tr P₀P₀) / Σ(1/v)`.
//! * `SJ` (Sidik–Jonkman 2005): `τ₀² = Σ(y − ȳ)²/k`, then `τ₀² · YᵀP(τ₀²)Y / (k − p)`;
//!   `SE = τ₀²/(k−p) · √(2 tr(PVPV) + 4τ² tr(PVP) + 2τ⁴ tr(PP))` with `P = P(τ₀²)`.
//! * `ML`, `REML`, `EB` (Viechtbauer 2005; Morris 1983): Fisher scoring from `max(0, HE)`,
//!   steps `ML: (YᵀPPY − Σw)/Σw²`, `REML: (YᵀPPY − tr P)/tr(PP)`,
//!   `EB: (YᵀPY·k/(k−p) − k)/Σw`, halved while they would make τ² negative, until the change
//!   falls below 1e-12 (metafor's default `threshold` is 1e-5; the references are run with 1e-12).
//!   When scoring has not settled after 100 steps (it can cycle), the root of the same estimating
//!   equation is found by bisection. For ML and REML, τ² is set to 0 when the log-likelihood at 0
//!   exceeds that at the estimate (metafor's `ll0check`). `SE`: ML `√(2/Σw²)`, REML
//!   `√(2/tr(PP))`, EB `√(2k²/(k−p)) / Σw`.
//! * `PM` (Paule–Mandel 1982): the root of `YᵀP(τ²)Y = k − p` (0 when `YᵀP₀Y < k − p`), by
//!   bisection to machine precision (metafor: `uniroot` on `[0, tau2.max]`, and an error when the
//!   root exceeds `tau2.max`, default `max(100, 10·mad(y)²)`; balans has no upper limit);
//!   `SE = √(2k²/(k−p)) / Σw`.
//!
//! Tests: Wald z for each coefficient, or Knapp–Hartung (`test = "knha"`): `Var β̂` scaled by
//! `s² = YᵀPY/(k − p)` and t(k − p). The omnibus test of the moderators (all coefficients but the
//! intercept, m of them) `QM = β̂ᵀ(Var β̂)⁻¹β̂` against χ²(m), or `QM/m` against F(m, k − p) under
//! Knapp–Hartung. Residual heterogeneity `QE = YᵀP₀Y` against χ²(k − p); `I² = τ²/(τ² + ṽ)`,
//! `H² = (τ² + ṽ)/ṽ` with `ṽ = (k − p)/tr P₀` (FE: `I² = max(0, (QE − (k−p))/QE)`,
//! `H² = QE/(k − p)`). Pseudo-R² (Raudenbush 2009; metafor's `r2def = "1"`):
//! `max(0, 100(τ²₀ − τ²)/τ²₀)` with τ²₀ the same estimator's τ² of the intercept-only model
//! (0 when τ²₀ = 0); FE models: `max(0, 100·adjusted R²)` of the weighted least-squares fit.
//! Predictions at moderator values `x₀`: `x₀ᵀβ̂ ± crit·√(x₀ᵀ Var β̂ x₀)` and the prediction
//! interval `± crit·√(x₀ᵀ Var β̂ x₀ + τ²)` (metafor's `predict.rma`).
//!
//! A sampling variance of 0: as metafor, ML, REML, EB, HE and SJ fit when τ̂² > 0 (the weights
//! `1/(v + τ²)` stay finite; a τ² of 0 is refused as metafor's "Division by zero"), QE, I² and H²
//! are not defined (`None`, metafor's `NA`), and FE, DL, PM and HS are refused (their weights are
//! `1/v`).
//!
//! k = 1 (intercept only): as metafor, τ² = 0 for every method, the z test (metafor warns
//! "Setting argument test="z" since k=1"), QE = 0, I² = 0, H² = 1; the result carries a note.
//!
//! # References
//! DerSimonian & Laird (1986); Hedges (1983), *Psychol. Bull.* 93; Hunter & Schmidt (2004);
//! Sidik & Jonkman (2005), *Stat. Med.* 24; Paule & Mandel (1982), *J. Res. NBS* 87; Morris
//! (1983), *JASA* 78; Viechtbauer (2005), *JEBS* 30; Raudenbush (2009), in *The Handbook of
//! Research Synthesis*, 2nd ed.; Knapp & Hartung (2003), *Stat. Med.* 22; Viechtbauer (2010),
//! metafor, *J. Stat. Softw.* 36(3), and metafor 3.8-1 `R/rma.uni.r`.

use crate::dist::{pchisq_upper, pnorm_upper, pt_upper, qnorm, qt};
use crate::meta::{Study, TauMethod};
use crate::TransportError;
use serde::Serialize;

/// Largest magnitude of an estimate, a moderator value or a sampling variance the fit accepts:
/// the estimating equations multiply squared weights by squared residuals (`YᵀPPY`), and cubes of
/// weights (`tr PP`), which overflow double precision beyond these bounds.
pub const MAX_MAGNITUDE: f64 = 1e50;
/// Smallest positive sampling variance the fit accepts (its weight `1/v` is at most 1e50; see
/// [`MAX_MAGNITUDE`]).
pub const MIN_VARIANCE: f64 = 1e-50;
/// The estimators metafor fits with a sampling variance of 0 (its `allvipos` is not required):
/// their weights are `1/(v + τ²)` with τ² > 0, or unweighted (HE).
pub const ZERO_VARIANCE_METHODS: [TauMethod; 5] = [
    TauMethod::ML,
    TauMethod::REML,
    TauMethod::EB,
    TauMethod::HE,
    TauMethod::SJ,
];
/// Most coefficients (intercept, continuous moderators, dummies) of a meta-regression: far above
/// what k studies can support, and a bound on the `p × p` matrices and the `k·p²` work per step.
pub const MAX_COEFFICIENTS: usize = 200;
/// Fisher-scoring steps before the bisection fallback (metafor's default `maxiter`).
const SCORING_STEPS: usize = 100;
/// Convergence threshold of Fisher scoring on τ² (metafor `control = list(threshold = 1e-12)`).
const THRESHOLD: f64 = 1e-12;
/// Most halvings of a bisection (each halves the bracket; 2100 reach any double).
const MAX_BISECTIONS: usize = 2200;
/// Pivot below which `XᵀX` (columns scaled to unit length) is taken as rank deficient (metafor
/// refuses a model matrix whose `XᵀX` has an eigenvalue ≤ 1e-7).
const RANK_TOLERANCE: f64 = 1e-10;

/// A moderator of a meta-regression: one value per study.
#[derive(Debug, Clone, PartialEq)]
pub enum Moderator {
    /// A continuous moderator (one coefficient).
    Continuous {
        /// Name (the coefficient's name).
        name: String,
        /// Values, one per study.
        values: Vec<f64>,
    },
    /// A categorical moderator, dummy coded with the first level as reference (R's `factor()`:
    /// levels sorted, numerically when every level is a number; coefficients `factor(g)level`).
    Categorical {
        /// Name.
        name: String,
        /// Levels, one per study.
        values: Vec<String>,
    },
}

impl Moderator {
    fn name(&self) -> &str {
        match self {
            Moderator::Continuous { name, .. } | Moderator::Categorical { name, .. } => name,
        }
    }
}

/// What a column of the model matrix stands for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Term {
    /// The intercept (`intrcpt`).
    Intercept,
    /// A continuous moderator.
    Continuous {
        /// Its name.
        moderator: String,
    },
    /// The dummy of one level of a categorical moderator.
    Level {
        /// The moderator.
        moderator: String,
        /// The level (1 for studies at it, 0 otherwise).
        level: String,
    },
}

/// The model matrix `X` (k × p, row-major) with its column names (metafor's: `intrcpt`, `x`,
/// `factor(g)b`).
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    names: Vec<String>,
    terms: Vec<Term>,
    /// The levels of each categorical moderator, reference first.
    levels: Vec<(String, Vec<String>)>,
    x: Vec<f64>,
    k: usize,
}

/// R's `factor()` level order: numeric when every level reads as a number, else byte order
/// (R sorts strings in the locale's collation; the two agree for levels of one letter case).
fn sorted_levels(values: &[String]) -> Vec<String> {
    let mut levels: Vec<String> = values.to_vec();
    levels.sort();
    levels.dedup();
    let numeric: Option<Vec<f64>> = levels.iter().map(|l| l.parse::<f64>().ok()).collect();
    if let Some(nums) = numeric {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(levels).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        pairs.into_iter().map(|p| p.1).collect()
    } else {
        levels
    }
}

impl Design {
    /// The intercept-only design of `k` studies.
    pub fn intercept(k: usize) -> Design {
        Design {
            names: vec!["intrcpt".into()],
            terms: vec![Term::Intercept],
            levels: Vec::new(),
            x: vec![1.0; k],
            k,
        }
    }

    /// The design of an intercept and `moderators` for `k` studies.
    ///
    /// # Errors
    /// A moderator with a number of values other than `k`, a non-finite or too large value, a
    /// repeated name, a categorical moderator with one level, or a model matrix that is not of
    /// full rank (the moderator that repeats the others is named).
    pub fn new(k: usize, moderators: &[Moderator]) -> Result<Design, TransportError> {
        // Bound p before anything of size k × p or p × p is allocated.
        let p: usize = 1 + moderators
            .iter()
            .map(|m| match m {
                Moderator::Continuous { .. } => 1,
                Moderator::Categorical { values, .. } => sorted_levels(values).len().max(1) - 1,
            })
            .sum::<usize>();
        if p > MAX_COEFFICIENTS {
            return Err(TransportError::invalid(
                "number of coefficients of the moderators",
                p,
                format!("at most {MAX_COEFFICIENTS} (each level of a categorical moderator but the first is one coefficient; the fit takes k·p² operations per step)"),
            ));
        }
        let mut names = vec!["intrcpt".to_string()];
        let mut terms = vec![Term::Intercept];
        let mut levels_of = Vec::new();
        let mut columns: Vec<Vec<f64>> = vec![vec![1.0; k]];
        for (i, m) in moderators.iter().enumerate() {
            if moderators[..i].iter().any(|o| o.name() == m.name()) {
                return Err(TransportError::invalid(
                    "moderator",
                    m.name(),
                    "each moderator once",
                ));
            }
            match m {
                Moderator::Continuous { name, values } => {
                    check_count(name, values.len(), k)?;
                    if let Some((j, v)) = values
                        .iter()
                        .enumerate()
                        .find(|(_, v)| !(v.is_finite() && v.abs() <= MAX_MAGNITUDE))
                    {
                        return Err(TransportError::invalid(
                            format!("moderator '{name}' of study {}", j + 1),
                            v,
                            format!("a finite number of magnitude at most {MAX_MAGNITUDE:e}"),
                        ));
                    }
                    names.push(name.clone());
                    terms.push(Term::Continuous {
                        moderator: name.clone(),
                    });
                    columns.push(values.clone());
                }
                Moderator::Categorical { name, values } => {
                    check_count(name, values.len(), k)?;
                    let levels = sorted_levels(values);
                    if levels.len() < 2 {
                        return Err(TransportError::invalid(
                            format!("categorical moderator '{name}'"),
                            format!("{} level(s)", levels.len()),
                            "at least two levels among the studies analysed (one level has no contrast to estimate)",
                        ));
                    }
                    for level in &levels[1..] {
                        names.push(format!("factor({name}){level}"));
                        terms.push(Term::Level {
                            moderator: name.clone(),
                            level: level.clone(),
                        });
                        columns.push(
                            values
                                .iter()
                                .map(|v| if v == level { 1.0 } else { 0.0 })
                                .collect(),
                        );
                    }
                    levels_of.push((name.clone(), levels));
                }
            }
        }
        let p = columns.len();
        let mut x = vec![0.0; k * p];
        for (j, col) in columns.iter().enumerate() {
            for (i, v) in col.iter().enumerate() {
                x[i * p + j] = *v;
            }
        }
        let design = Design {
            names,
            terms,
            levels: levels_of,
            x,
            k,
        };
        design.check_rank()?;
        Ok(design)
    }

    /// Number of coefficients p.
    pub fn p(&self) -> usize {
        self.names.len()
    }

    /// Number of studies k.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The coefficient names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn row(&self, i: usize) -> &[f64] {
        let p = self.p();
        &self.x[i * p..(i + 1) * p]
    }

    /// Refuses a model matrix that is not of full column rank: a Cholesky factorisation of `XᵀX`
    /// with unit-length columns, whose first vanishing pivot names the redundant coefficient.
    fn check_rank(&self) -> Result<(), TransportError> {
        let p = self.p();
        let mut xtx = self.cross(&vec![1.0; self.k]);
        let scale: Vec<f64> = (0..p).map(|j| xtx[j * p + j].sqrt()).collect();
        for (j, s) in scale.iter().enumerate() {
            if *s == 0.0 {
                return Err(self.redundant(j));
            }
        }
        for a in 0..p {
            for b in 0..p {
                xtx[a * p + b] /= scale[a] * scale[b];
            }
        }
        match cholesky(&xtx, p) {
            Ok(_) => Ok(()),
            Err(j) => Err(self.redundant(j)),
        }
    }

    fn redundant(&self, j: usize) -> TransportError {
        TransportError::invalid(
            "the moderators",
            format!("coefficient '{}'", self.names[j]),
            "moderators that are not linear combinations of each other and of the intercept (metafor drops redundant predictors with a warning; balans asks you to choose: drop one, or merge levels)",
        )
    }

    /// `Xᵀ diag(d) X` (p × p, row-major).
    fn cross(&self, d: &[f64]) -> Vec<f64> {
        let p = self.p();
        let mut m = vec![0.0; p * p];
        for (i, di) in d.iter().enumerate() {
            let r = self.row(i);
            for a in 0..p {
                let ra = r[a] * di;
                for b in 0..p {
                    m[a * p + b] += ra * r[b];
                }
            }
        }
        m
    }

    /// The model-matrix row of new moderator values (metafor's `newmods`).
    ///
    /// # Errors
    /// A moderator without a value, an unknown moderator, a level the data do not have, a
    /// non-numeric value for a continuous moderator.
    pub fn new_row(&self, values: &[(String, String)]) -> Result<Vec<f64>, TransportError> {
        for (i, (name, _)) in values.iter().enumerate() {
            if values[..i].iter().any(|(n, _)| n == name) {
                return Err(TransportError::invalid(
                    "prediction moderator",
                    name,
                    "one value per moderator (it is given twice)",
                ));
            }
            let known = self.terms.iter().any(|t| match t {
                Term::Intercept => false,
                Term::Continuous { moderator } | Term::Level { moderator, .. } => moderator == name,
            });
            if !known {
                return Err(TransportError::invalid(
                    "prediction moderator",
                    name,
                    format!(
                        "one of the model's moderators: {}",
                        self.moderator_names().join(", ")
                    ),
                ));
            }
        }
        let value_of = |name: &str| -> Result<&str, TransportError> {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    TransportError::invalid(
                        "prediction",
                        format!("no value for moderator '{name}'"),
                        "a value for every moderator of the model",
                    )
                })
        };
        for (name, levels) in &self.levels {
            let v = value_of(name)?;
            if !levels.iter().any(|l| l == v) {
                return Err(TransportError::invalid(
                    format!("prediction level of '{name}'"),
                    v,
                    format!("one of the levels in the data: {}", levels.join(", ")),
                ));
            }
        }
        let mut row = Vec::with_capacity(self.p());
        for t in &self.terms {
            row.push(match t {
                Term::Intercept => 1.0,
                Term::Continuous { moderator } => {
                    let v = value_of(moderator)?;
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && x.abs() <= MAX_MAGNITUDE)
                        .ok_or_else(|| {
                            TransportError::invalid(
                                format!("prediction value of '{moderator}'"),
                                v,
                                "a finite number (the moderator is continuous)",
                            )
                        })?
                }
                Term::Level { moderator, level } => {
                    if value_of(moderator)? == level {
                        1.0
                    } else {
                        0.0
                    }
                }
            });
        }
        Ok(row)
    }

    fn moderator_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.terms {
            if let Term::Continuous { moderator } | Term::Level { moderator, .. } = t {
                if !out.contains(moderator) {
                    out.push(moderator.clone());
                }
            }
        }
        out
    }
}

fn check_count(name: &str, n: usize, k: usize) -> Result<(), TransportError> {
    if n == k {
        Ok(())
    } else {
        Err(TransportError::invalid(
            format!("number of values of moderator '{name}'"),
            n,
            format!("one per study ({k})"),
        ))
    }
}

/// Cholesky factor `L` (row-major, lower) of a symmetric positive-definite `p × p` matrix, or the
/// index of the first pivot not above [`RANK_TOLERANCE`] times the diagonal.
fn cholesky(a: &[f64], p: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; p * p];
    for j in 0..p {
        let mut d = a[j * p + j];
        for m in 0..j {
            d -= l[j * p + m] * l[j * p + m];
        }
        if d.is_nan() || d <= RANK_TOLERANCE * a[j * p + j].abs() || !d.is_finite() {
            return Err(j);
        }
        let d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for m in 0..j {
                s -= l[i * p + m] * l[j * p + m];
            }
            l[i * p + j] = s / d;
        }
    }
    Ok(l)
}

/// The inverse of a symmetric positive-definite matrix from its Cholesky factor.
fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p).ok()?;
    // L⁻¹ by forward substitution, then A⁻¹ = L⁻ᵀL⁻¹.
    let mut li = vec![0.0; p * p];
    for c in 0..p {
        for i in c..p {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for m in c..i {
                s -= l[i * p + m] * li[m * p + c];
            }
            li[i * p + c] = s / l[i * p + i];
        }
    }
    let mut inv = vec![0.0; p * p];
    for a_ in 0..p {
        for b in 0..p {
            let mut s = 0.0;
            for m in a_.max(b)..p {
                s += li[m * p + a_] * li[m * p + b];
            }
            inv[a_ * p + b] = s;
        }
    }
    Some(inv)
}

fn quad(a: &[f64], x: &[f64], p: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..p {
        for j in 0..p {
            s += x[i] * a[i * p + j] * x[j];
        }
    }
    s
}

/// `tr(AB)` of two `p × p` matrices.
fn trace_ab(a: &[f64], b: &[f64], p: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..p {
        for j in 0..p {
            s += a[i * p + j] * b[j * p + i];
        }
    }
    s
}

/// The weighted least-squares fit at weights `w` and the pieces of `P = W − WX(XᵀWX)⁻¹XᵀW`
/// every estimator needs, in O(k p²) without forming the k × k matrix `P`.
struct Weighted<'a> {
    design: &'a Design,
    w: Vec<f64>,
    /// `(XᵀWX)⁻¹`.
    a: Vec<f64>,
    beta: Vec<f64>,
    /// `y − Xβ̂`.
    resid: Vec<f64>,
    /// `h_ii = x_iᵀ(XᵀWX)⁻¹x_i`.
    h: Vec<f64>,
}

impl<'a> Weighted<'a> {
    fn new(design: &'a Design, y: &[f64], w: Vec<f64>) -> Result<Weighted<'a>, TransportError> {
        let p = design.p();
        if p == 1 {
            // The intercept-only model (X = 1): A = 1/Σw, β̂ = Σwy/Σw, h_ii = 1/Σw, without the
            // matrix machinery (the Monte Carlo users of meta_analyse call this many times).
            let (mut sw, mut swy) = (0.0, 0.0);
            for (wi, yi) in w.iter().zip(y) {
                sw += wi;
                swy += wi * yi;
            }
            if !(sw.is_finite() && sw > 0.0) {
                return Err(TransportError::Model(
                    "numerical failure: the sum of the weights is not a positive finite number"
                        .into(),
                ));
            }
            let mu = swy / sw;
            return Ok(Weighted {
                design,
                resid: y.iter().map(|yi| yi - mu).collect(),
                h: vec![1.0 / sw; w.len()],
                w,
                a: vec![1.0 / sw],
                beta: vec![mu],
            });
        }
        let a = spd_inverse(&design.cross(&w), p).ok_or_else(|| {
            TransportError::Model(
                "numerical failure: the weighted cross-product XᵀWX of the moderators is singular at these weights"
                    .into(),
            )
        })?;
        let mut xtwy = vec![0.0; p];
        for (i, (wi, yi)) in w.iter().zip(y).enumerate() {
            for (c, x) in design.row(i).iter().enumerate() {
                xtwy[c] += x * wi * yi;
            }
        }
        let beta: Vec<f64> = (0..p)
            .map(|r| (0..p).map(|c| a[r * p + c] * xtwy[c]).sum())
            .collect();
        let mut resid = Vec::with_capacity(y.len());
        let mut h = Vec::with_capacity(y.len());
        for (i, yi) in y.iter().enumerate() {
            let r = design.row(i);
            resid.push(yi - r.iter().zip(&beta).map(|(x, b)| x * b).sum::<f64>());
            h.push(quad(&a, r, p));
        }
        Ok(Weighted {
            design,
            w,
            a,
            beta,
            resid,
            h,
        })
    }

    /// `YᵀPY = Σ w r²` (P annihilates X, so centring Y does not matter).
    fn ypy(&self) -> f64 {
        self.w.iter().zip(&self.resid).map(|(w, r)| w * r * r).sum()
    }

    /// `YᵀPPY = Σ (w r)²` (`PY = W r`).
    fn yppy(&self) -> f64 {
        self.w
            .iter()
            .zip(&self.resid)
            .map(|(w, r)| (w * r).powi(2))
            .sum()
    }

    /// `tr(P D) = Σ (w_i − w_i² h_ii) d_i`.
    fn trace_pd(&self, d: impl Fn(usize) -> f64) -> f64 {
        (0..self.w.len())
            .map(|i| (self.w[i] - self.w[i] * self.w[i] * self.h[i]) * d(i))
            .sum()
    }

    /// `Σ_ij P_ij² a_i b_j = Σ w²ab − 2Σ w³h ab + tr(A XᵀD(w²a)X A XᵀD(w²b)X)`.
    fn pp_sum(&self, a: impl Fn(usize) -> f64, b: impl Fn(usize) -> f64) -> f64 {
        let p = self.design.p();
        let k = self.w.len();
        let (mut s1, mut s2) = (0.0, 0.0);
        if p == 1 {
            // X = 1: tr(A·Σw²a·A·Σw²b) = (Σw²a)(Σw²b)/(Σw)².
            let (mut sa, mut sb) = (0.0, 0.0);
            for i in 0..k {
                let w2 = self.w[i] * self.w[i];
                let (ai, bi) = (a(i), b(i));
                s1 += w2 * ai * bi;
                s2 += w2 * self.w[i] * ai * bi;
                sa += w2 * ai;
                sb += w2 * bi;
            }
            let inv = self.a[0];
            return s1 - 2.0 * s2 * inv + sa * sb * inv * inv;
        }
        let mut ma = vec![0.0; p * p];
        let mut mb = vec![0.0; p * p];
        for i in 0..k {
            let w = self.w[i];
            let (ai, bi) = (a(i), b(i));
            s1 += w * w * ai * bi;
            s2 += w * w * w * self.h[i] * ai * bi;
            // XᵀD(w²a)X and XᵀD(w²b)X, accumulated row by row.
            let r = self.design.row(i);
            for c in 0..p {
                for d in 0..p {
                    let xx = r[c] * r[d] * w * w;
                    ma[c * p + d] += xx * ai;
                    mb[c * p + d] += xx * bi;
                }
            }
        }
        let am = mat_mul(&self.a, &ma, p);
        let bm = mat_mul(&self.a, &mb, p);
        s1 - 2.0 * s2 + trace_ab(&am, &bm, p)
    }

    fn sum_w(&self) -> f64 {
        self.w.iter().sum()
    }
}

fn mat_mul(a: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    let mut m = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            m[i * p + j] = (0..p).map(|l| a[i * p + l] * b[l * p + j]).sum();
        }
    }
    m
}

/// An estimate of τ² with its standard error (metafor's `se.tau2`) and the iterations used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tau2 {
    /// τ̂² (≥ 0).
    pub tau2: f64,
    /// Its standard error (`None` for FE and for k = 1).
    pub se: Option<f64>,
    /// Fisher-scoring (or bisection) iterations (0 for closed forms).
    pub iterations: usize,
}

/// `w = 1/(v + τ²)`; a study with `v + τ² = 0` (vᵢ = 0 and τ² = 0) has no finite weight, and
/// metafor stops there with "Division by zero when computing the inverse variance weights".
fn weights(v: &[f64], tau2: f64) -> Result<Vec<f64>, TransportError> {
    if v.iter().any(|vi| vi + tau2 <= 0.0) {
        return Err(TransportError::invalid(
            "the weights 1/(vi + tau²)",
            format!("a study with vi = 0 at tau² = {tau2}"),
            "positive vi + tau²: with a variance of 0 the model needs tau² > 0 (metafor stops with \"Division by zero when computing the inverse variance weights\")",
        ));
    }
    Ok(v.iter().map(|vi| 1.0 / (vi + tau2)).collect())
}

/// Estimates τ² with `method` for estimates `y`, variances `v` and `design` (see the module
/// documentation for each formula). `k > p` is assumed (checked by the callers).
///
/// # Errors
/// A numerical failure (a singular weighted cross-product) or an estimating equation without a
/// finite root.
pub fn estimate_tau2(
    y: &[f64],
    v: &[f64],
    design: &Design,
    method: TauMethod,
) -> Result<Tau2, TransportError> {
    let k = y.len() as f64;
    let p = design.p() as f64;
    let kp = k - p;
    let closed = |tau2: f64, se: f64| Tau2 {
        tau2: tau2.max(0.0),
        se: Some(se),
        iterations: 0,
    };
    match method {
        TauMethod::FE => Ok(Tau2 {
            tau2: 0.0,
            se: None,
            iterations: 0,
        }),
        TauMethod::DL | TauMethod::HS => {
            let f = Weighted::new(design, y, weights(v, 0.0)?)?;
            let rss = f.ypy();
            let tr = f.trace_pd(|_| 1.0);
            let trpp = f.pp_sum(|_| 1.0, |_| 1.0);
            let (tau2, denom) = if method == TauMethod::DL {
                ((rss - kp) / tr, tr)
            } else {
                let sw = f.sum_w();
                ((rss - k) / sw, sw)
            };
            let t = tau2.max(0.0);
            let se = (2.0 * kp + 4.0 * t * tr + 2.0 * t * t * trpp).sqrt() / denom;
            Ok(closed(tau2, se))
        }
        TauMethod::HE => {
            let (tau2, se) = hedges(y, v, design)?;
            Ok(closed(tau2, se))
        }
        TauMethod::SJ => {
            let mean = y.iter().sum::<f64>() / k;
            let tau0 = y.iter().map(|yi| (yi - mean).powi(2)).sum::<f64>() / k;
            let f = Weighted::new(design, y, weights(v, tau0)?)?;
            let tau2 = tau0 * f.ypy() / kp;
            let t = tau2.max(0.0);
            let pvpv = f.pp_sum(|i| v[i], |i| v[i]);
            let pvp = f.pp_sum(|_| 1.0, |i| v[i]);
            let pp = f.pp_sum(|_| 1.0, |_| 1.0);
            let se = tau0 / kp * (2.0 * pvpv + 4.0 * t * pvp + 2.0 * t * t * pp).sqrt();
            Ok(closed(tau2, se))
        }
        TauMethod::PM => {
            let tau2 = paule_mandel(y, v, design, kp)?;
            let sw: f64 = weights(v, tau2)?.iter().sum();
            Ok(Tau2 {
                tau2,
                se: Some((2.0 * k * k / kp).sqrt() / sw),
                iterations: 0,
            })
        }
        TauMethod::ML | TauMethod::REML | TauMethod::EB => scoring(y, v, design, method),
    }
}

/// The Hedges estimate (unweighted least squares) and its standard error.
fn hedges(y: &[f64], v: &[f64], design: &Design) -> Result<(f64, f64), TransportError> {
    let kp = (y.len() - design.p()) as f64;
    let f = Weighted::new(design, y, vec![1.0; y.len()])?;
    let rss = f.ypy();
    let trpv = f.trace_pd(|i| v[i]);
    let tau2 = (rss - trpv) / kp;
    let t = tau2.max(0.0);
    let pvpv = f.pp_sum(|i| v[i], |i| v[i]);
    let se = (2.0 * pvpv + 4.0 * t * trpv + 2.0 * t * t * kp).sqrt() / kp;
    Ok((tau2, se))
}

/// The estimating equation of ML, REML or EB at τ² (positive: τ² should grow).
fn score(
    y: &[f64],
    v: &[f64],
    design: &Design,
    method: TauMethod,
    tau2: f64,
) -> Result<(f64, f64), TransportError> {
    if design.p() == 1 {
        return score_intercept(y, v, method, tau2);
    }
    let f = Weighted::new(design, y, weights(v, tau2)?)?;
    let k = y.len() as f64;
    let kp = k - design.p() as f64;
    Ok(match method {
        TauMethod::ML => {
            let sw2: f64 = f.w.iter().map(|w| w * w).sum();
            (f.yppy() - f.sum_w(), sw2)
        }
        TauMethod::REML => (f.yppy() - f.trace_pd(|_| 1.0), f.pp_sum(|_| 1.0, |_| 1.0)),
        _ => (f.ypy() * k / kp - k, f.sum_w()),
    })
}

/// [`score`] of the intercept-only model in two passes without allocation (the Monte Carlo
/// users of `meta_analyse` call it in their inner loop): with `w = 1/(v + τ²)`,
/// `tr P = Σw − Σw²/Σw`, `tr PP = Σw² − 2Σw³/Σw + (Σw²/Σw)²`, `PY = w ∘ (y − μ̂)`.
fn score_intercept(
    y: &[f64],
    v: &[f64],
    method: TauMethod,
    tau2: f64,
) -> Result<(f64, f64), TransportError> {
    let (mut sw, mut sw2, mut sw3, mut swy) = (0.0, 0.0, 0.0, 0.0);
    for (yi, vi) in y.iter().zip(v) {
        if vi + tau2 <= 0.0 {
            // The same refusal as `weights`.
            weights(v, tau2)?;
        }
        let w = 1.0 / (vi + tau2);
        sw += w;
        sw2 += w * w;
        sw3 += w * w * w;
        swy += w * yi;
    }
    let mu = swy / sw;
    let (mut ypy, mut yppy) = (0.0, 0.0);
    for (yi, vi) in y.iter().zip(v) {
        let w = 1.0 / (vi + tau2);
        let r = yi - mu;
        ypy += w * r * r;
        yppy += w * w * r * r;
    }
    let k = y.len() as f64;
    Ok(match method {
        TauMethod::ML => (yppy - sw, sw2),
        TauMethod::REML => (
            yppy - (sw - sw2 / sw),
            sw2 - 2.0 * sw3 / sw + (sw2 / sw).powi(2),
        ),
        _ => (ypy * k / (k - 1.0) - k, sw),
    })
}

/// ML, REML or EB by metafor's Fisher scoring, with the bisection fallback and `ll0check`.
fn scoring(
    y: &[f64],
    v: &[f64],
    design: &Design,
    method: TauMethod,
) -> Result<Tau2, TransportError> {
    let he = if design.p() == 1 {
        // HE of the intercept-only model in closed form: var(y) − mean(v).
        let k = y.len() as f64;
        let mean = y.iter().sum::<f64>() / k;
        y.iter().map(|yi| (yi - mean).powi(2)).sum::<f64>() / (k - 1.0) - v.iter().sum::<f64>() / k
    } else {
        hedges(y, v, design)?.0
    };
    let mut tau2 = he.max(0.0);
    let mut found = None;
    for it in 1..=SCORING_STEPS {
        let (g, info) = score(y, v, design, method, tau2)?;
        let mut step = g / info;
        if !step.is_finite() {
            break;
        }
        if tau2 == 0.0 && step < 0.0 {
            // metafor halves a negative step at τ² = 0 until it underflows: the same τ² = 0.
            step = 0.0;
        }
        let mut halvings = 0;
        while tau2 + step < 0.0 && halvings < 1100 {
            step /= 2.0;
            halvings += 1;
        }
        if tau2 + step < 0.0 {
            step = -tau2;
        }
        let old = tau2;
        tau2 = (tau2 + step).max(0.0);
        if (tau2 - old).abs() < THRESHOLD {
            found = Some((tau2, it));
            break;
        }
    }
    let (mut tau2, iterations) = match found {
        Some(f) => f,
        None => root_of_score(y, v, design, method)?,
    };
    if matches!(method, TauMethod::ML | TauMethod::REML)
        && v.iter().all(|vi| *vi > 0.0)
        && tau2 > THRESHOLD
        && log_likelihood(y, v, design, method, 0.0)? - log_likelihood(y, v, design, method, tau2)?
            > THRESHOLD
    {
        tau2 = 0.0;
    }
    let f = Weighted::new(design, y, weights(v, tau2)?)?;
    let k = y.len() as f64;
    let kp = k - design.p() as f64;
    let se = match method {
        TauMethod::ML => (2.0 / f.w.iter().map(|w| w * w).sum::<f64>()).sqrt(),
        TauMethod::REML => (2.0 / f.pp_sum(|_| 1.0, |_| 1.0)).sqrt(),
        _ => (2.0 * k * k / kp).sqrt() / f.sum_w(),
    };
    Ok(Tau2 {
        tau2,
        se: Some(se),
        iterations,
    })
}

/// The ML or REML log-likelihood at τ² without constants that cancel in comparisons
/// (metafor's `ll0check`): `−½Σlog(v+τ²) − ½YᵀPY` (REML also `−½ log|XᵀWX|`).
fn log_likelihood(
    y: &[f64],
    v: &[f64],
    design: &Design,
    method: TauMethod,
    tau2: f64,
) -> Result<f64, TransportError> {
    if design.p() == 1 {
        // Without allocation: Σw, μ̂ = Σwy/Σw, YᵀPY = Σw(y − μ̂)².
        let (mut sw, mut swy, mut slog) = (0.0, 0.0, 0.0);
        for (yi, vi) in y.iter().zip(v) {
            let w = 1.0 / (vi + tau2);
            sw += w;
            swy += w * yi;
            slog += (vi + tau2).ln();
        }
        let mu = swy / sw;
        let ypy: f64 = y
            .iter()
            .zip(v)
            .map(|(yi, vi)| (yi - mu).powi(2) / (vi + tau2))
            .sum();
        let mut ll = -0.5 * slog - 0.5 * ypy;
        if method == TauMethod::REML {
            ll -= 0.5 * sw.ln();
        }
        return Ok(ll);
    }
    let f = Weighted::new(design, y, weights(v, tau2)?)?;
    let mut ll = -0.5 * v.iter().map(|vi| (vi + tau2).ln()).sum::<f64>() - 0.5 * f.ypy();
    if method == TauMethod::REML {
        let p = design.p();
        let l = cholesky(&design.cross(&f.w), p)
            .map_err(|_| TransportError::Model("numerical failure: XᵀWX is singular".into()))?;
        ll -= (0..p).map(|j| l[j * p + j].ln()).sum::<f64>();
    }
    Ok(ll)
}

/// The root of the ML/REML/EB estimating equation by bracketing and bisection (0 when the
/// equation is not positive at 0). Scoring can fall into a two-cycle near a small τ² (metafor
/// then stops with "Fisher scoring algorithm did not converge"); the bisection cannot.
fn root_of_score(
    y: &[f64],
    v: &[f64],
    design: &Design,
    method: TauMethod,
) -> Result<(f64, usize), TransportError> {
    let g = |t: f64| score(y, v, design, method, t).map(|s| s.0);
    let start = v.iter().sum::<f64>() / v.len() as f64;
    bisect(g, start, SCORING_STEPS, method.name())
}

/// The root of a decreasing function `g` on `[0, ∞)`: 0 when `g(0) ≤ 0`, else bracketed by
/// doubling from `start` and bisected to 1e-15 relative; every loop bounded.
fn bisect(
    g: impl Fn(f64) -> Result<f64, TransportError>,
    start: f64,
    offset: usize,
    name: &'static str,
) -> Result<(f64, usize), TransportError> {
    let fail = |it| TransportError::NotConverged {
        method: name,
        iterations: it,
    };
    let g0 = g(0.0)?;
    if g0.is_nan() {
        return Err(fail(offset));
    }
    if g0 <= 0.0 {
        return Ok((0.0, offset));
    }
    let mut hi = if start > 0.0 && start.is_finite() {
        start
    } else {
        1.0
    };
    let mut lo = 0.0;
    let mut it = offset;
    loop {
        let gh = g(hi)?;
        if gh.is_nan() {
            return Err(fail(it));
        }
        if gh <= 0.0 {
            break;
        }
        lo = hi;
        hi *= 2.0;
        it += 1;
        if !hi.is_finite() || it > offset + MAX_BISECTIONS {
            return Err(fail(it));
        }
    }
    for _ in 0..MAX_BISECTIONS {
        if hi - lo <= 1e-15 * hi {
            break;
        }
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        let gm = g(mid)?;
        if gm.is_nan() {
            return Err(fail(it));
        }
        if gm > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        it += 1;
    }
    Ok((0.5 * (lo + hi), it))
}

/// Paule–Mandel: the root of `YᵀP(τ²)Y − (k − p)`, decreasing in τ².
fn paule_mandel(y: &[f64], v: &[f64], design: &Design, kp: f64) -> Result<f64, TransportError> {
    let g = |t: f64| Weighted::new(design, y, weights(v, t)?).map(|f| f.ypy() - kp);
    // metafor: τ² = 0 when Q(0) < k − p (not ≤); the bisection returns 0 for ≤, the same value.
    let start = v.iter().sum::<f64>() / v.len() as f64;
    bisect(g, start, 0, "PM").map(|r| r.0)
}

/// Settings of [`meta_regress`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegressionConfig {
    /// The τ² estimator.
    pub method: TauMethod,
    /// Knapp–Hartung adjustment (metafor `test = "knha"`).
    pub knapp_hartung: bool,
    /// Confidence level of the intervals.
    pub level: f64,
}

/// One coefficient of a meta-regression, with broom's `tidy.rma` names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coefficient {
    /// metafor's name (`intrcpt`, `x`, `factor(g)b`).
    pub term: String,
    /// β̂.
    pub estimate: f64,
    /// Its standard error.
    #[serde(rename = "std.error")]
    pub std_error: f64,
    /// z (or t under Knapp–Hartung).
    pub statistic: f64,
    /// Two-sided p-value.
    #[serde(rename = "p.value")]
    pub p_value: f64,
    /// CI lower bound.
    #[serde(rename = "conf.low")]
    pub conf_low: f64,
    /// CI upper bound.
    #[serde(rename = "conf.high")]
    pub conf_high: f64,
}

/// A prediction at new moderator values (metafor's `predict(res, newmods = …)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The moderator values, as given (`x=0.5, g=b`).
    pub at: String,
    /// `x₀ᵀβ̂`.
    pub pred: f64,
    /// Its standard error.
    pub se: f64,
    /// CI lower bound.
    #[serde(rename = "ci.lb")]
    pub ci_lb: f64,
    /// CI upper bound.
    #[serde(rename = "ci.ub")]
    pub ci_ub: f64,
    /// Prediction interval lower bound (equals the CI for FE).
    #[serde(rename = "pi.lb")]
    pub pi_lb: f64,
    /// Prediction interval upper bound.
    #[serde(rename = "pi.ub")]
    pub pi_ub: f64,
}

/// A fitted meta-regression: metafor's `rma.uni` numbers under metafor's names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaRegression {
    /// The τ² estimator.
    pub method: TauMethod,
    /// Whether the Knapp–Hartung adjustment was used.
    pub knha: bool,
    /// Number of studies.
    pub k: usize,
    /// Number of coefficients (intercept included).
    pub p: usize,
    /// The coefficients.
    pub coefficients: Vec<Coefficient>,
    /// Residual τ̂² (all of it for an intercept-only model).
    pub tau2: f64,
    /// Its standard error (`None` for FE and k = 1).
    #[serde(rename = "se.tau2")]
    pub se_tau2: Option<f64>,
    /// τ̂.
    pub tau: f64,
    /// Residual I² in percent (`None` when a sampling variance is 0, as metafor's `NA`).
    #[serde(rename = "I2")]
    pub i2: Option<f64>,
    /// Residual H² (`None` when a sampling variance is 0).
    #[serde(rename = "H2")]
    pub h2: Option<f64>,
    /// Residual heterogeneity QE (`None` when a sampling variance is 0).
    #[serde(rename = "QE")]
    pub qe: Option<f64>,
    /// Its degrees of freedom k − p.
    #[serde(rename = "QEdf")]
    pub qe_df: usize,
    /// Its p-value.
    #[serde(rename = "QEp")]
    pub qe_p: Option<f64>,
    /// Omnibus test of the moderators (`None` for an intercept-only model).
    #[serde(rename = "QM")]
    pub qm: Option<f64>,
    /// Its degrees of freedom: m, and k − p for the F test under Knapp–Hartung.
    #[serde(rename = "QMdf")]
    pub qm_df: Option<(usize, Option<usize>)>,
    /// Its p-value.
    #[serde(rename = "QMp")]
    pub qm_p: Option<f64>,
    /// Pseudo-R² in percent (`None` for an intercept-only model).
    #[serde(rename = "R2")]
    pub r2: Option<f64>,
    /// τ̂² of the intercept-only model behind R² (random-effects models with moderators).
    #[serde(rename = "tau2.intercept.only")]
    pub tau2_intercept_only: Option<f64>,
    /// Degrees of freedom of the t tests (Knapp–Hartung), `None` for z.
    pub df: Option<usize>,
    /// Iterations of the τ² estimator.
    pub iterations: usize,
    /// Relative weight of each study in percent (metafor `weights()`).
    pub weights: Vec<f64>,
    /// What balans did differently from the request, and why (k = 1, extreme variance ratios).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// `Var β̂` (p × p, row-major), for predictions.
    #[serde(skip)]
    vb: Vec<f64>,
    /// The critical value of the intervals.
    #[serde(skip)]
    crit: f64,
}

/// Checks the studies: at least one, finite estimates within [`MAX_MAGNITUDE`], variances in
/// [`MIN_VARIANCE`, `MAX_MAGNITUDE`], a level in (0, 1).
pub(crate) fn validate(
    studies: &[Study],
    level: f64,
    method: TauMethod,
) -> Result<(), TransportError> {
    if studies.is_empty() {
        return Err(TransportError::TooFewStudies {
            found: 0,
            needed: 1,
            why: "there is nothing to pool".into(),
        });
    }
    for s in studies {
        if !(s.yi.is_finite() && s.yi.abs() <= MAX_MAGNITUDE) {
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!(
                    "estimate yi = {} is not a finite number of magnitude at most {MAX_MAGNITUDE:e} (larger values overflow the estimating equations)",
                    s.yi
                ),
            });
        }
        if s.vi == 0.0 {
            if ZERO_VARIANCE_METHODS.contains(&method) {
                continue;
            }
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!(
                    "sampling variance vi = 0: the {} estimator needs positive variances (its weights are 1/vi; metafor refuses FE, DL, PM and HS here); ML, REML, EB, HE and SJ fit with vi = 0 when tau² > 0, without Q, I² and H², as metafor",
                    method.name()
                ),
            });
        }
        if !(s.vi.is_finite() && s.vi > 0.0) {
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!(
                    "sampling variance vi = {} must be positive (a variance, not a standard error or a negative number)",
                    s.vi
                ),
            });
        }
        if !(MIN_VARIANCE..=MAX_MAGNITUDE).contains(&s.vi) {
            return Err(TransportError::Study {
                study: s.label.clone(),
                problem: format!(
                    "sampling variance vi = {} lies outside [{MIN_VARIANCE:e}, {MAX_MAGNITUDE:e}], where the weights 1/vi and their cubes stay representable; rescale the estimates (e.g. other units)",
                    s.vi
                ),
            });
        }
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(TransportError::invalid(
            "the confidence level",
            level,
            "a number strictly between 0 and 1",
        ));
    }
    Ok(())
}

/// `pchisq(q, df, lower.tail = FALSE)`, guarded: NaN stays NaN (statrs would panic).
fn chisq_upper(q: f64, df: f64) -> f64 {
    if q.is_nan() || df.is_nan() || df <= 0.0 {
        f64::NAN
    } else if q.is_infinite() {
        0.0
    } else {
        pchisq_upper(q, df)
    }
}

/// Two-sided p-value of a z or t statistic, guarded: an infinite statistic has p = 0, NaN stays
/// NaN (statrs would panic) and is refused by the finiteness check of the result.
fn p_two_sided(stat: f64, df: Option<usize>) -> f64 {
    if stat.is_nan() {
        return f64::NAN;
    }
    if stat.is_infinite() {
        return 0.0;
    }
    match df {
        Some(d) => 2.0 * pt_upper(stat.abs(), d as f64),
        None => 2.0 * pnorm_upper(stat.abs()),
    }
}

/// Upper tail of F(d1, d2) at `q` (`pf(q, d1, d2, lower.tail = FALSE)`), through the regularised
/// incomplete beta function: `I_{d2/(d2 + d1 q)}(d2/2, d1/2)`.
fn pf_upper(q: f64, d1: f64, d2: f64) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q <= 0.0 {
        return 1.0;
    }
    if q.is_infinite() {
        return 0.0;
    }
    let x = d2 / (d2 + d1 * q);
    statrs::function::beta::checked_beta_reg(d2 / 2.0, d1 / 2.0, x.clamp(0.0, 1.0))
        .unwrap_or(f64::NAN)
}

/// Fits the meta-regression of `studies` on `design` (rows in the order of `studies`).
///
/// # Errors
/// Invalid studies (see the module documentation for the bounds), fewer studies than the model
/// needs (k > p for random-effects estimators, k ≥ p for FE: metafor's rule), Knapp–Hartung when
/// the residual heterogeneity is 0 (the adjusted standard errors would be 0: metafor then reports
/// SE = 0 and infinite t values), a numerical failure.
pub fn meta_regress(
    studies: &[Study],
    design: &Design,
    config: &RegressionConfig,
) -> Result<MetaRegression, TransportError> {
    validate(studies, config.level, config.method)?;
    let k = studies.len();
    if design.k() != k {
        return Err(TransportError::invalid(
            "rows of the model matrix",
            design.k(),
            format!("one per study ({k})"),
        ));
    }
    let p = design.p();
    let y: Vec<f64> = studies.iter().map(|s| s.yi).collect();
    let v: Vec<f64> = studies.iter().map(|s| s.vi).collect();
    let mut notes = Vec::new();
    let k1 = k == 1 && p == 1;
    let needed = if config.method == TauMethod::FE {
        p
    } else {
        p + 1
    };
    if !k1 && k < needed {
        return Err(TransportError::TooFewStudies {
            found: k,
            needed,
            why: if config.method == TauMethod::FE {
                format!("a model with {p} coefficients needs at least {p} studies")
            } else {
                format!(
                    "a model with {p} coefficients and τ² needs at least {needed} studies (metafor's rule)"
                )
            },
        });
    }
    let mut knha = config.knapp_hartung;
    if k1 {
        notes.push(format!(
            "k = 1: tau^2 is set to 0 and the z test is used, as metafor does for one study (it warns \"Setting argument test=\\\"z\\\" since k=1\"); the {} estimator is not applied",
            config.method.name()
        ));
        knha = false;
    }
    if knha && k == p {
        return Err(TransportError::invalid(
            "Knapp–Hartung",
            format!("k − p = 0 ({k} studies, {p} coefficients)"),
            "at least one residual degree of freedom for its t(k − p) tests (metafor reports NA p-values)",
        ));
    }
    let vmax = v.iter().cloned().fold(f64::MIN, f64::max);
    let vmin = v.iter().cloned().fold(f64::MAX, f64::min);
    // metafor warns only for a finite ratio (not when a variance is 0).
    if (vmax / vmin).is_finite() && vmax / vmin >= 1e7 {
        notes.push(format!("the largest sampling variance is {:.1e} times the smallest: results may be unstable (metafor warns \"Ratio of largest to smallest sampling variance extremely large\")", vmax / vmin));
    }
    let est = if k1 {
        Tau2 {
            tau2: 0.0,
            se: None,
            iterations: 0,
        }
    } else {
        estimate_tau2(&y, &v, design, config.method)?
    };
    let tau2 = est.tau2;
    let fit = Weighted::new(design, &y, weights(&v, tau2)?)?;
    let mut vb = fit.a.clone();
    let mut crit = qnorm(0.5 + config.level / 2.0);
    let mut df = None;
    if knha {
        let rss = fit.ypy();
        if rss <= f64::EPSILON {
            return Err(TransportError::invalid(
                "Knapp–Hartung",
                format!("a residual heterogeneity of {rss:e}"),
                "estimates that differ from the fitted values: the adjustment scales the standard errors by it, so they would be 0 (metafor then reports SE = 0 and infinite t values); use the z test instead",
            ));
        }
        let s2 = rss / (k - p) as f64;
        vb.iter_mut().for_each(|x| *x *= s2);
        crit = qt(0.5 + config.level / 2.0, (k - p) as f64);
        df = Some(k - p);
    }
    if !crit.is_finite() {
        return Err(TransportError::invalid(
            "the confidence level",
            config.level,
            "a level whose critical value is finite (below 1 − 1e-15)",
        ));
    }
    let coefficients: Vec<Coefficient> = (0..p)
        .map(|j| {
            let b = fit.beta[j];
            let se = vb[j * p + j].sqrt();
            let z = b / se;
            Coefficient {
                term: design.names[j].clone(),
                estimate: b,
                std_error: se,
                statistic: z,
                p_value: p_two_sided(z, df),
                conf_low: b - crit * se,
                conf_high: b + crit * se,
            }
        })
        .collect();
    // Residual heterogeneity with FE weights; undefined with a variance of 0 (metafor: "Cannot
    // compute QE-test, I^2, or H^2 when there are non-positive sampling variances").
    let all_positive = v.iter().all(|vi| *vi > 0.0);
    let (qe, qe_p, i2, h2) = if !all_positive {
        (None, None, None, None)
    } else if k > p {
        let fe = Weighted::new(design, &y, weights(&v, 0.0)?)?;
        let qe = fe.ypy().max(0.0);
        let kp = (k - p) as f64;
        let vt = kp / fe.trace_pd(|_| 1.0);
        let (i2, h2) = if config.method == TauMethod::FE {
            ((100.0 * (qe - kp) / qe).max(0.0), qe / kp)
        } else {
            (100.0 * tau2 / (vt + tau2), tau2 / vt + 1.0)
        };
        // Q = 0 (every estimate on the fitted line): I² = max(0, NaN) in R is NaN for FE; 0 here.
        let i2 = if i2.is_nan() { 0.0 } else { i2 };
        (Some(qe), Some(chisq_upper(qe, kp)), Some(i2), Some(h2))
    } else {
        (Some(0.0), Some(1.0), Some(0.0), Some(1.0))
    };
    let (qm, qm_df, qm_p) = if p > 1 {
        let m = p - 1;
        let sub: Vec<f64> = (1..p)
            .flat_map(|a| (1..p).map(move |b| (a, b)))
            .map(|(a, b)| vb[a * p + b])
            .collect();
        let inv = spd_inverse(&sub, m).ok_or_else(|| {
            TransportError::Model(
                "numerical failure: the covariance matrix of the moderator coefficients is singular"
                    .into(),
            )
        })?;
        let qm = quad(&inv, &fit.beta[1..], m);
        if let Some(d2) = df {
            let f = qm / m as f64;
            (
                Some(f),
                Some((m, Some(d2))),
                Some(pf_upper(f, m as f64, d2 as f64)),
            )
        } else {
            (Some(qm), Some((m, None)), Some(chisq_upper(qm, m as f64)))
        }
    } else {
        (None, None, None)
    };
    let (r2, tau2_intercept_only) = if p > 1 {
        if config.method == TauMethod::FE {
            (qe.map(|qe| fe_adjusted_r2(&y, &v, qe, k, p)), None)
        } else {
            let intercept = Design::intercept(k);
            let t0 = estimate_tau2(&y, &v, &intercept, config.method)?.tau2;
            let r2 = if t0 == 0.0 {
                0.0
            } else {
                (100.0 * (t0 - tau2) / t0).max(0.0)
            };
            (Some(r2), Some(t0))
        }
    } else {
        (None, None)
    };
    let sw = fit.sum_w();
    let result = MetaRegression {
        method: config.method,
        knha,
        k,
        p,
        coefficients,
        tau2,
        se_tau2: est.se,
        tau: tau2.sqrt(),
        i2,
        h2,
        qe,
        qe_df: k - p,
        qe_p,
        qm,
        qm_df,
        qm_p,
        r2,
        tau2_intercept_only,
        df,
        iterations: est.iterations,
        weights: fit.w.iter().map(|w| 100.0 * w / sw).collect(),
        notes,
        vb,
        crit,
    };
    result.check_finite()?;
    Ok(result)
}

/// FE meta-regression R²: `max(0, 100·adjusted R²)` of the weighted least-squares fit
/// (metafor: `summary(lm(yi ~ X, weights = 1/vi))$adj.r.squared`; 0 when every estimate is equal).
fn fe_adjusted_r2(y: &[f64], v: &[f64], qe: f64, k: usize, p: usize) -> f64 {
    let q0 = {
        let intercept = Design::intercept(k);
        weights(v, 0.0)
            .and_then(|w| Weighted::new(&intercept, y, w))
            .map_or(0.0, |f| f.ypy())
    };
    if q0 <= 0.0 || k == p {
        return 0.0;
    }
    let r2 = 1.0 - qe / q0;
    let adj = 1.0 - (1.0 - r2) * (k as f64 - 1.0) / (k - p) as f64;
    (100.0 * adj).max(0.0)
}

impl MetaRegression {
    /// Refuses a result with a non-finite number (a numerical failure, never a NaN in a table).
    fn check_finite(&self) -> Result<(), TransportError> {
        let mut values: Vec<(&str, f64)> = vec![("tau2", self.tau2)];
        for (what, x) in [
            ("I2", self.i2),
            ("H2", self.h2),
            ("QE", self.qe),
            ("QEp", self.qe_p),
        ] {
            values.extend(x.map(|x| (what, x)));
        }
        for c in &self.coefficients {
            values.extend([
                ("estimate", c.estimate),
                ("std.error", c.std_error),
                ("statistic", c.statistic),
                ("p.value", c.p_value),
            ]);
        }
        values.extend(self.se_tau2.map(|x| ("se.tau2", x)));
        values.extend(self.qm.map(|x| ("QM", x)));
        values.extend(self.qm_p.map(|x| ("QMp", x)));
        values.extend(self.r2.map(|x| ("R2", x)));
        values.extend(self.weights.iter().map(|w| ("weight", *w)));
        if let Some((what, x)) = values.into_iter().find(|(_, x)| !x.is_finite()) {
            return Err(TransportError::Model(format!(
                "numerical failure: {what} = {x}; the estimates and variances span too wide a range for double precision (rescale them)"
            )));
        }
        Ok(())
    }

    /// The prediction at the model-matrix row `x0` (see [`Design::new_row`]), labelled `at`.
    pub fn predict(&self, at: &str, x0: &[f64]) -> Prediction {
        let p = self.p;
        let pred: f64 = x0
            .iter()
            .zip(&self.coefficients)
            .map(|(x, c)| x * c.estimate)
            .sum();
        let se = quad(&self.vb, x0, p).max(0.0).sqrt();
        let half_pi = self.crit * (se * se + self.tau2).sqrt();
        Prediction {
            at: at.into(),
            pred,
            se,
            ci_lb: pred - self.crit * se,
            ci_ub: pred + self.crit * se,
            pi_lb: pred - half_pi,
            pi_ub: pred + half_pi,
        }
    }

    /// The critical value of the intervals (z or t(k − p)).
    pub fn critical_value(&self) -> f64 {
        self.crit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The O(k p²) trace identities of [`Weighted`] against the k × k matrix
    /// `P = W − WX(XᵀWX)⁻¹XᵀW` formed explicitly.
    #[test]
    fn trace_identities_equal_the_dense_computation() {
        let k = 7;
        let x1: Vec<f64> = (0..k).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let g: Vec<String> = (0..k).map(|i| ["a", "b", "c"][i % 3].to_string()).collect();
        let design = Design::new(
            k,
            &[
                Moderator::Continuous {
                    name: "x".into(),
                    values: x1,
                },
                Moderator::Categorical {
                    name: "g".into(),
                    values: g,
                },
            ],
        )
        .unwrap();
        let p = design.p();
        let y: Vec<f64> = (0..k).map(|i| (i as f64 * 1.3).cos()).collect();
        let v: Vec<f64> = (0..k).map(|i| 0.01 + 0.02 * i as f64).collect();
        let w: Vec<f64> = v.iter().map(|vi| 1.0 / (vi + 0.05)).collect();
        let f = Weighted::new(&design, &y, w.clone()).unwrap();
        // Dense P.
        let mut pm = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                let h = (0..p)
                    .flat_map(|a| (0..p).map(move |b| (a, b)))
                    .map(|(a, b)| design.row(i)[a] * f.a[a * p + b] * design.row(j)[b])
                    .sum::<f64>();
                pm[i * k + j] = if i == j { w[i] } else { 0.0 } - w[i] * w[j] * h;
            }
        }
        let dense = |a: &dyn Fn(usize) -> f64, b: &dyn Fn(usize) -> f64| -> f64 {
            (0..k)
                .flat_map(|i| (0..k).map(move |j| (i, j)))
                .map(|(i, j)| pm[i * k + j].powi(2) * a(i) * b(j))
                .sum()
        };
        let one = |_: usize| 1.0;
        let vv = |i: usize| v[i];
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "{what}: {a} vs {b}"
            );
        };
        close(f.pp_sum(one, one), dense(&one, &one), "tr PP");
        close(f.pp_sum(vv, vv), dense(&vv, &vv), "tr PVPV");
        close(f.pp_sum(one, vv), dense(&one, &vv), "tr PVP");
        close(
            f.trace_pd(vv),
            (0..k).map(|i| pm[i * k + i] * v[i]).sum(),
            "tr PV",
        );
        let py: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| pm[i * k + j] * y[j]).sum())
            .collect();
        close(f.ypy(), (0..k).map(|i| y[i] * py[i]).sum(), "y'Py");
        close(f.yppy(), py.iter().map(|z| z * z).sum(), "y'PPy");
    }

    /// Every estimator is scale-equivariant (y → c·y, v → c²·v gives τ² → c²τ², β̂ → cβ̂, the
    /// same I², z and QM) and does not depend on the order of the studies.
    #[test]
    fn estimators_are_scale_equivariant_and_order_free() {
        let yi = [0.1, 0.45, -0.2, 0.3, 0.8, 0.05, 0.5, 0.25];
        let vi = [0.02, 0.05, 0.03, 0.01, 0.08, 0.02, 0.04, 0.03];
        let x = [1.0, 3.0, 0.5, 2.0, 4.0, 1.5, 3.5, 2.5];
        let build = |c: f64, order: &[usize]| {
            let studies: Vec<Study> = order
                .iter()
                .map(|&i| Study {
                    label: format!("s{i}"),
                    yi: c * yi[i],
                    vi: c * c * vi[i],
                })
                .collect();
            let design = Design::new(
                order.len(),
                &[Moderator::Continuous {
                    name: "x".into(),
                    values: order.iter().map(|&i| x[i]).collect(),
                }],
            )
            .unwrap();
            (studies, design)
        };
        let id: Vec<usize> = (0..8).collect();
        let shuffled = [3, 7, 0, 5, 1, 6, 2, 4];
        for method in [
            TauMethod::FE,
            TauMethod::DL,
            TauMethod::REML,
            TauMethod::ML,
            TauMethod::PM,
            TauMethod::HE,
            TauMethod::SJ,
            TauMethod::EB,
            TauMethod::HS,
        ] {
            let config = RegressionConfig {
                method,
                knapp_hartung: true,
                level: 0.95,
            };
            let (s1, d1) = build(1.0, &id);
            let base = meta_regress(&s1, &d1, &config).unwrap();
            for (c, order) in [
                (1000.0, &id[..]),
                (1.0, &shuffled[..]),
                (1e-3, &shuffled[..]),
            ] {
                let (s, d) = build(c, order);
                let r = meta_regress(&s, &d, &config).unwrap();
                let rel = |a: f64, b: f64| (a - b).abs() <= 1e-8 * b.abs().max(1e-12);
                assert!(
                    rel(r.tau2, c * c * base.tau2),
                    "{method:?} c={c}: tau2 {} vs {}",
                    r.tau2,
                    c * c * base.tau2
                );
                assert!(
                    (r.i2.unwrap() - base.i2.unwrap()).abs() < 1e-9,
                    "{method:?} I2"
                );
                assert!(rel(r.qm.unwrap(), base.qm.unwrap()), "{method:?} QM");
                for (a, b) in r.coefficients.iter().zip(&base.coefficients) {
                    assert!(rel(a.estimate, c * b.estimate), "{method:?} {}", a.term);
                    assert!(rel(a.statistic, b.statistic), "{method:?} {}", a.term);
                }
            }
        }
    }
}
