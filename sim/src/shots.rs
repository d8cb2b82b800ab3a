//! Many shots from one final state: counts per basis index without a
//! per-shot search over the whole state.
//!
//! # Masses
//!
//! The finest masses kept are those of aligned *runs* of [`RUN`] = 64
//! amplitudes ([`run_mass`]: the squares of the 128 real components summed
//! in a fixed order that vectorizes). They cost 1/128 of the state's
//! memory and come either from the last gate pass, which has every
//! amplitude in cache (see `exec::run_stage_with`), or from
//! one read pass ([`run_masses`]); both use [`run_mass`], so they are the
//! same bits and the shots do not depend on which one ran.
//!
//! # Sampling `S` shots
//!
//! 1. *Chunks* of 4096 amplitudes (64 runs) are the leaves of a binary tree
//!    whose nodes hold the sum of their children's masses. The `S` shots go
//!    down the tree: a node's `k` shots split between its children by an
//!    exact `Binomial(k, left / (left + right))` ([`crate::binomial`]) drawn
//!    from the node's own random stream `(seed, node)`. So the counts per
//!    chunk do not depend on the thread count or the order of the work,
//!    and cost about `2 S log2(chunks)` random bits in all.
//! 2. Each chunk with shots is read once (its 8-amplitude group masses) and
//!    its `k` shots are drawn independently by inversion, from the chunk's
//!    own stream (one per batch of 2^16 shots, so a chunk holding most of
//!    the mass still spreads over cores): an alias table over its 64 runs
//!    picks the run with one uniform (whose leftover fraction is the
//!    position inside the run), then the group inside the run and the
//!    amplitude inside the group come from running sums, without
//!    data-dependent branches. Counts go to a per-chunk table and come out
//!    in index order.
//!
//! The cost is `O(2^n / 64 + S)` plus one read of the chunks that hold
//! shots, with no sorting and no per-shot output unless per-shot memory is
//! asked for (then the counts are expanded and shuffled). Per shot it is
//! still some 50 cycles of dependent loads and sums, so 10^6 shots at
//! n = 20-24 cost more than one gate pass (see the crate's benchmarks).

use crate::binomial::binomial;
use crate::ops::C;
use crate::par;
use crate::sample::{domain, stream};
use rand::RngCore;
use rayon::prelude::*;

/// log2 of the amplitudes of a run.
pub(crate) const RUN_BITS: u32 = 6;
/// Amplitudes per run.
pub(crate) const RUN: usize = 1 << RUN_BITS;
/// log2 of the amplitudes of a chunk.
const CHUNK_BITS: u32 = 12;
/// Runs per chunk.
const CHUNK_RUNS: usize = 1 << (CHUNK_BITS - RUN_BITS);
/// Amplitudes per group (the unit inside a run).
const GROUP: usize = 8;
/// Groups per run.
const RUN_GROUPS: usize = RUN / GROUP;
/// Most shots one chunk draws with one stream: more are drawn in batches
/// that run in parallel.
const BATCH: u64 = 1 << 16;
/// Shots taken one step at a time together inside a chunk.
const SHOT_BATCH: usize = 64;
/// Shots at a tree node from which its two subtrees are split in parallel.
const PARALLEL_SPLIT: u64 = 1 << 16;

