//! Many sites: K contexts whose paths vary, each fitted on its own sample, every path and indirect
//! effect meta-analysed across the sites, repeated R times.
//!
//! Site k of replication r has paths `β_k = β + τ ∘ u_k + γ z_k` (`u_k` standard normal per varied
//! path, `z_k` a standard-normal context variable such as a sector's remote-work share, `γ` its
//! slopes), residual variances held at the population's (raw semantics), and `n_k` respondents.
//! Its sample covariance matrix is drawn from the Wishart distribution of `n_k` normal rows
//! ([`balans_power::WishartSampler`], exact for normal data), fitted with
//! [`balans_estimate::Estimator`], and each term's estimate and squared standard error enter a
//! random-effects meta-analysis ([`crate::meta_analyse`]) across the K sites.
//!
//! Over R replications this gives, per term: the power of the Q-test to detect heterogeneity, the
//! mean τ̂² (against the true τ² + γ² for a varied path), the mean I², the expected width of the
//! prediction interval for a new context, the coverage of the CI of μ and the power to detect μ ≠ 0
//! — each with its Monte Carlo standard error.
//!
//! The loop is power's generic replication engine ([`balans_montecarlo::run`]): generate
//! ([`generate_site`] for each site: population → sample moments), analyse (fits →
//! [`analyse_sites`]), record; [`tally`] turns the replications into rows. Replication r draws
//! from the Xoshiro256++ stream `(seed, K, r)` ([`balans_montecarlo::replication_rng`]); sites are
//! drawn in order within it and results are reduced in replication order, so the output is
//! identical for any thread count. A site whose population is not positive definite or whose fit
//! fails is left out of that replication's meta-analyses (counted); a replication with fewer than
//! two fitted sites is left out (counted).

use crate::dist::qnorm;
use crate::meta::{meta_analyse, MetaConfig};
use crate::TransportError;
use balans_estimate::{AnalysisSpec, Estimator, FitOutput, ParameterKind};
use balans_model::{Matrix, Population};
use balans_montecarlo::{run, Replication, ReplicationRng, RunContext, Streams, Tally};
use balans_power::{EffectKind, Study};
use balans_sim::WishartSampler;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

/// Between-site standard deviation of one path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathVariation {
    /// The path, `outcome~predictor` (as `balans power` names it).
    pub path: String,
    /// τ: SD of the path's value across contexts (raw scale of the model).
    pub tau: f64,
    /// γ: slope of the path on the standardized context-level moderator.
    pub moderator_slope: f64,
}

/// The sites of one design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteDesign {
    /// Number of sites K (at least 2).
    pub sites: usize,
    /// Sample size of each site: one value for all, or one per site.
    pub n: Vec<usize>,
    /// The varied paths.
    pub variation: Vec<PathVariation>,
}

impl SiteDesign {
    /// Sample size of site `k`.
    pub fn n_of(&self, k: usize) -> usize {
        if self.n.len() == 1 {
            self.n[0]
        } else {
            self.n[k]
        }
    }
}

/// Settings of [`simulate_sites`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitesConfig {
    /// Replications R.
    pub replications: usize,
    /// Seed.
    pub seed: u64,
    /// τ² estimator and Knapp–Hartung option of each meta-analysis.
    pub meta: MetaConfig,
    /// Significance level of the Q-test and of the test of μ.
    pub alpha: f64,
}

impl Default for SitesConfig {
    fn default() -> Self {
        SitesConfig {
            replications: 500,
            seed: 1,
            meta: MetaConfig::default(),
            alpha: 0.05,
        }
    }
}

/// A term meta-analysed across sites: where its site estimate comes from.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    name: String,
    kind: &'static str,
    /// Where its site estimates come from.
    source: Source,
    true_value: f64,
    true_tau2: Option<f64>,
}

