//! Output: a circuit as OpenQASM 3 text, and its statistics on a target.
//!
//! The text declares one register `q` whose index is the physical qubit, the
//! program's classical registers by name, and definitions for the few gates
//! `stdgates.inc` lacks; it is meant to be parsed back by the front end.

use super::CompileStats;
use eigen_hal::{Circuit, Condition, Gate, Operation, Target};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Definitions for gates outside `stdgates.inc`, emitted when used.
const EXTRA_DEFS: &[(&str, &str)] = &[
    ("sxdg", "gate sxdg a { s a; h a; s a; }"),
    ("rzx", "gate rzx(t) a, b { h b; cx a, b; rz(t) b; cx a, b; h b; }"),
    ("ecr", "gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }"),
    ("iswap", "gate iswap a, b { s a; s b; h a; cx a, b; cx b, a; h b; }"),
    ("rxx", "gate rxx(t) a, b { h a; h b; cx a, b; rz(t) b; cx a, b; h a; h b; }"),
    (
        "ryy",
        "gate ryy(t) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(t) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b; }",
    ),
    ("rzz", "gate rzz(t) a, b { cx a, b; rz(t) b; cx a, b; }"),
];

/// The OpenQASM 3 text of `circuit`.
#[must_use]
pub fn program(circuit: &Circuit) -> String {
    // Which of the extra definitions are needed (a handful of names, so
    // a linear scan per gate beats a set).
    let mut used: Vec<&'static str> = Vec::new();
    for op in &circuit.ops {
        if let Operation::Gate { gate, .. } = op {
            let name = gate.name();
            if EXTRA_DEFS.iter().any(|(n, _)| *n == name) && !used.contains(&name) {
                used.push(name);
            }
        }
    }
    let mut s = String::with_capacity(64 + circuit.ops.len() * 24);
    let mut angles_seen = AngleCache::default();
    // `q[i]` for every qubit, formatted once: written thousands of times.
    let operand_text: Vec<String> = (0..circuit.num_qubits).map(|q| format!("q[{q}]")).collect();
    s.push_str("OPENQASM 3.0;\ninclude \"stdgates.inc\";\n");
    for (name, def) in EXTRA_DEFS {
        let needed = used.contains(name) || (*name == "rzx" && used.contains(&"ecr"));
        if needed {
            s.push_str(def);
            s.push('\n');
        }
    }
    let _ = writeln!(s, "qubit[{}] q;", circuit.num_qubits);
    let bit_name = |b: u32| -> String {
        match circuit.cregs.iter().find(|r| b >= r.offset && b < r.offset + r.size) {
            Some(r) => format!("{}[{}]", r.name, b - r.offset),
            None => format!("c[{b}]"),
        }
    };
    if circuit.cregs.is_empty() && circuit.num_clbits > 0 {
        let _ = writeln!(s, "bit[{}] c;", circuit.num_clbits);
    }
    for r in &circuit.cregs {
        let _ = writeln!(s, "bit[{}] {};", r.size, r.name);
    }
    for op in &circuit.ops {
        match op {
            Operation::Gate { gate, qubits, condition } => match condition {
                Some(c) => {
                    let stmt = gate_statement(gate, qubits);
                    let _ =
                        writeln!(s, "if ({}) {{ {stmt} }}", condition_text(c, circuit, &bit_name));
                }
                None => {
                    write_gate(&mut s, gate, qubits, &mut angles_seen, &operand_text);
                    s.push('\n');
                }
            },
            Operation::Measure { qubit, clbit } => {
                let _ = writeln!(s, "{} = measure q[{qubit}];", bit_name(*clbit));
            }
            Operation::Reset { qubit } => {
                let _ = writeln!(s, "reset q[{qubit}];");
            }
            Operation::Barrier { qubits } => {
                let _ = writeln!(s, "barrier {};", operands(qubits));
            }
            _ => {}
        }
    }
    s
}

fn operands(qubits: &[u32]) -> String {
    let mut s = String::new();
    for (i, q) in qubits.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "q[{q}]");
    }
    s
}

fn angles(p: &[f64]) -> String {
    let v: Vec<String> = p.iter().map(|x| format!("{x:?}")).collect();
    format!("({})", v.join(", "))
}

