//! Poisson draws that give the same bits on every machine.
//!
//! The dense sampler ([`crate::dense`]) draws one `Poisson(λ)` count per
//! amplitude. Its decisions compare uniforms with values of `exp` and
//! `ln`; the platform's libm may differ from another's in the last bit,
//! and a comparison that lands on such a bit would give another count on
//! another machine. So this module computes them itself, from IEEE basic
//! operations only (`+ - * /`, `sqrt`, conversions and bit manipulation, all
//! correctly rounded or exact everywhere, and never contracted into fused
//! multiply-adds by Rust): the same bits on every CPU, to within a few
//! units in the last place of the true values.
//!
//! - [`small`]: inversion, `λ <=` [`SMALL_MAX`]. The running sums of the
//!   probabilities of `0, 1, 2, ...` are compared with one uniform; the
//!   expected number of steps is `λ + 1`.
//! - [`large`]: Hörmann's transformed rejection with squeeze (PTRS, 1993),
//!   `λ >` [`SMALL_MAX`]: about 1.1 iterations of two uniforms, one `ln`
//!   and one `ln k!` whatever `λ`.

/// The largest mean drawn by inversion: PTRS is valid from 10 on, and
/// inversion costs `λ + 1` steps.
pub(crate) const SMALL_MAX: f64 = 10.0;

/// High and low parts of ln 2: the high part has 32 trailing zero bits, so
/// `k * LN2_HI` is exact for any exponent `k`.
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
pub(crate) const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// `2^k` for `-1022 <= k <= 1023`.
#[inline]
fn pow2(k: i64) -> f64 {
    f64::from_bits(((1023 + k) as u64) << 52)
}

/// `1.5 * 2^52`: adding it to a double of magnitude below `2^51` and
/// subtracting it again rounds the double to the nearest integer (ties to
/// even), in two vectorizable adds.
pub(crate) const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `e^-x` for `0 <= x <= 700` (the range of the dense sampler's means),
/// to about one unit in the last place: `x = k ln 2 + r` with `k` the
/// nearest integer to `x / ln 2` and `|r| <= ln 2 / 2`, then a degree-13
/// Taylor polynomial of `e^r` times `2^k`. `counts::small8` computes the
/// same operations 8 lanes at a time.
#[inline]
pub(crate) fn exp_neg(x: f64) -> f64 {
    let y = -x;
    let k = (y * INV_LN2 + ROUNDER) - ROUNDER;
    let r = (y - k * LN2_HI) - k * LN2_LO;
    let mut p = INV_FACT[0];
    for c in &INV_FACT[1..] {
        p = p * r + c;
    }
    p = p * r + 1.0;
    p * pow2(k as i64)
}

/// 1/j! for j = 13 down to 1: [`exp_neg`]'s Horner coefficients (each
/// factorial is exact in a double, so each is correctly rounded).
pub(crate) const INV_FACT: [f64; 13] = {
    let mut c = [0.0; 13];
    let mut j = 1;
    let mut fact = 1.0;
    while j <= 13 {
        fact *= j as f64;
        c[13 - j] = 1.0 / fact;
        j += 1;
    }
    c
};

/// The natural logarithm of a positive finite `x`, to a few units in the
/// last place: `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`, then
/// `ln m = 2 atanh(s)` with `s = (m - 1) / (m + 1)`, `|s| < 0.172`, as an
/// odd series to `s^23`. `ln 0` is minus infinity.
pub(crate) fn ln(x: f64) -> f64 {
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    let (mut x, mut e) = (x, 0i64);
    if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        x *= pow2(54);
        e -= 54;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    // 1/(2j + 1) for j = 11 down to 1.
    let mut p = 1.0 / 23.0;
    for d in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        p = p * z + 1.0 / d;
    }
    let ln_m = 2.0 * s + 2.0 * s * (z * p);
    let e = e as f64;
    e * LN2_HI + (e * LN2_LO + ln_m)
}

/// `k!` for `k < 16`, exact (15! < 2^53).
pub(crate) const FACTORIALS: [f64; 16] = {
    let mut f = [1.0; 16];
    let mut k = 2;
    while k < 16 {
        f[k] = f[k - 1] * k as f64;
        k += 1;
    }
    f
};

