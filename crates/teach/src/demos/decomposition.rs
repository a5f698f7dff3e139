//! c = c′ + ab: the OLS total effect equals the direct plus the indirect effect in every sample.

use super::{stream, DemoConfig};
use crate::class::data_csv;
use crate::mediation::{mediation_population, MediationFitter};
use crate::TeachError;
use balans_report::diagram::{EstimateRow, PathDiagram};
use balans_report::html::page::{num, Page, Table};
use balans_report::plot::{LinePlot, PlotPoint, Series};
use balans_sim::ConstructSampler;

const DATA_SETS: usize = 20;
const N: usize = 150;
const NAMES: [&str; 3] = ["cm", "eng", "perf"];

pub(super) fn render(c: &DemoConfig, page: &mut Page) -> Result<(), TeachError> {
    let (a, b, cp) = (0.28, 0.35, 0.10);
    let population = mediation_population(NAMES, a, b, cp)?;
    let sampler = ConstructSampler::new(&population)?;
    let fitter = MediationFitter::new(NAMES[0], NAMES[1], NAMES[2])?;
    let mut estimates = Vec::with_capacity(DATA_SETS);
    for k in 0..DATA_SETS {
        let mut raw = vec![0.0; N * 3];
        sampler.fill(&mut stream(c.seed, k as u64), N, &mut raw);
        let (_, rows) = data_csv(NAMES, &raw);
        estimates.push(fitter.fit(&rows)?);
    }
    let gap = estimates
        .iter()
        .map(|e| e.decomposition_gap().abs())
        .fold(0.0, f64::max);
    page.paragraph(&format!(
        "{DATA_SETS} data sets of N = {N} employees were drawn from the population cm → eng → perf with a = {a}, b = {b} and a direct effect c′ = {cp} (standardized). In each, three regressions were run: perf on cm (c), eng on cm (a), perf on eng and cm (b, c′)."
    ));
    page.sentences(&[
        format!("In every data set the total effect c equals c′ + ab: the largest difference is {gap:.1e}, the rounding error of the last binary digit."),
        format!("The estimates themselves vary from data set to data set (c from {:.3} to {:.3}); the identity does not.", estimates.iter().map(|e| e.c).fold(f64::INFINITY, f64::min), estimates.iter().map(|e| e.c).fold(f64::NEG_INFINITY, f64::max)),
        "Why: the OLS slope of perf on cm is cov(cm, perf)/var(cm). Substituting perf = c′·cm + b·eng + residual (whose covariance with cm is 0 by the normal equations) gives c = c′ + b·cov(cm, eng)/var(cm) = c′ + b·a.".into(),
        "It is a property of linear models fitted by OLS (or ML) to the same cases. It fails with logistic regression for a binary outcome, with multilevel models, and when the regressions use different cases (pairwise deletion).".into(),
    ]);
    page.heading("c against c′ + ab in each data set");
    let plot = LinePlot {
        x_label: "c (perf on cm)".into(),
        y_label: "c′ + ab".into(),
        series: vec![Series {
            name: "one data set".into(),
            points: estimates
                .iter()
                .map(|e| PlotPoint {
                    x: e.c,
                    y: e.c_prime + e.indirect,
                    band: None,
                })
                .collect(),
            markers_only: true,
        }],
        reference_slopes: vec![(1.0, "c′ + ab = c".into())],
        ..LinePlot::default()
    };
    page.figure(
        &plot.to_svg(),
        "Every point lies on the line: the decomposition is exact.",
    );
    page.heading("Data set 1 as a path diagram");
    let e = &estimates[0];
    let row = |lhs: &str, rhs: &str, value: f64, p: f64| EstimateRow {
        lhs: lhs.into(),
        op: "~".into(),
        rhs: rhs.into(),
        value,
        pvalue: Some(p),
    };
    let cp_p = balans_estimate::normal_pvalue(e.c_prime / e.se_c_prime);
    let d = PathDiagram::from_estimates(
        &NAMES.map(String::from),
        &[
            row("eng", "cm", e.a, e.p_a),
            row("perf", "eng", e.b, e.p_b),
            row("perf", "cm", e.c_prime, cp_p),
        ],
        &[],
        0.05,
        &format!(
            "Unstandardized estimates of data set 1: a = {:.3}, b = {:.3}, c′ = {:.3}; ab = {:.4}, c = {:.4} = c′ + ab.",
            e.a, e.b, e.c_prime, e.indirect, e.c
        ),
    )
    .with_id_prefix("decomposition");
    page.figure(&d.to_svg(), "");
    page.heading("Every data set");
    let mut t = Table::new(
        "decomposition",
        &[
            "data set",
            "a",
            "b",
            "c′",
            "ab",
            "c′ + ab",
            "c",
            "c − (c′ + ab)",
        ],
    );
    for (k, e) in estimates.iter().enumerate() {
        t.row(vec![
            num((k + 1).to_string()),
            num(format!("{:.4}", e.a)),
            num(format!("{:.4}", e.b)),
            num(format!("{:.4}", e.c_prime)),
            num(format!("{:.4}", e.indirect)),
            num(format!("{:.6}", e.c_prime + e.indirect)),
            num(format!("{:.6}", e.c)),
            num(format!("{:.1e}", e.decomposition_gap())),
        ]);
    }
    page.table(&t);
    Ok(())
}
