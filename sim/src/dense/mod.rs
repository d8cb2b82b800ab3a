//! Many shots from a state: at least one per [`AMPLITUDES_PER_SHOT`]
//! amplitudes. One pass over the amplitudes (usually the last gate pass
//! itself) instead of one search per shot.
//!
//! # Poissonization
//!
//! Give amplitude `i` an independent count `N_i ~ Poisson(c p_i)`, where
//! `p_i = |a_i|^2` and `c` is a bit more than the shots `S`. Their total
//! `T` is `Poisson(c P)` (`P` the state's mass), and *given* `T = t` the
//! counts are exactly `Multinomial(t, p / P)`: `t` independent shots. So:
//!
//! 1. Every amplitude draws its count from its own uniform, a pure
//!    function of (seed, attempt, index) (SplitMix64 of a counter), so the
//!    counts depend neither on the thread count nor on the order or size
//!    of the pieces the state is read in: the last gate pass can draw them
//!    block by block while the amplitudes are in cache
//!    (`exec::run_stage_with`), or one read pass can ([`sample`]), with the
//!    same result.
//! 2. The attempt is kept if `S <= T <= S + 3 m`, where `c = S + m` and
//!    `m = 4 sqrt(S) + 4`: for a normalized state that fails about once in
//!    30,000 attempts. Keeping or not depends on `T` alone, so a kept
//!    attempt's counts are still `t` independent shots. Otherwise the next
//!    attempt is drawn in a read pass, with `c` scaled by the measured mass.
//! 3. `T - S` of the `T` shots, a uniformly random subset (distinct ranks
//!    in index order), are removed: the `S` left are `S` independent shots,
//!    `Multinomial(S, p / P)`, exactly.
//!
//! # Cost
//!
//! Per amplitude: its mass, half a hash and one comparison ([`screen`]):
//! the uniform is below `1 - λ` (less a margin above `exp`'s error) for
//! most amplitudes, and then `N_i = 0` without computing `e^-λ` (the same
//! result as the full test, which holds whenever the quick one does). That
//! is 1 to 2 cycles per amplitude with AVX-512 (16 amplitudes per step),
//! and in a gate pass the screen also prefetches the pass's next block, so
//! the pass's memory traffic runs under the sampler's arithmetic. The
//! rest, about `min(λ, 1)` of the amplitudes (roughly one per distinct
//! outcome), draw their count: inversion 32 lanes at a time for `λ <= 10`
//! ([`counts`]), PTRS 8 lanes at a time above ([`large`]). Then `T - S`
//! (some 4,000 of `10^6`) ranks are drawn and sorted. No masses, no tree,
//! no search.
//!
//! At `10^6` shots on two cores sampling costs 1.1 to 1.5 gate passes at
//! 2^22 amplitudes, under half of one at 2^24 and a quarter at 2^26; at
//! 2^20 a pass runs from cache in 0.2 to 0.3 ms and sampling takes some
//! 1.6 ms, mostly the 113,000 counts (`scripts/bench-sample`).

use crate::ops::C;
use crate::par;
use crate::rng::{Stream, stream};
use crate::sample::domain;
use rand::RngCore;
use rayon::prelude::*;

mod counts;
mod large;
mod screen;

/// The states that are sampled here: at least one shot per this many
/// amplitudes. With `10^6` shots the screen's pass (1 to 2 cycles per
/// amplitude) beats the search (10 to 30 ns per shot) up to 2^26
/// amplitudes, where it takes some 8 ms on two cores against the search's
/// 15 (`sim-bench-sample --sizes "24 25 26"`, both ways).
pub(crate) const AMPLITUDES_PER_SHOT: u64 = 128;
/// Amplitudes per piece of the read pass (256 KiB).
const PIECE: usize = 1 << 14;
/// Attempts before falling back to the search of [`crate::shots`] (each
/// fails with probability about 3e-5 once the mass is known).
const ATTEMPTS: u64 = 8;

