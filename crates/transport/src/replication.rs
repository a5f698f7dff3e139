//! Replication statistics: will an effect found in one context be found again in another?
//!
//! Everything is a closed form on the z-scale of the original study, `z_o = θ_o / σ_o`, and the
//! variance ratio `c = σ_o² / σ_r²` (about `n_r / n_o`):
//! * [`power_significance`] — the probability that the replication is significant in the original
//!   direction, under a conditional, predictive or empirical-Bayes design prior, with relative
//!   heterogeneity `h = τ² / σ_o²` (Held 2020; Pawel & Held 2020; Micheloud & Held 2022);
//! * [`relative_sample_size`] — the `c` that reaches a target power (the inverse);
//! * [`z_sceptical`], [`p_sceptical`] — the sceptical p-value, nominal or golden (Held 2020; Held,
//!   Micheloud & Pawel 2022);
//! * [`prediction_interval`] — where the replication estimate should fall (Patil, Peng & Leek
//!   2016), with τ and empirical-Bayes shrinkage (Pawel & Held 2020);
//! * [`q_test`] — compatibility of the two estimates (Hedges & Schauer 2019);
//! * [`small_telescopes`] — is the replication significantly smaller than the effect the original
//!   had 33% power to detect (Simonsohn 2015);
//! * [`tost`] — two one-sided tests of equivalence against a smallest effect size of interest
//!   (Schuirmann 1987; Lakens 2017).
//!
//! The functions follow the R package ReplicationSuccess (Held, Pawel, Micheloud, Gerber; CRAN)
//! formula for formula; its printed examples are the unit tests.
//!
//! # References
//! Held, L. (2020). A new standard for the analysis and design of replication studies. *JRSS A*
//! 183, 431–448. Held, L., Micheloud, C. & Pawel, S. (2022). The assessment of replication success
//! based on relative effect size. *Ann. Appl. Stat.* 16, 706–720. Pawel, S. & Held, L. (2020).
//! Probabilistic forecasting of replication studies. *PLoS ONE* 15, e0231416. Patil, P., Peng,
//! R. D. & Leek, J. T. (2016). What should researchers expect when they replicate studies?
//! *Perspect. Psychol. Sci.* 11, 539–544. Simonsohn, U. (2015). Small telescopes. *Psychol. Sci.*
//! 26, 559–569. Lakens, D. (2017). Equivalence tests. *SPPS* 8, 355–362.

use crate::dist::{pchisq_upper, pnorm, pnorm_upper, qnorm};
use crate::rows::TidyRow;
use crate::TransportError;
use serde::Serialize;

/// An effect estimate with its standard error (validated: finite, SE > 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    estimate: f64,
    std_error: f64,
}

impl Estimate {
    /// An estimate and its standard error.
    ///
    /// # Errors
    /// A non-finite estimate, or a standard error that is not a positive finite number.
    pub fn new(estimate: f64, std_error: f64, what: &str) -> Result<Estimate, TransportError> {
        if !estimate.is_finite() {
            return Err(TransportError::invalid(
                format!("the {what} estimate"),
                estimate,
                "a finite number",
            ));
        }
        if !(std_error.is_finite() && std_error > 0.0) {
            return Err(TransportError::invalid(
                format!("the standard error of the {what} estimate"),
                std_error,
                "a positive number",
            ));
        }
        Ok(Estimate {
            estimate,
            std_error,
        })
    }

    /// The estimate.
    pub fn estimate(&self) -> f64 {
        self.estimate
    }

    /// Its standard error.
    pub fn std_error(&self) -> f64 {
        self.std_error
    }

    /// The Wald z, `estimate / std_error`.
    pub fn z(&self) -> f64 {
        self.estimate / self.std_error
    }
}

/// What the replication is assumed to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignPrior {
    /// The true effect equals the original estimate (ignores its uncertainty).
    Conditional,
    /// The true effect is uncertain as the original estimate says: N(θ_o, σ_o² + τ²).
    Predictive,
    /// As predictive, with the original estimate shrunk towards 0 by empirical Bayes.
    EmpiricalBayes,
}

impl DesignPrior {
    /// ReplicationSuccess's name (`conditional`, `predictive`, `EB`).
    pub fn name(self) -> &'static str {
        match self {
            DesignPrior::Conditional => "conditional",
            DesignPrior::Predictive => "predictive",
            DesignPrior::EmpiricalBayes => "EB",
        }
    }
}

/// Sidedness of a replication criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// In the direction of the original estimate.
    OneSided,
    /// Either direction.
    TwoSided,
}

impl Alternative {
    /// `one.sided` or `two.sided`.
    pub fn name(self) -> &'static str {
        match self {
            Alternative::OneSided => "one.sided",
            Alternative::TwoSided => "two.sided",
        }
    }

    /// The critical z of `level` (ReplicationSuccess's `p2z(level, alternative)`).
    pub fn critical_z(self, level: f64) -> f64 {
        match self {
            Alternative::OneSided => -quantile(level),
            Alternative::TwoSided => -quantile(level / 2.0),
        }
    }
}

/// Settings of [`power_significance`] and [`relative_sample_size`] (ReplicationSuccess's
/// arguments, same defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerSettings {
    /// Significance level of the replication (0.025 one-sided: a two-sided 5% test in the
    /// original direction).
    pub level: f64,
    /// Sidedness of `level`.
    pub alternative: Alternative,
    /// Relative heterogeneity `h = τ² / σ_o²` (predictive and EB priors only).
    pub h: f64,
    /// Shrinkage of the original estimate towards 0, in [0, 1] (conditional and predictive).
    pub shrinkage: f64,
}

