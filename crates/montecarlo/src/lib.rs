//! # balans-montecarlo
//!
//! The generic Monte Carlo engine of balans, independent of every other balans crate: path-model
//! power (`balans-power`), trial power (`balans-trial`) and many-sites simulations
//! (`balans-transport`) all run on it.
//!
//! Main types and functions:
//! * [`Replication`] and [`Tally`] — a study's problem: what one replication generates, analyses
//!   and records, and what is counted.
//! * [`run`] — the algorithm: R replications in fixed blocks of [`BLOCK`] on the ambient rayon
//!   pool, merged in block order, so results are the same bytes on any number of threads.
//! * [`Streams`], [`replication_rng`] — one Xoshiro256++ stream per `(seed, condition, replication)`.
//! * [`RunContext`], [`RunMode`], [`RunConfig`] — what the caller passes to [`run`]: progress and
//!   the mode (the whole run, shard k of K, or a replay of merged shards), never ambient state.
//! * [`shard`] — a run split into K shards whose block tallies merge into the single run's bytes.
//!
//! The library builds no thread pools, does no I/O and prints nothing.

mod engine;
pub mod shard;
mod stream;

pub use engine::{
    blocks_of, run, run_blocks, Replication, RunContext, Streams, Tally, BLOCK, CHUNK,
};
pub use shard::{RunConfig, RunMode, Session, ShardError};
pub use stream::{replication_rng, splitmix64, stream_key, ReplicationRng, MAX_REPLICATIONS};
