//! # balans-sim
//!
//! Synthetic survey data under a balans model: what the study's questionnaire data would look like
//! if the model were true. Random numbers in, numbers out; no I/O, no printing.
//!
//! Main types:
//! * [`ConstructSampler`] — the fast path: rows of continuous construct scores with covariance `Σ`
//!   written into a caller's buffer without allocating (for power analysis).
//! * [`RowCovarianceSampler`] — the sample covariance matrix of N normal rows of selected
//!   variables, without writing the rows down; [`WishartSampler`] — the same statistic drawn
//!   directly from its Wishart distribution (Bartlett decomposition), without any rows.
//! * [`Likert`] — calibrated response scales; [`Likert::response`] and [`Likert::scale_score`]
//!   answer items (the one place where latent responses are cut into categories is
//!   [`Likert::categorise`]).
//! * [`Simulator`] — a prepared survey from a [`balans_model::Model`] and a [`SurveyDesign`]: Likert
//!   items calibrated to target reliabilities and item means ([`Likert`]; the design's [`Scale`]
//!   table for named constructs), teams with per-construct ICCs, background variables
//!   ([`Background`]), nonresponse with self-selection, an inclusion rule and item missingness.
//!   [`Simulator::simulate`] gives a [`SurveyData`]. The design carries every fact of a particular
//!   study; `balans_study` supplies the Dutch study's.
//! * [`SimError`] — why a request cannot be simulated (bad value, infeasible target).
//!
//! Reproducibility: every stream of random numbers is ChaCha8 derived from `(seed, block index)`
//! with blocks fixed by the design, so results never depend on the number of threads.

mod background;
mod constructs;
mod design;
mod error;
pub mod likert;
mod moments;
pub mod normal;
pub mod scale_score;
mod survey;
mod wishart;

pub use background::{Background, BackgroundVariable, InclusionRule, Link};
pub use constructs::ConstructSampler;
pub use design::{
    Missingness, Scale, SurveyDesign, TeamSizes, DEFAULT_ICC, DEFAULT_ITEM_MEAN,
    DEFAULT_RELIABILITY, MAX_N, MAX_TEAM_SIZE,
};
pub use error::SimError;
pub use likert::{Likert, LikertTarget};
pub use moments::{covariance_of_columns_into, RowCovarianceSampler, RowCovarianceScratch};
pub use survey::{
    simulate, Column, ColumnKind, ConstructInfo, Measurement, Simulator, SurveyData, SurveyScratch,
};
pub use wishart::WishartSampler;
