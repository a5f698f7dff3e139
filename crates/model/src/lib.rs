//! # balans-model
//!
//! Path and mediation models written in lavaan syntax, and the algebra on them. No random numbers,
//! no I/O: text in, numbers out.
//!
//! Main types:
//! * [`Model`] — a validated specification, from [`parse_model`] or [`Model::builtin`]; prints back
//!   as lavaan syntax (`Display`).
//! * [`Population`] — the numeric form (`beta`, `psi`, implied `Σ`), from [`Model::population`]
//!   under [`Semantics::Raw`] (lavaan::simulateData's convention) or [`Semantics::Standardized`].
//! * [`Effects`] — direct, indirect and total effects with every specific indirect route named
//!   (`is->wfc->perf`).
//! * [`Expr`] — `:=` expressions with exact gradients (for delta-method standard errors).
//! * [`ParseError`] — located errors with a caret and "did you mean".

mod build;
mod builtin;
mod expr;
pub mod limits;
mod lint;
mod measurement;
mod population;
mod print;
mod semantics;
mod spec;
mod summary;
mod syntax;
pub mod whatif;

pub use build::parse_model;
pub use builtin::{builtin_text, study_legend, Builtin, BUILTINS, STUDY_VARIABLES};
pub use expr::{BinaryOp, Expr, Function};
pub use lint::{lint, Lint, LintKind};
pub use measurement::ObservedPopulation;
pub use population::{
    count_routes, enumerate_routes, enumerate_routes_capped, reachability,
    specific_indirect_effects, Effects, Population, PopulationError, SpecificIndirect,
};
pub use print::number as format_number;
/// The dense matrix type used throughout (nalgebra `DMatrix<f64>`).
pub type Matrix = nalgebra::DMatrix<f64>;
pub use spec::{
    Covariance, DefinedParameter, Equality, Indicator, Intercept, ItemCovariance, LatentVariable,
    Model, Regression, Semantics, Source,
};
pub use summary::{
    CovarianceKind, DefinedValue, EffectPair, MeasurementRow, ModelSummary, NamedMatrix, Operator,
    PopulationParameter, RouteEffect, ValueOrigin, VariableSummary,
};
pub use syntax::{parse as parse_syntax, ParseError, Span, Syntax};

use serde::Serialize;

/// Everything that can go wrong when reading a model or building its population.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A syntax or meaning error located in the text.
    #[error(transparent)]
    Syntax(#[from] ParseError),
    /// The text has no statements.
    #[error("{origin}: the model is empty (no statements)\n = help: write at least one statement, e.g. 'y ~ x'")]
    Empty {
        /// File name or builtin name.
        origin: String,
    },
    /// A standardized population that cannot exist.
    #[error("infeasible standardized model: '{variable}' would have implied R² = {r_squared:.3} (must be below 1); lower the paths into '{variable}' or the correlations among its predictors")]
    Infeasible {
        /// The variable.
        variable: String,
        /// Its implied R² (or a lower bound).
        r_squared: f64,
    },
    /// A specification problem without a single location.
    #[error("{0}")]
    Spec(String),
    /// The numeric population is unusable.
    #[error(transparent)]
    Population(#[from] PopulationError),
    /// A built-in model name that does not exist.
    #[error("unknown built-in model '{name}'{}; built-in models: {known}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// A close name, if any.
        suggestion: Option<String>,
        /// The known names, comma separated.
        known: String,
    },
}

/// Suggests the candidate closest to `name` (edit distance at most 2, and less than half its
/// length), for "did you mean" hints.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(name.chars().count().saturating_sub(1) / 2 + 1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        // Ties: prefer a candidate that extends the name (`y` → `yy`), then the first one.
        .min_by_key(|(d, c)| (*d, !c.starts_with(name)))
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters (case-insensitive).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One row of a lavaan-style parameter table (`parTable()`): the model's parameters as text.
#[derive(Debug, Clone, PartialEq, PartialOrd, Serialize)]
pub struct ParameterRow {
    /// Left side.
    pub lhs: String,
    /// Operator: `~`, `~~`, `=~`, `~1`, `:=`.
    pub op: String,
    /// Right side (for `:=`, the expression).
    pub rhs: String,
    /// Label, empty when none.
    pub label: String,
    /// Population value, if given.
    pub value: Option<f64>,
    /// `R` or `E` when tagged.
    pub source: Option<String>,
}

