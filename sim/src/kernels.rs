//! The kernels: one op applied to one contiguous block of amplitudes.
//!
//! Qubit indices here are local to the block (bit `q` of the offset within
//! `a`), and `ctrl` is a local control mask. Each kernel touches only the
//! amplitudes it changes: a bit flip swaps the halves selected by its
//! controls, a phase multiplies only the all-controls-set corner, a diagonal
//! skips its factors equal to 1.
//!
//! Everything is `#[inline(always)]` so that the whole per-block loop is
//! compiled once more inside the AVX2 entry point of
//! [`crate::exec`], where these plain loops auto-vectorize.

use crate::ops::{C, Kind};

const ONE: C = C::new(1.0, 0.0);

/// Applies `kind` with local control mask `ctrl` to the block `a`.
#[inline(always)]
pub(crate) fn apply(a: &mut [C], kind: &Kind, ctrl: u64) {
    match *kind {
        Kind::U1 { q, m } => mat2(a, q, ctrl, m),
        Kind::R1 { q, m } => {
            let r = |x: f64| C::new(x, 0.0);
            if q < 2 && ctrl == 0 && a.len() >= G {
                let hi = |j: usize| (j / 2) >> q & 1 == 1;
                let own = std::array::from_fn(|j| if hi(j) { m[3] } else { m[0] });
                let other = std::array::from_fn(|j| if hi(j) { m[2] } else { m[1] });
                small2(a, &own, &other, 2 << q);
                return;
            }
            if q < 2 {
                mat2(a, q, ctrl, [r(m[0]), r(m[1]), r(m[2]), r(m[3])]);
                return;
            }
            both_halves(
                a,
                q,
                ctrl,
                #[inline(always)]
                |l, h| pair_r1(l, h, &m),
            );
        }
        Kind::Xr { q, a: c, b: s } => {
            if q < 2 && ctrl == 0 && a.len() >= G {
                // x' = c u - i s v: the partner's swapped (im, -re) lanes.
                let own = [c; L];
                let other = std::array::from_fn(|j| if j % 2 == 0 { s } else { -s });
                small2(a, &own, &other, (2 << q) ^ 1);
                return;
            }
            if q < 2 {
                let (cc, ms) = (C::new(c, 0.0), C::new(0.0, -s));
                mat2(a, q, ctrl, [cc, ms, ms, cc]);
                return;
            }
            both_halves(
                a,
                q,
                ctrl,
                #[inline(always)]
                |l, h| pair_xr(l, h, c, s),
            );
        }
        Kind::D1 { q, d } => single(
            a,
            q,
            ctrl,
            #[inline(always)]
            |l, h| pair_d1(l, h, d),
        ),
        Kind::X1 { q } if ctrl != 0 && (ctrl | 1 << q) & 3 != 0 && a.len() >= 4 => {
            x1_low(a, q, ctrl)
        }
        Kind::X1 { q } => both_halves(
            a,
            q,
            ctrl,
            #[inline(always)]
            |l, h| l.swap_with_slice(h),
        ),
        Kind::Phase { c } if ctrl & 7 != 0 && a.len() >= G => phase_low(a, ctrl, c),
        Kind::Phase { c } => {
            if ctrl == 0 {
                scale(a, c);
            } else {
                runs(
                    a,
                    ctrl,
                    #[inline(always)]
                    |r| scale(r, c),
                );
            }
        }
        Kind::U2 { q0, q1, ref m } => {
            let lm: [Lanes; 16] = std::array::from_fn(|k| Lanes::of(m[k]));
            double(
                a,
                q0,
                q1,
                ctrl,
                #[inline(always)]
                |s0, s1, s2, s3| {
                    let mut i0 = s0.chunks_exact_mut(G);
                    let mut i1 = s1.chunks_exact_mut(G);
                    let mut i2 = s2.chunks_exact_mut(G);
                    let mut i3 = s3.chunks_exact_mut(G);
                    for (((w, x), y), z) in (&mut i0).zip(&mut i1).zip(&mut i2).zip(&mut i3) {
                        let v = [ld(w), ld(x), ld(y), ld(z)];
                        let row = |r: usize| {
                            let mut o = [0.0; L];
                            for (c, vc) in v.iter().enumerate() {
                                let t = lm[4 * r + c].mul(vc);
                                for j in 0..L {
                                    o[j] += t[j];
                                }
                            }
                            o
                        };
                        let (o0, o1, o2, o3) = (row(0), row(1), row(2), row(3));
                        st(w, &o0);
                        st(x, &o1);
                        st(y, &o2);
                        st(z, &o3);
                    }
                    let rest = i0
                        .into_remainder()
                        .iter_mut()
                        .zip(i1.into_remainder())
                        .zip(i2.into_remainder());
                    for (((w, x), y), z) in rest.zip(i3.into_remainder()) {
                        let v = [*w, *x, *y, *z];
                        let row = |r: usize| {
                            m[4 * r] * v[0]
                                + m[4 * r + 1] * v[1]
                                + m[4 * r + 2] * v[2]
                                + m[4 * r + 3] * v[3]
                        };
                        (*w, *x, *y, *z) = (row(0), row(1), row(2), row(3));
                    }
                },
            );
        }
        Kind::D2 { q0, q1, d } => double(
            a,
            q0,
            q1,
            ctrl,
            #[inline(always)]
            |s0, s1, s2, s3| {
                for (s, f) in [s0, s1, s2, s3].into_iter().zip(d) {
                    if f != ONE {
                        scale(s, f);
                    }
                }
            },
        ),
        Kind::Swap { q0, q1 } => double(
            a,
            q0,
            q1,
            ctrl,
            #[inline(always)]
            |_, s1, s2, _| s1.swap_with_slice(s2),
        ),
    }
}