impl Default for PowerSettings {
    fn default() -> Self {
        PowerSettings {
            level: 0.025,
            alternative: Alternative::OneSided,
            h: 0.0,
            shrinkage: 0.0,
        }
    }
}

/// Mean and SD of the predictive distribution of the replication z-statistic (made positive in
/// the original direction).
fn predictive_z(zo: f64, c: f64, prior: DesignPrior, s: &PowerSettings) -> (f64, f64) {
    let zo = zo.abs();
    match prior {
        DesignPrior::Conditional => ((1.0 - s.shrinkage) * zo * c.sqrt(), 1.0),
        DesignPrior::Predictive => (
            (1.0 - s.shrinkage) * zo * c.sqrt(),
            (c + 1.0 + 2.0 * s.h * c).sqrt(),
        ),
        DesignPrior::EmpiricalBayes => {
            let shrunk = (1.0 - (1.0 + s.h) / (zo * zo)).max(0.0);
            (
                shrunk * zo * c.sqrt(),
                (shrunk * c * (1.0 + s.h) + 1.0 + s.h * c).sqrt(),
            )
        }
    }
}

/// The probability that a replication with variance ratio `c = σ_o²/σ_r²` is significant at
/// `settings.level` in the direction of an original study with z-value `zo`.
///
/// `P(Z_r > z_α)` with `Z_r ~ N(μ, σ²)`: conditional `μ = (1−shrinkage)·|z_o|·√c`, `σ = 1`;
/// predictive the same `μ` and `σ² = 1 + c(1 + 2h)`; EB `s = max(1 − (1+h)/z_o², 0)`,
/// `μ = s·|z_o|·√c`, `σ² = s·c(1+h) + 1 + h·c`. ReplicationSuccess `powerSignificance`
/// (`strict = FALSE`).
///
/// # References
/// Held (2020); Pawel & Held (2020); Micheloud & Held (2022), *Stat. Sci.* 37, 369–379.
pub fn power_significance(zo: f64, c: f64, prior: DesignPrior, settings: &PowerSettings) -> f64 {
    let v = settings.alternative.critical_z(settings.level);
    let (mu, sigma) = predictive_z(zo, c, prior, settings);
    pnorm_upper((v - mu) / sigma)
}

/// The variance ratio `c = σ_o²/σ_r²` (≈ `n_r/n_o`) at which the replication reaches `power`;
/// `None` when no `c` in (0, 1000] does (the predictive power is bounded by
/// `Φ(s·|z_o| / √(1 + 2h))`, and ReplicationSuccess searches up to 1000).
///
/// Conditional prior: `c = (Φ⁻¹(power) + z_α)² / ((1−shrinkage)·z_o)²` exactly; otherwise the root
/// of [`power_significance`] − power, found by bisection to machine precision
/// (ReplicationSuccess `sampleSizeSignificance` uses `uniroot`, whose default tolerance 1.2e-4
/// limits the digits its examples print).
pub fn relative_sample_size(
    zo: f64,
    power: f64,
    prior: DesignPrior,
    settings: &PowerSettings,
) -> Option<f64> {
    const UPPER: f64 = 1000.0;
    if prior == DesignPrior::Conditional {
        let u = quantile(power);
        let v = settings.alternative.critical_z(settings.level);
        let s = 1.0 - settings.shrinkage;
        let c = (u + v).powi(2) / (s * zo).powi(2);
        return (c.is_finite() && c <= UPPER).then_some(c);
    }
    let f = |c: f64| power_significance(zo, c, prior, settings) - power;
    let (mut lo, mut hi) = (0.0, UPPER);
    let (f_lo, f_hi) = (f(lo), f(hi));
    if f_lo.signum() == f_hi.signum() {
        return None;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid).signum() == f_lo.signum() {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-14 * hi.max(1e-300) {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

/// The sceptical z-value: `z_S² = z_H²/2` when `c = 1`, else
/// `z_S² = (√(z_A²(z_A² + (c−1)z_H²)) − z_A²)/(c − 1)` with `z_H²` and `z_A²` the harmonic and
/// arithmetic means of `z_o²` and `z_r²`. ReplicationSuccess `zSceptical`.
///
/// # References
/// Held (2020), eq. (5).
pub fn z_sceptical(zo: f64, zr: f64, c: f64) -> f64 {
    let (a, b) = (zo * zo, zr * zr);
    let z2h = 2.0 / (1.0 / a + 1.0 / b);
    let z2a = (a + b) / 2.0;
    let z2 = if (c - 1.0).abs() < 1e-12 {
        z2h / 2.0
    } else {
        ((z2a * (z2a + (c - 1.0) * z2h)).sqrt() - z2a) / (c - 1.0)
    };
    z2.sqrt()
}

/// Recalibration of the sceptical p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recalibration {
    /// No recalibration (Held 2020): `p = 2(1 − Φ(z_S))`.
    Nominal,
    /// The golden level (Held, Micheloud & Pawel 2022): `z_S·√φ`, φ = (1 + √5)/2, so that a just
    /// significant original needs a replication at least as large.
    Golden,
}

impl Recalibration {
    /// `nominal` or `golden`.
    pub fn name(self) -> &'static str {
        match self {
            Recalibration::Nominal => "nominal",
            Recalibration::Golden => "golden",
        }
    }
}

/// The sceptical p-value of original z `zo`, replication z `zr`, variance ratio `c`.
/// One-sided: half the two-sided value when the estimates agree in sign, else `1 − p/2`.
/// ReplicationSuccess `pSceptical` (types `nominal` and `golden`).
pub fn p_sceptical(
    zo: f64,
    zr: f64,
    c: f64,
    alternative: Alternative,
    recalibration: Recalibration,
) -> f64 {
    let z = z_sceptical(zo, zr, c);
    let z = match recalibration {
        Recalibration::Nominal => z,
        Recalibration::Golden => z * ((1.0 + 5f64.sqrt()) / 2.0).sqrt(),
    };
    let p = 2.0 * pnorm_upper(z);
    match alternative {
        Alternative::TwoSided => p,
        Alternative::OneSided if zo.signum() == zr.signum() => p / 2.0,
        Alternative::OneSided => 1.0 - p / 2.0,
    }
}

/// A prediction interval for the replication estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PredictionInterval {
    /// Lower bound.
    pub lower: f64,
    /// Mean of the predictive distribution.
    pub mean: f64,
    /// Upper bound.
    pub upper: f64,
    /// SD of the predictive distribution.
    pub sd: f64,
}

