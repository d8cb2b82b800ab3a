//! Drawing the shots that fell on one chunk of 4096 amplitudes, given the
//! state's masses (see [`crate::masses`]).
//!
//! Each shot takes one 64-bit word of the chunk's random stream and goes
//! down three levels, without data-dependent branches:
//!
//! 1. the run: an alias table over the chunk's 64 run masses (Vose's
//!    method, built once per chunk) picks a column with the word's high
//!    bits, and the fraction left over inside the column, rescaled, is the
//!    shot's position `u` in `[0, run mass)`;
//! 2. the group: the number of the run's group ends at or below `u` (one
//!    cache line of `ends`; no amplitude is read);
//! 3. the amplitude: the group's 8 amplitudes' `|a|^2` summed from the
//!    group's start until past `u` (the only read of the state: 128 bytes).
//!
//! Between 1 and 2 the shots are sorted by run (a counting sort over 64
//! runs), so the group ends and the amplitudes are read in increasing
//! address order, which the hardware prefetchers follow. Steps 2 and 3 go
//! in batches of [`SHOT_BATCH`] shots: step 2 of batch `b + 1` prefetches
//! the groups that step 3 of batch `b` reads meanwhile, so the state's
//! cache misses overlap instead of each shot waiting for its own.
//!
//! Counts go to a per-chunk table whose touched slots a bitmap records, so
//! emitting them in index order scans 64 words, not 4096 counters.
//!
//! Rounding: `u` may land at or past the last end that rounding left
//! below it (a run's mass as a product, a group's lanes summed in another
//! order than its mass). Then the last group (lane) with mass is taken, a
//! bias of a few ulps of the run's mass; a group or lane without mass is
//! never taken.

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
/// Shots per batch of steps 2 and 3 (see the module doc): 64 shots' groups
/// in flight, some 150 cache lines, within what a core can track.
const SHOT_BATCH: usize = 64;

/// One outcome of an alias column: the run, and how the fraction `f` of
/// the column maps to a position in the run: `(f - base) * scale`.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    base: f64,
    scale: f64,
    run: usize,
}

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
    /// Column `i` keeps its own run for a fraction `f < keep[i]`, else
    /// gives the alias: `sides[i][0]` and `sides[i][1]`.
    keep: [f64; CHUNK_RUNS],
    sides: [[Side; 2]; CHUNK_RUNS],
    /// Shots per amplitude (only those marked in `hit` are non-zero).
    counts: [u32; CHUNK],
    hit: [u64; CHUNK / 64],
    /// Shots per run, then where each run's shots start in `sorted`.
    per_run: [u32; CHUNK_RUNS],
    /// Each shot's run and position, in drawing order.
    drawn: Vec<(u32, f64)>,
    /// The same, in run order.
    sorted: Vec<(u32, f64)>,
}

impl Drawer {
    pub(crate) fn new() -> Box<Self> {
        Box::new(Self {
            keep: [0.0; CHUNK_RUNS],
            sides: [[Side::default(); 2]; CHUNK_RUNS],
            counts: [0; CHUNK],
            hit: [0; CHUNK / 64],
            per_run: [0; CHUNK_RUNS],
            drawn: Vec::new(),
            sorted: Vec::new(),
        })
    }

