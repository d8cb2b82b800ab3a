//! Probabilities, collapse, and sampling many shots from a final state.
//!
//! Every reduction sums fixed-size blocks sequentially and then the block
//! sums in order, and every random draw comes from a ChaCha stream keyed by
//! (seed, purpose, index), so results do not depend on the thread count or
//! on rayon's scheduling.
//!
//! Sampling `S` shots from `2^n` amplitudes costs `O(2^n + S)`: two read
//! passes over the state (16 bytes per amplitude each, no writes) and a
//! few operations per shot, with no sorting and no per-shot search:
//! 1. the mass of each of at most 4096 blocks, and their running sums;
//! 2. `S` sorted uniforms made directly as normalized running sums of
//!    exponential spacings (`u_i = (E_1 + .. + E_i) / (E_1 + .. + E_{S+1})`
//!    are distributed as sorted independent uniforms), in fixed chunks of
//!    shots with their own streams, in parallel;
//! 3. per block, in parallel, the block's range of the sorted uniforms
//!    (found by binary search on the block's running mass) is merged with
//!    one scan over the block's amplitudes, walking an 8-amplitude group
//!    only where a draw lands.
//!
//! Chunks and blocks depend on `S` and `n` only, never on the thread count.
//! The uniforms are kept as the bits of non-negative `f64`s (whose order is
//! that of the bits) in the output buffer and overwritten in place by the
//! indices, so the shots need one buffer of 8 bytes each.

use crate::ops::C;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Domains of the random streams, so no two purposes share a stream.
pub(crate) mod domain {
    pub const SORTED_UNIFORMS: u64 = 1;
    pub const SHUFFLE: u64 = 3;
    pub const TRAJECTORY: u64 = 4;
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
    a.par_chunks(len).map(mass).collect()
}

/// Amplitudes per group in [`mass`]: the unit of the sampling scan.
const GROUP: usize = 8;

