//! Helpers shared by the simulator's integration tests: a dense-matrix
//! reference simulator (nalgebra) and random gates.
#![allow(dead_code)]

use eigen_hal::Gate;
use nalgebra::{DMatrix, DVector};
use num_complex::Complex64 as C;

/// The full 2^n x 2^n unitary of `gate` on `qubits` (first operand is the
/// most significant bit of the gate's matrix index; qubit 0 is the least
/// significant bit of a basis index).
pub fn embed(gate: &Gate, qubits: &[u32], n: u32) -> DMatrix<C> {
    let k = qubits.len();
    let m = gate.matrix(k);
    let dk = 1usize << k;
    let dim = 1usize << n;
    let sub = |i: usize| -> usize {
        qubits.iter().enumerate().fold(0, |s, (j, &q)| s | ((i >> q) & 1) << (k - 1 - j))
    };
    let with_sub = |i: usize, s: usize| -> usize {
        qubits.iter().enumerate().fold(i, |acc, (j, &q)| {
            let bit = (s >> (k - 1 - j)) & 1;
            (acc & !(1 << q)) | bit << q
        })
    };
    let mut u = DMatrix::<C>::zeros(dim, dim);
    for col in 0..dim {
        let sc = sub(col);
        for sr in 0..dk {
            let row = with_sub(col, sr);
            u[(row, col)] = m[sr * dk + sc];
        }
    }
    u
}

/// Applies `gates` to `state` with dense matrices.
pub fn reference(state: &[C], gates: &[(Gate, Vec<u32>)], n: u32) -> Vec<C> {
    let mut v = DVector::from_column_slice(state);
    for (g, qs) in gates {
        v = embed(g, qs, n) * v;
    }
    v.iter().copied().collect()
}

/// Every fixed-arity gate variant with sample parameters, user unitaries
/// included.
pub fn all_gates() -> Vec<Gate> {
    use Gate::*;
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let u1 = Box::new([C::new(h, 0.0), C::new(0.0, h), C::new(0.0, h), C::new(h, 0.0)]);
    let mut u2 = [C::new(0.0, 0.0); 16];
    // A non-trivial 2-qubit unitary: iswap times (h ⊗ s).
    let a = Iswap.matrix(2);
    let hs = {
        let hm = H.matrix(1);
        let sm = S.matrix(1);
        let mut k = [C::new(0.0, 0.0); 16];
        for r in 0..4 {
            for c in 0..4 {
                k[r * 4 + c] = hm[(r >> 1) * 2 + (c >> 1)] * sm[(r & 1) * 2 + (c & 1)];
            }
        }
        k
    };
    for r in 0..4 {
        for c in 0..4 {
            u2[r * 4 + c] = (0..4).map(|j| a[r * 4 + j] * hs[j * 4 + c]).sum();
        }
    }
    let mut gates = Gate::one_of_each();
    gates.extend([Unitary1(u1), Unitary2(Box::new(u2))]);
    gates
}

/// A deterministic pseudo-random normalized state.
pub fn random_state(n: u32, seed: u64) -> Vec<C> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut v: Vec<C> = (0..1usize << n).map(|_| C::new(next(), next())).collect();
    let norm: f64 = v.iter().map(|a| a.norm_sqr()).sum::<f64>().sqrt();
    v.iter_mut().for_each(|a| *a /= norm);
    v
}

pub fn max_diff(a: &[C], b: &[C]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).norm()).fold(0.0, f64::max)
}
