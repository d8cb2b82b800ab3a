//! The counts of the amplitudes the screen passes, 32 at a time
//! ([`batch`]): each one's full uniform, its mean, and its inversion (the
//! same bits as [`poisson::small`] lane by lane); means above
//! [`poisson::SMALL_MAX`] are left to the caller.
//!
//! A batch is 4 vectors of 8 lanes whose steps interleave: one vector's
//! `exp` and inversion steps form a chain of dependent operations some
//! 250 cycles long, and four independent chains fill the pipelines
//! where one would leave them mostly idle.

use crate::poisson;

/// Lanes per batch.
pub(super) const LANES: usize = 32;

/// What every lane of a batch shares: the scale of the means and the key
/// of the uniforms' low bits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    pub(super) scale: f64,
    pub(super) low_key: u64,
}

/// Amplitude `index[j]`'s count, from its mass `p[j]` and its uniform's
/// top word `w[j]` (see [`super::screen`]): `Poisson(p scale)` by inversion
/// of `u = w 2^-32 + x 2^-53` (exactly its 53 bits), `x` the top 21 bits
/// of SplitMix64 at counter `index` of the low key. Lanes whose mean is
/// above [`poisson::SMALL_MAX`] (or NaN) count 0 and are set in the
/// returned mask, with their mean and uniform in `lambda`; `p = w = 0`
/// pads a batch (count 0).
#[inline]
pub(super) fn batch(
    keys: Keys,
    index: &[u64; LANES],
    p: &[f64; LANES],
    w: &[f64; LANES],
) -> ([u64; LANES], u32, [f64; LANES]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            return avx512::batch(keys, index, p, w);
        }
    }
    portable(keys, index, p, w)
}

