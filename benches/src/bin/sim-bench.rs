//! Times Eigen's simulator on one benchmark circuit, the way
//! `/work/shared/bench/peers.py` times the peers: the simulation call only
//! (`Device::execute` on the parsed circuit), median of repetitions after a
//! warm-up, 1024 shots when the circuit measures, else 1.
//!
//! `sim-bench FILE [--threads N] [--reps R] [--shots S] [--block-bits B] [--seg-bits L] [--inner-bits I]`
//! prints one JSON object: {"file":..., "threads":..., "eigen_s":...}.

use clap::Parser;
use eigen_hal::{Device, ExecContext, ExecOptions, Executable, Operation};
use eigen_sim::{Blocking, SimConfig, SimDevice};
use std::path::PathBuf;
use std::time::Instant;

/// Times the simulator on one OpenQASM circuit file.
#[derive(Debug, Parser)]
struct Args {
    /// The circuit (OpenQASM 2 or 3).
    file: PathBuf,
    /// Simulator threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed repetitions (after one warm-up); the median is printed.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Shots when the circuit measures (else 1).
    #[arg(long, default_value_t = 1024)]
    shots: u32,
    /// log2 of a cache block's amplitudes (default: the simulator's).
    #[arg(long)]
    block_bits: Option<u32>,
    /// log2 of the contiguous run gathered at a time (default: the simulator's).
    #[arg(long)]
    seg_bits: Option<u32>,
    /// log2 of an L1-sized sub-block's amplitudes (default: the simulator's).
    #[arg(long)]
    inner_bits: Option<u32>,
}

fn main() {
    if let Err(e) = run(&Args::parse()) {
        eprintln!("sim-bench: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (file, threads, reps, shots) = (&args.file, args.threads, args.reps, args.shots);
    let defaults = Blocking::default();
    let blocking = Blocking {
        block_bits: args.block_bits.unwrap_or(defaults.block_bits),
        seg_bits: args.seg_bits.unwrap_or(defaults.seg_bits),
        inner_bits: args.inner_bits.unwrap_or(defaults.inner_bits),
    };
    let circuit = eigen_benches::read_circuit(file)?;
    let measured = circuit.ops.iter().any(|o| matches!(o, Operation::Measure { .. }));
    let config = SimConfig { threads: Some(threads), blocking, ..SimConfig::default() };
    let device = SimDevice::new(eigen_sim::targets::ideal_target(), false, config)?;
    let options = ExecOptions {
        shots: if measured { shots } else { 1 },
        seed: Some(1234),
        ..ExecOptions::default()
    };
    let exe = Executable::Circuit(circuit);
    let ctx = ExecContext::detached();
    device.execute(&exe, &options, &ctx)?; // warm-up: also fills the buffer pool
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        device.execute(&exe, &options, &ctx)?;
        times.push(t0.elapsed().as_secs_f64());
    }
    let median = eigen_benches::median(times);
    let name = file
        .file_name()
        .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    println!("{{\"file\": \"{name}\", \"threads\": {threads}, \"eigen_s\": {median}}}");
    Ok(())
}
