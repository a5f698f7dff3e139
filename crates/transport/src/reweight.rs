//! Transport by reweighting: an effect that differs across levels of effect modifiers, carried to a
//! target population with another mix of those levels.
//!
//! `ATE* = Σ_z CATE(z) · P*(z)` (Pearl & Bareinboim 2014: valid when the modifiers Z capture every
//! source–target difference that bears on the effect). Its variance by the delta method:
//! `π*ᵀ V π*` with `V` the covariance matrix of the CATE estimates (diagonal when the strata are
//! estimated independently), plus `(cᵀ(diag π* − π*π*ᵀ)c)/m` when the target shares are themselves
//! estimated from a target sample of `m` people (multinomial sampling, independent of the CATEs).
//! Example: Hammer et al. (2011) found the training helped employees with high family→work
//! conflict (+δ) and harmed those with low (−δ); where a share π* has high conflict,
//! ATE* = δ(2π* − 1), negative whenever π* < ½.
//!
//! # References
//! Pearl, J. & Bareinboim, E. (2014). External validity: from do-calculus to transportability
//! across populations. *Statistical Science* 29, 579–595. Hammer, L. B. et al. (2011). *J. Appl.
//! Psychol.* 96, 134–150.

use crate::dist::{pnorm_upper, qnorm};
use crate::rows::TidyRow;
use crate::TransportError;
use balans_model::Matrix;
use serde::Serialize;

/// One level (or combination of levels) of the effect modifiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stratum {
    /// Its name (`high conflict`).
    pub label: String,
    /// The conditional effect CATE(z).
    pub cate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Share of the target population in this stratum, P*(z).
    pub target_share: f64,
    /// Share of the source population, when known (gives the source ATE for comparison).
    pub source_share: Option<f64>,
}

/// Settings of [`transport_effect`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReweightConfig {
    /// Covariance matrix of the CATE estimates (`None`: independent, diagonal SE²).
    pub covariance: Option<Matrix>,
    /// Size of the target sample the target shares were estimated from (`None`: shares known).
    pub target_n: Option<usize>,
    /// Confidence level (0.95 when 0).
    pub level: f64,
}

/// A weighted effect with its delta-method SE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weighted {
    /// `Σ π c`.
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
}

/// The transported effect and, with source shares, the source effect and the difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transported {
    /// ATE in the target population.
    pub target: Weighted,
    /// ATE in the source population (with source shares).
    pub source: Option<Weighted>,
    /// Target − source (with source shares).
    pub difference: Option<Weighted>,
}

fn check_shares(
    strata: &[Stratum],
    get: impl Fn(&Stratum) -> f64,
    which: &str,
) -> Result<(), TransportError> {
    let mut sum = 0.0;
    for s in strata {
        let p = get(s);
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err(TransportError::invalid(
                format!("the {which} share of stratum '{}'", s.label),
                p,
                "a proportion between 0 and 1",
            ));
        }
        sum += p;
    }
    if (sum - 1.0).abs() > 1e-6 {
        return Err(TransportError::invalid(
            format!("the sum of the {which} shares"),
            sum,
            "they must sum to 1 (the strata cover the population)",
        ));
    }
    Ok(())
}

fn validate(strata: &[Stratum], config: &ReweightConfig) -> Result<(), TransportError> {
    if strata.is_empty() {
        return Err(TransportError::invalid(
            "the strata",
            "(none)",
            "at least one stratum",
        ));
    }
    for s in strata {
        if !s.cate.is_finite() {
            return Err(TransportError::invalid(
                format!("the effect in stratum '{}'", s.label),
                s.cate,
                "a finite number",
            ));
        }
        if !(s.std_error.is_finite() && s.std_error >= 0.0) {
            return Err(TransportError::invalid(
                format!("the standard error in stratum '{}'", s.label),
                s.std_error,
                "a non-negative number",
            ));
        }
    }
    check_shares(strata, |s| s.target_share, "target")?;
    if strata.iter().any(|s| s.source_share.is_some()) {
        if strata.iter().any(|s| s.source_share.is_none()) {
            return Err(TransportError::invalid(
                "the source shares",
                "(some missing)",
                "a source share for every stratum, or for none",
            ));
        }
        check_shares(strata, |s| s.source_share.unwrap_or(f64::NAN), "source")?;
    }
    if let Some(v) = &config.covariance {
        let k = strata.len();
        if v.shape() != (k, k) {
            return Err(TransportError::invalid(
                "the covariance matrix of the effects",
                format!("{}×{}", v.nrows(), v.ncols()),
                format!("{k}×{k}, one row and column per stratum"),
            ));
        }
        let asymmetric = (v - v.transpose()).amax() > 1e-10 * v.amax().max(1.0);
        if asymmetric || v.symmetric_eigenvalues().min() < -1e-12 * v.amax().max(1.0) {
            return Err(TransportError::invalid(
                "the covariance matrix of the effects",
                "(not symmetric positive semi-definite)",
                "a covariance matrix",
            ));
        }
    }
    if config.target_n == Some(0) {
        return Err(TransportError::invalid(
            "the target sample size",
            0,
            "a positive count",
        ));
    }
    Ok(())
}

