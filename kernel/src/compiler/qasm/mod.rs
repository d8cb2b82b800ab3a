//! OpenQASM 2 and 3 front end: source text to an [`eigen_hal::Circuit`].
//!
//! (Being written; the signature below is the contract.)

use super::{Diagnostic, ProgramFormat, Severity};

/// Bounds that keep a hostile program from exhausting the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted source, in bytes.
    pub max_source_bytes: usize,
    /// Most qubits a program may declare.
    pub max_qubits: u32,
    /// Most operations after expanding gate definitions.
    pub max_operations: usize,
    /// Deepest nesting of gate definitions calling gate definitions.
    pub max_gate_depth: u32,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_source_bytes: 4 << 20,
            max_qubits: 64,
            max_operations: 4_000_000,
            max_gate_depth: 64,
        }
    }
}

/// A parsed program.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The program as a circuit on its own (virtual) qubits, every user gate
    /// expanded, every parameter a number.
    pub circuit: eigen_hal::Circuit,
    /// The format actually parsed.
    pub format: ProgramFormat,
    /// Non-fatal diagnostics.
    pub warnings: Vec<Diagnostic>,
}

/// Parses `source`. Never panics; errors carry line and column.
pub fn parse(
    source: &str,
    format: ProgramFormat,
    limits: &ParseLimits,
) -> Result<Parsed, Vec<Diagnostic>> {
    let _ = (source, format, limits);
    Err(vec![Diagnostic {
        severity: Severity::Error,
        line: 1,
        column: 1,
        message: "the OpenQASM front end is not built yet".into(),
        snippet: String::new(),
    }])
}
