//! A reader for the OpenQASM 2 subset of the benchmark circuits in
//! `/work/shared/bench/circuits` (h, x, rx, ry, rz, cx, cz, cp, swap,
//! measure; one `qreg`, one `creg`). Only for benchmarks: programs from
//! users go through the kernel's compiler.

use eigen_hal::{Circuit, Gate};
use std::fmt;

/// A line the reader does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ReadError {}

fn parse_angle(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Some(v);
    }
    // pi, -pi, pi/k, k*pi forms.
    let (sign, t) = t.strip_prefix('-').map_or((1.0, t), |r| (-1.0, r.trim()));
    let pi = std::f64::consts::PI;
    if t == "pi" {
        return Some(sign * pi);
    }
    if let Some(d) = t.strip_prefix("pi/") {
        return d.trim().parse::<f64>().ok().map(|d| sign * pi / d);
    }
    if let Some(m) = t.strip_suffix("*pi") {
        return m.trim().parse::<f64>().ok().map(|m| sign * m * pi);
    }
    None
}

fn index(arg: &str) -> Option<u32> {
    let open = arg.find('[')?;
    let close = arg.find(']')?;
    arg[open + 1..close].trim().parse().ok()
}

/// Reads a benchmark circuit.
pub fn read(text: &str) -> Result<Circuit, ReadError> {
    let mut circuit = Circuit::default();
    let mut measure_all = false;
    for (k, raw) in text.lines().enumerate() {
        let err = |m: &str| ReadError { line: k + 1, message: m.to_string() };
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with("OPENQASM") || line.starts_with("include") {
            continue;
        }
        let line = line.strip_suffix(';').ok_or_else(|| err("missing `;`"))?.trim();
        if let Some(rest) = line.strip_prefix("qreg") {
            circuit.num_qubits = index(rest).ok_or_else(|| err("bad qreg"))?;
            continue;
        }
        if let Some(rest) = line.strip_prefix("creg") {
            let size = index(rest).ok_or_else(|| err("bad creg"))?;
            circuit = Circuit { ops: circuit.ops, ..Circuit::new(circuit.num_qubits, size) };
            continue;
        }
        if let Some(rest) = line.strip_prefix("measure") {
            let (q, c) = rest.split_once("->").ok_or_else(|| err("bad measure"))?;
            match (index(q), index(c)) {
                (Some(q), Some(c)) => {
                    circuit.measure(q, c);
                }
                _ => measure_all = true,
            }
            continue;
        }
        let (head, args) = match line.find(|ch: char| ch.is_whitespace() || ch == '(') {
            Some(p) if line[p..].starts_with('(') => {
                let close = line.find(')').ok_or_else(|| err("missing `)`"))?;
                (&line[..close + 1], &line[close + 1..])
            }
            Some(p) => (&line[..p], &line[p..]),
            None => return Err(err("expected a gate and its operands")),
        };
        let (name, param) = match head.split_once('(') {
            Some((n, p)) => (n.trim(), Some(p.trim_end_matches(')'))),
            None => (head.trim(), None),
        };
        let angle = || param.and_then(parse_angle).ok_or_else(|| err("bad or missing angle"));
        let qubits: Vec<u32> =
            args.split(',').map(index).collect::<Option<_>>().ok_or_else(|| err("bad operand"))?;
        let gate = match name {
            "h" => Gate::H,
            "x" => Gate::X,
            "rx" => Gate::Rx(angle()?),
            "ry" => Gate::Ry(angle()?),
            "rz" => Gate::Rz(angle()?),
            "cx" => Gate::Cx,
            "cz" => Gate::Cz,
            "cp" => Gate::Cp(angle()?),
            "swap" => Gate::Swap,
            other => {
                return Err(err(&format!("gate `{other}` is outside the benchmark subset")));
            }
        };
        if gate.arity() != Some(qubits.len()) {
            return Err(err("wrong number of operands"));
        }
        circuit.gate(gate, &qubits);
    }
    if measure_all {
        for q in 0..circuit.num_qubits.min(circuit.num_clbits) {
            circuit.measure(q, q);
        }
    }
    Ok(circuit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let text = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n// c\nqreg q[3];\ncreg c[3];\nh q[0];\ncp(0.5) q[0],q[2];\nrx(-pi/2) q[1];\nmeasure q -> c;\n";
        let c = read(text).expect("valid");
        assert_eq!(c.num_qubits, 3);
        assert_eq!(c.ops.len(), 6);
        assert!(
            matches!(c.ops[2], eigen_hal::Operation::Gate { gate: Gate::Rx(a), .. } if (a + std::f64::consts::FRAC_PI_2).abs() < 1e-15)
        );
        let bad = read("qreg q[2];\nccx q[0],q[1],q[2];\n").expect_err("outside subset");
        assert_eq!(bad.line, 2);
    }
}
