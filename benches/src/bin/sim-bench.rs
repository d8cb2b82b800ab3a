//! Times Eigen's simulator on one benchmark circuit, the way
//! `/work/shared/bench/peers.py` times the peers: the simulation call only
//! (`Device::execute` on the parsed circuit), median of repetitions after a
//! warm-up, 1024 shots when the circuit measures, else 1.
//!
//! `sim-bench FILE [--threads N] [--reps R] [--shots S] [--block-bits B] [--seg-bits L] [--inner-bits I]`
//! prints one JSON object: {"file":..., "threads":..., "eigen_s":...}.

use eigen_hal::{Device, ExecContext, ExecOptions, Executable, Operation};
use eigen_sim::{Blocking, SimConfig, SimDevice};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("sim-bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut threads = 2usize;
    let mut reps = 3usize;
    let mut shots = 1024u32;
    let mut blocking = Blocking::default();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--threads" => threads = value()?.parse()?,
            "--reps" => reps = value()?.parse()?,
            "--shots" => shots = value()?.parse()?,
            "--block-bits" => blocking.block_bits = value()?.parse()?,
            "--seg-bits" => blocking.seg_bits = value()?.parse()?,
            "--inner-bits" => blocking.inner_bits = value()?.parse()?,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => file = Some(a),
        }
    }
    let file = file.ok_or("usage: sim-bench FILE [--threads N] [--reps R] [--shots S]")?;
    let circuit = eigen_benches::read_circuit(std::path::Path::new(&file))?;
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
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let name = std::path::Path::new(&file)
        .file_name()
        .map_or(file.clone(), |n| n.to_string_lossy().into_owned());
    println!("{{\"file\": \"{name}\", \"threads\": {threads}, \"eigen_s\": {median}}}");
    Ok(())
}
