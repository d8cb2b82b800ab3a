//! Every error the front end reports: message, line, column and snippet.

mod qasm_support;

use qasm_support::*;

const H2: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n";
const H3: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\n";

/// The program `H2 + body`: body line 1 is program line 3.
fn p2(body: &str) -> String {
    format!("{H2}{body}")
}

fn p3(body: &str) -> String {
    format!("{H3}{body}")
}

#[test]
fn unknown_gate_and_missing_include() {
    let (l, c, m, s) = one_err(&p2("qreg q[1];\nfoo q[0];"));
    assert_eq!((l, c, m.as_str(), s.as_str()), (4, 1, "unknown gate 'foo'", "foo"));
    let (_, _, m, _) = one_err("OPENQASM 2.0;\nqreg q[1];\nh q[0];");
    assert!(m.contains("include \"qelib1.inc\""), "{m}");
    let (_, _, m, _) = one_err("OPENQASM 3.0;\nqubit q;\nh q;");
    assert!(m.contains("include \"stdgates.inc\""), "{m}");
}

#[test]
fn unknown_registers() {
    assert_err_at(&p2("qreg q[1];\nh r[0];"), 4, 3, "unknown qubit register 'r'");
    assert_err_at(
        &p2("qreg q[1];\nmeasure q[0] -> c[0];"),
        4,
        17,
        "unknown classical register 'c'",
    );
    assert_err_at(
        &p2("qreg q[1]; creg c[1];\nmeasure c[0] -> q[0];"),
        4,
        9,
        "is a classical register",
    );
    assert_err_at(&p2("qreg q[1]; creg c[1];\nif (q == 1) x q[0];"), 4, 5, "is a qubit register");
}

#[test]
fn wrong_arity_and_parameter_count() {
    let (l, c, m, s) = one_err(&p2("qreg q[2];\ncx q[0];"));
    assert_eq!(
        (l, c, m.as_str(), s.as_str()),
        (4, 1, "gate 'cx' takes 2 qubit(s), got 1", "cx q[0];")
    );
    assert_err_at(&p2("qreg q[2];\nrx q[0];"), 4, 1, "gate 'rx' takes 1 parameter(s), got 0");
    assert_err_at(&p2("qreg q[2];\nh(0.1) q[0];"), 4, 1, "gate 'h' takes 0 parameter(s), got 1");
    assert_err_at(
        &p3("qubit[2] q;\nctrl @ x q[0];"),
        4,
        1,
        "takes 2 qubit(s) (1 control(s) included), got 1",
    );
    assert_err_at(
        &p2("gate g(a) x { rz(a) x; }\nqreg q[1];\ng(1, 2) q[0];"),
        5,
        1,
        "gate 'g' takes 1 parameter(s), got 2",
    );
}

#[test]
fn index_out_of_range_and_bad_indices() {
    let (l, c, m, s) = one_err(&p2("qreg q[2];\nh q[5];"));
    assert_eq!(
        (l, c, m.as_str(), s.as_str()),
        (4, 5, "index 5 is out of range for 'q' of size 2", "5")
    );
    assert_err_at(&p2("qreg q[2];\nh q[1.5];"), 4, 5, "an index must be a whole number");
    assert_err_at(&p2("qreg q[2];\nh q[-1];"), 4, 5, "out of range");
    assert_err_at(&p3("qubit[2] q;\nh q[-3];"), 4, 5, "out of range");
    assert_err_at(&p3("qubit r;\nh r[0];"), 4, 3, "is a single element and cannot be indexed");
    assert_err_at(&p3("qubit[3] q;\nh q[0:5];"), 4, 3, "range reaches index 3");
    assert_err_at(&p3("qubit[3] q;\nh q[0:0:2];"), 4, 3, "step must not be zero");
}

#[test]
fn duplicate_declarations() {
    assert_err_at(
        &p2("qreg q[2];\nqreg q[3];"),
        4,
        6,
        "'q' is already declared as a qubit register",
    );
    assert_err_at(
        &p2("creg c[2];\nqreg c[3];"),
        4,
        6,
        "'c' is already declared as a classical register",
    );
    assert_err_at(&p3("const n = 1;\nqubit[2] n;"), 4, 10, "already declared as a constant");
    assert_err_at(&p3("qubit[2] pi;"), 3, 10, "built-in constant");
    assert_err_at(&p2("gate h a { x a; }"), 3, 6, "gate 'h' is already defined by qelib1.inc");
    assert_err_at(&p2("gate g a { x a; }\ngate g a { y a; }"), 4, 6, "gate 'g' is already defined");
    assert_err_at(&p2("gate g(a, a) b { x b; }"), 3, 11, "'a' is declared twice");
    assert_err_at(&p2("gate g a, a { x a; }"), 3, 11, "'a' is declared twice");
    assert_err_at(&p2("gate U a { x a; }"), 3, 6, "already defined");
}

