//! The typed result of fitting a model to one data set, as `balans fit` reports it
//! ([`FitReport`]): lavaan's `parameterEstimates()` rows with the chosen intervals, the effects, R²,
//! `fitMeasures()`, and where the data and the model came from. Serialised by serde (the JSON
//! keys are lavaan's names, in sorted order); rendered as a table or CSV by `balans-report`.

use crate::sem::{Information, SemFit};
use crate::{ClusterRobust, EffectClass, Fit, FitMeasures, Interval, Method};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// How the intervals of effects (and, for bootstrap, of paths) are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalMethod {
    /// Delta method (Sobel), lavaan's default `parameterEstimates()`.
    Delta,
    /// Monte Carlo interval, as `semTools::monteCarloCI`.
    Mc,
    /// Percentile bootstrap.
    Percentile,
    /// Bias-corrected bootstrap (lavaan's `bca.simple`).
    Bc,
}

impl IntervalMethod {
    /// The name results use: `delta`, `mc`, `percentile`, `bc`.
    pub fn name(self) -> &'static str {
        match self {
            IntervalMethod::Delta => "delta",
            IntervalMethod::Mc => "mc",
            IntervalMethod::Percentile => "percentile",
            IntervalMethod::Bc => "bc",
        }
    }

    /// Whether the intervals come from bootstrap resamples.
    pub fn is_bootstrap(self) -> bool {
        matches!(self, IntervalMethod::Percentile | IntervalMethod::Bc)
    }
}

/// Resamples of a bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BootstrapCount {
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples whose fit succeeded.
    pub successful: usize,
}

/// How the intervals were made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalSettings {
    /// Bootstrap resamples (bootstrap methods only).
    pub bootstrap: Option<BootstrapCount>,
    /// Confidence level.
    pub level: f64,
    /// Monte Carlo draws (Monte Carlo intervals only).
    pub mc_draws: Option<usize>,
    /// The method.
    pub method: IntervalMethod,
    /// Seed of the Monte Carlo or bootstrap draws.
    pub seed: u64,
}

/// The clusters of cluster-robust standard errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    /// Number of clusters.
    pub clusters: u64,
    /// The data column naming them.
    pub column: String,
}

/// Standard errors other than the normal-theory expected-information ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StandardErrors {
    /// Cluster-robust sandwich (lavaan's `se = "robust.cluster"`).
    #[serde(rename = "robust.cluster")]
    RobustCluster,
}

/// One parameter row (lavaan's `parameterEstimates()` column names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterRow {
    /// Lower interval bound (Wald, or bootstrap for free parameters with a bootstrap method).
    #[serde(rename = "ci.lower")]
    pub ci_lower: f64,
    /// Upper interval bound.
    #[serde(rename = "ci.upper")]
    pub ci_upper: f64,
    /// Estimate.
    pub est: f64,
    /// Free, or fixed at its sample value (`fixed.x`).
    pub free: bool,
    /// Label, empty when none.
    pub label: String,
    /// Left side.
    pub lhs: String,
    /// Operator (`~`, `~~`).
    pub op: String,
    /// Two-sided p-value (`None` for fixed parameters).
    pub pvalue: Option<f64>,
    /// Right side.
    pub rhs: String,
    /// Standard error.
    pub se: f64,
    /// Completely standardized estimate.
    #[serde(rename = "std.all")]
    pub std_all: f64,
    /// Latent-variable fits: standardized on the latent variables only (`std.lv`).
    #[serde(rename = "std.lv", skip_serializing_if = "Option::is_none")]
    pub std_lv: Option<f64>,
    /// Wald z (`None` for fixed parameters).
    pub z: Option<f64>,
}

