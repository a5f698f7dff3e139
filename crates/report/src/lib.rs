//! Rendering of typed results: terminal tables, CSV, JSON, SVG plots and path diagrams, and
//! self-contained HTML reports. One exporter per format; no I/O (callers write the strings).
//!
//! Main types:
//! * [`diagram::PathDiagram`] — a path diagram in the style of the study's Figure 2, from
//!   population values or estimates, laid out left to right by causal order, drawn as SVG.

pub mod diagram;
pub mod markup;
