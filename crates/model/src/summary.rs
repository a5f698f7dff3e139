//! The typed summary of a model and its population, as `balans model show` reports it
//! ([`ModelSummary`]): paths and (co)variances with their population values and sources, the
//! variables with R², implied moments, direct/indirect/total effects, specific indirect routes,
//! `:=` values and the measurement part. Serialised by serde (fields in the order of their JSON
//! keys); rendered as a table by `balans-report`.

use crate::{reachability, Matrix, Model, Population, PopulationError, Semantics, Source};
use serde::Serialize;

/// The operator of a population parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    /// A regression path.
    #[serde(rename = "~")]
    Regression,
    /// A (residual) variance or covariance.
    #[serde(rename = "~~")]
    Covariance,
}

/// What a `~~` entry of the population is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CovarianceKind {
    /// Variance of an exogenous variable.
    #[serde(rename = "variance")]
    Variance,
    /// Residual variance of an endogenous variable.
    #[serde(rename = "residual variance")]
    ResidualVariance,
    /// Covariance of exogenous variables.
    #[serde(rename = "covariance")]
    Covariance,
    /// Residual covariance of endogenous variables.
    #[serde(rename = "residual covariance")]
    ResidualCovariance,
}

impl CovarianceKind {
    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            CovarianceKind::Variance => "variance",
            CovarianceKind::ResidualVariance => "residual variance",
            CovarianceKind::Covariance => "covariance",
            CovarianceKind::ResidualCovariance => "residual covariance",
        }
    }
}

/// Where a `~~` value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueOrigin {
    /// Written in the model text.
    Specified,
    /// Derived (standardized semantics: a residual variance giving unit total variance).
    Derived,
    /// The default (1 for variances, 0 for covariances).
    Default,
}

impl ValueOrigin {
    /// The name results use.
    pub fn name(self) -> &'static str {
        match self {
            ValueOrigin::Specified => "specified",
            ValueOrigin::Derived => "derived",
            ValueOrigin::Default => "default",
        }
    }
}

/// One path, variance or covariance of the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationParameter {
    /// `~~` only: where the value comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<ValueOrigin>,
    /// `~~` only: what the entry is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CovarianceKind>,
    /// Label, if any.
    pub label: Option<String>,
    /// Left side (the outcome of a path).
    pub lhs: String,
    /// Operator.
    pub op: Operator,
    /// Right side.
    pub rhs: String,
    /// Source tag of a written value.
    pub source: Option<Source>,
    /// Whether the value is written in the model text.
    pub specified: bool,
    /// Completely standardized value.
    pub std: f64,
    /// Population value.
    pub value: f64,
}

/// One variable of the population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableSummary {
    /// Exogenous (no incoming path).
    pub exogenous: bool,
    /// A latent variable (`=~`).
    pub latent: bool,
    /// Name.
    pub name: String,
    /// R² (endogenous variables).
    pub r2: Option<f64>,
    /// Implied variance.
    pub variance: f64,
}

/// A matrix with its row and column names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedMatrix {
    /// Rows, each a list of columns.
    pub matrix: Vec<Vec<f64>>,
    /// The variables, in row (and column) order.
    pub names: Vec<String>,
}

/// Direct, indirect and total effect of one variable on another it reaches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectPair {
    /// Direct effect.
    pub direct: f64,
    /// Predictor.
    pub from: String,
    /// Indirect effect.
    pub indirect: f64,
    /// Outcome.
    pub to: String,
    /// Total effect.
    pub total: f64,
}

/// One specific indirect effect (a route of two or more arrows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteEffect {
    /// First variable of the route.
    pub from: String,
    /// Route name (`is->wfc->perf`).
    pub name: String,
    /// Last variable of the route.
    pub to: String,
    /// Product of the paths.
    pub value: f64,
    /// The mediators, in order.
    pub via: Vec<String>,
}

/// A `:=` parameter and its population value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefinedValue {
    /// The expression as written (normalised).
    pub expression: String,
    /// Name.
    pub name: String,
    /// Population value (`None` when it cannot be evaluated).
    pub value: Option<f64>,
}

