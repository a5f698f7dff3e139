//! `balans simulate`: synthetic survey data under a model — Likert items, scale scores, teams,
//! background variables, nonresponse and missing items — as CSV or JSON.
//!
//! Arguments are parsed by clap, turned into a validated [`balans_sim::SurveyDesign`], simulated
//! in memory, formatted, and only then written (atomically), so a failed run leaves no file.

use crate::output::{emit, write_atomic_with};
use crate::sizes;
use crate::source::ModelSource;
use anyhow::{anyhow, bail, Context, Result};
use balans_report::{
    ConstructSummary, DataColumn, DataTable, DesignSummary, MissingItems, SimulationRun,
};
use balans_sim::{
    Column, ColumnKind, Measurement, Missingness, Simulator, SurveyData, SurveyDesign, TeamSizes,
};
use std::path::PathBuf;

/// Output format of `balans simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataFormat {
    /// Comma-separated values with a header row; missing values are `NA`.
    Csv,
    /// One JSON document: the seed, the design and the rows as records (missing = null).
    Json,
}

/// Which columns to write besides `id`, `team` and the background variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Item responses (and continuous observed variables).
    Items,
    /// Scale scores (and continuous observed variables).
    Scales,
    /// Items, then scale scores.
    Both,
}

/// Arguments of `balans simulate`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  balans simulate --builtin seed --n 278 --seed 1
      the study's data: 48 Likert items and 9 scale scores for 278 employees in teams of about 8
  balans simulate --builtin seed --n 278 --seed 1 --response-rate 0.2 --self-selection 1 --inclusion
      as the study collected them: 20% respond, more so with very good or very bad supervisors,
      only employees with a partner and/or care tasks are kept
  balans simulate --builtin seed --n 500 --seed 7 --columns scales --missingness mar:0.05 --out survey.csv
  balans simulate --model my.lav --n 1000 --seed 3 --icc eng=0.1,wfc=0.02 --reliability amb=0.9

Columns: id, team, background (woman, age, higher_edu, partner, care, supervisor, contract_hours,
actual_hours), items <construct><k> (es1..es4, wfc1..wfc5, ...; the =~ items of a model file), then
scale scores named by the construct (the mean of the items answered; NA only when all are missing).
Variables without items are written as continuous columns. The seed is echoed on stderr.")]
pub struct SimulateArgs {
    #[command(flatten)]
    pub source: ModelSource,
    /// Number of respondents in the data (after nonresponse and the inclusion rule).
    #[arg(long, value_name = "N", default_value_t = 278)]
    pub n: usize,
    /// Seed of the random numbers (default 1, as every command); the same seed gives the same
    /// bytes on any number of threads. It is echoed on stderr and recorded in JSON output.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: DataFormat,
    /// Which measurement columns to write (`--level` is a deprecated spelling).
    #[arg(long, value_enum, default_value = "both", alias = "level")]
    pub columns: Level,
    /// Mean number of invited employees per supervisor (team sizes 1 + Poisson(MEAN_SIZE − 1));
    /// 1 = no teams.
    #[arg(long, value_name = "MEAN", default_value_t = balans_study::TEAM_SIZE, allow_negative_numbers = true)]
    pub teams: f64,
    /// Make every team exactly --teams employees instead of drawing sizes around it.
    #[arg(long)]
    pub fixed_team_size: bool,
    /// ICC per construct, in [0, 1) (defaults: FSSB dimensions .15, eng .08, others .05).
    #[arg(long, value_name = "NAME=V,…", action = clap::ArgAction::Append)]
    pub icc: Vec<String>,
    /// Reliability (Cronbach's α) per construct, in (0, 1); for a variable without items, the
    /// reliability of its observed score (adds measurement error).
    #[arg(long, value_name = "NAME=V,…", action = clap::ArgAction::Append)]
    pub reliability: Vec<String>,
    /// Item mean per construct, on its response scale (e.g. perf=5.8).
    #[arg(long, value_name = "NAME=V,…", action = clap::ArgAction::Append)]
    pub item_mean: Vec<String>,
    /// Share of invited employees who respond, in (0, 1] (the study: 0.2).
    #[arg(
        long,
        value_name = "R",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub response_rate: f64,
    /// Self-selection strength ≥ 0: employees with very good or very bad FSSB respond more
    /// (logit P(respond) = a + STRENGTH·(f² − 1)); needs --response-rate below 1.
    #[arg(
        long,
        value_name = "STRENGTH",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub self_selection: f64,
    /// Keep only respondents with a partner and/or care tasks (the study's inclusion rule).
    #[arg(long)]
    pub inclusion: bool,
    /// Item missingness: none, mcar:P (completely at random) or mar:P (more among older
    /// respondents; P is the average rate).
    #[arg(
        long,
        value_name = "KIND:RATE",
        default_value = "none",
        alias = "missing"
    )]
    pub missingness: String,
    /// Also write each construct's true score (true_<name>).
    #[arg(long)]
    pub true_scores: bool,
    /// Worker threads (default or 0: all cores); the output does not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
}