/// Applies an uncontrolled single-target kernel to the runs `l` (target
/// bit 0) and `h` (target bit 1) of equal length; false for other kinds.
/// Used in place, without gathering, for a lone gate on a high qubit.
#[inline(always)]
pub(crate) fn apply_pair(l: &mut [C], h: &mut [C], kind: &Kind) -> bool {
    match *kind {
        Kind::U1 { m, .. } => {
            let lanes = [Lanes::of(m[0]), Lanes::of(m[1]), Lanes::of(m[2]), Lanes::of(m[3])];
            pair_u1(l, h, &lanes, &m);
        }
        Kind::R1 { m, .. } => pair_r1(l, h, &m),
        Kind::Xr { a, b, .. } => pair_xr(l, h, a, b),
        Kind::D1 { d, .. } => pair_d1(l, h, d),
        Kind::X1 { .. } => l.swap_with_slice(h),
        _ => return false,
    }
    true
}

#[inline(always)]
fn pair_u1(lo: &mut [C], hi: &mut [C], l: &[Lanes; 4], m: &[C; 4]) {
    let mut xs = lo.chunks_exact_mut(G);
    let mut ys = hi.chunks_exact_mut(G);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let (a0, a1, b0, b1) = (l[0].mul(&u), l[1].mul(&v), l[2].mul(&u), l[3].mul(&v));
        let mut o = [0.0; L];
        let mut p = [0.0; L];
        for j in 0..L {
            o[j] = a0[j] + a1[j];
            p[j] = b0[j] + b1[j];
        }
        st(x, &o);
        st(y, &p);
    }
    for (x, y) in xs.into_remainder().iter_mut().zip(ys.into_remainder()) {
        let (u, v) = (*x, *y);
        *x = m[0] * u + m[1] * v;
        *y = m[2] * u + m[3] * v;
    }
}

#[inline(always)]
fn pair_r1(l: &mut [C], h: &mut [C], m: &[f64; 4]) {
    let mut xs = l.chunks_exact_mut(G);
    let mut ys = h.chunks_exact_mut(G);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let mut o = [0.0; L];
        let mut p = [0.0; L];
        for j in 0..L {
            o[j] = m[0] * u[j] + m[1] * v[j];
            p[j] = m[2] * u[j] + m[3] * v[j];
        }
        st(x, &o);
        st(y, &p);
    }
    for (x, y) in xs.into_remainder().iter_mut().zip(ys.into_remainder()) {
        let (u, v) = (*x, *y);
        *x = u * m[0] + v * m[1];
        *y = u * m[2] + v * m[3];
    }
}

