//! Placing a [`PathDiagram`]: layers, order within layers, coordinates, arrow ports and label
//! positions. Pure geometry; [`super::svg`] draws the result.

use super::{DiagramCovariance, DiagramPath, PathDiagram};
use crate::markup::{coefficient, stars, text_width};

/// Font size of variable names, px.
pub const NODE_FONT: f64 = 14.0;
/// Font size of coefficients and R², px.
pub const LABEL_FONT: f64 = 12.0;
/// Height of a coefficient label box, px.
pub const LABEL_HEIGHT: f64 = 16.0;
const NODE_PAD: f64 = 10.0;
const NODE_HEIGHT: f64 = 30.0;
const NODE_HEIGHT_R2: f64 = 44.0;
const DUMMY_HEIGHT: f64 = 8.0;
/// Gap next to a dummy point (a long arrow passing a layer), px before spreading.
const DUMMY_GAP: f64 = 14.0;
const VERTICAL_GAP: f64 = 40.0;
const LAYER_GAP: f64 = 210.0;
const MARGIN: f64 = 14.0;
/// Each failed attempt to place every label spreads the layout by this factor.
const SPREAD: f64 = 1.1;
const MAX_ATTEMPTS: usize = 40;
const SWEEPS: usize = 12;
/// Where along an arrow (fraction of its length) a label may sit, in order of preference.
const PATH_LABEL_POSITIONS: &[f64] = &[
    0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.46, 0.54, 0.38, 0.62, 0.3, 0.7, 0.2, 0.8, 0.15, 0.85,
];
const CURVE_LABEL_POSITIONS: &[f64] = &[0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78];
/// Clearance between a label box and an arrow that is not its own, px.
const ARROW_CLEARANCE: f64 = 2.0;
/// Gap between a label placed beside its arrow and the arrow, px.
const BESIDE_GAP: f64 = 2.0;
/// From this many covariances among the exogenous variables on, they are shown as a table.
const TABLE_FROM: usize = 3;
/// Row height of the correlation table, px.
const TABLE_ROW: f64 = 18.0;
/// Horizontal padding of a table cell, px.
const TABLE_PAD: f64 = 8.0;
/// Gap between the exogenous boxes and the bracket that joins them, px.
const BRACKET_GAP: f64 = 12.0;
/// Gap between the bracket and the table, px.
const TABLE_GAP: f64 = 14.0;
/// Line segments a Bézier curve is cut into for overlap tests.
const CURVE_PIECES: usize = 24;

/// A point in SVG user units (y grows downwards).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Horizontal position.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
}

/// An axis-aligned rectangle: top-left corner, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// The rectangle of size `w × h` centred on `c`.
    pub fn centered(c: Point, w: f64, h: f64) -> Rect {
        Rect {
            x: c.x - w / 2.0,
            y: c.y - h / 2.0,
            w,
            h,
        }
    }

    /// Whether the two rectangles share interior points.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// The centre.
    pub fn center(&self) -> Point {
        Point {
            x: self.x + self.w / 2.0,
            y: self.y + self.h / 2.0,
        }
    }

    fn grown(&self, by: f64) -> Rect {
        Rect {
            x: self.x - by,
            y: self.y - by,
            w: self.w + 2.0 * by,
            h: self.h + 2.0 * by,
        }
    }
}

/// A placed diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Box of each variable (index as in [`PathDiagram::variables`]).
    pub nodes: Vec<Rect>,
    /// Layer (column) of each variable, 0 = leftmost.
    pub layers: Vec<usize>,
    /// Each path's polyline, from the predictor's box to the outcome's box.
    pub paths: Vec<Vec<Point>>,
    /// Each path's label box; `None` for a path without value or label (a bare arrow).
    pub path_labels: Vec<Option<Rect>>,
    /// Each covariance's quadratic Bézier curve (start, control point, end); `None` when it is
    /// shown in [`Layout::correlation_table`] instead.
    pub covariances: Vec<Option<[Point; 3]>>,
    /// Each drawn covariance's label box; `None` when in the table or without value or label.
    pub covariance_labels: Vec<Option<Rect>>,
    /// The table of covariances among the exogenous variables, when there are many.
    pub correlation_table: Option<CorrelationTable>,
    /// How much the layout had to be spread (1 = not at all) for every label to find a place.
    pub spread: f64,
    /// Baseline of the caption's first line.
    pub caption_y: f64,
    /// The caption, wrapped to the drawing's width.
    pub caption_lines: Vec<String>,
}

