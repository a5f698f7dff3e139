//! Correlations between scale scores are attenuated by unreliability: about ρ·√(αᵢαⱼ).
//!
//! # References
//! Spearman (1904), "The proof and measurement of association between two things": the observed
//! correlation of two fallible measures is the true correlation times √(reliabilityᵢ·reliabilityⱼ);
//! Cronbach (1951) for α.

use super::{correlation, mean_sd, DemoConfig};
use crate::TeachError;
use balans_model::Model;
use balans_report::html::page::{num, text, Page, Table};
use balans_report::markup::decimals_apa;
use balans_report::plot::{LinePlot, PlotPoint, Series};
use balans_sim::{Measurement, Simulator, SurveyDesign, TeamSizes};

const N: usize = 2000;

/// Cronbach's α of item columns: k/(k − 1)·(1 − Σ var(item) / var(sum)).
pub(crate) fn cronbach_alpha(items: &[Vec<f64>]) -> f64 {
    let k = items.len() as f64;
    let n = items[0].len();
    let sum: Vec<f64> = (0..n).map(|r| items.iter().map(|c| c[r]).sum()).collect();
    let var = |v: &[f64]| mean_sd(v).1.powi(2);
    let item_var: f64 = items.iter().map(|c| var(c)).sum();
    k / (k - 1.0) * (1.0 - item_var / var(&sum))
}

/// The design of the demonstration: N employees without teams, answering the study's Likert
/// scales (their α targets, `balans_study::scales`), with their true scores kept. Without the
/// study's scale table every construct would be a continuous score of reliability 1 and the page
/// would show no attenuation at all.
fn attenuation_design() -> SurveyDesign {
    SurveyDesign {
        n: N,
        teams: TeamSizes::None,
        true_scores: true,
        scales: balans_study::scales(),
        ..SurveyDesign::default()
    }
}

/// One pair of the study's scales in the demonstration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pair {
    /// The two constructs.
    pub names: (String, String),
    /// Correlation of the simulated true scores.
    pub true_r: f64,
    /// Cronbach's α of each scale's simulated items.
    pub alphas: (f64, f64),
    /// Correlation of the two scale scores (item means).
    pub observed_r: f64,
}

