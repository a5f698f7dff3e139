//! Rendering of typed results: terminal tables, CSV, JSON, SVG plots and path diagrams, and
//! self-contained HTML reports. One exporter per format; no I/O (callers write the strings).
//!
//! Main types:
//! * [`diagram::PathDiagram`] — a path diagram in the style of the study's Figure 2, from
//!   population values or estimates, laid out left to right by causal order, drawn as SVG.
//! * [`html::render_report`] — one self-contained offline HTML report of the JSON results of
//!   `model show`, `fit`, `power`, `meta` and `transport replicate` (kind detected from the JSON;
//!   one module per kind).
//! * [`plot::LinePlot`], [`plot::Histogram`] — SVG charts (power curves with Monte Carlo bands).
//! * [`sentences`] — key results in plain language.

pub mod diagram;
pub mod html;
pub mod markup;
pub mod plot;
pub mod sentences;
