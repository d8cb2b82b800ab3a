//! Native translation and peephole optimization on physical circuits.
//!
//! - [`expand_swaps`]: routing swaps become three `cx`, oriented to cancel
//!   against an adjacent `cx` when there is one.
//! - [`translate_2q`]: `cx`/`cz` become the device's native 2-qubit gate, in
//!   a direction the coupling map has (1-qubit gates fix the rest).
//! - [`merge`]: one sweep that fuses runs of 1-qubit gates into a minimal
//!   native sequence, lets diagonal gates slide through `cz` and `cx`
//!   controls (and X-like ones through `cx` targets), cancels adjacent
//!   self-inverse 2-qubit pairs, and drops gates that cannot change results
//!   (1-qubit gates before a reset, diagonal ones before a measurement,
//!   anything on a qubit after its final measurement).

use super::routing::Coupling;
use super::synth::{self, Mat2, OneQubitBasis};
use eigen_hal::{Gate, Operation};
use std::cell::RefCell;
use std::f64::consts::PI;

/// The device's native 2-qubit gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoQubitNative {
    /// Every 2-qubit gate is accepted.
    Any,
    /// `cz` (symmetric).
    Cz,
    /// `cx` (directed).
    Cx,
    /// `ecr` (directed).
    Ecr,
}

impl TwoQubitNative {
    /// The native 2-qubit gate of a device accepting the named gates.
    #[must_use]
    pub fn for_target(accepts: impl Fn(&str) -> bool, any: bool) -> Option<Self> {
        if any {
            Some(Self::Any)
        } else if accepts("cz") {
            Some(Self::Cz)
        } else if accepts("cx") {
            Some(Self::Cx)
        } else if accepts("ecr") {
            Some(Self::Ecr)
        } else {
            None
        }
    }
}

fn gate(gate: Gate, qubits: &[u32], condition: &Option<eigen_hal::Condition>) -> Operation {
    Operation::Gate { gate, qubits: qubits.to_vec(), condition: condition.clone() }
}

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
    let mut out = Vec::with_capacity(ops.len() + 16);
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

/// Rewrites `cx` and `cz` into `native`, respecting the direction of
/// `coupling` for directed natives (`None`: any direction).
#[must_use]
pub fn translate_2q(
    ops: Vec<Operation>,
    native: TwoQubitNative,
    coupling: Option<&Coupling>,
) -> Vec<Operation> {
    if native == TwoQubitNative::Any {
        return ops;
    }
    let ok = |c: u32, t: u32| coupling.is_none_or(|m| m.has_direction(c, t));
    let mut out = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        let Operation::Gate { gate: g, qubits, condition } = &op else {
            out.push(op);
            continue;
        };
        let cond = condition;
        match (g, native) {
            (Gate::Cz, TwoQubitNative::Cz) => out.push(op),
            (Gate::Cx, TwoQubitNative::Cz) => {
                out.push(gate(Gate::H, &[qubits[1]], cond));
                out.push(gate(Gate::Cz, qubits, cond));
                out.push(gate(Gate::H, &[qubits[1]], cond));
            }
            (Gate::Cz, _) => {
                out.push(gate(Gate::H, &[qubits[1]], cond));
                directed_cx(&mut out, qubits[0], qubits[1], native, &ok, cond);
                out.push(gate(Gate::H, &[qubits[1]], cond));
            }
            (Gate::Cx, _) => directed_cx(&mut out, qubits[0], qubits[1], native, &ok, cond),
            _ => out.push(op),
        }
    }
    out
}