#[test]
fn division_by_zero_at_top_level_and_in_gate_bodies() {
    let (l, c, m, s) = one_err(&p2("qreg q[1];\nrz(1/0) q[0];"));
    assert_eq!((l, c, m.as_str(), s.as_str()), (4, 6, "division by zero", "0"));
    let (l, c, m, _) = one_err(&p2("gate g(t) a { rz(1/t) a; }\nqreg q[1];\ng(0) q[0];"));
    assert_eq!((l, c, m.as_str()), (5, 1, "in gate 'g': division by zero"));
    assert_err_at(&p3("const x = 2 % 0;"), 3, 15, "division by zero");
}

#[test]
fn opaque_is_rejected_by_name() {
    let (l, c, m, s) = one_err(&p2("opaque magic(a) q;\nqreg q[1];"));
    assert_eq!((l, c, s.as_str()), (3, 1, "opaque"));
    assert!(m.contains("opaque gates are not supported"), "{m}");
}

#[test]
fn includes_come_only_from_memory() {
    let (l, c, m, s) = one_err("OPENQASM 2.0;\ninclude \"/etc/passwd\";");
    assert_eq!((l, c), (2, 1));
    assert!(m.contains("unknown include file '/etc/passwd'"), "{m}");
    assert!(s.starts_with("include"), "{s}");
    assert_err_at("OPENQASM 3;\ninclude \"../stdgates.inc\";", 2, 1, "unknown include file");
    assert_err_at(
        &p3("bit c;\nif (c) { include \"stdgates.inc\"; }"),
        4,
        10,
        "includes are not allowed inside 'if'",
    );
}

#[test]
fn recursive_and_out_of_order_gate_definitions() {
    let (l, c, m, _) = one_err(&p2("gate g a { h a; g a; }"));
    assert_eq!((l, c), (3, 17));
    assert!(m.contains("recursive gate definitions are not allowed"), "{m}");
    assert_err_at(&p2("gate a x { b x; }\ngate b x { h x; }"), 3, 12, "unknown gate 'b'");
    assert_err_at(&p2("gate g a { h a[0]; }"), 3, 14, "cannot be indexed inside a gate body");
    assert_err_at(&p2("gate g a { h b; }"), 3, 14, "unknown qubit argument 'b'");
    assert_err_at(&p2("gate g a, b { cx a, a; }"), 3, 21, "used twice");
    assert_err_at(&p2("gate g(t) a { rz(s) a; }"), 3, 18, "unknown name 's'");
    assert_err_at(
        &p2("gate g a { measure a -> c[0]; }"),
        3,
        12,
        "'measure' is not allowed in a gate body",
    );
    assert_err_at(
        &p3("qubit q; bit c;\nif (c) { gate g a { x a; } }"),
        4,
        10,
        "only allowed at the top level",
    );
}

