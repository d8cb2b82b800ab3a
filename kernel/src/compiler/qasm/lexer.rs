//! Lexer: source text to tokens with byte spans.
//!
//! Tokens carry only a kind and a span; their text is a slice of the source,
//! which keeps a token at 12 bytes even for a maximal program. Lexical errors
//! (a stray character, an unterminated comment or string) are reported and
//! lexing goes on, so several can be reported at once.

use super::diag::{Diag, Span};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A name or keyword (`qreg`, `h`, `θ`).
    Ident,
    /// An integer literal (decimal, or `0x`/`0o`/`0b` in OpenQASM 3).
    Int,
    /// A real literal (`1.5`, `.5`, `1e-3`).
    Float,
    /// A number with a time unit (`100ns`, `4dt`): OpenQASM 3 durations.
    Duration,
    /// A string literal, quotes included in the span.
    Str,
    /// A physical qubit (`$3`).
    HwQubit,
    /// A `#pragma` or `pragma` line (up to the end of the line).
    Pragma,
    /// Punctuation or an operator; its text is the span.
    Punct,
    /// End of input.
    Eof,
}

/// One token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// The kind.
    pub kind: TokKind,
    /// Where it is.
    pub span: Span,
}

/// Multi-character operators, longest first so that maximal munch works.
const PUNCT3: [&str; 2] = ["<<=", ">>="];
const PUNCT2: [&str; 18] = [
    "**", "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "+=", "-=", "*=", "/=", "&=",
    "|=", "^=",
];
const PUNCT1: &str = ";,()[]{}=+-*/^@:!~&|%<>.?";

/// Lexical errors kept at most (the parser caps its own likewise).
const MAX_LEX_ERRORS: usize = 100;

/// Units a duration literal may carry.
const TIME_UNITS: [&str; 6] = ["dt", "ns", "us", "µs", "ms", "s"];

/// Splits `src` into tokens, ending with one [`TokKind::Eof`].
pub fn lex(src: &str, errors: &mut Vec<Diag>) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut toks = Vec::with_capacity(src.len() / 3 + 1);
    let mut i = 0usize;
    let span = |a: usize, b: usize| Span::new(a, b);
    // Only whitespace so far on this line (a `pragma` keyword must start one).
    let mut line_start = true;
    let first_error = errors.len();
    while i < bytes.len() {
        if errors.len() - first_error > MAX_LEX_ERRORS {
            // Keep lexing for the tokens, but stop collecting noise.
            errors.truncate(first_error + MAX_LEX_ERRORS);
        }
        let b = bytes[i];
        // Whitespace.
        if b.is_ascii_whitespace() {
            line_start |= b == b'\n';
            i += 1;
            continue;
        }
        let was_line_start = std::mem::replace(&mut line_start, false);
        // Comments.
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let start = i;
            match src[i + 2..].find("*/") {
                Some(k) => i = i + 2 + k + 2,
                None => {
                    errors.push(Diag::new(span(start, start + 2), "unterminated block comment"));
                    i = bytes.len();
                }
            }
            continue;
        }
        let start = i;
        // Pragmas run to the end of the line.
        if b == b'#' || (was_line_start && src[i..].starts_with("pragma ")) {
            if b == b'#' && !src[i..].starts_with("#pragma") {
                errors.push(Diag::new(span(i, i + 1), "unexpected character '#'"));
                i += 1;
                continue;
            }
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            toks.push(Token { kind: TokKind::Pragma, span: span(start, i) });
            continue;
        }
        // Strings.
        if b == b'"' || b == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b && bytes[i] != b'\n' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b {
                i += 1;
                toks.push(Token { kind: TokKind::Str, span: span(start, i) });
            } else {
                errors.push(Diag::new(span(start, i), "unterminated string"));
            }
            continue;
        }
        // Numbers.
        if b.is_ascii_digit() || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let kind = lex_number(src, &mut i);
            // A unit directly after the number makes it a duration.
            let rest = &src[i..];
            let unit = TIME_UNITS.iter().find(|u| {
                rest.starts_with(**u) && !rest[u.len()..].chars().next().is_some_and(is_ident_char)
            });
            let kind = match unit {
                Some(u) => {
                    i += u.len();
                    TokKind::Duration
                }
                None => kind,
            };
            if src[i..].chars().next().is_some_and(is_ident_char) {
                let end = i + ident_len(&src[i..]);
                errors.push(Diag::new(span(start, end), "malformed number"));
                i = end;
                continue;
            }
            toks.push(Token { kind, span: span(start, i) });
            continue;
        }
        // Physical qubits.
        if b == b'$' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start + 1 {
                errors.push(Diag::new(span(start, i), "expected a qubit number after '$'"));
                continue;
            }
            toks.push(Token { kind: TokKind::HwQubit, span: span(start, i) });
            continue;
        }
        // Identifiers (Unicode letters included: θ, π).
        let c = src[i..].chars().next().expect("i < len, on a char boundary");
        if c == '_' || c.is_alphabetic() {
            i += ident_len(&src[i..]);
            toks.push(Token { kind: TokKind::Ident, span: span(start, i) });
            continue;
        }
        // Punctuation.
        let rest = &src[i..];
        if let Some(p) = PUNCT3.iter().chain(PUNCT2.iter()).find(|p| rest.starts_with(**p)) {
            i += p.len();
            toks.push(Token { kind: TokKind::Punct, span: span(start, i) });
            continue;
        }
        if b.is_ascii() && PUNCT1.as_bytes().contains(&b) {
            i += 1;
            toks.push(Token { kind: TokKind::Punct, span: span(start, i) });
            continue;
        }
        i += c.len_utf8();
        errors.push(Diag::new(span(start, i), format!("unexpected character '{c}'")));
    }
    toks.push(Token { kind: TokKind::Eof, span: span(bytes.len(), bytes.len()) });
    toks
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn ident_len(s: &str) -> usize {
    s.char_indices().find(|(_, c)| !is_ident_char(*c)).map_or(s.len(), |(k, _)| k)
}

