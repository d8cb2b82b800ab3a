//! Drawing the shots that fell on one chunk of 4096 amplitudes, given the
//! state's masses (see [`crate::masses`]).
//!
//! Each shot takes one 64-bit word of the chunk's random stream, which
//! scaled to the chunk's mass is its position `u` in the chunk, and goes
//! down four levels of 8, at each one counting the ends (running masses,
//! from the level's start) at or below its position and keeping the
//! offset past the last of them:
//!
//! 1. the block of 8 runs, then the run (ends that [`Drawer`] computes for
//!    the chunk from its 64 run masses: 9 cache lines);
//! 2. the group of 8 amplitudes (the run's group ends, one cache line of
//!    the masses; no amplitude is read);
//! 3. the amplitude: the group's 8 running masses (`|a|^2` summed as a
//!    vector prefix, see [`prefix`]), the only read of the state (128
//!    bytes).
//!
//! Each level is one vector comparison, a popcount and the end before
//! (with AVX-512; two comparisons with AVX2; the portable code computes the
//! same). In cache, one core draws a shot in about 10 ns with AVX-512, 13
//! with AVX2 and 17 portably (unit-test timings, 2026-12-03). Nothing is built
//! per chunk but the 72 running sums of step 1, so a chunk that draws only
//! a few shots (the usual case from 2^24 amplitudes on) costs little more
//! than its shots.
//!
//! The shots go in batches of [`SHOT_BATCH`], each level over the whole
//! batch before the next, so the latencies of a level overlap across
//! shots instead of adding up along one. Steps 1 and 2 of batch `b + 1`
//! prefetch the groups that step 3 of batch `b` reads meanwhile, so the
//! state's cache misses overlap too; the chunk's group ends (4 KiB) are
//! prefetched at its start. Shots are not sorted: within a chunk (64 KiB)
//! the order of the reads does not change their cost, and a sort costs two
//! more passes over the shots.
//!
//! Counts go to a per-chunk table whose touched slots a bitmap records, so
//! emitting them in index order scans 64 words, not 4096 counters.
//!
//! Rounding: an offset may land at or past the last end of its level (the
//! offset is a difference, and the ends of a level are summed apart from
//! the one above), and the prefix of a group, summed as a tree, may step
//! by an ulp where a lane has no mass. Then the last block, run or group
//! with mass is taken, or the nearest lane with mass below: a bias of a
//! few ulps of the chunk's mass. A part without mass is never taken.

use crate::masses::{GROUP, RUN, RUN_GROUPS};
use crate::ops::C;
use crate::rng::Stream;
use rand::RngCore;

/// log2 of the amplitudes of a chunk.
pub(crate) const CHUNK_BITS: u32 = 12;
/// Amplitudes per chunk.
pub(crate) const CHUNK: usize = 1 << CHUNK_BITS;
/// Runs per chunk.
pub(crate) const CHUNK_RUNS: usize = CHUNK / RUN;
/// Shots per batch (see the module doc): 64 shots' groups, 128 cache
/// lines, are prefetched while the batch before is read. Batches of 32 and
/// of 256 were no faster (`sim-bench-sample`, n = 20 to 26).
const SHOT_BATCH: usize = 64;

/// Runs per block: the chunk's first level (8 blocks of 8 runs).
const BLOCK_RUNS: usize = 8;
/// Blocks per chunk.
const CHUNK_BLOCKS: usize = CHUNK_RUNS / BLOCK_RUNS;

/// One chunk to draw from: whole runs of amplitudes with their masses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    /// The chunk's amplitudes.
    pub(crate) amplitudes: &'a [C],
    /// Its runs' group ends (see [`crate::masses`]).
    pub(crate) ends: &'a [f64],
    /// Its run masses.
    pub(crate) runs: &'a [f64],
    /// The state index of its first amplitude.
    pub(crate) origin: u64,
}

