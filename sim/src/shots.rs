//! Many shots from one final state: counts per basis index, reading only
//! the masses of [`crate::masses`] (recorded by the last gate pass) and,
//! per shot, the 8 amplitudes of the group it lands in. That is the way for
//! fewer shots than one per [`crate::dense::AMPLITUDES_PER_SHOT`]
//! amplitudes; with more, one pass over the amplitudes costs less than a
//! search per shot, and [`crate::dense`] samples instead ([`Recording`]
//! picks one, the same for a seed whether or not the last pass recorded).
//!
//! # Sampling `S` shots
//!
//! 1. *Chunks* of 4096 amplitudes (64 runs) are the leaves of a binary tree
//!    whose nodes hold the sum of their children's masses (a chunk's mass
//!    is its run masses folded in halves). The `S` shots go down the tree:
//!    a node's `k` shots split between its children by an exact
//!    `Binomial(k, left / (left + right))` ([`crate::binomial`], integer
//!    arithmetic only) drawn from the node's own random stream
//!    `(seed, node)` ([`crate::rng`]). So the counts per chunk do not
//!    depend on the thread count or the order of the work, and cost about
//!    `2 S log2(chunks)` random bits in all.
//! 2. Each chunk's shots are drawn independently, from the chunk's own
//!    stream (one per batch of [`BATCH`] shots, so a chunk holding most of
//!    the mass still spreads over cores), by [`crate::draw`]: per shot a
//!    position in the chunk, found down the chunk's blocks and runs, the
//!    run's group ends and the group's 8 amplitudes, with the amplitudes
//!    of the next batch of shots prefetched. Counts come out in index
//!    order, one entry per amplitude drawn.
//! 3. The chunks' entries are concatenated (in parallel for large outputs).
//!
//! A state smaller than one chunk, with at least as many shots as
//! amplitudes, skips both: the tree of step 1 is built over its amplitudes
//! themselves, and the shots go down it to the leaves. That costs at most
//! one binomial per amplitude, whatever the number of shots, and none under
//! a node without shots or with all its mass on one side (GHZ-5: 1,000
//! shots in one binomial instead of 1,000 draws).
//!
//! # Cost
//!
//! Besides the masses (1/16 of the state, written by the last gate pass
//! while its amplitudes are in cache, which makes that pass some 14%
//! slower): `O(2^n / 4096)` for the tree, one read of the group ends of
//! the runs that hold shots, and per shot one random word, four vector
//! searches and one 128-byte read of the state. No per-shot output unless
//! per-shot memory is asked for (then the counts are expanded and
//! shuffled).
//!
//! Per shot that is some 10 ns of one core when the state is in cache, 14
//! to 30 ns when it is not: `10^6` shots would cost 5 to 10 ms on two cores
//! up to n = 24, and some 15 ms at n = 26, where the dense sampler's pass
//! costs less (see `sim-bench-sample` and `scripts/bench-sample`).

use crate::binomial::binomial;
use crate::draw::{CHUNK, CHUNK_RUNS, Chunk, Drawer};
use crate::masses::{self, RUN, RUN_GROUPS};
use crate::ops::C;
use crate::par;
use crate::sample::domain;
use rayon::prelude::*;

/// Most shots one chunk draws with one stream: more are drawn in batches
/// that run in parallel (and a batch's shot buffers stay in L2).
const BATCH: u64 = 1 << 14;
/// Shots at a tree node from which its two subtrees are split in parallel.
const PARALLEL_SPLIT: u64 = 1 << 16;
/// States with fewer amplitudes than this (and no more of them than shots)
/// are sampled down a tree over their amplitudes (see the module docs).
const AMPLITUDE_TREE_BELOW: usize = CHUNK;

/// Folds 64 values in halves (`x[i] += x[i + half]`) down to one.
#[inline(always)]
fn fold(q: &mut [f64; RUN]) -> f64 {
    let mut half = RUN / 2;
    while half > 0 {
        for i in 0..half {
            q[i] += q[i + half];
        }
        half /= 2;
    }
    q[0]
}

