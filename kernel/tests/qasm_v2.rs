//! OpenQASM 2.0 front end: every construct, the benchmark circuits and
//! programs in the form Qiskit's `qasm2.dumps` writes them.

mod qasm_support;

use eigen_hal::{Condition, Gate, Operation};
use eigen_kernel::compiler::ProgramFormat;
use eigen_kernel::compiler::qasm::{ParseLimits, parse};
use qasm_support::*;
use std::f64::consts::PI;

fn data(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn bench_ghz_parses_to_h_cx_chain_and_measures() {
    let p = ok(&data("ghz_16.qasm"));
    assert_eq!(p.format, ProgramFormat::OpenQasm2);
    let c = &p.circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (16, 16));
    assert_eq!(c.cregs.len(), 1);
    let g = gates(c);
    assert_eq!(g[0], ("h".into(), vec![], vec![0]));
    for k in 1..16u32 {
        assert_eq!(g[k as usize], ("cx".into(), vec![], vec![k - 1, k]));
    }
    let measures: Vec<_> = c
        .ops
        .iter()
        .filter_map(|o| match o {
            Operation::Measure { qubit, clbit } => Some((*qubit, *clbit)),
            _ => None,
        })
        .collect();
    assert_eq!(measures, (0..16).map(|k| (k, k)).collect::<Vec<_>>());
}

#[test]
fn bench_qft_parses_cp_and_swap() {
    let c = ok(&data("qft_16.qasm")).circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (16, 0));
    let g = gates(&c);
    assert_eq!(g[0], ("h".into(), vec![], vec![15]));
    assert_eq!(g[1].0, "cp");
    assert!((g[1].1[0] - PI / 2.0).abs() < 1e-15);
    assert_eq!(g[1].2, vec![15, 14]);
    assert_eq!(g.last().unwrap(), &("swap".into(), vec![], vec![7, 8]));
    assert_eq!(g.iter().filter(|x| x.0 == "cp").count(), 16 * 15 / 2);
    assert_eq!(g.iter().filter(|x| x.0 == "swap").count(), 8);
}

#[test]
fn bench_random_parses_rotations_and_two_qubit_gates() {
    let src = data("random_16_d20.qasm");
    let c = ok(&src).circuit;
    let lines =
        src.lines().filter(|l| l.starts_with(['r', 'c'])).filter(|l| !l.starts_with("creg"));
    assert_eq!(c.ops.len(), lines.count());
    let g = gates(&c);
    assert_eq!(g[0], ("rz".into(), vec![0.09265700869354608], vec![0]));
    assert!(g.iter().all(|x| ["rx", "ry", "rz", "cx", "cz"].contains(&x.0.as_str())));
}

#[test]
fn every_qelib1_gate_maps_to_its_hal_gate() {
    let src = r#"OPENQASM 2.0;
include "qelib1.inc";
qreg q[5];
u3(0.1,0.2,0.3) q[0]; u2(0.4,0.5) q[0]; u1(0.6) q[0]; cx q[0],q[1]; id q[0]; u0(1) q[0];
u(0.1,0.2,0.3) q[0]; p(0.7) q[0]; x q[0]; y q[0]; z q[0]; h q[0]; s q[0]; sdg q[0];
t q[0]; tdg q[0]; rx(0.1) q[0]; ry(0.2) q[0]; rz(0.3) q[0]; sx q[0]; sxdg q[0];
cz q[0],q[1]; cy q[0],q[1]; swap q[0],q[1]; ch q[0],q[1]; ccx q[0],q[1],q[2];
cswap q[0],q[1],q[2]; crx(0.1) q[0],q[1]; cry(0.2) q[0],q[1]; crz(0.3) q[0],q[1];
cu1(0.4) q[0],q[1]; cp(0.5) q[0],q[1]; cu3(0.1,0.2,0.3) q[0],q[1]; csx q[0],q[1];
cu(0.1,0.2,0.3,0.4) q[0],q[1]; rxx(0.5) q[0],q[1]; rzz(0.6) q[0],q[1];
c3x q[0],q[1],q[2],q[3]; c3sqrtx q[0],q[1],q[2],q[3]; c4x q[0],q[1],q[2],q[3],q[4];
U(0.1,0.2,0.3) q[1]; CX q[1],q[0];
"#;
    let c = ok(src).circuit;
    let got: Vec<Gate> = c
        .ops
        .iter()
        .map(|o| match o {
            Operation::Gate { gate, .. } => gate.clone(),
            o => panic!("{o:?}"),
        })
        .collect();
    use Gate::*;
    let h = PI / 2.0;
    let want_prefix = vec![
        U(0.1, 0.2, 0.3),
        U(h, 0.4, 0.5),
        P(0.6),
        Cx,
        I,
        I,
        U(0.1, 0.2, 0.3),
        P(0.7),
        X,
        Y,
        Z,
        H,
        S,
        Sdg,
        T,
        Tdg,
        Rx(0.1),
        Ry(0.2),
        Rz(0.3),
        Sx,
        Sxdg,
        Cz,
        Cy,
        Swap,
        Ch,
        Ccx,
        Cswap,
        Crx(0.1),
        Cry(0.2),
        Crz(0.3),
        Cp(0.4),
        Cp(0.5),
        Cu(0.1, 0.2, 0.3, 0.0),
        Csx,
        Cu(0.1, 0.2, 0.3, 0.4),
        Rxx(0.5),
        Rzz(0.6),
        Mcx,
    ];
    assert_eq!(&got[..want_prefix.len()], &want_prefix[..]);
    assert_eq!(got[want_prefix.len()].name(), "mcu");
    assert_eq!(got[want_prefix.len() + 1], Mcx);
    assert_eq!(got[want_prefix.len() + 2], U(0.1, 0.2, 0.3));
    assert_eq!(got[want_prefix.len() + 3], Cx);
    let Operation::Gate { qubits, .. } = &c.ops[want_prefix.len() + 1] else { panic!() };
    assert_eq!(qubits[..], [0, 1, 2, 3, 4]);
}

