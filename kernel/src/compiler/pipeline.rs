//! The compilation pipeline: parse, unroll, lay out, route, translate,
//! optimize, emit.
//!
//! 1. [`super::qasm::parse`] gives a circuit on program (virtual) qubits.
//! 2. [`super::unroll`] rewrites every gate wider than 1 qubit into `cx`,
//!    `cz` and `swap` (hardware), or only what OpenQASM cannot spell (an
//!    all-to-all device accepting every gate).
//! 3. [`super::layout`] picks the initial placement, [`super::routing`]
//!    inserts swaps (SABRE) and tracks the final placement.
//! 4. [`super::optimize`] translates to the native 2-qubit gate in a coupled
//!    direction, then fuses and cancels (to a fixed point at levels 2-3).
//! 5. [`super::emit`] writes OpenQASM 3 and the statistics.

use super::emit;
use super::kak;
use super::layout::{self, Effort};
use super::optimize::{self, MergeConfig, TwoQubitNative};
use super::qasm::{self, ParseLimits};
use super::routing::{self, Coupling, Dag, Layout, Rng, Step, route};
use super::synth::OneQubitBasis;
use super::unroll::{self, UnrollTo};
use super::{CompileOptions, Compiled, Diagnostic, ProgramFormat, Severity};
use eigen_hal::{Circuit, Gate, Operation, Qubits, Target};

/// Fixed seed: the same program and target always compile the same way.
const SEED: u64 = 0x005E_ED0F_E16E;

/// Compiles `source` for `target`.
pub fn compile(
    source: &str,
    format: ProgramFormat,
    target: &Target,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let parsed = qasm::parse(source, format, &ParseLimits::default())?;
    let mut compiled = compile_circuit(&parsed.circuit, target, options)?;
    compiled.warnings.splice(0..0, parsed.warnings);
    Ok(compiled)
}

/// Optimizes `source`: for `target` when given (then the same as
/// [`compile`]), otherwise on its own qubits with every gate allowed.
pub fn optimize(
    source: &str,
    format: ProgramFormat,
    target: Option<&Target>,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let parsed = qasm::parse(source, format, &ParseLimits::default())?;
    let mut compiled = match target {
        Some(t) => compile_circuit(&parsed.circuit, t, options)?,
        None => optimize_circuit(&parsed.circuit, options)?,
    };
    compiled.warnings.splice(0..0, parsed.warnings);
    Ok(compiled)
}

/// Every diagnostic of `source` (errors and warnings), checked against
/// `target` when given. An empty list means the program is valid.
pub fn validate(source: &str, format: ProgramFormat, target: Option<&Target>) -> Vec<Diagnostic> {
    match qasm::parse(source, format, &ParseLimits::default()) {
        Ok(p) => {
            let mut d = p.warnings;
            if let Some(t) = target {
                d.extend(check_target(&p.circuit, t));
            }
            d
        }
        Err(d) => d,
    }
}

fn error(message: String) -> Diagnostic {
    Diagnostic { severity: Severity::Error, line: 1, column: 1, message, snippet: String::new() }
}

