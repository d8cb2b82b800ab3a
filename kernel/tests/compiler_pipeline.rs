//! The compiler end to end through the real OpenQASM front end: compile,
//! optimize and validate from source text, and the compiled program parses
//! back to the compiled circuit.

use eigen_hal::{
    Circuit, DeviceKind, Gate, Hertz, Limits, NativeGate, Operation, QubitProperties, Seconds,
    Target, topology,
};
use eigen_kernel::compiler::qasm::{self, ParseLimits};
use eigen_kernel::compiler::{
    CompileOptions, ProgramFormat, Severity, compile, optimize, validate,
};

fn heavy_hex() -> Target {
    let gate = |name: &str, q: u32, ns: f64, error: f64| NativeGate {
        name: name.into(),
        num_qubits: q,
        duration: Seconds::from_nanos(ns),
        error,
    };
    Target {
        id: "heavyhex-27".into(),
        name: "heavy-hex".into(),
        kind: DeviceKind::Simulator,
        num_qubits: 27,
        coupling_map: Some(topology::heavy_hex_27()),
        native_gates: vec![
            gate("rz", 1, 0.0, 0.0),
            gate("sx", 1, 35.0, 1e-3),
            gate("x", 1, 35.0, 1e-3),
            gate("cz", 2, 60.0, 1e-2),
        ],
        qubits: (0..27)
            .map(|_| QubitProperties {
                t1: Seconds::from_micros(100.0),
                t2: Seconds::from_micros(80.0),
                frequency: Hertz::from_ghz(5.0),
                readout_error: 0.02,
                readout_duration: Seconds::from_nanos(700.0),
            })
            .collect(),
        dt: None,
        limits: Limits { max_shots: 100_000, max_qubits: 27 },
        calibration_id: "cal".into(),
    }
}

const GHZ5: &str = r#"OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
creg c[5];
h q[0];
cx q[0],q[1];
cx q[0],q[2];
cx q[0],q[3];
cx q[0],q[4];
ccx q[1],q[2],q[4];
cp(0.3) q[4],q[0];
measure q -> c;
"#;

fn gates_of(c: &Circuit) -> Vec<&Operation> {
    c.ops.iter().collect()
}

#[test]
fn compiled_program_parses_back_to_the_compiled_circuit() {
    let t = heavy_hex();
    for level in 0..=3 {
        let compiled =
            compile(GHZ5, ProgramFormat::Detect, &t, &CompileOptions { optimization_level: level })
                .expect("compiles");
        assert!(compiled.program.starts_with("OPENQASM 3.0;\ninclude \"stdgates.inc\";\n"));
        let back = qasm::parse(&compiled.program, ProgramFormat::Detect, &ParseLimits::default())
            .unwrap_or_else(|d| panic!("level {level}: {d:?}\n{}", compiled.program));
        assert_eq!(back.circuit.num_qubits, 27);
        assert_eq!(gates_of(&back.circuit), gates_of(&compiled.circuit), "level {level}");
        // every gate native, every measurement still writes the program's bits
        for op in &compiled.circuit.ops {
            if let Operation::Gate { gate, .. } = op {
                assert!(t.accepts_gate(gate.name()), "{}", gate.name());
            }
        }
        let mut clbits: Vec<u32> = compiled
            .circuit
            .ops
            .iter()
            .filter_map(|op| match op {
                Operation::Measure { clbit, .. } => Some(*clbit),
                _ => None,
            })
            .collect();
        clbits.sort_unstable();
        assert_eq!(clbits, vec![0, 1, 2, 3, 4]);
        assert!(compiled.circuit.measurements_are_terminal());
        assert_eq!(compiled.final_layout.len(), 5);
    }
}

#[test]
fn stats_come_from_the_device_figures() {
    let t = heavy_hex();
    let compiled =
        compile(GHZ5, ProgramFormat::Detect, &t, &CompileOptions::default()).expect("compiles");
    let s = &compiled.stats;
    let counted: u64 =
        s.gate_counts.iter().filter(|(k, _)| k.as_str() == "cz").map(|(_, v)| v).sum();
    assert_eq!(counted, s.two_qubit_gates);
    assert_eq!(s.gate_counts.get("measure"), Some(&5));
    assert!(s.depth > 0 && s.depth < 200);
    // at least: one cz chain, and the readout
    assert!(s.estimated_duration.as_nanos() >= 700 + 60, "{:?}", s.estimated_duration);
    let sx = s.gate_counts.get("sx").copied().unwrap_or(0)
        + s.gate_counts.get("x").copied().unwrap_or(0);
    let want = 0.99f64.powi(s.two_qubit_gates as i32) * 0.999f64.powi(sx as i32) * 0.98f64.powi(5);
    assert!((s.estimated_success - want).abs() < 1e-9, "{} vs {want}", s.estimated_success);
}

#[test]
fn optimize_without_a_target_cancels_and_fuses() {
    let src = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nh q[0];\nh q[0];\ncx q[0], q[1];\ncx q[0], q[1];\nrz(0.1) q[1];\nrz(0.2) q[1];\n";
    let out =
        optimize(src, ProgramFormat::Detect, None, &CompileOptions::default()).expect("optimizes");
    assert_eq!(out.circuit.ops.len(), 1, "{}", out.program);
    assert_eq!(out.stats.two_qubit_gates, 0);
    let level0 =
        optimize(src, ProgramFormat::Detect, None, &CompileOptions { optimization_level: 0 })
            .expect("optimizes");
    assert_eq!(level0.circuit.ops.len(), 6);
}

#[test]
fn the_simulator_keeps_gates_it_accepts() {
    let mut sim = heavy_hex();
    sim.coupling_map = None;
    sim.native_gates.clear();
    let src = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[3] q;\nbit[3] c;\nccx q[0], q[1], q[2];\nswap q[0], q[2];\nc = measure q;\n";
    let out =
        compile(src, ProgramFormat::Detect, &sim, &CompileOptions::default()).expect("compiles");
    assert_eq!(out.circuit.num_qubits, 3);
    assert!(matches!(out.circuit.ops[0], Operation::Gate { gate: Gate::Ccx, .. }));
    assert_eq!(out.stats.swaps, 0);
    let back =
        qasm::parse(&out.program, ProgramFormat::Detect, &ParseLimits::default()).expect("parses");
    assert_eq!(back.circuit.ops, out.circuit.ops);
}

#[test]
fn validate_reports_parse_and_target_problems() {
    let t = heavy_hex();
    assert!(validate(GHZ5, ProgramFormat::Detect, Some(&t)).is_empty());
    let wide = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[30];\nh q[0];\n";
    let d = validate(wide, ProgramFormat::Detect, Some(&t));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].severity, Severity::Error);
    assert!(d[0].message.contains("30 qubits"), "{}", d[0].message);
    assert!(validate(wide, ProgramFormat::Detect, None).is_empty());
    let bad = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nfoo q[0];\n";
    let d = validate(bad, ProgramFormat::Detect, Some(&t));
    assert!(!d.is_empty() && d[0].line == 4, "{d:?}");
    assert!(compile(bad, ProgramFormat::Detect, &t, &CompileOptions::default()).is_err());
}
