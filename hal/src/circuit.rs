//! The gate-level program a device executes.
//!
//! A [`Circuit`] is a flat list of [`Operation`]s on numbered qubits and
//! classical bits, with every parameter already a number: the compiler has
//! resolved expressions, expanded user gate definitions and (for hardware)
//! unrolled to the device's native gates. Simulators accept every [`Gate`];
//! hardware devices accept the gates their [`crate::Target`] lists.
//!
//! Conventions (the same as Qiskit's, so results compare directly):
//! - qubit 0 is the least significant bit of a basis-state index;
//! - a gate's matrix is written with its *first* qubit argument as the most
//!   significant bit of the matrix index (`cx q[0], q[1]` has control
//!   `q[0]`), i.e. textbook order, not Qiskit's little-endian matrix order;
//! - classical bit 0 is the least significant bit of an outcome `u64`.

use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4};

/// A qubit index within a circuit.
pub type Qubit = u32;
/// A classical bit index within a circuit.
pub type Clbit = u32;

/// The operand list of an operation: up to four qubits are stored inline
/// (no heap allocation per gate, which the compiler's passes create and
/// drop by the thousand); wider multi-controlled gates spill to the heap.
/// Same size as a `Vec`, and serialized as a plain sequence. Build one with
/// `Qubits::from_slice(&[a, b])`, `slice.into()` or `collect()`.
pub type Qubits = smallvec::SmallVec<[Qubit; 4]>;

/// The most classical bits a circuit may have: an outcome is one `u64`.
pub const MAX_CLBITS: usize = 64;

/// A quantum gate with its parameters resolved to numbers (radians).
///
/// The variants are the union of OpenQASM 2's `qelib1.inc` and OpenQASM 3's
/// `stdgates.inc`, plus arbitrary 1- and 2-qubit unitaries and multi-controlled
/// X and Z.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Gate {
    /// Identity.
    I,
    /// Pauli X.
    X,
    /// Pauli Y.
    Y,
    /// Pauli Z.
    Z,
    /// Hadamard.
    H,
    /// sqrt(Z).
    S,
    /// S dagger.
    Sdg,
    /// sqrt(S).
    T,
    /// T dagger.
    Tdg,
    /// sqrt(X).
    Sx,
    /// sqrt(X) dagger.
    Sxdg,
    /// Rotation about X.
    Rx(f64),
    /// Rotation about Y.
    Ry(f64),
    /// Rotation about Z: diag(e^{-i t/2}, e^{i t/2}).
    Rz(f64),
    /// Phase: diag(1, e^{i l}). Also `u1`.
    P(f64),
    /// Generic single-qubit rotation U(theta, phi, lambda). Also `u3`.
    U(f64, f64, f64),
    /// Controlled X.
    Cx,
    /// Controlled Y.
    Cy,
    /// Controlled Z.
    Cz,
    /// Controlled H.
    Ch,
    /// Controlled phase.
    Cp(f64),
    /// Controlled RX.
    Crx(f64),
    /// Controlled RY.
    Cry(f64),
    /// Controlled RZ.
    Crz(f64),
    /// Controlled U(theta, phi, lambda) with global phase gamma on the target.
    Cu(f64, f64, f64, f64),
    /// Controlled sqrt(X).
    Csx,
    /// Swap.
    Swap,
    /// iSWAP.
    Iswap,
    /// Echoed cross-resonance (IBM's native 2-qubit gate).
    Ecr,
    /// exp(-i t/2 X⊗X).
    Rxx(f64),
    /// exp(-i t/2 Y⊗Y).
    Ryy(f64),
    /// exp(-i t/2 Z⊗Z).
    Rzz(f64),
    /// exp(-i t/2 Z⊗X).
    Rzx(f64),
    /// Toffoli.
    Ccx,
    /// Fredkin.
    Cswap,
    /// X on the last qubit, controlled on all the others being |1>.
    Mcx,
    /// Z on the last qubit, controlled on all the others being |1> (symmetric).
    Mcz,
    /// A 1-qubit unitary (row-major) on the last qubit, controlled on all the
    /// others being |1>: what `ctrl @` makes of any 1-qubit gate.
    Mcu(Box<[Complex64; 4]>),
    /// An arbitrary single-qubit unitary, row-major.
    Unitary1(Box<[Complex64; 4]>),
    /// An arbitrary two-qubit unitary, row-major, first qubit most significant.
    Unitary2(Box<[Complex64; 16]>),
}

