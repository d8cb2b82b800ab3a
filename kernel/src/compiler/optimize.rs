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
    /// Read `cx a, b` as `h b; cz a, b; h b` (a `cz` device): the same as
    /// [`translate_2q`] to [`TwoQubitNative::Cz`] first, without building
    /// the `h` operations only to fuse them away.
    pub cx_as_cz: bool,
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
pub fn merge(ops: Vec<Operation>, num_qubits: usize, cfg: &MergeConfig<'_>) -> Vec<Operation> {
    sweep(ops, num_qubits, cfg).0
}

/// Sweeps of [`merge`] until one leaves the circuit no shorter, at most
/// `max_sweeps`. A sweep that cancelled no 2-qubit pair is final: without
/// a cancellation nothing is pulled back into a run, so another sweep sees
/// the same 2-qubit gates with the same (already minimal) runs between them
/// and would only confirm it.
#[must_use]
pub fn merge_to_fixed_point(
    ops: Vec<Operation>,
    num_qubits: usize,
    cfg: &MergeConfig<'_>,
    max_sweeps: usize,
) -> Vec<Operation> {
    let (mut ops, mut cancelled) = sweep(ops, num_qubits, cfg);
    for _ in 1..max_sweeps {
        if cancelled == 0 {
            break;
        }
        let before = ops.len();
        (ops, cancelled) = sweep(ops, num_qubits, cfg);
        if ops.len() >= before {
            break;
        }
    }
    ops
}

/// One sweep; also returns the number of 2-qubit pairs it cancelled.
fn sweep(ops: Vec<Operation>, num_qubits: usize, cfg: &MergeConfig<'_>) -> (Vec<Operation>, usize) {
    // Reading `cx` as `h; cz; h` can add a gate or two per `cx`.
    let room = if cfg.cx_as_cz { ops.len() * 2 } else { ops.len() + 16 };
    let mut m = Merger {
        cfg,
        out: Vec::with_capacity(room),
        hist: (0..num_qubits).map(|_| Vec::with_capacity(2 * room / num_qubits.max(1))).collect(),
        pending: (0..num_qubits).map(|_| None).collect(),
        synthesized: synth::BitsMap::default(),
        spare: Vec::new(),
        cancelled: 0,
    };
    for op in ops {
        m.op(op);
    }
    let cancelled = m.cancelled;
    (m.finish(), cancelled)
}

/// The state of one [`merge`] sweep.
struct Merger<'c, 'a> {
    cfg: &'c MergeConfig<'a>,
    /// The output so far; `None` where a gate was cancelled or pulled back.
    out: Vec<Option<Operation>>,
    /// Per qubit, the output positions of the operations on it.
    hist: Vec<Vec<usize>>,
    /// Per qubit, the run of 1-qubit gates not yet written.
    pending: Vec<Option<Pending>>,
    /// Runs with the same matrix (bit for bit) synthesize the same way;
    /// programs such as QFT repeat a few runs many times.
    synthesized: synth::BitsMap<[u64; 8], Vec<Gate>>,
    /// Operand lists of absorbed gates, reused for the gates written (a
    /// sweep writes about as many 1-qubit gates as it absorbs, so it
    /// allocates almost none).
    spare: Vec<Vec<u32>>,
    /// 2-qubit pairs cancelled so far.
    cancelled: usize,
}

