//! Unrolling: every gate of more than one qubit becomes `cx`, `cz`, `swap`
//! and 1-qubit gates (routing works on pairs; 1-qubit runs are synthesized
//! into the native basis later, by the optimizer).
//!
//! For an all-to-all device that accepts every gate, only what the OpenQASM
//! output cannot express exactly is rewritten (arbitrary 2-qubit unitaries,
//! and 1-qubit ones become `u`).

use super::synth::{self, Emitter, Mat2};
use eigen_hal::{Gate, Operation};
use std::f64::consts::PI;

/// Most controls a multi-controlled gate may have: one less than the most
/// qubits a program may use (`ParseLimits::default().max_qubits`, 64). The
/// ancilla-free decomposition grows quadratically (at most a few thousand
/// `cx` at this size), so this only bounds circuits built without the parser.
pub const MAX_CONTROLS: usize = 63;

/// How far to unroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnrollTo {
    /// 1-qubit gates, `cx`, `cz`, `swap` (for routing onto hardware).
    TwoQubitBasis,
    /// Only gates on more than two qubits (before routing, which works on
    /// pairs: a 2-qubit gate is routed whole and unrolled afterwards).
    Routable,
    /// Keep everything expressible in OpenQASM 3 (all-to-all simulator).
    Expressible,
}

/// Unrolls `ops`; an error names the gate that cannot be unrolled.
pub fn unroll(ops: &[Operation], to: UnrollTo) -> Result<Vec<Operation>, String> {
    let mut out = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        let Operation::Gate { gate, qubits, condition } = op else {
            out.push(op.clone());
            continue;
        };
        let mut e = Emitter { out: &mut out, condition: condition.clone() };
        match to {
            UnrollTo::Expressible => match gate {
                Gate::Unitary2(u) => e.unitary2(u, qubits[0], qubits[1]),
                Gate::Unitary1(u) => e.mat(u, qubits[0]),
                _ => out.push(op.clone()),
            },
            UnrollTo::Routable => {
                if qubits.len() <= 2 {
                    out.push(op.clone());
                } else {
                    decompose(&mut e, gate, qubits)?;
                }
            }
            UnrollTo::TwoQubitBasis => {
                if gate.arity() == Some(1) || matches!(gate, Gate::Cx | Gate::Cz | Gate::Swap) {
                    out.push(op.clone());
                } else {
                    decompose(&mut e, gate, qubits)?;
                }
            }
        }
    }
    Ok(out)
}