/// The origin of a term's estimate.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Free parameter k of each site's fit, meta-analysed.
    Parameter(usize),
    /// Effect j of each site's fit (delta-method SE), meta-analysed.
    Effect(usize),
    /// The product of the pooled estimates of these (path) terms, with its delta-method SE: an
    /// indirect effect from pooled paths.
    Product(Vec<usize>),
}

/// One varied path in population indices.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Varied {
    outcome: usize,
    predictor: usize,
    tau: f64,
    slope: f64,
}

/// The compiled problem: base population, analysis columns, varied paths, terms.
#[derive(Debug, Clone)]
pub struct SitesProblem {
    population: Population,
    columns: Vec<usize>,
    varied: Vec<Varied>,
    terms: Vec<Term>,
}

impl SitesProblem {
    /// Compiles `design` against `study`: every path and function effect of the study becomes a
    /// term; varied paths are looked up by name.
    ///
    /// # Errors
    /// Fewer than 2 sites, sample sizes that are zero, too small for the model or not one per
    /// site, unknown path names, negative τ.
    pub fn new(study: &Study, design: &SiteDesign) -> Result<SitesProblem, TransportError> {
        if design.sites < 2 {
            return Err(TransportError::TooFewStudies {
                found: design.sites,
                needed: 2,
                why: "heterogeneity across sites needs at least two sites".into(),
            });
        }
        if !(design.n.len() == 1 || design.n.len() == design.sites) {
            return Err(TransportError::invalid(
                "the site sample sizes",
                format!("{} values", design.n.len()),
                format!("one size for every site or one per site ({})", design.sites),
            ));
        }
        let needed = study.min_sample_size();
        if let Some(&n) = design.n.iter().find(|&&n| n < needed) {
            return Err(TransportError::invalid(
                "a site's sample size",
                n,
                format!(
                    "at least {needed} (the analysis model has {} free parameters)",
                    study.analysis().npar()
                ),
            ));
        }
        let spec = study.analysis();
        let population = study.population().clone();
        let columns: Vec<usize> = spec
            .variables()
            .iter()
            .map(|v| {
                population
                    .index_of(v)
                    .expect("the study checked the variables")
            })
            .collect();
        let mut terms = Vec::new();
        let mut products = Vec::new();
        for e in study.effects() {
            match &e.kind {
                EffectKind::Path { parameter } => terms.push(Term {
                    name: e.name.clone(),
                    kind: "path",
                    source: Source::Parameter(*parameter),
                    true_value: e.population_value.unwrap_or(f64::NAN),
                    true_tau2: Some(0.0),
                }),
                EffectKind::Function {
                    effect,
                    defined,
                    parameters,
                    product_of_paths,
                } => {
                    terms.push(Term {
                        name: e.name.clone(),
                        kind: if *defined { "defined" } else { "indirect" },
                        source: Source::Effect(*effect),
                        true_value: e.population_value.unwrap_or(f64::NAN),
                        true_tau2: None,
                    });
                    if *product_of_paths && !*defined {
                        products.push((e, parameters.clone()));
                    }
                }
                EffectKind::AllJointly => {}
            }
        }
        for (e, parameters) in products {
            let paths: Option<Vec<usize>> = parameters
                .iter()
                .map(|k| terms.iter().position(|t| t.source == Source::Parameter(*k)))
                .collect();
            if let Some(paths) = paths {
                terms.push(Term {
                    name: format!("{} (pooled paths)", e.name),
                    kind: "indirect.pooled",
                    source: Source::Product(paths),
                    true_value: e.population_value.unwrap_or(f64::NAN),
                    true_tau2: None,
                });
            }
        }
        let mut varied = Vec::new();
        for v in &design.variation {
            if !(v.tau.is_finite() && v.tau >= 0.0 && v.moderator_slope.is_finite()) {
                return Err(TransportError::invalid(
                    format!("tau of {}", v.path),
                    v.tau,
                    "a non-negative number",
                ));
            }
            let term = terms
                .iter_mut()
                .find(|t| t.kind == "path" && t.name == v.path);
            let Some(term) = term else {
                return Err(TransportError::UnknownEffect {
                    name: v.path.clone(),
                    known: terms
                        .iter()
                        .filter(|t| t.kind == "path")
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let Source::Parameter(k) = term.source else {
                unreachable!("path terms come from parameters");
            };
            let ParameterKind::Regression { outcome, predictor } = spec.parameters()[k].kind else {
                unreachable!("path terms are regressions");
            };
            term.true_tau2 = Some(v.tau * v.tau + v.moderator_slope * v.moderator_slope);
            varied.push(Varied {
                outcome: columns[outcome],
                predictor: columns[predictor],
                tau: v.tau,
                slope: v.moderator_slope,
            });
        }
        Ok(SitesProblem {
            population,
            columns,
            varied,
            terms,
        })
    }

    /// Names of the meta-analysed terms, in output order.
    pub fn term_names(&self) -> Vec<&str> {
        self.terms.iter().map(|t| t.name.as_str()).collect()
    }
}

/// Draws site `k`'s paths, builds its population and draws its sample covariance matrix of `n`
/// rows (analysis variable order) into `s`.
///
/// # Errors
/// A site population that is not positive definite.
pub fn generate_site<R: Rng + ?Sized>(
    problem: &SitesProblem,
    n: usize,
    rng: &mut R,
    s: &mut Matrix,
) -> Result<(), TransportError> {
    let base = &problem.population;
    let mut beta = base.beta().clone();
    let z: f64 = rng.sample(StandardNormal);
    for v in &problem.varied {
        let u: f64 = rng.sample(StandardNormal);
        beta[(v.outcome, v.predictor)] += v.tau * u + v.slope * z;
    }
    let site = Population::new(
        base.names().to_vec(),
        base.exogenous().to_vec(),
        beta,
        base.psi().clone(),
    )
    .map_err(|e| TransportError::Model(e.to_string()))?;
    let sigma = site.implied_covariance();
    let c = &problem.columns;
    let analysis = Matrix::from_fn(c.len(), c.len(), |i, j| sigma[(c[i], c[j])]);
    let sampler =
        WishartSampler::new(&analysis, n).map_err(|e| TransportError::Model(e.to_string()))?;
    let p = c.len();
    let (mut scratch, mut out) = (vec![0.0; p * p], vec![0.0; p * p]);
    sampler.sample_covariance(rng, &mut scratch, &mut out);
    *s = Matrix::from_row_slice(p, p, &out);
    Ok(())
}

/// The per-term outcome of one replication's meta-analyses (`None` when the replication failed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TermOutcome {
    /// μ̂.
    pub mu: f64,
    /// Its standard error.
    pub se: f64,
    /// Whether the CI of μ covers the true value.
    pub covered: bool,
    /// Whether μ is significant.
    pub mu_significant: bool,
    /// τ̂².
    pub tau2: f64,
    /// I² (percent).
    pub i2: f64,
    /// Whether the Q-test rejects homogeneity.
    pub q_rejects: bool,
    /// Width of the prediction interval.
    pub pi_width: f64,
}

/// A site's estimate and SE of a meta-analysed term.
fn site_estimate(source: &Source, f: &FitOutput) -> (f64, f64) {
    match source {
        Source::Parameter(i) => (f.estimates[*i], f.std_err[*i]),
        Source::Effect(j) => (f.effects[*j], f.effect_std_err[*j]),
        Source::Product(_) => (f64::NAN, f64::NAN),
    }
}

/// Site estimates `(y, v)` of every term from the K fits, then one meta-analysis per term.
///
/// # Errors
/// A meta-analysis failure (REML not converging).
pub fn analyse_sites(
    problem: &SitesProblem,
    fits: &[FitOutput],
    config: &SitesConfig,
) -> Result<Vec<TermOutcome>, TransportError> {
    let z = quantile(0.5 + config.meta.level / 2.0);
    let z_alpha = quantile(1.0 - config.alpha / 2.0);
    let mut out: Vec<TermOutcome> = Vec::with_capacity(problem.terms.len());
    for t in &problem.terms {
        if let Source::Product(paths) = &t.source {
            // μ = Π μ_i, SE² = Σ_j (Π_{i≠j} μ_i)² SE_j² (pooled paths from the same sites, taken
            // as independent: ML path estimates along a route are asymptotically uncorrelated).
            let mu: f64 = paths.iter().map(|&i| out[i].mu).product();
            let var: f64 = paths
                .iter()
                .map(|&j| {
                    let others: f64 = paths
                        .iter()
                        .filter(|&&i| i != j)
                        .map(|&i| out[i].mu)
                        .product();
                    (others * out[j].se).powi(2)
                })
                .sum();
            let se = var.sqrt();
            out.push(TermOutcome {
                mu,
                se,
                covered: (mu - t.true_value).abs() <= z * se,
                mu_significant: (mu / se).abs() > z_alpha,
                tau2: f64::NAN,
                i2: f64::NAN,
                q_rejects: false,
                pi_width: f64::NAN,
            });
            continue;
        }
        let studies: Vec<crate::Study> = fits
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let (y, se) = site_estimate(&t.source, f);
                crate::Study {
                    label: format!("site {}", k + 1),
                    yi: y,
                    vi: se * se,
                }
            })
            .collect();
        let m = meta_analyse(&studies, &config.meta)?;
        out.push(TermOutcome {
            mu: m.estimate,
            se: m.std_error,
            covered: m.conf_low <= t.true_value && t.true_value <= m.conf_high,
            mu_significant: m.p_value < config.alpha,
            tau2: m.tau2,
            i2: m.i2,
            q_rejects: m.qe_p < config.alpha,
            pi_width: m.pi_ub - m.pi_lb,
        });
    }
    Ok(out)
}

