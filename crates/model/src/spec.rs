//! A validated model specification: variables, regressions, (co)variances, latent variables and
//! defined parameters, with population values where the model text gives them.

use crate::expr::Expr;
use crate::syntax::Span;
use serde::Serialize;

/// Where a population value comes from, as tagged in a model file's trailing comment:
/// `[R]` read in a cited source, `[E]` an engineering estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    /// `[R]`: read in the cited source.
    #[serde(rename = "R")]
    Read,
    /// `[E]`: an engineering estimate, to be shown as such to users.
    #[serde(rename = "E")]
    Estimate,
}

impl Source {
    /// The tag as written in model files: `R` or `E`.
    pub fn tag(self) -> &'static str {
        match self {
            Source::Read => "R",
            Source::Estimate => "E",
        }
    }
}

/// How the numbers in a model text are read to build the population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Semantics {
    /// As `lavaan::simulateData`: numbers are population values; unspecified residual and exogenous
    /// variances are 1, unspecified covariances 0.
    #[default]
    Raw,
    /// Every variable has variance 1: paths are standardized coefficients, `~~` between two variables
    /// are (residual) correlations, residual variances are derived.
    Standardized,
}

/// One regression path `outcome ~ predictor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    /// Index of the outcome in [`Model::variables`].
    pub outcome: usize,
    /// Index of the predictor in [`Model::variables`].
    pub predictor: usize,
    /// Label (`a*x`), if any.
    pub label: Option<String>,
    /// Population value (`0.3*x`), if any; unspecified paths are 0 in the population.
    pub value: Option<f64>,
    /// `[R]`/`[E]` tag of the statement, if any.
    pub source: Option<Source>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// One variance (`a == b`) or covariance `a ~~ b`. Between endogenous variables it is a residual
/// (co)variance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Covariance {
    /// Index of the first variable in [`Model::variables`].
    pub a: usize,
    /// Index of the second variable (equal to `a` for a variance).
    pub b: usize,
    /// Label, if any.
    pub label: Option<String>,
    /// Population value (a correlation under [`Semantics::Standardized`]), if any.
    pub value: Option<f64>,
    /// `[R]`/`[E]` tag, if any.
    pub source: Option<Source>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// An indicator (item) of a latent variable: `f =~ 0.8*x1`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// Item name (an observed variable).
    pub name: String,
    /// Label, if any.
    pub label: Option<String>,
    /// Population loading, if given.
    pub loading: Option<f64>,
    /// Population residual variance (`x1 ~~ 0.36*x1`), if given.
    pub residual_variance: Option<f64>,
    /// Label of the residual variance, if any.
    pub residual_label: Option<String>,
}

/// An intercept `y ~ 1` (kept so that model texts print back as written; path-model algebra is on
/// covariances only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intercept {
    /// Index of the variable in [`Model::variables`].
    pub variable: usize,
    /// Label, if any.
    pub label: Option<String>,
    /// Population value, if any.
    pub value: Option<f64>,
    /// `[R]`/`[E]` tag, if any.
    pub source: Option<Source>,
}

/// A latent variable measured by items (`f =~ x1 + x2 + x3`). The latent variable itself is one of
/// [`Model::variables`]; its items are not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatentVariable {
    /// Index of the latent variable in [`Model::variables`].
    pub variable: usize,
    /// Its name.
    pub name: String,
    /// Its items, in the order written.
    pub indicators: Vec<Indicator>,
}

/// A residual covariance between two items of latent variables (`y1 ~~ y5`), kept by name because
/// items are not structural variables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemCovariance {
    /// First item.
    pub a: String,
    /// Second item.
    pub b: String,
    /// Label, if any.
    pub label: Option<String>,
    /// Population value (a residual correlation under [`Semantics::Standardized`]), if any.
    pub value: Option<f64>,
    /// `[R]`/`[E]` tag, if any.
    pub source: Option<Source>,
}

/// A defined parameter `name := expression`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefinedParameter {
    /// Its name.
    pub name: String,
    /// The expression over labels and numbers.
    pub expr: Expr,
}

/// An equality constraint `lhs == rhs` between two parameter labels (lavaan's `a == b`). A label
/// shared by several parameters (`y ~ a*x1 + a*x2`) constrains them equal too, without an
/// [`Equality`] entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Equality {
    /// Left label.
    pub lhs: String,
    /// Right label.
    pub rhs: String,
    /// Where the left label was written.
    #[serde(skip)]
    pub span: Span,
}

