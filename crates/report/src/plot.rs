//! Small SVG charts for reports and teaching pages: line plots with Monte Carlo bands
//! ([`LinePlot`]) and histograms with a density curve on top ([`Histogram`]).
//!
//! Scales are linear; ticks are "nice" numbers (1, 2, 2.5, 5 × 10ᵏ).

use crate::markup::escape;
use std::fmt::Write as _;

/// Colours of successive series (colour-blind friendly, Okabe & Ito 2008).
pub const PALETTE: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// One point of a series, with an optional band (e.g. ±1.96 Monte Carlo SE).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotPoint {
    /// Horizontal value.
    pub x: f64,
    /// Vertical value.
    pub y: f64,
    /// Lower and upper end of the band at this point.
    pub band: Option<(f64, f64)>,
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, drawn in order.
    pub points: Vec<PlotPoint>,
    /// Draw markers only (a scatter plot), no line.
    pub markers_only: bool,
}

/// A line plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// Title above the plot (may be empty).
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Horizontal reference lines with a label (e.g. the target power).
    pub reference_lines: Vec<(f64, String)>,
    /// Reference lines `y = slope·x` with a label (e.g. the identity line).
    pub reference_slopes: Vec<(f64, String)>,
    /// Fixed vertical range; otherwise from the data.
    pub y_range: Option<(f64, f64)>,
    /// A note under the legend (e.g. "bands: ±1.96 MC SE").
    pub note: String,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 50.0;

/// Nice tick values covering `[lo, hi]`, about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater)
        || !lo.is_finite()
        || !hi.is_finite()
    {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    (start..=end).map(|k| k as f64 * step).collect()
}

fn tick_text(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.replace('-', "\u{2212}")
    }
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        let v = v.clamp(self.y0, self.y1);
        TOP + (1.0 - (v - self.y0) / (self.y1 - self.y0)) * (HEIGHT - TOP - BOTTOM)
    }
}

fn open_svg(out: &mut String, title: &str, class: &str) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="{class}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, 'DejaVu Sans', sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    if !title.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{}</text>"#,
            escape(title)
        );
    }
}

fn axes(out: &mut String, f: &Frame, x_label: &str, y_label: &str) {
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    for t in ticks(f.y0, f.y1, 6) {
        let y = f.y(t);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e6e6e6"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            tick_text(t)
        );
    }
    for t in ticks(f.x0, f.x1, 8) {
        let x = f.x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#888"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            tick_text(t)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 10.0,
        escape(x_label)
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        escape(y_label)
    );
}

fn legend(out: &mut String, k: usize, name: &str, color: &str, marker: bool) {
    let lx = WIDTH - RIGHT + 14.0;
    let ly = TOP + 12.0 + 18.0 * k as f64;
    if marker {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{color}"/>"#,
            lx + 10.0,
            ly - 4.0
        );
    } else {
        let _ = write!(
            out,
            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2.5"/>"#,
            lx + 20.0,
            ly - 4.0,
            ly - 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{ly:.1}">{}</text>"#,
        lx + 26.0,
        escape(name)
    );
}