/// The many-sites simulation as a problem for power's replication engine
/// ([`balans_montecarlo`]): generate K site covariance matrices, fit and meta-analyse them,
/// record the per-term outcomes.
struct SitesReplication<'a> {
    problem: &'a SitesProblem,
    design: &'a SiteDesign,
    config: &'a SitesConfig,
    spec: &'a AnalysisSpec,
}

/// Per-thread buffers of [`SitesReplication`].
struct SitesWorkspace {
    estimator: Estimator,
    /// Each site's drawn covariance matrix (`None` when its population was infeasible).
    moments: Vec<Option<Matrix>>,
    fits: Vec<FitOutput>,
    failed_sites: usize,
    outcome: Option<Vec<TermOutcome>>,
}

/// The replications' outcomes in replication order, and the failures.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SitesTally {
    outcomes: Vec<Vec<TermOutcome>>,
    failed_replications: usize,
    failed_site_fits: usize,
}

impl Tally for SitesTally {
    fn reset(&mut self) {
        self.outcomes.clear();
        self.failed_replications = 0;
        self.failed_site_fits = 0;
    }

    fn merge(&mut self, later: &SitesTally) {
        self.outcomes.extend(later.outcomes.iter().cloned());
        self.failed_replications += later.failed_replications;
        self.failed_site_fits += later.failed_site_fits;
    }
}