impl Merger<'_, '_> {
    fn operands(&mut self, qs: &[u32]) -> Vec<u32> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(qs);
        v
    }

    /// Writes `op`, recording it in the history of each of its qubits.
    fn push(&mut self, op: Operation) {
        let i = self.out.len();
        match &op {
            Operation::Gate { qubits, .. } | Operation::Barrier { qubits } => {
                for &q in qubits {
                    self.hist[q as usize].push(i);
                }
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                self.hist[*qubit as usize].push(i);
            }
            _ => {}
        }
        self.out.push(Some(op));
    }

    /// Writes qubit `q`'s pending run.
    fn flush(&mut self, q: u32) {
        let Some(p) = self.pending[q as usize].take() else {
            return;
        };
        if p.count == 1 && (self.cfg.accepts)(p.first.name()) {
            let qubits = self.operands(&[q]);
            self.push(Operation::Gate { gate: p.first, qubits, condition: None });
        } else if !(self.cfg.optimize && synth::is_identity_up_to_phase(&p.mat)) {
            let [m0, m1, m2, m3] = p.mat.map(|c| [c.re.to_bits(), c.im.to_bits()]);
            let key: [u64; 8] = [m0[0], m0[1], m1[0], m1[1], m2[0], m2[1], m3[0], m3[1]];
            let basis = self.cfg.basis;
            let gates =
                self.synthesized.entry(key).or_insert_with(|| synth::synth_1q(&p.mat, basis));
            for g in gates.iter() {
                let mut qubits = self.spare.pop().unwrap_or_default();
                qubits.clear();
                qubits.push(q);
                self.hist[q as usize].push(self.out.len());
                self.out.push(Some(Operation::Gate { gate: g.clone(), qubits, condition: None }));
            }
        }
    }

    /// Appends an unconditioned 1-qubit gate to `q`'s pending run.
    fn absorb(&mut self, g: Gate, q: u32) {
        if !self.cfg.optimize {
            self.flush(q);
        }
        if self.cfg.optimize && matches!(g, Gate::I) {
            return;
        }
        let m = synth::gate_mat(&g);
        let slot = &mut self.pending[q as usize];
        match slot {
            Some(p) => {
                p.mat = synth::mul(&m, &p.mat);
                p.count += 1;
            }
            None => *slot = Some(Pending { mat: m, first: g, count: 1 }),
        }
        if !self.cfg.optimize {
            self.flush(q);
        }
    }

    /// An unconditioned 2-qubit gate: pending runs that commute with it
    /// stay pending, and it cancels with an inverse just before it.
    fn two_qubit(&mut self, g: Gate, qubits: Vec<u32>) {
        for (k, &q) in qubits.iter().enumerate() {
            let commutes = self.pending[q as usize].as_ref().is_some_and(|p| match g {
                Gate::Cz => synth::is_diagonal(&p.mat),
                Gate::Cx if k == 0 => synth::is_diagonal(&p.mat),
                Gate::Cx => synth::commutes_with_x(&p.mat),
                _ => false,
            });
            if !commutes {
                self.flush(q);
            }
        }
        let (a, b) = (qubits[0] as usize, qubits[1] as usize);
        if let (Some(&i), Some(&j)) = (self.hist[a].last(), self.hist[b].last())
            && i == j
            && let Some(Operation::Gate { gate: prev, qubits: pq, condition: None }) = &self.out[i]
            && cancels(prev, pq, &g, &qubits)
        {
            if let Some(Operation::Gate { qubits: pq, .. }) = self.out[i].take() {
                self.spare.push(pq);
            }
            self.spare.push(qubits);
            self.cancelled += 1;
            self.hist[a].pop();
            self.hist[b].pop();
            for q in [a, b] {
                reopen(q, &mut self.out, &mut self.hist, &mut self.pending);
            }
            return;
        }
        self.push(Operation::Gate { gate: g, qubits, condition: None });
    }

    fn op(&mut self, op: Operation) {
        match op {
            Operation::Gate { gate: Gate::Cx, qubits, condition: None }
                if self.cfg.cx_as_cz && qubits.len() == 2 =>
            {
                let t = qubits[1];
                self.absorb(Gate::H, t);
                if self.cfg.optimize {
                    self.two_qubit(Gate::Cz, qubits);
                } else {
                    self.flush(qubits[0]);
                    self.flush(t);
                    self.push(Operation::Gate { gate: Gate::Cz, qubits, condition: None });
                }
                self.absorb(Gate::H, t);
            }
            Operation::Gate { gate: Gate::Cx, qubits, condition: Some(c) }
                if self.cfg.cx_as_cz && qubits.len() == 2 =>
            {
                let t = qubits[1];
                let h = |q: u32| Operation::Gate {
                    gate: Gate::H,
                    qubits: vec![q],
                    condition: Some(c.clone()),
                };
                self.op(h(t));
                self.op(Operation::Gate { gate: Gate::Cz, qubits, condition: Some(c.clone()) });
                self.op(h(t));
            }
            Operation::Gate { gate: g, mut qubits, condition: None } if qubits.len() == 1 => {
                let q = qubits[0];
                qubits.clear();
                self.spare.push(qubits);
                self.absorb(g, q);
            }
            Operation::Gate { gate: g, qubits, condition: Some(c) } if qubits.len() == 1 => {
                // Conditioned 1-qubit gate: synthesized on its own, in place.
                let q = qubits[0];
                self.flush(q);
                let gates = if (self.cfg.accepts)(g.name()) {
                    vec![g]
                } else {
                    synth::synth_1q(&synth::gate_mat(&g), self.cfg.basis)
                };
                for s in gates {
                    let qs = self.operands(&[q]);
                    self.push(Operation::Gate { gate: s, qubits: qs, condition: Some(c.clone()) });
                }
            }
            Operation::Gate { gate: g, qubits, condition: None }
                if qubits.len() == 2 && self.cfg.optimize =>
            {
                self.two_qubit(g, qubits);
            }
            Operation::Gate { gate, qubits, condition } => {
                for &q in &qubits {
                    self.flush(q);
                }
                self.push(Operation::Gate { gate, qubits, condition });
            }
            Operation::Measure { qubit, clbit } => {
                let q = qubit as usize;
                if self.cfg.optimize
                    && self.pending[q].as_ref().is_some_and(|p| synth::is_diagonal(&p.mat))
                {
                    self.pending[q] = None;
                }
                self.flush(qubit);
                self.push(Operation::Measure { qubit, clbit });
            }
            Operation::Reset { qubit } => {
                if self.cfg.optimize {
                    self.pending[qubit as usize] = None;
                }
                self.flush(qubit);
                self.push(Operation::Reset { qubit });
            }
            Operation::Barrier { qubits } => {
                for &q in &qubits {
                    self.flush(q);
                }
                self.push(Operation::Barrier { qubits });
            }
            other => self.push(other),
        }
    }

    fn finish(mut self) -> Vec<Operation> {
        for q in 0..self.pending.len() {
            let after_final_measure = self.hist[q]
                .last()
                .is_some_and(|&i| matches!(self.out[i], Some(Operation::Measure { .. })));
            if self.cfg.optimize && after_final_measure {
                self.pending[q] = None;
            }
            self.flush(q as u32);
        }
        // `flatten` gives no size hint: count first, allocate once.
        let mut ops = Vec::with_capacity(self.out.iter().filter(|o| o.is_some()).count());
        ops.extend(self.out.into_iter().flatten());
        ops
    }
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
        let cfg = MergeConfig {
            basis: OneQubitBasis::ZSx { x: true },
            accepts: &zsx,
            optimize: true,
            cx_as_cz: false,
        };
        let out = merge(c.ops.clone(), 3, &cfg);
        // the two cz cancel (rz commutes through), h h vanish, sx sx -> x
        assert!(equal_up_to_phase(&unitary(&c.ops, 3), &unitary(&out, 3)));
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn reading_cx_as_cz_equals_translating_first() {
        // cx next to cz, conditioned cx, cancelling pairs, level 0 and 1
        let mut c = Circuit::new(3, 1);
        c.gate(Gate::H, &[0])
            .gate(Gate::Cx, &[0, 1])
            .gate(Gate::Rz(0.3), &[1])
            .gate(Gate::Cx, &[0, 1])
            .gate(Gate::Cx, &[0, 1])
            .gate(Gate::Cz, &[1, 2])
            .gate(Gate::Cx, &[2, 1])
            .gate(Gate::Sx, &[2])
            .measure(2, 0);
        c.ops.push(Operation::Gate {
            gate: Gate::Cx,
            qubits: vec![1, 0],
            condition: Some(eigen_hal::Condition { clbits: vec![0], value: 1 }),
        });
        for optimize in [false, true] {
            let fused = MergeConfig {
                basis: OneQubitBasis::ZSx { x: true },
                accepts: &zsx,
                optimize,
                cx_as_cz: true,
            };
            let plain = MergeConfig { cx_as_cz: false, ..fused };
            let want = merge(translate_2q(c.ops.clone(), TwoQubitNative::Cz, None), 3, &plain);
            assert_eq!(merge(c.ops.clone(), 3, &fused), want, "optimize: {optimize}");
        }
    }

    #[test]
    fn sweeping_stops_early_only_when_another_sweep_would_not_help() {
        // random 3-qubit circuits rich in cancellable cz/cx pairs: stopping
        // after a sweep without cancellations leaves as few gates as
        // sweeping until the length stops shrinking, and the same unitary
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..40 {
            let mut c = Circuit::new(3, 0);
            for _ in 0..30 {
                let (a, b) = (next(3) as u32, next(2) as u32);
                let b = if b >= a { b + 1 } else { b };
                match next(6) {
                    0 => c.gate(Gate::H, &[a]),
                    1 => c.gate(Gate::Rz(0.1 * next(20) as f64), &[a]),
                    2 => c.gate(Gate::Sx, &[a]),
                    3 => c.gate(Gate::Cx, &[a, b]),
                    _ => c.gate(Gate::Cz, &[a, b]).gate(Gate::Z, &[b]).gate(Gate::Cz, &[b, a]),
                };
            }
            let cfg = MergeConfig {
                basis: OneQubitBasis::ZSx { x: true },
                accepts: &zsx,
                optimize: true,
                cx_as_cz: true,
            };
            let mut full = merge(c.ops.clone(), 3, &cfg);
            for _ in 0..8 {
                let before = full.len();
                full = merge(full, 3, &cfg);
                if full.len() >= before {
                    break;
                }
            }
            let fast = merge_to_fixed_point(c.ops.clone(), 3, &cfg, 9);
            assert_eq!(fast.len(), full.len(), "{:?}", c.ops);
            assert!(equal_up_to_phase(&unitary(&c.ops, 3), &unitary(&fast, 3)));
        }
    }

    #[test]
    fn swap_after_cx_costs_two_cx() {
        let mut c = Circuit::new(2, 0);
        c.gate(Gate::Cx, &[1, 0]).gate(Gate::Swap, &[0, 1]);
        let expanded = expand_swaps(c.ops.clone(), 2);
        let cfg = MergeConfig {
            basis: OneQubitBasis::Any,
            accepts: &|_| true,
            optimize: true,
            cx_as_cz: false,
        };
        let out = merge(expanded, 2, &cfg);
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
        let cfg = MergeConfig {
            basis: OneQubitBasis::ZSx { x: true },
            accepts: &zsx,
            optimize: true,
            cx_as_cz: false,
        };
        let out = merge(c.ops.clone(), 2, &cfg);
        let gates = out.iter().filter(|o| matches!(o, Operation::Gate { .. })).count();
        // h on q0 stays (3 gates: rz sx rz), rz before measure, x after it and h before reset go
        assert_eq!(gates, 3, "{out:?}");
    }
}