/// Simulates the demonstration's survey and returns every pair of scales (true r, the α of each
/// scale as computed from its items, the scale-score r) and the true-score r of engagement and
/// performance's pair is found by name by the caller.
pub(crate) fn pairs(seed: u64) -> Result<Vec<Pair>, TeachError> {
    let model = Model::builtin("seed")?;
    let sim = Simulator::new(&model, &attenuation_design())?;
    let data = sim.simulate(seed);
    let column = |name: &str| data.column(name).expect("simulated column");
    let constructs = sim.constructs();
    let alpha: Vec<f64> = constructs
        .iter()
        .map(|info| match &info.measurement {
            Measurement::Likert { items, .. } => {
                let cols: Vec<Vec<f64>> = items.iter().map(|i| column(i)).collect();
                cronbach_alpha(&cols)
            }
            Measurement::Continuous { reliability } => *reliability,
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..constructs.len() {
        for j in (i + 1)..constructs.len() {
            let (ci, cj) = (&constructs[i].name, &constructs[j].name);
            out.push(Pair {
                names: (ci.clone(), cj.clone()),
                true_r: correlation(
                    &column(&format!("true_{ci}")),
                    &column(&format!("true_{cj}")),
                ),
                alphas: (alpha[i], alpha[j]),
                observed_r: correlation(&column(ci), &column(cj)),
            });
        }
    }
    Ok(out)
}

pub(super) fn render(c: &DemoConfig, page: &mut Page) -> Result<(), TeachError> {
    let pairs = pairs(c.seed)?;
    let mut points = Vec::new();
    let mut expected_points = Vec::new();
    let mut t = Table::new(
        "attenuation",
        &[
            "pair",
            "true-score r",
            "α₁",
            "α₂",
            "expected r·√(α₁α₂)",
            "scale-score r",
            "corrected r / √(α₁α₂)",
        ],
    );
    let mut ratios = Vec::new();
    for p in &pairs {
        let factor = (p.alphas.0 * p.alphas.1).sqrt();
        points.push(PlotPoint {
            x: p.true_r,
            y: p.observed_r,
            band: None,
        });
        expected_points.push((p.true_r, p.true_r * factor));
        if p.true_r.abs() > 0.05 {
            ratios.push(p.observed_r / p.true_r);
        }
        t.row(vec![
            text(format!("{}–{}", p.names.0, p.names.1)),
            num(format!("{:.3}", p.true_r)),
            num(format!("{:.3}", p.alphas.0)),
            num(format!("{:.3}", p.alphas.1)),
            num(format!("{:.3}", p.true_r * factor)),
            num(format!("{:.3}", p.observed_r)),
            num(format!("{:.3}", p.observed_r / factor)),
        ]);
    }
    let (mean_ratio, _) = mean_sd(&ratios);
    // The built-in model always has the pair; the first pair stands in should it be renamed.
    let Some(ep) = pairs
        .iter()
        .find(|p| p.names.0 == "eng" && p.names.1 == "perf")
        .or(pairs.first())
    else {
        return Ok(());
    };
    page.paragraph(&format!(
        "One survey of N = {N} employees was simulated from the study's model with Likert items (α targets of the study's scales), keeping each respondent's true construct score. The scale score is the mean of a scale's items: true score plus measurement error."
    ));
    page.sentences(&[
        format!(
            "Scale-score correlations are on average {}% of the true correlations (pairs with |r| > .05): measurement error dilutes every relation.",
            (100.0 * mean_ratio).round()
        ),
        format!(
            "Engagement and performance: true r = {}, but with α = {} and {} the scale scores correlate only {}, close to Spearman's r·√(α₁α₂) = {}.",
            decimals_apa(ep.true_r, 3),
            decimals_apa(ep.alphas.0, 2),
            decimals_apa(ep.alphas.1, 2),
            decimals_apa(ep.observed_r, 3),
            decimals_apa(ep.true_r * (ep.alphas.0 * ep.alphas.1).sqrt(), 3)
        ),
        "Paths estimated on scale scores inherit the attenuation (and a mediator measured with error makes b too small and c′ too large). Latent-variable models or corrections for attenuation undo it; α > .80 for every scale, as in the study, keeps it to 10–20%.".into(),
    ]);
    let mut sorted = expected_points.clone();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let plot = LinePlot {
        x_label: "true-score correlation".into(),
        y_label: "scale-score correlation".into(),
        series: vec![
            Series {
                name: "pair of scales".into(),
                points,
                markers_only: true,
            },
            Series {
                name: "r·√(α₁α₂) (Spearman)".into(),
                points: sorted
                    .into_iter()
                    .map(|(x, y)| PlotPoint { x, y, band: None })
                    .collect(),
                markers_only: true,
            },
        ],
        reference_slopes: vec![(1.0, "no attenuation".into())],
        ..LinePlot::default()
    };
    page.heading("Every pair of the study's scales");
    page.figure(
        &plot.to_svg(),
        "Points below the dashed line are attenuated; Spearman's formula predicts them.",
    );
    page.table(&t);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20 item 5: every α printed as 1.00 because the demo's design had no scale table.
    /// The α of each simulated scale is its study target (SE of α at N = 2,000 is below .005;
    /// Likert categorisation costs a little, so the tolerance is .02), and the scale-score r is
    /// Spearman's r·√(α₁α₂) within 4 Monte Carlo SE of a correlation, 4(1 − r²)/√N.
    #[test]
    fn alphas_are_the_study_targets_and_correlations_attenuate() {
        let pairs = pairs(2026).unwrap();
        assert_eq!(pairs.len(), 36, "nine scales, 36 pairs");
        for p in &pairs {
            for (name, alpha) in [(&p.names.0, p.alphas.0), (&p.names.1, p.alphas.1)] {
                let target = balans_study::scale(name).unwrap().reliability;
                assert!(
                    (alpha - target).abs() < 0.02,
                    "{name}: α {alpha:.3} vs target {target}"
                );
            }
            let expected = p.true_r * (p.alphas.0 * p.alphas.1).sqrt();
            let tol = 4.0 * (1.0 - expected * expected) / (N as f64).sqrt();
            assert!(
                (p.observed_r - expected).abs() < tol,
                "{:?}: r {:.3} vs r·√(α₁α₂) {expected:.3} (tol {tol:.3})",
                p.names,
                p.observed_r
            );
        }
        let ep = pairs
            .iter()
            .find(|p| p.names.0 == "eng" && p.names.1 == "perf")
            .unwrap();
        assert!(
            ep.observed_r < ep.true_r - 0.02,
            "attenuation shows: {ep:?}"
        );
    }
}
