//! The one place where balans makes worker threads.
//!
//! Every command runs inside one rayon pool built here from its `--threads` flag; the libraries
//! (sim, estimate, power, …) never build pools, they run in this ambient one. Results never
//! depend on the number of threads (every random stream is keyed by what it draws, not by who).

use anyhow::{Context, Result};

/// The pool a command runs in: `threads` workers; `None` or `Some(0)` means all cores (rayon's
/// default: `RAYON_NUM_THREADS` when set, else one worker per logical core).
pub fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let workers = threads.unwrap_or(0);
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .with_context(|| match workers {
            0 => "failed to start the worker threads".to_string(),
            t => format!("failed to start {t} worker threads (--threads {t})"),
        })
}
