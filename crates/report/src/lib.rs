//! Rendering of typed results: terminal tables, CSV, JSON, SVG plots and path diagrams, and
//! self-contained HTML reports. One exporter per format; no I/O (callers write the strings).
//!
//! The results are typed (serde) in the crates that compute them — [`balans_model::ModelSummary`]
//! (`model show`), [`balans_estimate::FitReport`] (`fit`), [`balans_power::PowerReport`]
//! (`power`) — or here for the simulated data set ([`SimulationRun`] with a [`DataTable`] view).
//! One exporter per format:
//! * [`table`] — human-readable text (lavaan `summary()`-like for a fit);
//! * [`csv`] — long-form CSV;
//! * [`json`] — serde JSON (pretty), and the simulated data set's record layout;
//! * [`power_svg`] — the power curve of `balans power --plot`.
//!
//! Main types of the diagrams and reports:
//! * [`diagram::PathDiagram`] — a path diagram in the style of the study's Figure 2, from
//!   population values or estimates, laid out left to right by causal order, drawn as SVG.
//! * [`html::render_report`] — one self-contained offline HTML report of the JSON results of
//!   `model show`, `fit`, `power`, `meta` and `transport replicate` (kind detected from the JSON;
//!   one module per kind).
//! * [`plot::LinePlot`], [`plot::Histogram`] — SVG charts (power curves with Monte Carlo bands).
//! * [`answer`] — the answer a user reads first (1–5 sentences and, for power, the headline
//!   table), computed once from the typed result for the table, the HTML and the JSON.
//! * [`sentences`] — key results in plain language.

pub mod answer;
pub mod csv;
pub mod diagram;
pub mod html;
pub mod json;
pub mod markup;
pub mod output;
pub mod plot;
pub mod power_svg;
pub mod sentences;
mod simulation;
pub mod table;
pub mod whatif;

pub use simulation::{
    ConstructSummary, DataColumn, DataTable, DesignSummary, MissingItems, SimulationRun,
};
