//! Limits and hostile input: every bound gives a clear error, quickly, and
//! nothing overflows the stack or hangs (these tests would crash or time out
//! otherwise).

mod qasm_support;

use eigen_kernel::compiler::ProgramFormat;
use eigen_kernel::compiler::qasm::{ParseLimits, parse};
use qasm_support::*;

const H3: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\n";

fn any_err(src: &str, limits: &ParseLimits, needle: &str) {
    let d = errs_with(src, limits);
    assert!(d.iter().any(|d| d.message.contains(needle)), "want {needle:?}, got {d:#?}");
}

#[test]
fn source_size_limit() {
    let limits = ParseLimits { max_source_bytes: 100, ..ParseLimits::default() };
    let src = format!("OPENQASM 2.0;\n{}", "// padding\n".repeat(20));
    let d = errs_with(&src, &limits);
    assert_eq!((d[0].line, d[0].column), (1, 1));
    assert!(d[0].message.contains("at most 100 are accepted"), "{d:?}");
}

#[test]
fn qubit_limit_is_configurable() {
    let limits = ParseLimits { max_qubits: 4, ..ParseLimits::default() };
    any_err(&format!("{H3}qubit[3] a;\nqubit[2] b;"), &limits, "5 qubits; at most 4");
    any_err(&format!("{H3}h $4;"), &limits, "out of range");
}

#[test]
fn exponential_gate_definitions_hit_the_operation_limit() {
    let mut src = String::from(H3);
    src.push_str("gate g0 a { x a; x a; }\n");
    for k in 1..40 {
        src.push_str(&format!("gate g{k} a {{ g{} a; g{} a; }}\n", k - 1, k - 1));
    }
    src.push_str("qubit q;\ng39 q;\n");
    // A small limit keeps the test fast; the default behaves the same.
    let limits = ParseLimits { max_operations: 100_000, ..ParseLimits::default() };
    let d = errs_with(&src, &limits);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].line, 44);
    assert!(d[0].message.contains("more than 100000 operations"), "{d:?}");
}

#[test]
fn empty_exponential_definitions_hit_the_work_limit() {
    // Nothing is emitted, but 2^60 calls would never finish.
    let mut src = String::from(H3);
    src.push_str("gate g0 a { }\n");
    for k in 1..60 {
        src.push_str(&format!("gate g{k} a {{ g{} a; g{} a; }}\n", k - 1, k - 1));
    }
    src.push_str("qubit q;\ng59 q;\n");
    let limits =
        ParseLimits { max_gate_depth: 100, max_operations: 100_000, ..ParseLimits::default() };
    any_err(&src, &limits, "operations");
}

#[test]
fn gate_nesting_depth_limit() {
    let mut src = String::from(H3);
    src.push_str("gate g0 a { x a; }\n");
    for k in 1..80 {
        src.push_str(&format!("gate g{k} a {{ g{} a; }}\n", k - 1));
    }
    src.push_str("qubit q;\ng79 q;\n");
    any_err(&src, &ParseLimits::default(), "nested more than 64 deep");
    let limits = ParseLimits { max_gate_depth: 100, ..ParseLimits::default() };
    let p = parse(&src, ProgramFormat::Detect, &limits).unwrap();
    assert_eq!(p.circuit.ops.len(), 1);
}

#[test]
fn huge_powers_fail_fast() {
    any_err(
        &format!("{H3}qubit q;\npow(1000000000) @ x q;"),
        &ParseLimits::default(),
        "operations",
    );
    any_err(
        &format!("{H3}qubit q;\npow(-1000000000) @ x q;"),
        &ParseLimits::default(),
        "operations",
    );
    any_err(&format!("{H3}qubit q;\npow(1e300) @ x q;"), &ParseLimits::default(), "too large");
    // An empty body to a huge power is nothing, at once.
    let p = ok(&format!("{H3}gate e a {{ }}\nqubit q;\npow(1000000000) @ e q;"));
    assert!(p.circuit.ops.is_empty());
    let nested = "pow(1000) @ ".repeat(6);
    any_err(&format!("{H3}qubit q;\n{nested}x q;"), &ParseLimits::default(), "operations");
}

#[test]
fn long_modifier_chains_use_no_stack() {
    let chain = "inv @ ".repeat(100_000);
    let p = ok(&format!("{H3}qubit q;\n{chain}s q;"));
    assert_eq!(names(&p.circuit), ["s"]);
}

