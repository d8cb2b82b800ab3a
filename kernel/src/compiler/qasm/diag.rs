//! Source spans and the front end's internal diagnostics.
//!
//! The front end works with byte spans; only when a diagnostic leaves the
//! front end is its span turned into a 1-based line and a 1-based column
//! counted in characters, with the offending text as the snippet.

use super::super::{Diagnostic, Severity};
use std::ops::Range;

/// A byte range of the source. `u32` keeps tokens small; sources are limited
/// far below 4 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The span `start..end` (saturating at `u32::MAX`).
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        let c = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Self { start: c(start), end: c(end) }
    }

    /// The smallest span covering both.
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// As a range for slicing.
    #[must_use]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A diagnostic before positions are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

impl Diag {
    /// A diagnostic at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self { span, message: message.into() }
    }
}

/// The longest snippet reported, in characters.
const MAX_SNIPPET_CHARS: usize = 80;

/// Resolves spans into lines and columns of `src`.
#[derive(Debug)]
pub struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the line starts of `src`.
    #[must_use]
    pub fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Self { src, starts }
    }

    /// 1-based (line, column in characters) of byte `offset`.
    #[must_use]
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(self.src, offset.min(self.src.len()));
        let line = self.starts.partition_point(|s| *s <= offset).max(1) - 1;
        let col = self.src[self.starts[line]..offset].chars().count();
        let c = |x: usize| u32::try_from(x + 1).unwrap_or(u32::MAX);
        (c(line), c(col))
    }

    /// The public form of `d`.
    #[must_use]
    pub fn resolve(&self, d: &Diag, severity: Severity) -> Diagnostic {
        let (line, column) = self.position(d.span.start as usize);
        let a = floor_char_boundary(self.src, (d.span.start as usize).min(self.src.len()));
        let b = floor_char_boundary(self.src, (d.span.end as usize).clamp(a, self.src.len()));
        let text = &self.src[a..b];
        // One line at most, and not too long.
        let text = text.lines().next().unwrap_or("");
        let snippet: String = text.chars().take(MAX_SNIPPET_CHARS).collect();
        Diagnostic { severity, line, column, message: d.message.clone(), snippet }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = "ab\nθθx y\n";
        let idx = LineIndex::new(src);
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        let x = src.find('x').unwrap();
        assert_eq!(idx.position(x), (2, 3));
        let d = idx.resolve(&Diag::new(Span::new(x, x + 3), "m"), Severity::Error);
        assert_eq!(d.snippet, "x y");
        assert_eq!((d.line, d.column), (2, 3));
    }
}