/// Whether `shots` from `len` amplitudes are sampled here.
pub(crate) fn suits(len: usize, shots: u64) -> bool {
    len >= PIECE && shots.saturating_mul(AMPLITUDES_PER_SHOT) >= len as u64
}

/// One attempt's parameters: the keys of the amplitudes' uniforms and the
/// scale `c` of their means.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// The key of the uniforms' top 32 bits ([`screen::word`]).
    key: u64,
    /// The key of their 21 low bits.
    low_key: u64,
    /// The key of the PTRS words ([`large::words`]).
    large_key: u64,
    scale: f64,
}

impl Attempt {
    /// Attempt `number` for `shots`, given the state's mass.
    fn new(seed: u64, number: u64, shots: u64, mass: f64) -> Self {
        let mut keys = stream(seed, domain::POISSON_KEY, number);
        let (key, low_key, large_key) = (keys.next_u64(), keys.next_u64(), keys.next_u64());
        let scale = shots.saturating_add(margin(shots)) as f64 / mass;
        Self { key, low_key, large_key, scale }
    }

    /// The first attempt, made before the mass is known: it takes the
    /// state as normalized (as a simulated state is, to rounding).
    pub(crate) fn first(shots: u64, seed: u64) -> Self {
        Self::new(seed, 0, shots, 1.0)
    }

    /// Adds the counts of the amplitudes `a`, the first of which has index
    /// `origin`, to `out` (in index order).
    pub(crate) fn draw(&self, a: &[C], origin: u64, out: &mut Arrivals) {
        let scale32 = self.scale * 4_294_967_296.0;
        let mut pending = Pending::default();
        screen::screen(self.key, scale32, a, origin, |i, p, w| {
            pending.push(i, p, w);
            if pending.len == PENDING {
                pending.flush(self, out);
            }
        });
        pending.flush(self, out);
    }
}

/// Amplitudes that passed the screen, waiting for their counts (a
/// multiple of [`counts::LANES`]).
const PENDING: usize = 64;

/// The screen's passes: index, mass and the uniform's top word, counted
/// in batches of [`counts::LANES`].
#[derive(Debug)]
struct Pending {
    index: [u64; PENDING],
    p: [f64; PENDING],
    w: [f64; PENDING],
    len: usize,
    /// Scratch of [`Pending::flush`], kept here so no flush clears it
    /// (each one writes what it reads): the counts, and the positions,
    /// indices and means of the PTRS lanes.
    counts: [u64; PENDING],
    at_large: [usize; PENDING],
    large_index: [u64; PENDING],
    large_mean: [f64; PENDING],
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            index: [0; PENDING],
            p: [0.0; PENDING],
            w: [0.0; PENDING],
            len: 0,
            counts: [0; PENDING],
            at_large: [0; PENDING],
            large_index: [0; PENDING],
            large_mean: [0.0; PENDING],
        }
    }
}

impl Pending {
    #[inline]
    fn push(&mut self, index: u64, p: f64, w: f64) {
        self.index[self.len] = index;
        self.p[self.len] = p;
        self.w[self.len] = w;
        self.len += 1;
    }