/// Per-worker tables for drawing inside one chunk.
#[derive(Debug)]
pub(crate) struct Drawer {
    /// The running masses of the chunk's blocks, and of the runs of each
    /// block (from the block's start): the ends of the first two levels.
    block_ends: [f64; CHUNK_BLOCKS],
    run_ends: [[f64; BLOCK_RUNS]; CHUNK_BLOCKS],
    /// Shots per amplitude (only those marked in `hit` are non-zero).
    counts: [u32; CHUNK],
    hit: [u64; CHUNK / 64],
}

/// The searches of steps 1 to 3 (see the module doc): [`group_of`] and
/// [`lane_of`], or the same results with AVX-512.
trait Search {
    fn group(&self, ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64);
    fn lane(&self, group: &[C; GROUP], t: f64) -> usize;
}

/// The portable searches.
struct Portable;

impl Search for Portable {
    #[inline(always)]
    fn group(&self, ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
        group_of(ends, u)
    }

    #[inline(always)]
    fn lane(&self, group: &[C; GROUP], t: f64) -> usize {
        lane_of(group, t)
    }
}

/// The searches with AVX-512; only made on a CPU that has it.
#[cfg(target_arch = "x86_64")]
struct Avx512(());

#[cfg(target_arch = "x86_64")]
impl Search for Avx512 {
    #[inline(always)]
    #[allow(unsafe_code)]
    fn group(&self, ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
        // SAFETY: an `Avx512` is only made after checking that the CPU has
        // avx512f and popcnt (see `Drawer::draw`).
        unsafe { group_of_avx512(ends, u) }
    }

    #[inline(always)]
    #[allow(unsafe_code)]
    fn lane(&self, group: &[C; GROUP], t: f64) -> usize {
        // SAFETY: as above.
        unsafe { lane_of_avx512(group, t) }
    }
}

/// The searches with AVX2; only made on a CPU that has it.
#[cfg(target_arch = "x86_64")]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Search for Avx2 {
    #[inline(always)]
    #[allow(unsafe_code)]
    fn group(&self, ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
        // SAFETY: an `Avx2` is only made after checking that the CPU has
        // avx2 and popcnt (see `Drawer::draw`).
        unsafe { group_of_avx2(ends, u) }
    }

    #[inline(always)]
    #[allow(unsafe_code)]
    fn lane(&self, group: &[C; GROUP], t: f64) -> usize {
        // SAFETY: as above.
        unsafe { lane_of_avx2(group, t) }
    }
}

impl Drawer {
    pub(crate) fn new() -> Box<Self> {
        Box::new(Self {
            block_ends: [0.0; CHUNK_BLOCKS],
            run_ends: [[0.0; BLOCK_RUNS]; CHUNK_BLOCKS],
            counts: [0; CHUNK],
            hit: [0; CHUNK / 64],
        })
    }