/// Covariances among the exogenous variables as a lower-triangular table left of the exogenous
/// column, joined to their boxes by a bracket.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationTable {
    /// The whole table, title included.
    pub rect: Rect,
    /// Title (`Correlations` or `Covariances`) and the centre of its baseline box.
    pub title: (Rect, String),
    /// Row and column headers (variable names).
    pub headers: Vec<(Rect, String)>,
    /// The values, one cell per pair of variables.
    pub cells: Vec<(Rect, String)>,
    /// The bracket: line segments from the table to each variable's box.
    pub bracket: Vec<[Point; 2]>,
}

impl Layout {
    /// Every box holding text: variables, path labels, covariance labels, the correlation table.
    /// No two overlap.
    pub fn label_boxes(&self) -> Vec<Rect> {
        self.nodes
            .iter()
            .copied()
            .chain(self.path_labels.iter().flatten().copied())
            .chain(self.covariance_labels.iter().flatten().copied())
            .chain(self.correlation_table.iter().map(|t| t.rect))
            .collect()
    }

    /// The drawn lines as segments, each with what it belongs to: every path's polyline, every
    /// covariance curve (cut into short pieces), the table's bracket.
    pub fn arrow_segments(&self) -> Vec<(Owner, [Point; 2])> {
        let mut out = Vec::new();
        for (k, line) in self.paths.iter().enumerate() {
            for w in line.windows(2) {
                out.push((Owner::Path(k), [w[0], w[1]]));
            }
        }
        for (k, curve) in self.covariances.iter().enumerate() {
            if let Some(curve) = curve {
                for s in curve_pieces(curve) {
                    out.push((Owner::Covariance(k), s));
                }
            }
        }
        if let Some(t) = &self.correlation_table {
            for s in &t.bracket {
                out.push((Owner::Table, *s));
            }
        }
        out
    }
}

/// What a drawn line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The arrow of path `k`.
    Path(usize),
    /// The curve of covariance `k`.
    Covariance(usize),
    /// The bracket of the correlation table.
    Table,
}

/// A quadratic Bézier curve as [`CURVE_PIECES`] line segments.
fn curve_pieces(curve: &[Point; 3]) -> Vec<[Point; 2]> {
    (0..CURVE_PIECES)
        .map(|i| {
            [
                bezier(curve, i as f64 / CURVE_PIECES as f64),
                bezier(curve, (i + 1) as f64 / CURVE_PIECES as f64),
            ]
        })
        .collect()
}

