//! Drawing a laid-out [`PathDiagram`] as SVG.

use super::layout::{
    covariance_label, path_label, r_squared_label, Layout, Point, Rect, LABEL_FONT, NODE_FONT,
};
use super::PathDiagram;
use crate::markup::escape;
use std::fmt::Write as _;

const INK: &str = "#1a1a1a";
const MUTED: &str = "#6b6b6b";

/// The SVG document. Element classes say what each element is (`variable`, `path`, `covariance`,
/// `label`), so tests and style sheets can find them.
pub fn render(d: &PathDiagram, l: &Layout) -> String {
    let id = &d.id_prefix;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="path-diagram" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.1} {h:.1}" font-family="Helvetica, Arial, 'DejaVu Sans', sans-serif" font-size="{LABEL_FONT}">"#,
        w = l.width,
        h = l.height
    );
    let _ = writeln!(out, "<title>Path diagram</title>");
    let _ = writeln!(
        out,
        r#"<defs><marker id="{id}-head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker><marker id="{id}-head-muted" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/></marker></defs>"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (c, curve) in d.covariances.iter().zip(&l.covariances) {
        let dashed = c.pvalue.is_some_and(|p| p >= d.alpha);
        let _ = writeln!(
            out,
            r#"<path class="covariance" d="M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}" fill="none" stroke="{MUTED}" stroke-width="1.1"{} marker-start="url(#{id}-head-muted)" marker-end="url(#{id}-head-muted)"/>"#,
            curve[0].x,
            curve[0].y,
            curve[1].x,
            curve[1].y,
            curve[2].x,
            curve[2].y,
            if dashed {
                r#" stroke-dasharray="5 4""#
            } else {
                ""
            }
        );
    }
    for (p, line) in d.paths.iter().zip(&l.paths) {
        let dashed = p.pvalue.is_some_and(|pv| pv >= d.alpha);
        let points: Vec<String> = line
            .iter()
            .map(|q| format!("{:.1},{:.1}", q.x, q.y))
            .collect();
        let _ = writeln!(
            out,
            r#"<path class="path" data-from="{}" data-to="{}" d="M{}" fill="none" stroke="{INK}" stroke-width="1.5"{} marker-end="url(#{id}-head)"/>"#,
            escape(&d.variables[p.from].name),
            escape(&d.variables[p.to].name),
            points.join(" L"),
            if dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            }
        );
    }
    for (p, r) in d.paths.iter().zip(&l.path_labels) {
        label(&mut out, r, &path_label(d, p), INK);
    }
    for (c, r) in d.covariances.iter().zip(&l.covariance_labels) {
        label(&mut out, r, &covariance_label(c), MUTED);
    }
    for (v, r) in d.variables.iter().zip(&l.nodes) {
        let c = r.center();
        if v.latent {
            let _ = writeln!(
                out,
                r#"<ellipse class="variable" cx="{:.1}" cy="{:.1}" rx="{:.1}" ry="{:.1}" fill="white" stroke="{INK}" stroke-width="1.5"/>"#,
                c.x,
                c.y,
                r.w / 2.0,
                r.h / 2.0
            );
        } else {
            let _ = writeln!(
                out,
                r#"<rect class="variable" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" fill="white" stroke="{INK}" stroke-width="1.5"/>"#,
                r.x, r.y, r.w, r.h
            );
        }
        let name_y = if v.r_squared.is_some() {
            c.y - 2.0
        } else {
            c.y + NODE_FONT * 0.35
        };
        text(&mut out, c.x, name_y, NODE_FONT, "bold", INK, &v.name);
        if let Some(r2) = v.r_squared {
            text(
                &mut out,
                c.x,
                c.y + LABEL_FONT + 1.0,
                LABEL_FONT,
                "normal",
                MUTED,
                &r_squared_label(r2),
            );
        }
    }
    for (k, line) in l.caption_lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text class="caption" x="14" y="{:.1}" fill="{MUTED}">{}</text>"#,
            l.caption_y + 16.0 * k as f64,
            escape(line)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn label(out: &mut String, r: &Rect, s: &str, color: &str) {
    let c: Point = r.center();
    let _ = writeln!(
        out,
        r#"<rect class="label" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="white" fill-opacity="0.9"/>"#,
        r.x, r.y, r.w, r.h
    );
    text(
        out,
        c.x,
        c.y + LABEL_FONT * 0.35,
        LABEL_FONT,
        "normal",
        color,
        s,
    );
}

fn text(out: &mut String, x: f64, y: f64, size: f64, weight: &str, color: &str, s: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" font-weight="{weight}" fill="{color}" text-anchor="middle">{}</text>"#,
        escape(s)
    );
}
