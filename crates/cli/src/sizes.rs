//! Size limits of flag values, checked before anything is allocated, and run-time notes.
//!
//! A flag value that would ask for gigabytes or run for hours is refused with the limit and the
//! reason; a run that will take more than about ten seconds says so first. The limits are far above
//! what a study needs (lavaan's examples use 1,000–5,000 bootstrap draws).
//!
//! **The memory budget.** Every command estimates the memory it will hold from its flags — from
//! their products (leaders × team size, sites × N × replications), not from each value alone — and
//! refuses a run above the budget before anything is allocated: 1 GB by default, set by the global
//! `--memory-limit SIZE`. The estimates are collected here, one function per command, each with
//! the bytes per unit it assumes and where that number comes from.

use anyhow::{bail, Result};
use std::time::Duration;

/// The default memory budget of a run (`--memory-limit` changes it).
pub const MEMORY_BUDGET_BYTES: f64 = 1e9;
/// The largest `--memory-limit`: beyond it the estimates are too rough to promise anything.
pub const MAX_MEMORY_LIMIT_BYTES: f64 = 1e12;
/// Most bootstrap resamples (`--boot`).
pub const MAX_BOOT: usize = 100_000;
/// Most Monte Carlo draws (`--mc-draws`).
pub const MAX_MC_DRAWS: usize = 10_000_000;
/// Most replications per sample size (`power --reps`): the MC standard error is then below .0005.
pub const MAX_REPS: i64 = 1_000_000;
/// Largest sample size of one power replication (power is 1 long before).
pub const MAX_POWER_N: usize = 200_000;
/// Most employees invited by one simulation (`--n` divided by the response rate).
pub const MAX_INVITED: f64 = 1e8;
/// Runs expected to take longer than this are announced with an estimate.
pub const ANNOUNCE_AFTER: Duration = Duration::from_secs(10);

static BUDGET: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(MEMORY_BUDGET_BYTES as u64);

/// The memory budget of this run, in bytes.
pub fn memory_budget() -> f64 {
    BUDGET.load(std::sync::atomic::Ordering::SeqCst) as f64
}

