//! Helpers shared by the `qasm_*` front-end tests: parsing shorthands and a
//! dense unitary of a parsed circuit to check lowering exactly.
#![allow(dead_code)]

use eigen_hal::{Circuit, Gate, Operation};
use eigen_kernel::compiler::qasm::{ParseLimits, Parsed, parse};
use eigen_kernel::compiler::{Diagnostic, ProgramFormat};
use num_complex::Complex64;

/// Parses with default limits, detecting the format; panics on errors.
pub fn ok(src: &str) -> Parsed {
    match parse(src, ProgramFormat::Detect, &ParseLimits::default()) {
        Ok(p) => p,
        Err(d) => panic!("unexpected errors: {d:#?}\nin:\n{src}"),
    }
}

/// Parses with default limits; panics when the program is accepted.
pub fn errs(src: &str) -> Vec<Diagnostic> {
    errs_with(src, &ParseLimits::default())
}

/// Parses with `limits`; panics when the program is accepted.
pub fn errs_with(src: &str, limits: &ParseLimits) -> Vec<Diagnostic> {
    match parse(src, ProgramFormat::Detect, limits) {
        Ok(p) => panic!("accepted, expected errors: {:?}\nin:\n{src}", p.circuit.ops),
        Err(d) => d,
    }
}

/// The single error of `src`, as (line, column, message, snippet).
pub fn one_err(src: &str) -> (u32, u32, String, String) {
    let d = errs(src);
    assert_eq!(d.len(), 1, "expected one error, got {d:#?}");
    let d = &d[0];
    (d.line, d.column, d.message.clone(), d.snippet.clone())
}

/// Asserts that `src` fails with an error whose message contains `needle`,
/// at `line`:`col`.
pub fn assert_err_at(src: &str, line: u32, col: u32, needle: &str) {
    let d = errs(src);
    assert!(
        d.iter().any(|d| d.line == line && d.column == col && d.message.contains(needle)),
        "no error containing {needle:?} at {line}:{col}; got {d:#?}"
    );
}

/// The gates of a circuit as (name, params, qubits), conditions ignored.
pub fn gates(c: &Circuit) -> Vec<(String, Vec<f64>, Vec<u32>)> {
    c.ops
        .iter()
        .filter_map(|op| match op {
            Operation::Gate { gate, qubits, .. } => {
                Some((gate.name().to_string(), gate.params(), qubits.to_vec()))
            }
            _ => None,
        })
        .collect()
}

/// The gate names of a circuit, in order.
pub fn names(c: &Circuit) -> Vec<String> {
    gates(c).into_iter().map(|g| g.0).collect()
}

fn apply(state: &mut [Complex64], m: &[Complex64], qs: &[u32]) {
    let k = qs.len();
    let sub = 1usize << k;
    let dim = state.len();
    let mut idx = vec![0usize; sub];
    let mut old = vec![Complex64::new(0.0, 0.0); sub];
    for base in 0..dim {
        if qs.iter().any(|q| base >> q & 1 == 1) {
            continue;
        }
        for (s, slot) in idx.iter_mut().enumerate() {
            let mut i = base;
            for (j, q) in qs.iter().enumerate() {
                // The first operand is the most significant bit of the matrix index.
                if s >> (k - 1 - j) & 1 == 1 {
                    i |= 1 << q;
                }
            }
            *slot = i;
        }
        for s in 0..sub {
            old[s] = state[idx[s]];
        }
        for r in 0..sub {
            let mut acc = Complex64::new(0.0, 0.0);
            for c in 0..sub {
                acc += m[r * sub + c] * old[c];
            }
            state[idx[r]] = acc;
        }
    }
}

/// The dense unitary (row-major, qubit 0 least significant) of the gates
/// of `c`; panics on measurements or resets.
pub fn unitary(c: &Circuit) -> Vec<Complex64> {
    let n = c.num_qubits as usize;
    let dim = 1usize << n;
    let mut u = vec![Complex64::new(0.0, 0.0); dim * dim];
    for col in 0..dim {
        let mut state = vec![Complex64::new(0.0, 0.0); dim];
        state[col] = Complex64::new(1.0, 0.0);
        for op in &c.ops {
            match op {
                Operation::Gate { gate, qubits, .. } => {
                    apply(&mut state, &gate.matrix(qubits.len()), qubits);
                }
                Operation::Barrier { .. } => {}
                other => panic!("not unitary: {other:?}"),
            }
        }
        for row in 0..dim {
            u[row * dim + col] = state[row];
        }
    }
    u
}

/// The unitary of a program.
pub fn unitary_of(src: &str) -> Vec<Complex64> {
    unitary(&ok(src).circuit)
}

/// Asserts two matrices are equal (exactly: global phase included).
pub fn assert_close(a: &[Complex64], b: &[Complex64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: sizes differ");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).norm() < 1e-9, "{what}: entry {k} differs: {x} vs {y}");
    }
}

/// `[[I, 0], [0, u]]` (control is the most significant qubit), or with
/// `neg`, `[[u, 0], [0, I]]`.
pub fn controlled(u: &[Complex64], neg: bool) -> Vec<Complex64> {
    let d = (u.len() as f64).sqrt() as usize;
    let mut m = vec![Complex64::new(0.0, 0.0); 4 * d * d];
    let (uoff, ioff) = if neg { (0, d) } else { (d, 0) };
    for r in 0..d {
        m[(ioff + r) * 2 * d + ioff + r] = Complex64::new(1.0, 0.0);
        for c in 0..d {
            m[(uoff + r) * 2 * d + uoff + c] = u[r * d + c];
        }
    }
    m
}

/// The conjugate transpose.
pub fn dagger(u: &[Complex64]) -> Vec<Complex64> {
    let d = (u.len() as f64).sqrt() as usize;
    let mut m = vec![Complex64::new(0.0, 0.0); d * d];
    for r in 0..d {
        for c in 0..d {
            m[r * d + c] = u[c * d + r].conj();
        }
    }
    m
}

/// The product `a * b`.
pub fn mul(a: &[Complex64], b: &[Complex64]) -> Vec<Complex64> {
    let d = (a.len() as f64).sqrt() as usize;
    let mut m = vec![Complex64::new(0.0, 0.0); d * d];
    for r in 0..d {
        for c in 0..d {
            for k in 0..d {
                m[r * d + c] += a[r * d + k] * b[k * d + c];
            }
        }
    }
    m
}

/// The unitary of one hal gate on qubits `0..n` in the order given.
pub fn gate_unitary(g: Gate, qubits: &[u32], n: u32) -> Vec<Complex64> {
    let mut c = Circuit::new(n, 0);
    c.gate(g, qubits);
    unitary(&c)
}