/// `[[c, -is], [-is, c]]`: x' = c u - i s v, y' = -i s u + c v, with
/// -i (re, im) = (im, -re).
#[inline(always)]
fn pair_xr(l: &mut [C], h: &mut [C], c: f64, s: f64) {
    let sg: [f64; L] = std::array::from_fn(|j| if j % 2 == 0 { s } else { -s });
    let mut xs = l.chunks_exact_mut(G);
    let mut ys = h.chunks_exact_mut(G);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let mut o = [0.0; L];
        let mut p = [0.0; L];
        for j in 0..L {
            o[j] = c * u[j] + sg[j] * v[j ^ 1];
            p[j] = c * v[j] + sg[j] * u[j ^ 1];
        }
        st(x, &o);
        st(y, &p);
    }
    for (x, y) in xs.into_remainder().iter_mut().zip(ys.into_remainder()) {
        let (u, v) = (*x, *y);
        *x = C::new(c * u.re + s * v.im, c * u.im - s * v.re);
        *y = C::new(c * v.re + s * u.im, c * v.im - s * u.re);
    }
}

#[inline(always)]
fn pair_d1(l: &mut [C], h: &mut [C], d: [C; 2]) {
    if d[0] != ONE {
        scale(l, d[0]);
    }
    if d[1] != ONE {
        scale(h, d[1]);
    }
}

/// Lanes of a group of 4 amplitudes whose low offset bits satisfy the low
/// controls.
#[inline(always)]
fn low_select(low_ctrl: u64) -> [bool; 4] {
    std::array::from_fn(|k| k as u64 & low_ctrl == low_ctrl)
}

/// Calls `f(run)` on the runs (aligned, at least `2^(lowest bit of high)`
/// long) whose bits in `high` are 1; the whole block when `high` is 0.
#[inline(always)]
fn high_runs(a: &mut [C], high: u64, mut f: impl FnMut(&mut [C])) {
    if high == 0 {
        f(a);
        return;
    }
    for_each_run(
        a.len(),
        high,
        #[inline(always)]
        |base, len| {
            let base = base | high as usize;
            f(&mut a[base..base + len]);
        },
    );
}

/// A controlled bit flip whose controls or target include offset bits 0-1:
/// the runs there are 1-2 amplitudes long, so the low bits are handled as
/// per-lane selects on groups of 4 (vectorizable) instead of tiny runs.
#[inline(always)]
fn x1_low(a: &mut [C], q: u32, ctrl: u64) {
    let sel = low_select(ctrl & 3);
    if q >= 2 {
        let s = 1usize << q;
        let hi_ctrl = ctrl & !3;
        for_each_run(
            a.len(),
            hi_ctrl | 1 << q,
            #[inline(always)]
            |base, len| {
                let lo = base | hi_ctrl as usize;
                let (x, y) = a.split_at_mut(lo | s);
                for (u, v) in x[lo..lo + len].chunks_exact_mut(4).zip(y[..len].chunks_exact_mut(4))
                {
                    for k in 0..4 {
                        let (p, r) = (u[k], v[k]);
                        u[k] = if sel[k] { r } else { p };
                        v[k] = if sel[k] { p } else { r };
                    }
                }
            },
        );
        return;
    }
    let t = 1usize << q;
    high_runs(
        a,
        ctrl & !3,
        #[inline(always)]
        |run| {
            for g in run.chunks_exact_mut(4) {
                let v = [g[0], g[1], g[2], g[3]];
                for k in 0..4 {
                    g[k] = if sel[k] { v[k ^ t] } else { v[k] };
                }
            }
        },
    );
}

