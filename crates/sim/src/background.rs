//! Background variables like the study's Table 1, weakly related to the study variables.
//!
//! Each background variable has a latent standard-normal score; binary variables are that score cut
//! at the quantile giving their share, numeric ones are `mean + sd · score`, rounded to whole
//! numbers and clipped to a plausible range. The latent scores correlate with each other and with
//! the standardized construct scores as in [`LINKS`] and [`CONSTRUCT_LINKS`] (all [E]); they are
//! drawn from their conditional distribution given the constructs, so the constructs keep their
//! distribution. Every link to a study variable is at most .10 in absolute value at the latent
//! level, so observed correlations are at most about .10 too (binary cuts and rounding only shrink
//! them), matching the study's "background variables correlated weakly with the study variables".
//!
//! Shares of partner and care tasks are those of the *invited population*, chosen so that the study's
//! inclusion rule (partner and/or care tasks) keeps 278 of 320 (86.9%) and leaves the study's Table
//! 1 shares among those kept: 91% with a partner and 69% with care tasks.

use crate::constructs::LowerFactor;
use crate::normal::{bisect, bivariate_excess, cdf, quantile};
use crate::SimError;
use nalgebra::DMatrix;
use rand::Rng;

/// Share kept by the study's inclusion rule [R: 278 of 320].
pub const INCLUSION_SHARE: f64 = 278.0 / 320.0;

/// One background variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackgroundVariable {
    /// Column name.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Binary: the share coded 1. Numeric: `None`.
    pub share: Option<f64>,
    /// Numeric: mean, SD, lowest and highest value after rounding.
    pub numeric: Option<(f64, f64, f64, f64)>,
}

const fn binary(name: &'static str, description: &'static str, share: f64) -> BackgroundVariable {
    BackgroundVariable {
        name,
        description,
        share: Some(share),
        numeric: None,
    }
}
const fn numeric(
    name: &'static str,
    description: &'static str,
    mean: f64,
    sd: f64,
    lo: f64,
    hi: f64,
) -> BackgroundVariable {
    BackgroundVariable {
        name,
        description,
        share: None,
        numeric: Some((mean, sd, lo, hi)),
    }
}

/// The background variables, in column order [R: the study's Table 1, n = 278; partner and care
/// tasks converted to the invited population as explained in the module doc].
pub const BACKGROUND: &[BackgroundVariable] = &[
    binary("woman", "1 = woman, 0 = man (66% women)", 0.66),
    numeric(
        "age",
        "age in years (M 48.9, SD 9.4; 20–67)",
        48.9,
        9.4,
        20.0,
        67.0,
    ),
    binary("higher_edu", "1 = higher education (65%)", 0.65),
    binary(
        "partner",
        "1 = married or cohabiting (91% of those included)",
        0.91 * INCLUSION_SHARE,
    ),
    binary(
        "care",
        "1 = cares for children at home or a sick/disabled adult (69% of those included)",
        0.69 * INCLUSION_SHARE,
    ),
    binary("supervisor", "1 = has a supervisory role (11%)", 0.11),
    numeric(
        "contract_hours",
        "contractual hours per week (M 32.1, SD 5.1; 8–40)",
        32.1,
        5.1,
        8.0,
        40.0,
    ),
    numeric(
        "actual_hours",
        "actual hours per week (M 35.8, SD 8.9; 4–70)",
        35.8,
        8.9,
        4.0,
        70.0,
    ),
];

/// Latent correlations among background variables [E] (partner–care is solved, see
/// [`BackgroundModel::new`]).
pub const LINKS: &[(&str, &str, f64)] = &[
    ("woman", "contract_hours", -0.30),
    ("woman", "actual_hours", -0.25),
    ("contract_hours", "actual_hours", 0.60),
    ("supervisor", "actual_hours", 0.20),
];

/// Latent correlations of background variables with standardized constructs (when the model has a
/// construct of that name) [E]; |r| ≤ .10.
pub const CONSTRUCT_LINKS: &[(&str, &str, f64)] = &[
    ("woman", "wfc", 0.05),
    ("age", "amb", -0.10),
    ("age", "eng", 0.05),
    ("higher_edu", "amb", 0.05),
    ("care", "wfc", 0.10),
    ("supervisor", "amb", 0.10),
    ("contract_hours", "wfc", 0.05),
    ("actual_hours", "wfc", 0.10),
    ("actual_hours", "eng", 0.05),
    ("actual_hours", "amb", 0.05),
];

/// Column index of `age` among the background variables.
pub(crate) const AGE: usize = 1;
const PARTNER: usize = 3;
const CARE: usize = 4;