    /// Counts the pending amplitudes into `out`, in index order.
    fn flush(&mut self, at: &Attempt, out: &mut Arrivals) {
        let n = std::mem::take(&mut self.len);
        // Padding (mass 0, word 0) counts 0.
        let padded = n.next_multiple_of(counts::LANES);
        self.p[n..padded].fill(0.0);
        self.w[n..padded].fill(0.0);
        let keys = counts::Keys { scale: at.scale, low_key: at.low_key };
        let (index, _) = self.index.as_chunks::<{ counts::LANES }>();
        let (p, _) = self.p.as_chunks::<{ counts::LANES }>();
        let (w, _) = self.w.as_chunks::<{ counts::LANES }>();
        let Self { counts, at_large, large_index, large_mean, .. } = self;
        // The means above inversion's range, for PTRS 8 at a time.
        let mut larges = 0;
        for (b, ((index, p), w)) in
            index.iter().zip(p).zip(w).take(padded / counts::LANES).enumerate()
        {
            let (c, large, lambda) = counts::batch(keys, index, p, w);
            counts[b * counts::LANES..][..counts::LANES].copy_from_slice(&c);
            let mut m = large;
            while m != 0 {
                let j = m.trailing_zeros() as usize;
                if lambda[j].is_finite() {
                    at_large[larges] = b * counts::LANES + j;
                    large_index[larges] = index[j];
                    large_mean[larges] = lambda[j];
                    larges += 1;
                } else {
                    out.broken = true;
                }
                m &= m - 1;
            }
        }
        let (index8, _) = large_index.as_chunks::<{ large::LANES }>();
        let (mean8, _) = large_mean.as_chunks::<{ large::LANES }>();
        for (g, (index, mean)) in
            index8.iter().zip(mean8).take(larges.div_ceil(large::LANES)).enumerate()
        {
            let live = (larges - g * large::LANES).min(large::LANES);
            let drawn =
                large::large8(at.large_key, index, mean, (1u16 << live).wrapping_sub(1) as u8);
            for (&k, &c) in at_large[g * large::LANES..][..live].iter().zip(&drawn) {
                counts[k] = c;
            }
        }
        for (&i, &c) in self.index[..n].iter().zip(&counts[..n]) {
            if c > 0 {
                out.entries.push((i, c));
                out.total += c;
            }
        }
    }
}

/// `m`: the shots drawn beyond `S` on average (see the module doc).
fn margin(shots: u64) -> u64 {
    4 * (shots as f64).sqrt().ceil() as u64 + 4
}

/// The counts drawn from one piece of the state.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// (index, count) with count > 0, in index order.
    entries: Vec<(u64, u64)>,
    /// The sum of the counts.
    total: u64,
    /// An amplitude was not finite: the attempt cannot be kept.
    broken: bool,
}

/// Draws `shots` basis indices from |a|^2 (which need not be normalized)
/// as (index, count) in index order, in one read pass (see the module
/// doc). The same counts as [`finish`] after a gate pass drew the first
/// attempt. A zero (or non-finite) state has no distribution: every shot
/// reads index 0.
pub(crate) fn sample(a: &[C], shots: u64, seed: u64) -> Vec<(u64, u64)> {
    let first = Attempt::first(shots, seed);
    finish(read(a, &first), a, shots, seed)
}

/// The counts of attempt `at` over the whole state, one part per piece.
fn read(a: &[C], at: &Attempt) -> Vec<Arrivals> {
    let one = |(i, x): (usize, &[C])| {
        let mut out = Arrivals::default();
        at.draw(x, (i * PIECE) as u64, &mut out);
        out
    };
    if par::worth_it(a.len()) {
        a.par_chunks(PIECE).enumerate().map(one).collect()
    } else {
        a.chunks(PIECE).enumerate().map(one).collect()
    }
}

/// The shots from the first attempt's parts (in index order, covering the
/// state `a`), drawing further attempts if it is not kept.
pub(crate) fn finish(parts: Vec<Arrivals>, a: &[C], shots: u64, seed: u64) -> Vec<(u64, u64)> {
    if shots == 0 {
        return Vec::new();
    }
    let mut parts = parts;
    let mut mass = None;
    for number in 1..=ATTEMPTS {
        let total: u64 = parts.iter().map(|p| p.total).sum();
        let broken = parts.iter().any(|p| p.broken);
        if !broken && total >= shots && total - shots <= 3 * margin(shots) {
            return thin(parts, total - shots, seed, number - 1);
        }
        let m = *mass.get_or_insert_with(|| crate::sample::block_masses(a, 14).iter().sum::<f64>());
        if !(m > 0.0 && m.is_finite()) {
            return vec![(0, shots)];
        }
        if number == ATTEMPTS {
            break;
        }
        parts = read(a, &Attempt::new(seed, number, shots, m));
    }
    // Only for a state whose mass is not what the reads see (it cannot
    // happen for a state in memory): the search does not depend on it.
    crate::shots::sample_counts(a, &crate::masses::compute(a), shots, seed)
}