    /// Draws `k` shots (at most `u32::MAX`: the caller's batches are far
    /// smaller) from `chunk` with the words of `rng`, appending (index,
    /// count) in increasing index order to `out`. Compiled for AVX-512 or
    /// AVX2 when the CPU has it (the same bits on every path).
    #[allow(unsafe_code)]
    pub(crate) fn draw(
        &mut self,
        chunk: Chunk<'_>,
        k: u64,
        rng: &mut Stream,
        out: &mut Vec<(u64, u64)>,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: `draw_avx512` only requires avx512f and popcnt,
                // which the CPU was just checked to support.
                unsafe { self.draw_avx512(chunk, k, rng, out) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: as above, for avx2 and popcnt.
                unsafe { self.draw_avx2(chunk, k, rng, out) };
                return;
            }
        }
        self.draw_with(chunk, k, rng, out, &Portable);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,popcnt")]
    fn draw_avx512(
        &mut self,
        chunk: Chunk<'_>,
        k: u64,
        rng: &mut Stream,
        out: &mut Vec<(u64, u64)>,
    ) {
        self.draw_with(chunk, k, rng, out, &Avx512(()));
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn draw_avx2(&mut self, chunk: Chunk<'_>, k: u64, rng: &mut Stream, out: &mut Vec<(u64, u64)>) {
        self.draw_with(chunk, k, rng, out, &Avx2(()));
    }

    #[inline(always)]
    fn draw_with(
        &mut self,
        chunk: Chunk<'_>,
        k: u64,
        rng: &mut Stream,
        out: &mut Vec<(u64, u64)>,
        search: &impl Search,
    ) {
        let Chunk { amplitudes, ends, runs, origin } = chunk;
        let (groups, _) = amplitudes.as_chunks::<GROUP>();
        let (ends, _) = ends.as_chunks::<RUN_GROUPS>();
        let columns = runs.len().min(ends.len()).min(groups.len() / RUN_GROUPS);
        for run in &ends[..columns] {
            prefetch(run.as_ptr().cast());
        }
        // `k` fits: it is at most u32::MAX.
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        // No runs give no mass. A chunk that drew shots has mass (and so
        // runs); keep to its first amplitude rather than fail.
        let total = self.build_ends(&runs[..columns]);
        if !(total > 0.0 && total.is_finite()) {
            out.push((origin, k as u64));
            return;
        }
        // A word's top 53 bits times this: a position in [0, total). The
        // scaling by a power of two is exact.
        let width = total * (1.0 / (1u64 << 53) as f64);
        // Each batch's groups and offsets, for the step 3 that follows.
        // Each level runs over the whole batch before the next: the shots
        // are independent, so a level's latency overlaps across them
        // instead of adding up along one shot.
        let mut gis = [[0usize; SHOT_BATCH]; 2];
        let mut offsets = [[0.0f64; SHOT_BATCH]; 2];
        let mut places = [0usize; SHOT_BATCH];
        let batches = k.div_ceil(SHOT_BATCH);
        for b in 0..=batches {
            if b < batches {
                let now = b % 2;
                let size = SHOT_BATCH.min(k - b * SHOT_BATCH);
                let (gis, offsets) = (&mut gis[now][..size], &mut offsets[now][..size]);
                let places = &mut places[..size];
                // 1. The block, then the run, and the position in it.
                for (place, u) in places.iter_mut().zip(offsets.iter_mut()) {
                    let x = (rng.next_u64() >> 11) as f64 * width;
                    let (block, start) = search.group(&self.block_ends, x);
                    (*place, *u) = (block, x - start);
                }
                for (place, u) in places.iter_mut().zip(offsets.iter_mut()) {
                    let (r, start) = search.group(&self.run_ends[*place], *u);
                    // Below `columns`: a run past them has no mass.
                    *place = (*place * BLOCK_RUNS + r).min(columns - 1);
                    *u -= start;
                }
                // 2. The group, and the offset in it.
                for ((gi, u), &run) in gis.iter_mut().zip(offsets.iter_mut()).zip(places.iter()) {
                    let (g, start) = search.group(&ends[run], *u);
                    *gi = run * RUN_GROUPS + g;
                    *u -= start;
                    prefetch(groups[*gi].as_ptr().cast());
                    prefetch(groups[*gi][GROUP - 1..].as_ptr().cast());
                }
            }
            if b > 0 {
                // 3. The amplitudes of the batch before.
                let was = (b - 1) % 2;
                let size = SHOT_BATCH.min(k - (b - 1) * SHOT_BATCH);
                for (&gi, &t) in gis[was][..size].iter().zip(&offsets[was][..size]) {
                    let i = gi * GROUP + search.lane(&groups[gi], t);
                    self.counts[i] += 1;
                    self.hit[i / 64] |= 1 << (i % 64);
                }
            }
        }
        for (w, word) in self.hit.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                out.push((origin + i as u64, u64::from(std::mem::take(&mut self.counts[i]))));
                bits &= bits - 1;
            }
        }
    }

    /// Writes the ends of the first two levels for the run masses `runs`
    /// (padded with runs without mass to 64), and returns the chunk's
    /// mass: running sums in order, like the group ends of a run.
    #[inline(always)]
    fn build_ends(&mut self, runs: &[f64]) -> f64 {
        let mut blocks = [0.0f64; CHUNK_BLOCKS];
        for (b, ends) in self.run_ends.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (j, e) in ends.iter_mut().enumerate() {
                acc += runs.get(b * BLOCK_RUNS + j).copied().unwrap_or(0.0);
                *e = acc;
            }
            blocks[b] = acc;
        }
        let mut acc = 0.0;
        for (e, m) in self.block_ends.iter_mut().zip(blocks) {
            acc += m;
            *e = acc;
        }
        acc
    }
}