fn weighted(strata: &[Stratum], shares: &[f64], config: &ReweightConfig) -> Weighted {
    let k = strata.len();
    let estimate = strata.iter().zip(shares).map(|(s, p)| s.cate * p).sum();
    let mut var = 0.0;
    for i in 0..k {
        for j in 0..k {
            let v = match &config.covariance {
                Some(m) => m[(i, j)],
                None if i == j => strata[i].std_error.powi(2),
                None => 0.0,
            };
            var += shares[i] * v * shares[j];
        }
    }
    Weighted {
        estimate,
        std_error: var.sqrt(),
    }
}

/// Carries a moderated effect to the target population.
///
/// # Errors
/// No strata, non-finite effects, negative SEs, shares outside [0, 1] or not summing to 1, source
/// shares for some strata only, a covariance matrix of the wrong size or not a covariance matrix.
pub fn transport_effect(
    strata: &[Stratum],
    config: &ReweightConfig,
) -> Result<Transported, TransportError> {
    validate(strata, config)?;
    let target_shares: Vec<f64> = strata.iter().map(|s| s.target_share).collect();
    let mut target = weighted(strata, &target_shares, config);
    // Estimated target shares: Var(Σ π̂ c) = cᵀ(diag π − ππᵀ)c / m = (Σ π c² − (Σ π c)²) / m.
    let share_var = config.target_n.map_or(0.0, |m| {
        let second: f64 = strata
            .iter()
            .map(|s| s.target_share * s.cate * s.cate)
            .sum();
        (second - target.estimate.powi(2)).max(0.0) / m as f64
    });
    target.std_error = (target.std_error.powi(2) + share_var).sqrt();
    let (source, difference) = if strata.iter().all(|s| s.source_share.is_some()) {
        let source_shares: Vec<f64> = strata.iter().filter_map(|s| s.source_share).collect();
        let source = weighted(strata, &source_shares, config);
        let diff_shares: Vec<f64> = target_shares
            .iter()
            .zip(&source_shares)
            .map(|(t, s)| t - s)
            .collect();
        let mut diff = weighted(strata, &diff_shares, config);
        diff.std_error = (diff.std_error.powi(2) + share_var).sqrt();
        (Some(source), Some(diff))
    } else {
        (None, None)
    };
    Ok(Transported {
        target,
        source,
        difference,
    })
}

fn row(term: &str, w: &Weighted, level: f64, note: String) -> TidyRow {
    let z = quantile(0.5 + level / 2.0);
    let stat = w.estimate / w.std_error;
    TidyRow {
        term: term.into(),
        estimate: w.estimate,
        std_error: Some(w.std_error),
        statistic: Some(stat),
        p_value: Some(2.0 * pnorm_upper(stat.abs())),
        conf_low: Some(w.estimate - z * w.std_error),
        conf_high: Some(w.estimate + z * w.std_error),
        note,
    }
}

