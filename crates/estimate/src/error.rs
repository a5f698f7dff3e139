//! The one error type of estimation: [`EvalError`].

/// Convergence diagnostics of one fit: how the estimates were found and how close to a stationary
/// point of the ML discrepancy they are.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Convergence {
    /// How the estimates were computed.
    pub method: Method,
    /// Fisher-scoring iterations (0 on the closed-form path).
    pub iterations: usize,
    /// Largest absolute element of the gradient of `F_ML` at the estimates. On the closed-form path
    /// [`crate::Estimator::fit_moments`] reports 0 (the solution is exact and the gradient is not
    /// computed in the hot loop); [`crate::estimate`] always reports the computed gradient.
    pub gradient_norm: f64,
}

/// The estimation path taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Equation-by-equation least squares (exactly ML for this model).
    ClosedForm,
    /// Fisher scoring on `F_ML` with the analytic gradient and expected information.
    FisherScoring,
}

/// Everything that can go wrong when building an analysis model or fitting it.
///
/// Numerical failures are values, never panics. Messages are lowercase fragments that read well
/// after "failed to fit the model:".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The model has latent variables (`=~`).
    #[error("latent variables are not estimated yet ({names}); balans fits observed-variable path models: use scale scores instead of '=~'")]
    LatentVariables {
        /// The latent variables, comma separated.
        names: String,
    },
    /// Equality constraints (`a == b`, a shared label) that cannot be imposed here: in the
    /// covariance-only path estimator ([`crate::AnalysisSpec`]; [`crate::sem`] imposes them), or
    /// on a fixed parameter.
    #[error("{reason}")]
    EqualityConstraints {
        /// What is wrong and what to do, a lowercase fragment.
        reason: String,
    },
    /// The model has more free parameters than the covariance matrix has moments.
    #[error("the model is not identified: {npar} free parameters but only {moments} sample moments (df = {df}); remove some '~~' statements")]
    TooManyParameters {
        /// Free parameters.
        npar: usize,
        /// Non-redundant sample (co)variances that are not fixed.
        moments: usize,
        /// Degrees of freedom (negative).
        df: i64,
    },
    /// The expected information matrix is singular at the estimates.
    #[error("the model is not identified (singular information matrix); check residual covariances between a variable and its own predictors")]
    NotIdentified,
    /// Input of the wrong shape.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A value is NaN or infinite.
    #[error("the {what} contains a missing or non-finite value")]
    NonFinite {
        /// "data" or "sample covariance matrix".
        what: &'static str,
    },
    /// Fewer observations than free parameters (or than variables).
    #[error("too few observations: {n} rows for {npar} free parameters and {p} variables; the model needs at least {needed} rows")]
    TooFewObservations {
        /// Rows.
        n: usize,
        /// Free parameters.
        npar: usize,
        /// Observed variables.
        p: usize,
        /// The minimum number of rows.
        needed: usize,
    },
    /// A variable has (near) zero variance.
    #[error("variable '{name}' is constant (variance {variance:.3e}); remove it from the model")]
    ConstantVariable {
        /// The variable.
        name: String,
        /// Its sample variance.
        variance: f64,
    },
    /// Two variables' sample variances differ by more than 10¹²: ML cannot be computed reliably.
    #[error("variable '{name}' has variance {variance:.3e}, more than 10¹² times smaller than that of '{largest}' ({largest_variance:.3e}); rescale the variables to similar units (e.g. divide '{largest}' by {factor:.0e})", factor = (largest_variance / variance).sqrt())]
    ScaleMismatch {
        /// The small variable.
        name: String,
        /// Its sample variance.
        variance: f64,
        /// The variable with the largest variance.
        largest: String,
        /// Its sample variance.
        largest_variance: f64,
    },
    /// The sample covariance matrix is singular: some variables are perfectly collinear.
    #[error("the sample covariance matrix is not positive definite: {names} are perfectly collinear; remove one of them")]
    SingularCovariance {
        /// The variables involved (the first that is a linear combination of earlier ones, and
        /// those earlier ones), comma separated.
        names: String,
    },
    /// The analysis model has more free parameters than balans estimates.
    #[error("the analysis model has {npar} free parameters; balans estimates at most {max} (lavaan adds a residual covariance for every pair of outcomes that predict nothing): use fewer outcomes or scale scores")]
    TooLarge {
        /// Free parameters.
        npar: usize,
        /// The limit, [`crate::spec::MAX_FREE_PARAMETERS`].
        max: usize,
    },
    /// The model has more specific indirect routes than can be estimated one by one.
    #[error("the model has {routes} specific indirect routes; balans estimates at most {max} (a densely connected model has about 2^k routes among k variables): remove some paths")]
    TooManyRoutes {
        /// The number of routes (saturating).
        routes: u128,
        /// The limit, [`balans_model::limits::MAX_ROUTES`].
        max: usize,
    },
    /// The iterative fitter did not converge.
    #[error("the ML fit did not converge after {} iterations (largest gradient element {:.3e}); the model may be empirically under-identified", .diagnostics.iterations, .diagnostics.gradient_norm)]
    NotConverged {
        /// Where the fitter stopped.
        diagnostics: Convergence,
    },
    /// A latent-variable model that cannot be identified as written (see `sem::identify`).
    #[error("the model is not identified: {reason}")]
    Unidentified {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Too few observations (per missing-data pattern, or in total) for FIML.
    #[error("too few observations for FIML: {reason}")]
    TooFewCases {
        /// Which variables or patterns lack data.
        reason: String,
    },
}
