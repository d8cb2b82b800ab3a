//! Probabilities, collapse, and sampling many shots from a final state.
//!
//! Every reduction sums fixed-size blocks sequentially and then the block
//! sums in order, and every random draw comes from a ChaCha stream keyed by
//! (seed, purpose, index), so results do not depend on the thread count or
//! on rayon's scheduling.
//!
//! # Sampling `S` shots from `2^n` amplitudes
//!
//! `O(2^n + S)`: two read passes over the state (16 bytes per amplitude
//! each, no writes) and a few operations per shot, with no sorting and no
//! per-shot search:
//! 1. the mass of each chunk of 4096 amplitudes (8-amplitude group masses
//!    summed in a fixed order), in parallel, and their running sums;
//! 2. `S` sorted uniforms on `[0, M)` (`M` the total) made directly as
//!    normalized running sums of exponential spacings (`u_i = (E_1 + .. +
//!    E_i) / (E_1 + .. + E_{S+1})` are distributed as sorted independent
//!    uniforms), in fixed chunks of shots with their own streams, in
//!    parallel; the exponentials come from a logarithm made of plain IEEE
//!    operations, so every machine computes the same bits;
//! 3. per chunk, in parallel, its range of the sorted uniforms (found by
//!    galloping from the previous chunk's) resolved from the chunk's group
//!    masses, then the lane inside each group.
//!
//! Chunks depend on `n` only and shot chunks on `S` only, never on the
//! thread count. The uniforms are kept as the bits of non-negative `f64`s
//! (whose order is that of the bits) in the output buffer and overwritten
//! in place by the indices, so the shots need one buffer of 8 bytes each.

use crate::ops::C;
use crate::par;
use rand::{Rng, RngCore, SeedableRng};
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

/// Shots per chunk of sorted uniforms (each chunk has its own stream).
const SHOT_CHUNK: usize = 1 << 14;

/// -ln(y) for y in [2^-53, 1], from plain IEEE additions, multiplications
/// and one division (no libm, whose last bit differs between
/// implementations and CPUs, and no fused multiply-add): the same bits on
/// every machine, and it vectorizes. ln(m) for m in [sqrt(1/2), sqrt(2)) is
/// 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed to s^21
/// (relative error below 2^-53).
#[inline(always)]
fn neg_ln(y: f64) -> f64 {
    // ln 2 split as in fdlibm: the high part has zero low bits, so e * HI
    // is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let bits = y.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let big = m > SQRT2;
    let m = if big { m * 0.5 } else { m };
    let e = f64::from(e + i32::from(big));
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    // 2 / (2k + 1) for k = 1..=10.
    const K: [f64; 10] = [
        2.0 / 3.0,
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
        2.0 / 21.0,
    ];
    let mut poly = K[9];
    for k in (0..9).rev() {
        poly = poly * z + K[k];
    }
    let ln_m = 2.0 * s + s * (z * poly);
    -((e * LN2_HI) + ((e * LN2_LO) + ln_m))
}