    /// Draws `k` shots (at most `u32::MAX`: the caller's batches are far
    /// smaller) from `chunk` with the words of `rng`, appending (index,
    /// count) in increasing index order to `out`. Compiled for AVX2 when
    /// the CPU has it (the same bits either way).
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
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: `draw_avx2` only requires avx2 and popcnt, which
                // the CPU was just checked to support.
                unsafe { self.draw_avx2(chunk, k, rng, out) };
                return;
            }
        }
        self.draw_generic(chunk, k, rng, out, lane_of);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn draw_avx2(&mut self, chunk: Chunk<'_>, k: u64, rng: &mut Stream, out: &mut Vec<(u64, u64)>) {
        let lane = |g: &[C; GROUP], start, u| lane_of_avx2(g, start, u);
        self.draw_generic(chunk, k, rng, out, lane);
    }

    #[inline(always)]
    fn draw_generic(
        &mut self,
        chunk: Chunk<'_>,
        k: u64,
        rng: &mut Stream,
        out: &mut Vec<(u64, u64)>,
        lane_of: impl Fn(&[C; GROUP], f64, f64) -> usize,
    ) {
        let Chunk { amplitudes, ends, runs, origin } = chunk;
        let (groups, _) = amplitudes.as_chunks::<GROUP>();
        let (ends, _) = ends.as_chunks::<RUN_GROUPS>();
        let columns = runs.len().min(ends.len()).min(groups.len() / RUN_GROUPS);
        // `k` fits: it is at most u32::MAX.
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        if columns == 0 || !self.build_alias(&runs[..columns]) {
            // Unreachable for a chunk that drew shots (its mass is
            // positive); keep to its first amplitude rather than fail.
            out.push((origin, k as u64));
            return;
        }
        // 1. Each shot's run and position in it, counted per run.
        let width = columns as f64 * (1.0 / (1u64 << 53) as f64);
        self.per_run = [0; CHUNK_RUNS];
        self.drawn.resize(k, (0, 0.0));
        for d in &mut self.drawn[..k] {
            // A column, and the fraction left over inside it.
            let x = (rng.next_u64() >> 11) as f64 * width;
            let i = (x as usize).min(columns - 1);
            let f = x - i as f64;
            let side = self.sides[i][usize::from(f >= self.keep[i])];
            self.per_run[side.run] += 1;
            *d = (side.run as u32, (f - side.base) * side.scale);
        }
        // 2. Shots sorted by run (counting sort), so the state's and the
        //    group ends' lines are read in increasing address order.
        let mut at = 0u32;
        for c in &mut self.per_run {
            let n = *c;
            *c = at;
            at += n;
        }
        self.sorted.resize(k, (0, 0.0));
        for &(r, u) in &self.drawn[..k] {
            let slot = &mut self.per_run[r as usize];
            self.sorted[*slot as usize] = (r, u);
            *slot += 1;
        }
        // 3. Group, then amplitude, a batch at a time: the group step of
        //    batch b + 1 prefetches the amplitudes that the lane step of
        //    batch b reads meanwhile.
        let mut gis = [[0usize; SHOT_BATCH]; 2];
        let mut starts = [[0.0f64; SHOT_BATCH]; 2];
        let sorted = &self.sorted[..k];
        let batches = k.div_ceil(SHOT_BATCH);
        for b in 0..=batches {
            if b < batches {
                let now = b % 2;
                let shots = &sorted[b * SHOT_BATCH..((b + 1) * SHOT_BATCH).min(k)];
                for (j, &(r, u)) in shots.iter().enumerate() {
                    let r = r as usize;
                    let (g, start) = group_of(&ends[r], u);
                    let gi = r * RUN_GROUPS + g;
                    gis[now][j] = gi;
                    starts[now][j] = start;
                    prefetch(&groups[gi]);
                }
            }
            if b > 0 {
                let was = (b - 1) % 2;
                let shots = &sorted[(b - 1) * SHOT_BATCH..(b * SHOT_BATCH).min(k)];
                for (j, &(_, u)) in shots.iter().enumerate() {
                    let gi = gis[was][j];
                    let i = gi * GROUP + lane_of(&groups[gi], starts[was][j], u);
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
        let mut alias = [0u8; CHUNK_RUNS];
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
            alias[l] = g as u8;
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
                alias[j] = heaviest as u8;
            }
            let keep = self.keep[j];
            let other = usize::from(alias[j]);
            self.sides[j] = [
                Side { base: 0.0, scale: if keep > 0.0 { m / keep } else { 0.0 }, run: j },
                Side {
                    base: keep,
                    scale: if keep < 1.0 { runs[other] / (1.0 - keep) } else { 0.0 },
                    run: other,
                },
            ];
        }
        true
    }
}

/// The group of a run (whose group ends are `ends`) where `u` lands, and
/// the mass at the group's start: the number of ends at or below `u`,
/// which is always a group with mass; only when rounding puts `u` at or
/// past the last end, the last group with mass.
#[inline(always)]
fn group_of(ends: &[f64; RUN_GROUPS], u: f64) -> (usize, f64) {
    let below: usize = ends.iter().map(|&e| usize::from(e <= u)).sum();
    if below < RUN_GROUPS {
        // The end before group `below`, or 0 for the first group, without
        // a branch (the first group is often the likeliest: a branch on it
        // mispredicts at random).
        let before = ends[below.saturating_sub(1)];
        return (below, std::hint::select_unpredictable(below > 0, before, 0.0));
    }
    let start = |g: usize| if g > 0 { ends[g - 1] } else { 0.0 };
    let g = (0..RUN_GROUPS).rev().find(|&g| ends[g] > start(g)).unwrap_or(0);
    (g, start(g))
}