#[test]
fn deep_parentheses_are_an_error_not_a_stack_overflow() {
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let d = errs(&format!("{H3}qubit q;\nrz({deep}) q;"));
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    let unary = "-".repeat(100_000);
    let d = errs(&format!("{H3}qubit q;\nrz({unary}1) q;"));
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    let calls = format!("{}1{}", "sin(".repeat(50_000), ")".repeat(50_000));
    let d = errs(&format!("{H3}qubit q;\nrz({calls}) q;"));
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    // Within the limit it evaluates.
    let ok_depth = format!("{}1{}", "(".repeat(100), ")".repeat(100));
    ok(&format!("{H3}qubit q;\nrz({ok_depth}) q;"));
}

#[test]
fn long_flat_expressions_are_bounded_too() {
    let chain = vec!["1"; 100_000].join("+");
    let d = errs(&format!("{H3}qubit q;\nrz({chain}) q;"));
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    let powers = vec!["1"; 100_000].join("**");
    let d = errs(&format!("{H3}qubit q;\nrz({powers}) q;"));
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
}

#[test]
fn deep_if_nesting_is_an_error() {
    let n = 10_000;
    let src = format!("{H3}qubit q; bit c;\n{}x q;{}", "if (c) { ".repeat(n), " }".repeat(n));
    let d = errs(&src);
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    let src = format!("{H3}qubit q; bit c;\n{}x q;", "if (c) ".repeat(n));
    let d = errs(&src);
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    let src = format!("{H3}qubit q;\n{}x q;{}", "{ ".repeat(n), " }".repeat(n));
    let d = errs(&src);
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
}

#[test]
fn known_pathological_inputs() {
    for src in [
        "0s[",
        "0s",
        "$",
        "\"",
        "/*",
        "OPENQASM",
        "OPENQASM 3.0; qubit[",
        "gate",
        "gate g a {",
        "if (",
        "ctrl @",
        "pow(",
        "pow(2) @",
        "qubit[99999999999999999999999999] q;",
        "bit[1e308] c;",
        "OPENQASM 2.0; qreg q[1]; U(1e400, 0, 0) q[0];",
        "OPENQASM 3; qubit q; ctrl(18446744073709551615) @ x q;",
        "OPENQASM 3; qubit q; h q[9223372036854775807];",
        "OPENQASM 3; qubit q; h q[-9223372036854775808];",
        "OPENQASM 3; qubit[2] q; h q[0:9223372036854775807];",
        "OPENQASM 3; qubit[2] q; h q[0:-9223372036854775808:1];",
        "OPENQASM 3; qubit[2] q; h q[9223372036854775806:1:9223372036854775807];",
        "OPENQASM 3; bit[64] c; qubit q; if (c == 18446744073709551615) x q;",
        "\u{feff}OPENQASM 3;",
        "θ",
        "ℇ(",
        "}}}}{{{{",
        ";;;;",
        "x ; ; q[",
    ] {
        // Errors or not, it must come back with an answer.
        let _ = parse(src, ProgramFormat::Detect, &ParseLimits::default());
        let _ = parse(src, ProgramFormat::OpenQasm2, &ParseLimits::default());
    }
}

#[test]
fn error_count_is_capped() {
    let src = format!("{H3}{}", "foo bar;\n".repeat(10_000));
    let d = errs(&src);
    assert!(d.len() <= 100, "{}", d.len());
}

#[test]
fn pseudo_random_inputs_never_panic() {
    // A deterministic smoke fuzz over the grammar's tokens; the real fuzzing
    // is the cargo-fuzz target (fuzz/, run by .ci/fuzz).
    let words = [
        "OPENQASM 3;",
        "OPENQASM 2.0;",
        "include \"stdgates.inc\";",
        "include \"qelib1.inc\";",
        "qubit[2] q;",
        "qreg r[3];",
        "bit[2] c;",
        "creg d[1];",
        "gate g(t) a, b {",
        "}",
        "{",
        "h",
        "cx",
        "rz(",
        ")",
        "(",
        "q[0]",
        "q",
        "r",
        "c",
        "d[0]",
        ",",
        ";",
        "@",
        "ctrl",
        "inv",
        "pow(2)",
        "negctrl(2)",
        "measure",
        "->",
        "=",
        "if",
        "else",
        "==",
        "1",
        "pi",
        "/",
        "0",
        "-",
        "**",
        "t",
        "a",
        "b",
        "g(1)",
        "reset",
        "barrier",
        "const",
        "$1",
        "[",
        "]",
        ":",
        "gphase(1)",
        "U(1,2,3)",
        "sin(",
        "1e9",
        "opaque",
        "for",
        "0s",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..3000 {
        let mut src = String::new();
        let len = 1 + (state % 40) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            src.push_str(words[(state % words.len() as u64) as usize]);
            src.push(' ');
        }
        if let Err(d) = parse(&src, ProgramFormat::Detect, &ParseLimits::default()) {
            assert!(!d.iter().any(|d| d.message.contains("internal error")), "{src}: {d:?}");
        }
    }
}