/// A uniform draw from `0..m` (`m >= 1`; Lemire's product, a bias below
/// `m / 2^64`).
#[inline]
fn below(rng: &mut Stream, m: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(m)) >> 64) as u64
}

/// Removes `remove` of the parts' shots, a uniformly random subset, and
/// concatenates what is left.
fn thin(mut parts: Vec<Arrivals>, remove: u64, seed: u64, attempt: u64) -> Vec<(u64, u64)> {
    let total: u64 = parts.iter().map(|p| p.total).sum();
    let mut rng = stream(seed, domain::POISSON_THIN, attempt);
    // Distinct ranks: draw, sort, drop repeats, draw what is missing. Any
    // permutation of the ranks leaves the procedure's law unchanged, so
    // the set is uniform among the subsets of its size.
    let want = usize::try_from(remove).unwrap_or(usize::MAX);
    let mut ranks: Vec<u64> = Vec::with_capacity(want);
    while ranks.len() < want {
        for _ in ranks.len()..want {
            ranks.push(below(&mut rng, total));
        }
        ranks.sort_unstable();
        ranks.dedup();
    }
    let parallel = par::worth_it(parts.iter().map(|p| p.entries.len()).sum());
    // Each part takes the ranks inside its range.
    let mut work = Vec::with_capacity(parts.len());
    let (mut start, mut rest) = (0u64, ranks.as_slice());
    for p in &mut parts {
        let end = start + p.total;
        let cut = rest.partition_point(|&r| r < end);
        let (mine, after) = rest.split_at(cut);
        work.push((p, start, mine));
        start = end;
        rest = after;
    }
    let strip = |(p, start, mine): (&mut Arrivals, u64, &[u64])| {
        if mine.is_empty() {
            return;
        }
        let mut next = mine.iter().peekable();
        let mut at = start;
        for e in &mut p.entries {
            let end = at + e.1;
            while next.next_if(|&&r| r < end).is_some() {
                e.1 -= 1;
            }
            at = end;
        }
        p.entries.retain(|e| e.1 > 0);
    };
    if parallel {
        work.into_par_iter().for_each(strip);
    } else {
        work.into_iter().for_each(strip);
    }
    let entries: Vec<Vec<(u64, u64)>> = parts.into_iter().map(|p| p.entries).collect();
    crate::shots::concat(entries, par::worth_it(total as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: u32) -> Vec<C> {
        // A product state with a spread of probabilities, like a benchmark's.
        let mut a = vec![C::new(1.0, 0.0)];
        for q in 0..n {
            let t = 0.3 + 0.1 * f64::from(q);
            let (c, s) = ((t / 2.0).cos(), (t / 2.0).sin());
            let mut b = Vec::with_capacity(a.len() * 2);
            b.extend(a.iter().map(|x| x * c));
            b.extend(a.iter().map(|x| x * C::new(0.0, s)));
            a = b;
        }
        a
    }

    #[test]
    fn shots_add_up_in_index_order() {
        let a = state(16);
        for shots in [2048u64, 65_536, 1_000_000] {
            let counts = sample(&a, shots, 3);
            assert_eq!(counts.iter().map(|e| e.1).sum::<u64>(), shots);
            assert!(counts.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(counts.iter().all(|e| e.1 > 0 && (e.0 as usize) < a.len()));
        }
    }

    #[test]
    fn the_same_for_a_seed_whatever_the_pieces_or_threads() {
        let a = state(17);
        let expect = sample(&a, 300_000, 9);
        // Pieces of another size, drawn one after the other.
        let at = Attempt::first(300_000, 9);
        let parts: Vec<Arrivals> = a
            .chunks(1 << 12)
            .enumerate()
            .map(|(i, x)| {
                let mut out = Arrivals::default();
                at.draw(x, (i << 12) as u64, &mut out);
                out
            })
            .collect();
        assert_eq!(finish(parts, &a, 300_000, 9), expect);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map(|p| p.install(|| sample(&a, 300_000, 9)));
        assert_eq!(one.ok(), Some(expect.clone()));
        assert_ne!(sample(&a, 300_000, 10), expect);
    }

    #[test]
    fn counts_pass_a_chi_square_test() {
        // 2^14 amplitudes in 64 cells of 256 consecutive indices.
        let a = state(14);
        let shots = 200_000u64;
        let counts = sample(&a, shots, 1);
        let mut seen = [0u64; 64];
        for &(i, k) in &counts {
            seen[(i >> 8) as usize] += k;
        }
        let mut chi2 = 0.0;
        for (cell, &o) in seen.iter().enumerate() {
            let p: f64 = a[cell * 256..(cell + 1) * 256].iter().map(|x| x.norm_sqr()).sum();
            let e = p * shots as f64;
            chi2 += (o as f64 - e).powi(2) / e;
        }
        // 63 degrees of freedom: P(X > 103.4) = 0.001.
        assert!(chi2 < 103.4, "chi2 = {chi2}");
    }

    #[test]
    fn the_screen_changes_no_count() {
        // Every amplitude counted in full, with no screen, gives the
        // screened draw's entries (means from 0 to beyond PTRS's 10).
        let a = state(15);
        let at = Attempt::first(2_000_000, 8);
        let mut screened = Arrivals::default();
        at.draw(&a, 0, &mut screened);
        let keys = counts::Keys { scale: at.scale, low_key: at.low_key };
        let mut full = Vec::new();
        for (b, chunk) in a.chunks(counts::LANES).enumerate() {
            let index = std::array::from_fn(|j| (b * counts::LANES + j) as u64);
            let p = std::array::from_fn(|j| chunk[j].re * chunk[j].re + chunk[j].im * chunk[j].im);
            let w = std::array::from_fn(|j| screen::word(at.key, index[j]) as f64);
            let (mut c, large, lambda) = counts::portable(keys, &index, &p, &w);
            for j in 0..counts::LANES {
                if large >> j & 1 == 1 {
                    c[j] = crate::poisson::large(lambda[j], large::words(at.large_key, index[j]));
                }
            }
            full.extend(index.iter().zip(c).filter(|e| e.1 > 0).map(|(&i, k)| (i, k)));
        }
        assert!(full.iter().any(|e| e.1 > 10) && full.len() > 1000);
        assert_eq!(screened.entries, full);
    }

    #[test]
    fn odd_states() {
        let zero = vec![C::new(0.0, 0.0); 1 << 14];
        assert_eq!(sample(&zero, 5000, 1), vec![(0, 5000)]);
        let mut nan = state(14);
        nan[77] = C::new(f64::NAN, 0.0);
        assert_eq!(sample(&nan, 5000, 1), vec![(0, 5000)]);
        // GHZ: two amplitudes with every shot, far beyond inversion.
        let mut ghz = vec![C::new(0.0, 0.0); 1 << 14];
        ghz[0] = C::new(std::f64::consts::FRAC_1_SQRT_2, 0.0);
        ghz[(1 << 14) - 1] = C::new(0.0, -std::f64::consts::FRAC_1_SQRT_2);
        let counts = sample(&ghz, 1_000_000, 4);
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[0].1 + counts[1].1, 1_000_000);
        assert!((counts[0].1 as f64 - 500_000.0).abs() < 5.0 * 500.0, "{counts:?}");
        // Not normalized: the first attempt fails and the next is scaled.
        let big: Vec<C> = state(14).iter().map(|x| x * 3.0).collect();
        let counts = sample(&big, 10_000, 2);
        assert_eq!(counts.iter().map(|e| e.1).sum::<u64>(), 10_000);
    }
}
