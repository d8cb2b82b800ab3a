//! A circuit validated and compiled into steps, and the shot loop.
//!
//! When every measurement is terminal (and nothing noisy or non-unitary
//! happens before), the circuit is simulated once and all shots are sampled
//! from the final state (the trailing permutations and phases of such a
//! circuit are applied to the sampled indices, see [`peel_suffix`]).
//! Otherwise each shot is a trajectory: measurements
//! collapse the state, resets and classically conditioned gates act on the
//! outcome, noise draws its jumps. Runs of gates between those events are
//! fused and planned once, and the deterministic prefix before the first
//! random event is simulated once and copied into each trajectory.

use crate::exec;
use crate::noise::NoiseModel;
use crate::ops::{self, C, Kind, Op};
use crate::plan::{self, Blocking, Stage};
use crate::sample::{self, OutcomeMap, domain, uniform};
use crate::shots;
use crate::state::StateVector;
use eigen_hal::circuit::MAX_CLBITS;
use eigen_hal::{Circuit, DeviceError, ErrorKind, ExecContext, Gate, Operation};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

fn invalid(msg: impl Into<String>) -> DeviceError {
    DeviceError::new(ErrorKind::InvalidProgram, msg)
}

/// Checks a gate's operands: count matching the gate, in range, distinct.
pub(crate) fn check_operands(gate: &Gate, qubits: &[u32], n: u32) -> Result<(), DeviceError> {
    let name = gate.name();
    match gate.arity() {
        Some(k) if qubits.len() != k => {
            return Err(invalid(format!("gate `{name}` takes {k} qubit(s), got {}", qubits.len())));
        }
        None if qubits.is_empty() => {
            return Err(invalid(format!("gate `{name}` needs at least its target qubit")));
        }
        _ => {}
    }
    let mut seen = 0u64;
    for &q in qubits {
        if q >= n || q >= 64 {
            return Err(invalid(format!("gate `{name}` uses qubit {q}, but the circuit has {n}")));
        }
        if seen >> q & 1 == 1 {
            return Err(invalid(format!("gate `{name}` uses qubit {q} twice")));
        }
        seen |= 1 << q;
    }
    Ok(())
}

/// One step of a compiled circuit.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A fused, planned run of unitary gates.
    Gates(Vec<Stage>),
    /// Steps run only when the classical bits hold `value`.
    Conditional {
        clbits: Vec<u32>,
        value: u64,
        then: Vec<Step>,
    },
    Measure {
        qubit: u32,
        clbit: u32,
    },
    Reset {
        qubit: u32,
    },
    /// A random non-identity Pauli on `qubits` with probability `p`.
    Depolarize {
        qubits: Vec<u32>,
        p: f64,
    },
    /// Amplitude damping `gamma` and dephasing `pz` on one qubit.
    Relax {
        qubit: u32,
        gamma: f64,
        pz: f64,
    },
}

impl Step {
    fn is_random(&self) -> bool {
        !matches!(self, Step::Gates(_))
    }
}

/// A circuit ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub n: u32,
    /// `Some(pairs)` when shots are sampled from one final state: the
    /// (qubit, clbit) measurements, in program order.
    pub terminal: Option<Vec<(u32, u32)>>,
    pub steps: Vec<Step>,
    /// Readout error per qubit (empty without noise).
    pub readout: Vec<f64>,
    /// For a terminal circuit, the bit flips and swaps (with their
    /// controls) left out of the simulation because only diagonal gates,
    /// other such permutations, and gates on other qubits follow them: they
    /// permute basis states, so they are applied, in this order, to each
    /// sampled index instead of moving amplitudes ([`peel_suffix`]).
    pub relabel: Vec<Op>,
}