/// Whether the segment `a–b` meets the rectangle (Liang–Barsky clipping).
pub fn segment_meets_rect(a: Point, b: Point, r: &Rect) -> bool {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, a.x - r.x),
        (dx, r.x + r.w - a.x),
        (-dy, a.y - r.y),
        (dy, r.y + r.h - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// The text on a path: coefficient and stars; else the parameter's label; else nothing.
pub fn path_label(d: &PathDiagram, p: &DiagramPath) -> String {
    let _ = d;
    value_text(p.value, p.label.as_deref(), p.pvalue)
}

/// The text on a curved arrow: value and stars; else the label; else nothing.
pub fn covariance_label(c: &DiagramCovariance) -> String {
    value_text(c.value, c.label.as_deref(), c.pvalue)
}

fn value_text(value: Option<f64>, label: Option<&str>, pvalue: Option<f64>) -> String {
    match (value, label) {
        (Some(v), _) => format!("{}{}", coefficient(v), pvalue.map_or("", stars)),
        (None, Some(l)) => l.to_string(),
        (None, None) => String::new(),
    }
}

/// The R² line of a variable's box.
pub fn r_squared_label(r2: f64) -> String {
    format!("R\u{b2} = {}", coefficient(r2))
}

/// Lays the diagram out. Labels never overlap: when some label finds no free place, the layout is
/// spread by 10% and tried again.
pub fn layout(d: &PathDiagram) -> Layout {
    let layers = assign_layers(d);
    let graph = Graph::new(d, &layers);
    let order = graph.order();
    let mut scale = 1.0;
    for attempt in 0..MAX_ATTEMPTS {
        let force = attempt + 1 == MAX_ATTEMPTS;
        if let Some(l) = place(d, &graph, &order, scale, force) {
            return l;
        }
        scale *= SPREAD;
    }
    unreachable!("the last attempt places every label")
}

/// Layer of each variable: the length of the longest chain of paths leading to it (exogenous
/// variables in layer 0), so every arrow points rightwards.
fn assign_layers(d: &PathDiagram) -> Vec<usize> {
    let n = d.variables.len();
    let mut layer = vec![0usize; n];
    // At most n rounds in an acyclic graph; a cyclic input stops there rather than looping.
    for _ in 0..n {
        let mut changed = false;
        for p in &d.paths {
            if p.from != p.to && layer[p.to] < layer[p.from] + 1 {
                layer[p.to] = layer[p.from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

/// Variables and dummy points (where a path crosses an intermediate layer), with the chains of
/// items each path passes through.
struct Graph {
    /// Layer of each item; items `0..n` are the variables, the rest dummies.
    item_layer: Vec<usize>,
    /// Initial sort key of each item.
    item_key: Vec<f64>,
    /// For each path, the items it passes through, predictor first.
    chains: Vec<Vec<usize>>,
    n_layers: usize,
    n_variables: usize,
}

impl Graph {
    fn new(d: &PathDiagram, layers: &[usize]) -> Graph {
        let n = d.variables.len();
        let mut item_layer = layers.to_vec();
        let mut item_key: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut chains = Vec::with_capacity(d.paths.len());
        for p in &d.paths {
            let mut chain = vec![p.from];
            let (lf, lt) = (layers[p.from], layers[p.to]);
            if lt > lf + 1 {
                for l in (lf + 1)..lt {
                    chain.push(item_layer.len());
                    item_layer.push(l);
                    item_key.push(p.from as f64 + 0.5);
                }
            }
            chain.push(p.to);
            chains.push(chain);
        }
        let n_layers = item_layer.iter().max().map_or(1, |m| m + 1);
        Graph {
            item_layer,
            item_key,
            chains,
            n_layers,
            n_variables: n,
        }
    }

    /// Segments between adjacent layers: `(item in layer L, item in layer L + 1)`.
    fn segments(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for chain in &self.chains {
            for w in chain.windows(2) {
                if self.item_layer[w[1]] == self.item_layer[w[0]] + 1 {
                    out.push((w[0], w[1]));
                }
            }
        }
        out
    }

    /// Items of each layer, top to bottom: the model's order, improved by barycenter sweeps; the
    /// order with the fewest crossings seen is kept.
    fn order(&self) -> Vec<Vec<usize>> {
        let mut order: Vec<Vec<usize>> = vec![Vec::new(); self.n_layers];
        for item in 0..self.item_layer.len() {
            order[self.item_layer[item]].push(item);
        }
        for layer in &mut order {
            layer.sort_by(|a, b| self.item_key[*a].total_cmp(&self.item_key[*b]));
        }
        let segments = self.segments();
        let mut best = order.clone();
        let mut best_crossings = crossings(&order, &segments, self.item_layer.len());
        for sweep in 0..SWEEPS {
            let down = sweep % 2 == 0;
            let layer_seq: Vec<usize> = if down {
                (1..self.n_layers).collect()
            } else {
                (0..self.n_layers.saturating_sub(1)).rev().collect()
            };
            for l in layer_seq {
                let pos = positions(&order, self.item_layer.len());
                let neighbour_layer = if down { l - 1 } else { l + 1 };
                let mut keyed: Vec<(f64, usize)> = order[l]
                    .iter()
                    .enumerate()
                    .map(|(k, &item)| {
                        let ns: Vec<f64> = segments
                            .iter()
                            .filter_map(|&(a, b)| {
                                if down && b == item && self.item_layer[a] == neighbour_layer {
                                    Some(pos[a] as f64)
                                } else if !down
                                    && a == item
                                    && self.item_layer[b] == neighbour_layer
                                {
                                    Some(pos[b] as f64)
                                } else {
                                    None
                                }
                            })
                            .collect();
                        let bary = if ns.is_empty() {
                            k as f64
                        } else {
                            ns.iter().sum::<f64>() / ns.len() as f64
                        };
                        (bary, item)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                order[l] = keyed.into_iter().map(|(_, i)| i).collect();
            }
            let c = crossings(&order, &segments, self.item_layer.len());
            if c < best_crossings {
                best_crossings = c;
                best = order.clone();
            }
        }
        best
    }
}

fn positions(order: &[Vec<usize>], n_items: usize) -> Vec<usize> {
    let mut pos = vec![0; n_items];
    for layer in order {
        for (k, &item) in layer.iter().enumerate() {
            pos[item] = k;
        }
    }
    pos
}

/// Number of pairs of segments that cross between adjacent layers.
fn crossings(order: &[Vec<usize>], segments: &[(usize, usize)], n_items: usize) -> usize {
    let pos = positions(order, n_items);
    let mut count = 0;
    for (i, &(a1, b1)) in segments.iter().enumerate() {
        for &(a2, b2) in &segments[i + 1..] {
            let (pa1, pb1, pa2, pb2) = (
                pos[a1] as i64,
                pos[b1] as i64,
                pos[a2] as i64,
                pos[b2] as i64,
            );
            if (pa1 - pa2) * (pb1 - pb2) < 0 {
                count += 1;
            }
        }
    }
    count
}

/// Size of a variable's box.
fn node_size(d: &PathDiagram, i: usize) -> (f64, f64) {
    let v = &d.variables[i];
    let mut w = text_width(&v.name, NODE_FONT);
    if let Some(r2) = v.r_squared {
        w = w.max(text_width(&r_squared_label(r2), LABEL_FONT));
    }
    let mut w = (w + 2.0 * NODE_PAD).max(48.0);
    let mut h = if v.r_squared.is_some() {
        NODE_HEIGHT_R2
    } else {
        NODE_HEIGHT
    };
    if v.latent {
        w *= 1.35;
        h *= 1.25;
    }
    (w, h)
}

/// Coordinates at spread `scale`; `None` when some label finds no free place (unless `force`).
fn place(
    d: &PathDiagram,
    g: &Graph,
    order: &[Vec<usize>],
    scale: f64,
    force: bool,
) -> Option<Layout> {
    let n_items = g.item_layer.len();
    let size: Vec<(f64, f64)> = (0..n_items)
        .map(|i| {
            if i < g.n_variables {
                node_size(d, i)
            } else {
                (0.0, DUMMY_HEIGHT)
            }
        })
        .collect();
    let gap = VERTICAL_GAP * scale;
    let column_width: Vec<f64> = order
        .iter()
        .map(|l| l.iter().map(|&i| size[i].0).fold(0.0, f64::max))
        .collect();
    // The gap after item k of a layer: small when either neighbour is a dummy point.
    let gap_after = |l: &[usize], k: usize| {
        if l[k] >= g.n_variables || l.get(k + 1).is_some_and(|&i| i >= g.n_variables) {
            DUMMY_GAP * scale
        } else {
            gap
        }
    };
    let layer_height: Vec<f64> = order
        .iter()
        .map(|l| {
            l.iter().map(|&i| size[i].1).sum::<f64>()
                + (0..l.len().saturating_sub(1))
                    .map(|k| gap_after(l, k))
                    .sum::<f64>()
        })
        .collect();
    let tallest = layer_height.iter().copied().fold(0.0, f64::max);
    let mut center = vec![Point { x: 0.0, y: 0.0 }; n_items];
    let mut column_x = Vec::with_capacity(order.len());
    let mut x = 0.0;
    for (l, layer) in order.iter().enumerate() {
        column_x.push(x);
        let mut y = (tallest - layer_height[l]) / 2.0;
        for (k, &i) in layer.iter().enumerate() {
            center[i] = Point {
                x: x + column_width[l] / 2.0,
                y: y + size[i].1 / 2.0,
            };
            y += size[i].1 + gap_after(layer, k);
        }
        x += column_width[l] + LAYER_GAP * scale;
    }
    let nodes: Vec<Rect> = (0..g.n_variables)
        .map(|i| Rect::centered(center[i], size[i].0, size[i].1))
        .collect();
    let paths = path_polylines(d, g, &nodes, &center);
    let layer = &g.item_layer;
    let exogenous = |i: usize| layer[i] == 0;
    let in_table: Vec<bool> = {
        let n_exo = d
            .covariances
            .iter()
            .filter(|c| exogenous(c.a) && exogenous(c.b))
            .count();
        d.covariances
            .iter()
            .map(|c| n_exo >= TABLE_FROM && exogenous(c.a) && exogenous(c.b))
            .collect()
    };
    let correlation_table = correlation_table(d, &in_table, &nodes, column_x[0]);
    // Arcs within one column: the k-th arc of a column bulges further than the (k−1)-th, so arcs
    // of equally distant pairs do not lie on top of each other.
    let mut arcs_in_column = vec![0usize; order.len()];
    let covariances: Vec<Option<[Point; 3]>> = d
        .covariances
        .iter()
        .zip(&in_table)
        .map(|(c, &tabled)| {
            if tabled {
                return None;
            }
            let rank = if layer[c.a] == layer[c.b] {
                let k = &mut arcs_in_column[layer[c.a]];
                *k += 1;
                *k - 1
            } else {
                0
            };
            Some(covariance_curve(
                c,
                &nodes,
                layer,
                &column_x,
                &column_width,
                scale,
                rank,
            ))
        })
        .collect();
    let mut l = Layout {
        width: 0.0,
        height: 0.0,
        nodes,
        layers: layer[..g.n_variables].to_vec(),
        paths,
        path_labels: Vec::new(),
        covariances,
        covariance_labels: Vec::new(),
        correlation_table,
        spread: scale,
        caption_y: 0.0,
        caption_lines: Vec::new(),
    };
    let segments = l.arrow_segments();
    let mut occupied: Vec<Rect> = l.label_boxes().iter().map(|r| r.grown(2.0)).collect();
    occupied.extend(arrowheads(&l));
    let mut path_labels = Vec::with_capacity(d.paths.len());
    for (k, (p, line)) in d.paths.iter().zip(&l.paths).enumerate() {
        let text = path_label(d, p);
        if text.is_empty() {
            path_labels.push(None);
            continue;
        }
        let w = text_width(&text, LABEL_FONT) + 6.0;
        let candidates = label_candidates(PATH_LABEL_POSITIONS, w, |t| along(line, t));
        let r = choose(&candidates, Owner::Path(k), &occupied, &segments, force)?;
        occupied.push(r.grown(1.0));
        path_labels.push(Some(r));
    }
    let mut covariance_labels = Vec::with_capacity(d.covariances.len());
    for (k, (c, curve)) in d.covariances.iter().zip(&l.covariances).enumerate() {
        let text = covariance_label(c);
        let Some(curve) = curve.filter(|_| !text.is_empty()) else {
            covariance_labels.push(None);
            continue;
        };
        let w = text_width(&text, LABEL_FONT) + 6.0;
        let candidates = label_candidates(CURVE_LABEL_POSITIONS, w, |t| {
            let (a, b) = (bezier(&curve, t - 0.01), bezier(&curve, t + 0.01));
            (bezier(&curve, t), (b.x - a.x, b.y - a.y))
        });
        let r = choose(
            &candidates,
            Owner::Covariance(k),
            &occupied,
            &segments,
            force,
        )?;
        occupied.push(r.grown(1.0));
        covariance_labels.push(Some(r));
    }
    l.path_labels = path_labels;
    l.covariance_labels = covariance_labels;
    Some(finish(d, l))
}

/// Boxes around the arrowheads (path ends; both ends of drawn curves), which stick out of their
/// lines by half their width. Sizes follow the SVG markers: 8 × stroke 1.5 and 7 × stroke 1.1.
fn arrowheads(l: &Layout) -> Vec<Rect> {
    let head = |tip: Point, from: Point, size: f64| {
        let (dx, dy) = (tip.x - from.x, tip.y - from.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let back = Point {
            x: tip.x - dx / len * size / 2.0,
            y: tip.y - dy / len * size / 2.0,
        };
        Rect::centered(back, size, size)
    };
    let mut out = Vec::new();
    for line in &l.paths {
        let n = line.len();
        out.push(head(line[n - 1], line[n - 2], 12.0));
    }
    for curve in l.covariances.iter().flatten() {
        out.push(head(curve[0], curve[1], 7.7));
        out.push(head(curve[2], curve[1], 7.7));
    }
    out
}

/// Where a label of width `w` may sit, in order of preference: centred on its line at each of
/// `positions` (fractions of its length), then beside the line (a small perpendicular offset, the
/// box just clear of the line) on one side and on the other. `at(t)` gives the point and direction.
fn label_candidates(
    positions: &[f64],
    w: f64,
    at: impl Fn(f64) -> (Point, (f64, f64)),
) -> Vec<Rect> {
    let on: Vec<Rect> = positions
        .iter()
        .map(|&t| Rect::centered(at(t).0, w, LABEL_HEIGHT))
        .collect();
    let mut beside = Vec::new();
    for side in [-1.0, 1.0] {
        for &t in positions {
            let (p, (dx, dy)) = at(t);
            let len = (dx * dx + dy * dy).sqrt();
            if len == 0.0 {
                continue;
            }
            // Unit normal; the box's half-extent along it, so the box just clears the line.
            let (nx, ny) = (-dy / len, dx / len);
            let reach = (w * nx.abs() + LABEL_HEIGHT * ny.abs()) / 2.0 + BESIDE_GAP;
            let c = Point {
                x: p.x + side * nx * reach,
                y: p.y + side * ny * reach,
            };
            beside.push(Rect::centered(c, w, LABEL_HEIGHT));
        }
    }
    on.into_iter().chain(beside).collect()
}

/// The first candidate that overlaps no occupied box and meets no line but its owner's; `None` when
/// there is none, unless `force`: then the candidate with the fewest conflicts.
fn choose(
    candidates: &[Rect],
    owner: Owner,
    occupied: &[Rect],
    segments: &[(Owner, [Point; 2])],
    force: bool,
) -> Option<Rect> {
    let conflicts = |r: &Rect| {
        let g = r.grown(ARROW_CLEARANCE);
        occupied.iter().filter(|o| o.overlaps(r)).count()
            + segments
                .iter()
                .filter(|(o, s)| *o != owner && segment_meets_rect(s[0], s[1], &g))
                .count()
    };
    if let Some(r) = candidates.iter().find(|r| conflicts(r) == 0) {
        return Some(*r);
    }
    if !force {
        return None;
    }
    candidates.iter().min_by_key(|r| conflicts(r)).copied()
}

/// The table of the covariances marked `in_table` (all among exogenous variables), right-aligned
/// at `column_left − BRACKET_GAP − TABLE_GAP` and centred on the variables' boxes; the bracket runs
/// at `column_left − BRACKET_GAP` with a tick to each box.
fn correlation_table(
    d: &PathDiagram,
    in_table: &[bool],
    nodes: &[Rect],
    column_left: f64,
) -> Option<CorrelationTable> {
    let mut vars: Vec<usize> = d
        .covariances
        .iter()
        .zip(in_table)
        .filter(|(_, t)| **t)
        .flat_map(|(c, _)| [c.a, c.b])
        .collect();
    if vars.is_empty() {
        return None;
    }
    vars.sort_by(|a, b| nodes[*a].y.total_cmp(&nodes[*b].y).then(a.cmp(b)));
    vars.dedup();
    let name = |i: usize| d.variables[i].name.clone();
    let value = |i: usize, j: usize| {
        d.covariances
            .iter()
            .zip(in_table)
            .find(|(c, t)| **t && ((c.a == i && c.b == j) || (c.a == j && c.b == i)))
            .map_or_else(
                || "0".to_string(),
                |(c, _)| {
                    let s = covariance_label(c);
                    if s.is_empty() {
                        "free".to_string()
                    } else {
                        s
                    }
                },
            )
    };
    let k = vars.len();
    // Rows: vars[1..]; columns: vars[..k−1]; cell (r, c) for c < r.
    let row_head_w = vars[1..]
        .iter()
        .map(|&i| text_width(&name(i), LABEL_FONT))
        .fold(0.0, f64::max)
        + TABLE_PAD;
    let col_w: Vec<f64> = (0..k - 1)
        .map(|c| {
            let mut w = text_width(&name(vars[c]), LABEL_FONT);
            for r in (c + 1)..k {
                w = w.max(text_width(&value(vars[r], vars[c]), LABEL_FONT));
            }
            w + TABLE_PAD
        })
        .collect();
    let title = if d.standardized {
        "Correlations"
    } else {
        "Covariances"
    };
    let grid_w = row_head_w + col_w.iter().sum::<f64>();
    let width = grid_w.max(text_width(title, LABEL_FONT) + TABLE_PAD);
    let height = TABLE_ROW * (k + 1) as f64;
    let bracket_x = column_left - BRACKET_GAP;
    let top = vars
        .iter()
        .map(|&i| nodes[i].center().y)
        .fold(f64::INFINITY, f64::min);
    let bottom = vars
        .iter()
        .map(|&i| nodes[i].center().y)
        .fold(f64::NEG_INFINITY, f64::max);
    let mid = (top + bottom) / 2.0;
    let rect = Rect {
        x: bracket_x - TABLE_GAP - width,
        y: mid - height / 2.0,
        w: width,
        h: height,
    };
    let gx = rect.x + rect.w - grid_w;
    let cell = |x: f64, w: f64, row: usize| Rect {
        x,
        y: rect.y + TABLE_ROW * row as f64,
        w,
        h: TABLE_ROW,
    };
    let mut headers = Vec::new();
    let mut cells = Vec::new();
    let mut x = gx + row_head_w;
    for (c, &w) in col_w.iter().enumerate() {
        headers.push((cell(x, w, 1), name(vars[c])));
        for r in (c + 1)..k {
            cells.push((cell(x, w, r + 1), value(vars[r], vars[c])));
        }
        x += w;
    }
    for (r, &v) in vars.iter().enumerate().skip(1) {
        headers.push((cell(gx, row_head_w, r + 1), name(v)));
    }
    let mut bracket = vec![
        [
            Point {
                x: bracket_x,
                y: top,
            },
            Point {
                x: bracket_x,
                y: bottom,
            },
        ],
        [
            Point {
                x: rect.x + rect.w + 2.0,
                y: mid,
            },
            Point {
                x: bracket_x,
                y: mid,
            },
        ],
    ];
    for &i in &vars {
        let y = nodes[i].center().y;
        bracket.push([Point { x: bracket_x, y }, Point { x: nodes[i].x, y }]);
    }
    Some(CorrelationTable {
        rect,
        title: (cell(rect.x, rect.w, 0), title.to_string()),
        headers,
        cells,
        bracket,
    })
}

/// Polylines of the paths. Arrows leave a box on its right edge and enter on its left edge, at
/// ports spread along the edge in the order of the other ends, so arrowheads do not pile up.
fn path_polylines(d: &PathDiagram, g: &Graph, nodes: &[Rect], center: &[Point]) -> Vec<Vec<Point>> {
    let n = g.n_variables;
    let mut outgoing: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    let mut incoming: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    for (k, chain) in g.chains.iter().enumerate() {
        let next = chain[1];
        let prev = chain[chain.len() - 2];
        outgoing[d.paths[k].from].push((center[next].y, k));
        incoming[d.paths[k].to].push((center[prev].y, k));
    }
    let port = |list: &mut Vec<(f64, usize)>, rect: &Rect, x: f64, latent: bool| {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let m = list.len() as f64;
        list.iter()
            .enumerate()
            .map(|(j, &(_, k))| {
                if latent {
                    // Spread over the middle 60% of the ellipse's height, on its outline.
                    let c = rect.center();
                    let y = rect.y + rect.h * (0.2 + 0.6 * (j as f64 + 1.0) / (m + 1.0));
                    let v = (y - c.y) / (rect.h / 2.0);
                    let half = rect.w / 2.0 * (1.0 - v * v).max(0.0).sqrt();
                    let x = if x > c.x { c.x + half } else { c.x - half };
                    (k, Point { x, y })
                } else {
                    let y = rect.y + rect.h * (j as f64 + 1.0) / (m + 1.0);
                    (k, Point { x, y })
                }
            })
            .collect::<Vec<_>>()
    };
    let mut start = vec![Point { x: 0.0, y: 0.0 }; d.paths.len()];
    let mut end = start.clone();
    for i in 0..n {
        let r = nodes[i];
        let latent = d.variables[i].latent;
        for (k, p) in port(&mut outgoing[i], &r, r.x + r.w, latent) {
            start[k] = p;
        }
        for (k, p) in port(&mut incoming[i], &r, r.x, latent) {
            end[k] = p;
        }
    }
    g.chains
        .iter()
        .enumerate()
        .map(|(k, chain)| {
            let mut line = vec![start[k]];
            line.extend(chain[1..chain.len() - 1].iter().map(|&i| center[i]));
            line.push(end[k]);
            line
        })
        .collect()
}

/// The curve of a covariance. Between two variables of one column it bulges out of the column's
/// side (left in the first column, right elsewhere), further for variables further apart; between
/// columns it bows upwards.
fn covariance_curve(
    c: &DiagramCovariance,
    nodes: &[Rect],
    layer: &[usize],
    column_x: &[f64],
    column_width: &[f64],
    scale: f64,
    rank: usize,
) -> [Point; 3] {
    let (ra, rb) = (nodes[c.a], nodes[c.b]);
    let (ca, cb) = (ra.center(), rb.center());
    if layer[c.a] == layer[c.b] {
        let l = layer[c.a];
        let left = l == 0;
        let sign = if cb.y >= ca.y { 1.0 } else { -1.0 };
        let ya = ca.y + sign * ra.h / 4.0;
        let yb = cb.y - sign * rb.h / 4.0;
        let bulge = 22.0 * scale + 0.45 * (yb - ya).abs() + 16.0 * rank as f64;
        let (xa, xb, xc) = if left {
            (ra.x, rb.x, column_x[l] - bulge)
        } else {
            let edge = column_x[l] + column_width[l];
            (ra.x + ra.w, rb.x + rb.w, edge + bulge)
        };
        [
            Point { x: xa, y: ya },
            Point {
                x: xc,
                y: (ya + yb) / 2.0,
            },
            Point { x: xb, y: yb },
        ]
    } else {
        let (r1, r2) = if ca.x <= cb.x { (ra, rb) } else { (rb, ra) };
        let p0 = Point {
            x: r1.center().x,
            y: r1.y,
        };
        let p2 = Point {
            x: r2.center().x,
            y: r2.y,
        };
        let dist = ((p2.x - p0.x).powi(2) + (p2.y - p0.y).powi(2)).sqrt();
        let control = Point {
            x: (p0.x + p2.x) / 2.0,
            y: p0.y.min(p2.y) - 30.0 * scale - 0.15 * dist,
        };
        [p0, control, p2]
    }
}

/// The point at fraction `t` of the polyline's length and the direction of its segment there.
fn along(line: &[Point], t: f64) -> (Point, (f64, f64)) {
    let p = point_along(line, t);
    let seg = |a: &Point, b: &Point| ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
    let total: f64 = line.windows(2).map(|w| seg(&w[0], &w[1])).sum();
    let mut left = t * total;
    for w in line.windows(2) {
        let s = seg(&w[0], &w[1]);
        if left <= s && s > 0.0 {
            return (p, (w[1].x - w[0].x, w[1].y - w[0].y));
        }
        left -= s;
    }
    let n = line.len();
    (
        p,
        (line[n - 1].x - line[n - 2].x, line[n - 1].y - line[n - 2].y),
    )
}

/// The point at fraction `t` of the polyline's length.
pub fn point_along(line: &[Point], t: f64) -> Point {
    let seg = |a: &Point, b: &Point| ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
    let total: f64 = line.windows(2).map(|w| seg(&w[0], &w[1])).sum();
    let mut left = t * total;
    for w in line.windows(2) {
        let s = seg(&w[0], &w[1]);
        if left <= s && s > 0.0 {
            let f = left / s;
            return Point {
                x: w[0].x + f * (w[1].x - w[0].x),
                y: w[0].y + f * (w[1].y - w[0].y),
            };
        }
        left -= s;
    }
    *line.last().expect("a path has two points")
}

/// The point at `t` of a quadratic Bézier curve.
pub fn bezier(c: &[Point; 3], t: f64) -> Point {
    let u = 1.0 - t;
    Point {
        x: u * u * c[0].x + 2.0 * u * t * c[1].x + t * t * c[2].x,
        y: u * u * c[0].y + 2.0 * u * t * c[1].y + t * t * c[2].y,
    }
}

/// Moves everything so the drawing starts at the margin and sizes the canvas (room for the caption).
fn finish(d: &PathDiagram, mut l: Layout) -> Layout {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for r in l.label_boxes() {
        xs.extend([r.x, r.x + r.w]);
        ys.extend([r.y, r.y + r.h]);
    }
    for line in &l.paths {
        xs.extend(line.iter().map(|p| p.x));
        ys.extend(line.iter().map(|p| p.y));
    }
    for (_, seg) in l.arrow_segments() {
        xs.extend(seg.iter().map(|p| p.x));
        ys.extend(seg.iter().map(|p| p.y));
    }
    for curve in l.covariances.iter().flatten() {
        for k in 0..=20 {
            let p = bezier(curve, k as f64 / 20.0);
            xs.push(p.x);
            ys.push(p.y);
        }
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, y0) = if xs.is_empty() {
        (0.0, 0.0)
    } else {
        (min(&xs), min(&ys))
    };
    let (dx, dy) = (MARGIN - x0, MARGIN - y0);
    let shift = |p: &mut Point| {
        p.x += dx;
        p.y += dy;
    };
    let shift_rect = |r: &mut Rect| {
        r.x += dx;
        r.y += dy;
    };
    l.nodes.iter_mut().for_each(shift_rect);
    l.path_labels.iter_mut().flatten().for_each(shift_rect);
    l.covariance_labels
        .iter_mut()
        .flatten()
        .for_each(shift_rect);
    l.paths.iter_mut().flatten().for_each(shift);
    l.covariances.iter_mut().flatten().flatten().for_each(shift);
    if let Some(t) = &mut l.correlation_table {
        shift_rect(&mut t.rect);
        shift_rect(&mut t.title.0);
        t.headers.iter_mut().for_each(|(r, _)| shift_rect(r));
        t.cells.iter_mut().for_each(|(r, _)| shift_rect(r));
        t.bracket.iter_mut().flatten().for_each(shift);
    }
    let (w, h) = if xs.is_empty() {
        (0.0, 0.0)
    } else {
        (max(&xs) - x0, max(&ys) - y0)
    };
    l.width = (w + 2.0 * MARGIN).max(360.0);
    let caption = match &l.correlation_table {
        Some(t) => format!(
            "{} The table on the left: {} among the variables its bracket joins.",
            d.caption,
            t.title.1.to_lowercase()
        ),
        None => d.caption.clone(),
    };
    l.caption_lines = wrap(&caption, l.width - 2.0 * MARGIN, LABEL_FONT);
    l.caption_y = MARGIN + h + 24.0;
    l.height = l.caption_y + 16.0 * l.caption_lines.len().saturating_sub(1) as f64 + 10.0;
    l
}

/// Splits `text` at spaces into lines no wider than `width` (a single long word stays whole).
pub fn wrap(text: &str, width: f64, font_size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, font_size) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
