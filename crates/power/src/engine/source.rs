//! Where a replication's data come from ([`DataSource`]), and the buffers they are drawn into
//! ([`Data`]). Every generator lives in `balans_sim`; this module only picks one per condition and
//! turns its output into the analysis variables' sample covariance matrix.

use crate::config::{DataMode, MissingData, PowerConfig, Sampling};
use crate::error::PowerError;
use crate::study::Study;
use balans_sim::{
    ConstructSampler, Likert, LikertTarget, Missingness, RowCovarianceSampler,
    RowCovarianceScratch, Simulator, SurveyDesign, SurveyScratch, TeamSizes, WishartSampler,
};
use nalgebra::DMatrix;
use rand::RngCore;

/// How one condition's data sets are drawn.
pub(crate) enum DataSource {
    /// The sample covariance matrix drawn directly from its Wishart distribution (normal complete
    /// data, no bootstrap): `p(p+1)/2` draws, independent of N.
    Wishart(WishartSampler),
    /// N normal rows of which only the sample covariance matrix is formed (normal complete data,
    /// no bootstrap, [`Sampling::Rows`]).
    NormalMoments(RowCovarianceSampler),
    /// N rows of construct scores (kept: the bootstrap resamples them).
    Rows(ConstructSampler),
    /// N rows of construct scores, each analysis variable with a known scale measured as the mean
    /// of its Likert items (`(scale, construct SD)`; `None`: analysed as the construct score).
    Items {
        /// The construct scores.
        sampler: ConstructSampler,
        /// Per analysis variable.
        scales: Vec<Option<(Likert, f64)>>,
    },
    /// The survey simulator (teams, item missingness), analysed with listwise deletion.
    Survey {
        /// The simulator.
        simulator: Box<Simulator>,
        /// Per analysis variable, its column in the survey data.
        columns: Vec<usize>,
        /// The team column, when the analysis is cluster-robust by team.
        team: Option<usize>,
    },
}

impl DataSource {
    /// The source of a condition with sample size `n`; `needs_rows`: some test resamples rows.
    pub(crate) fn new(
        study: &Study,
        config: &PowerConfig,
        n: usize,
        needs_rows: bool,
    ) -> Result<DataSource, PowerError> {
        if config.survey.is_some() {
            return survey(study, config, n);
        }
        Ok(match config.resolved_sampling() {
            Sampling::Wishart => {
                DataSource::Wishart(WishartSampler::new(&study.analysis_covariance(), n)?)
            }
            _ if config.data == DataMode::Items => DataSource::Items {
                sampler: ConstructSampler::new(&study.population)?,
                scales: item_scales(study, &config.design)?,
            },
            _ if !needs_rows => DataSource::NormalMoments(RowCovarianceSampler::new(
                &study.population,
                &study.columns,
            )?),
            _ => DataSource::Rows(ConstructSampler::new(&study.population)?),
        })
    }

    /// Whether the source writes the analysis rows into [`Data::rows`] (which the bootstrap needs).
    fn has_rows(&self) -> bool {
        matches!(
            self,
            DataSource::Rows(_) | DataSource::Items { .. } | DataSource::Survey { .. }
        )
    }

    /// Whether each data set comes with the team of every row ([`Data::clusters`]) for a
    /// cluster-robust analysis.
    pub(crate) fn clustered(&self) -> bool {
        matches!(self, DataSource::Survey { team: Some(_), .. })
    }

    /// Whether the fit can reuse the draw's own Cholesky factor ([`Data::factor`]).
    pub(crate) fn has_factor(&self) -> bool {
        matches!(self, DataSource::Wishart(_))
    }