impl Gate {
    /// One gate of every fixed-arity kind, with arbitrary non-trivial
    /// parameters, in declaration order: what tests that must cover every
    /// gate kind iterate over (`Mcx`, `Mcz`, `Mcu` and the user unitaries
    /// take their size from the operation and are left out).
    #[must_use]
    pub fn one_of_each() -> Vec<Gate> {
        use Gate::*;
        vec![
            I,
            X,
            Y,
            Z,
            H,
            S,
            Sdg,
            T,
            Tdg,
            Sx,
            Sxdg,
            Rx(0.3),
            Ry(0.4),
            Rz(0.5),
            P(0.6),
            U(0.1, 0.2, 0.3),
            Cx,
            Cy,
            Cz,
            Ch,
            Cp(0.7),
            Crx(0.8),
            Cry(0.9),
            Crz(1.0),
            Cu(0.1, 0.2, 0.3, 0.4),
            Csx,
            Swap,
            Iswap,
            Ecr,
            Rxx(0.2),
            Ryy(0.3),
            Rzz(0.4),
            Rzx(0.5),
            Ccx,
            Cswap,
        ]
    }

    /// The number of qubits the gate acts on, or `None` for the
    /// multi-controlled gates whose arity is given by their operand list.
    #[must_use]
    pub fn arity(&self) -> Option<usize> {
        use Gate::*;
        Some(match self {
            I | X | Y | Z | H | S | Sdg | T | Tdg | Sx | Sxdg | Rx(_) | Ry(_) | Rz(_) | P(_)
            | U(..) | Unitary1(_) => 1,
            Cx | Cy | Cz | Ch | Cp(_) | Crx(_) | Cry(_) | Crz(_) | Cu(..) | Csx | Swap | Iswap
            | Ecr | Rxx(_) | Ryy(_) | Rzz(_) | Rzx(_) | Unitary2(_) => 2,
            Ccx | Cswap => 3,
            Mcx | Mcz | Mcu(_) => return None,
        })
    }