/// Parses `NAME=V,NAME=V` lists (possibly given several times).
fn assignments(flag: &str, values: &[String]) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for part in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (name, value) = part.split_once('=').ok_or_else(|| {
            anyhow!("invalid {flag} '{part}': expected NAME=VALUE, e.g. {flag} eng=0.1")
        })?;
        let v: f64 = value.trim().parse().map_err(|_| {
            anyhow!(
                "invalid {flag} '{part}': '{}' is not a number",
                value.trim()
            )
        })?;
        out.push((name.trim().to_string(), v));
    }
    Ok(out)
}

fn missingness(spec: &str) -> Result<Missingness> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("none") {
        return Ok(Missingness::None);
    }
    let (kind, rate) = spec.split_once(':').ok_or_else(|| {
        anyhow!(
            "invalid --missingness '{spec}': expected none, mcar:P or mar:P, e.g. --missingness mcar:0.05"
        )
    })?;
    let p: f64 = rate
        .trim()
        .parse()
        .map_err(|_| anyhow!("invalid --missingness '{spec}': '{rate}' is not a number"))?;
    match kind.trim().to_ascii_lowercase().as_str() {
        "mcar" => Ok(Missingness::Mcar(p)),
        "mar" => Ok(Missingness::Mar(p)),
        other => {
            bail!("invalid --missingness '{spec}': unknown mechanism '{other}' (expected mcar or mar)")
        }
    }
}

fn design(args: &SimulateArgs) -> Result<SurveyDesign> {
    // Nonresponse is simulated by inviting employees until N respond: a tiny rate means an endless
    // run, so the number of invitations is bounded.
    let invited = args.n as f64 / args.response_rate;
    if args.response_rate > 0.0 && invited > sizes::MAX_INVITED {
        bail!(
            "--response-rate {} with --n {} means inviting about {invited:.1e} employees; balans invites at most {:.0e}: raise the response rate or lower --n",
            args.response_rate, args.n, sizes::MAX_INVITED
        );
    }
    if args.self_selection > 0.0 && args.response_rate >= 1.0 {
        bail!("--self-selection needs nonresponse: add a --response-rate below 1, e.g. --response-rate 0.2");
    }
    let teams = if args.fixed_team_size {
        if !(args.teams >= 1.0 && args.teams.fract() == 0.0 && args.teams < 1e9) {
            bail!("invalid --teams {}: with --fixed-team-size the team size must be a whole number ≥ 1", args.teams);
        }
        TeamSizes::Fixed(args.teams as usize)
    } else if args.teams.is_finite() && (args.teams - 1.0).abs() < f64::EPSILON {
        TeamSizes::None
    } else {
        TeamSizes::Poisson { mean: args.teams }
    };
    Ok(SurveyDesign {
        n: args.n,
        teams,
        icc: assignments("--icc", &args.icc)?,
        reliability: assignments("--reliability", &args.reliability)?,
        item_mean: assignments("--item-mean", &args.item_mean)?,
        response_rate: args.response_rate,
        self_selection: args.self_selection,
        inclusion: args.inclusion,
        missing: missingness(&args.missingness)?,
        true_scores: args.true_scores,
        ..balans_study::survey_design()
    })
}