/// The mass of one run (at most [`RUN`] amplitudes; a shorter one, only in
/// a state of fewer than 64 amplitudes, counts as padded with zeros): the
/// squares of the real components summed into 8 lanes (component `j` into
/// lane `j % 8`, in order), then the lanes as a fixed tree. It vectorizes
/// into two 4-wide accumulators, so recording it in a gate pass costs
/// little. Every mass of a run anywhere in the crate is this function, so
/// its bits do not depend on the code path.
#[inline(always)]
pub(crate) fn run_mass(r: &[C]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut quads = r.chunks_exact(4);
    for c in &mut quads {
        for k in 0..4 {
            acc[2 * k] += c[k].re * c[k].re;
            acc[2 * k + 1] += c[k].im * c[k].im;
        }
    }
    for (k, c) in quads.remainder().iter().enumerate() {
        acc[2 * k] += c.re * c.re;
        acc[2 * k + 1] += c.im * c.im;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Folds 128 values in halves (`x[i] += x[i + half]`) down to one.
#[inline(always)]
fn fold(q: &mut [f64; 2 * RUN]) -> f64 {
    let mut half = RUN;
    while half > 0 {
        for i in 0..half {
            q[i] += q[i + half];
        }
        half /= 2;
    }
    q[0]
}

/// Writes the mass of every run of `a` into `out` (one per run; the last
/// run may be short only when `a` is).
#[inline(always)]
pub(crate) fn fill_run_masses(a: &[C], out: &mut [f64]) {
    for (m, r) in out.iter_mut().zip(a.chunks(RUN)) {
        *m = run_mass(r);
    }
}

/// The number of runs of a state of `len` amplitudes.
pub(crate) fn run_count(len: usize) -> usize {
    len.div_ceil(RUN)
}

/// The masses of every run, in one read pass (parallel for large states).
pub(crate) fn run_masses(a: &[C]) -> Vec<f64> {
    let mut out = vec![0.0; run_count(a.len())];
    fill_run_masses_dispatch(a, &mut out);
    out
}

/// [`fill_run_masses`] over the whole state, compiled for AVX2 when the
/// CPU has it (the same bits: no fused multiply-add, the same order).
#[allow(unsafe_code)]
fn fill_run_masses_dispatch(a: &[C], out: &mut [f64]) {
    const PIECE: usize = 1 << 14;
    let piece = |(o, c): (&mut [f64], &[C])| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: `fill_avx2` only requires avx2, which the CPU was
                // just checked to support.
                unsafe { fill_avx2(c, o) };
                return;
            }
        }
        fill_run_masses(c, o);
    };
    if par::worth_it(a.len()) {
        out.par_chunks_mut(PIECE / RUN).zip(a.par_chunks(PIECE)).for_each(piece);
    } else {
        out.chunks_mut(PIECE / RUN).zip(a.chunks(PIECE)).for_each(piece);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(a: &[C], out: &mut [f64]) {
    fill_run_masses(a, out);
}

/// Draws `shots` basis indices from |a|^2 (which need not be normalized),
/// given the run masses `runs` of `a`, as (index, count) in increasing
/// index order. Deterministic for a seed, at any thread count. A zero (or
/// non-finite) state has no distribution: every shot reads index 0.
pub(crate) fn sample_counts(a: &[C], runs: &[f64], shots: u64, seed: u64) -> Vec<(u64, u64)> {
    if shots == 0 {
        return Vec::new();
    }
    debug_assert_eq!(runs.len(), run_count(a.len()));
    let parallel = par::worth_it(a.len());
    // Chunk masses: the run masses of each chunk folded like a run's
    // components (zero-padded when the state is smaller than a chunk).
    let chunk_mass = |r: &[f64]| {
        let mut q = [0.0f64; 2 * RUN];
        q[..r.len()].copy_from_slice(r);
        fold(&mut q)
    };
    let chunks: Vec<f64> = if parallel {
        runs.par_chunks(CHUNK_RUNS).map(chunk_mass).collect()
    } else {
        runs.chunks(CHUNK_RUNS).map(chunk_mass).collect()
    };
    // A perfect binary tree over the chunks (their count is a power of
    // two): node i has children 2i and 2i + 1, leaves at [c, 2c).
    let c = chunks.len();
    let mut tree = vec![0.0; 2 * c];
    tree[c..].copy_from_slice(&chunks);
    for i in (1..c).rev() {
        tree[i] = tree[2 * i] + tree[2 * i + 1];
    }
    let total = tree[1];
    if !(total > 0.0 && total.is_finite()) {
        return vec![(0, shots)];
    }
    let mut per_chunk = vec![0u64; c];
    split(&tree, 1, shots, seed, &mut per_chunk, parallel);
    let chunk_len = 1usize << CHUNK_BITS;
    // A chunk's shots in batches of at most BATCH, each with its own
    // stream, so a chunk holding most of the mass still splits over cores.
    let mut work: Vec<(usize, u64, u64)> = Vec::new();
    for (i, &k) in per_chunk.iter().enumerate() {
        let mut left = k;
        let mut b = 0u64;
        while left > 0 {
            let take = left.min(BATCH);
            work.push((i, b, take));
            left -= take;
            b += 1;
        }
    }
    let one = |scratch: &mut Box<Scratch>, &(i, b, k): &(usize, u64, u64)| {
        let start = i * chunk_len;
        let chunk = &a[start..(start + chunk_len).min(a.len())];
        let chunk_runs = &runs[i * CHUNK_RUNS..((i + 1) * CHUNK_RUNS).min(runs.len())];
        let mut out = Vec::new();
        let stream_domain = domain::IN_CHUNK | (b << 8);
        scratch.sample(chunk, chunk_runs, start as u64, k, seed, stream_domain, i as u64, &mut out);
        (i, out)
    };
    let parts: Vec<(usize, Vec<(u64, u64)>)> = if parallel && work.len() > 1 {
        work.par_iter().map_init(Scratch::new, one).collect()
    } else {
        let mut s = Scratch::new();
        work.iter().map(|w| one(&mut s, w)).collect()
    };
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
    let mut from = 0usize;
    let mut chunk = usize::MAX;
    for (i, p) in parts {
        if i != chunk {
            merge_tail(&mut out, from);
            from = out.len();
            chunk = i;
        }
        out.extend(p);
    }
    merge_tail(&mut out, from);
    out
}

/// Sorts `out[from..]` (one chunk's batches, each in index order) by index
/// and adds up the counts of equal indices.
fn merge_tail(out: &mut Vec<(u64, u64)>, from: usize) {
    let tail = &mut out[from..];
    if tail.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    tail.sort_unstable_by_key(|x| x.0);
    let mut w = from;
    for r in from..out.len() {
        if w > from && out[w - 1].0 == out[r].0 {
            out[w - 1].1 += out[r].1;
        } else {
            out[w] = out[r];
            w += 1;
        }
    }
    out.truncate(w);
}

/// Sends the `k` shots of `node` down to the leaves under it (`leaves`).
fn split(tree: &[f64], node: usize, k: u64, seed: u64, leaves: &mut [u64], parallel: bool) {
    if leaves.len() == 1 {
        leaves[0] = k;
        return;
    }
    if k == 0 {
        return;
    }
    let (l, r) = (tree[2 * node], tree[2 * node + 1]);
    let mut rng = stream(seed, domain::CHUNK_SPLIT, node as u64);
    let left = binomial(&mut rng, k, l / (l + r));
    let (lo, hi) = leaves.split_at_mut(leaves.len() / 2);
    if parallel && k >= PARALLEL_SPLIT {
        rayon::join(
            || split(tree, 2 * node, left, seed, lo, parallel),
            || split(tree, 2 * node + 1, k - left, seed, hi, parallel),
        );
    } else {
        split(tree, 2 * node, left, seed, lo, parallel);
        split(tree, 2 * node + 1, k - left, seed, hi, parallel);
    }
}

/// Per-worker tables for sampling inside one chunk.
struct Scratch {
    /// Mass of each 8-amplitude group of the chunk.
    groups: [f64; CHUNK_RUNS * RUN_GROUPS],
    /// |a|^2 of each amplitude of the chunk.
    probs: [f64; 1 << CHUNK_BITS],
    /// Alias table over the chunk's runs: column `i` keeps run `i` for a
    /// uniform `f < keep[i]`, else gives run `alias[i]`. Indexed by [kept,
    /// given] (0 or 1, no branch): the run `to`, and `(f - base) * rescale`
    /// a fresh uniform inside it.
    keep: [f64; CHUNK_RUNS],
    alias: [u8; CHUNK_RUNS],
    to: [[u8; 2]; CHUNK_RUNS],
    base: [[f64; 2]; CHUNK_RUNS],
    rescale: [[f64; 2]; CHUNK_RUNS],
    /// Shots per amplitude (only those marked in `hit` are non-zero).
    counts: [u64; 1 << CHUNK_BITS],
    hit: [u64; (1 << CHUNK_BITS) / 64],
}

impl Scratch {
    fn new() -> Box<Self> {
        Box::new(Self {
            groups: [0.0; CHUNK_RUNS * RUN_GROUPS],
            probs: [0.0; 1 << CHUNK_BITS],
            keep: [0.0; CHUNK_RUNS],
            alias: [0; CHUNK_RUNS],
            to: [[0; 2]; CHUNK_RUNS],
            base: [[0.0; 2]; CHUNK_RUNS],
            rescale: [[0.0; 2]; CHUNK_RUNS],
            counts: [0; 1 << CHUNK_BITS],
            hit: [0; (1 << CHUNK_BITS) / 64],
        })
    }

    /// Draws `k` shots from `chunk` (whose run masses are `runs` and whose
    /// first index is `origin`) with the random stream `(seed, dom, index)`,
    /// appending (index, count) in increasing order to `out`. Compiled for
    /// AVX2 when the CPU has it (the same bits either way).
    #[allow(unsafe_code, clippy::too_many_arguments)]
    fn sample(
        &mut self,
        chunk: &[C],
        runs: &[f64],
        origin: u64,
        k: u64,
        seed: u64,
        dom: u64,
        index: u64,
        out: &mut Vec<(u64, u64)>,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: `sample_avx2` only requires avx2, which the CPU
                // was just checked to support.
                unsafe { self.sample_avx2(chunk, runs, origin, k, seed, dom, index, out) };
                return;
            }
        }
        self.sample_generic(chunk, runs, origin, k, seed, dom, index, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    fn sample_avx2(
        &mut self,
        chunk: &[C],
        runs: &[f64],
        origin: u64,
        k: u64,
        seed: u64,
        dom: u64,
        index: u64,
        out: &mut Vec<(u64, u64)>,
    ) {
        self.sample_generic(chunk, runs, origin, k, seed, dom, index, out);
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn sample_generic(
        &mut self,
        chunk: &[C],
        runs: &[f64],
        origin: u64,
        k: u64,
        seed: u64,
        dom: u64,
        index: u64,
        out: &mut Vec<(u64, u64)>,
    ) {
        // Group masses: one read of the chunk.
        for ((m, p), g) in
            self.groups.iter_mut().zip(self.probs.chunks_mut(GROUP)).zip(chunk.chunks(GROUP))
        {
            for (pk, x) in p.iter_mut().zip(g) {
                *pk = x.norm_sqr();
            }
            *m = group_mass(&p[..g.len()]);
        }
        if !self.build_alias(runs) {
            // Unreachable for a chunk that drew shots (its mass is
            // positive); keep to its first amplitude rather than fail.
            out.push((origin, k));
            return;
        }
        let columns = runs.len();
        let width = columns as f64 * (1.0 / (1u64 << 53) as f64);
        let groups_total = chunk.len().div_ceil(GROUP);
        let mut rng = stream(seed, dom, index);
        // Shots in batches, each step over the whole batch: the steps of
        // one shot form a long chain of dependent loads, and independent
        // shots side by side (with no data-dependent branches) let the
        // core overlap them.
        let mut left = k;
        let mut rs = [0usize; SHOT_BATCH];
        let mut us = [0.0f64; SHOT_BATCH];
        let mut gis = [0usize; SHOT_BATCH];
        let mut ats = [0.0f64; SHOT_BATCH];
        while left > 0 {
            let m = usize::try_from(left).unwrap_or(SHOT_BATCH).min(SHOT_BATCH);
            left -= m as u64;
            for j in 0..m {
                // A column, and the uniform left over inside it.
                let x = (rng.next_u64() >> 11) as f64 * width;
                let i = (x as usize).min(columns - 1);
                let f = x - i as f64;
                let give = usize::from(f >= self.keep[i]);
                let r = self.to[i][give] as usize;
                let w = (f - self.base[i][give]) * self.rescale[i][give];
                rs[j] = r;
                us[j] = w * runs[r];
            }
            for j in 0..m {
                // The group inside the run.
                let g0 = rs[j] * RUN_GROUPS;
                let gs = &self.groups[g0..(g0 + RUN_GROUPS).min(groups_total)];
                let (g, at) = match <&[f64; RUN_GROUPS]>::try_from(gs) {
                    Ok(gs) => group_of(gs, us[j]),
                    Err(_) => group_of(gs, us[j]),
                };
                gis[j] = g0 + g;
                ats[j] = at;
            }
            for j in 0..m {
                // The amplitude inside the group.
                let gi = gis[j];
                let group = &self.probs[gi * GROUP..((gi + 1) * GROUP).min(chunk.len())];
                let i = gi * GROUP + lane_of(group, ats[j], us[j]);
                self.counts[i] += 1;
                self.hit[i / 64] |= 1 << (i % 64);
            }
        }
        for (w, word) in self.hit.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                out.push((origin + i as u64, std::mem::take(&mut self.counts[i])));
                bits &= bits - 1;
            }
        }
    }

    /// Builds the alias table over the run masses `runs` (Vose's method);
    /// false when they hold no mass. A run without mass is never chosen:
    /// its column keeps nothing and gives to a run with mass.
    fn build_alias(&mut self, runs: &[f64]) -> bool {
        let n = runs.len();
        let total: f64 = runs.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return false;
        }
        let scale = n as f64 / total;
        let mut p = [0.0f64; CHUNK_RUNS];
        let mut small = [0u8; CHUNK_RUNS];
        let mut large = [0u8; CHUNK_RUNS];
        let (mut ns, mut nl) = (0usize, 0usize);
        let mut heaviest = 0usize;
        for (j, &m) in runs.iter().enumerate() {
            p[j] = m * scale;
            if m > runs[heaviest] {
                heaviest = j;
            }
            if p[j] < 1.0 {
                small[ns] = j as u8;
                ns += 1;
            } else {
                large[nl] = j as u8;
                nl += 1;
            }
        }
        while ns > 0 && nl > 0 {
            ns -= 1;
            let l = usize::from(small[ns]);
            let g = usize::from(large[nl - 1]);
            self.keep[l] = p[l];
            self.alias[l] = g as u8;
            p[g] = (p[g] + p[l]) - 1.0;
            if p[g] < 1.0 {
                nl -= 1;
                small[ns] = g as u8;
                ns += 1;
            }
        }
        // What rounding leaves over is within an ulp of a full column.
        for &j in large[..nl].iter().chain(&small[..ns]) {
            self.keep[usize::from(j)] = 1.0;
        }
        for (j, &m) in runs.iter().enumerate() {
            // Only a leftover can keep a run without mass: give its column
            // to a run with mass instead.
            if m <= 0.0 && self.keep[j] > 0.0 {
                self.keep[j] = 0.0;
                self.alias[j] = heaviest as u8;
            }
            let keep = self.keep[j];
            self.to[j] = [j as u8, self.alias[j]];
            self.base[j] = [0.0, keep];
            self.rescale[j] = [
                if keep > 0.0 { 1.0 / keep } else { 0.0 },
                if keep < 1.0 { 1.0 / (1.0 - keep) } else { 0.0 },
            ];
        }
        true
    }
}