/// One effect row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectRow {
    /// Lower interval bound (by `ci_method`).
    #[serde(rename = "ci.lower")]
    pub ci_lower: f64,
    /// How the interval was made.
    #[serde(rename = "ci.method")]
    pub ci_method: IntervalMethod,
    /// Upper interval bound.
    #[serde(rename = "ci.upper")]
    pub ci_upper: f64,
    /// Estimate.
    pub est: f64,
    /// Specific indirect effects: whether every path on the route is significant.
    pub joint_significant: Option<bool>,
    /// What kind of effect.
    pub kind: EffectClass,
    /// Route, pair or `:=` name.
    pub name: String,
    /// Two-sided delta-method p-value.
    pub pvalue: f64,
    /// Delta-method standard error.
    pub se: f64,
    /// Completely standardized value.
    #[serde(rename = "std.all")]
    pub std_all: f64,
    /// Delta-method z.
    pub z: f64,
}

/// lavaan's `fitMeasures()` as `balans fit` reports them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuresRow {
    /// Akaike information criterion.
    pub aic: f64,
    /// χ² of the baseline model.
    #[serde(rename = "baseline.chisq")]
    pub baseline_chisq: f64,
    /// Cluster-robust fits: the baseline model's Yuan–Bentler scaled χ².
    #[serde(
        rename = "baseline.chisq.scaled",
        skip_serializing_if = "Option::is_none"
    )]
    pub baseline_chisq_scaled: Option<f64>,
    /// Cluster-robust fits: the baseline model's scaling correction factor.
    #[serde(
        rename = "baseline.chisq.scaling.factor",
        skip_serializing_if = "Option::is_none"
    )]
    pub baseline_chisq_scaling_factor: Option<f64>,
    /// Its degrees of freedom.
    #[serde(rename = "baseline.df")]
    pub baseline_df: usize,
    /// Bayesian information criterion.
    pub bic: f64,
    /// Comparative fit index.
    pub cfi: f64,
    /// Cluster-robust fits: robust CFI (Brosseau-Liard & Savalei 2014, as lavaan's `cfi.robust`).
    #[serde(rename = "cfi.robust", skip_serializing_if = "Option::is_none")]
    pub cfi_robust: Option<f64>,
    /// χ² of the model.
    pub chisq: f64,
    /// Cluster-robust fits: the Yuan–Bentler scaled χ² (lavaan's `test = "yuan.bentler.mplus"`).
    #[serde(rename = "chisq.scaled", skip_serializing_if = "Option::is_none")]
    pub chisq_scaled: Option<f64>,
    /// Cluster-robust fits: its scaling correction factor (`χ² / chisq.scaled`).
    #[serde(
        rename = "chisq.scaling.factor",
        skip_serializing_if = "Option::is_none"
    )]
    pub chisq_scaling_factor: Option<f64>,
    /// Its degrees of freedom.
    pub df: usize,
    /// Log-likelihood of the model.
    pub logl: f64,
    /// Free parameters.
    pub npar: usize,
    /// p-value of χ² (`None` with df = 0).
    pub pvalue: Option<f64>,
    /// Cluster-robust fits: p-value of the scaled χ².
    #[serde(rename = "pvalue.scaled", skip_serializing_if = "Option::is_none")]
    pub pvalue_scaled: Option<f64>,
    /// RMSEA.
    pub rmsea: f64,
    /// Lower end of its 90% interval.
    #[serde(rename = "rmsea.ci.lower")]
    pub rmsea_ci_lower: f64,
    /// Upper end of its 90% interval.
    #[serde(rename = "rmsea.ci.upper")]
    pub rmsea_ci_upper: f64,
    /// p-value of H₀: RMSEA ≤ .05.
    #[serde(rename = "rmsea.pvalue")]
    pub rmsea_pvalue: Option<f64>,
    /// Cluster-robust fits: robust RMSEA (lavaan's `rmsea.robust`).
    #[serde(rename = "rmsea.robust", skip_serializing_if = "Option::is_none")]
    pub rmsea_robust: Option<f64>,
    /// Standardized root mean square residual.
    pub srmr: f64,
    /// Tucker–Lewis index.
    pub tli: f64,
    /// Cluster-robust fits: robust TLI (lavaan's `tli.robust`).
    #[serde(rename = "tli.robust", skip_serializing_if = "Option::is_none")]
    pub tli_robust: Option<f64>,
    /// Log-likelihood of the unrestricted model.
    #[serde(rename = "unrestricted.logl")]
    pub unrestricted_logl: f64,
}

