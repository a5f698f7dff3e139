//! `cargo xtask validate`: the long validations that CI leaves out — every test including the ones
//! marked `#[ignore = "long: …"]` (large Monte Carlo replication counts), in release mode.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// Runs `cargo test --workspace --release -- --include-ignored`.
pub fn run(_args: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(crate::repo_root())
        .args([
            "test",
            "--workspace",
            "--release",
            "--",
            "--include-ignored",
        ])
        .status()
        .context("failed to run cargo test")?;
    if !status.success() {
        bail!("validation failed (cargo test exited with {status})");
    }
    println!("validate: all tests, including the long ignored ones, passed");
    Ok(())
}
