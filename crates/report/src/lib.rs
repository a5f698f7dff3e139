//! Rendering of typed results: terminal tables, CSV, JSON, SVG plots and path diagrams, and
//! self-contained HTML reports. One exporter per format; no I/O (callers write the strings).
//!
//! The results are typed (serde) in the crates that compute them — [`balans_model::ModelSummary`]
//! (`model show`), [`balans_estimate::FitReport`] (`fit`), [`balans_power::PowerReport`]
//! (`power`) — or here for the simulated data set ([`SimulationRun`] with a [`DataTable`] view).
//! One module per format:
//! * [`table`] — human-readable text (lavaan `summary()`-like for a fit);
//! * [`csv`] — long-form CSV;
//! * [`json`] — serde JSON (pretty), and the simulated data set's record layout;
//! * [`power_svg`] — the power curve.

pub mod csv;
pub mod json;
pub mod power_svg;
mod simulation;
pub mod table;

pub use simulation::{
    ConstructSummary, DataColumn, DataTable, DesignSummary, MissingItems, SimulationRun,
};
