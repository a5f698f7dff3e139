//! The one place where balans makes worker threads.
//!
//! Every command runs inside one rayon pool built here from its `--threads` flag; the libraries
//! (sim, estimate, power, …) never build pools, they run in this ambient one. Results never
//! depend on the number of threads (every random stream is keyed by what it draws, not by who).

use anyhow::{Context, Result};

/// Most worker threads (`--threads`).
pub const MAX_THREADS: usize = 1024;

/// The pool a command runs in: `threads` workers; `None` or `Some(0)` means all cores (rayon's
/// default: `RAYON_NUM_THREADS` when set, else one worker per logical core).
pub fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let workers = threads.unwrap_or(0);
    // A thread per requested worker is created at once: `--threads 1000000000` would bring the
    // machine down before any check could run.
    if workers > MAX_THREADS {
        anyhow::bail!("--threads {workers} is out of range: at most {MAX_THREADS} (results do not depend on the number of threads; the default uses every core)");
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .with_context(|| match workers {
            0 => "failed to start the worker threads".to_string(),
            t => format!("failed to start {t} worker threads (--threads {t})"),
        })
}