/// A phase on the all-controls-set corner with controls on offset bits 0-2:
/// per-lane factors (c or 1) on groups of 8 amplitudes.
#[inline(always)]
fn phase_low(a: &mut [C], ctrl: u64, c: C) {
    let low = ctrl & 7;
    let mut re = [1.0; L];
    let mut im = [0.0; L];
    for j in 0..L {
        if (j / 2) as u64 & low == low {
            re[j] = c.re;
            im[j] = if j % 2 == 0 { -c.im } else { c.im };
        }
    }
    let lanes = Lanes { re, im };
    high_runs(
        a,
        ctrl & !7,
        #[inline(always)]
        |run| {
            for g in run.chunks_exact_mut(G) {
                let o = lanes.mul(&ld(g));
                st(g, &o);
            }
        },
    );
}

/// Amplitudes per lane group: `G` complex numbers as `L` interleaved lanes
/// (re, im, re, im, ...). Eight per group (128 bytes) is wide enough that
/// LLVM's loop vectorizer leaves the group loops alone (it would otherwise
/// de-interleave across iterations with costly shuffles) and its SLP
/// vectorizer turns each lane loop into a few full-width instructions.
const G: usize = 8;
const L: usize = 2 * G;

/// Loads one group of `G` amplitudes as lanes.
#[inline(always)]
fn ld(c: &[C]) -> [f64; L] {
    std::array::from_fn(|j| if j % 2 == 0 { c[j / 2].re } else { c[j / 2].im })
}

#[inline(always)]
fn st(c: &mut [C], v: &[f64; L]) {
    for k in 0..G {
        c[k] = C::new(v[2 * k], v[2 * k + 1]);
    }
}

/// A complex constant per lane: `m * v` is `re * v + im * swap(v)` with
/// `im = (-m.im, m.im, ...)` and `swap` exchanging each re/im pair.
#[derive(Clone, Copy)]
struct Lanes {
    re: [f64; L],
    im: [f64; L],
}

impl Lanes {
    #[inline(always)]
    fn of(m: C) -> Self {
        Self { re: [m.re; L], im: std::array::from_fn(|j| if j % 2 == 0 { -m.im } else { m.im }) }
    }

    #[inline(always)]
    fn mul(&self, v: &[f64; L]) -> [f64; L] {
        let mut o = [0.0; L];
        for j in 0..L {
            o[j] = self.re[j] * v[j] + self.im[j] * v[j ^ 1];
        }
        o
    }
}

/// A real-coefficient pair kernel on qubit 0 or 1 (pairs inside a group):
/// lane `j` becomes `own[j] * v[j] + other[j] * v[j ^ perm]`.
///
/// `perm` is dispatched to a constant so that `j ^ PERM` is a fixed lane
/// shuffle: with a run-time `perm` LLVM could not vectorize the lane loop,
/// and an h on qubit 0 or 1 ran at about twice the time of qubits 2-5.
#[inline(always)]
fn small2(a: &mut [C], own: &[f64; L], other: &[f64; L], perm: usize) {
    match perm {
        2 => small2_const::<2>(a, own, other),
        3 => small2_const::<3>(a, own, other),
        4 => small2_const::<4>(a, own, other),
        5 => small2_const::<5>(a, own, other),
        _ => small2_any(a, own, other, perm),
    }
}

#[inline(always)]
fn small2_const<const PERM: usize>(a: &mut [C], own: &[f64; L], other: &[f64; L]) {
    for x in a.chunks_exact_mut(G) {
        let v = ld(x);
        let mut o = [0.0; L];
        for j in 0..L {
            o[j] = own[j] * v[j] + other[j] * v[j ^ PERM];
        }
        st(x, &o);
    }
}

#[inline(always)]
fn small2_any(a: &mut [C], own: &[f64; L], other: &[f64; L], perm: usize) {
    for x in a.chunks_exact_mut(G) {
        let v = ld(x);
        let mut o = [0.0; L];
        for j in 0..L {
            o[j] = own[j] * v[j] + other[j] * v[(j ^ perm) % L];
        }
        st(x, &o);
    }
}

