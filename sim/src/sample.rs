//! Probabilities, collapse, the random streams, and the mapping of
//! sampled basis indices to outcomes.
//!
//! Every reduction sums fixed-size blocks sequentially and then the block
//! sums in order, and every random draw comes from a stream keyed by
//! (seed, purpose, index) (ChaCha here for trajectories; xoshiro256++ in
//! [`crate::rng`] for the sampler), so results do not depend on the thread
//! count or on rayon's scheduling. Sampling many shots from a final state
//! is in [`crate::shots`].

use crate::ops::C;
use crate::par;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Domains of the random streams, so no two purposes share a stream.
pub(crate) mod domain {
    /// The shuffle of per-shot memory ([`crate::shuffle`]): piece `p` of
    /// its scatter uses `(seed, SHUFFLE_PIECE, p)`, bucket `b` of its
    /// shuffles `(seed, SHUFFLE_BUCKET, b)`.
    pub const SHUFFLE_PIECE: u64 = 3;
    pub const SHUFFLE_BUCKET: u64 = 8;
    pub const TRAJECTORY: u64 = 4;
    /// The binomial split of shots at a node of the chunk tree.
    pub const CHUNK_SPLIT: u64 = 5;
    /// The draws inside one chunk: batch `b` of a chunk uses `IN_CHUNK | b << 8`
    /// (never one of the values above).
    pub const IN_CHUNK: u64 = 6;
    /// The binomial split of shots at a node of a small state's amplitude
    /// tree.
    pub const AMPLITUDE_SPLIT: u64 = 7;
    /// The key of the dense sampler's per-amplitude uniforms, one per
    /// attempt ([`crate::dense`]).
    pub const POISSON_KEY: u64 = 9;
    /// The shots the dense sampler removes from a kept attempt.
    pub const POISSON_THIN: u64 = 11;
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream for (seed, domain, index).
pub(crate) fn stream(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let a = splitmix(seed);
    let b = splitmix(a ^ splitmix(domain.wrapping_mul(0x100_0000_01B3)));
    let c = splitmix(b ^ index);
    let d = splitmix(c ^ a);
    let mut key = [0u8; 32];
    for (chunk, w) in key.chunks_exact_mut(8).zip([a, b, c, d]) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// A uniform in [0, 1) with 53 random bits.
#[inline]
pub(crate) fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.random::<u64>() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Sum of |a|^2 over each block of `2^block_bits` amplitudes (the last
/// block may be the whole state when it is smaller).
pub(crate) fn block_masses(a: &[C], block_bits: u32) -> Vec<f64> {
    let len = 1usize << block_bits;
    if par::worth_it(a.len()) {
        a.par_chunks(len).map(mass).collect()
    } else {
        a.chunks(len).map(mass).collect()
    }
}

/// Amplitudes per group: the unit of the sampling sweep.
const GROUP: usize = 8;

/// |a|^2 summed over one group as a fixed tree (vectorizes; no long chain
/// of dependent additions).
#[inline(always)]
fn group_mass(g: &[C]) -> f64 {
    if g.len() < GROUP {
        return g.iter().map(|x| x.norm_sqr()).sum();
    }
    let p: [f64; GROUP] = std::array::from_fn(|k| g[k].norm_sqr());
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

/// The mass of a run of amplitudes: group masses added in order.
fn mass(a: &[C]) -> f64 {
    a.chunks(GROUP).map(group_mass).sum()
}

/// The probability that qubit `q` reads 1.
pub(crate) fn prob_one(a: &[C], q: u32) -> f64 {
    const CB: u32 = 14;
    let s = 1usize << q;
    let chunk_sum = |(ci, c): (usize, &[C])| {
        if q >= CB || s >= c.len() {
            if (ci << CB) & s != 0 { c.iter().map(|x| x.norm_sqr()).sum() } else { 0.0 }
        } else {
            c.chunks_exact(2 * s).map(|b| b[s..].iter().map(|x| x.norm_sqr()).sum::<f64>()).sum()
        }
    };
    let sums: Vec<f64> = if par::worth_it(a.len()) {
        a.par_chunks(1 << CB).enumerate().map(chunk_sum).collect()
    } else {
        a.chunks(1 << CB).enumerate().map(chunk_sum).collect()
    };
    sums.iter().sum()
}

/// Maps a basis index to an outcome: byte-wise lookup tables that OR the
/// classical bits each measured qubit writes.
#[derive(Debug, Clone)]
pub(crate) struct OutcomeMap {
    tables: Vec<[u64; 256]>,
    identity_mask: Option<u64>,
}

impl OutcomeMap {
    /// `pairs` are (qubit, clbit); a later pair for the same clbit wins.
    pub fn new(n: u32, pairs: &[(u32, u32)]) -> Self {
        let mut writer: [Option<u32>; 64] = [None; 64];
        for &(q, c) in pairs {
            writer[c as usize] = Some(q);
        }
        let mut tables = vec![[0u64; 256]; n.div_ceil(8) as usize];
        let mut identity = true;
        let mut mask = 0u64;
        for (c, w) in writer.iter().enumerate() {
            if let Some(q) = *w {
                identity &= q as usize == c;
                mask |= 1 << c;
                let t = &mut tables[(q / 8) as usize];
                for (byte, entry) in t.iter_mut().enumerate() {
                    if byte >> (q % 8) & 1 == 1 {
                        *entry |= 1 << c;
                    }
                }
            }
        }
        Self { tables, identity_mask: identity.then_some(mask) }
    }

    /// The outcome of basis index `i`.
    #[inline]
    pub fn outcome(&self, i: u64) -> u64 {
        if let Some(mask) = self.identity_mask {
            return i & mask;
        }
        self.tables.iter().enumerate().fold(0, |o, (k, t)| o | t[(i >> (8 * k)) as usize & 0xff])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_map_routes_bits() {
        let m = OutcomeMap::new(10, &[(9, 0), (0, 1)]);
        assert_eq!(m.outcome(1 << 9), 1);
        assert_eq!(m.outcome(1), 2);
        assert_eq!(m.outcome(0b10_0000_0001), 3);
        let id = OutcomeMap::new(3, &[(0, 0), (1, 1), (2, 2)]);
        assert_eq!(id.outcome(5), 5);
    }

    #[test]
    fn streams_differ_by_domain_and_index() {
        let x = uniform(&mut stream(1, domain::CHUNK_SPLIT, 0));
        let y = uniform(&mut stream(1, domain::CHUNK_SPLIT, 1));
        let z = uniform(&mut stream(1, domain::TRAJECTORY, 0));
        assert!(x != y && x != z && y != z);
        assert_eq!(x, uniform(&mut stream(1, domain::CHUNK_SPLIT, 0)));
    }
}
