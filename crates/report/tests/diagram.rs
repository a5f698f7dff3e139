//! Path diagrams: one arrow per path, well-formed SVG, and, measured on the rendered SVG, no label
//! over another label, a box or an arrow that is not its own, for the built-in models and for random
//! models of up to 15 variables.

use balans_model::Model;
use balans_report::diagram::{
    layout, DiagramCovariance, DiagramPath, DiagramVariable, EstimateRow, PathDiagram,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn builtin(name: &str) -> PathDiagram {
    let model = Model::builtin(name).unwrap();
    let population = model.population().unwrap();
    PathDiagram::from_population(&model, &population)
}

/// An axis-aligned box read from the SVG: left, top, right, bottom.
type Box = (f64, f64, f64, f64);
type Pt = (f64, f64);

fn boxes_overlap(a: &Box, b: &Box) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Whether segment p–q meets box b: an end inside, or a crossing with one of its four sides.
fn segment_meets_box(p: Pt, q: Pt, b: &Box) -> bool {
    let inside = |(x, y): Pt| x > b.0 && x < b.2 && y > b.1 && y < b.3;
    if inside(p) || inside(q) {
        return true;
    }
    let cross = |o: Pt, a: Pt, c: Pt| (a.0 - o.0) * (c.1 - o.1) - (a.1 - o.1) * (c.0 - o.0);
    let proper = |a: Pt, b2: Pt, c: Pt, d: Pt| {
        cross(a, b2, c) * cross(a, b2, d) < 0.0 && cross(c, d, a) * cross(c, d, b2) < 0.0
    };
    let corners = [(b.0, b.1), (b.2, b.1), (b.2, b.3), (b.0, b.3)];
    (0..4).any(|k| proper(p, q, corners[k], corners[(k + 1) % 4]))
}

fn numbers(s: &str) -> Vec<f64> {
    s.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect()
}

fn attr(n: &roxmltree::Node, a: &str) -> f64 {
    n.attribute(a).unwrap().parse().unwrap()
}

/// Measured on the SVG: no two text boxes (variables, coefficient labels, the correlation table)
/// overlap, and no coefficient label or table meets a line (arrow, curved arrow, bracket) other
/// than its own.
fn assert_readable(svg: &str, what: &str) {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{what}: {e}"));
    // (owner, box): owner is the arrow a label belongs to ("" for boxes that own no line).
    let mut boxes: Vec<(String, &str, Box)> = Vec::new();
    let mut lines: Vec<(String, Pt, Pt)> = Vec::new();
    for n in doc.descendants() {
        match (n.tag_name().name(), n.attribute("class")) {
            ("rect", Some(class @ ("label" | "variable" | "correlation-table"))) => {
                let (x, y) = (attr(&n, "x"), attr(&n, "y"));
                let b = (x, y, x + attr(&n, "width"), y + attr(&n, "height"));
                let owner = n.attribute("data-of").unwrap_or("").to_string();
                boxes.push((owner, class, b));
            }
            ("ellipse", Some("variable")) => {
                let (cx, cy, rx, ry) = (
                    attr(&n, "cx"),
                    attr(&n, "cy"),
                    attr(&n, "rx"),
                    attr(&n, "ry"),
                );
                boxes.push((
                    String::new(),
                    "variable",
                    (cx - rx, cy - ry, cx + rx, cy + ry),
                ));
            }
            ("path", Some("path")) => {
                let v = numbers(n.attribute("d").unwrap());
                let owner = n.attribute("data-arrow").unwrap().to_string();
                for k in (0..v.len() - 2).step_by(2) {
                    lines.push((owner.clone(), (v[k], v[k + 1]), (v[k + 2], v[k + 3])));
                }
            }
            ("path", Some("covariance")) => {
                let v = numbers(n.attribute("d").unwrap());
                let owner = n.attribute("data-arrow").unwrap().to_string();
                let at = |t: f64| {
                    let u = 1.0 - t;
                    (
                        u * u * v[0] + 2.0 * u * t * v[2] + t * t * v[4],
                        u * u * v[1] + 2.0 * u * t * v[3] + t * t * v[5],
                    )
                };
                for k in 0..64 {
                    lines.push((
                        owner.clone(),
                        at(k as f64 / 64.0),
                        at((k + 1) as f64 / 64.0),
                    ));
                }
            }
            ("line", Some("bracket")) => {
                let p = (attr(&n, "x1"), attr(&n, "y1"));
                let q = (attr(&n, "x2"), attr(&n, "y2"));
                lines.push(("bracket".into(), p, q));
            }
            _ => {}
        }
    }
    for i in 0..boxes.len() {
        for j in (i + 1)..boxes.len() {
            assert!(
                !boxes_overlap(&boxes[i].2, &boxes[j].2),
                "{what}: {} {:?} and {} {:?} overlap",
                boxes[i].1,
                boxes[i].2,
                boxes[j].1,
                boxes[j].2
            );
        }
    }
    for (owner, class, b) in boxes.iter().filter(|b| b.1 != "variable") {
        for (line_owner, p, q) in &lines {
            assert!(
                line_owner == owner || !segment_meets_box(*p, *q, b),
                "{what}: {class} of {owner:?} {b:?} lies on line {line_owner} {p:?}-{q:?}"
            );
        }
    }
}

fn assert_no_overlap(d: &PathDiagram, what: &str) {
    assert_readable(&d.to_svg(), what);
    // The cells of the correlation table do not overlap each other either.
    if let Some(t) = &layout(d).correlation_table {
        // Adjacent cells share an edge; 0.01 px allows for the rounding of their sums.
        let cells: Vec<Box> = t
            .headers
            .iter()
            .chain(&t.cells)
            .map(|(r, _)| (r.x + 0.01, r.y + 0.01, r.x + r.w - 0.01, r.y + r.h - 0.01))
            .collect();
        for i in 0..cells.len() {
            for j in (i + 1)..cells.len() {
                assert!(
                    !boxes_overlap(&cells[i], &cells[j]),
                    "{what}: table cells {i} {:?} and {j} {:?} overlap",
                    cells[i],
                    cells[j]
                );
            }
        }
    }
}

#[test]
fn builtin_model_has_one_arrow_per_non_zero_path() {
    for name in ["seed", "seed-composite"] {
        let model = Model::builtin(name).unwrap();
        let population = model.population().unwrap();
        let non_zero = population.beta().iter().filter(|v| **v != 0.0).count();
        let svg = PathDiagram::from_population(&model, &population).to_svg();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
        let arrows: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("path"))
            .collect();
        assert_eq!(
            arrows.len(),
            non_zero,
            "{name}: one arrow per non-zero path"
        );
        // Every arrow joins the right pair of variables.
        let beta = population.beta();
        for a in &arrows {
            let from = population
                .index_of(a.attribute("data-from").unwrap())
                .unwrap();
            let to = population
                .index_of(a.attribute("data-to").unwrap())
                .unwrap();
            assert!(
                beta[(to, from)] != 0.0,
                "{name}: arrow {from}->{to} has no path"
            );
        }
        let boxes = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("variable"))
            .count();
        assert_eq!(boxes, population.len(), "{name}: one box per variable");
    }
    // The seed model: 17 non-zero paths, 6 correlations among the FSSB dimensions and 3 residual
    // correlations among the mediators.
    let d = builtin("seed");
    assert_eq!(d.paths.len(), 17);
    assert_eq!(d.covariances.len(), 9);
}

