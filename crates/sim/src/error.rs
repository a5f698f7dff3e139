//! [`SimError`]: everything that can make a simulation request unusable.

use balans_model::ModelError;

/// Why a simulation cannot be set up. Every message names the construct or setting, the value and
/// what was expected; infeasible requests say why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The model itself is unusable (parse or population error).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The covariance matrix to factor is not positive definite.
    #[error("the {what} covariance matrix is not positive definite; check the values of {names}")]
    NotPositiveDefinite {
        /// Which matrix ("residual", "within-team", "background").
        what: &'static str,
        /// The variables involved.
        names: String,
    },
    /// N = 0, or more rows than fit in memory comfortably.
    #[error("the sample size must be at least 1 and at most {max}, got {n}", max = crate::design::MAX_N)]
    SampleSize {
        /// The requested N.
        n: usize,
    },
    /// Too few rows for a non-singular sample covariance matrix.
    #[error("{n} rows of {} variables give a singular sample covariance matrix: use at least {needed} rows", needed - 1)]
    TooFewRows {
        /// The rows asked for.
        n: usize,
        /// The smallest usable number of rows (variables + 1).
        needed: usize,
    },
    /// A per-construct setting names a construct the model does not have.
    #[error("{setting} given for unknown construct '{name}'{}; the model's constructs are {known}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownConstruct {
        /// Which setting ("ICC", "reliability", "item mean").
        setting: &'static str,
        /// The name given.
        name: String,
        /// A close name, if any.
        suggestion: Option<String>,
        /// The known names, comma separated.
        known: String,
    },
    /// An ICC outside [0, 1).
    #[error("ICC of '{construct}' must lie in [0, 1), got {value}")]
    Icc {
        /// The construct.
        construct: String,
        /// The value given.
        value: f64,
    },
    /// A reliability outside (0, 1).
    #[error("reliability of '{construct}' must lie strictly between 0 and 1, got {value}")]
    Reliability {
        /// The construct.
        construct: String,
        /// The value given.
        value: f64,
    },
    /// A reliability that Likert items cannot reach.
    #[error("reliability {target} for '{construct}' cannot be reached with {items} item(s) on a {categories}-point scale: {reason}")]
    InfeasibleReliability {
        /// The construct.
        construct: String,
        /// The target.
        target: f64,
        /// Number of items.
        items: usize,
        /// Number of response categories.
        categories: usize,
        /// Why, and what would work.
        reason: String,
    },
    /// A loading in the model file outside (−1, 1) or zero.
    #[error("loading of item '{item}' on '{construct}' must be a standardized loading in (-1, 1), not 0, got {value}")]
    Loading {
        /// The construct.
        construct: String,
        /// The item.
        item: String,
        /// The value.
        value: f64,
    },
    /// An item mean outside the response scale.
    #[error("item mean of '{construct}' must lie strictly inside its response scale {min}–{max}, got {value}")]
    ItemMean {
        /// The construct.
        construct: String,
        /// The value.
        value: f64,
        /// Lowest category.
        min: i32,
        /// Highest category.
        max: i32,
    },
    /// A response rate outside (0, 1].
    #[error("the response rate must lie in (0, 1], got {value}")]
    ResponseRate {
        /// The value.
        value: f64,
    },
    /// A negative or non-finite self-selection strength.
    #[error("the self-selection strength must be a finite number ≥ 0, got {value}")]
    SelfSelection {
        /// The value.
        value: f64,
    },
    /// A missingness rate outside [0, 1).
    #[error("the item missingness rate must lie in [0, 1), got {value}")]
    MissingRate {
        /// The value.
        value: f64,
    },
    /// A mean team size below 1, above the maximum, or not finite.
    #[error("the mean team size must be at least 1 and at most {max}, got {value}", max = crate::design::MAX_TEAM_SIZE)]
    TeamSize {
        /// The value.
        value: f64,
    },
    /// Per-construct ICCs that cannot coexist with the constructs' correlations.
    #[error("the ICCs cannot be combined with the model's correlations: the within-team covariance of {names} would not be positive definite; make the ICCs of strongly correlated constructs more alike")]
    IccIncompatible {
        /// The constructs involved.
        names: String,
    },
    /// A background setting names a background variable the design does not have.
    #[error("the {role} names background variable '{name}', which the design does not have; background variables: {known}")]
    UnknownBackground {
        /// The variable named.
        name: String,
        /// Where it was named ("link", "construct link", "inclusion rule", "MAR").
        role: &'static str,
        /// The design's background variables, comma separated.
        known: String,
    },
    /// A background variable of the wrong kind for its role.
    #[error("background variable '{name}' of the {role} must be {expected}")]
    BackgroundKind {
        /// The variable.
        name: String,
        /// Its role ("inclusion rule", "MAR").
        role: &'static str,
        /// "binary" or "numeric".
        expected: &'static str,
    },
    /// The inclusion rule is asked for, but the design has none.
    #[error("the design has no inclusion rule to apply")]
    NoInclusionRule,
    /// MAR missingness is asked for, but the design names no background variable it depends on.
    #[error(
        "MAR missingness needs a numeric background variable to depend on; the design has none"
    )]
    NoMarVariable,
    /// Two output columns with the same name (e.g. an item named like a background variable).
    #[error(
        "two output columns would be named '{name}'; rename the item or variable in the model"
    )]
    DuplicateColumn {
        /// The name.
        name: String,
    },
}
