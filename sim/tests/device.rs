//! The simulator through the `Device` contract: sampling statistics,
//! determinism across thread counts, mid-circuit measurement, reset,
//! conditions, noise, limits, cancellation, emulated hardware checks.

use eigen_hal::pulse::Schedule;
use eigen_hal::{
    CancelToken, Circuit, Condition, Device, DeviceKind, ErrorKind, ExecContext, ExecOptions,
    ExecResult, Executable, Gate, Limits, NativeGate, Operation, Progress, QubitProperties,
    Seconds, Target,
};
use eigen_sim::{SimConfig, SimDevice};
use std::sync::{Arc, Mutex};

fn run(dev: &SimDevice, c: &Circuit, shots: u32, seed: u64, memory: bool) -> ExecResult {
    let opts = ExecOptions { shots, seed: Some(seed), memory, statevector: false };
    dev.execute(&Executable::Circuit(c.clone()), &opts, &ExecContext::detached()).expect("runs")
}

fn with_threads(t: usize) -> SimDevice {
    let cfg = SimConfig { threads: Some(t), ..SimConfig::default() };
    SimDevice::new(eigen_sim::targets::ideal_target(), false, cfg).expect("device")
}

/// 3 rotated qubits with known, unequal probabilities.
fn skewed() -> (Circuit, Vec<f64>) {
    skewed_on(3, [0, 1, 2])
}

/// Rotations on `qubits` of an `n`-qubit register, measured into bits 0..3.
fn skewed_on(n: u32, qubits: [u32; 3]) -> (Circuit, Vec<f64>) {
    let angles = [0.4, 1.3, 2.2];
    let mut c = Circuit::new(n, 3);
    for (q, a) in qubits.iter().zip(angles) {
        c.gate(Gate::Ry(a), &[*q]);
    }
    for (k, q) in qubits.iter().enumerate() {
        c.measure(*q, k as u32);
    }
    let p1: Vec<f64> = angles.iter().map(|a| (a / 2.0_f64).sin().powi(2)).collect();
    let probs = (0..8)
        .map(|k| (0..3).map(|q| if k >> q & 1 == 1 { p1[q] } else { 1.0 - p1[q] }).product())
        .collect();
    (c, probs)
}

#[test]
fn counts_pass_a_chi_square_test() {
    // Small (one sampling block) and 15 qubits (block choice and in-block
    // scan both matter, and unmeasured qubits are marginalized).
    for (c, probs) in [skewed(), skewed_on(15, [13, 0, 6])] {
        chi_square_over_seeds(&c, &probs);
    }
}

fn chi_square_over_seeds(c: &Circuit, probs: &[f64]) {
    let shots = 20_000u32;
    let dev = with_threads(2);
    // The sum of 30 independent statistics (7 degrees of freedom each) is
    // chi-square with 210 degrees of freedom: P(X > 283.8) = 0.001, and a
    // biased sampler also shows in the mean, far below that bound.
    let total: f64 = (1..=30u64)
        .map(|seed| {
            let r = run(&dev, c, shots, seed, false);
            assert_eq!(r.counts.values().sum::<u64>(), u64::from(shots));
            probs
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let e = p * f64::from(shots);
                    let o = *r.counts.get(&(k as u64)).unwrap_or(&0) as f64;
                    (o - e).powi(2) / e
                })
                .sum::<f64>()
        })
        .sum();
    eprintln!("chi2 over 30 seeds = {total} (210 degrees of freedom)");
    assert!(total < 283.8, "chi2 = {total}");
}