/// The lane of a group (whose mass starts at `start <= u`) where `u`
/// lands: the number of lanes whose running mass (`start`, then each
/// lane's `re * re + im * im` added in order) is at or below `u`, which is
/// always a lane with mass; only when rounding puts `u` past them all, the
/// last lane with mass.
#[inline(always)]
fn lane_of(group: &[C; GROUP], start: f64, u: f64) -> usize {
    lane_from(&group.map(|x| x.re * x.re + x.im * x.im), start, u)
}

/// [`lane_of`] given the lanes' masses.
#[inline(always)]
fn lane_from(p: &[f64; GROUP], start: f64, u: f64) -> usize {
    let mut c = start;
    let mut below = 0usize;
    for &x in p {
        c += x;
        below += usize::from(c <= u);
    }
    if below < GROUP {
        return below;
    }
    p.iter().rposition(|&x| x > 0.0).unwrap_or(0)
}

/// [`lane_of`] with the lanes' masses computed by AVX2 (the same bits:
/// `hadd` of the squares adds `re * re` and `im * im` in that order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
#[inline]
fn lane_of_avx2(group: &[C; GROUP], start: f64, u: f64) -> usize {
    use std::arch::x86_64::{
        _mm256_hadd_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_permute4x64_pd, _mm256_storeu_pd,
    };
    let x = group.as_ptr().cast::<f64>();
    // SAFETY: a group is 8 complex numbers, 16 contiguous f64
    // (`Complex<f64>` is `repr(C)`: re then im); the loads read 0..16.
    let [v0, v1, v2, v3] = [0, 4, 8, 12].map(|k| unsafe { _mm256_loadu_pd(x.add(k)) });
    // [p0, p2, p1, p3] and [p4, p6, p5, p7], then in lane order.
    let low = _mm256_hadd_pd(_mm256_mul_pd(v0, v0), _mm256_mul_pd(v1, v1));
    let high = _mm256_hadd_pd(_mm256_mul_pd(v2, v2), _mm256_mul_pd(v3, v3));
    let mut p = [0.0f64; GROUP];
    // SAFETY: `p` is 8 contiguous f64; the stores write 0..8.
    unsafe {
        _mm256_storeu_pd(p.as_mut_ptr(), _mm256_permute4x64_pd::<0xD8>(low));
        _mm256_storeu_pd(p.as_mut_ptr().add(4), _mm256_permute4x64_pd::<0xD8>(high));
    }
    lane_from(&p, start, u)
}

/// Asks for the cache lines of `group` (128 bytes, on up to three lines
/// when the state is not 64-byte aligned) to be brought into L1.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch(group: &[C; GROUP]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = group.as_ptr().cast::<i8>();
        for off in [0, 64, 127] {
            // SAFETY: a prefetch is only a hint: it never faults and does
            // not access memory in Rust's sense; the address is inside the
            // group anyway. SSE is part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = group;
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
    fn the_vector_lanes_give_the_same_lanes() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut rng = crate::rng::stream(3, 0, 0);
            let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            for _ in 0..2000 {
                let g: [C; GROUP] = std::array::from_fn(|_| {
                    let keep = unit() < 0.7;
                    if keep { C::new(unit() - 0.5, unit() * 1e-3) } else { C::new(0.0, 0.0) }
                });
                let total: f64 = g.iter().map(|x| x.norm_sqr()).sum();
                let (start, u) = (unit(), unit() * total * 1.01);
                let u = start + u;
                // SAFETY: the CPU was just checked to have AVX2.
                #[allow(unsafe_code)]
                let fast = unsafe { lane_of_avx2(&g, start, u) };
                assert_eq!(fast, lane_of(&g, start, u));
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
        assert_eq!(lane_of(&g, 0.0, 0.0), 1);
        assert_eq!(lane_of(&g, 0.0, 1.0), 4);
        assert_eq!(lane_of(&g, 0.0, 2.5), 4);
    }
}
