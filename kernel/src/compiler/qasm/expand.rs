//! Gate definitions, includes and the expansion of gate applications.
//!
//! A definition is checked when it is declared (every gate it calls exists
//! and is declared before it, arities and parameter counts match, operands
//! are its own arguments), so a definition can never call itself and
//! expansion cannot recurse forever. Expansion is still bounded: nesting by
//! `max_gate_depth`, work and output by `max_operations`, so that
//! exponential definitions and `pow(1000000000) @` fail fast with an error.

use super::ast::{Expr, GateCall, GateDef, Ident, Modifier, StmtKind};
use super::diag::{Diag, Span};
use super::eval::{self, Names};
use super::lower::{Consts, Lowerer};
use super::stdlib::{self, Builtin};
use super::transform::{self, Body, Prim};
use super::{lexer, parser};
use eigen_hal::Gate;
use eigen_hal::circuit::Qubit;
use std::collections::HashMap;
use std::rc::Rc;

/// What a gate name refers to.
#[derive(Debug, Clone)]
pub(super) enum GateEntry {
    /// A gate with a direct hal counterpart, and the file that declared it.
    Builtin(Builtin, &'static str),
    /// A definition; `ok` is false when it had errors (already reported).
    User { def: Rc<GateDef>, ok: bool },
    /// `gphase(θ)`: a global phase, on no qubits.
    GPhase,
}

impl GateEntry {
    fn params(&self) -> usize {
        match self {
            GateEntry::Builtin(b, _) => b.params,
            GateEntry::User { def, .. } => def.params.len(),
            GateEntry::GPhase => 1,
        }
    }

    fn qubits(&self) -> usize {
        match self {
            GateEntry::Builtin(b, _) => b.qubits,
            GateEntry::User { def, .. } => def.qubits.len(),
            GateEntry::GPhase => 0,
        }
    }
}

/// A modifier with its numbers resolved.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mod {
    Inv,
    Pow(i64),
    Ctrl { n: usize, neg: bool },
}

/// A top-level gate application with everything but its qubits resolved.
#[derive(Debug)]
pub(super) struct Resolved {
    entry: GateEntry,
    mods: Vec<Mod>,
    params: Vec<f64>,
}

/// Names inside a gate body: its parameters, then the constants.
struct Env<'a> {
    names: &'a [Ident],
    values: &'a [f64],
    consts: &'a HashMap<String, f64>,
}

impl Names for Env<'_> {
    fn lookup(&self, name: &str) -> Option<f64> {
        match self.names.iter().position(|n| n.name == name) {
            Some(k) => self.values.get(k).copied(),
            None => self.consts.get(name).copied(),
        }
    }
}

/// Checks that every name in `e` is a parameter, constant or built-in.
fn check_names(e: &Expr, params: &[Ident], consts: &HashMap<String, f64>) -> Result<(), Diag> {
    match e {
        Expr::Int(..) | Expr::Real(..) => Ok(()),
        Expr::Name(id) => {
            if params.iter().any(|p| p.name == id.name)
                || consts.contains_key(&id.name)
                || eval::builtin_constant(&id.name).is_some()
            {
                Ok(())
            } else {
                Err(Diag::new(id.span, format!("unknown name '{}'", id.name)))
            }
        }
        Expr::Neg(a, _) => check_names(a, params, consts),
        Expr::Binary(_, a, b, _) => {
            check_names(a, params, consts)?;
            check_names(b, params, consts)
        }
        Expr::Call(_, args, _) => args.iter().try_for_each(|a| check_names(a, params, consts)),
    }
}

