//! Active-qubit compaction: simulate only the qubits a circuit touches.
//!
//! A program routed for a chip (`sim-heavyhex-27`, `sim-grid-25`) names
//! physical qubits spread over the whole register, yet usually touches a
//! few of them. Qubits no operation touches stay |0> for the whole run, so
//! the state is the product of the touched qubits' state and |0...0>: the
//! touched qubits are relabelled densely, in increasing order (so the
//! relative bit order of basis indices is kept), and only they are
//! simulated (2^k amplitudes instead of 2^n).
//!
//! What this changes, and what it does not:
//! - counts and per-shot memory are per classical bit, so they are
//!   identical to simulating the full register;
//! - noise keeps each physical qubit's own calibration: [`Compaction::physical`]
//!   maps a simulated qubit back to the device qubit for its T1, T2 and
//!   readout error;
//! - a requested final statevector is expanded back to the full register
//!   ([`Compaction::expand`]); the device checks the full register against
//!   its statevector limit before running, so the expansion always fits.
//!
//! A qubit is touched by a gate operand, a measurement or a reset. Barriers
//! do not touch (they have no effect on the state); a barrier keeps only its
//! touched qubits.

use crate::ops::C;
use crate::program;
use eigen_hal::{Circuit, DeviceError, Operation};
use std::borrow::Cow;

/// A circuit relabelled onto its touched qubits.
#[derive(Debug)]
pub(crate) struct Compaction<'a> {
    /// The circuit to simulate, on qubits `0..physical.len()`.
    pub circuit: Cow<'a, Circuit>,
    /// `physical[q]`: the qubit of the original register that simulated
    /// qubit `q` stands for (increasing).
    pub physical: Vec<u32>,
    /// Qubits of the original register.
    pub full_qubits: u32,
}

/// Validates `circuit` and relabels it onto the qubits it touches. A
/// circuit that touches no qubit keeps qubit 0, so there is always a state.
pub(crate) fn compact(circuit: &Circuit) -> Result<Compaction<'_>, DeviceError> {
    program::validate(circuit)?;
    let n = circuit.num_qubits;
    let mut touched = vec![false; n as usize];
    for op in &circuit.ops {
        match op {
            Operation::Gate { qubits, .. } => {
                qubits.iter().for_each(|&q| touched[q as usize] = true)
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                touched[*qubit as usize] = true;
            }
            _ => {}
        }
    }
    let mut physical: Vec<u32> = (0..n).filter(|&q| touched[q as usize]).collect();
    if physical.is_empty() && n > 0 {
        physical.push(0);
    }
    if physical.len() == n as usize {
        return Ok(Compaction { circuit: Cow::Borrowed(circuit), physical, full_qubits: n });
    }
    // Dense labels; untouched qubits map to None.
    let mut dense = vec![None; n as usize];
    for (k, &q) in physical.iter().enumerate() {
        dense[q as usize] = Some(k as u32);
    }
    let label = |q: &u32| dense[*q as usize].expect("touched qubits have a dense label");
    let ops = circuit
        .ops
        .iter()
        .map(|op| match op {
            Operation::Gate { gate, qubits, condition } => Operation::Gate {
                gate: gate.clone(),
                qubits: qubits.iter().map(label).collect(),
                condition: condition.clone(),
            },
            Operation::Measure { qubit, clbit } => {
                Operation::Measure { qubit: label(qubit), clbit: *clbit }
            }
            Operation::Reset { qubit } => Operation::Reset { qubit: label(qubit) },
            Operation::Barrier { qubits } => Operation::Barrier {
                qubits: qubits.iter().filter_map(|q| dense[*q as usize]).collect(),
            },
            // `validate` refused every other operation.
            other => other.clone(),
        })
        .collect();
    let relabelled = Circuit {
        num_qubits: physical.len() as u32,
        num_clbits: circuit.num_clbits,
        cregs: circuit.cregs.clone(),
        ops,
    };
    Ok(Compaction { circuit: Cow::Owned(relabelled), physical, full_qubits: n })
}

impl Compaction<'_> {
    /// True when some qubits were dropped.
    pub fn is_compacted(&self) -> bool {
        self.physical.len() != self.full_qubits as usize
    }

    /// The statevector of the full register from the simulated qubits'
    /// `amps` (untouched qubits are |0>): amplitude `i` goes to the index
    /// whose bit `physical[j]` is bit `j` of `i`.
    pub fn expand(&self, amps: Vec<C>) -> Vec<C> {
        if !self.is_compacted() {
            return amps;
        }
        let mut full = vec![C::new(0.0, 0.0); 1usize << self.full_qubits];
        for (i, a) in amps.into_iter().enumerate() {
            let at = self
                .physical
                .iter()
                .enumerate()
                .fold(0usize, |at, (j, &q)| at | ((i >> j) & 1) << q);
            full[at] = a;
        }
        full
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eigen_hal::Gate;

    #[test]
    fn touched_qubits_are_relabelled_in_order() {
        let mut c = Circuit::new(27, 2);
        c.gate(Gate::H, &[20]).gate(Gate::Cx, &[20, 3]);
        c.ops.push(Operation::Barrier { qubits: [3, 7, 20].as_slice().into() });
        c.measure(3, 0).measure(20, 1);
        let k = compact(&c).expect("valid");
        assert_eq!(k.physical, [3, 20]);
        assert_eq!(k.circuit.num_qubits, 2);
        let mut want = Circuit::new(2, 2);
        want.gate(Gate::H, &[1]).gate(Gate::Cx, &[1, 0]);
        want.ops.push(Operation::Barrier { qubits: [0, 1].as_slice().into() });
        want.measure(0, 0).measure(1, 1);
        assert_eq!(*k.circuit, want);
    }

    #[test]
    fn a_dense_circuit_is_borrowed_and_an_empty_one_keeps_a_qubit() {
        let mut c = Circuit::new(2, 0);
        c.gate(Gate::Cx, &[1, 0]);
        let k = compact(&c).expect("valid");
        assert!(matches!(k.circuit, Cow::Borrowed(_)) && !k.is_compacted());
        let empty = Circuit::new(5, 0);
        let e = compact(&empty).expect("valid");
        assert_eq!(e.physical, [0]);
        assert_eq!(e.circuit.num_qubits, 1);
    }

    #[test]
    fn statevector_expands_to_the_full_register() {
        let mut c = Circuit::new(4, 0);
        c.gate(Gate::X, &[1]).gate(Gate::X, &[3]);
        let k = compact(&c).expect("valid");
        let amps: Vec<C> = (0..4).map(|i| C::new(f64::from(i), 0.0)).collect();
        let full = k.expand(amps);
        assert_eq!(full.len(), 16);
        // Compact index 0b11 is qubits 1 and 3: 0b1010.
        assert_eq!(full[0b1010], C::new(3.0, 0.0));
        assert_eq!(full[0b0010], C::new(1.0, 0.0));
        assert_eq!(full[0b1000], C::new(2.0, 0.0));
        assert_eq!(full.iter().filter(|a| a.norm_sqr() != 0.0).count(), 3);
    }

    #[test]
    fn bad_operands_are_refused_before_relabelling() {
        let mut c = Circuit::new(3, 0);
        c.gate(Gate::H, &[5]);
        assert!(compact(&c).is_err());
    }
}