#[test]
fn builtin_model_flows_left_to_right_in_causal_order() {
    let d = builtin("seed");
    let l = layout(&d);
    let layer = |name: &str| l.layers[d.variables.iter().position(|v| v.name == name).unwrap()];
    assert_eq!(layer("es"), 0);
    assert_eq!(layer("cm"), 0);
    assert_eq!(layer("wfc"), 1);
    assert_eq!(layer("eng"), 1);
    assert_eq!(layer("perf"), 2);
    assert_eq!(layer("amb"), 2);
    for (p, line) in d.paths.iter().zip(&l.paths) {
        let (a, b) = (line.first().unwrap(), line.last().unwrap());
        assert!(b.x > a.x, "arrow {}->{} points left", p.from, p.to);
    }
    // R² of the endogenous variables is shown.
    let svg = d.to_svg();
    assert!(svg.contains("R\u{b2} = .19"), "R² of eng in its box");
    assert_no_overlap(&d, "seed");
    // Compact: the labels fit after little spreading (the layout grows 10% per failed attempt).
    assert!(l.spread <= 1.5, "seed diagram spread {}", l.spread);
    assert_no_overlap(&builtin("seed-composite"), "seed-composite");
    assert_no_overlap(&builtin("seed-latent"), "seed-latent");
}

