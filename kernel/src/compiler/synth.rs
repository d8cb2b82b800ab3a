//! Gate synthesis: 2x2 matrices to native 1-qubit sequences, controlled and
//! multi-controlled 1-qubit gates and arbitrary 2-qubit unitaries to `cx`
//! plus 1-qubit gates.
//!
//! Multi-controlled gates (polynomial, borrowed-qubit constructions) are in
//! the `multi` submodule; 2-qubit unitaries go through [`super::kak`].
//!
//! Contract: every sequence produced here equals its input up to a global
//! phase (exactly, for the controlled constructions, since there the phase
//! of the controlled block is relative). Checked by the unit tests below and
//! by the compiler's property tests.

mod multi;

use super::kak;
use eigen_hal::{Condition, Gate, Operation};
use multi::two_qubit_count;
use num_complex::Complex64;
use std::f64::consts::PI;

/// A 2x2 complex matrix, row-major.
pub type Mat2 = [Complex64; 4];

/// Angles below this are treated as zero (the gate as identity).
pub const ANGLE_EPS: f64 = 1e-10;

const C0: Complex64 = Complex64::new(0.0, 0.0);
const C1: Complex64 = Complex64::new(1.0, 0.0);

/// The identity.
pub const IDENTITY: Mat2 = [C1, C0, C0, C1];

/// `a * b` (apply `b` first).
#[must_use]
pub fn mul(a: &Mat2, b: &Mat2) -> Mat2 {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

/// The conjugate transpose.
#[must_use]
pub fn dagger(a: &Mat2) -> Mat2 {
    [a[0].conj(), a[2].conj(), a[1].conj(), a[3].conj()]
}

/// A map keyed by the bit patterns of matrices the compiler computed (no
/// outside input chooses the keys, so a fast non-keyed hash is safe): FxHash
/// is much cheaper than the default SipHash on 64-byte keys.
pub type BitsMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// The matrix of a 1-qubit gate.
///
/// The gates routing and translation produce most (`rz`, `sx`, `x`, `h`,
/// `p`) are built here without the heap; their entries are computed exactly
/// as [`Gate::matrix`] computes them, so results are bit-for-bit the same.
#[must_use]
pub fn gate_mat(gate: &Gate) -> Mat2 {
    let e = |t: f64| Complex64::from_polar(1.0, t);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    match *gate {
        Gate::Rz(t) => [e(-t / 2.0), C0, C0, e(t / 2.0)],
        Gate::P(t) => [C1, C0, C0, e(t)],
        Gate::X => [C0, C1, C1, C0],
        Gate::Sx => [
            Complex64::new(0.5, 0.5),
            Complex64::new(0.5, -0.5),
            Complex64::new(0.5, -0.5),
            Complex64::new(0.5, 0.5),
        ],
        Gate::H => [
            Complex64::new(h, 0.0),
            Complex64::new(h, 0.0),
            Complex64::new(h, 0.0),
            Complex64::new(-h, 0.0),
        ],
        _ => {
            let m = gate.matrix(1);
            [m[0], m[1], m[2], m[3]]
        }
    }
}

/// True when `m` is a multiple of the identity.
#[must_use]
pub fn is_identity_up_to_phase(m: &Mat2) -> bool {
    m[1].norm() < 1e-9 && m[2].norm() < 1e-9 && (m[0] - m[3]).norm() < 1e-9
}

/// True when `m` is diagonal (commutes with Z, so with a `cz` or a `cx`
/// control).
#[must_use]
pub fn is_diagonal(m: &Mat2) -> bool {
    m[1].norm() < 1e-9 && m[2].norm() < 1e-9
}

/// True when `m` commutes with X (a `cx` target): `m = [[a, b], [b, a]]`.
#[must_use]
pub fn commutes_with_x(m: &Mat2) -> bool {
    (m[0] - m[3]).norm() < 1e-9 && (m[1] - m[2]).norm() < 1e-9
}

/// Wraps an angle into `(-pi, pi]`.
#[must_use]
pub fn wrap(a: f64) -> f64 {
    let mut r = a.rem_euclid(2.0 * PI);
    if r > PI {
        r -= 2.0 * PI;
    }
    r
}

/// Euler angles: `m = e^{i gamma} U(theta, phi, lambda)`, `theta` in `[0, pi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Euler {
    /// Rotation angle.
    pub theta: f64,
    /// Second Z angle.
    pub phi: f64,
    /// First Z angle.
    pub lambda: f64,
    /// Global phase.
    pub gamma: f64,
}

