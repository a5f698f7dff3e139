//! An unmeasured variable u that affects both the mediator and the outcome biases b, even when x
//! is randomised.
//!
//! # References
//! VanderWeele (2015), *Explanation in Causal Inference*, ch. 2–3 (sequential ignorability);
//! with standardized variables and u independent of x, the probability limit of the OLS b is
//! b + h·g / (1 − a²) (omitted-variable bias of the regression of y on m and x).

use super::{mean_sd, stream, DemoConfig};
use crate::TeachError;
use balans_estimate::{estimate, AnalysisSpec, SampleMoments};
use balans_model::parse_model;
use balans_report::html::page::{num, Page, Table};
use balans_report::markup::decimals_apa;
use balans_report::plot::{LinePlot, PlotPoint, Series};
use balans_sim::ConstructSampler;

const A: f64 = 0.28;
const B: f64 = 0.35;
const N: usize = 300;
const REPLICATIONS: usize = 200;
const STRENGTHS: &[f64] = &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5];

/// The population with confounder strength `s` (u → m and u → y both `s`).
fn population_text(s: f64) -> String {
    format!("#!balans standardized\neng ~ {A}*cm + {s}*u\nperf ~ {B}*eng + 0*cm + {s}*u\n")
}

/// Probability limit of b in the regression of perf on eng and cm (u omitted), from the implied
/// covariance matrix: the eng coefficient of Σ₍ₘₓ₎⁻¹ σ₍ₘₓ₎ᵧ.
pub(crate) fn limit_of_b(s: f64) -> Result<f64, TeachError> {
    let model = parse_model("confounder", &population_text(s))?;
    let pop = model.population()?;
    let sigma = pop.implied_covariance();
    let idx = |n: &str| pop.index_of(n).expect("variable");
    let (x, m, y) = (idx("cm"), idx("eng"), idx("perf"));
    let (smm, sxx, smx) = (sigma[(m, m)], sigma[(x, x)], sigma[(m, x)]);
    let (smy, sxy) = (sigma[(m, y)], sigma[(x, y)]);
    Ok((sxx * smy - smx * sxy) / (smm * sxx - smx * smx))
}

pub(super) fn render(c: &DemoConfig, page: &mut Page) -> Result<(), TeachError> {
    let analysis = parse_model("analysis", "eng ~ cm\nperf ~ b*eng + cm\n")?;
    let spec = AnalysisSpec::from_model(&analysis)?;
    let mut t = Table::new(
        "confounder",
        &[
            "confounder strength g = h",
            "true b",
            "limit of b̂ (u omitted)",
            "b + g·h/(1 − a²)",
            "mean b̂ in simulation",
            "bias",
        ],
    );
    let mut limit_points = Vec::new();
    let mut sim_points = Vec::new();
    for (k, &s) in STRENGTHS.iter().enumerate() {
        let limit = limit_of_b(s)?;
        let formula = B + s * s / (1.0 - A * A);
        let model = parse_model("confounder", &population_text(s))?;
        let pop = model.population()?;
        let sampler = ConstructSampler::new(&pop)?;
        let order: Vec<usize> = ["cm", "eng", "perf"]
            .iter()
            .map(|n| pop.index_of(n).expect("variable"))
            .collect();
        let mut raw = vec![0.0; N * pop.len()];
        let mut estimates = Vec::with_capacity(REPLICATIONS);
        for r in 0..REPLICATIONS {
            sampler.fill(
                &mut stream(c.seed, (k * REPLICATIONS + r) as u64),
                N,
                &mut raw,
            );
            // The analyst never measured u: keep cm, eng, perf.
            let rows: Vec<f64> = raw
                .chunks_exact(pop.len())
                .flat_map(|row| order.iter().map(move |&i| row[i]))
                .collect();
            let fit = estimate(&spec, &SampleMoments::from_rows(&rows, 3)?)?;
            let b = fit.parameters.iter().find(|p| p.label == "b").expect("b");
            estimates.push(b.est);
        }
        let (mean, sd) = mean_sd(&estimates);
        let se = sd / (REPLICATIONS as f64).sqrt();
        limit_points.push(PlotPoint {
            x: s,
            y: limit,
            band: None,
        });
        sim_points.push(PlotPoint {
            x: s,
            y: mean,
            band: Some((mean - 1.96 * se, mean + 1.96 * se)),
        });
        t.row(vec![
            num(format!("{s:.1}")),
            num(format!("{B:.3}")),
            num(format!("{limit:.4}")),
            num(format!("{formula:.4}")),
            num(format!("{mean:.4} ± {se:.4}")),
            num(format!("{:+.4}", limit - B)),
        ]);
    }
    page.paragraph(&format!(
        "Creative management (cm) raises engagement (eng, a = {A}), which raises performance (perf, b = {B}); there is no direct effect. An unmeasured trait u (say, conscientiousness) raises both engagement and performance by g = h. The analyst regresses perf on eng and cm without u. {REPLICATIONS} data sets of N = {N} per strength check the population algebra."
    ));
    let limit3 = limit_of_b(0.3)?;
    page.sentences(&[
        format!(
            "With a confounder of strength .3 the estimate of b tends to {} instead of {}: {}% too large, and the indirect effect a·b with it.",
            decimals_apa(limit3, 3),
            decimals_apa(B, 2),
            ((limit3 / B - 1.0) * 100.0).round()
        ),
        "The bias is g·h/(1 − a²): it grows with the product of the confounder's two effects, and no sample size removes it (the simulated means sit on the population line).".into(),
        "Randomising x (a trial of supervisor training) does not protect the b path: the mediator is not randomised. Measure likely confounders of the mediator and the outcome, and report a sensitivity analysis.".into(),
    ]);
    let plot = LinePlot {
        x_label: "confounder strength g = h".into(),
        y_label: "b".into(),
        series: vec![
            Series {
                name: "limit of b̂ without u".into(),
                points: limit_points,
                markers_only: false,
            },
            Series {
                name: "simulated mean b̂ (±1.96 MC SE)".into(),
                points: sim_points,
                markers_only: true,
            },
        ],
        reference_lines: vec![(B, format!("true b = {B}"))],
        ..LinePlot::default()
    };
    page.heading("Bias of b as the confounder grows");
    page.figure(&plot.to_svg(), "");
    page.table(&t);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_of_b_is_the_omitted_variable_formula() {
        for s in [0.0, 0.2, 0.5] {
            let limit = limit_of_b(s).unwrap();
            let formula = B + s * s / (1.0 - A * A);
            assert!(
                (limit - formula).abs() < 1e-12,
                "s = {s}: {limit} vs {formula}"
            );
        }
    }
}
