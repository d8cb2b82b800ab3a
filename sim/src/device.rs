//! [`SimDevice`]: the simulator as an [`eigen_hal::Device`].

use crate::compact;
use crate::noise::NoiseModel;
use crate::plan::Blocking;
use crate::program::{self, Outcomes};
use crate::state::{self, BufferPool, StateVector};
use eigen_hal::{
    Circuit, Device, DeviceError, ErrorKind, ExecContext, ExecOptions, ExecResult, Executable,
    Operation, Target,
};
use std::time::Instant;

/// States of at most this many qubits (16 MiB) skip the free-memory check.
const SMALL_STATE_QUBITS: u32 = 20;

/// Tunables of a simulator device.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The most bytes a job's state may use; `None` means what the machine
    /// has available when the job starts (`MemAvailable`).
    pub memory_limit: Option<u64>,
    /// The most qubits for which a final statevector is returned.
    pub max_statevector_qubits: u32,
    /// Cache blocking of the executor.
    pub blocking: Blocking,
    /// Worker threads; `None` uses rayon's global pool (one per core).
    pub threads: Option<usize>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            memory_limit: None,
            max_statevector_qubits: 20,
            blocking: Blocking::default(),
            threads: None,
        }
    }
}

/// A state-vector simulator device.
///
/// The ideal `sim` accepts every gate on any pair of qubits. Emulated
/// hardware targets (`sim-heavyhex-27`, `sim-grid-25`) accept only their
/// native gates on their coupling map, like the chips they stand for, so a
/// program compiled for them is checked as the hardware would; their noise
/// is off unless [`SimDevice::with_noise`] turns it on.
pub struct SimDevice {
    target: Target,
    config: SimConfig,
    noise: Option<NoiseModel>,
    /// Restrict programs to the target's native gates and coupling map.
    enforce_target: bool,
    pool: BufferPool,
    threads: Option<rayon::ThreadPool>,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("id", &self.target.id)
            .field("config", &self.config)
            .field("noisy", &self.noise.is_some())
            .finish_non_exhaustive()
    }
}

