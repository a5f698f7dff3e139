//! Drawing a laid-out [`PathDiagram`] as SVG.

use super::layout::{
    covariance_label, path_label, r_squared_label, CorrelationTable, Layout, Point, Rect,
    LABEL_FONT, NODE_FONT,
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
    for (k, (c, curve)) in d.covariances.iter().zip(&l.covariances).enumerate() {
        let Some(curve) = curve else { continue };
        let dashed = c.pvalue.is_some_and(|p| p >= d.alpha);
        let _ = writeln!(
            out,
            r#"<path class="covariance" data-arrow="c{k}" data-a="{}" data-b="{}" d="M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}" fill="none" stroke="{MUTED}" stroke-width="1.1"{} marker-start="url(#{id}-head-muted)" marker-end="url(#{id}-head-muted)"/>"#,
            escape(&d.variables[c.a].name),
            escape(&d.variables[c.b].name),
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
    if let Some(t) = &l.correlation_table {
        table(&mut out, t);
    }
    for (k, (p, line)) in d.paths.iter().zip(&l.paths).enumerate() {
        let dashed = p.pvalue.is_some_and(|pv| pv >= d.alpha);
        let points: Vec<String> = line
            .iter()
            .map(|q| format!("{:.1},{:.1}", q.x, q.y))
            .collect();
        let _ = writeln!(
            out,
            r#"<path class="path" data-arrow="p{k}" data-from="{}" data-to="{}" d="M{}" fill="none" stroke="{INK}" stroke-width="1.5"{} marker-end="url(#{id}-head)"/>"#,
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
    for (k, (p, r)) in d.paths.iter().zip(&l.path_labels).enumerate() {
        if let Some(r) = r {
            label(&mut out, &format!("p{k}"), r, &path_label(d, p), INK);
        }
    }
    for (k, (c, r)) in d.covariances.iter().zip(&l.covariance_labels).enumerate() {
        if let Some(r) = r {
            label(&mut out, &format!("c{k}"), r, &covariance_label(c), MUTED);
        }
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

/// The correlation table: a light frame, the title, the names, the values, and the bracket that
/// joins it to the exogenous boxes.
fn table(out: &mut String, t: &CorrelationTable) {
    for s in &t.bracket {
        let _ = writeln!(
            out,
            r#"<line class="bracket" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{MUTED}" stroke-width="1.1"/>"#,
            s[0].x, s[0].y, s[1].x, s[1].y
        );
    }
    let r = t.rect;
    let _ = writeln!(
        out,
        r#"<rect class="correlation-table" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" fill="white" stroke="{MUTED}" stroke-width="0.8"/>"#,
        r.x, r.y, r.w, r.h
    );
    let baseline = |r: &Rect| r.center().y + LABEL_FONT * 0.35;
    let c = t.title.0.center();
    text(
        out,
        c.x,
        baseline(&t.title.0),
        LABEL_FONT,
        "bold",
        MUTED,
        &t.title.1,
    );
    for (r, s) in &t.headers {
        text(out, r.center().x, baseline(r), LABEL_FONT, "bold", INK, s);
    }
    for (r, s) in &t.cells {
        let _ = writeln!(
            out,
            r#"<text class="table-cell" x="{:.1}" y="{:.1}" font-size="{LABEL_FONT}" fill="{INK}" text-anchor="middle">{}</text>"#,
            r.center().x,
            baseline(r),
            escape(s)
        );
    }
}

fn label(out: &mut String, of: &str, r: &Rect, s: &str, color: &str) {
    let c: Point = r.center();
    let _ = writeln!(
        out,
        r#"<rect class="label" data-of="{of}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="white" fill-opacity="0.9"/>"#,
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
