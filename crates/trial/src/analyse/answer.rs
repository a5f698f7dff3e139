//! The answer of `trial analyse`, computed from the typed [`AnalysisReport`]: per outcome the
//! pre-registered primary analysis — the mixed ANCOVA (post on pre, a random intercept per leader,
//! Satterthwaite df) — with the training effect, Cohen's d, the interval and p; the other analyses
//! as sensitivity analyses, flagged when their verdict (p below alpha or not) differs from the
//! primary one.

use super::{Analysis, AnalysisReport, TidyRow};

/// Most outcomes described one by one (one sentence each).
const MAX_OUTCOMES: usize = 3;

/// The term that carries the training effect in `analysis`: `time:arm` in the long mixed model,
/// `uptake` in the complier average causal effect, `arm` otherwise; `None` for analyses of other
/// questions (moderation, mediation, the effect size).
fn effect_term(analysis: Analysis) -> Option<&'static str> {
    match analysis {
        Analysis::MixedAncova
        | Analysis::MixedAncovaKr
        | Analysis::OlsCr2
        | Analysis::LeaderMeans => Some("arm"),
        Analysis::LongMixed | Analysis::LongMixedKr | Analysis::LongStableLeader => {
            Some("time:arm")
        }
        Analysis::Cace => Some("uptake"),
        Analysis::Moderation | Analysis::Mediation | Analysis::EffectSize => None,
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < .001".to_string()
    } else {
        let s = format!("{p:.4}");
        format!("p = {}", s.strip_prefix('0').unwrap_or(&s))
    }
}

impl AnalysisReport {
    /// 1–5 sentences: per outcome (up to three) the primary analysis's training effect, d, 95%
    /// interval and p; then which sensitivity analyses disagree with it at `alpha` (or that none
    /// does).
    pub fn answer(&self, alpha: f64) -> Vec<String> {
        let mut outcomes: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !outcomes.contains(&r.outcome.as_str()) {
                outcomes.push(&r.outcome);
            }
        }
        let find = |analysis: Analysis, outcome: &str, term: &str| -> Option<&TidyRow> {
            self.rows
                .iter()
                .find(|r| r.analysis == analysis && r.outcome == outcome && r.term == term)
        };
        let mut out = Vec::new();
        let mut disagree: Vec<String> = Vec::new();
        let mut compared: Vec<&'static str> = Vec::new();
        for outcome in &outcomes {
            let Some(primary) = find(Analysis::MixedAncova, outcome, "arm") else {
                continue;
            };
            let significant = primary.p_value < alpha;
            if out.len() < MAX_OUTCOMES {
                let d = find(Analysis::EffectSize, outcome, "d(mixed_ancova)").map_or_else(
                    String::new,
                    |d| {
                        format!(
                            ", d = {:.3} [{:.3}, {:.3}]",
                            d.estimate, d.conf_low, d.conf_high
                        )
                    },
                );
                let lead = if out.is_empty() {
                    "the pre-registered primary analysis, the mixed ANCOVA (post on pre, random intercept per leader), estimates the training effect at"
                } else {
                    "the mixed ANCOVA gives"
                };
                out.push(format!(
                    "{outcome}: {lead} {:.3} (95% CI [{:.3}, {:.3}], {}){d}: {}.",
                    primary.estimate,
                    primary.conf_low,
                    primary.conf_high,
                    p_text(primary.p_value),
                    if significant {
                        "significant"
                    } else {
                        "not significant"
                    }
                ));
            }
            for r in &self.rows {
                if r.outcome != *outcome || r.analysis == Analysis::MixedAncova {
                    continue;
                }
                if effect_term(r.analysis) != Some(r.term.as_str()) {
                    continue;
                }
                if !compared.contains(&r.analysis.name()) {
                    compared.push(r.analysis.name());
                }
                if (r.p_value < alpha) != significant {
                    disagree.push(format!(
                        "{} on {outcome} ({})",
                        r.analysis.name(),
                        p_text(r.p_value)
                    ));
                }
            }
        }
        if outcomes.len() > MAX_OUTCOMES && !out.is_empty() {
            out.push(format!(
                "{} more outcomes are in the table below.",
                outcomes.len() - MAX_OUTCOMES
            ));
        }
        if !compared.is_empty() {
            out.push(if disagree.is_empty() {
                format!(
                    "The sensitivity analyses ({}) reach the same verdict.",
                    compared.join(", ")
                )
            } else {
                format!(
                    "Sensitivity analyses that reach a different verdict: {}.",
                    disagree.join(", ")
                )
            });
        }
        out.truncate(5);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(analysis: Analysis, outcome: &str, term: &str, estimate: f64, p: f64) -> TidyRow {
        TidyRow {
            analysis,
            outcome: outcome.into(),
            term: term.into(),
            estimate,
            std_error: 0.1,
            statistic: estimate / 0.1,
            df: 25.0,
            p_value: p,
            conf_low: estimate - 0.2,
            conf_high: estimate + 0.2,
        }
    }

    fn report(leader_means_p: f64) -> AnalysisReport {
        AnalysisReport {
            rows: vec![
                row(Analysis::MixedAncova, "fssb", "(Intercept)", -0.1, 0.2),
                row(Analysis::MixedAncova, "fssb", "arm", 0.394, 0.0045),
                row(Analysis::MixedAncova, "fssb", "pre", 0.58, 0.0),
                row(
                    Analysis::EffectSize,
                    "fssb",
                    "d(mixed_ancova)",
                    0.415,
                    0.0045,
                ),
                row(Analysis::OlsCr2, "fssb", "arm", 0.40, 0.0038),
                row(Analysis::LeaderMeans, "fssb", "arm", 0.34, leader_means_p),
                row(Analysis::LongMixed, "fssb", "time:arm", 0.44, 0.0003),
            ],
            counts: Vec::new(),
            iccs: Vec::new(),
            balance: Vec::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_primary_analysis_is_named_and_disagreeing_sensitivity_analyses_are_flagged() {
        let agree = report(0.02).answer(0.05);
        assert_eq!(agree.len(), 2, "{agree:?}");
        assert!(agree[0].starts_with("fssb: the pre-registered primary analysis, the mixed ANCOVA"));
        assert!(
            agree[0].contains("0.394 (95% CI [0.194, 0.594], p = .0045), d = 0.415"),
            "{}",
            agree[0]
        );
        assert!(agree[0].ends_with(": significant."));
        assert_eq!(
            agree[1],
            "The sensitivity analyses (ols_cr2, leader_means, long_mixed) reach the same verdict."
        );
        let differ = report(0.08).answer(0.05);
        assert_eq!(
            differ[1],
            "Sensitivity analyses that reach a different verdict: leader_means on fssb (p = .0800)."
        );
    }
}
