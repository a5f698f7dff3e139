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

pub(super) fn render(c: &DemoConfig, page: &mut Page) -> Result<(), TeachError> {
    let model = Model::builtin("seed")?;
    let design = SurveyDesign {
        n: N,
        teams: TeamSizes::None,
        true_scores: true,
        ..SurveyDesign::default()
    };
    let sim = Simulator::new(&model, &design)?;
    let data = sim.simulate(c.seed);
    let column = |name: &str| data.column(name).expect("simulated column");
    let constructs = sim.constructs();
    let mut alpha = Vec::new();
    for info in constructs {
        let a = match &info.measurement {
            Measurement::Likert { items, .. } => {
                let cols: Vec<Vec<f64>> = items.iter().map(|i| column(i)).collect();
                cronbach_alpha(&cols)
            }
            Measurement::Continuous { reliability } => *reliability,
        };
        alpha.push(a);
    }
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
    for i in 0..constructs.len() {
        for j in (i + 1)..constructs.len() {
            let (ci, cj) = (&constructs[i].name, &constructs[j].name);
            let true_r = correlation(
                &column(&format!("true_{ci}")),
                &column(&format!("true_{cj}")),
            );
            let obs_r = correlation(&column(ci), &column(cj));
            let factor = (alpha[i] * alpha[j]).sqrt();
            points.push(PlotPoint {
                x: true_r,
                y: obs_r,
                band: None,
            });
            expected_points.push((true_r, true_r * factor));
            if true_r.abs() > 0.05 {
                ratios.push(obs_r / true_r);
            }
            t.row(vec![
                text(format!("{ci}–{cj}")),
                num(format!("{true_r:.3}")),
                num(format!("{:.3}", alpha[i])),
                num(format!("{:.3}", alpha[j])),
                num(format!("{:.3}", true_r * factor)),
                num(format!("{obs_r:.3}")),
                num(format!("{:.3}", obs_r / factor)),
            ]);
        }
    }
    let (mean_ratio, _) = mean_sd(&ratios);
    let eng = constructs.iter().position(|x| x.name == "eng").unwrap_or(0);
    let perf = constructs
        .iter()
        .position(|x| x.name == "perf")
        .unwrap_or(0);
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
            decimals_apa(correlation(&column("true_eng"), &column("true_perf")), 3),
            decimals_apa(alpha[eng], 2),
            decimals_apa(alpha[perf], 2),
            decimals_apa(correlation(&column("eng"), &column("perf")), 3),
            decimals_apa(correlation(&column("true_eng"), &column("true_perf")) * (alpha[eng] * alpha[perf]).sqrt(), 3)
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