/// The group of a run (whose group ends are `ends`) where `u` lands, and
/// the mass at the group's start: the number of ends at or below `u`,
/// which is always a group with mass; only when rounding puts `u` at or
/// past the last end, the last group with mass. The same for a block's
/// runs and a chunk's blocks.
#[inline(always)]
fn group_of(ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
    let below: usize = ends.iter().map(|&e| usize::from(e <= u)).sum();
    if below < RUN_GROUPS {
        // The end before group `below`, or 0 for the first group.
        let before = ends[below.saturating_sub(1)];
        return (below, if below > 0 { before } else { 0.0 });
    }
    let start = |g: usize| if g > 0 { ends[g - 1] } else { 0.0 };
    let g = (0..RUN_GROUPS).rev().find(|&g| ends[g] > start(g)).unwrap_or(0);
    (g, start(g))
}

/// The running masses of a group's lanes, summed as a vector does it:
/// three steps that each add the value `d` = 1, 2, then 4 lanes before.
/// A tree, not a chain, so its rounding differs from a sum in order.
#[inline(always)]
fn prefix(p: [f64; GROUP]) -> [f64; GROUP] {
    let mut s = p;
    for d in [1, 2, 4] {
        let before = s;
        for i in d..GROUP {
            s[i] = before[i] + before[i - d];
        }
    }
    s
}

/// The lane of a group where the offset `t >= 0` from the group's start
/// lands: the number of running masses ([`prefix`]) at or below `t`, if
/// that lane has mass; else, a rounding case, the nearest lane with mass
/// below it (or above, when there is none below).
#[inline(always)]
fn lane_of(group: &[C; GROUP], t: f64) -> usize {
    let p = group.map(|x| x.re * x.re + x.im * x.im);
    let s = prefix(p);
    let below = s.iter().map(|&x| u32::from(x <= t)).sum();
    let with_mass = p.iter().enumerate().fold(0u32, |m, (i, &x)| m | u32::from(x > 0.0) << i);
    pick_lane(below, with_mass)
}

/// The lane `below` (the number of running masses at or below the offset)
/// when it has mass (`with_mass` has bit `i` set when lane `i` has);
/// otherwise the last lane with mass before it, or the first after it.
#[inline(always)]
fn pick_lane(below: u32, with_mass: u32) -> usize {
    if below < GROUP as u32 && with_mass >> below & 1 == 1 {
        return below as usize;
    }
    let at_or_before = with_mass & ((2u32 << below.min(GROUP as u32 - 1)) - 1);
    if at_or_before != 0 {
        (31 - at_or_before.leading_zeros()) as usize
    } else {
        // A group always has mass; 0 only if rounding emptied it.
        with_mass.trailing_zeros() as usize % GROUP
    }
}

/// [`group_of`] with AVX-512: one comparison of the 8 ends.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
#[allow(unsafe_code)]
#[inline]
fn group_of_avx512(ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
    use std::arch::x86_64::{_CMP_LE_OQ, _mm512_cmp_pd_mask, _mm512_loadu_pd, _mm512_set1_pd};
    // SAFETY: `ends` is 8 contiguous f64.
    let e = unsafe { _mm512_loadu_pd(ends.as_ptr()) };
    let below = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(e, _mm512_set1_pd(u)).count_ones() as usize;
    if below < RUN_GROUPS {
        let before = ends[below.saturating_sub(1)];
        return (below, if below > 0 { before } else { 0.0 });
    }
    group_of(ends, u)
}

