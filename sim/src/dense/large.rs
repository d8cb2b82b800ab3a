//! The counts of amplitudes whose mean is above [`poisson::SMALL_MAX`]:
//! PTRS 8 lanes at a time ([`large8`]), the same bits as
//! [`poisson::large`] lane by lane.
//!
//! Amplitude `i`'s PTRS words are SplitMix64 at counters `i 2^13 + t`
//! ([`poisson::LARGE_TRIES`] tries of 2 words fit below `2^13`) of the
//! attempt's PTRS key: a pure function of the amplitude, like its uniform,
//! so the 8 lanes draw in lockstep what each would draw alone.

use super::screen::mix;
use crate::poisson;

/// Lanes per batch.
pub(super) const LANES: usize = 8;
/// log2 of the counters of one amplitude's words.
const WORD_BITS: u32 = 13;
const _: () = assert!(2 * poisson::LARGE_TRIES <= 1 << WORD_BITS);

/// The words of amplitude `index`'s PTRS draw.
pub(super) fn words(key: u64, index: u64) -> impl FnMut() -> u64 {
    let mut c = index << WORD_BITS;
    move || {
        let w = mix(key, c);
        c += 1;
        w
    }
}

/// `poisson::large(lambda[j], words(key, index[j]))` for each lane in
/// `live` (the others give 0); every live mean is finite and above
/// [`poisson::SMALL_MAX`].
pub(super) fn large8(
    key: u64,
    index: &[u64; LANES],
    lambda: &[f64; LANES],
    live: u8,
) -> [u64; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            return avx512::large8(key, index, lambda, live);
        }
    }
    portable(key, index, lambda, live)
}

