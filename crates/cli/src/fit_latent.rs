//! `balans fit` for models with latent variables (`=~`), with FIML (`--missing ml`) or `--std-lv`:
//! the same report rows as path models (plus `=~`, `~1`, `std.lv` and Heywood cases), estimated by
//! `balans_estimate::sem`.

use crate::data::{read_csv, CsvOptions, DataMatrix};
use crate::fit::{ascii, known_ranges, warn_if_nested, CiMethod, FitArgs};
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::sem::{
    fit_sem_rows, Information, Missing, SemConfig, SemFit, SemOptions, SemSpec,
};
use balans_estimate::{FitContext, FitReport, IntervalMethod, IntervalSettings, VariableSource};
use balans_model::Model;

/// `--missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MissingArg {
    /// Drop rows with a missing value (listwise deletion).
    Listwise,
    /// Full-information ML (lavaan's missing = "ml").
    Ml,
}

/// `--information`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InformationArg {
    /// Expected information (lavaan's default for complete data).
    Expected,
    /// Observed information (the Hessian of the log-likelihood).
    Observed,
}

/// Whether `balans fit` goes through the latent-variable/FIML estimator.
pub fn applies(args: &FitArgs, model: &Model) -> bool {
    model.has_latent_variables()
        || args.missing == MissingArg::Ml
        || args.std_lv
        || (args.information == Some(InformationArg::Observed) && args.cluster.is_none())
}

/// Fits a latent-variable or FIML model and returns the report (the same JSON layout as path
/// models).
pub fn fit_report(args: &FitArgs, model: &Model) -> Result<FitReport> {
    if args.ci != CiMethod::Delta {
        bail!("--ci {:?} is not available for latent-variable or FIML fits yet; use --ci delta (the delta-method intervals lavaan reports)", args.ci);
    }
    if args.cluster.is_some() {
        bail!("--cluster is not available for latent-variable or FIML fits yet");
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level must lie in (0, 1), got {}", args.level);
    }
    let fiml = args.missing == MissingArg::Ml;
    let options = SemOptions {
        std_lv: args.std_lv,
        meanstructure: fiml,
    };
    let spec = SemSpec::from_model(model, options)
        .map_err(|e| anyhow!(e))
        .context("failed to set up the analysis model")?;
    let observed: Vec<String> = spec.observed().iter().map(|s| s.to_string()).collect();
    let opts = CsvOptions {
        separator: ascii(args.sep, "--sep")?,
        decimal: ascii(args.decimal, "--decimal")?,
        na: args.na.clone(),
        min_item_share: args.min_items,
        accept_codes: args.accept_codes,
        known_ranges: known_ranges(),
        cluster: None,
        keep_incomplete: fiml,
        items: crate::data::parse_items(&args.items)?,
    };
    let data = read_csv(&args.data, &observed, &opts)?;
    warn_if_nested(&data.columns);
    let origin = args.data.display().to_string();
    let config = SemConfig {
        missing: if fiml { Missing::Ml } else { Missing::Listwise },
        information: Some(match args.information.unwrap_or(InformationArg::Expected) {
            InformationArg::Expected => Information::Expected,
            InformationArg::Observed => Information::Observed,
        }),
        level: args.level,
        max_iterations: args.max_iter,
        ..SemConfig::default()
    };
    let fit = fit_sem_rows(&spec, &data.values, &config)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("failed to fit the model to {origin} ({} rows)", data.n))?;
    let context = context(args, origin, &data, &fit);
    Ok(FitReport::latent(&fit, context, fiml, args.std_lv))
}

/// What the report says besides the fit (rows counted after the estimator's own deletions).
fn context(args: &FitArgs, origin: String, data: &DataMatrix, fit: &SemFit) -> FitContext {
    FitContext {
        data: origin,
        model: args.source.origin(),
        n: fit.n,
        n_dropped: data.n_dropped + fit.n_deleted,
        variables: data
            .names
            .iter()
            .zip(&data.provenance)
            .map(|(name, from)| VariableSource {
                from: from.clone(),
                name: name.clone(),
            })
            .collect(),
        intervals: IntervalSettings {
            bootstrap: None,
            level: args.level,
            mc_draws: None,
            method: IntervalMethod::Delta,
            seed: args.seed,
        },
        cluster: None,
        scales: Vec::new(),
    }
}