/// What makes `circuit` impossible on `target`, whatever the compiler does.
#[must_use]
pub fn check_target(circuit: &Circuit, target: &Target) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    if circuit.num_qubits > target.num_qubits {
        d.push(error(format!(
            "the program uses {} qubits but device {} has {}",
            circuit.num_qubits, target.id, target.num_qubits
        )));
    } else if circuit.num_qubits > target.limits.max_qubits {
        d.push(error(format!(
            "the program uses {} qubits but device {} accepts at most {} per job",
            circuit.num_qubits, target.id, target.limits.max_qubits
        )));
    }
    let any = target.native_gates.is_empty();
    let accepts = |n: &str| target.accepts_gate(n);
    if OneQubitBasis::for_target(accepts, any).is_none() {
        d.push(error(format!(
            "device {} has no 1-qubit native gates the compiler can target (needs rz+sx, u, or rz+ry)",
            target.id
        )));
    }
    let multi = circuit
        .ops
        .iter()
        .any(|op| matches!(op, Operation::Gate { qubits, .. } if qubits.len() >= 2));
    if multi && TwoQubitNative::for_target(accepts, any).is_none() {
        d.push(error(format!(
            "device {} has no 2-qubit native gate the compiler can target (needs cz, cx or ecr)",
            target.id
        )));
    }
    for op in &circuit.ops {
        if let Operation::Gate { gate, qubits, .. } = op
            && matches!(gate, Gate::Mcx | Gate::Mcz | Gate::Mcu(_))
            && qubits.len() > unroll::MAX_CONTROLS + 1
            && !(any && target.coupling_map.is_none())
        {
            d.push(error(format!(
                "{} with {} controls is too large to compile for device {} (at most {})",
                gate.name(),
                qubits.len() - 1,
                target.id,
                unroll::MAX_CONTROLS
            )));
            break;
        }
    }
    d
}

/// Compiles an already-parsed circuit for `target`.
pub fn compile_circuit(
    circuit: &Circuit,
    target: &Target,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let problems = check_target(circuit, target);
    if !problems.is_empty() {
        return Err(problems);
    }
    let any = target.native_gates.is_empty();
    let accepts = |n: &str| target.accepts_gate(n);
    let basis = OneQubitBasis::for_target(accepts, any)
        .ok_or_else(|| vec![error("no 1-qubit basis".into())])?;
    let native2 = TwoQubitNative::for_target(accepts, any).unwrap_or(TwoQubitNative::Any);
    let coupling =
        target.coupling_map.as_ref().map(|edges| Coupling::new(target.num_qubits as usize, edges));
    run(circuit, coupling.as_ref(), basis, native2, &accepts, target, options)
}

/// Optimizes a circuit on its own qubits, every gate allowed.
pub fn optimize_circuit(
    circuit: &Circuit,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let target = Target {
        id: "abstract".into(),
        name: "all-to-all, every gate".into(),
        kind: eigen_hal::DeviceKind::Simulator,
        num_qubits: circuit.num_qubits,
        coupling_map: None,
        native_gates: Vec::new(),
        qubits: Vec::new(),
        dt: None,
        limits: eigen_hal::Limits { max_shots: u32::MAX, max_qubits: circuit.num_qubits },
        calibration_id: String::new(),
    };
    compile_circuit(circuit, &target, options)
}

