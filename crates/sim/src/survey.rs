//! Whole surveys: teams of employees, their construct scores, background variables, Likert items
//! and scale scores, nonresponse, the inclusion rule and item missingness.
//!
//! # Generation
//! Invited employees come in teams (one supervisor each). A team draws a between-team part of the
//! construct scores, every member a within-team part: `y = y_B + y_W` with
//! `Σ_B = D_b R D_b`, `D_b = diag(√(ICCᵢ σᵢᵢ))`, `R` the model's implied correlation matrix, and
//! `Σ_W = Σ − Σ_B`. So the pooled covariance is exactly the model's `Σ`, and each construct's ICC
//! (`Σ_B,ii / σᵢᵢ`) is its target. Then each invitee gets background variables, responds or not
//! (self-selection may depend on the FSSB score), is kept or not by the inclusion rule, and
//! respondents answer the items (see [`crate::likert`]); items go missing (MCAR or MAR on age).
//!
//! # Scale scores
//! A scale score is the mean of the items answered (person-mean, as SPSS `MEAN.n` or R `rowMeans(...,
//! na.rm = TRUE)` guarded by a minimum count), missing when fewer than half of the scale's items are
//! answered: the one rule of [`crate::scale_score`], the same rule `fit` applies to an item export.
//!
//! # Reproducibility
//! Work is cut into blocks of a fixed number of teams (set by the design, never by the number of
//! threads). Block `b` draws from ChaCha8 seeded with the seed on stream `b`; blocks are joined in
//! order and cut at `n` rows, so [`Simulator::simulate`] (parallel, rayon) and
//! [`Simulator::simulate_sequential`] return identical data. Item missingness draws from a
//! separate stream, so the same seed with and without missingness gives the same answers, some of
//! them hidden.

use crate::background::BackgroundModel;
use crate::constructs::LowerFactor;
use crate::design::*;
use crate::likert::{categorised_covariance, categorised_variance, Likert, LikertTarget};
use crate::normal::{bisect, pdf};
use crate::SimError;
use balans_model::{suggest, Model, Population};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use rayon::prelude::*;

/// Mixed into the seed for the missingness stream.
const MISSINGNESS_KEY: u64 = 0x6d69_7373_696e_6721;

/// Invited employees per block (rounded to whole teams).
const BLOCK_INVITEES: f64 = 1024.0;

/// How a construct is measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    /// Likert items (named `items`), calibrated as `scale`.
    Likert {
        /// Item names, in column order.
        items: Vec<String>,
        /// The calibrated response scale.
        scale: Likert,
    },
    /// One continuous observed variable (a variable without items), observed with this reliability
    /// (1 = without error).
    Continuous {
        /// Reliability of the observed score.
        reliability: f64,
    },
}

/// One construct of a simulated survey, as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstructInfo {
    /// Its name.
    pub name: String,
    /// Its model-implied variance `σᵢᵢ`.
    pub variance: f64,
    /// Its ICC (0 without teams).
    pub icc: f64,
    /// How it is measured.
    pub measurement: Measurement,
}

impl ConstructInfo {
    /// Reliability of the observed score: the expected α of Likert items, or the continuous
    /// variable's reliability.
    pub fn reliability(&self) -> f64 {
        match &self.measurement {
            Measurement::Likert { scale, .. } => scale.expected_alpha,
            Measurement::Continuous { reliability } => *reliability,
        }
    }
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Respondent number 1..n.
    Id,
    /// Team (supervisor) number 1.., in order of appearance.
    Team,
    /// A background variable ([`crate::Background`]).
    Background,
    /// A Likert item.
    Item,
    /// A scale score (mean of a construct's answered items).
    Scale,
    /// A continuous observed variable (a construct without items).
    Observed,
    /// A construct's true score (only with [`SurveyDesign::true_scores`]).
    TrueScore,
}

/// One column of [`SurveyData`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// The construct it belongs to (items, scales, observed, true scores).
    pub construct: Option<String>,
}

impl Column {
    /// Whether every value is a whole number.
    pub fn is_integer(&self) -> bool {
        matches!(
            self.kind,
            ColumnKind::Id | ColumnKind::Team | ColumnKind::Background | ColumnKind::Item
        )
    }
}

/// A simulated data set: `n_rows` rows of `columns`, row-major; a missing value is `NaN`.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyData {
    columns: Vec<Column>,
    values: Vec<f64>,
    n_rows: usize,
    invited: u64,
    responded: u64,
}

