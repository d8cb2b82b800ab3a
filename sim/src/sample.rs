//! Probabilities, collapse, and sampling many shots from a final state.
//!
//! Every reduction sums fixed-size blocks sequentially and then the block
//! sums in order, and every random draw comes from a ChaCha stream keyed by
//! (seed, purpose, index), so results do not depend on the thread count or
//! on rayon's scheduling.
//!
//! Sampling `S` shots from `2^n` amplitudes costs two read passes and
//! `O(S log(S / 4096))` work: (1) the mass of each of at most 4096 blocks;
//! (2) one uniform per shot picks a block through a guide table (expected
//! O(1)); (3) per block, in parallel, the block's shots draw sorted
//! uniforms within the block's mass and one scan over 8-amplitude groups
//! (walking a group's amplitudes only where a draw lands) turns them into
//! indices.

use crate::ops::C;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Domains of the random streams, so no two purposes share a stream.
pub(crate) mod domain {
    pub const BLOCK_PICK: u64 = 1;
    pub const WITHIN_BLOCK: u64 = 2;
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

/// Draws `shots` basis-state indices from |a|^2 (which need not be
/// normalized), returned sorted. Deterministic for a seed.
pub(crate) fn sample_indices(a: &[C], shots: u64, seed: u64) -> Vec<u64> {
    if shots == 0 {
        return Vec::new();
    }
    let n = a.len().trailing_zeros();
    let block_bits = n.saturating_sub(12);
    let masses = block_masses(a, block_bits);
    let k = masses.len();
    let mut cum = Vec::with_capacity(k);
    let mut acc = 0.0;
    for m in &masses {
        acc += m;
        cum.push(acc);
    }
    let total = acc;
    // Guide table: guide[j] = first block whose cumulative mass exceeds j/k.
    let mut guide = Vec::with_capacity(k);
    let mut b = 0usize;
    for j in 0..k {
        let t = total * j as f64 / k as f64;
        while b + 1 < k && cum[b] <= t {
            b += 1;
        }
        guide.push(b);
    }
    // Block counts, in fixed batches of shots with their own streams.
    const BATCH: u64 = 1 << 16;
    let batches = shots.div_ceil(BATCH);
    let counts = (0..batches)
        .into_par_iter()
        .map(|bi| {
            let mut rng = stream(seed, domain::BLOCK_PICK, bi);
            let mut c = vec![0u64; k];
            let m = BATCH.min(shots - bi * BATCH);
            for _ in 0..m {
                let u = uniform(&mut rng) * total;
                let j = ((u / total * k as f64) as usize).min(k - 1);
                let mut b = guide[j];
                while b + 1 < k && cum[b] <= u {
                    b += 1;
                }
                // Never land on an empty block through rounding.
                while masses[b] == 0.0 && b > 0 {
                    b -= 1;
                }
                c[b] += 1;
            }
            c
        })
        .reduce(
            || vec![0u64; k],
            |mut x, y| {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
                x
            },
        );
    let block_len = 1usize << block_bits;
    let per_block: Vec<Vec<u64>> = a
        .par_chunks(block_len)
        .enumerate()
        .map(|(bi, block)| {
            let m = counts[bi];
            if m == 0 {
                return Vec::new();
            }
            let mut rng = stream(seed, domain::WITHIN_BLOCK, bi as u64);
            let mut us: Vec<f64> = (0..m).map(|_| uniform(&mut rng) * masses[bi]).collect();
            us.sort_unstable_by(f64::total_cmp);
            let mut out = Vec::with_capacity(m as usize);
            let origin = bi * block_len;
            let mut acc = 0.0;
            let mut next = 0usize;
            let mut last_group = 0usize;
            for (gi, g) in block.chunks(GROUP).enumerate() {
                let gm = group_mass(g);
                if gm == 0.0 {
                    continue;
                }
                last_group = gi;
                let end = acc + gm;
                if next < us.len() && us[next] < end {
                    // Draws land in this group: walk its amplitudes; rounding
                    // inside the group sends the rest to its last non-zero one.
                    let mut within = acc;
                    let mut last = 0;
                    for (k, x) in g.iter().enumerate() {
                        let p = x.norm_sqr();
                        if p == 0.0 {
                            continue;
                        }
                        last = k;
                        within += p;
                        while next < us.len() && us[next] < within.min(end) {
                            out.push((origin + gi * GROUP + k) as u64);
                            next += 1;
                        }
                    }
                    while next < us.len() && us[next] < end {
                        out.push((origin + gi * GROUP + last) as u64);
                        next += 1;
                    }
                }
                acc = end;
            }
            // Rounding can leave a draw at the very top of the block.
            if next < us.len() {
                let g = &block[last_group * GROUP..];
                let k = g.iter().take(GROUP).rposition(|x| x.norm_sqr() != 0.0).unwrap_or(0);
                let top = (origin + last_group * GROUP + k) as u64;
                out.resize(us.len(), top);
            }
            out
        })
        .collect();
    per_block.concat()
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
    fn streams_differ_by_domain_and_index() {
        let x = uniform(&mut stream(1, domain::BLOCK_PICK, 0));
        let y = uniform(&mut stream(1, domain::BLOCK_PICK, 1));
        let z = uniform(&mut stream(1, domain::WITHIN_BLOCK, 0));
        assert!(x != y && x != z && y != z);
        assert_eq!(x, uniform(&mut stream(1, domain::BLOCK_PICK, 0)));
    }
}
