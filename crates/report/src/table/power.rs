//! The text of a [`PowerReport`]: settings, one line per (N, effect, test), the sample-size search
//! and notes.

use balans_power::{PowerReport, PowerRow, SampleSizeEstimate, SearchStatus};
use std::fmt::Write as _;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The table of a power analysis.
pub fn power(report: &PowerReport) -> String {
    let mut out = String::new();
    settings(&mut out, report);
    let w = report
        .rows
        .iter()
        .map(|r| r.effect.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:>6}  {:<w$}  {:<10}  {:>6}  {:>6}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}",
        "n",
        "effect",
        "test",
        "power",
        "mc_se",
        "true",
        "mean_est",
        "bias",
        "mean_se",
        "emp_sd",
        "cover"
    );
    for r in &report.rows {
        row(&mut out, r, w);
    }
    if let (Some(target), Some(sizes)) = (report.target_power, &report.sample_size) {
        let _ = writeln!(out, "\nSample size for power {target}:");
        for e in sizes {
            let _ = writeln!(
                out,
                "  {:<w$}  {:<10}  {}",
                e.effect,
                e.test.name(),
                describe(e)
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

/// The two settings lines and a blank line.
fn settings(out: &mut String, report: &PowerReport) {
    let s = &report.settings;
    let c = &s.config;
    let tests: Vec<&str> = c.tests.iter().map(|t| t.name()).collect();
    let _ = writeln!(
        out,
        "balans power: model {}, analysis {}",
        s.model, s.analysis
    );
    let draws = if c.tests.iter().any(|t| t.needs_rows()) {
        format!(", B = {}", c.bootstrap_draws)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  data {:?}, sampling {:?}, R = {} replications, seed {}, alpha {}, tests wald(paths),{}{draws}",
        c.data,
        s.sampling_used,
        c.replications,
        c.seed,
        c.alpha,
        tests.join(","),
    );
    let _ = writeln!(out);
}

fn row(out: &mut String, r: &PowerRow, w: usize) {
    let conv = if r.convergence_rate < 1.0 {
        format!("  (converged {:.1}%)", 100.0 * r.convergence_rate)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{:>6}  {:<w$}  {:<10}  {:>6.3}  {:>6.3}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>5}{conv}",
        r.n,
        r.effect,
        r.test.name(),
        r.power,
        r.mc_se,
        opt(r.population_value, 4),
        opt(r.mean_estimate, 4),
        opt(r.bias, 4),
        opt(r.mean_se, 4),
        opt(r.empirical_sd, 4),
        opt(r.coverage, 3),
    );
}

/// One line about a sample-size estimate.
fn describe(e: &SampleSizeEstimate) -> String {
    match e.status {
        SearchStatus::Found => format!(
            "N = {} (95% MC interval {}–{}; observed power {:.3} at N = {}, {:.3} at N = {})",
            e.n.unwrap_or(0),
            e.n_lower.map_or("?".into(), |v| v.to_string()),
            e.n_upper.map_or("?".into(), |v| v.to_string()),
            e.bracket.map_or(f64::NAN, |b| b.0 .1),
            e.bracket.map_or(0, |b| b.0 .0),
            e.bracket.map_or(f64::NAN, |b| b.1 .1),
            e.bracket.map_or(0, |b| b.1 .0),
        ),
        SearchStatus::AtMinimum => format!(
            "N = {} (the smallest usable N already reaches the target)",
            e.n.unwrap_or(0)
        ),
        SearchStatus::AboveMaximum => {
            "not reached by the largest N searched (search a larger maximum N)".to_string()
        }
    }
}
