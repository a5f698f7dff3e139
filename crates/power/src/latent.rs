//! Monte Carlo power of latent-variable analysis models (`=~`) on item data.
//!
//! Each replication draws N rows of multivariate normal items from the population model's observed
//! covariance matrix ([`balans_model::Model::observed_population`]: loadings, residual variances
//! derived under the model's semantics), fits the analysis model by ML
//! ([`balans_estimate::sem::fit_sem_lean`]: estimates, expected-information SEs, delta-method SEs of
//! effects) and records, per effect, whether each test rejects at `alpha`: the Wald z test for a
//! path; the Sobel (delta) test and joint significance for an indirect effect (a route or a `:=`
//! product). Fits that do not converge are counted, not tested; improper solutions (a negative
//! variance estimate) are counted and tested as lavaan users would.
//!
//! Runs on [`crate::montecarlo::run`]: replication r at sample size N draws from stream
//! `(seed, N, r)`, so results are the same for any number of threads.

use crate::PowerError;
use balans_estimate::sem::{fit_sem_lean, PatternData, SemConfig, SemKind, SemOptions, SemSpec};
use balans_estimate::{covariance_into, normal_pvalue, EffectKind};
use balans_model::Model;
use balans_montecarlo::{run, Replication, ReplicationRng, Streams, Tally};
use nalgebra::DMatrix;
use rand_distr::{Distribution, StandardNormal};

/// What is counted for one effect.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatentTarget {
    /// The effect: a path `lhs~rhs`, a route `a->b->c`, or a `:=` name.
    pub name: String,
    /// `path` or `indirect`.
    pub kind: &'static str,
    /// Index into θ (paths) or into [`SemSpec::effects`] (indirect effects).
    index: usize,
    /// For indirect effects: the θ indices of the paths (joint significance).
    paths: Vec<usize>,
}

/// A latent-variable power study: the population's item covariance, the analysis model, the
/// effects counted.
#[derive(Debug, Clone)]
pub struct LatentStudy {
    spec: SemSpec,
    /// Lower Cholesky factor of the population covariance of the observed variables, in
    /// [`SemSpec::observed`] order.
    factor: DMatrix<f64>,
    targets: Vec<LatentTarget>,
}