#[test]
fn c3sqrtx_is_controlled_sqrt_x() {
    let u =
        unitary_of("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[4]; c3sqrtx q[3],q[2],q[1],q[0];");
    let mut want = gate_unitary(Gate::Sx, &[0], 1);
    for _ in 0..3 {
        want = controlled(&want, false);
    }
    assert_close(&u, &want, "c3sqrtx");
}

#[test]
fn relative_phase_toffolis_follow_qelib1_definitions() {
    // rccx equals a Toffoli up to relative phases: |110> -> |111> still.
    let c = ok("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[4]; rccx q[0],q[1],q[2]; rc3x q[0],q[1],q[2],q[3];")
        .circuit;
    assert_eq!(c.ops.len(), 9 + 18);
    let u = unitary_of("OPENQASM 2.0; include \"qelib1.inc\"; qreg q[3]; rccx q[2],q[1],q[0];");
    // Column |110> (q2=q1=1, q0=0) = index 6 maps to |111> = 7 with modulus 1.
    assert!((u[7 * 8 + 6].norm() - 1.0).abs() < 1e-9);
    assert!((u[5 * 8 + 5].norm() - 1.0).abs() < 1e-9);
}

#[test]
fn user_gates_with_parameters_expand_inline() {
    let src = "OPENQASM 2.0;
include \"qelib1.inc\";
gate rzx(param0) q0,q1 { h q1; cx q0,q1; rz(param0) q1; cx q0,q1; h q1; }
gate twice(a, b) x, y { rzx(2*a - b/2) x, y; U(a, -b, pi^2) y; CX x, y; }
qreg q[3];
twice(pi/4, 0.5) q[2], q[0];
";
    let g = gates(&ok(src).circuit);
    let names: Vec<_> = g.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names, ["h", "cx", "rz", "cx", "h", "u", "cx"]);
    assert_eq!(g[0].2, vec![0]);
    assert_eq!(g[1].2, vec![2, 0]);
    assert!((g[2].1[0] - (PI / 2.0 - 0.25)).abs() < 1e-15);
    assert_eq!(g[5].1, vec![PI / 4.0, -0.5, PI * PI]);
    assert_eq!(g[6].2, vec![2, 0]);
}

#[test]
fn registers_broadcast_over_gates_measure_and_reset() {
    let src = "OPENQASM 2.0;
include \"qelib1.inc\";
qreg a[2]; qreg b[2]; creg c[2]; creg d[2];
h a;
cx a, b;
cx a[0], b;
reset b;
measure a -> c;
measure b[1] -> d[0];
barrier a, b[0];
";
    let c = ok(src).circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (4, 4));
    assert_eq!(c.cregs[1].name, "d");
    assert_eq!(c.cregs[1].offset, 2);
    let want = vec![
        Operation::Gate { gate: Gate::H, qubits: [0].as_slice().into(), condition: None },
        Operation::Gate { gate: Gate::H, qubits: [1].as_slice().into(), condition: None },
        Operation::Gate { gate: Gate::Cx, qubits: [0, 2].as_slice().into(), condition: None },
        Operation::Gate { gate: Gate::Cx, qubits: [1, 3].as_slice().into(), condition: None },
        Operation::Gate { gate: Gate::Cx, qubits: [0, 2].as_slice().into(), condition: None },
        Operation::Gate { gate: Gate::Cx, qubits: [0, 3].as_slice().into(), condition: None },
        Operation::Reset { qubit: 2 },
        Operation::Reset { qubit: 3 },
        Operation::Measure { qubit: 0, clbit: 0 },
        Operation::Measure { qubit: 1, clbit: 1 },
        Operation::Measure { qubit: 3, clbit: 2 },
        Operation::Barrier { qubits: [0, 1, 2].as_slice().into() },
    ];
    assert_eq!(c.ops, want);
}

