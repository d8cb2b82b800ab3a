//! Active-qubit compaction through the `Device` contract: programs routed
//! onto far-apart physical qubits of a chip simulate only the qubits they
//! touch, with the same results and each physical qubit's own noise.
//!
//! "Only the touched qubits are simulated" is shown without timing: the
//! devices get a memory limit far below the full register's state (2 GiB
//! for 27 qubits), which the full register would be refused with.

use eigen_hal::{
    Circuit, Device, DeviceKind, ExecContext, ExecOptions, ExecResult, Executable, Gate, Limits,
    NativeGate, QubitProperties, Seconds, Target,
};
use eigen_sim::{SimConfig, SimDevice, targets};
use num_complex::Complex64 as C;
use std::f64::consts::FRAC_PI_2;

/// A 1 MiB memory limit: 16 qubits at most, far below 27.
fn small() -> SimConfig {
    SimConfig { memory_limit: Some(1 << 20), threads: Some(2), ..SimConfig::default() }
}

fn exec(dev: &SimDevice, c: &Circuit, opts: &ExecOptions) -> ExecResult {
    dev.execute(&Executable::Circuit(c.clone()), opts, &ExecContext::detached()).expect("runs")
}

fn opts(shots: u32, seed: u64) -> ExecOptions {
    ExecOptions { shots, seed: Some(seed), memory: true, statevector: false }
}

/// H in the chip's natives (up to a global phase): rz(pi/2) sx rz(pi/2).
fn h(c: &mut Circuit, q: u32) {
    c.gate(Gate::Rz(FRAC_PI_2), &[q]).gate(Gate::Sx, &[q]).gate(Gate::Rz(FRAC_PI_2), &[q]);
}

#[test]
fn ghz5_on_spread_heavy_hex_qubits_simulates_only_those() {
    let dev = SimDevice::new(targets::heavy_hex_27_target(), true, small()).expect("device");
    // A chain on the coupling map: 0-1, 1-4, 4-7, 7-10.
    let chain = [0u32, 1, 4, 7, 10];
    let mut c = Circuit::new(27, 5);
    h(&mut c, chain[0]);
    for w in chain.windows(2) {
        // cx = (I x H) cz (I x H)
        h(&mut c, w[1]);
        c.gate(Gate::Cz, &[w[0], w[1]]);
        h(&mut c, w[1]);
    }
    for (k, &q) in chain.iter().enumerate() {
        c.measure(q, k as u32);
    }
    let r = exec(&dev, &c, &opts(4000, 3));
    let keys: Vec<u64> = r.counts.keys().copied().collect();
    assert_eq!(keys, [0b00000, 0b11111], "{:?}", r.counts);
    assert!((r.counts[&0] as i64 - 2000).abs() < 200, "{:?}", r.counts);
}

#[test]
fn far_apart_qubits_give_the_same_results_as_the_dense_circuit() {
    let build = |n: u32, a: u32, b: u32, mid_circuit: bool| {
        let mut c = Circuit::new(n, 3);
        c.gate(Gate::Ry(1.1), &[a]).gate(Gate::Cx, &[a, b]).gate(Gate::Rx(0.7), &[b]);
        if mid_circuit {
            c.measure(b, 2).gate(Gate::H, &[b]);
        }
        c.measure(a, 0).measure(b, 1);
        c
    };
    let wide = SimDevice::new(targets::ideal_target(), false, small()).expect("device");
    let dense =
        SimDevice::new(targets::ideal_target(), false, SimConfig::default()).expect("device");
    for mid in [false, true] {
        let far = exec(&wide, &build(27, 20, 3, mid), &opts(5000, 41));
        let near = exec(&dense, &build(2, 1, 0, mid), &opts(5000, 41));
        assert_eq!(far.counts, near.counts, "mid-circuit: {mid}");
        assert_eq!(far.memory, near.memory, "mid-circuit: {mid}");
        assert!(far.counts.len() > 2);
    }
}

#[test]
fn the_statevector_covers_the_full_register() {
    let dev = SimDevice::new(targets::ideal_target(), false, small()).expect("device");
    let mut c = Circuit::new(6, 0);
    c.gate(Gate::H, &[4]).gate(Gate::Cx, &[4, 1]);
    let o = ExecOptions { shots: 1, seed: Some(1), memory: false, statevector: true };
    let sv = exec(&dev, &c, &o).statevector.expect("asked for");
    assert_eq!(sv.len(), 64);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    for (i, a) in sv.iter().enumerate() {
        let want = if i == 0 || i == 0b010010 { h } else { 0.0 };
        assert!((a - C::new(want, 0.0)).norm() < 1e-12, "amplitude {i}: {a}");
    }
}

/// A 4-qubit chip where only qubit 3 decays fast and only qubit 0 reads out
/// badly.
fn uneven_target() -> Target {
    let qubit = |t1_us: f64, readout: f64| QubitProperties {
        t1: Seconds::from_micros(t1_us),
        t2: Seconds::from_micros(2.0 * t1_us),
        frequency: eigen_hal::Hertz::from_ghz(5.0),
        readout_error: readout,
        readout_duration: Seconds::from_micros(1.0),
    };
    Target {
        id: "uneven".into(),
        name: "uneven".into(),
        kind: DeviceKind::Simulator,
        num_qubits: 4,
        coupling_map: None,
        native_gates: vec![NativeGate {
            name: "x".into(),
            num_qubits: 1,
            duration: Seconds::from_nanos(1000.0),
            error: 0.0,
        }],
        qubits: vec![qubit(1e9, 0.3), qubit(1e9, 0.0), qubit(1e9, 0.0), qubit(1.0, 0.0)],
        dt: None,
        limits: Limits { max_shots: 1_000_000, max_qubits: 4 },
        calibration_id: "c".into(),
    }
}

#[test]
fn noise_uses_each_physical_qubits_calibration() {
    let dev =
        SimDevice::new(uneven_target(), false, SimConfig::default()).expect("device").with_noise();
    let shots = 20_000u32;
    let p0 = |q: u32| {
        let mut c = Circuit::new(4, 1);
        c.gate(Gate::X, &[q]).measure(q, 0);
        let r = exec(&dev, &c, &opts(shots, 17));
        *r.counts.get(&0).unwrap_or(&0) as f64 / f64::from(shots)
    };
    // Qubit 3 alone is simulated (as qubit 0) but decays with its own T1:
    // a gate as long as T1 leaves P(1) = e^-1; qubit 0's readout error
    // (0.3) does not apply to it.
    let q3 = p0(3);
    assert!((q3 - (1.0 - (-1.0f64).exp())).abs() < 0.015, "{q3}");
    // Qubit 1: no decay, no readout error.
    assert_eq!(p0(1), 0.0);
    // Qubit 0: its readout error.
    let q0 = p0(0);
    assert!((q0 - 0.3).abs() < 0.015, "{q0}");
}
