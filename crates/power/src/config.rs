//! Settings of a power analysis: [`PowerConfig`], [`DataMode`], [`Sampling`].

use crate::error::PowerError;
use crate::study::Test;
use balans_sim::SurveyDesign;
use serde::Serialize;

/// What the simulated data look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    /// Continuous construct scores, multivariate normal with the population's `Σ`.
    #[default]
    Normal,
    /// The study's situation: every construct with a scale in [`PowerConfig::design`] measured by
    /// Likert items calibrated to that scale's reliability and item mean, analysed as scale means. Paths are
    /// attenuated by unreliability and in scale units, so bias and coverage are not reported.
    Items,
}

/// How each replication's sample covariance matrix is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Wishart where exactly valid (normal data, no bootstrap test), rows otherwise.
    #[default]
    Auto,
    /// N simulated rows per replication.
    Rows,
    /// The sample covariance matrix drawn directly (Bartlett decomposition of the Wishart).
    Wishart,
}

/// Item-level missing data in the survey path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "rate")]
pub enum MissingData {
    /// Missing completely at random, with this rate per item.
    Mcar(f64),
    /// Missing at random given age (the simulator's MAR mechanism), with this average rate.
    Mar(f64),
}

/// The survey path: data from the full survey simulator (teams, item missingness), analysed with
/// ML on scale means (items) or construct scores (normal), listwise deletion: single-level, as the
/// study did, or with `cluster_robust` (and teams) with standard errors cluster-robust by team
/// (lavaan's `sem(..., cluster = "team")`: observed-information bread, z tests). Not
/// allocation-free (a survey data set per replication).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct SurveyOptions {
    /// Mean team size (employees per supervisor; sizes 1 + Poisson(mean − 1)); `None`: no teams.
    pub teams: Option<f64>,
    /// Item missingness; `None`: complete data.
    pub missing: Option<MissingData>,
    /// With teams: cluster-robust standard errors by team instead of the single-level ones. Not
    /// the default: in the study's design (ICCs .05–.15) the sandwich's own variability makes its
    /// z tests more liberal than the single-level ones (type I of a null path at 15 teams of 8,
    /// 400 replications: .09–.11 robust vs .06–.085 single-level; at 50 teams, 1,000
    /// replications: .059–.068 vs .053–.059; issue 20).
    pub cluster_robust: bool,
}

impl SurveyOptions {
    /// Whether replications are analysed with cluster-robust standard errors by team.
    pub fn cluster_robust(&self) -> bool {
        self.teams.is_some() && self.cluster_robust
    }
}

/// Settings of a Monte Carlo power analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerConfig {
    /// Replications per sample size (R).
    pub replications: usize,
    /// Master seed; replication r of sample size N uses the stream `(seed, N, r)`.
    pub seed: u64,
    /// Significance level of every test (two-sided).
    pub alpha: f64,
    /// Tests of indirect and `:=` effects (paths always get the Wald test).
    pub tests: Vec<Test>,
    /// Bootstrap resamples per replication (percentile and bias-corrected tests).
    pub bootstrap_draws: usize,
    /// Monte Carlo draws per replication (Monte Carlo CI test).
    pub mc_draws: usize,
    /// The data.
    pub data: DataMode,
    /// Rows or Wishart.
    pub sampling: Sampling,
    /// Teams and missing items (the survey simulator); `None`: independent complete rows.
    pub survey: Option<SurveyOptions>,
    /// How the data are measured in items mode and on the survey path: the scale table (which
    /// variables are Likert scale scores, and their targets), ICCs and background variables (a
    /// study's facts, e.g. `balans_study::survey_design()`). N, teams, missingness and true scores
    /// are set per condition from the settings above. The default knows no scales: every variable
    /// is analysed as its construct score.
    #[serde(skip)]
    pub design: SurveyDesign,
}

impl Default for PowerConfig {
    fn default() -> Self {
        PowerConfig {
            replications: 1000,
            seed: 1,
            alpha: 0.05,
            tests: vec![Test::Joint, Test::Sobel],
            bootstrap_draws: 1000,
            mc_draws: 1000,
            data: DataMode::Normal,
            sampling: Sampling::Auto,
            survey: None,
            design: SurveyDesign::default(),
        }
    }
}

impl PowerConfig {
    /// Checks ranges and combinations.
    ///
    /// # Errors
    /// [`PowerError::Setting`] for values out of range, [`PowerError::Incompatible`] for the
    /// Wishart path with bootstrap tests or item data.
    pub fn validate(&self) -> Result<(), PowerError> {
        let setting = |setting, value: String, expected: &str| PowerError::Setting {
            setting,
            value,
            expected: expected.into(),
        };
        if self.replications < 1 || self.replications as u64 >= balans_montecarlo::MAX_REPLICATIONS
        {
            return Err(setting(
                "reps",
                self.replications.to_string(),
                "use at least 1 replication (1000 or more for a power estimate with MC SE ≤ .016)",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(setting(
                "alpha",
                self.alpha.to_string(),
                "the significance level must be between 0 and 1, e.g. 0.05",
            ));
        }
        let boot = self.tests.iter().any(|t| t.needs_rows());
        if boot && self.bootstrap_draws < 10 {
            return Err(setting(
                "boot",
                self.bootstrap_draws.to_string(),
                "use at least 10 bootstrap resamples (1000 is usual)",
            ));
        }
        if self.tests.contains(&Test::Mc) && self.mc_draws < 10 {
            return Err(setting(
                "mc-draws",
                self.mc_draws.to_string(),
                "use at least 10 Monte Carlo draws (1000 or more is usual)",
            ));
        }
        if let Some(survey) = &self.survey {
            if let Some(t) = survey.teams {
                if !(t >= 1.0 && t.is_finite()) {
                    return Err(setting(
                        "teams",
                        t.to_string(),
                        "the mean team size must be at least 1, e.g. 8",
                    ));
                }
            }
            if let Some(MissingData::Mcar(r) | MissingData::Mar(r)) = survey.missing {
                if !(0.0..1.0).contains(&r) {
                    return Err(setting(
                        "missing",
                        r.to_string(),
                        "the missingness rate must be in [0, 1), e.g. mcar:0.05",
                    ));
                }
            }
            if self.sampling == Sampling::Wishart {
                return Err(PowerError::Incompatible("the Wishart path is exact only for independent complete normal rows: teams and missing data need --sampling rows (or auto)".into()));
            }
        }
        if self.sampling == Sampling::Wishart {
            if boot {
                return Err(PowerError::Incompatible("the Wishart path has no rows to resample: bootstrap tests (percentile, bc) need --sampling rows (or auto)".into()));
            }
            if self.data == DataMode::Items {
                return Err(PowerError::Incompatible("the Wishart path is exact only for normal data: item data need --sampling rows (or auto)".into()));
            }
        }
        Ok(())
    }

    /// The sampling actually used: [`Sampling::Auto`] resolved.
    pub fn resolved_sampling(&self) -> Sampling {
        match self.sampling {
            Sampling::Auto
                if self.data == DataMode::Normal
                    && self.survey.is_none()
                    && !self.tests.iter().any(|t| t.needs_rows()) =>
            {
                Sampling::Wishart
            }
            Sampling::Auto => Sampling::Rows,
            s => s,
        }
    }
}
