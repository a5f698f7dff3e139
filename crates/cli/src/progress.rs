//! One progress display for every long command (Monte Carlo power, trial power, searches, latent
//! power): on stderr, replications done of the total, a rounded rate and the time left.
//!
//! * Shown when stderr is a terminal, or when `--progress` is given (then also into a file or a
//!   pipe, as plain lines every few seconds); never on stdout, so results stay clean.
//! * A run whose extrapolated duration exceeds [`sizes::ANNOUNCE_AFTER`] is announced once, after
//!   two seconds of work (the rate is known then): `note: the power analysis will take about 40 s`.
//!   The note is a diagnostic like the others and is printed whatever stderr is.
//! * Safe to tick from worker threads (indicatif's bar and the announcement are `Sync`).

use crate::sizes;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `--progress`: show progress even when stderr is not a terminal.
static FORCED: AtomicBool = AtomicBool::new(false);

/// Sets `--progress` for this run.
pub fn set_forced(forced: bool) {
    FORCED.store(forced, Ordering::Relaxed);
}

/// A rate as a reader says it: `61,356/s`, `45.3/s`, `0.82/s` (three significant figures at most
/// below 100, whole numbers above).
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "–/s".to_string()
    } else if per_sec >= 100.0 {
        format!(
            "{}/s",
            balans_report::sentences::count(per_sec.round() as usize)
        )
    } else if per_sec >= 10.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.2}/s")
    }
}

/// Time left as a reader says it: `40 s`, `12 min`, `3.5 h`; `–` when unknown.
fn left(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_string(), sizes::human)
}

/// How progress is drawn.
enum Display {
    /// Not at all (stderr is not a terminal and `--progress` was not given).
    Hidden,
    /// An indicatif bar or counter on the terminal.
    Bar(indicatif::ProgressBar),
    /// Plain lines every [`LINE_EVERY`] (`--progress` into a file or a pipe).
    Lines(Mutex<Instant>),
}

/// Interval of the plain progress lines.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// Work done before a long run is announced (the rate is known by then).
const ANNOUNCE_AFTER_WORK: Duration = Duration::from_secs(2);

/// The progress of one long run: a bar (known total) or a counter (unknown total, e.g. a
/// sample-size search), and the announcement of a long run.
pub struct Progress {
    display: Display,
    what: String,
    unit: String,
    total: Option<u64>,
    started: Instant,
    done: AtomicU64,
    announced: AtomicBool,
}

impl Progress {
    /// Starts the display of `what` ("the power analysis"), counting `unit` ("replications") up to
    /// `total` when known.
    pub fn start(what: &str, unit: &str, total: Option<u64>) -> Progress {
        let display = if std::io::stderr().is_terminal() {
            Display::Bar(bar(unit, total))
        } else if FORCED.load(Ordering::Relaxed) {
            Display::Lines(Mutex::new(Instant::now()))
        } else {
            Display::Hidden
        };
        Progress {
            display,
            what: what.to_string(),
            unit: unit.to_string(),
            total,
            started: Instant::now(),
            done: AtomicU64::new(0),
            announced: AtomicBool::new(false),
        }
    }

    /// Records `k` more units done.
    pub fn tick(&self, k: u64) {
        let done = self.done.fetch_add(k, Ordering::Relaxed) + k;
        let note = self.announcement(done);
        match &self.display {
            Display::Hidden => {
                if let Some(note) = note {
                    eprintln!("{note}");
                }
            }
            Display::Bar(b) => {
                b.inc(k);
                if let Some(note) = note {
                    b.suspend(|| eprintln!("{note}"));
                }
            }
            Display::Lines(last) => {
                if let Some(note) = note {
                    eprintln!("{note}");
                }
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", self.line(done));
                }
            }
        }
    }

    /// `progress: 12,000/30,000 replications, 6,000/s, 3 s left`.
    fn line(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let per_sec = done as f64 / secs.max(1e-9);
        match self.total {
            Some(t) => {
                let remaining = t.saturating_sub(done) as f64 / per_sec;
                format!(
                    "progress: {}/{} {}, {}, {} left",
                    count(done),
                    count(t),
                    self.unit,
                    rate(per_sec),
                    left(
                        remaining
                            .is_finite()
                            .then(|| Duration::from_secs_f64(remaining))
                    )
                )
            }
            None => format!("progress: {} {}, {}", count(done), self.unit, rate(per_sec)),
        }
    }

    /// The one note of a long run: after [`ANNOUNCE_AFTER_WORK`], the elapsed time extrapolated to
    /// the total, when above [`sizes::ANNOUNCE_AFTER`].
    fn announcement(&self, done: u64) -> Option<String> {
        let total = self.total?;
        let elapsed = self.started.elapsed();
        if elapsed < ANNOUNCE_AFTER_WORK || done == 0 || self.announced.load(Ordering::Relaxed) {
            return None;
        }
        if self.announced.swap(true, Ordering::Relaxed) {
            return None;
        }
        let estimate = elapsed.mul_f64(total as f64 / done as f64);
        (estimate > sizes::ANNOUNCE_AFTER).then(|| sizes::announcement(&self.what, estimate))
    }

    /// Clears the display (plain lines end with the total).
    pub fn finish(self) {
        match self.display {
            Display::Bar(b) => b.finish_and_clear(),
            Display::Lines(_) => eprintln!("{}", self.line(self.done.load(Ordering::Relaxed))),
            Display::Hidden => {}
        }
    }
}

fn count(n: u64) -> String {
    balans_report::sentences::count(n as usize)
}

/// The indicatif bar (known total) or counter, with the rounded rate and the time left.
fn bar(unit: &str, total: Option<u64>) -> indicatif::ProgressBar {
    let template = match total {
        Some(_) => format!(
            "{{elapsed_precise}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}, {{rate}}, {{left}} left"
        ),
        None => format!("{{elapsed_precise}} {{spinner}} {{human_pos}} {unit}, {{rate}}"),
    };
    let style = indicatif::ProgressStyle::with_template(&template)
        .expect("valid template")
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(s.per_sec()));
            },
        )
        .with_key(
            "left",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let known = s.pos() > 0 && s.len().is_some();
                let _ = w.write_str(&left(known.then(|| s.eta())));
            },
        )
        .progress_chars("=> ");
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(style);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_rounded_as_a_reader_says_them() {
        assert_eq!(rate(61_356.142_3), "61,356/s");
        assert_eq!(rate(45.26), "45.3/s");
        assert_eq!(rate(0.8249), "0.82/s");
        assert_eq!(rate(0.0), "–/s");
    }
}