fn run(
    circuit: &Circuit,
    coupling: Option<&Coupling>,
    basis: OneQubitBasis,
    native2: TwoQubitNative,
    accepts: &dyn Fn(&str) -> bool,
    target: &Target,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let level = options.optimization_level;
    if level > 3 {
        warnings.push(Diagnostic {
            severity: Severity::Warning,
            line: 1,
            column: 1,
            message: format!("optimization level {level} is above 3; using 3"),
            snippet: String::new(),
        });
    }
    let level = level.min(3);
    let to = if native2 == TwoQubitNative::Any && coupling.is_none() {
        UnrollTo::Expressible
    } else if coupling.is_some() {
        UnrollTo::Routable
    } else {
        UnrollTo::TwoQubitBasis
    };
    let ops = unroll::unroll(&circuit.ops, to).map_err(|m| vec![error(m)])?;
    let nv = circuit.num_qubits as usize;
    // On a routed device the final placement is reported anyway, so the
    // program's own swaps become a relabeling instead of gates to route.
    let (ops, wire_of) = if coupling.is_some() && level >= 1 {
        elide_swaps(ops, nv)
    } else {
        (ops, (0..nv as u32).collect())
    };
    let (ops, width, final_layout, swaps) = match coupling {
        Some(c) => {
            // Terminal measurements stay terminal (routing would otherwise
            // move measured qubits afterwards): route without them, then
            // measure where each qubit ended.
            let terminal = circuit.measurements_are_terminal();
            let (body, finals): (Vec<Operation>, Vec<Operation>) = if terminal {
                ops.into_iter().partition(|op| !matches!(op, Operation::Measure { .. }))
            } else {
                (ops, Vec::new())
            };
            let (mut ops, layout, swaps) =
                place_and_route(body, nv, c, level).map_err(|m| vec![error(m)])?;
            ops.extend(finals.iter().map(|m| map_op(m, &layout)));
            let finals = wire_of.iter().map(|&w| layout.v2p[w as usize]).collect();
            (ops, c.len(), finals, swaps)
        }
        None => (ops, nv, (0..nv as u32).collect(), 0),
    };
    let ops = if to == UnrollTo::Routable && native2 != TwoQubitNative::Any {
        unroll::unroll(&ops, UnrollTo::TwoQubitBasis).map_err(|m| vec![error(m)])?
    } else {
        ops
    };
    let ops = if native2 == TwoQubitNative::Any { ops } else { optimize::expand_swaps(ops, width) };
    let ops = if native2 != TwoQubitNative::Any && level >= 1 {
        kak::consolidate(ops, width)
    } else {
        ops
    };
    // On a cz device the first sweep reads each `cx` as `h; cz; h` itself.
    let cx_as_cz = native2 == TwoQubitNative::Cz;
    let ops = if cx_as_cz { ops } else { optimize::translate_2q(ops, native2, coupling) };
    let cfg = MergeConfig { basis, accepts, optimize: level >= 1, cx_as_cz };
    let ops = if level >= 2 {
        optimize::merge_to_fixed_point(ops, width, &cfg, 9)
    } else {
        optimize::merge(ops, width, &cfg)
    };
    let compiled = Circuit {
        num_qubits: width as u32,
        num_clbits: circuit.num_clbits,
        cregs: circuit.cregs.clone(),
        ops,
    };
    let program = emit::program(&compiled);
    let stats = emit::stats(&compiled, target, swaps);
    Ok(Compiled { circuit: compiled, final_layout, program, stats, warnings })
}

/// Lays out and routes `ops` (on `nv` program qubits) onto `coupling`;
/// returns physical operations (with `swap`s), the final layout and the
/// number of swaps. The layout trials and the routing attempts are shared
/// with the compiler's helper thread when there is one (see
/// [`layout::choose`]); the result does not depend on it.
fn place_and_route(
    ops: Vec<Operation>,
    nv: usize,
    coupling: &Coupling,
    level: u8,
) -> Result<(Vec<Operation>, Layout, u64), String> {
    // The layout search scores on the 2-qubit skeleton; back-to-back gates
    // on one pair route as one.
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut costs: Vec<(u8, bool)> = Vec::new();
    for op in &ops {
        if let Operation::Gate { gate, qubits, condition } = op
            && qubits.len() == 2
        {
            let (a, b) = (qubits[0], qubits[1]);
            let w = routing::two_qubit_weight(gate);
            let diagonal = condition.is_none() && gate.is_diagonal();
            match (pairs.last(), costs.last_mut()) {
                (Some(&(x, y)), Some(c)) if (x.min(y), x.max(y)) == (a.min(b), a.max(b)) => {
                    *c = (c.0.saturating_add(w), c.1 && diagonal);
                }
                _ => {
                    pairs.push((a, b));
                    costs.push((w, diagonal));
                }
            }
        }
    }
    // The full program can route a little differently from the skeleton,
    // so route it from the best few layouts (level 2: the best two; on the
    // benchmark QFTs the third and fourth never won).
    let (keep, seeds) = match level {
        0 | 1 => (1, 1),
        2 => (2, 1),
        _ => (4, 4),
    };
    let layouts =
        layout::choose(&pairs, &costs, nv, coupling, Effort::for_level(level), SEED, keep)?;
    let dag = Dag::from_ops(&ops, nv);
    let count = layouts.len() * seeds;
    let program = Program { ops, dag, coupling: coupling.clone(), layouts, seeds };
    // Every (layout, seed) attempt in order; the cheapest wins, the earliest
    // among equals.
    let attempts = if count > 1 {
        layout::parallel::run_indexed(program, count, Program::attempt)
    } else {
        (0..count).map(|i| Program::attempt(&program, &mut (), i)).collect()
    };
    let mut best: Option<Attempt> = None;
    for a in attempts {
        let a = a?;
        if best.as_ref().is_none_or(|b| a.cost < b.cost) {
            best = Some(a);
        }
    }
    best.map(|a| (a.ops, a.layout, a.swaps))
        .ok_or_else(|| "internal: no routing attempt ran".into())
}