#[test]
fn a_seed_gives_identical_results_at_one_and_two_threads() {
    // 18 qubits: several blocks, so the 2-thread run really splits work.
    let n = 18;
    let mut c = Circuit::new(n, n);
    for q in 0..n {
        c.gate(Gate::Ry(0.1 + 0.17 * f64::from(q)), &[q]);
    }
    for q in 0..n - 1 {
        c.gate(Gate::Cx, &[q, q + 1]);
    }
    for q in 0..n {
        c.measure(q, q);
    }
    // 50,000 shots take the dense sampler, 1,000 the search.
    for shots in [50_000, 1_000] {
        let a = run(&with_threads(1), &c, shots, 99, true);
        let b = run(&with_threads(2), &c, shots, 99, true);
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.memory, b.memory);
        let other = run(&with_threads(2), &c, shots, 100, true);
        assert_ne!(a.memory, other.memory, "another seed gives other shots");
    }

    // Trajectories (mid-circuit measurement) and noise too.
    let mut m = Circuit::new(3, 2);
    m.gate(Gate::H, &[0]).measure(0, 0).gate(Gate::Cx, &[0, 1]).gate(Gate::H, &[2]).measure(2, 1);
    let t1 = run(&with_threads(1), &m, 2000, 5, true);
    let t2 = run(&with_threads(2), &m, 2000, 5, true);
    assert_eq!(t1.memory, t2.memory);
    let noisy = |t: usize| {
        let cfg = SimConfig { threads: Some(t), ..SimConfig::default() };
        SimDevice::new(eigen_sim::targets::noisy_target(), false, cfg).expect("device").with_noise()
    };
    assert_eq!(run(&noisy(1), &m, 2000, 5, true).memory, run(&noisy(2), &m, 2000, 5, true).memory);
}

#[test]
fn memory_matches_counts_and_is_shuffled() {
    let (c, _) = skewed();
    let r = run(&with_threads(2), &c, 10_000, 4, true);
    let mem = r.memory.expect("memory asked for");
    assert_eq!(mem.len(), 10_000);
    for (k, v) in &r.counts {
        assert_eq!(mem.iter().filter(|&&o| o == *k).count() as u64, *v);
    }
    assert!(!mem.is_sorted(), "shots are in random order, not sorted");
}

#[test]
fn heavy_sampling_is_the_same_on_any_thread_count_and_memory_matches_counts() {
    // 14 qubits with a GHZ core and rotations, measured into a reversed
    // subset of bits (outcomes merge several indices): one chunk holds
    // more than one batch of shots, and chunks hold very unequal masses.
    let n = 14;
    let mut c = Circuit::new(n, 6);
    c.gate(Gate::H, &[0]);
    for q in 0..4 {
        c.gate(Gate::Cx, &[q, q + 1]);
    }
    for q in 5..n {
        c.gate(Gate::Ry(0.3 * f64::from(q)), &[q]);
    }
    for (k, q) in [13, 11, 7, 4, 2, 0].into_iter().enumerate() {
        c.measure(q, k as u32);
    }
    let a = run(&with_threads(1), &c, 300_000, 21, true);
    let b = run(&with_threads(2), &c, 300_000, 21, true);
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.memory, b.memory);
    assert_eq!(a.counts.values().sum::<u64>(), 300_000);
    let mem = a.memory.expect("memory asked for");
    let mut tally = std::collections::BTreeMap::new();
    for o in &mem {
        *tally.entry(*o).or_insert(0u64) += 1;
    }
    assert_eq!(tally, a.counts, "per-shot memory holds exactly the counts");
    // Bits 4 and 5 read qubits 2 and 0 of the GHZ core: always equal.
    assert!(mem.iter().all(|o| (o >> 4 & 1) == (o >> 5 & 1)));
    assert!(!mem.is_sorted());
}