/// One indicator of a latent variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementRow {
    /// Indicator name.
    pub item: String,
    /// Label of the loading.
    pub label: Option<String>,
    /// The latent variable.
    pub latent: String,
    /// Loading (unspecified: 1, the marker convention).
    pub loading: f64,
    /// Whether the loading is written in the model text.
    pub loading_specified: bool,
    /// Residual variance (unspecified: 1 under raw semantics, 1 − λ² under standardized).
    pub residual_variance: f64,
}

/// Everything `balans model show` reports (fields in the order of their JSON keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// `:=` parameters.
    pub defined: Vec<DefinedValue>,
    /// Effects between every pair of variables connected by a route.
    pub effects: Vec<EffectPair>,
    /// Implied correlation matrix.
    pub implied_correlation: NamedMatrix,
    /// Implied covariance matrix.
    pub implied_covariance: NamedMatrix,
    /// Every specific indirect route.
    pub indirect_effects: Vec<RouteEffect>,
    /// How many specific indirect routes exist but are not listed: a dense model has too many to
    /// list (2^(k−1) for k fully connected variables; at most [`crate::limits::MAX_ROUTES`] are
    /// listed). Saturates at `u64::MAX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirect_routes_not_listed: Option<u64>,
    /// The measurement part.
    pub measurement: Vec<MeasurementRow>,
    /// Where the model came from.
    pub model: String,
    /// Paths, then variances and covariances.
    pub parameters: Vec<PopulationParameter>,
    /// How the numbers are meant.
    pub semantics: Semantics,
    /// The variables.
    pub variables: Vec<VariableSummary>,
}

impl ModelSummary {
    /// The summary of `model` (named `origin`) and its population `pop`.
    ///
    /// # Errors
    /// When the standardized population cannot be formed.
    pub fn new(
        origin: &str,
        model: &Model,
        pop: &Population,
    ) -> Result<ModelSummary, PopulationError> {
        let std = pop.standardized()?;
        let names = pop.names();
        let r2 = pop.r_squared();
        let effects = pop.effects_along(&model.arrow_pattern());
        let values = model.label_values(pop);
        Ok(ModelSummary {
            defined: model
                .defined()
                .iter()
                .map(|d| DefinedValue {
                    expression: d.expr.to_string(),
                    name: d.name.clone(),
                    value: values.iter().find(|(l, _)| *l == d.name).map(|(_, v)| *v),
                })
                .collect(),
            effects: effect_pairs(model, pop, &effects),
            implied_correlation: named(names, &pop.implied_correlation()),
            implied_covariance: named(names, pop.implied_covariance()),
            indirect_effects: effects
                .specific
                .iter()
                .map(|s| RouteEffect {
                    from: names[s.route[0]].clone(),
                    name: s.name.clone(),
                    to: names[*s.route.last().expect("routes are non-empty")].clone(),
                    value: s.value,
                    via: s.route[1..s.route.len() - 1]
                        .iter()
                        .map(|&i| names[i].clone())
                        .collect(),
                })
                .collect(),
            indirect_routes_not_listed: effects
                .routes_not_listed
                .map(|count| count.min(u64::MAX as u128) as u64),
            measurement: measurement(model),
            model: origin.to_string(),
            parameters: [paths(model, pop, &std), covariances(model, pop, &std)].concat(),
            semantics: model.semantics(),
            variables: (0..pop.len())
                .map(|i| VariableSummary {
                    exogenous: pop.exogenous()[i],
                    latent: model.is_latent(i),
                    name: names[i].clone(),
                    r2: r2[i],
                    variance: pop.implied_covariance()[(i, i)],
                })
                .collect(),
        })
    }
}

fn named(names: &[String], m: &Matrix) -> NamedMatrix {
    NamedMatrix {
        matrix: (0..m.nrows())
            .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
            .collect(),
        names: names.to_vec(),
    }
}