impl Replication for SitesReplication<'_> {
    type Workspace = SitesWorkspace;
    type Tally = SitesTally;

    fn workspace(&self) -> SitesWorkspace {
        let estimator = Estimator::new(self.spec);
        let fits = (0..self.design.sites)
            .map(|_| estimator.new_output())
            .collect();
        SitesWorkspace {
            estimator,
            moments: vec![None; self.design.sites],
            fits,
            failed_sites: 0,
            outcome: None,
        }
    }

    fn tally(&self) -> SitesTally {
        SitesTally::default()
    }

    /// Draws the K sites in order from the replication's stream.
    fn generate(&self, ws: &mut SitesWorkspace, rng: &mut ReplicationRng) -> bool {
        let p = self.problem.columns.len();
        for k in 0..self.design.sites {
            let mut s = ws.moments[k].take().unwrap_or_else(|| Matrix::zeros(p, p));
            let ok = generate_site(self.problem, self.design.n_of(k), rng, &mut s).is_ok();
            ws.moments[k] = ok.then_some(s);
        }
        true
    }

    /// Fits every site, then meta-analyses every term across the fitted sites (at least two).
    fn analyse(&self, ws: &mut SitesWorkspace, _rng: &mut ReplicationRng) -> bool {
        ws.failed_sites = 0;
        ws.outcome = None;
        let mut fitted = 0;
        for k in 0..self.design.sites {
            let Some(s) = &ws.moments[k] else {
                ws.failed_sites += 1;
                continue;
            };
            match ws
                .estimator
                .fit_moments(s, self.design.n_of(k), &mut ws.fits[fitted])
            {
                Ok(()) => fitted += 1,
                Err(_) => ws.failed_sites += 1,
            }
        }
        if fitted < 2 {
            return false;
        }
        ws.outcome = analyse_sites(self.problem, &ws.fits[..fitted], self.config).ok();
        ws.outcome.is_some()
    }

    fn record(&self, ws: &SitesWorkspace, ok: bool, tally: &mut SitesTally) {
        tally.failed_site_fits += ws.failed_sites;
        match (&ws.outcome, ok) {
            (Some(o), true) => tally.outcomes.push(o.clone()),
            _ => tally.failed_replications += 1,
        }
    }
}