#[test]
fn if_on_a_register_becomes_a_condition() {
    let src = "OPENQASM 2.0;
include \"qelib1.inc\";
qreg q[2]; creg c[3]; creg e[1];
measure q[0] -> c[1];
if(c==2) x q[1];
if (e == 1) cx q[0], q[1];
if(c==5) h q;
";
    let c = ok(src).circuit;
    let conds: Vec<_> = c
        .ops
        .iter()
        .filter_map(|o| match o {
            Operation::Gate { condition, qubits, .. } => Some((condition.clone(), qubits.to_vec())),
            _ => None,
        })
        .collect();
    let creg_c = Some(Condition { clbits: vec![0, 1, 2], value: 2 });
    assert_eq!(conds[0], (creg_c, vec![1]));
    assert_eq!(conds[1].0, Some(Condition { clbits: vec![3], value: 1 }));
    assert_eq!(conds[2].0, Some(Condition { clbits: vec![0, 1, 2], value: 5 }));
    assert_eq!(conds.len(), 4);
}

#[test]
fn comments_whitespace_and_expressions() {
    let src = "// leading comment
OPENQASM 2.0; /* block
comment */ include \"qelib1.inc\";
qreg q[1];
rz(-pi/4 + 2*pi) q[0]; // trailing
rx(sin(pi/2)*cos(0)+tan(0)-exp(0)+ln(1)+sqrt(4)) q[0];
ry(1e-3) q[0]; u1(.5) q[0]; u1(2^3) q[0]; u1(-(1+2)*3) q[0];
";
    let g = gates(&ok(src).circuit);
    assert!((g[0].1[0] - 1.75 * PI).abs() < 1e-12);
    assert!((g[1].1[0] - 2.0).abs() < 1e-12);
    assert_eq!(g[2].1[0], 1e-3);
    assert_eq!(g[3].1[0], 0.5);
    assert_eq!(g[4].1[0], 8.0);
    assert_eq!(g[5].1[0], -9.0);
}

#[test]
fn gate_bodies_may_hold_barriers_and_empty_bodies() {
    let src = "OPENQASM 2.0; include \"qelib1.inc\";
gate nothing a { }
gate fenced a, b { h a; barrier a, b; cx a, b; }
qreg q[2]; nothing q[0]; fenced q[0], q[1];";
    assert_eq!(names(&ok(src).circuit), ["h", "cx"]);
}

#[test]
fn forced_format_must_match_header() {
    let l = ParseLimits::default();
    let src = "OPENQASM 2.0; include \"qelib1.inc\"; qreg q[1]; h q[0];";
    assert_eq!(parse(src, ProgramFormat::OpenQasm2, &l).unwrap().format, ProgramFormat::OpenQasm2);
    let e = parse(src, ProgramFormat::OpenQasm3, &l).unwrap_err();
    assert_eq!((e[0].line, e[0].column), (1, 1));
    assert!(e[0].message.contains("declares OpenQASM 2"), "{e:?}");
    // Without a header, a forced version is taken as is.
    let p = parse("include \"qelib1.inc\"; qreg q[1]; h q[0];", ProgramFormat::OpenQasm2, &l);
    assert_eq!(p.unwrap().format, ProgramFormat::OpenQasm2);
}

