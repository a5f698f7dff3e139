//! The replication engine: runs R replications of any Monte Carlo study in parallel, with results
//! that are the same bytes for any number of threads.
//!
//! A Monte Carlo study is split into a *problem* — what one replication generates, how it is
//! analysed, and what is counted — given by implementing [`Replication`] (and [`Tally`] for what is
//! counted), and the *algorithm* that runs it, [`run`], which is the same for every study: the
//! power analysis of path models (`balans_power::power_curve`), trial power and many-sites transport
//! simulations all implement the two traits and call [`run`]. Set-up (calibrating samplers,
//! factoring matrices, deciding which tests apply) happens before [`run`], when the
//! [`Replication`] value is built; the traits' methods are the per-replication steps only.
//!
//! # What [`run`] guarantees
//! * **Streams**: replication `r` draws only from [`replication_rng`]`(seed, condition, r)` — one
//!   Xoshiro256++ stream per `(seed, condition, replication)` — which it passes to
//!   [`Replication::generate`] and then to [`Replication::analyse`]. A replication's outcome is a
//!   function of that triple alone, whichever thread runs it and whatever else runs.
//! * **Order**: replications are cut into fixed blocks of [`BLOCK`] (64). Each block is tallied
//!   into a fresh [`Tally`] in replication order on one thread; block tallies are merged into the
//!   total with [`Tally::merge`] in block order. The partition depends only on R, never on the
//!   number of threads, so floating-point sums are the same for 1 or 64 threads.
//! * **Memory**: one [`Replication::Workspace`] per worker thread (made lazily by
//!   [`Replication::workspace`] the first time a thread runs a block) and one tally per block of a
//!   chunk of [`CHUNK`] replications; nothing else is allocated, and an implementation that
//!   allocates nothing in `generate`, `analyse` and `record` makes the whole loop allocation-free.
//! * **Threads**: [`run`] uses the ambient rayon pool (`ThreadPool::install` by the caller, else
//!   the global pool); a library never builds pools.
//! * **Progress**: [`RunContext::progress`]`(k)` is called on the calling thread after every
//!   chunk of `k` finished replications (at most [`CHUNK`] at a time); the `k` add up to R.
//! * **Mode**: the caller's [`RunContext`] says whether the whole run, one shard of it, or a
//!   replay of merged shards is done ([`crate::shard`]); the engine keeps no state between calls.
//!
//! # Implementing a study
//! ```
//! use balans_montecarlo::{run, Replication, ReplicationRng, Streams, Tally};
//! use rand::Rng;
//!
//! /// Power of a one-sample z test of a mean `delta` with `n` unit-variance observations.
//! struct ZTest { n: usize, delta: f64 }
//! /// Per-thread buffers: the current data set and its decision.
//! struct Buffers { data: Vec<f64>, reject: bool }
//! /// Rejections so far.
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct Count { rejected: u64, runs: u64 }
//!
//! impl Tally for Count {
//!     fn reset(&mut self) { *self = Count::default(); }
//!     fn merge(&mut self, later: &Count) {
//!         self.rejected += later.rejected;
//!         self.runs += later.runs;
//!     }
//! }
//!
//! impl Replication for ZTest {
//!     type Workspace = Buffers;
//!     type Tally = Count;
//!     fn workspace(&self) -> Buffers { Buffers { data: vec![0.0; self.n], reject: false } }
//!     fn tally(&self) -> Count { Count::default() }
//!     fn generate(&self, ws: &mut Buffers, rng: &mut ReplicationRng) -> bool {
//!         for x in ws.data.iter_mut() {
//!             *x = self.delta + rng.sample::<f64, _>(rand_distr::StandardNormal);
//!         }
//!         true
//!     }
//!     fn analyse(&self, ws: &mut Buffers, _rng: &mut ReplicationRng) -> bool {
//!         let mean = ws.data.iter().sum::<f64>() / self.n as f64;
//!         ws.reject = (mean * (self.n as f64).sqrt()).abs() > 1.959964;
//!         true
//!     }
//!     fn record(&self, ws: &Buffers, ok: bool, tally: &mut Count) {
//!         tally.runs += 1;
//!         tally.rejected += u64::from(ok && ws.reject);
//!     }
//! }
//!
//! let study = ZTest { n: 50, delta: 0.4 };
//! let streams = Streams { seed: 1, condition: 50 };
//! let count = run(&study, streams, 2000, &|_| {}).expect("a whole run cannot fail");
//! assert_eq!(count.runs, 2000);
//! let power = count.rejected as f64 / 2000.0; // about 0.81 (closed form 0.807)
//! assert!((power - 0.807).abs() < 4.0 * (0.807f64 * 0.193 / 2000.0).sqrt());
//! ```

use crate::stream::{replication_rng, ReplicationRng};
use rayon::prelude::*;
use std::sync::Mutex;

/// Replications per parallel chunk: memory holds one tally per block of a chunk, and `progress`
/// is called once per chunk.
pub const CHUNK: usize = 512;