#[test]
fn trailing_permutations_and_phases_keep_the_distribution() {
    // Entangling rotations, then a tail of bit flips, swaps, controlled
    // ones and phases that the sampler applies to sampled indices instead
    // of simulating; unmeasured qubit 6 and permuted bits on top. The
    // exact probabilities come from the final statevector (asked for, so
    // nothing is left out there).
    let n = 7;
    let mut c = Circuit::new(n, 6);
    for q in 0..n {
        c.gate(Gate::Ry(0.35 + 0.4 * f64::from(q)), &[q]);
    }
    for q in 0..n - 1 {
        c.gate(Gate::Cx, &[q, q + 1]);
    }
    c.gate(Gate::Ry(0.9), &[6]);
    c.gate(Gate::Cx, &[2, 4]).gate(Gate::Ccx, &[0, 1, 5]).gate(Gate::Swap, &[1, 3]);
    c.gate(Gate::Rz(0.3), &[2]).gate(Gate::Cz, &[0, 5]).gate(Gate::X, &[3]);
    c.gate(Gate::Cswap, &[0, 2, 4]).gate(Gate::Cp(0.7), &[1, 4]).gate(Gate::Cx, &[5, 0]);
    let bits = [3u32, 0, 5, 1, 4, 2];
    let full = {
        let mut u = c.clone();
        u.num_clbits = 0;
        u
    };
    let opts = ExecOptions { shots: 0, statevector: true, seed: Some(1), memory: false };
    let ctx = ExecContext::detached();
    let sv = with_threads(1)
        .execute(&Executable::Circuit(full), &opts, &ctx)
        .expect("runs")
        .statevector
        .expect("statevector asked for");
    let mut probs = vec![0.0; 64];
    for (i, a) in sv.iter().enumerate() {
        let o: usize = bits.iter().enumerate().map(|(k, &q)| (i >> q & 1) << k).sum();
        probs[o] += a.norm_sqr();
    }
    for (k, &q) in bits.iter().enumerate() {
        c.measure(q, k as u32);
    }
    let shots = 200_000u32;
    let r = run(&with_threads(2), &c, shots, 17, false);
    assert_eq!(r.counts.values().sum::<u64>(), u64::from(shots));
    let mut chi2 = 0.0;
    let mut cells = 0;
    for (o, p) in probs.iter().enumerate() {
        let e = p * f64::from(shots);
        let got = *r.counts.get(&(o as u64)).unwrap_or(&0) as f64;
        if e < 1e-9 {
            assert_eq!(got, 0.0, "outcome {o} has no probability");
            continue;
        }
        chi2 += (got - e).powi(2) / e;
        cells += 1;
    }
    // At most 63 degrees of freedom: P(X > 110) < 0.0002.
    assert!(cells > 20 && chi2 < 110.0, "chi2 = {chi2} over {cells} outcomes");
}

#[test]
fn million_shots_from_one_state() {
    let mut c = Circuit::new(12, 12);
    c.gate(Gate::H, &[0]);
    for q in 0..11 {
        c.gate(Gate::Cx, &[q, q + 1]);
    }
    for q in 0..12 {
        c.measure(q, q);
    }
    let r = run(&with_threads(2), &c, 1_000_000, 8, false);
    assert_eq!(r.counts.len(), 2);
    let zeros = r.counts[&0] as f64;
    assert!((zeros - 500_000.0).abs() < 5.0 * 500.0, "{zeros}");
}

#[test]
fn mid_circuit_measurement_and_conditions() {
    // Measure q0 half-way, flip q1 on the outcome: q1 always equals q0.
    let mut c = Circuit::new(2, 2);
    c.gate(Gate::H, &[0]).measure(0, 0);
    c.ops.push(Operation::Gate {
        gate: Gate::X,
        qubits: [1].as_slice().into(),
        condition: Some(Condition { clbits: vec![0], value: 1 }),
    });
    c.measure(1, 1);
    assert!(!c.measurements_are_terminal());
    let r = run(&with_threads(2), &c, 4000, 11, false);
    assert_eq!(r.counts.keys().copied().collect::<Vec<_>>(), vec![0b00, 0b11]);
    assert!((r.counts[&0] as i64 - 2000).abs() < 200);

    // Measuring collapses: a second measurement repeats the first.
    let mut twice = Circuit::new(1, 2);
    twice.gate(Gate::H, &[0]).measure(0, 0).measure(0, 1);
    let r = run(&with_threads(2), &twice, 1000, 3, false);
    assert!(r.counts.keys().all(|&k| k == 0b00 || k == 0b11), "{:?}", r.counts);
}