fn directed_cx(
    out: &mut Vec<Operation>,
    c: u32,
    t: u32,
    native: TwoQubitNative,
    ok: &dyn Fn(u32, u32) -> bool,
    cond: &Option<eigen_hal::Condition>,
) {
    if !ok(c, t) && ok(t, c) {
        // cx(c, t) = (H ⊗ H) cx(t, c) (H ⊗ H)
        out.push(gate(Gate::H, &[c], cond));
        out.push(gate(Gate::H, &[t], cond));
        directed_cx(out, t, c, native, &|a, b| a == t && b == c, cond);
        out.push(gate(Gate::H, &[c], cond));
        out.push(gate(Gate::H, &[t], cond));
        return;
    }
    match native {
        TwoQubitNative::Ecr => {
            // cx = (X ⊗ I) ecr (Rz(-pi/2) ⊗ Rx(-pi/2)), up to global phase
            out.push(gate(Gate::Rz(-PI / 2.0), &[c], cond));
            out.push(gate(Gate::Rx(-PI / 2.0), &[t], cond));
            out.push(gate(Gate::Ecr, &[c, t], cond));
            out.push(gate(Gate::X, &[c], cond));
        }
        _ => out.push(gate(Gate::Cx, &[c, t], cond)),
    }
}

/// How [`merge`] treats 1-qubit gates.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // holds a closure
pub struct MergeConfig<'a> {
    /// The basis to synthesize into.
    pub basis: OneQubitBasis,
    /// Whether a gate name is native (a lone native gate is kept as is).
    pub accepts: &'a dyn Fn(&str) -> bool,
    /// Fuse runs, cancel and drop (false at level 0: translate gate by gate).
    pub optimize: bool,
}

struct Pending {
    mat: Mat2,
    /// The run's first gate (kept as is when it is the whole run and
    /// native) and the run's length.
    first: Gate,
    count: u32,
}

