//! OpenQASM 2 and 3 front end: source text to an [`eigen_hal::Circuit`].
//!
//! One hand-written front end serves both versions (their syntax overlaps
//! almost entirely): OpenQASM 2.0 completely, and the OpenQASM 3 subset that
//! Qiskit's exporter and hand-written programs use. Constructs outside the
//! subset are rejected by name, with their position.
//!
//! # Layout
//!
//! - `lexer`: text to tokens.
//! - `parser` (+ `parse_expr`): tokens to the syntax tree of `ast`, with
//!   error recovery at statement boundaries.
//! - `lower`: declarations, operands, broadcast, conditions -> circuit.
//! - `expand`: gate definitions, includes, modifiers, expansion budget.
//! - `transform`: exact inverse and control of expanded gate sequences.
//! - `stdlib`: the built-in `qelib1.inc` and `stdgates.inc`.
//! - `eval`: classical expressions.
//! - `diag`: spans, and their conversion to line/column diagnostics.
//!
//! Safety: includes come only from memory; every recursion is bounded
//! (expression and block nesting, gate nesting); expansion is bounded by
//! [`ParseLimits::max_operations`]; and [`parse`] runs behind a panic
//! boundary that turns a bug into an internal-error diagnostic.

mod ast;
mod diag;
mod eval;
mod expand;
mod lexer;
mod lower;
mod parser;
mod stdlib;
mod transform;

use super::{Diagnostic, ProgramFormat, Severity};
use ast::Version;
use diag::{Diag, LineIndex, Span};

/// Warnings kept at most.
const MAX_WARNINGS: usize = 100;

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
    /// Deepest nesting of expressions (and of `if` blocks).
    pub max_expr_depth: u32,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_source_bytes: 4 << 20,
            max_qubits: 64,
            max_operations: 4_000_000,
            max_gate_depth: 64,
            max_expr_depth: 128,
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
///
/// With [`ProgramFormat::Detect`] the version comes from the `OPENQASM`
/// header; a program without one is read as OpenQASM 3, which accepts the
/// OpenQASM 2 statements too. A forced format must agree with the header.
pub fn parse(
    source: &str,
    format: ProgramFormat,
    limits: &ParseLimits,
) -> Result<Parsed, Vec<Diagnostic>> {
    // The implementation is panic-free by construction; the boundary is a
    // second line of defence so that a bug costs one request, not the server.
    match std::panic::catch_unwind(|| parse_inner(source, format, limits)) {
        Ok(result) => result,
        Err(_) => Err(vec![Diagnostic {
            severity: Severity::Error,
            line: 1,
            column: 1,
            message: "internal error in the OpenQASM front end (please report this program)".into(),
            snippet: String::new(),
        }]),
    }
}

fn parse_inner(
    source: &str,
    format: ProgramFormat,
    limits: &ParseLimits,
) -> Result<Parsed, Vec<Diagnostic>> {
    let index = LineIndex::new(source);
    let fail = |diags: Vec<Diag>| -> Vec<Diagnostic> {
        diags.iter().map(|d| index.resolve(d, Severity::Error)).collect()
    };
    if source.len() > limits.max_source_bytes || u32::try_from(source.len()).is_err() {
        return Err(fail(vec![Diag::new(
            Span::new(0, 0),
            format!(
                "the program is {} bytes; at most {} are accepted",
                source.len(),
                limits.max_source_bytes
            ),
        )]));
    }
    let mut errors = Vec::new();
    let tokens = lexer::lex(source, &mut errors);
    let (program, mut parse_errors) = parser::parse_program(source, &tokens, limits.max_expr_depth);
    errors.append(&mut parse_errors);
    let version = match (format, program.version) {
        (ProgramFormat::Detect, Some((v, _))) => v,
        (ProgramFormat::Detect | ProgramFormat::OpenQasm3, None) => Version::V3,
        (ProgramFormat::OpenQasm2, None) => Version::V2,
        (ProgramFormat::OpenQasm2, Some((Version::V2, _)))
        | (ProgramFormat::OpenQasm3, Some((Version::V3, _))) => program.version.expect("Some").0,
        (wanted, Some((v, span))) => {
            let (declared, requested) = match (v, wanted) {
                (Version::V3, _) => ("3", "2"),
                _ => ("2", "3"),
            };
            errors.push(Diag::new(
                span,
                format!(
                    "the program declares OpenQASM {declared}, but OpenQASM {requested} was requested"
                ),
            ));
            v
        }
    };
    if !errors.is_empty() {
        // Check the statements that did parse too, so that independent
        // errors come out together. A statement that failed to parse may
        // have declared a name, so "unknown ..." errors are left out: they
        // would likely be noise caused by the syntax error.
        if errors.len() < parser::MAX_ERRORS
            && let Err(more) = lower::lower(&program, version, limits)
        {
            errors.extend(more.into_iter().filter(|d| !d.message.starts_with("unknown ")));
        }
        errors.sort_by_key(|d| d.span.start);
        errors.truncate(parser::MAX_ERRORS);
        return Err(fail(errors));
    }
    let (circuit, warnings) = lower::lower(&program, version, limits).map_err(|mut e| {
        e.sort_by_key(|d| d.span.start);
        fail(e)
    })?;
    let format = match version {
        Version::V2 => ProgramFormat::OpenQasm2,
        Version::V3 => ProgramFormat::OpenQasm3,
    };
    let warnings =
        warnings.iter().take(MAX_WARNINGS).map(|d| index.resolve(d, Severity::Warning)).collect();
    Ok(Parsed { circuit, format, warnings })
}
