//! `cargo xtask peer-power`: the seed model's power at N = 278, in R/lavaan and in balans.

use anyhow::{bail, Context, Result};
use balans_model::Model;
use balans_power::{power_curve, EffectSelection, PowerConfig, PowerRow, Sampling, Study, Test};
use std::process::Command;
use std::time::Instant;

const N: usize = 278;
const ALPHA: f64 = 0.05;

pub fn run(args: &[String]) -> Result<()> {
    let r_reps: usize = crate::flag(args, "--reps", 300)?;
    let balans_reps: usize = crate::flag(args, "--balans-reps", 20_000)?;
    let seed: u64 = crate::flag(args, "--seed", 1)?;
    if r_reps < 2 || balans_reps < 2 {
        bail!("--reps and --balans-reps must be at least 2");
    }
    let lavaan_ok = Command::new("Rscript")
        .args([
            "-e",
            "suppressPackageStartupMessages({library(lavaan); library(MASS); library(jsonlite)})",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !lavaan_ok {
        println!(
            "peer-power skipped: Rscript with lavaan, MASS and jsonlite is not available.\n\
             Install it with: sudo apt-get install r-base-core r-cran-lavaan r-cran-jsonlite (MASS ships with R)"
        );
        return Ok(());
    }
    let model = Model::builtin("seed")?;
    let population = model.population()?;
    let dir = std::env::temp_dir().join(format!("balans-peer-power-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sigma_path = dir.join("sigma.csv");
    let out_path = dir.join("lavaan.json");
    let sigma = population.implied_covariance();
    let mut csv = population.names().join(",") + "\n";
    for i in 0..sigma.nrows() {
        let row: Vec<String> = (0..sigma.ncols())
            .map(|j| format!("{:.17e}", sigma[(i, j)]))
            .collect();
        csv += &(row.join(",") + "\n");
    }
    std::fs::write(&sigma_path, csv)?;

    println!("peer-power: builtin seed model, N = {N}, alpha = {ALPHA}; R/lavaan {r_reps} replications, balans {balans_reps}");
    let script = crate::repo_root().join("scripts/peer/peer_power.R");
    let status = Command::new("Rscript")
        .arg(&script)
        .args([
            sigma_path.to_str().unwrap_or_default(),
            &N.to_string(),
            &r_reps.to_string(),
            &seed.to_string(),
            &ALPHA.to_string(),
        ])
        .arg(&out_path)
        .status()
        .context("failed to run Rscript")?;
    if !status.success() {
        bail!("{} failed", script.display());
    }
    let lavaan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_path)?)?;
    let _ = std::fs::remove_dir_all(&dir);

    let names: Vec<String> = [
        "ind_is_wfc_perf",
        "ind_rm_wfe_amb",
        "ind_cm_eng_perf",
        "ind_cm_eng_amb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let study_all = Study::new(&model, None, &EffectSelection::All)?;
    let mut selection: Vec<String> = study_all
        .effects()
        .iter()
        .filter(|e| e.kind_name() == "path")
        .map(|e| e.name.clone())
        .collect();
    selection.extend(names);
    let study = Study::new(&model, None, &EffectSelection::Named(selection))?;
    let config = PowerConfig {
        replications: balans_reps,
        seed,
        alpha: ALPHA,
        tests: vec![Test::Joint, Test::Sobel],
        sampling: Sampling::Rows,
        ..PowerConfig::default()
    };
    // Per-replication cost on one thread: the engine runs in the ambient pool, here of 1 thread.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let start = Instant::now();
    let rows =
        one.install(|| power_curve(&study, &config, &[N], &|_| {}).map_err(anyhow::Error::from))?;
    let balans_rows_cost = start.elapsed().as_secs_f64() / balans_reps as f64;
    let wishart = PowerConfig {
        sampling: Sampling::Wishart,
        ..config.clone()
    };
    let start = Instant::now();
    one.install(|| power_curve(&study, &wishart, &[N], &|_| {}).map_err(anyhow::Error::from))?;
    let balans_wishart_cost = start.elapsed().as_secs_f64() / balans_reps as f64;

    let r_cost = lavaan["seconds_per_replication"]
        .as_f64()
        .unwrap_or(f64::NAN);
    println!(
        "\nper-replication cost (one thread):\n  R/lavaan {} {:>12.3} ms\n  balans rows     {:>12.4} ms   ratio {:>8.0}×\n  balans wishart  {:>12.4} ms   ratio {:>8.0}×",
        lavaan["lavaan"].as_str().unwrap_or("?"),
        1e3 * r_cost,
        1e3 * balans_rows_cost,
        r_cost / balans_rows_cost,
        1e3 * balans_wishart_cost,
        r_cost / balans_wishart_cost
    );
    println!(
        "  (lavaan converged in {} of {r_reps} replications)\n",
        lavaan["converged"].as_u64().unwrap_or(0)
    );
    println!(
        "{:<22} {:<6} {:>8} {:>8} {:>8} {:>8}  agree (|diff| ≤ 4·SE)",
        "effect", "test", "lavaan", "balans", "diff", "4·SE"
    );
    let mut disagreements = 0;
    let mut compared = 0;
    for row in rows.iter().filter(|r| r.kind != balans_power::RowKind::All) {
        let key = format!("{}|{}", row.effect, row.test);
        let Some(p_r) = lavaan["power"][&key].as_f64() else {
            continue;
        };
        compared += 1;
        let agree = agrees(row, p_r, r_reps);
        let se = combined_se(row, p_r, r_reps);
        disagreements += usize::from(!agree);
        println!(
            "{:<22} {:<6} {:>8.3} {:>8.3} {:>8.3} {:>8.3}  {}",
            row.effect,
            row.test,
            p_r,
            row.power,
            row.power - p_r,
            4.0 * se,
            if agree { "yes" } else { "NO" }
        );
    }
    println!(
        "\n{compared} power values compared; {} within Monte Carlo error (4 SE of the difference; with {compared} comparisons about {:.2} false alarms expected by chance)",
        compared - disagreements,
        compared as f64 * 6.3e-5
    );
    if compared == 0 {
        bail!("no power values to compare: the R output had no matching effects");
    }
    Ok(())
}

/// SE of the difference of two independent rejection rates under the hypothesis that they are
/// equal: pooled rate p̄, `sqrt(p̄(1 − p̄)(1/R₁ + 1/R₂))` (the two-proportion z test), with a floor of
/// 1/R for pooled rates of 0 or 1.
fn combined_se(row: &PowerRow, p_r: f64, r_reps: usize) -> f64 {
    let (r1, r2) = (row.n_replications as f64, r_reps as f64);
    let pooled = (row.power * r1 + p_r * r2) / (r1 + r2);
    (pooled * (1.0 - pooled) * (1.0 / r1 + 1.0 / r2))
        .sqrt()
        .max(1.0 / r2)
}

fn agrees(row: &PowerRow, p_r: f64, r_reps: usize) -> bool {
    (row.power - p_r).abs() <= 4.0 * combined_se(row, p_r, r_reps)
}
