//! The one error type of power analysis: [`PowerError`].

/// Everything that can go wrong when setting up or running a power analysis.
///
/// Messages are lowercase fragments that say what was wrong and how to fix it; user errors (bad
/// settings, unknown names, too small samples) and model errors are kept apart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerError {
    /// A setting is out of range (0 replications, α = 1.5, a target power of 1, …).
    #[error("{setting} = {value} is out of range: {expected}")]
    Setting {
        /// The setting's name (`reps`, `alpha`, `target-power`, …; the CLI maps it to its flag).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A sample size too small for the analysis model.
    #[error("sample size {n} is too small: the analysis needs at least {needed} ({reason})")]
    SampleTooSmall {
        /// The sample size asked for.
        n: usize,
        /// The smallest usable sample size.
        needed: usize,
        /// Why (free parameters, variables).
        reason: String,
    },
    /// An effect name that the analysis model does not have.
    #[error("unknown effect '{name}'{}; effects are paths ('wfc~is'), routes ('is->wfc->perf'), ':=' names, or 'all'", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownEffect {
        /// The name asked for.
        name: String,
        /// A close name, if any.
        suggestion: Option<String>,
    },
    /// A test name that balans does not know.
    #[error("unknown test '{name}'{}; tests: joint, sobel, mc, percentile, bc (paths always get the Wald test)", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownTest {
        /// The name asked for.
        name: String,
        /// A close name, if any.
        suggestion: Option<String>,
    },
    /// A sample-size search without an effect to plan for: every selected effect has population
    /// value 0.
    #[error("no effect to plan for: every selected effect has population value 0; select effects with a non-zero population value")]
    NothingToPlan,
    /// A combination of settings that cannot work together.
    #[error("{0}")]
    Incompatible(String),
    /// The analysis model uses a variable that the population model does not generate.
    #[error("the analysis model uses '{name}', which the population model does not have; population variables: {known}")]
    UnknownVariable {
        /// The variable.
        name: String,
        /// The population's variables, comma separated.
        known: String,
    },
    /// The population covariance matrix is not positive definite.
    #[error("the population covariance matrix is not positive definite; check the model's values")]
    PopulationNotPositiveDefinite,
    /// The model cannot be turned into a population.
    #[error(transparent)]
    Model(#[from] balans_model::ModelError),
    /// The analysis model cannot be estimated.
    #[error("analysis model: {0}")]
    Eval(#[from] balans_estimate::EvalError),
    /// The simulator refused the request (e.g. an infeasible reliability in `items` mode).
    #[error(transparent)]
    Sim(#[from] balans_sim::SimError),
    /// A replay of merged shards does not match this run (`balans_montecarlo::shard`).
    #[error(transparent)]
    Shard(#[from] balans_montecarlo::ShardError),
}