/// Appends the statement of `gate` on `qubits` to `s` without intermediate
/// strings for the common gates (the emitter runs on every compilation).
fn write_gate(
    s: &mut String,
    gate: &Gate,
    qubits: &[u32],
    seen: &mut AngleCache,
    operand_text: &[String],
) {
    let plain = match gate {
        Gate::Rx(a)
        | Gate::Ry(a)
        | Gate::Rz(a)
        | Gate::P(a)
        | Gate::Cp(a)
        | Gate::Crx(a)
        | Gate::Cry(a)
        | Gate::Crz(a)
        | Gate::Rxx(a)
        | Gate::Ryy(a)
        | Gate::Rzz(a)
        | Gate::Rzx(a) => Some(Some(*a)),
        Gate::U(..)
        | Gate::Csx
        | Gate::Mcx
        | Gate::Mcz
        | Gate::Mcu(_)
        | Gate::Unitary1(_)
        | Gate::Unitary2(_)
        | Gate::Cu(..) => None,
        _ => Some(None),
    };
    let Some(param) = plain else {
        s.push_str(&gate_statement(gate, qubits));
        return;
    };
    s.push_str(gate.name());
    if let Some(a) = param {
        s.push('(');
        seen.push(s, a);
        s.push(')');
    }
    for (i, &q) in qubits.iter().enumerate() {
        s.push_str(if i == 0 { " " } else { ", " });
        match operand_text.get(q as usize) {
            Some(t) => s.push_str(t),
            None => {
                let _ = write!(s, "q[{q}]");
            }
        }
    }
    s.push(';');
}

/// Formatted angles by bit pattern: compiled programs repeat a few angles
/// (multiples of pi/2 from the 1-qubit synthesis) thousands of times, and
/// shortest-float formatting is the emitter's main cost.
#[derive(Default)]
struct AngleCache {
    text: String,
    /// Keyed by bit pattern with a cheap hash (SipHash cost more than the
    /// formatting it saves).
    at: super::synth::BitsMap<u64, (u32, u32)>,
}

impl AngleCache {
    /// Appends `a` as `{a:?}` would.
    fn push(&mut self, s: &mut String, a: f64) {
        if let Some(&(from, to)) = self.at.get(&a.to_bits()) {
            s.push_str(&self.text[from as usize..to as usize]);
            return;
        }
        let from = self.text.len();
        let _ = write!(self.text, "{a:?}");
        let to = self.text.len();
        s.push_str(&self.text[from..to]);
        if let (Ok(f), Ok(t)) = (u32::try_from(from), u32::try_from(to)) {
            self.at.insert(a.to_bits(), (f, t));
        }
    }
}

fn gate_statement(gate: &Gate, qubits: &[u32]) -> String {
    let ops = operands(qubits);
    let k = qubits.len().saturating_sub(1);
    match gate {
        Gate::U(t, p, l) => format!("U{} {ops};", angles(&[*t, *p, *l])),
        Gate::Csx => format!("ctrl @ sx {ops};"),
        Gate::Mcx => format!("ctrl({k}) @ x {ops};"),
        Gate::Mcz => format!("ctrl({k}) @ z {ops};"),
        Gate::Mcu(u) | Gate::Unitary1(u) => {
            let e = super::synth::euler(u);
            let body = format!("U{}", angles(&[e.theta, e.phi, e.lambda]));
            if matches!(gate, Gate::Unitary1(_)) {
                return format!("{body} {ops};");
            }
            // The phase e^{i gamma} is relative once controlled: a phase on
            // the controls being all |1>.
            let mut s = format!("ctrl({k}) @ {body} {ops};");
            if super::synth::wrap(e.gamma).abs() > super::synth::ANGLE_EPS {
                let phase = format!("p({:?})", e.gamma);
                let controls = operands(&qubits[..k]);
                if k == 1 {
                    let _ = write!(s, " {phase} {controls};");
                } else {
                    let _ = write!(s, " ctrl({}) @ {phase} {controls};", k - 1);
                }
            }
            s
        }
        // Unroll makes these disappear; a unitary has no OpenQASM spelling.
        Gate::Unitary2(_) => format!("// unitary {ops}"),
        g => {
            let p = g.params();
            if p.is_empty() {
                format!("{} {ops};", g.name())
            } else {
                format!("{}{} {ops};", g.name(), angles(&p))
            }
        }
    }
}

fn condition_text(c: &Condition, circuit: &Circuit, bit_name: &dyn Fn(u32) -> String) -> String {
    if let Some(r) = circuit.cregs.iter().find(|r| {
        r.size as usize == c.clbits.len()
            && c.clbits.iter().enumerate().all(|(i, &b)| b == r.offset + i as u32)
    }) {
        return format!("{} == {}", r.name, c.value);
    }
    let parts: Vec<String> = c
        .clbits
        .iter()
        .enumerate()
        .map(|(i, &b)| format!("{} == {}", bit_name(b), c.value >> i & 1))
        .collect();
    parts.join(" && ")
}

