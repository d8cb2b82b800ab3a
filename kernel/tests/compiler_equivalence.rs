//! Property tests: a compiled circuit does what the program does.
//!
//! Random circuits on up to 8 qubits, using every gate of the IR, are
//! compiled onto line, ring, grid and heavy-hex maps (and the all-to-all
//! simulator) at every optimization level. A small dense state-vector
//! simulator, written here (the kernel does not depend on eigen-sim), runs
//! both from |0...0> (random 1-qubit layers make that a random input) and
//! compares the program's state with the compiled one read through the
//! tracked `final_layout`; idle physical qubits must end in |0>. Circuits
//! with final measurements compare outcome distributions instead. Every
//! compiled gate must be native and every 2-qubit gate on a coupled pair in
//! an allowed direction.

use eigen_hal::{
    Circuit, DeviceKind, Gate, Limits, NativeGate, Operation, Seconds, Target, topology,
};
use eigen_kernel::compiler::{CompileOptions, compile_circuit};
use num_complex::Complex64;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::f64::consts::PI;

type State = Vec<Complex64>;

/// Applies `gate` on `qubits` (first operand most significant in its
/// matrix, qubit 0 the least significant bit of an index).
fn apply(state: &mut State, gate: &Gate, qubits: &[u32]) {
    let k = qubits.len();
    let m = gate.matrix(k);
    let dim = 1usize << k;
    let mask: usize = qubits.iter().map(|&q| 1usize << q).sum();
    let offsets: Vec<usize> = (0..dim)
        .map(|s| {
            qubits
                .iter()
                .enumerate()
                .filter(|(i, _)| s >> (k - 1 - i) & 1 == 1)
                .map(|(_, &q)| 1usize << q)
                .sum()
        })
        .collect();
    let mut buf = vec![Complex64::new(0.0, 0.0); dim];
    for base in 0..state.len() {
        if base & mask != 0 {
            continue;
        }
        for (r, slot) in buf.iter_mut().enumerate() {
            *slot = (0..dim).map(|c| m[r * dim + c] * state[base | offsets[c]]).sum();
        }
        for (r, v) in buf.iter().enumerate() {
            state[base | offsets[r]] = *v;
        }
    }
}

/// Runs the gates of `ops` (qubits renamed by `rename`) on `n` qubits.
fn run(ops: &[Operation], n: usize, rename: &dyn Fn(u32) -> u32) -> State {
    let mut s = vec![Complex64::new(0.0, 0.0); 1 << n];
    s[0] = Complex64::new(1.0, 0.0);
    for op in ops {
        if let Operation::Gate { gate, qubits, .. } = op {
            let q: Vec<u32> = qubits.iter().map(|&q| rename(q)).collect();
            apply(&mut s, gate, &q);
        }
    }
    s
}

/// Outcome distribution of terminal measurements `(qubit, clbit)`.
fn distribution(s: &State, measures: &[(u32, u32)]) -> BTreeMap<u64, f64> {
    let mut d = BTreeMap::new();
    for (i, a) in s.iter().enumerate() {
        let p = a.norm_sqr();
        if p < 1e-14 {
            continue;
        }
        let mut key = 0u64;
        for &(q, c) in measures {
            if i >> q & 1 == 1 {
                key |= 1 << c;
            }
        }
        *d.entry(key).or_insert(0.0) += p;
    }
    d
}

fn target(id: &str, n: u32, map: Option<Vec<(u32, u32)>>, natives: &[&str]) -> Target {
    Target {
        id: id.into(),
        name: id.into(),
        kind: DeviceKind::Simulator,
        num_qubits: n,
        coupling_map: map,
        native_gates: natives
            .iter()
            .map(|&g| NativeGate {
                name: g.into(),
                num_qubits: if matches!(g, "cz" | "cx" | "ecr") { 2 } else { 1 },
                duration: Seconds::from_nanos(if g == "rz" { 0.0 } else { 50.0 }),
                error: 1e-3,
            })
            .collect(),
        qubits: Vec::new(),
        dt: None,
        limits: Limits { max_shots: 100_000, max_qubits: n },
        calibration_id: "test".into(),
    }
}

fn targets() -> Vec<Target> {
    let cz = ["rz", "sx", "x", "cz"];
    let cx = ["rz", "sx", "x", "cx"];
    let ecr = ["rz", "sx", "x", "ecr"];
    vec![
        target("line-8-cz", 8, Some(topology::line(8)), &cz),
        target("ring-8-ecr", 8, Some(topology::ring(8)), &ecr),
        target("grid-3x3-cx", 9, Some(topology::grid(3, 3)), &cx),
        target("heavyhex-27-cz", 27, Some(topology::heavy_hex_27()), &cz),
        target("heavyhex-27-ecr", 27, Some(topology::heavy_hex_27()), &ecr),
        target("sim", 8, None, &[]),
        target("all-to-all-cz", 8, None, &cz),
    ]
}

