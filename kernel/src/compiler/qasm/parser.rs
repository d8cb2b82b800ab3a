//! Recursive-descent parser for OpenQASM 2 and 3 (one grammar: the two
//! overlap almost entirely).
//!
//! Statements outside the supported subset are recognised by their keyword
//! and rejected by name. After an error the parser skips to the end of the
//! statement (the next `;` or the end of a braced block) and goes on, so
//! independent errors are reported together. Nesting of expressions and
//! blocks is bounded, so hostile input cannot overflow the stack.

use super::ast::{BinOp, Cond, Ident, Operand, Program, Stmt, StmtKind, Version};
use super::diag::{Diag, Span};
use super::lexer::{TokKind, Token};

type PResult<T> = Result<T, Diag>;

/// Stop collecting errors after this many; the rest are likely noise.
pub const MAX_ERRORS: usize = 100;

/// Keywords of OpenQASM 3 features outside the subset, and why they fail.
fn unsupported_keyword(word: &str) -> Option<String> {
    let msg = match word {
        "while" => "while loops are not supported",
        "for" => "for loops are not supported",
        "def" => "subroutines (def) are not supported",
        "defcal" => "defcal is not supported",
        "defcalgrammar" => "defcalgrammar is not supported",
        "cal" => "cal blocks are not supported",
        "input" => "input declarations are not supported",
        "output" => "output declarations are not supported",
        "extern" => "extern functions are not supported",
        "box" => "box statements are not supported",
        "delay" => "delay is not supported",
        "let" => "aliases (let) are not supported",
        "switch" => "switch statements are not supported",
        "break" | "continue" => "break and continue are not supported",
        "return" => "return is not supported",
        "end" => "end statements are not supported",
        "opaque" => "opaque gates are not supported: define the gate with a body",
        "int" | "uint" | "float" | "angle" | "bool" | "complex" | "duration" | "stretch"
        | "array" => {
            return Some(format!(
                "classical types other than bit are not supported ('{word}'); \
                 use 'const' for named constants"
            ));
        }
        _ => return None,
    };
    Some(msg.to_string())
}

/// Parses a token stream into a program, collecting every error it can.
pub fn parse_program(src: &str, toks: &[Token], max_depth: u32) -> (Program, Vec<Diag>) {
    let mut p = Parser { src, toks, pos: 0, errors: Vec::new(), max_depth, version: None };
    let mut program = Program::default();
    match p.header() {
        Ok(v) => program.version = v,
        Err(e) => {
            p.errors.push(e);
            p.recover();
        }
    }
    p.version = program.version.map(|v| v.0);
    program.stmts = p.statements(0, false);
    (program, p.errors)
}

