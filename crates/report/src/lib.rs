//! Rendering of typed results: terminal tables, CSV, JSON, SVG plots and path diagrams, and
//! self-contained HTML reports. One exporter per format; no I/O (callers write the strings).
