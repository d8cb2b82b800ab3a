//! Evaluation of classical expressions to numbers.
//!
//! Angles are `f64`; sizes, indices and condition values are integers and
//! must evaluate to whole numbers. Division by zero and results that are not
//! finite numbers are errors at the offending sub-expression.

use super::ast::{BinOp, Expr};
use super::diag::{Diag, Span};

/// Resolves a name to a value (gate parameters, then constants).
pub trait Names {
    /// The value of `name`, if it names a number here.
    fn lookup(&self, name: &str) -> Option<f64>;
}

/// No names besides the built-in constants.
#[cfg(test)]
#[derive(Debug)]
pub struct NoNames;

#[cfg(test)]
impl Names for NoNames {
    fn lookup(&self, _: &str) -> Option<f64> {
        None
    }
}

/// The built-in constants.
#[must_use]
pub fn builtin_constant(name: &str) -> Option<f64> {
    Some(match name {
        "pi" | "π" => std::f64::consts::PI,
        "tau" | "τ" => std::f64::consts::TAU,
        "euler" | "ℇ" => std::f64::consts::E,
        "true" => 1.0,
        "false" => 0.0,
        _ => return None,
    })
}

fn finite(v: f64, span: Span) -> Result<f64, Diag> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Diag::new(span, "expression does not evaluate to a finite number"))
    }
}

/// Evaluates `e` to a real number.
pub fn eval(e: &Expr, names: &dyn Names) -> Result<f64, Diag> {
    match e {
        // Exactly representable up to 2^53; beyond, the nearest double.
        #[allow(clippy::cast_precision_loss)]
        Expr::Int(v, _) => Ok(*v as f64),
        Expr::Real(v, s) => finite(*v, *s),
        Expr::Name(id) => names
            .lookup(&id.name)
            .or_else(|| builtin_constant(&id.name))
            .ok_or_else(|| Diag::new(id.span, format!("unknown name '{}'", id.name))),
        Expr::Neg(inner, _) => Ok(-eval(inner, names)?),
        Expr::Binary(op, a, b, span) => {
            let (x, y) = (eval(a, names)?, eval(b, names)?);
            let v = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div | BinOp::Rem if y == 0.0 => {
                    return Err(Diag::new(b.span(), "division by zero"));
                }
                BinOp::Div => x / y,
                BinOp::Rem => x % y,
                BinOp::Pow => x.powf(y),
            };
            finite(v, *span)
        }
        Expr::Call(f, args, span) => {
            let vals = args.iter().map(|a| eval(a, names)).collect::<Result<Vec<_>, _>>()?;
            let want = match f.name.as_str() {
                "mod" | "pow" => 2,
                _ => 1,
            };
            let known = matches!(
                f.name.as_str(),
                "sin"
                    | "cos"
                    | "tan"
                    | "exp"
                    | "ln"
                    | "log"
                    | "sqrt"
                    | "arcsin"
                    | "arccos"
                    | "arctan"
                    | "asin"
                    | "acos"
                    | "atan"
                    | "floor"
                    | "ceiling"
                    | "mod"
                    | "pow"
            );
            if !known {
                return Err(Diag::new(f.span, format!("unknown function '{}'", f.name)));
            }
            if vals.len() != want {
                return Err(Diag::new(
                    *span,
                    format!("'{}' takes {want} argument(s), got {}", f.name, vals.len()),
                ));
            }
            let x = vals[0];
            let v = match f.name.as_str() {
                "sin" => x.sin(),
                "cos" => x.cos(),
                "tan" => x.tan(),
                "exp" => x.exp(),
                "ln" | "log" => x.ln(),
                "sqrt" => x.sqrt(),
                "arcsin" | "asin" => x.asin(),
                "arccos" | "acos" => x.acos(),
                "arctan" | "atan" => x.atan(),
                "floor" => x.floor(),
                "ceiling" => x.ceil(),
                "mod" if vals[1] == 0.0 => {
                    return Err(Diag::new(args[1].span(), "division by zero"));
                }
                "mod" => x % vals[1],
                _ => x.powf(vals[1]),
            };
            finite(v, *span)
        }
    }
}

/// Evaluates `e` to a whole number (negative allowed).
pub fn eval_int(e: &Expr, names: &dyn Names, what: &str) -> Result<i64, Diag> {
    if let Expr::Int(v, s) = e {
        return i64::try_from(*v).map_err(|_| Diag::new(*s, format!("{what} is too large")));
    }
    let v = eval(e, names)?;
    if v.fract() != 0.0 {
        return Err(Diag::new(e.span(), format!("{what} must be a whole number, got {v}")));
    }
    // 2^53: beyond it doubles skip integers.
    if v.abs() > 9_007_199_254_740_992.0 {
        return Err(Diag::new(e.span(), format!("{what} is too large")));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(v as i64)
}

/// Evaluates `e` to a non-negative whole number, exactly for literals up to
/// `u64::MAX` (condition values on 64 bits).
pub fn eval_uint(e: &Expr, names: &dyn Names, what: &str) -> Result<u64, Diag> {
    if let Expr::Int(v, _) = e {
        return Ok(*v);
    }
    let v = eval_int(e, names, what)?;
    u64::try_from(v).map_err(|_| Diag::new(e.span(), format!("{what} must not be negative")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::qasm::{lexer, parser};

    fn value(src: &str) -> Result<f64, String> {
        let program = format!("OPENQASM 2.0; rz({src}) q;");
        let mut errs = Vec::new();
        let toks = lexer::lex(&program, &mut errs);
        let (p, errs) = parser::parse_program(&program, &toks, 64);
        assert!(errs.is_empty(), "{errs:?}");
        let super::super::ast::StmtKind::Call(call) = &p.stmts[0].kind else { panic!() };
        eval(&call.params[0], &NoNames).map_err(|d| d.message)
    }

    #[test]
    fn arithmetic_follows_precedence() {
        let pi = std::f64::consts::PI;
        assert_eq!(value("1+2*3").unwrap(), 7.0);
        assert_eq!(value("-2^2").unwrap(), -4.0);
        assert_eq!(value("2^3^2").unwrap(), 512.0);
        assert_eq!(value("(1+2)*3").unwrap(), 9.0);
        assert!((value("pi/2").unwrap() - pi / 2.0).abs() < 1e-15);
        assert!((value("-pi/4 + 2*pi").unwrap() - 1.75 * pi).abs() < 1e-15);
        assert!((value("sin(pi/2) + cos(0) + ln(exp(2)) + sqrt(4)").unwrap() - 6.0).abs() < 1e-12);
        assert!(
            (value("arcsin(1) + arccos(1) + arctan(1) + tan(0)").unwrap() - 0.75 * pi).abs()
                < 1e-12
        );
        assert!((value("tau - 2*π + euler").unwrap() - std::f64::consts::E).abs() < 1e-15);
        assert_eq!(value("1e3 + .5 + 2.").unwrap(), 1002.5);
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(value("1/0").unwrap_err(), "division by zero");
        assert_eq!(value("1/(pi-pi)").unwrap_err(), "division by zero");
        assert_eq!(value("foo").unwrap_err(), "unknown name 'foo'");
        assert_eq!(value("frob(1)").unwrap_err(), "unknown function 'frob'");
        assert_eq!(value("sin(1, 2)").unwrap_err(), "'sin' takes 1 argument(s), got 2");
        assert_eq!(value("ln(0)").unwrap_err(), "expression does not evaluate to a finite number");
        assert_eq!(
            value("sqrt(-1)").unwrap_err(),
            "expression does not evaluate to a finite number"
        );
    }
}
