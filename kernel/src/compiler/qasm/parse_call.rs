//! Gate definitions, gate applications (with modifiers) and operands.

use super::super::ast::{GateCall, GateDef, Ident, Index, Modifier, Operand, StmtKind};
use super::super::diag::Diag;
use super::super::lexer::TokKind;
use super::{PResult, Parser, unsupported_keyword};
use std::rc::Rc;

impl Parser<'_> {
    /// `gate name(params) a, b { body }`.
    pub(super) fn gate_def(&mut self, depth: u32) -> PResult<StmtKind> {
        let kw = self.bump();
        if depth > 0 {
            return Err(Diag::new(kw.span, "gate definitions are only allowed at the top level"));
        }
        let name = self.ident("a gate name")?;
        let mut params = Vec::new();
        if self.eat("(") {
            if !self.at(")") {
                loop {
                    params.push(self.ident("a parameter name")?);
                    if !self.eat(",") {
                        break;
                    }
                }
            }
            self.expect(")")?;
        }
        let mut qubits = Vec::new();
        if !self.at("{") {
            loop {
                qubits.push(self.ident("a qubit argument name")?);
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.expect("{")?;
        let mut body = Vec::new();
        while !self.at("}") {
            if self.peek().kind == TokKind::Eof {
                return Err(self.unexpected("'}' closing the gate body"));
            }
            let start = self.pos;
            if let Err(e) = self.body_statement(&mut body) {
                self.errors.push(e);
                self.recover();
                if self.pos == start {
                    self.pos += 1;
                }
            }
        }
        self.expect("}")?;
        Ok(StmtKind::GateDef(Rc::new(GateDef { name, params, qubits, body })))
    }

    fn body_statement(&mut self, body: &mut Vec<GateCall>) -> PResult<()> {
        let t = self.peek();
        if t.kind == TokKind::Ident {
            let word = self.text(t);
            if let Some(msg) = unsupported_keyword(word) {
                return Err(Diag::new(t.span, msg));
            }
            match word {
                "barrier" => {
                    // A fence inside a definition has no effect on the result.
                    self.pos += 1;
                    self.operands()?;
                    self.expect(";")?;
                    return Ok(());
                }
                "measure" | "reset" | "if" | "qreg" | "creg" | "qubit" | "bit" | "gate"
                | "include" | "const" => {
                    return Err(Diag::new(
                        t.span,
                        format!("'{word}' is not allowed in a gate body"),
                    ));
                }
                _ => {}
            }
        }
        body.push(self.gate_call()?);
        Ok(())
    }

    /// True when the identifier at the cursor starts a modifier.
    fn at_modifier(&self) -> bool {
        let t = self.peek();
        if t.kind != TokKind::Ident || !matches!(self.text(t), "inv" | "pow" | "ctrl" | "negctrl") {
            return false;
        }
        let next = self.peek_at(1);
        if self.is_punct(next, "@") {
            return true;
        }
        if !self.is_punct(next, "(") {
            return false;
        }
        // Find the matching `)` and look for `@` after it.
        let mut depth = 0usize;
        let mut k = self.pos + 1;
        while k < self.toks.len() {
            let tk = self.toks[k];
            if self.is_punct(tk, "(") {
                depth += 1;
            } else if self.is_punct(tk, ")") {
                depth -= 1;
                if depth == 0 {
                    return self.toks.get(k + 1).is_some_and(|a| self.is_punct(*a, "@"));
                }
            } else if tk.kind == TokKind::Eof || self.is_punct(tk, ";") {
                return false;
            }
            k += 1;
        }
        false
    }

    /// `[modifiers @] name[(params)] operands;`.
    pub(super) fn gate_call(&mut self) -> PResult<GateCall> {
        let start = self.peek().span;
        let mut modifiers = Vec::new();
        while self.at_modifier() {
            let kw = self.ident("a modifier")?;
            let arg = if self.eat("(") {
                let e = self.expr(0)?;
                self.expect(")")?;
                Some(e)
            } else {
                None
            };
            let span = kw.span.to(self.prev_end());
            self.expect("@")?;
            modifiers.push(match (kw.name.as_str(), arg) {
                ("inv", None) => Modifier::Inv,
                ("inv", Some(_)) => return Err(Diag::new(span, "'inv' takes no argument")),
                ("pow", Some(e)) => Modifier::Pow(e, span),
                ("pow", None) => return Err(Diag::new(span, "'pow' needs an exponent: pow(k)")),
                ("ctrl", a) => Modifier::Ctrl(a, span),
                (_, a) => Modifier::NegCtrl(a, span),
            });
        }
        let name = self.ident("a gate name")?;
        let mut params = Vec::new();
        if self.eat("(") {
            if !self.at(")") {
                loop {
                    params.push(self.expr(0)?);
                    if !self.eat(",") {
                        break;
                    }
                }
            }
            self.expect(")")?;
        }
        let args = self.operands()?;
        self.expect(";")?;
        Ok(GateCall { modifiers, name, params, args, span: start.to(self.prev_end()) })
    }

    /// A comma-separated operand list, possibly empty (before `;`).
    pub(super) fn operands(&mut self) -> PResult<Vec<Operand>> {
        let mut out = Vec::new();
        if self.at(";") {
            return Ok(out);
        }
        loop {
            out.push(self.operand()?);
            if !self.eat(",") {
                return Ok(out);
            }
        }
    }

    /// `name`, `name[index]` or `$n`.
    pub(super) fn operand(&mut self) -> PResult<Operand> {
        let t = self.peek();
        let name = match t.kind {
            TokKind::Ident | TokKind::HwQubit => {
                self.pos += 1;
                Ident { name: self.text(t).to_string(), span: t.span }
            }
            _ => return Err(self.unexpected("a qubit or bit")),
        };
        let mut index = None;
        if self.eat("[") {
            index = Some(self.index()?);
            self.expect("]")?;
        }
        Ok(Operand { name, index, span: t.span.to(self.prev_end()) })
    }

    fn index(&mut self) -> PResult<Index> {
        if self.eat("{") {
            let mut items = Vec::new();
            loop {
                items.push(self.expr(0)?);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect("}")?;
            return Ok(Index::Set(items));
        }
        let first = if self.at(":") { None } else { Some(self.expr(0)?) };
        if !self.eat(":") {
            return match first {
                Some(e) => Ok(Index::Single(e)),
                None => Err(self.unexpected("an index")),
            };
        }
        let second = if self.at("]") || self.at(":") { None } else { Some(self.expr(0)?) };
        if self.eat(":") {
            let third = if self.at("]") { None } else { Some(self.expr(0)?) };
            return Ok(Index::Range { start: first, step: second, end: third });
        }
        Ok(Index::Range { start: first, step: None, end: second })
    }
}