/// Where a model variable's values came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariableSource {
    /// How it was obtained (`column`, `mean of es1..es4`, …).
    pub from: String,
    /// The variable.
    pub name: String,
}

/// The typed result of one fit (the fields in the order of their JSON keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// How the intervals were made.
    pub ci: IntervalSettings,
    /// Clusters of cluster-robust standard errors, when used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The data's origin (file name).
    pub data: String,
    /// Effects.
    pub effects: Vec<EffectRow>,
    /// Always ML.
    pub estimator: EstimatorName,
    /// Fit measures.
    pub fit: MeasuresRow,
    /// Latent-variable fits: negative variance estimates (Heywood cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub improper: Option<Vec<ImproperRow>>,
    /// Latent-variable fits: the information matrix of the standard errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub information: Option<InformationName>,
    /// Fisher-scoring iterations (0 for the closed form).
    pub iterations: usize,
    /// How the estimates were found.
    #[serde(serialize_with = "method_label")]
    pub method: Method,
    /// Latent-variable fits: how missing values are handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingRule>,
    /// Latent-variable fits: missing-data patterns (FIML only, else `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_patterns: Option<Option<usize>>,
    /// The model's origin (`builtin:seed` or a file name).
    pub model: String,
    /// Rows analysed.
    pub n: usize,
    /// Rows dropped by listwise deletion.
    pub n_dropped: usize,
    /// Parameter rows: free parameters, then the fixed `x` (co)variances.
    pub parameters: Vec<ParameterRow>,
    /// R² of every endogenous variable, by name.
    pub r2: BTreeMap<String, f64>,
    /// Variables scored as item means (`--min-items`), when any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scales: Vec<ScaleRow>,
    /// Non-standard standard errors, when used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub se: Option<StandardErrors>,
    /// Latent-variable fits: whether the latent variances are fixed to 1 (`std.lv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_lv: Option<bool>,
    /// Where each variable came from.
    pub variables: Vec<VariableSource>,
}

/// A variable scored as the mean of its items: how many rows were scored from some items only,
/// and how many lacked enough answered items (`--min-items`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleRow {
    /// Its number of items.
    pub items: usize,
    /// The fewest answered items that give a score.
    pub min_answered: usize,
    /// Rows with too few answered items (the score is missing).
    pub missing_rows: usize,
    /// The variable.
    pub name: String,
    /// Rows scored from some but not all items.
    pub partial_rows: usize,
}

/// A variance estimated below zero (a Heywood case).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImproperRow {
    /// The estimate.
    pub est: f64,
    /// The variable whose (residual) variance is negative.
    pub variable: String,
}

/// The information matrix of the standard errors, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InformationName {
    /// Expected information.
    Expected,
    /// Observed information.
    Observed,
}

impl InformationName {
    /// `Expected` or `Observed`.
    pub fn name(self) -> &'static str {
        match self {
            InformationName::Expected => "Expected",
            InformationName::Observed => "Observed",
        }
    }
}

/// How missing values are handled in a latent-variable fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingRule {
    /// Rows with a missing value are dropped.
    Listwise,
    /// Full-information ML (lavaan's `missing = "ml"`).
    Ml,
}

/// The estimator's name in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EstimatorName {
    /// Normal-theory maximum likelihood.
    #[serde(rename = "ML")]
    Ml,
}

/// What a [`FitReport`] says besides the fit: origins, data counts, interval settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FitContext {
    /// The data's origin.
    pub data: String,
    /// The model's origin.
    pub model: String,
    /// Rows analysed.
    pub n: usize,
    /// Rows dropped.
    pub n_dropped: usize,
    /// Where each variable came from.
    pub variables: Vec<VariableSource>,
    /// How the intervals were made.
    pub intervals: IntervalSettings,
    /// Clusters, with cluster-robust standard errors.
    pub cluster: Option<ClusterInfo>,
    /// Variables scored as item means.
    pub scales: Vec<ScaleRow>,
}