/// The shape of `qiskit.qasm2.dumps` output (Qiskit 1.x): custom gates are
/// defined before the registers, parameters are named `param0`..., operands
/// have no spaces, conditions are `if(c==1)`.
#[test]
fn qiskit_qasm2_dumps_program() {
    let src = r#"OPENQASM 2.0;
include "qelib1.inc";
gate rzx(param0) q0,q1 { h q1; cx q0,q1; rz(param0) q1; cx q0,q1; h q1; }
gate ecr q0,q1 { rzx(pi/4) q0,q1; x q0; rzx(-pi/4) q0,q1; }
gate r(param0,param1) q0 { u3(param0,param1 - pi/2,-param1 + pi/2) q0; }
gate ryy(param0) q0,q1 { rx(pi/2) q0; rx(pi/2) q1; cx q0,q1; rz(param0) q1; cx q0,q1; rx(-pi/2) q0; rx(-pi/2) q1; }
gate dcx q0,q1 { cx q0,q1; cx q1,q0; }
gate iswap q0,q1 { s q0; s q1; h q0; cx q0,q1; cx q1,q0; h q1; }
gate mcx q0,q1,q2,q3 { h q3; p(pi/8) q0; p(pi/8) q1; p(pi/8) q2; p(pi/8) q3; cx q0,q1; p(-pi/8) q1; cx q0,q1; cx q1,q2; p(-pi/8) q2; cx q0,q2; p(pi/8) q2; cx q1,q2; p(-pi/8) q2; cx q0,q2; cx q2,q3; p(-pi/8) q3; cx q1,q3; p(pi/8) q3; cx q2,q3; p(-pi/8) q3; cx q0,q3; p(pi/8) q3; cx q2,q3; p(-pi/8) q3; cx q1,q3; p(pi/8) q3; cx q2,q3; p(-pi/8) q3; cx q0,q3; h q3; }
qreg q[4];
creg c[4];
creg flag[1];
h q[0];
cx q[0],q[1];
rzx(0.3) q[0],q[1];
ecr q[1],q[2];
r(0.1,0.2) q[3];
ryy(0.4) q[2],q[3];
dcx q[0],q[3];
iswap q[1],q[2];
mcx q[0],q[1],q[2],q[3];
sx q[0];
sxdg q[1];
cp(pi/8) q[0],q[2];
barrier q[0],q[1],q[2],q[3];
measure q[0] -> c[0];
measure q[1] -> c[1];
if(c==3) x q[2];
measure q[2] -> flag[0];
if(flag==1) z q[3];
measure q[3] -> c[3];
"#;
    let c = ok(src).circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (4, 5));
    let n = names(&c);
    assert_eq!(&n[..2], ["h", "cx"]);
    // The custom ecr must be exactly the ECR gate.
    let ecr = unitary_of(
        "OPENQASM 2.0; include \"qelib1.inc\";
         gate rzx(param0) q0,q1 { h q1; cx q0,q1; rz(param0) q1; cx q0,q1; h q1; }
         gate ecr q0,q1 { rzx(pi/4) q0,q1; x q0; rzx(-pi/4) q0,q1; }
         qreg q[2]; ecr q[1],q[0];",
    );
    assert_close(&ecr, &gate_unitary(Gate::Ecr, &[1, 0], 2), "ecr definition");
    let last_cond = c.ops.iter().rev().find_map(|o| match o {
        Operation::Gate { condition: Some(k), .. } => Some(k.clone()),
        _ => None,
    });
    assert_eq!(last_cond, Some(Condition { clbits: vec![4], value: 1 }));
}

#[test]
fn header_variants_and_missing_header() {
    for h in ["OPENQASM 2.0;", "OPENQASM 2;", "OPENQASM 2.0 ;"] {
        let p = ok(&format!("{h}\ninclude \"qelib1.inc\";\nqreg q[1];\nx q[0];"));
        assert_eq!(p.format, ProgramFormat::OpenQasm2);
    }
    // No header: read as OpenQASM 3, OpenQASM 2 statements still accepted.
    let p = ok("include \"qelib1.inc\";\nqreg q[2]; creg c[2];\nh q; measure q -> c;");
    assert_eq!(p.format, ProgramFormat::OpenQasm3);
    assert_eq!(p.circuit.ops.len(), 4);
}

#[test]
fn empty_program_is_an_empty_circuit() {
    let p = ok("OPENQASM 2.0;");
    assert_eq!(p.circuit.num_qubits, 0);
    assert!(p.circuit.ops.is_empty());
    assert!(ok("").circuit.ops.is_empty());
}

#[test]
fn programs_for_the_2017_qelib1_may_define_the_later_gates() {
    // Older exporters define sx, cp, swap themselves; their definitions win.
    let src = "OPENQASM 2.0;
include \"qelib1.inc\";
gate sx a { sdg a; h a; sdg a; }
gate cp(l) a, b { u1(l/2) a; cx a, b; u1(-l/2) b; cx a, b; u1(l/2) b; }
qreg q[2];
sx q[0];
cp(0.5) q[0], q[1];
swap q[0], q[1];
";
    assert_eq!(names(&ok(src).circuit), ["sdg", "h", "sdg", "p", "cx", "p", "cx", "p", "swap"]);
    // The original gates stay reserved.
    let e = errs("OPENQASM 2.0;\ninclude \"qelib1.inc\";\ngate cx a, b { CX a, b; }");
    assert!(e[0].message.contains("already defined by qelib1.inc"), "{e:?}");
}