impl PredictionInterval {
    /// Whether `x` lies inside.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// The `level` prediction interval of a replication estimate with standard error `ser`, given the
/// original estimate and heterogeneity `tau`: conditional `N(θ_o, σ_r²)`; predictive
/// `N(θ_o, σ_o² + σ_r² + 2τ²)` (Patil et al. 2016 with τ); EB `s = max(1 − (σ_o²+τ²)/θ_o², 0)`,
/// `N(s·θ_o, s(σ_o²+τ²) + σ_r² + τ²)`. ReplicationSuccess `predictionInterval`.
pub fn prediction_interval(
    original: &Estimate,
    ser: f64,
    tau: f64,
    level: f64,
    prior: DesignPrior,
) -> PredictionInterval {
    let (thetao, seo) = (original.estimate, original.std_error);
    let (mean, sd) = match prior {
        DesignPrior::Conditional => (thetao, ser),
        DesignPrior::Predictive => (thetao, (seo * seo + ser * ser + 2.0 * tau * tau).sqrt()),
        DesignPrior::EmpiricalBayes => {
            let v = seo * seo + tau * tau;
            let s = (1.0 - v / (thetao * thetao)).max(0.0);
            (s * thetao, (s * v + ser * ser + tau * tau).sqrt())
        }
    };
    let z = quantile((1.0 + level) / 2.0);
    PredictionInterval {
        lower: mean - z * sd,
        mean,
        upper: mean + z * sd,
        sd,
    }
}

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    /// The statistic.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
}

/// The Q-test of compatibility: `Q = (θ_o − θ_r)²/(σ_o² + σ_r²)` against χ²(1). With heterogeneity
/// `tau`, `2τ²` joins the denominator (the two contexts each draw their own effect), which makes it
/// the dual of the predictive [`prediction_interval`]. ReplicationSuccess `Qtest` (τ = 0).
///
/// # References
/// Hedges & Schauer (2019), *J. Educ. Behav. Stat.* 44, 543–570.
pub fn q_test(original: &Estimate, replication: &Estimate, tau: f64) -> TestResult {
    let d = original.estimate - replication.estimate;
    let q = d * d / (original.std_error.powi(2) + replication.std_error.powi(2) + 2.0 * tau * tau);
    TestResult {
        statistic: q,
        p_value: pchisq_upper(q, 1.0),
    }
}

/// Two-sided power of a z-test of an effect `d` with standard error `se` at level `alpha`.
fn two_sided_power(d: f64, se: f64, alpha: f64) -> f64 {
    let z = quantile(1.0 - alpha / 2.0);
    pnorm(d / se - z) + pnorm(-d / se - z)
}

/// The small-telescopes test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SmallTelescopes {
    /// The effect the original study had 33% power to detect (in its direction).
    pub d33: f64,
    /// `(θ_r − d33)/σ_r`, signed so that negative means "smaller than d33".
    pub statistic: f64,
    /// One-sided p-value of H1: the effect is smaller than d33.
    pub p_value: f64,
}

/// The effect size an original study with standard error `seo` had 33% power to detect with a
/// two-sided z-test at `alpha`: the root of `Φ(d/σ_o − z) + Φ(−d/σ_o − z) = 1/3` (≈ 1.529·σ_o at
/// α = .05), found by bisection.
///
/// # References
/// Simonsohn (2015).
pub fn d33(seo: f64, alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 10.0 * seo);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_power(mid, seo, alpha) < 1.0 / 3.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Simonsohn's small-telescopes test: is the replication estimate significantly smaller than the
/// effect the original had 33% power to detect? One-sided z-test of H0: θ = d33 against H1: θ <
/// d33, in the original direction.
pub fn small_telescopes(
    original: &Estimate,
    replication: &Estimate,
    alpha: f64,
) -> SmallTelescopes {
    let sign = if original.estimate < 0.0 { -1.0 } else { 1.0 };
    let d = d33(original.std_error, alpha);
    let z = (sign * replication.estimate - d) / replication.std_error;
    SmallTelescopes {
        d33: sign * d,
        statistic: z,
        p_value: pnorm(z),
    }
}

/// Power of the small-telescopes test (one-sided at `alpha`) when the true effect is 0, for a
/// replication with standard error `ser`: `Φ(d33/σ_r − z_{1−α})`. About 80% when `n_r ≈ 2.5 n_o`
/// (Simonsohn 2015).
pub fn small_telescopes_power(seo: f64, ser: f64, alpha: f64) -> f64 {
    pnorm(d33(seo, alpha) / ser - quantile(1.0 - alpha))
}

/// The TOST equivalence test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tost {
    /// The smallest effect size of interest Δ (bounds −Δ, Δ).
    pub sesoi: f64,
    /// z of the test against the lower bound, `(θ + Δ)/σ`.
    pub z_lower: f64,
    /// z of the test against the upper bound, `(θ − Δ)/σ`.
    pub z_upper: f64,
    /// The TOST p-value: the larger of the two one-sided p-values.
    pub p_value: f64,
    /// Lower bound of the `1 − 2α` interval.
    pub conf_low: f64,
    /// Upper bound of the `1 − 2α` interval.
    pub conf_high: f64,
}