    /// The OpenQASM name of the gate (`unitary` for the arbitrary ones).
    #[must_use]
    pub fn name(&self) -> &'static str {
        use Gate::*;
        match self {
            I => "id",
            X => "x",
            Y => "y",
            Z => "z",
            H => "h",
            S => "s",
            Sdg => "sdg",
            T => "t",
            Tdg => "tdg",
            Sx => "sx",
            Sxdg => "sxdg",
            Rx(_) => "rx",
            Ry(_) => "ry",
            Rz(_) => "rz",
            P(_) => "p",
            U(..) => "u",
            Cx => "cx",
            Cy => "cy",
            Cz => "cz",
            Ch => "ch",
            Cp(_) => "cp",
            Crx(_) => "crx",
            Cry(_) => "cry",
            Crz(_) => "crz",
            Cu(..) => "cu",
            Csx => "csx",
            Swap => "swap",
            Iswap => "iswap",
            Ecr => "ecr",
            Rxx(_) => "rxx",
            Ryy(_) => "ryy",
            Rzz(_) => "rzz",
            Rzx(_) => "rzx",
            Ccx => "ccx",
            Cswap => "cswap",
            Mcx => "mcx",
            Mcz => "mcz",
            Mcu(_) => "mcu",
            Unitary1(_) | Unitary2(_) => "unitary",
        }
    }

    /// The gate's parameters, in OpenQASM order.
    #[must_use]
    pub fn params(&self) -> Vec<f64> {
        use Gate::*;
        match *self {
            Rx(a) | Ry(a) | Rz(a) | P(a) | Cp(a) | Crx(a) | Cry(a) | Crz(a) | Rxx(a) | Ryy(a)
            | Rzz(a) | Rzx(a) => vec![a],
            U(a, b, c) => vec![a, b, c],
            Cu(a, b, c, d) => vec![a, b, c, d],
            _ => Vec::new(),
        }
    }

    /// True when the matrix is diagonal in the computational basis.
    #[must_use]
    pub fn is_diagonal(&self) -> bool {
        use Gate::*;
        matches!(
            self,
            I | Z | S | Sdg | T | Tdg | Rz(_) | P(_) | Cz | Cp(_) | Crz(_) | Rzz(_) | Mcz
        )
    }

    /// The dense unitary of the gate on `n` qubits (`n` matters only for the
    /// multi-controlled gates), row-major, dimension `2^n`, first operand most
    /// significant. For reference checks and fusion, not for the hot path.
    #[must_use]
    pub fn matrix(&self, n: usize) -> Vec<Complex64> {
        use Gate::*;
        let c = |re: f64, im: f64| Complex64::new(re, im);
        let o = c(0.0, 0.0);
        let l = c(1.0, 0.0);
        let i = c(0.0, 1.0);
        let e = |t: f64| Complex64::from_polar(1.0, t);
        let h = FRAC_1_SQRT_2;
        let u3 = |t: f64, p: f64, lam: f64| -> [Complex64; 4] {
            let (ct, st) = ((t / 2.0).cos(), (t / 2.0).sin());
            [c(ct, 0.0), -e(lam) * st, e(p) * st, e(p + lam) * ct]
        };
        let controlled = |u: [Complex64; 4]| -> Vec<Complex64> {
            let mut m = identity(4);
            m[2 * 4 + 2] = u[0];
            m[2 * 4 + 3] = u[1];
            m[3 * 4 + 2] = u[2];
            m[3 * 4 + 3] = u[3];
            m
        };
        match *self {
            I => vec![l, o, o, l],
            X => vec![o, l, l, o],
            Y => vec![o, -i, i, o],
            Z => vec![l, o, o, -l],
            H => vec![c(h, 0.0), c(h, 0.0), c(h, 0.0), c(-h, 0.0)],
            S => vec![l, o, o, i],
            Sdg => vec![l, o, o, -i],
            T => vec![l, o, o, e(FRAC_PI_4)],
            Tdg => vec![l, o, o, e(-FRAC_PI_4)],
            Sx => vec![c(0.5, 0.5), c(0.5, -0.5), c(0.5, -0.5), c(0.5, 0.5)],
            Sxdg => vec![c(0.5, -0.5), c(0.5, 0.5), c(0.5, 0.5), c(0.5, -0.5)],
            Rx(t) => {
                let (ct, st) = ((t / 2.0).cos(), (t / 2.0).sin());
                vec![c(ct, 0.0), c(0.0, -st), c(0.0, -st), c(ct, 0.0)]
            }
            Ry(t) => {
                let (ct, st) = ((t / 2.0).cos(), (t / 2.0).sin());
                vec![c(ct, 0.0), c(-st, 0.0), c(st, 0.0), c(ct, 0.0)]
            }
            Rz(t) => vec![e(-t / 2.0), o, o, e(t / 2.0)],
            P(t) => vec![l, o, o, e(t)],
            U(t, p, lam) => u3(t, p, lam).to_vec(),
            Cx => controlled([o, l, l, o]),
            Cy => controlled([o, -i, i, o]),
            Cz => controlled([l, o, o, -l]),
            Ch => controlled([c(h, 0.0), c(h, 0.0), c(h, 0.0), c(-h, 0.0)]),
            Cp(t) => controlled([l, o, o, e(t)]),
            Crx(t) => {
                let m = Rx(t).matrix(1);
                controlled([m[0], m[1], m[2], m[3]])
            }
            Cry(t) => {
                let m = Ry(t).matrix(1);
                controlled([m[0], m[1], m[2], m[3]])
            }
            Crz(t) => controlled([e(-t / 2.0), o, o, e(t / 2.0)]),
            Cu(t, p, lam, g) => {
                let u = u3(t, p, lam);
                let g = e(g);
                controlled([g * u[0], g * u[1], g * u[2], g * u[3]])
            }
            Csx => controlled([c(0.5, 0.5), c(0.5, -0.5), c(0.5, -0.5), c(0.5, 0.5)]),
            Swap => {
                let mut m = vec![o; 16];
                m[0] = l;
                m[4 + 2] = l;
                m[2 * 4 + 1] = l;
                m[15] = l;
                m
            }
            Iswap => {
                let mut m = vec![o; 16];
                m[0] = l;
                m[4 + 2] = i;
                m[2 * 4 + 1] = i;
                m[15] = l;
                m
            }
            Ecr => {
                // (IX - XY) / sqrt(2), first operand most significant.
                let s = c(h, 0.0);
                let si = c(0.0, h);
                vec![
                    o, o, s, si, //
                    o, o, si, s, //
                    s, -si, o, o, //
                    -si, s, o, o,
                ]
            }
            Rxx(t) => {
                let (ct, st) = (c((t / 2.0).cos(), 0.0), c(0.0, -(t / 2.0).sin()));
                vec![
                    ct, o, o, st, //
                    o, ct, st, o, //
                    o, st, ct, o, //
                    st, o, o, ct,
                ]
            }
            Ryy(t) => {
                let ct = c((t / 2.0).cos(), 0.0);
                let st = (t / 2.0).sin();
                vec![
                    ct,
                    o,
                    o,
                    c(0.0, st),
                    o,
                    ct,
                    c(0.0, -st),
                    o,
                    o,
                    c(0.0, -st),
                    ct,
                    o,
                    c(0.0, st),
                    o,
                    o,
                    ct,
                ]
            }
            Rzz(t) => {
                let (a, b) = (e(-t / 2.0), e(t / 2.0));
                let mut m = vec![o; 16];
                m[0] = a;
                m[5] = b;
                m[10] = b;
                m[15] = a;
                m
            }
            Rzx(t) => {
                // exp(-i t/2 Z⊗X): first operand Z, second X.
                let (ct, st) = ((t / 2.0).cos(), (t / 2.0).sin());
                vec![
                    c(ct, 0.0),
                    c(0.0, -st),
                    o,
                    o,
                    c(0.0, -st),
                    c(ct, 0.0),
                    o,
                    o,
                    o,
                    o,
                    c(ct, 0.0),
                    c(0.0, st),
                    o,
                    o,
                    c(0.0, st),
                    c(ct, 0.0),
                ]
            }
            Ccx => multi_controlled(3, [o, l, l, o]),
            Cswap => {
                let mut m = identity(8);
                // control is the first (most significant) operand; swap the other two.
                m[5 * 8 + 5] = o;
                m[6 * 8 + 6] = o;
                m[5 * 8 + 6] = l;
                m[6 * 8 + 5] = l;
                m
            }
            Mcx => multi_controlled(n, [o, l, l, o]),
            Mcz => multi_controlled(n, [l, o, o, -l]),
            Mcu(ref u) => multi_controlled(n, **u),
            Unitary1(ref u) => u.to_vec(),
            Unitary2(ref u) => u.to_vec(),
        }
    }
}