/// [`lane_of`] with AVX-512: the same operations, lane for lane, so the
/// same bits (`p` as `re * re + im * im`, then [`prefix`]'s three steps).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
#[allow(unsafe_code)]
#[inline]
fn lane_of_avx512(group: &[C; GROUP], t: f64) -> usize {
    use std::arch::x86_64::{
        _CMP_GT_OQ, _CMP_LE_OQ, _mm512_add_pd, _mm512_alignr_epi64, _mm512_castpd_si512,
        _mm512_castsi512_pd, _mm512_cmp_pd_mask, _mm512_loadu_pd, _mm512_mul_pd,
        _mm512_permutex2var_pd, _mm512_set_epi64, _mm512_set1_pd, _mm512_setzero_si512,
    };
    let x = group.as_ptr().cast::<f64>();
    // SAFETY: a group is 8 complex numbers, 16 contiguous f64
    // (`Complex<f64>` is `repr(C)`: re then im); the loads read 0..16.
    let [a, b] = [0, 8].map(|k| unsafe { _mm512_loadu_pd(x.add(k)) });
    let (a2, b2) = (_mm512_mul_pd(a, a), _mm512_mul_pd(b, b));
    // Lane i of `re` is component 2i of a2:b2, of `im` component 2i + 1.
    let re = _mm512_permutex2var_pd(a2, _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), b2);
    let im = _mm512_permutex2var_pd(a2, _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1), b2);
    let p = _mm512_add_pd(re, im);
    // Shifted up by d lanes with zeros below: [0; d] ++ s[..8 - d]; adding
    // 0.0 to a mass (never -0.0) leaves its bits.
    let zero = _mm512_setzero_si512();
    let mut s = p;
    let si = _mm512_castpd_si512(s);
    s = _mm512_add_pd(s, _mm512_castsi512_pd(_mm512_alignr_epi64::<7>(si, zero)));
    let si = _mm512_castpd_si512(s);
    s = _mm512_add_pd(s, _mm512_castsi512_pd(_mm512_alignr_epi64::<6>(si, zero)));
    let si = _mm512_castpd_si512(s);
    s = _mm512_add_pd(s, _mm512_castsi512_pd(_mm512_alignr_epi64::<4>(si, zero)));
    let below = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(s, _mm512_set1_pd(t)).count_ones();
    let with_mass = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(p, _mm512_castsi512_pd(zero));
    pick_lane(below, u32::from(with_mass))
}

/// [`group_of`] with AVX2: two comparisons of 4 ends.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[allow(unsafe_code)]
#[inline]
fn group_of_avx2(ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
    use std::arch::x86_64::{
        _CMP_LE_OQ, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd,
    };
    let x = ends.as_ptr();
    // SAFETY: `ends` is 8 contiguous f64; the loads read 0..8.
    let [lo, hi] = [0, 4].map(|k| unsafe { _mm256_loadu_pd(x.add(k)) });
    let u4 = _mm256_set1_pd(u);
    let le = |v| _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(v, u4)).count_ones() as usize;
    let below = le(lo) + le(hi);
    if below < RUN_GROUPS {
        let before = ends[below.saturating_sub(1)];
        return (below, if below > 0 { before } else { 0.0 });
    }
    group_of(ends, u)
}

