//! The simulated devices and their calibration data.
//!
//! `sim` is ideal and all-to-all. `sim-noisy` is all-to-all with the noise of
//! a typical transmon chip. `sim-heavyhex-27` and `sim-grid-25` emulate
//! hardware: natives rz, sx, x, cz on the chip's coupling map, with
//! per-qubit T1/T2/readout error and per-gate error/duration. Their figures
//! vary from qubit to qubit like a real calibration, from a fixed seed, so
//! every run of Eigen reports the same "calibration".

use crate::device::{SimConfig, SimDevice};
use crate::noise::{GateNoise, NoiseModel};
use eigen_hal::topology;
use eigen_hal::{
    Device, DeviceError, DeviceKind, Hertz, Limits, NativeGate, QubitProperties, Seconds, Target,
};
use std::sync::Arc;

/// The id of the ideal simulator.
pub const SIM: &str = "sim";
/// The id of the noisy all-to-all simulator.
pub const SIM_NOISY: &str = "sim-noisy";
/// The id of the emulated 27-qubit heavy-hex chip.
pub const SIM_HEAVYHEX_27: &str = "sim-heavyhex-27";
/// The id of the emulated 5x5 grid chip.
pub const SIM_GRID_25: &str = "sim-grid-25";

/// Qubits `sim` advertises; the memory limit is checked per job.
pub const SIM_MAX_QUBITS: u32 = 34;
/// Qubits of `sim-noisy` (trajectories get slow beyond this).
pub const SIM_NOISY_QUBITS: u32 = 20;
const MAX_SHOTS: u32 = 10_000_000;

/// Fallback figures for gates a noisy target does not list.
pub const TYPICAL_1Q: GateNoise = GateNoise { duration: 35.5e-9, error: 3e-4 };
/// Fallback figures for 2-qubit gates a noisy target does not list.
pub const TYPICAL_2Q: GateNoise = GateNoise { duration: 300e-9, error: 8e-3 };