#[test]
fn many_exogenous_correlations_form_a_table_and_few_are_distinct_arcs() {
    // The seed model: six .70 correlations among es, is, rm, cm in a lower-triangular table.
    let l = layout(&builtin("seed"));
    let t = l
        .correlation_table
        .as_ref()
        .expect("a table for six correlations");
    assert_eq!(t.title.1, "Correlations");
    let cells: Vec<&str> = t.cells.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(cells, [".70"; 6]);
    let drawn = l.covariances.iter().flatten().count();
    assert_eq!(
        drawn, 3,
        "only the mediators' residual correlations are arcs"
    );
    // The table lies left of every variable's box.
    for n in &l.nodes {
        assert!(
            t.rect.x + t.rect.w < n.x,
            "table {:?} reaches box {n:?}",
            t.rect
        );
    }

    // Two covariances among three exogenous variables: arcs, bulging by different amounts.
    let model = balans_model::parse_model(
        "two.lav",
        "#!balans standardized\ny ~ 0.2*x1 + 0.2*x2 + 0.2*x3\nx1 ~~ 0.3*x2 + 0.4*x3\n",
    )
    .unwrap();
    let d = PathDiagram::from_population(&model, &model.population().unwrap());
    let l = layout(&d);
    assert!(l.correlation_table.is_none());
    let arcs: Vec<_> = l.covariances.iter().flatten().collect();
    assert_eq!(arcs.len(), 2);
    let bulge = |c: &[balans_report::diagram::Point; 3]| (c[0].x + c[2].x) / 2.0 - c[1].x;
    assert!(
        (bulge(arcs[0]) - bulge(arcs[1])).abs() > 10.0,
        "arcs {arcs:?} share their curvature"
    );
    assert_no_overlap(&d, "two exogenous covariances");
}

#[test]
fn arrows_into_a_latent_variable_end_apart_on_its_outline() {
    let d = builtin("seed-latent");
    let l = layout(&d);
    let wfe = d.variables.iter().position(|v| v.name == "wfe").unwrap();
    assert!(d.variables[wfe].latent);
    let r = l.nodes[wfe];
    let (c, rx, ry) = (r.center(), r.w / 2.0, r.h / 2.0);
    let ends: Vec<_> = d
        .paths
        .iter()
        .zip(&l.paths)
        .filter(|(p, _)| p.to == wfe)
        .map(|(_, line)| *line.last().unwrap())
        .collect();
    assert_eq!(ends.len(), 4, "es, is, rm, cm -> wfe");
    for e in &ends {
        let on = ((e.x - c.x) / rx).powi(2) + ((e.y - c.y) / ry).powi(2);
        assert!(
            (on - 1.0).abs() < 1e-9,
            "end {e:?} is off the outline ({on})"
        );
    }
    for w in ends.windows(2) {
        assert!((w[0].y - w[1].y).abs() > 3.0, "arrowheads {w:?} pile up");
    }
}

#[test]
fn paths_without_values_are_drawn_blank_or_with_their_label() {
    let model =
        balans_model::parse_model("m.lav", "m ~ a*x\ny ~ m + 0.3*x + 0*w\nx ~~ w\n").unwrap();
    let d = PathDiagram::from_population(&model, &model.population().unwrap());
    let shown: Vec<(String, String, Option<f64>, Option<String>)> = d
        .paths
        .iter()
        .map(|p| {
            (
                d.variables[p.from].name.clone(),
                d.variables[p.to].name.clone(),
                p.value,
                p.label.clone(),
            )
        })
        .collect();
    let find = |from: &str, to: &str| {
        shown
            .iter()
            .find(|s| s.0 == from && s.1 == to)
            .unwrap_or_else(|| panic!("no arrow {from} -> {to} in {shown:?}"))
    };
    assert_eq!(find("x", "m").3.as_deref(), Some("a"));
    assert_eq!(find("x", "m").2, None);
    assert_eq!(find("m", "y").2, None);
    assert!((find("x", "y").2.unwrap() - 0.3).abs() < 1e-12);
    assert_eq!(shown.len(), 3, "w -> y is fixed at 0: no arrow");
    assert_eq!(d.covariances.len(), 1);
    assert_eq!(d.covariances[0].value, None);
    let l = layout(&d);
    let labelled = l.path_labels.iter().flatten().count();
    assert_eq!(labelled, 2, "a and .30; the blank arrow has no label box");
    let y = d.variables.iter().position(|v| v.name == "y").unwrap();
    assert_eq!(d.variables[y].r_squared, None, "R² unknown without m -> y");
    assert_no_overlap(&d, "blank paths");
}

