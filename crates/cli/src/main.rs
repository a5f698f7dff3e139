//! `balans`: plan, simulate and analyse studies of work–life balance at work.
//!
//! `main → run(parse()) → ExitCode`. Exit codes (documented in `--help`):
//! * 0 — success;
//! * 1 — a user error (bad input, bad flag value, infeasible model) — the message says what to fix;
//! * 2 — a command-line usage error (clap);
//! * 3 — the estimator did not converge (`balans fit`);
//! * 141 — stdout was closed by its reader (`balans … | head`): nothing is printed (128 + SIGPIPE).

mod data;
mod diagram;
mod fit;
mod fit_latent;
mod flags;
mod grammar;
mod groups;
mod meta;
mod model_cmd;
mod output;
mod paths;
mod power;
mod power_latent;
mod progress;
mod report;
mod shard;
mod signals;
mod simulate;
mod sizes;
mod slurm;
mod source;
mod teach;
mod threads;
mod transport;
mod trial;
mod trial_data;
mod whatif;

use balans_estimate::EvalError;
use balans_montecarlo::{RunMode, Session};
use clap::{Parser, Subcommand};
use flags::CommandKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// Plan, simulate and analyse path/mediation studies of work–life balance at work.
#[derive(Debug, Parser)]
#[command(name = "balans", version, about, long_about = None, after_help = "\
Examples:
  balans model show --builtin seed          the study's model: paths, R², effects
  balans simulate --builtin seed --n 278 --seed 1
  balans fit --data survey.csv --builtin seed
  balans power --builtin seed --n-range 100:600:100
  balans diagram --builtin seed --out seed.svg  the path diagram (SVG)
  balans report power.json --out report.html    one offline HTML report of JSON results
  balans teach class --students 30 --seed 7 --out kit   a class kit for teaching mediation
  balans transport replicate --original 0.31,0.06 --replication 0.15,0.083
  balans meta --data studies.csv --method REML --forest forest.svg

Exit codes: 0 success, 1 bad input or infeasible request, 2 usage error, 3 estimation did not converge.")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Let outputs replace an input of the same run, a file of another kind (e.g. `--plot` over
    /// a CSV file) or a symbolic link (the link, not its target). Directories are never replaced;
    /// devices and FIFOs (`--out /dev/null`) are written into.
    #[arg(long, global = true)]
    force: bool,
    /// Run only shard k of K (e.g. `--shard 3/8`, a Slurm array task) of a Monte Carlo command and
    /// write its exact block tallies to `--part FILE` instead of the output; `balans merge` joins
    /// the K parts into output byte-identical to the single run.
    #[arg(long, global = true, value_name = "k/K")]
    shard: Option<String>,
    /// With `--shard`: the part file to write.
    #[arg(long, global = true, value_name = "FILE")]
    part: Option<PathBuf>,
    /// Show the progress of long runs (replications done, rate, time left) on stderr even when it
    /// is not a terminal (then as a plain line every 5 s); on a terminal it is always shown.
    #[arg(long, global = true)]
    progress: bool,
    /// Most memory a run may plan to use, e.g. `4GB`, `500MB` (default 1GB). Every command estimates
    /// its allocations from its flags before it starts and refuses a run above this budget.
    #[arg(long, global = true, value_name = "SIZE")]
    memory_limit: Option<String>,
}

/// `balans merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The part files of shards 1/K … K/K of one run (any order).
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Where the merged output goes; default stdout. Never taken from a part.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The merged output's format (as the run's `--format`); default: the command's default.
    /// Never taken from a part.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read, show and print path/mediation models (lavaan syntax).
    Model(model_cmd::ModelArgs),
    /// Simulate synthetic survey data under a model.
    Simulate(simulate::SimulateArgs),
    /// Estimate a model on CSV data (ML, lavaan-equal).
    Fit(fit::FitArgs),
    /// Monte Carlo power analysis and sample-size planning.
    Power(power::PowerArgs),
    /// Draw the path diagram of a model or a fit (SVG).
    Diagram(diagram::DiagramArgs),
    /// Write one self-contained HTML report of JSON results.
    Report(report::ReportArgs),
    /// Plan, simulate, analyse and power cluster-randomised pre/post leader-training trials.
    Trial(Box<trial::TrialArgs>),
    /// Class kits and demonstrations for teaching mediation.
    Teach(teach::TeachArgs),
    /// Print a shell completion script, e.g. `balans completions bash > ~/.local/share/bash-completion/completions/balans`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Do effects survive in new contexts: replication, many sites, reweighting, groups.
    Transport(transport::TransportArgs),
    /// Random-effects meta-analysis of study results (metafor-equal).
    Meta(meta::MetaArgs),
    /// Merge the part files of a sharded Monte Carlo run (`--shard k/K --part FILE`) into the
    /// output the single run writes, byte for byte.
    Merge(MergeArgs),
    /// Write a Slurm job array that runs a Monte Carlo command in K shards, and the merge job.
    Slurm(slurm::SlurmArgs),
    /// What if the guide's levers are pulled: expected change of every outcome, levers ranked.
    Whatif(whatif::WhatIfArgs),
}

