//! [`SurveyDesign`]: what a simulated survey looks like — sample size, teams, measurement targets,
//! background variables, nonresponse and missingness. A study's facts (its scale table, Table 1,
//! inclusion rule) come in through the design; `balans_study` supplies the Dutch study's.

use crate::background::Background;
use std::borrow::Cow;

/// Measurement defaults of a named construct (a row of a study's scale table): variables of any
/// model with this name are measured this way, unless the model gives them `=~` items.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// Construct (variable) name.
    pub name: Cow<'static, str>,
    /// Number of items.
    pub items: usize,
    /// Target reliability (Cronbach's α).
    pub reliability: f64,
    /// Target item mean on the response scale.
    pub item_mean: f64,
    /// Lowest response category.
    pub min: i32,
    /// Highest response category.
    pub max: i32,
    /// Intra-class correlation of the construct within teams.
    pub icc: f64,
}

/// ICC of a construct without a [`Scale`] (an engineering default).
pub const DEFAULT_ICC: f64 = 0.05;
/// Reliability of `=~` items of a user model when neither loadings nor `reliability` are given
/// (an engineering default).
pub const DEFAULT_RELIABILITY: f64 = 0.85;
/// Item mean of `=~` items of a user model (the midpoint of 1–7).
pub const DEFAULT_ITEM_MEAN: f64 = 4.0;

/// Largest number of rows one simulation returns (about 5 GB in memory for the seed model); draw
/// larger data in several runs with different seeds.
pub const MAX_N: usize = 10_000_000;
/// Largest mean team size.
pub const MAX_TEAM_SIZE: f64 = 10_000.0;

/// How employees are grouped under supervisors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TeamSizes {
    /// No nesting: every employee is their own team; ICCs are ignored.
    None,
    /// Every team has exactly this many invited employees.
    Fixed(usize),
    /// Team sizes `1 + Poisson(mean − 1)`: at least one employee, mean `mean`.
    Poisson {
        /// Mean team size (≥ 1).
        mean: f64,
    },
}

impl TeamSizes {
    /// Mean team size.
    pub fn mean(&self) -> f64 {
        match *self {
            TeamSizes::None => 1.0,
            TeamSizes::Fixed(k) => k as f64,
            TeamSizes::Poisson { mean } => mean,
        }
    }
}

/// Item-level missingness (background variables are always observed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Missingness {
    /// Every item answered.
    None,
    /// Missing completely at random: each item independently missing with this probability.
    Mcar(f64),
    /// Missing at random given a numeric background variable ([`crate::Background::mar_on`], the
    /// study's age): `logit P(item missing) = b + x_z`, with `x_z` the respondent's standardized
    /// (observed) value and `b` solved so that the average rate over its distribution is this
    /// probability. Odds × e per SD of the variable (an engineering choice).
    Mar(f64),
}

impl Missingness {
    /// The average missingness rate.
    pub fn rate(&self) -> f64 {
        match *self {
            Missingness::None => 0.0,
            Missingness::Mcar(p) | Missingness::Mar(p) => p,
        }
    }
}

/// Everything about a simulated survey except the model and the seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyDesign {
    /// Number of respondents in the data (after nonresponse and the inclusion rule).
    pub n: usize,
    /// Teams (employees nested under the supervisor they rate).
    pub teams: TeamSizes,
    /// ICC overrides per construct; others get [`Scale::icc`] or [`DEFAULT_ICC`].
    pub icc: Vec<(String, f64)>,
    /// Reliability overrides per construct. For a variable without items it adds measurement error
    /// (observed = true + error) with this reliability.
    pub reliability: Vec<(String, f64)>,
    /// Item-mean overrides per construct (on its response scale).
    pub item_mean: Vec<(String, f64)>,
    /// Share of invited employees who respond, in (0, 1].
    pub response_rate: f64,
    /// Self-selection strength `s ≥ 0`: `logit P(respond) = a + s (f² − 1)` with `f` the standardized
    /// mean score of the [`SurveyDesign::selection`] constructs, so people with very high or very
    /// low scores respond more; `a` is solved so the response rate holds. 0 = nonresponse at random.
    pub self_selection: f64,
    /// The constructs whose mean standardized score drives self-selection (those the model has;
    /// none of them: the model's first variable).
    pub selection: Vec<String>,
    /// Apply the background's [`crate::InclusionRule`]: only respondents it keeps are in the data.
    pub inclusion: bool,
    /// Measurement of named constructs without `=~` items (a study's scale table).
    pub scales: Vec<Scale>,
    /// Background variables, their links and the inclusion rule.
    pub background: Background,
    /// Item-level missingness.
    pub missing: Missingness,
    /// Also output each construct's true score (`true_<name>`), for teaching and checks.
    pub true_scores: bool,
}

impl Default for SurveyDesign {
    /// A bare design: 100 independent respondents (no teams), no known scales (variables without
    /// `=~` items are continuous), no background variables, everyone responding, no missing items.
    fn default() -> SurveyDesign {
        SurveyDesign {
            n: 100,
            teams: TeamSizes::None,
            icc: Vec::new(),
            reliability: Vec::new(),
            item_mean: Vec::new(),
            response_rate: 1.0,
            self_selection: 0.0,
            selection: Vec::new(),
            inclusion: false,
            scales: Vec::new(),
            background: Background::default(),
            missing: Missingness::None,
            true_scores: false,
        }
    }
}