/// Checks every operation of `circuit`: qubits and classical bits in
/// range, gate operands matching the gate, only operations the simulator
/// knows.
pub(crate) fn validate(circuit: &Circuit) -> Result<(), DeviceError> {
    let n = circuit.num_qubits;
    if n as usize > MAX_CLBITS {
        return Err(invalid(format!("{n} qubits are beyond the simulator's 64-qubit addressing")));
    }
    if circuit.num_clbits as usize > MAX_CLBITS {
        return Err(invalid(format!(
            "{} classical bits exceed the limit of {MAX_CLBITS}",
            circuit.num_clbits
        )));
    }
    let clbit_ok = |c: u32| {
        if c < circuit.num_clbits {
            Ok(())
        } else {
            Err(invalid(format!(
                "classical bit {c} does not exist (the circuit has {})",
                circuit.num_clbits
            )))
        }
    };
    let qubit_ok = |q: u32| {
        if q < n {
            Ok(())
        } else {
            Err(invalid(format!("qubit {q} does not exist (the circuit has {n})")))
        }
    };
    for op in &circuit.ops {
        match op {
            Operation::Gate { gate, qubits, condition } => {
                check_operands(gate, qubits, n)?;
                if let Some(c) = condition {
                    c.clbits.iter().try_for_each(|&b| clbit_ok(b))?;
                }
            }
            Operation::Measure { qubit, clbit } => {
                qubit_ok(*qubit)?;
                clbit_ok(*clbit)?;
            }
            Operation::Reset { qubit } => qubit_ok(*qubit)?,
            Operation::Barrier { qubits } => qubits.iter().try_for_each(|&q| qubit_ok(q))?,
            _ => return Err(invalid("the simulator does not know this operation")),
        }
    }
    Ok(())
}

/// Validates and compiles `circuit`. `physical[q]` is the device qubit that
/// simulated qubit `q` stands for (see [`crate::compact`]): noise takes that
/// qubit's calibration.
///
/// With `peel`, a terminal circuit's trailing permutations and diagonal
/// gates are left out of the simulation (see [`Compiled::relabel`]); a
/// caller that needs the exact final state passes false.
pub(crate) fn compile(
    circuit: &Circuit,
    physical: &[u32],
    noise: Option<&NoiseModel>,
    blocking: Blocking,
    peel: bool,
) -> Result<Compiled, DeviceError> {
    validate(circuit)?;
    let n = circuit.num_qubits;
    if physical.len() != n as usize {
        return Err(DeviceError::new(
            ErrorKind::Other,
            format!("internal: {} physical qubits for a {n}-qubit circuit", physical.len()),
        ));
    }
    // Resets before anything touched the qubit are no-ops on |0>.
    let mut touched = 0u64;
    let mut ops_list: Vec<&Operation> = Vec::with_capacity(circuit.ops.len());
    for op in &circuit.ops {
        match op {
            Operation::Reset { qubit } if touched >> qubit & 1 == 0 => continue,
            Operation::Gate { qubits, .. } => qubits.iter().for_each(|q| touched |= 1 << q),
            Operation::Measure { qubit, .. } | Operation::Reset { qubit } => touched |= 1 << qubit,
            _ => {}
        }
        ops_list.push(op);
    }
    let has_reset = ops_list.iter().any(|o| matches!(o, Operation::Reset { .. }));
    let readout = noise
        .map(|m| physical.iter().map(|&q| m.qubit(q).readout_error).collect())
        .unwrap_or_default();
    if noise.is_none() && !has_reset && circuit.measurements_are_terminal() {
        let mut gates = Vec::new();
        let mut pairs = Vec::new();
        for op in ops_list {
            match op {
                Operation::Gate { gate, qubits, .. } => gates.extend(ops::lower(gate, qubits)),
                Operation::Measure { qubit, clbit } => pairs.push((*qubit, *clbit)),
                _ => {}
            }
        }
        // Without a measurement nothing is sampled: the circuit runs whole
        // (as a benchmark of it expects).
        let (gates, relabel) =
            if peel && !pairs.is_empty() { peel_suffix(gates) } else { (gates, Vec::new()) };
        let stages = plan::plan(&ops::fuse(gates), n, blocking);
        return Ok(Compiled {
            n,
            terminal: Some(pairs),
            steps: vec![Step::Gates(stages)],
            readout,
            relabel,
        });
    }
    let mut steps = Vec::new();
    let mut pending = Vec::new();
    for op in ops_list {
        match op {
            Operation::Gate { gate, qubits, condition } => {
                let lowered = ops::lower(gate, qubits);
                let noisy =
                    noise.map(|m| noise_steps(m, gate, qubits, physical)).unwrap_or_default();
                match condition {
                    None if noisy.is_empty() => pending.extend(lowered),
                    None => {
                        pending.extend(lowered);
                        flush(&mut pending, &mut steps, n, blocking);
                        steps.extend(noisy);
                    }
                    Some(c) => {
                        flush(&mut pending, &mut steps, n, blocking);
                        let mut then = Vec::new();
                        let mut body: Vec<Op> = lowered.into_iter().collect();
                        flush(&mut body, &mut then, n, blocking);
                        then.extend(noisy);
                        steps.push(Step::Conditional {
                            clbits: c.clbits.clone(),
                            value: c.value,
                            then,
                        });
                    }
                }
            }
            Operation::Measure { qubit, clbit } => {
                flush(&mut pending, &mut steps, n, blocking);
                steps.push(Step::Measure { qubit: *qubit, clbit: *clbit });
            }
            Operation::Reset { qubit } => {
                flush(&mut pending, &mut steps, n, blocking);
                steps.push(Step::Reset { qubit: *qubit });
            }
            _ => {}
        }
    }
    flush(&mut pending, &mut steps, n, blocking);
    Ok(Compiled { n, terminal: None, steps, readout, relabel: Vec::new() })
}