/// A dense 2x2 matrix on qubit `q`.
#[inline(always)]
fn mat2(a: &mut [C], q: u32, ctrl: u64, m: [C; 4]) {
    if q < 2 && ctrl == 0 && a.len() >= G {
        // Pairs inside each group of 4 amplitudes: amplitude k pairs with
        // k ^ 2^q; per lane, a "self" and a "partner" coefficient.
        let p = 2usize << q;
        let mut sre = [0.0; L];
        let mut sim = [0.0; L];
        let mut pre = [0.0; L];
        let mut pim = [0.0; L];
        for j in 0..L {
            let hi = (j / 2) >> q & 1 == 1;
            let (sc, pc) = if hi { (m[3], m[2]) } else { (m[0], m[1]) };
            let sign = if j % 2 == 0 { -1.0 } else { 1.0 };
            sre[j] = sc.re;
            sim[j] = sign * sc.im;
            pre[j] = pc.re;
            pim[j] = sign * pc.im;
        }
        for x in a.chunks_exact_mut(G) {
            let v = ld(x);
            let mut o = [0.0; L];
            for j in 0..L {
                o[j] =
                    sre[j] * v[j] + sim[j] * v[j ^ 1] + pre[j] * v[j ^ p] + pim[j] * v[j ^ p ^ 1];
            }
            st(x, &o);
        }
        return;
    }
    let l = [Lanes::of(m[0]), Lanes::of(m[1]), Lanes::of(m[2]), Lanes::of(m[3])];
    both_halves(
        a,
        q,
        ctrl,
        #[inline(always)]
        |lo, hi| pair_u1(lo, hi, &l, &m),
    );
}

#[inline(always)]
fn scale(a: &mut [C], c: C) {
    if c == -ONE {
        for x in a.iter_mut() {
            *x = -*x;
        }
        return;
    }
    let l = Lanes::of(c);
    let mut xs = a.chunks_exact_mut(G);
    for x in &mut xs {
        let o = l.mul(&ld(x));
        st(x, &o);
    }
    for x in xs.into_remainder() {
        *x *= c;
    }
}

/// Calls `f(lo, hi)` on the pairs of runs differing in bit `q`, restricted
/// to offsets whose `ctrl` bits are set.
#[inline(always)]
fn single(a: &mut [C], q: u32, ctrl: u64, mut f: impl FnMut(&mut [C], &mut [C])) {
    let s = 1usize << q;
    if ctrl == 0 {
        for blk in a.chunks_exact_mut(2 * s) {
            let (l, h) = blk.split_at_mut(s);
            f(l, h);
        }
        return;
    }
    let fixed = ctrl | 1 << q;
    for_each_run(
        a.len(),
        fixed,
        #[inline(always)]
        |base, len| {
            let lo = base | ctrl as usize;
            let (x, y) = a.split_at_mut(lo | s);
            f(&mut x[lo..lo + len], &mut y[..len]);
        },
    );
}

/// Like [`single`], for kernels that read and write both runs of every
/// pair. With no controls and a target on local qubit 6-10 the runs are
/// 1-16 KiB apart and 1-16 KiB long, and the two interleaved streams that
/// restart every run defeat the hardware prefetchers: such a pass ran at
/// 1.5-3.5x the memory-bandwidth floor while qubits 0-5 (both runs in one
/// 1 KiB window) and 11+ (long runs) stayed near it. There the runs are
/// walked in steps of [`STEP`] amplitudes, and each step first prefetches
/// the next `2 * STEP` amplitudes of the block in memory order, a fixed
/// distance ahead, so every line of the block is requested once, early,
/// and in increasing order.
#[inline(always)]
fn both_halves(a: &mut [C], q: u32, ctrl: u64, mut f: impl FnMut(&mut [C], &mut [C])) {
    if ctrl != 0 || !(6..=10).contains(&q) {
        single(a, q, ctrl, f);
        return;
    }
    let s = 1usize << q;
    // 12 KiB ahead, 24 KiB for qubit 10 (measured best on the bench).
    let ahead = (3usize << (q - 1)).max(768);
    for blk in a.chunks_exact_mut(2 * s) {
        let (l, h) = blk.split_at_mut(s);
        for (j, (l, h)) in l.chunks_exact_mut(STEP).zip(h.chunks_exact_mut(STEP)).enumerate() {
            // `l` starts at offset j * STEP of the pair's block, which the
            // pass reaches after 2 * j * STEP amplitudes of the block.
            prefetch(l, ahead + j * STEP, 2 * STEP);
            f(l, h);
        }
    }
}

