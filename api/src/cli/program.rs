//! Program files on the command line, and compiler diagnostics the way
//! compilers print them (`file:line:col: error: message`), so editors and
//! terminals can jump to the place.

use super::output::errln;
use anyhow::Context as _;
use eigen_kernel::compiler::{Diagnostic, ProgramFormat, Severity};
use std::path::{Path, PathBuf};

/// An OpenQASM program read from a file.
#[derive(Debug, Clone)]
pub struct ProgramFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// Its language, from the header when it has one.
    pub format: ProgramFormat,
}

impl ProgramFile {
    /// Reads `path`; the error names the file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let source = String::from_utf8(bytes)
            .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
        let format = detect_format(&source);
        Ok(Self { path: path.to_owned(), source, format })
    }

    /// The path as the user wrote it.
    #[must_use]
    pub fn display_name(&self) -> String {
        self.path.display().to_string()
    }

    /// `file:line:col: error: message` (plus the offending text, when known).
    #[must_use]
    pub fn diagnostic_line(&self, d: &Diagnostic) -> String {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut line =
            format!("{}:{}:{}: {severity}: {}", self.display_name(), d.line, d.column, d.message);
        let snippet = d.snippet.trim();
        if !snippet.is_empty() && !d.message.contains(snippet) {
            line.push_str(&format!(
                " (at `{}`)",
                snippet.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        line
    }

    /// Prints every diagnostic on stderr; returns how many are errors.
    pub fn eprint_diagnostics(&self, diagnostics: &[Diagnostic]) -> usize {
        for d in diagnostics {
            errln!("{}", self.diagnostic_line(d));
        }
        count_errors(diagnostics)
    }
}

/// How many of `diagnostics` are errors (not warnings).
#[must_use]
pub fn count_errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
}

/// The language named by the `OPENQASM` header; [`ProgramFormat::Detect`]
/// when there is none (the compiler then decides and reports).
#[must_use]
pub fn detect_format(source: &str) -> ProgramFormat {
    for line in source.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("OPENQASM") {
            let version = rest.trim().trim_end_matches(';').trim();
            if version.starts_with('2') {
                return ProgramFormat::OpenQasm2;
            }
            if version.starts_with('3') {
                return ProgramFormat::OpenQasm3;
            }
        }
        break;
    }
    ProgramFormat::Detect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_selects_the_format() {
        assert_eq!(detect_format("// c\n\nOPENQASM 2.0;\nqreg q[1];"), ProgramFormat::OpenQasm2);
        assert_eq!(detect_format("OPENQASM 3.0;"), ProgramFormat::OpenQasm3);
        assert_eq!(detect_format("OPENQASM 3;"), ProgramFormat::OpenQasm3);
        assert_eq!(detect_format("qubit q;"), ProgramFormat::Detect);
    }

    #[test]
    fn diagnostics_print_like_a_compiler() {
        let p = ProgramFile {
            path: "x.qasm".into(),
            source: String::new(),
            format: ProgramFormat::Detect,
        };
        let d = Diagnostic {
            severity: Severity::Error,
            line: 3,
            column: 5,
            message: "unknown gate `foo`".into(),
            snippet: "foo".into(),
        };
        assert_eq!(p.diagnostic_line(&d), "x.qasm:3:5: error: unknown gate `foo`");
        let d2 = Diagnostic { message: "expected `;`".into(), snippet: "h q[0]\n".into(), ..d };
        assert_eq!(p.diagnostic_line(&d2), "x.qasm:3:5: error: expected `;` (at `h q[0]`)");
    }
}
