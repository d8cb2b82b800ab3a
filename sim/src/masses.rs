//! The probability masses the sampler reads instead of the state.
//!
//! A state of `len` amplitudes is cut into aligned *runs* of [`RUN`] = 64
//! amplitudes, each cut into [`RUN_GROUPS`] = 8 *groups* of [`GROUP`] = 8.
//! Its masses are one buffer of [`mass_len`]`(len)` values, in two parts
//! ([`split`]):
//!
//! - `ends`, 8 per run: the running sums of the run's group masses, in
//!   order (so `ends[8 r + g]` is where group `g` of run `r` ends, counting
//!   from the run's start, and `ends[8 r + 7]` is the run's mass);
//! - `runs`, 1 per run: the run's mass again (the same bits as
//!   `ends[8 r + 7]`), contiguous, for the chunk tree and the ends of a
//!   chunk's blocks and runs (see [`crate::draw`]).
//!
//! That is 1/16 + 1/128 of the state's memory. With it, a shot never reads
//! any amplitude but the 8 of the group it lands in (see
//! [`crate::shots`]).
//!
//! Every mass anywhere in the crate is computed by [`fill`], whether the
//! last gate pass records them while its amplitudes are in cache (see
//! `exec::run_stage_with`) or one read pass does ([`compute`]): the same
//! operations in the same order (vectorized, never fused into FMAs), so the
//! same bits, and the shots do not depend on which path ran.
//!
//! The buffers are large (72 MiB at 26 qubits) and a fresh one would be
//! page-faulted in every job, so the state keeps its buffer as scratch and
//! a device pools it with the state's ([`reuse`], `state::BufferPool`).

use crate::ops::C;
use crate::par;
use rayon::prelude::*;

/// log2 of the amplitudes of a group.
pub(crate) const GROUP_BITS: u32 = 3;
/// Amplitudes per group: the most a shot reads from the state.
pub(crate) const GROUP: usize = 1 << GROUP_BITS;
/// log2 of the amplitudes of a run.
pub(crate) const RUN_BITS: u32 = 6;
/// Amplitudes per run.
pub(crate) const RUN: usize = 1 << RUN_BITS;
/// Groups per run.
pub(crate) const RUN_GROUPS: usize = RUN / GROUP;

/// The number of runs of a state of `len` amplitudes (a state shorter than
/// a run has one, padded with zeros).
pub(crate) fn run_count(len: usize) -> usize {
    len.div_ceil(RUN)
}

/// The length of the masses of a state of `len` amplitudes.
pub(crate) fn mass_len(len: usize) -> usize {
    run_count(len) * (RUN_GROUPS + 1)
}

/// `(ends, runs)` of a masses buffer (see the module doc).
pub(crate) fn split(m: &[f64]) -> (&[f64], &[f64]) {
    m.split_at(m.len() / (RUN_GROUPS + 1) * RUN_GROUPS)
}

/// `(ends, runs)` of a masses buffer, to write.
pub(crate) fn split_mut(m: &mut [f64]) -> (&mut [f64], &mut [f64]) {
    m.split_at_mut(m.len() / (RUN_GROUPS + 1) * RUN_GROUPS)
}

/// The mass of one group: the squares of its 16 real components summed
/// into 4 lanes (component `j` into lane `j % 4`, in order), then the lanes
/// as `(l0 + l1) + (l2 + l3)`. [`run_ends_avx2`] computes the same bits
/// four groups at a time.
#[inline(always)]
fn group_mass(g: &[C; GROUP]) -> f64 {
    let mut l = [0.0f64; 4];
    for pair in g.chunks_exact(2) {
        l[0] += pair[0].re * pair[0].re;
        l[1] += pair[0].im * pair[0].im;
        l[2] += pair[1].re * pair[1].re;
        l[3] += pair[1].im * pair[1].im;
    }
    (l[0] + l[1]) + (l[2] + l[3])
}