/// Splits a terminal circuit's ops into those to simulate and the bit
/// flips and swaps to apply to sampled indices instead.
///
/// Measurement only sees |amplitude|^2. An op that is a permutation of
/// basis states (x, cx, ccx, mcx, swap, cswap) or diagonal (z, s, t, rz,
/// p, cz, cp, rzz, ...), and that only such ops or ops on other qubits
/// follow, commutes to the end of the circuit; there all of them together
/// map amplitude `a_i` to `phase_i * a_i` at index `pi(i)`, so the
/// probabilities are those before them, permuted by `pi`. Sampling the
/// state before them and applying the permutations to each sampled index
/// draws from the same distribution, without a pass over memory for each
/// (a GHZ chain is then one gate on one block of amplitudes). Diagonal ops
/// drop out. Returns (ops to simulate, permutations in program order).
pub(crate) fn peel_suffix(ops: Vec<Op>) -> (Vec<Op>, Vec<Op>) {
    let mut blocked = 0u64;
    let mut kept = Vec::with_capacity(ops.len());
    let mut relabel = Vec::new();
    for op in ops.into_iter().rev() {
        let support = op.support();
        let permutes = matches!(op.kind, Kind::X1 { .. } | Kind::Swap { .. });
        let diagonal = matches!(op.kind, Kind::D1 { .. } | Kind::D2 { .. } | Kind::Phase { .. });
        if support & blocked == 0 && (permutes || diagonal) {
            if permutes {
                relabel.push(op);
            }
        } else {
            blocked |= support;
            kept.push(op);
        }
    }
    kept.reverse();
    relabel.reverse();
    (kept, relabel)
}

/// Basis index `i` after the permutations `relabel` (bit flips and swaps
/// with their controls), in order.
fn relabel_index(relabel: &[Op], mut i: u64) -> u64 {
    for op in relabel {
        if i & op.ctrl != op.ctrl {
            continue;
        }
        match op.kind {
            Kind::X1 { q } => i ^= 1 << q,
            Kind::Swap { q0, q1 } => {
                let differ = (i >> q0 ^ i >> q1) & 1;
                i ^= differ << q0 | differ << q1;
            }
            _ => {}
        }
    }
    i
}

fn flush(pending: &mut Vec<Op>, steps: &mut Vec<Step>, n: u32, blocking: Blocking) {
    if pending.is_empty() {
        return;
    }
    let stages = plan::plan(&ops::fuse(std::mem::take(pending)), n, blocking);
    if !stages.is_empty() {
        steps.push(Step::Gates(stages));
    }
}