/// `ln(2 pi) / 2`.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln k!`: the log of the exact factorial below 16, Stirling's series
/// above (its first omitted term is under `1e-16` there).
pub(crate) fn ln_factorial(k: u64) -> f64 {
    if k < 16 {
        return ln(FACTORIALS[k as usize]);
    }
    let x = k as f64 + 1.0;
    let z = 1.0 / (x * x);
    // Bernoulli terms B_2j / (2j (2j - 1)), j = 5 down to 1.
    let series = ((((1.0 / 1188.0) * z - 1.0 / 1680.0) * z + 1.0 / 1260.0) * z - 1.0 / 360.0) * z
        + 1.0 / 12.0;
    (x - 0.5) * ln(x) - x + HALF_LN_2PI + series / x
}

/// The most steps of [`small`]: far past where the running sum stops
/// growing for any mean up to [`SMALL_MAX`].
pub(crate) const SMALL_STEPS: usize = 96;

/// `1 / k` for `k < SMALL_STEPS` (entry 0 unused): [`small`] multiplies
/// instead of dividing.
pub(crate) static RECIPROCALS: [f64; SMALL_STEPS] = {
    let mut r = [0.0; SMALL_STEPS];
    let mut k = 1;
    while k < SMALL_STEPS {
        r[k] = 1.0 / k as f64;
        k += 1;
    }
    r
};

/// A `Poisson(lambda)` draw for `0 <= lambda <=` [`SMALL_MAX`] by inversion
/// of the uniform `u` in `[0, 1)`: the least `k` whose running probability
/// exceeds `u`, with `P(k) = P(k - 1) * lambda * (1 / k)`. Where the
/// running sum stops growing (the tail below half an ulp of 1), the draw
/// stops there. `counts::small8` computes the same 8 lanes at a time.
#[inline]
pub(crate) fn small(lambda: f64, u: f64) -> u64 {
    let mut p = exp_neg(lambda);
    let mut cdf = p;
    let mut k = 0usize;
    while u >= cdf && k + 1 < SMALL_STEPS {
        k += 1;
        p = p * lambda * RECIPROCALS[k];
        let next = cdf + p;
        if next == cdf {
            break;
        }
        cdf = next;
    }
    k as u64
}

/// `x` rounded down to an integer, by conversions (inlined everywhere,
/// unlike `f64::floor` without SSE4.1, which is a call into libm).
#[inline]
fn floor(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        if t > x { t - 1.0 } else { t }
    } else {
        // Already an integer, or infinite.
        x
    }
}

