//! A noise model from calibration data, simulated by trajectories.
//!
//! After each gate, on each of its qubits:
//! - depolarizing: with probability `p` a uniformly random non-identity
//!   Pauli on the gate's qubits, where `p = r (d + 1) / d` turns the
//!   calibrated average gate error `r` on `d = 2^k` levels into the Pauli
//!   error probability that has that average infidelity;
//! - amplitude damping over the gate's duration, `gamma = 1 - exp(-t/T1)`,
//!   unravelled as a quantum jump to |0> with probability `gamma * P(1)`;
//! - pure dephasing, `1/T_phi = 1/T2 - 1/(2 T1)`, as a Z with probability
//!   `(1 - exp(-t/T_phi)) / 2`.
//!
//! Each measured bit is flipped with the qubit's readout error. Idle qubits
//! do not decohere while others are driven (no scheduling information at
//! the gate level).

use eigen_hal::Target;
use std::collections::HashMap;

/// Calibrated figures of one gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateNoise {
    /// Duration in seconds.
    pub duration: f64,
    /// Average gate error.
    pub error: f64,
}

/// Calibrated figures of one qubit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QubitNoise {
    /// Energy relaxation time in seconds (infinite: none).
    pub t1: f64,
    /// Dephasing time in seconds (infinite: none).
    pub t2: f64,
    /// Probability of reading the wrong value.
    pub readout_error: f64,
}

impl QubitNoise {
    /// No noise at all.
    pub const IDEAL: Self = Self { t1: f64::INFINITY, t2: f64::INFINITY, readout_error: 0.0 };
}

/// The noise of every qubit and gate of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseModel {
    qubits: Vec<QubitNoise>,
    gates: HashMap<String, GateNoise>,
    default_1q: GateNoise,
    default_2q: GateNoise,
}

/// The channels to apply after one gate on one qubit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Relaxation {
    /// Amplitude-damping probability.
    pub gamma: f64,
    /// Probability of a Z from pure dephasing.
    pub pz: f64,
}

impl NoiseModel {
    /// The model of `target`: its qubits' T1/T2/readout error and its native
    /// gates' durations and errors. Gates the target does not list (an
    /// all-gates simulator) take the mean figures of the listed gates of the
    /// same arity, or `fallback_1q` / `fallback_2q` when none is listed.
    #[must_use]
    pub fn from_target(target: &Target, fallback_1q: GateNoise, fallback_2q: GateNoise) -> Self {
        let qubits = target
            .qubits
            .iter()
            .map(|q| QubitNoise { t1: q.t1.get(), t2: q.t2.get(), readout_error: q.readout_error })
            .collect();
        let mut gates = HashMap::new();
        let mut sums = [(0.0, 0.0, 0u32); 2];
        for g in &target.native_gates {
            let noise = GateNoise { duration: g.duration.get(), error: g.error };
            gates.insert(g.name.clone(), noise);
            // Virtual (zero-duration, error-free) gates such as rz would drag
            // the mean down; only physical gates count.
            if (1..=2).contains(&g.num_qubits) && (g.duration.get() > 0.0 || g.error > 0.0) {
                let s = &mut sums[g.num_qubits as usize - 1];
                s.0 += noise.duration;
                s.1 += noise.error;
                s.2 += 1;
            }
        }
        let mean = |s: (f64, f64, u32), fb: GateNoise| {
            if s.2 == 0 {
                fb
            } else {
                GateNoise { duration: s.0 / f64::from(s.2), error: s.1 / f64::from(s.2) }
            }
        };
        Self {
            qubits,
            gates,
            default_1q: mean(sums[0], fallback_1q),
            default_2q: mean(sums[1], fallback_2q),
        }
    }

    /// The figures used for gate `name` on `arity` qubits.
    #[must_use]
    pub fn gate(&self, name: &str, arity: usize) -> GateNoise {
        if let Some(g) = self.gates.get(name) {
            return *g;
        }
        if arity <= 1 { self.default_1q } else { self.default_2q }
    }

