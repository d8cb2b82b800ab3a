//! The peephole sweep: 1-qubit run fusion, commutation of runs through
//! `cz`/`cx`, cancellation of self-inverse 2-qubit pairs, and dropping of
//! gates that cannot change results (see the parent module).

use crate::compiler::synth::{self, Mat2, OneQubitBasis};
use eigen_hal::{Gate, Operation, Qubits};

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
    /// 2-qubit pairs cancelled so far.
    cancelled: usize,
}

impl Merger<'_, '_> {
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
            self.push(Operation::Gate {
                gate: p.first,
                qubits: Qubits::from_slice(&[q]),
                condition: None,
            });
        } else if !(self.cfg.optimize && synth::is_identity_up_to_phase(&p.mat)) {
            let [m0, m1, m2, m3] = p.mat.map(|c| [c.re.to_bits(), c.im.to_bits()]);
            let key: [u64; 8] = [m0[0], m0[1], m1[0], m1[1], m2[0], m2[1], m3[0], m3[1]];
            let basis = self.cfg.basis;
            let gates =
                self.synthesized.entry(key).or_insert_with(|| synth::synth_1q(&p.mat, basis));
            for g in gates.iter() {
                self.hist[q as usize].push(self.out.len());
                self.out.push(Some(Operation::Gate {
                    gate: g.clone(),
                    qubits: Qubits::from_slice(&[q]),
                    condition: None,
                }));
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
    fn two_qubit(&mut self, g: Gate, qubits: Qubits) {
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
            self.out[i] = None;
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
                    qubits: Qubits::from_slice(&[q]),
                    condition: Some(c.clone()),
                };
                self.op(h(t));
                self.op(Operation::Gate { gate: Gate::Cz, qubits, condition: Some(c.clone()) });
                self.op(h(t));
            }
            Operation::Gate { gate: g, qubits, condition: None } if qubits.len() == 1 => {
                self.absorb(g, qubits[0]);
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
                    self.push(Operation::Gate {
                        gate: s,
                        qubits: Qubits::from_slice(&[q]),
                        condition: Some(c.clone()),
                    });
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
    use crate::compiler::optimize::{TwoQubitNative, expand_swaps, translate_2q};
    use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};
    use eigen_hal::Circuit;

    fn zsx(name: &str) -> bool {
        matches!(name, "rz" | "sx" | "x" | "cz" | "cx" | "ecr")
    }

    /// Full optimization into {rz, sx, x}, the 2-qubit gates as given or
    /// (`cx_as_cz`) read as on a `cz` device.
    fn zsx_config(cx_as_cz: bool) -> MergeConfig<'static> {
        MergeConfig {
            basis: OneQubitBasis::ZSx { x: true },
            accepts: &zsx,
            optimize: true,
            cx_as_cz,
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
        let cfg = zsx_config(false);
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
            qubits: Qubits::from_slice(&[1, 0]),
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
            let cfg = zsx_config(true);
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
    fn drops_what_cannot_matter() {
        let mut c = Circuit::new(2, 2);
        c.gate(Gate::H, &[0]).gate(Gate::Rz(0.4), &[0]).measure(0, 0).gate(Gate::X, &[0]);
        c.gate(Gate::H, &[1]);
        c.ops.push(Operation::Reset { qubit: 1 });
        let cfg = zsx_config(false);
        let out = merge(c.ops.clone(), 2, &cfg);
        let gates = out.iter().filter(|o| matches!(o, Operation::Gate { .. })).count();
        // h on q0 stays (3 gates: rz sx rz), rz before measure, x after it and h before reset go
        assert_eq!(gates, 3, "{out:?}");
    }
}