impl LinePlot {
    /// The plot as SVG.
    pub fn to_svg(&self) -> String {
        let pts = self.series.iter().flat_map(|s| &s.points);
        let xs: Vec<f64> = pts.clone().map(|p| p.x).collect();
        let mut ys: Vec<f64> = pts
            .flat_map(|p| {
                let (lo, hi) = p.band.unwrap_or((p.y, p.y));
                [p.y, lo, hi]
            })
            .collect();
        ys.extend(self.reference_lines.iter().map(|(v, _)| *v));
        let lo = |v: &[f64]| {
            v.iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::INFINITY, f64::min)
        };
        let hi = |v: &[f64]| {
            v.iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let (mut x0, mut x1) = (lo(&xs), hi(&xs));
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let (y0, y1) = self.y_range.unwrap_or_else(|| {
            let (a, b) = (lo(&ys), hi(&ys));
            if !a.is_finite() {
                (0.0, 1.0)
            } else if b <= a {
                (a - 1.0, b + 1.0)
            } else {
                let pad = 0.05 * (b - a);
                (a - pad, b + pad)
            }
        });
        let f = Frame { x0, x1, y0, y1 };
        let mut out = String::new();
        open_svg(&mut out, &self.title, "line-plot");
        axes(&mut out, &f, &self.x_label, &self.y_label);
        for (slope, label) in &self.reference_slopes {
            let (a, b) = (x0.max(y0 / slope.max(1e-12)), x1.min(y1 / slope.max(1e-12)));
            let _ = writeln!(
                out,
                r##"<line class="reference" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#555" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#555">{}</text>"##,
                f.x(a),
                f.y(slope * a),
                f.x(b),
                f.y(slope * b),
                f.x(b) - 4.0,
                f.y(slope * b) + 14.0,
                escape(label)
            );
        }
        for (v, label) in &self.reference_lines {
            let y = f.y(*v);
            let _ = writeln!(
                out,
                r##"<line class="reference" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#000" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                WIDTH - RIGHT,
                LEFT + 4.0,
                y - 4.0,
                escape(label)
            );
        }
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let banded: Vec<&PlotPoint> = s.points.iter().filter(|p| p.band.is_some()).collect();
            if banded.len() > 1 {
                let mut poly: Vec<String> = banded
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", f.x(p.x), f.y(p.band.unwrap_or_default().1)))
                    .collect();
                poly.extend(
                    banded.iter().rev().map(|p| {
                        format!("{:.1},{:.1}", f.x(p.x), f.y(p.band.unwrap_or_default().0))
                    }),
                );
                let _ = writeln!(
                    out,
                    r#"<polygon class="band" points="{}" fill="{color}" fill-opacity="0.18" stroke="none"/>"#,
                    poly.join(" ")
                );
            }
            if !s.markers_only && s.points.len() > 1 {
                let line: Vec<String> = s
                    .points
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", f.x(p.x), f.y(p.y)))
                    .collect();
                let _ = writeln!(
                    out,
                    r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    line.join(" ")
                );
            }
            for p in &s.points {
                if let Some((a, b)) = p.band {
                    let _ = write!(
                        out,
                        r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}"/>"#,
                        f.y(a),
                        f.y(b),
                        x = f.x(p.x)
                    );
                }
                let _ = writeln!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{color}"/>"#,
                    f.x(p.x),
                    f.y(p.y),
                    if s.markers_only { 3.5 } else { 3.0 }
                );
            }
            legend(&mut out, k, &s.name, color, s.markers_only);
        }
        if !self.note.is_empty() {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" fill="#555">{}</text>"##,
                WIDTH - RIGHT + 14.0,
                TOP + 18.0 * self.series.len() as f64 + 22.0,
                escape(&self.note)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// A histogram of values with an optional density curve drawn over it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// The values.
    pub values: Vec<f64>,
    /// Number of bins.
    pub bins: usize,
    /// A density to draw on the density scale of the histogram, with its legend text.
    pub curve: Option<(String, Vec<(f64, f64)>)>,
    /// Vertical marker lines with a label (e.g. the true value).
    pub markers: Vec<(f64, String)>,
}

impl Histogram {
    /// The histogram as SVG (bars on the density scale, so a density curve fits over them).
    pub fn to_svg(&self) -> String {
        let finite: Vec<f64> = self
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let bins = self.bins.max(1);
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0usize; bins];
        for v in &finite {
            let k = (((v - lo) / width) as usize).min(bins - 1);
            counts[k] += 1;
        }
        let n = finite.len().max(1) as f64;
        let density: Vec<f64> = counts.iter().map(|&c| c as f64 / (n * width)).collect();
        let mut top = density.iter().copied().fold(0.0, f64::max);
        if let Some((_, pts)) = &self.curve {
            top = pts.iter().map(|p| p.1).fold(top, f64::max);
        }
        let f = Frame {
            x0: lo,
            x1: hi,
            y0: 0.0,
            y1: if top > 0.0 { top * 1.08 } else { 1.0 },
        };
        let mut out = String::new();
        open_svg(&mut out, &self.title, "histogram");
        axes(&mut out, &f, &self.x_label, "density");
        for (k, d) in density.iter().enumerate() {
            let (a, b) = (lo + k as f64 * width, lo + (k + 1) as f64 * width);
            let _ = writeln!(
                out,
                r##"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#9ecae1" stroke="#4a7fa8" stroke-width="0.6"/>"##,
                f.x(a),
                f.y(*d),
                (f.x(b) - f.x(a)).max(0.5),
                f.y(0.0) - f.y(*d)
            );
        }
        legend(
            &mut out,
            0,
            &format!("{} values", finite.len()),
            "#9ecae1",
            true,
        );
        if let Some((name, pts)) = &self.curve {
            let line: Vec<String> = pts
                .iter()
                .filter(|p| p.0 >= lo && p.0 <= hi)
                .map(|p| format!("{:.1},{:.1}", f.x(p.0), f.y(p.1)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline class="curve" points="{}" fill="none" stroke="{}" stroke-width="2.5"/>"#,
                line.join(" "),
                PALETTE[1]
            );
            legend(&mut out, 1, name, PALETTE[1], false);
        }
        for (k, (v, label)) in self.markers.iter().enumerate() {
            let x = f.x(*v);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#000" stroke-dasharray="5 3"/>"##,
                f.y(0.0)
            );
            legend(&mut out, 2 + k, label, "#000", false);
        }
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_inside_the_range() {
        let t = ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6);
        assert!((t[1] - 0.2).abs() < 1e-12);
        let t = ticks(50.0, 400.0, 8);
        assert!(t.iter().all(|v| (50.0..=400.0).contains(v)));
        assert!((t[1] - t[0] - 50.0).abs() < 1e-9);
    }
}
