//! The syntax tree of an OpenQASM 2 or 3 program (the supported subset).
//!
//! Every node keeps its span so that lowering can point at the offending
//! text. Expressions are bounded in depth by the parser, so the recursive
//! walks over them (evaluation, drop) cannot overflow the stack.

use super::diag::Span;
use std::rc::Rc;

/// The language version of the `OPENQASM` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// OpenQASM 2.x.
    V2,
    /// OpenQASM 3.x.
    V3,
}

/// A parsed program.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// The header's version and its span, if there is a header.
    pub version: Option<(Version, Span)>,
    /// The statements in order.
    pub stmts: Vec<Stmt>,
}

/// A name and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Its span.
    pub span: Span,
}

/// A statement with its span.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The statements of the supported subset.
#[derive(Debug, Clone)]
pub enum StmtKind {
    /// `include "file";` (the file name without quotes).
    Include(String),
    /// `qreg q[n];`, `qubit[n] q;`, `qubit q;` (`None`: one qubit, no index).
    QubitDecl { name: Ident, size: Option<Expr> },
    /// `creg c[n];`, `bit[n] c;`, `bit c;`.
    BitDecl { name: Ident, size: Option<Expr> },
    /// `const [type] name = value;`.
    Const { name: Ident, value: Expr },
    /// `gate name(params) qubits { body }`.
    GateDef(Rc<GateDef>),
    /// A gate application, possibly with modifiers and register broadcast.
    Call(GateCall),
    /// `measure q -> c;`, `c = measure q;` (target `None`: `measure q;`).
    Measure { qubit: Operand, target: Option<Operand> },
    /// `reset q;`.
    Reset(Operand),
    /// `barrier a, b;` (empty: every qubit).
    Barrier(Vec<Operand>),
    /// `if (cond) then [else otherwise]`.
    If { cond: Cond, then: Vec<Stmt>, otherwise: Vec<Stmt> },
    /// A pragma, kept only to warn about it.
    Pragma,
}

/// A gate definition.
#[derive(Debug, Clone)]
pub struct GateDef {
    /// The gate's name.
    pub name: Ident,
    /// Its angle parameters.
    pub params: Vec<Ident>,
    /// Its qubit arguments.
    pub qubits: Vec<Ident>,
    /// The body: gate applications only (barriers in bodies are dropped).
    pub body: Vec<GateCall>,
}

/// A gate modifier (`ctrl @`, `negctrl(2) @`, `inv @`, `pow(k) @`).
#[derive(Debug, Clone)]
pub enum Modifier {
    /// `inv @`.
    Inv,
    /// `pow(k) @`.
    Pow(Expr, Span),
    /// `ctrl(n) @` (count `None`: 1).
    Ctrl(Option<Expr>, Span),
    /// `negctrl(n) @`.
    NegCtrl(Option<Expr>, Span),
}

/// A gate application.
#[derive(Debug, Clone)]
pub struct GateCall {
    /// Modifiers, outermost first.
    pub modifiers: Vec<Modifier>,
    /// The gate's name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<Expr>,
    /// Its qubit operands.
    pub args: Vec<Operand>,
    /// The whole call.
    pub span: Span,
}

/// A qubit or bit operand: a register, one element, a slice, or `$n`.
#[derive(Debug, Clone)]
pub struct Operand {
    /// The register name (`$3` for a physical qubit).
    pub name: Ident,
    /// The selection, if any.
    pub index: Option<Index>,
    /// The whole operand.
    pub span: Span,
}

/// A selection of register elements.
#[derive(Debug, Clone)]
pub enum Index {
    /// `[i]`.
    Single(Expr),
    /// `[a:b]` or `[a:step:b]` (OpenQASM 3; inclusive end).
    Range { start: Option<Expr>, step: Option<Expr>, end: Option<Expr> },
    /// `[{a, b, c}]`.
    Set(Vec<Expr>),
}

/// An `if` condition: `bits` (== `value`), or `!bits`.
#[derive(Debug, Clone)]
pub struct Cond {
    /// The register or bit compared.
    pub bits: Operand,
    /// The value compared with; `None` means "is true" (non-zero bit).
    pub value: Option<Expr>,
    /// `!=` or `!bit`.
    pub negated: bool,
    /// The whole condition.
    pub span: Span,
}

/// Binary operators of expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
    /// `^` (OpenQASM 2) or `**`.
    Pow,
}

/// A classical expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An integer literal, exact.
    Int(u64, Span),
    /// A real literal.
    Real(f64, Span),
    /// A name: a parameter, a constant or a built-in constant.
    Name(Ident),
    /// `-e`.
    Neg(Box<Expr>, Span),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    /// `f(args)`.
    Call(Ident, Vec<Expr>, Span),
}

impl Expr {
    /// The expression's span.
    #[must_use]
    pub fn span(&self) -> Span {
        match self {
            Expr::Int(_, s) | Expr::Real(_, s) | Expr::Neg(_, s) | Expr::Binary(.., s) => *s,
            Expr::Call(_, _, s) => *s,
            Expr::Name(i) => i.span,
        }
    }
}