/// What a final state's last gate pass records for sampling `shots` from
/// it: the search's masses, or, with at least one shot per
/// [`crate::dense::AMPLITUDES_PER_SHOT`] amplitudes, the dense sampler's
/// first attempt (see [`crate::dense`]). The same shots for a seed either
/// way as [`Recording::sample`] without a recording pass.
#[derive(Debug)]
pub(crate) enum Recording {
    /// The masses (a buffer kept between jobs, see [`crate::masses`]).
    Masses(Vec<f64>),
    /// The first attempt and its parts, and the spare masses buffer
    /// (unused here, kept for the next job).
    Arrivals { attempt: crate::dense::Attempt, parts: Vec<crate::dense::Arrivals>, spare: Vec<f64> },
}

impl Recording {
    /// The recording for `shots` from a state of `len` amplitudes, with a
    /// spare masses buffer to reuse.
    pub(crate) fn new(len: usize, shots: u64, seed: u64, spare: Vec<f64>) -> Self {
        if crate::dense::suits(len, shots) {
            let attempt = crate::dense::Attempt::first(shots, seed);
            Self::Arrivals { attempt, parts: Vec::new(), spare }
        } else {
            Self::Masses(masses::reuse(spare, len))
        }
    }

    /// What the last pass writes into ([`crate::exec::run_stage_with`]).
    pub(crate) fn target(&mut self) -> crate::exec::Record<'_> {
        match self {
            Self::Masses(m) => crate::exec::Record::Masses(m),
            Self::Arrivals { attempt, parts, .. } => crate::exec::Record::Arrivals(attempt, parts),
        }
    }

    /// The shots as (index, count) in index order, from the recording if
    /// the last pass made it (`recorded`), else from a read of `a`; and the
    /// masses buffer to keep.
    pub(crate) fn sample(
        self,
        a: &[C],
        recorded: bool,
        shots: u64,
        seed: u64,
    ) -> (Vec<(u64, u64)>, Vec<f64>) {
        match self {
            Self::Masses(mut m) => {
                if !recorded {
                    masses::compute_into(a, &mut m);
                }
                (sample_counts(a, &m, shots, seed), m)
            }
            Self::Arrivals { parts, spare, .. } if recorded => {
                (crate::dense::finish(parts, a, shots, seed), spare)
            }
            Self::Arrivals { spare, .. } => (crate::dense::sample(a, shots, seed), spare),
        }
    }
}

