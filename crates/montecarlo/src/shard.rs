//! Shards and exact merges of Monte Carlo runs: one mechanism for every command built on
//! [`crate::run`].
//!
//! A run of R replications is `B = ⌈R/64⌉` blocks ([`crate::BLOCK`]); the single run
//! tallies each block and merges the block tallies into the total in block order. Floating-point
//! sums are not associative, so a shard cannot just return its own total: shard `k` of `K` runs
//! the contiguous blocks `⌊(k−1)·B/K⌋ … ⌊k·B/K⌋−1` of every condition and keeps **each block's
//! tally** ([`Entry`]). Merging replays the single run's sequence — an empty tally, then
//! [`Tally::merge`] of blocks 0, 1, …, B−1 — so the merged totals are bit-identical to the single
//! run's, and the command renders them with its own code path.
//!
//! The mode is an argument: the caller makes a [`Session`] for its [`RunMode`] and passes it,
//! with its progress, as a [`RunConfig`] to every [`crate::run`] of the command; afterwards it
//! reads the shard's [`Session::recorded`] entries. The engine keeps no state of its own. Every
//! call of `run` is one *condition*, identified by its streams, its number of replications and
//! how many calls with the same identity came before it in the session (so a command that runs
//! a condition twice still lines up).

use crate::engine::{blocks_of, run_blocks, Replication, RunContext, Streams, Tally};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// Which conditions' blocks one call of `run` covers, and their tallies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The master seed of the call's streams.
    pub seed: u64,
    /// The condition of the call's streams.
    pub condition: u64,
    /// Replications of the whole (unsharded) condition.
    pub replications: usize,
    /// Calls with the same `(seed, condition, replications)` before this one.
    pub occurrence: usize,
    /// The first block held.
    pub first_block: usize,
    /// The tallies of blocks `first_block …`, in block order, as exact bytes in hex
    /// ([`to_exact`]).
    pub blocks: Vec<String>,
}

impl Entry {
    /// The identity of the entry's condition: `(seed, condition, replications, occurrence)`.
    pub fn key(&self) -> (u64, u64, usize, usize) {
        (
            self.seed,
            self.condition,
            self.replications,
            self.occurrence,
        )
    }
}

/// What [`crate::run`] does with each condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    /// Run every replication.
    Whole,
    /// Run shard `index` (1-based) of `count`, recording its block tallies.
    Shard {
        /// This shard, 1 ≤ index ≤ count.
        index: usize,
        /// The number of shards.
        count: usize,
    },
    /// Run nothing: replay the block tallies of merged shards ([`combine`]).
    Replay(Vec<Entry>),
}

/// Why a shard or replay cannot be done; every failure of a damaged or foreign part is one of
/// these values, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardError {
    /// `index`/`count` is not a shard (1 ≤ index ≤ count).
    BadShard {
        /// The shard asked for.
        index: usize,
        /// The number of shards.
        count: usize,
    },
    /// The parts do not hold every block of a condition exactly once.
    Blocks {
        /// `(seed, condition, replications, occurrence)`.
        key: (u64, u64, usize, usize),
        /// What is wrong.
        problem: String,
    },
    /// The run asked for a condition the merged parts hold no tallies for.
    NotInParts {
        /// `(seed, condition, replications, occurrence)`.
        key: (u64, u64, usize, usize),
    },
    /// A block tally of the merged parts does not decode as this run's tally.
    BadTally {
        /// `(seed, condition, replications, occurrence)`.
        key: (u64, u64, usize, usize),
        /// The block.
        block: usize,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for ShardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cond = |k: &(u64, u64, usize, usize)| {
            format!(
                "condition {} (seed {}, {} replications, run {})",
                k.1,
                k.0,
                k.2,
                k.3 + 1
            )
        };
        match self {
            ShardError::BadShard { index, count } => {
                write!(f, "shard {index}/{count}: expected 1 ≤ k ≤ K")
            }
            ShardError::Blocks { key, problem } => write!(f, "{}: {problem}", cond(key)),
            ShardError::NotInParts { key } => write!(
                f,
                "the merged parts hold no tallies for {}: the parts do not belong to this run",
                cond(key)
            ),
            ShardError::BadTally { key, block, reason } => write!(
                f,
                "block {block} of {} in the merged parts is not a tally of this run: {reason}",
                cond(key)
            ),
        }
    }
}

impl std::error::Error for ShardError {}

/// What a session has seen and recorded so far.
#[derive(Debug, Default)]
struct Ledger {
    seen: HashMap<(u64, u64, usize), usize>,
    recorded: Vec<Entry>,
    replayed: usize,
}

