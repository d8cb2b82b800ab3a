//! OpenQASM 3 front end: the supported subset, Qiskit `qasm3.dumps`-style
//! programs, and exact lowering of gate modifiers (checked on unitaries).

mod qasm_support;

use eigen_hal::{Condition, Gate, Operation};
use eigen_kernel::compiler::ProgramFormat;
use qasm_support::*;
use std::f64::consts::PI;

const H3: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\n";

fn prog(body: &str) -> String {
    format!("{H3}{body}")
}

#[test]
fn declarations_measure_forms_reset_barrier() {
    let src = prog(
        "qubit[3] q;
qubit r;
bit[3] c;
bit b;
h q[0];
x r;
c[0] = measure q[0];
c = measure q;
measure q[1] -> c[1];
measure r -> b;
b = measure r;
reset q;
reset r;
barrier q, r;
barrier;
",
    );
    let p = ok(&src);
    assert_eq!(p.format, ProgramFormat::OpenQasm3);
    let c = p.circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (4, 4));
    assert_eq!(
        c.cregs.iter().map(|r| (r.name.as_str(), r.offset, r.size)).collect::<Vec<_>>(),
        [("c", 0, 3), ("b", 3, 1)]
    );
    let m = |qubit, clbit| Operation::Measure { qubit, clbit };
    assert_eq!(
        c.ops[2..],
        [
            m(0, 0),
            m(0, 0),
            m(1, 1),
            m(2, 2),
            m(1, 1),
            m(3, 3),
            m(3, 3),
            Operation::Reset { qubit: 0 },
            Operation::Reset { qubit: 1 },
            Operation::Reset { qubit: 2 },
            Operation::Reset { qubit: 3 },
            Operation::Barrier { qubits: [0, 1, 2, 3].as_slice().into() },
            Operation::Barrier { qubits: [0, 1, 2, 3].as_slice().into() },
        ]
    );
}

#[test]
fn header_forms_and_old_style_registers() {
    for h in ["OPENQASM 3.0;", "OPENQASM 3;", "OPENQASM 3.1;"] {
        let p = ok(&format!(
            "{h} include \"stdgates.inc\"; qreg q[2]; creg c[2]; cx q[0], q[1]; measure q -> c;"
        ));
        assert_eq!(p.format, ProgramFormat::OpenQasm3);
        assert_eq!(p.circuit.ops.len(), 3);
    }
}