/// A gate from an index and angles, with its arity.
fn make_gate(kind: u8, a: f64, b: f64, c: f64) -> (Gate, usize) {
    use Gate::*;
    let u = |g: Gate| -> Box<[Complex64; 4]> {
        let m = g.matrix(1);
        Box::new([m[0], m[1], m[2], m[3]])
    };
    match kind % 40 {
        0 => (I, 1),
        1 => (X, 1),
        2 => (Y, 1),
        3 => (Z, 1),
        4 | 5 => (H, 1),
        6 => (S, 1),
        7 => (Sdg, 1),
        8 => (T, 1),
        9 => (Tdg, 1),
        10 => (Sx, 1),
        11 => (Sxdg, 1),
        12 => (Rx(a), 1),
        13 => (Ry(a), 1),
        14 => (Rz(a), 1),
        15 => (P(a), 1),
        16 => (U(a, b, c), 1),
        17..=19 => (Cx, 2),
        20 | 21 => (Cz, 2),
        22 => (Cy, 2),
        23 => (Ch, 2),
        24 => (Cp(a), 2),
        25 => (Crx(a), 2),
        26 => (Cry(a), 2),
        27 => (Crz(a), 2),
        28 => (Cu(a, b, c, a * b), 2),
        29 => (Csx, 2),
        30 => (Swap, 2),
        31 => (Iswap, 2),
        32 => (Ecr, 2),
        33 => (if a > 0.0 { Rxx(b) } else { Ryy(b) }, 2),
        34 => (if a > 0.0 { Rzz(b) } else { Rzx(b) }, 2),
        35 => (if a > 0.0 { Ccx } else { Cswap }, 3),
        36 => (if a > 0.0 { Mcx } else { Mcz }, 4),
        37 => (Mcu(u(U(a, b, c))), 3),
        38 => (Unitary1(u(U(c, a, b))), 1),
        _ => {
            // A generic 2-qubit unitary: Crx(a) * (U ⊗ Ry(b)) * iSWAP.
            let mut s = Circuit::new(2, 0);
            s.gate(Iswap, &[1, 0]).gate(U(c, a, b), &[1]).gate(Ry(b), &[0]).gate(Crx(a), &[1, 0]);
            let mut m = [Complex64::new(0.0, 0.0); 16];
            for col in 0..4 {
                let mut st = vec![Complex64::new(0.0, 0.0); 4];
                st[col] = Complex64::new(1.0, 0.0);
                for op in &s.ops {
                    if let Operation::Gate { gate, qubits, .. } = op {
                        apply(&mut st, gate, qubits);
                    }
                }
                for row in 0..4 {
                    m[row * 4 + col] = st[row];
                }
            }
            // apply() uses qubit 1 as the most significant index bit, which
            // is the Unitary2 convention for operands (1, 0); the test uses
            // whatever operands it draws, so any unitary will do.
            (Unitary2(Box::new(m)), 2)
        }
    }
}

type Spec = (u8, u64, f64, f64, f64);

fn build(n: u32, specs: &[Spec], measure: bool) -> Circuit {
    let mut c = Circuit::new(n, if measure { n } else { 0 });
    // a random-ish first layer so that |0..0> is a generic input
    for (q, s) in specs.iter().enumerate().take(n as usize) {
        c.gate(Gate::U(s.2.abs() + 0.3, s.3, s.4), &[q as u32]);
    }
    for &(kind, seed, a, b, cc) in specs {
        let (g, arity) = make_gate(kind, a, b, cc);
        if arity > n as usize {
            continue;
        }
        let mut pool: Vec<u32> = (0..n).collect();
        let mut x = seed;
        let mut qubits = Vec::with_capacity(arity);
        for _ in 0..arity {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % pool.len();
            qubits.push(pool.swap_remove(i));
        }
        c.gate(g, &qubits);
    }
    if measure {
        for q in 0..n {
            c.measure(q, (q + 1) % n);
        }
    }
    c
}