/// Two one-sided z-tests of H0: |θ| ≥ Δ; equivalence is declared when `p_value < alpha`, i.e. when
/// the `1 − 2α` interval lies inside (−Δ, Δ).
///
/// # References
/// Schuirmann (1987), *J. Pharmacokinet. Biopharm.* 15, 657–680; Lakens (2017).
pub fn tost(estimate: &Estimate, sesoi: f64, alpha: f64) -> Tost {
    let (t, se) = (estimate.estimate, estimate.std_error);
    let z_lower = (t + sesoi) / se;
    let z_upper = (t - sesoi) / se;
    let z = quantile(1.0 - alpha);
    Tost {
        sesoi,
        z_lower,
        z_upper,
        p_value: pnorm_upper(z_lower).max(pnorm(z_upper)),
        conf_low: t - z * se,
        conf_high: t + z * se,
    }
}

/// What to analyse: the original estimate, and the replication's estimate or its planned size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationConfig {
    /// The original estimate.
    pub original: Estimate,
    /// The replication's estimate, when it has been run.
    pub replication: Option<Estimate>,
    /// Sample size of the original study (turns relative sizes into N).
    pub original_n: Option<usize>,
    /// Planned size of the replication (used when there is no replication estimate; its SE is
    /// taken as `σ_o·√(n_o/n_r)`).
    pub replication_n: Option<usize>,
    /// Between-context heterogeneity τ on the effect's scale (0: none).
    pub tau: f64,
    /// Smallest effect size of interest for the TOST equivalence test.
    pub sesoi: Option<f64>,
    /// Target power of the replication sample-size rows.
    pub target_power: f64,
    /// Two-sided significance level (0.05); replication power counts significance in the
    /// original direction at `alpha/2`, as ReplicationSuccess's default `level = 0.025`.
    pub alpha: f64,
    /// Confidence level of intervals (0.95).
    pub level: f64,
}

impl ReplicationConfig {
    /// Defaults: no replication, τ = 0, target power 0.8, α = 0.05, level 0.95.
    pub fn new(original: Estimate) -> ReplicationConfig {
        ReplicationConfig {
            original,
            replication: None,
            original_n: None,
            replication_n: None,
            tau: 0.0,
            sesoi: None,
            target_power: 0.8,
            alpha: 0.05,
            level: 0.95,
        }
    }

    fn validate(&self) -> Result<(), TransportError> {
        let unit = |what: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(TransportError::invalid(
                    what,
                    v,
                    "a number strictly between 0 and 1",
                ))
            }
        };
        unit("the target power", self.target_power)?;
        unit("the significance level", self.alpha)?;
        unit("the confidence level", self.level)?;
        if !(self.tau.is_finite() && self.tau >= 0.0) {
            return Err(TransportError::invalid(
                "tau",
                self.tau,
                "a non-negative number",
            ));
        }
        if let Some(d) = self.sesoi {
            if !(d.is_finite() && d > 0.0) {
                return Err(TransportError::invalid(
                    "the smallest effect size of interest",
                    d,
                    "a positive number (the equivalence bounds are −D and D)",
                ));
            }
        }
        for (what, n) in [
            ("the original sample size", self.original_n),
            ("the replication sample size", self.replication_n),
        ] {
            if n == Some(0) {
                return Err(TransportError::invalid(what, 0, "a positive count"));
            }
        }
        if self.replication_n.is_some() && self.original_n.is_none() && self.replication.is_none() {
            return Err(TransportError::invalid(
                "the original sample size",
                "(none)",
                "the original study's N, to relate the planned replication size to it",
            ));
        }
        Ok(())
    }
}

/// The variance ratio `c = σ_o²/σ_r²` and the replication SE, from the replication estimate or its
/// planned size.
fn variance_ratio(config: &ReplicationConfig) -> Option<(f64, f64)> {
    let seo = config.original.std_error;
    if let Some(r) = &config.replication {
        return Some(((seo / r.std_error).powi(2), r.std_error));
    }
    match (config.original_n, config.replication_n) {
        (Some(no), Some(nr)) => {
            let c = nr as f64 / no as f64;
            Some((c, seo / c.sqrt()))
        }
        _ => None,
    }
}

fn wald_row(term: &str, e: &Estimate, level: f64, note: &str) -> TidyRow {
    let z = quantile(0.5 + level / 2.0);
    TidyRow {
        term: term.into(),
        estimate: e.estimate,
        std_error: Some(e.std_error),
        statistic: Some(e.z()),
        p_value: Some(2.0 * pnorm_upper(e.z().abs())),
        conf_low: Some(e.estimate - z * e.std_error),
        conf_high: Some(e.estimate + z * e.std_error),
        note: note.into(),
    }
}

const PRIORS: [DesignPrior; 3] = [
    DesignPrior::Conditional,
    DesignPrior::Predictive,
    DesignPrior::EmpiricalBayes,
];