/// |a|^2 summed over one group as a fixed tree (vectorizes; no long chain
/// of dependent additions).
#[inline]
fn group_mass(g: &[C]) -> f64 {
    if g.len() < GROUP {
        return g.iter().map(|x| x.norm_sqr()).sum();
    }
    let p: [f64; GROUP] = std::array::from_fn(|k| g[k].norm_sqr());
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

/// The mass of a run of amplitudes: group masses added in order. The
/// sampling scan adds the same group masses in the same order, so a draw
/// below a block's mass always lands inside the block.
fn mass(a: &[C]) -> f64 {
    a.chunks(GROUP).map(group_mass).sum()
}

/// The probability that qubit `q` reads 1.
pub(crate) fn prob_one(a: &[C], q: u32) -> f64 {
    const CB: u32 = 14;
    let s = 1usize << q;
    let sums: Vec<f64> = a
        .par_chunks(1 << CB)
        .enumerate()
        .map(|(ci, c)| {
            if q >= CB || s >= c.len() {
                if (ci << CB) & s != 0 { c.iter().map(|x| x.norm_sqr()).sum() } else { 0.0 }
            } else {
                c.chunks_exact(2 * s)
                    .map(|b| b[s..].iter().map(|x| x.norm_sqr()).sum::<f64>())
                    .sum()
            }
        })
        .collect();
    sums.iter().sum()
}

/// Shots per chunk of sorted uniforms (each chunk has its own stream).
const SHOT_CHUNK: usize = 1 << 14;

/// An exponential variate of mean 1.
#[inline]
fn exponential(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - u is in (0, 1]: the logarithm is finite.
    -(1.0 - uniform(rng)).ln()
}

/// `shots` sorted uniforms in [0, `scale`), as the bits of non-negative
/// `f64`s (ordered like the values).
fn sorted_uniforms(shots: usize, scale: f64, seed: u64) -> Vec<u64> {
    let mut v = vec![0u64; shots];
    // Running sums of exponentials within each chunk.
    let sums: Vec<f64> = v
        .par_chunks_mut(SHOT_CHUNK)
        .enumerate()
        .map(|(ci, chunk)| {
            let mut rng = stream(seed, domain::SORTED_UNIFORMS, ci as u64);
            let mut acc = 0.0;
            for x in chunk {
                acc += exponential(&mut rng);
                *x = acc.to_bits();
            }
            acc
        })
        .collect();
    // Chunk offsets; the (S+1)-th spacing closes the sequence.
    let mut offsets = Vec::with_capacity(sums.len());
    let mut total = 0.0;
    for s in &sums {
        offsets.push(total);
        total += s;
    }
    total += exponential(&mut stream(seed, domain::SORTED_UNIFORMS, u64::MAX));
    let f = scale / total;
    // (x + offset) * f is non-decreasing in x, and a chunk's last sum plus
    // its offset is the next chunk's offset: the whole sequence is sorted.
    v.par_chunks_mut(SHOT_CHUNK).zip(offsets).for_each(|(chunk, off)| {
        for x in chunk {
            *x = ((f64::from_bits(*x) + off) * f).to_bits();
        }
    });
    v
}

/// Draws `shots` basis-state indices from |a|^2 (which need not be
/// normalized), returned sorted. Deterministic for a seed, at any thread
/// count.
pub(crate) fn sample_indices(a: &[C], shots: u64, seed: u64) -> Vec<u64> {
    if shots == 0 {
        return Vec::new();
    }
    let n = a.len().trailing_zeros();
    let block_bits = n.saturating_sub(12);
    let masses = block_masses(a, block_bits);
    let k = masses.len();
    let mut starts = Vec::with_capacity(k);
    let mut total = 0.0;
    for m in &masses {
        starts.push(total);
        total += m;
    }
    let shots = shots as usize;
    let Some(last) = masses.iter().rposition(|&m| m > 0.0) else {
        // A zero state has no distribution; keep to index 0.
        return vec![0; shots];
    };
    let mut out = sorted_uniforms(shots, total, seed);
    // bounds[b]..bounds[b + 1]: the draws in block b. Draws that rounding
    // puts at or above the total go to the last block with mass; empty
    // blocks get no draws (their start equals the next block's).
    let mut bounds: Vec<usize> =
        starts[..=last].iter().map(|&s| out.partition_point(|&x| f64::from_bits(x) < s)).collect();
    bounds.resize(k + 1, shots);
    let mut parts: Vec<(usize, &mut [u64])> = Vec::with_capacity(k);
    let mut rest = &mut out[..];
    for b in 0..k {
        let (part, tail) = rest.split_at_mut(bounds[b + 1] - bounds[b]);
        rest = tail;
        if !part.is_empty() {
            parts.push((b, part));
        }
    }
    let block_len = 1usize << block_bits;
    parts.into_par_iter().for_each(|(b, draws)| {
        let block = &a[b * block_len..((b + 1) * block_len).min(a.len())];
        scan_block(block, b * block_len, starts[b], draws);
    });
    out
}

/// Turns the sorted draws of one block (uniform bits, at least `base`, the
/// mass before the block) into basis indices in place, with one scan over
/// the block's amplitudes starting at index `origin`.
fn scan_block(block: &[C], origin: usize, base: f64, draws: &mut [u64]) {
    let m = draws.len();
    let mut next = 0usize;
    let draw = |d: &[u64], i: usize| f64::from_bits(d[i]);
    let mut acc = base;
    let mut last_group = 0usize;
    for (gi, g) in block.chunks(GROUP).enumerate() {
        if next == m {
            return;
        }
        let gm = group_mass(g);
        if gm == 0.0 {
            continue;
        }
        last_group = gi;
        let end = acc + gm;
        if draw(draws, next) < end {
            // Draws land in this group: walk its amplitudes; rounding inside
            // the group sends the rest to its last non-zero one.
            let mut within = acc;
            let mut last = 0;
            for (j, x) in g.iter().enumerate() {
                let p = x.norm_sqr();
                if p == 0.0 {
                    continue;
                }
                last = j;
                within += p;
                let idx = (origin + gi * GROUP + j) as u64;
                while next < m && draw(draws, next) < within.min(end) {
                    draws[next] = idx;
                    next += 1;
                }
            }
            let idx = (origin + gi * GROUP + last) as u64;
            while next < m && draw(draws, next) < end {
                draws[next] = idx;
                next += 1;
            }
        }
        acc = end;
    }
    // Rounding can leave draws at the very top of the block.
    if next < m {
        let g = &block[last_group * GROUP..];
        let j = g.iter().take(GROUP).rposition(|x| x.norm_sqr() != 0.0).unwrap_or(0);
        draws[next..].fill((origin + last_group * GROUP + j) as u64);
    }
}

/// Shuffles `v` in place with the seed's shuffle stream (Fisher-Yates), so
/// per-shot memory is in a random order like independent shots.
pub(crate) fn shuffle(v: &mut [u64], seed: u64) {
    let mut rng = stream(seed, domain::SHUFFLE, 0);
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
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
    fn sampling_a_basis_state_always_gives_it() {
        let mut a = vec![C::new(0.0, 0.0); 1 << 14];
        a[12345] = C::new(0.0, 1.0);
        let s = sample_indices(&a, 1000, 7);
        assert_eq!(s.len(), 1000);
        assert!(s.iter().all(|&i| i == 12345));
    }

    #[test]
    fn sorted_uniforms_are_sorted_uniforms() {
        let shots = 3 * SHOT_CHUNK + 17;
        let v: Vec<f64> = sorted_uniforms(shots, 2.0, 5).into_iter().map(f64::from_bits).collect();
        assert!(v.is_sorted());
        assert!(v[0] >= 0.0 && v[shots - 1] < 2.0);
        let mean = v.iter().sum::<f64>() / shots as f64;
        // Uniform on [0, 2): mean 1, standard error 0.58 / sqrt(shots).
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        // Each quarter holds a quarter of the draws.
        for q in 0..4 {
            let lo = f64::from(q) * 0.5;
            let c = v.iter().filter(|&&u| u >= lo && u < lo + 0.5).count() as f64;
            assert!((c / shots as f64 - 0.25).abs() < 0.01, "quarter {q}: {c}");
        }
    }

    #[test]
    fn sampling_skips_empty_blocks_and_keeps_weights() {
        // 2^16 amplitudes: 4096 blocks of 16, all but two empty.
        let mut a = vec![C::new(0.0, 0.0); 1 << 16];
        a[5] = C::new(0.5, 0.0);
        a[60_000] = C::new(0.0, -(0.75f64.sqrt()));
        let shots = 200_000;
        let s = sample_indices(&a, shots, 9);
        assert_eq!(s.len(), shots as usize);
        assert!(s.is_sorted());
        let low = s.iter().filter(|&&i| i == 5).count() as f64;
        assert_eq!(s.iter().filter(|&&i| i != 5 && i != 60_000).count(), 0);
        // Binomial(2e5, 0.25): standard deviation 194.
        assert!((low - 50_000.0).abs() < 5.0 * 194.0, "{low}");
        assert_ne!(s, sample_indices(&a, shots, 10));
    }

    #[test]
    fn streams_differ_by_domain_and_index() {
        let x = uniform(&mut stream(1, domain::SORTED_UNIFORMS, 0));
        let y = uniform(&mut stream(1, domain::SORTED_UNIFORMS, 1));
        let z = uniform(&mut stream(1, domain::SHUFFLE, 0));
        assert!(x != y && x != z && y != z);
        assert_eq!(x, uniform(&mut stream(1, domain::SORTED_UNIFORMS, 0)));
    }
}
