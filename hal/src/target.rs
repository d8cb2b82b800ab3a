//! A device's properties: the one data type the compiler reads.

use crate::units::{Hertz, Seconds};
use serde::{Deserialize, Serialize};

/// Whether a device is simulated or real hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DeviceKind {
    /// A classical simulation of a quantum processor.
    Simulator,
    /// Real instruments driving a real processor.
    Hardware,
}

/// A gate the device executes natively, with its calibrated figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeGate {
    /// The OpenQASM name, as in [`crate::Gate::name`].
    pub name: String,
    /// The number of qubits it acts on.
    pub num_qubits: u32,
    /// How long one application takes.
    pub duration: Seconds,
    /// Its average error probability (0 for a perfect gate).
    pub error: f64,
}

/// Calibrated figures of one physical qubit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QubitProperties {
    /// Energy relaxation time.
    pub t1: Seconds,
    /// Dephasing time.
    pub t2: Seconds,
    /// Transition frequency.
    pub frequency: Hertz,
    /// Probability that a readout reports the wrong value.
    pub readout_error: f64,
    /// Duration of one measurement.
    pub readout_duration: Seconds,
}

/// Limits a job must respect on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The most shots one job may request.
    pub max_shots: u32,
    /// The most qubits one program may use.
    pub max_qubits: u32,
}

/// Everything the compiler and the scheduler need to know about a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The device's id, e.g. `sim` or `sim-heavyhex-27`.
    pub id: String,
    /// A human-readable name.
    pub name: String,
    /// Simulator or hardware.
    pub kind: DeviceKind,
    /// The number of physical qubits.
    pub num_qubits: u32,
    /// Directed pairs `(control, target)` where a 2-qubit native gate may be
    /// applied; `None` means all-to-all in both directions.
    pub coupling_map: Option<Vec<(u32, u32)>>,
    /// The native gate set; empty means every [`crate::Gate`] is accepted.
    pub native_gates: Vec<NativeGate>,
    /// Per-qubit calibration, indexed by physical qubit (may be empty for
    /// ideal simulators).
    pub qubits: Vec<QubitProperties>,
    /// The sample period of the device's waveform generators, if pulse-level.
    pub dt: Option<Seconds>,
    /// Job limits.
    pub limits: Limits,
    /// The id of the calibration these figures come from.
    pub calibration_id: String,
}

impl Target {
    /// True when the device accepts gate `name` natively.
    #[must_use]
    pub fn accepts_gate(&self, name: &str) -> bool {
        self.native_gates.is_empty() || self.native_gates.iter().any(|g| g.name == name)
    }

    /// The calibrated figures of native gate `name`, if listed.
    #[must_use]
    pub fn native_gate(&self, name: &str) -> Option<&NativeGate> {
        self.native_gates.iter().find(|g| g.name == name)
    }

    /// True when a 2-qubit gate may act on physical qubits `a` and `b` (in
    /// either direction: every native 2-qubit gate here is reversible with
    /// 1-qubit gates).
    #[must_use]
    pub fn connected(&self, a: u32, b: u32) -> bool {
        match &self.coupling_map {
            None => a != b && a < self.num_qubits && b < self.num_qubits,
            Some(edges) => edges.iter().any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> Target {
        Target {
            id: "line".into(),
            name: "line".into(),
            kind: DeviceKind::Simulator,
            num_qubits: n,
            coupling_map: Some((0..n - 1).map(|q| (q, q + 1)).collect()),
            native_gates: vec![NativeGate {
                name: "cz".into(),
                num_qubits: 2,
                duration: Seconds::from_nanos(60.0),
                error: 1e-2,
            }],
            qubits: Vec::new(),
            dt: None,
            limits: Limits { max_shots: 100_000, max_qubits: n },
            calibration_id: "cal-0".into(),
        }
    }

    #[test]
    fn connectivity_is_undirected() {
        let t = line(3);
        assert!(t.connected(0, 1) && t.connected(1, 0) && !t.connected(0, 2));
        assert!(t.accepts_gate("cz") && !t.accepts_gate("cx"));
    }

    #[test]
    fn serializes_round_trip() {
        let t = line(4);
        let json = serde_json::to_string(&t).expect("serialize");
        let back: Target = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(t, back);
    }
}