/// Draws `shots` basis indices from |a|^2 (which need not be normalized),
/// given the masses `m` of `a` ([`crate::masses`]), as (index, count) in
/// increasing index order. Deterministic for a seed, at any thread count.
/// A zero (or non-finite) state has no distribution: every shot reads
/// index 0.
pub(crate) fn sample_counts(a: &[C], m: &[f64], shots: u64, seed: u64) -> Vec<(u64, u64)> {
    if shots == 0 {
        return Vec::new();
    }
    debug_assert_eq!(m.len(), masses::mass_len(a.len()));
    if a.len() < AMPLITUDE_TREE_BELOW && a.len() as u64 <= shots {
        return amplitude_tree(a, shots, seed);
    }
    if a.len() < RUN {
        // One short run, whose masses are those of its zero padding.
        let mut padded = [C::new(0.0, 0.0); RUN];
        padded[..a.len()].copy_from_slice(a);
        return sample_counts(&padded, m, shots, seed);
    }
    let (ends, runs) = masses::split(m);
    let parallel = par::worth_it(a.len());
    let chunk_mass = |r: &[f64]| {
        let mut q = [0.0f64; RUN];
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
    split(&tree, 1, shots, (seed, domain::CHUNK_SPLIT), &mut per_chunk, parallel);
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
    let e = CHUNK_RUNS * RUN_GROUPS;
    let one = |&(i, b, k): &(usize, u64, u64)| {
        let start = i * CHUNK;
        let chunk = &a[start..(start + CHUNK).min(a.len())];
        let runs = &runs[i * CHUNK_RUNS..((i + 1) * CHUNK_RUNS).min(runs.len())];
        let ends = &ends[i * e..((i + 1) * e).min(ends.len())];
        let mut rng = crate::rng::stream(seed, domain::IN_CHUNK | (b << 8), i as u64);
        // At most one entry per shot and per amplitude.
        let mut out = Vec::with_capacity(usize::try_from(k).unwrap_or(CHUNK).min(chunk.len()));
        let chunk = Chunk { amplitudes: chunk, ends, runs, origin: start as u64 };
        with_drawer(|d| d.draw(chunk, k, &mut rng, &mut out));
        out
    };
    let parts: Vec<Vec<(u64, u64)>> = if parallel && work.len() > 1 {
        work.par_iter().map(one).collect()
    } else {
        work.iter().map(one).collect()
    };
    if work.windows(2).any(|w| w[0].0 == w[1].0) {
        // A chunk drew in several batches (one holding more than BATCH
        // shots): one part per chunk first.
        concat(merge_batches(&work, parts), parallel)
    } else {
        concat(parts, parallel)
    }
}

/// The parts of `work`'s items with each chunk's batches merged into one
/// part: their counts added per amplitude in a dense table (a chunk has
/// 4096), so the cost is the chunk's size plus its entries, with no sort.
fn merge_batches(work: &[(usize, u64, u64)], parts: Vec<Vec<(u64, u64)>>) -> Vec<Vec<(u64, u64)>> {
    let mut merged: Vec<Vec<(u64, u64)>> = Vec::with_capacity(parts.len());
    let mut dense = vec![0u64; CHUNK];
    let mut parts = parts.into_iter().zip(work).peekable();
    while let Some((part, &(chunk, _, _))) = parts.next() {
        if parts.peek().is_none_or(|(_, w)| w.0 != chunk) {
            merged.push(part);
            continue;
        }
        let origin = (chunk * CHUNK) as u64;
        let mut add = |p: Vec<(u64, u64)>| {
            for (i, k) in p {
                // Inside the chunk: the drawer emits only its indices.
                dense[(i.wrapping_sub(origin) % CHUNK as u64) as usize] += k;
            }
        };
        add(part);
        while let Some((p, _)) = parts.next_if(|(_, w)| w.0 == chunk) {
            add(p);
        }
        let mut one = Vec::new();
        for (i, k) in dense.iter_mut().enumerate() {
            if *k > 0 {
                one.push((origin + i as u64, std::mem::take(k)));
            }
        }
        merged.push(one);
    }
    merged
}

/// Sends `shots` down a perfect binary tree over the masses of `a` (padded
/// with zeros to a power of two), sequentially; (index, count) for the
/// leaves that got shots, in index order.
fn amplitude_tree(a: &[C], shots: u64, seed: u64) -> Vec<(u64, u64)> {
    let c = a.len().next_power_of_two();
    let mut tree = vec![0.0; 2 * c];
    for (leaf, x) in tree[c..].iter_mut().zip(a) {
        *leaf = x.norm_sqr();
    }
    for i in (1..c).rev() {
        tree[i] = tree[2 * i] + tree[2 * i + 1];
    }
    if !(tree[1] > 0.0 && tree[1].is_finite()) {
        return vec![(0, shots)];
    }
    let mut per_leaf = vec![0u64; c];
    split(&tree, 1, shots, (seed, domain::AMPLITUDE_SPLIT), &mut per_leaf, false);
    (0u64..).zip(per_leaf).filter(|&(_, k)| k > 0).collect()
}

/// The parts one after the other, copied in parallel for large outputs.
pub(crate) fn concat(parts: Vec<Vec<(u64, u64)>>, parallel: bool) -> Vec<(u64, u64)> {
    let total: usize = parts.iter().map(Vec::len).sum();
    if !parallel || total < par::MIN_PARALLEL {
        return parts.concat();
    }
    let mut out = vec![(0u64, 0u64); total];
    let mut slots = Vec::with_capacity(parts.len());
    let mut rest = out.as_mut_slice();
    for p in &parts {
        let (here, after) = rest.split_at_mut(p.len());
        slots.push(here);
        rest = after;
    }
    slots.into_par_iter().zip(parts.par_iter()).for_each(|(d, p)| d.copy_from_slice(p));
    out
}

thread_local! {
    /// Each thread's drawer, kept between chunks and jobs (its tables are
    /// some 20 KiB, and its shot buffers grow to the largest batch).
    static DRAWER: std::cell::RefCell<Option<Box<Drawer>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's drawer.
fn with_drawer<R>(f: impl FnOnce(&mut Drawer) -> R) -> R {
    DRAWER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => f(slot.get_or_insert_with(Drawer::new)),
        // Only reachable if `f` re-entered this function on the same
        // thread; a fresh drawer is as good.
        Err(_) => f(&mut Drawer::new()),
    })
}

