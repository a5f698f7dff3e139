//! What if: the expected change of every outcome when exogenous variables ("levers") are shifted.
//!
//! Works on the standardized population, so shifts and changes are in standard deviations. For a
//! shift `s_x` of lever `x` reaching a share `p` of employees, the expected change of outcome `y`
//! is `p · Σ_x T[y, x] · s_x`, with `T = (I − B)⁻¹ − I` the total effects (linear model: the mean
//! of `y` moves by the total effect times the mean shift of `x`). The change splits exactly by
//! the last variable before `y` on each route: `T = B + B·T` (from `(I − B)⁻¹ = I + B(I − B)⁻¹`), so
//! `T[y, x] = B[y, x] + Σ_m B[y, m] · T[m, x]` — the direct part and the part through each
//! mediator `m` (its last step into `y`), which sum to the total.

use crate::population::{Population, PopulationError};
use serde::Serialize;

/// One lever's shift, in standard deviations of the lever.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    /// The lever (an exogenous variable).
    pub lever: String,
    /// The shift in SD.
    pub sd: f64,
}

/// The part of an outcome's change that runs through one mediator (its last step into the outcome).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Via {
    /// The mediator.
    pub mediator: String,
    /// The change through it, in SD of the outcome.
    pub change: f64,
}

/// The expected change of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeChange {
    /// The outcome (an endogenous variable).
    pub outcome: String,
    /// Total expected change, in SD of the outcome.
    pub total: f64,
    /// The direct part (levers' own paths into the outcome).
    pub direct: f64,
    /// The parts through each endogenous predictor of the outcome.
    pub via: Vec<Via>,
}

/// One lever's effect on the chosen outcome per +1 SD shift (reaching everyone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeverEffect {
    /// The lever.
    pub lever: String,
    /// Total effect on the outcome per +1 SD of the lever.
    pub per_sd: f64,
}

/// The result of a what-if analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfReport {
    /// The model's origin (`builtin:seed-levers`, a path).
    pub model: String,
    /// The shifts.
    pub shifts: Vec<Shift>,
    /// Share of employees reached, in (0, 1].
    pub share: f64,
    /// The expected change of every outcome, in model order.
    pub changes: Vec<OutcomeChange>,
    /// The outcome the levers are ranked on.
    pub compare_outcome: String,
    /// Every lever ranked by the absolute size of its total effect on `compare_outcome` (ties by name).
    pub ranking: Vec<LeverEffect>,
}

/// Why a what-if analysis cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WhatIfError {
    /// A shift names no variable of the model, or an endogenous one.
    #[error("'{name}' is not a lever of the model (levers are its exogenous variables: {levers})")]
    NotALever {
        /// The name given.
        name: String,
        /// The model's exogenous variables.
        levers: String,
    },
    /// The outcome to compare on is not an endogenous variable.
    #[error("'{name}' is not an outcome of the model (outcomes: {outcomes})")]
    NotAnOutcome {
        /// The name given.
        name: String,
        /// The model's endogenous variables.
        outcomes: String,
    },
    /// A share outside (0, 1] or a non-finite shift.
    #[error("{0}")]
    Invalid(String),
    /// Standardizing the population failed.
    #[error(transparent)]
    Population(#[from] PopulationError),
}

