//! `cargo xtask peer-trial`: simulation power of the mixed ANCOVA of a 30 × 8 cluster-randomised
//! pre/post trial, in R (lme4 + lmerTest, `scripts/peer/peer_trial.R`) and in balans (`trial
//! power`'s leader statistics and REML from them), with both per-replication costs, their ratio, and
//! whether the powers agree within Monte Carlo error.

use anyhow::{bail, Context, Result};
use balans_trial::design::DesignSpec;
use balans_trial::power::{trial_power, TrialPowerConfig};
use std::process::Command;
use std::time::Instant;

const ALPHA: f64 = 0.05;

pub fn run(args: &[String]) -> Result<()> {
    let r_reps: usize = crate::flag(args, "--reps", 500)?;
    let balans_reps: usize = crate::flag(args, "--balans-reps", 20_000)?;
    let seed: u64 = crate::flag(args, "--seed", 1)?;
    let leaders: usize = crate::flag(args, "--leaders", 30)?;
    let team: usize = crate::flag(args, "--team-size", 8)?;
    let effect: f64 = crate::flag(args, "--effect", 0.25)?;
    if r_reps < 2 || balans_reps < 2 {
        bail!("--reps and --balans-reps must be at least 2");
    }
    let ok = Command::new("Rscript")
        .args([
            "-e",
            "suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        println!(
            "peer-trial skipped: Rscript with lme4, lmerTest and jsonlite is not available.\n\
             Install it with: sudo apt-get install r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite"
        );
        return Ok(());
    }
    let spec = DesignSpec {
        leaders: Some(leaders),
        team_size: Some(team as f64),
        effect: Some(effect),
        ..DesignSpec::default()
    };
    let design = spec.resolve().map_err(|e| anyhow::anyhow!("{e}"))?;
    let v = 0; // fssb, the exogenous outcome the training shifts directly
    let icc = design.icc()[v];
    let [r_e, r_l] = design.stability();
    let attrition = spec
        .attrition
        .unwrap_or(balans_trial::design::DEFAULT_ATTRITION);
    let dir = std::env::temp_dir().join(format!("balans-peer-trial-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("lmer.json");
    println!(
        "peer-trial: {leaders} leaders (half trained) × {team} employees, ICC {icc}, stability {r_e}/{r_l}, effect {effect} (SD {}), attrition {attrition} MCAR, alpha {ALPHA}; R {r_reps} replications, balans {balans_reps}",
        design.effect_sd()
    );
    let script = crate::repo_root().join("scripts/peer/peer_trial.R");
    let status = Command::new("Rscript")
        .arg(&script)
        .args([
            leaders.to_string(),
            team.to_string(),
            icc.to_string(),
            r_e.to_string(),
            r_l.to_string(),
            effect.to_string(),
            design.effect_sd().to_string(),
            attrition.to_string(),
            r_reps.to_string(),
            seed.to_string(),
            ALPHA.to_string(),
        ])
        .arg(&out)
        .status()
        .context("failed to run Rscript")?;
    if !status.success() {
        bail!("{} failed", script.display());
    }
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let _ = std::fs::remove_dir_all(&dir);

    let config = TrialPowerConfig {
        outcome: "fssb".into(),
        reps: balans_reps,
        seed,
        alpha: ALPHA,
        employee_level: false,
        analyses: vec![balans_trial::power::PowerAnalysis::MixedAncova],
    };
    // One thread; trial_power runs the effect and the null condition, so a replication of the
    // effect condition costs half the elapsed time per replication.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let start = Instant::now();
    let rows = one.install(|| trial_power(&design, &config, &[leaders], &[None], &|_| {}))?;
    let balans_cost = start.elapsed().as_secs_f64() / (2 * balans_reps) as f64;
    let row = rows.first().context("no power row")?;
    let r_cost = r["seconds_per_replication"].as_f64().unwrap_or(f64::NAN);
    let p_r = r["power"].as_f64().unwrap_or(f64::NAN);
    println!(
        "\nper-replication cost (one thread; simulate + mixed ANCOVA REML + Satterthwaite):\n  R ({})  {:>10.3} ms\n  balans                   {:>10.4} ms   ratio {:>8.0}×",
        r["versions"].as_str().unwrap_or("?"),
        1e3 * r_cost,
        1e3 * balans_cost,
        r_cost / balans_cost
    );
    let (r1, r2) = (balans_reps as f64, r_reps as f64);
    let pooled = (row.power * r1 + p_r * r2) / (r1 + r2);
    let se = (pooled * (1.0 - pooled) * (1.0 / r1 + 1.0 / r2))
        .sqrt()
        .max(1.0 / r2);
    let agree = (row.power - p_r).abs() <= 3.0 * se;
    println!(
        "\npower of the arm effect (Satterthwaite t test):\n  R/lmerTest {:.4} ({} of {r_reps} fitted, {} singular)\n  balans     {:.4} ± {:.4} (failed {}, singular {} of {} fits incl. the null condition)\n  difference {:+.4}, 3·SE {:.4}: {}",
        p_r,
        r["fitted"].as_u64().unwrap_or(0),
        r["singular"].as_u64().unwrap_or(0),
        row.power,
        row.mc_se,
        row.failed,
        row.singular,
        2 * balans_reps,
        row.power - p_r,
        3.0 * se,
        if agree { "agree within Monte Carlo error" } else { "DISAGREE" }
    );
    Ok(())
}
