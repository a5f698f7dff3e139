//! Random streams: one independent ChaCha8 stream per `(seed, condition, replication)`.
//!
//! The key of the ChaCha8 generator is expanded from `seed` by SplitMix64; the *stream* (ChaCha's
//! 64-bit nonce) is the condition (the sample size), and every replication starts at its own word
//! position, `replication · 2^36`. Replications therefore never share random numbers, whatever
//! thread runs them, and a condition's results do not depend on which other conditions are run.
//!
//! # References
//! Steele, Lea & Flood (2014), "Fast splittable pseudorandom number generators" (SplitMix64);
//! Bernstein (2008), "ChaCha, a variant of Salsa20" (64-bit stream id, 2^64 blocks per stream).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// log2 of the number of 32-bit words reserved for one replication (2^36 words = 256 GiB of random
/// bits; a bootstrap replication with B = 10,000 and N = 10,000 uses about 2^27).
const WORDS_PER_REPLICATION_LOG2: u32 = 36;

/// The largest number of replications per condition that keeps streams disjoint (2^32).
pub const MAX_REPLICATIONS: u64 = 1 << 32;

/// One step of SplitMix64: advances `state` and returns a well-mixed 64-bit value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random generator of replication `replication` of condition `condition` under `seed`.
///
/// Deterministic and independent of threads: the same triple always gives the same stream, and
/// different replications of a condition use disjoint parts of one ChaCha8 stream. `replication`
/// must be below [`MAX_REPLICATIONS`].
pub fn replication_rng(seed: u64, condition: u64, replication: u64) -> ChaCha8Rng {
    debug_assert!(replication < MAX_REPLICATIONS);
    let mut state = seed;
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(condition);
    rng.set_word_pos(u128::from(replication) << WORDS_PER_REPLICATION_LOG2);
    rng
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
    fn replication_blocks_do_not_overlap() {
        // The word position of replication r + 1 is exactly 2^36 words after that of r.
        let r0 = replication_rng(7, 1, 0);
        let r1 = replication_rng(7, 1, 1);
        assert_eq!(
            r1.get_word_pos() - r0.get_word_pos(),
            1u128 << WORDS_PER_REPLICATION_LOG2
        );
    }
}
