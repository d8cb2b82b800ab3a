//! The sampler's random streams: xoshiro256++ (the `rand_xoshiro` crate)
//! keyed by (seed, purpose, index).
//!
//! Sampling `10^6` shots draws about two million words in the chunk tree
//! and inside chunks, and starts a stream at every tree node and chunk
//! (thousands per job). A ChaCha8 stream costs some 2.6 ns per word and a
//! few hundred nanoseconds to start (it computes 256 bytes at once), a
//! large share of a budget of a few nanoseconds per shot; xoshiro256++
//! costs under a nanosecond per word and a few to start. Its output passes
//! the usual statistical batteries (it is, e.g., Julia's default
//! generator); no cryptographic strength is needed to simulate shots.
//!
//! A stream's 256-bit state is four SplitMix64 outputs of a hash of
//! (seed, purpose, index), so distinct triples give unrelated streams, and
//! everything is integer arithmetic: the same words on every machine.
//! Callers draw words with [`rand::RngCore::next_u64`].

use rand::SeedableRng;

/// A random stream of the sampler.
pub(crate) type Stream = rand_xoshiro::Xoshiro256PlusPlus;

/// One SplitMix64 step: advances `x` and returns the mixed output (the
/// hash that keys a stream).
#[inline]
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream of (`seed`, `domain`, `index`): see the module doc.
pub(crate) fn stream(seed: u64, domain: u64, index: u64) -> Stream {
    let mut x = seed;
    let mut h = splitmix(&mut x);
    x = h ^ domain.wrapping_mul(0x100_0000_01B3);
    h = splitmix(&mut x);
    x = h ^ index;
    let mut key = [0u8; 32];
    for w in key.chunks_exact_mut(8) {
        w.copy_from_slice(&splitmix(&mut x).to_le_bytes());
    }
    // The all-zero state, the one xoshiro cannot leave, is replaced by the
    // crate (four SplitMix64 outputs are never all zero anyway).
    Stream::from_seed(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let words = |mut s: Stream| (0..4).map(|_| s.next_u64()).collect::<Vec<_>>();
        let a = words(stream(1, 2, 3));
        assert_eq!(a, words(stream(1, 2, 3)));
        assert_ne!(a, words(stream(1, 2, 4)));
        assert_ne!(a, words(stream(1, 3, 3)));
        assert_ne!(a, words(stream(2, 2, 3)));
        // Fixed words: a change of the generator or of the keying shows here
        // (and would change every seed's shots).
        let mut key = [0u8; 32];
        for (w, v) in key.chunks_exact_mut(8).zip([1u64, 2, 3, 4]) {
            w.copy_from_slice(&v.to_le_bytes());
        }
        assert_eq!(Stream::from_seed(key).next_u64(), 41_943_041);
        assert_eq!(stream(0, 0, 0).next_u64(), FIRST_WORD_OF_STREAM_0);
    }

    /// The first word of stream (0, 0, 0), recorded when the keying was fixed.
    const FIRST_WORD_OF_STREAM_0: u64 = 4_526_510_421_850_589_242;

    #[test]
    fn bits_are_balanced() {
        let mut s = stream(9, 0, 0);
        let n = 20_000u32;
        let ones: u32 = (0..n).map(|_| s.next_u64().count_ones()).sum();
        // 64 n fair bits: mean 32 n, standard deviation 4 sqrt(n).
        let dev = (f64::from(ones) - 32.0 * f64::from(n)).abs();
        assert!(dev < 6.0 * 4.0 * f64::from(n).sqrt(), "{ones}");
    }
}