fn identity(dim: usize) -> Vec<Complex64> {
    let mut m = vec![Complex64::new(0.0, 0.0); dim * dim];
    for k in 0..dim {
        m[k * dim + k] = Complex64::new(1.0, 0.0);
    }
    m
}

/// `u` on the last (least significant) of `n` qubits, controlled on all others.
fn multi_controlled(n: usize, u: [Complex64; 4]) -> Vec<Complex64> {
    let dim = 1usize << n;
    let mut m = identity(dim);
    let (a, b) = (dim - 2, dim - 1);
    m[a * dim + a] = u[0];
    m[a * dim + b] = u[1];
    m[b * dim + a] = u[2];
    m[b * dim + b] = u[3];
    m
}

/// A classical condition: the operation runs when the bits, read as an
/// unsigned integer (first listed bit least significant), equal `value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// The classical bits compared, least significant first.
    pub clbits: Vec<Clbit>,
    /// The value they must hold.
    pub value: u64,
}

/// One step of a circuit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operation {
    /// A unitary gate on `qubits` (first operand first), optionally conditioned.
    Gate {
        /// The gate.
        gate: Gate,
        /// Its operands, in the gate's order (controls first).
        qubits: Qubits,
        /// A classical condition, or `None` to always apply.
        condition: Option<Condition>,
    },
    /// Measure `qubit` in the computational basis into `clbit`.
    Measure {
        /// The measured qubit.
        qubit: Qubit,
        /// The classical bit written.
        clbit: Clbit,
    },
    /// Reset `qubit` to |0>.
    Reset {
        /// The qubit reset.
        qubit: Qubit,
    },
    /// An optimization and scheduling fence; no effect on the state.
    Barrier {
        /// The qubits the fence spans.
        qubits: Qubits,
    },
}

