//! What a power analysis is about: the population that generates data, the analysis model that is
//! fitted to them, and the effects whose tests are counted ([`Study`], [`Effect`], [`Test`]).

use crate::error::PowerError;
use balans_estimate::{AnalysisSpec, EffectKind as EvalEffectKind, ParameterKind};
use balans_model::{BinaryOp, Expr, Model, Population};
use serde::Serialize;

/// A test that decides whether an effect is different from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Test {
    /// Wald z test of a path: `|θ̂ / se| > z₁₋α/₂` (expected-information SE, as lavaan).
    Wald,
    /// Joint significance of an indirect effect: every path of the route has a significant Wald
    /// test (Taylor, MacKinnon & Tein 2008; the "causal steps" test of Fritz & MacKinnon 2007).
    Joint,
    /// Sobel / delta-method z test of the product (lavaan's `:=` standard error; Sobel 1982).
    Sobel,
    /// Monte Carlo confidence interval excludes 0 (semTools `monteCarloCI`; MacKinnon, Lockwood &
    /// Williams 2004).
    Mc,
    /// Percentile bootstrap interval excludes 0.
    Percentile,
    /// Bias-corrected bootstrap interval excludes 0 (lavaan's `bca.simple`).
    Bc,
}

/// Every test name accepted by `--tests`, with its test.
pub const TEST_NAMES: &[(&str, Test)] = &[
    ("joint", Test::Joint),
    ("sobel", Test::Sobel),
    ("mc", Test::Mc),
    ("percentile", Test::Percentile),
    ("bc", Test::Bc),
];

impl Test {
    /// The name used in output and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Test::Wald => "wald",
            Test::Joint => "joint",
            Test::Sobel => "sobel",
            Test::Mc => "mc",
            Test::Percentile => "percentile",
            Test::Bc => "bc",
        }
    }

    /// Parses a test name (`delta` is accepted for `sobel`, `wald` for paths only).
    pub fn parse(name: &str) -> Result<Test, PowerError> {
        let name = name.trim();
        if name == "delta" {
            return Ok(Test::Sobel);
        }
        if name == "wald" {
            return Ok(Test::Wald);
        }
        TEST_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| PowerError::UnknownTest {
                name: name.to_string(),
                suggestion: balans_model::suggest(name, TEST_NAMES.iter().map(|(n, _)| *n))
                    .map(str::to_string),
            })
    }

    /// Whether the test needs the raw rows (bootstrap), so the Wishart path cannot be used.
    pub fn needs_rows(self) -> bool {
        matches!(self, Test::Percentile | Test::Bc)
    }
}

/// What kind of effect an [`Effect`] is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// A regression path, free parameter `parameter` of the analysis model.
    Path {
        /// Index into the analysis model's free parameters.
        parameter: usize,
    },
    /// A specific indirect effect (a route) or a `:=` parameter: effect `effect` of the analysis
    /// model, a function of the free parameters `parameters`.
    Function {
        /// Index into the analysis model's effects.
        effect: usize,
        /// The free parameters it depends on.
        parameters: Vec<usize>,
        /// Whether it is a product of paths (so the joint-significance test applies).
        product_of_paths: bool,
        /// `indirect` (a route) or `defined` (`:=`).
        defined: bool,
    },
    /// Every other selected effect with a non-zero population value, rejected in the same replication.
    AllJointly,
}

/// One effect whose tests are counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// Name: `wfc~is` for a path, `is->wfc->perf` for a route, the `:=` name, `all_hypothesised`.
    pub name: String,
    /// What it is.
    pub kind: EffectKind,
    /// Its population value (`None` for the joint row).
    pub population_value: Option<f64>,
}

impl Effect {
    /// `path`, `indirect`, `defined` or `all`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            EffectKind::Path { .. } => "path",
            EffectKind::Function { defined: false, .. } => "indirect",
            EffectKind::Function { defined: true, .. } => "defined",
            EffectKind::AllJointly => "all",
        }
    }

    /// Whether the population value is (numerically) non-zero: a "hypothesised" effect.
    pub fn is_hypothesised(&self) -> bool {
        self.population_value.is_some_and(|v| v.abs() > NULL_EFFECT)
    }
}

/// Population values at or below this in absolute value count as null effects.
pub const NULL_EFFECT: f64 = 1e-12;

/// The name of the "every hypothesised effect jointly" row.
pub const ALL_JOINTLY: &str = "all_hypothesised";

/// Which effects to analyse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EffectSelection {
    /// Every path, every route, every `:=` parameter, and all of them jointly.
    #[default]
    All,
    /// The named effects (and, when two or more are hypothesised, all of them jointly).
    Named(Vec<String>),
}