/// The noise after `gate` on simulated `qubits`, with the calibration of
/// the device qubits `physical` maps them to.
fn noise_steps(model: &NoiseModel, gate: &Gate, qubits: &[u32], physical: &[u32]) -> Vec<Step> {
    let figures = model.gate(gate.name(), qubits.len());
    let mut out = Vec::new();
    let p = NoiseModel::pauli_probability(figures.error, qubits.len());
    if p > 0.0 {
        out.push(Step::Depolarize { qubits: qubits.to_vec(), p });
    }
    for &q in qubits {
        let r = model.relaxation(physical[q as usize], figures.duration);
        if r.gamma > 0.0 || r.pz > 0.0 {
            out.push(Step::Relax { qubit: q, gamma: r.gamma, pz: r.pz });
        }
    }
    out
}

/// What the shot loop returns.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    pub counts: BTreeMap<u64, u64>,
    pub memory: Option<Vec<u64>>,
}

fn apply_op(state: &mut [C], n: u32, kind: Kind) {
    let op = Op { kind, ctrl: 0 };
    let stages = plan::plan(std::slice::from_ref(&op), n, Blocking::default());
    exec::run_stages(state, &stages);
}

/// Samples `shots` outcomes from the final `state` of a terminal circuit,
/// from what its last gate pass recorded (`recorded`, see
/// [`shots::Recording`]) or else from a read of the state; returns them
/// with the masses buffer to keep. `pairs` is not empty and `shots` > 0
/// (else see [`zero_outcomes`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_terminal(
    state: &StateVector,
    record: shots::Recording,
    recorded: bool,
    relabel: &[Op],
    pairs: &[(u32, u32)],
    shots: u64,
    seed: u64,
    memory: bool,
) -> (Outcomes, Vec<f64>) {
    let (found, spare) = record.sample(state.amplitudes(), recorded, shots, seed);
    let map = OutcomeMap::new(state.num_qubits(), pairs);
    let outcome = |&(i, k): &(u64, u64)| (map.outcome(relabel_index(relabel, i)), k);
    let mut by_outcome: Vec<(u64, u64)> = if crate::par::worth_it(found.len()) {
        found.par_iter().with_min_len(1 << 12).map(outcome).collect()
    } else {
        found.iter().map(outcome).collect()
    };
    // Indices come in increasing order; outcomes too when every qubit is
    // read into its own bit and nothing was relabelled, else (unmeasured
    // qubits, permuted bits) they are sorted and merged.
    if !by_outcome.windows(2).all(|w| w[0].0 < w[1].0) {
        if crate::par::worth_it(by_outcome.len()) {
            by_outcome.par_sort_unstable_by_key(|x| x.0);
        } else {
            by_outcome.sort_unstable_by_key(|x| x.0);
        }
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(by_outcome.len());
        for (o, k) in by_outcome {
            match merged.last_mut() {
                Some((x, c)) if *x == o => *c += k,
                _ => merged.push((o, k)),
            }
        }
        by_outcome = merged;
    }
    let memory = memory.then(|| crate::shuffle::shuffled(&by_outcome, seed));
    (Outcomes { counts: by_outcome.into_iter().collect(), memory }, spare)
}

/// The outcomes of `shots` that read no qubit: all zero.
pub(crate) fn zero_outcomes(shots: u64, memory: bool) -> Outcomes {
    let mut counts = BTreeMap::new();
    if shots > 0 {
        counts.insert(0, shots);
    }
    Outcomes { counts, memory: memory.then(|| vec![0; shots as usize]) }
}

fn count_sorted_or_not(outcomes: &[u64]) -> BTreeMap<u64, u64> {
    let rle = |v: &[u64]| {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &o in v {
            match runs.last_mut() {
                Some((x, c)) if *x == o => *c += 1,
                _ => runs.push((o, 1)),
            }
        }
        runs
    };
    if outcomes.is_sorted() {
        rle(outcomes).into_iter().collect()
    } else {
        let mut v = outcomes.to_vec();
        if crate::par::worth_it(v.len()) {
            v.par_sort_unstable();
        } else {
            v.sort_unstable();
        }
        rle(&v).into_iter().collect()
    }
}

