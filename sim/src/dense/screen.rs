//! The screen: which amplitudes may have an arrival at all.
//!
//! Amplitude `i`'s uniform is `u_i = (w_i 2^21 + x_i) / 2^53`. Its top 32
//! bits `w_i` come from one SplitMix64 output shared by two amplitudes
//! (amplitude `16 b + j` takes the high half of output `8 b + j`,
//! amplitude `16 b + 8 + j` its low half: the order one vector of 8
//! outputs serves 16 amplitudes in); its 21 low bits `x_i` come from
//! another key and are only drawn for the amplitudes the screen passes.
//!
//! `u_i < e^-λ` (no arrival) whenever `u_i < 1 - λ`, since
//! `e^-λ >= 1 - λ`; with `u_i < (w_i + 1) / 2^32` it is enough that
//! `w_i <= 2^32 (1 - ε) - 1 - 2^32 λ`, with `ε` far above the error of the
//! computed `e^-λ` and of this bound's own rounding. Most amplitudes of a
//! spread state fail it and cost one mass, half a hash and one comparison;
//! the count of those that pass is decided in full (see [`super`]), so the
//! screen changes no result, only the work.

use crate::ops::C;

/// SplitMix64's increment.
pub(super) const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// `2^32 (1 - ε) - 1` with `ε = 2^-46`.
const BOUND: f64 = 4_294_967_296.0 * (1.0 - 1.0 / 70_368_744_177_664.0) - 1.0;

/// SplitMix64's output at counter `c` of `key`.
#[inline(always)]
pub(super) fn mix(key: u64, c: u64) -> u64 {
    let mut z = key.wrapping_add(c.wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 32 bits `w_i` of amplitude `i`'s uniform (see the module doc).
#[inline(always)]
pub(super) fn word(key: u64, i: u64) -> u64 {
    let h = mix(key, ((i >> 4) << 3) | (i & 7));
    if i & 8 == 0 { h >> 32 } else { h & 0xffff_ffff }
}

/// Calls `pass(i, p_i, w_i)` for every amplitude `i` of `a` (the first has
/// index `origin`) that the screen passes, in index order, with its mass
/// `p_i = re^2 + im^2` and its word (as a double, exactly). `scale32` is
/// the scale of the means times `2^32`.
#[inline]
pub(super) fn screen(
    key: u64,
    scale32: f64,
    a: &[C],
    origin: u64,
    pass: impl FnMut(u64, f64, f64),
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            avx512::screen(key, scale32, a, origin, pass);
            return;
        }
    }
    portable(key, scale32, a, origin, pass);
}

