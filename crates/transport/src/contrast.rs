//! Power to detect that an effect differs between two contexts (a Wald z-test of
//! `θ_A − θ_B` from two independent groups of sizes `n_A` and `n_B`), in closed form.
//!
//! Each context's standard error comes from the ML fit of the analysis model to that context's
//! population covariance matrix at its N ([`balans_estimate::estimate`] on exact moments: the
//! estimates are the population values and the SEs the asymptotic expected-information ones,
//! `SE² = v/N` with `v` the per-person variance). Then `SE_Δ = √(v_A/n_A + v_B/n_B)` and
//! `power = Φ(|Δ|/SE_Δ − z_{1−α/2}) + Φ(−|Δ|/SE_Δ − z_{1−α/2})`; for equal sizes the N per context
//! reaching a target power solves `n = (z_{1−α/2} + z_power)²(v_A + v_B)/Δ²` (one tail).
//! Context B is a second model, or context A with some paths shifted.

use crate::dist::{pnorm, qnorm};
use crate::TransportError;
use balans_estimate::{estimate, SampleMoments};
use balans_model::{Matrix, Population};
use balans_power::{EffectKind, Study};
use serde::Serialize;

/// The answer for one effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DifferencePower {
    /// The effect.
    pub effect: String,
    /// Its value in context A.
    pub value_a: f64,
    /// Its value in context B.
    pub value_b: f64,
    /// `θ_A − θ_B`.
    pub difference: f64,
    /// SE of the estimate in context A at `n_a`.
    pub se_a: f64,
    /// SE in context B at `n_b`.
    pub se_b: f64,
    /// SE of the difference.
    pub se_difference: f64,
    /// Power of the two-sided test at `alpha`.
    pub power: f64,
    /// Equal N per context for the target power (`None` when Δ = 0).
    pub n_per_context: Option<f64>,
}

/// Value and SE at `n` of `effect` in a population with analysis covariance `sigma`: the ML fit to
/// the exact moments (estimate = population value, SE = expected-information SE at N). With
/// `study.analysis_covariance()` this is what a study of N respondents from the model's population
/// expects to report.
///
/// # Errors
/// Unknown effect names; a model that cannot be fitted.
pub fn value_and_se(
    study: &Study,
    sigma: &Matrix,
    n: usize,
    effect: &str,
) -> Result<(f64, f64), TransportError> {
    let moments = SampleMoments::from_covariance(sigma.clone(), n)
        .map_err(|e| TransportError::Model(e.to_string()))?;
    let fit =
        estimate(study.analysis(), &moments).map_err(|e| TransportError::Model(e.to_string()))?;
    let e = study
        .effects()
        .iter()
        .find(|e| e.name == effect)
        .ok_or_else(|| unknown(study, effect))?;
    match &e.kind {
        EffectKind::Path { parameter } => {
            let p = &fit.parameters[*parameter];
            Ok((p.est, p.std_err))
        }
        EffectKind::Function { effect, .. } => {
            let f = &fit.effects[*effect];
            Ok((f.est, f.std_err))
        }
        EffectKind::AllJointly => Err(unknown(study, "all_hypothesised")),
    }
}

fn unknown(study: &Study, name: &str) -> TransportError {
    TransportError::UnknownEffect {
        name: name.to_string(),
        known: study
            .effects()
            .iter()
            .filter(|e| !matches!(e.kind, EffectKind::AllJointly))
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The analysis covariance of `study`'s population with the named paths shifted by the given
/// amounts (residual variances kept).
///
/// # Errors
/// Unknown or non-path names; a shifted population that is not positive definite.
pub fn shifted_covariance(
    study: &Study,
    shifts: &[(String, f64)],
) -> Result<Matrix, TransportError> {
    let pop = study.population();
    let mut beta = pop.beta().clone();
    for (name, d) in shifts {
        let (outcome, predictor) = name
            .split_once('~')
            .and_then(|(o, p)| Some((pop.index_of(o.trim())?, pop.index_of(p.trim())?)))
            .filter(|&(o, p)| {
                study
                    .effects()
                    .iter()
                    .any(|e| e.name == *name && matches!(e.kind, EffectKind::Path { .. }))
                    && o != p
            })
            .ok_or_else(|| {
                let mut e = unknown(study, name);
                if let TransportError::UnknownEffect { known, .. } = &mut e {
                    *known = study
                        .effects()
                        .iter()
                        .filter(|e| matches!(e.kind, EffectKind::Path { .. }))
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                }
                e
            })?;
        beta[(outcome, predictor)] += d;
    }
    let shifted = Population::new(
        pop.names().to_vec(),
        pop.exogenous().to_vec(),
        beta,
        pop.psi().clone(),
    )
    .map_err(|e| TransportError::Model(e.to_string()))?;
    let sigma = shifted.implied_covariance();
    let cols: Vec<usize> = study
        .analysis()
        .variables()
        .iter()
        .map(|v| pop.index_of(v).expect("the study checked the variables"))
        .collect();
    Ok(Matrix::from_fn(cols.len(), cols.len(), |i, j| {
        sigma[(cols[i], cols[j])]
    }))
}

/// Power to detect that `effect` differs between context A (`study`'s population) and context B
/// (analysis covariance `sigma_b`), with `n_a` and `n_b` respondents, at two-sided `alpha`; and
/// the equal N per context for `target_power`.
///
/// # Errors
/// Unknown effect, sizes too small for the model, levels outside (0, 1).
pub fn difference_power(
    study: &Study,
    sigma_b: &Matrix,
    effect: &str,
    n_a: usize,
    n_b: usize,
    alpha: f64,
    target_power: f64,
) -> Result<DifferencePower, TransportError> {
    for (what, v) in [
        ("the significance level", alpha),
        ("the target power", target_power),
    ] {
        if !(v > 0.0 && v < 1.0) {
            return Err(TransportError::invalid(
                what,
                v,
                "a number strictly between 0 and 1",
            ));
        }
    }
    let needed = study.min_sample_size();
    for (what, n) in [
        ("the size of context A", n_a),
        ("the size of context B", n_b),
    ] {
        if n < needed {
            return Err(TransportError::invalid(
                what,
                n,
                format!("at least {needed} for this model"),
            ));
        }
    }
    let (value_a, se_a) = value_and_se(study, &study.analysis_covariance(), n_a, effect)?;
    let (value_b, se_b) = value_and_se(study, sigma_b, n_b, effect)?;
    let difference = value_a - value_b;
    let se_difference = (se_a * se_a + se_b * se_b).sqrt();
    let z = quantile(1.0 - alpha / 2.0);
    let ratio = difference.abs() / se_difference;
    let power = pnorm(ratio - z) + pnorm(-ratio - z);
    let per_person = se_a * se_a * n_a as f64 + se_b * se_b * n_b as f64;
    let n_per_context = (difference.abs() > 1e-12)
        .then(|| (z + quantile(target_power)).powi(2) * per_person / (difference * difference));
    Ok(DifferencePower {
        effect: effect.to_string(),
        value_a,
        value_b,
        difference,
        se_a,
        se_b,
        se_difference,
        power,
        n_per_context,
    })
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
