//! A forest plot of a meta-analysis as a self-contained SVG (no dependencies, no scripts): one row
//! per study (estimate as a square sized by its weight, the CI as a line), the pooled estimate as
//! a diamond, the prediction interval as a line under it, a zero line and an axis with ticks.

use crate::meta::{MetaResult, Study};
use crate::qnorm;

/// Escapes text for SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// "Nice" tick positions covering `[lo, hi]` (1, 2, 5 × 10^k steps).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 7.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The forest plot of `result` fitted to `studies`, titled `title`, intervals at `level`.
pub fn forest_svg(studies: &[Study], result: &MetaResult, title: &str, level: f64) -> String {
    let z = qnorm(0.5 + level / 2.0);
    let ci: Vec<(f64, f64)> = studies
        .iter()
        .map(|s| (s.yi - z * s.vi.sqrt(), s.yi + z * s.vi.sqrt()))
        .collect();
    let mut lo = ci.iter().map(|c| c.0).fold(result.pi_lb, f64::min).min(0.0);
    let mut hi = ci.iter().map(|c| c.1).fold(result.pi_ub, f64::max).max(0.0);
    let pad = 0.05 * (hi - lo).max(1e-9);
    lo -= pad;
    hi += pad;
    let (label_w, plot_w, num_w, row_h, top) = (230.0, 420.0, 210.0, 22.0, 50.0);
    let width = label_w + plot_w + num_w;
    let rows = studies.len() as f64 + 3.0;
    let height = top + rows * row_h + 50.0;
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let max_w = result
        .weights
        .iter()
        .cloned()
        .fold(0.0, f64::max)
        .max(1e-12);
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#444\">estimate [{:.0}% CI]  weight</text>\n",
        escape(title),
        width - 10.0,
        top - 8.0,
        100.0 * level
    );
    let y_end = top + (studies.len() as f64 + 2.5) * row_h;
    o.push_str(&format!(
        "<line x1=\"{0:.2}\" y1=\"{1}\" x2=\"{0:.2}\" y2=\"{2}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n",
        x(0.0),
        top,
        y_end
    ));
    for (i, ((s, (l, u)), w)) in studies.iter().zip(&ci).zip(&result.weights).enumerate() {
        let y = top + (i as f64 + 0.5) * row_h;
        let side = 4.0 + 10.0 * (w / max_w).sqrt();
        o.push_str(&format!(
            "<text x=\"10\" y=\"{:.2}\">{}</text>\n<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"black\"/>\n<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{side:.2}\" height=\"{side:.2}\" fill=\"#1f4e79\"/>\n<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">{:.2} [{:.2}, {:.2}]  {:.1}%</text>\n",
            y + 4.0,
            escape(&s.label),
            x(*l),
            x(*u),
            x(s.yi) - side / 2.0,
            y - side / 2.0,
            width - 10.0,
            y + 4.0,
            s.yi,
            l,
            u,
            w
        ));
    }
    let y = top + (studies.len() as f64 + 1.0) * row_h;
    let method = format!(
        "{} model ({}{})",
        if result.method.name() == "FE" {
            "FE"
        } else {
            "RE"
        },
        result.method.name(),
        if result.knha { ", Knapp–Hartung" } else { "" }
    );
    o.push_str(&format!(
        "<text x=\"10\" y=\"{:.2}\" font-weight=\"bold\">{}</text>\n<polygon points=\"{:.2},{y:.2} {:.2},{:.2} {:.2},{y:.2} {:.2},{:.2}\" fill=\"#c0392b\"/>\n<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" font-weight=\"bold\">{:.2} [{:.2}, {:.2}]</text>\n",
        y + 4.0,
        escape(&method),
        x(result.conf_low),
        x(result.estimate),
        y - 7.0,
        x(result.conf_high),
        x(result.estimate),
        y + 7.0,
        width - 10.0,
        y + 4.0,
        result.estimate,
        result.conf_low,
        result.conf_high
    ));
    let y = y + row_h;
    o.push_str(&format!(
        "<text x=\"10\" y=\"{:.2}\" fill=\"#444\">prediction interval (new context)</text>\n<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" fill=\"#444\">[{:.2}, {:.2}]</text>\n",
        y + 4.0,
        x(result.pi_lb),
        x(result.pi_ub),
        width - 10.0,
        y + 4.0,
        result.pi_lb,
        result.pi_ub
    ));
    let axis_y = y_end + 4.0;
    o.push_str(&format!(
        "<line x1=\"{label_w}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"black\"/>\n",
        label_w + plot_w
    ));
    for t in ticks(lo, hi) {
        o.push_str(&format!(
            "<line x1=\"{0:.2}\" y1=\"{axis_y}\" x2=\"{0:.2}\" y2=\"{1}\" stroke=\"black\"/>\n<text x=\"{0:.2}\" y=\"{2}\" text-anchor=\"middle\">{3}</text>\n",
            x(t),
            axis_y + 5.0,
            axis_y + 18.0,
            crate::format_number((t * 1e9).round() / 1e9)
        ));
    }
    o.push_str(&format!(
        "<text x=\"10\" y=\"{:.2}\" fill=\"#444\">tau² = {:.4}, I² = {:.1}%, Q({}) = {:.2}, p = {}</text>\n</svg>\n",
        axis_y + 38.0,
        result.tau2,
        result.i2,
        result.qe_df,
        result.qe,
        escape(&crate::format_p(result.qe_p))
    ));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{meta_analyse, MetaConfig};

    #[test]
    fn forest_has_a_row_per_study_a_diamond_and_escaped_labels() {
        let studies: Vec<Study> = [(0.2, 0.01), (0.4, 0.02), (-0.1, 0.03)]
            .iter()
            .enumerate()
            .map(|(i, &(yi, vi))| Study {
                label: format!("S{i} <&>"),
                yi,
                vi,
            })
            .collect();
        let r = meta_analyse(&studies, &MetaConfig::default()).unwrap();
        let svg = forest_svg(&studies, &r, "Test", 0.95);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert!(svg.contains("S0 &lt;&amp;&gt;") && !svg.contains("S0 <&>"));
        assert!(!svg.contains("NaN"));
        // A p-value below .0001 prints as "<.0001", escaped in XML text.
        let tight: Vec<Study> = (0..6)
            .map(|i| Study {
                label: format!("T{i}"),
                yi: if i % 2 == 0 { 1.0 } else { -1.0 },
                vi: 0.001,
            })
            .collect();
        let r = meta_analyse(&tight, &MetaConfig::default()).unwrap();
        let svg = forest_svg(&tight, &r, "T", 0.95);
        assert!(
            svg.contains("p = &lt;.0001") && !svg.contains("= <"),
            "{svg}"
        );
    }

    #[test]
    fn ticks_are_round_and_inside() {
        let t = ticks(-1.87, 0.44);
        assert!(t.first().unwrap() >= &-1.87 && t.last().unwrap() <= &0.44);
        assert!(t.iter().any(|&v| v.abs() < 1e-12));
    }
}
