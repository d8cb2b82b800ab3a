//! Gates lowered to the few kernel shapes the simulator applies, and the
//! fusion of 1-qubit runs.
//!
//! Every [`Gate`] becomes one [`Op`]: a kernel [`Kind`] on its target qubits
//! plus a control mask. Controls are not part of the kernel: a controlled
//! gate only restricts which amplitudes the kernel touches, so `cx`, `ccx`
//! and `mcx` are all the same bit-flip kernel, and `cz`, `cp` and `mcz` are
//! a scalar phase on the amplitudes whose control bits are all 1. This is
//! also what lets the cache-blocked executor ([`crate::plan`]) treat controls
//! and diagonal targets on qubits outside a block as per-block constants.

use eigen_hal::Gate;
use num_complex::Complex64;

pub(crate) type C = Complex64;

const ONE: C = C::new(1.0, 0.0);
const ZERO: C = C::new(0.0, 0.0);

/// The shape of a kernel, on global qubit indices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A dense 2x2 unitary, row-major.
    U1 { q: u32, m: [C; 4] },
    /// A real 2x2 matrix (h, ry, real products): half the multiplications.
    R1 { q: u32, m: [f64; 4] },
    /// `[[a, -ib], [-ib, a]]` with real `a`, `b` (rx): no complex products.
    Xr { q: u32, a: f64, b: f64 },
    /// diag(d0, d1).
    D1 { q: u32, d: [C; 2] },
    /// Bit flip (x, cx, ccx, mcx).
    X1 { q: u32 },
    /// A dense 4x4 unitary, `q0` the most significant bit of the matrix index.
    U2 { q0: u32, q1: u32, m: Box<[C; 16]> },
    /// diag(d00, d01, d10, d11), `q0` most significant.
    D2 { q0: u32, q1: u32, d: [C; 4] },
    /// Exchange of two qubits (swap, cswap).
    Swap { q0: u32, q1: u32 },
    /// A scalar on the amplitudes where every control is 1 (cz, cp, mcz).
    Phase { c: C },
}

/// One kernel application: `kind` on the amplitudes whose `ctrl` bits are 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Op {
    pub kind: Kind,
    /// Global qubit mask of the controls.
    pub ctrl: u64,
}

impl Op {
    fn new(kind: Kind) -> Self {
        Self { kind, ctrl: 0 }
    }

    /// Mask of the qubits whose bit the kernel changes or mixes: these must
    /// be inside a cache block. Diagonal kernels need none.
    pub fn needs(&self) -> u64 {
        match self.kind {
            Kind::U1 { q, .. } | Kind::R1 { q, .. } | Kind::Xr { q, .. } | Kind::X1 { q } => 1 << q,
            Kind::U2 { q0, q1, .. } | Kind::Swap { q0, q1 } => (1 << q0) | (1 << q1),
            Kind::D1 { .. } | Kind::D2 { .. } | Kind::Phase { .. } => 0,
        }
    }

    /// Mask of every qubit the op reads: targets and controls.
    pub fn support(&self) -> u64 {
        self.kind.targets() | self.ctrl
    }
}

impl Kind {
    /// Mask of the target qubits.
    pub fn targets(&self) -> u64 {
        match *self {
            Kind::U1 { q, .. }
            | Kind::R1 { q, .. }
            | Kind::Xr { q, .. }
            | Kind::X1 { q }
            | Kind::D1 { q, .. } => 1 << q,
            Kind::U2 { q0, q1, .. } | Kind::D2 { q0, q1, .. } | Kind::Swap { q0, q1 } => {
                (1 << q0) | (1 << q1)
            }
            Kind::Phase { .. } => 0,
        }
    }
}