/// Runs `balans simulate`.
pub fn run(args: &SimulateArgs) -> Result<()> {
    let inputs: Vec<&std::path::Path> = args.source.model.iter().map(|p| p.as_path()).collect();
    crate::paths::check_outputs(&[("--out", args.out.as_deref())], &inputs)?;
    let model = args.source.load()?;
    let design = design(args)?;
    let simulator = Simulator::new(&model, &design)?;
    check_memory(
        args.n,
        simulator.columns().len(),
        args.format == DataFormat::Json,
    )?;
    announce_run_time(&model, &design);
    let seed = args.seed;
    eprintln!("seed: {seed}");
    let data = simulator.simulate(seed);
    let table = data_table(&data, args.columns);
    match (
        args.format,
        args.out.as_deref().filter(|p| p.as_os_str() != "-"),
    ) {
        // CSV rows are formatted straight into the file: no second copy of the data as text.
        (DataFormat::Csv, Some(path)) => {
            write_atomic_with(path, |w| balans_report::csv::write_data(w, &table))?;
        }
        (DataFormat::Csv, None) => {
            crate::signals::stdout_started();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            balans_report::csv::write_data(&mut out, &table)
                .and_then(|()| std::io::Write::flush(&mut out))
                .context("failed to write to stdout")?;
            crate::signals::stdout_finished();
        }
        (DataFormat::Json, path) => {
            let run = simulation_run(&data, seed, &args.source.origin(), &simulator);
            let bytes = balans_report::json::simulation(&run, &table);
            emit(path, bytes.as_bytes())?;
        }
    }
    let teams = data
        .column("team")
        .and_then(|t| t.last().copied())
        .unwrap_or(0.0);
    eprintln!(
        "simulated {} respondents in {teams} team(s) (invited {}, responded {}{})",
        data.n_rows(),
        data.invited(),
        data.responded(),
        if design.inclusion {
            format!(", {} kept by the inclusion rule", data.n_rows())
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The data set is held in memory while it is drawn, and a JSON document is built whole: the
/// estimate is [`sizes::simulate`].
fn check_memory(n: usize, columns: usize, json: bool) -> Result<()> {
    sizes::simulate(n, columns, json)
}

/// For a large N, times a pilot of 10,000 respondents under the same design and announces a run
/// expected to take longer than [`sizes::ANNOUNCE_AFTER`] (the pilot costs 10,000 / N of the run).
fn announce_run_time(model: &balans_model::Model, design: &SurveyDesign) {
    const PILOT: usize = 10_000;
    if design.n <= 5 * PILOT {
        return;
    }
    let pilot = SurveyDesign {
        n: PILOT,
        ..design.clone()
    };
    let started = std::time::Instant::now();
    if let Ok(sim) = Simulator::new(model, &pilot) {
        let _ = sim.simulate(0);
        sizes::announce(
            &format!("simulating {} respondents", design.n),
            started.elapsed().mul_f64(design.n as f64 / PILOT as f64),
        );
    }
}

fn wanted(c: &Column, level: Level) -> bool {
    match c.kind {
        ColumnKind::Item => level != Level::Scales,
        ColumnKind::Scale => level != Level::Items,
        _ => true,
    }
}

/// The columns to write at `level` and every row, as the exporters read them.
fn data_table(data: &SurveyData, level: Level) -> DataTable<'_> {
    DataTable {
        columns: data
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| wanted(c, level))
            .map(|(index, c)| DataColumn {
                name: &c.name,
                integer: c.is_integer(),
                index,
            })
            .collect(),
        rows: (0..data.n_rows()).map(|i| data.row(i)).collect(),
    }
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// What is reported with the data: seed, model, counts, design, constructs.
fn simulation_run(data: &SurveyData, seed: u64, origin: &str, sim: &Simulator) -> SimulationRun {
    let d = sim.design();
    let constructs = sim
        .constructs()
        .iter()
        .map(|c| match &c.measurement {
            Measurement::Likert { items, scale } => ConstructSummary::Likert {
                icc: c.icc,
                item_mean: round4(scale.expected_item_mean),
                items: items.clone(),
                loadings: scale.loadings.iter().map(|l| round4(*l)).collect(),
                name: c.name.clone(),
                reliability: round4(scale.expected_alpha),
                scale: [scale.min, scale.max],
            },
            Measurement::Continuous { reliability } => ConstructSummary::Continuous {
                continuous: true,
                icc: c.icc,
                name: c.name.clone(),
                reliability: *reliability,
            },
        })
        .collect();
    SimulationRun {
        seed,
        model: origin.to_string(),
        n: data.n_rows(),
        invited: data.invited(),
        responded: data.responded(),
        design: DesignSummary {
            fixed_team_size: matches!(d.teams, TeamSizes::Fixed(_)),
            inclusion: d.inclusion,
            mean_team_size: d.teams.mean(),
            missing: match d.missing {
                Missingness::None => MissingItems::None,
                Missingness::Mcar(p) => MissingItems::Mcar(p),
                Missingness::Mar(p) => MissingItems::Mar(p),
            },
            response_rate: d.response_rate,
            self_selection: d.self_selection,
        },
        constructs,
    }
}