impl SurveyData {
    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
    /// Number of rows (respondents).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    /// Row `i` (values in column order; `NaN` = missing).
    pub fn row(&self, i: usize) -> &[f64] {
        let c = self.columns.len();
        &self.values[i * c..(i + 1) * c]
    }
    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
    /// A column's values by name.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let j = self.column_index(name)?;
        Some((0..self.n_rows).map(|i| self.row(i)[j]).collect())
    }
    /// How many employees were invited until the `n`-th respondent was kept.
    pub fn invited(&self) -> u64 {
        self.invited
    }
    /// How many of those responded (before the inclusion rule).
    pub fn responded(&self) -> u64 {
        self.responded
    }
}

/// The items of one Likert construct.
#[derive(Debug, Clone)]
struct ItemBlock {
    construct: usize,
    scale: Likert,
}

/// A prepared simulation: calibrated scales, factored covariances and solved intercepts. Build once
/// with [`Simulator::new`], then draw any number of data sets.
#[derive(Debug, Clone)]
pub struct Simulator {
    design: SurveyDesign,
    constructs: Vec<ConstructInfo>,
    correlation: DMatrix<f64>,
    sd: Vec<f64>,
    between: Option<LowerFactor>,
    within: LowerFactor,
    background: BackgroundModel,
    columns: Vec<Column>,
    likert: Vec<ItemBlock>,
    /// Per construct: `Some(error sd)` for continuous variables.
    continuous: Vec<Option<f64>>,
    items_start: usize,
    scales_start: usize,
    true_start: usize,
    selection: Vec<usize>,
    selection_sd: f64,
    response_intercept: f64,
    mar_intercept: f64,
    teams_per_block: u64,
    poisson: Option<Poisson<f64>>,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn check_names(
    setting: &'static str,
    overrides: &[(String, f64)],
    names: &[String],
) -> Result<(), SimError> {
    for (name, _) in overrides {
        if !names.iter().any(|n| n == name) {
            return Err(SimError::UnknownConstruct {
                setting,
                name: name.clone(),
                suggestion: suggest(name, names.iter().map(String::as_str)).map(str::to_string),
                known: names.join(", "),
            });
        }
    }
    Ok(())
}

fn lookup(overrides: &[(String, f64)], name: &str) -> Option<f64> {
    overrides
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
}

/// The design's ranges: N, response rate, self-selection, missingness and team size.
fn check_design(design: &SurveyDesign) -> Result<(), SimError> {
    if design.n == 0 || design.n > MAX_N {
        return Err(SimError::SampleSize { n: design.n });
    }
    if !(design.response_rate > 0.0 && design.response_rate <= 1.0) {
        return Err(SimError::ResponseRate {
            value: design.response_rate,
        });
    }
    if !(design.self_selection.is_finite() && design.self_selection >= 0.0) {
        return Err(SimError::SelfSelection {
            value: design.self_selection,
        });
    }
    let miss = design.missing.rate();
    if !(0.0..1.0).contains(&miss) {
        return Err(SimError::MissingRate { value: miss });
    }
    match design.teams {
        TeamSizes::Fixed(k) if k == 0 || k as f64 > MAX_TEAM_SIZE => {
            Err(SimError::TeamSize { value: k as f64 })
        }
        TeamSizes::Poisson { mean }
            if !(mean.is_finite() && (1.0..=MAX_TEAM_SIZE).contains(&mean)) =>
        {
            Err(SimError::TeamSize { value: mean })
        }
        _ => Ok(()),
    }
}

/// The measurement and ICC of construct `name` (model-implied variance `variance`): the model's
/// `=~` items, else the design's scale of that name, else a continuous observed score.
fn plan_construct(
    model: &Model,
    design: &SurveyDesign,
    name: &String,
    variance: f64,
) -> Result<ConstructInfo, SimError> {
    let known = design.scales.iter().find(|s| s.name == name.as_str());
    let icc = lookup(&design.icc, name).unwrap_or(known.map_or(DEFAULT_ICC, |s| s.icc));
    if !(0.0..1.0).contains(&icc) {
        return Err(SimError::Icc {
            construct: name.clone(),
            value: icc,
        });
    }
    let reliability = lookup(&design.reliability, name);
    if let Some(r) = reliability {
        if !(r > 0.0 && r < 1.0) {
            return Err(SimError::Reliability {
                construct: name.clone(),
                value: r,
            });
        }
    }
    let latent = model.latent_variables().iter().find(|lv| &lv.name == name);
    let measurement = if let Some(lv) = latent {
        let mean = lookup(&design.item_mean, name).unwrap_or(DEFAULT_ITEM_MEAN);
        let items: Vec<String> = lv.indicators.iter().map(|ind| ind.name.clone()).collect();
        let given: Option<Vec<(String, f64)>> = lv
            .indicators
            .iter()
            .map(|ind| ind.loading.map(|l| (ind.name.clone(), l)))
            .collect();
        let scale = match (given, reliability) {
            (Some(loadings), None) => Likert::from_loadings(name, &loadings, mean, 1, 7)?,
            (_, r) => Likert::calibrate(
                name,
                &LikertTarget {
                    items: items.len(),
                    reliability: r.unwrap_or(DEFAULT_RELIABILITY),
                    item_mean: mean,
                    min: 1,
                    max: 7,
                },
            )?,
        };
        Measurement::Likert { items, scale }
    } else if let Some(s) = known {
        let mean = lookup(&design.item_mean, name).unwrap_or(s.item_mean);
        let target = LikertTarget {
            items: s.items,
            reliability: reliability.unwrap_or(s.reliability),
            item_mean: mean,
            min: s.min,
            max: s.max,
        };
        let scale = Likert::calibrate(name, &target)?;
        Measurement::Likert {
            items: (1..=s.items).map(|k| format!("{name}{k}")).collect(),
            scale,
        }
    } else {
        Measurement::Continuous {
            reliability: reliability.unwrap_or(1.0),
        }
    };
    Ok(ConstructInfo {
        name: name.clone(),
        variance,
        icc,
        measurement,
    })
}

/// The between-team factor (`None` without teams or ICCs) and the within-team factor: `Σ_B =
/// D_b R D_b`, `Σ_W = Σ − Σ_B` (see the module documentation).
fn team_factors(
    constructs: &[ConstructInfo],
    sigma: &DMatrix<f64>,
    correlation: &DMatrix<f64>,
    teams_on: bool,
) -> Result<(Option<LowerFactor>, LowerFactor), SimError> {
    let p = constructs.len();
    let names = || {
        constructs
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !(teams_on && constructs.iter().any(|c| c.icc > 0.0)) {
        let f = LowerFactor::cholesky(sigma).ok_or_else(|| SimError::NotPositiveDefinite {
            what: "implied",
            names: names(),
        })?;
        return Ok((None, f));
    }
    let chol_r = correlation
        .clone()
        .cholesky()
        .ok_or_else(|| SimError::NotPositiveDefinite {
            what: "implied",
            names: names(),
        })?;
    let d_b = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
        p,
        (0..p).map(|i| (constructs[i].icc * sigma[(i, i)]).sqrt()),
    ));
    let sigma_b = &d_b * correlation * &d_b;
    let sigma_w = sigma - &sigma_b;
    let sigma_w = (&sigma_w + sigma_w.transpose()) * 0.5;
    let Some(within) = LowerFactor::cholesky(&sigma_w) else {
        let k = (1..=p)
            .find(|&k| {
                sigma_w
                    .view((0, 0), (k, k))
                    .into_owned()
                    .cholesky()
                    .is_none()
            })
            .unwrap_or(p);
        let list = constructs[..k]
            .iter()
            .map(|c| format!("{} (ICC {})", c.name, c.icc))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SimError::IccIncompatible { names: list });
    };
    Ok((Some(LowerFactor::from_matrix(&(&d_b * chol_r.l()))), within))
}

