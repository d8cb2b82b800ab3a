//! The compilation pipeline: parse, unroll, lay out, route, optimize, emit.
//!
//! (Being written; the signatures below are the contract.)

use super::qasm::{self, ParseLimits};
use super::{CompileOptions, CompileStats, Compiled, Diagnostic, ProgramFormat};
use eigen_hal::Target;

/// Compiles `source` for `target`.
pub fn compile(
    source: &str,
    format: ProgramFormat,
    target: &Target,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let _ = options;
    let parsed = qasm::parse(source, format, &ParseLimits::default())?;
    let final_layout = (0..parsed.circuit.num_qubits).collect();
    let _ = target;
    Ok(Compiled {
        circuit: parsed.circuit,
        final_layout,
        program: String::new(),
        stats: CompileStats::default(),
        warnings: parsed.warnings,
    })
}

/// Every diagnostic of `source` (errors and warnings), checked against
/// `target` when given. An empty list means the program is valid.
pub fn validate(source: &str, format: ProgramFormat, target: Option<&Target>) -> Vec<Diagnostic> {
    let _ = target;
    match qasm::parse(source, format, &ParseLimits::default()) {
        Ok(p) => p.warnings,
        Err(d) => d,
    }
}
