//! Exact binomial draws from random bits alone, the same on every machine.
//!
//! Splitting `k` shots between two halves of the state is a draw from
//! `Binomial(k, p)`. The usual fast samplers (BTPE, as in `rand_distr`)
//! evaluate `ln`, `exp` and `powf` through the platform's libm, whose last
//! bit differs between implementations and CPUs; an acceptance test that
//! lands on such a bit would give another count on another machine, and a
//! seed must give identical results everywhere. So this module draws
//! binomials with integer operations only.
//!
//! # The digit-by-digit method
//!
//! A trial succeeds when its uniform `U = 0.u1 u2 u3 ...` (binary) is below
//! `p = 0.b1 b2 b3 ...`, which is decided at the first digit where they
//! differ. Of the `m` trials still tied after `j - 1` digits, the number
//! whose digit `j` is 0 is `Binomial(m, 1/2)`: the zero bits of `m` random
//! bits. When `b_j = 1` those trials are below `p` (counted) and the others
//! stay tied; when `b_j = 0` the ones with a 1 are above `p` and those with a
//! 0 stay tied. The tied trials about halve with every digit, so a draw
//! costs about `2k` random bits plus one 64-bit word per digit while any
//! trial is tied (about `log2 k` words), with no floating point at all.
//!
//! `p` is used to 64 binary digits (truncated): a bias below `2^-64` per
//! trial, far under any statistical resolution of a simulator's shots.

use rand::RngCore;

/// A draw from `Binomial(n, p)` from `rng`'s bits; `p` outside `[0, 1]`
/// (or NaN) is clamped (NaN counts as 0).
pub(crate) fn binomial(rng: &mut impl RngCore, n: u64, p: f64) -> u64 {
    // `p * 2^64` is an exact scaling; the cast truncates to the 64 digits
    // (and saturates at p >= 1, handled first).
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let digits = (p * 18_446_744_073_709_551_616.0) as u64;
    binomial_fixed(rng, n, digits)
}

/// `Binomial(n, digits / 2^64)`.
fn binomial_fixed(rng: &mut impl RngCore, n: u64, digits: u64) -> u64 {
    let mut below = 0u64;
    let mut tied = n;
    let mut d = digits;
    // Digits after the last 1 of `p` can only send tied trials above it.
    while tied > 0 && d != 0 {
        let zeros = tied - ones(rng, tied);
        if d >> 63 == 1 {
            below += zeros;
            tied -= zeros;
        } else {
            tied = zeros;
        }
        d <<= 1;
    }
    below
}

/// The number of ones among `m` random bits.
fn ones(rng: &mut impl RngCore, m: u64) -> u64 {
    let mut left = m;
    let mut count = 0u64;
    let mut buf = [0u64; 32];
    while left >= 64 {
        let words = usize::try_from(left / 64).unwrap_or(usize::MAX).min(buf.len());
        let part = &mut buf[..words];
        for w in part.iter_mut() {
            *w = rng.next_u64();
        }
        count += part.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        left -= 64 * words as u64;
    }
    if left > 0 {
        let w = rng.next_u64() & ((1u64 << left) - 1);
        count += u64::from(w.count_ones());
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{domain, stream};

    #[test]
    fn edges_are_exact() {
        let mut rng = stream(1, domain::CHUNK_SPLIT, 0);
        assert_eq!(binomial(&mut rng, 0, 0.5), 0);
        assert_eq!(binomial(&mut rng, 10, 0.0), 0);
        assert_eq!(binomial(&mut rng, 10, -1.0), 0);
        assert_eq!(binomial(&mut rng, 10, f64::NAN), 0);
        assert_eq!(binomial(&mut rng, 10, 1.0), 10);
        assert_eq!(binomial(&mut rng, 10, 2.0), 10);
        assert!(binomial(&mut rng, 10, 0.5) <= 10);
        // The tiniest positive p almost never succeeds.
        assert_eq!(binomial(&mut rng, 1_000, 1e-300), 0);
    }

    #[test]
    fn mean_and_variance_match() {
        // Several regimes: many trials, few, tiny and large p, p with a
        // long binary expansion.
        let cases = [(1_000_000u64, 0.5), (1000, 0.1), (37, 0.73), (100_000, 1e-4), (50, 0.999)];
        for (i, &(n, p)) in cases.iter().enumerate() {
            let mut rng = stream(7, domain::CHUNK_SPLIT, i as u64);
            let draws = 4000;
            let xs: Vec<f64> = (0..draws).map(|_| binomial(&mut rng, n, p) as f64).collect();
            assert!(xs.iter().all(|&x| x <= n as f64));
            let mean = xs.iter().sum::<f64>() / f64::from(draws);
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(draws - 1);
            let (m, v) = (n as f64 * p, n as f64 * p * (1.0 - p));
            // The mean's standard error is sqrt(v / draws); the sample
            // variance's relative error about sqrt(2 / draws) = 2.2%.
            assert!((mean - m).abs() < 5.0 * (v / f64::from(draws)).sqrt(), "{n} {p}: {mean}");
            assert!((var / v - 1.0).abs() < 0.12, "{n} {p}: variance {var} vs {v}");
        }
    }

    #[test]
    fn small_cases_pass_a_chi_square_test() {
        // Binomial(6, 0.3): every outcome's frequency.
        let (n, p) = (6u64, 0.3);
        let draws = 60_000u32;
        let mut rng = stream(3, domain::CHUNK_SPLIT, 0);
        let mut seen = [0u32; 7];
        for _ in 0..draws {
            seen[binomial(&mut rng, n, p) as usize] += 1;
        }
        let mut chi2 = 0.0;
        let mut choose = 1.0;
        for (k, &o) in seen.iter().enumerate() {
            let pk = choose * p.powi(k as i32) * (1.0 - p).powi((n - k as u64) as i32);
            let e = pk * f64::from(draws);
            chi2 += (f64::from(o) - e).powi(2) / e;
            choose = choose * (n - k as u64) as f64 / (k as f64 + 1.0);
        }
        // 6 degrees of freedom: P(X > 22.46) = 0.001.
        assert!(chi2 < 22.46, "chi2 = {chi2}, {seen:?}");
    }

    #[test]
    fn a_stream_gives_the_same_draws() {
        let draw = || {
            let mut rng = stream(11, domain::CHUNK_SPLIT, 5);
            (0..50).map(|i| binomial(&mut rng, 1000 + i, 0.37)).collect::<Vec<_>>()
        };
        assert_eq!(draw(), draw());
    }
}