impl Lowerer<'_> {
    /// `U`, `CX` and `gphase`, available in every program.
    pub(super) fn add_primitives(&mut self) {
        for b in stdlib::PRIMITIVES {
            self.gates.insert(b.name.to_string(), GateEntry::Builtin(*b, "the language"));
        }
        self.gates.insert("gphase".into(), GateEntry::GPhase);
    }

    /// `include "name";` from the built-in files.
    pub(super) fn include(&mut self, name: &str, span: Span) -> Result<(), Diag> {
        let Some((gates, definitions)) = stdlib::include(name) else {
            return Err(Diag::new(
                span,
                format!(
                    "unknown include file '{name}': only \"qelib1.inc\" and \"stdgates.inc\" \
                     are built in (includes are never read from disk)"
                ),
            ));
        };
        if !self.includes.insert(name.to_string()) {
            self.warnings.push(Diag::new(span, format!("'{name}' is included more than once")));
            return Ok(());
        }
        let file: &'static str = if name == "qelib1.inc" { "qelib1.inc" } else { "stdgates.inc" };
        for b in gates {
            match self.gates.get(b.name) {
                Some(GateEntry::Builtin(..)) => {}
                // A program's own definition of a later addition stays.
                Some(_) if file == "qelib1.inc" && !stdlib::QELIB1_ORIGINAL.contains(&b.name) => {}
                Some(_) => {
                    self.errors.push(Diag::new(
                        span,
                        format!("'{name}' defines '{}', which the program already defines", b.name),
                    ));
                }
                None => {
                    self.gates.insert(b.name.to_string(), GateEntry::Builtin(*b, file));
                }
            }
        }
        if !definitions.is_empty() {
            let mut errors = Vec::new();
            let toks = lexer::lex(definitions, &mut errors);
            let (program, mut more) = parser::parse_program(definitions, &toks, 64);
            errors.append(&mut more);
            let before = self.errors.len();
            for s in &program.stmts {
                if let StmtKind::GateDef(def) = &s.kind {
                    self.define_gate(def.clone());
                }
            }
            // Built-in definitions are known to be correct; should one ever
            // fail, say so at the include rather than at a meaningless place.
            let mut internal: Vec<Diag> =
                errors.into_iter().chain(self.errors.drain(before..)).collect();
            for d in &mut internal {
                d.span = span;
                d.message = format!("internal error in built-in '{name}': {}", d.message);
            }
            self.errors.extend(internal);
        }
        Ok(())
    }

    /// Checks and records a gate definition, reporting every problem.
    pub(super) fn define_gate(&mut self, def: Rc<GateDef>) {
        let name = &def.name;
        let addition = match self.gates.get(&name.name) {
            Some(GateEntry::Builtin(_, "qelib1.inc")) => {
                !stdlib::QELIB1_ORIGINAL.contains(&name.name.as_str())
            }
            _ => false,
        };
        if let Some(existing) = self.gates.get(&name.name).filter(|_| !addition) {
            let by = match existing {
                GateEntry::Builtin(_, file) => format!(" by {file}"),
                GateEntry::GPhase => " by the language".to_string(),
                GateEntry::User { .. } => String::new(),
            };
            self.errors
                .push(Diag::new(name.span, format!("gate '{}' is already defined{by}", name.name)));
            return;
        }
        let before = self.errors.len();
        for (k, p) in def.params.iter().chain(&def.qubits).enumerate() {
            if def.params.iter().chain(&def.qubits).take(k).any(|q| q.name == p.name) {
                self.errors.push(Diag::new(
                    p.span,
                    format!("'{}' is declared twice in the gate's arguments", p.name),
                ));
            }
        }
        for call in &def.body {
            if let Err(e) = self.check_body_call(&def, call) {
                self.errors.push(e);
            }
        }
        let ok = self.errors.len() == before;
        self.gates.insert(name.name.clone(), GateEntry::User { def, ok });
    }

    fn check_body_call(&self, def: &GateDef, call: &GateCall) -> Result<(), Diag> {
        if call.name.name == def.name.name {
            return Err(Diag::new(
                call.name.span,
                format!(
                    "gate '{}' calls itself: recursive gate definitions are not allowed",
                    def.name.name
                ),
            ));
        }
        let entry = self.lookup(&call.name)?;
        let mods = self.resolve_mods(&call.modifiers, None)?;
        for m in &call.modifiers {
            if let Modifier::Pow(e, _) = m {
                check_names(e, &def.params, &self.consts)?;
            }
        }
        check_shape(&entry, call, &mods)?;
        for p in &call.params {
            check_names(p, &def.params, &self.consts)?;
        }
        for (k, a) in call.args.iter().enumerate() {
            if a.index.is_some() {
                return Err(Diag::new(
                    a.span,
                    "gate arguments cannot be indexed inside a gate body",
                ));
            }
            if !def.qubits.iter().any(|q| q.name == a.name.name) {
                return Err(Diag::new(a.span, format!("unknown qubit argument '{}'", a.name.name)));
            }
            if call.args[..k].iter().any(|b| b.name.name == a.name.name) {
                return Err(Diag::new(
                    a.span,
                    format!("qubit argument '{}' is used twice", a.name.name),
                ));
            }
        }
        Ok(())
    }

    fn lookup(&self, name: &Ident) -> Result<GateEntry, Diag> {
        if let Some(e) = self.gates.get(&name.name) {
            return Ok(e.clone());
        }
        let in_lib = |lib: &[Builtin]| lib.iter().any(|b| b.name == name.name);
        let hint = if in_lib(stdlib::QELIB1) && self.version == super::ast::Version::V2 {
            " (is 'include \"qelib1.inc\";' missing?)"
        } else if in_lib(stdlib::STDGATES) {
            " (is 'include \"stdgates.inc\";' missing?)"
        } else if in_lib(stdlib::QELIB1) {
            " (is 'include \"qelib1.inc\";' missing?)"
        } else {
            ""
        };
        Err(Diag::new(name.span, format!("unknown gate '{}'{hint}", name.name)))
    }

    /// Resolves modifiers; `pow` exponents need `names` (skipped when `None`).
    fn resolve_mods(&self, mods: &[Modifier], names: Option<&dyn Names>) -> Result<Vec<Mod>, Diag> {
        let consts = Consts(&self.consts);
        mods.iter()
            .map(|m| {
                Ok(match m {
                    Modifier::Inv => Mod::Inv,
                    Modifier::Pow(e, span) => match names {
                        None => Mod::Pow(1),
                        Some(names) => {
                            let v = eval::eval(e, names)?;
                            if v.fract() != 0.0 {
                                return Err(Diag::new(
                                    *span,
                                    format!("non-integer powers are not supported: pow({v})"),
                                ));
                            }
                            if v.abs() > 1e15 {
                                return Err(Diag::new(*span, format!("pow({v}) is too large")));
                            }
                            #[allow(clippy::cast_possible_truncation)]
                            Mod::Pow(v as i64)
                        }
                    },
                    Modifier::Ctrl(e, span) | Modifier::NegCtrl(e, span) => {
                        let n = match e {
                            None => 1,
                            Some(e) => eval::eval_uint(e, &consts, "a control count")?,
                        };
                        if n == 0 || n > u64::from(self.limits.max_qubits) {
                            return Err(Diag::new(
                                *span,
                                format!("invalid number of controls: {n}"),
                            ));
                        }
                        let n = usize::try_from(n).expect("at most max_qubits");
                        Mod::Ctrl { n, neg: matches!(m, Modifier::NegCtrl(..)) }
                    }
                })
            })
            .collect()
    }

    /// Resolves a top-level gate application (everything but the qubits).
    pub(super) fn resolve_call(&self, call: &GateCall) -> Result<Resolved, Diag> {
        let entry = self.lookup(&call.name)?;
        let consts = Consts(&self.consts);
        let mods = self.resolve_mods(&call.modifiers, Some(&consts))?;
        check_shape(&entry, call, &mods)?;
        let params =
            call.params.iter().map(|p| eval::eval(p, &consts)).collect::<Result<Vec<_>, _>>()?;
        Ok(Resolved { entry, mods, params })
    }

    /// Expands a resolved application on `qubits`.
    pub(super) fn expand_resolved(
        &mut self,
        r: &Resolved,
        qubits: &[Qubit],
    ) -> Result<Body, String> {
        self.apply(&r.entry, &r.mods, &r.params, qubits, 0)
    }

    fn budget(&mut self, work: usize) -> Result<(), String> {
        self.steps = self.steps.saturating_add(work);
        if self.steps > self.limits.max_operations.saturating_mul(4) {
            return Err(format!(
                "the program expands to more than {} operations",
                self.limits.max_operations
            ));
        }
        Ok(())
    }

    fn check_len(&self, n: usize) -> Result<(), String> {
        if n > self.limits.max_operations {
            return Err(format!(
                "the program expands to more than {} operations",
                self.limits.max_operations
            ));
        }
        Ok(())
    }

    /// `mods @ entry(params) qubits`: the modifiers apply innermost (last)
    /// first, iteratively, so long modifier chains use no stack.
    fn apply(
        &mut self,
        entry: &GateEntry,
        mods: &[Mod],
        params: &[f64],
        qubits: &[Qubit],
        depth: u32,
    ) -> Result<Body, String> {
        let mut offsets = Vec::with_capacity(mods.len());
        let mut off = 0usize;
        for m in mods {
            offsets.push(off);
            if let Mod::Ctrl { n, .. } = m {
                off += n;
            }
        }
        let target = qubits.get(off..).ok_or("too few qubits for the controls")?;
        let mut body = Body::default();
        self.expand_plain(entry, params, target, depth, &mut body)?;
        for (m, o) in mods.iter().zip(offsets).rev() {
            body = match *m {
                Mod::Inv => transform::invert(&body),
                Mod::Pow(k) => {
                    let base = if k < 0 { transform::invert(&body) } else { body };
                    let reps = usize::try_from(k.unsigned_abs()).unwrap_or(usize::MAX);
                    #[allow(clippy::cast_precision_loss)]
                    let phase = base.phase * reps as f64;
                    let total = base.prims.len().saturating_mul(reps);
                    self.check_len(total)?;
                    self.budget(total)?;
                    let mut prims = Vec::with_capacity(total);
                    for _ in 0..if base.prims.is_empty() { 0 } else { reps } {
                        prims.extend(base.prims.iter().cloned());
                    }
                    Body { prims, phase }
                }
                Mod::Ctrl { n, neg } => {
                    let cs = qubits.get(o..o + n).ok_or("too few qubits for the controls")?;
                    let controlled = transform::control(&body, cs)?;
                    if neg {
                        let flip = cs.iter().map(|q| Prim { gate: Gate::X, qubits: vec![*q] });
                        let mut prims: Vec<Prim> = flip.clone().collect();
                        prims.extend(controlled.prims);
                        prims.extend(flip);
                        Body { prims, phase: controlled.phase }
                    } else {
                        controlled
                    }
                }
            };
            self.check_len(body.prims.len())?;
            self.budget(body.prims.len())?;
        }
        Ok(body)
    }

    /// Appends `entry(params) qubits` without modifiers to `out`.
    fn expand_plain(
        &mut self,
        entry: &GateEntry,
        params: &[f64],
        qubits: &[Qubit],
        depth: u32,
        out: &mut Body,
    ) -> Result<(), String> {
        self.budget(1)?;
        match entry {
            GateEntry::Builtin(b, _) => {
                if params.len() != b.params || qubits.len() != b.qubits {
                    return Err(format!("'{}' applied with the wrong shape", b.name));
                }
                self.check_len(out.prims.len() + 1)?;
                out.prims.push(Prim { gate: (b.make)(params), qubits: qubits.to_vec() });
            }
            GateEntry::GPhase => out.phase += params.first().copied().unwrap_or(0.0),
            GateEntry::User { ok: false, .. } => {}
            GateEntry::User { def, ok: true } => {
                if depth >= self.limits.max_gate_depth {
                    return Err(format!(
                        "gate definitions are nested more than {} deep (in '{}')",
                        self.limits.max_gate_depth, def.name.name
                    ));
                }
                let def = def.clone();
                for call in &def.body {
                    let env = Env { names: &def.params, values: params, consts: &self.consts };
                    let in_gate = |d: Diag| format!("in gate '{}': {}", def.name.name, d.message);
                    let mods = self.resolve_mods(&call.modifiers, Some(&env)).map_err(in_gate)?;
                    let vals = call
                        .params
                        .iter()
                        .map(|p| eval::eval(p, &env))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(in_gate)?;
                    let mut qs = Vec::with_capacity(call.args.len());
                    for a in &call.args {
                        let k = def.qubits.iter().position(|q| q.name == a.name.name);
                        qs.push(*k.and_then(|k| qubits.get(k)).ok_or("unresolved gate argument")?);
                    }
                    let inner = self.lookup(&call.name).map_err(in_gate)?;
                    if mods.is_empty() {
                        self.expand_plain(&inner, &vals, &qs, depth + 1, out)?;
                    } else {
                        let b = self.apply(&inner, &mods, &vals, &qs, depth + 1)?;
                        self.check_len(out.prims.len() + b.prims.len())?;
                        out.prims.extend(b.prims);
                        out.phase += b.phase;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks the parameter and qubit counts of an application.
fn check_shape(entry: &GateEntry, call: &GateCall, mods: &[Mod]) -> Result<(), Diag> {
    let name = &call.name.name;
    if call.params.len() != entry.params() {
        return Err(Diag::new(
            call.span,
            format!(
                "gate '{name}' takes {} parameter(s), got {}",
                entry.params(),
                call.params.len()
            ),
        ));
    }
    let controls: usize =
        mods.iter().map(|m| if let Mod::Ctrl { n, .. } = m { *n } else { 0 }).sum();
    let want = entry.qubits() + controls;
    if call.args.len() != want {
        let extra =
            if controls > 0 { format!(" ({controls} control(s) included)") } else { String::new() };
        return Err(Diag::new(
            call.span,
            format!("gate '{name}' takes {want} qubit(s){extra}, got {}", call.args.len()),
        ));
    }
    Ok(())
}