#[test]
fn estimates_get_stars_and_non_significant_paths_are_dashed() {
    let rows = vec![
        EstimateRow {
            lhs: "m".into(),
            op: "~".into(),
            rhs: "x".into(),
            value: 0.41,
            pvalue: Some(0.0001),
        },
        EstimateRow {
            lhs: "y".into(),
            op: "~".into(),
            rhs: "m".into(),
            value: 0.3,
            pvalue: Some(0.02),
        },
        EstimateRow {
            lhs: "y".into(),
            op: "~".into(),
            rhs: "x".into(),
            value: -0.04,
            pvalue: Some(0.6),
        },
        EstimateRow {
            lhs: "x".into(),
            op: "~~".into(),
            rhs: "x".into(),
            value: 1.0,
            pvalue: None,
        },
    ];
    let vars: Vec<String> = ["x", "m", "y"].iter().map(|s| s.to_string()).collect();
    let d = PathDiagram::from_estimates(
        &vars,
        &rows,
        &[("m".into(), 0.17), ("y".into(), 0.09)],
        0.05,
        "std.all",
    );
    let svg = d.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let arrows: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("path"))
        .collect();
    assert_eq!(arrows.len(), 3);
    let dashed: Vec<_> = arrows
        .iter()
        .filter(|a| a.attribute("stroke-dasharray").is_some())
        .map(|a| {
            (
                a.attribute("data-from").unwrap(),
                a.attribute("data-to").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        dashed,
        vec![("x", "y")],
        "only the non-significant path is dashed"
    );
    assert!(svg.contains(">.41***<"));
    assert!(svg.contains(">.30*<"));
    assert!(svg.contains(">\u{2212}.04<"));
    assert!(svg.contains("R\u{b2} = .17"));
    assert_eq!(d.covariances.len(), 0, "variances are not drawn");
}

/// A random acyclic model: `p` variables with random names, each forward pair joined with
/// probability `density`, residual covariances among endogenous variables, random p-values.
fn random_diagram(rng: &mut ChaCha8Rng, p: usize, density: f64) -> PathDiagram {
    let mut variables = Vec::new();
    for i in 0..p {
        let len = rng.gen_range(2..=9);
        let name: String = (0..len)
            .map(|_| (b'a' + rng.gen_range(0..26u8)) as char)
            .collect();
        variables.push(DiagramVariable {
            name: format!("{name}{i}"),
            r_squared: None,
            latent: rng.gen_bool(0.1),
        });
    }
    let mut paths = Vec::new();
    for to in 0..p {
        for from in 0..to {
            if rng.gen_bool(density) {
                // Some paths carry a label instead of a value, some nothing (blank arrows).
                let (value, label) = match rng.gen_range(0..10) {
                    0 => (None, Some(format!("b{from}_{to}"))),
                    1 => (None, None),
                    _ => (Some(rng.gen_range(-0.9..0.9)), None),
                };
                paths.push(DiagramPath {
                    from,
                    to,
                    value,
                    label,
                    pvalue: Some(rng.gen_range(0.0..0.2f64).powi(3)),
                });
            }
        }
    }
    let endogenous: Vec<usize> = (0..p)
        .filter(|i| paths.iter().any(|q| q.to == *i))
        .collect();
    let mut covariances = Vec::new();
    for (k, &i) in endogenous.iter().enumerate() {
        variables[i].r_squared = Some(rng.gen_range(0.0..1.0));
        for &j in &endogenous[k + 1..] {
            if rng.gen_bool(0.15) {
                covariances.push(DiagramCovariance {
                    a: i,
                    b: j,
                    value: Some(rng.gen_range(-0.5..0.5)),
                    label: None,
                    pvalue: Some(rng.gen_range(0.0..0.1)),
                });
            }
        }
    }
    // Correlated exogenous variables, as in the study's four FSSB dimensions.
    // Sparse (a few arcs) or dense (a table) correlations among exogenous variables.
    let exogenous: Vec<usize> = (0..p).filter(|i| !endogenous.contains(i)).collect();
    let correlated = if rng.gen_bool(0.5) { 0.15 } else { 0.6 };
    for (k, &i) in exogenous.iter().enumerate() {
        for &j in &exogenous[k + 1..] {
            if rng.gen_bool(correlated) {
                covariances.push(DiagramCovariance {
                    a: i,
                    b: j,
                    value: Some(rng.gen_range(-0.7..0.7)),
                    label: None,
                    pvalue: None,
                });
            }
        }
    }
    PathDiagram {
        variables,
        paths,
        covariances,
        alpha: 0.05,
        caption: "random model".into(),
        id_prefix: "r".into(),
        standardized: true,
    }
}

#[test]
fn random_models_up_to_15_variables_have_no_label_over_a_label_a_box_or_an_arrow() {
    let mut rng = ChaCha8Rng::seed_from_u64(20261130);
    for case in 0..60 {
        let p = rng.gen_range(2..=15);
        let density = rng.gen_range(0.1..0.6);
        let d = random_diagram(&mut rng, p, density);
        let what = format!("case {case}: {p} variables, {} paths", d.paths.len());
        assert_no_overlap(&d, &what);
        let svg = d.to_svg();
        roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{what}: SVG does not parse: {e}"));
        let l = layout(&d);
        assert!(
            l.width < 20_000.0 && l.height < 20_000.0,
            "{what}: {}x{}",
            l.width,
            l.height
        );
    }
}
