//! Background variables (a study's "Table 1"), weakly related to the constructs.
//!
//! Each background variable has a latent standard-normal score; binary variables are that score cut
//! at the quantile giving their share, numeric ones are `mean + sd · score`, rounded to whole
//! numbers and clipped to a plausible range. The latent scores correlate with each other and with
//! the standardized construct scores as a [`Background`]'s `links` and `construct_links` say; they
//! are drawn from their conditional distribution given the constructs, so the constructs keep their
//! distribution. With small links (|r| ≤ .10 at the latent level), observed correlations are at
//! most about as large (binary cuts and rounding only shrink them).
//!
//! An [`InclusionRule`] keeps respondents for whom at least one of two binary variables is 1. The
//! latent correlation of those two is solved so that the rule keeps its stated share of the
//! population; give their shares *in the invited population* (a study's shares among those kept,
//! times the kept share, when everyone kept has at least one).

use crate::constructs::LowerFactor;
use crate::normal::{bisect, bivariate_excess, cdf, quantile};
use crate::SimError;
use nalgebra::DMatrix;
use rand::Rng;
use std::borrow::Cow;

/// One background variable.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundVariable {
    /// Column name.
    pub name: Cow<'static, str>,
    /// What it is.
    pub description: Cow<'static, str>,
    /// Binary: the share coded 1. Numeric: `None`.
    pub share: Option<f64>,
    /// Numeric: mean, SD, lowest and highest value after rounding.
    pub numeric: Option<(f64, f64, f64, f64)>,
}

impl BackgroundVariable {
    /// A binary variable with this share coded 1.
    pub const fn binary(name: &'static str, description: &'static str, share: f64) -> Self {
        BackgroundVariable {
            name: Cow::Borrowed(name),
            description: Cow::Borrowed(description),
            share: Some(share),
            numeric: None,
        }
    }

    /// A numeric variable: `mean + sd · z` rounded to whole numbers and clipped to `[lo, hi]`.
    pub const fn numeric(
        name: &'static str,
        description: &'static str,
        mean: f64,
        sd: f64,
        lo: f64,
        hi: f64,
    ) -> Self {
        BackgroundVariable {
            name: Cow::Borrowed(name),
            description: Cow::Borrowed(description),
            share: None,
            numeric: Some((mean, sd, lo, hi)),
        }
    }
}

/// A latent correlation between two named variables.
pub type Link = (Cow<'static, str>, Cow<'static, str>, f64);

/// Keep a respondent when at least one of two binary background variables is 1.
#[derive(Debug, Clone, PartialEq)]
pub struct InclusionRule {
    /// The two binary variables.
    pub any_of: (Cow<'static, str>, Cow<'static, str>),
    /// The share of the invited population the rule keeps, in (0, 1].
    pub kept: f64,
}

/// The background variables of a survey and how they relate to each other and to the constructs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Background {
    /// The variables, in column order (after `id` and `team`).
    pub variables: Vec<BackgroundVariable>,
    /// Latent correlations among background variables (those of an inclusion rule's pair are
    /// solved instead).
    pub links: Vec<Link>,
    /// Latent correlations of background variables (first) with standardized constructs
    /// (second; ignored when the model has no construct of that name).
    pub construct_links: Vec<Link>,
    /// The inclusion rule applied with [`crate::SurveyDesign::inclusion`].
    pub inclusion: Option<InclusionRule>,
    /// The numeric variable that MAR item missingness depends on ([`crate::Missingness::Mar`]).
    pub mar_on: Option<Cow<'static, str>>,
}

