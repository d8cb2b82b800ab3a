//! `eigen run`: compile and simulate one program in this process, no server.
//!
//! The same compiler and simulator devices `eigen serve` uses, called
//! directly: this is how a user checks a circuit or times it. Timing is split
//! into compile and execute so neither hides the other.

use super::output::{counts_table, human_duration, millis};
use super::output::{errln, outln};
use super::program::ProgramFile;
use anyhow::{Context as _, bail};
use clap::Args;
use eigen_hal::{Circuit, Device, ExecContext, ExecOptions, Executable};
use eigen_kernel::compiler::{self, CompileOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `eigen run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The OpenQASM 2 or 3 program.
    pub file: PathBuf,
    /// The simulator device to run on (`sim`, `sim-noisy`, `sim-heavyhex-27`, `sim-grid-25`).
    #[arg(long, short = 't', default_value = "sim")]
    pub target: String,
    /// Repetitions.
    #[arg(long, short = 's', default_value_t = 1024)]
    pub shots: u32,
    /// Seed for reproducible counts (the same on any machine and thread count).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Optimization level, 0 (none) to 3.
    #[arg(long, short = 'O', default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub level: u8,
    /// Also return each shot's outcome, in order.
    #[arg(long)]
    pub memory: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs the program; prints counts and timings.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let program = ProgramFile::read(&args.file)?;
    let devices = eigen_sim::default_devices().context("cannot build the simulator devices")?;
    let Some(device) = devices.iter().find(|d| d.target().id == args.target) else {
        let ids: Vec<&str> = devices.iter().map(|d| d.target().id.as_str()).collect();
        bail!("unknown target {:?}; in-process targets are: {}", args.target, ids.join(", "));
    };
    let device: &Arc<dyn Device> = device;

    let started = Instant::now();
    let options = CompileOptions { optimization_level: args.level };
    let compiled =
        match compiler::compile(&program.source, program.format, device.target(), &options) {
            Ok(c) => c,
            Err(diagnostics) => {
                let errors = program.eprint_diagnostics(&diagnostics);
                bail!("{}: {errors} error(s); nothing was run", program.display_name());
            }
        };
    let compile_time = started.elapsed();
    if !args.json {
        for w in &compiled.warnings {
            errln!("{}", program.diagnostic_line(w));
        }
    }

    // Outcomes are formatted from the classical registers only; keep them and
    // hand the (possibly large) operation list to the device without a copy.
    let registers = Circuit {
        num_qubits: compiled.circuit.num_qubits,
        num_clbits: compiled.circuit.num_clbits,
        cregs: compiled.circuit.cregs.clone(),
        ops: Vec::new(),
    };
    let executable = Executable::Circuit(compiled.circuit);
    let exec_options =
        ExecOptions { shots: args.shots, seed: args.seed, memory: args.memory, statevector: false };
    let exec_started = Instant::now();
    let result = device
        .execute(&executable, &exec_options, &ExecContext::detached())
        .with_context(|| format!("execution on {} failed", args.target))?;
    let execute_time = exec_started.elapsed();
    let total = started.elapsed();

    let counts: BTreeMap<String, u64> =
        result.counts.iter().map(|(k, v)| (registers.format_outcome(*k), *v)).collect();
    let memory: Option<Vec<String>> =
        result.memory.as_ref().map(|m| m.iter().map(|o| registers.format_outcome(*o)).collect());

    if args.json {
        let stats = &compiled.stats;
        let value = json!({
            "file": program.display_name(),
            "target": args.target,
            "shots": args.shots,
            "seed": result.seed,
            "counts": counts,
            "memory": memory,
            "stats": {
                "depth": stats.depth,
                "two_qubit_gates": stats.two_qubit_gates,
                "swaps": stats.swaps,
                "gate_counts": stats.gate_counts,
            },
            "timing_ms": {
                "compile": millis(compile_time),
                "execute": millis(execute_time),
                "device": millis(result.duration),
                "total": millis(total),
            },
        });
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }

    outln!("{}", counts_table(&counts))?;
    if let Some(memory) = &memory {
        outln!("memory: {}", memory.join(" "))?;
    }
    outln!(
        "target {}  qubits {}  depth {}  2q gates {}  swaps {}  seed {}",
        args.target,
        registers.num_qubits,
        compiled.stats.depth,
        compiled.stats.two_qubit_gates,
        compiled.stats.swaps,
        result.seed
    )?;
    outln!(
        "compile {}  execute {} (device {})  total {}",
        human_duration(compile_time),
        human_duration(execute_time),
        human_duration(result.duration),
        human_duration(total)
    )?;
    Ok(())
}
