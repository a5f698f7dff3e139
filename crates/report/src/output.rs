//! Every typed result balans writes, and the one place that turns a result into a format.
//!
//! A command builds an [`Output`] (its library's typed result) and the CLI writes
//! `render(&output, format)`. Adding a format means one arm per variant here (and the format's
//! module); adding a command means one variant. Results whose renderers still live in their
//! library (`trial`, `transport`) are called from here, so this is already the only `match` on
//! the format for them.

use balans_estimate::{FitReport, MultiGroupReport};
use balans_model::ModelSummary;
use balans_power::PowerReport;
use balans_transport::sites::SitesReport;
use balans_transport::TidyRow;
use balans_trial::plan::PlanReport;
use balans_trial::power_report::TrialPowerReport;
use serde::Serialize;

/// The formats a result can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text for the terminal.
    Table,
    /// CSV in long form.
    Csv,
    /// One JSON document.
    Json,
}

impl Format {
    /// The format's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// Rows in broom's layout (`term`, `estimate`, `std.error`, …) with the settings that made them:
/// the results of `transport replicate`, `reweight` and `difference`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TidyResult {
    /// The line above the table.
    #[serde(skip)]
    pub title: String,
    /// The answer in sentences, shown above the table (empty: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answer: Vec<String>,
    /// The settings, as the JSON document's `settings`.
    pub settings: TidySettings,
    /// The rows.
    pub rows: Vec<TidyRow>,
}

/// The settings of a [`TidyResult`], one variant per command (serialized without a tag).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TidySettings {
    /// `transport difference`.
    Difference {
        /// Respondents in context A.
        n_a: usize,
        /// Respondents in context B.
        n_b: usize,
        /// Significance level.
        alpha: f64,
        /// The effects compared.
        effects: Vec<String>,
    },
    /// `transport reweight`.
    Reweight {
        /// The strata as given.
        strata: serde_json::Value,
        /// Size of the target sample.
        target_n: Option<usize>,
        /// Confidence level.
        level: f64,
    },
    /// `transport replicate`: the replication settings as the library reports them.
    Replicate(serde_json::Value),
}

/// Every typed result balans writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `model show`.
    Model(Box<ModelSummary>),
    /// `fit`.
    Fit(Box<FitReport>),
    /// `fit --group`.
    Groups(Box<MultiGroupReport>),
    /// `power`.
    Power(Box<PowerReport>),
    /// `trial plan`.
    TrialPlan(Box<PlanReport>),
    /// `trial power`.
    TrialPower(Box<TrialPowerReport>),
    /// `transport replicate | reweight | difference`.
    Tidy(Box<TidyResult>),
    /// `transport sites`, with the model's origin for the title.
    Sites(Box<SitesReport>, String),
    /// `whatif`.
    WhatIf(Box<balans_model::whatif::WhatIfReport>),
}

/// A result asked for in a format it has no rendering in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} results can be written as {supported}, not as {format}")]
pub struct Unsupported {
    /// The result's kind.
    pub kind: &'static str,
    /// The format asked for.
    pub format: &'static str,
    /// The formats it has.
    pub supported: &'static str,
}

impl Output {
    /// The result's kind, as messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Output::Model(_) => "model",
            Output::Fit(_) => "fit",
            Output::Groups(_) => "multi-group fit",
            Output::Power(_) => "power",
            Output::TrialPlan(_) => "trial plan",
            Output::TrialPower(_) => "trial power",
            Output::Tidy(_) => "transport",
            Output::Sites(..) => "many-sites",
            Output::WhatIf(_) => "whatif",
        }
    }
}

/// The `Answer:` block above a table (nothing when there are no sentences).
fn answer_block(sentences: &[String]) -> String {
    if sentences.is_empty() {
        return String::new();
    }
    let mut text = String::from("Answer:\n");
    for s in sentences {
        text.push_str(&format!("  {s}\n"));
    }
    text.push('\n');
    text
}

/// `output` in `format`.
///
/// # Errors
/// [`Unsupported`] when the result has no rendering in that format (a model as CSV).
pub fn render(output: &Output, format: Format) -> Result<String, Unsupported> {
    use Format::{Csv, Json, Table};
    let unsupported = |supported| Unsupported {
        kind: output.kind(),
        format: format.name(),
        supported,
    };
    Ok(match (output, format) {
        (Output::Model(m), Table) => crate::table::model(m),
        (Output::Model(m), Json) => crate::json::pretty(m),
        (Output::Model(_), Csv) => return Err(unsupported("table or json")),
        (Output::Fit(f), Table) => crate::table::fit(f),
        (Output::Fit(f), Csv) => crate::csv::fit(f),
        (Output::Fit(f), Json) => crate::json::fit(f),
        (Output::Groups(g), Table) => crate::table::groups(g),
        (Output::Groups(g), Csv) => crate::csv::groups(g),
        (Output::Groups(g), Json) => crate::json::pretty(g),
        (Output::Power(p), Table) => crate::table::power(p),
        (Output::Power(p), Csv) => crate::csv::power(p),
        (Output::Power(p), Json) => crate::json::power(p),
        (Output::TrialPlan(p), Table) => p.to_table(),
        (Output::TrialPlan(p), Csv) => p.to_csv(),
        (Output::TrialPlan(p), Json) => p.to_json(),
        (Output::TrialPower(p), Table) => p.to_table(),
        (Output::TrialPower(p), Csv) => p.to_csv(),
        (Output::TrialPower(p), Json) => p.to_json(),
        (Output::Tidy(t), Table) => format!(
            "{}{}\n\n{}",
            answer_block(&t.answer),
            t.title,
            balans_transport::tidy_table(&t.rows)
        ),
        (Output::Tidy(t), Csv) => balans_transport::tidy_csv(&t.rows),
        (Output::Tidy(t), Json) => crate::json::pretty(t),
        (Output::Sites(s, origin), Table) => format!(
            "balans {} — many sites ({origin})\n{}",
            env!("CARGO_PKG_VERSION"),
            balans_transport::sites::sites_table(s)
        ),
        (Output::Sites(s, _), Csv) => balans_transport::sites::sites_csv(&s.rows),
        (Output::Sites(s, _), Json) => crate::json::pretty(s.as_ref()),
        (Output::WhatIf(w), Table) => crate::whatif::table(w),
        (Output::WhatIf(w), Csv) => crate::whatif::csv(w),
        (Output::WhatIf(w), Json) => crate::json::pretty(w.as_ref()),
    })
}