impl LatentStudy {
    /// Builds the study: `population` generates the items, `analysis` (with `=~`) is fitted.
    ///
    /// # Errors
    /// The analysis model is not identified; it uses a variable the population does not generate;
    /// the population covariance is not positive definite.
    pub fn new(
        population: &Model,
        analysis: &Model,
        std_lv: bool,
    ) -> Result<LatentStudy, PowerError> {
        let pop = population.population()?;
        let observed = population.observed_population(&pop);
        let spec = SemSpec::from_model(
            analysis,
            SemOptions {
                std_lv,
                meanstructure: false,
            },
        )?;
        let idx: Vec<usize> = spec
            .observed()
            .iter()
            .map(|v| {
                observed.names.iter().position(|n| n == v).ok_or_else(|| {
                    PowerError::UnknownVariable {
                        name: v.to_string(),
                        known: observed.names.join(", "),
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        let sigma = DMatrix::from_fn(idx.len(), idx.len(), |a, b| {
            observed.covariance[(idx[a], idx[b])]
        });
        let factor = sigma
            .cholesky()
            .ok_or(PowerError::PopulationNotPositiveDefinite)?
            .l();
        let targets = targets(&spec);
        Ok(LatentStudy {
            spec,
            factor,
            targets,
        })
    }

    /// The effects counted: every structural path, then every indirect effect (routes and `:=`).
    pub fn targets(&self) -> &[LatentTarget] {
        &self.targets
    }

    /// The analysis model.
    pub fn spec(&self) -> &SemSpec {
        &self.spec
    }
}

fn targets(spec: &SemSpec) -> Vec<LatentTarget> {
    let mut out = Vec::new();
    for (t, q) in spec.free_parameters().enumerate() {
        if let SemKind::Regression { .. } = q.kind {
            out.push(LatentTarget {
                name: format!("{}~{}", q.lhs, q.rhs),
                kind: "path",
                index: t,
                paths: vec![t],
            });
        }
    }
    for (k, e) in spec.effects().iter().enumerate() {
        let indirect = matches!(
            e.kind,
            EffectKind::SpecificIndirect { .. } | EffectKind::Defined { .. }
        );
        if indirect {
            out.push(LatentTarget {
                name: e.name.clone(),
                kind: "indirect",
                index: k,
                paths: e.parameters.clone(),
            });
        }
    }
    out
}

/// Settings of [`latent_power_curve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatentPowerConfig {
    /// Replications per sample size.
    pub replications: usize,
    /// Master seed.
    pub seed: u64,
    /// Significance level.
    pub alpha: f64,
}

/// Power of one (N, effect, test).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatentPowerRow {
    /// Sample size.
    pub n: usize,
    /// Effect name.
    pub effect: String,
    /// `path` or `indirect`.
    pub kind: &'static str,
    /// `wald`, `sobel` or `joint`.
    pub test: &'static str,
    /// Share of converged replications that reject.
    pub power: f64,
    /// Its Monte Carlo standard error, `sqrt(p(1 − p)/R_converged)`.
    pub mc_se: f64,
    /// Mean estimate over converged replications (on the analysis model's scale).
    pub mean_estimate: f64,
    /// Replications run.
    pub replications: usize,
    /// Replications whose fit did not converge (or failed).
    pub not_converged: usize,
    /// Converged replications with a negative variance estimate (Heywood case).
    pub improper: usize,
}

/// Per-thread buffers.
struct Workspace {
    rows: Vec<f64>,
    z: Vec<f64>,
    cov: DMatrix<f64>,
    means: Vec<f64>,
    /// Per target: (Wald/Sobel rejection, joint rejection, estimate).
    outcome: Vec<(bool, bool, f64)>,
    improper: bool,
}

/// Counts per target.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Counts {
    runs: usize,
    converged: usize,
    improper: usize,
    reject: Vec<usize>,
    joint: Vec<usize>,
    sum_estimate: Vec<f64>,
}

impl Tally for Counts {
    fn reset(&mut self) {
        self.runs = 0;
        self.converged = 0;
        self.improper = 0;
        self.reject.fill(0);
        self.joint.fill(0);
        self.sum_estimate.fill(0.0);
    }
    fn merge(&mut self, later: &Counts) {
        self.runs += later.runs;
        self.converged += later.converged;
        self.improper += later.improper;
        for k in 0..self.reject.len() {
            self.reject[k] += later.reject[k];
            self.joint[k] += later.joint[k];
            self.sum_estimate[k] += later.sum_estimate[k];
        }
    }
}

struct Condition<'a> {
    study: &'a LatentStudy,
    n: usize,
    config: SemConfig,
    alpha: f64,
}

impl Replication for Condition<'_> {
    type Workspace = Workspace;
    type Tally = Counts;

    fn workspace(&self) -> Workspace {
        let p = self.study.factor.nrows();
        Workspace {
            rows: vec![0.0; self.n * p],
            z: vec![0.0; p],
            cov: DMatrix::zeros(p, p),
            means: vec![0.0; p],
            outcome: vec![(false, false, 0.0); self.study.targets.len()],
            improper: false,
        }
    }

    fn tally(&self) -> Counts {
        let k = self.study.targets.len();
        Counts {
            reject: vec![0; k],
            joint: vec![0; k],
            sum_estimate: vec![0.0; k],
            ..Counts::default()
        }
    }

    fn generate(&self, ws: &mut Workspace, rng: &mut ReplicationRng) -> bool {
        let l = &self.study.factor;
        let p = l.nrows();
        for row in ws.rows.chunks_exact_mut(p) {
            for z in ws.z.iter_mut() {
                *z = StandardNormal.sample(rng);
            }
            for i in 0..p {
                row[i] = (0..=i).map(|j| l[(i, j)] * ws.z[j]).sum();
            }
        }
        covariance_into(&ws.rows, p, &mut ws.means, &mut ws.cov);
        true
    }

