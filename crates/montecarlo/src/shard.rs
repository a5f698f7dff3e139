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
//! The mode is *ambient* for the process, like rayon's global pool: the command-line program
//! calls [`set_mode`] once before running a command, and [`crate::run`] consults it,
//! so that power, trial power and transport simulations need no extra parameters. The library
//! never sets it itself. Every call of `run` is one *condition*, identified by its streams, its
//! number of replications and how many calls with the same identity came before it (so a
//! command that runs a condition twice still lines up).

use crate::engine::{blocks_of, run_blocks, Replication, Streams, Tally};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// Which conditions' blocks one call of `run` covers, and their tallies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The tallies of blocks `first_block …`, in block order, as exact bytes ([`to_exact`]).
    pub blocks: Vec<serde_json::Value>,
}

/// What [`crate::run`] does.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Run shard `index` (1-based) of `count`, recording its block tallies.
    Shard {
        /// This shard, 1 ≤ index ≤ count.
        index: usize,
        /// The number of shards.
        count: usize,
    },
    /// Run nothing: replay the block tallies of merged shards.
    Replay(Vec<Entry>),
}

struct State {
    mode: Mode,
    seen: HashMap<(u64, u64, usize), usize>,
    recorded: Vec<Entry>,
    replay: HashMap<(u64, u64, usize, usize), Entry>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// The blocks of shard `index` (1-based) of `count` among `blocks` blocks.
pub fn shard_blocks(blocks: usize, index: usize, count: usize) -> std::ops::Range<usize> {
    (index - 1) * blocks / count..index * blocks / count
}

/// Sets the ambient mode for the rest of the process (the command-line program, once).
pub fn set_mode(mode: Mode) {
    let replay = match &mode {
        Mode::Replay(entries) => entries
            .iter()
            .map(|e| {
                (
                    (e.seed, e.condition, e.replications, e.occurrence),
                    e.clone(),
                )
            })
            .collect(),
        Mode::Shard { .. } => HashMap::new(),
    };
    *STATE.lock().expect("shard state lock") = Some(State {
        mode,
        seen: HashMap::new(),
        recorded: Vec::new(),
        replay,
    });
}

/// The entries recorded by a shard run so far (in call order).
pub fn recorded() -> Vec<Entry> {
    STATE
        .lock()
        .expect("shard state lock")
        .as_ref()
        .map(|s| s.recorded.clone())
        .unwrap_or_default()
}

/// Combines the entries of shards `1..=K` into one entry per condition holding all blocks, or
/// says what is missing or overlapping.
pub fn combine(parts: &[Vec<Entry>]) -> Result<Vec<Entry>, String> {
    let mut by_key: HashMap<(u64, u64, usize, usize), Vec<Entry>> = HashMap::new();
    let mut order = Vec::new();
    for part in parts {
        for e in part {
            let key = (e.seed, e.condition, e.replications, e.occurrence);
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
                return Err(format!(
                    "condition {} (seed {}, {} replications): the parts hold block {} where block {} was expected (a shard is missing or duplicated)",
                    key.1, key.0, key.2, p.first_block, next
                ));
            }
            next += p.blocks.len();
            blocks.extend(p.blocks);
        }
        if next != blocks_of(key.2) {
            return Err(format!(
                "condition {} (seed {}, {} replications): the parts hold {} of {} blocks (a shard is missing)",
                key.1, key.0, key.2, next, blocks_of(key.2)
            ));
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

/// Called by [`crate::run`]: `None` without an ambient mode (run normally), else the
/// tally of the shard's blocks (shard mode; its value is not meaningful, the command's output is
/// discarded) or the replayed total (replay mode).
pub(crate) fn ambient_run<R: Replication>(
    study: &R,
    streams: Streams,
    replications: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Option<R::Tally> {
    let (mode, occurrence) = {
        let mut guard = STATE.lock().expect("shard state lock");
        let state = guard.as_mut()?;
        let seen = state
            .seen
            .entry((streams.seed, streams.condition, replications))
            .or_insert(0);
        let occurrence = *seen;
        *seen += 1;
        (state.mode.clone_shallow(), occurrence)
    };
    let key = (streams.seed, streams.condition, replications, occurrence);
    match mode {
        Some((index, count)) => {
            let range = shard_blocks(blocks_of(replications), index, count);
            let mut total = study.tally();
            let mut blocks = Vec::with_capacity(range.len());
            run_blocks(
                study,
                streams,
                replications,
                range.clone(),
                progress,
                &mut |_, t| {
                    blocks.push(to_exact(t));
                    total.merge(t);
                },
            );
            let entry = Entry {
                seed: key.0,
                condition: key.1,
                replications,
                occurrence,
                first_block: range.start,
                blocks,
            };
            let mut guard = STATE.lock().expect("shard state lock");
            if let Some(state) = guard.as_mut() {
                state.recorded.push(entry);
            }
            Some(total)
        }
        None => {
            let entry = STATE
                .lock()
                .expect("shard state lock")
                .as_ref()
                .and_then(|s| s.replay.get(&key).cloned())
                .unwrap_or_else(|| {
                    panic!(
                        "the merged parts hold no tallies for condition {} (seed {}, {} replications); the parts do not match this run",
                        key.1, key.0, replications
                    )
                });
            let mut total = study.tally();
            for b in entry.blocks {
                let t: R::Tally = from_exact(b).unwrap_or_else(|e| {
                    panic!("a block tally in the merged parts does not match this run: {e}")
                });
                total.merge(&t);
            }
            progress(replications as u64);
            Some(total)
        }
    }
}

impl Mode {
    /// `Some((index, count))` for a shard, `None` for replay.
    fn clone_shallow(&self) -> Option<(usize, usize)> {
        match self {
            Mode::Shard { index, count } => Some((*index, *count)),
            Mode::Replay(_) => None,
        }
    }
}

/// A tally as exact bytes: CBOR (RFC 8949, which stores every f64 — NaN and infinities too — bit
/// for bit), as a hex string in the part's JSON.
pub fn to_exact<T: Tally>(tally: &T) -> serde_json::Value {
    let mut bytes = Vec::new();
    ciborium::into_writer(tally, &mut bytes).expect("a tally serialises");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::Value::String(hex)
}

/// The inverse of [`to_exact`].
pub fn from_exact<T: Tally>(value: serde_json::Value) -> Result<T, String> {
    let hex = value.as_str().ok_or("a block tally is not a hex string")?;
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| format!("a block tally is not hex: {e}"))?;
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
        let text = serde_json::to_string(&to_exact(&t)).unwrap();
        let back: Sums = from_exact(serde_json::from_str(&text).unwrap()).unwrap();
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
            blocks: vec![serde_json::Value::Null; n],
        };
        assert!(combine(&[vec![e(0, 2)], vec![e(2, 2)]]).is_ok());
        assert!(combine(&[vec![e(0, 2)]]).unwrap_err().contains("missing"));
        assert!(combine(&[vec![e(0, 2)], vec![e(0, 2)], vec![e(2, 2)]])
            .unwrap_err()
            .contains("duplicated"));
    }
}
