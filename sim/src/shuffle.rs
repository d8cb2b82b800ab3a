//! Per-shot memory in a random order: a uniform shuffle of the sampled
//! outcomes that a seed fixes at any thread count.
//!
//! Sampling yields counts, so per-shot memory is each counted outcome
//! repeated by its count, in a random order. Expanding the counts and one
//! Fisher–Yates pass over `10^6` outcomes (8 MB) misses the cache on almost
//! every swap and runs on one core: some 10 ms, more than drawing the
//! shots. This shuffle is Rao–Sandelius's, read straight from the counts:
//!
//! 1. every element goes to one of `b` *buckets*, uniformly and
//!    independently, by a word of the stream of its *piece* (pieces of
//!    [`PIECE`] elements, drawn in parallel);
//! 2. the elements are scattered bucket by bucket (within a bucket, in
//!    their input order), each piece writing its own places;
//! 3. each bucket (about [`BUCKET`] elements: 128 KiB, in a core's L2) is
//!    shuffled by Fisher–Yates with its own stream, in parallel.
//!
//! A uniform assignment to buckets followed by a uniform permutation of
//! each bucket, laid end to end, is a uniform permutation of the whole.
//! For `10^6` outcomes this takes 4 to 6 ms on two cores (9 ms on one),
//! against 11 to 14 ms for expanding the counts and one Fisher–Yates pass
//! (unit-test timings, 2026-12-03).
//!
//! Every random choice comes from a stream keyed by (seed, purpose,
//! index) ([`crate::rng`]), so the order does not depend on the threads.
//!
//! Bounded draws use the high half of a 64 x 64-bit product (Lemire's
//! method without its rejection step): a bias below `m / 2^64` for `m`
//! choices, far under any statistical resolution of a simulator's shots.

use crate::par;
use crate::rng::{Stream, stream};
use crate::sample::domain;
use rand::RngCore;
use rayon::prelude::*;

/// Elements per piece of step 1, each with its own stream.
const PIECE: usize = 1 << 16;
/// Elements per bucket, about (step 3).
const BUCKET: usize = 1 << 14;

/// One piece of step 2: its stream's index, its places in each bucket,
/// and where its elements start in the counts.
struct Piece<'a> {
    index: usize,
    slots: Vec<&'a mut [u64]>,
    pair: usize,
    into: u64,
    len: usize,
}

/// A uniform draw from `0..m` (`m >= 1`).
#[inline]
fn below(rng: &mut Stream, m: usize) -> usize {
    // The product's high half is below `m`, so it fits.
    ((u128::from(rng.next_u64()) * m as u128) >> 64) as usize
}

/// Fisher–Yates over `v` with `rng`.
fn fisher_yates(v: &mut [u64], rng: &mut Stream) {
    for i in (1..v.len()).rev() {
        v.swap(i, below(rng, i + 1));
    }
}