    fn analyse(&self, ws: &mut Workspace, _rng: &mut ReplicationRng) -> bool {
        let data = PatternData::complete(ws.cov.clone(), ws.means.clone(), self.n);
        let Ok(fit) = fit_sem_lean(&self.study.spec, &data, &self.config) else {
            return false;
        };
        let alpha = self.alpha;
        let significant = |t: usize| normal_pvalue(fit.theta[t] / fit.std_err[t]) < alpha;
        for (k, target) in self.study.targets.iter().enumerate() {
            ws.outcome[k] = if target.kind == "path" {
                let t = target.index;
                (significant(t), significant(t), fit.theta[t])
            } else {
                let (est, se) = (fit.effects[target.index], fit.effect_std_err[target.index]);
                (
                    normal_pvalue(est / se) < alpha,
                    target.paths.iter().all(|&t| significant(t)),
                    est,
                )
            };
        }
        ws.improper = fit.n_improper > 0;
        true
    }

    fn record(&self, ws: &Workspace, ok: bool, tally: &mut Counts) {
        tally.runs += 1;
        if !ok {
            return;
        }
        tally.converged += 1;
        tally.improper += usize::from(ws.improper);
        for (k, &(reject, joint, est)) in ws.outcome.iter().enumerate() {
            tally.reject[k] += usize::from(reject);
            tally.joint[k] += usize::from(joint);
            tally.sum_estimate[k] += est;
        }
    }
}

/// Power of every target at each sample size (rows by N, then target, then test).
///
/// # Errors
/// Settings out of range; a sample size not above the number of observed variables.
pub fn latent_power_curve(
    study: &LatentStudy,
    config: &LatentPowerConfig,
    sample_sizes: &[usize],
    progress: &dyn balans_montecarlo::RunContext,
) -> Result<Vec<LatentPowerRow>, PowerError> {
    if config.replications == 0 {
        return Err(PowerError::Setting {
            setting: "reps",
            value: "0".into(),
            expected: "at least 1".into(),
        });
    }
    if !(config.alpha > 0.0 && config.alpha < 1.0) {
        return Err(PowerError::Setting {
            setting: "alpha",
            value: config.alpha.to_string(),
            expected: "a level in (0, 1)".into(),
        });
    }
    let p = study.factor.nrows();
    let mut rows = Vec::new();
    for &n in sample_sizes {
        if n <= p {
            return Err(PowerError::SampleTooSmall {
                n,
                needed: p + 1,
                reason: format!("{p} observed variables"),
            });
        }
        let condition = Condition {
            study,
            n,
            config: SemConfig {
                gradient_tolerance: 1e-7,
                ..SemConfig::default()
            },
            alpha: config.alpha,
        };
        let counts = run(
            &condition,
            Streams {
                seed: config.seed,
                condition: n as u64,
            },
            config.replications,
            progress,
        )?;
        let r = counts.converged.max(1) as f64;
        for (k, target) in study.targets.iter().enumerate() {
            let tests: &[(&'static str, usize)] = if target.kind == "path" {
                &[("wald", counts.reject[k])]
            } else {
                &[("sobel", counts.reject[k]), ("joint", counts.joint[k])]
            };
            for &(test, hits) in tests {
                let power = hits as f64 / r;
                rows.push(LatentPowerRow {
                    n,
                    effect: target.name.clone(),
                    kind: target.kind,
                    test,
                    power,
                    mc_se: (power * (1.0 - power) / r).sqrt(),
                    mean_estimate: counts.sum_estimate[k] / r,
                    replications: counts.runs,
                    not_converged: counts.runs - counts.converged,
                    improper: counts.improper,
                });
            }
        }
    }
    Ok(rows)
}
