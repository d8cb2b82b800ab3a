//! The counts of the amplitudes the screen passes: inversion 8 lanes at a
//! time ([`small8`]), the same bits as [`poisson::small`] lane by lane.

use crate::poisson;

/// Lanes per batch of inversions.
pub(super) const LANES: usize = 8;

/// `poisson::small(lambda[j], u[j])` for each lane (every `lambda[j] <=`
/// [`poisson::SMALL_MAX`]), with AVX-512 when the CPU has it.
#[inline]
pub(super) fn small8(lambda: &[f64; LANES], u: &[f64; LANES]) -> [u64; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            return avx512::small8(lambda, u);
        }
    }
    portable(lambda, u)
}

/// [`small8`] one lane at a time.
pub(super) fn portable(lambda: &[f64; LANES], u: &[f64; LANES]) -> [u64; LANES] {
    std::array::from_fn(|j| poisson::small(lambda[j], u[j]))
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::LANES;
    use crate::poisson::{INV_FACT, LN2_HI, LN2_LO, RECIPROCALS, ROUNDER, SMALL_STEPS};
    use std::arch::x86_64::{
        __m512d, _CMP_EQ_OQ, _CMP_GE_OQ, _mm512_add_epi64, _mm512_add_pd, _mm512_castsi512_pd,
        _mm512_cvtpd_epi64, _mm512_loadu_pd, _mm512_mask_add_epi64, _mm512_mask_cmp_pd_mask,
        _mm512_mask_mov_pd, _mm512_mul_pd, _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_si512,
        _mm512_slli_epi64, _mm512_storeu_si512, _mm512_sub_pd, _mm512_xor_pd,
    };

    /// [`super::small8`] with AVX-512: [`crate::poisson::exp_neg`] and the
    /// inversion steps, operation for operation, in 8 lanes; a lane stops
    /// where the scalar loop would.
    #[allow(unsafe_code)]
    pub(super) fn small8(lambda: &[f64; LANES], u: &[f64; LANES]) -> [u64; LANES] {
        // SAFETY: the CPU has avx512f and avx512dq (checked by the caller,
        // the only one).
        unsafe { run(lambda, u) }
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    #[allow(unsafe_code)]
    fn run(lambda: &[f64; LANES], u: &[f64; LANES]) -> [u64; LANES] {
        // SAFETY: both are 8 contiguous f64.
        let (l, u) = unsafe { (_mm512_loadu_pd(lambda.as_ptr()), _mm512_loadu_pd(u.as_ptr())) };
        let p0 = exp_neg(l);
        let mut p = p0;
        let mut cdf = p0;
        let mut k = _mm512_setzero_si512();
        let one = _mm512_set1_epi64(1);
        let mut active = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(0xff, u, cdf);
        let mut step = 0;
        while active != 0 && step + 1 < SMALL_STEPS {
            step += 1;
            let next_p = _mm512_mul_pd(_mm512_mul_pd(p, l), _mm512_set1_pd(RECIPROCALS[step]));
            p = _mm512_mask_mov_pd(p, active, next_p);
            let next = _mm512_add_pd(cdf, p);
            k = _mm512_mask_add_epi64(k, active, k, one);
            let stuck = _mm512_mask_cmp_pd_mask::<_CMP_EQ_OQ>(active, next, cdf);
            active &= !stuck;
            cdf = _mm512_mask_mov_pd(cdf, active, next);
            active = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(active, u, cdf);
        }
        let mut out = [0u64; LANES];
        // SAFETY: `out` is 8 contiguous u64.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), k) };
        out
    }

    /// `exp_neg` of each lane: the scalar function's operations in order.
    #[target_feature(enable = "avx512f,avx512dq")]
    fn exp_neg(x: __m512d) -> __m512d {
        let y = _mm512_xor_pd(x, _mm512_set1_pd(-0.0));
        let rounder = _mm512_set1_pd(ROUNDER);
        let scaled = _mm512_mul_pd(y, _mm512_set1_pd(std::f64::consts::LOG2_E));
        let k = _mm512_sub_pd(_mm512_add_pd(scaled, rounder), rounder);
        let r = _mm512_sub_pd(
            _mm512_sub_pd(y, _mm512_mul_pd(k, _mm512_set1_pd(LN2_HI))),
            _mm512_mul_pd(k, _mm512_set1_pd(LN2_LO)),
        );
        let mut p = _mm512_set1_pd(INV_FACT[0]);
        for &c in &INV_FACT[1..] {
            p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(c));
        }
        p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(1.0));
        let e = _mm512_add_epi64(_mm512_cvtpd_epi64(k), _mm512_set1_epi64(1023));
        _mm512_mul_pd(p, _mm512_castsi512_pd(_mm512_slli_epi64::<52>(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_lanes_are_the_scalar_draws() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for round in 0..20_000 {
            let top = [1e-6, 0.1, 1.0, 10.0][round % 4];
            let lambda: [f64; LANES] = std::array::from_fn(|_| next() * top);
            let mut u: [f64; LANES] = std::array::from_fn(|_| next());
            if round % 7 == 0 {
                u[round % LANES] = 1.0 - f64::EPSILON / 2.0;
            }
            assert_eq!(small8(&lambda, &u), portable(&lambda, &u), "{lambda:?} {u:?}");
        }
        let zero = [0.0; LANES];
        assert_eq!(small8(&zero, &zero), [0; LANES]);
    }
}