/// Runs `shots` trajectories of a non-terminal (or noisy) circuit.
pub(crate) fn run_trajectories(
    compiled: &Compiled,
    base: &mut StateVector,
    shots: u64,
    seed: u64,
    memory: bool,
    cache_prefix: bool,
    ctx: &ExecContext,
) -> Result<Outcomes, DeviceError> {
    let n = compiled.n;
    let steps = &compiled.steps[..];
    // The deterministic prefix, simulated once when it can be kept aside.
    let split = steps.iter().position(Step::is_random).unwrap_or(steps.len());
    let prefix_state = if cache_prefix && split > 0 && shots > 1 {
        let mut p = StateVector::zero(n)?;
        let mut rng = sample::stream(seed, domain::TRAJECTORY, u64::MAX);
        run_steps(&mut p, &steps[..split], &mut rng, &mut 0, &[], ctx)?;
        Some(p)
    } else {
        None
    };
    let prefix = prefix_state.as_ref();
    let rest = if prefix.is_some() { &steps[split..] } else { steps };
    let done = AtomicU64::new(0);
    let report_every = (shots / 100).max(1);
    let run_one = |state: &mut StateVector, shot: u64| -> Result<u64, DeviceError> {
        ctx.check_cancelled()?;
        match prefix {
            Some(p) => state.copy_from(p),
            None => state.reset_zero(),
        }
        let mut rng = sample::stream(seed, domain::TRAJECTORY, shot);
        let mut clbits = 0u64;
        run_steps(state, rest, &mut rng, &mut clbits, &compiled.readout, ctx)?;
        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
        if d.is_multiple_of(report_every) {
            ctx.report("run", d as f64 / shots as f64);
        }
        Ok(clbits)
    };
    let work = usize::try_from(shots).unwrap_or(usize::MAX).saturating_mul(1 << n);
    let outcomes: Vec<u64> = if n <= 14 && crate::par::worth_it(work) {
        (0..shots)
            .into_par_iter()
            .map_init(
                || StateVector::zero(n),
                |state, shot| match state {
                    Ok(s) => run_one(s, shot),
                    Err(e) => Err(e.clone()),
                },
            )
            .collect::<Result<_, _>>()?
    } else {
        let mut out = Vec::with_capacity(shots as usize);
        for shot in 0..shots {
            out.push(run_one(base, shot)?);
        }
        out
    };
    let counts = count_sorted_or_not(&outcomes);
    Ok(Outcomes { counts, memory: memory.then_some(outcomes) })
}