/// The running sums of 8 group masses, in order.
#[inline(always)]
fn running(g: &[f64; RUN_GROUPS], ends: &mut [f64; RUN_GROUPS]) {
    let mut acc = 0.0;
    for (e, m) in ends.iter_mut().zip(g) {
        acc += m;
        *e = acc;
    }
}

/// The ends of one full run's groups (see the module doc).
fn run_ends(r: &[C; RUN], ends: &mut [f64; RUN_GROUPS]) {
    let (groups, _) = r.as_chunks::<GROUP>();
    let mut g = [0.0f64; RUN_GROUPS];
    for (m, x) in g.iter_mut().zip(groups) {
        *m = group_mass(x);
    }
    running(&g, ends);
}

/// [`run_ends`] with AVX2: each group's 16 components are 4 vectors, whose
/// squares are summed lane by lane in order, and 4 groups' lanes are then
/// reduced together by `hadd` (`l0 + l1`, `l2 + l3`) and one add of the
/// halves: the operations of [`group_mass`] in its order (no fused
/// multiply-add), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn run_ends_avx2(r: &[C; RUN], ends: &mut [f64; RUN_GROUPS]) {
    use std::arch::x86_64::{
        _mm256_add_pd, _mm256_hadd_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_permute2f128_pd,
        _mm256_setzero_pd, _mm256_storeu_pd,
    };
    let p = r.as_ptr().cast::<f64>();
    let mut g = [0.0f64; RUN_GROUPS];
    for (quad, out) in g.chunks_exact_mut(4).enumerate() {
        let mut acc = [_mm256_setzero_pd(); 4];
        for (j, a) in acc.iter_mut().enumerate() {
            // 16 components per group, 4 groups per quad.
            let at = (quad * 4 + j) * 2 * GROUP;
            // SAFETY: `r` holds 64 complex numbers, 128 contiguous f64
            // (`Complex<f64>` is `repr(C)`: re then im), and the four
            // unaligned loads read components at..at + 16 <= 128.
            let [v0, v1, v2, v3] = [0, 4, 8, 12].map(|k| unsafe { _mm256_loadu_pd(p.add(at + k)) });
            let mut s = _mm256_mul_pd(v0, v0);
            s = _mm256_add_pd(s, _mm256_mul_pd(v1, v1));
            s = _mm256_add_pd(s, _mm256_mul_pd(v2, v2));
            *a = _mm256_add_pd(s, _mm256_mul_pd(v3, v3));
        }
        // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for groups c, d.
        let ab = _mm256_hadd_pd(acc[0], acc[1]);
        let cd = _mm256_hadd_pd(acc[2], acc[3]);
        let low = _mm256_permute2f128_pd::<0x20>(ab, cd);
        let high = _mm256_permute2f128_pd::<0x31>(ab, cd);
        let sum = _mm256_add_pd(low, high);
        // SAFETY: `out` is 4 contiguous f64.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), sum) };
    }
    running(&g, ends);
}

/// Writes the masses of the amplitudes `a` (whole runs, or one short run
/// when `a` is a whole state shorter than a run) into `ends` (8 per run)
/// and `runs` (1 per run), with AVX2 when the CPU has it (the same bits
/// either way).
#[allow(unsafe_code)]
pub(crate) fn fill(a: &[C], ends: &mut [f64], runs: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `fill_avx2` only requires avx2, which the CPU was
            // just checked to support.
            unsafe { fill_avx2(a, ends, runs) };
            return;
        }
    }
    fill_with(a, ends, runs, run_ends);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(a: &[C], ends: &mut [f64], runs: &mut [f64]) {
    fill_with(a, ends, runs, |r, e| run_ends_avx2(r, e));
}

#[inline(always)]
fn fill_with(
    a: &[C],
    ends: &mut [f64],
    runs: &mut [f64],
    full: impl Fn(&[C; RUN], &mut [f64; RUN_GROUPS]),
) {
    let (ends, _) = ends.as_chunks_mut::<RUN_GROUPS>();
    for ((x, e), m) in a.chunks(RUN).zip(ends).zip(runs.iter_mut()) {
        match <&[C; RUN]>::try_from(x) {
            Ok(x) => full(x, e),
            Err(_) => {
                let mut padded = [C::new(0.0, 0.0); RUN];
                padded[..x.len()].copy_from_slice(x);
                run_ends(&padded, e);
            }
        }
        *m = e[RUN_GROUPS - 1];
    }
}

