//! Results of a power analysis and their renderings: long-form rows ([`PowerRow`]), the whole
//! report ([`PowerReport`]) as a table, CSV or JSON, and an SVG power curve. Rendering returns
//! strings; writing them is the caller's business.

use crate::config::PowerConfig;
use crate::search::SampleSizeEstimate;
use serde::Serialize;
use std::fmt::Write as _;

/// One (sample size, effect, test) result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerRow {
    /// Sample size N.
    pub n: usize,
    /// Effect name.
    pub effect: String,
    /// `path`, `indirect`, `defined` or `all`.
    pub kind: &'static str,
    /// Test name.
    pub test: &'static str,
    /// Rejection rate over all replications (non-converged replications count as non-rejections).
    pub power: f64,
    /// Monte Carlo standard error of `power`: `sqrt(p(1 − p)/R)`.
    pub mc_se: f64,
    /// Population value (construct level).
    pub population_value: Option<f64>,
    /// Mean estimate over converged replications.
    pub mean_estimate: Option<f64>,
    /// `mean_estimate − population_value` (normal data only).
    pub bias: Option<f64>,
    /// Mean standard error (expected information / delta method).
    pub mean_se: Option<f64>,
    /// Standard deviation of the estimates across replications.
    pub empirical_sd: Option<f64>,
    /// Share of the test's confidence intervals that contain the population value (normal data).
    pub coverage: Option<f64>,
    /// Share of replications in which the analysis model could be fitted.
    pub convergence_rate: f64,
    /// Replications R.
    pub n_replications: usize,
    /// Replications that converged.
    pub n_converged: usize,
}

/// Settings echoed with the results (everything that determines them; not the thread count,
/// which does not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Where the population model came from (`builtin:seed` or a file name).
    pub model: String,
    /// Where the analysis model came from (`same as model` by default).
    pub analysis: String,
    /// The Monte Carlo settings.
    #[serde(flatten)]
    pub config: PowerConfig,
    /// The sampling actually used (`wishart` or `rows`).
    pub sampling_used: crate::config::Sampling,
    /// The effect selection as given.
    pub effects: String,
}

/// A complete power analysis: settings, rows (sorted by N, then effect order, then test), the
/// sample-size search when one was asked for, and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerReport {
    /// Settings, including the seed.
    pub settings: Settings,
    /// Target power of a sample-size search.
    pub target_power: Option<f64>,
    /// One row per (n, effect, test).
    pub rows: Vec<PowerRow>,
    /// Sample-size search results, one per (effect, test), when `--target-power` was given.
    pub sample_size: Option<Vec<SampleSizeEstimate>>,
    /// Remarks for the reader.
    pub notes: Vec<String>,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

fn csv_opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