/// Sets the budget from `--memory-limit SIZE`: a number of bytes or a number with `KB`, `MB`,
/// `GB` or `TB` (decimal units; `K`, `M`, `G`, `T` alike).
pub fn set_memory_budget(text: &str) -> Result<()> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let scale = match unit.trim() {
        "" => 1.0,
        "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => bail!("--memory-limit '{text}' is not a size; write e.g. 4GB or 500MB"),
    };
    let bytes = number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|v| v * scale)
        .filter(|b| b.is_finite() && *b >= 1e6)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--memory-limit '{text}' is not a size of at least 1MB; write e.g. 4GB or 500MB"
            )
        })?;
    if bytes > MAX_MEMORY_LIMIT_BYTES {
        bail!("--memory-limit '{text}' is out of range: at most 1TB");
    }
    BUDGET.store(bytes as u64, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// Refuses a run whose estimated memory `bytes` exceeds the budget; `what` names what is held and
/// the flags it comes from, `fix` says which flag to lower.
pub fn within_budget(what: &str, bytes: f64, fix: &str) -> Result<()> {
    let budget = memory_budget();
    if bytes.is_nan() || bytes > budget {
        bail!(
            "{what} would need about {} of memory; the memory budget is {}: {fix}, or raise the budget with --memory-limit (e.g. --memory-limit {})",
            gigabytes(bytes),
            gigabytes(budget),
            if bytes.is_finite() && bytes < MAX_MEMORY_LIMIT_BYTES { gigabytes(bytes * 1.2).replace(' ', "") } else { "1TB".into() }
        );
    }
    Ok(())
}

/// Bytes per simulated value held while `simulate` draws (measured: about 1.3 × 8 at N = 5,000,000,
/// rounded up), and what the JSON document adds per value (`"name": -0.123456789,` with indentation,
/// held as one string before it is written: about 40 bytes, measured at N = 20,000 on `seed`).
const SIMULATE_BYTES_PER_VALUE: f64 = 12.0;
const SIMULATE_JSON_BYTES_PER_VALUE: f64 = 48.0;

/// `simulate --n N` with `columns` columns, in CSV (streamed) or JSON (built in memory).
pub fn simulate(n: usize, columns: usize, json: bool) -> Result<()> {
    let per_value = SIMULATE_BYTES_PER_VALUE
        + if json {
            SIMULATE_JSON_BYTES_PER_VALUE
        } else {
            0.0
        };
    let per_row = columns.max(1) as f64 * per_value;
    let fit = (memory_budget() / per_row) as u64;
    within_budget(
        &format!(
            "--n {n} ({columns} columns{})",
            if json { ", JSON held in memory" } else { "" }
        ),
        n as f64 * per_row,
        &format!(
            "use --n {fit} or fewer (or simulate in parts with different --seed values{})",
            if json {
                ", or --format csv, which streams"
            } else {
                ""
            }
        ),
    )
}

/// Bytes one Monte Carlo draw of the indirect effects takes per worker thread in `power --tests mc`
/// (measured: 2.24 GB for `--mc-draws 10000000` on `seed` with 2 threads).
const MC_BYTES_PER_DRAW_PER_THREAD: f64 = 112.0;

/// `power --tests mc --mc-draws D` on `threads` worker threads (each holds its draws).
pub fn power_mc_draws(draws: usize, threads: usize) -> Result<()> {
    let per = MC_BYTES_PER_DRAW_PER_THREAD * threads.max(1) as f64;
    within_budget(
        &format!("--mc-draws {draws} on {} threads", threads.max(1)),
        draws as f64 * per,
        &format!(
            "use --mc-draws {} or fewer (1000 per replication is usual), or fewer --threads",
            (memory_budget() / per) as u64
        ),
    )
}

/// Bytes per simulated employee of `trial simulate`: two waves of the FSSB, mediator and outcome
/// scores, the leader and arm, as values and as formatted CSV/JSON text (measured: 84 MB peak for
/// 20,000 leaders × 9 employees, about 470 bytes per employee; rounded up to 1,000 for the JSON
/// and table formats, whose text is longer).
const TRIAL_BYTES_PER_EMPLOYEE: f64 = 1000.0;

/// Bytes per employee of the largest condition that each `trial power` worker thread holds (one
/// replication's data and the analyses' working copies; measured: peak memory 46 MB at 5,000
/// leaders × 9 employees with 2 threads, about 290 bytes per employee and thread above the 20 MB
/// base; the issue-23 probe saw 456 MB at 100,000 leaders × 9).
const TRIAL_POWER_BYTES_PER_EMPLOYEE_PER_THREAD: f64 = 300.0;

/// Most leaders of one trial design: far beyond any trial, and the analytic plan's noncentral t and
/// the mixed-model fits scale with it.
pub const MAX_TRIAL_LEADERS: f64 = 1e6;
/// Most employees of one leader.
pub const MAX_TEAM_SIZE: f64 = 1e5;

/// `trial simulate`: `leaders` × `team_size` employees held and formatted at once.
pub fn trial_simulate(leaders: f64, team_size: f64) -> Result<()> {
    let employees = leaders * team_size;
    within_budget(
        &format!("{leaders} leaders × {team_size} employees per leader ({employees:.0} employees)"),
        employees * TRIAL_BYTES_PER_EMPLOYEE,
        &format!(
            "simulate at most {:.0} employees (lower --leaders or --team-size)",
            memory_budget() / TRIAL_BYTES_PER_EMPLOYEE
        ),
    )
}

/// The largest team of a trial design's team sizes (a lognormal mean plus three CVs).
pub fn largest_team(sizes: &balans_trial::design::TeamSizes) -> f64 {
    match sizes {
        balans_trial::design::TeamSizes::Fixed(n) => *n as f64,
        balans_trial::design::TeamSizes::List(v) => v.iter().copied().max().unwrap_or(1) as f64,
        balans_trial::design::TeamSizes::MeanCv { mean, cv } => mean * (1.0 + 3.0 * cv.max(0.0)),
    }
}

/// `trial power`: each worker thread holds one replication of the largest condition (leaders ×
/// team size employees); `reps` is bounded by [`MAX_REPS`].
pub fn trial_power(
    max_leaders: f64,
    max_team_size: f64,
    reps: usize,
    threads: usize,
) -> Result<()> {
    if reps > MAX_REPS as usize {
        bail!("--reps {reps} is out of range: at most {MAX_REPS} (the Monte Carlo SE of a power estimate is then below .0005)");
    }
    if max_leaders > MAX_TRIAL_LEADERS {
        bail!("--leaders {max_leaders} is out of range: at most {MAX_TRIAL_LEADERS:.0} leaders (far beyond any trial; each replication fits models over every leader)");
    }
    if max_team_size > MAX_TEAM_SIZE {
        bail!("--team-size-grid {max_team_size} is out of range: at most {MAX_TEAM_SIZE:.0} employees per leader");
    }
    let employees = max_leaders * max_team_size;
    within_budget(
        &format!(
            "a replication of {max_leaders} leaders × {max_team_size} employees on each of {} threads",
            threads.max(1)
        ),
        employees * TRIAL_POWER_BYTES_PER_EMPLOYEE_PER_THREAD * threads.max(1) as f64,
        "lower --leaders or --team-size-grid (or use fewer --threads)",
    )
}

/// `trial plan`: the number of leaders (given, or implied by `--budget`) is bounded by
/// [`MAX_TRIAL_LEADERS`], since the cost-optimal search and the noncentral t grow with it.
pub fn trial_plan(leaders: Option<f64>, budget_leaders: Option<f64>) -> Result<()> {
    if let Some(j) = leaders.filter(|j| j.is_nan() || *j > MAX_TRIAL_LEADERS) {
        bail!("--leaders {j} is out of range: at most {MAX_TRIAL_LEADERS:.0} (far beyond any trial; the noncentral t computation grows with the number of leaders)");
    }
    if let Some(j) = budget_leaders.filter(|j| j.is_nan() || *j > MAX_TRIAL_LEADERS) {
        bail!("--budget buys about {j:.1e} leaders, out of range: at most {MAX_TRIAL_LEADERS:.0} (the cost-optimal search runs over every affordable design); lower --budget");
    }
    Ok(())
}

/// Most sites of `transport sites` (each replication meta-analyses K estimates per path; a
/// multi-site study has tens to hundreds).
pub const MAX_SITES: usize = 100_000;

/// Bytes one site of a `transport sites` replication holds per worker thread (its fit and the
/// estimates the meta-analyses read; measured: peak memory grows by 21 KB per site with 2 threads,
/// `--n 100 --reps 10` on `seed`, K = 1,000 → 5,000).
const SITES_BYTES_PER_SITE_PER_THREAD: f64 = 12_000.0;

/// `transport sites`: each worker thread holds one replication (K sites' fits and N × variables of
/// data), and the results of all R replications are kept for the summaries (about 16 numbers per
/// path and replication).
pub fn transport_sites(
    sites: usize,
    max_n: usize,
    variables: usize,
    paths: usize,
    reps: usize,
    threads: usize,
) -> Result<()> {
    at_most(
        "--sites",
        sites,
        MAX_SITES,
        "a multi-site study has tens to hundreds of sites",
    )?;
    if reps > MAX_REPS as usize {
        bail!("--reps {reps} is out of range: at most {MAX_REPS} (the Monte Carlo SE of a power estimate is then below .0005)");
    }
    let per_thread = max_n as f64 * variables as f64 * 8.0 * 2.0
        + sites as f64 * SITES_BYTES_PER_SITE_PER_THREAD;
    let kept = reps as f64 * paths as f64 * 16.0 * 8.0;
    within_budget(
        &format!("--sites {sites} × --n {max_n} × --reps {reps} ({paths} paths and effects)"),
        per_thread * threads.max(1) as f64 + kept,
        "lower --sites, --n or --reps",
    )
}

/// `teach class`: every student's data set (N × 3 values) and its CSV text are held until written
/// (measured: 16 MB above the base for 30 students × 20,000 rows, 26 bytes per row; 64 assumed,
/// leaving room for the answer key and longer numbers).
pub fn teach_class(students: usize, n: usize) -> Result<()> {
    let rows = students as f64 * n as f64;
    within_budget(
        &format!("--students {students} × --n {n} ({rows:.0} rows of data)"),
        rows * 64.0,
        &format!(
            "a class needs a few hundred respondents per student; use at most {:.0} rows in all",
            memory_budget() / 64.0
        ),
    )
}

/// Refuses `value` of `flag` above `max`.
pub fn at_most(flag: &str, value: usize, max: usize, why: &str) -> Result<()> {
    if value > max {
        bail!("{flag} {value} is out of range: at most {max} ({why})");
    }
    Ok(())
}

/// Refuses a buffer of `count` × `width` numbers above [`MEMORY_BUDGET_BYTES`].
pub fn within_memory(flag: &str, count: usize, width: usize, what: &str) -> Result<()> {
    let bytes = count as f64 * width as f64 * 8.0;
    let budget = memory_budget();
    if bytes > budget {
        let max = (budget / (width.max(1) as f64 * 8.0)) as u64;
        bail!(
            "{flag} {count} would keep {} of {what} ({width} numbers each); the memory budget is {}: use {flag} {max} or fewer, or raise the budget with --memory-limit",
            gigabytes(bytes),
            gigabytes(budget)
        );
    }
    Ok(())
}

fn gigabytes(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else {
        format!("{:.0} MB", bytes / 1e6)
    }
}

/// Prints a note on stderr when `estimate` exceeds [`ANNOUNCE_AFTER`].
pub fn announce(what: &str, estimate: Duration) {
    if estimate > ANNOUNCE_AFTER {
        eprintln!("{}", announcement(what, estimate));
    }
}

/// The note announcing a long run.
pub fn announcement(what: &str, estimate: Duration) -> String {
    format!(
        "note: {what} will take about {} (Ctrl-C stops it; nothing is written then)",
        human(estimate)
    )
}

/// A duration as "40 s", "12 min" or "3.5 h".
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}