/// One optimization sweep (see the module doc).
#[must_use]
pub fn merge(ops: &[Operation], num_qubits: usize, cfg: &MergeConfig<'_>) -> Vec<Operation> {
    let mut out: Vec<Option<Operation>> = Vec::with_capacity(ops.len());
    let mut hist: Vec<Vec<usize>> = vec![Vec::new(); num_qubits];
    let mut pending: Vec<Option<Pending>> = (0..num_qubits).map(|_| None).collect();

    // Runs with the same matrix (bit for bit) synthesize the same way;
    // programs such as QFT repeat a few runs many times.
    let synthesized: RefCell<synth::BitsMap<[u64; 8], Vec<Gate>>> = RefCell::default();
    let flush = |q: u32,
                 pending: &mut Vec<Option<Pending>>,
                 out: &mut Vec<Option<Operation>>,
                 hist: &mut Vec<Vec<usize>>| {
        let Some(p) = pending[q as usize].take() else {
            return;
        };
        if p.count == 1 && (cfg.accepts)(p.first.name()) {
            hist[q as usize].push(out.len());
            out.push(Some(gate(p.first, &[q], &None)));
        } else if !(cfg.optimize && synth::is_identity_up_to_phase(&p.mat)) {
            let [m0, m1, m2, m3] = p.mat.map(|c| [c.re.to_bits(), c.im.to_bits()]);
            let key: [u64; 8] = [m0[0], m0[1], m1[0], m1[1], m2[0], m2[1], m3[0], m3[1]];
            let mut cache = synthesized.borrow_mut();
            let gates = cache.entry(key).or_insert_with(|| synth::synth_1q(&p.mat, cfg.basis));
            for g in gates.iter() {
                hist[q as usize].push(out.len());
                out.push(Some(gate(g.clone(), &[q], &None)));
            }
        }
    };
    let emit = |op: Operation,
                qs: &[u32],
                out: &mut Vec<Option<Operation>>,
                hist: &mut Vec<Vec<usize>>| {
        for &q in qs {
            hist[q as usize].push(out.len());
        }
        out.push(Some(op));
    };

    for op in ops {
        match op {
            Operation::Gate { gate: g, qubits, condition: None } if qubits.len() == 1 => {
                let q = qubits[0];
                if !cfg.optimize {
                    flush(q, &mut pending, &mut out, &mut hist);
                }
                if cfg.optimize && matches!(g, Gate::I) {
                    continue;
                }
                let m = synth::gate_mat(g);
                let slot = &mut pending[q as usize];
                match slot {
                    Some(p) => {
                        p.mat = synth::mul(&m, &p.mat);
                        p.count += 1;
                    }
                    None => *slot = Some(Pending { mat: m, first: g.clone(), count: 1 }),
                }
                if !cfg.optimize {
                    flush(q, &mut pending, &mut out, &mut hist);
                }
            }
            Operation::Gate { gate: g, qubits, condition } if qubits.len() == 1 => {
                // Conditioned 1-qubit gate: synthesized on its own, in place.
                let q = qubits[0];
                flush(q, &mut pending, &mut out, &mut hist);
                let gates = if (cfg.accepts)(g.name()) {
                    vec![g.clone()]
                } else {
                    synth::synth_1q(&synth::gate_mat(g), cfg.basis)
                };
                for s in gates {
                    emit(gate(s, &[q], condition), &[q], &mut out, &mut hist);
                }
            }
            Operation::Gate { gate: g, qubits, condition } => {
                if qubits.len() == 2 && condition.is_none() && cfg.optimize {
                    for (k, &q) in qubits.iter().enumerate() {
                        let commutes = pending[q as usize].as_ref().is_some_and(|p| match g {
                            Gate::Cz => synth::is_diagonal(&p.mat),
                            Gate::Cx if k == 0 => synth::is_diagonal(&p.mat),
                            Gate::Cx => synth::commutes_with_x(&p.mat),
                            _ => false,
                        });
                        if !commutes {
                            flush(q, &mut pending, &mut out, &mut hist);
                        }
                    }
                    let (a, b) = (qubits[0] as usize, qubits[1] as usize);
                    if let (Some(&i), Some(&j)) = (hist[a].last(), hist[b].last())
                        && i == j
                        && let Some(Operation::Gate { gate: prev, qubits: pq, condition: None }) =
                            &out[i]
                        && cancels(prev, pq, g, qubits)
                    {
                        out[i] = None;
                        hist[a].pop();
                        hist[b].pop();
                        for q in [a, b] {
                            reopen(q, &mut out, &mut hist, &mut pending);
                        }
                        continue;
                    }
                } else {
                    for &q in qubits {
                        flush(q, &mut pending, &mut out, &mut hist);
                    }
                }
                emit(op.clone(), qubits, &mut out, &mut hist);
            }
            Operation::Measure { qubit, .. } => {
                let q = *qubit as usize;
                if cfg.optimize && pending[q].as_ref().is_some_and(|p| synth::is_diagonal(&p.mat)) {
                    pending[q] = None;
                }
                flush(*qubit, &mut pending, &mut out, &mut hist);
                emit(op.clone(), &[*qubit], &mut out, &mut hist);
            }
            Operation::Reset { qubit } => {
                if cfg.optimize {
                    pending[*qubit as usize] = None;
                }
                flush(*qubit, &mut pending, &mut out, &mut hist);
                emit(op.clone(), &[*qubit], &mut out, &mut hist);
            }
            Operation::Barrier { qubits } => {
                for &q in qubits {
                    flush(q, &mut pending, &mut out, &mut hist);
                }
                emit(op.clone(), qubits, &mut out, &mut hist);
            }
            other => out.push(Some(other.clone())),
        }
    }
    for q in 0..num_qubits {
        let after_final_measure =
            hist[q].last().is_some_and(|&i| matches!(out[i], Some(Operation::Measure { .. })));
        if cfg.optimize && after_final_measure {
            pending[q] = None;
        }
        flush(q as u32, &mut pending, &mut out, &mut hist);
    }
    out.into_iter().flatten().collect()
}

/// After a cancellation, pulls the 1-qubit gates that now end qubit `q`'s
/// output back into its pending run, so they fuse with what follows.
fn reopen(
    q: usize,
    out: &mut [Option<Operation>],
    hist: &mut [Vec<usize>],
    pending: &mut [Option<Pending>],
) {
    while let Some(&i) = hist[q].last() {
        let Some(Operation::Gate { gate: g, qubits, condition: None }) = &out[i] else {
            break;
        };
        if qubits.len() != 1 {
            break;
        }
        let m = synth::gate_mat(g);
        match &mut pending[q] {
            Some(p) => {
                p.mat = synth::mul(&p.mat, &m);
                p.first = g.clone();
                p.count += 1;
            }
            slot @ None => *slot = Some(Pending { mat: m, first: g.clone(), count: 1 }),
        }
        out[i] = None;
        hist[q].pop();
    }
}