/// Lowers `gate` on `qubits` (already validated: in range, distinct, arity
/// matching) to an op; `None` for the identity.
pub(crate) fn lower(gate: &Gate, qubits: &[u32]) -> Option<Op> {
    use Gate::*;
    let q = |k: usize| qubits[k];
    let mask = |qs: &[u32]| qs.iter().fold(0u64, |m, &b| m | 1 << b);
    let one = |g: &Gate, t: u32| -> Kind { one_qubit_kind(t, &mat4(&g.matrix(1))) };
    let controlled = |kind: Kind, ctrls: &[u32]| Op { kind, ctrl: mask(ctrls) };
    let last = qubits.len().saturating_sub(1);
    Some(match gate {
        I => return None,
        X => Op::new(Kind::X1 { q: q(0) }),
        Rx(t) => Op::new(Kind::Xr { q: q(0), a: (t / 2.0).cos(), b: (t / 2.0).sin() }),
        Y | Z | H | S | Sdg | T | Tdg | Sx | Sxdg | Ry(_) | Rz(_) | P(_) | U(..) => {
            Op::new(one(gate, q(0)))
        }
        Unitary1(m) => Op::new(one_qubit_kind(q(0), m)),
        Cx => controlled(Kind::X1 { q: q(1) }, &[q(0)]),
        Cz => controlled(Kind::Phase { c: -ONE }, &[q(0), q(1)]),
        Cp(t) => controlled(Kind::Phase { c: C::from_polar(1.0, *t) }, &[q(0), q(1)]),
        Cy => controlled(one(&Y, q(1)), &[q(0)]),
        Ch => controlled(one(&H, q(1)), &[q(0)]),
        Crx(t) => controlled(one(&Rx(*t), q(1)), &[q(0)]),
        Cry(t) => controlled(one(&Ry(*t), q(1)), &[q(0)]),
        Crz(t) => controlled(one(&Rz(*t), q(1)), &[q(0)]),
        Csx => controlled(one(&Sx, q(1)), &[q(0)]),
        Cu(..) => {
            let m = gate.matrix(2);
            let u = [m[10], m[11], m[14], m[15]];
            controlled(one_qubit_kind(q(1), &u), &[q(0)])
        }
        Swap => Op::new(Kind::Swap { q0: q(0), q1: q(1) }),
        Cswap => controlled(Kind::Swap { q0: q(1), q1: q(2) }, &[q(0)]),
        Rzz(_) => {
            let m = gate.matrix(2);
            Op::new(Kind::D2 { q0: q(0), q1: q(1), d: [m[0], m[5], m[10], m[15]] })
        }
        Ccx => controlled(Kind::X1 { q: q(2) }, &[q(0), q(1)]),
        Mcx => controlled(Kind::X1 { q: q(last) }, &qubits[..last]),
        Mcz => controlled(Kind::Phase { c: -ONE }, qubits),
        Mcu(u) => {
            let kind = one_qubit_kind(q(last), u);
            if let Kind::D1 { d, .. } = kind {
                // A controlled diagonal is a phase on the all-ones corner (and
                // a phase on the target-0 corner when d0 != 1).
                if d[0] == ONE {
                    return Some(controlled(Kind::Phase { c: d[1] }, qubits));
                }
            }
            controlled(kind, &qubits[..last])
        }
        _ => match gate.arity() {
            Some(1) => Op::new(one_qubit_kind(q(0), &mat4(&gate.matrix(1)))),
            _ => {
                // Every remaining gate is a 2-qubit one (iswap, ecr, rxx, ryy,
                // rzx, unitary, and any future 2-qubit variant).
                let m = gate.matrix(2);
                let mut a = [ZERO; 16];
                a.copy_from_slice(&m[..16]);
                two_qubit_kind(q(0), q(1), a)
            }
        },
    })
}

fn two_qubit_kind(q0: u32, q1: u32, m: [C; 16]) -> Op {
    let diagonal = (0..16).all(|k| k / 4 == k % 4 || m[k] == ZERO);
    if diagonal {
        Op::new(Kind::D2 { q0, q1, d: [m[0], m[5], m[10], m[15]] })
    } else {
        Op::new(Kind::U2 { q0, q1, m: Box::new(m) })
    }
}

fn mat4(v: &[C]) -> [C; 4] {
    [v[0], v[1], v[2], v[3]]
}

/// The cheapest kernel shape for a 2x2 unitary.
pub(crate) fn one_qubit_kind(q: u32, m: &[C; 4]) -> Kind {
    if m[1] == ZERO && m[2] == ZERO {
        Kind::D1 { q, d: [m[0], m[3]] }
    } else if m[0] == ZERO && m[3] == ZERO && m[1] == ONE && m[2] == ONE {
        Kind::X1 { q }
    } else if m.iter().all(|c| c.im == 0.0) {
        Kind::R1 { q, m: [m[0].re, m[1].re, m[2].re, m[3].re] }
    } else {
        Kind::U1 { q, m: *m }
    }
}