/// One output row per term: the operating characteristics of the K-site meta-analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitesRow {
    /// The path, route or `:=` name.
    pub term: String,
    /// `path`, `indirect` or `defined`.
    pub kind: &'static str,
    /// Population value at the centre of the site distribution.
    #[serde(rename = "true.value")]
    pub true_value: f64,
    /// True between-site variance (τ² + γ², paths only).
    #[serde(rename = "true.tau2")]
    pub true_tau2: Option<f64>,
    /// Mean μ̂ over replications.
    pub estimate: f64,
    /// Monte Carlo SE of that mean.
    #[serde(rename = "mcse.estimate")]
    pub mcse_estimate: f64,
    /// Share of replications whose CI of μ covers the true value.
    pub coverage: f64,
    /// Share of replications with μ significant (power for the mean effect).
    #[serde(rename = "power.mu")]
    pub power_mu: f64,
    /// Mean τ̂².
    pub tau2: f64,
    /// Monte Carlo SE of the mean τ̂².
    #[serde(rename = "mcse.tau2")]
    pub mcse_tau2: f64,
    /// Mean I² (percent).
    #[serde(rename = "I2")]
    pub i2: f64,
    /// Share of replications in which the Q-test rejects homogeneity: the power to detect
    /// heterogeneity (its type I error when τ = 0).
    #[serde(rename = "power.Q")]
    pub power_q: f64,
    /// Monte Carlo SE of `power.Q`.
    #[serde(rename = "mcse.power.Q")]
    pub mcse_power_q: f64,
    /// Share of replications with τ̂² = 0.
    #[serde(rename = "share.tau2.zero")]
    pub share_tau2_zero: f64,
    /// Mean width of the prediction interval for a new context.
    #[serde(rename = "pi.width")]
    pub pi_width: f64,
    /// Successful replications.
    pub replications: usize,
}

/// Everything a many-site simulation reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitesReport {
    /// The design.
    pub design: SiteDesign,
    /// The settings.
    pub config: SitesConfig,
    /// One row per term.
    pub rows: Vec<SitesRow>,
    /// Replications with fewer than two fitted sites (left out).
    pub failed_replications: usize,
    /// Site fits that failed (non-convergence), over all replications.
    pub failed_site_fits: usize,
}

