//! `cargo xtask fuzz [--cases N] [--csv-cases M] [--seed S] [--timeout SECONDS]`: runs the
//! generators of [`crate::fuzz_gen`] in process, N model texts then M CSV files, and reports
//! panics, cases slower than the timeout (hangs), the slowest case, the largest input and the
//! process's peak resident memory. Exits non-zero on any panic or hang; the offending inputs are
//! written to `target/fuzz/`.
//!
//! A stack overflow or an allocation failure aborts the process: the campaign then stops with
//! the last input in `target/fuzz/current.txt`.

use crate::fuzz_gen::{check_csv, check_model, csv_case, model_text};
use anyhow::{bail, Result};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts of one fuzz target's run.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    panics: u64,
    slowest: Duration,
    largest_input: usize,
}

/// Runs `cargo xtask fuzz`.
pub fn run(args: &[String]) -> Result<()> {
    let cases: u64 = crate::flag(args, "--cases", 10_000)?;
    let csv_cases: u64 = crate::flag(args, "--csv-cases", cases / 10)?;
    let seed: u64 = crate::flag(args, "--seed", 1)?;
    let timeout: u64 = crate::flag(args, "--timeout", 10)?;
    let dir = crate::repo_root().join("target/fuzz");
    std::fs::create_dir_all(&dir)?;
    let current = Arc::new(Mutex::new(String::new()));
    let started = Arc::new(AtomicU64::new(0));
    watchdog(current.clone(), started.clone(), timeout, dir.clone());
    // Panics are counted, not printed one by one.
    std::panic::set_hook(Box::new(|_| {}));
    let t0 = Instant::now();
    let models = run_target(
        "model texts",
        cases,
        seed,
        &model_text(),
        &current,
        &started,
        &dir,
        |t: &String| t.len(),
        |t| check_model(t),
    );
    let csvs = run_target(
        "CSV files",
        csv_cases,
        seed ^ 0x5eed,
        &csv_case(),
        &current,
        &started,
        &dir,
        |c: &(String, u8, u8, bool)| c.0.len(),
        |(t, sep, dec, detect)| check_csv(t, *sep, *dec, *detect),
    );
    let _ = std::panic::take_hook();
    println!(
        "fuzz: {} model texts ({} panics, slowest {:.3} s, largest {} bytes), {} CSV files ({} panics, slowest {:.3} s, largest {} bytes), seed {seed}, {:.0} s, peak memory {} MB",
        models.cases, models.panics, models.slowest.as_secs_f64(), models.largest_input,
        csvs.cases, csvs.panics, csvs.slowest.as_secs_f64(), csvs.largest_input,
        t0.elapsed().as_secs_f64(), peak_resident_mb()
    );
    if models.panics + csvs.panics > 0 {
        bail!("panics found; inputs in {}", dir.display());
    }
    Ok(())
}

/// Generates `cases` inputs from `strategy` with a seeded RNG and runs `check` on each.
#[allow(clippy::too_many_arguments)]
fn run_target<S: Strategy>(
    what: &str,
    cases: u64,
    seed: u64,
    strategy: &S,
    current: &Mutex<String>,
    started: &AtomicU64,
    dir: &std::path::Path,
    size: impl Fn(&S::Value) -> usize,
    check: impl Fn(&S::Value),
) -> Tally
where
    S::Value: std::fmt::Debug,
{
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut tally = Tally::default();
    for k in 0..cases {
        let value = strategy
            .new_tree(&mut runner)
            .expect("strategies always generate")
            .current();
        let shown = format!("{value:?}");
        tally.largest_input = tally.largest_input.max(size(&value));
        *current.lock().expect("not poisoned") = shown;
        let t = Instant::now();
        started.store(now_ms(), Ordering::SeqCst);
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&value)));
        started.store(0, Ordering::SeqCst);
        tally.slowest = tally.slowest.max(t.elapsed());
        tally.cases += 1;
        if outcome.is_err() {
            tally.panics += 1;
            let path = dir.join(format!("panic-{}-{k}.txt", what.replace(' ', "-")));
            std::fs::write(&path, current.lock().expect("not poisoned").as_bytes()).ok();
            eprintln!("panic on {what} case {k}: input in {}", path.display());
        }
        if (k + 1) % 100_000 == 0 {
            eprintln!("  {what}: {} cases", k + 1);
        }
    }
    tally
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A thread that aborts the campaign when one case runs longer than `timeout` seconds, leaving the
/// input in `dir/hang.txt`; it also keeps `dir/current.txt` fresh for post-mortems of aborts.
fn watchdog(
    current: Arc<Mutex<String>>,
    started: Arc<AtomicU64>,
    timeout: u64,
    dir: std::path::PathBuf,
) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let since = started.load(Ordering::SeqCst);
        if since == 0 {
            continue;
        }
        let text = current.lock().map(|c| c.clone()).unwrap_or_default();
        std::fs::write(dir.join("current.txt"), &text).ok();
        if now_ms().saturating_sub(since) > timeout * 1000 {
            std::fs::write(dir.join("hang.txt"), &text).ok();
            eprintln!(
                "fuzz: a case ran longer than {timeout} s (a hang); input in {}",
                dir.join("hang.txt").display()
            );
            std::process::exit(3);
        }
    });
}

/// The process's peak resident set size in MB (`VmHWM`; 0 where `/proc` is unavailable).
fn peak_resident_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[cfg(test)]
mod tests {
    //! The CI share of the fuzzing: a few hundred cases of each generator (a second or two).
    use crate::fuzz_gen::{check_csv, check_model, csv_case, model_text};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn model_texts_never_panic(text in model_text()) {
            check_model(&text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn csv_files_never_panic((text, sep, dec, detect) in csv_case()) {
            check_csv(&text, sep, dec, detect);
        }
    }
}
