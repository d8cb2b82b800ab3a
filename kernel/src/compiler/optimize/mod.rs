//! Native translation and peephole optimization on physical circuits.
//!
//! # Layout
//!
//! - this module: [`TwoQubitNative`] and [`translate_2q`] (`cx`/`cz` become
//!   the device's native 2-qubit gate, in a direction the coupling map has;
//!   1-qubit gates fix the rest).
//! - [`swaps`]: routing swaps: [`expand_swaps`] (three `cx`, oriented to
//!   cancel against an adjacent `cx` when there is one), and the rewrites
//!   that let a swap absorb a diagonal gate on its pair
//!   ([`gather_into_swaps`], [`fuse_diagonal_swaps`]).
//! - [`merge`]: one sweep that fuses runs of 1-qubit gates into a minimal
//!   native sequence, lets diagonal gates slide through `cz` and `cx`
//!   controls (and X-like ones through `cx` targets), cancels adjacent
//!   self-inverse 2-qubit pairs, and drops gates that cannot change results
//!   (1-qubit gates before a reset, diagonal ones before a measurement,
//!   anything on a qubit after its final measurement); and
//!   [`merge_to_fixed_point`].

pub mod merge;
pub mod swaps;

pub use merge::{MergeConfig, merge, merge_to_fixed_point};
pub use swaps::{expand_swaps, fuse_diagonal_swaps, gather_into_swaps};

use super::routing::Coupling;
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
    Operation::Gate { gate, qubits: qubits.into(), condition: condition.clone() }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::unroll::tests::{equal_up_to_phase, unitary};
    use eigen_hal::Circuit;

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
                    assert_eq!(qubits[..], [1, 0]);
                }
            }
        }
    }
}
