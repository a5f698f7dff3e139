//! `balans power` with a latent-variable analysis model (`=~`): multivariate normal item data from
//! the population model, the analysis model fitted by ML to each replication
//! ([`balans_power::latent`]); power per (N, effect, test) with Monte Carlo SEs and the counts of
//! non-converged fits and improper solutions.

use crate::output::{emit, Format};
use crate::power::PowerArgs;
use anyhow::{bail, Context, Result};
use balans_model::Model;
use balans_power::latent::{latent_power_curve, LatentPowerConfig, LatentPowerRow, LatentStudy};

/// Whether the run needs the latent-variable power path.
pub fn applies(model: &Model, analysis: Option<&Model>) -> bool {
    analysis.unwrap_or(model).has_latent_variables()
}

/// Runs the latent-variable power analysis of `model` (population) with `analysis` (default: the
/// population model's own structure) at the sample sizes `ns`.
pub fn run(
    args: &PowerArgs,
    model: &Model,
    analysis: Option<&Model>,
    ns: &[usize],
    session: &balans_montecarlo::Session,
) -> Result<()> {
    if let Some(flag) = args.unsupported_for_latent() {
        bail!("{flag} is not available with a latent-variable analysis model yet (items are simulated as multivariate normal, analysed by ML with Wald, Sobel and joint tests)");
    }
    let study = LatentStudy::new(model, analysis.unwrap_or(model), false)
        .context("failed to set up the latent-variable power analysis")?;
    let config = LatentPowerConfig {
        replications: args.replications(),
        seed: args.seed(),
        alpha: args.alpha(),
    };
    let progress = crate::progress::Progress::start(
        "the latent-variable power analysis",
        "replications",
        Some((ns.len() * config.replications) as u64),
    );
    let rows = latent_power_curve(
        &study,
        &config,
        ns,
        &session.with_progress(&|k| progress.tick(k)),
    );
    progress.finish();
    let mut rows = rows?;
    let wanted = args.effect_names();
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !study.targets().iter().any(|t| &t.name == *w))
    {
        bail!(
            "unknown effect '{unknown}' for --effects; the latent analysis model has: {}",
            study
                .targets()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !wanted.is_empty() {
        rows.retain(|r| wanted.contains(&r.effect));
    }
    let text = match args.format() {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model_origin(),
                "analysis": "latent variables (ML on items)",
                "seed": config.seed, "replications": config.replications, "alpha": config.alpha,
                "rows": rows,
            }))?
        ),
        Format::Csv => csv(&rows),
        Format::Table => table(&rows, &config),
    };
    emit(args.out_path(), text.as_bytes())?;
    Ok(())
}

fn csv(rows: &[LatentPowerRow]) -> String {
    let mut o = String::from(
        "n,effect,kind,test,power,mc_se,mean_estimate,replications,not_converged,improper\n",
    );
    for r in rows {
        o.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.n,
            r.effect,
            r.kind,
            r.test,
            r.power,
            r.mc_se,
            r.mean_estimate,
            r.replications,
            r.not_converged,
            r.improper
        ));
    }
    o
}

fn table(rows: &[LatentPowerRow], config: &LatentPowerConfig) -> String {
    let mut o = format!(
        "Latent-variable power (ML on multivariate normal items), {} replications per N, seed {}, alpha {}\n\n",
        config.replications, config.seed, config.alpha
    );
    o.push_str(&format!(
        "{:>6}  {:<28} {:<7} {:>7} {:>7} {:>10} {:>9} {:>9}\n",
        "N", "effect", "test", "power", "MC SE", "mean est", "not conv", "improper"
    ));
    for r in rows {
        o.push_str(&format!(
            "{:>6}  {:<28} {:<7} {:>7.3} {:>7.3} {:>10.3} {:>9} {:>9}\n",
            r.n, r.effect, r.test, r.power, r.mc_se, r.mean_estimate, r.not_converged, r.improper
        ));
    }
    o
}