/// One command's run mode and what its runs recorded: made by the caller, passed (inside a
/// [`RunConfig`]) to every [`crate::run`], read afterwards. Its interior lock only counts the
/// calls; it is owned by the caller, not by the process.
#[derive(Debug)]
pub struct Session {
    mode: RunMode,
    replay: HashMap<(u64, u64, usize, usize), Entry>,
    ledger: Mutex<Ledger>,
}

impl Session {
    /// A session in `mode`.
    ///
    /// # Errors
    /// [`ShardError::BadShard`] for a shard outside 1 ≤ index ≤ count;
    /// [`ShardError::Blocks`] for replay entries that name one condition twice.
    pub fn new(mode: RunMode) -> Result<Session, ShardError> {
        let mut replay = HashMap::new();
        match &mode {
            RunMode::Whole => {}
            RunMode::Shard { index, count } => {
                if *index == 0 || index > count {
                    return Err(ShardError::BadShard {
                        index: *index,
                        count: *count,
                    });
                }
            }
            RunMode::Replay(entries) => {
                for e in entries {
                    if replay.insert(e.key(), e.clone()).is_some() {
                        return Err(ShardError::Blocks {
                            key: e.key(),
                            problem: "held twice by the merged parts".into(),
                        });
                    }
                }
            }
        }
        Ok(Session {
            mode,
            replay,
            ledger: Mutex::new(Ledger::default()),
        })
    }

    /// The session's mode.
    pub fn mode(&self) -> &RunMode {
        &self.mode
    }

    /// This session with `progress` as the context of [`crate::run`].
    pub fn with_progress<'a>(&'a self, progress: &'a (dyn Fn(u64) + Sync)) -> RunConfig<'a> {
        RunConfig {
            session: self,
            progress,
        }
    }

    /// The entries recorded by a shard session so far (in call order).
    pub fn recorded(&self) -> Vec<Entry> {
        self.ledger().recorded.clone()
    }

