//! `cargo xtask <command>`: project chores.
//!
//! Commands:
//! * `peer-power [--reps R] [--balans-reps R] [--seed S]` — runs the same power analysis of the
//!   built-in `seed` model at N = 278 in R with lavaan (`scripts/peer/peer_power.R`) and in balans,
//!   and prints both per-replication costs, their ratio, and whether the power values agree within
//!   Monte Carlo error. Skipped with a message when `Rscript` or lavaan is missing.
//! * `peer-trial [--reps R] [--balans-reps R] [--seed S] [--leaders J] [--team-size n] [--effect D]`
//!   — the simulation power of the mixed ANCOVA of a cluster-randomised pre/post trial (30 leaders
//!   × 8 employees by default) in R with lme4 + lmerTest (`scripts/peer/peer_trial.R`) and in
//!   balans: both per-replication costs, their ratio, and whether the powers agree within Monte
//!   Carlo error. Skipped with a message when `Rscript` or the packages are missing.
//! * `power-type1 [--reps R] [--boot B] [--seed S]` — the type I error of each indirect-effect test
//!   when one path of the route is zero; writes `tests/reference/power_type1_indirect.md`.
//! * `fuzz [--cases N] [--csv-cases M] [--seed S]` — hostile model texts and CSV files through the
//!   library entry points (see `fuzz.rs`); the CI share runs as its unit tests.
//! * `tidy` — the dependency rule of ARCHITECTURE.md, checked on every crate's manifest.
//! * `validate` — every test including the long ones marked `#[ignore]`, in release mode.

mod fuzz;
mod fuzz_gen;
mod invariants;
mod peer_power;
mod peer_trial;
mod power_type1;
mod slurm_check;
mod tidy;
mod validate;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  peer-power [--reps R] [--balans-reps R] [--seed S]
      the seed model's power at N = 278 in R/lavaan and in balans: costs, ratio, agreement
  peer-trial [--reps R] [--balans-reps R] [--seed S] [--leaders J] [--team-size n] [--effect D]
      trial power of the mixed ANCOVA (30 x 8) in R/lme4+lmerTest and in balans: costs, ratio, agreement
  power-type1 [--reps R] [--boot B] [--seed S]
      type I error of each indirect-effect test when one path is zero
      (writes tests/reference/power_type1_indirect.md)
  fuzz [--cases N] [--csv-cases M] [--seed S] [--timeout SECONDS]
      N hostile model texts and M CSV files through the library entry points: panics, hangs,
      slowest case, peak memory (failing inputs in target/fuzz/)
  slurm-check
      a sharded power analysis through a single-node Slurm (installs slurm-wlm and munge when
      absent), merged and compared byte for byte with the single run
  tidy
      checks that every crate depends only on the layers below it (ARCHITECTURE.md)
  validate
      every test including the long ones marked #[ignore] (release mode)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("peer-power") => peer_power::run(&args[1..]),
        Some("peer-trial") => peer_trial::run(&args[1..]),
        Some("power-type1") => power_type1::run(&args[1..]),
        Some("validate") => validate::run(&args[1..]),
        Some("tidy") => tidy::run(&args[1..]),
        Some("slurm-check") => slurm_check::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown xtask command '{other}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the repo")
        .to_path_buf()
}

/// The value of `--name VALUE` in `args`, parsed, or `default`.
pub fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let v = args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name} {v}: not a valid value"))
        }
        None => Ok(default),
    }
}