#[test]
fn reset_returns_to_zero() {
    let mut c = Circuit::new(2, 2);
    c.gate(Gate::H, &[0]).gate(Gate::Cx, &[0, 1]).measure(0, 0);
    c.ops.push(Operation::Reset { qubit: 0 });
    c.measure(0, 1);
    let r = run(&with_threads(2), &c, 1000, 21, false);
    // Bit 1 (after reset) is always 0; bit 0 is random.
    assert!(r.counts.keys().all(|&k| k & 0b10 == 0), "{:?}", r.counts);
    assert_eq!(r.counts.len(), 2);
    // A reset of an untouched qubit is a no-op and keeps the sampling path.
    let mut fresh = Circuit::new(1, 1);
    fresh.ops.push(Operation::Reset { qubit: 0 });
    fresh.gate(Gate::X, &[0]).measure(0, 0);
    assert_eq!(run(&with_threads(1), &fresh, 100, 1, false).counts[&1], 100);
}

fn damping_target(t1_us: f64, gate_ns: f64, gate_error: f64, readout: f64) -> Target {
    Target {
        id: "damped".into(),
        name: "damped".into(),
        kind: DeviceKind::Simulator,
        num_qubits: 1,
        coupling_map: None,
        native_gates: vec![NativeGate {
            name: "x".into(),
            num_qubits: 1,
            duration: Seconds::from_nanos(gate_ns),
            error: gate_error,
        }],
        qubits: vec![QubitProperties {
            t1: Seconds::from_micros(t1_us),
            t2: Seconds::from_micros(2.0 * t1_us),
            frequency: eigen_hal::Hertz::from_ghz(5.0),
            readout_error: readout,
            readout_duration: Seconds::from_micros(1.0),
        }],
        dt: None,
        limits: Limits { max_shots: 1_000_000, max_qubits: 1 },
        calibration_id: "c".into(),
    }
}

#[test]
fn noise_follows_the_calibration() {
    let mut c = Circuit::new(1, 1);
    c.gate(Gate::X, &[0]).measure(0, 0);
    let shots = 20_000u32;
    let p0 = |t: Target| {
        let dev = SimDevice::new(t, false, SimConfig::default()).expect("device").with_noise();
        let r = run(&dev, &c, shots, 17, false);
        *r.counts.get(&0).unwrap_or(&0) as f64 / f64::from(shots)
    };
    // Amplitude damping: a gate as long as T1 leaves P(1) = e^-1.
    let damped = p0(damping_target(1.0, 1000.0, 0.0, 0.0));
    assert!((damped - (1.0 - (-1.0f64).exp())).abs() < 0.015, "{damped}");
    // Readout error alone flips 5% of the shots.
    let readout = p0(damping_target(1e9, 1.0, 0.0, 0.05));
    assert!((readout - 0.05).abs() < 0.006, "{readout}");
    // Depolarizing error 0.1 on a 1-qubit gate: Pauli probability 0.15, of
    // which X and Y (2/3) undo the flip: P(0) = 0.1.
    let depol = p0(damping_target(1e9, 1.0, 0.1, 0.0));
    assert!((depol - 0.1).abs() < 0.008, "{depol}");
    // The ideal simulator is exact.
    assert_eq!(run(&with_threads(2), &c, 1000, 1, false).counts[&1], 1000);
}

