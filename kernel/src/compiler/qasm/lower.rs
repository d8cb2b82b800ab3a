//! Semantic lowering: the syntax tree to an [`eigen_hal::Circuit`].
//!
//! Declarations allocate qubits and bits; gate applications are resolved,
//! broadcast over registers, expanded (see `expand`) and appended with their
//! classical condition. Each statement is checked on its own, so every
//! independent error is reported; the circuit is returned only when there
//! are none.

use super::ParseLimits;
use super::ast::{Cond, Expr, GateCall, Index, Operand, Program, Stmt, StmtKind, Version};
use super::diag::{Diag, Span};
use super::eval::{self, Names};
use super::expand::GateEntry;
use super::parser::MAX_ERRORS;
use eigen_hal::circuit::{Clbit, MAX_CLBITS, Qubit};
use eigen_hal::{Circuit, ClassicalRegister, Condition, Operation};
use std::collections::{HashMap, HashSet};

/// A declared register (quantum or classical).
#[derive(Debug, Clone, Copy)]
pub(super) struct Register {
    /// Index of its element 0.
    pub offset: u32,
    /// Its size.
    pub size: u32,
    /// Declared with a size (`qubit[1] q`) rather than as a single (`qubit q`).
    pub array: bool,
}

/// A resolved operand: its elements, and whether it broadcasts.
#[derive(Debug, Clone)]
pub(super) struct Elements {
    pub items: Vec<u32>,
    pub broadcast: bool,
    pub span: Span,
}

/// The classical condition in force: (bit, required value) pairs, or `None`
/// when the nested conditions contradict each other (the code never runs).
type Active = Option<Vec<(Clbit, bool)>>;

/// Lowering state.
#[derive(Debug)]
pub(super) struct Lowerer<'l> {
    pub limits: &'l ParseLimits,
    pub version: Version,
    pub qregs: HashMap<String, Register>,
    pub cregs: HashMap<String, Register>,
    pub consts: HashMap<String, f64>,
    pub gates: HashMap<String, GateEntry>,
    pub includes: HashSet<String>,
    pub circuit: Circuit,
    pub errors: Vec<Diag>,
    pub warnings: Vec<Diag>,
    /// Expansion work done so far (calls and gates), bounded by the limits.
    pub steps: usize,
    /// `$n` physical qubits used.
    uses_physical: bool,
}

/// Constants as a name scope.
#[derive(Debug)]
pub(super) struct Consts<'a>(pub &'a HashMap<String, f64>);

impl Names for Consts<'_> {
    fn lookup(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }
}

/// Lowers `program`; returns the circuit and warnings, or every error.
pub fn lower(
    program: &Program,
    version: Version,
    limits: &ParseLimits,
) -> Result<(Circuit, Vec<Diag>), Vec<Diag>> {
    let mut l = Lowerer {
        limits,
        version,
        qregs: HashMap::new(),
        cregs: HashMap::new(),
        consts: HashMap::new(),
        gates: HashMap::new(),
        includes: HashSet::new(),
        circuit: Circuit::default(),
        errors: Vec::new(),
        warnings: Vec::new(),
        steps: 0,
        uses_physical: false,
    };
    l.add_primitives();
    l.statements(&program.stmts, &Some(Vec::new()));
    if l.errors.is_empty() { Ok((l.circuit, l.warnings)) } else { Err(l.errors) }
}

