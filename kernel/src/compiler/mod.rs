//! The compiler: OpenQASM 2/3 in, native, routed, optimized circuits out.
//!
//! # Layout
//!
//! - [`qasm`]: the OpenQASM 2 and 3 front end (source -> circuit, diagnostics).
//! - [`pipeline`]: [`compile`], [`optimize`] and [`validate`], the passes in order.
//! - [`unroll`]: every gate to 1-qubit gates plus `cx`/`cz`/`swap`.
//! - [`synth`]: 1-qubit Euler synthesis, controlled and multi-controlled
//!   gates, arbitrary 2-qubit unitaries.
//! - [`layout`]: initial placement (embedding search, SABRE bidirectional).
//! - [`routing`]: coupling maps, the dependency graph, SABRE swap insertion.
//! - [`optimize`]: native 2-qubit translation and peephole optimization.
//! - [`kak`]: 2-qubit block re-synthesis (KAK, at most three `cx`).
//! - [`emit`]: OpenQASM 3 output and statistics.

pub mod emit;
pub mod kak;
pub mod layout;
pub mod optimize;
pub mod pipeline;
pub mod qasm;
pub mod routing;
pub mod synth;
pub mod unroll;

pub use pipeline::{compile, compile_circuit, optimize, optimize_circuit, validate};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// The program cannot run.
    Error,
    /// The program runs, but probably not as meant.
    Warning,
}

/// A message about a place in a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// What is wrong, for people.
    pub message: String,
    /// The offending text.
    pub snippet: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
/// The source language of a program.
pub enum ProgramFormat {
    /// Detect from the `OPENQASM` header.
    #[default]
    Detect,
    /// OpenQASM 2.0.
    OpenQasm2,
    /// OpenQASM 3.
    OpenQasm3,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
/// Compiler statistics of a program.
pub struct CompileStats {
    /// Circuit depth.
    pub depth: u64,
    /// Gate counts by name.
    pub gate_counts: BTreeMap<String, u64>,
    /// Number of 2-qubit gates.
    pub two_qubit_gates: u64,
    /// SWAPs inserted by routing.
    pub swaps: u64,
    /// Estimated duration on the device.
    pub estimated_duration: Duration,
    /// Estimated probability that no error occurs.
    pub estimated_success: f64,
}

/// Options of one compilation (from a job's `compiler_options`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileOptions {
    /// 0 (none) to 3 (heaviest); 1 by default.
    pub optimization_level: u8,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { optimization_level: 1 }
    }
}

/// A program compiled for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The executable circuit on physical qubits, native gates only.
    /// Measurements write the program's classical bits, so counts come out in
    /// the program's order whatever the routing did.
    pub circuit: eigen_hal::Circuit,
    /// For each program qubit, the physical qubit holding it at the end
    /// (routing permutes qubits).
    pub final_layout: Vec<u32>,
    /// The compiled program as OpenQASM 3 text.
    pub program: String,
    /// Its statistics on the target.
    pub stats: CompileStats,
    /// Non-fatal diagnostics.
    pub warnings: Vec<Diagnostic>,
}

/// The compiler's version, reported in job metadata.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");