#[test]
fn limits_give_clear_errors() {
    let exec = |dev: &SimDevice, c: Circuit, opts: ExecOptions| {
        dev.execute(&Executable::Circuit(c), &opts, &ExecContext::detached()).expect_err("refused")
    };
    let small = SimConfig { memory_limit: Some(1 << 20), ..SimConfig::default() };
    let dev = SimDevice::new(eigen_sim::targets::ideal_target(), false, small).expect("device");
    // Only touched qubits are simulated: touch all 20.
    let mut wide = Circuit::new(20, 0);
    (0..20).for_each(|q| {
        wide.gate(Gate::H, &[q]);
    });
    let e = exec(&dev, wide, ExecOptions::default());
    assert_eq!(e.kind(), ErrorKind::InvalidProgram);
    assert!(e.message().contains("memory limit"), "{}", e.message());

    let dev = with_threads(1);
    let sv = ExecOptions { statevector: true, ..ExecOptions::default() };
    let e = exec(&dev, Circuit::new(21, 0), sv.clone());
    assert!(e.message().contains("at most 20 qubits"), "{}", e.message());
    let mut mid = Circuit::new(1, 1);
    mid.measure(0, 0).gate(Gate::X, &[0]);
    assert_eq!(exec(&dev, mid, sv).kind(), ErrorKind::InvalidProgram);

    let mut bad = Circuit::new(2, 0);
    bad.gate(Gate::Cx, &[1, 1]);
    assert!(exec(&dev, bad, ExecOptions::default()).message().contains("twice"));
    let mut out = Circuit::new(2, 0);
    out.gate(Gate::H, &[2]);
    assert_eq!(exec(&dev, out, ExecOptions::default()).kind(), ErrorKind::InvalidProgram);
    let e = dev
        .execute(
            &Executable::Schedule(Schedule::default()),
            &ExecOptions::default(),
            &ExecContext::detached(),
        )
        .expect_err("no pulses");
    assert_eq!(e.kind(), ErrorKind::InvalidProgram);
}

#[test]
fn emulated_hardware_accepts_only_its_natives_on_its_coupling_map() {
    let dev = SimDevice::heavy_hex_27().expect("device");
    let opts = ExecOptions { shots: 100, seed: Some(1), ..ExecOptions::default() };
    let go = |c: Circuit| dev.execute(&Executable::Circuit(c), &opts, &ExecContext::detached());
    let mut h = Circuit::new(2, 0);
    h.gate(Gate::H, &[0]);
    assert!(go(h).expect_err("h is not native").message().contains("not native"));
    let mut far = Circuit::new(3, 0);
    far.gate(Gate::Cz, &[0, 2]);
    assert!(go(far).expect_err("0-2 not coupled").message().contains("not coupled"));
    let mut ok = Circuit::new(2, 2);
    ok.gate(Gate::Sx, &[0]).gate(Gate::Rz(0.3), &[0]).gate(Gate::Cz, &[0, 1]).gate(Gate::X, &[1]);
    ok.measure(0, 0).measure(1, 1);
    let r = go(ok).expect("native program runs");
    assert_eq!(r.counts.values().sum::<u64>(), 100);
}

#[test]
fn cancellation_and_progress() {
    let dev = with_threads(2);
    let mut c = Circuit::new(16, 1);
    for q in 0..16 {
        c.gate(Gate::H, &[q]);
    }
    c.measure(0, 0).gate(Gate::H, &[0]).measure(0, 0);
    let cancel = CancelToken::new();
    cancel.cancel();
    let ctx = ExecContext { progress: Arc::new(|_: Progress| {}), cancel };
    let e = dev
        .execute(&Executable::Circuit(c.clone()), &ExecOptions::default(), &ctx)
        .expect_err("cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let ctx = ExecContext {
        progress: Arc::new(move |p: Progress| {
            sink.lock().expect("not poisoned").push((p.stage, p.fraction))
        }),
        cancel: CancelToken::new(),
    };
    dev.execute(
        &Executable::Circuit(c),
        &ExecOptions { shots: 200, ..ExecOptions::default() },
        &ctx,
    )
    .expect("runs");
    let seen = seen.lock().expect("not poisoned");
    assert!(seen.iter().any(|(s, f)| *s == "run" && *f > 0.99), "{seen:?}");
    assert_eq!(seen.last().map(|x| x.0), Some("readout"));
}