    /// The figures of qubit `q` (ideal when not calibrated).
    #[must_use]
    pub fn qubit(&self, q: u32) -> QubitNoise {
        self.qubits.get(q as usize).copied().unwrap_or(QubitNoise::IDEAL)
    }

    /// The Pauli error probability after a gate with average error `error`
    /// on `k` qubits.
    pub(crate) fn pauli_probability(error: f64, k: usize) -> f64 {
        let d = (1u64 << k.min(20)) as f64;
        (error * (d + 1.0) / d).clamp(0.0, 1.0)
    }

    /// Relaxation of qubit `q` over `duration` seconds.
    pub(crate) fn relaxation(&self, q: u32, duration: f64) -> Relaxation {
        let qn = self.qubit(q);
        if duration <= 0.0 {
            return Relaxation { gamma: 0.0, pz: 0.0 };
        }
        let gamma =
            if qn.t1.is_finite() && qn.t1 > 0.0 { 1.0 - (-duration / qn.t1).exp() } else { 0.0 };
        let rate_t1 = if qn.t1.is_finite() && qn.t1 > 0.0 { 1.0 / (2.0 * qn.t1) } else { 0.0 };
        let rate_t2 = if qn.t2.is_finite() && qn.t2 > 0.0 { 1.0 / qn.t2 } else { 0.0 };
        let rate_phi = (rate_t2 - rate_t1).max(0.0);
        let pz = (1.0 - (-duration * rate_phi).exp()) / 2.0;
        Relaxation { gamma, pz }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eigen_hal::{DeviceKind, Limits, NativeGate, QubitProperties, Seconds};

    fn target() -> Target {
        Target {
            id: "t".into(),
            name: "t".into(),
            kind: DeviceKind::Simulator,
            num_qubits: 1,
            coupling_map: None,
            native_gates: vec![
                NativeGate {
                    name: "sx".into(),
                    num_qubits: 1,
                    duration: Seconds::from_nanos(35.0),
                    error: 3e-4,
                },
                NativeGate { name: "rz".into(), num_qubits: 1, duration: Seconds(0.0), error: 0.0 },
                NativeGate {
                    name: "cz".into(),
                    num_qubits: 2,
                    duration: Seconds::from_nanos(200.0),
                    error: 1e-2,
                },
            ],
            qubits: vec![QubitProperties {
                t1: Seconds::from_micros(100.0),
                t2: Seconds::from_micros(50.0),
                frequency: eigen_hal::Hertz::from_ghz(5.0),
                readout_error: 0.02,
                readout_duration: Seconds::from_micros(1.0),
            }],
            dt: None,
            limits: Limits { max_shots: 10, max_qubits: 1 },
            calibration_id: "c".into(),
        }
    }

    #[test]
    fn figures_come_from_calibration() {
        let fb = GateNoise { duration: 1.0, error: 0.5 };
        let m = NoiseModel::from_target(&target(), fb, fb);
        assert_eq!(m.gate("cz", 2).error, 1e-2);
        // h is not native: the mean of the physical 1-qubit gates (sx only).
        assert_eq!(m.gate("h", 1).error, 3e-4);
        assert_eq!(m.gate("rzz", 2).error, 1e-2);
        let r = m.relaxation(0, 200e-9);
        assert!((r.gamma - (1.0 - (-0.002f64).exp())).abs() < 1e-12);
        // 1/T_phi = 1/50us - 1/200us = 1/66.7us.
        let want = (1.0 - (-200e-9f64 * (1.0 / 50e-6 - 1.0 / 200e-6)).exp()) / 2.0;
        assert!((r.pz - want).abs() < 1e-12);
        assert_eq!(m.qubit(5), QubitNoise::IDEAL);
        assert!((NoiseModel::pauli_probability(0.01, 1) - 0.015).abs() < 1e-12);
    }
}