impl Command {
    /// Which subcommand this is, for mapping errors to flags.
    fn subcommand(&self) -> CommandKind {
        match self {
            Command::Model(_) => CommandKind::Model,
            Command::Simulate(_) => CommandKind::Simulate,
            Command::Fit(_) => CommandKind::Fit,
            Command::Power(_) => CommandKind::Power,
            _ => CommandKind::Other,
        }
    }

    /// The command's `--threads` (commands without the flag use all cores).
    fn threads(&self) -> Option<usize> {
        match self {
            Command::Simulate(args) => args.threads,
            Command::Power(args) => args.threads,
            Command::Trial(args) => args.threads(),
            Command::Transport(args) => args.threads(),
            _ => None,
        }
    }
}

/// Runs the command inside the one thread pool ([`threads::pool`]).
fn run(cli: Cli, argv: &[String]) -> anyhow::Result<()> {
    signals::install();
    if let Some(limit) = &cli.memory_limit {
        sizes::set_memory_budget(limit)?;
    }
    if let Command::Merge(m) = &cli.command {
        let (argv, mode) = shard::prepare_merge(&m.parts, m.out.as_deref(), m.format.as_deref())?;
        let inner = Cli::try_parse_from(&argv)
            .map_err(|e| anyhow::anyhow!("the parts' configuration is not a valid run: {e}"))?;
        let session = Session::new(mode).map_err(|e| anyhow::anyhow!("balans merge: {e}"))?;
        execute(inner, &session)?;
        return shard::check_replayed(&session);
    }
    let part = cli.part.clone();
    if let Some(part) = &part {
        paths::set_force(cli.force);
        paths::check_part(part, argv)?;
    }
    let sharded = match (&cli.shard, &part) {
        (Some(spec), _) => Some(shard::start_shard(argv, spec, part.as_deref())?),
        (None, Some(_)) => anyhow::bail!("--part FILE is only used with --shard k/K"),
        (None, None) => None,
    };
    let mode = match sharded {
        Some((index, count)) => RunMode::Shard { index, count },
        None => RunMode::Whole,
    };
    let session = Session::new(mode).map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    execute(cli, &session)?;
    if let (Some(s), Some(part)) = (sharded, part) {
        shard::finish_shard(argv, s, &session, &part)?;
    }
    Ok(())
}

/// Runs one command (not `merge`) inside the one thread pool, its Monte Carlo runs in the mode of
/// `session`.
fn execute(cli: Cli, session: &Session) -> anyhow::Result<()> {
    paths::set_force(cli.force);
    progress::set_forced(cli.progress);
    let pool = threads::pool(cli.command.threads())?;
    pool.install(|| dispatch(cli.command, session))
}

fn dispatch(command: Command, session: &Session) -> anyhow::Result<()> {
    match command {
        Command::Model(args) => model_cmd::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Power(args) => power::run(&args, session),
        Command::Diagram(args) => diagram::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Trial(args) => trial::run(&args, session),
        Command::Teach(args) => teach::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into a buffer first: clap_complete panics when stdout fails (`| head -1`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "balans", &mut script);
            output::emit(None, &script)
        }
        Command::Transport(args) => transport::run(&args, session),
        Command::Meta(args) => meta::run(&args),
        Command::Whatif(args) => whatif::run(&args),
        Command::Slurm(args) => slurm::run(&args),
        Command::Merge(_) => Err(anyhow::anyhow!(
            "balans merge: part files cannot hold a merge"
        )),
    }
}

/// The exit code of a failed command: 3 when an ML fit did not converge, 1 for every other error
/// (usage errors exit with 2 from clap before anything runs).
fn exit_code(error: &anyhow::Error) -> u8 {
    let not_converged = error.chain().any(|e| {
        matches!(
            e.downcast_ref::<EvalError>(),
            Some(EvalError::NotConverged { .. })
        )
    });
    if not_converged {
        3
    } else {
        1
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let subcommand = cli.command.subcommand();
    {
        use clap::CommandFactory;
        for note in grammar::deprecation_notes(&Cli::command(), &argv) {
            eprintln!("{note}");
        }
    }
    match run(cli, &argv) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`balans … | head`): end quietly, as the tools of a pipe do.
        Err(error) if output::is_broken_pipe(&error) => ExitCode::from(141),
        Err(error) => {
            let advice = flags::advice(subcommand, &error);
            let message = match advice.flag {
                Some(flag) => format!("invalid {flag}: {error:#}"),
                None => format!("{error:#}"),
            };
            // Control and invisible characters from file names, headers or cells are escaped.
            eprintln!(
                "error: {}",
                balans_model::limits::escape_invisible(&message)
            );
            if let Some(help) = advice.help {
                eprintln!(" = help: {help}");
            }
            ExitCode::from(exit_code(&error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