#[test]
fn openqasm3_features_outside_the_subset_are_rejected_by_name() {
    let cases = [
        ("while (true) { x q; }", "while loops are not supported"),
        ("for int i in [0:2] { x q; }", "for loops are not supported"),
        ("def f(qubit a) { x a; }", "subroutines (def) are not supported"),
        ("input float[64] theta;", "input declarations are not supported"),
        ("output bit r;", "output declarations are not supported"),
        ("defcal x $0 { }", "defcal is not supported"),
        ("defcalgrammar \"openpulse\";", "defcalgrammar is not supported"),
        ("cal { }", "cal blocks are not supported"),
        ("extern f(int) -> int;", "extern functions are not supported"),
        ("box { x q; }", "box statements are not supported"),
        ("delay[100ns] q;", "delay is not supported"),
        ("let a = q;", "aliases (let) are not supported"),
        ("switch (c) { }", "switch statements are not supported"),
        ("break;", "break and continue are not supported"),
        ("return;", "return is not supported"),
        ("end;", "end statements are not supported"),
        ("int x = 3;", "classical types other than bit are not supported ('int')"),
        ("float[64] x = 1.0;", "classical types other than bit are not supported ('float')"),
        ("angle a;", "classical types other than bit are not supported ('angle')"),
        ("bool b;", "classical types other than bit are not supported ('bool')"),
        ("duration d = 1ns;", "classical types other than bit are not supported ('duration')"),
        ("c = 1;", "classical assignments are not supported"),
        ("c += 1;", "classical assignments are not supported"),
        ("bit d = 1;", "bit initializers other than 'measure' are not supported"),
        ("rz(100ns) q;", "durations are not supported"),
        ("rz(1 ^ 2) q;", "'^' is bitwise XOR in OpenQASM 3"),
        ("pow(0.5) @ x q;", "non-integer powers are not supported: pow(0.5)"),
        ("measure q;", "a measurement needs a target bit"),
    ];
    for (stmt, want) in cases {
        let src = p3(&format!("qubit q;\nbit c;\n{stmt}"));
        let d = errs(&src);
        assert!(
            d.iter().any(|d| d.line == 5 && d.message.contains(want)),
            "{stmt}: want {want:?}, got {d:#?}"
        );
    }
}

#[test]
fn classical_bit_limit() {
    let (l, c, m, _) = one_err(&p2("creg c[65];"));
    assert_eq!((l, c), (3, 1));
    assert!(m.contains("65 classical bits; at most 64"), "{m}");
    assert_err_at(&p2("creg a[40];\ncreg b[30];"), 4, 1, "70 classical bits");
    let ok64 = ok(&p2("creg a[32];\ncreg b[32];"));
    assert_eq!(ok64.circuit.num_clbits, 64);
}

#[test]
fn qubit_limit_and_register_sizes() {
    assert_err_at(&p2("qreg q[65];"), 3, 1, "65 qubits; at most 64");
    assert_err_at(&p2("qreg q[99999999999999999999];"), 3, 8, "a register size is too large");
    assert_err_at(&p2("qreg q[4294967296];"), 3, 8, "a register size is too large");
    assert_err_at(&p2("qreg q[4294967295];"), 3, 1, "4294967295 qubits; at most 64");
    assert_err_at(&p2("qreg q[0];"), 3, 8, "at least one element");
    assert_err_at(&p3("qubit[1.5] q;"), 3, 7, "must be a whole number");
    assert_err_at(&p3("qubit[-2] q;"), 3, 7, "must not be negative");
}

#[test]
fn operand_conflicts() {
    assert_err_at(&p2("qreg q[2];\ncx q[0], q[0];"), 4, 1, "used more than once");
    assert_err_at(&p2("qreg q[2];\ncx q, q[1];"), 4, 1, "used more than once");
    assert_err_at(&p2("qreg a[2]; qreg b[3];\ncx a, b;"), 4, 7, "different sizes (2 and 3)");
    assert_err_at(
        &p2("qreg q[2]; creg c[3];\nmeasure q -> c;"),
        4,
        1,
        "cannot measure 2 qubit(s) into 3 bit(s)",
    );
    assert_err_at(
        &p2("qreg q[2]; creg c[2];\nmeasure q[0] -> c;"),
        4,
        1,
        "cannot measure 1 qubit(s) into 2 bit(s)",
    );
    assert_err_at(&p3("qubit[2] q;\nh $0;"), 4, 3, "cannot be mixed");
    assert_err_at(&p3("h $0;\nqubit[2] q;"), 4, 1, "cannot be mixed");
    assert_err_at(&p3("h $64;"), 3, 3, "out of range");
}

#[test]
fn condition_errors() {
    assert_err_at(
        &p2("qreg q[1]; creg c[3];\nif (c == 8) x q[0];"),
        4,
        10,
        "8 does not fit in the 3-bit register 'c'",
    );
    assert_err_at(
        &p3("qubit q; bit[2] c;\nif (c[0] == 2) x q;"),
        4,
        13,
        "a bit can only equal 0 or 1",
    );
    assert_err_at(
        &p3("qubit q; bit[2] c;\nif (c == 1) { x q; } else { y q; }"),
        4,
        5,
        "'else' is only supported",
    );
    assert_err_at(
        &p3("qubit q; bit[2] c;\nif (c != 1) x q;"),
        4,
        5,
        "'!=' conditions on registers",
    );
    assert_err_at(&p3("qubit q; bit[2] c;\nif (c) x q;"), 4, 5, "compare a register with a value");
    assert_err_at(&p3("qubit q; bit c;\nif (c) c = measure q;"), 4, 8, "measurements inside 'if'");
    assert_err_at(&p3("qubit q; bit c;\nif (c) reset q;"), 4, 8, "reset inside 'if'");
    assert_err_at(
        &p3("qubit q; bit c;\nif (c) { qubit r; }"),
        4,
        10,
        "declarations are not allowed inside 'if'",
    );
    assert_err_at(&p3("qubit q;\nelse { x q; }"), 4, 1, "'else' without a matching 'if'");
}