/// A deterministic spread in [lo, hi) for qubit `q` of calibration `salt`.
fn spread(q: u32, salt: u64, lo: f64, hi: f64) -> f64 {
    let mut x = (u64::from(q) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    lo + (hi - lo) * ((x >> 11) as f64 / (1u64 << 53) as f64)
}

fn calibrated_qubits(n: u32, salt: u64) -> Vec<QubitProperties> {
    (0..n)
        .map(|q| {
            let t1 = spread(q, salt, 60.0, 160.0);
            // T2 <= 2 T1 physically; transmons typically sit well below.
            let t2 = spread(q, salt + 1, 0.5, 1.3) * t1;
            QubitProperties {
                t1: Seconds::from_micros(t1),
                t2: Seconds::from_micros(t2),
                frequency: Hertz::from_ghz(spread(q, salt + 2, 4.8, 5.3)),
                readout_error: spread(q, salt + 3, 0.006, 0.035),
                readout_duration: Seconds::from_micros(1.4),
            }
        })
        .collect()
}

fn native(name: &str, k: u32, ns: f64, error: f64) -> NativeGate {
    NativeGate { name: name.into(), num_qubits: k, duration: Seconds::from_nanos(ns), error }
}

fn hardware_natives() -> Vec<NativeGate> {
    vec![
        native("rz", 1, 0.0, 0.0),
        native("sx", 1, 35.5, 2.8e-4),
        native("x", 1, 35.5, 2.8e-4),
        native("cz", 2, 220.0, 7.5e-3),
    ]
}

/// The target of the ideal simulator.
#[must_use]
pub fn ideal_target() -> Target {
    Target {
        id: SIM.into(),
        name: "Eigen state-vector simulator".into(),
        kind: DeviceKind::Simulator,
        num_qubits: SIM_MAX_QUBITS,
        coupling_map: None,
        native_gates: Vec::new(),
        qubits: Vec::new(),
        dt: None,
        limits: Limits { max_shots: MAX_SHOTS, max_qubits: SIM_MAX_QUBITS },
        calibration_id: "ideal".into(),
    }
}

/// The target of the noisy all-to-all simulator.
#[must_use]
pub fn noisy_target() -> Target {
    Target {
        id: SIM_NOISY.into(),
        name: "Eigen noisy simulator (transmon-like calibration)".into(),
        kind: DeviceKind::Simulator,
        num_qubits: SIM_NOISY_QUBITS,
        coupling_map: None,
        native_gates: Vec::new(),
        qubits: calibrated_qubits(SIM_NOISY_QUBITS, 11),
        dt: None,
        limits: Limits { max_shots: MAX_SHOTS, max_qubits: SIM_NOISY_QUBITS },
        calibration_id: "sim-noisy-cal-1".into(),
    }
}

fn hardware_target(id: &str, name: &str, n: u32, edges: Vec<(u32, u32)>, salt: u64) -> Target {
    Target {
        id: id.into(),
        name: name.into(),
        kind: DeviceKind::Simulator,
        num_qubits: n,
        coupling_map: Some(edges),
        native_gates: hardware_natives(),
        qubits: calibrated_qubits(n, salt),
        dt: Some(Seconds(2.0 / 9.0 * 1e-9)),
        limits: Limits { max_shots: MAX_SHOTS, max_qubits: n },
        calibration_id: format!("{id}-cal-1"),
    }
}

/// The emulated 27-qubit heavy-hex (IBM Falcon) chip.
#[must_use]
pub fn heavy_hex_27_target() -> Target {
    hardware_target(
        SIM_HEAVYHEX_27,
        "Emulated 27-qubit heavy-hex chip (Falcon layout)",
        27,
        topology::heavy_hex_27(),
        27,
    )
}

/// The emulated 5x5 grid chip.
#[must_use]
pub fn grid_25_target() -> Target {
    hardware_target(SIM_GRID_25, "Emulated 5x5 grid chip", 25, topology::grid(5, 5), 25)
}

impl SimDevice {
    /// `sim`: ideal, every gate, all-to-all, limited by memory.
    pub fn ideal() -> Result<Self, DeviceError> {
        Self::new(ideal_target(), false, SimConfig::default())
    }

    /// `sim-noisy`: every gate, all-to-all, with depolarizing, damping and
    /// readout noise from its calibration.
    pub fn noisy() -> Result<Self, DeviceError> {
        let target = noisy_target();
        let model = NoiseModel::from_target(&target, TYPICAL_1Q, TYPICAL_2Q);
        Ok(Self::new(target, false, SimConfig::default())?.with_noise_model(model))
    }

    /// `sim-heavyhex-27`: the emulated heavy-hex chip, noise off.
    pub fn heavy_hex_27() -> Result<Self, DeviceError> {
        Self::new(heavy_hex_27_target(), true, SimConfig::default())
    }

    /// `sim-grid-25`: the emulated grid chip, noise off.
    pub fn grid_25() -> Result<Self, DeviceError> {
        Self::new(grid_25_target(), true, SimConfig::default())
    }

    /// Turns on the noise of the device's own calibration data.
    #[must_use]
    pub fn with_noise(self) -> Self {
        let model = NoiseModel::from_target(self.target(), TYPICAL_1Q, TYPICAL_2Q);
        self.with_noise_model(model)
    }
}

/// Every simulated device `eigen serve` offers by default: `sim`,
/// `sim-noisy`, `sim-heavyhex-27`, `sim-grid-25`.
pub fn default_devices() -> Result<Vec<Arc<dyn Device>>, DeviceError> {
    Ok(vec![
        Arc::new(SimDevice::ideal()?),
        Arc::new(SimDevice::noisy()?),
        Arc::new(SimDevice::heavy_hex_27()?),
        Arc::new(SimDevice::grid_25()?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_is_realistic_and_stable() {
        let t = heavy_hex_27_target();
        assert_eq!(t.coupling_map.as_ref().map(Vec::len), Some(28));
        for q in &t.qubits {
            assert!(q.t2.get() <= 2.0 * q.t1.get());
            assert!((0.005..0.04).contains(&q.readout_error));
        }
        assert_eq!(t, heavy_hex_27_target());
        let g = grid_25_target();
        assert!(g.connected(0, 5) && g.connected(6, 7) && !g.connected(4, 5));
        let ids: Vec<String> =
            default_devices().expect("devices").iter().map(|d| d.target().id.clone()).collect();
        assert_eq!(ids, [SIM, SIM_NOISY, SIM_HEAVYHEX_27, SIM_GRID_25]);
    }
}