/// Decomposes a 2x2 unitary into U3 angles and a global phase.
#[must_use]
pub fn euler(m: &Mat2) -> Euler {
    let (a, b, c, d) = (m[0], m[1], m[2], m[3]);
    let theta = 2.0 * c.norm().atan2(a.norm());
    if a.norm() >= c.norm() {
        // u00 = e^{ig} cos, u10 = e^{i(g+phi)} sin, u11 = e^{i(g+phi+lambda)} cos
        let gamma = a.arg();
        let phi = c.arg() - gamma;
        let lambda = d.arg() - c.arg();
        Euler { theta, phi, lambda, gamma }
    } else {
        // u10 = e^{i(g+phi)} sin, -u01 = e^{i(g+lambda)} sin
        let (ca, cb) = (c.arg(), (-b).arg());
        let gamma = ca + cb - d.arg();
        Euler { theta, phi: ca - gamma, lambda: cb - gamma, gamma }
    }
}

/// The 1-qubit basis a device runs natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneQubitBasis {
    /// Any gate is accepted; merged runs become `u` (or `p`).
    Any,
    /// `rz`, `sx` and, when `x` is set, `x` (IBM-style).
    ZSx {
        /// Whether `x` is native.
        x: bool,
    },
    /// `u` only.
    U,
    /// `rz` and `ry`.
    Zyz,
}

impl OneQubitBasis {
    /// The basis of a device accepting the named gates (`None` when it has
    /// no universal 1-qubit set we can synthesize for).
    #[must_use]
    pub fn for_target(accepts: impl Fn(&str) -> bool, any: bool) -> Option<Self> {
        if any {
            Some(Self::Any)
        } else if accepts("rz") && accepts("sx") {
            Some(Self::ZSx { x: accepts("x") })
        } else if accepts("u") {
            Some(Self::U)
        } else if accepts("rz") && accepts("ry") {
            Some(Self::Zyz)
        } else {
            None
        }
    }
}

fn near(a: f64, b: f64) -> bool {
    wrap(a - b).abs() < ANGLE_EPS
}

/// The shortest native sequence (in application order) equal to `m` up to
/// global phase; empty for the identity.
#[must_use]
pub fn synth_1q(m: &Mat2, basis: OneQubitBasis) -> Vec<Gate> {
    let e = euler(m);
    let mut out = Vec::new();
    let rz = |out: &mut Vec<Gate>, a: f64| {
        let a = wrap(a);
        if a.abs() > ANGLE_EPS {
            out.push(Gate::Rz(a));
        }
    };
    let small = e.theta.abs() < ANGLE_EPS;
    match basis {
        OneQubitBasis::Any => {
            if small {
                let p = wrap(e.phi + e.lambda);
                if p.abs() > ANGLE_EPS {
                    out.push(Gate::P(p));
                }
            } else {
                out.push(Gate::U(e.theta, wrap(e.phi), wrap(e.lambda)));
            }
        }
        OneQubitBasis::U => {
            if !(small && near(e.phi + e.lambda, 0.0)) {
                out.push(Gate::U(e.theta, wrap(e.phi), wrap(e.lambda)));
            }
        }
        OneQubitBasis::Zyz => {
            if small {
                rz(&mut out, e.phi + e.lambda);
            } else {
                rz(&mut out, e.lambda);
                out.push(Gate::Ry(e.theta));
                rz(&mut out, e.phi);
            }
        }
        OneQubitBasis::ZSx { x } => {
            if small {
                rz(&mut out, e.phi + e.lambda);
            } else if (e.theta - PI).abs() < ANGLE_EPS {
                if x {
                    out.push(Gate::X);
                } else {
                    out.push(Gate::Sx);
                    out.push(Gate::Sx);
                }
                rz(&mut out, e.phi - e.lambda + PI);
            } else if (e.theta - PI / 2.0).abs() < ANGLE_EPS {
                rz(&mut out, e.lambda - PI / 2.0);
                out.push(Gate::Sx);
                rz(&mut out, e.phi + PI / 2.0);
            } else {
                rz(&mut out, e.lambda);
                out.push(Gate::Sx);
                rz(&mut out, e.theta + PI);
                out.push(Gate::Sx);
                rz(&mut out, e.phi + PI);
            }
        }
    }
    out
}