/// The screen one amplitude at a time.
#[inline]
pub(super) fn portable(
    key: u64,
    scale32: f64,
    a: &[C],
    origin: u64,
    mut pass: impl FnMut(u64, f64, f64),
) {
    for (i, x) in (origin..).zip(a) {
        let p = x.re * x.re + x.im * x.im;
        let w = word(key, i) as f64;
        let bound = BOUND - p * scale32;
        // A NaN mass passes, so that its count reports it.
        if w > bound || bound.is_nan() {
            pass(i, p, w);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::{BOUND, C, GAMMA, portable, prefetch};
    use std::arch::x86_64::{
        __m512i, _CMP_NLE_UQ, _mm512_add_epi64, _mm512_add_pd, _mm512_and_si512,
        _mm512_cmp_pd_mask, _mm512_cvtepu64_pd, _mm512_loadu_pd, _mm512_mul_pd, _mm512_mullo_epi64,
        _mm512_permutex2var_pd, _mm512_set_epi64, _mm512_set1_epi64, _mm512_set1_pd,
        _mm512_srli_epi64, _mm512_storeu_pd, _mm512_sub_pd, _mm512_xor_si512,
    };

    /// SplitMix64's output in each lane at state `z` (`key + c GAMMA`, see
    /// [`super::mix`]): the sampler's one vector hash.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    pub(in crate::dense) fn finish_mix(z: __m512i) -> __m512i {
        let mut h = _mm512_xor_si512(z, _mm512_srli_epi64::<30>(z));
        h = _mm512_mullo_epi64(h, _mm512_set1_epi64(0xBF58_476D_1CE4_E5B9_u64 as i64));
        h = _mm512_xor_si512(h, _mm512_srli_epi64::<27>(h));
        h = _mm512_mullo_epi64(h, _mm512_set1_epi64(0x94D0_49BB_1331_11EB_u64 as i64));
        _mm512_xor_si512(h, _mm512_srli_epi64::<31>(h))
    }

    /// [`super::mix`] of `key` at the counters of each lane.
    #[target_feature(enable = "avx512f,avx512dq")]
    #[inline]
    pub(in crate::dense) fn mix8(key: u64, c: __m512i) -> __m512i {
        finish_mix(_mm512_add_epi64(
            _mm512_set1_epi64(key as i64),
            _mm512_mullo_epi64(c, _mm512_set1_epi64(GAMMA as i64)),
        ))
    }

    /// [`super::screen`] with AVX-512, 16 amplitudes at a time: the same
    /// masses (`re * re + im * im`), bounds and words, so the same passes.
    #[allow(unsafe_code)]
    pub(super) fn screen(
        key: u64,
        scale32: f64,
        a: &[C],
        origin: u64,
        mut pass: impl FnMut(u64, f64, f64),
    ) {
        // Up to a multiple of 16, one at a time.
        let head = (origin.wrapping_neg() % 16).min(a.len() as u64) as usize;
        portable(key, scale32, &a[..head], origin, &mut pass);
        let (blocks, tail) = a[head..].as_chunks::<16>();
        let start = origin + head as u64;
        // SAFETY: the CPU has avx512f and avx512dq (checked by the caller,
        // the only one).
        unsafe { blocks16(key, scale32, blocks, start, &mut pass) };
        let after = start + 16 * blocks.len() as u64;
        portable(key, scale32, tail, after, &mut pass);
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    #[allow(unsafe_code)]
    fn blocks16(
        key: u64,
        scale32: f64,
        blocks: &[[C; 16]],
        start: u64,
        pass: &mut impl FnMut(u64, f64, f64),
    ) {
        let evens = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
        let odds = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
        let bound = _mm512_set1_pd(BOUND);
        let scale = _mm512_set1_pd(scale32);
        let low32 = _mm512_set1_epi64(0xffff_ffff);
        // Counters 8 b + j, j = 0..8, for the first block b = start / 16.
        let lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        let mut z = _mm512_add_epi64(
            _mm512_set1_epi64(key.wrapping_add((start >> 1).wrapping_mul(GAMMA)) as i64),
            _mm512_mullo_epi64(lanes, _mm512_set1_epi64(GAMMA as i64)),
        );
        let step = _mm512_set1_epi64(GAMMA.wrapping_mul(8) as i64);
        // The same place one slice further: the next block of a gate pass.
        let ahead = 32 * blocks.len();
        for (b, block) in blocks.iter().enumerate() {
            let x = block.as_ptr().cast::<f64>();
            for line in 0..4 {
                prefetch(x.wrapping_add(ahead + 8 * line));
            }
            // SAFETY: a block is 16 complex numbers, 32 contiguous f64
            // (`Complex<f64>` is `repr(C)`: re then im); the loads read 0..32.
            let [v0, v1, v2, v3] = [0, 8, 16, 24].map(|k| unsafe { _mm512_loadu_pd(x.add(k)) });
            let (s0, s1) = (_mm512_mul_pd(v0, v0), _mm512_mul_pd(v1, v1));
            let (s2, s3) = (_mm512_mul_pd(v2, v2), _mm512_mul_pd(v3, v3));
            let p_lo = _mm512_add_pd(
                _mm512_permutex2var_pd(s0, evens, s1),
                _mm512_permutex2var_pd(s0, odds, s1),
            );
            let p_hi = _mm512_add_pd(
                _mm512_permutex2var_pd(s2, evens, s3),
                _mm512_permutex2var_pd(s2, odds, s3),
            );
            let t_lo = _mm512_sub_pd(bound, _mm512_mul_pd(p_lo, scale));
            let t_hi = _mm512_sub_pd(bound, _mm512_mul_pd(p_hi, scale));
            let h = finish_mix(z);
            z = _mm512_add_epi64(z, step);
            let w_lo = _mm512_cvtepu64_pd(_mm512_srli_epi64::<32>(h));
            let w_hi = _mm512_cvtepu64_pd(_mm512_and_si512(h, low32));
            let hit = u32::from(_mm512_cmp_pd_mask::<_CMP_NLE_UQ>(w_lo, t_lo))
                | u32::from(_mm512_cmp_pd_mask::<_CMP_NLE_UQ>(w_hi, t_hi)) << 8;
            if hit != 0 {
                let (mut p, mut w) = ([0.0f64; 16], [0.0f64; 16]);
                // SAFETY: `p` and `w` are 16 contiguous f64; the stores
                // write 0..16.
                unsafe {
                    _mm512_storeu_pd(p.as_mut_ptr(), p_lo);
                    _mm512_storeu_pd(p.as_mut_ptr().add(8), p_hi);
                    _mm512_storeu_pd(w.as_mut_ptr(), w_lo);
                    _mm512_storeu_pd(w.as_mut_ptr().add(8), w_hi);
                }
                let base = start + 16 * b as u64;
                let mut m = hit;
                while m != 0 {
                    let j = m.trailing_zeros() as usize;
                    pass(base + j as u64, p[j], w[j]);
                    m &= m - 1;
                }
            }
        }
    }
}

/// Asks for the cache line holding `at` to be brought into L2.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch(at: *const f64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        // SAFETY: a prefetch is only a hint: it never faults, whatever the
        // address, and does not access memory in Rust's sense.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(at.cast()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_screens_pass_the_same_amplitudes() {
        let a: Vec<C> = (0..5000u32)
            .map(|i| {
                let x = f64::from(i.wrapping_mul(2_654_435_761) % 1000) / 997.0;
                C::new(x.sin() * 2e-3, (x * 3.0).cos() * 1e-3)
            })
            .collect();
        for origin in [0u64, 3, 16, 1 << 20] {
            let (mut v, mut s) = (Vec::new(), Vec::new());
            screen(77, 1e6 * 4_294_967_296.0, &a[5..], origin, |i, p, w| {
                v.push((i, p.to_bits(), w))
            });
            portable(77, 1e6 * 4_294_967_296.0, &a[5..], origin, |i, p, w| {
                s.push((i, p.to_bits(), w))
            });
            assert_eq!(v, s);
            assert!(!v.is_empty() && v.len() < a.len());
        }
    }

    #[test]
    fn words_are_uniform_halves() {
        // Amplitudes 16 b + j and 16 b + 8 + j share output 8 b + j.
        let h = mix(5, 8 * 3 + 2);
        assert_eq!(word(5, 16 * 3 + 2), h >> 32);
        assert_eq!(word(5, 16 * 3 + 10), h & 0xffff_ffff);
        let mean = (0..100_000u64).map(|i| word(9, i) as f64).sum::<f64>() / 100_000.0;
        assert!((mean / 4_294_967_296.0 - 0.5).abs() < 0.005, "{mean}");
    }
}
