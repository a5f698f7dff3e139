//! `balans fit` (work in progress).

use crate::Failure;

/// Arguments of `balans fit`.
#[derive(Debug, clap::Args)]
pub struct FitArgs {}

/// Runs `balans fit`.
pub fn run(_args: &FitArgs) -> Result<(), Failure> {
    Err(anyhow::anyhow!("'balans fit' is not implemented yet").into())
}