/// What the routing attempts of one program share.
struct Program {
    ops: Vec<Operation>,
    dag: Dag,
    coupling: Coupling,
    /// Initial layouts, best first.
    layouts: Vec<Layout>,
    /// Tie-break seeds per layout.
    seeds: usize,
}

impl Program {
    /// Attempt `i`: layout `i / seeds` with seed number `i % seeds`.
    fn attempt(&self, (): &mut (), i: usize) -> Result<Attempt, String> {
        let initial = &self.layouts[i / self.seeds];
        route_attempt(&self.ops, &self.dag, &self.coupling, initial, i % self.seeds)
    }
}

/// One routing of the program from an initial layout.
struct Attempt {
    ops: Vec<Operation>,
    layout: Layout,
    swaps: u64,
    /// The estimated 2-qubit count after the rest of the pipeline.
    cost: u64,
}

/// Routes `ops` (whose graph is `dag`) from `initial` with tie-break seed
/// number `t`.
fn route_attempt(
    ops: &[Operation],
    dag: &Dag,
    coupling: &Coupling,
    initial: &Layout,
    t: usize,
) -> Result<Attempt, String> {
    let mut layout = initial.clone();
    // room for a swap per operation: growing a vector of operations copies it
    let mut out = Vec::with_capacity(ops.len() * 2);
    let mut rng = Rng::new(SEED ^ (t as u64).wrapping_mul(0x9E37));
    let routed = route(dag, coupling, &mut layout, &mut rng, u64::MAX, |step, l| match step {
        Step::Node(i) => out.push(map_op(&ops[i as usize], l)),
        Step::Swap(a, b) => {
            out.push(Operation::Gate {
                gate: Gate::Swap,
                qubits: Qubits::from_slice(&[a, b]),
                condition: None,
            });
        }
    })?
    .ok_or("internal: routing without a limit stopped")?;
    // Rank by the 2-qubit count the rest of the pipeline will leave, not
    // the raw swap count: a swap next to a gate on the same pair is
    // absorbed when the pair's block is re-synthesized.
    let out = optimize::fuse_diagonal_swaps(optimize::gather_into_swaps(out, coupling.len()));
    let cost = estimated_two_qubit(&out, coupling.len());
    Ok(Attempt { ops: out, layout, swaps: routed.swaps, cost })
}

/// The 2-qubit gate count of routed `ops` (on `width` physical qubits) after
/// swap expansion and block consolidation, estimated without synthesizing:
/// a swap is three 2-qubit gates, and a maximal run of gates on one pair
/// (cut like [`kak::consolidate`] cuts it) costs at most three.
fn estimated_two_qubit(ops: &[Operation], width: usize) -> u64 {
    let mut open: Vec<Option<(u32, u32)>> = vec![None; width];
    let mut weight: Vec<u64> = vec![0; width];
    let mut total = 0u64;
    let close = |q: u32, open: &mut [Option<(u32, u32)>], weight: &mut [u64], total: &mut u64| {
        if let Some((a, b)) = open[q as usize] {
            *total += weight[a.min(b) as usize].min(3);
            weight[a.min(b) as usize] = 0;
            open[a as usize] = None;
            open[b as usize] = None;
        }
    };
    for op in ops {
        match op {
            Operation::Gate { gate, qubits, condition: None } if qubits.len() == 2 => {
                let (a, b) = (qubits[0], qubits[1]);
                let w = if matches!(gate, Gate::Swap) { 3 } else { 1 };
                let key = (a.min(b), a.max(b));
                let same = open[a as usize].is_some_and(|(x, y)| (x.min(y), x.max(y)) == key)
                    && open[b as usize] == open[a as usize];
                if !same {
                    close(a, &mut open, &mut weight, &mut total);
                    close(b, &mut open, &mut weight, &mut total);
                    open[a as usize] = Some(key);
                    open[b as usize] = Some(key);
                }
                weight[key.0 as usize] += w;
            }
            Operation::Gate { qubits, condition: None, .. } if qubits.len() == 1 => {}
            Operation::Gate { qubits, .. } | Operation::Barrier { qubits } => {
                for &q in qubits {
                    close(q, &mut open, &mut weight, &mut total);
                }
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                close(*qubit, &mut open, &mut weight, &mut total);
            }
            _ => {}
        }
    }
    for q in 0..width as u32 {
        close(q, &mut open, &mut weight, &mut total);
    }
    total
}