/// Computes the expected change of every outcome for `shifts` reaching `share` of employees, and
/// ranks every lever by its total effect on `compare_outcome` per +1 SD.
pub fn what_if(
    model: &str,
    population: &Population,
    shifts: &[Shift],
    share: f64,
    compare_outcome: &str,
) -> Result<WhatIfReport, WhatIfError> {
    if !(share > 0.0 && share <= 1.0) {
        return Err(WhatIfError::Invalid(format!(
            "the share reached must be in (0, 1], not {share}"
        )));
    }
    let pop = population.standardized()?;
    let names = pop.names();
    let exo = pop.exogenous();
    let levers: Vec<usize> = (0..names.len()).filter(|&i| exo[i]).collect();
    let outcomes: Vec<usize> = (0..names.len()).filter(|&i| !exo[i]).collect();
    let list = |idx: &[usize]| {
        idx.iter()
            .map(|&i| names[i].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut shift_at = vec![0.0; names.len()];
    for s in shifts {
        if !s.sd.is_finite() {
            return Err(WhatIfError::Invalid(format!(
                "the shift of '{}' must be finite",
                s.lever
            )));
        }
        match names.iter().position(|n| *n == s.lever) {
            Some(i) if exo[i] => shift_at[i] += s.sd,
            _ => {
                return Err(WhatIfError::NotALever {
                    name: s.lever.clone(),
                    levers: list(&levers),
                })
            }
        }
    }
    let target = match names.iter().position(|n| n == compare_outcome) {
        Some(i) if !exo[i] => i,
        _ => {
            return Err(WhatIfError::NotAnOutcome {
                name: compare_outcome.to_string(),
                outcomes: list(&outcomes),
            })
        }
    };
    let effects = pop.effects();
    let (b, t) = (&effects.direct, &effects.total);
    let changes = outcomes
        .iter()
        .map(|&y| {
            let total: f64 = levers.iter().map(|&x| t[(y, x)] * shift_at[x]).sum::<f64>() * share;
            let direct: f64 = levers.iter().map(|&x| b[(y, x)] * shift_at[x]).sum::<f64>() * share;
            let via = outcomes
                .iter()
                .filter(|&&m| b[(y, m)] != 0.0)
                .map(|&m| Via {
                    mediator: names[m].clone(),
                    change: b[(y, m)]
                        * levers.iter().map(|&x| t[(m, x)] * shift_at[x]).sum::<f64>()
                        * share,
                })
                .collect();
            OutcomeChange {
                outcome: names[y].clone(),
                total,
                direct,
                via,
            }
        })
        .collect();
    let mut ranking: Vec<LeverEffect> = levers
        .iter()
        .map(|&x| LeverEffect {
            lever: names[x].clone(),
            per_sd: t[(target, x)],
        })
        .collect();
    ranking.sort_by(|a, b| {
        b.per_sd
            .abs()
            .total_cmp(&a.per_sd.abs())
            .then_with(|| a.lever.cmp(&b.lever))
    });
    Ok(WhatIfReport {
        model: model.to_string(),
        shifts: shifts.to_vec(),
        share,
        changes,
        compare_outcome: compare_outcome.to_string(),
        ranking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_text;

    fn levers() -> Population {
        crate::parse_model(
            "builtin:seed-levers",
            builtin_text("seed-levers").unwrap().text,
        )
        .unwrap()
        .population()
        .unwrap()
    }

    #[test]
    fn change_is_total_effect_times_shift_times_share() {
        let pop = levers();
        let shifts = [
            Shift {
                lever: "load".into(),
                sd: -0.5,
            },
            Shift {
                lever: "supp".into(),
                sd: 0.3,
            },
        ];
        let r = what_if("builtin:seed-levers", &pop, &shifts, 0.6, "eng").unwrap();
        let std = pop.standardized().unwrap();
        let t = std.effects().total;
        let at = |n: &str| std.names().iter().position(|x| x == n).unwrap();
        for c in &r.changes {
            let y = at(&c.outcome);
            let want = 0.6 * (t[(y, at("load"))] * -0.5 + t[(y, at("supp"))] * 0.3);
            assert!(
                (c.total - want).abs() < 1e-12,
                "{}: {} vs {}",
                c.outcome,
                c.total,
                want
            );
            let parts: f64 = c.direct + c.via.iter().map(|v| v.change).sum::<f64>();
            assert!(
                (parts - c.total).abs() < 1e-12,
                "{}: parts {} total {}",
                c.outcome,
                parts,
                c.total
            );
        }
        // A hand check on the model's values: eng = 0.6·(0·(−0.5) + 0.15·0.3), no route into eng.
        let eng = r.changes.iter().find(|c| c.outcome == "eng").unwrap();
        assert!((eng.total - 0.6 * 0.15 * 0.3).abs() < 1e-12);
        // perf = −0.15·wfc + 0.05·wfe + 0.35·eng along the levers' paths.
        let perf = r.changes.iter().find(|c| c.outcome == "perf").unwrap();
        let wfc = 0.25 * -0.5 + -0.10 * 0.3;
        let wfe = -0.05 * -0.5 + 0.10 * 0.3;
        let e = 0.15 * 0.3;
        let want = 0.6 * (-0.15 * wfc + 0.05 * wfe + 0.35 * e);
        assert!(
            (perf.total - want).abs() < 1e-12,
            "{} vs {want}",
            perf.total
        );
    }

    #[test]
    fn ranking_is_by_absolute_total_effect_and_reproducible() {
        let pop = levers();
        let a = what_if("m", &pop, &[], 1.0, "perf").unwrap();
        let b = what_if("m", &pop, &[], 1.0, "perf").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.ranking.len(), 5);
        for w in a.ranking.windows(2) {
            assert!(w[0].per_sd.abs() >= w[1].per_sd.abs());
        }
        // fssb: −0.3·−0.15 + 0.42·0.05 + 0.42·0.35 = 0.213, the largest.
        assert_eq!(a.ranking[0].lever, "fssb");
        assert!((a.ranking[0].per_sd - 0.213).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let pop = levers();
        let s = |n: &str| {
            vec![Shift {
                lever: n.into(),
                sd: 1.0,
            }]
        };
        assert!(matches!(
            what_if("m", &pop, &s("eng"), 1.0, "eng"),
            Err(WhatIfError::NotALever { .. })
        ));
        assert!(matches!(
            what_if("m", &pop, &s("nope"), 1.0, "eng"),
            Err(WhatIfError::NotALever { .. })
        ));
        assert!(matches!(
            what_if("m", &pop, &[], 1.0, "load"),
            Err(WhatIfError::NotAnOutcome { .. })
        ));
        assert!(matches!(
            what_if("m", &pop, &[], 0.0, "eng"),
            Err(WhatIfError::Invalid(_))
        ));
        assert!(matches!(
            what_if("m", &pop, &[], 1.5, "eng"),
            Err(WhatIfError::Invalid(_))
        ));
    }
}