/// Depth, gate counts, 2-qubit count, estimated duration and success of
/// `circuit` on `target` (gates without calibration count as free and
/// perfect; `rz` is virtual on most devices and is listed with 0 there).
#[must_use]
pub fn stats(circuit: &Circuit, target: &Target, swaps: u64) -> CompileStats {
    let nq = circuit.num_qubits as usize;
    let mut level = vec![0u64; nq + eigen_hal::circuit::MAX_CLBITS];
    let mut time = vec![0f64; nq];
    let log_ok = |error: f64| (1.0 - error.clamp(0.0, 1.0)).max(1e-300).ln();
    // Per gate name: its count, and its (duration, log of success) once
    // looked up (a handful of names, so a linear scan, by pointer first).
    let mut kinds: Vec<(&'static str, u64, (f64, f64))> = Vec::new();
    let mut two = 0u64;
    let mut log_success = 0f64;
    let mut one = [0u32; 1];
    let mut bit = [0u32; 1];
    for op in &circuit.ops {
        let (qubits, clbits, name): (&[u32], &[u32], &'static str) = match op {
            Operation::Gate { gate, qubits, condition } => {
                let clbits = condition.as_ref().map_or(&[][..], |c| c.clbits.as_slice());
                (qubits.as_slice(), clbits, gate.name())
            }
            Operation::Measure { qubit, clbit } => {
                one[0] = *qubit;
                bit[0] = *clbit;
                (&one[..], &bit[..], "measure")
            }
            Operation::Reset { qubit } => {
                one[0] = *qubit;
                (&one[..], &[][..], "reset")
            }
            Operation::Barrier { qubits } => {
                let top = qubits.iter().map(|&q| level[q as usize]).max().unwrap_or(0);
                let t = qubits.iter().map(|&q| time[q as usize]).fold(0.0, f64::max);
                for &q in qubits {
                    level[q as usize] = top;
                    time[q as usize] = t;
                }
                continue;
            }
            _ => continue,
        };
        let mut top = 0;
        for &q in qubits {
            top = top.max(level[q as usize]);
        }
        for &b in clbits {
            top = top.max(level[nq + b as usize]);
        }
        top += 1;
        for &q in qubits {
            level[q as usize] = top;
        }
        for &b in clbits {
            level[nq + b as usize] = top;
        }
        if qubits.len() == 2 {
            two += 1;
        }
        let figures = match kinds.iter_mut().find(|(n, ..)| std::ptr::eq(*n, name) || *n == name) {
            Some((_, count, f)) => {
                *count += 1;
                *f
            }
            None => {
                let f = target
                    .native_gate(name)
                    .map_or((0.0, 0.0), |g| (g.duration.0, log_ok(g.error)));
                kinds.push((name, 1, f));
                f
            }
        };
        let (duration, log_p) = if name == "measure" {
            target
                .qubits
                .get(qubits[0] as usize)
                .map_or((0.0, 0.0), |p| (p.readout_duration.0, log_ok(p.readout_error)))
        } else {
            figures
        };
        log_success += log_p;
        let mut start = 0f64;
        for &q in qubits {
            start = start.max(time[q as usize]);
        }
        for &q in qubits {
            time[q as usize] = start + duration;
        }
    }
    let total = time.iter().copied().fold(0.0, f64::max);
    CompileStats {
        depth: level.iter().copied().max().unwrap_or(0),
        gate_counts: kinds
            .into_iter()
            .map(|(n, c, _)| (n.to_string(), c))
            .collect::<BTreeMap<_, _>>(),
        two_qubit_gates: two,
        swaps,
        estimated_duration: Duration::from_secs_f64(total.max(0.0)),
        estimated_success: log_success.exp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_registers_gates_and_conditions() {
        let mut c = Circuit::new(3, 2);
        c.gate(Gate::Rz(0.5), &[0]).gate(Gate::Cz, &[0, 2]).gate(Gate::Ecr, &[1, 2]).measure(2, 1);
        c.ops.push(Operation::Gate {
            gate: Gate::X,
            qubits: [1].as_slice().into(),
            condition: Some(Condition { clbits: vec![0, 1], value: 2 }),
        });
        let text = program(&c);
        assert!(text.starts_with("OPENQASM 3.0;\ninclude \"stdgates.inc\";\n"));
        assert!(text.contains("gate ecr a, b"));
        assert!(text.contains("qubit[3] q;\nbit[2] c;\n"));
        assert!(
            text.contains("rz(0.5) q[0];\ncz q[0], q[2];\necr q[1], q[2];\nc[1] = measure q[2];\n")
        );
        assert!(text.contains("if (c == 2) { x q[1]; }"));
    }
}