/// Replications per block: each block runs on one thread and is tallied in replication order;
/// fixed, so the order of every floating-point reduction — and hence the results — does not
/// depend on the number of threads.
pub const BLOCK: usize = 64;

/// Which random streams a run uses: replication `r` draws from
/// [`replication_rng`]`(seed, condition, r)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// The master seed of the analysis.
    pub seed: u64,
    /// The condition: any number that tells the conditions of one analysis apart (the power
    /// analysis uses the sample size N). Conditions with different numbers get independent
    /// streams, so a condition's results do not depend on which others are run.
    pub condition: u64,
}

/// What is counted over replications: sums, counts, running means. Built empty by
/// [`Replication::tally`], filled by [`Replication::record`].
pub trait Tally: Send + serde::Serialize + serde::de::DeserializeOwned {
    /// Empties the tally (as freshly made by [`Replication::tally`]) without freeing its buffers.
    fn reset(&mut self);
    /// Adds `later`, the tally of the replications that directly follow this tally's, to this one.
    /// [`run`] merges block tallies in replication order, so the merge need not be commutative
    /// (e.g. Chan, Golub & LeVeque's pairwise update of means and sums of squares).
    fn merge(&mut self, later: &Self);
}

/// One Monte Carlo replication of a study under one condition: generate a data set, analyse it,
/// record the outcome. The value implementing it holds everything the replications share (the
/// prepared samplers, the analysis plan) and is built before [`run`]; it is shared by all threads,
/// so it is read-only (`Sync`).
///
/// For each replication [`run`] calls, on one thread and with one random stream `rng`:
/// 1. [`generate`](Replication::generate) — draw the data into the workspace;
/// 2. if it returned `true`, [`analyse`](Replication::analyse) — fit, test, decide, leaving the
///    outcome in the workspace;
/// 3. [`record`](Replication::record) — add the outcome to the block's tally, with `ok` = both
///    steps succeeded. On `ok == false` the workspace may still hold an earlier replication's
///    outcome: `record` must not count it.
///
/// Everything random must come from `rng` (or from seeds drawn from it), and nothing else may
/// carry over from one replication to the next through the workspace: a workspace is reused by
/// whichever replications its thread happens to run.
pub trait Replication: Sync {
    /// Per-thread buffers (data, fitter state, the current outcome), made once per thread.
    type Workspace: Send;
    /// What is counted.
    type Tally: Tally;

    /// A fresh workspace, sized for this condition.
    fn workspace(&self) -> Self::Workspace;

    /// An empty tally.
    fn tally(&self) -> Self::Tally;

    /// Draws one replication's data into `ws`. Returns `false` when the draw cannot be analysed
    /// (e.g. too few complete rows after missing data); the replication then counts as failed.
    fn generate(&self, ws: &mut Self::Workspace, rng: &mut ReplicationRng) -> bool;

    /// Analyses the data in `ws` (fits, intervals, decisions), leaving the outcome in `ws`; may
    /// draw more random numbers from `rng` (Monte Carlo intervals, bootstrap seeds). Returns
    /// `false` when the analysis failed (e.g. the fit did not converge).
    fn analyse(&self, ws: &mut Self::Workspace, rng: &mut ReplicationRng) -> bool;

    /// Adds the outcome in `ws` to `tally`; `ok` says whether both steps succeeded.
    fn record(&self, ws: &Self::Workspace, ok: bool, tally: &mut Self::Tally);
}

/// How a caller runs its conditions: where progress goes and which part of each run to do (the
/// [`RunMode`](crate::shard::RunMode)). Passed down by the caller to every [`run`]; there is no
/// ambient state.
///
/// A plain closure `Fn(u64)` is the context of a whole run that reports its progress to the
/// closure (`&|_| {}` for none); a [`RunConfig`](crate::shard::RunConfig) carries a shard or
/// replay [`Session`](crate::shard::Session).
pub trait RunContext: Sync {
    /// Called on the calling thread after every chunk of `done` finished replications (at most
    /// [`CHUNK`] at a time); over a run the `done` add up to R.
    fn progress(&self, done: u64);
    /// The shard or replay session of this run; `None` for a whole run.
    fn session(&self) -> Option<&crate::shard::Session> {
        None
    }
}

impl<F: Fn(u64) + Sync> RunContext for F {
    fn progress(&self, done: u64) {
        self(done);
    }
}

/// Runs `replications` replications of `study` on the streams `streams` in the ambient rayon
/// pool and returns their tally; reports progress to `context` after every chunk. See the module
/// documentation for the guarantees.
///
/// With a shard or replay session in `context` ([`crate::shard`]) only the shard's blocks run
/// (the tally returned covers them alone) or nothing runs and the merged parts' block tallies are
/// replayed.
///
/// # Errors
/// Only in replay mode: [`ShardError`](crate::shard::ShardError) when the merged parts hold no
/// tallies for this condition or a tally does not decode as `R::Tally`.
pub fn run<R: Replication>(
    study: &R,
    streams: Streams,
    replications: usize,
    context: &dyn RunContext,
) -> Result<R::Tally, crate::shard::ShardError> {
    if let Some(session) = context.session() {
        return session.run(study, streams, replications, context);
    }
    let mut total = study.tally();
    run_blocks(
        study,
        streams,
        replications,
        0..blocks_of(replications),
        context,
        &mut |_, part| total.merge(part),
    );
    Ok(total)
}