/// The columns of a data set and where each part starts.
struct Layout {
    columns: Vec<Column>,
    likert: Vec<ItemBlock>,
    /// Per construct: `Some(error sd)` for continuous variables.
    continuous: Vec<Option<f64>>,
    items_start: usize,
    scales_start: usize,
    true_start: usize,
}

impl Layout {
    /// `id`, `team`, background variables, items, scale scores (or observed scores), true scores;
    /// refuses two columns of the same name.
    fn new(design: &SurveyDesign, constructs: &[ConstructInfo]) -> Result<Layout, SimError> {
        let column = |name: String, kind, construct: Option<&String>| Column {
            name,
            kind,
            construct: construct.cloned(),
        };
        let mut columns = vec![
            column("id".into(), ColumnKind::Id, None),
            column("team".into(), ColumnKind::Team, None),
        ];
        columns.extend(
            design
                .background
                .variables
                .iter()
                .map(|b| column(b.name.to_string(), ColumnKind::Background, None)),
        );
        let items_start = columns.len();
        let mut likert = Vec::new();
        let mut continuous = Vec::with_capacity(constructs.len());
        for (i, c) in constructs.iter().enumerate() {
            match &c.measurement {
                Measurement::Likert { items, scale } => {
                    for item in items {
                        columns.push(column(item.clone(), ColumnKind::Item, Some(&c.name)));
                    }
                    likert.push(ItemBlock {
                        construct: i,
                        scale: scale.clone(),
                    });
                    continuous.push(None);
                }
                Measurement::Continuous { reliability } => continuous.push(Some(
                    (c.variance * (1.0 - reliability) / reliability).sqrt(),
                )),
            }
        }
        let scales_start = columns.len();
        for c in constructs {
            let kind = if matches!(c.measurement, Measurement::Likert { .. }) {
                ColumnKind::Scale
            } else {
                ColumnKind::Observed
            };
            columns.push(column(c.name.clone(), kind, Some(&c.name)));
        }
        let true_start = columns.len();
        if design.true_scores {
            for c in constructs {
                let name = format!("true_{}", c.name);
                columns.push(column(name, ColumnKind::TrueScore, Some(&c.name)));
            }
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(SimError::DuplicateColumn {
                    name: c.name.clone(),
                });
            }
        }
        Ok(Layout {
            columns,
            likert,
            continuous,
            items_start,
            scales_start,
            true_start,
        })
    }
}

