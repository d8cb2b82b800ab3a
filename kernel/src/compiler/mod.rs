//! The compiler: OpenQASM 2/3 in, native, routed, optimized circuits out.

use serde::{Deserialize, Serialize};

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