impl Model {
    /// The model's parameters as lavaan-style rows, in the order written (by kind). Two models are the
    /// same model when their sorted tables are equal.
    pub fn parameter_table(&self) -> Vec<ParameterRow> {
        let v = |i: usize| self.variables[i].clone();
        let src = |s: Option<Source>| s.map(|s| s.tag().to_string());
        let mut rows = Vec::new();
        for lv in &self.latent_variables {
            for i in &lv.indicators {
                rows.push(ParameterRow {
                    lhs: lv.name.clone(),
                    op: "=~".into(),
                    rhs: i.name.clone(),
                    label: i.label.clone().unwrap_or_default(),
                    value: i.loading,
                    source: None,
                });
                if i.residual_variance.is_some() || i.residual_label.is_some() {
                    rows.push(ParameterRow {
                        lhs: i.name.clone(),
                        op: "~~".into(),
                        rhs: i.name.clone(),
                        label: i.residual_label.clone().unwrap_or_default(),
                        value: i.residual_variance,
                        source: None,
                    });
                }
            }
        }
        for r in &self.regressions {
            rows.push(ParameterRow {
                lhs: v(r.outcome),
                op: "~".into(),
                rhs: v(r.predictor),
                label: r.label.clone().unwrap_or_default(),
                value: r.value,
                source: src(r.source),
            });
        }
        for c in &self.covariances {
            rows.push(ParameterRow {
                lhs: v(c.a),
                op: "~~".into(),
                rhs: v(c.b),
                label: c.label.clone().unwrap_or_default(),
                value: c.value,
                source: src(c.source),
            });
        }
        for c in &self.item_covariances {
            rows.push(ParameterRow {
                lhs: c.a.clone(),
                op: "~~".into(),
                rhs: c.b.clone(),
                label: c.label.clone().unwrap_or_default(),
                value: c.value,
                source: src(c.source),
            });
        }
        for i in &self.intercepts {
            rows.push(ParameterRow {
                lhs: v(i.variable),
                op: "~1".into(),
                rhs: String::new(),
                label: i.label.clone().unwrap_or_default(),
                value: i.value,
                source: src(i.source),
            });
        }
        for d in &self.defined {
            rows.push(ParameterRow {
                lhs: d.name.clone(),
                op: ":=".into(),
                rhs: d.expr.to_string(),
                label: d.name.clone(),
                value: None,
                source: None,
            });
        }
        rows
    }

    /// The value of every label (population value, 0 when unspecified) and every defined parameter,
    /// under the model's semantics. Standardized semantics give standardized values; labels on
    /// derived residual variances get the derived value.
    pub fn label_values(&self, population: &Population) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = Vec::new();
        for r in &self.regressions {
            if let Some(l) = &r.label {
                out.push((l.clone(), population.beta()[(r.outcome, r.predictor)]));
            }
        }
        for c in &self.covariances {
            if let Some(l) = &c.label {
                out.push((l.clone(), population.psi()[(c.a, c.b)]));
            }
        }
        for lv in &self.latent_variables {
            for i in &lv.indicators {
                if let Some(l) = &i.label {
                    out.push((l.clone(), i.loading.unwrap_or(1.0)));
                }
                if let Some(l) = &i.residual_label {
                    out.push((l.clone(), i.residual_variance.unwrap_or(1.0)));
                }
            }
        }
        for c in &self.item_covariances {
            if let Some(l) = &c.label {
                out.push((l.clone(), c.value.unwrap_or(0.0)));
            }
        }
        for i in &self.intercepts {
            if let Some(l) = &i.label {
                out.push((l.clone(), i.value.unwrap_or(0.0)));
            }
        }
        for d in &self.defined {
            let v = d.expr.eval(&|name: &str| {
                out.iter()
                    .find(|(l, _)| l == name)
                    .map_or(f64::NAN, |(_, v)| *v)
            });
            out.push((d.name.clone(), v));
        }
        out
    }
}