/// The group of a run (whose group masses are `gs`) where `u` (in [0, the
/// run's mass)) lands, and the running mass at the group's start: the
/// number of groups whose running mass is at most `u`, which is always a
/// group with mass. Without branches (the array form unrolls); only when
/// rounding puts `u` past every group, the last group with mass.
#[inline(always)]
fn group_of(gs: &[f64], u: f64) -> (usize, f64) {
    let mut ends = [0.0f64; RUN_GROUPS + 1];
    let mut c = 0.0;
    let mut below = 0usize;
    for (j, &m) in gs.iter().enumerate() {
        c += m;
        ends[j + 1] = c;
        below += usize::from(c <= u);
    }
    if below < gs.len() {
        return (below, ends[below]);
    }
    (gs.iter().rposition(|&m| m > 0.0).unwrap_or(0), u)
}

/// The mass of one group from its lanes' |a|^2 (up to 8), as a fixed tree.
#[inline(always)]
fn group_mass(p: &[f64]) -> f64 {
    if let Ok(p) = <&[f64; GROUP]>::try_from(p) {
        return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    }
    p.iter().sum()
}

/// The lane of a group (whose lanes' |a|^2 are `group` and whose running
/// mass starts at `acc <= d`) where the draw `d` lands: the number of lanes
/// whose running mass is at most `d`, which is always a lane with mass;
/// only when rounding inside the group puts `d` past them all, the last
/// lane with mass.
#[inline(always)]
fn lane_of(group: &[f64], acc: f64, d: f64) -> usize {
    #[inline(always)]
    fn count(group: &[f64], acc: f64, d: f64) -> usize {
        let mut c = acc;
        let mut below = 0usize;
        for &p in group {
            c += p;
            below += usize::from(c <= d);
        }
        below
    }
    let below = match <&[f64; GROUP]>::try_from(group) {
        Ok(g) => count(g, acc, d),
        Err(_) => count(group, acc, d),
    };
    if below < group.len() {
        return below;
    }
    group.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// Expands (index, count) pairs into one index per shot, in index order.
pub(crate) fn expand(counts: &[(u64, u64)]) -> Vec<u64> {
    let total: u64 = counts.iter().map(|&(_, k)| k).sum();
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for &(i, k) in counts {
        out.extend(std::iter::repeat_n(i, usize::try_from(k).unwrap_or(usize::MAX)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(a: &[C], shots: u64, seed: u64) -> Vec<(u64, u64)> {
        sample_counts(a, &run_masses(a), shots, seed)
    }

    #[test]
    fn run_masses_sum_the_probabilities() {
        let a: Vec<C> = (0..300).map(|i| C::new(f64::from(i % 7), -f64::from(i % 3))).collect();
        let runs = run_masses(&a);
        assert_eq!(runs.len(), 5);
        for (r, m) in a.chunks(RUN).zip(&runs) {
            let plain: f64 = r.iter().map(|x| x.norm_sqr()).sum();
            assert!((plain - m).abs() < 1e-12 * plain.max(1.0), "{plain} vs {m}");
        }
    }

    #[test]
    fn a_basis_state_always_gives_it() {
        let mut a = vec![C::new(0.0, 0.0); 1 << 14];
        a[12345] = C::new(0.0, 1.0);
        assert_eq!(sample(&a, 1000, 7), vec![(12345, 1000)]);
    }

    #[test]
    fn a_zero_state_reads_index_zero() {
        assert_eq!(sample(&[C::new(0.0, 0.0); 4], 10, 1), vec![(0, 10)]);
        assert!(sample(&[C::new(1.0, 0.0); 4], 0, 1).is_empty());
    }

    #[test]
    fn tiny_states_are_sampled_by_their_weights() {
        let mut a = vec![C::new(0.0, 0.0); 8];
        a[1] = C::new(3.0, 0.0);
        a[6] = C::new(0.0, 1.0);
        let s = sample(&a, 100_000, 1);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].0, s[1].0), (1, 6));
        assert_eq!(s[0].1 + s[1].1, 100_000);
        // Binomial(1e5, 0.9): standard deviation 95.
        assert!((s[0].1 as f64 - 90_000.0).abs() < 5.0 * 95.0, "{s:?}");
        let two = [C::new(0.6, 0.0), C::new(0.0, 0.8)];
        let s = sample(&two, 10_000, 2);
        assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), 10_000);
    }

    /// Chi-square of counts against |a|^2 over many states and seeds,
    /// cells merged so that each expects at least 20 shots.
    #[test]
    fn counts_pass_a_chi_square_test() {
        // 2^15 amplitudes in 8 chunks with very unequal masses: empty
        // chunks, chunks with empty runs between full ones, sparse runs, a
        // chunk holding a large share, and a smooth part.
        let n = 1usize << 15;
        let mut a = vec![C::new(0.0, 0.0); n];
        for (i, x) in a.iter_mut().enumerate() {
            let w = match i >> 12 {
                0 => 0.0,
                1 => 50.0 * ((i * 7919) % 13) as f64,
                3 if i % 64 < 8 => 1.0 + (i % 5) as f64,
                5 => (i % 3) as f64,
                // Runs without mass between runs of unequal mass.
                6 if (i / 64) % 3 != 0 => (1 + (i / 64) % 5) as f64,
                _ => 0.0,
            };
            *x = C::new(w.sqrt() * 0.6, -w.sqrt() * 0.8);
        }
        a[n - 1] = C::new(30.0, 0.0);
        let p: Vec<f64> = a.iter().map(|x| x.norm_sqr()).collect();
        let total: f64 = p.iter().sum();
        let shots = 400_000u64;
        // Cells: consecutive indices merged until each expects 20 shots.
        let mut cells = Vec::new();
        let mut acc = 0.0;
        let mut start = 0usize;
        for (i, &pi) in p.iter().enumerate() {
            acc += pi;
            if acc / total * shots as f64 >= 20.0 {
                cells.push((start, i + 1, acc / total * shots as f64));
                acc = 0.0;
                start = i + 1;
            }
        }
        if let Some(last) = cells.last_mut() {
            last.1 = n;
            last.2 += acc / total * shots as f64;
        }
        let dof = (cells.len() - 1) as f64;
        let mut sum = 0.0;
        for seed in 0..4 {
            let s = sample(&a, shots, seed);
            assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), shots);
            assert!(s.windows(2).all(|w| w[0].0 < w[1].0), "indices in order, once each");
            assert!(s.iter().all(|&(i, _)| p[i as usize] > 0.0), "only amplitudes with mass");
            let mut observed = vec![0.0; cells.len()];
            let mut c = 0;
            for &(i, k) in &s {
                while i as usize >= cells[c].1 {
                    c += 1;
                }
                observed[c] += k as f64;
            }
            sum += cells
                .iter()
                .zip(&observed)
                .map(|(cell, o)| (o - cell.2).powi(2) / cell.2)
                .sum::<f64>();
        }
        // Four independent statistics: chi-square with 4 * dof degrees of
        // freedom, mean 4 dof and standard deviation sqrt(8 dof); six of
        // those above the mean has a probability below 1e-8.
        let df = 4.0 * dof;
        assert!(sum < df + 6.0 * (2.0 * df).sqrt(), "chi2 = {sum} for {df} degrees of freedom");
    }

    #[test]
    fn the_same_on_one_and_two_threads() {
        // 2^18 amplitudes: 64 chunks, split and sampled in parallel.
        let a: Vec<C> =
            (0..1u32 << 18).map(|i| C::new(f64::from(i % 13), f64::from(i % 5))).collect();
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("pool");
        let one = pool(1).install(|| sample(&a, 3_000_000, 4));
        let two = pool(2).install(|| sample(&a, 3_000_000, 4));
        assert_eq!(one, two);
        assert_ne!(one, sample(&a, 3_000_000, 5));
        // Index 14 has weight 1 + 16 = 17 of a total of about 2^18 * 58.
        let total: f64 = a.iter().map(|x| x.norm_sqr()).sum();
        let k = one.iter().find(|x| x.0 == 14).map_or(0, |x| x.1) as f64;
        let e = 3_000_000.0 * 17.0 / total;
        assert!((k - e).abs() < 5.0 * e.sqrt() + 1.0, "{k} vs {e}");
    }

    #[test]
    fn empty_chunks_get_nothing_and_weights_hold() {
        // 2^16 amplitudes in 16 chunks, all but two amplitudes empty.
        let mut a = vec![C::new(0.0, 0.0); 1 << 16];
        a[5] = C::new(0.5, 0.0);
        a[60_000] = C::new(0.0, -(0.75f64.sqrt()));
        let s = sample(&a, 200_000, 9);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].0, s[1].0), (5, 60_000));
        assert_eq!(s[0].1 + s[1].1, 200_000);
        // Binomial(2e5, 0.25): standard deviation 194.
        assert!((s[0].1 as f64 - 50_000.0).abs() < 5.0 * 194.0, "{s:?}");
        assert_ne!(s, sample(&a, 200_000, 10));
    }

    #[test]
    fn a_heavy_chunk_is_drawn_in_batches_with_the_right_weights() {
        // GHZ on 12 qubits: one chunk, two amplitudes at its two ends, more
        // shots than one batch.
        let mut a = vec![C::new(0.0, 0.0); 1 << 12];
        a[0] = C::new(0.5f64.sqrt(), 0.0);
        a[4095] = C::new(0.0, 0.5f64.sqrt());
        let shots = 5 * BATCH + 123;
        let s = sample(&a, shots, 8);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].0, s[1].0), (0, 4095));
        assert_eq!(s[0].1 + s[1].1, shots);
        let sd = (shots as f64 * 0.25).sqrt();
        assert!((s[0].1 as f64 - shots as f64 / 2.0).abs() < 5.0 * sd, "{s:?}");
    }

    #[test]
    fn expand_repeats_each_index() {
        assert_eq!(expand(&[(2, 3), (7, 1)]), vec![2, 2, 2, 7]);
    }
}