/// The regression paths with their population and standardized values.
fn paths(model: &Model, pop: &Population, std: &Population) -> Vec<PopulationParameter> {
    let names = pop.names();
    model
        .regressions()
        .iter()
        .map(|r| PopulationParameter {
            how: None,
            kind: None,
            label: r.label.clone(),
            lhs: names[r.outcome].clone(),
            op: Operator::Regression,
            rhs: names[r.predictor].clone(),
            source: r.source,
            specified: r.value.is_some(),
            std: std.beta()[(r.outcome, r.predictor)],
            value: pop.beta()[(r.outcome, r.predictor)],
        })
        .collect()
}

/// Every variance and covariance of the population: written ones, derived ones and defaults
/// (covariances only when written or non-zero between exogenous variables).
fn covariances(model: &Model, pop: &Population, std: &Population) -> Vec<PopulationParameter> {
    let names = pop.names();
    let exogenous = pop.exogenous();
    let mut out = Vec::new();
    for i in 0..pop.len() {
        for j in 0..=i {
            let written = model
                .covariances()
                .iter()
                .find(|c| (c.a == i && c.b == j) || (c.a == j && c.b == i));
            if i != j
                && written.is_none()
                && !(exogenous[i] && exogenous[j] && pop.psi()[(i, j)] != 0.0)
            {
                continue;
            }
            let kind = match (i == j, exogenous[i]) {
                (true, true) => CovarianceKind::Variance,
                (true, false) => CovarianceKind::ResidualVariance,
                (false, true) => CovarianceKind::Covariance,
                (false, false) => CovarianceKind::ResidualCovariance,
            };
            let (lhs, rhs) = match written {
                Some(c) => (names[c.a].clone(), names[c.b].clone()),
                None => (names[j].clone(), names[i].clone()),
            };
            let specified = written.is_some_and(|c| c.value.is_some());
            let how = if specified {
                ValueOrigin::Specified
            } else if model.semantics() == Semantics::Standardized && !exogenous[i] && i == j {
                ValueOrigin::Derived
            } else {
                ValueOrigin::Default
            };
            out.push(PopulationParameter {
                how: Some(how),
                kind: Some(kind),
                label: written.and_then(|c| c.label.clone()),
                lhs,
                op: Operator::Covariance,
                rhs,
                source: written.and_then(|c| c.source),
                specified,
                std: std.psi()[(i, j)],
                value: pop.psi()[(i, j)],
            });
        }
    }
    out
}

/// Direct, indirect and total effects of every pair connected by a route (outcome-major order).
fn effect_pairs(model: &Model, pop: &Population, effects: &crate::Effects) -> Vec<EffectPair> {
    let names = pop.names();
    let reach = reachability(&model.arrow_pattern());
    let mut pairs = Vec::new();
    for to in 0..pop.len() {
        for from in 0..pop.len() {
            if reach[(to, from)] {
                pairs.push(EffectPair {
                    direct: effects.direct[(to, from)],
                    from: names[from].clone(),
                    indirect: effects.indirect[(to, from)],
                    to: names[to].clone(),
                    total: effects.total[(to, from)],
                });
            }
        }
    }
    pairs
}

/// Loadings and item residual variances (unspecified loadings are 1, the marker convention;
/// unspecified residual variances are 1 under raw semantics and 1 − λ² under standardized
/// semantics, which gives items of unit variance).
fn measurement(model: &Model) -> Vec<MeasurementRow> {
    model
        .latent_variables()
        .iter()
        .flat_map(|lv| {
            lv.indicators.iter().map(move |i| {
                let loading = i.loading.unwrap_or(1.0);
                let residual = i.residual_variance.unwrap_or(match model.semantics() {
                    Semantics::Raw => 1.0,
                    Semantics::Standardized => 1.0 - loading * loading,
                });
                MeasurementRow {
                    item: i.name.clone(),
                    label: i.label.clone(),
                    latent: lv.name.clone(),
                    loading,
                    loading_specified: i.loading.is_some(),
                    residual_variance: residual,
                }
            })
        })
        .collect()
}