#[test]
fn every_stdgates_gate_maps_to_its_hal_gate() {
    let src = prog(
        "qubit[3] q;
p(0.1) q[0]; x q[0]; y q[0]; z q[0]; h q[0]; s q[0]; sdg q[0]; t q[0]; tdg q[0]; sx q[0];
rx(0.1) q[0]; ry(0.2) q[0]; rz(0.3) q[0]; cx q[0], q[1]; cy q[0], q[1]; cz q[0], q[1];
cp(0.4) q[0], q[1]; crx(0.5) q[0], q[1]; cry(0.6) q[0], q[1]; crz(0.7) q[0], q[1];
ch q[0], q[1]; swap q[0], q[1]; ccx q[0], q[1], q[2]; cswap q[0], q[1], q[2];
cu(0.1, 0.2, 0.3, 0.4) q[0], q[1]; CX q[0], q[1]; phase(0.5) q[0]; cphase(0.6) q[0], q[1];
id q[0]; u1(0.7) q[0]; u2(0.1, 0.2) q[0]; u3(0.1, 0.2, 0.3) q[0]; U(0.3, 0.2, 0.1) q[0];
",
    );
    use Gate::*;
    let want = [
        P(0.1),
        X,
        Y,
        Z,
        H,
        S,
        Sdg,
        T,
        Tdg,
        Sx,
        Rx(0.1),
        Ry(0.2),
        Rz(0.3),
        Cx,
        Cy,
        Cz,
        Cp(0.4),
        Crx(0.5),
        Cry(0.6),
        Crz(0.7),
        Ch,
        Swap,
        Ccx,
        Cswap,
        Cu(0.1, 0.2, 0.3, 0.4),
        Cx,
        P(0.5),
        Cp(0.6),
        I,
        P(0.7),
        U(PI / 2.0, 0.1, 0.2),
        U(0.1, 0.2, 0.3),
        U(0.3, 0.2, 0.1),
    ];
    let got: Vec<Gate> = ok(&src)
        .circuit
        .ops
        .into_iter()
        .map(|o| match o {
            Operation::Gate { gate, .. } => gate,
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn constants_and_unicode_names() {
    let src = prog(
        "const float θ = π / 4;
const int n = 2;
const two_pi = tau;
qubit[n] q;
rz(θ * 2) q[n - 1];
rx(two_pi - euler + 2 ** 3) q[0];
gate g(α) a { rz(α / 2) a; }
g(θ) q[0];
",
    );
    let g = gates(&ok(&src).circuit);
    assert_eq!(g[0].2, vec![1]);
    assert!((g[0].1[0] - PI / 2.0).abs() < 1e-15);
    assert!((g[1].1[0] - (2.0 * PI - std::f64::consts::E + 8.0)).abs() < 1e-12);
    assert!((g[2].1[0] - PI / 8.0).abs() < 1e-15);
}

#[test]
fn conditions_on_bits_and_registers_with_else() {
    let src = prog(
        "qubit[2] q;
bit[2] c;
c[0] = measure q[0];
if (c[0]) x q[1];
if (c[0] == 1) { x q[1]; }
if (c[0] == true) { x q[1]; }
if (!c[0]) { z q[1]; }
if (c[1] == 0) { z q[1]; } else { h q[1]; y q[1]; }
if (c == 3) { h q; }
if (c[0]) { if (c[1]) { s q[0]; } }
if (c[0]) { if (!c[0]) { t q[0]; } }
",
    );
    let c = ok(&src).circuit;
    let conds: Vec<_> = c
        .ops
        .iter()
        .filter_map(|o| match o {
            Operation::Gate { gate, condition, .. } => {
                Some((gate.name(), condition.clone().unwrap()))
            }
            _ => None,
        })
        .collect();
    let k = |clbits: Vec<u32>, value| Condition { clbits, value };
    assert_eq!(
        conds,
        [
            ("x", k(vec![0], 1)),
            ("x", k(vec![0], 1)),
            ("x", k(vec![0], 1)),
            ("z", k(vec![0], 0)),
            ("z", k(vec![1], 0)),
            ("h", k(vec![1], 1)),
            ("y", k(vec![1], 1)),
            ("h", k(vec![0, 1], 3)),
            ("h", k(vec![0, 1], 3)),
            ("s", k(vec![0, 1], 3)),
        ]
    );
}

#[test]
fn qiskit_qasm3_dumps_program() {
    let src = r#"OPENQASM 3.0;
include "stdgates.inc";
gate rzx(_gate_p_0) _gate_q_0, _gate_q_1 {
  h _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  rz(_gate_p_0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  h _gate_q_1;
}
gate sxdg _gate_q_0 {
  s _gate_q_0;
  h _gate_q_0;
  s _gate_q_0;
}
gate ecr _gate_q_0, _gate_q_1 {
  rzx(pi/4) _gate_q_0, _gate_q_1;
  x _gate_q_0;
  rzx(-pi/4) _gate_q_0, _gate_q_1;
}
bit[2] c;
bit[1] flag;
qubit[3] q;
h q[0];
cx q[0], q[1];
rzx(0.25) q[1], q[2];
ecr q[0], q[2];
sxdg q[2];
barrier q[0], q[1], q[2];
c[0] = measure q[0];
c[1] = measure q[1];
if (c[0]) {
  x q[2];
}
if (c == 3) {
  z q[2];
}
flag[0] = measure q[2];
"#;
    let c = ok(src).circuit;
    assert_eq!((c.num_qubits, c.num_clbits), (3, 3));
    let n = names(&c);
    assert_eq!(&n[..7], ["h", "cx", "h", "cx", "rz", "cx", "h"]);
    let ecr = unitary_of(&prog(
        "gate rzx(p) a, b { h b; cx a, b; rz(p) b; cx a, b; h b; }
         gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }
         qubit[2] q; ecr q[1], q[0];",
    ));
    assert_close(&ecr, &gate_unitary(Gate::Ecr, &[1, 0], 2), "ecr");
}

/// The unitary of `g` on qubits q[0..k] (first operand most significant,
/// i.e. operands listed from q[k-1] down to q[0]).
fn base(g: &str, k: usize) -> Vec<num_complex::Complex64> {
    let ops: Vec<String> = (0..k).rev().map(|i| format!("q[{i}]")).collect();
    unitary_of(&prog(&format!("{DEFS}\nqubit[{k}] q;\n{g} {};", ops.join(", "))))
}

/// `mods g` with one control as the most significant qubit.
fn modified(mods: &str, g: &str, k: usize) -> Vec<num_complex::Complex64> {
    let ops: Vec<String> = (0..k).rev().map(|i| format!("q[{i}]")).collect();
    unitary_of(&prog(&format!("{DEFS}\nqubit[{k}] q;\n{mods} {g} {};", ops.join(", "))))
}

const DEFS: &str = "gate rzz_def(t) a, b { cx a, b; rz(t) b; cx a, b; }
gate bell a, b { h a; cx a, b; }
gate phased(t) a { gphase(t); x a; }
gate ryy(t) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(t) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b; }
gate rxx(t) a, b { h a; h b; cx a, b; rz(t) b; cx a, b; h a; h b; }
gate iswap a, b { s a; s b; h a; cx a, b; cx b, a; h b; }";

#[test]
fn ctrl_of_every_kind_of_gate_is_exact() {
    let one_q = [
        "x",
        "y",
        "z",
        "h",
        "s",
        "sdg",
        "t",
        "tdg",
        "sx",
        "rx(0.3)",
        "ry(0.4)",
        "rz(0.5)",
        "p(0.6)",
        "U(0.1, 0.2, 0.3)",
        "u3(0.3, 0.2, 0.1)",
        "id",
        "phased(0.7)",
    ];
    let two_q = [
        "cx",
        "cy",
        "cz",
        "ch",
        "cp(0.3)",
        "crx(0.4)",
        "cry(0.5)",
        "crz(0.6)",
        "cu(0.1, 0.2, 0.3, 0.4)",
        "swap",
        "rzz_def(0.7)",
        "bell",
        "ryy(0.8)",
        "rxx(0.9)",
        "iswap",
    ];
    let three_q = ["ccx", "cswap"];
    for (list, k) in [(&one_q[..], 1), (&two_q[..], 2), (&three_q[..], 3)] {
        for g in list {
            let plain = base(g, k);
            let mut u = plain.clone();
            if g.starts_with("phased") {
                // The circuit drops a top-level global phase; put it back.
                let ph = num_complex::Complex64::from_polar(1.0, 0.7);
                u.iter_mut().for_each(|x| *x *= ph);
            }
            let c1 = controlled(&u, false);
            assert_close(&modified("ctrl @", g, k + 1), &c1, &format!("ctrl @ {g}"));
            let c2 = controlled(&c1, false);
            assert_close(&modified("ctrl(2) @", g, k + 2), &c2, &format!("ctrl(2) @ {g}"));
            assert_close(&modified("ctrl @ ctrl @", g, k + 2), &c2, &format!("ctrl @ ctrl @ {g}"));
            if k < 3 {
                let c3 = controlled(&c2, false);
                assert_close(&modified("ctrl(3) @", g, k + 3), &c3, &format!("ctrl(3) @ {g}"));
            }
            let n1 = controlled(&u, true);
            assert_close(&modified("negctrl @", g, k + 1), &n1, &format!("negctrl @ {g}"));
            // Uncontrolled results drop the global phase.
            assert_close(&modified("inv @", g, k), &dagger(&plain), &format!("inv @ {g}"));
            let ci = controlled(&dagger(&u), false);
            assert_close(&modified("ctrl @ inv @", g, k + 1), &ci, &format!("ctrl @ inv @ {g}"));
            assert_close(&modified("inv @ ctrl @", g, k + 1), &ci, &format!("inv @ ctrl @ {g}"));
            let sq = mul(&plain, &plain);
            assert_close(&modified("pow(2) @", g, k), &sq, &format!("pow(2) @ {g}"));
            let inv = dagger(&plain);
            assert_close(&modified("pow(-1) @", g, k), &inv, &format!("pow(-1) @ {g}"));
            let c_sq = controlled(&mul(&u, &u), false);
            assert_close(
                &modified("ctrl @ pow(2) @", g, k + 1),
                &c_sq,
                &format!("ctrl @ pow(2) @ {g}"),
            );
        }
    }
}

#[test]
fn ctrl_picks_the_named_controlled_gates() {
    let c = ok(&prog(
        "qubit[5] q;
ctrl @ x q[0], q[1];
ctrl @ z q[0], q[1];
ctrl @ rz(0.5) q[0], q[1];
ctrl @ s q[0], q[1];
ctrl(2) @ x q[0], q[1], q[2];
ctrl(3) @ x q[0], q[1], q[2], q[3];
ctrl @ cz q[0], q[1], q[2];
ctrl @ ccx q[0], q[1], q[2], q[3];
ctrl @ sdg q[0], q[1];
ctrl(2) @ h q[0], q[1], q[2];
ctrl @ gphase(0.25) q[0];
negctrl @ x q[0], q[1];
",
    ))
    .circuit;
    let g = gates(&c);
    let named: Vec<(&str, Vec<u32>)> = g.iter().map(|x| (x.0.as_str(), x.2.clone())).collect();
    assert_eq!(
        named,
        [
            ("cx", vec![0, 1]),
            ("cz", vec![0, 1]),
            ("crz", vec![0, 1]),
            ("cp", vec![0, 1]),
            ("ccx", vec![0, 1, 2]),
            ("mcx", vec![0, 1, 2, 3]),
            ("mcz", vec![0, 1, 2]),
            ("mcx", vec![0, 1, 2, 3]),
            ("cp", vec![0, 1]),
            ("mcu", vec![0, 1, 2]),
            ("p", vec![0]),
            ("x", vec![0]),
            ("cx", vec![0, 1]),
            ("x", vec![0]),
        ]
    );
    assert_eq!(g[3].1, vec![PI / 2.0]);
    assert_eq!(g[10].1, vec![0.25]);
}

#[test]
fn pow_repeats_and_handles_zero_and_negative() {
    let c =
        ok(&prog("qubit q; pow(3) @ h q; pow(0) @ x q; pow(-2) @ s q; inv @ inv @ t q;")).circuit;
    assert_eq!(names(&c), ["h", "h", "h", "sdg", "sdg", "t"]);
    let c = ok(&prog("const int k = 2; qubit q; pow(k + 1) @ rz(0.1) q;")).circuit;
    assert_eq!(c.ops.len(), 3);
}

#[test]
fn modifiers_inside_gate_definitions() {
    let src = prog(
        "gate cc_h a, b, c { ctrl(2) @ h a, b, c; }
gate mine(t) a, b { ctrl @ rx(t) a, b; inv @ s b; pow(2) @ t a; }
gate neg a, b, c { negctrl @ mine(0.5) a, b, c; }
qubit[3] q;
cc_h q[0], q[1], q[2];
mine(0.25) q[2], q[0];
inv @ mine(0.25) q[2], q[0];
",
    );
    let c = ok(&src).circuit;
    let n = names(&c);
    assert_eq!(n, ["mcu", "crx", "sdg", "t", "t", "tdg", "tdg", "s", "crx"]);
    let g = gates(&c);
    assert_eq!(g[1], ("crx".into(), vec![0.25], vec![2, 0]));
    assert_eq!(g[8], ("crx".into(), vec![-0.25], vec![2, 0]));
}

#[test]
fn gphase_at_top_level_has_no_effect() {
    let c = ok(&prog("qubit q; gphase(pi); x q;")).circuit;
    assert_eq!(names(&c), ["x"]);
}

#[test]
fn physical_qubits_are_accepted() {
    let c = ok(&prog("bit[2] c; h $0; cx $0, $3; c[0] = measure $3;")).circuit;
    assert_eq!(c.num_qubits, 4);
    assert_eq!(gates(&c)[1].2, vec![0, 3]);
}

#[test]
fn slices_sets_and_negative_indices() {
    let c = ok(&prog("qubit[5] q; h q[1:3]; x q[{0, 4}]; z q[-1]; y q[0:2:4]; s q[:1];")).circuit;
    let qs: Vec<_> = gates(&c).into_iter().map(|g| (g.0, g.2[0])).collect();
    let want = [
        ("h", 1),
        ("h", 2),
        ("h", 3),
        ("x", 0),
        ("x", 4),
        ("z", 4),
        ("y", 0),
        ("y", 2),
        ("y", 4),
        ("s", 0),
        ("s", 1),
    ];
    assert_eq!(qs, want.map(|(a, b)| (a.to_string(), b)));
}

#[test]
fn bit_declaration_with_measure_initializer() {
    let c = ok(&prog("qubit[2] q; h q; bit[2] c = measure q;")).circuit;
    assert_eq!(c.num_clbits, 2);
    assert_eq!(c.ops[2], Operation::Measure { qubit: 0, clbit: 0 });
}

#[test]
fn pragmas_are_ignored_with_a_warning() {
    let p = ok(&prog("#pragma verbatim\nqubit q;\nx q;"));
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].line, 3);
    assert_eq!(p.circuit.ops.len(), 1);
}