struct Parser<'a> {
    src: &'a str,
    toks: &'a [Token],
    pos: usize,
    errors: Vec<Diag>,
    max_depth: u32,
    version: Option<Version>,
}

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------

    fn peek(&self) -> Token {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, k: usize) -> Token {
        self.toks[(self.pos + k).min(self.toks.len() - 1)]
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.span.range()]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != TokKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn is_punct(&self, t: Token, p: &str) -> bool {
        t.kind == TokKind::Punct && self.text(t) == p
    }

    fn at(&self, p: &str) -> bool {
        self.is_punct(self.peek(), p)
    }

    fn at_word(&self, w: &str) -> bool {
        let t = self.peek();
        t.kind == TokKind::Ident && self.text(t) == w
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.at(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, what: &str) -> Diag {
        let t = self.peek();
        if t.kind == TokKind::Eof {
            Diag::new(t.span, format!("expected {what}, found the end of the program"))
        } else {
            Diag::new(t.span, format!("expected {what}, found '{}'", self.text(t)))
        }
    }

    fn expect(&mut self, p: &str) -> PResult<Token> {
        if self.at(p) { Ok(self.bump()) } else { Err(self.unexpected(&format!("'{p}'"))) }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.peek();
        if t.kind == TokKind::Ident {
            self.pos += 1;
            Ok(Ident { name: self.text(t).to_string(), span: t.span })
        } else {
            Err(self.unexpected(what))
        }
    }

    fn prev_end(&self) -> Span {
        let t = self.toks[self.pos.saturating_sub(1)];
        Span { start: t.span.end, end: t.span.end }
    }

    /// Skips to just after the end of the current statement: a `;` or a
    /// balanced `{...}` at this level, stopping before an unmatched `}`.
    fn recover(&mut self) {
        let mut depth = 0u32;
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::Eof => return,
                TokKind::Punct => match self.text(t) {
                    ";" if depth == 0 => {
                        self.pos += 1;
                        return;
                    }
                    "{" => depth += 1,
                    "}" => {
                        if depth == 0 {
                            return;
                        }
                        depth -= 1;
                        if depth == 0 {
                            self.pos += 1;
                            return;
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
            self.pos += 1;
        }
    }

    // ----- statements ----------------------------------------------------

    fn header(&mut self) -> PResult<Option<(Version, Span)>> {
        if !self.at_word("OPENQASM") {
            return Ok(None);
        }
        let kw = self.bump();
        let t = self.bump();
        let version = match (t.kind, self.text(t)) {
            (TokKind::Int | TokKind::Float, v) => match v.split('.').next() {
                Some("2") => Version::V2,
                Some("3") => Version::V3,
                _ => {
                    return Err(Diag::new(
                        t.span,
                        format!("unsupported OpenQASM version {v}: expected 2.0 or 3"),
                    ));
                }
            },
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("a version number after OPENQASM"));
            }
        };
        self.expect(";")?;
        Ok(Some((version, kw.span.to(t.span))))
    }

    /// Statements until the end (or, in a block, until `}` which is left).
    fn statements(&mut self, depth: u32, in_block: bool) -> Vec<Stmt> {
        let mut out = Vec::new();
        loop {
            if self.errors.len() >= MAX_ERRORS {
                self.pos = self.toks.len() - 1;
                return out;
            }
            let t = self.peek();
            if t.kind == TokKind::Eof || (in_block && self.is_punct(t, "}")) {
                return out;
            }
            if self.is_punct(t, "}") {
                self.errors.push(Diag::new(t.span, "unmatched '}'"));
                self.pos += 1;
                continue;
            }
            let start = self.pos;
            if let Err(e) = self.statement(depth, &mut out) {
                self.errors.push(e);
                self.recover();
                if self.pos == start {
                    // Never loop without progress.
                    self.pos += 1;
                }
            }
        }
    }

    fn statement(&mut self, depth: u32, out: &mut Vec<Stmt>) -> PResult<()> {
        let t = self.peek();
        let start = t.span;
        let kind = match t.kind {
            TokKind::Pragma => {
                self.pos += 1;
                StmtKind::Pragma
            }
            TokKind::Ident => {
                let word = self.text(t);
                if let Some(msg) = unsupported_keyword(word) {
                    return Err(Diag::new(t.span, msg));
                }
                match word {
                    "OPENQASM" => {
                        return Err(Diag::new(
                            t.span,
                            "the OPENQASM header must be the first statement",
                        ));
                    }
                    "include" => {
                        self.pos += 1;
                        let s = self.peek();
                        if s.kind != TokKind::Str {
                            return Err(self.unexpected("a file name in quotes"));
                        }
                        self.pos += 1;
                        self.expect(";")?;
                        let text = self.text(s);
                        StmtKind::Include(text[1..text.len() - 1].to_string())
                    }
                    "qreg" | "creg" => {
                        self.pos += 1;
                        let name = self.ident("a register name")?;
                        self.expect("[")?;
                        let size = self.expr(0)?;
                        self.expect("]")?;
                        self.expect(";")?;
                        if word == "qreg" {
                            StmtKind::QubitDecl { name, size: Some(size) }
                        } else {
                            StmtKind::BitDecl { name, size: Some(size) }
                        }
                    }
                    "qubit" | "bit" => return self.declaration(word == "qubit", out),
                    "const" => self.constant()?,
                    "gate" => self.gate_def(depth)?,
                    "measure" => {
                        self.pos += 1;
                        let qubit = self.operand()?;
                        let target = if self.eat("->") { Some(self.operand()?) } else { None };
                        self.expect(";")?;
                        StmtKind::Measure { qubit, target }
                    }
                    "reset" => {
                        self.pos += 1;
                        let q = self.operand()?;
                        self.expect(";")?;
                        StmtKind::Reset(q)
                    }
                    "barrier" => {
                        self.pos += 1;
                        let args = self.operands()?;
                        self.expect(";")?;
                        StmtKind::Barrier(args)
                    }
                    "if" => self.if_stmt(depth)?,
                    "else" => return Err(Diag::new(t.span, "'else' without a matching 'if'")),
                    _ if self.looks_like_assignment() => self.assignment()?,
                    _ => StmtKind::Call(self.gate_call()?),
                }
            }
            TokKind::Punct if self.is_punct(t, "{") => {
                // A bare scope block: its statements, in place.
                let inner = self.block(depth)?;
                out.extend(inner);
                return Ok(());
            }
            TokKind::HwQubit | TokKind::Int | TokKind::Float | TokKind::Duration => {
                return Err(self.unexpected("a statement"));
            }
            _ => return Err(self.unexpected("a statement")),
        };
        out.push(Stmt { kind, span: start.to(self.prev_end()) });
        Ok(())
    }

    /// `qubit[n] q;`, `qubit q;`, `bit[n] c;`, `bit c;`, `bit[n] c = measure q;`.
    fn declaration(&mut self, quantum: bool, out: &mut Vec<Stmt>) -> PResult<()> {
        let start = self.bump().span;
        let size = if self.eat("[") {
            let e = self.expr(0)?;
            self.expect("]")?;
            Some(e)
        } else {
            None
        };
        let name = self.ident("a register name")?;
        if !quantum && self.at("=") {
            self.pos += 1;
            if !self.at_word("measure") {
                return Err(Diag::new(
                    self.peek().span,
                    "bit initializers other than 'measure' are not supported",
                ));
            }
            self.pos += 1;
            let qubit = self.operand()?;
            self.expect(";")?;
            let span = start.to(self.prev_end());
            let target = Operand { name: name.clone(), index: None, span: name.span };
            out.push(Stmt { kind: StmtKind::BitDecl { name, size }, span });
            out.push(Stmt { kind: StmtKind::Measure { qubit, target: Some(target) }, span });
            return Ok(());
        }
        self.expect(";")?;
        let kind = if quantum {
            StmtKind::QubitDecl { name, size }
        } else {
            StmtKind::BitDecl { name, size }
        };
        out.push(Stmt { kind, span: start.to(self.prev_end()) });
        Ok(())
    }

    /// `const [type[size]] name = value;`.
    fn constant(&mut self) -> PResult<StmtKind> {
        self.pos += 1;
        let first = self.ident("a type or a name")?;
        let name = if self.at("=") {
            first
        } else {
            if !matches!(
                first.name.as_str(),
                "int" | "uint" | "float" | "angle" | "bool" | "bit" | "complex"
            ) {
                return Err(Diag::new(first.span, format!("unknown type '{}'", first.name)));
            }
            if self.eat("[") {
                self.expr(0)?;
                self.expect("]")?;
            }
            self.ident("a constant name")?
        };
        self.expect("=")?;
        let value = self.expr(0)?;
        self.expect(";")?;
        Ok(StmtKind::Const { name, value })
    }

    /// `name = measure ...`, `name[i] = measure ...` or a compound assignment.
    fn looks_like_assignment(&self) -> bool {
        let next = self.peek_at(1);
        if next.kind != TokKind::Punct {
            return false;
        }
        matches!(self.text(next), "=" | "[" | "+=" | "-=" | "*=" | "/=" | "&=" | "|=" | "^=")
            || self.text(next) == "++"
    }

    fn assignment(&mut self) -> PResult<StmtKind> {
        let target = self.operand()?;
        let op = self.peek();
        if !self.is_punct(op, "=") {
            return Err(Diag::new(op.span, "classical assignments are not supported"));
        }
        self.pos += 1;
        if !self.at_word("measure") {
            return Err(Diag::new(
                self.peek().span,
                "classical assignments are not supported (only 'bit = measure qubit')",
            ));
        }
        self.pos += 1;
        let qubit = self.operand()?;
        self.expect(";")?;
        Ok(StmtKind::Measure { qubit, target: Some(target) })
    }

    fn if_stmt(&mut self, depth: u32) -> PResult<StmtKind> {
        let kw = self.bump();
        if depth >= self.max_depth {
            return Err(Diag::new(kw.span, "'if' blocks are nested too deeply"));
        }
        self.expect("(")?;
        let cstart = self.peek().span;
        let mut negated = self.eat("!");
        let bits = self.operand()?;
        let value = if self.at("==") || self.at("!=") {
            if self.at("!=") {
                negated = !negated;
            }
            self.pos += 1;
            Some(self.expr(0)?)
        } else {
            None
        };
        let cond = Cond { bits, value, negated, span: cstart.to(self.prev_end()) };
        self.expect(")")?;
        let then = self.branch(depth)?;
        let otherwise = if self.at_word("else") {
            self.pos += 1;
            self.branch(depth)?
        } else {
            Vec::new()
        };
        Ok(StmtKind::If { cond, then, otherwise })
    }

    /// The body of an `if` or `else`: a block or one statement.
    fn branch(&mut self, depth: u32) -> PResult<Vec<Stmt>> {
        if self.at("{") {
            return self.block(depth);
        }
        let mut out = Vec::new();
        self.statement(depth + 1, &mut out)?;
        Ok(out)
    }

    fn block(&mut self, depth: u32) -> PResult<Vec<Stmt>> {
        let open = self.expect("{")?;
        if depth >= self.max_depth {
            return Err(Diag::new(open.span, "blocks are nested too deeply"));
        }
        let stmts = self.statements(depth + 1, true);
        self.expect("}")?;
        Ok(stmts)
    }
}

#[path = "parse_call.rs"]
mod parse_call;
#[path = "parse_expr.rs"]
mod parse_expr;

/// Operators of the expression grammar (used by `parse_expr`).
fn binop(text: &str) -> Option<BinOp> {
    Some(match text {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Rem,
        "**" | "^" => BinOp::Pow,
        _ => return None,
    })
}