impl SimDevice {
    /// A device for `target`, noise off; `enforce_target` restricts programs
    /// to the native gates and coupling map.
    pub fn new(
        target: Target,
        enforce_target: bool,
        config: SimConfig,
    ) -> Result<Self, DeviceError> {
        let threads = match config.threads {
            None => None,
            Some(t) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t.max(1))
                    .thread_name(|i| format!("eigen-sim-{i}"))
                    .build()
                    .map_err(|e| {
                        DeviceError::new(
                            ErrorKind::Other,
                            format!("cannot start simulator threads: {e}"),
                        )
                    })?,
            ),
        };
        Ok(Self {
            target,
            config,
            noise: None,
            enforce_target,
            pool: BufferPool::default(),
            threads,
        })
    }

    /// Turns noise on with `model`.
    #[must_use]
    pub fn with_noise_model(mut self, model: NoiseModel) -> Self {
        self.noise = Some(model);
        self
    }

    /// The noise model, if noise is on.
    #[must_use]
    pub fn noise(&self) -> Option<&NoiseModel> {
        self.noise.as_ref()
    }

    /// The device's configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    fn memory_limit(&self) -> u64 {
        self.config.memory_limit.unwrap_or_else(|| {
            state::available_memory()
                .map_or(u64::MAX, |m| m.saturating_add(self.pool.pooled_bytes()))
        })
    }

    fn check_target(&self, circuit: &Circuit) -> Result<(), DeviceError> {
        let t = &self.target;
        if circuit.num_qubits > t.num_qubits {
            return Err(DeviceError::new(
                ErrorKind::InvalidProgram,
                format!(
                    "the program uses {} qubits; `{}` has {}",
                    circuit.num_qubits, t.id, t.num_qubits
                ),
            ));
        }
        if !self.enforce_target {
            return Ok(());
        }
        for op in &circuit.ops {
            if let Operation::Gate { gate, qubits, .. } = op {
                if !t.accepts_gate(gate.name()) {
                    let natives: Vec<&str> =
                        t.native_gates.iter().map(|g| g.name.as_str()).collect();
                    return Err(DeviceError::new(
                        ErrorKind::InvalidProgram,
                        format!(
                            "gate `{}` is not native on `{}` (natives: {}); compile the program for this target",
                            gate.name(),
                            t.id,
                            natives.join(", ")
                        ),
                    ));
                }
                if let [a, b] = qubits[..]
                    && !t.connected(a, b)
                {
                    return Err(DeviceError::new(
                        ErrorKind::InvalidProgram,
                        format!(
                            "qubits {a} and {b} are not coupled on `{}`; route the program for this target",
                            t.id
                        ),
                    ));
                }
                if qubits.len() > 2 {
                    return Err(DeviceError::new(
                        ErrorKind::InvalidProgram,
                        format!(
                            "`{}` runs gates on at most 2 qubits; `{}` has {}",
                            t.id,
                            gate.name(),
                            qubits.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn run(
        &self,
        circuit: &Circuit,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError> {
        let started = Instant::now();
        self.check_target(circuit)?;
        if options.shots > self.target.limits.max_shots {
            return Err(DeviceError::new(
                ErrorKind::InvalidProgram,
                format!(
                    "{} shots requested; `{}` allows at most {}",
                    options.shots, self.target.id, self.target.limits.max_shots
                ),
            ));
        }
        // The statevector is returned for the full register (untouched
        // qubits are |0>), so the limit applies to the full register.
        let full = circuit.num_qubits;
        if options.statevector && full > self.config.max_statevector_qubits {
            return Err(DeviceError::new(
                ErrorKind::InvalidProgram,
                format!(
                    "the final statevector is returned for at most {} qubits; this program has {full}",
                    self.config.max_statevector_qubits
                ),
            ));
        }
        ctx.report("upload", 0.0);
        // Simulate only the qubits the program touches.
        let compaction = compact::compact(circuit)?;
        let n = compaction.circuit.num_qubits;
        if compaction.is_compacted() {
            tracing::debug!(full, simulated = n, "untouched qubits compacted away");
        }
        let compiled = program::compile(
            &compaction.circuit,
            &compaction.physical,
            self.noise.as_ref(),
            self.config.blocking,
            !options.statevector,
        )?;
        if options.statevector && compiled.terminal.is_none() {
            return Err(DeviceError::new(
                ErrorKind::InvalidProgram,
                "the final statevector needs a noiseless circuit whose measurements are all at the end",
            ));
        }
        // A small state (at most 16 MiB per copy) needs no look at the
        // machine's free memory: reading /proc/meminfo would cost more than
        // running it.
        let limit = if self.config.memory_limit.is_none() && n <= SMALL_STATE_QUBITS {
            u64::MAX
        } else {
            self.memory_limit()
        };
        // The state, plus a copy of it for a statevector result or a cached
        // trajectory prefix when that fits too.
        let copies = 1 + u64::from(options.statevector);
        state::check_memory(n, copies, limit)?;
        let cache_prefix = state::check_memory(n, copies + 1, limit).is_ok();
        let seed = options.seed.unwrap_or_else(rand::random);
        ctx.report("upload", 1.0);
        // The device's own threads only for work worth waking them for: a
        // tiny circuit runs on the caller's thread without touching a pool.
        let shots = usize::try_from(options.shots).unwrap_or(usize::MAX);
        let work = if compiled.terminal.is_some() {
            (1usize << n).max(shots)
        } else {
            (1usize << n).saturating_mul(shots)
        };
        let simulate = || {
            let mut sv = self.pool.take_state(n)?;
            let outcome = self.run_on(&compiled, &mut sv, options, seed, cache_prefix, ctx);
            self.pool.put_state(sv);
            outcome
        };
        let outcome = match &self.threads {
            Some(pool) if crate::par::worth_it(work) => pool.install(simulate),
            _ => simulate(),
        };
        let (outcomes, statevector) = outcome?;
        let statevector = statevector.map(|v| compaction.expand(v));
        ctx.report("readout", 1.0);
        Ok(ExecResult {
            counts: outcomes.counts,
            memory: outcomes.memory,
            statevector,
            seed,
            duration: started.elapsed(),
        })
    }

    #[allow(clippy::type_complexity)]
    fn run_on(
        &self,
        compiled: &program::Compiled,
        sv: &mut StateVector,
        options: &ExecOptions,
        seed: u64,
        cache_prefix: bool,
        ctx: &ExecContext,
    ) -> Result<(Outcomes, Option<Vec<num_complex::Complex64>>), DeviceError> {
        let shots = u64::from(options.shots);
        let Some(pairs) = &compiled.terminal else {
            let o = program::run_trajectories(
                compiled,
                sv,
                shots,
                seed,
                options.memory,
                cache_prefix,
                ctx,
            )?;
            return Ok((o, None));
        };
        let stages: Vec<_> = compiled
            .steps
            .iter()
            .flat_map(|s| match s {
                program::Step::Gates(st) => st.iter().collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        let total = stages.len().max(1) as f64;
        // The state starts as |0...0>: qubits no stage has mixed yet are 0
        // in every amplitude, and groups where they are 1 stay zero (a GHZ
        // chain's first stage touches one block of 2^15 amplitudes).
        let mut live = 0u64;
        // The last pass records what the sampler needs while its blocks are
        // in cache (`shots::Recording`): the dense sampler's counts, or the
        // search's masses, so sampling reads only the chunks that hold
        // shots.
        let sampling = shots > 0 && !pairs.is_empty();
        let len = sv.amplitudes().len();
        let mut record = sampling.then(|| {
            crate::shots::Recording::new(len, shots, seed, std::mem::take(&mut sv.masses))
        });
        let mut recorded = false;
        for (k, stage) in stages.iter().enumerate() {
            ctx.check_cancelled()?;
            let a = sv.amplitudes_mut();
            if let Some(r) = record.as_mut().filter(|_| k + 1 == stages.len()) {
                recorded = crate::exec::run_stage_with(a, stage, live, Some(r.target()));
            } else {
                crate::exec::run_stage_with(a, stage, live, None);
            }
            live |= stage.mixes;
            ctx.report("run", (k + 1) as f64 / total);
        }
        ctx.check_cancelled()?;
        let statevector = options.statevector.then(|| sv.amplitudes().to_vec());
        let Some(record) = record else {
            return Ok((program::zero_outcomes(shots, options.memory), statevector));
        };
        let (o, spare) = program::sample_terminal(
            sv,
            record,
            recorded,
            &compiled.relabel,
            pairs,
            shots,
            seed,
            options.memory,
        );
        sv.masses = spare;
        Ok((o, statevector))
    }
}

impl Device for SimDevice {
    fn target(&self) -> &Target {
        &self.target
    }

    fn execute(
        &self,
        executable: &Executable,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError> {
        let circuit = match executable {
            Executable::Circuit(c) => c,
            _ => {
                return Err(DeviceError::new(
                    ErrorKind::InvalidProgram,
                    format!(
                        "`{}` is a gate-level simulator: it runs circuits, not pulse schedules",
                        self.target.id
                    ),
                ));
            }
        };
        let span = tracing::debug_span!("sim.execute", device = %self.target.id, qubits = circuit.num_qubits, shots = options.shots);
        let _guard = span.enter();
        self.run(circuit, options, ctx)
    }
}
