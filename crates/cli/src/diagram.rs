//! `balans diagram`: the path diagram of a model (population values) or of a fit (estimates with
//! stars), as SVG.

use crate::output::emit;
use crate::source::ModelSource;
use anyhow::Result;
use balans_report::diagram::PathDiagram;
use std::path::PathBuf;

/// Arguments of `balans diagram`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans diagram --builtin seed --out seed.svg          population values of the study's model
  balans diagram --model my.lav --out my.svg

Variables flow left to right in causal order; R² is shown in the boxes of endogenous variables,
(residual) covariances as curved arrows.")]
pub struct DiagramArgs {
    #[command(flatten)]
    source: ModelSource,
    /// Output file (SVG); `-` or absent: stdout.
    #[arg(long, short, value_name = "FILE.svg")]
    out: Option<PathBuf>,
}

/// Runs `balans diagram`.
pub fn run(args: &DiagramArgs) -> Result<()> {
    let model = args.source.load()?;
    let population = model.population()?;
    let diagram = PathDiagram::from_population(&model, &population);
    emit(args.out.as_deref(), diagram.to_svg().as_bytes())
}