/// Amplitudes of each run per prefetching step of [`both_halves`]: 512
/// bytes, 8 cache lines per run.
const STEP: usize = 32;

/// Asks for the cache lines of `len` amplitudes at `from` amplitudes past
/// the start of `a` to be brought into L2. The range may run past the end of
/// `a` (the pointer is only formed with `wrapping_add` and never read).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch(a: &[C], from: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let p = a.as_ptr();
        // 4 amplitudes of 16 bytes are one 64-byte cache line.
        for k in (from..from + len).step_by(4) {
            // SAFETY: a prefetch is only a hint: it never faults and does not
            // access memory in Rust's sense, whatever the address; SSE is
            // part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(k).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (a, from, len);
}

/// Calls `f(run)` on each maximal run of offsets whose `ctrl` bits are 1.
#[inline(always)]
fn runs(a: &mut [C], ctrl: u64, mut f: impl FnMut(&mut [C])) {
    for_each_run(
        a.len(),
        ctrl,
        #[inline(always)]
        |base, len| {
            let base = base | ctrl as usize;
            f(&mut a[base..base + len]);
        },
    );
}

/// Enumerates the offsets (with every `fixed` bit 0) of the runs of
/// `2^(lowest fixed bit)` consecutive amplitudes that share their fixed bits,
/// in increasing order, without a per-run bit loop: the free bits above the
/// run are counted through with the subset-increment trick.
#[inline(always)]
fn for_each_run(len: usize, fixed: u64, mut f: impl FnMut(usize, usize)) {
    let r = fixed.trailing_zeros();
    let run = 1usize << r;
    let free = (len - 1) & !(fixed as usize) & !(run - 1);
    let mut off = 0usize;
    loop {
        f(off, run);
        if off == free {
            break;
        }
        off = ((off | !free).wrapping_add(1)) & free;
    }
}

/// Calls `f(s00, s01, s10, s11)` on the four runs of a 2-qubit kernel on
/// (`q0`, `q1`), named by (bit q0, bit q1), restricted to `ctrl`.
#[inline(always)]
fn double(
    a: &mut [C],
    q0: u32,
    q1: u32,
    ctrl: u64,
    mut f: impl FnMut(&mut [C], &mut [C], &mut [C], &mut [C]),
) {
    let (hi, lo) = (q0.max(q1), q0.min(q1));
    let (sh, sl) = (1usize << hi, 1usize << lo);
    let mut call = |s00: &mut [C], s_lo: &mut [C], s_hi: &mut [C], s11: &mut [C]| {
        // s_lo has the lower bit set, s_hi the higher one.
        if hi == q0 {
            f(s00, s_lo, s_hi, s11);
        } else {
            f(s00, s_hi, s_lo, s11);
        }
    };
    if ctrl == 0 {
        for blk in a.chunks_exact_mut(2 * sh) {
            let (x0, x1) = blk.split_at_mut(sh);
            for (y0, y1) in x0.chunks_exact_mut(2 * sl).zip(x1.chunks_exact_mut(2 * sl)) {
                let (a00, a01) = y0.split_at_mut(sl);
                let (a10, a11) = y1.split_at_mut(sl);
                call(a00, a01, a10, a11);
            }
        }
        return;
    }
    let fixed = ctrl | 1 << q0 | 1 << q1;
    let c = ctrl as usize;
    for_each_run(
        a.len(),
        fixed,
        #[inline(always)]
        |base, len| {
            let base = base | c;
            let (rest, r11) = a.split_at_mut(base | sh | sl);
            let (rest, r10) = rest.split_at_mut(base | sh);
            let (rest, r01) = rest.split_at_mut(base | sl);
            call(&mut rest[base..base + len], &mut r01[..len], &mut r10[..len], &mut r11[..len]);
        },
    );
}