#[test]
fn modifier_errors() {
    assert_err_at(
        &p3("qubit[2] q;\nctrl(0) @ x q[0], q[1];"),
        4,
        1,
        "invalid number of controls: 0",
    );
    assert_err_at(&p3("qubit q;\ninv(2) @ x q;"), 4, 1, "'inv' takes no argument");
    assert_err_at(&p3("qubit[2] q;\nctrl @ x q[0], q[0];"), 4, 1, "used more than once");
}

#[test]
fn syntax_errors_point_at_the_token() {
    let (l, c, m, s) = one_err(&p2("qreg q[1];\nh q[0]\nx q[0];"));
    assert_eq!((l, c, m.as_str(), s.as_str()), (5, 1, "expected ';', found 'x'", "x"));
    assert_err_at(&p2("qreg q[1];\nrz(1 +) q[0];"), 4, 7, "expected an expression, found ')'");
    assert_err_at(&p2("qreg q[1];\n}"), 4, 1, "unmatched '}'");
    assert_err_at(&p2("gate g a { h a;"), 3, 16, "expected '}' closing the gate body");
    assert_err_at(&p2("qreg q[1];\nh q[0]; `"), 4, 9, "unexpected character '`'");
    assert_err_at(&p2("/* never closed"), 3, 1, "unterminated block comment");
    assert_err_at(&p2("include \"qelib1.inc;\n"), 3, 9, "unterminated string");
    assert_err_at(&p2("qreg q[1];\nOPENQASM 2.0;"), 4, 1, "must be the first statement");
    assert_err_at("OPENQASM 4.0;", 1, 10, "unsupported OpenQASM version 4.0");
    assert_err_at("OPENQASM;", 1, 9, "expected a version number");
    assert_err_at(&p2("qreg q[1];\nrz(1e) q[0];"), 4, 4, "malformed number");
    assert_err_at(&p2("qreg q[1];\nrz(0x) q[0];"), 4, 4, "invalid number");
}

#[test]
fn several_independent_errors_are_reported_together() {
    let body =
        "qreg q[2];\ncreg c[3];\nfoo q[0];\nh q[7];\ncx q[0];\nrz(1/0) q[1];\nmeasure q -> c;\n";
    let d = errs(&p2(body));
    let lines: Vec<u32> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, [5, 6, 7, 8, 9], "{d:#?}");
    // With a syntax error too, the others are still reported, except unknown
    // names (the broken statement may have declared them).
    let d = errs(&p2(&format!("{body}h q[0]\n")));
    let lines: Vec<u32> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, [6, 7, 8, 9, 11], "{d:#?}");
    // Syntax errors recover at the next ';' too.
    let d = errs(&p2("qreg q[1];\nh q[0] q;\nx (q[0];\ny q[0];\nz q[;"));
    assert_eq!(d.iter().map(|d| d.line).collect::<Vec<_>>(), [4, 5, 7], "{d:#?}");
}

#[test]
fn columns_count_characters_not_bytes() {
    let (l, c, m, s) = one_err(&p3("const θθ = 1 / 0;"));
    assert_eq!((l, c, m.as_str(), s.as_str()), (3, 16, "division by zero", "0"));
}

#[test]
fn unknown_names_and_functions() {
    assert_err_at(&p2("qreg q[1];\nrz(theta) q[0];"), 4, 4, "unknown name 'theta'");
    assert_err_at(&p2("qreg q[1];\nrz(frob(1)) q[0];"), 4, 4, "unknown function 'frob'");
    assert_err_at(&p2("qreg q[1];\nrz(sqrt(-1)) q[0];"), 4, 4, "not evaluate to a finite number");
    assert_err_at(&p2("qreg q[1];\nrz(exp(1000)) q[0];"), 4, 4, "finite number");
}