/// The strata and the transported effects as rows.
///
/// # Errors
/// As [`transport_effect`].
pub fn reweight_rows(
    strata: &[Stratum],
    config: &ReweightConfig,
) -> Result<Vec<TidyRow>, TransportError> {
    let level = if config.level > 0.0 {
        config.level
    } else {
        0.95
    };
    let t = transport_effect(strata, config)?;
    let mut rows: Vec<TidyRow> = strata
        .iter()
        .map(|s| {
            row(
                &s.label,
                &Weighted {
                    estimate: s.cate,
                    std_error: s.std_error,
                },
                level,
                format!(
                    "conditional effect; target share {}{}",
                    s.target_share,
                    s.source_share
                        .map_or_else(String::new, |p| format!(", source share {p}"))
                ),
            )
        })
        .collect();
    let shares_note = match config.target_n {
        Some(m) => format!(" (target shares estimated from {m} people)"),
        None => String::new(),
    };
    rows.push(row(
        "ate.target",
        &t.target,
        level,
        format!("sum of CATE x target share{shares_note}"),
    ));
    if let (Some(s), Some(d)) = (&t.source, &t.difference) {
        rows.push(row(
            "ate.source",
            s,
            level,
            "sum of CATE x source share".into(),
        ));
        rows.push(row("ate.difference", d, level, "target − source".into()));
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
mod tests {
    use super::*;

    fn hammer(delta: f64, se: f64, pi: f64) -> Vec<Stratum> {
        vec![
            Stratum {
                label: "high conflict".into(),
                cate: delta,
                std_error: se,
                target_share: pi,
                source_share: Some(0.5),
            },
            Stratum {
                label: "low conflict".into(),
                cate: -delta,
                std_error: se,
                target_share: 1.0 - pi,
                source_share: Some(0.5),
            },
        ]
    }

    /// docs/INTERVENTIONS.md D3: ATE* = δ(2π* − 1); π* = .3 gives −0.4δ. SE = se·√(π² + (1−π)²).
    #[test]
    fn hammer_disordinal_pattern_turns_negative() {
        let t = transport_effect(&hammer(0.25, 0.1, 0.3), &ReweightConfig::default()).unwrap();
        assert!((t.target.estimate - (-0.1)).abs() < 1e-15);
        assert!((t.target.std_error - 0.1 * (0.09f64 + 0.49).sqrt()).abs() < 1e-15);
        let s = t.source.unwrap();
        assert!(s.estimate.abs() < 1e-15);
        let d = t.difference.unwrap();
        assert!((d.estimate - (-0.1)).abs() < 1e-15);
        // Difference shares (−.2, .2): SE = 0.1·√0.08.
        assert!((d.std_error - 0.1 * 0.08f64.sqrt()).abs() < 1e-15);
    }

    /// A full covariance matrix: Var = πᵀVπ; perfectly correlated CATEs add up linearly.
    #[test]
    fn covariance_enters_as_a_quadratic_form() {
        let mut strata = hammer(0.25, 0.1, 0.3);
        for s in &mut strata {
            s.source_share = None;
        }
        let v = Matrix::from_row_slice(2, 2, &[0.01, 0.01, 0.01, 0.01]);
        let config = ReweightConfig {
            covariance: Some(v),
            ..ReweightConfig::default()
        };
        let t = transport_effect(&strata, &config).unwrap();
        assert!((t.target.std_error - 0.1).abs() < 1e-15);
        // Estimated target shares add the multinomial variance (Σπc² − (Σπc)²)/m.
        let config = ReweightConfig {
            target_n: Some(100),
            ..ReweightConfig::default()
        };
        let t = transport_effect(&strata, &config).unwrap();
        let want = (0.01 * 0.58 + (0.0625 - 0.01) / 100.0f64).sqrt();
        assert!((t.target.std_error - want).abs() < 1e-15);
    }

    #[test]
    fn bad_shares_are_refused() {
        let mut s = hammer(0.25, 0.1, 0.3);
        s[0].target_share = 0.5;
        let e = transport_effect(&s, &ReweightConfig::default()).unwrap_err();
        assert!(
            e.to_string().contains("sum of the target shares = 1.2"),
            "{e}"
        );
        let mut s = hammer(0.25, 0.1, 0.3);
        s[1].source_share = None;
        assert!(transport_effect(&s, &ReweightConfig::default()).is_err());
        let s = hammer(0.25, -0.1, 0.3);
        let e = transport_effect(&s, &ReweightConfig::default()).unwrap_err();
        assert!(e.to_string().contains("high conflict"), "{e}");
    }
}
