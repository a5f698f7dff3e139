//! Path diagrams in the style of the study's Figure 2: boxes for variables laid out left to right in
//! causal order, straight arrows for regression paths with their coefficient, curved two-headed
//! arrows for residual covariances, R² inside the boxes of endogenous variables. Covariances among
//! the exogenous variables are drawn as curved arrows when there are one or two of them, and as a
//! small lower-triangular table beside the exogenous column when there are more (six stacked arcs
//! on one edge cannot be read from the back of a classroom).
//!
//! A [`PathDiagram`] is built from population values ([`PathDiagram::from_population`]: every path
//! of the model, with its value, else its label, else blank) or from estimates
//! ([`PathDiagram::from_estimates`]: coefficients with significance stars, paths with p ≥ α dashed).
//! [`layout`] places it (layers by longest path from the exogenous variables, order within layers
//! by the barycenter heuristic to reduce crossings, each label at the first of several positions
//! along its arrow, or just beside it, where its box overlaps no other label, box or arrow) and
//! [`PathDiagram::to_svg`] draws it.
//!
//! # References
//! Sugiyama, Tagawa & Toda (1981), "Methods for visual understanding of hierarchical system
//! structures", IEEE SMC 11(2): layering, dummy nodes for long edges, barycenter ordering.

mod layout;
mod svg;

pub use layout::{layout, CorrelationTable, Layout, Owner, Point, Rect};

use balans_model::{Model, Population, Semantics};

/// One variable (a box, or an ellipse when latent).
#[derive(Debug, Clone, PartialEq)]
pub struct DiagramVariable {
    /// Its name.
    pub name: String,
    /// R² shown in the box (endogenous variables).
    pub r_squared: Option<f64>,
    /// Drawn as an ellipse.
    pub latent: bool,
}

/// One regression arrow `from → to`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagramPath {
    /// Index of the predictor in [`PathDiagram::variables`].
    pub from: usize,
    /// Index of the outcome.
    pub to: usize,
    /// The coefficient shown; `None` when the model gives no value (the arrow is drawn without a
    /// number, or with its label).
    pub value: Option<f64>,
    /// The parameter's label (`a*x`), shown when there is no value.
    pub label: Option<String>,
    /// Its p-value (estimates); `None` for population values (no stars, solid).
    pub pvalue: Option<f64>,
}

/// One curved two-headed arrow: a covariance between exogenous variables or a residual covariance
/// between endogenous ones.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagramCovariance {
    /// Index of the first variable.
    pub a: usize,
    /// Index of the second variable.
    pub b: usize,
    /// The value shown (a correlation when the diagram is standardized); `None` when the model gives
    /// none (drawn without a number, or with its label).
    pub value: Option<f64>,
    /// The parameter's label, shown when there is no value.
    pub label: Option<String>,
    /// Its p-value, if estimated and tested.
    pub pvalue: Option<f64>,
}

/// A path diagram, ready to lay out and draw.
#[derive(Debug, Clone, PartialEq)]
pub struct PathDiagram {
    /// Variables, in the model's (topological) order.
    pub variables: Vec<DiagramVariable>,
    /// Regression arrows.
    pub paths: Vec<DiagramPath>,
    /// Curved arrows.
    pub covariances: Vec<DiagramCovariance>,
    /// Significance level below which an estimated path is drawn solid.
    pub alpha: f64,
    /// One line under the diagram saying what the numbers are.
    pub caption: String,
    /// Prefix of the SVG element ids (arrow markers), so several diagrams can share one HTML page.
    pub id_prefix: String,
    /// Whether covariances are correlations (standardized values): names the table of exogenous
    /// correlations.
    pub standardized: bool,
}

/// One estimated parameter, as in lavaan's `parameterEstimates()` (`~` or `~~` rows).
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateRow {
    /// Left side (outcome of `~`).
    pub lhs: String,
    /// `~` or `~~`.
    pub op: String,
    /// Right side (predictor of `~`).
    pub rhs: String,
    /// The value to show (e.g. `std.all`).
    pub value: f64,
    /// Its p-value; `None` for fixed parameters (the `fixed.x` covariances).
    pub pvalue: Option<f64>,
}