/// The number of blocks of [`BLOCK`] replications in a run of `replications` (the last may be
/// short).
pub fn blocks_of(replications: usize) -> usize {
    replications.div_ceil(BLOCK)
}

/// Runs the blocks `blocks` (block `b` = replications `b·BLOCK … min((b+1)·BLOCK, R) − 1`) of a
/// run of `replications` replications and hands each block's tally to `sink(b, tally)` in block
/// order, on the calling thread. [`run`] is this with a sink that merges into the total; a shard
/// ([`crate::shard`]) keeps the block tallies so that a merge can replay the same sequence.
pub fn run_blocks<R: Replication>(
    study: &R,
    streams: Streams,
    replications: usize,
    blocks: std::ops::Range<usize>,
    context: &dyn RunContext,
    sink: &mut dyn FnMut(usize, &R::Tally),
) {
    let threads = rayon::current_num_threads();
    let workspaces: Vec<Mutex<Option<R::Workspace>>> =
        (0..threads).map(|_| Mutex::new(None)).collect();
    let per_chunk = CHUNK / BLOCK;
    let mut partials: Vec<R::Tally> = (0..per_chunk).map(|_| study.tally()).collect();
    let mut block = blocks.start;
    while block < blocks.end {
        let count = per_chunk.min(blocks.end - block);
        partials[..count]
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, part)| {
                let t = rayon::current_thread_index().unwrap_or(0) % threads;
                let mut guard = workspaces[t]
                    .lock()
                    .expect("workspace lock is never poisoned");
                let ws = guard.get_or_insert_with(|| study.workspace());
                part.reset();
                let first = (block + i) * BLOCK;
                let last = ((block + i + 1) * BLOCK).min(replications);
                for r in first..last {
                    replicate(study, streams, r as u64, ws, part);
                }
            });
        for (i, part) in partials[..count].iter().enumerate() {
            sink(block + i, part);
        }
        let done = ((block + count) * BLOCK).min(replications) - block * BLOCK;
        block += count;
        context.progress(done as u64);
    }
}

/// Replication `r`: generate, analyse, record.
#[inline]
fn replicate<R: Replication>(
    study: &R,
    streams: Streams,
    r: u64,
    ws: &mut R::Workspace,
    tally: &mut R::Tally,
) {
    let mut rng = replication_rng(streams.seed, streams.condition, r);
    let ok = study.generate(ws, &mut rng) && study.analyse(ws, &mut rng);
    study.record(ws, ok, tally);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    /// Records the first draw of every replication, in the order tallied.
    struct Draws;
    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Seen(Vec<u64>);
    impl Tally for Seen {
        fn reset(&mut self) {
            self.0.clear();
        }
        fn merge(&mut self, later: &Seen) {
            self.0.extend_from_slice(&later.0);
        }
    }
    impl Replication for Draws {
        type Workspace = u64;
        type Tally = Seen;
        fn workspace(&self) -> u64 {
            0
        }
        fn tally(&self) -> Seen {
            Seen::default()
        }
        fn generate(&self, ws: &mut u64, rng: &mut ReplicationRng) -> bool {
            *ws = rng.next_u64();
            *ws & 7 != 0
        }
        fn analyse(&self, _: &mut u64, _: &mut ReplicationRng) -> bool {
            true
        }
        fn record(&self, ws: &u64, ok: bool, tally: &mut Seen) {
            tally.0.push(if ok { *ws } else { 0 });
        }
    }

    /// Every replication uses its own stream, outcomes are tallied in replication order, and the
    /// result is the same on 1 and 3 threads; progress adds up to R.
    #[test]
    fn replications_are_tallied_in_order_whatever_the_threads() {
        let streams = Streams {
            seed: 9,
            condition: 40,
        };
        let reps = 2 * CHUNK + 77;
        let on = |threads: usize| {
            let done = std::sync::atomic::AtomicU64::new(0);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let seen = pool
                .install(|| {
                    run(&Draws, streams, reps, &|k| {
                        done.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
                    })
                })
                .unwrap();
            assert_eq!(done.into_inner(), reps as u64);
            seen.0
        };
        let one = on(1);
        let expected: Vec<u64> = (0..reps as u64)
            .map(|r| {
                let x = replication_rng(9, 40, r).next_u64();
                if x & 7 != 0 {
                    x
                } else {
                    0
                }
            })
            .collect();
        assert_eq!(one, expected);
        assert!(one.contains(&0), "some replications fail");
        assert_eq!(on(3), one);
    }
}
