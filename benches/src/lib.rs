//! Shared pieces of Eigen's benchmarks.
//!
//! # Layout
//!
//! - [`read_circuit`]: a benchmark circuit file through the real OpenQASM
//!   front end, so the simulator is timed on exactly what a job would run.
//!
//! The benchmarks themselves are in `benches/` (criterion and peer
//! comparisons) and `src/bin/sim-bench.rs` (one circuit, as the peers' script
//! times theirs).

use eigen_hal::Circuit;
use eigen_kernel::compiler::ProgramFormat;
use eigen_kernel::compiler::qasm::{self, ParseLimits};

/// Reads and parses an OpenQASM 2 or 3 file into a circuit.
///
/// # Errors
///
/// The file cannot be read, or the program has errors (each as
/// `line:column: message`).
pub fn read_circuit(path: &std::path::Path) -> Result<Circuit, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    qasm::parse(&text, ProgramFormat::Detect, &ParseLimits::default()).map(|p| p.circuit).map_err(
        |diags| {
            diags
                .iter()
                .map(|d| format!("{}:{}:{}: {}", path.display(), d.line, d.column, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
}