/// [`lane_of`] with AVX2: the same operations, lane for lane, so the same
/// bits (`p` as `re * re + im * im`, then [`prefix`]'s three steps, each
/// over the two halves of 4 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[allow(unsafe_code)]
#[inline]
fn lane_of_avx2(group: &[C; GROUP], t: f64) -> usize {
    use std::arch::x86_64::{
        _CMP_GT_OQ, _CMP_LE_OQ, _mm256_add_pd, _mm256_blend_pd, _mm256_cmp_pd, _mm256_hadd_pd,
        _mm256_loadu_pd, _mm256_movemask_pd, _mm256_mul_pd, _mm256_permute4x64_pd, _mm256_set1_pd,
        _mm256_setzero_pd,
    };
    let x = group.as_ptr().cast::<f64>();
    // SAFETY: a group is 8 complex numbers, 16 contiguous f64
    // (`Complex<f64>` is `repr(C)`: re then im); the loads read 0..16.
    let [v0, v1, v2, v3] = [0, 4, 8, 12].map(|k| unsafe { _mm256_loadu_pd(x.add(k)) });
    // `hadd` of the squares adds `re * re` and `im * im` in that order:
    // [p0, p2, p1, p3] and [p4, p6, p5, p7], then in lane order.
    let lo = _mm256_hadd_pd(_mm256_mul_pd(v0, v0), _mm256_mul_pd(v1, v1));
    let hi = _mm256_hadd_pd(_mm256_mul_pd(v2, v2), _mm256_mul_pd(v3, v3));
    let (p_lo, p_hi) = (_mm256_permute4x64_pd::<0xD8>(lo), _mm256_permute4x64_pd::<0xD8>(hi));
    let zero = _mm256_setzero_pd();
    // d = 1: [0, s0, s1, s2] and [s3, s4, s5, s6].
    let (s_lo, s_hi) = (p_lo, p_hi);
    let up_lo = _mm256_blend_pd::<0b0001>(_mm256_permute4x64_pd::<0b10_01_00_00>(s_lo), zero);
    let up_hi = _mm256_blend_pd::<0b0001>(
        _mm256_permute4x64_pd::<0b10_01_00_00>(s_hi),
        _mm256_permute4x64_pd::<0b11_11_11_11>(s_lo),
    );
    let (s_lo, s_hi) = (_mm256_add_pd(s_lo, up_lo), _mm256_add_pd(s_hi, up_hi));
    // d = 2: [0, 0, s0, s1] and [s2, s3, s4, s5].
    let up_lo = _mm256_blend_pd::<0b0011>(_mm256_permute4x64_pd::<0b01_00_00_00>(s_lo), zero);
    let up_hi = _mm256_blend_pd::<0b0011>(
        _mm256_permute4x64_pd::<0b01_00_00_00>(s_hi),
        _mm256_permute4x64_pd::<0b11_10_11_10>(s_lo),
    );
    let (s_lo, s_hi) = (_mm256_add_pd(s_lo, up_lo), _mm256_add_pd(s_hi, up_hi));
    // d = 4: the low half is unchanged (adds 0), the high half adds it.
    let s_hi = _mm256_add_pd(s_hi, s_lo);
    let t4 = _mm256_set1_pd(t);
    let le = |v| _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(v, t4)).count_ones();
    let below = le(s_lo) + le(s_hi);
    let gt = |v| _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(v, zero)) as u32;
    pick_lane(below, gt(p_lo) | gt(p_hi) << 4)
}

