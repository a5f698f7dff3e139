//! # balans-transport
//!
//! Do the study's effects survive in new contexts? Replication statistics, random-effects
//! meta-analysis, many-site simulation, multi-group comparison and transport by reweighting.
//!
//! Main modules:
//! * [`replication`] — replication power and sample size, sceptical p-value, prediction interval,
//!   Q-test, small telescopes and TOST, closed forms as ReplicationSuccess.
//! * [`meta`] — random-effects meta-analysis (FE, DL, REML, ML, PM, HE, SJ, EB, HS;
//!   Knapp–Hartung) as metafor.
//! * [`metareg`] — meta-regression with continuous and categorical moderators (QM, R², residual
//!   heterogeneity, predictions) as metafor's `rma(yi, vi, mods = …)`.
//! * [`sites`] — K simulated contexts with varying paths, fitted and meta-analysed, R times:
//!   power to detect heterogeneity, expected prediction-interval width.
//! * [`reweight`] — a moderated effect carried to a target population (ATE* = Σ CATE(z) P*(z)).
//! * [`contrast`] — power to detect that an effect differs between two contexts of given sizes.
//! * [`TransportError`] — every failure, as a value.

pub mod contrast;
mod dist;
mod error;
mod forest;
pub mod meta;
pub mod metareg;
mod metareg_rows;
pub mod replication;
pub mod reweight;
mod rows;
pub mod sites;

pub use dist::{p2z, pchisq_upper, pnorm, qnorm, qt};
pub use error::TransportError;
pub use forest::forest_svg;
pub use meta::{
    fisher_z, meta_analyse, meta_csv, meta_rows, meta_summary_text, MetaConfig, MetaResult,
    MetaRow, Study, TauMethod,
};
pub use metareg::{
    meta_regress, Coefficient, Design, MetaRegression, Moderator, Prediction, RegressionConfig,
};
pub use metareg_rows::{
    regression_csv, regression_text, CorrelationPrediction, CorrelationScale, MetaDocument,
    MetaInput, ModeratorInfo, RegressionDocument, RegressionStudy,
};
pub use rows::{csv_field, format_number, format_p, tidy_csv, tidy_table, TidyRow};