/// The constructs self-selection depends on (the design's selection constructs present, else the
/// first variable) and the SD of their mean standardized score.
fn selection(
    design: &SurveyDesign,
    names: &[String],
    correlation: &DMatrix<f64>,
) -> (Vec<usize>, f64) {
    let mut selection: Vec<usize> = (0..names.len())
        .filter(|&i| design.selection.contains(&names[i]))
        .collect();
    if selection.is_empty() {
        selection.push(0);
    }
    let m = selection.len() as f64;
    let sd = (selection
        .iter()
        .flat_map(|&a| selection.iter().map(move |&b| (a, b)))
        .map(|(a, b)| correlation[(a, b)])
        .sum::<f64>()
        / (m * m))
        .sqrt();
    (selection, sd)
}

/// Intercept `a` of `logit P(respond) = a + s (f² − 1)` giving the response rate on average over
/// `f ~ N(0, 1)` (∞ when everyone responds).
fn response_intercept(rate: f64, strength: f64) -> f64 {
    if rate >= 1.0 {
        f64::INFINITY
    } else if strength == 0.0 {
        (rate / (1.0 - rate)).ln()
    } else {
        // E over f ~ N(0, 1) of logistic(a + s (f² − 1)), trapezoid on [−10, 10].
        let grid: Vec<(f64, f64)> = (0..=4000)
            .map(|k| -10.0 + k as f64 * 0.005)
            .map(|f| (f, pdf(f) * 0.005))
            .collect();
        bisect(
            |a| {
                grid.iter()
                    .map(|(f, w)| w * logistic(a + strength * (f * f - 1.0)))
                    .sum::<f64>()
                    - rate
            },
            -60.0,
            60.0,
        )
    }
}

/// Intercept `b` of the MAR model `logit P(item missing) = b + x_z` giving the average rate over
/// the MAR variable's distribution (−∞ without MAR missingness).
fn mar_intercept(missing: Missingness, background: &BackgroundModel) -> Result<f64, SimError> {
    let Missingness::Mar(rate) = missing else {
        return Ok(f64::NEG_INFINITY);
    };
    if rate <= 0.0 {
        return Ok(f64::NEG_INFINITY);
    }
    let values = background
        .mar_distribution()
        .ok_or(SimError::NoMarVariable)?;
    Ok(bisect(
        |b| {
            values
                .iter()
                .map(|(a, w)| w * logistic(b + background.mar_z_of(*a)))
                .sum::<f64>()
                - rate
        },
        -60.0,
        60.0,
    ))
}

impl Simulator {
    /// Validates the design against the model, calibrates the scales and factors the covariances.
    pub fn new(model: &Model, design: &SurveyDesign) -> Result<Simulator, SimError> {
        let population = model.population()?;
        Simulator::from_population(model, &population, design)
    }

