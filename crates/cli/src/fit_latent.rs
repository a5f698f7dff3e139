//! `balans fit` for models with latent variables (`=~`), with FIML (`--missing ml`) or `--std-lv`:
//! the same report rows as path models (plus `=~`, `~1`, `std.lv` and Heywood cases), estimated by
//! `balans_estimate::sem`.

use crate::data::{read_csv, CsvOptions};
use crate::fit::{ascii, known_ranges, model_origin, warn_if_nested, CiMethod, FitArgs};
use anyhow::{anyhow, bail, Context, Result};
use balans_estimate::sem::{
    fit_sem_rows, Information, Missing, SemConfig, SemFit, SemOptions, SemSpec,
};
use balans_model::Model;
use serde_json::{json, Value};

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
        || args.information == InformationArg::Observed
}

/// Fits a latent-variable or FIML model and returns the report (the same JSON layout as path
/// models).
pub fn fit_report(args: &FitArgs, model: &Model) -> Result<Value> {
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
    };
    let data = read_csv(&args.data, &observed, &opts)?;
    warn_if_nested(&data.columns);
    let origin = args.data.display().to_string();
    let config = SemConfig {
        missing: if fiml { Missing::Ml } else { Missing::Listwise },
        information: Some(match args.information {
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
    Ok(report_json(args, &origin, &data, &fit, fiml))
}

fn report_json(
    args: &FitArgs,
    origin: &str,
    data: &crate::data::DataMatrix,
    fit: &SemFit,
    fiml: bool,
) -> Value {
    let parameters: Vec<Value> = fit
        .parameters
        .iter()
        .map(|p| {
            json!({
                "lhs": p.lhs, "op": p.op, "rhs": p.rhs, "label": p.label, "free": p.free,
                "est": p.est, "se": p.std_err, "z": p.z, "pvalue": p.pvalue,
                "ci.lower": p.ci_lower, "ci.upper": p.ci_upper, "std.lv": p.std_lv,
                "std.all": p.std_all,
            })
        })
        .collect();
    let effects: Vec<Value> = fit
        .effects
        .iter()
        .map(|e| {
            json!({
                "name": e.name, "kind": e.kind, "est": e.est, "se": e.std_err, "z": e.z,
                "pvalue": e.pvalue, "ci.lower": e.ci_lower, "ci.upper": e.ci_upper,
                "ci.method": "delta", "std.all": e.std_all,
                "joint_significant": e.joint_significant,
            })
        })
        .collect();
    let m = &fit.measures;
    let r2: serde_json::Map<String, Value> = fit
        .r_squared
        .iter()
        .map(|r| (r.variable.clone(), json!(r.r_squared)))
        .collect();
    let information = match fit.information {
        Information::Expected => "Expected",
        Information::Observed => "Observed",
    };
    json!({
        "data": origin,
        "model": model_origin(args),
        "n": fit.n,
        "n_dropped": data.n_dropped + fit.n_deleted,
        "missing": if fiml { "ml" } else { "listwise" },
        "missing_patterns": if fiml { json!(fit.n_patterns) } else { Value::Null },
        "variables": data.names.iter().zip(&data.provenance).map(|(n, p)| json!({"name": n, "from": p})).collect::<Vec<_>>(),
        "estimator": "ML",
        "method": "Fisher scoring",
        "information": information,
        "std_lv": args.std_lv,
        "iterations": fit.convergence.iterations,
        "ci": {"method": "delta", "level": args.level, "seed": args.seed, "bootstrap": Value::Null,
               "mc_draws": Value::Null},
        "fit": {
            "npar": m.npar, "chisq": m.chisq, "df": m.df, "pvalue": m.pvalue,
            "baseline.chisq": m.baseline_chisq, "baseline.df": m.baseline_df,
            "cfi": m.cfi, "tli": m.tli, "rmsea": m.rmsea, "rmsea.ci.lower": m.rmsea_ci_lower,
            "rmsea.ci.upper": m.rmsea_ci_upper, "rmsea.pvalue": m.rmsea_pvalue, "srmr": m.srmr,
            "logl": m.logl, "unrestricted.logl": m.unrestricted_logl, "aic": m.aic, "bic": m.bic,
        },
        "improper": fit.improper.iter().map(|i| json!({"variable": i.variable, "est": i.est})).collect::<Vec<_>>(),
        "r2": r2,
        "parameters": parameters,
        "effects": effects,
    })
}