/// A named classical register: `size` consecutive bits starting at `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicalRegister {
    /// The register's name in the program.
    pub name: String,
    /// The index of its bit 0 among the circuit's classical bits.
    pub offset: Clbit,
    /// The number of bits.
    pub size: u32,
}

/// A gate-level program with every parameter resolved.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Circuit {
    /// The number of qubits.
    pub num_qubits: u32,
    /// The number of classical bits (at most [`MAX_CLBITS`]).
    pub num_clbits: u32,
    /// The classical registers, in declaration order; they partition the bits.
    pub cregs: Vec<ClassicalRegister>,
    /// The operations in program order.
    pub ops: Vec<Operation>,
}

impl Circuit {
    /// An empty circuit with one classical register `c` of `num_clbits` bits
    /// (none when zero).
    #[must_use]
    pub fn new(num_qubits: u32, num_clbits: u32) -> Self {
        let cregs = if num_clbits > 0 {
            vec![ClassicalRegister { name: "c".into(), offset: 0, size: num_clbits }]
        } else {
            Vec::new()
        };
        Self { num_qubits, num_clbits, cregs, ops: Vec::new() }
    }

    /// Appends an unconditioned gate.
    pub fn gate(&mut self, gate: Gate, qubits: &[Qubit]) -> &mut Self {
        self.ops.push(Operation::Gate { gate, qubits: qubits.into(), condition: None });
        self
    }

    /// Appends a measurement.
    pub fn measure(&mut self, qubit: Qubit, clbit: Clbit) -> &mut Self {
        self.ops.push(Operation::Measure { qubit, clbit });
        self
    }

    /// True when no gate or reset follows a measurement on any qubit and no
    /// operation is classically conditioned: then one simulation and sampling
    /// of all shots from the final distribution is exact.
    #[must_use]
    pub fn measurements_are_terminal(&self) -> bool {
        let mut measured = vec![false; self.num_qubits as usize];
        for op in &self.ops {
            match op {
                Operation::Measure { qubit, .. } => measured[*qubit as usize] = true,
                Operation::Gate { qubits, condition, .. } => {
                    if condition.is_some() || qubits.iter().any(|q| measured[*q as usize]) {
                        return false;
                    }
                }
                Operation::Reset { qubit } => {
                    if measured[*qubit as usize] {
                        return false;
                    }
                }
                Operation::Barrier { .. } => {}
            }
        }
        true
    }

    /// Formats an outcome as Qiskit prints count keys: registers in reverse
    /// declaration order separated by a space, each with its highest bit first.
    #[must_use]
    pub fn format_outcome(&self, outcome: u64) -> String {
        if self.cregs.is_empty() {
            return (0..self.num_clbits)
                .rev()
                .map(|b| if outcome >> b & 1 == 1 { '1' } else { '0' })
                .collect();
        }
        let mut parts = Vec::with_capacity(self.cregs.len());
        for reg in self.cregs.iter().rev() {
            let bits: String = (0..reg.size)
                .rev()
                .map(|b| if outcome >> (reg.offset + b) & 1 == 1 { '1' } else { '0' })
                .collect();
            parts.push(bits);
        }
        parts.join(" ")
    }
}