    /// As [`Simulator::new`], with the population already built from `model`. The phases:
    /// check the design, plan each construct's measurement, factor the between- and within-team
    /// covariances, prepare the background, lay out the columns, solve the response and MAR
    /// intercepts.
    pub fn from_population(
        model: &Model,
        population: &Population,
        design: &SurveyDesign,
    ) -> Result<Simulator, SimError> {
        check_design(design)?;
        let names = population.names().to_vec();
        check_names("ICC", &design.icc, &names)?;
        check_names("reliability", &design.reliability, &names)?;
        check_names("item mean", &design.item_mean, &names)?;
        let sigma = population.implied_covariance();
        let p = names.len();
        let sd: Vec<f64> = (0..p).map(|i| sigma[(i, i)].sqrt()).collect();
        let correlation = population.implied_correlation();
        let teams_on = !matches!(design.teams, TeamSizes::None | TeamSizes::Fixed(1))
            && !matches!(design.teams, TeamSizes::Poisson { mean } if mean <= 1.0);
        let constructs = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut info = plan_construct(model, design, name, sigma[(i, i)])?;
                if !teams_on {
                    info.icc = 0.0;
                }
                Ok(info)
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        let (between, within) = team_factors(&constructs, sigma, &correlation, teams_on)?;
        let background = BackgroundModel::new(&design.background, &names, &correlation)?;
        if design.inclusion && background.kept_share().is_none() {
            return Err(SimError::NoInclusionRule);
        }
        let layout = Layout::new(design, &constructs)?;
        let (selection, selection_sd) = selection(design, &names, &correlation);
        let response_intercept = response_intercept(design.response_rate, design.self_selection);
        let mar_intercept = mar_intercept(design.missing, &background)?;
        let mean_size = design.teams.mean();
        let teams_per_block = (BLOCK_INVITEES / mean_size).round().max(1.0) as u64;
        let poisson = match design.teams {
            TeamSizes::Poisson { mean } if mean > 1.0 => {
                Some(Poisson::new(mean - 1.0).map_err(|_| SimError::TeamSize { value: mean })?)
            }
            _ => None,
        };
        Ok(Simulator {
            design: design.clone(),
            constructs,
            correlation,
            sd,
            between,
            within,
            background,
            columns: layout.columns,
            likert: layout.likert,
            continuous: layout.continuous,
            items_start: layout.items_start,
            scales_start: layout.scales_start,
            true_start: layout.true_start,
            selection,
            selection_sd,
            response_intercept,
            mar_intercept,
            teams_per_block,
            poisson,
        })
    }

    /// The design.
    pub fn design(&self) -> &SurveyDesign {
        &self.design
    }

    /// The constructs with their measurement, in the model's variable order.
    pub fn constructs(&self) -> &[ConstructInfo] {
        &self.constructs
    }

    /// The columns every data set of this simulator has.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Intercept `a` of the response model `logit P(respond) = a + s (f² − 1)` (∞ when everyone
    /// responds).
    pub fn response_intercept(&self) -> f64 {
        self.response_intercept
    }

    /// Population correlation between the observed scores of two constructs (scale means of
    /// categorised items, or continuous observed values), computed exactly from the threshold
    /// model, before nonresponse and selection. Close to the attenuation formula
    /// `ρᵢⱼ √(relᵢ relⱼ)` (Spearman 1904), not equal to it: cutting items into categories is not
    /// linear. `None` for an unknown name.
    pub fn expected_scale_correlation(&self, a: &str, b: &str) -> Option<f64> {
        let i = self.constructs.iter().position(|c| c.name == a)?;
        let j = self.constructs.iter().position(|c| c.name == b)?;
        let var = |k: usize| self.observed_covariance(k, k);
        Some(self.observed_covariance(i, j) / (var(i) * var(j)).sqrt())
    }