    /// Buffers for data sets of `n` rows of the `p` analysis variables (`pop_p` population ones).
    pub(crate) fn buffers(&self, n: usize, p: usize, pop_p: usize) -> Data {
        let (rows, draws) = match self {
            DataSource::Rows(_) | DataSource::Items { .. } => (n * p, n * pop_p),
            DataSource::Survey { .. } => (n * p, 0),
            _ => (0, 0),
        };
        Data {
            s: DMatrix::zeros(p, p),
            n_used: n,
            rows: vec![0.0; rows],
            draws: vec![0.0; draws],
            means: vec![0.0; p],
            bartlett: vec![0.0; if self.has_factor() { p * p } else { 0 }],
            factor: vec![0.0; if self.has_factor() { p * p } else { 0 }],
            moments: match self {
                DataSource::NormalMoments(m) => Some(m.scratch(n)),
                _ => None,
            },
            survey: None,
            clusters: Vec::with_capacity(if self.clustered() { n } else { 0 }),
        }
    }

    /// Draws one data set of `n` rows into `data`: its sample covariance matrix `data.s`, the rows
    /// used `data.n_used` and (where the source has rows) the analysis rows `data.rows`. Returns
    /// `false` when fewer than `min_rows` complete rows remain (survey with missing items).
    pub(crate) fn generate<R: RngCore>(
        &self,
        rng: &mut R,
        study: &Study,
        n: usize,
        data: &mut Data,
    ) -> bool {
        let p = study.spec.variables().len();
        data.n_used = n;
        match self {
            DataSource::Wishart(w) => {
                w.sample_covariance(rng, &mut data.bartlett, data.s.as_mut_slice());
                // The draw knows its own Cholesky factor; the fit need not factor S again.
                w.factor_of_last(&data.bartlett, &mut data.factor);
                return true;
            }
            DataSource::NormalMoments(m) => {
                let scratch = data.moments.as_mut().expect("buffers of this source");
                m.sample_covariance(rng, scratch, &mut data.s);
                return true;
            }
            DataSource::Rows(sampler) => {
                sampler.fill(rng, n, &mut data.draws);
                select_columns(&data.draws, sampler.dim(), &study.columns, &mut data.rows);
            }
            DataSource::Items { sampler, scales } => {
                sampler.fill(rng, n, &mut data.draws);
                scale_scores(
                    rng,
                    &data.draws,
                    sampler.dim(),
                    study,
                    scales,
                    &mut data.rows,
                );
            }
            DataSource::Survey {
                simulator,
                columns,
                team,
            } => {
                if !survey_rows(
                    rng,
                    simulator,
                    columns,
                    *team,
                    data,
                    study.min_sample_size(),
                ) {
                    return false;
                }
                data.n_used = data.rows.len() / p;
            }
        }
        debug_assert!(self.has_rows());
        balans_estimate::covariance_into(&data.rows, p, &mut data.means, &mut data.s);
        true
    }
}

/// One replication's data, and the buffers they are drawn with (allocated once per thread).
pub(crate) struct Data {
    /// Sample covariance matrix (N denominator) of the analysis variables.
    pub(crate) s: DMatrix<f64>,
    /// Rows behind `s` (fewer than N after listwise deletion).
    pub(crate) n_used: usize,
    /// Row-major analysis rows (sources with rows).
    pub(crate) rows: Vec<f64>,
    /// Row-major construct scores of every population variable.
    draws: Vec<f64>,
    means: Vec<f64>,
    /// Bartlett factor of the Wishart draw.
    bartlett: Vec<f64>,
    /// Upper Cholesky factor of the last Wishart draw (column-major p × p).
    pub(crate) factor: Vec<f64>,
    moments: Option<RowCovarianceScratch>,
    /// Reused buffers of the survey simulator (teams, missingness).
    survey: Option<SurveyScratch>,
    /// The team of every row of `rows` (cluster-robust survey analyses only).
    pub(crate) clusters: Vec<u64>,
}

/// Copies the analysis `columns` of row-major `draws` (`width` values a row) into `out`.
fn select_columns(draws: &[f64], width: usize, columns: &[usize], out: &mut [f64]) {
    for (row, o) in draws
        .chunks_exact(width)
        .zip(out.chunks_exact_mut(columns.len()))
    {
        for (v, &c) in o.iter_mut().zip(columns) {
            *v = row[c];
        }
    }
}