/// Turns raw 64-bit draws into exponentials of mean 1 (in place, as f64
/// bits), compiled for AVX2 when the CPU has it (same bits either way).
#[allow(unsafe_code)]
fn exponentials(v: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `exponentials_avx2` only requires avx2, which the CPU
            // was just checked to support.
            unsafe { exponentials_avx2(v) };
            return;
        }
    }
    exponentials_generic(v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn exponentials_avx2(v: &mut [u64]) {
    exponentials_generic(v);
}

#[inline(always)]
fn exponentials_generic(v: &mut [u64]) {
    for x in v {
        // 1 - u for a 53-bit uniform u: in (0, 1], exactly.
        let y = ((1u64 << 53) - (*x >> 11)) as f64 * (1.0 / (1u64 << 53) as f64);
        *x = neg_ln(y).to_bits();
    }
}

/// `shots` sorted uniforms in [0, `scale`) from the streams of `domain`, as
/// the bits of non-negative `f64`s (ordered like the values).
fn sorted_uniforms(shots: usize, scale: f64, seed: u64, domain: u64) -> Vec<u64> {
    let mut v = vec![0u64; shots];
    // Running sums of exponentials within each chunk.
    let spacings = |(ci, chunk): (usize, &mut [u64])| {
        let mut rng = stream(seed, domain, ci as u64);
        let mut raw = [0u64; 256];
        let mut acc = 0.0;
        for part in chunk.chunks_mut(raw.len()) {
            let raw = &mut raw[..part.len()];
            rng.fill(raw);
            exponentials(raw);
            for (x, e) in part.iter_mut().zip(raw.iter()) {
                acc += f64::from_bits(*e);
                *x = acc.to_bits();
            }
        }
        acc
    };
    let parallel = par::worth_it(shots);
    let sums: Vec<f64> = if parallel {
        v.par_chunks_mut(SHOT_CHUNK).enumerate().map(spacings).collect()
    } else {
        v.chunks_mut(SHOT_CHUNK).enumerate().map(spacings).collect()
    };
    // Chunk offsets; the (S+1)-th spacing closes the sequence.
    let mut offsets = Vec::with_capacity(sums.len());
    let mut total = 0.0;
    for s in &sums {
        offsets.push(total);
        total += s;
    }
    let mut last = [stream(seed, domain, u64::MAX).next_u64()];
    exponentials(&mut last);
    total += f64::from_bits(last[0]);
    let f = scale / total;
    // (x + offset) * f is non-decreasing in x, and a chunk's last sum plus
    // its offset is the next chunk's offset: the whole sequence is sorted.
    let rescale = |(chunk, off): (&mut [u64], f64)| {
        for x in chunk {
            *x = ((f64::from_bits(*x) + off) * f).to_bits();
        }
    };
    if parallel {
        v.par_chunks_mut(SHOT_CHUNK).zip(offsets).for_each(rescale);
    } else {
        v.chunks_mut(SHOT_CHUNK).zip(offsets).for_each(rescale);
    }
    v
}

/// Draws `shots` basis-state indices from |a|^2 (which need not be
/// normalized), returned sorted. Deterministic for a seed, at any thread
/// count. A zero (or non-finite) state has no distribution: every shot
/// reads index 0.
pub(crate) fn sample_indices(a: &[C], shots: u64, seed: u64) -> Vec<u64> {
    if shots == 0 {
        return Vec::new();
    }
    let shots = shots as usize;
    let chunk_len = 1usize << CHUNK_BITS;
    let parallel = par::worth_it(a.len());
    let masses: Vec<f64> = if parallel {
        a.par_chunks(chunk_len).map(|c| Task::Mass(c).run()).collect()
    } else {
        a.chunks(chunk_len).map(|c| Task::Mass(c).run()).collect()
    };
    let mut prefix = Vec::with_capacity(masses.len() + 1);
    let mut total = 0.0;
    for m in &masses {
        prefix.push(total);
        total += m;
    }
    if !(total > 0.0 && total.is_finite()) {
        // A zero (or broken) state has no distribution; keep to index 0.
        return vec![0; shots];
    }
    let mut out = sorted_uniforms(shots, total, seed, domain::SORTED_UNIFORMS);
    // Each chunk's draws; draws that rounding puts at or above the total
    // are left after the last chunk's.
    let mut parts = Vec::with_capacity(masses.len());
    let mut rest = &mut out[..];
    for (c, m) in masses.iter().enumerate() {
        let end = first_at_or_above(rest, prefix[c] + m);
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(end);
        rest = tail;
        if !mine.is_empty() {
            parts.push((c, mine));
        }
    }
    let top = rest.len();
    let resolve_part = |(c, draws): (usize, &mut [u64])| {
        let start = c * chunk_len;
        let chunk = &a[start..(start + chunk_len).min(a.len())];
        Task::Resolve { chunk, origin: start, base: prefix[c], draws }.run();
    };
    if parallel && parts.len() > 1 {
        parts.into_par_iter().for_each(resolve_part);
    } else {
        parts.into_iter().for_each(resolve_part);
    }
    if top > 0 {
        let last = last_nonzero(a, &masses);
        let n = out.len();
        out[n - top..].fill(last);
    }
    out
}

/// The index of the last amplitude with mass (given chunk masses).
fn last_nonzero(a: &[C], masses: &[f64]) -> u64 {
    let Some(c) = masses.iter().rposition(|&m| m > 0.0) else {
        return 0;
    };
    let start = c << CHUNK_BITS;
    let chunk = &a[start..(start + (1 << CHUNK_BITS)).min(a.len())];
    chunk.iter().rposition(|x| x.norm_sqr() > 0.0).map_or(0, |j| (start + j) as u64)
}

/// log2 of the amplitudes per chunk of the sampling passes (64 KiB).
const CHUNK_BITS: u32 = 12;
/// Group masses per chunk.
const CHUNK_GROUPS: usize = (1 << CHUNK_BITS) / GROUP;

/// A chunk's work in one of the two passes.
enum Task<'s> {
    /// The chunk's mass.
    Mass(&'s [C]),
    /// The chunk's draws (all at least `base`, the mass before it) turned
    /// into indices; `origin` is the chunk's first index.
    Resolve { chunk: &'s [C], origin: usize, base: f64, draws: &'s mut [u64] },
}

impl Task<'_> {
    /// Runs the task (returning the chunk's mass), compiled for AVX2 when
    /// the CPU has it: the same bits either way (no fused multiply-add, the
    /// same order of additions).
    #[allow(unsafe_code)]
    fn run(self) -> f64 {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: `run_avx2` only requires avx2, which the CPU was
                // just checked to support.
                return unsafe { self.run_avx2() };
            }
        }
        self.run_generic()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(self) -> f64 {
        self.run_generic()
    }

    #[inline(always)]
    fn run_generic(self) -> f64 {
        let mut gm = [0.0; CHUNK_GROUPS];
        match self {
            Task::Mass(chunk) => chunk_mass(chunk, &mut gm),
            Task::Resolve { chunk, origin, base, draws } => {
                let m = chunk_mass(chunk, &mut gm);
                resolve(chunk, origin, &gm, base, draws);
                m
            }
        }
    }
}