    /// In replay mode: how many of the merged entries were not asked for by any run (0 when the
    /// parts and the run agree).
    pub fn unreplayed(&self) -> usize {
        self.replay.len().saturating_sub(self.ledger().replayed)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // The lock guards plain counters: a panic elsewhere cannot leave them half-updated.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`crate::run`] in this session's mode.
    pub(crate) fn run<R: Replication>(
        &self,
        study: &R,
        streams: Streams,
        replications: usize,
        context: &dyn RunContext,
    ) -> Result<R::Tally, ShardError> {
        let occurrence = {
            let mut ledger = self.ledger();
            let seen = ledger
                .seen
                .entry((streams.seed, streams.condition, replications))
                .or_insert(0);
            let occurrence = *seen;
            *seen += 1;
            occurrence
        };
        let key = (streams.seed, streams.condition, replications, occurrence);
        let mut total = study.tally();
        match &self.mode {
            RunMode::Whole => run_blocks(
                study,
                streams,
                replications,
                0..blocks_of(replications),
                context,
                &mut |_, t| total.merge(t),
            ),
            RunMode::Shard { index, count } => {
                let range = shard_blocks(blocks_of(replications), *index, *count);
                let mut blocks = Vec::with_capacity(range.len());
                let mut encoded = Ok(());
                run_blocks(
                    study,
                    streams,
                    replications,
                    range.clone(),
                    context,
                    &mut |b, t| {
                        match to_exact(t) {
                            Ok(hex) => blocks.push(hex),
                            Err(reason) => {
                                encoded = Err(ShardError::BadTally {
                                    key,
                                    block: b,
                                    reason,
                                })
                            }
                        }
                        total.merge(t);
                    },
                );
                encoded?;
                self.ledger().recorded.push(Entry {
                    seed: key.0,
                    condition: key.1,
                    replications,
                    occurrence,
                    first_block: range.start,
                    blocks,
                });
            }
            RunMode::Replay(_) => {
                let entry = self
                    .replay
                    .get(&key)
                    .ok_or(ShardError::NotInParts { key })?;
                if entry.first_block != 0 || entry.blocks.len() != blocks_of(replications) {
                    return Err(ShardError::Blocks {
                        key,
                        problem: format!(
                            "the merged parts hold {} of {} blocks",
                            entry.blocks.len(),
                            blocks_of(replications)
                        ),
                    });
                }
                for (block, hex) in entry.blocks.iter().enumerate() {
                    let t: R::Tally = from_exact(hex).map_err(|reason| ShardError::BadTally {
                        key,
                        block,
                        reason,
                    })?;
                    total.merge(&t);
                }
                self.ledger().replayed += 1;
                context.progress(replications as u64);
            }
        }
        Ok(total)
    }
}

/// The context of [`crate::run`] in a [`Session`]: the session and where progress goes.
#[derive(Clone, Copy)]
pub struct RunConfig<'a> {
    session: &'a Session,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl RunContext for RunConfig<'_> {
    fn progress(&self, done: u64) {
        (self.progress)(done);
    }
    fn session(&self) -> Option<&Session> {
        Some(self.session)
    }
}

/// The blocks of shard `index` (1-based) of `count` among `blocks` blocks (empty for an index
/// outside 1 ≤ index ≤ count).
pub fn shard_blocks(blocks: usize, index: usize, count: usize) -> std::ops::Range<usize> {
    if index == 0 || index > count {
        return 0..0;
    }
    (index - 1) * blocks / count..index * blocks / count
}

/// Combines the entries of shards `1..=K` into one entry per condition holding all blocks, or
/// says what is missing or overlapping.
///
/// # Errors
/// [`ShardError::Blocks`] when a condition's blocks are not all there exactly once.
pub fn combine(parts: &[Vec<Entry>]) -> Result<Vec<Entry>, ShardError> {
    let mut by_key: HashMap<(u64, u64, usize, usize), Vec<Entry>> = HashMap::new();
    let mut order = Vec::new();
    for part in parts {
        for e in part {
            let key = e.key();
            if !by_key.contains_key(&key) {
                order.push(key);
            }
            by_key.entry(key).or_default().push(e.clone());
        }
    }
    let mut out = Vec::new();
    for key in order {
        let mut pieces = by_key.remove(&key).unwrap_or_default();
        pieces.sort_by_key(|e| e.first_block);
        let mut next = 0;
        let mut blocks = Vec::new();
        for p in pieces {
            if p.first_block != next {
                return Err(ShardError::Blocks {
                    key,
                    problem: format!(
                        "the parts hold block {} where block {next} was expected (a shard is missing or duplicated)",
                        p.first_block
                    ),
                });
            }
            next += p.blocks.len();
            blocks.extend(p.blocks);
        }
        if next != blocks_of(key.2) {
            return Err(ShardError::Blocks {
                key,
                problem: format!(
                    "the parts hold {next} of {} blocks (a shard is missing)",
                    blocks_of(key.2)
                ),
            });
        }
        out.push(Entry {
            seed: key.0,
            condition: key.1,
            replications: key.2,
            occurrence: key.3,
            first_block: 0,
            blocks,
        });
    }
    Ok(out)
}

/// The longest hex text of one block tally that [`from_exact`] decodes (64 MiB of CBOR).
pub const MAX_TALLY_HEX: usize = 128 << 20;

/// A tally as exact bytes: CBOR (RFC 8949, which stores every f64 — NaN and infinities too — bit
/// for bit), as lowercase hex.
///
/// # Errors
/// The tally does not serialise (a `Serialize` implementation that fails).
pub fn to_exact<T: Tally>(tally: &T) -> Result<String, String> {
    let mut bytes = Vec::new();
    ciborium::into_writer(tally, &mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The inverse of [`to_exact`].
///
/// # Errors
/// Empty, odd-length, too long or non-hex text; bytes that do not decode as a `T`.
pub fn from_exact<T: Tally>(hex: &str) -> Result<T, String> {
    if hex.is_empty() {
        return Err("the block tally is empty".into());
    }
    if hex.len() & 1 == 1 || hex.len() > MAX_TALLY_HEX {
        return Err(format!(
            "the block tally has {} hex digits (expected an even number up to {MAX_TALLY_HEX})",
            hex.len()
        ));
    }
    let bytes = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("the block tally is not hex ('{}')", pair.escape_ascii()))
        })
        .collect::<Result<Vec<u8>, String>>()?;
    ciborium::from_reader(bytes.as_slice()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_blocks() {
        for blocks in [0, 1, 5, 16, 157] {
            for count in [1, 3, 7] {
                let mut next = 0;
                for index in 1..=count {
                    let r = shard_blocks(blocks, index, count);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, blocks);
            }
        }
    }

    #[derive(Debug, PartialEq, Default, Serialize, Deserialize)]
    struct Sums {
        n: usize,
        s: Vec<f64>,
    }
    impl Tally for Sums {
        fn reset(&mut self) {
            *self = Sums::default();
        }
        fn merge(&mut self, later: &Sums) {
            self.n += later.n;
            self.s.extend_from_slice(&later.s);
        }
    }

    #[test]
    fn tallies_round_trip_exactly_through_json_text() {
        let t = Sums {
            n: 3,
            s: vec![
                0.1 + 0.2,
                1e-300,
                -0.0,
                1.0 / 3.0,
                f64::MAX,
                f64::NAN,
                f64::INFINITY,
            ],
        };
        let hex = to_exact(&t).unwrap();
        let back: Sums = from_exact(&hex).unwrap();
        assert_eq!(
            back.s.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            t.s.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(back.n, 3);
    }

    #[test]
    fn combine_refuses_gaps_and_duplicates() {
        let e = |first: usize, n: usize| Entry {
            seed: 1,
            condition: 100,
            replications: 64 * 4,
            occurrence: 0,
            first_block: first,
            blocks: vec![String::new(); n],
        };
        assert!(combine(&[vec![e(0, 2)], vec![e(2, 2)]]).is_ok());
        assert!(combine(&[vec![e(0, 2)]])
            .unwrap_err()
            .to_string()
            .contains("missing"));
        assert!(combine(&[vec![e(0, 2)], vec![e(0, 2)], vec![e(2, 2)]])
            .unwrap_err()
            .to_string()
            .contains("duplicated"));
    }

    /// A study whose tally is the float sum of its draws and their order: merging is not
    /// associative, so only the single run's block order reproduces it bit for bit.
    struct Noise;
    impl Replication for Noise {
        type Workspace = f64;
        type Tally = Sums;
        fn workspace(&self) -> f64 {
            0.0
        }
        fn tally(&self) -> Sums {
            Sums::default()
        }
        fn generate(&self, ws: &mut f64, rng: &mut crate::ReplicationRng) -> bool {
            use rand::Rng;
            *ws = rng.gen::<f64>() * 1e6 - 0.5e6;
            true
        }
        fn analyse(&self, _: &mut f64, _: &mut crate::ReplicationRng) -> bool {
            true
        }
        fn record(&self, ws: &f64, _: bool, tally: &mut Sums) {
            tally.n += 1;
            if tally.s.is_empty() {
                tally.s.push(0.0);
            }
            tally.s[0] += *ws;
        }
    }

    /// Shards 1..K recorded through sessions, combined and replayed, give the whole run's tally
    /// bit for bit (a condition run twice included); a replay of foreign or damaged entries is an
    /// error value.
    #[test]
    fn shards_replay_to_the_whole_run_and_mismatches_are_errors() {
        let streams = Streams {
            seed: 4,
            condition: 9,
        };
        let reps = 1000;
        let whole = crate::run(&Noise, streams, reps, &|_| {}).unwrap();
        for count in [1, 3, 7] {
            let mut parts = Vec::new();
            for index in 1..=count {
                let session = Session::new(RunMode::Shard { index, count }).unwrap();
                for _ in 0..2 {
                    crate::run(&Noise, streams, reps, &session.with_progress(&|_| {})).unwrap();
                }
                parts.push(session.recorded());
            }
            let combined = combine(&parts).unwrap();
            assert_eq!(combined.len(), 2, "two runs of one condition");
            let replay = Session::new(RunMode::Replay(combined.clone())).unwrap();
            for _ in 0..2 {
                let back =
                    crate::run(&Noise, streams, reps, &replay.with_progress(&|_| {})).unwrap();
                assert_eq!(back.n, whole.n);
                assert_eq!(back.s[0].to_bits(), whole.s[0].to_bits(), "K = {count}");
            }
            assert_eq!(replay.unreplayed(), 0);
            // Another seed: not in the parts.
            let other = Streams {
                seed: 5,
                condition: 9,
            };
            let e = crate::run(&Noise, other, reps, &replay.with_progress(&|_| {})).unwrap_err();
            assert!(matches!(e, ShardError::NotInParts { .. }), "{e}");
            // A damaged tally.
            let mut bad = combined.clone();
            bad[0].blocks[0] = "0g".into();
            let damaged = Session::new(RunMode::Replay(bad)).unwrap();
            let e = crate::run(&Noise, streams, reps, &damaged.with_progress(&|_| {})).unwrap_err();
            assert!(e.to_string().contains("not hex"), "{e}");
        }
        assert!(Session::new(RunMode::Shard { index: 0, count: 2 }).is_err());
        assert!(Session::new(RunMode::Shard { index: 3, count: 2 }).is_err());
    }

    #[test]
    fn tallies_that_are_not_hex_cbor_are_refused() {
        for bad in ["", "a", "zz", "ff", "é1", "0"] {
            assert!(from_exact::<Sums>(bad).is_err(), "{bad:?}");
        }
    }
}