/// The 2x2 matrix of a 1-qubit kind (none for the others).
fn matrix_of(kind: &Kind) -> Option<(u32, [C; 4])> {
    let r = |x: f64| C::new(x, 0.0);
    Some(match *kind {
        Kind::U1 { q, m } => (q, m),
        Kind::R1 { q, m } => (q, [r(m[0]), r(m[1]), r(m[2]), r(m[3])]),
        Kind::Xr { q, a, b } => (q, [r(a), C::new(0.0, -b), C::new(0.0, -b), r(a)]),
        Kind::D1 { q, d } => (q, [d[0], ZERO, ZERO, d[1]]),
        Kind::X1 { q } => (q, [ZERO, ONE, ONE, ZERO]),
        _ => return None,
    })
}

fn mul2(a: &[C; 4], b: &[C; 4]) -> [C; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

/// Fuses every run of uncontrolled 1-qubit gates on the same qubit (with no
/// other gate on that qubit in between) into one 2x2 kernel, placed where
/// the run started. Gates on other qubits commute with the run, so the order
/// of everything else is kept. A fused run that collapses to the identity
/// is dropped.
///
/// Fusing wider (dense 4x4 or larger blocks) would not cut work here: the
/// executor already applies every gate of a cache block in cache, where a
/// k-qubit dense kernel costs 2^k complex products per amplitude while the
/// gates it replaces cost fewer with their structured kernels.
pub(crate) fn fuse(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Option<Op>> = Vec::with_capacity(ops.len());
    // For each qubit, the slot of an open 1-qubit run, if any.
    let mut open: Vec<Option<usize>> = vec![None; 64];
    for op in ops {
        if op.ctrl == 0
            && let Some((q, m)) = matrix_of(&op.kind)
        {
            if let Some(slot) = open[q as usize] {
                let prev = out[slot].as_ref().and_then(|o| matrix_of(&o.kind));
                if let Some((_, pm)) = prev {
                    let fused = mul2(&m, &pm);
                    out[slot] = Some(Op::new(one_qubit_kind(q, &fused)));
                    continue;
                }
            }
            open[q as usize] = Some(out.len());
            out.push(Some(op));
            continue;
        }
        let mut support = op.support();
        while support != 0 {
            let b = support.trailing_zeros() as usize;
            open[b] = None;
            support &= support - 1;
        }
        out.push(Some(op));
    }
    out.into_iter()
        .flatten()
        .filter(|op| match op.kind {
            Kind::D1 { d, .. } => !(d[0] == ONE && d[1] == ONE),
            Kind::Phase { c } => c != ONE,
            _ => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controlled_gates_share_kernels() {
        let cx = lower(&Gate::Cx, &[3, 1]).expect("cx is not identity");
        assert_eq!(cx.kind, Kind::X1 { q: 1 });
        assert_eq!(cx.ctrl, 0b1000);
        let mcx = lower(&Gate::Mcx, &[0, 2, 4, 5]).expect("mcx");
        assert_eq!(mcx.kind, Kind::X1 { q: 5 });
        assert_eq!(mcx.ctrl, 0b10101);
        let cz = lower(&Gate::Cz, &[0, 2]).expect("cz");
        assert_eq!(cz.needs(), 0);
        assert_eq!(cz.support(), 0b101);
        assert!(lower(&Gate::I, &[0]).is_none());
    }

    #[test]
    fn runs_fuse_and_cancel() {
        let h = lower(&Gate::H, &[0]).expect("h");
        let x1 = lower(&Gate::X, &[1]).expect("x");
        let fused = fuse(vec![h.clone(), x1.clone(), h.clone()]);
        // H·H on qubit 0 is the identity up to rounding; X on 1 stays.
        assert!(fused.iter().any(|o| o.kind == Kind::X1 { q: 1 }));
        let cx = lower(&Gate::Cx, &[0, 1]).expect("cx");
        let kept = fuse(vec![h.clone(), cx, h]);
        assert_eq!(kept.len(), 3, "a gate on the qubit closes the run");
    }
}