/// A validated path/mediation model.
///
/// Invariants: [`Model::variables`] are in topological order (predictors before outcomes; variables
/// first written earlier come first among equals); a label names one parameter or, shared, several
/// parameters constrained equal; both sides of every `==` and every label used in a `:=`
/// expression exist; the structural part is acyclic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub(crate) variables: Vec<String>,
    pub(crate) latent: Vec<bool>,
    pub(crate) regressions: Vec<Regression>,
    pub(crate) covariances: Vec<Covariance>,
    pub(crate) intercepts: Vec<Intercept>,
    pub(crate) latent_variables: Vec<LatentVariable>,
    pub(crate) item_covariances: Vec<ItemCovariance>,
    pub(crate) equalities: Vec<Equality>,
    pub(crate) defined: Vec<DefinedParameter>,
    pub(crate) semantics: Semantics,
}

impl Model {
    /// Structural variables (observed path variables and latent variables), in topological order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Index of a structural variable by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|v| v == name)
    }

    /// Whether structural variable `i` is latent (the left side of a `=~`).
    pub fn is_latent(&self, i: usize) -> bool {
        self.latent[i]
    }

    /// Whether structural variable `i` is exogenous: the outcome of no regression.
    pub fn is_exogenous(&self, i: usize) -> bool {
        !self.regressions.iter().any(|r| r.outcome == i)
    }

    /// Every regression path, in the order written.
    pub fn regressions(&self) -> &[Regression] {
        &self.regressions
    }

    /// Every (co)variance written in the model, in the order written.
    pub fn covariances(&self) -> &[Covariance] {
        &self.covariances
    }

    /// Intercepts (`y ~ 1`), in the order written.
    pub fn intercepts(&self) -> &[Intercept] {
        &self.intercepts
    }

    /// Latent variables with their items.
    pub fn latent_variables(&self) -> &[LatentVariable] {
        &self.latent_variables
    }

    /// Residual covariances between items (`y1 ~~ y5`), in the order written.
    pub fn item_covariances(&self) -> &[ItemCovariance] {
        &self.item_covariances
    }

    /// Explicit equality constraints (`a == b`), in the order written.
    pub fn equalities(&self) -> &[Equality] {
        &self.equalities
    }

    /// Every parameter label, once per labelled parameter (a shared label appears once per
    /// parameter it labels): regressions, (co)variances, loadings, item residual (co)variances,
    /// intercepts.
    pub fn parameter_labels(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        out.extend(self.regressions.iter().filter_map(|r| r.label.as_deref()));
        out.extend(self.covariances.iter().filter_map(|c| c.label.as_deref()));
        for lv in &self.latent_variables {
            for i in &lv.indicators {
                out.extend(i.label.as_deref());
                out.extend(i.residual_label.as_deref());
            }
        }
        out.extend(
            self.item_covariances
                .iter()
                .filter_map(|c| c.label.as_deref()),
        );
        out.extend(self.intercepts.iter().filter_map(|i| i.label.as_deref()));
        out
    }

    /// Whether some parameters are constrained equal: a `==` or a label shared by two parameters.
    pub fn has_equality_constraints(&self) -> bool {
        if !self.equalities.is_empty() {
            return true;
        }
        let labels = self.parameter_labels();
        labels
            .iter()
            .enumerate()
            .any(|(k, l)| labels[..k].contains(l))
    }

    /// Defined parameters (`:=`), in the order written.
    pub fn defined(&self) -> &[DefinedParameter] {
        &self.defined
    }

    /// The semantics the model file asks for (`#!balans standardized`), [`Semantics::Raw`] otherwise.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// Returns the model with its semantics replaced (standardized semantics on request).
    pub fn with_semantics(mut self, semantics: Semantics) -> Model {
        self.semantics = semantics;
        self
    }

    /// The arrows of the structural part: `pattern[(outcome, predictor)]` is true for every `~` path,
    /// whatever its value.
    pub fn arrow_pattern(&self) -> nalgebra::DMatrix<bool> {
        let p = self.variables.len();
        let mut pattern = nalgebra::DMatrix::from_element(p, p, false);
        for r in &self.regressions {
            pattern[(r.outcome, r.predictor)] = true;
        }
        pattern
    }

    /// Whether the model has latent variables (`=~`).
    pub fn has_latent_variables(&self) -> bool {
        !self.latent_variables.is_empty()
    }
}