/// Lexes a number starting at `*i`, advancing past it.
fn lex_number(src: &str, i: &mut usize) -> TokKind {
    let bytes = src.as_bytes();
    let digits = |i: &mut usize, ok: fn(u8) -> bool| {
        while *i < bytes.len() && (ok(bytes[*i]) || bytes[*i] == b'_') {
            *i += 1;
        }
    };
    if bytes[*i] == b'0'
        && matches!(bytes.get(*i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
    {
        *i += 2;
        digits(i, |b| b.is_ascii_hexdigit());
        return TokKind::Int;
    }
    let mut kind = TokKind::Int;
    digits(i, |b| b.is_ascii_digit());
    if *i < bytes.len() && bytes[*i] == b'.' {
        kind = TokKind::Float;
        *i += 1;
        digits(i, |b| b.is_ascii_digit());
    }
    if *i < bytes.len() && matches!(bytes[*i], b'e' | b'E') {
        let mut j = *i + 1;
        if j < bytes.len() && matches!(bytes[j], b'+' | b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            *i = j;
            digits(i, |b| b.is_ascii_digit());
            kind = TokKind::Float;
        }
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> (Vec<(TokKind, String)>, usize) {
        let mut errs = Vec::new();
        let toks = lex(src, &mut errs);
        let v = toks.iter().map(|t| (t.kind, src[t.span.range()].to_string())).collect();
        (v, errs.len())
    }

    #[test]
    fn lexes_numbers_idents_and_operators() {
        let (t, e) = kinds("rz(1.5e-3 ** .5) q[10] -> c; θ 0x1F 4dt");
        assert_eq!(e, 0);
        let texts: Vec<_> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            texts,
            [
                "rz", "(", "1.5e-3", "**", ".5", ")", "q", "[", "10", "]", "->", "c", ";", "θ",
                "0x1F", "4dt", ""
            ]
        );
        assert_eq!(t[2].0, TokKind::Float);
        assert_eq!(t[8].0, TokKind::Int);
        assert_eq!(t[15].0, TokKind::Duration);
    }

    #[test]
    fn skips_comments_and_reports_bad_characters() {
        let (t, e) = kinds("h q; // x\n/* y */ x q; ` \n /* open");
        assert_eq!(e, 2);
        assert_eq!(t.len(), 7);
    }

    #[test]
    fn zero_s_bracket_is_a_duration_then_bracket() {
        let (t, e) = kinds("0s[");
        assert_eq!(e, 0);
        assert_eq!(t[0].0, TokKind::Duration);
        assert_eq!(t[1].1, "[");
    }

    #[test]
    fn pragma_runs_to_end_of_line() {
        let (t, e) = kinds("#pragma foo bar;\nh q;");
        assert_eq!(e, 0);
        assert_eq!(t[0].0, TokKind::Pragma);
        assert_eq!(t[1].1, "h");
    }
}