/// True when `b` on `bq` right after `a` on `aq` is the identity.
fn cancels(a: &Gate, aq: &[u32], b: &Gate, bq: &[u32]) -> bool {
    let same_order = aq == bq;
    let swapped = aq.len() == 2 && bq.len() == 2 && aq[0] == bq[1] && aq[1] == bq[0];
    match (a, b) {
        (Gate::Cz, Gate::Cz) | (Gate::Swap, Gate::Swap) => same_order || swapped,
        (Gate::Cx, Gate::Cx)
        | (Gate::Cy, Gate::Cy)
        | (Gate::Ch, Gate::Ch)
        | (Gate::Ecr, Gate::Ecr) => same_order,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};
    use eigen_hal::Circuit;

    fn zsx(name: &str) -> bool {
        matches!(name, "rz" | "sx" | "x" | "cz" | "cx" | "ecr")
    }

    #[test]
    fn ecr_and_reversed_cx_translations_are_exact() {
        for native in [TwoQubitNative::Cz, TwoQubitNative::Cx, TwoQubitNative::Ecr] {
            let coupling = Coupling::new(2, &[(1, 0)]);
            let mut c = Circuit::new(2, 0);
            c.gate(Gate::Cx, &[0, 1]).gate(Gate::Cz, &[1, 0]).gate(Gate::Cx, &[1, 0]);
            let out = translate_2q(c.ops.clone(), native, Some(&coupling));
            assert!(equal_up_to_phase(&unitary(&c.ops, 2), &unitary(&out, 2)), "{native:?}");
            for op in &out {
                if let Operation::Gate { qubits, .. } = op
                    && qubits.len() == 2
                    && native != TwoQubitNative::Cz
                {
                    assert_eq!(qubits, &vec![1, 0]);
                }
            }
        }
    }

    #[test]
    fn merge_cancels_and_fuses() {
        let mut c = Circuit::new(3, 0);
        c.gate(Gate::H, &[0])
            .gate(Gate::Rz(0.3), &[1])
            .gate(Gate::Cz, &[0, 1])
            .gate(Gate::Rz(0.2), &[1])
            .gate(Gate::Cz, &[1, 0])
            .gate(Gate::H, &[0])
            .gate(Gate::Sx, &[2])
            .gate(Gate::Sx, &[2]);
        let cfg =
            MergeConfig { basis: OneQubitBasis::ZSx { x: true }, accepts: &zsx, optimize: true };
        let out = merge(&c.ops, 3, &cfg);
        // the two cz cancel (rz commutes through), h h vanish, sx sx -> x
        assert!(equal_up_to_phase(&unitary(&c.ops, 3), &unitary(&out, 3)));
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn swap_after_cx_costs_two_cx() {
        let mut c = Circuit::new(2, 0);
        c.gate(Gate::Cx, &[1, 0]).gate(Gate::Swap, &[0, 1]);
        let expanded = expand_swaps(c.ops.clone(), 2);
        let cfg = MergeConfig { basis: OneQubitBasis::Any, accepts: &|_| true, optimize: true };
        let out = merge(&expanded, 2, &cfg);
        assert!(equal_up_to_phase(&unitary(&c.ops, 2), &unitary(&out, 2)));
        assert_eq!(out.len(), 2);
    }

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

    #[test]
    fn drops_what_cannot_matter() {
        let mut c = Circuit::new(2, 2);
        c.gate(Gate::H, &[0]).gate(Gate::Rz(0.4), &[0]).measure(0, 0).gate(Gate::X, &[0]);
        c.gate(Gate::H, &[1]);
        c.ops.push(Operation::Reset { qubit: 1 });
        let cfg =
            MergeConfig { basis: OneQubitBasis::ZSx { x: true }, accepts: &zsx, optimize: true };
        let out = merge(&c.ops, 2, &cfg);
        let gates = out.iter().filter(|o| matches!(o, Operation::Gate { .. })).count();
        // h on q0 stays (3 gates: rz sx rz), rz before measure, x after it and h before reset go
        assert_eq!(gates, 3, "{out:?}");
    }
}