/// Replication power at the planned or observed ratio, and the replication size for the target.
fn power_rows(config: &ReplicationConfig, ratio: Option<(f64, f64)>, rows: &mut Vec<TidyRow>) {
    let seo = config.original.std_error;
    let settings = PowerSettings {
        level: config.alpha / 2.0,
        h: (config.tau / seo).powi(2),
        ..PowerSettings::default()
    };
    let zo = config.original.z();
    let tau_note = if config.tau > 0.0 {
        format!(", tau {}", config.tau)
    } else {
        String::new()
    };
    if let Some((c, _)) = ratio {
        for prior in PRIORS {
            let p = power_significance(zo, c, prior, &settings);
            rows.push(TidyRow::value(
                format!("power.{}", prior.name()),
                p,
                format!(
                    "P(replication significant at two-sided {} in the original direction), c = {c:.4}{tau_note}",
                    config.alpha
                ),
            ));
        }
    }
    for prior in PRIORS {
        let term = format!("n.{}", prior.name());
        match relative_sample_size(zo, config.target_power, prior, &settings) {
            Some(c) => {
                let (value, note) = match config.original_n {
                    Some(no) => (
                        (c * no as f64).ceil(),
                        format!("replication N for power {} (c = {c:.4})", config.target_power),
                    ),
                    None => (
                        c,
                        format!(
                            "relative size n_r/n_o for power {} (give the original N for N)",
                            config.target_power
                        ),
                    ),
                };
                rows.push(TidyRow::value(term, value, format!("{note}{tau_note}")));
            }
            None => rows.push(TidyRow::value(
                term,
                f64::NAN,
                format!(
                    "power {} is out of reach for any replication up to 1000x the original{tau_note}",
                    config.target_power
                ),
            )),
        }
    }
}

/// Every replication statistic for `config`, as rows.
///
/// Without a replication estimate: the original, replication power (when the planned size is
/// known), the replication N for the target power, the prediction interval and the power of the
/// small-telescopes test (when the size is known), TOST on the original. With one, additionally
/// the sceptical p-values, the Q-test, the small-telescopes test, TOST on the replication and
/// whether the replication falls inside the prediction interval.
///
/// # Errors
/// Levels outside (0, 1), negative τ or SESOI, a planned size without the original N.
pub fn analyse(config: &ReplicationConfig) -> Result<Vec<TidyRow>, TransportError> {
    config.validate()?;
    let o = &config.original;
    let mut rows = vec![wald_row("original", o, config.level, "Wald z, two-sided")];
    if let Some(r) = &config.replication {
        let same = r.estimate.signum() == o.estimate.signum();
        let sig = 2.0 * pnorm_upper(r.z().abs()) < config.alpha;
        let verdict = match (sig, same) {
            (true, true) => "significant in the original direction (two-trials rule met)",
            (true, false) => "significant in the opposite direction",
            (false, _) => "not significant",
        };
        rows.push(wald_row("replication", r, config.level, verdict));
    }
    let ratio = variance_ratio(config);
    power_rows(config, ratio, &mut rows);
    if let Some((c, ser)) = ratio {
        for prior in [DesignPrior::Predictive, DesignPrior::EmpiricalBayes] {
            let pi = prediction_interval(o, ser, config.tau, config.level, prior);
            let mut row = TidyRow::value(
                format!("prediction.interval.{}", prior.name()),
                pi.mean,
                format!(
                    "{} prediction interval of the replication estimate",
                    config.level
                ),
            );
            row.std_error = Some(pi.sd);
            row.conf_low = Some(pi.lower);
            row.conf_high = Some(pi.upper);
            if let Some(r) = &config.replication {
                let inside = if pi.contains(r.estimate) {
                    "inside"
                } else {
                    "outside"
                };
                row.note = format!("{}; the replication estimate lies {inside}", row.note);
            }
            rows.push(row);
        }
        if config.replication.is_none() {
            rows.push(TidyRow::value(
                "small.telescopes.power",
                small_telescopes_power(o.std_error, ser, config.alpha),
                format!("power to reject d33 when the true effect is 0 (c = {c:.4})"),
            ));
        }
    }
    if let Some(r) = &config.replication {
        let c = (o.std_error / r.std_error).powi(2);
        for alternative in [Alternative::OneSided, Alternative::TwoSided] {
            for recal in [Recalibration::Nominal, Recalibration::Golden] {
                let mut row = TidyRow::value(
                    format!("p.sceptical.{}.{}", recal.name(), alternative.name()),
                    z_sceptical(o.z(), r.z(), c),
                    format!(
                        "estimate = sceptical z; success if p.value < {}",
                        match alternative {
                            Alternative::OneSided => config.alpha / 2.0,
                            Alternative::TwoSided => config.alpha,
                        }
                    ),
                );
                row.p_value = Some(p_sceptical(o.z(), r.z(), c, alternative, recal));
                rows.push(row);
            }
        }
        let q = q_test(o, r, config.tau);
        let mut row = TidyRow::value(
            "q.test",
            o.estimate - r.estimate,
            "estimate = original − replication; chi-square(1)",
        );
        row.statistic = Some(q.statistic);
        row.p_value = Some(q.p_value);
        rows.push(row);
        let st = small_telescopes(o, r, config.alpha);
        let mut row = TidyRow::value(
            "small.telescopes",
            st.d33,
            "estimate = d33; H1: replication effect smaller than d33",
        );
        row.statistic = Some(st.statistic);
        row.p_value = Some(st.p_value);
        rows.push(row);
    }
    if let Some(d) = config.sesoi {
        let (which, e) = match &config.replication {
            Some(r) => ("replication", r),
            None => ("original", o),
        };
        let t = tost(e, d, config.alpha);
        let z = if pnorm_upper(t.z_lower) >= pnorm(t.z_upper) {
            t.z_lower
        } else {
            t.z_upper
        };
        rows.push(TidyRow {
            term: "tost".into(),
            estimate: e.estimate,
            std_error: Some(e.std_error),
            statistic: Some(z),
            p_value: Some(t.p_value),
            conf_low: Some(t.conf_low),
            conf_high: Some(t.conf_high),
            note: format!(
                "{which} estimate; equivalent within ±{d} if p.value < {}; {}% interval",
                config.alpha,
                100.0 * (1.0 - 2.0 * config.alpha)
            ),
        });
    }
    Ok(rows)
}