/// [`batch`] one lane at a time.
pub(super) fn portable(
    keys: Keys,
    index: &[u64; LANES],
    p: &[f64; LANES],
    w: &[f64; LANES],
) -> ([u64; LANES], u32, [f64; LANES]) {
    let mut counts = [0u64; LANES];
    let mut large = 0u32;
    let mut lambda = [0.0f64; LANES];
    for j in 0..LANES {
        lambda[j] = p[j] * keys.scale;
        let x = (super::screen::mix(keys.low_key, index[j]) >> 43) as f64;
        let u = w[j] * (1.0 / 4_294_967_296.0) + x * (1.0 / (1u64 << 53) as f64);
        if lambda[j] <= poisson::SMALL_MAX {
            counts[j] = poisson::small(lambda[j], u);
        } else {
            large |= 1 << j;
        }
    }
    (counts, large, lambda)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Keys, LANES};
    use crate::dense::screen::avx512::mix8;
    use crate::poisson::{INV_FACT, LN2_HI, LN2_LO, RECIPROCALS, ROUNDER, SMALL_MAX, SMALL_STEPS};
    use std::arch::x86_64::{
        __m512d, _CMP_EQ_OQ, _CMP_GE_OQ, _CMP_LE_OQ, _mm512_add_epi64, _mm512_add_pd,
        _mm512_castsi512_pd, _mm512_cmp_pd_mask, _mm512_cvtepu64_pd, _mm512_cvtpd_epi64,
        _mm512_loadu_pd, _mm512_loadu_si512, _mm512_mask_add_epi64, _mm512_mask_cmp_pd_mask,
        _mm512_mask_mov_pd, _mm512_maskz_mov_pd, _mm512_mul_pd, _mm512_set1_epi64, _mm512_set1_pd,
        _mm512_setzero_pd, _mm512_setzero_si512, _mm512_slli_epi64, _mm512_srli_epi64,
        _mm512_storeu_pd, _mm512_storeu_si512, _mm512_sub_pd, _mm512_xor_pd,
    };

    /// Vectors of 8 lanes per batch.
    const V: usize = LANES / 8;

    /// [`super::batch`] with AVX-512: the same operations lane by lane
    /// ([`crate::poisson::exp_neg`] and the inversion steps); a lane stops
    /// where the scalar loop would.
    #[allow(unsafe_code)]
    pub(super) fn batch(
        keys: Keys,
        index: &[u64; LANES],
        p: &[f64; LANES],
        w: &[f64; LANES],
    ) -> ([u64; LANES], u32, [f64; LANES]) {
        // SAFETY: the CPU has avx512f and avx512dq (checked by the caller,
        // the only one).
        unsafe { run(keys, index, p, w) }
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    #[allow(unsafe_code)]
    fn run(
        keys: Keys,
        index: &[u64; LANES],
        p: &[f64; LANES],
        w: &[f64; LANES],
    ) -> ([u64; LANES], u32, [f64; LANES]) {
        let mut l = [_mm512_setzero_pd(); V];
        let mut u = [_mm512_setzero_pd(); V];
        let mut small = [0u8; V];
        let mut ls = [_mm512_setzero_pd(); V];
        for v in 0..V {
            // SAFETY: each array holds LANES = 8 V contiguous 64-bit values;
            // the loads read 8 v..8 v + 8.
            let (i, p, w) = unsafe {
                (
                    _mm512_loadu_si512(index.as_ptr().add(8 * v).cast()),
                    _mm512_loadu_pd(p.as_ptr().add(8 * v)),
                    _mm512_loadu_pd(w.as_ptr().add(8 * v)),
                )
            };
            l[v] = _mm512_mul_pd(p, _mm512_set1_pd(keys.scale));
            // SplitMix64 at counter `index` of the low key, top 21 bits.
            let z = mix8(keys.low_key, i);
            let x = _mm512_cvtepu64_pd(_mm512_srli_epi64::<43>(z));
            u[v] = _mm512_add_pd(
                _mm512_mul_pd(w, _mm512_set1_pd(1.0 / 4_294_967_296.0)),
                _mm512_mul_pd(x, _mm512_set1_pd(1.0 / (1u64 << 53) as f64)),
            );
            small[v] = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(l[v], _mm512_set1_pd(SMALL_MAX));
            // Large lanes invert mean 0 (count 0) and are reported.
            ls[v] = _mm512_maskz_mov_pd(small[v], l[v]);
        }
        let p0 = exp_neg(ls);
        let mut p = p0;
        let mut cdf = p0;
        let mut k = [_mm512_setzero_si512(); V];
        let one = _mm512_set1_epi64(1);
        let mut active = [0u8; V];
        for v in 0..V {
            active[v] = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(small[v], u[v], cdf[v]);
        }
        let mut step = 0;
        while active.iter().any(|&a| a != 0) && step + 1 < SMALL_STEPS {
            step += 1;
            let r = _mm512_set1_pd(RECIPROCALS[step]);
            for v in 0..V {
                let next_p = _mm512_mul_pd(_mm512_mul_pd(p[v], ls[v]), r);
                p[v] = _mm512_mask_mov_pd(p[v], active[v], next_p);
                let next = _mm512_add_pd(cdf[v], p[v]);
                k[v] = _mm512_mask_add_epi64(k[v], active[v], k[v], one);
                let stuck = _mm512_mask_cmp_pd_mask::<_CMP_EQ_OQ>(active[v], next, cdf[v]);
                active[v] &= !stuck;
                cdf[v] = _mm512_mask_mov_pd(cdf[v], active[v], next);
                active[v] = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(active[v], u[v], cdf[v]);
            }
        }
        let mut out = [0u64; LANES];
        let mut lambda = [0.0f64; LANES];
        let mut large = 0u32;
        for v in 0..V {
            // SAFETY: `out` and `lambda` hold 8 V contiguous 64-bit values;
            // the stores write 8 v..8 v + 8.
            unsafe {
                _mm512_storeu_si512(out.as_mut_ptr().add(8 * v).cast(), k[v]);
                _mm512_storeu_pd(lambda.as_mut_ptr().add(8 * v), l[v]);
            }
            large |= u32::from(!small[v]) << (8 * v);
        }
        (out, large, lambda)
    }

    /// `exp_neg` of each lane: the scalar function's operations in order,
    /// the `V` vectors' steps interleaved.
    #[target_feature(enable = "avx512f,avx512dq")]
    fn exp_neg(x: [__m512d; V]) -> [__m512d; V] {
        let rounder = _mm512_set1_pd(ROUNDER);
        let mut r = [_mm512_setzero_pd(); V];
        let mut k = [_mm512_setzero_pd(); V];
        for v in 0..V {
            let y = _mm512_xor_pd(x[v], _mm512_set1_pd(-0.0));
            let scaled = _mm512_mul_pd(y, _mm512_set1_pd(std::f64::consts::LOG2_E));
            k[v] = _mm512_sub_pd(_mm512_add_pd(scaled, rounder), rounder);
            r[v] = _mm512_sub_pd(
                _mm512_sub_pd(y, _mm512_mul_pd(k[v], _mm512_set1_pd(LN2_HI))),
                _mm512_mul_pd(k[v], _mm512_set1_pd(LN2_LO)),
            );
        }
        let mut p = [_mm512_set1_pd(INV_FACT[0]); V];
        for &c in &INV_FACT[1..] {
            let c = _mm512_set1_pd(c);
            for v in 0..V {
                p[v] = _mm512_add_pd(_mm512_mul_pd(p[v], r[v]), c);
            }
        }
        let one = _mm512_set1_pd(1.0);
        let mut out = [_mm512_setzero_pd(); V];
        for v in 0..V {
            let q = _mm512_add_pd(_mm512_mul_pd(p[v], r[v]), one);
            let e = _mm512_add_epi64(_mm512_cvtpd_epi64(k[v]), _mm512_set1_epi64(1023));
            out[v] = _mm512_mul_pd(q, _mm512_castsi512_pd(_mm512_slli_epi64::<52>(e)));
        }
        out
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
            x
        };
        let keys = Keys { scale: 1e6, low_key: 0xfeed };
        for round in 0..20_000 {
            let top = [1e-12, 1e-7, 1e-6, 1e-5, 1.2e-5][round % 5];
            let index: [u64; LANES] = std::array::from_fn(|_| next() >> 30);
            let p: [f64; LANES] =
                std::array::from_fn(|_| (next() >> 11) as f64 / 2f64.powi(53) * top);
            let mut w: [f64; LANES] = std::array::from_fn(|_| (next() >> 32) as f64);
            if round % 7 == 0 {
                w[round % LANES] = 4_294_967_295.0;
            }
            let (c, large, lambda) = batch(keys, &index, &p, &w);
            let (c2, large2, lambda2) = portable(keys, &index, &p, &w);
            assert_eq!((c, large), (c2, large2), "{p:?} {w:?}");
            assert_eq!(lambda.map(f64::to_bits), lambda2.map(f64::to_bits));
        }
        let zero = [0.0; LANES];
        assert_eq!(batch(keys, &[0; LANES], &zero, &zero).0, [0; LANES]);
        let (_, large, _) = batch(keys, &[0; LANES], &[f64::NAN; LANES], &zero);
        assert_eq!(large, u32::MAX, "a NaN mean is left to the caller");
    }
}
