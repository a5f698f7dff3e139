//! Why a class kit or demonstration cannot be made.

/// Every failure of `balans-teach`, as a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TeachError {
    /// A setting is out of range.
    #[error("{setting} = {value}: {expected}")]
    Setting {
        /// The setting (a library name, mapped to a flag by the CLI).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        expected: String,
    },
    /// The population cannot exist (e.g. a standardized model with R² ≥ 1).
    #[error(transparent)]
    Model(Box<balans_model::ModelError>),
    /// The simulator refused.
    #[error(transparent)]
    Sim(#[from] balans_sim::SimError),
    /// The estimator failed on a data set.
    #[error(transparent)]
    Estimate(#[from] balans_estimate::EvalError),
    /// The power engine failed.
    #[error(transparent)]
    Power(Box<balans_power::PowerError>),
    /// An unknown demonstration.
    #[error("unknown demonstration '{name}'; demonstrations: {known}")]
    UnknownDemo {
        /// The name asked for.
        name: String,
        /// The known names.
        known: String,
    },
}

impl From<balans_model::ModelError> for TeachError {
    fn from(e: balans_model::ModelError) -> TeachError {
        TeachError::Model(Box::new(e))
    }
}

impl From<balans_power::PowerError> for TeachError {
    fn from(e: balans_power::PowerError) -> TeachError {
        TeachError::Power(Box::new(e))
    }
}