    /// Covariance of the standardized-construct observed scores `i` and `j` (Likert: scale mean;
    /// continuous: value / σ).
    fn observed_covariance(&self, i: usize, j: usize) -> f64 {
        let rho = if i == j {
            1.0
        } else {
            self.correlation[(i, j)]
        };
        match (
            &self.constructs[i].measurement,
            &self.constructs[j].measurement,
        ) {
            (Measurement::Likert { scale: si, .. }, Measurement::Likert { scale: sj, .. }) => {
                let (ki, kj) = (si.loadings.len(), sj.loadings.len());
                let mut total = 0.0;
                for (a, la) in si.loadings.iter().enumerate() {
                    for (b, lb) in sj.loadings.iter().enumerate() {
                        total += if i == j && a == b {
                            categorised_variance(&si.thresholds)
                        } else {
                            categorised_covariance(&si.thresholds, &sj.thresholds, la * lb * rho)
                        };
                    }
                }
                total / (ki * kj) as f64
            }
            (Measurement::Likert { scale, .. }, Measurement::Continuous { .. })
            | (Measurement::Continuous { .. }, Measurement::Likert { scale, .. }) => {
                // Stein's lemma: Cov(g(Y*), Z) = Cov(Y*, Z) E[g'(Y*)], g' = Σⱼ δ(y − τⱼ).
                let mean_loading = scale.loadings.iter().sum::<f64>() / scale.loadings.len() as f64;
                mean_loading * rho * scale.thresholds.iter().map(|t| pdf(*t)).sum::<f64>()
            }
            (Measurement::Continuous { reliability: ri }, Measurement::Continuous { .. }) => {
                if i == j {
                    1.0 / ri
                } else {
                    rho
                }
            }
        }
    }

    /// Draws a data set, generating blocks in parallel (rayon). Identical to
    /// [`Simulator::simulate_sequential`] whatever the number of threads.
    pub fn simulate(&self, seed: u64) -> SurveyData {
        self.assemble(seed, true)
    }

    /// Draws a data set on the calling thread only.
    pub fn simulate_sequential(&self, seed: u64) -> SurveyData {
        self.assemble(seed, false)
    }

    fn expected_rows_per_block(&self) -> f64 {
        let inclusion = match self.background.kept_share() {
            Some(kept) if self.design.inclusion => kept,
            _ => 1.0,
        };
        (self.teams_per_block as f64
            * self.design.teams.mean()
            * self.design.response_rate
            * inclusion)
            .max(1e-9)
    }

    /// A reusable workspace for [`Simulator::simulate_into`].
    pub fn new_scratch(&self) -> SurveyScratch {
        SurveyScratch {
            block: Block::with_capacity(self.design.n + 1, self.columns.len()),
            draws: Draws::new(self.sd.len(), self.background.len()),
        }
    }