/// Removes every unconditioned `swap` of `ops` (on `nv` qubits) by renaming
/// the qubits of the operations after it. Returns the operations and, for
/// each program qubit, the wire holding its state at the end.
fn elide_swaps(ops: Vec<Operation>, nv: usize) -> (Vec<Operation>, Vec<u32>) {
    let mut wire: Vec<u32> = (0..nv as u32).collect();
    let mut out = Vec::with_capacity(ops.len());
    for mut op in ops {
        match &mut op {
            Operation::Gate { gate: Gate::Swap, qubits, condition: None } => {
                wire.swap(qubits[0] as usize, qubits[1] as usize);
                continue;
            }
            Operation::Gate { qubits, .. } | Operation::Barrier { qubits } => {
                for q in qubits.iter_mut() {
                    *q = wire[*q as usize];
                }
            }
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => {
                *qubit = wire[*qubit as usize];
            }
            _ => {}
        }
        out.push(op);
    }
    (out, wire)
}

/// `op` on physical qubits under `layout`.
fn map_op(op: &Operation, layout: &Layout) -> Operation {
    let p = |q: &u32| layout.v2p[*q as usize];
    match op {
        Operation::Gate { gate, qubits, condition } => Operation::Gate {
            gate: gate.clone(),
            qubits: qubits.iter().map(p).collect(),
            condition: condition.clone(),
        },
        Operation::Measure { qubit, clbit } => {
            Operation::Measure { qubit: p(qubit), clbit: *clbit }
        }
        Operation::Reset { qubit } => Operation::Reset { qubit: p(qubit) },
        Operation::Barrier { qubits } => {
            Operation::Barrier { qubits: qubits.iter().map(p).collect() }
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(gate: Gate, qubits: &[u32]) -> Operation {
        Operation::Gate { gate, qubits: qubits.into(), condition: None }
    }

    #[test]
    fn a_swap_beside_a_gate_on_its_pair_is_absorbed() {
        // cx + swap on one pair: one block of 4, re-synthesized to <= 3
        let absorbed = [g(Gate::Cx, &[0, 1]), g(Gate::H, &[0]), g(Gate::Swap, &[1, 0])];
        assert_eq!(estimated_two_qubit(&absorbed, 3), 3);
        // the swap on another pair stays three gates, and cuts the block
        let separate = [g(Gate::Cx, &[0, 1]), g(Gate::Swap, &[1, 2]), g(Gate::Cz, &[0, 1])];
        assert_eq!(estimated_two_qubit(&separate, 3), 5);
        // a measurement cuts a block too
        let cut = [
            g(Gate::Cx, &[0, 1]),
            g(Gate::Cx, &[0, 1]),
            Operation::Measure { qubit: 0, clbit: 0 },
            g(Gate::Cx, &[0, 1]),
            g(Gate::Cx, &[0, 1]),
        ];
        assert_eq!(estimated_two_qubit(&cut, 2), 4);
    }
}