/// Φ⁻¹(p), NaN for p outside [0, 1] (or NaN): statrs' `inverse_cdf` panics there, and these
/// public functions take levels and powers from their callers.
fn quantile(p: f64) -> f64 {
    if (0.0..=1.0).contains(&p) {
        qnorm(p)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    /// The golden-file example (original r = .30, n = 278 as Fisher z; replication n = 150):
    /// golden sceptical p .0122 < .025 → success, although the nominal one (.0385) fails and the
    /// replication alone is not significant (p .067).
    #[test]
    fn one_verdict_under_the_golden_sceptical_p_value() {
        let mut config = ReplicationConfig::new(Estimate::new(0.3095, 0.0603, "original").unwrap());
        config.replication = Some(Estimate::new(0.1511, 0.0825, "replication").unwrap());
        config.original_n = Some(278);
        let rows = analyse(&config).unwrap();
        let answer = replication_answer(&config, &rows);
        assert_eq!(answer.len(), 3, "{answer:?}");
        assert!(
            answer[0]
                .starts_with("Replication success: the golden sceptical p-value is .0122 (< .0250"),
            "{}",
            answer[0]
        );
        assert!(answer[1].starts_with("Definition: "));
        assert!(
            answer[2].contains("p = .0670), not significant"),
            "{}",
            answer[2]
        );
        // A replication estimate of the opposite sign fails.
        config.replication = Some(Estimate::new(-0.05, 0.0825, "replication").unwrap());
        let rows = analyse(&config).unwrap();
        assert!(replication_answer(&config, &rows)[0].starts_with("Replication failure"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::p2z;

    /// Absolute agreement with values printed to 7 significant digits.
    const PRINTED: f64 = 5e-8;

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol
    }

    /// ReplicationSuccess `docs/reference/powerSignificance.html`, printed examples.
    #[test]
    fn power_significance_matches_printed_examples() {
        let zo = p2z(0.005);
        let d = PowerSettings::default();
        let two = PowerSettings {
            alternative: Alternative::TwoSided,
            ..d
        };
        let cases = [
            (zo, 2.0, DesignPrior::Conditional, d, 0.9777728),
            (zo, 2.0, DesignPrior::Predictive, d, 0.8770464),
            (zo, 2.0, DesignPrior::Conditional, two, 0.9580366),
            (-3.0, 2.0, DesignPrior::Predictive, d, 0.9062321),
            (zo, 0.5, DesignPrior::Conditional, d, 0.5099361),
            (zo, 0.5, DesignPrior::Predictive, d, 0.5081131),
            (zo, 0.5, DesignPrior::Conditional, two, 0.3987708),
            (zo, 0.5, DesignPrior::Predictive, two, 0.4170462),
            (
                zo,
                0.5,
                DesignPrior::Predictive,
                PowerSettings {
                    h: 0.5,
                    shrinkage: 0.5,
                    ..d
                },
                0.2469417,
            ),
            (
                zo,
                0.5,
                DesignPrior::EmpiricalBayes,
                PowerSettings { h: 0.5, ..two },
                0.3207855,
            ),
        ];
        for (zo, c, prior, s, want) in cases {
            let got = power_significance(zo, c, prior, &s);
            assert!(
                close(got, want, PRINTED),
                "zo {zo} c {c} {prior:?} {s:?}: {got} vs {want}"
            );
        }
    }

    /// ReplicationSuccess `docs/reference/sampleSizeSignificance.html`. The conditional value is a
    /// closed form (7 digits); the others come from `uniroot` (tolerance 1.2e-4 on c).
    #[test]
    fn relative_sample_size_matches_printed_examples() {
        let d = PowerSettings::default();
        let zo = p2z(0.005);
        let c = relative_sample_size(zo, 0.8, DesignPrior::Conditional, &d).unwrap();
        assert!(close(c, 0.9961217, PRINTED), "{c}");
        let uniroot = 2e-4;
        let c = relative_sample_size(zo, 0.8, DesignPrior::Predictive, &d).unwrap();
        assert!(close(c, 1.337889, uniroot), "{c}");
        let s = PowerSettings {
            h: 0.25,
            shrinkage: 0.5,
            ..d
        };
        let c = relative_sample_size(3.0, 0.8, DesignPrior::Predictive, &s).unwrap();
        assert!(close(c, 18.87111, uniroot), "{c}");
        let s = PowerSettings { h: 0.5, ..d };
        let c = relative_sample_size(3.0, 0.8, DesignPrior::EmpiricalBayes, &s).unwrap();
        assert!(close(c, 2.412774, uniroot), "{c}");
        // The inverse really is the inverse.
        let p = power_significance(3.0, c, DesignPrior::EmpiricalBayes, &s);
        assert!(close(p, 0.8, 1e-12));
        // Unreachable: predictive power is bounded by Φ(|z_o|) = Φ(1) ≈ 0.84.
        assert_eq!(
            relative_sample_size(1.0, 0.9, DesignPrior::Predictive, &d),
            None
        );
    }

    /// ReplicationSuccess `docs/reference/pSceptical.html` and the values.
    #[test]
    fn sceptical_p_matches_printed_examples() {
        let one = Alternative::OneSided;
        let p = p_sceptical(p2z(0.01), p2z(0.02), 2.0, one, Recalibration::Nominal);
        assert!(close(p, 0.05790852, PRINTED), "{p}");
        let p = p_sceptical(p2z(0.01), p2z(0.02), 2.0, one, Recalibration::Golden);
        assert!(close(p, 0.02273138, PRINTED), "{p}");
        let p = p_sceptical(p2z(0.02), p2z(0.01), 0.5, one, Recalibration::Golden);
        assert!(close(p, 0.008786301, 5e-10), "{p}");
        let p = p_sceptical(
            p2z(0.01),
            p2z(0.01),
            2.0,
            Alternative::TwoSided,
            Recalibration::Golden,
        );
        assert!(close(p, 0.03496702, PRINTED), "{p}");
        assert!(close(z_sceptical(2.0, 3.0, 2.0), 1.531634, 5e-7));
        // c = 1 branch: z_S² = z_H²/2.
        let z = z_sceptical(2.0, 2.0, 1.0);
        assert!(close(z, 2f64.sqrt(), 1e-12));
        // Opposite signs: one-sided p above 1/2.
        assert!(p_sceptical(2.0, -1.0, 1.0, one, Recalibration::Nominal) > 0.5);
    }

    /// ReplicationSuccess `predictionInterval(thetao = c(1.5, 2, 5), seo = 1, ser = .5,
    /// designPrior = "EB")`, printed to 4 decimals.
    #[test]
    fn eb_prediction_interval_matches_printed_example() {
        let want = [
            (1.5, -0.9258, 0.8333, 2.5925),
            (2.0, -0.4600, 1.5000, 3.4600),
            (5.0, 2.6440, 4.8000, 6.9560),
        ];
        for (t, lo, mean, hi) in want {
            let o = Estimate::new(t, 1.0, "original").unwrap();
            let pi = prediction_interval(&o, 0.5, 0.0, 0.95, DesignPrior::EmpiricalBayes);
            assert!(close(pi.lower, lo, 5e-5), "{t}: {pi:?}");
            assert!(close(pi.mean, mean, 5e-5), "{t}: {pi:?}");
            assert!(close(pi.upper, hi, 5e-5), "{t}: {pi:?}");
        }
    }

    /// ReplicationSuccess `Qtest(thetao = 2, thetar = 0.5, seo = 1, ser = 0.5)`: Q = 1.8, p = 0.1797
    /// (pchisq(1.8, 1, lower = FALSE) = 0.1797125).
    #[test]
    fn q_test_matches_example() {
        let o = Estimate::new(2.0, 1.0, "original").unwrap();
        let r = Estimate::new(0.5, 0.5, "replication").unwrap();
        let q = q_test(&o, &r, 0.0);
        assert!(close(q.statistic, 1.8, 1e-12));
        assert!(close(q.p_value, 0.1797125, 5e-8), "{}", q.p_value);
        // Rejecting at α is equivalent to leaving the predictive interval at 1 − α.
        let pi = prediction_interval(&o, 0.5, 0.0, 1.0 - q.p_value, DesignPrior::Predictive);
        assert!(close(pi.lower, 0.5, 1e-9), "{pi:?}");
    }

    /// docs/INTERVENTIONS.md D4 worked vector (original r = .30, n = 278; new context r = .15, n = 150,
    /// both on Fisher z with SE 1/√(n−3)).
    #[test]
    fn dutch_context_vector() {
        let o = Estimate::new(0.3f64.atanh(), 1.0 / 275f64.sqrt(), "original").unwrap();
        let r = Estimate::new(0.15f64.atanh(), 1.0 / 147f64.sqrt(), "replication").unwrap();
        let c = o.std_error().powi(2) / r.std_error().powi(2);
        let one = Alternative::OneSided;
        let p = p_sceptical(o.z(), r.z(), c, one, Recalibration::Nominal);
        assert!(close(p, 0.0384, 5e-5), "{p}");
        let p = p_sceptical(o.z(), r.z(), c, one, Recalibration::Golden);
        assert!(close(p, 0.0122, 5e-5), "{p}");
        assert!(close(q_test(&o, &r, 0.0).p_value, 0.121, 5e-4));
        let pi = prediction_interval(&o, r.std_error(), 0.0, 0.95, DesignPrior::Predictive);
        assert!(close(pi.lower.tanh(), 0.109, 5e-4) && close(pi.upper.tanh(), 0.470, 5e-4));
        let pi = prediction_interval(&o, r.std_error(), 0.10, 0.95, DesignPrior::Predictive);
        assert!(close(pi.lower.tanh(), -0.032, 5e-4) && close(pi.upper.tanh(), 0.573, 5e-4));
        let st = small_telescopes(&o, &r, 0.05);
        assert!(close(st.d33.tanh(), 0.092, 5e-4), "{st:?}");
        assert!(close(st.p_value, 0.76, 5e-3), "{st:?}");
        let d = PowerSettings::default();
        let pc = power_significance(o.z(), c, DesignPrior::Conditional, &d);
        let pp = power_significance(o.z(), c, DesignPrior::Predictive, &d);
        assert!(
            close(pc, 0.963, 5e-4) && close(pp, 0.926, 5e-4),
            "{pc} {pp}"
        );
    }

    /// d33 solves the power equation; the 2.5× rule gives about 80% power (Simonsohn 2015).
    #[test]
    fn small_telescopes_d33_and_rule_of_thumb() {
        let d = d33(0.1, 0.05);
        assert!(close(two_sided_power(d, 0.1, 0.05), 1.0 / 3.0, 1e-12));
        assert!(close(d / 0.1, 1.5293, 1e-3), "{d}");
        let p = small_telescopes_power(0.1, 0.1 / 2.5f64.sqrt(), 0.05);
        assert!((p - 0.8).abs() < 0.025, "{p}");
    }

    /// TOST: an estimate of 0 with SE 0.05 is equivalent within ±0.1 (p = Φ(−2) = 0.02275); the
    /// 90% interval is ±1.645·SE.
    #[test]
    fn tost_closed_form() {
        let e = Estimate::new(0.0, 0.05, "replication").unwrap();
        let t = tost(&e, 0.1, 0.05);
        assert!(close(t.p_value, 0.022750131948179, 1e-12));
        assert!(close(t.conf_high, 1.6448536269514722 * 0.05, 1e-12));
        let e = Estimate::new(0.2, 0.05, "replication").unwrap();
        assert!(tost(&e, 0.1, 0.05).p_value > 0.5);
    }

    /// The composed analysis carries the closed forms unchanged (same numbers as the unit
    /// functions) and names every row.
    #[test]
    fn analysis_rows_agree_with_the_closed_forms() {
        let o = Estimate::new(0.3f64.atanh(), 1.0 / 275f64.sqrt(), "original").unwrap();
        let r = Estimate::new(0.15f64.atanh(), 1.0 / 147f64.sqrt(), "replication").unwrap();
        let mut config = ReplicationConfig::new(o);
        config.replication = Some(r);
        config.original_n = Some(278);
        config.sesoi = Some(0.1);
        let rows = analyse(&config).unwrap();
        let get = |t: &str| {
            rows.iter()
                .find(|r| r.term == t)
                .unwrap_or_else(|| panic!("{t}"))
        };
        let p = get("p.sceptical.golden.one.sided").p_value.unwrap();
        assert!(close(p, 0.0122, 5e-5));
        assert!(close(get("power.conditional").estimate, 0.963, 5e-4));
        let n = get("n.conditional").estimate;
        let c = relative_sample_size(
            o.z(),
            0.8,
            DesignPrior::Conditional,
            &PowerSettings::default(),
        )
        .unwrap();
        assert!(close(n, (c * 278.0).ceil(), 0.0));
        assert!(get("prediction.interval.predictive")
            .note
            .contains("inside"));
        assert!(rows.iter().any(|r| r.term == "tost"));
        // Planned size instead of an estimate: power rows present, no sceptical p.
        let mut plan = ReplicationConfig::new(o);
        plan.original_n = Some(278);
        plan.replication_n = Some(150);
        let rows = analyse(&plan).unwrap();
        assert!(rows.iter().any(|r| r.term == "small.telescopes.power"));
        assert!(!rows.iter().any(|r| r.term.starts_with("p.sceptical")));
        plan.original_n = None;
        assert!(analyse(&plan).is_err());
    }

    #[test]
    fn bad_standard_errors_are_refused() {
        assert!(Estimate::new(0.3, -0.1, "original").is_err());
        assert!(Estimate::new(0.3, 0.0, "original").is_err());
        assert!(Estimate::new(f64::NAN, 0.1, "original").is_err());
    }
}

/// The answer of `transport replicate`, from its rows: one verdict under the default criterion,
/// the golden sceptical p-value (one-sided, success when below `alpha/2`; Held, Micheloud & Pawel
/// 2022, *Annals of Applied Statistics* 16:706–720), with its definition and how the replication alone reads — or, before
/// the replication, the replication N for the target power under the default predictive power
/// (Micheloud & Held 2022), with the conditional and empirical-Bayes N beside it.
pub fn replication_answer(config: &ReplicationConfig, rows: &[TidyRow]) -> Vec<String> {
    let row = |term: &str| rows.iter().find(|r| r.term == term);
    let p4 = |p: f64| {
        if p < 0.0001 {
            "< .0001".to_string()
        } else {
            let s = format!("{p:.4}");
            s.strip_prefix('0').unwrap_or(&s).to_string()
        }
    };
    let count = |n: f64| {
        let digits = format!("{:.0}", n);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let level = config.alpha / 2.0;
    let mut out = Vec::new();
    match (row("replication"), row("p.sceptical.golden.one.sided")) {
        (Some(rep), Some(golden)) => {
            let p = golden.p_value.unwrap_or(f64::NAN);
            let success = p < level;
            out.push(format!(
                "Replication {}: the golden sceptical p-value is {} ({} {}, one-sided; the default criterion).",
                if success { "success" } else { "failure" },
                p4(p),
                if success { "<" } else { "\u{2265}" },
                p4(level)
            ));
            out.push("Definition: the sceptical p-value is small only when the replication convinces a sceptic whose prior just makes the original result non-significant; at the golden level (Held, Micheloud & Pawel 2022) a just-significant original is replicated only by an estimate at least as large as the original one.".to_string());
            let rp = rep.p_value.unwrap_or(f64::NAN);
            out.push(format!(
                "The replication alone estimates {:.4} (95% CI [{:.4}, {:.4}], p = {}), {} at two-sided {}; the other criteria in the table answer other questions and may disagree.",
                rep.estimate,
                rep.conf_low.unwrap_or(f64::NAN),
                rep.conf_high.unwrap_or(f64::NAN),
                p4(rp),
                if rp < config.alpha { "significant" } else { "not significant" },
                config.alpha
            ));
        }
        _ => {
            if let Some(n) = row("n.predictive") {
                let other = |term: &str| row(term).map_or("–".to_string(), |r| count(r.estimate));
                out.push(format!(
                    "For power {} the replication needs N = {} by predictive power (the default: it allows for the uncertainty of the original estimate{}); conditional power, which takes the original estimate as the truth, says {}, and empirical-Bayes power, which also shrinks it, {}.",
                    config.target_power,
                    count(n.estimate),
                    if config.tau > 0.0 { " and the heterogeneity between contexts" } else { "" },
                    other("n.conditional"),
                    other("n.EB")
                ));
            }
        }
    }
    out
}