impl PathDiagram {
    /// The diagram of a model's population: every `~` path and every `~~` between two variables that
    /// the model text writes, with its population value (a correlation under standardized semantics),
    /// else its label, else blank; R² of endogenous variables whose incoming paths all have values.
    /// Paths and covariances fixed at 0 (`0*x`) are left out: the population has no such arrow.
    pub fn from_population(model: &Model, population: &Population) -> PathDiagram {
        let names = population.names();
        let r2 = population.r_squared();
        let standardized = model.semantics() == Semantics::Standardized;
        let vars = model.variables();
        // Index in the population of the model's variable `k`.
        let at = |k: usize| population.index_of(&vars[k]);
        let beta = population.beta();
        let psi = population.psi();
        let mut paths = Vec::new();
        let mut unknown = vec![false; names.len()];
        for r in model.regressions() {
            let (Some(from), Some(to)) = (at(r.predictor), at(r.outcome)) else {
                continue;
            };
            if r.value == Some(0.0)
                || paths
                    .iter()
                    .any(|p: &DiagramPath| p.from == from && p.to == to)
            {
                continue;
            }
            let value = r.value.map(|_| beta[(to, from)]);
            unknown[to] |= value.is_none();
            paths.push(DiagramPath {
                from,
                to,
                value,
                label: r.label.clone(),
                pvalue: None,
            });
        }
        // Predictor-major order within each outcome, as the population's matrix reads.
        paths.sort_by_key(|p| (p.to, p.from));
        let mut covariances: Vec<DiagramCovariance> = Vec::new();
        for c in model.covariances() {
            let (Some(a), Some(b)) = (at(c.a), at(c.b)) else {
                continue;
            };
            let (a, b) = (a.min(b), a.max(b));
            if a == b || c.value == Some(0.0) || covariances.iter().any(|q| q.a == a && q.b == b) {
                continue;
            }
            let value = c.value.map(|_| {
                let v = psi[(a, b)];
                if standardized {
                    v / (psi[(a, a)] * psi[(b, b)]).sqrt()
                } else {
                    v
                }
            });
            covariances.push(DiagramCovariance {
                a,
                b,
                value,
                label: c.label.clone(),
                pvalue: None,
            });
        }
        covariances.sort_by_key(|c| (c.a, c.b));
        let variables = names
            .iter()
            .enumerate()
            .map(|(i, name)| DiagramVariable {
                name: name.clone(),
                r_squared: if unknown[i] { None } else { r2[i] },
                latent: model.index_of(name).is_some_and(|k| model.is_latent(k)),
            })
            .collect();
        let blank = if paths.iter().any(|p| p.value.is_none())
            || covariances.iter().any(|c| c.value.is_none())
        {
            " Arrows without a number have no population value in the model (a letter is the parameter's label)."
        } else {
            ""
        };
        let no_values = !paths.is_empty()
            && paths.iter().all(|p| p.value.is_none())
            && covariances.iter().all(|c| c.value.is_none());
        let caption = if no_values {
            "The model's paths (it gives no population values): each arrow points from a predictor to its outcome, curved arrows join (residually) correlated variables; a letter is the parameter's label."
        } else if standardized {
            "Population values (standardized): paths are standardized coefficients, curved arrows (residual) correlations; R² in the boxes."
        } else {
            "Population values (raw): paths are unstandardized coefficients, curved arrows (residual) covariances; R² in the boxes."
        };
        PathDiagram {
            variables,
            paths,
            covariances,
            alpha: 0.05,
            caption: if no_values {
                caption.to_string()
            } else {
                format!("{caption}{blank}")
            },
            id_prefix: "pd".to_string(),
            standardized,
        }
    }

    /// The diagram of a fit: `~` rows become arrows (dashed when p ≥ `alpha`, stars otherwise),
    /// `~~` rows between two different variables curved arrows, `r_squared` goes into the boxes.
    /// The left side of a `=~` row is drawn as a latent variable (an ellipse); its items are not
    /// drawn, to keep the structural model readable.
    /// Variables are taken in the order of `variables`; names only used in `rows` are appended.
    pub fn from_estimates(
        variables: &[String],
        rows: &[EstimateRow],
        r_squared: &[(String, f64)],
        alpha: f64,
        caption: &str,
    ) -> PathDiagram {
        let mut names: Vec<String> = variables.to_vec();
        for r in rows {
            for n in [&r.lhs, &r.rhs] {
                if (r.op == "~" || r.op == "~~") && !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let index = |n: &str| names.iter().position(|m| m == n).expect("added above");
        let mut paths = Vec::new();
        let mut covariances = Vec::new();
        for r in rows {
            match r.op.as_str() {
                "~" => paths.push(DiagramPath {
                    from: index(&r.rhs),
                    to: index(&r.lhs),
                    value: Some(r.value),
                    label: None,
                    pvalue: r.pvalue,
                }),
                "~~" if r.lhs != r.rhs => covariances.push(DiagramCovariance {
                    a: index(&r.lhs),
                    b: index(&r.rhs),
                    value: Some(r.value),
                    label: None,
                    pvalue: r.pvalue,
                }),
                _ => {}
            }
        }
        let latent = |n: &str| rows.iter().any(|r| r.op == "=~" && r.lhs == n);
        // Correlations when every exogenous variable's variance is 1 (as in `std.all`).
        let exogenous_variances: Vec<f64> = rows
            .iter()
            .filter(|r| {
                r.op == "~~"
                    && r.lhs == r.rhs
                    && !rows.iter().any(|q| q.op == "~" && q.lhs == r.lhs)
            })
            .map(|r| r.value)
            .collect();
        let standardized = !exogenous_variances.is_empty()
            && exogenous_variances.iter().all(|v| (v - 1.0).abs() < 1e-6);
        let variables = names
            .iter()
            .map(|n| DiagramVariable {
                name: n.clone(),
                r_squared: r_squared.iter().find(|(v, _)| v == n).map(|(_, r)| *r),
                latent: latent(n),
            })
            .collect();
        PathDiagram {
            variables,
            paths,
            covariances,
            alpha,
            caption: caption.to_string(),
            id_prefix: "pd".to_string(),
            standardized,
        }
    }

    /// Returns the diagram with another SVG id prefix (letters, digits, `-`, `_`).
    pub fn with_id_prefix(mut self, prefix: &str) -> PathDiagram {
        self.id_prefix = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if self.id_prefix.is_empty() {
            self.id_prefix = "pd".into();
        }
        self
    }

    /// The diagram as a standalone SVG document (also valid inline in HTML).
    pub fn to_svg(&self) -> String {
        svg::render(self, &layout(self))
    }
}