/// The outcomes of `counts` ((outcome, count) pairs), each as many times
/// as its count, in a uniformly random order that a seed fixes at any
/// thread count (see the module doc). The input is never expanded in
/// order: step 2 writes each outcome straight to its place.
pub(crate) fn shuffled(counts: &[(u64, u64)], seed: u64) -> Vec<u64> {
    let n = usize::try_from(counts.iter().map(|&(_, k)| k).sum::<u64>()).unwrap_or(usize::MAX);
    let buckets = n.div_ceil(BUCKET);
    if buckets <= 1 {
        let mut v = crate::shots::expand(counts);
        fisher_yates(&mut v, &mut stream(seed, domain::SHUFFLE_BUCKET, 0));
        return v;
    }
    let parallel = par::worth_it(n);
    let pieces = n.div_ceil(PIECE);
    let piece_len = |p: usize| PIECE.min(n - p * PIECE);
    // 1. Each piece's count per bucket (step 2 draws the same words again
    //    rather than keeping a bucket per element).
    let tally = |p: usize| {
        let mut rng = stream(seed, domain::SHUFFLE_PIECE, p as u64);
        let mut tally = vec![0usize; buckets];
        for _ in 0..piece_len(p) {
            tally[below(&mut rng, buckets)] += 1;
        }
        tally
    };
    let tallies: Vec<Vec<usize>> = if parallel {
        (0..pieces).into_par_iter().map(tally).collect()
    } else {
        (0..pieces).map(tally).collect()
    };
    // 2. The places of bucket b, piece p: bucket-major, piece-minor.
    let mut out = vec![0u64; n];
    let mut places: Vec<Vec<&mut [u64]>> =
        (0..pieces).map(|_| Vec::with_capacity(buckets)).collect();
    let mut rest = out.as_mut_slice();
    for b in 0..buckets {
        for (piece, tally) in places.iter_mut().zip(&tallies) {
            let (here, after) = rest.split_at_mut(tally[b]);
            piece.push(here);
            rest = after;
        }
    }
    // Each piece starts at a pair of `counts` and an offset into its count,
    // found by a cursor: element `at` of the expanded sequence is `into` of
    // the count of `counts[pair]`.
    let mut work = Vec::with_capacity(pieces);
    let (mut at, mut pair, mut into) = (0usize, 0usize, 0u64);
    for (p, slots) in places.into_iter().enumerate() {
        while at < p * PIECE {
            let take = (counts[pair].1 - into).min((p * PIECE - at) as u64);
            into += take;
            // At most PIECE, so it fits.
            at += take as usize;
            if into == counts[pair].1 {
                (pair, into) = (pair + 1, 0);
            }
        }
        work.push(Piece { index: p, slots, pair, into, len: piece_len(p) });
    }
    let scatter = |piece: Piece<'_>| {
        let Piece { index, mut slots, mut pair, mut into, len } = piece;
        let mut rng = stream(seed, domain::SHUFFLE_PIECE, index as u64);
        let mut filled = vec![0usize; buckets];
        for _ in 0..len {
            while into == counts[pair].1 {
                (pair, into) = (pair + 1, 0);
            }
            into += 1;
            let b = below(&mut rng, buckets);
            slots[b][filled[b]] = counts[pair].0;
            filled[b] += 1;
        }
    };
    if parallel {
        work.into_par_iter().for_each(scatter);
    } else {
        work.into_iter().for_each(scatter);
    }
    // 3. Each bucket shuffled on its own.
    let mut bucket_slices = Vec::with_capacity(buckets);
    let mut rest = out.as_mut_slice();
    for b in 0..buckets {
        let size: usize = tallies.iter().map(|t| t[b]).sum();
        let (here, after) = rest.split_at_mut(size);
        bucket_slices.push(here);
        rest = after;
    }
    let one = |(b, s): (usize, &mut [u64])| {
        fisher_yates(s, &mut stream(seed, domain::SHUFFLE_BUCKET, b as u64));
    };
    if parallel {
        bucket_slices.into_par_iter().enumerate().for_each(one);
    } else {
        bucket_slices.into_iter().enumerate().for_each(one);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each element of `v` as its own pair, and runs of equal ones.
    fn shuffle(v: &[u64], seed: u64) -> Vec<u64> {
        let mut counts: Vec<(u64, u64)> = Vec::new();
        for &x in v {
            match counts.last_mut() {
                Some((y, k)) if *y == x => *k += 1,
                _ => counts.push((x, 1)),
            }
        }
        shuffled(&counts, seed)
    }

    fn sorted(mut v: Vec<u64>) -> Vec<u64> {
        v.sort_unstable();
        v
    }

    #[test]
    fn a_shuffle_is_a_permutation_fixed_by_the_seed() {
        for n in [0usize, 1, 2, 1000, 3 * BUCKET + 17, PIECE * 2 + 5] {
            // Runs of 3 equal outcomes, so pieces start inside runs.
            let v: Vec<u64> = (0..n as u64).map(|i| i / 3).collect();
            let s = shuffle(&v, 5);
            assert_eq!(sorted(s.clone()), v, "n = {n}");
            assert_eq!(s, shuffle(&v, 5));
            if n >= 1000 {
                assert_ne!(s, v);
                assert_ne!(s, shuffle(&v, 6));
            }
        }
        // Pairs with no shots are skipped.
        let counts = [(4, 0), (7, 2), (9, 0), (1, 3 * BUCKET as u64), (2, 0)];
        let s = shuffled(&counts, 1);
        assert_eq!(s.len(), 3 * BUCKET + 2);
        assert_eq!(s.iter().filter(|&&x| x == 7).count(), 2);
        assert!(s.iter().all(|&x| x == 7 || x == 1));
    }

    #[test]
    fn the_same_on_one_and_two_threads() {
        let v: Vec<u64> = (0..(3 * PIECE) as u64).collect();
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("pool");
        let one = pool(1).install(|| shuffle(&v, 9));
        let two = pool(2).install(|| shuffle(&v, 9));
        assert_eq!(one, two);
    }

    #[test]
    fn every_element_lands_anywhere_uniformly() {
        // 3 buckets' worth: where the first, a middle and the last element
        // of the input land, over 300 seeds, in 10 equal bins of positions:
        // 30 landings expected per bin.
        let n = 3 * BUCKET;
        let v: Vec<u64> = (0..n as u64).collect();
        let marked = [0u64, (n / 2) as u64, (n - 1) as u64];
        let mut bins = [[0u32; 10]; 3];
        for seed in 0..300 {
            let s = shuffle(&v, seed);
            for (pos, x) in s.iter().enumerate() {
                if let Some(k) = marked.iter().position(|m| m == x) {
                    bins[k][pos * 10 / n] += 1;
                }
            }
        }
        for (k, b) in bins.iter().enumerate() {
            let chi2: f64 = b.iter().map(|&o| (f64::from(o) - 30.0).powi(2) / 30.0).sum();
            // 9 degrees of freedom: P(X > 27.9) = 0.001.
            assert!(chi2 < 27.9, "element {k}: {b:?}, chi2 = {chi2}");
        }
    }
}