    /// Draws a data set on the calling thread into `scratch`, reusing its buffers (nothing is
    /// allocated once they have grown to size), and returns its row-major values (`n` rows of
    /// [`Simulator::columns`]). The same rows as [`Simulator::simulate_sequential`].
    pub fn simulate_into<'s>(&self, seed: u64, scratch: &'s mut SurveyScratch) -> &'s [f64] {
        let SurveyScratch { block, draws } = scratch;
        block.clear();
        self.assemble_sequential(seed, block, draws);
        let width = self.columns.len();
        let values = &mut block.values[..self.design.n * width];
        number_rows(values, width);
        values
    }

    /// Generates blocks in order on this thread until `out` holds `n` rows; returns the numbers
    /// invited and responded up to the n-th row.
    fn assemble_sequential(&self, seed: u64, out: &mut Block, draws: &mut Draws) -> (u64, u64) {
        let n = self.design.n;
        let (mut invited, mut responded) = (0u64, 0u64);
        let mut next_block = 0u64;
        loop {
            let start = out.invitee.len();
            out.invited = 0;
            out.responded = 0;
            self.block(seed, next_block, out, n, draws);
            next_block += 1;
            if out.invitee.len() < n {
                invited += out.invited;
                responded += out.responded;
            } else {
                let last = n - 1;
                debug_assert!(last >= start);
                return (invited + out.invitee[last], responded + out.responder[last]);
            }
        }
    }

    fn assemble(&self, seed: u64, parallel: bool) -> SurveyData {
        let n = self.design.n;
        let width = self.columns.len();
        let mut out = Block::with_capacity(n + 1, width);
        let (invited, responded) = if parallel {
            self.assemble_parallel(seed, &mut out)
        } else {
            self.assemble_sequential(
                seed,
                &mut out,
                &mut Draws::new(self.sd.len(), self.background.len()),
            )
        };
        let mut values = out.values;
        values.truncate(n * width);
        number_rows(&mut values, width);
        SurveyData {
            columns: self.columns.clone(),
            values,
            n_rows: n,
            invited,
            responded,
        }
    }

    /// Generates batches of blocks in parallel and joins them in block order until `out` holds `n`
    /// rows; returns the numbers invited and responded up to the n-th row.
    fn assemble_parallel(&self, seed: u64, out: &mut Block) -> (u64, u64) {
        let n = self.design.n;
        let width = self.columns.len();
        let (mut invited, mut responded) = (0u64, 0u64);
        let mut next_block = 0u64;
        let per_block = self.expected_rows_per_block();
        loop {
            let remaining = n - out.invitee.len();
            let batch = ((remaining as f64 / per_block * 1.05).ceil() as u64 + 1).min(1024);
            let range = next_block..next_block + batch;
            next_block += batch;
            let blocks: Vec<Block> = range
                .into_par_iter()
                .map(|b| {
                    let mut block = Block::with_capacity((per_block * 1.2) as usize + 8, width);
                    let mut draws = Draws::new(self.sd.len(), self.background.len());
                    self.block(seed, b, &mut block, usize::MAX, &mut draws);
                    block
                })
                .collect();
            for block in blocks {
                let start = out.invitee.len();
                out.values.extend_from_slice(&block.values);
                out.invitee.extend_from_slice(&block.invitee);
                out.responder.extend_from_slice(&block.responder);
                if out.invitee.len() < n {
                    invited += block.invited;
                    responded += block.responded;
                } else {
                    let last = n - 1;
                    debug_assert!(last >= start);
                    return (invited + out.invitee[last], responded + out.responder[last]);
                }
            }
        }
    }

    /// Generates block `index` (`teams_per_block` invited teams), appending respondents to `block`
    /// until it holds `limit` rows. Stopping early never changes the rows already drawn.
    fn block(&self, seed: u64, index: u64, block: &mut Block, limit: usize, draws: &mut Draws) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        // Missingness has its own stream, so `--missing` hides answers of the same data set.
        let mut missing_rng = ChaCha8Rng::seed_from_u64(seed ^ MISSINGNESS_KEY);
        missing_rng.set_stream(index);
        let width = self.columns.len();
        // Every person's y, z and background are drawn in full before use, and `between` is read
        // only when a between-team part exists (then drawn for each team first), so reused
        // buffers give the same rows as fresh ones.
        let Draws { between, y, z, bg } = draws;
        let (between, y, z, bg) = (&mut between[..], &mut y[..], &mut z[..], &mut bg[..]);
        let rate = self.design.response_rate;
        let strength = self.design.self_selection;
        let sel_m = self.selection.len() as f64;
        for t in 0..self.teams_per_block {
            let team_id = (index * self.teams_per_block + t) as f64;
            let size = match (self.design.teams, &self.poisson) {
                (TeamSizes::Fixed(k), _) => k as u64,
                (_, Some(poisson)) => 1 + poisson.sample(&mut rng) as u64,
                _ => 1,
            };
            if let Some(lb) = &self.between {
                lb.draw(&mut rng, between);
            }
            for _ in 0..size {
                block.invited += 1;
                self.within.draw(&mut rng, y);
                if self.between.is_some() {
                    for (v, b) in y.iter_mut().zip(between.iter()) {
                        *v += b;
                    }
                }
                for ((zi, yi), s) in z.iter_mut().zip(y.iter()).zip(&self.sd) {
                    *zi = yi / s;
                }
                self.background.draw(&mut rng, z, bg);
                if rate < 1.0 {
                    let f = self.selection.iter().map(|&i| z[i]).sum::<f64>()
                        / sel_m
                        / self.selection_sd;
                    let prob = logistic(self.response_intercept + strength * (f * f - 1.0));
                    if rng.gen::<f64>() >= prob {
                        continue;
                    }
                }
                block.responded += 1;
                if self.design.inclusion && !self.background.included(bg) {
                    continue;
                }
                let start = block.values.len();
                block.values.resize(start + width, 0.0);
                let person = Person {
                    team: team_id,
                    y,
                    z,
                    background: bg,
                };
                self.write_row(
                    &mut rng,
                    &mut missing_rng,
                    &person,
                    &mut block.values[start..],
                );
                block.invitee.push(block.invited);
                block.responder.push(block.responded);
                if block.invitee.len() >= limit {
                    return;
                }
            }
        }
    }

    #[inline]
    fn write_row<R: Rng>(
        &self,
        rng: &mut R,
        missing_rng: &mut R,
        person: &Person<'_>,
        row: &mut [f64],
    ) {
        let Person {
            team,
            y,
            z,
            background: bg,
        } = *person;
        row[0] = 0.0;
        row[1] = team;
        row[2..2 + bg.len()].copy_from_slice(bg);
        let miss = match self.design.missing {
            Missingness::None => 0.0,
            Missingness::Mcar(p) => p,
            Missingness::Mar(_) => logistic(self.mar_intercept + self.background.mar_z(bg)),
        };
        let mut col = self.items_start;
        for items in &self.likert {
            let zc = z[items.construct];
            let (mut sum, mut count) = (0.0, 0u32);
            for item in 0..items.scale.loadings.len() {
                let mut v = items.scale.response(item, zc, rng);
                if miss > 0.0 && missing_rng.gen::<f64>() < miss {
                    v = f64::NAN;
                } else {
                    sum += v;
                    count += 1;
                }
                row[col] = v;
                col += 1;
            }
            // The one scale-score rule (crate::scale_score): the mean of the answered items when
            // at least half of the scale's items are answered, else missing — as `fit` scores an
            // item export.
            let need = crate::scale_score::min_answered(
                items.scale.loadings.len(),
                crate::scale_score::DEFAULT_MIN_ITEM_SHARE,
            );
            row[self.scales_start + items.construct] = if count > 0 && count as usize >= need {
                sum / f64::from(count)
            } else {
                f64::NAN
            };
        }
        for (i, err) in self.continuous.iter().enumerate() {
            if let Some(err) = err {
                let mut v = y[i]
                    + if *err > 0.0 {
                        err * rng.sample::<f64, _>(StandardNormal)
                    } else {
                        0.0
                    };
                if miss > 0.0 && missing_rng.gen::<f64>() < miss {
                    v = f64::NAN;
                }
                row[self.scales_start + i] = v;
            }
        }
        if self.design.true_scores {
            row[self.true_start..self.true_start + y.len()].copy_from_slice(y);
        }
    }
}

