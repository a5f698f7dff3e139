//! `balans report`: one self-contained HTML file for the JSON results balans writes.
//!
//! Each kind of result is one module implementing [`ResultKind`] (detect it from the JSON, render
//! its section), listed in [`KINDS`]: adding a kind (trial, transport) is one module and one line.
//! Every section starts with the settings, seed and version, then plain-language sentences for the
//! key results, figures (power curves with Monte Carlo bands, the path diagram) and tables.

mod fit;
mod model;
pub mod page;
mod power;
mod tidy;
mod transport;
mod trial;

pub use fit::fit_diagram;
pub use model::model_diagram;
pub use page::{Page, Table};

use serde_json::Value;

/// One JSON result to report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    /// Where it came from (a file name), shown in the report.
    pub name: String,
    /// The parsed JSON.
    pub json: Value,
    /// The model text when the result names a model file the caller could read (for the path
    /// diagram of a power analysis); built-in models need none.
    pub model_text: Option<String>,
}

/// Settings of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Title of the page.
    pub title: String,
    /// Version of the balans that makes the report.
    pub version: String,
}

/// Why a report cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// No inputs.
    #[error("no results to report: give at least one JSON file written by balans (e.g. balans power … --format json > power.json)")]
    NoInputs,
    /// The JSON is not a kind of result this version knows.
    #[error("{input}: not a balans result this report knows (known: {known}); write it with --format json from 'balans model show', 'balans fit', 'balans power', 'balans meta' or 'balans transport replicate'")]
    UnknownKind {
        /// The input's name.
        input: String,
        /// The known kinds.
        known: String,
    },
    /// The JSON looks like a known kind but a field is missing or of the wrong type.
    #[error("{input}: {kind} result: {message}")]
    Shape {
        /// The input's name.
        input: String,
        /// The kind it was taken for.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// One kind of result: how to recognise its JSON and how to render it.
pub trait ResultKind: Sync {
    /// A short name (`power`, `fit`, `model`).
    fn name(&self) -> &'static str;
    /// A heading for its section.
    fn title(&self) -> &'static str;
    /// Whether `json` is a result of this kind.
    fn detect(&self, json: &Value) -> bool;
    /// Appends the section's content (after the `<h2>`) to `page`.
    ///
    /// # Errors
    /// A message saying which field is missing or malformed.
    fn render(
        &self,
        input: &ReportInput,
        config: &ReportConfig,
        section: &str,
        page: &mut Page,
    ) -> Result<(), String>;
}

/// Every kind the report knows, tried in order.
pub const KINDS: &[&dyn ResultKind] = &[
    &trial::TrialPowerKind,
    &trial::TrialPlanKind,
    &power::PowerKind,
    &fit::FitKind,
    &model::ModelKind,
    &transport::MetaKind,
    &transport::MetaRegressionKind,
    &transport::ReplicationKind,
    &tidy::TidyKind,
];

/// The kind of a JSON result, if known.
pub fn detect_kind(json: &Value) -> Option<&'static dyn ResultKind> {
    KINDS.iter().copied().find(|k| k.detect(json))
}

/// Renders the report of `inputs` as one HTML document.
///
/// # Errors
/// No inputs, an unknown kind, or a malformed result (the input and field are named).
pub fn render_report(inputs: &[ReportInput], config: &ReportConfig) -> Result<String, ReportError> {
    if inputs.is_empty() {
        return Err(ReportError::NoInputs);
    }
    let mut page = Page::new(&config.title);
    let mut kinds = Vec::new();
    for (k, input) in inputs.iter().enumerate() {
        let kind = detect_kind(&input.json).ok_or_else(|| ReportError::UnknownKind {
            input: input.name.clone(),
            known: KINDS
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let id = format!("r{}", k + 1);
        page.section(&id, &format!("{} — {}", kind.title(), input.name));
        kind.render(input, config, &id, &mut page)
            .map_err(|message| ReportError::Shape {
                input: input.name.clone(),
                kind: kind.name(),
                message,
            })?;
        kinds.push(format!("{} ({})", input.name, kind.name()));
    }
    page.heading("About this report");
    page.paragraph_class(
        "note",
        "One self-contained file: styles and figures are inline, nothing is loaded from a network, so it can be archived, mailed or printed as is. Monte Carlo results carry their Monte Carlo standard error sqrt(p(1 − p)/R); bands in the figures are ±1.96 MC SE.",
    );
    Ok(page.finish(&format!(
        "Made by balans {} from {}.",
        config.version,
        kinds.join(", ")
    )))
}

/// The version a result records (`version` at the top or in `settings`), or a statement that it
/// records none.
pub(crate) fn recorded_version(json: &Value, config: &ReportConfig) -> String {
    let v = json
        .get("version")
        .or_else(|| json.get("settings").and_then(|s| s.get("version")))
        .and_then(Value::as_str);
    match v {
        Some(v) => format!("balans {v} (report made by balans {})", config.version),
        None => format!(
            "not recorded in the JSON; report made by balans {}",
            config.version
        ),
    }
}

/// Deserialises a result into its typed form, with the failing field in the message.
/// The `answer` sentences a result carries (computed by [`crate::answer`] when the JSON was
/// written), as the first section: the same sentences the table shows on top.
pub(crate) fn answer_section(json: &Value, page: &mut Page) {
    let sentences: Vec<String> = json
        .get("answer")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !sentences.is_empty() {
        page.heading("Answer");
        page.sentences(&sentences);
    }
}

pub(crate) fn typed<T: serde::de::DeserializeOwned>(json: &Value) -> Result<T, String> {
    T::deserialize(json).map_err(|e| e.to_string())
}
