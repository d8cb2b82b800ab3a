//! Routing swaps on the way to native gates: expansion into `cx`, and the
//! rewrites that let a swap absorb a diagonal 2-qubit gate on its pair.

use super::gate;
use eigen_hal::{Gate, Operation};
use std::f64::consts::PI;

/// Moves, for each routing `swap`, the last diagonal 2-qubit gate on the
/// same pair (e.g. a controlled phase) to just before it, when only
/// diagonal operations lie between them on those qubits (diagonal gates
/// commute). The pair's gates then form one block that re-synthesizes to
/// three 2-qubit gates instead of the swap's three plus the gate's.
#[must_use]
pub fn gather_into_swaps(ops: Vec<Operation>, num_qubits: usize) -> Vec<Operation> {
    let mut out: Vec<Option<Operation>> = Vec::with_capacity(ops.len());
    // Per qubit, output positions of the diagonal 2-qubit gates since the
    // last non-diagonal operation on it.
    let mut tail: Vec<Vec<usize>> = vec![Vec::new(); num_qubits];
    for op in ops {
        match &op {
            Operation::Gate { gate: Gate::Swap, qubits, condition: None } if qubits.len() == 2 => {
                let (a, b) = (qubits[0] as usize, qubits[1] as usize);
                let found = tail[a].iter().rev().copied().find(|i| {
                    tail[b].contains(i)
                        && matches!(&out[*i], Some(Operation::Gate { qubits: g, .. })
                            if g.len() == 2 && g.contains(&qubits[0]) && g.contains(&qubits[1]))
                });
                if let Some(i) = found
                    && let Some(g) = out[i].take()
                {
                    out.push(Some(g));
                }
                tail[a].clear();
                tail[b].clear();
            }
            Operation::Gate { gate, qubits, condition: None }
                if gate.is_diagonal() && qubits.len() == 2 =>
            {
                for &q in qubits {
                    tail[q as usize].push(out.len());
                }
            }
            // diagonal 1-qubit gates commute with the diagonal tail
            Operation::Gate { gate, condition: None, .. } if gate.is_diagonal() => {}
            Operation::Gate { qubits, .. } | Operation::Barrier { qubits } => {
                for &q in qubits {
                    tail[q as usize].clear();
                }
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                tail[*qubit as usize].clear();
            }
            _ => {}
        }
        out.push(Some(op));
    }
    out.into_iter().flatten().collect()
}

/// `gate` as `rz(alpha) a; rz(beta) b; rzz(gamma)` (up to global phase)
/// when it is a diagonal 2-qubit gate on `(a, b)`.
fn diagonal_angles(gate: &Gate) -> Option<(f64, f64, f64)> {
    match gate {
        Gate::Cp(t) => Some((t / 2.0, t / 2.0, -t / 2.0)),
        Gate::Cz => Some((PI / 2.0, PI / 2.0, -PI / 2.0)),
        Gate::Crz(t) => Some((0.0, t / 2.0, -t / 2.0)),
        Gate::Rzz(t) => Some((0.0, 0.0, *t)),
        _ => None,
    }
}

/// Rewrites each diagonal 2-qubit gate directly followed (on both its
/// qubits) by a `swap` of the same pair into three `cx`: with
/// `D = rz(alpha) a; rz(beta) b; cx a, b; rz(gamma) b; cx a, b`, the last
/// `cx` cancels the swap's first, leaving
/// `rz(alpha) a; rz(beta) b; cx a, b; rz(gamma) b; cx b, a; cx a, b`
/// (5 `cx` become 3 without a 2-qubit re-synthesis).
#[must_use]
pub fn fuse_diagonal_swaps(ops: Vec<Operation>) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::with_capacity(ops.len() + ops.len() / 4);
    let mut it = ops.into_iter().peekable();
    while let Some(op) = it.next() {
        let fused = match (&op, it.peek()) {
            (
                Operation::Gate { gate, qubits, condition: None },
                Some(Operation::Gate { gate: Gate::Swap, qubits: sq, condition: None }),
            ) if qubits.len() == 2
                && sq.len() == 2
                && sq.contains(&qubits[0])
                && sq.contains(&qubits[1]) =>
            {
                diagonal_angles(gate).map(|angles| (angles, qubits[0], qubits[1]))
            }
            _ => None,
        };
        let Some(((alpha, beta, gamma), a, b)) = fused else {
            out.push(op);
            continue;
        };
        it.next();
        let none = None;
        out.push(gate(Gate::Rz(alpha), &[a], &none));
        out.push(gate(Gate::Rz(beta), &[b], &none));
        out.push(gate(Gate::Cx, &[a, b], &none));
        out.push(gate(Gate::Rz(gamma), &[b], &none));
        out.push(gate(Gate::Cx, &[b, a], &none));
        out.push(gate(Gate::Cx, &[a, b], &none));
    }
    out
}