/// Writes `gate` on `q` as 1-qubit gates and `cx`.
fn decompose(e: &mut Emitter<'_>, gate: &Gate, q: &[u32]) -> Result<(), String> {
    use Gate::*;
    let m = |g: &Gate| synth::gate_mat(g);
    match *gate {
        Cy => {
            e.gate(Sdg, &[q[1]]);
            e.gate(Cx, &[q[0], q[1]]);
            e.gate(S, &[q[1]]);
        }
        Cp(t) => {
            // Ends on a cx so that a routing swap right after it cancels one.
            e.gate(P(t / 2.0), &[q[0]]);
            e.gate(P(t / 2.0), &[q[1]]);
            e.gate(Cx, &[q[0], q[1]]);
            e.gate(P(-t / 2.0), &[q[1]]);
            e.gate(Cx, &[q[0], q[1]]);
        }
        Crz(t) => {
            e.gate(Rz(t / 2.0), &[q[1]]);
            e.gate(Cx, &[q[0], q[1]]);
            e.gate(Rz(-t / 2.0), &[q[1]]);
            e.gate(Cx, &[q[0], q[1]]);
        }
        Ch | Crx(_) | Cry(_) | Csx | Cu(..) => {
            let u: Mat2 = match *gate {
                Ch => m(&H),
                Crx(t) => m(&Rx(t)),
                Cry(t) => m(&Ry(t)),
                Csx => m(&Sx),
                Cu(t, p, l, g) => {
                    let u = m(&U(t, p, l));
                    let ph = num_complex::Complex64::from_polar(1.0, g);
                    [u[0] * ph, u[1] * ph, u[2] * ph, u[3] * ph]
                }
                _ => {
                    return Err(format!("internal: {} is not a controlled gate", gate.name()));
                }
            };
            e.controlled(&u, q[0], q[1]);
        }
        Iswap => {
            e.gate(S, &[q[0]]);
            e.gate(S, &[q[1]]);
            e.gate(H, &[q[0]]);
            e.gate(Cx, &[q[0], q[1]]);
            e.gate(Cx, &[q[1], q[0]]);
            e.gate(H, &[q[1]]);
        }
        Ecr => {
            // ecr = rzx(pi/4); x (first); rzx(-pi/4)
            zz_like(e, q, PI / 4.0, Basis::Zx);
            e.gate(X, &[q[0]]);
            zz_like(e, q, -PI / 4.0, Basis::Zx);
        }
        Rxx(t) => zz_like(e, q, t, Basis::Xx),
        Ryy(t) => zz_like(e, q, t, Basis::Yy),
        Rzz(t) => zz_like(e, q, t, Basis::Zz),
        Rzx(t) => zz_like(e, q, t, Basis::Zx),
        Ccx => e.ccx(q[0], q[1], q[2]),
        Cswap => {
            e.gate(Cx, &[q[2], q[1]]);
            e.ccx(q[0], q[1], q[2]);
            e.gate(Cx, &[q[2], q[1]]);
        }
        Mcx | Mcz | Mcu(_) => {
            let Some((&t, controls)) = q.split_last() else {
                return Err(format!("{} needs at least one qubit", gate.name()));
            };
            if controls.len() > MAX_CONTROLS {
                return Err(format!(
                    "{} with {} controls is too large to unroll (at most {MAX_CONTROLS})",
                    gate.name(),
                    controls.len()
                ));
            }
            match gate {
                Mcx => e.mcx(controls, t),
                Mcz => {
                    e.gate(H, &[t]);
                    e.mcx(controls, t);
                    e.gate(H, &[t]);
                }
                Mcu(u) => e.mcu(u, controls, t),
                _ => return Err("internal: not a multi-controlled gate".into()),
            }
        }
        Unitary2(ref u) => e.unitary2(u, q[0], q[1]),
        _ => return Err(format!("the compiler cannot unroll gate {}", gate.name())),
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Basis {
    Xx,
    Yy,
    Zz,
    Zx,
}

/// exp(-i t/2 P⊗Q) by basis change to Z⊗Z around `cx; rz; cx`.
fn zz_like(e: &mut Emitter<'_>, q: &[u32], t: f64, basis: Basis) {
    use Gate::*;
    type Layer = Vec<(Gate, u32)>;
    let (pre, post): (Layer, Layer) = match basis {
        Basis::Zz => (vec![], vec![]),
        Basis::Zx => (vec![(H, q[1])], vec![(H, q[1])]),
        Basis::Xx => (vec![(H, q[0]), (H, q[1])], vec![(H, q[0]), (H, q[1])]),
        Basis::Yy => (
            vec![(Rx(PI / 2.0), q[0]), (Rx(PI / 2.0), q[1])],
            vec![(Rx(-PI / 2.0), q[0]), (Rx(-PI / 2.0), q[1])],
        ),
    };
    for (g, x) in pre {
        e.gate(g, &[x]);
    }
    e.gate(Cx, &[q[0], q[1]]);
    e.gate(Rz(t), &[q[1]]);
    e.gate(Cx, &[q[0], q[1]]);
    for (g, x) in post {
        e.gate(g, &[x]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use num_complex::Complex64;

    /// The dense unitary of `ops` on `n` qubits (qubit 0 least significant).
    pub(crate) fn unitary(ops: &[Operation], n: usize) -> Vec<Complex64> {
        let dim = 1 << n;
        let mut u = vec![Complex64::new(0.0, 0.0); dim * dim];
        for k in 0..dim {
            u[k * dim + k] = Complex64::new(1.0, 0.0);
        }
        for op in ops {
            let Operation::Gate { gate, qubits, .. } = op else {
                continue;
            };
            let k = qubits.len();
            let g = gate.matrix(k);
            let mut next = vec![Complex64::new(0.0, 0.0); dim * dim];
            for col in 0..dim {
                for row in 0..dim {
                    // sub-index of `row` on the gate's qubits, first operand most significant
                    let sub = |x: usize| qubits.iter().fold(0, |acc, &q| acc << 1 | (x >> q & 1));
                    let rest = |x: usize| qubits.iter().fold(x, |acc, &q| acc & !(1 << q));
                    let (rs, rr) = (sub(row), rest(row));
                    let mut s = Complex64::new(0.0, 0.0);
                    for sc in 0..1 << k {
                        let mut x = rr;
                        for (i, &q) in qubits.iter().enumerate() {
                            if sc >> (k - 1 - i) & 1 == 1 {
                                x |= 1 << q;
                            }
                        }
                        s += g[rs * (1 << k) + sc] * u[x * dim + col];
                    }
                    next[row * dim + col] = s;
                }
            }
            u = next;
        }
        u
    }

    pub(crate) fn equal_up_to_phase(a: &[Complex64], b: &[Complex64]) -> bool {
        let k = (0..a.len()).max_by(|&i, &j| a[i].norm().total_cmp(&a[j].norm())).unwrap_or(0);
        let ph = b[k] / a[k];
        (ph.norm() - 1.0).abs() < 1e-9 && a.iter().zip(b).all(|(x, y)| (x * ph - y).norm() < 1e-8)
    }

    #[test]
    fn every_gate_unrolls_exactly() {
        use Gate::*;
        let h = synth::gate_mat(&H);
        // a generic entangling unitary: Crx(0.9) * (U ⊗ Ry) * iSWAP
        let local = unitary(
            &[
                Operation::Gate {
                    gate: U(0.3, 0.7, -1.1),
                    qubits: [1].as_slice().into(),
                    condition: None,
                },
                Operation::Gate { gate: Ry(0.4), qubits: [0].as_slice().into(), condition: None },
                Operation::Gate { gate: Iswap, qubits: [1, 0].as_slice().into(), condition: None },
                Operation::Gate {
                    gate: Crx(0.9),
                    qubits: [1, 0].as_slice().into(),
                    condition: None,
                },
            ],
            2,
        );
        let u2: [Complex64; 16] = local.try_into().expect("4x4");
        let cases: Vec<(Gate, Vec<u32>)> = vec![
            (Cy, vec![0, 1]),
            (Ch, vec![1, 0]),
            (Cp(0.4), vec![0, 1]),
            (Crx(0.5), vec![0, 1]),
            (Cry(-0.6), vec![1, 0]),
            (Crz(0.7), vec![0, 1]),
            (Cu(0.1, 0.2, 0.3, 0.4), vec![0, 1]),
            (Csx, vec![1, 0]),
            (Iswap, vec![0, 1]),
            (Ecr, vec![0, 1]),
            (Ecr, vec![1, 0]),
            (Rxx(0.3), vec![0, 1]),
            (Ryy(0.4), vec![0, 1]),
            (Rzz(0.5), vec![1, 0]),
            (Rzx(0.6), vec![0, 1]),
            (Ccx, vec![0, 1, 2]),
            (Ccx, vec![2, 0, 1]),
            (Cswap, vec![1, 2, 0]),
            (Mcx, vec![0, 1, 2, 3]),
            (Mcz, vec![3, 1, 0, 2]),
            (Mcu(Box::new(h)), vec![2, 0, 3, 1]),
            (Mcu(Box::new(h)), vec![1, 0]),
            (Mcx, vec![0, 1, 2]),
            (Unitary2(Box::new(u2)), vec![0, 1]),
            (Unitary2(Box::new(u2)), vec![1, 0]),
            (Unitary2(Box::new(Swap.matrix(2).try_into().expect("16"))), vec![0, 1]),
        ];
        for (g, qs) in cases {
            let n = 4;
            let op =
                Operation::Gate { gate: g.clone(), qubits: qs.as_slice().into(), condition: None };
            let out = unroll(std::slice::from_ref(&op), UnrollTo::TwoQubitBasis).expect("unrolls");
            assert!(out.iter().all(|o| matches!(o, Operation::Gate { gate, .. }
                if gate.arity() == Some(1) || matches!(gate, Cx | Cz | Swap))));
            assert!(
                equal_up_to_phase(&unitary(&[op], n), &unitary(&out, n)),
                "{} on {qs:?}",
                g.name()
            );
        }
    }
}