/// `closed form` or `Fisher scoring`, as the report names the method.
pub fn method_label_text(method: Method) -> &'static str {
    match method {
        Method::ClosedForm => "closed form",
        Method::FisherScoring => "Fisher scoring",
    }
}

fn method_label<S: Serializer>(method: &Method, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(method_label_text(*method))
}

impl FitReport {
    /// The report of `fit` in `context`, with the effects' intervals `effect_ci` (in effect order)
    /// and, for bootstrap methods, the free parameters' intervals `parameter_ci` (replacing the
    /// Wald ones).
    pub fn new(
        fit: &Fit,
        context: FitContext,
        effect_ci: &[Interval],
        parameter_ci: Option<&[Interval]>,
    ) -> FitReport {
        let parameters = parameter_rows(fit, parameter_ci);
        let effects = effect_rows(&fit.effects, effect_ci, context.intervals.method);
        FitReport {
            se: context
                .cluster
                .as_ref()
                .map(|_| StandardErrors::RobustCluster),
            ci: context.intervals,
            cluster: context.cluster,
            data: context.data,
            effects,
            estimator: EstimatorName::Ml,
            fit: MeasuresRow::from(&fit.measures).with_robust(fit.robust.as_ref()),
            improper: None,
            information: fit.robust.as_ref().map(|r| information_name(r.information)),
            iterations: fit.convergence.iterations,
            method: fit.convergence.method,
            missing: None,
            missing_patterns: None,
            model: context.model,
            n: context.n,
            n_dropped: context.n_dropped,
            parameters,
            r2: r_squared(&fit.r_squared),
            scales: context.scales,
            std_lv: None,
            variables: context.variables,
        }
    }

    /// The report of a latent-variable or FIML fit (delta-method intervals, Fisher scoring):
    /// `fiml` for `missing = "ml"`, `std_lv` when the latent variances are fixed to 1.
    pub fn latent(fit: &SemFit, context: FitContext, fiml: bool, std_lv: bool) -> FitReport {
        let parameters = fit
            .parameters
            .iter()
            .map(|p| ParameterRow {
                ci_lower: p.ci_lower,
                ci_upper: p.ci_upper,
                est: p.est,
                free: p.free,
                label: p.label.clone(),
                lhs: p.lhs.clone(),
                op: p.op.clone(),
                pvalue: p.pvalue,
                rhs: p.rhs.clone(),
                se: p.std_err,
                std_all: p.std_all,
                std_lv: Some(p.std_lv),
                z: p.z,
            })
            .collect();
        let intervals: Vec<Interval> = fit
            .effects
            .iter()
            .map(|e| Interval {
                lower: e.ci_lower,
                upper: e.ci_upper,
            })
            .collect();
        let effects = effect_rows(&fit.effects, &intervals, IntervalMethod::Delta);
        FitReport {
            ci: context.intervals,
            cluster: None,
            data: context.data,
            effects,
            estimator: EstimatorName::Ml,
            fit: MeasuresRow::from(&fit.measures),
            improper: Some(
                fit.improper
                    .iter()
                    .map(|i| ImproperRow {
                        est: i.est,
                        variable: i.variable.clone(),
                    })
                    .collect(),
            ),
            information: Some(information_name(fit.information)),
            iterations: fit.convergence.iterations,
            method: Method::FisherScoring,
            missing: Some(if fiml {
                MissingRule::Ml
            } else {
                MissingRule::Listwise
            }),
            missing_patterns: Some(fiml.then_some(fit.n_patterns)),
            model: context.model,
            n: context.n,
            n_dropped: context.n_dropped,
            parameters,
            r2: r_squared(&fit.r_squared),
            scales: context.scales,
            se: None,
            std_lv: Some(std_lv),
            variables: context.variables,
        }
    }
}