fn mean_and_mcse(x: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = x.clone().count() as f64;
    let mean = x.clone().sum::<f64>() / n;
    let var = x.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// Replication outcomes (in replication order) → one row per term.
pub fn tally(problem: &SitesProblem, outcomes: &[Vec<TermOutcome>]) -> Vec<SitesRow> {
    let r = outcomes.len();
    problem
        .terms
        .iter()
        .enumerate()
        .map(|(j, t)| {
            let col = || outcomes.iter().map(move |o| &o[j]);
            let share = |f: &dyn Fn(&TermOutcome) -> bool| {
                col().filter(|o| f(o)).count() as f64 / r.max(1) as f64
            };
            let (estimate, mcse_estimate) = mean_and_mcse(col().map(|o| o.mu));
            let (tau2, mcse_tau2) = mean_and_mcse(col().map(|o| o.tau2));
            let power_q = share(&|o| o.q_rejects);
            SitesRow {
                term: t.name.clone(),
                kind: t.kind,
                true_value: t.true_value,
                true_tau2: t.true_tau2,
                estimate,
                mcse_estimate,
                coverage: share(&|o| o.covered),
                power_mu: share(&|o| o.mu_significant),
                tau2,
                mcse_tau2,
                i2: col().map(|o| o.i2).sum::<f64>() / r.max(1) as f64,
                power_q,
                mcse_power_q: (power_q * (1.0 - power_q) / r.max(1) as f64).sqrt(),
                share_tau2_zero: share(&|o| o.tau2 <= 0.0),
                pi_width: col().map(|o| o.pi_width).sum::<f64>() / r.max(1) as f64,
                replications: r,
            }
        })
        .collect()
}

/// Simulates R replications of `design` under `study` and meta-analyses every term across sites,
/// in the ambient rayon pool. `run` is the engine's run context (`&|_| {}` for a whole run
/// without progress; a [`balans_montecarlo::RunConfig`] for a shard or a replay).
///
/// # Errors
/// Invalid design or settings, infeasible site populations, REML not converging, a replay that
/// does not match the run.
pub fn simulate_sites(
    study: &Study,
    design: &SiteDesign,
    config: &SitesConfig,
    run_context: &dyn RunContext,
) -> Result<SitesReport, TransportError> {
    simulate_sites_impl(study, design, config, run_context)
}

/// [`simulate_sites`], calling `progress(k)` after every `k` finished replications, so that a
/// caller can show how far it is. The result does not depend on it.
///
/// # Errors
/// As [`simulate_sites`].
pub fn simulate_sites_with_progress(
    study: &Study,
    design: &SiteDesign,
    config: &SitesConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SitesReport, TransportError> {
    simulate_sites(study, design, config, &|k| progress(k))
}

/// The body of [`simulate_sites`].
fn simulate_sites_impl(
    study: &Study,
    design: &SiteDesign,
    config: &SitesConfig,
    run_context: &dyn RunContext,
) -> Result<SitesReport, TransportError> {
    if config.replications == 0 {
        return Err(TransportError::invalid(
            "the number of replications",
            0,
            "a positive count",
        ));
    }
    if !(config.alpha > 0.0 && config.alpha < 1.0) {
        return Err(TransportError::invalid(
            "the significance level",
            config.alpha,
            "a number strictly between 0 and 1",
        ));
    }
    let problem = SitesProblem::new(study, design)?;
    let replication = SitesReplication {
        problem: &problem,
        design,
        config,
        spec: study.analysis(),
    };
    let streams = Streams {
        seed: config.seed,
        condition: design.sites as u64,
    };
    let tallied = run(&replication, streams, config.replications, run_context)
        .map_err(|e| TransportError::Model(e.to_string()))?;
    let (failed_replications, failed_site_fits) =
        (tallied.failed_replications, tallied.failed_site_fits);
    let outcomes = tallied.outcomes;
    Ok(SitesReport {
        design: design.clone(),
        config: config.clone(),
        rows: tally(&problem, &outcomes),
        failed_replications,
        failed_site_fits,
    })
}

/// Method name of a sites report's meta-analyses (`REML`, `DL+knha`, …).
pub fn method_label(meta: &MetaConfig) -> String {
    format!(
        "{}{}",
        meta.method.name(),
        if meta.knapp_hartung { "+knha" } else { "" }
    )
}

/// CSV of a sites report, one row per term (column names as the serde names).
pub fn sites_csv(rows: &[SitesRow]) -> String {
    use crate::rows::{csv_field, format_number};
    let mut o = String::from("term,kind,true.value,true.tau2,estimate,mcse.estimate,coverage,power.mu,tau2,mcse.tau2,I2,power.Q,mcse.power.Q,share.tau2.zero,pi.width,replications\n");
    for r in rows {
        o.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.term),
            r.kind,
            format_number(r.true_value),
            r.true_tau2.map_or_else(|| "NA".into(), format_number),
            format_number(r.estimate),
            format_number(r.mcse_estimate),
            format_number(r.coverage),
            format_number(r.power_mu),
            format_number(r.tau2),
            format_number(r.mcse_tau2),
            format_number(r.i2),
            format_number(r.power_q),
            format_number(r.mcse_power_q),
            format_number(r.share_tau2_zero),
            format_number(r.pi_width),
            r.replications
        ));
    }
    o
}

