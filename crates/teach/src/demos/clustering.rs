//! Employees nested in supervisors' teams: the design effect 1 + (m − 1)·ICC, and standard errors
//! that ignore the teams are too small.
//!
//! # References
//! Kish (1965), *Survey Sampling*: design effect of a mean 1 + (m − 1)ρ. Moulton (1986), J.
//! Econometrics 32:385–397: the variance of a slope is inflated by 1 + (m − 1)ρₓρₑ.

use super::{mean_sd, DemoConfig};
use crate::TeachError;
use balans_estimate::{estimate, AnalysisSpec, SampleMoments};
use balans_model::parse_model;
use balans_report::html::page::{num, Page, Table};
use balans_report::markup::decimals_apa;
use balans_report::plot::{LinePlot, PlotPoint, Series};
use balans_sim::{Simulator, SurveyDesign, TeamSizes};

const TEAM_SIZE: usize = 8;
const N: usize = 320;
const REPLICATIONS: usize = 200;
const ICCS: &[f64] = &[0.0, 0.05, 0.15, 0.3, 0.5];

struct Row {
    icc: f64,
    mean_ratio: f64,
    slope_ratio: f64,
    type1: f64,
}

pub(super) fn render(c: &DemoConfig, page: &mut Page) -> Result<(), TeachError> {
    // FSSB ratings (x) and an outcome (y) unrelated to it: every rejection is a false positive.
    let model = parse_model("clustering", "y ~ 0*x\n")?;
    let spec = AnalysisSpec::from_model(&model)?;
    let mut rows = Vec::new();
    for (k, &icc) in ICCS.iter().enumerate() {
        let design = SurveyDesign {
            n: N,
            teams: TeamSizes::Fixed(TEAM_SIZE),
            icc: vec![("x".into(), icc), ("y".into(), icc)],
            ..SurveyDesign::default()
        };
        let sim = Simulator::new(&model, &design)?;
        let (mut means, mut mean_se, mut slopes, mut slope_se) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rejections = 0usize;
        for r in 0..REPLICATIONS {
            let seed = c
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add((k * REPLICATIONS + r) as u64);
            let data = sim.simulate(seed);
            let (x, y) = (data.column("x").expect("x"), data.column("y").expect("y"));
            let (my, sy) = mean_sd(&y);
            means.push(my);
            mean_se.push(sy / (y.len() as f64).sqrt());
            let xy: Vec<f64> = x.iter().zip(&y).flat_map(|(a, b)| [*a, *b]).collect();
            let fit = estimate(&spec, &SampleMoments::from_rows(&xy, 2)?)?;
            let p = fit
                .parameters
                .iter()
                .find(|p| p.op == "~")
                .expect("the slope");
            slopes.push(p.est);
            slope_se.push(p.std_err);
            if p.pvalue.unwrap_or(1.0) < 0.05 {
                rejections += 1;
            }
        }
        let ratio = |est: &[f64], se: &[f64]| (mean_sd(est).1 / mean_sd(se).0).powi(2);
        rows.push(Row {
            icc,
            mean_ratio: ratio(&means, &mean_se),
            slope_ratio: ratio(&slopes, &slope_se),
            type1: rejections as f64 / REPLICATIONS as f64,
        });
    }
    let m = TEAM_SIZE as f64;
    let deff = |icc: f64| 1.0 + (m - 1.0) * icc;
    let moulton = |icc: f64| 1.0 + (m - 1.0) * icc * icc;
    page.paragraph(&format!(
        "{} teams of {TEAM_SIZE} employees (N = {N}) rate their supervisor (x) and report an outcome (y) that x does not affect. Both have the same intra-class correlation (ICC) within teams. For each ICC, {REPLICATIONS} surveys were simulated and analysed as if the employees were independent, as the study did.",
        N / TEAM_SIZE
    ));
    let worst = rows.last().expect("rows");
    let study = rows
        .iter()
        .find(|r| (r.icc - 0.15).abs() < 1e-9)
        .expect("ICC .15");
    let mc = |p: f64| (p * (1.0 - p) / REPLICATIONS as f64).sqrt();
    page.sentences(&[
        format!(
            "The design effect of a mean is 1 + (m − 1)·ICC: with teams of {TEAM_SIZE} and the ICC of FSSB ratings (.15) it is {:.2}, so {N} nested employees carry the information of about {:.0} independent ones. Observed: the variance of the mean is {:.2} times what the naive SE says.",
            deff(0.15), N as f64 / deff(0.15), study.mean_ratio
        ),
        format!(
            "A slope is inflated by 1 + (m − 1)·ICCₓ·ICCᵧ (Moulton): {:.2} at ICC .15, {:.2} at ICC {}. Observed: {:.2} and {:.2}.",
            moulton(0.15), moulton(worst.icc), worst.icc, study.slope_ratio, worst.slope_ratio
        ),
        format!(
            "Ignoring the teams makes standard errors too small, so the naive test of the (zero) slope rejects {} ± {} of the time at ICC {} instead of .05. Use cluster-robust SEs (balans fit --cluster team) or a multilevel model.",
            decimals_apa(worst.type1, 3), decimals_apa(mc(worst.type1), 3), worst.icc
        ),
    ]);
    let line = |name: &str, f: &dyn Fn(&Row) -> f64, markers: bool| Series {
        name: name.into(),
        points: rows
            .iter()
            .map(|r| PlotPoint {
                x: r.icc,
                y: f(r),
                band: None,
            })
            .collect(),
        markers_only: markers,
    };
    let plot = LinePlot {
        x_label: "ICC of x and y within teams".into(),
        y_label: "true variance / naive variance".into(),
        series: vec![
            line("mean of y, observed", &|r| r.mean_ratio, true),
            line("1 + (m − 1)·ICC", &|r| deff(r.icc), false),
            line("slope, observed", &|r| r.slope_ratio, true),
            line("1 + (m − 1)·ICC²", &|r| moulton(r.icc), false),
        ],
        ..LinePlot::default()
    };
    page.heading("How much the naive standard errors understate the truth");
    page.figure(
        &plot.to_svg(),
        &format!("Each observed point: the variance of {REPLICATIONS} estimates divided by the mean squared naive SE."),
    );
    let mut t = Table::new(
        "clustering",
        &[
            "ICC",
            "design effect (mean)",
            "observed (mean)",
            "Moulton factor (slope)",
            "observed (slope)",
            "type I error of the naive test",
        ],
    );
    for r in &rows {
        t.row(vec![
            num(format!("{:.2}", r.icc)),
            num(format!("{:.2}", deff(r.icc))),
            num(format!("{:.2}", r.mean_ratio)),
            num(format!("{:.2}", moulton(r.icc))),
            num(format!("{:.2}", r.slope_ratio)),
            num(format!("{:.3} ± {:.3}", r.type1, mc(r.type1))),
        ]);
    }
    page.table(&t);
    page.paragraph_class("note", &format!("Observed ratios carry Monte Carlo error (about ±{:.0}% with {REPLICATIONS} replications).", 100.0 * 2.0 * (2.0 / REPLICATIONS as f64).sqrt()));
    Ok(())
}