fn information_name(information: Information) -> InformationName {
    match information {
        Information::Expected => InformationName::Expected,
        Information::Observed => InformationName::Observed,
    }
}

fn r_squared(r2: &[crate::RSquared]) -> BTreeMap<String, f64> {
    r2.iter()
        .map(|r| (r.variable.clone(), r.r_squared))
        .collect()
}

/// The effect rows with their intervals (made by `method`).
fn effect_rows(
    effects: &[crate::EffectEstimate],
    intervals: &[Interval],
    method: IntervalMethod,
) -> Vec<EffectRow> {
    effects
        .iter()
        .zip(intervals)
        .map(|(e, ci)| EffectRow {
            ci_lower: ci.lower,
            ci_method: method,
            ci_upper: ci.upper,
            est: e.est,
            joint_significant: e.joint_significant,
            kind: e.kind,
            name: e.name.clone(),
            pvalue: e.pvalue,
            se: e.std_err,
            std_all: e.std_all,
            z: e.z,
        })
        .collect()
}

/// The parameter rows, with the bootstrap intervals of the free parameters when given.
fn parameter_rows(fit: &Fit, parameter_ci: Option<&[Interval]>) -> Vec<ParameterRow> {
    let n_free = fit.parameters.iter().filter(|p| p.free).count();
    fit.parameters
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let (lo, hi) = match parameter_ci {
                Some(ci) if k < n_free && p.free => (ci[k].lower, ci[k].upper),
                _ => (p.ci_lower, p.ci_upper),
            };
            ParameterRow {
                ci_lower: lo,
                ci_upper: hi,
                est: p.est,
                free: p.free,
                label: p.label.clone(),
                lhs: p.lhs.clone(),
                op: p.op.clone(),
                pvalue: p.pvalue,
                rhs: p.rhs.clone(),
                se: p.std_err,
                std_all: p.std_all,
                std_lv: None,
                z: p.z,
            }
        })
        .collect()
}

impl From<&FitMeasures> for MeasuresRow {
    fn from(m: &FitMeasures) -> MeasuresRow {
        MeasuresRow {
            aic: m.aic,
            baseline_chisq: m.baseline_chisq,
            baseline_chisq_scaled: None,
            baseline_chisq_scaling_factor: None,
            baseline_df: m.baseline_df,
            bic: m.bic,
            cfi: m.cfi,
            cfi_robust: None,
            chisq: m.chisq,
            chisq_scaled: None,
            chisq_scaling_factor: None,
            df: m.df,
            logl: m.logl,
            npar: m.npar,
            pvalue: m.pvalue,
            pvalue_scaled: None,
            rmsea: m.rmsea,
            rmsea_ci_lower: m.rmsea_ci_lower,
            rmsea_ci_upper: m.rmsea_ci_upper,
            rmsea_pvalue: m.rmsea_pvalue,
            rmsea_robust: None,
            srmr: m.srmr,
            tli: m.tli,
            tli_robust: None,
            unrestricted_logl: m.unrestricted_logl,
        }
    }
}

impl MeasuresRow {
    /// The row with the scaled test and robust measures of a cluster-robust fit, when given.
    fn with_robust(mut self, robust: Option<&ClusterRobust>) -> MeasuresRow {
        if let Some(r) = robust {
            let t = &r.test;
            self.baseline_chisq_scaled = t.baseline_chisq_scaled;
            self.baseline_chisq_scaling_factor = t.baseline_chisq_scaling_factor;
            self.cfi_robust = t.cfi_robust;
            self.chisq_scaled = t.chisq_scaled;
            self.chisq_scaling_factor = t.chisq_scaling_factor;
            self.pvalue_scaled = t.pvalue_scaled;
            self.rmsea_robust = t.rmsea_robust;
            self.tli_robust = t.tli_robust;
        }
        self
    }
}