/// Asks for the cache line holding `at` to be brought into L1.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint: it never faults and does not
        // access memory in Rust's sense. SSE is part of the x86_64
        // baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masses;
    use crate::sample::domain;

    fn draw(a: &[C], k: u64) -> Vec<(u64, u64)> {
        let m = masses::compute(a);
        let (ends, runs) = masses::split(&m);
        let mut out = Vec::new();
        let mut rng = crate::rng::stream(1, domain::IN_CHUNK, 0);
        Drawer::new().draw(Chunk { amplitudes: a, ends, runs, origin: 100 }, k, &mut rng, &mut out);
        out
    }

    #[test]
    fn only_amplitudes_with_mass_are_drawn() {
        // Empty runs, empty groups, empty lanes, one lane per group.
        let mut a = vec![C::new(0.0, 0.0); CHUNK];
        for (i, x) in a.iter_mut().enumerate() {
            if (i / RUN) % 3 == 1 && (i / GROUP).is_multiple_of(2) && i % GROUP == 5 {
                *x = C::new(0.1 * (i % 7 + 1) as f64, 0.0);
            }
        }
        let out = draw(&a, 50_000);
        assert_eq!(out.iter().map(|x| x.1).sum::<u64>(), 50_000);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(out.iter().all(|&(i, _)| a[i as usize - 100].norm_sqr() > 0.0));
    }

    #[test]
    fn every_path_draws_the_same_shots() {
        // A chunk with empty runs, tiny and large masses, and lanes without
        // mass inside groups with mass.
        let a: Vec<C> = (0..CHUNK)
            .map(|i| {
                let w = match (i / RUN) % 5 {
                    0 => 0.0,
                    1 => 1e-20 * (i % 3) as f64,
                    _ => ((i * 2_654_435_761) % 17) as f64,
                };
                C::new(w.sqrt() * 0.6, w.sqrt() * 0.8)
            })
            .collect();
        let m = masses::compute(&a);
        let (ends, runs) = masses::split(&m);
        let chunk = Chunk { amplitudes: &a, ends, runs, origin: 0 };
        let draw = |path: &str| {
            let mut out = Vec::new();
            let mut rng = crate::rng::stream(5, domain::IN_CHUNK, 0);
            let mut d = Drawer::new();
            match path {
                "portable" => d.draw_with(chunk, 100_000, &mut rng, &mut out, &Portable),
                #[cfg(target_arch = "x86_64")]
                #[allow(unsafe_code)]
                // SAFETY: called only when the CPU has avx2 and popcnt.
                "avx2" => unsafe { d.draw_avx2(chunk, 100_000, &mut rng, &mut out) },
                _ => d.draw(chunk, 100_000, &mut rng, &mut out),
            }
            out
        };
        let fast = draw("best");
        assert_eq!(fast, draw("portable"));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            assert_eq!(fast, draw("avx2"));
        }
        assert_eq!(fast.iter().map(|x| x.1).sum::<u64>(), 100_000);
        assert!(fast.iter().all(|&(i, _)| a[i as usize].norm_sqr() > 0.0));
    }

    #[test]
    #[allow(unsafe_code)]
    fn the_vector_searches_give_the_same_results() {
        #[cfg(target_arch = "x86_64")]
        {
            let has = |f: &str| match f {
                "avx512" => std::arch::is_x86_feature_detected!("avx512f"),
                _ => std::arch::is_x86_feature_detected!("avx2"),
            } && std::arch::is_x86_feature_detected!("popcnt");
            let mut rng = crate::rng::stream(3, 0, 0);
            let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            for round in 0..4000 {
                let g: [C; GROUP] = std::array::from_fn(|_| {
                    let keep = unit() < 0.7;
                    if keep { C::new(unit() - 0.5, unit() * 1e-3) } else { C::new(0.0, 0.0) }
                });
                let s = prefix(g.map(|x| x.re * x.re + x.im * x.im));
                // Offsets anywhere, and exactly on the running masses.
                let t = if round % 2 == 0 { unit() * s[GROUP - 1] * 1.01 } else { s[round % 8] };
                let portable = (lane_of(&g, t), group_of(&s, t));
                // SAFETY: each call only after checking its CPU features.
                if has("avx512") {
                    let fast = unsafe { (lane_of_avx512(&g, t), group_of_avx512(&s, t)) };
                    assert_eq!(fast, portable);
                }
                if has("avx2") {
                    let fast = unsafe { (lane_of_avx2(&g, t), group_of_avx2(&s, t)) };
                    assert_eq!(fast, portable);
                }
            }
        }
    }

    #[test]
    fn rounding_past_the_last_end_takes_the_last_group_and_lane_with_mass() {
        let ends = [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0];
        assert_eq!(group_of(&ends, 0.5), (0, 0.0));
        assert_eq!(group_of(&ends, 1.0), (2, 1.0));
        assert_eq!(group_of(&ends, 2.0), (2, 1.0));
        let mut g = [C::new(0.0, 0.0); GROUP];
        g[1] = C::new(1.0, 0.0);
        g[4] = C::new(0.0, 1.0);
        assert_eq!(lane_of(&g, 0.0), 1);
        assert_eq!(lane_of(&g, 1.0), 4);
        assert_eq!(lane_of(&g, 2.5), 4);
    }

    #[test]
    fn a_lane_without_mass_is_never_picked() {
        // Lanes 1 and 4 have mass.
        let m = 0b1_0010;
        assert_eq!(pick_lane(1, m), 1);
        assert_eq!(pick_lane(4, m), 4);
        // A step of the prefix where a lane has no mass: the lane below.
        assert_eq!(pick_lane(3, m), 1);
        assert_eq!(pick_lane(7, m), 4);
        // Past every lane: the last with mass; before every lane with
        // mass: the first.
        assert_eq!(pick_lane(8, m), 4);
        assert_eq!(pick_lane(0, m), 1);
        assert_eq!(pick_lane(0, 0), 0);
    }
}
