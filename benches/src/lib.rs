//! Shared pieces of Eigen's benchmarks.
//!
//! # Layout
//!
//! - [`read_circuit`]: a benchmark circuit file through the real OpenQASM
//!   front end, so the simulator is timed on exactly what a job would run.
//! - [`floor_pass`]: the memory-bandwidth floor a gate pass is held to.
//!
//! The benchmarks themselves are in `benches/` (criterion and peer
//! comparisons) and `src/bin/sim-bench.rs` (one circuit, as the peers' script
//! times theirs).

use eigen_hal::Circuit;
use eigen_kernel::compiler::ProgramFormat;
use eigen_kernel::compiler::qasm::{self, ParseLimits};
use num_complex::Complex64;
use rayon::prelude::*;

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

/// The memory-bandwidth floor of a gate pass: one parallel read-modify-write
/// sweep over `amplitudes` (each scaled by a constant), the least any pass
/// over a state of that size must do. Issue 3 holds a single 1-qubit gate to
/// within 1.3x of this sweep's time on a buffer of the same size.
pub fn floor_pass(amplitudes: &mut [Complex64]) {
    amplitudes.par_chunks_mut(1 << 14).for_each(|c| {
        for x in c {
            *x *= 0.999_999;
        }
    });
}
