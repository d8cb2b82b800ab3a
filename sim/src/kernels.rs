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
            if q < 2 {
                mat2(a, q, ctrl, [r(m[0]), r(m[1]), r(m[2]), r(m[3])]);
                return;
            }
            single(
                a,
                q,
                ctrl,
                #[inline(always)]
                |l, h| pair_r1(l, h, &m),
            );
        }
        Kind::Xr { q, a: c, b: s } => {
            if q < 2 {
                let (cc, ms) = (C::new(c, 0.0), C::new(0.0, -s));
                mat2(a, q, ctrl, [cc, ms, ms, cc]);
                return;
            }
            single(
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
        Kind::X1 { q } => single(
            a,
            q,
            ctrl,
            #[inline(always)]
            |l, h| l.swap_with_slice(h),
        ),
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
                    let mut i0 = s0.chunks_exact_mut(4);
                    let mut i1 = s1.chunks_exact_mut(4);
                    let mut i2 = s2.chunks_exact_mut(4);
                    let mut i3 = s3.chunks_exact_mut(4);
                    for (((w, x), y), z) in (&mut i0).zip(&mut i1).zip(&mut i2).zip(&mut i3) {
                        let v = [ld(w), ld(x), ld(y), ld(z)];
                        let row = |r: usize| {
                            let mut o = [0.0; 8];
                            for (c, vc) in v.iter().enumerate() {
                                let t = lm[4 * r + c].mul(vc);
                                for j in 0..8 {
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
            let lanes = [
                Lanes::of(m[0]),
                Lanes::of(m[1]),
                Lanes::of(m[2]),
                Lanes::of(m[3]),
            ];
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
    let mut xs = lo.chunks_exact_mut(4);
    let mut ys = hi.chunks_exact_mut(4);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let (a0, a1, b0, b1) = (l[0].mul(&u), l[1].mul(&v), l[2].mul(&u), l[3].mul(&v));
        let mut o = [0.0; 8];
        let mut p = [0.0; 8];
        for j in 0..8 {
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
    let mut xs = l.chunks_exact_mut(4);
    let mut ys = h.chunks_exact_mut(4);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let mut o = [0.0; 8];
        let mut p = [0.0; 8];
        for j in 0..8 {
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
    let sg = [s, -s, s, -s, s, -s, s, -s];
    let mut xs = l.chunks_exact_mut(4);
    let mut ys = h.chunks_exact_mut(4);
    for (x, y) in (&mut xs).zip(&mut ys) {
        let (u, v) = (ld(x), ld(y));
        let mut o = [0.0; 8];
        let mut p = [0.0; 8];
        for j in 0..8 {
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

/// Four complex numbers as eight interleaved lanes (re, im, re, im, ...):
/// written so that LLVM's SLP vectorizer turns each lane loop into a few
/// vector instructions.
#[inline(always)]
fn ld(c: &[C]) -> [f64; 8] {
    [
        c[0].re, c[0].im, c[1].re, c[1].im, c[2].re, c[2].im, c[3].re, c[3].im,
    ]
}

#[inline(always)]
fn st(c: &mut [C], v: &[f64; 8]) {
    for k in 0..4 {
        c[k] = C::new(v[2 * k], v[2 * k + 1]);
    }
}

/// A complex constant per lane: `m * v` is `re * v + im * swap(v)` with
/// `im = (-m.im, m.im, ...)` and `swap` exchanging each re/im pair.
#[derive(Clone, Copy)]
struct Lanes {
    re: [f64; 8],
    im: [f64; 8],
}

impl Lanes {
    #[inline(always)]
    fn of(m: C) -> Self {
        Self {
            re: [m.re; 8],
            im: [-m.im, m.im, -m.im, m.im, -m.im, m.im, -m.im, m.im],
        }
    }

    #[inline(always)]
    fn mul(&self, v: &[f64; 8]) -> [f64; 8] {
        let mut o = [0.0; 8];
        for j in 0..8 {
            o[j] = self.re[j] * v[j] + self.im[j] * v[j ^ 1];
        }
        o
    }
}

/// A dense 2x2 matrix on qubit `q`.
#[inline(always)]
fn mat2(a: &mut [C], q: u32, ctrl: u64, m: [C; 4]) {
    if q < 2 && ctrl == 0 && a.len() >= 4 {
        // Pairs inside each group of 4 amplitudes: amplitude k pairs with
        // k ^ 2^q; per lane, a "self" and a "partner" coefficient.
        let p = 2usize << q;
        let mut sre = [0.0; 8];
        let mut sim = [0.0; 8];
        let mut pre = [0.0; 8];
        let mut pim = [0.0; 8];
        for j in 0..8 {
            let hi = (j / 2) >> q & 1 == 1;
            let (sc, pc) = if hi { (m[3], m[2]) } else { (m[0], m[1]) };
            let sign = if j % 2 == 0 { -1.0 } else { 1.0 };
            sre[j] = sc.re;
            sim[j] = sign * sc.im;
            pre[j] = pc.re;
            pim[j] = sign * pc.im;
        }
        for x in a.chunks_exact_mut(4) {
            let v = ld(x);
            let mut o = [0.0; 8];
            for j in 0..8 {
                o[j] =
                    sre[j] * v[j] + sim[j] * v[j ^ 1] + pre[j] * v[j ^ p] + pim[j] * v[j ^ p ^ 1];
            }
            st(x, &o);
        }
        return;
    }
    let l = [
        Lanes::of(m[0]),
        Lanes::of(m[1]),
        Lanes::of(m[2]),
        Lanes::of(m[3]),
    ];
    single(
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
    let mut xs = a.chunks_exact_mut(4);
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
            call(
                &mut rest[base..base + len],
                &mut r01[..len],
                &mut r10[..len],
                &mut r11[..len],
            );
        },
    );
}
