//! Class kits (one data set per student, answer keys) and demonstrations for teaching mediation.
//!
//! Main types and functions:
//! * [`class_kit`] with a [`ClassConfig`] → [`ClassKit`]: one CSV per student (own random stream;
//!   optionally each student's own population drawn from [`ValueRange`]s), a student sheet with the
//!   tasks, and the teacher's answer key (CSV and HTML). Files are returned, not written.
//! * [`DEMOS`] / [`find_demo`] → [`Demo::render`]: short HTML pages with a plot and numbers computed
//!   on the spot (c = c′ + ab, the sampling distribution of ab, attenuation, clustering, an omitted
//!   confounder, the power curve of the study's indirect effect).
//! * [`MediationFitter`] — the three regressions of simple mediation (OLS via balans-estimate).
//!
//! Same seed → same bytes; no I/O, no printing.

mod class;
mod demos;
mod error;
mod mediation;

pub use class::{
    class_kit, data_csv, read_data_csv, ClassConfig, ClassKit, Student, ValueRange, MAX_STUDENTS,
};
pub use demos::{find_demo, Demo, DemoConfig, DEMOS};
pub use error::TeachError;
pub use mediation::{mediation_population, MediationEstimates, MediationFitter};
