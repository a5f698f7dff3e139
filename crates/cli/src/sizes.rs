//! Size limits of flag values, checked before anything is allocated, and run-time notes.
//!
//! A flag value that would ask for gigabytes or run for hours is refused with the limit and the
//! reason; a run that will take more than about ten seconds says so first. The limits are far above
//! what a study needs (lavaan's examples use 1,000–5,000 bootstrap draws).

use anyhow::{bail, Result};
use std::time::Duration;

/// Largest memory one buffer of draws or simulated values may take.
pub const MEMORY_BUDGET_BYTES: f64 = 1e9;
/// Largest simulated data set held in memory (`simulate --n`).
pub const SIMULATION_BUDGET_BYTES: f64 = 2e9;
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
    if bytes > MEMORY_BUDGET_BYTES {
        let max = (MEMORY_BUDGET_BYTES / (width.max(1) as f64 * 8.0)) as u64;
        bail!(
            "{flag} {count} would keep {} of {what} ({width} numbers each); balans keeps at most {} at once: use {flag} {max} or fewer",
            gigabytes(bytes),
            gigabytes(MEMORY_BUDGET_BYTES)
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

