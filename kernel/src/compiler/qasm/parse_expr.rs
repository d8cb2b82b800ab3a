//! Expressions: precedence climbing with a bound on nesting.
//!
//! Two depths are bounded by `max_depth`: the parser's own recursion
//! (parentheses, unary signs, calls) and the depth of the tree built (long
//! flat chains like `1+1+...+1` make deep left-leaning trees, which every
//! later recursive walk would descend).

use super::super::ast::{BinOp, Expr, Ident, Version};
use super::super::diag::{Diag, Span};
use super::super::lexer::TokKind;
use super::{PResult, Parser, binop};

impl Parser<'_> {
    /// One expression.
    pub(super) fn expr(&mut self, level: u32) -> PResult<Expr> {
        Ok(self.sum(level)?.0)
    }

    fn too_deep(&self, depth: u32, span: Span) -> PResult<()> {
        if depth > self.max_depth {
            Err(Diag::new(
                span,
                format!("expression is nested too deeply (more than {} levels)", self.max_depth),
            ))
        } else {
            Ok(())
        }
    }

    fn binary(&mut self, op: BinOp, lhs: (Expr, u32), rhs: (Expr, u32)) -> PResult<(Expr, u32)> {
        let span = lhs.0.span().to(rhs.0.span());
        let depth = lhs.1.max(rhs.1) + 1;
        self.too_deep(depth, span)?;
        Ok((Expr::Binary(op, Box::new(lhs.0), Box::new(rhs.0), span), depth))
    }

    fn sum(&mut self, level: u32) -> PResult<(Expr, u32)> {
        let mut lhs = self.product(level)?;
        while self.at("+") || self.at("-") {
            let t = self.bump();
            let op = binop(self.text(t)).expect("+ and - are operators");
            let rhs = self.product(level)?;
            lhs = self.binary(op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn product(&mut self, level: u32) -> PResult<(Expr, u32)> {
        let mut lhs = self.unary(level)?;
        while self.at("*") || self.at("/") || self.at("%") {
            let t = self.bump();
            let op = binop(self.text(t)).expect("* / % are operators");
            let rhs = self.unary(level)?;
            lhs = self.binary(op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self, level: u32) -> PResult<(Expr, u32)> {
        if self.at("-") || self.at("+") {
            let t = self.bump();
            self.too_deep(level + 1, t.span)?;
            let (e, d) = self.unary(level + 1)?;
            if self.is_punct(t, "+") {
                return Ok((e, d));
            }
            let span = t.span.to(e.span());
            return Ok((Expr::Neg(Box::new(e), span), d + 1));
        }
        self.power(level)
    }

    fn power(&mut self, level: u32) -> PResult<(Expr, u32)> {
        let base = self.atom(level)?;
        if self.at("**") || self.at("^") {
            let t = self.bump();
            if self.is_punct(t, "^") && self.version == Some(Version::V3) {
                return Err(Diag::new(
                    t.span,
                    "'^' is bitwise XOR in OpenQASM 3, which is not supported; use '**' for powers",
                ));
            }
            self.too_deep(level + 1, t.span)?;
            let exp = self.unary(level + 1)?;
            return self.binary(BinOp::Pow, base, exp);
        }
        Ok(base)
    }

    fn atom(&mut self, level: u32) -> PResult<(Expr, u32)> {
        let t = self.peek();
        match t.kind {
            TokKind::Int => {
                self.pos += 1;
                let text = self.text(t).replace('_', "");
                let (digits, radix) = match text.get(..2) {
                    Some("0x" | "0X") => (&text[2..], 16),
                    Some("0o" | "0O") => (&text[2..], 8),
                    Some("0b" | "0B") => (&text[2..], 2),
                    _ => (text.as_str(), 10),
                };
                match u64::from_str_radix(digits, radix) {
                    Ok(v) => Ok((Expr::Int(v, t.span), 1)),
                    Err(_) if radix == 10 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        // Too big for an integer: still a fine angle.
                        let v: f64 = digits.parse().map_err(|_| self.bad_number(t.span))?;
                        Ok((Expr::Real(v, t.span), 1))
                    }
                    Err(_) => Err(self.bad_number(t.span)),
                }
            }
            TokKind::Float => {
                self.pos += 1;
                let text = self.text(t).replace('_', "");
                let v: f64 = text.parse().map_err(|_| self.bad_number(t.span))?;
                Ok((Expr::Real(v, t.span), 1))
            }
            TokKind::Duration => Err(Diag::new(t.span, "durations are not supported")),
            TokKind::Ident => {
                self.pos += 1;
                let name = Ident { name: self.text(t).to_string(), span: t.span };
                if !self.at("(") {
                    return Ok((Expr::Name(name), 1));
                }
                let open = self.bump();
                self.too_deep(level + 1, open.span)?;
                let mut args = Vec::new();
                let mut depth = 1;
                if !self.at(")") {
                    loop {
                        let (a, d) = self.sum(level + 1)?;
                        depth = depth.max(d + 1);
                        args.push(a);
                        if !self.eat(",") {
                            break;
                        }
                    }
                }
                let close = self.expect(")")?;
                Ok((Expr::Call(name, args, t.span.to(close.span)), depth))
            }
            TokKind::Punct if self.is_punct(t, "(") => {
                self.pos += 1;
                self.too_deep(level + 1, t.span)?;
                let inner = self.sum(level + 1)?;
                self.expect(")")?;
                Ok(inner)
            }
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn bad_number(&self, span: Span) -> Diag {
        Diag::new(span, format!("invalid number '{}'", &self.src[span.range()]))
    }
}