impl Background {
    /// Index of a variable by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|b| b.name == name)
    }

    fn require(&self, name: &str, role: &'static str) -> Result<usize, SimError> {
        self.index(name).ok_or_else(|| SimError::UnknownBackground {
            name: name.to_string(),
            role,
            known: self
                .variables
                .iter()
                .map(|b| b.name.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// A background variable's share (binary) or mean, SD and range (numeric).
type Kind = (Option<f64>, Option<(f64, f64, f64, f64)>);

/// Precomputed conditional distribution of the latent background scores given the constructs.
#[derive(Debug, Clone)]
pub(crate) struct BackgroundModel {
    /// `W = R_bc R_cc⁻¹`, row-major `q × p`: conditional mean given standardized constructs.
    weights: Vec<f64>,
    /// Cholesky factor of `R_bb − W R_cb`.
    residual: LowerFactor,
    /// Cut points (binary) on the latent scale.
    cuts: Vec<f64>,
    /// Per variable: share (binary) and numeric range.
    kinds: Vec<Kind>,
    /// The inclusion rule's two variables and kept share.
    inclusion: Option<(usize, usize, f64)>,
    /// The MAR variable's index, mean and SD, lowest and highest value.
    mar: Option<(usize, (f64, f64, f64, f64))>,
    p: usize,
}

impl BackgroundModel {
    /// `correlation`: the constructs' implied correlation matrix; `names`: their names.
    pub(crate) fn new(
        background: &Background,
        names: &[String],
        correlation: &DMatrix<f64>,
    ) -> Result<BackgroundModel, SimError> {
        let vars = &background.variables;
        let (q, p) = (vars.len(), names.len());
        let mut r_bb = DMatrix::<f64>::identity(q, q);
        for (a, b, r) in &background.links {
            let (i, j) = (
                background.require(a, "link")?,
                background.require(b, "link")?,
            );
            r_bb[(i, j)] = *r;
            r_bb[(j, i)] = *r;
        }
        let inclusion = match &background.inclusion {
            Some(rule) => Some(solve_inclusion(background, rule, &mut r_bb)?),
            None => None,
        };
        let mut r_bc = DMatrix::<f64>::zeros(q, p);
        for (b, c, r) in &background.construct_links {
            let i = background.require(b, "construct link")?;
            if let Some(j) = names.iter().position(|n| n == c) {
                r_bc[(i, j)] = *r;
            }
        }
        let (weights, residual) = conditional(&r_bb, &r_bc, names, correlation, vars)?;
        let mar = match &background.mar_on {
            Some(name) => {
                let i = background.require(name, "MAR")?;
                let range = vars[i].numeric.ok_or_else(|| SimError::BackgroundKind {
                    name: name.to_string(),
                    role: "MAR",
                    expected: "numeric",
                })?;
                Some((i, range))
            }
            None => None,
        };
        Ok(BackgroundModel {
            weights,
            residual,
            cuts: vars
                .iter()
                .map(|b| b.share.map_or(0.0, |s| quantile(1.0 - s)))
                .collect(),
            kinds: vars.iter().map(|b| (b.share, b.numeric)).collect(),
            inclusion,
            mar,
            p,
        })
    }

    /// Number of background variables.
    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Draws the background values of one person with standardized construct scores `z` into `out`
    /// (one value per background variable).
    #[inline]
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R, z: &[f64], out: &mut [f64]) {
        self.residual.draw(rng, out);
        for (i, (v, kind)) in out.iter_mut().zip(&self.kinds).enumerate() {
            let row = &self.weights[i * self.p..(i + 1) * self.p];
            let latent = *v + row.iter().zip(z).map(|(w, z)| w * z).sum::<f64>();
            *v = match *kind {
                (Some(_), _) => f64::from(u8::from(latent > self.cuts[i])),
                (None, Some((mean, sd, lo, hi))) => (mean + sd * latent).round().clamp(lo, hi),
                (None, None) => latent,
            };
        }
    }

    /// The share the inclusion rule keeps (`None` without a rule).
    pub(crate) fn kept_share(&self) -> Option<f64> {
        self.inclusion.map(|(_, _, kept)| kept)
    }

    /// Whether the inclusion rule keeps a person with these background values (everyone without
    /// a rule).
    #[inline]
    pub(crate) fn included(&self, values: &[f64]) -> bool {
        match self.inclusion {
            Some((a, b, _)) => values[a] > 0.5 || values[b] > 0.5,
            None => true,
        }
    }

    /// Probability of each observed (rounded, clipped) value of the MAR variable, for solving the
    /// MAR intercept exactly.
    pub(crate) fn mar_distribution(&self) -> Option<Vec<(f64, f64)>> {
        let (_, (mean, sd, lo, hi)) = self.mar?;
        let mut out = Vec::new();
        let mut a = lo;
        while a <= hi {
            let upper = if a >= hi {
                1.0
            } else {
                cdf((a + 0.5 - mean) / sd)
            };
            let lower = if a <= lo {
                0.0
            } else {
                cdf((a - 0.5 - mean) / sd)
            };
            out.push((a, upper - lower));
            a += 1.0;
        }
        Some(out)
    }

    /// The standardized observed MAR variable of a person (0 without one).
    #[inline]
    pub(crate) fn mar_z(&self, values: &[f64]) -> f64 {
        match self.mar {
            Some((i, (mean, sd, _, _))) => (values[i] - mean) / sd,
            None => 0.0,
        }
    }

    /// The standardized value `v` of the MAR variable.
    pub(crate) fn mar_z_of(&self, v: f64) -> f64 {
        match self.mar {
            Some((_, (mean, sd, _, _))) => (v - mean) / sd,
            None => 0.0,
        }
    }
}

/// The latent correlation of the rule's two binary variables that makes P(neither) = 1 − kept,
/// written into `r_bb`; returns their indices and the kept share.
fn solve_inclusion(
    background: &Background,
    rule: &InclusionRule,
    r_bb: &mut DMatrix<f64>,
) -> Result<(usize, usize, f64), SimError> {
    let a = background.require(&rule.any_of.0, "inclusion rule")?;
    let b = background.require(&rule.any_of.1, "inclusion rule")?;
    let vars = &background.variables;
    for i in [a, b] {
        if vars[i].share.is_none() {
            return Err(SimError::BackgroundKind {
                name: vars[i].name.to_string(),
                role: "inclusion rule",
                expected: "binary",
            });
        }
    }
    let (qa, qb) = (
        quantile(1.0 - vars[a].share.unwrap_or(0.5)),
        quantile(1.0 - vars[b].share.unwrap_or(0.5)),
    );
    let excess = (1.0 - rule.kept) - cdf(qa) * cdf(qb);
    let r = bisect(|r| bivariate_excess(qa, qb, r) - excess, -0.99, 0.99);
    r_bb[(a, b)] = r;
    r_bb[(b, a)] = r;
    Ok((a, b, rule.kept))
}

/// `W = R_bc R_cc⁻¹` (row-major) and the Cholesky factor of `R_bb − W R_cb`.
fn conditional(
    r_bb: &DMatrix<f64>,
    r_bc: &DMatrix<f64>,
    names: &[String],
    correlation: &DMatrix<f64>,
    vars: &[BackgroundVariable],
) -> Result<(Vec<f64>, LowerFactor), SimError> {
    let (q, p) = r_bc.shape();
    let inv = correlation
        .clone()
        .try_inverse()
        .ok_or_else(|| SimError::NotPositiveDefinite {
            what: "construct correlation",
            names: names.join(", "),
        })?;
    let w = r_bc * inv;
    let cond = r_bb - &w * r_bc.transpose();
    let cond = (&cond + cond.transpose()) * 0.5;
    let residual = LowerFactor::cholesky(&cond).ok_or_else(|| SimError::NotPositiveDefinite {
        what: "background",
        names: vars
            .iter()
            .map(|b| b.name.as_ref())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let weights = (0..q)
        .flat_map(|i| (0..p).map(move |j| (i, j)))
        .map(|(i, j)| w[(i, j)])
        .collect();
    Ok((weights, residual))
}