/// Precomputed conditional distribution of the latent background scores given the constructs.
#[derive(Debug, Clone)]
pub(crate) struct BackgroundModel {
    /// `W = R_bc R_cc⁻¹`, row-major `q × p`: conditional mean given standardized constructs.
    weights: Vec<f64>,
    /// Cholesky factor of `R_bb − W R_cb`.
    residual: LowerFactor,
    /// Cut points (binary) on the latent scale.
    cuts: Vec<f64>,
    p: usize,
}

fn index(name: &str) -> usize {
    BACKGROUND
        .iter()
        .position(|b| b.name == name)
        .expect("links name known background variables")
}

impl BackgroundModel {
    /// `correlation`: the constructs' implied correlation matrix; `names`: their names.
    pub(crate) fn new(
        names: &[String],
        correlation: &DMatrix<f64>,
    ) -> Result<BackgroundModel, SimError> {
        let q = BACKGROUND.len();
        let p = names.len();
        let mut r_bb = DMatrix::<f64>::identity(q, q);
        for &(a, b, r) in LINKS {
            let (i, j) = (index(a), index(b));
            r_bb[(i, j)] = r;
            r_bb[(j, i)] = r;
        }
        // Partner and care: the latent correlation that makes P(neither) = 1 − inclusion share.
        let (qp, qc) = (
            quantile(1.0 - BACKGROUND[PARTNER].share.unwrap_or(0.5)),
            quantile(1.0 - BACKGROUND[CARE].share.unwrap_or(0.5)),
        );
        let excess = (1.0 - INCLUSION_SHARE) - cdf(qp) * cdf(qc);
        let r_pc = bisect(|r| bivariate_excess(qp, qc, r) - excess, -0.99, 0.99);
        r_bb[(PARTNER, CARE)] = r_pc;
        r_bb[(CARE, PARTNER)] = r_pc;
        let mut r_bc = DMatrix::<f64>::zeros(q, p);
        for &(b, c, r) in CONSTRUCT_LINKS {
            if let Some(j) = names.iter().position(|n| n == c) {
                r_bc[(index(b), j)] = r;
            }
        }
        let inv =
            correlation
                .clone()
                .try_inverse()
                .ok_or_else(|| SimError::NotPositiveDefinite {
                    what: "construct correlation",
                    names: names.join(", "),
                })?;
        let w = &r_bc * inv;
        let cond = &r_bb - &w * r_bc.transpose();
        let cond = (&cond + cond.transpose()) * 0.5;
        let residual =
            LowerFactor::cholesky(&cond).ok_or_else(|| SimError::NotPositiveDefinite {
                what: "background",
                names: BACKGROUND
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let weights = (0..q)
            .flat_map(|i| (0..p).map(move |j| (i, j)))
            .map(|(i, j)| w[(i, j)])
            .collect();
        let cuts = BACKGROUND
            .iter()
            .map(|b| b.share.map_or(0.0, |s| quantile(1.0 - s)))
            .collect();
        Ok(BackgroundModel {
            weights,
            residual,
            cuts,
            p,
        })
    }

    /// Draws the background values of one person with standardized construct scores `z` into `out`
    /// (length [`BACKGROUND`]`.len()`).
    #[inline]
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R, z: &[f64], out: &mut [f64]) {
        self.residual.draw(rng, out);
        for (i, (v, b)) in out.iter_mut().zip(BACKGROUND).enumerate() {
            let row = &self.weights[i * self.p..(i + 1) * self.p];
            let latent = *v + row.iter().zip(z).map(|(w, z)| w * z).sum::<f64>();
            *v = match (b.share, b.numeric) {
                (Some(_), _) => f64::from(u8::from(latent > self.cuts[i])),
                (None, Some((mean, sd, lo, hi))) => (mean + sd * latent).round().clamp(lo, hi),
                (None, None) => latent,
            };
        }
    }

    /// Whether the study's inclusion rule keeps a person with these background values.
    #[inline]
    pub(crate) fn included(values: &[f64]) -> bool {
        values[PARTNER] > 0.5 || values[CARE] > 0.5
    }
}

/// Probability of each observed (rounded, clipped) age, for solving the MAR intercept exactly.
pub(crate) fn age_distribution() -> Vec<(f64, f64)> {
    let (mean, sd, lo, hi) = BACKGROUND[AGE].numeric.expect("age is numeric");
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
    out
}

/// Standardized observed age.
#[inline]
pub(crate) fn age_z(age: f64) -> f64 {
    let (mean, sd, _, _) = BACKGROUND[AGE].numeric.expect("age is numeric");
    (age - mean) / sd
}
