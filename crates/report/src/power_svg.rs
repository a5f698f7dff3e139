//! The SVG exporter of a power analysis: power against N, one line per (effect, test) with a
//! hypothesised effect, a ±1.96·MC SE band, and the target line when there is one.

use balans_power::{PowerReport, PowerRow, RowKind, NULL_EFFECT};
use std::fmt::Write as _;

/// Most series drawn in one plot.
pub const MAX_SERIES: usize = 16;

const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// A rendered power curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerPlot {
    /// The SVG document.
    pub svg: String,
    /// Series left out beyond [`MAX_SERIES`] (the plot says so; a caller may suggest selecting
    /// fewer effects).
    pub omitted: usize,
}

/// One drawn series: its legend name and its points sorted by N.
type Series<'a> = (String, Vec<&'a PowerRow>);

/// The plot's frame: size, margins and the N range.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    top: f64,
    pw: f64,
    ph: f64,
    n_min: f64,
    n_max: f64,
}

impl Frame {
    fn new(rows: &[PowerRow]) -> Frame {
        let (width, height) = (900.0, 520.0);
        let (left, right, top, bottom) = (60.0, 330.0, 30.0, 50.0);
        let n_min = rows.iter().map(|r| r.n).min().unwrap_or(0) as f64;
        let mut n_max = rows.iter().map(|r| r.n).max().unwrap_or(1) as f64;
        if n_max <= n_min {
            n_max = n_min + 1.0;
        }
        Frame {
            width,
            height,
            left,
            top,
            pw: width - left - right,
            ph: height - top - bottom,
            n_min,
            n_max,
        }
    }

    fn x(&self, n: f64) -> f64 {
        self.left + (n - self.n_min) / (self.n_max - self.n_min) * self.pw
    }

    fn y(&self, p: f64) -> f64 {
        self.top + (1.0 - p.clamp(0.0, 1.0)) * self.ph
    }
}

/// The power curve of `report` (at most [`MAX_SERIES`] series).
pub fn power_curve(report: &PowerReport) -> PowerPlot {
    let rows = &report.rows;
    let (series, omitted) = series(rows);
    let f = Frame::new(rows);
    let mut out = String::new();
    axes(&mut out, &f, rows);
    if let Some(t) = report.target_power {
        let _ = writeln!(
            out,
            r##"<line x1="{}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#000" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}">target {t}</text>"##,
            f.left,
            f.left + f.pw,
            f.y(t),
            f.y(t),
            f.left + 4.0,
            f.y(t) - 4.0
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        draw_series(&mut out, &f, i, name, pts);
    }
    let note_y = f.top + 14.0 + 18.0 * series.len() as f64 + 10.0;
    let lx = f.left + f.pw + 14.0;
    let _ = writeln!(
        out,
        r##"<text x="{lx:.1}" y="{note_y:.1}" fill="#555">bands: ±1.96 Monte Carlo SE</text>"##
    );
    if omitted > 0 {
        let _ = writeln!(
            out,
            r##"<text x="{lx:.1}" y="{:.1}" fill="#555">{omitted} more series not drawn (select fewer effects)</text>"##,
            note_y + 16.0
        );
    }
    out.push_str("</svg>\n");
    PowerPlot { svg: out, omitted }
}

/// The series to draw (rows of the joint effect or with a hypothesised effect, grouped by
/// effect and test, at most [`MAX_SERIES`]) and how many were left out.
fn series(rows: &[PowerRow]) -> (Vec<Series<'_>>, usize) {
    let mut series: Vec<Series<'_>> = Vec::new();
    for r in rows.iter().filter(|r| {
        r.kind == RowKind::All || r.population_value.is_some_and(|v| v.abs() > NULL_EFFECT)
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
    (series, omitted)
}

/// The document head, grid lines, N ticks, frame and axis titles.
fn axes(out: &mut String, f: &Frame, rows: &[PowerRow]) {
    let (width, height, left, top, pw, ph) = (f.width, f.height, f.left, f.top, f.pw, f.ph);
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
            f.y(p),
            f.y(p),
            left - 6.0,
            f.y(p) + 4.0
        );
    }
    let mut ns: Vec<usize> = rows.iter().map(|r| r.n).collect();
    ns.sort_unstable();
    ns.dedup();
    let step = (ns.len() / 10).max(1);
    for n in ns.iter().step_by(step) {
        let xf = f.x(*n as f64);
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
}

/// Series `i`: its band and line (with two or more points), its points with error bars and
/// tooltips, and its legend entry.
fn draw_series(out: &mut String, f: &Frame, i: usize, name: &str, pts: &[&PowerRow]) {
    let color = PALETTE[i % PALETTE.len()];
    let dash = if i >= PALETTE.len() {
        r#" stroke-dasharray="4 2""#
    } else {
        ""
    };
    let band = |r: &PowerRow, sign: f64| {
        format!(
            "{:.1},{:.1} ",
            f.x(r.n as f64),
            f.y(r.power + sign * 1.96 * r.mc_se)
        )
    };
    if pts.len() > 1 {
        let mut polygon: String = pts.iter().map(|r| band(r, 1.0)).collect();
        polygon.extend(pts.iter().rev().map(|r| band(r, -1.0)));
        let _ = writeln!(
            out,
            r#"<polygon points="{}" fill="{color}" fill-opacity="0.15" stroke="none"/>"#,
            polygon.trim_end()
        );
        let line: Vec<String> = pts
            .iter()
            .map(|r| format!("{:.1},{:.1}", f.x(r.n as f64), f.y(r.power)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            line.join(" ")
        );
    }
    for r in pts {
        let (xf, yf) = (f.x(r.n as f64), f.y(r.power));
        let _ = writeln!(
            out,
            r#"<line x1="{xf:.1}" x2="{xf:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}"/><circle cx="{xf:.1}" cy="{yf:.1}" r="3" fill="{color}"><title>{} N={} power {:.3} ± {:.3}</title></circle>"#,
            f.y(r.power - 1.96 * r.mc_se),
            f.y(r.power + 1.96 * r.mc_se),
            xml_escape(name),
            r.n,
            r.power,
            r.mc_se
        );
    }
    let ly = f.top + 14.0 + 18.0 * i as f64;
    let lx = f.left + f.pw + 14.0;
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

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