/// One respondent's drawn scores, on the way to a row.
struct Person<'a> {
    team: f64,
    /// Construct scores.
    y: &'a [f64],
    /// Standardized construct scores.
    z: &'a [f64],
    background: &'a [f64],
}

/// Numbers respondents 1..n and teams 1.. in order of appearance (columns 0 and 1).
fn number_rows(values: &mut [f64], width: usize) {
    let mut team_number = 0.0;
    let mut last_team = f64::NAN;
    for (i, row) in values.chunks_exact_mut(width).enumerate() {
        row[0] = (i + 1) as f64;
        if row[1].to_bits() != last_team.to_bits() {
            last_team = row[1];
            team_number += 1.0;
        }
        row[1] = team_number;
    }
}

/// Per-person draw buffers of [`Simulator::block`].
#[derive(Debug, Clone)]
struct Draws {
    between: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    bg: Vec<f64>,
}

impl Draws {
    fn new(p: usize, q: usize) -> Draws {
        Draws {
            between: vec![0.0; p],
            y: vec![0.0; p],
            z: vec![0.0; p],
            bg: vec![0.0; q],
        }
    }
}

/// A reusable workspace for [`Simulator::simulate_into`] (from [`Simulator::new_scratch`]): the
/// power analysis draws one survey per replication without allocating.
#[derive(Debug, Clone)]
pub struct SurveyScratch {
    block: Block,
    draws: Draws,
}

/// Rows kept from one or more blocks, with bookkeeping to cut the data at exactly `n` rows.
#[derive(Debug, Clone)]
struct Block {
    values: Vec<f64>,
    /// For each row: invitees of this block up to and including this person.
    invitee: Vec<u64>,
    /// For each row: responders of this block up to and including this person.
    responder: Vec<u64>,
    invited: u64,
    responded: u64,
}

impl Block {
    fn clear(&mut self) {
        self.values.clear();
        self.invitee.clear();
        self.responder.clear();
        self.invited = 0;
        self.responded = 0;
    }

    fn with_capacity(rows: usize, width: usize) -> Block {
        Block {
            values: Vec::with_capacity(rows * width),
            invitee: Vec::with_capacity(rows),
            responder: Vec::with_capacity(rows),
            invited: 0,
            responded: 0,
        }
    }
}

/// Prepares and draws one data set: `Simulator::new(model, design)?.simulate(seed)`.
pub fn simulate(model: &Model, design: &SurveyDesign, seed: u64) -> Result<SurveyData, SimError> {
    Ok(Simulator::new(model, design)?.simulate(seed))
}