/// Replaces every `swap` by three `cx`.
#[must_use]
pub fn expand_swaps(ops: Vec<Operation>, num_qubits: usize) -> Vec<Operation> {
    let swaps =
        ops.iter().filter(|op| matches!(op, Operation::Gate { gate: Gate::Swap, .. })).count();
    let mut out = Vec::with_capacity(ops.len() + 2 * swaps);
    // last 2-qubit gate on each qubit: (index in out, control, target) for cx
    let mut last_cx: Vec<Option<(usize, u32, u32)>> = vec![None; num_qubits];
    for op in ops {
        match op {
            Operation::Gate { gate: Gate::Swap, qubits, condition } => {
                let (a, b) = (qubits[0], qubits[1]);
                let (x, y) = match (last_cx[a as usize], last_cx[b as usize]) {
                    (Some((i, c, t)), Some((j, ..))) if i == j => (c, t),
                    _ => (a, b),
                };
                for (c, t) in [(x, y), (y, x), (x, y)] {
                    out.push(gate(Gate::Cx, &[c, t], &condition));
                }
                let k = out.len() - 1;
                last_cx[x as usize] = Some((k, x, y));
                last_cx[y as usize] = Some((k, x, y));
            }
            Operation::Gate { gate: g, qubits, condition } => {
                if qubits.len() >= 2 {
                    let rec = (matches!(g, Gate::Cx) && qubits.len() == 2)
                        .then(|| (out.len(), qubits[0], qubits[1]));
                    for &q in &qubits {
                        last_cx[q as usize] = rec;
                    }
                }
                out.push(Operation::Gate { gate: g, qubits, condition });
            }
            other => {
                if let Operation::Measure { qubit, .. } | Operation::Reset { qubit } = &other {
                    last_cx[*qubit as usize] = None;
                }
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};
    use eigen_hal::Circuit;

    #[test]
    fn a_phase_gate_is_gathered_next_to_the_swap_on_its_pair() {
        // cp(0,1), then diagonal gates on 0 and 1, then swap(0,1): the cp
        // moves next to the swap; an h on 1 in between would block it.
        let mut c = Circuit::new(3, 0);
        c.gate(Gate::Cp(0.3), &[0, 1])
            .gate(Gate::Cp(0.2), &[0, 2])
            .gate(Gate::Rz(0.4), &[1])
            .gate(Gate::Swap, &[1, 0]);
        let out = gather_into_swaps(c.ops.clone(), 3);
        assert!(equal_up_to_phase(&unitary(&c.ops, 3), &unitary(&out, 3)));
        assert_eq!(out[2], c.ops[0], "{out:?}");
        let fused = fuse_diagonal_swaps(out);
        let cx = fused.iter().filter(|o| matches!(o, Operation::Gate { gate: Gate::Cx, .. }));
        assert_eq!(cx.count(), 3);
        let mut blocked = Circuit::new(2, 0);
        blocked.gate(Gate::Cp(0.3), &[0, 1]).gate(Gate::H, &[1]).gate(Gate::Swap, &[0, 1]);
        assert_eq!(gather_into_swaps(blocked.ops.clone(), 2), blocked.ops);
    }

    #[test]
    fn a_diagonal_gate_and_a_swap_fuse_into_three_cx() {
        for g in [Gate::Cp(0.37), Gate::Cz, Gate::Crz(-1.1), Gate::Rzz(0.8)] {
            for pair in [[0u32, 1], [1, 0]] {
                let mut c = Circuit::new(2, 0);
                c.gate(Gate::H, &[0]).gate(Gate::Ry(0.3), &[1]);
                c.gate(g.clone(), &pair).gate(Gate::Swap, &[pair[1], pair[0]]);
                let out = fuse_diagonal_swaps(c.ops.clone());
                assert!(equal_up_to_phase(&unitary(&c.ops, 2), &unitary(&out, 2)), "{g:?}");
                let cx = out.iter().filter(|o| matches!(o, Operation::Gate { gate: Gate::Cx, .. }));
                assert_eq!(cx.count(), 3);
            }
        }
        // a gate between them on one of the qubits: left alone
        let mut c = Circuit::new(3, 0);
        c.gate(Gate::Cp(0.2), &[0, 1]).gate(Gate::Cx, &[1, 2]).gate(Gate::Swap, &[0, 1]);
        assert_eq!(fuse_diagonal_swaps(c.ops.clone()), c.ops);
    }
}