/// Runs `steps` on one trajectory.
pub(crate) fn run_steps(
    state: &mut StateVector,
    steps: &[Step],
    rng: &mut ChaCha8Rng,
    clbits: &mut u64,
    readout: &[f64],
    ctx: &ExecContext,
) -> Result<(), DeviceError> {
    let n = state.num_qubits();
    for step in steps {
        let a = state.amplitudes_mut();
        match step {
            Step::Gates(stages) => {
                for stage in stages {
                    exec::run_stage(a, stage);
                    if stages.len() > 1 {
                        ctx.check_cancelled()?;
                    }
                }
            }
            Step::Conditional { clbits: bits, value, then } => {
                let v =
                    bits.iter().enumerate().fold(0u64, |v, (k, &b)| v | ((*clbits >> b) & 1) << k);
                if v == *value {
                    run_steps(state, then, rng, clbits, readout, ctx)?;
                }
            }
            Step::Measure { qubit, clbit } => {
                let one = measure(a, n, *qubit, rng);
                let flip =
                    readout.get(*qubit as usize).is_some_and(|&e| e > 0.0 && uniform(rng) < e);
                let bit = u64::from(one ^ flip);
                *clbits = (*clbits & !(1 << clbit)) | bit << clbit;
            }
            Step::Reset { qubit } => {
                let p1 = sample::prob_one(a, *qubit).clamp(0.0, 1.0);
                let q = *qubit;
                if uniform(rng) < p1 {
                    apply_op(a, n, Kind::R1 { q, m: [0.0, 1.0 / p1.sqrt(), 0.0, 0.0] });
                } else {
                    apply_op(
                        a,
                        n,
                        Kind::D1 { q, d: [C::new(1.0 / (1.0 - p1).sqrt(), 0.0), C::new(0.0, 0.0)] },
                    );
                }
            }
            Step::Depolarize { qubits, p } => {
                if uniform(rng) < *p {
                    let k = qubits.len() as u32;
                    let choices = (1u64 << (2 * k)) - 1;
                    let pick = 1 + ((uniform(rng) * choices as f64) as u64).min(choices - 1);
                    for (j, &q) in qubits.iter().enumerate() {
                        let gate = match pick >> (2 * j) & 3 {
                            1 => Gate::X,
                            2 => Gate::Y,
                            3 => Gate::Z,
                            _ => continue,
                        };
                        if let Some(op) = ops::lower(&gate, &[q]) {
                            apply_op(a, n, op.kind);
                        }
                    }
                }
            }
            Step::Relax { qubit, gamma, pz } => {
                let q = *qubit;
                if *gamma > 0.0 {
                    let p1 = sample::prob_one(a, q).clamp(0.0, 1.0);
                    let jump = gamma * p1;
                    if uniform(rng) < jump {
                        apply_op(a, n, Kind::R1 { q, m: [0.0, 1.0 / p1.sqrt(), 0.0, 0.0] });
                    } else {
                        let f = 1.0 / (1.0 - jump).sqrt();
                        let d = [C::new(f, 0.0), C::new(f * (1.0 - gamma).sqrt(), 0.0)];
                        apply_op(a, n, Kind::D1 { q, d });
                    }
                }
                if *pz > 0.0 && uniform(rng) < *pz {
                    apply_op(a, n, Kind::D1 { q, d: [C::new(1.0, 0.0), C::new(-1.0, 0.0)] });
                }
            }
        }
    }
    Ok(())
}

/// Measures `q`, collapses and renormalizes; true for outcome 1.
fn measure(a: &mut [C], n: u32, q: u32, rng: &mut ChaCha8Rng) -> bool {
    let p1 = sample::prob_one(a, q).clamp(0.0, 1.0);
    let one = uniform(rng) < p1;
    let zero = C::new(0.0, 0.0);
    let d = if one {
        [zero, C::new(1.0 / p1.sqrt(), 0.0)]
    } else {
        [C::new(1.0 / (1.0 - p1).sqrt(), 0.0), zero]
    };
    apply_op(a, n, Kind::D1 { q, d });
    one
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(gate: Gate, qubits: &[u32]) -> Op {
        ops::lower(&gate, qubits).expect("not the identity")
    }

    #[test]
    fn only_a_commuting_tail_of_permutations_and_phases_is_peeled() {
        let ops = vec![
            op(Gate::H, &[0]),
            op(Gate::Cx, &[0, 1]),
            op(Gate::Ry(0.3), &[2]),
            op(Gate::Cx, &[2, 3]),
            op(Gate::Rz(0.5), &[1]),
            op(Gate::H, &[3]),
            op(Gate::Swap, &[0, 1]),
        ];
        let (kept, relabel) = peel_suffix(ops);
        // cx(2, 3) stays (h on 3 follows); cx(0, 1) and the swap move to
        // the end; rz drops out.
        assert_eq!(kept.len(), 4);
        assert_eq!(relabel, vec![op(Gate::Cx, &[0, 1]), op(Gate::Swap, &[0, 1])]);
        // |q1 q0> = |01>: cx gives |11>, the swap keeps it.
        assert_eq!(relabel_index(&relabel, 0b01), 0b11);
        // |10>: cx does nothing (control 0), the swap gives |01>.
        assert_eq!(relabel_index(&relabel, 0b10), 0b01);
        let ccx = [op(Gate::Ccx, &[0, 1, 2])];
        assert_eq!(relabel_index(&ccx, 0b011), 0b111);
        assert_eq!(relabel_index(&ccx, 0b001), 0b001);
    }
}