/// Checks nativeness and connectivity, then equivalence.
fn check(circuit: &Circuit, t: &Target, level: u8) -> Result<(), TestCaseError> {
    let options = CompileOptions { optimization_level: level };
    let compiled = compile_circuit(circuit, t, &options)
        .map_err(|d| TestCaseError::fail(format!("compile failed on {}: {d:?}", t.id)))?;
    let out = &compiled.circuit;
    let nv = circuit.num_qubits as usize;
    prop_assert_eq!(compiled.final_layout.len(), nv);
    for op in &out.ops {
        if let Operation::Gate { gate, qubits, .. } = op {
            prop_assert!(t.accepts_gate(gate.name()), "{} not native on {}", gate.name(), t.id);
            if qubits.len() == 2
                && let Some(map) = &t.coupling_map
            {
                let (a, b) = (qubits[0], qubits[1]);
                let ok = if matches!(gate, Gate::Cz) {
                    t.connected(a, b)
                } else {
                    map.contains(&(a, b))
                };
                prop_assert!(ok, "{} on ({a}, {b}) not allowed on {}", gate.name(), t.id);
            }
        }
    }
    // Compact the physical qubits actually touched, so that a 27-qubit
    // device simulates in a small state.
    let mut used: Vec<u32> = compiled.final_layout.clone();
    for op in &out.ops {
        if let Operation::Gate { qubits, .. } | Operation::Barrier { qubits } = op {
            used.extend(qubits);
        }
    }
    used.sort_unstable();
    used.dedup();
    prop_assert!(used.len() <= 20, "too many qubits touched: {}", used.len());
    let index = |p: u32| used.iter().position(|&u| u == p).map_or(u32::MAX, |i| i as u32);
    let got = run(&out.ops, used.len(), &|p| index(p));
    let want = run(&circuit.ops, nv, &|q| q);
    let measures: Vec<(u32, u32)> = circuit
        .ops
        .iter()
        .filter_map(|op| match op {
            Operation::Measure { qubit, clbit } => Some((*qubit, *clbit)),
            _ => None,
        })
        .collect();
    if measures.is_empty() {
        // Read the compiled state through the final layout.
        let mut overlap = Complex64::new(0.0, 0.0);
        for (i, w) in want.iter().enumerate() {
            let mut j = 0usize;
            for v in 0..nv {
                if i >> v & 1 == 1 {
                    j |= 1 << index(compiled.final_layout[v]);
                }
            }
            overlap += w.conj() * got[j];
        }
        prop_assert!(
            (overlap.norm() - 1.0).abs() < 1e-6,
            "fidelity {} on {} level {level}",
            overlap.norm(),
            t.id
        );
    } else {
        let compiled_measures: Vec<(u32, u32)> = out
            .ops
            .iter()
            .filter_map(|op| match op {
                Operation::Measure { qubit, clbit } => Some((index(*qubit), *clbit)),
                _ => None,
            })
            .collect();
        let (a, b) = (distribution(&want, &measures), distribution(&got, &compiled_measures));
        for key in a.keys().chain(b.keys()) {
            let (x, y) = (a.get(key).copied().unwrap_or(0.0), b.get(key).copied().unwrap_or(0.0));
            prop_assert!((x - y).abs() < 1e-6, "P({key}) {x} vs {y} on {} level {level}", t.id);
        }
    }
    Ok(())
}

fn spec() -> impl Strategy<Value = Spec> {
    (any::<u8>(), any::<u64>(), -PI..PI, -PI..PI, -PI..PI)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn compiled_state_matches_program(
        n in 2u32..=8,
        specs in prop::collection::vec(spec(), 1..30),
        target_index in 0usize..7,
        level in 0u8..=3,
    ) {
        let t = &targets()[target_index];
        check(&build(n, &specs, false), t, level)?;
    }

    #[test]
    fn compiled_outcomes_match_program(
        n in 2u32..=6,
        specs in prop::collection::vec(spec(), 1..25),
        target_index in 0usize..7,
        level in 0u8..=3,
    ) {
        let t = &targets()[target_index];
        check(&build(n, &specs, true), t, level)?;
    }
}

#[test]
fn every_target_and_level_compiles_a_wide_mixed_circuit() {
    let specs: Vec<Spec> = (0..120u64)
        .map(|i| {
            (
                (i * 7 % 40) as u8,
                i.wrapping_mul(0x9E37_79B9),
                (i as f64 * 0.37).sin() * 3.0,
                0.3 * i as f64 % 3.0,
                -0.2,
            )
        })
        .collect();
    let c = build(8, &specs, false);
    for t in targets() {
        for level in 0..=3 {
            check(&c, &t, level).expect("equivalent");
        }
    }
}

#[test]
fn a_program_wider_than_the_device_is_rejected() {
    let mut c = Circuit::new(9, 0);
    c.gate(Gate::Cx, &[0, 8]);
    let t = target("line-8", 8, Some(topology::line(8)), &["rz", "sx", "x", "cz"]);
    let err = compile_circuit(&c, &t, &CompileOptions::default()).expect_err("too wide");
    assert!(err[0].message.contains("9 qubits"), "{err:?}");
}