impl Lowerer<'_> {
    fn statements(&mut self, stmts: &[Stmt], active: &Active) {
        for s in stmts {
            if self.errors.len() >= MAX_ERRORS {
                return;
            }
            if let Err(e) = self.statement(s, active) {
                self.errors.push(e);
            }
        }
    }

    fn top_level_only(&self, s: &Stmt, active: &Active, what: &str) -> Result<(), Diag> {
        match active {
            Some(v) if v.is_empty() => Ok(()),
            _ => Err(Diag::new(s.span, format!("{what} are not allowed inside 'if'"))),
        }
    }

    fn statement(&mut self, s: &Stmt, active: &Active) -> Result<(), Diag> {
        match &s.kind {
            StmtKind::Include(name) => {
                self.top_level_only(s, active, "includes")?;
                self.include(name, s.span)
            }
            StmtKind::QubitDecl { name, size } => {
                self.top_level_only(s, active, "declarations")?;
                if self.uses_physical {
                    return Err(Diag::new(
                        s.span,
                        "qubit registers cannot be mixed with physical qubits ($n)",
                    ));
                }
                let (size, array) = self.register_size(size.as_ref())?;
                let total = self.circuit.num_qubits as u64 + size as u64;
                if total > u64::from(self.limits.max_qubits) {
                    return Err(Diag::new(
                        s.span,
                        format!(
                            "the program declares {total} qubits; at most {} are allowed",
                            self.limits.max_qubits
                        ),
                    ));
                }
                self.check_new_name(&name.name, name.span)?;
                let reg = Register { offset: self.circuit.num_qubits, size, array };
                self.qregs.insert(name.name.clone(), reg);
                self.circuit.num_qubits += size;
                Ok(())
            }
            StmtKind::BitDecl { name, size } => {
                self.top_level_only(s, active, "declarations")?;
                let (size, array) = self.register_size(size.as_ref())?;
                let total = self.circuit.num_clbits as u64 + size as u64;
                if total > MAX_CLBITS as u64 {
                    return Err(Diag::new(
                        s.span,
                        format!(
                            "the program declares {total} classical bits; at most {MAX_CLBITS} \
                             are supported"
                        ),
                    ));
                }
                self.check_new_name(&name.name, name.span)?;
                let reg = Register { offset: self.circuit.num_clbits, size, array };
                self.cregs.insert(name.name.clone(), reg);
                self.circuit.cregs.push(ClassicalRegister {
                    name: name.name.clone(),
                    offset: self.circuit.num_clbits,
                    size,
                });
                self.circuit.num_clbits += size;
                Ok(())
            }
            StmtKind::Const { name, value } => {
                self.top_level_only(s, active, "declarations")?;
                let v = eval::eval(value, &Consts(&self.consts))?;
                self.check_new_name(&name.name, name.span)?;
                self.consts.insert(name.name.clone(), v);
                Ok(())
            }
            StmtKind::GateDef(def) => {
                self.define_gate(def.clone());
                Ok(())
            }
            StmtKind::Call(call) => self.call(call, active),
            StmtKind::Measure { qubit, target } => {
                if !matches!(active, Some(v) if v.is_empty()) {
                    return Err(Diag::new(s.span, "measurements inside 'if' are not supported"));
                }
                let Some(target) = target else {
                    return Err(Diag::new(
                        s.span,
                        "a measurement needs a target bit: 'c = measure q;' or 'measure q -> c;'",
                    ));
                };
                let q = self.qubits(qubit)?;
                let c = self.clbits(target)?;
                if q.broadcast != c.broadcast || q.items.len() != c.items.len() {
                    return Err(Diag::new(
                        s.span,
                        format!(
                            "cannot measure {} qubit(s) into {} bit(s)",
                            q.items.len(),
                            c.items.len()
                        ),
                    ));
                }
                for (qubit, clbit) in q.items.into_iter().zip(c.items) {
                    self.push(Operation::Measure { qubit, clbit }, s.span)?;
                }
                Ok(())
            }
            StmtKind::Reset(q) => {
                if !matches!(active, Some(v) if v.is_empty()) {
                    return Err(Diag::new(s.span, "reset inside 'if' is not supported"));
                }
                for qubit in self.qubits(q)?.items {
                    self.push(Operation::Reset { qubit }, s.span)?;
                }
                Ok(())
            }
            StmtKind::Barrier(args) => {
                let mut qubits: Vec<Qubit> = Vec::new();
                if args.is_empty() {
                    qubits.extend(0..self.circuit.num_qubits);
                }
                for a in args {
                    for q in self.qubits(a)?.items {
                        if !qubits.contains(&q) {
                            qubits.push(q);
                        }
                    }
                }
                if !qubits.is_empty() {
                    self.push(Operation::Barrier { qubits: qubits.into() }, s.span)?;
                }
                Ok(())
            }
            StmtKind::If { cond, then, otherwise } => {
                let (bits, single) = self.condition(cond)?;
                if !otherwise.is_empty() && !single {
                    return Err(Diag::new(
                        cond.span,
                        "'else' is only supported after a single-bit condition",
                    ));
                }
                let then_active = merge(active, &bits);
                self.statements(then, &then_active);
                if !otherwise.is_empty() {
                    let flipped: Vec<_> = bits.iter().map(|(b, v)| (*b, !v)).collect();
                    self.statements(otherwise, &merge(active, &flipped));
                }
                Ok(())
            }
            StmtKind::Pragma => {
                self.warnings.push(Diag::new(s.span, "pragma ignored"));
                Ok(())
            }
        }
    }

    /// Appends an operation, within the operation budget.
    pub(super) fn push(&mut self, op: Operation, span: Span) -> Result<(), Diag> {
        if self.circuit.ops.len() >= self.limits.max_operations {
            return Err(self.too_many_ops(span));
        }
        self.circuit.ops.push(op);
        Ok(())
    }

    pub(super) fn too_many_ops(&self, span: Span) -> Diag {
        Diag::new(
            span,
            format!("the program expands to more than {} operations", self.limits.max_operations),
        )
    }

    /// `size` of a declaration: `None` is a single element.
    fn register_size(&self, size: Option<&Expr>) -> Result<(u32, bool), Diag> {
        let Some(e) = size else { return Ok((1, false)) };
        let n = eval::eval_uint(e, &Consts(&self.consts), "a register size")?;
        if n == 0 {
            return Err(Diag::new(e.span(), "a register must have at least one element"));
        }
        match u32::try_from(n) {
            Ok(n) => Ok((n, true)),
            Err(_) => Err(Diag::new(e.span(), "a register size is too large")),
        }
    }

    /// Registers and constants share one name space.
    fn check_new_name(&self, name: &str, span: Span) -> Result<(), Diag> {
        let taken = if self.qregs.contains_key(name) {
            Some("a qubit register")
        } else if self.cregs.contains_key(name) {
            Some("a classical register")
        } else if self.consts.contains_key(name) {
            Some("a constant")
        } else if eval::builtin_constant(name).is_some() {
            Some("a built-in constant")
        } else {
            None
        };
        match taken {
            Some(what) => Err(Diag::new(span, format!("'{name}' is already declared as {what}"))),
            None => Ok(()),
        }
    }

    /// The qubits an operand names.
    pub(super) fn qubits(&mut self, op: &Operand) -> Result<Elements, Diag> {
        if let Some(n) = op.name.name.strip_prefix('$') {
            if !self.qregs.is_empty() {
                return Err(Diag::new(
                    op.span,
                    "physical qubits ($n) cannot be mixed with qubit registers",
                ));
            }
            let q: u64 = n.parse().unwrap_or(u64::MAX);
            if q >= u64::from(self.limits.max_qubits) {
                return Err(Diag::new(
                    op.span,
                    format!(
                        "physical qubit {q} is out of range (at most {} qubits)",
                        self.limits.max_qubits
                    ),
                ));
            }
            let q = u32::try_from(q).expect("below max_qubits, a u32");
            self.uses_physical = true;
            self.circuit.num_qubits = self.circuit.num_qubits.max(q + 1);
            return Ok(Elements { items: vec![q], broadcast: false, span: op.span });
        }
        let reg = match self.qregs.get(&op.name.name) {
            Some(r) => *r,
            None => {
                let what = if self.cregs.contains_key(&op.name.name) {
                    format!("'{}' is a classical register, not qubits", op.name.name)
                } else {
                    format!("unknown qubit register '{}'", op.name.name)
                };
                return Err(Diag::new(op.name.span, what));
            }
        };
        self.select(op, reg)
    }

    /// The classical bits an operand names.
    pub(super) fn clbits(&self, op: &Operand) -> Result<Elements, Diag> {
        let reg = match self.cregs.get(&op.name.name) {
            Some(r) => *r,
            None => {
                let what = if self.qregs.contains_key(&op.name.name) {
                    format!("'{}' is a qubit register, not classical bits", op.name.name)
                } else {
                    format!("unknown classical register '{}'", op.name.name)
                };
                return Err(Diag::new(op.name.span, what));
            }
        };
        self.select(op, reg)
    }

    fn select(&self, op: &Operand, reg: Register) -> Result<Elements, Diag> {
        let names = Consts(&self.consts);
        let size = i64::from(reg.size);
        let at = |e: &Expr| -> Result<u32, Diag> {
            let i = eval::eval_int(e, &names, "an index")?;
            // OpenQASM 3 counts negative indices from the end.
            let k = if i < 0 && self.version == Version::V3 { i + size } else { i };
            if !(0..size).contains(&k) {
                return Err(Diag::new(
                    e.span(),
                    format!(
                        "index {i} is out of range for '{}' of size {}",
                        op.name.name, reg.size
                    ),
                ));
            }
            Ok(reg.offset + u32::try_from(k).expect("in 0..size"))
        };
        let (items, broadcast) = match &op.index {
            None => ((reg.offset..reg.offset + reg.size).collect(), reg.array),
            Some(_) if !reg.array => {
                return Err(Diag::new(
                    op.span,
                    format!("'{}' is a single element and cannot be indexed", op.name.name),
                ));
            }
            Some(Index::Single(e)) => (vec![at(e)?], false),
            Some(Index::Set(es)) => (es.iter().map(at).collect::<Result<_, _>>()?, true),
            Some(Index::Range { start, step, end }) => {
                let bound = |e: &Option<Expr>, default: i64| -> Result<i64, Diag> {
                    match e {
                        Some(e) => eval::eval_int(e, &names, "a range bound"),
                        None => Ok(default),
                    }
                };
                let (a, s, b) = (bound(start, 0)?, bound(step, 1)?, bound(end, size - 1)?);
                if s == 0 {
                    return Err(Diag::new(op.span, "a range step must not be zero"));
                }
                let mut v = Vec::new();
                let mut k = a;
                while (s > 0 && k <= b) || (s < 0 && k >= b) {
                    if !(0..size).contains(&k) {
                        return Err(Diag::new(
                            op.span,
                            format!("range reaches index {k}, outside '{}'", op.name.name),
                        ));
                    }
                    v.push(reg.offset + u32::try_from(k).expect("in 0..size"));
                    k += s;
                }
                (v, true)
            }
        };
        Ok(Elements { items, broadcast, span: op.span })
    }

    /// The bits an `if` tests and the values they must have; `true` when
    /// the condition is on one bit.
    fn condition(&self, cond: &Cond) -> Result<(Vec<(Clbit, bool)>, bool), Diag> {
        let bits = self.clbits(&cond.bits)?;
        let names = Consts(&self.consts);
        if !bits.broadcast {
            let want = match &cond.value {
                None => true,
                Some(e) => match eval::eval_uint(e, &names, "a condition value")? {
                    0 => false,
                    1 => true,
                    v => {
                        return Err(Diag::new(
                            e.span(),
                            format!("a bit can only equal 0 or 1, not {v}"),
                        ));
                    }
                },
            };
            return Ok((vec![(bits.items[0], want != cond.negated)], true));
        }
        let value = match &cond.value {
            None if cond.negated => 0,
            None => {
                return Err(Diag::new(cond.span, "compare a register with a value: 'if (c == 3)'"));
            }
            Some(_) if cond.negated => {
                return Err(Diag::new(cond.span, "'!=' conditions on registers are not supported"));
            }
            Some(e) => {
                let v = eval::eval_uint(e, &names, "a condition value")?;
                let n = bits.items.len();
                if n < 64 && v >> n != 0 {
                    return Err(Diag::new(
                        e.span(),
                        format!(
                            "{v} does not fit in the {n}-bit register '{}'",
                            cond.bits.name.name
                        ),
                    ));
                }
                v
            }
        };
        let single = bits.items.len() == 1;
        Ok((
            bits.items.iter().enumerate().map(|(i, b)| (*b, value >> i & 1 == 1)).collect(),
            single,
        ))
    }

    /// A gate application at statement level: broadcast, expand, append.
    fn call(&mut self, call: &GateCall, active: &Active) -> Result<(), Diag> {
        let resolved = self.resolve_call(call)?;
        let mut operands = Vec::with_capacity(call.args.len());
        for a in &call.args {
            operands.push(self.qubits(a)?);
        }
        let mut width = None;
        for o in operands.iter().filter(|o| o.broadcast) {
            match width {
                None => width = Some(o.items.len()),
                Some(w) if w != o.items.len() => {
                    return Err(Diag::new(
                        o.span,
                        format!(
                            "registers of different sizes ({w} and {}) in one gate application",
                            o.items.len()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let condition = match active {
            None => return Ok(()),
            Some(bits) if bits.is_empty() => None,
            Some(bits) => Some(Condition {
                clbits: bits.iter().map(|b| b.0).collect(),
                value: bits.iter().enumerate().fold(0, |v, (i, b)| v | u64::from(b.1) << i),
            }),
        };
        for i in 0..width.unwrap_or(1) {
            let qubits: Vec<Qubit> = operands
                .iter()
                .map(|o| if o.broadcast { o.items[i] } else { o.items[0] })
                .collect();
            if let Some(dup) = qubits.iter().enumerate().find(|(k, q)| qubits[..*k].contains(q)) {
                return Err(Diag::new(
                    call.span,
                    format!("qubit {} is used more than once in one gate application", dup.1),
                ));
            }
            let body =
                self.expand_resolved(&resolved, &qubits).map_err(|m| Diag::new(call.span, m))?;
            for p in body.prims {
                let op = Operation::Gate {
                    gate: p.gate,
                    qubits: p.qubits.into(),
                    condition: condition.clone(),
                };
                self.push(op, call.span)?;
            }
        }
        Ok(())
    }
}

/// The condition `bits` within `outer`; `None` if they contradict.
fn merge(outer: &Active, bits: &[(Clbit, bool)]) -> Active {
    let mut v = outer.clone()?;
    for (b, want) in bits {
        match v.iter().find(|(x, _)| x == b) {
            Some((_, w)) if w != want => return None,
            Some(_) => {}
            None => v.push((*b, *want)),
        }
    }
    Some(v)
}