/// A compiled power-analysis problem: population, analysis model and the effects to count.
#[derive(Debug, Clone)]
pub struct Study {
    pub(crate) model: Model,
    pub(crate) population: Population,
    pub(crate) spec: AnalysisSpec,
    /// For each analysis variable, its column in the population's variables.
    pub(crate) columns: Vec<usize>,
    pub(crate) effects: Vec<Effect>,
}

impl Study {
    /// Compiles a study: `population_model` generates the data, `analysis_model` (by default the
    /// same model: every path free, lavaan's `sem()` defaults) is fitted, and `selection` picks the
    /// effects.
    ///
    /// # Errors
    /// Model errors, analysis models that cannot be estimated, variables of the analysis model that
    /// the population lacks, unknown effect names (with a suggestion).
    pub fn new(
        population_model: &Model,
        analysis_model: Option<&Model>,
        selection: &EffectSelection,
    ) -> Result<Study, PowerError> {
        let population = population_model.population()?;
        let analysis_model = analysis_model.unwrap_or(population_model);
        let spec = AnalysisSpec::from_model(analysis_model)?;
        let columns = spec
            .variables()
            .iter()
            .map(|v| {
                population
                    .index_of(v)
                    .ok_or_else(|| PowerError::UnknownVariable {
                        name: v.clone(),
                        known: population.names().join(", "),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let all = candidate_effects(&population, &spec, &columns, analysis_model);
        let mut effects: Vec<Effect> = match selection {
            EffectSelection::All => all,
            EffectSelection::Named(names) => {
                let mut chosen: Vec<Effect> = Vec::new();
                for name in names {
                    let name = name.trim();
                    let found = all.iter().find(|e| e.name == name).or_else(|| {
                        // A path may also be named by its label or as a route `x->y`.
                        let as_path = spec.parameter_index(name).or_else(|| {
                            let (from, to) = name.split_once("->")?;
                            (!to.contains("->")).then(|| spec.parameter_index(&format!("{to}~{from}")))?
                        });
                        as_path.and_then(|k| {
                            all.iter().find(|e| matches!(e.kind, EffectKind::Path { parameter } if parameter == k))
                        })
                    });
                    match found {
                        Some(e) if chosen.iter().all(|c| c.name != e.name) => {
                            chosen.push(e.clone())
                        }
                        Some(_) => {}
                        None => {
                            return Err(PowerError::UnknownEffect {
                                name: name.to_string(),
                                suggestion: balans_model::suggest(
                                    name,
                                    all.iter().map(|e| e.name.as_str()),
                                )
                                .map(str::to_string),
                            })
                        }
                    }
                }
                chosen
            }
        };
        if effects.iter().filter(|e| e.is_hypothesised()).count() >= 2 {
            effects.push(Effect {
                name: ALL_JOINTLY.to_string(),
                kind: EffectKind::AllJointly,
                population_value: None,
            });
        }
        Ok(Study {
            model: population_model.clone(),
            population,
            spec,
            columns,
            effects,
        })
    }

    /// The selected effects (the joint row last, when present).
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// The analysis model's estimation structure.
    pub fn analysis(&self) -> &AnalysisSpec {
        &self.spec
    }

    /// The population.
    pub fn population(&self) -> &Population {
        &self.population
    }

    /// The smallest sample size the analysis model can be fitted to: at least as many rows as free
    /// parameters and more rows than variables (as [`balans_estimate::Estimator`] requires).
    pub fn min_sample_size(&self) -> usize {
        self.spec.npar().max(self.spec.variables().len() + 1)
    }

    /// The population covariance matrix of the analysis variables.
    pub fn analysis_covariance(&self) -> nalgebra::DMatrix<f64> {
        let sigma = self.population.implied_covariance();
        let c = &self.columns;
        nalgebra::DMatrix::from_fn(c.len(), c.len(), |i, j| sigma[(c[i], c[j])])
    }
}

/// Every path, route and `:=` parameter of the analysis model, with population values.
fn candidate_effects(
    population: &Population,
    spec: &AnalysisSpec,
    columns: &[usize],
    analysis: &Model,
) -> Vec<Effect> {
    let beta = population.beta();
    let psi = population.psi();
    let parameter_value = |k: usize| match spec.parameters()[k].kind {
        ParameterKind::Regression { outcome, predictor } => {
            beta[(columns[outcome], columns[predictor])]
        }
        ParameterKind::Covariance { a, b } => psi[(columns[a], columns[b])],
    };
    let mut out = Vec::new();
    for (k, par) in spec.parameters().iter().enumerate() {
        if let ParameterKind::Regression { .. } = par.kind {
            out.push(Effect {
                name: format!("{}~{}", par.lhs, par.rhs),
                kind: EffectKind::Path { parameter: k },
                population_value: Some(parameter_value(k)),
            });
        }
    }
    for (j, eff) in spec.effects().iter().enumerate() {
        let (defined, product_of_paths) = match &eff.kind {
            EvalEffectKind::SpecificIndirect { .. } => (false, true),
            EvalEffectKind::Defined { .. } => {
                let expr = analysis
                    .defined()
                    .iter()
                    .find(|d| d.name == eff.name)
                    .map(|d| &d.expr);
                let product = expr.is_some_and(is_product_of_labels)
                    && eff.parameters.iter().all(|&k| {
                        matches!(spec.parameters()[k].kind, ParameterKind::Regression { .. })
                    });
                (true, product)
            }
            EvalEffectKind::Total { .. } | EvalEffectKind::TotalIndirect { .. } => continue,
        };
        let value = match &eff.kind {
            EvalEffectKind::SpecificIndirect { route } => Some(
                route
                    .windows(2)
                    .map(|w| beta[(columns[w[1]], columns[w[0]])])
                    .product(),
            ),
            _ => analysis
                .defined()
                .iter()
                .find(|d| d.name == eff.name)
                .map(|d| {
                    d.expr
                        .eval(&|label: &str| label_value(label, spec, analysis, &parameter_value))
                }),
        };
        out.push(Effect {
            name: eff.name.clone(),
            kind: EffectKind::Function {
                effect: j,
                parameters: eff.parameters.clone(),
                product_of_paths,
                defined,
            },
            population_value: value.filter(|v| v.is_finite()),
        });
    }
    out
}

/// The population value of a label: a free parameter's value, or an earlier `:=` parameter.
fn label_value(
    label: &str,
    spec: &AnalysisSpec,
    analysis: &Model,
    parameter_value: &dyn Fn(usize) -> f64,
) -> f64 {
    if let Some(k) = spec.parameter_index(label) {
        return parameter_value(k);
    }
    match analysis.defined().iter().find(|d| d.name == label) {
        Some(d) => d
            .expr
            .eval(&|l: &str| label_value(l, spec, analysis, parameter_value)),
        None => f64::NAN,
    }
}

/// `a*b*c`: a product of two or more labels and nothing else.
fn is_product_of_labels(expr: &Expr) -> bool {
    fn factors(e: &Expr) -> Option<usize> {
        match e {
            Expr::Label { .. } => Some(1),
            Expr::Binary {
                op: BinaryOp::Mul,
                lhs,
                rhs,
            } => Some(factors(lhs)? + factors(rhs)?),
            _ => None,
        }
    }
    factors(expr).is_some_and(|k| k >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_effects_are_paths_routes_defined_and_joint() {
        let model = Model::builtin("seed").unwrap();
        let study = Study::new(&model, None, &EffectSelection::All).unwrap();
        let names: Vec<&str> = study.effects().iter().map(|e| e.name.as_str()).collect();
        assert!(names.contains(&"wfc~is"));
        assert!(names.contains(&"is->wfc->perf"));
        assert!(names.contains(&"ind_cm_eng_perf"));
        assert_eq!(*names.last().unwrap(), ALL_JOINTLY);
        let route = study
            .effects()
            .iter()
            .find(|e| e.name == "cm->eng->perf")
            .unwrap();
        assert!((route.population_value.unwrap() - 0.28 * 0.35).abs() < 1e-12);
        let defined = study
            .effects()
            .iter()
            .find(|e| e.name == "ind_cm_eng_perf")
            .unwrap();
        assert!((defined.population_value.unwrap() - 0.28 * 0.35).abs() < 1e-12);
        assert!(matches!(
            defined.kind,
            EffectKind::Function {
                product_of_paths: true,
                defined: true,
                ..
            }
        ));
    }

    #[test]
    fn unknown_effect_names_get_a_suggestion() {
        let model = Model::builtin("seed").unwrap();
        let err = Study::new(
            &model,
            None,
            &EffectSelection::Named(vec!["cm->eng->pref".into()]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("did you mean 'cm->eng->perf'"),
            "{err}"
        );
    }

    #[test]
    fn paths_can_be_named_by_label_or_arrow() {
        let model = Model::builtin("seed").unwrap();
        let sel = EffectSelection::Named(vec!["a1".into(), "is->wfc".into()]);
        let study = Study::new(&model, None, &sel).unwrap();
        assert_eq!(study.effects().len(), 1);
        assert_eq!(study.effects()[0].name, "wfc~is");
    }
}