/// The principal square root of a 2x2 unitary: `v * v == m` exactly.
#[must_use]
pub fn sqrt_unitary(m: &Mat2) -> Mat2 {
    // For a 2x2 matrix, sqrt(M) = (M + s I) / sqrt(tr M + 2 s), s = sqrt(det M);
    // pick the sign of s that keeps the denominator away from zero.
    let det = m[0] * m[3] - m[1] * m[2];
    let s0 = det.sqrt();
    let tr = m[0] + m[3];
    let s = if (tr + 2.0 * s0).norm() >= (tr - 2.0 * s0).norm() { s0 } else { -s0 };
    let t = (tr + 2.0 * s).sqrt();
    [(m[0] + s) / t, m[1] / t, m[2] / t, (m[3] + s) / t]
}

/// Appends operations to a list, all under one classical condition.
#[derive(Debug)]
pub struct Emitter<'a> {
    /// Where operations go.
    pub out: &'a mut Vec<Operation>,
    /// The condition every emitted operation carries.
    pub condition: Option<Condition>,
}

impl Emitter<'_> {
    /// Appends `gate` on `qubits`.
    pub fn gate(&mut self, gate: Gate, qubits: &[u32]) {
        self.out.push(Operation::Gate {
            gate,
            qubits: qubits.into(),
            condition: self.condition.clone(),
        });
    }

    /// Appends a 1-qubit unitary given as a matrix (nothing for identity).
    pub fn mat(&mut self, m: &Mat2, q: u32) {
        for g in synth_1q(m, OneQubitBasis::Any) {
            self.gate(g, &[q]);
        }
    }

    /// Controlled-`u` with control `c`, target `t`: two `cx`, exact phase.
    pub fn controlled(&mut self, u: &Mat2, c: u32, t: u32) {
        let e = euler(u);
        let (th, ph, la) = (e.theta, e.phi, e.lambda);
        let pc = wrap(e.gamma + (la + ph) / 2.0);
        if pc.abs() > ANGLE_EPS {
            self.gate(Gate::P(pc), &[c]);
        }
        let pt = wrap((la - ph) / 2.0);
        if pt.abs() > ANGLE_EPS {
            self.gate(Gate::P(pt), &[t]);
        }
        self.gate(Gate::Cx, &[c, t]);
        self.gate(Gate::U(-th / 2.0, 0.0, -(ph + la) / 2.0), &[t]);
        self.gate(Gate::Cx, &[c, t]);
        self.gate(Gate::U(th / 2.0, ph, 0.0), &[t]);
    }

    /// Toffoli with the standard 6-`cx` circuit.
    pub fn ccx(&mut self, a: u32, b: u32, c: u32) {
        use Gate::{Cx, H, T, Tdg};
        self.gate(H, &[c]);
        self.gate(Cx, &[b, c]);
        self.gate(Tdg, &[c]);
        self.gate(Cx, &[a, c]);
        self.gate(T, &[c]);
        self.gate(Cx, &[b, c]);
        self.gate(Tdg, &[c]);
        self.gate(Cx, &[a, c]);
        self.gate(T, &[b]);
        self.gate(T, &[c]);
        self.gate(H, &[c]);
        self.gate(Cx, &[a, b]);
        self.gate(T, &[a]);
        self.gate(Tdg, &[b]);
        self.gate(Cx, &[a, b]);
    }

    /// An arbitrary 2-qubit unitary (row-major, `a` most significant), up to
    /// global phase: a product of 1-qubit gates when it is one (0 `cx`),
    /// else the KAK decomposition (at most three `cx`), else the two-level
    /// one when KAK fails its numerical check or the two-level one is
    /// cheaper (e.g. a diagonal: one controlled phase, 2 `cx`).
    pub fn unitary2(&mut self, u: &[Complex64; 16], a: u32, b: u32) {
        if let Some((ma, mb)) = kak::local_factors(u) {
            self.mat(&ma, a);
            self.mat(&mb, b);
            return;
        }
        let givens = self.scratch(|e| e.unitary2_givens(u, a, b));
        match kak::synthesize(u, a, b) {
            Some(ops) if two_qubit_count(&ops) <= two_qubit_count(&givens) => {
                self.out.extend(ops.into_iter().map(|op| match op {
                    Operation::Gate { gate, qubits, .. } => {
                        Operation::Gate { gate, qubits, condition: self.condition.clone() }
                    }
                    other => other,
                }));
            }
            _ => self.out.extend(givens),
        }
    }

    /// [`Self::unitary2`] by two-level (Givens) decomposition: correct for
    /// any input, up to ~20 `cx`.
    fn unitary2_givens(&mut self, u: &[Complex64; 16], a: u32, b: u32) {
        let mut m = *u;
        let mut levels: Vec<(usize, usize, Mat2)> = Vec::new();
        for col in 0..4 {
            for row in col + 1..4 {
                let (x, y) = (m[col * 4 + col], m[row * 4 + col]);
                if y.norm() < 1e-14 {
                    continue;
                }
                let n = (x.norm_sqr() + y.norm_sqr()).sqrt();
                let v: Mat2 = [x.conj() / n, y.conj() / n, -y / n, x / n];
                for k in 0..4 {
                    let (p, q) = (m[col * 4 + k], m[row * 4 + k]);
                    m[col * 4 + k] = v[0] * p + v[1] * q;
                    m[row * 4 + k] = v[2] * p + v[3] * q;
                }
                levels.push((col, row, v));
            }
        }
        // m is now diagonal: d0 * diag(1, e^{i p1}, e^{i p2}, e^{i p3}).
        let d0 = m[0].arg();
        let (p1, p2, p3) = (m[5].arg() - d0, m[10].arg() - d0, m[15].arg() - d0);
        if wrap(p1).abs() > ANGLE_EPS {
            self.gate(Gate::P(wrap(p1)), &[b]);
        }
        if wrap(p2).abs() > ANGLE_EPS {
            self.gate(Gate::P(wrap(p2)), &[a]);
        }
        let p3 = wrap(p3 - p1 - p2);
        if p3.abs() > ANGLE_EPS {
            let cp = gate_mat(&Gate::P(p3));
            self.controlled(&cp, a, b);
        }
        for (i, j, v) in levels.into_iter().rev() {
            self.two_level(i, j, &dagger(&v), a, b);
        }
    }

    /// The two-level unitary `v` on basis states `i < j` of qubits
    /// (`a` most significant, `b`).
    fn two_level(&mut self, i: usize, j: usize, v: &Mat2, a: u32, b: u32) {
        match i ^ j {
            1 => self.negctrl(v, a, i >> 1 & 1 == 1, b),
            2 => self.negctrl(v, b, i & 1 == 1, a),
            _ => {
                // cx(a -> b) maps (0, 3) to (0, 2) and (1, 2) to (1, 3).
                self.gate(Gate::Cx, &[a, b]);
                let (i2, j2) = if i == 0 { (0, 2) } else { (1, 3) };
                self.two_level(i2, j2, v, a, b);
                self.gate(Gate::Cx, &[a, b]);
            }
        }
    }

    fn negctrl(&mut self, v: &Mat2, c: u32, on_one: bool, t: u32) {
        if !on_one {
            self.gate(Gate::X, &[c]);
        }
        self.controlled(v, c, t);
        if !on_one {
            self.gate(Gate::X, &[c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_up_to_phase(a: &Mat2, b: &Mat2) -> bool {
        let k = (0..4).max_by(|&i, &j| a[i].norm().total_cmp(&a[j].norm())).unwrap_or(0);
        let ph = b[k] / a[k];
        (0..4).all(|i| (a[i] * ph - b[i]).norm() < 1e-9)
    }

    fn product(gates: &[Gate]) -> Mat2 {
        gates.iter().fold(IDENTITY, |acc, g| mul(&gate_mat(g), &acc))
    }

    fn samples() -> Vec<Mat2> {
        let mut v = Vec::new();
        for (t, p, l) in [
            (0.3, 1.1, -0.7),
            (0.0, 0.4, 0.2),
            (PI, 0.3, 1.2),
            (PI / 2.0, -2.0, 0.5),
            (2.9, 3.0, -3.1),
            (1e-12, 0.0, 0.0),
        ] {
            v.push(gate_mat(&Gate::U(t, p, l)));
        }
        for g in [Gate::H, Gate::X, Gate::Sx, Gate::Sdg, Gate::Y, Gate::I, Gate::Ry(0.5)] {
            v.push(gate_mat(&g));
        }
        v
    }

    #[test]
    fn bits_map_keeps_distinct_matrices_apart() {
        let key = |m: &Mat2| -> [u64; 8] {
            let v: Vec<u64> = m.iter().flat_map(|c| [c.re.to_bits(), c.im.to_bits()]).collect();
            v.try_into().expect("eight words")
        };
        let mut map: BitsMap<[u64; 8], usize> = BitsMap::default();
        let all = samples();
        for (i, m) in all.iter().enumerate() {
            map.insert(key(m), i);
        }
        for (i, m) in all.iter().enumerate() {
            assert_eq!(map.get(&key(m)), Some(&i));
        }
        assert_eq!(map.get(&key(&[-C1, C0, C0, -C1])), None);
    }

    #[test]
    fn gate_mat_matches_the_hal_matrix_bit_for_bit() {
        let gates = [
            Gate::Rz(0.3),
            Gate::Rz(-2.9),
            Gate::P(1.1),
            Gate::X,
            Gate::Sx,
            Gate::H,
            Gate::T,
            Gate::U(0.4, 0.5, 0.6),
        ];
        for g in gates {
            let m = g.matrix(1);
            assert_eq!(gate_mat(&g), [m[0], m[1], m[2], m[3]], "{g:?}");
        }
    }

    #[test]
    fn euler_reconstructs_exactly() {
        for m in samples() {
            let e = euler(&m);
            let u = gate_mat(&Gate::U(e.theta, e.phi, e.lambda));
            let ph = Complex64::from_polar(1.0, e.gamma);
            assert!((0..4).all(|i| (u[i] * ph - m[i]).norm() < 1e-9), "{m:?}");
        }
    }

    #[test]
    fn synthesis_matches_in_every_basis() {
        for basis in [
            OneQubitBasis::Any,
            OneQubitBasis::U,
            OneQubitBasis::Zyz,
            OneQubitBasis::ZSx { x: true },
            OneQubitBasis::ZSx { x: false },
        ] {
            for m in samples() {
                let seq = synth_1q(&m, basis);
                assert!(close_up_to_phase(&product(&seq), &m), "{basis:?} {seq:?}");
            }
        }
        assert!(synth_1q(&IDENTITY, OneQubitBasis::ZSx { x: true }).is_empty());
        assert_eq!(synth_1q(&gate_mat(&Gate::H), OneQubitBasis::ZSx { x: true }).len(), 3);
        assert_eq!(synth_1q(&gate_mat(&Gate::X), OneQubitBasis::ZSx { x: true }), vec![Gate::X]);
    }

    #[test]
    fn a_generic_two_qubit_unitary_takes_three_cx_not_the_two_level_count() {
        use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};
        let g = |gate: Gate, q: &[u32]| Operation::Gate { gate, qubits: q.into(), condition: None };
        let u: [Complex64; 16] = unitary(
            &[
                g(Gate::U(0.3, 0.7, -1.1), &[1]),
                g(Gate::Ry(0.4), &[0]),
                g(Gate::Iswap, &[1, 0]),
                g(Gate::Crx(0.9), &[1, 0]),
                g(Gate::Rzz(0.35), &[0, 1]),
            ],
            2,
        )
        .try_into()
        .expect("16");
        let mut out = Vec::new();
        let mut e = Emitter { out: &mut out, condition: None };
        let givens = e.scratch(|e| e.unitary2_givens(&u, 1, 0));
        e.unitary2(&u, 1, 0);
        let (old, new) = (two_qubit_count(&givens), two_qubit_count(&out));
        eprintln!("Unitary2: two-level {old} two-qubit gates, KAK {new}");
        assert!(new <= 3 && old > new, "two-level {old}, now {new}");
        let want = unitary(&[g(Gate::Unitary2(Box::new(u)), &[1, 0])], 2);
        assert!(equal_up_to_phase(&want, &unitary(&out, 2)));
        assert!(equal_up_to_phase(&want, &unitary(&givens, 2)));
    }

    #[test]
    fn square_root_squares_back() {
        for m in samples().into_iter().chain([gate_mat(&Gate::Z), [-C1, C0, C0, -C1]]) {
            let v = sqrt_unitary(&m);
            let vv = mul(&v, &v);
            assert!((0..4).all(|i| (vv[i] - m[i]).norm() < 1e-9));
        }
    }
}