/// An aligned table of a sites report.
pub fn sites_table(report: &SitesReport) -> String {
    let d = &report.design;
    let n = if d.n.len() == 1 {
        d.n[0].to_string()
    } else {
        format!("{:?}", d.n)
    };
    let mut o = format!(
        "K = {} sites of n = {n}; {} replications, seed {}; {} meta-analyses, alpha {}\n",
        d.sites,
        report.config.replications,
        report.config.seed,
        method_label(&report.config.meta),
        report.config.alpha
    );
    for v in &d.variation {
        o.push_str(&format!(
            "varied: {} (tau {}, moderator slope {})\n",
            v.path, v.tau, v.moderator_slope
        ));
    }
    if report.failed_replications + report.failed_site_fits > 0 {
        o.push_str(&format!(
            "failed: {} replications, {} site fits\n",
            report.failed_replications, report.failed_site_fits
        ));
    }
    let w = report
        .rows
        .iter()
        .map(|r| r.term.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    o.push_str(&format!(
        "\n{:<w$} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9} {:>7} {:>8} {:>13} {:>9}\n",
        "term",
        "true",
        "mu",
        "coverage",
        "power.mu",
        "true.tau2",
        "tau2",
        "I2",
        "power.Q",
        "(MC SE)",
        "pi.width"
    ));
    let na = |x: f64, width: usize, digits: usize| {
        if x.is_nan() {
            format!("{:>width$}", "NA")
        } else {
            format!("{:>width$}", crate::rows::fixed(x, digits))
        }
    };
    for r in &report.rows {
        let pooled = r.kind == "indirect.pooled";
        o.push_str(&format!(
            "{:<w$} {:>8} {:>8} {:>9} {:>8} {:>9} {} {:>7} {:>8} {:>13} {}\n",
            r.term,
            crate::rows::fixed(r.true_value, 4),
            crate::rows::fixed(r.estimate, 4),
            crate::rows::fixed(r.coverage, 3),
            crate::rows::fixed(r.power_mu, 3),
            r.true_tau2
                .map_or_else(|| "NA".into(), |t| format!("{t:.5}")),
            na(r.tau2, 9, 5),
            if r.i2.is_nan() {
                "NA".to_string()
            } else {
                format!("{:.1}%", r.i2)
            },
            if pooled {
                "NA".to_string()
            } else {
                format!("{:.3}", r.power_q)
            },
            if pooled {
                String::new()
            } else {
                format!("({:.3})", r.mcse_power_q)
            },
            na(r.pi_width, 9, 4)
        ));
    }
    o
}

/// Φ⁻¹(p), NaN for p outside [0, 1] (or NaN): statrs' `inverse_cdf` panics there, and these
/// public functions take levels and powers from their callers.
fn quantile(p: f64) -> f64 {
    if (0.0..=1.0).contains(&p) {
        qnorm(p)
    } else {
        f64::NAN
    }
}
