//! The one error type of transport: [`TransportError`].

/// Everything that can go wrong in replication statistics, meta-analysis, site simulation and
/// reweighting. Messages are lowercase fragments that name the offending value and say what was
/// expected; the CLI maps them to flags.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// A setting or input value out of its domain.
    #[error("{what} = {value}: {expected}")]
    Invalid {
        /// The quantity (e.g. `standard error of the original estimate`).
        what: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A study (meta-analysis input row) with an unusable value.
    #[error("study {study}: {problem}")]
    Study {
        /// The study's label (1-based row number when unlabelled).
        study: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Too few studies for the requested analysis.
    #[error("{found} studies given but {needed} are needed ({why})")]
    TooFewStudies {
        /// Studies given.
        found: usize,
        /// Studies needed.
        needed: usize,
        /// Why.
        why: String,
    },
    /// An effect name that the model or fit does not have.
    #[error("unknown effect '{name}'; known effects: {known}")]
    UnknownEffect {
        /// The name asked for.
        name: String,
        /// The names available, comma separated.
        known: String,
    },
    /// The iterative τ² estimator did not converge.
    #[error("the {method} estimate of tau² did not converge in {iterations} iterations")]
    NotConverged {
        /// The estimator (REML).
        method: &'static str,
        /// Iterations run.
        iterations: usize,
    },
    /// A model, population or fit failure from the lower layers.
    #[error("{0}")]
    Model(String),
}

impl TransportError {
    /// A [`TransportError::Invalid`] from its parts.
    pub fn invalid(
        what: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        TransportError::Invalid {
            what: what.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
