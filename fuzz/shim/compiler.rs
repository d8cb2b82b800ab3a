//! The front end's source, compiled into the fuzz target on its own.
//!
//! `kernel/src/compiler/qasm` is included as is; its only dependencies
//! outside itself are the three diagnostic types below (copies of those in
//! `kernel/src/compiler/mod.rs`, checked by the compiler wherever the front
//! end uses them) and `eigen-hal`. Building the whole kernel instead would
//! pull its database and runtime dependencies into every fuzz build, and
//! multiply CI's fuzz time for no extra coverage of the parser.
#![allow(dead_code, unreachable_pub)]

#[path = "../../kernel/src/compiler/qasm/mod.rs"]
pub mod qasm;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    Error,
    Warning,
}

/// A message about a place in a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub snippet: String,
}

/// The source language of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProgramFormat {
    #[default]
    Detect,
    OpenQasm2,
    OpenQasm3,
}