/// A uniform in `[0, 1)` with 53 random bits of `word`.
#[inline]
fn uniform(word: u64) -> f64 {
    (word >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// PTRS's tries before [`large`] gives up (each succeeds with probability
/// above 0.8; the cap is never reached in practice but bounds the words a
/// draw reads).
pub(crate) const LARGE_TRIES: u64 = 1 << 12;

/// PTRS's constants for mean `lambda`: `(b, a, 1 / alpha, v_r)`.
#[inline]
pub(crate) fn ptrs_constants(lambda: f64) -> (f64, f64, f64, f64) {
    let sq = lambda.sqrt();
    let b = 0.931 + 2.53 * sq;
    let a = -0.059 + 0.024_83 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let v_r = 0.9277 - 3.6224 / (b - 2.0);
    (b, a, inv_alpha, v_r)
}

/// A `Poisson(lambda)` draw for `lambda >` [`SMALL_MAX`] (and finite), by
/// PTRS (Hörmann, "The transformed rejection method for generating Poisson
/// random variables", 1993). Try `t` reads words `2 t` and `2 t + 1` of
/// `words` (`u`, then `v`); after [`LARGE_TRIES`] failed tries (never seen)
/// the draw is `floor(lambda)`. `dense::large` computes the same 8 lanes
/// at a time.
pub(crate) fn large(lambda: f64, mut words: impl FnMut() -> u64) -> u64 {
    let (b, a, inv_alpha, v_r) = ptrs_constants(lambda);
    // Only the full test needs these logarithms: most draws end in the
    // squeeze first.
    let mut logs = None;
    for _ in 0..LARGE_TRIES {
        let u = uniform(words()) - 0.5;
        let v = uniform(words());
        let us = 0.5 - u.abs();
        let k = floor((2.0 * a / us + b) * u + lambda + 0.43);
        if us >= 0.07 && v <= v_r {
            // `k` >= 0 here (the squeeze region lies within the support).
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        let k = k as u64;
        let &mut (ln_lambda, ln_inv_alpha) =
            logs.get_or_insert_with(|| (ln(lambda), ln(inv_alpha)));
        let lhs = ln(v) + ln_inv_alpha - ln(a / (us * us) + b);
        let rhs = -lambda + k as f64 * ln_lambda - ln_factorial(k);
        if lhs <= rhs {
            return k;
        }
    }
    floor(lambda) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use rand::RngCore;

    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn exp_and_ln_are_within_a_few_ulps_of_libm() {
        let mut x = 0.0;
        while x < 700.0 {
            assert!(ulps(exp_neg(x), (-x).exp()) <= 2, "exp(-{x})");
            x += 0.013_7;
        }
        for &x in &[1e-310, 1e-300, 1e-20, 0.1, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 10.0, 1e6, 1e300] {
            assert!(ulps(ln(x), x.ln()) <= 2, "ln {x}: {} vs {}", ln(x), x.ln());
        }
        let mut x = 1e-3;
        while x < 1e4 {
            assert!(ulps(ln(x), x.ln()) <= 2, "ln {x}");
            x *= 1.001_7;
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn ln_factorial_matches_the_sum_of_logs() {
        let mut sum = 0.0f64;
        for k in 1..=5000u64 {
            sum += (k as f64).ln();
            let got = ln_factorial(k);
            assert!((got - sum).abs() <= 1e-13 * sum.max(1.0), "{k}: {got} vs {sum}");
        }
        assert_eq!(ln_factorial(0), 0.0);
        assert_eq!(ln_factorial(1), 0.0);
    }

    /// Chi-square of `draws` Poisson(lambda) draws against the pmf, over
    /// the outcomes with an expected count of at least 5 and the tails
    /// pooled; returns (statistic, degrees of freedom).
    fn chi_square(lambda: f64, draws: u32, mut draw: impl FnMut() -> u64) -> (f64, usize) {
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..draws {
            *seen.entry(draw()).or_insert(0u32) += 1;
        }
        let pmf = |k: u64| (-lambda + k as f64 * lambda.ln() - ln_factorial(k)).exp();
        let (mut chi2, mut cells, mut rest_p, mut rest_o) = (0.0, 0usize, 1.0, f64::from(draws));
        let top = (lambda + 10.0 * lambda.sqrt() + 10.0) as u64;
        for k in 0..top {
            let e = pmf(k) * f64::from(draws);
            if e < 5.0 {
                continue;
            }
            let o = f64::from(seen.get(&k).copied().unwrap_or(0));
            chi2 += (o - e).powi(2) / e;
            cells += 1;
            rest_p -= pmf(k);
            rest_o -= o;
        }
        let e = rest_p * f64::from(draws);
        if e >= 5.0 {
            chi2 += (rest_o - e).powi(2) / e;
            cells += 1;
        }
        (chi2, cells - 1)
    }

    #[test]
    fn draws_pass_a_chi_square_test() {
        for (i, &lambda) in [0.01, 0.3, 1.0, 4.5, 10.0, 10.5, 37.0, 400.0, 1e5].iter().enumerate() {
            let mut rng = stream(5, 99, i as u64);
            let (chi2, dof) = if lambda <= SMALL_MAX {
                chi_square(lambda, 100_000, || small(lambda, uniform(rng.next_u64())))
            } else {
                chi_square(lambda, 100_000, || large(lambda, || rng.next_u64()))
            };
            // Far above the 0.999 quantile (about dof + 3.1 sqrt(2 dof) + 6):
            // the test is for a wrong distribution, not a 1-in-1000 fluke.
            let limit = dof as f64 + 4.0 * (2.0 * dof as f64).sqrt() + 10.0;
            assert!(chi2 < limit, "lambda {lambda}: chi2 {chi2} with {dof} dof");
        }
    }

    #[test]
    fn inversion_edges() {
        assert_eq!(small(0.0, 0.0), 0);
        assert_eq!(small(0.0, 1.0 - f64::EPSILON / 2.0), 0);
        assert_eq!(small(1e-300, 0.999), 0);
        // The largest uniform ends in the tail, not in a loop.
        assert!(small(SMALL_MAX, 1.0 - f64::EPSILON / 2.0) < 60);
        assert_eq!(small(2.0, 0.0), 0);
    }
}
