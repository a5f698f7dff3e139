//! The typed result of `balans simulate` besides the data: the seed, the counts of the survey
//! process, the design and what each construct's measurement turned out to be
//! ([`SimulationRun`]); and a borrowed view of the simulated rows ([`DataTable`]) for the CSV and
//! JSON exporters.

use serde::{Serialize, Serializer};

/// Item missingness of a simulated survey (serialised as `none`, `mcar:P`, `mar:P`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MissingItems {
    /// Every item answered.
    None,
    /// Missing completely at random with this rate.
    Mcar(f64),
    /// Missing at random (more among older respondents) with this average rate.
    Mar(f64),
}

impl Serialize for MissingItems {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MissingItems::None => serializer.serialize_str("none"),
            MissingItems::Mcar(p) => serializer.serialize_str(&format!("mcar:{p}")),
            MissingItems::Mar(p) => serializer.serialize_str(&format!("mar:{p}")),
        }
    }
}

/// The survey design echoed with simulated data (fields in the order of their JSON keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignSummary {
    /// Every team has exactly the mean size.
    pub fixed_team_size: bool,
    /// Only respondents with a partner and/or care tasks are kept.
    pub inclusion: bool,
    /// Mean number of invited employees per supervisor.
    pub mean_team_size: f64,
    /// Item missingness.
    pub missing: MissingItems,
    /// Share of invited employees who respond.
    pub response_rate: f64,
    /// Self-selection strength.
    pub self_selection: f64,
}

/// One construct of simulated data and its measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConstructSummary {
    /// Measured by Likert items (fields in the order of their JSON keys).
    Likert {
        /// Intraclass correlation.
        icc: f64,
        /// Expected item mean (rounded to 4 decimals).
        item_mean: f64,
        /// The item columns.
        items: Vec<String>,
        /// Item loadings (rounded to 4 decimals).
        loadings: Vec<f64>,
        /// Construct name.
        name: String,
        /// Expected Cronbach's α (rounded to 4 decimals).
        reliability: f64,
        /// Response scale `[min, max]`.
        scale: [i32; 2],
    },
    /// An observed continuous score (fields in the order of their JSON keys).
    Continuous {
        /// Always `true`.
        continuous: bool,
        /// Intraclass correlation.
        icc: f64,
        /// Construct name.
        name: String,
        /// Reliability of the observed score.
        reliability: f64,
    },
}

/// What `balans simulate` reports about a run besides the rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationRun {
    /// The seed.
    pub seed: u64,
    /// Where the model came from.
    pub model: String,
    /// Respondents in the data.
    pub n: usize,
    /// Employees invited.
    pub invited: u64,
    /// Employees who responded.
    pub responded: u64,
    /// The design.
    pub design: DesignSummary,
    /// The constructs.
    pub constructs: Vec<ConstructSummary>,
}

/// One column written by the data exporters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataColumn<'a> {
    /// Column name.
    pub name: &'a str,
    /// Whether every value is a whole number (written without decimals).
    pub integer: bool,
    /// Position of the column in each row.
    pub index: usize,
}

/// A borrowed view of simulated rows: the columns to write and each row's values (`NaN` =
/// missing).
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable<'a> {
    /// The columns to write, in order.
    pub columns: Vec<DataColumn<'a>>,
    /// The rows.
    pub rows: Vec<&'a [f64]>,
}

/// A value as text: whole numbers without decimals, others rounded to 6 decimals; `None` = missing.
pub(crate) fn number(v: f64, integer: bool) -> Option<String> {
    if v.is_nan() {
        return None;
    }
    if integer {
        return Some(format!("{}", v as i64));
    }
    let r = (v * 1e6).round() / 1e6;
    Some(if r == 0.0 {
        "0".to_string()
    } else {
        format!("{r}")
    })
}
