//! [`SurveyDesign`]: what a simulated survey looks like — sample size, teams, measurement targets,
//! nonresponse and missingness — and the study's measurement defaults ([`STUDY_SCALES`]).

/// Measurement defaults of one of the study's scales (STUDY.md, "Measurement" and "Teams"; every
/// value [E] except the wfc reliability [R: Netemeyer et al. 1996]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudyScale {
    /// Construct (variable) name.
    pub name: &'static str,
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
    /// Intra-class correlation of the construct within supervisors' teams.
    pub icc: f64,
}

const fn scale(
    name: &'static str,
    items: usize,
    reliability: f64,
    item_mean: f64,
    min: i32,
    icc: f64,
) -> StudyScale {
    StudyScale {
        name,
        items,
        reliability,
        item_mean,
        min,
        max: min + 6,
        icc,
    }
}

/// The study's scales. Variables of any model with these names are measured this way (unless the
/// model gives them `=~` items). `fssb` (the 14-item composite of `seed-composite`) has no published
/// α of its own: .92 [E] is what 14 items of the four dimensions' quality give.
pub const STUDY_SCALES: &[StudyScale] = &[
    scale("es", 4, 0.85, 4.8, 1, 0.15),
    scale("is", 3, 0.80, 4.8, 1, 0.15),
    scale("rm", 3, 0.85, 4.8, 1, 0.15),
    scale("cm", 4, 0.85, 4.8, 1, 0.15),
    scale("fssb", 14, 0.92, 4.8, 1, 0.15),
    scale("wfc", 5, 0.88, 3.5, 1, 0.05),
    scale("wfe", 9, 0.92, 4.5, 1, 0.05),
    scale("eng", 9, 0.90, 4.0, 0, 0.08),
    scale("perf", 5, 0.80, 5.5, 1, 0.05),
    scale("amb", 9, 0.85, 4.5, 1, 0.05),
];

/// ICC of a construct that is not one of the study's [E].
pub const DEFAULT_ICC: f64 = 0.05;
/// Reliability of `=~` items of a user model when neither loadings nor `reliability` are given [E].
pub const DEFAULT_RELIABILITY: f64 = 0.85;
/// Item mean of `=~` items of a user model (the midpoint of 1–7).
pub const DEFAULT_ITEM_MEAN: f64 = 4.0;
/// The study's mean team size (employees per supervisor) [E].
pub const STUDY_TEAM_SIZE: f64 = 8.0;
/// The study's response rate [R: 320 of about 1,600 invited].
pub const STUDY_RESPONSE_RATE: f64 = 0.20;

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
    /// Missing at random given age: `logit P(item missing) = b + age_z`, with `age_z` the respondent's
    /// standardized (observed) age and `b` solved so that the average rate over the age distribution
    /// is this probability. Older respondents skip more (odds × e per SD of age) [E].
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
    /// ICC overrides per construct; others get [`StudyScale::icc`] or [`DEFAULT_ICC`].
    pub icc: Vec<(String, f64)>,
    /// Reliability overrides per construct. For a variable without items it adds measurement error
    /// (observed = true + error) with this reliability.
    pub reliability: Vec<(String, f64)>,
    /// Item-mean overrides per construct (on its response scale).
    pub item_mean: Vec<(String, f64)>,
    /// Share of invited employees who respond, in (0, 1].
    pub response_rate: f64,
    /// Self-selection strength `s ≥ 0`: `logit P(respond) = a + s (f² − 1)` with `f` the standardized
    /// FSSB score (mean of the FSSB constructs present, else the model's first variable), so people
    /// with very good or very bad supervisor experiences respond more; `a` is solved so the response
    /// rate holds. 0 = nonresponse at random.
    pub self_selection: f64,
    /// The study's inclusion rule: only respondents with a partner and/or care tasks are kept.
    pub inclusion: bool,
    /// Item-level missingness.
    pub missing: Missingness,
    /// Also output each construct's true score (`true_<name>`), for teaching and checks.
    pub true_scores: bool,
}

impl Default for SurveyDesign {
    /// The study's sample size (278), teams of about 8, everyone responding, no missing items.
    fn default() -> SurveyDesign {
        SurveyDesign {
            n: 278,
            teams: TeamSizes::Poisson {
                mean: STUDY_TEAM_SIZE,
            },
            icc: Vec::new(),
            reliability: Vec::new(),
            item_mean: Vec::new(),
            response_rate: 1.0,
            self_selection: 0.0,
            inclusion: false,
            missing: Missingness::None,
            true_scores: false,
        }
    }
}