/// Fills `gm` with the chunk's group masses and returns their sum (four
/// interleaved partial sums, combined in a fixed order).
#[inline(always)]
fn chunk_mass(chunk: &[C], gm: &mut [f64]) -> f64 {
    for (m, g) in gm.iter_mut().zip(chunk.chunks(GROUP)) {
        *m = group_mass(g);
    }
    let mut s = [0.0; 4];
    let mut quads = gm.chunks_exact(4);
    for q in &mut quads {
        for k in 0..4 {
            s[k] += q[k];
        }
    }
    for (k, x) in quads.remainder().iter().enumerate() {
        s[k] += x;
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// The number of draws (sorted f64 bits) below `q` (galloping: a chunk's
/// draws are few and come first).
#[inline(always)]
fn first_at_or_above(draws: &[u64], q: f64) -> usize {
    let qb = q.to_bits();
    let n = draws.len();
    let mut lo = 0;
    let mut step = 1usize;
    let mut hi = loop {
        let probe = lo + (step - 1);
        if probe >= n {
            break n;
        }
        if draws[probe] >= qb {
            break probe;
        }
        lo = probe + 1;
        step *= 2;
    };
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if draws[mid] < qb {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Turns the sorted draws of one chunk (all at least `base`, the mass
/// before the chunk) into basis indices in place: first the group of each
/// draw of a batch from the group masses `gm` alone, then the lane inside
/// each group, whose loads no longer wait on branches and overlap. Draws
/// that rounding leaves at the top of the chunk go to its last amplitude
/// with mass.
#[inline(always)]
fn resolve(chunk: &[C], origin: usize, gm: &[f64], base: f64, draws: &mut [u64]) {
    const BATCH: usize = 64;
    let gm = &gm[..chunk.len().div_ceil(GROUP)];
    let mut acc = base;
    let mut g = 0usize;
    let mut end = acc + gm[0];
    let mut groups = [0usize; BATCH];
    let mut starts = [0.0f64; BATCH];
    for (b, batch) in draws.chunks_mut(BATCH).enumerate() {
        let mut found = batch.len();
        for (i, d) in batch.iter().enumerate() {
            let d = f64::from_bits(*d);
            while d >= end && g < gm.len() {
                g += 1;
                acc = end;
                end = if g < gm.len() { acc + gm[g] } else { acc };
            }
            if g == gm.len() {
                found = i;
                break;
            }
            groups[i] = g;
            starts[i] = acc;
        }
        for i in 0..found {
            let g = groups[i];
            let group = &chunk[g * GROUP..((g + 1) * GROUP).min(chunk.len())];
            batch[i] =
                (origin + g * GROUP + lane_of(group, starts[i], f64::from_bits(batch[i]))) as u64;
        }
        if found < batch.len() {
            let last = (origin + last_with_mass(chunk, gm)) as u64;
            draws[b * BATCH + found..].fill(last);
            return;
        }
    }
}

/// The lane of `group` (whose running mass starts at `acc <= d`) where the
/// draw `d` lands: the number of lanes whose running mass is at most `d`,
/// which is always a lane with mass; the last lane with mass if rounding
/// inside the group puts `d` past them all.
#[inline(always)]
fn lane_of(group: &[C], acc: f64, d: f64) -> usize {
    if let Ok(g) = <&[C; GROUP]>::try_from(group) {
        let p: [f64; GROUP] = std::array::from_fn(|k| g[k].norm_sqr());
        let mut c = acc;
        let mut below = 0usize;
        let mut last = 0usize;
        for (k, &pk) in p.iter().enumerate() {
            c += pk;
            below += usize::from(c <= d);
            last = if pk > 0.0 { k } else { last };
        }
        return if below < GROUP { below } else { last };
    }
    let mut c = acc;
    let mut below = 0usize;
    let mut last = 0usize;
    for (k, x) in group.iter().enumerate() {
        let p = x.norm_sqr();
        c += p;
        below += usize::from(c <= d);
        last = if p > 0.0 { k } else { last };
    }
    if below < group.len() { below } else { last }
}

/// The offset of the chunk's last amplitude with mass.
fn last_with_mass(chunk: &[C], gm: &[f64]) -> usize {
    let g = gm.iter().rposition(|&m| m > 0.0).unwrap_or(0);
    let group = &chunk[g * GROUP..((g + 1) * GROUP).min(chunk.len())];
    g * GROUP + group.iter().rposition(|x| x.norm_sqr() > 0.0).unwrap_or(0)
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
        let v: Vec<f64> = sorted_uniforms(shots, 2.0, 5, domain::SORTED_UNIFORMS)
            .into_iter()
            .map(f64::from_bits)
            .collect();
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
    fn the_logarithm_matches_libm() {
        let mut rng = stream(2, domain::SORTED_UNIFORMS, 0);
        let mut worst = 0.0f64;
        let edges = [1.0, 0.5, f64::EPSILON, 1.0 / (1u64 << 53) as f64, 1.0 - f64::EPSILON / 2.0];
        let random = (0..100_000).map(|_| 1.0 - uniform(&mut rng));
        for y in edges.into_iter().chain(random) {
            let exact = -y.ln();
            let ours = neg_ln(y);
            let err = if exact == 0.0 { ours.abs() } else { ((ours - exact) / exact).abs() };
            worst = worst.max(err);
        }
        assert!(worst < 4.0 * f64::EPSILON, "relative error {worst:e}");
    }

    #[test]
    fn sampling_is_the_same_on_one_and_two_threads() {
        // 2^16 amplitudes: 16 chunks, resolved in parallel with 2 threads.
        let a: Vec<C> =
            (0..1u32 << 16).map(|i| C::new(f64::from(i % 13), f64::from(i % 5))).collect();
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("pool");
        let one = pool(1).install(|| sample_indices(&a, 300_000, 4));
        let two = pool(2).install(|| sample_indices(&a, 300_000, 4));
        assert_eq!(one, two);
        assert!(one.is_sorted());
        // Index 14 has weight 1 + 16 = 17 of a total of about 2^16 * 58.
        let total: f64 = a.iter().map(|x| x.norm_sqr()).sum();
        let k = one.iter().filter(|&&i| i == 14).count() as f64;
        let e = 300_000.0 * 17.0 / total;
        assert!((k - e).abs() < 5.0 * e.sqrt() + 1.0, "{k} vs {e}");
    }

    #[test]
    fn an_unnormalized_state_is_sampled_by_its_weights() {
        let mut a = vec![C::new(0.0, 0.0); 8];
        a[1] = C::new(3.0, 0.0);
        a[6] = C::new(0.0, 1.0);
        let s = sample_indices(&a, 100_000, 1);
        let ones = s.iter().filter(|&&i| i == 1).count() as f64;
        assert_eq!(s.iter().filter(|&&i| i != 1 && i != 6).count(), 0);
        // Binomial(1e5, 0.9): standard deviation 95.
        assert!((ones - 90_000.0).abs() < 5.0 * 95.0, "{ones}");
        assert!(sample_indices(&[C::new(0.0, 0.0); 4], 10, 1).iter().all(|&i| i == 0));
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