/// [`large8`] one lane at a time.
pub(super) fn portable(
    key: u64,
    index: &[u64; LANES],
    lambda: &[f64; LANES],
    live: u8,
) -> [u64; LANES] {
    std::array::from_fn(|j| {
        if live >> j & 1 == 1 { poisson::large(lambda[j], words(key, index[j])) } else { 0 }
    })
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{LANES, WORD_BITS};
    use crate::dense::screen::avx512::mix8;
    use crate::poisson::{FACTORIALS, HALF_LN_2PI, LARGE_TRIES, LN2_HI, LN2_LO};
    use std::arch::x86_64::{
        __m512d, __m512i, __mmask8, _CMP_EQ_OQ, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LE_OQ, _CMP_LT_OQ,
        _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEG_INF, _mm512_abs_pd, _mm512_add_epi64, _mm512_add_pd,
        _mm512_and_si512, _mm512_castpd_si512, _mm512_castsi512_pd, _mm512_cmp_pd_mask,
        _mm512_cvtepi64_pd, _mm512_cvtepu64_pd, _mm512_cvttpd_epi64, _mm512_cvttpd_epu64,
        _mm512_div_pd, _mm512_loadu_pd, _mm512_loadu_si512, _mm512_mask_add_epi64,
        _mm512_mask_blend_pd, _mm512_mask_mov_epi64, _mm512_mask_mul_pd, _mm512_max_pd,
        _mm512_mul_pd, _mm512_or_si512, _mm512_permutex2var_pd, _mm512_roundscale_pd,
        _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_pd, _mm512_setzero_si512,
        _mm512_slli_epi64, _mm512_sqrt_pd, _mm512_srli_epi64, _mm512_storeu_si512,
        _mm512_sub_epi64, _mm512_sub_pd,
    };

    /// [`super::large8`] with AVX-512.
    #[allow(unsafe_code)]
    pub(super) fn large8(
        key: u64,
        index: &[u64; LANES],
        lambda: &[f64; LANES],
        live: u8,
    ) -> [u64; LANES] {
        // SAFETY: the CPU has avx512f and avx512dq (checked by the caller,
        // the only one).
        unsafe { run(key, index, lambda, live) }
    }

    /// SplitMix64 at counters `c` of `key`, as uniforms in `[0, 1)`.
    #[target_feature(enable = "avx512f,avx512dq")]
    fn uniform(key: u64, c: __m512i) -> __m512d {
        let z = mix8(key, c);
        _mm512_mul_pd(
            _mm512_cvtepu64_pd(_mm512_srli_epi64::<11>(z)),
            _mm512_set1_pd(1.0 / (1u64 << 53) as f64),
        )
    }

    /// [`crate::poisson::ln`] of each lane, for positive normal lanes and
    /// zeros (the only ones PTRS passes it).
    #[target_feature(enable = "avx512f,avx512dq")]
    fn ln(x: __m512d) -> __m512d {
        let bits = _mm512_castpd_si512(x);
        let mut e = _mm512_sub_epi64(
            _mm512_and_si512(_mm512_srli_epi64::<52>(bits), _mm512_set1_epi64(0x7ff)),
            _mm512_set1_epi64(1023),
        );
        let mut m = _mm512_castsi512_pd(_mm512_or_si512(
            _mm512_and_si512(bits, _mm512_set1_epi64(0x000f_ffff_ffff_ffff)),
            _mm512_set1_epi64(1023 << 52),
        ));
        let big = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(m, _mm512_set1_pd(std::f64::consts::SQRT_2));
        m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
        e = _mm512_mask_add_epi64(e, big, e, _mm512_set1_epi64(1));
        let f = _mm512_sub_pd(m, _mm512_set1_pd(1.0));
        let s = _mm512_div_pd(f, _mm512_add_pd(_mm512_set1_pd(2.0), f));
        let z = _mm512_mul_pd(s, s);
        let mut p = _mm512_set1_pd(1.0 / 23.0);
        for d in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
            p = _mm512_add_pd(_mm512_mul_pd(p, z), _mm512_set1_pd(1.0 / d));
        }
        let two_s = _mm512_mul_pd(_mm512_set1_pd(2.0), s);
        let ln_m = _mm512_add_pd(two_s, _mm512_mul_pd(two_s, _mm512_mul_pd(z, p)));
        let e = _mm512_cvtepi64_pd(e);
        let r = _mm512_add_pd(
            _mm512_mul_pd(e, _mm512_set1_pd(LN2_HI)),
            _mm512_add_pd(_mm512_mul_pd(e, _mm512_set1_pd(LN2_LO)), ln_m),
        );
        let zero = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(x, _mm512_setzero_pd());
        _mm512_mask_blend_pd(zero, r, _mm512_set1_pd(f64::NEG_INFINITY))
    }

    /// [`crate::poisson::ln_factorial`] of each lane (`k` integral, >= 0).
    #[target_feature(enable = "avx512f,avx512dq")]
    #[allow(unsafe_code)]
    fn ln_factorial(k: __m512d) -> __m512d {
        let small = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(k, _mm512_set1_pd(16.0));
        // SAFETY: `FACTORIALS` is 16 contiguous f64; the loads read 0..16.
        let (lo, hi) = unsafe {
            (_mm512_loadu_pd(FACTORIALS.as_ptr()), _mm512_loadu_pd(FACTORIALS.as_ptr().add(8)))
        };
        let at = _mm512_cvttpd_epi64(_mm512_mask_blend_pd(small, _mm512_setzero_pd(), k));
        let table = ln(_mm512_permutex2var_pd(lo, at, hi));
        let x = _mm512_add_pd(k, _mm512_set1_pd(1.0));
        let z = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(x, x));
        let mut series = _mm512_set1_pd(1.0 / 1188.0);
        for c in [-1.0 / 1680.0, 1.0 / 1260.0, -1.0 / 360.0] {
            series = _mm512_add_pd(_mm512_mul_pd(series, z), _mm512_set1_pd(c));
        }
        series = _mm512_add_pd(_mm512_mul_pd(series, z), _mm512_set1_pd(1.0 / 12.0));
        let stirling = _mm512_add_pd(
            _mm512_add_pd(
                _mm512_sub_pd(_mm512_mul_pd(_mm512_sub_pd(x, _mm512_set1_pd(0.5)), ln(x)), x),
                _mm512_set1_pd(HALF_LN_2PI),
            ),
            _mm512_div_pd(series, x),
        );
        _mm512_mask_blend_pd(small, stirling, table)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    #[allow(unsafe_code)]
    fn run(key: u64, index: &[u64; LANES], lambda: &[f64; LANES], live: u8) -> [u64; LANES] {
        // SAFETY: both are 8 contiguous 64-bit values.
        let (i, l) = unsafe {
            (_mm512_loadu_si512(index.as_ptr().cast()), _mm512_loadu_pd(lambda.as_ptr()))
        };
        let set = _mm512_set1_pd;
        // `poisson::ptrs_constants`, lane by lane.
        let b = _mm512_add_pd(set(0.931), _mm512_mul_pd(set(2.53), _mm512_sqrt_pd(l)));
        let a = _mm512_add_pd(set(-0.059), _mm512_mul_pd(set(0.024_83), b));
        let inv_alpha =
            _mm512_add_pd(set(1.1239), _mm512_div_pd(set(1.1328), _mm512_sub_pd(b, set(3.4))));
        let v_r =
            _mm512_sub_pd(set(0.9277), _mm512_div_pd(set(3.6224), _mm512_sub_pd(b, set(2.0))));
        let two_a = _mm512_mul_pd(set(2.0), a);
        let mut logs: Option<(__m512d, __m512d)> = None;
        let base = _mm512_slli_epi64::<WORD_BITS>(i);
        let mut out = _mm512_setzero_si512();
        let mut active: __mmask8 = live;
        let mut t = 0;
        while active != 0 && t < LARGE_TRIES {
            let c = _mm512_add_epi64(base, _mm512_set1_epi64((2 * t) as i64));
            let u = _mm512_sub_pd(uniform(key, c), set(0.5));
            let v = uniform(key, _mm512_add_epi64(c, _mm512_set1_epi64(1)));
            let us = _mm512_sub_pd(set(0.5), _mm512_abs_pd(u));
            let x = _mm512_add_pd(
                _mm512_add_pd(_mm512_mul_pd(_mm512_add_pd(_mm512_div_pd(two_a, us), b), u), l),
                set(0.43),
            );
            let k = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(x);
            // `k as u64`: negative and NaN to 0.
            let k_int = _mm512_cvttpd_epu64(_mm512_max_pd(k, _mm512_setzero_pd()));
            let squeeze = active
                & _mm512_cmp_pd_mask::<_CMP_GE_OQ>(us, set(0.07))
                & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(v, v_r);
            out = _mm512_mask_mov_epi64(out, squeeze, k_int);
            active &= !squeeze;
            let retry = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(k, _mm512_setzero_pd())
                | (_mm512_cmp_pd_mask::<_CMP_LT_OQ>(us, set(0.013))
                    & _mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, us));
            let full = active & !retry;
            if full != 0 {
                let (ln_l, ln_ia) = *logs.get_or_insert_with(|| (ln(l), ln(inv_alpha)));
                let lhs = _mm512_sub_pd(
                    _mm512_add_pd(ln(v), ln_ia),
                    ln(_mm512_add_pd(_mm512_div_pd(a, _mm512_mul_pd(us, us)), b)),
                );
                let rhs = _mm512_sub_pd(
                    _mm512_add_pd(_mm512_sub_pd(_mm512_setzero_pd(), l), _mm512_mul_pd(k, ln_l)),
                    ln_factorial(_mm512_max_pd(k, _mm512_setzero_pd())),
                );
                let accept = full & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(lhs, rhs);
                out = _mm512_mask_mov_epi64(out, accept, k_int);
                active &= !accept;
            }
            t += 1;
        }
        // Lanes past the cap (never seen): floor(lambda).
        let fallback = _mm512_cvttpd_epu64(_mm512_roundscale_pd::<
            { _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC },
        >(l));
        out = _mm512_mask_mov_epi64(out, active, fallback);
        let mut counts = [0u64; LANES];
        // SAFETY: `counts` is 8 contiguous u64.
        unsafe { _mm512_storeu_si512(counts.as_mut_ptr().cast(), out) };
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_lanes_are_the_scalar_draws() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..4000 {
            let top = [20.0, 200.0, 3000.0, 1e6][round % 4];
            let index: [u64; LANES] = std::array::from_fn(|_| next() >> 24);
            let lambda: [f64; LANES] = std::array::from_fn(|_| {
                poisson::SMALL_MAX + (next() >> 11) as f64 / 2f64.powi(53) * top
            });
            let live = (next() >> 56) as u8 | 1;
            assert_eq!(
                large8(77, &index, &lambda, live),
                portable(77, &index, &lambda, live),
                "{lambda:?}"
            );
        }
    }
}