/// The analysis rows of item data: per analysis variable, the scale score of its items (drawn from
/// `rng`, row by row, variable by variable) or the construct score.
fn scale_scores<R: RngCore>(
    rng: &mut R,
    draws: &[f64],
    width: usize,
    study: &Study,
    scales: &[Option<(Likert, f64)>],
    out: &mut [f64],
) {
    let p = study.columns.len();
    for (row, o) in draws.chunks_exact(width).zip(out.chunks_exact_mut(p)) {
        for ((v, &c), scale) in o.iter_mut().zip(&study.columns).zip(scales) {
            *v = match scale {
                None => row[c],
                Some((likert, sd)) => likert.scale_score(row[c] / sd, rng),
            };
        }
    }
}

/// Draws a survey and keeps its complete rows of the analysis columns (listwise deletion) in
/// `data.rows`, with their teams (column `team`) in `data.clusters`; `false` when fewer than
/// `min_rows` remain.
fn survey_rows<R: RngCore>(
    rng: &mut R,
    simulator: &Simulator,
    columns: &[usize],
    team: Option<usize>,
    data: &mut Data,
    min_rows: usize,
) -> bool {
    let scratch = data.survey.get_or_insert_with(|| simulator.new_scratch());
    let values = simulator.simulate_into(rng.next_u64(), scratch);
    // The buffers have room for n rows, so this does not reallocate.
    data.rows.clear();
    data.clusters.clear();
    for row in values.chunks_exact(simulator.columns().len()) {
        if columns.iter().all(|&c| row[c].is_finite()) {
            data.rows.extend(columns.iter().map(|&c| row[c]));
            if let Some(t) = team {
                // Team ids are whole numbers written as f64 by the simulator.
                data.clusters.push(row[t] as u64);
            }
        }
    }
    data.rows.len() / columns.len() >= min_rows
}

/// The survey source: the simulator of the configured teams and missingness.
fn survey(study: &Study, config: &PowerConfig, n: usize) -> Result<DataSource, PowerError> {
    let options = config.survey.as_ref().expect("survey options");
    let design = SurveyDesign {
        n,
        teams: options
            .teams
            .map_or(TeamSizes::None, |mean| TeamSizes::Poisson { mean }),
        missing: match options.missing {
            None => Missingness::None,
            Some(MissingData::Mcar(r)) => Missingness::Mcar(r),
            Some(MissingData::Mar(r)) => Missingness::Mar(r),
        },
        true_scores: config.data == DataMode::Normal,
        ..config.design.clone()
    };
    let simulator = Simulator::from_population(&study.model, &study.population, &design)?;
    let columns = study
        .spec
        .variables()
        .iter()
        .map(|v| {
            let name = if config.data == DataMode::Normal {
                format!("true_{v}")
            } else {
                v.clone()
            };
            simulator
                .columns()
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| {
                    PowerError::Incompatible(format!(
                        "the survey simulator has no column '{name}' for the analysis"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let team = if options.cluster_robust() {
        Some(
            simulator
                .columns()
                .iter()
                .position(|c| c.name == "team")
                .ok_or_else(|| {
                    PowerError::Incompatible(
                        "the survey simulator has no 'team' column for a cluster-robust analysis"
                            .into(),
                    )
                })?,
        )
    } else {
        None
    };
    Ok(DataSource::Survey {
        simulator: Box::new(simulator),
        columns,
        team,
    })
}

/// Per analysis variable: its calibrated scale and the construct's SD, when the design's scale
/// table has it.
fn item_scales(
    study: &Study,
    design: &SurveyDesign,
) -> Result<Vec<Option<(Likert, f64)>>, PowerError> {
    let sigma = study.population.implied_covariance();
    let mut scales = Vec::new();
    for (i, name) in study.spec.variables().iter().enumerate() {
        let scale = match design.scales.iter().find(|s| s.name == name.as_str()) {
            Some(s) => {
                let target = LikertTarget {
                    items: s.items,
                    reliability: s.reliability,
                    item_mean: s.item_mean,
                    min: s.min,
                    max: s.max,
                };
                let c = study.columns[i];
                Some((Likert::calibrate(name, &target)?, sigma[(c, c)].sqrt()))
            }
            None => None,
        };
        scales.push(scale);
    }
    Ok(scales)
}