/// pi/2, re-exported for gate definitions that use it.
pub const HALF_PI: f64 = FRAC_PI_2;

#[cfg(test)]
mod tests {
    use super::*;

    fn is_unitary(m: &[Complex64], dim: usize) -> bool {
        for r in 0..dim {
            for c in 0..dim {
                let mut s = Complex64::new(0.0, 0.0);
                for k in 0..dim {
                    s += m[r * dim + k] * m[c * dim + k].conj();
                }
                let want = if r == c { 1.0 } else { 0.0 };
                if (s - Complex64::new(want, 0.0)).norm() > 1e-12 {
                    return false;
                }
            }
        }
        true
    }

    #[test]
    fn every_gate_matrix_is_unitary() {
        use Gate::*;
        for g in Gate::one_of_each() {
            let n = g.arity().unwrap_or(3);
            assert!(is_unitary(&g.matrix(n), 1 << n), "{}", g.name());
        }
        assert!(is_unitary(&Mcx.matrix(4), 16));
        assert!(is_unitary(&Mcz.matrix(4), 16));
        let h = Gate::H.matrix(1);
        let mcu = Mcu(Box::new([h[0], h[1], h[2], h[3]]));
        assert!(is_unitary(&mcu.matrix(3), 8));
    }

    #[test]
    fn diagonal_flag_matches_matrix() {
        use Gate::*;
        for g in [Z, S, T, Rz(0.3), P(0.2), Cz, Cp(0.1), Crz(0.4), Rzz(0.5), X, H, Cx, Swap] {
            let n = g.arity().unwrap_or(3);
            let dim = 1 << n;
            let m = g.matrix(n);
            let diag = (0..dim * dim).all(|k| k / dim == k % dim || m[k].norm() < 1e-15);
            assert_eq!(diag, g.is_diagonal(), "{}", g.name());
        }
    }

    #[test]
    fn outcome_formatting_follows_qiskit() {
        let mut c = Circuit::new(3, 0);
        c.num_clbits = 3;
        c.cregs = vec![
            ClassicalRegister { name: "a".into(), offset: 0, size: 2 },
            ClassicalRegister { name: "b".into(), offset: 2, size: 1 },
        ];
        // a = 0b01 (bit0 = 1), b = 1
        assert_eq!(c.format_outcome(0b101), "1 01");
        let single = Circuit::new(2, 2);
        assert_eq!(single.format_outcome(0b10), "10");
    }

    #[test]
    fn operand_lists_are_inline_and_serialize_as_sequences() {
        // as small as a Vec, and a 2-qubit gate's operands need no heap
        assert_eq!(std::mem::size_of::<Qubits>(), std::mem::size_of::<Vec<Qubit>>());
        let op =
            Operation::Gate { gate: Gate::Cx, qubits: [3, 1].as_slice().into(), condition: None };
        let Operation::Gate { qubits, .. } = &op else { unreachable!() };
        assert!(!qubits.spilled());
        // the wire format is unchanged: a plain JSON array
        let json = serde_json::to_string(&op).expect("serializes");
        assert!(json.contains("\"qubits\":[3,1]"), "{json}");
        assert_eq!(serde_json::from_str::<Operation>(&json).expect("parses"), op);
    }

    #[test]
    fn terminal_measurement_detection() {
        let mut c = Circuit::new(2, 2);
        c.gate(Gate::H, &[0]).gate(Gate::Cx, &[0, 1]).measure(0, 0).measure(1, 1);
        assert!(c.measurements_are_terminal());
        c.gate(Gate::X, &[0]);
        assert!(!c.measurements_are_terminal());
    }
}