/// Sends the `k` shots of `node` down to the leaves under it (`leaves`),
/// splitting at each node with the stream `(seed, domain, node)`.
fn split(
    tree: &[f64],
    node: usize,
    k: u64,
    stream: (u64, u64),
    leaves: &mut [u64],
    parallel: bool,
) {
    if leaves.len() == 1 {
        leaves[0] = k;
        return;
    }
    if k == 0 {
        return;
    }
    let (l, r) = (tree[2 * node], tree[2 * node + 1]);
    let left = if r == 0.0 {
        k
    } else if l == 0.0 {
        0
    } else {
        let mut rng = crate::rng::stream(stream.0, stream.1, node as u64);
        binomial(&mut rng, k, l / (l + r))
    };
    let (lo, hi) = leaves.split_at_mut(leaves.len() / 2);
    if parallel && k >= PARALLEL_SPLIT {
        rayon::join(
            || split(tree, 2 * node, left, stream, lo, parallel),
            || split(tree, 2 * node + 1, k - left, stream, hi, parallel),
        );
    } else {
        split(tree, 2 * node, left, stream, lo, parallel);
        split(tree, 2 * node + 1, k - left, stream, hi, parallel);
    }
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
        sample_counts(a, &masses::compute(a), shots, seed)
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
        // Fewer shots than amplitudes: drawn one by one, never where there
        // is no mass.
        for seed in 0..50 {
            let s = sample(&a, 5, seed);
            assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), 5);
            assert!(s.iter().all(|&(i, _)| i == 1 || i == 6), "{s:?}");
        }
    }

    #[test]
    fn small_states_pass_a_chi_square_test_down_their_amplitude_tree() {
        // 2^11 amplitudes (below one chunk), shots above that count: every
        // weight from 0 to 12, so the tree has empty and lopsided nodes.
        let a: Vec<C> =
            (0..1usize << 11).map(|i| C::new(((i * 7) % 13) as f64, 0.0).sqrt()).collect();
        let p: Vec<f64> = a.iter().map(|x| x.norm_sqr()).collect();
        let total: f64 = p.iter().sum();
        let shots = 1u64 << 20;
        let s = sample(&a, shots, 11);
        assert_eq!(s, sample(&a, shots, 11), "a seed gives the same counts");
        assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), shots);
        assert!(s.iter().all(|&(i, k)| p[i as usize] > 0.0 && k > 0));
        // Cells of 16 consecutive amplitudes, each expecting ~3,900 shots.
        let mut observed = [0.0f64; 128];
        for &(i, k) in &s {
            observed[i as usize / 16] += k as f64;
        }
        let chi2: f64 = observed
            .iter()
            .enumerate()
            .map(|(c, o)| {
                let e = p[c * 16..(c + 1) * 16].iter().sum::<f64>() / total * shots as f64;
                (o - e).powi(2) / e
            })
            .sum();
        // 127 degrees of freedom: mean 127, standard deviation ~16.
        assert!(chi2 < 127.0 + 6.0 * 16.0, "chi2 = {chi2}");
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
