//! Fuzz target: the OpenQASM front end on arbitrary input.
//!
//! `parse` must return (errors or a circuit) for every input: no panic, no
//! hang, no stack overflow. libfuzzer-sys's panic hook aborts on any panic,
//! even one the front end's panic boundary would catch, so bugs hidden by
//! the boundary are still found; the internal-error check is a second net.
#![no_main]

#[path = "../shim/compiler.rs"]
mod compiler;

use compiler::ProgramFormat;
use compiler::qasm::{ParseLimits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Small limits keep each run fast, so the fuzzer explores more.
    let limits = ParseLimits { max_operations: 100_000, ..ParseLimits::default() };
    for format in [ProgramFormat::Detect, ProgramFormat::OpenQasm2] {
        if let Err(diags) = parse(src, format, &limits) {
            assert!(
                !diags.iter().any(|d| d.message.starts_with("internal error")),
                "internal error: {diags:?}"
            );
        }
    }
});
