//! Known states: Bell, GHZ, QFT of basis states, rotations.

mod common;

use common::max_diff;
use eigen_hal::{Circuit, Device, ExecContext, ExecOptions, Executable, Gate};
use eigen_sim::{Blocking, SimDevice, StateVector};
use num_complex::Complex64 as C;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

fn final_state(c: &Circuit) -> Vec<C> {
    let dev = SimDevice::ideal().expect("device");
    let opts = ExecOptions { shots: 0, statevector: true, seed: Some(1), ..ExecOptions::default() };
    let r = dev
        .execute(&Executable::Circuit(c.clone()), &opts, &ExecContext::detached())
        .expect("runs");
    r.statevector.expect("statevector asked for")
}

#[test]
fn bell_state() {
    let mut c = Circuit::new(2, 0);
    c.gate(Gate::H, &[0]).gate(Gate::Cx, &[0, 1]);
    let s = final_state(&c);
    let h = C::new(FRAC_1_SQRT_2, 0.0);
    let z = C::new(0.0, 0.0);
    assert!(max_diff(&s, &[h, z, z, h]) < 1e-15);
}

#[test]
fn ghz_state_on_many_qubits_crosses_blocks() {
    // 20 qubits: more than one cache block, so high qubits go through gathers.
    let n = 20;
    let mut c = Circuit::new(n, 0);
    c.gate(Gate::H, &[0]);
    for q in 0..n - 1 {
        c.gate(Gate::Cx, &[q, q + 1]);
    }
    let s = final_state(&c);
    let last = (1usize << n) - 1;
    assert!((s[0].re - FRAC_1_SQRT_2).abs() < 1e-14);
    assert!((s[last].re - FRAC_1_SQRT_2).abs() < 1e-14);
    let rest: f64 = s
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != last)
        .map(|(_, a)| a.norm_sqr())
        .sum();
    assert!(rest < 1e-28);
}

fn qft(n: u32) -> Vec<(Gate, Vec<u32>)> {
    let mut g = Vec::new();
    for j in (0..n).rev() {
        g.push((Gate::H, vec![j]));
        for k in (0..j).rev() {
            g.push((Gate::Cp(PI / f64::from(1u32 << (j - k))), vec![j, k]));
        }
    }
    for i in 0..n / 2 {
        g.push((Gate::Swap, vec![i, n - 1 - i]));
    }
    g
}

#[test]
fn qft_of_basis_states_is_a_fourier_vector() {
    for (n, blocking) in
        [(6, Blocking::default()), (10, Blocking { block_bits: 6, seg_bits: 2, inner_bits: 3 })]
    {
        let dim = 1usize << n;
        for x in [0usize, 1, 5, dim - 1] {
            let mut amps = vec![C::new(0.0, 0.0); dim];
            amps[x] = C::new(1.0, 0.0);
            let mut sv = StateVector::from_amplitudes(amps).expect("power of two");
            sv.apply_gates(&qft(n), blocking).expect("valid");
            let norm = 1.0 / (dim as f64).sqrt();
            let want: Vec<C> = (0..dim)
                .map(|k| C::from_polar(norm, 2.0 * PI * (x * k) as f64 / dim as f64))
                .collect();
            assert!(max_diff(sv.amplitudes(), &want) < 1e-12, "n={n} x={x}");
        }
    }
}

#[test]
fn rotations_give_known_amplitudes() {
    let t = 0.83;
    let mut sv = StateVector::zero(3).expect("small");
    sv.apply_gate(&Gate::Ry(t), &[1]).expect("valid");
    assert!((sv.amplitudes()[0].re - (t / 2.0).cos()).abs() < 1e-15);
    assert!((sv.amplitudes()[2].re - (t / 2.0).sin()).abs() < 1e-15);
    sv.apply_gate(&Gate::Rz(t), &[1]).expect("valid");
    let a = sv.amplitudes();
    assert!((a[0] - C::from_polar((t / 2.0).cos(), -t / 2.0)).norm() < 1e-15);
    assert!((a[2] - C::from_polar((t / 2.0).sin(), t / 2.0)).norm() < 1e-15);
    let mut x = StateVector::zero(1).expect("small");
    x.apply_gate(&Gate::Rx(PI), &[0]).expect("valid");
    assert!((x.amplitudes()[1] - C::new(0.0, -1.0)).norm() < 1e-15);
}

#[test]
fn norm_is_preserved_on_a_deep_circuit_across_blocks() {
    let n = 18;
    let mut gates = Vec::new();
    for layer in 0..6 {
        for q in 0..n {
            gates.push((Gate::U(0.3 * f64::from(q + 1), 0.7 * f64::from(layer), -0.2), vec![q]));
        }
        for q in (layer % 2..n - 1).step_by(2) {
            gates.push((if layer % 3 == 0 { Gate::Cz } else { Gate::Cx }, vec![q, q + 1]));
        }
        gates.push((Gate::Swap, vec![0, n - 1]));
    }
    let mut sv = StateVector::zero(n).expect("fits");
    sv.apply_gates(&gates, Blocking::default()).expect("valid");
    assert!((sv.norm_sqr() - 1.0).abs() < 1e-12);
}