/// Writes the masses of the whole state `a` into `m` (of length
/// [`mass_len`]`(a.len())`) in one read pass, parallel for large states.
pub(crate) fn compute_into(a: &[C], m: &mut [f64]) {
    debug_assert_eq!(m.len(), mass_len(a.len()));
    const PIECE: usize = 1 << 14;
    let (ends, runs) = split_mut(m);
    let piece = |((e, r), x): ((&mut [f64], &mut [f64]), &[C])| fill(x, e, r);
    let per = PIECE / RUN;
    if par::worth_it(a.len()) {
        ends.par_chunks_mut(per * RUN_GROUPS)
            .zip(runs.par_chunks_mut(per))
            .zip(a.par_chunks(PIECE))
            .for_each(piece);
    } else {
        ends.chunks_mut(per * RUN_GROUPS)
            .zip(runs.chunks_mut(per))
            .zip(a.chunks(PIECE))
            .for_each(piece);
    }
}

/// The masses of the whole state `a`, in one read pass, in a new buffer.
pub(crate) fn compute(a: &[C]) -> Vec<f64> {
    let mut m = vec![0.0; mass_len(a.len())];
    compute_into(a, &mut m);
    m
}

/// `spare` (a scratch kept from an earlier use, see
/// [`crate::StateVector`]) sized for a state of `len` amplitudes. Its
/// contents are stale: every user overwrites all of it.
pub(crate) fn reuse(mut spare: Vec<f64>, len: usize) -> Vec<f64> {
    spare.resize(mass_len(len), 0.0);
    spare
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_running_group_masses() {
        let a: Vec<C> = (0..300).map(|i| C::new(f64::from(i % 7), -f64::from(i % 3))).collect();
        let m = compute(&a);
        assert_eq!(m.len(), 5 * 9);
        let (ends, runs) = split(&m);
        for (r, x) in a.chunks(RUN).enumerate() {
            let mut acc = 0.0;
            for g in 0..RUN_GROUPS {
                let plain: f64 = x.iter().skip(g * GROUP).take(GROUP).map(|c| c.norm_sqr()).sum();
                acc += plain;
                let e = ends[r * RUN_GROUPS + g];
                assert!((acc - e).abs() < 1e-12 * acc.max(1.0), "{acc} vs {e}");
            }
            assert_eq!(runs[r].to_bits(), ends[r * RUN_GROUPS + 7].to_bits());
        }
    }

    #[test]
    fn the_vector_path_gives_the_same_bits() {
        let a: Vec<C> = (0..1u32 << 12)
            .map(|i| {
                let x = f64::from(i.wrapping_mul(2_654_435_761) % 1000) / 997.0;
                C::new(x.sin() * 1e-3, (x * 3.0).cos() / 7.0)
            })
            .collect();
        let runs = run_count(a.len());
        let (mut e1, mut r1) = (vec![0.0; runs * 8], vec![0.0; runs]);
        let (mut e2, mut r2) = (vec![0.0; runs * 8], vec![0.0; runs]);
        fill(&a, &mut e1, &mut r1);
        fill_with(&a, &mut e2, &mut r2, run_ends);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&e1), bits(&e2));
        assert_eq!(bits(&r1), bits(&r2));
    }

    #[test]
    fn a_reused_buffer_is_sized_and_keeps_its_allocation() {
        let a = vec![C::new(0.5, 0.5); 1 << 10];
        let m = compute(&a);
        let ptr = m.as_ptr();
        let again = reuse(m, 1 << 9);
        assert_eq!(again.len(), mass_len(1 << 9));
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(reuse(again, 1 << 10).len(), mass_len(1 << 10));
    }
}
