//! The text of a [`PowerReport`]: the answer table ([`power`]: per hypothesised effect the power
//! at each N and the N for the target, sentences, what the tests mean) and the full grid
//! ([`power_grid`]: one line per (N, effect, test), the sample-size search and notes).

use crate::answer::{self, PowerAnswer};
use crate::markup::decimals_apa;
use crate::sentences::count;
use balans_power::{PowerReport, PowerRow, RowKind, SampleSizeEstimate, SearchStatus};
use std::fmt::Write as _;

/// The answer table of a power analysis, in about 30 lines at most: the settings, per headline
/// effect and test the power ± Monte Carlo SE at up to [`answer::MAX_N_COLUMNS`] sample sizes and
/// the N for the target power, the answer sentences, what the tests mean, and the notes. The full
/// grid is [`power_grid`].
pub fn power(report: &PowerReport) -> String {
    let a = answer::power(report);
    let mut out = String::new();
    settings(&mut out, report);
    answer_table(&mut out, &a);
    out.push_str("\nAnswer:\n");
    for s in &a.sentences {
        let _ = writeln!(out, "  {s}");
    }
    let r = report.rows.first().map_or(0, |r| r.n_replications);
    let _ = writeln!(
        out,
        "\nTests: {}. Power \u{b1} its Monte Carlo SE over {} replications per N; non-converged fits count as misses.",
        a.tests.join("; "),
        count(r)
    );
    if !a.effects.is_empty() {
        let how = if a.searched {
            "found by the sample-size search (doubling N, then a probit curve \u{3a6}(a + b\u{221a}N) through the evaluated N near the target)"
        } else {
            "where the probit curve \u{3a6}(a + b\u{221a}N) through the two sample sizes around the target crosses it"
        };
        let _ = writeln!(
            out,
            "N for {}: {how}, with its 95% Monte Carlo interval.",
            decimals_apa(a.target, 2)
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Characters in `s` (the table holds `±`, `≤` and `–`).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` left-aligned in `w` characters.
fn left(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `s` right-aligned in `w` characters.
fn right(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn answer_table(out: &mut String, a: &PowerAnswer) {
    if a.effects.is_empty() {
        return;
    }
    let cell = |p: f64, se: f64| format!("{} \u{b1} {}", decimals_apa(p, 3), decimals_apa(se, 3));
    let label_w = a
        .effects
        .iter()
        .map(|e| width(&e.label()))
        .max()
        .unwrap_or(6)
        .max(6);
    let test_w = a
        .effects
        .iter()
        .flat_map(|e| e.tests.iter().map(|t| t.test.name().len()))
        .max()
        .unwrap_or(4)
        .max(4);
    let col_w = a
        .columns
        .iter()
        .map(|n| width(&format!("N = {}", count(*n))))
        .max()
        .unwrap_or(0)
        .max(width(&cell(0.5, 0.05)));
    let needed_head = format!("N for {}", decimals_apa(a.target, 2));
    let shown = if a.columns.len() < a.n_sample_sizes {
        format!(
            " ({} of {} sample sizes shown; all in the full grid)",
            a.columns.len(),
            a.n_sample_sizes
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Power \u{b1} Monte Carlo SE of the hypothesised effects{shown}:"
    );
    let mut head = format!("  {}  {}", left("effect", label_w), left("test", test_w));
    for n in &a.columns {
        head.push_str("  ");
        head.push_str(&right(&format!("N = {}", count(*n)), col_w));
    }
    head.push_str("  ");
    head.push_str(&needed_head);
    let _ = writeln!(out, "{}", head.trim_end());
    for e in &a.effects {
        for (i, t) in e.tests.iter().enumerate() {
            let label = if i == 0 { e.label() } else { String::new() };
            let mut line = format!(
                "  {}  {}",
                left(&label, label_w),
                left(t.test.name(), test_w)
            );
            for n in &a.columns {
                let c = t
                    .power
                    .iter()
                    .find(|p| p.n == *n)
                    .map_or_else(|| "-".to_string(), |p| cell(p.power, p.mc_se));
                line.push_str("  ");
                line.push_str(&right(&c, col_w));
            }
            line.push_str("  ");
            line.push_str(&t.needed.cell());
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

/// The full grid of a power analysis: settings, one line per (N, effect, test), the sample-size
/// search, what the joint row means, and notes.
pub fn power_grid(report: &PowerReport) -> String {
    let mut out = String::new();
    grid(&mut out, report);
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

fn grid(out: &mut String, report: &PowerReport) {
    settings(out, report);
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
        row(out, r, w);
    }
    if report.rows.iter().any(|r| r.kind == RowKind::All) {
        let _ = writeln!(
            out,
            "\n{}: every selected effect with a non-zero population value significant in the same replication (paths by Wald, the others by the row's test); with many small effects it is near 0.",
            balans_power::ALL_JOINTLY
        );
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