impl PowerReport {
    /// CSV in long form: a header and one line per row, the seed repeated on every line.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "n,effect,kind,test,power,mc_se,population_value,mean_estimate,bias,mean_se,empirical_sd,coverage,convergence_rate,n_replications,n_converged,seed,alpha\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.n,
                r.effect,
                r.kind,
                r.test,
                r.power,
                r.mc_se,
                csv_opt(r.population_value),
                csv_opt(r.mean_estimate),
                csv_opt(r.bias),
                csv_opt(r.mean_se),
                csv_opt(r.empirical_sd),
                csv_opt(r.coverage),
                r.convergence_rate,
                r.n_replications,
                r.n_converged,
                self.settings.config.seed,
                self.settings.config.alpha
            );
        }
        out
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize") + "\n"
    }

    /// A human-readable table.
    pub fn to_table(&self) -> String {
        let s = &self.settings;
        let c = &s.config;
        let mut out = String::new();
        let tests: Vec<&str> = c.tests.iter().map(|t| t.name()).collect();
        let _ = writeln!(
            out,
            "balans power: model {}, analysis {}",
            s.model, s.analysis
        );
        let _ = writeln!(
            out,
            "  data {:?}, sampling {:?}, R = {} replications, seed {}, alpha {}, tests wald(paths),{}{}",
            c.data,
            s.sampling_used,
            c.replications,
            c.seed,
            c.alpha,
            tests.join(","),
            if c.tests.iter().any(|t| t.needs_rows()) { format!(", B = {}", c.bootstrap_draws) } else { String::new() }
        );
        let _ = writeln!(out);
        let w = self
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
        for r in &self.rows {
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
                r.test,
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
        if let (Some(target), Some(sizes)) = (self.target_power, &self.sample_size) {
            let _ = writeln!(out, "\nSample size for power {target}:");
            for e in sizes {
                let _ = writeln!(out, "  {:<w$}  {:<10}  {}", e.effect, e.test, e.describe());
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nnote: {note}");
        }
        out
    }

    /// An SVG plot of power against N, one line per (effect, test) with a hypothesised effect (at
    /// most [`MAX_SERIES`]), a ±1.96·MC SE band, and the target line when there is one.
    pub fn to_svg(&self) -> String {
        svg(&self.rows, self.target_power)
    }
}

/// Most series drawn in one plot.
pub const MAX_SERIES: usize = 16;

const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

fn svg(rows: &[PowerRow], target: Option<f64>) -> String {
    let mut series: Vec<(String, Vec<&PowerRow>)> = Vec::new();
    for r in rows.iter().filter(|r| {
        r.kind == "all"
            || r.population_value
                .is_some_and(|v| v.abs() > crate::study::NULL_EFFECT)
    }) {
        let key = format!("{} ({})", r.effect, r.test);
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => series.push((key, vec![r])),
        }
    }
    let omitted = series.len().saturating_sub(MAX_SERIES);
    series.truncate(MAX_SERIES);
    for (_, v) in &mut series {
        v.sort_by_key(|r| r.n);
    }
    let (width, height) = (900.0, 520.0);
    let (left, right, top, bottom) = (60.0, 330.0, 30.0, 50.0);
    let pw = width - left - right;
    let ph = height - top - bottom;
    let n_min = rows.iter().map(|r| r.n).min().unwrap_or(0) as f64;
    let mut n_max = rows.iter().map(|r| r.n).max().unwrap_or(1) as f64;
    if n_max <= n_min {
        n_max = n_min + 1.0;
    }
    let x = |n: f64| left + (n - n_min) / (n_max - n_min) * pw;
    let y = |p: f64| top + (1.0 - p.clamp(0.0, 1.0)) * ph;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for k in 0..=10 {
        let p = k as f64 / 10.0;
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{p:.1}</text>"##,
            left + pw,
            y(p),
            y(p),
            left - 6.0,
            y(p) + 4.0
        );
    }
    let mut ns: Vec<usize> = rows.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    let step = (ns.len() / 10).max(1);
    for n in ns.iter().step_by(step) {
        let xf = x(*n as f64);
        let _ = writeln!(
            out,
            r##"<line x1="{xf:.1}" x2="{xf:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/><text x="{xf:.1}" y="{:.1}" text-anchor="middle">{n}</text>"##,
            top + ph,
            top + ph + 5.0,
            top + ph + 18.0
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">sample size N</text>"#,
        left + pw / 2.0,
        height - 12.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">power</text>"#,
        top + ph / 2.0
    );
    if let Some(t) = target {
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#000" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}">target {t}</text>"##,
            left + pw,
            y(t),
            y(t),
            left + 4.0,
            y(t) - 4.0
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let dash = if i >= PALETTE.len() {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        if pts.len() > 1 {
            let mut band = String::new();
            for r in pts.iter() {
                let _ = write!(
                    band,
                    "{:.1},{:.1} ",
                    x(r.n as f64),
                    y(r.power + 1.96 * r.mc_se)
                );
            }
            for r in pts.iter().rev() {
                let _ = write!(
                    band,
                    "{:.1},{:.1} ",
                    x(r.n as f64),
                    y(r.power - 1.96 * r.mc_se)
                );
            }
            let _ = writeln!(
                out,
                r#"<polygon points="{}" fill="{color}" fill-opacity="0.15" stroke="none"/>"#,
                band.trim_end()
            );
            let line: Vec<String> = pts
                .iter()
                .map(|r| format!("{:.1},{:.1}", x(r.n as f64), y(r.power)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                line.join(" ")
            );
        }
        for r in pts.iter() {
            let (xf, yf) = (x(r.n as f64), y(r.power));
            let _ = writeln!(
                out,
                r#"<line x1="{xf:.1}" x2="{xf:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}"/><circle cx="{xf:.1}" cy="{yf:.1}" r="3" fill="{color}"><title>{} N={} power {:.3} ± {:.3}</title></circle>"#,
                y(r.power - 1.96 * r.mc_se),
                y(r.power + 1.96 * r.mc_se),
                xml_escape(name),
                r.n,
                r.power,
                r.mc_se
            );
        }
        let ly = top + 14.0 + 18.0 * i as f64;
        let lx = left + pw + 14.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            lx + 20.0,
            ly - 4.0,
            ly - 4.0,
            lx + 26.0,
            xml_escape(name)
        );
    }
    let note_y = top + 14.0 + 18.0 * series.len() as f64 + 10.0;
    let lx = left + pw + 14.0;
    let _ = writeln!(
        out,
        r##"<text x="{lx:.1}" y="{note_y:.1}" fill="#555">bands: ±1.96 Monte Carlo SE</text>"##
    );
    if omitted > 0 {
        let _ = writeln!(
            out,
            r##"<text x="{lx:.1}" y="{:.1}" fill="#555">{omitted} more series not drawn (use --effects)</text>"##,
            note_y + 16.0
        );
    }
    out.push_str("</svg>\n");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
