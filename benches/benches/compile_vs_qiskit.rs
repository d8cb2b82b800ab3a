//! Compile benchmark: Eigen's compiler on the shared benchmark circuits
//! (qft_N, random_N_d20, N = 16, 20) for a 27-qubit heavy-hex map and a 5x5
//! grid with natives {rz, sx, x, cz}, at optimization levels 1 and 2.
//!
//! Two modes, both printing one JSON object per line (never asserting a
//! time):
//!
//! - batch (default): per case, one untimed warm-up compile, then
//!   `EIGEN_BENCH_REPEATS` timed ones; prints the coupling maps, then per
//!   case the median and every sample, the 2-qubit gate count, swaps and
//!   depth.
//! - serve (`EIGEN_BENCH_SERVE=1`): prints the coupling maps and the case
//!   list, then answers requests on stdin, one per line,
//!   `CIRCUIT DEVICE LEVEL REPEATS WARMUP`, with one line of samples.
//!   `scripts/bench-compile.py` uses it to interleave Eigen's and Qiskit's
//!   samples case by case in the same run, so a burst of load from other
//!   processes hits both sides alike.
//!
//! Timing: each compile is timed alone with `Instant` around
//! `compile_circuit` on an already-parsed circuit (parsing is excluded, as
//! on the Qiskit side), in this process (no process start-up in a sample).
//!
//! Environment: `EIGEN_BENCH_CIRCUITS` (default `/work/shared/bench/circuits`),
//! `EIGEN_BENCH_NAMES` (comma-separated circuit file stems to load instead
//! of the four benchmark circuits, e.g. `qft_24,ghz_26` to check that a
//! change keeps the compiled output on more programs),
//! `EIGEN_BENCH_REPEATS` (default 15), `EIGEN_BENCH_ONLY` (comma-separated
//! substrings of circuit names to keep), `EIGEN_BENCH_LEVELS` (comma-separated
//! optimization levels, default `1,2`), `EIGEN_BENCH_SERVE`.

use eigen_hal::{DeviceKind, Limits, NativeGate, Seconds, Target, topology};
use eigen_kernel::compiler::qasm::{self, ParseLimits};
use eigen_kernel::compiler::{CompileOptions, ProgramFormat, compile_circuit};
use std::time::Instant;

fn device(id: &str, n: u32, map: Vec<(u32, u32)>) -> Target {
    let gate = |name: &str, q: u32, ns: f64, error: f64| NativeGate {
        name: name.into(),
        num_qubits: q,
        duration: Seconds::from_nanos(ns),
        error,
    };
    Target {
        id: id.into(),
        name: id.into(),
        kind: DeviceKind::Simulator,
        num_qubits: n,
        coupling_map: Some(map),
        native_gates: vec![
            gate("rz", 1, 0.0, 0.0),
            gate("sx", 1, 35.0, 2e-4),
            gate("x", 1, 35.0, 2e-4),
            gate("cz", 2, 60.0, 6e-3),
        ],
        qubits: Vec::new(),
        dt: None,
        limits: Limits { max_shots: 100_000, max_qubits: n },
        calibration_id: "bench".into(),
    }
}

fn json_edges(edges: &[(u32, u32)]) -> String {
    let parts: Vec<String> = edges.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
    format!("[{}]", parts.join(","))
}

/// The benchmark's circuits (file stems in the circuit directory).
const DEFAULT_CIRCUITS: [&str; 4] = ["qft_16", "qft_20", "random_16_d20", "random_20_d20"];

/// The benchmark circuits, parsed.
struct Case {
    name: String,
    path: String,
    circuit: eigen_hal::Circuit,
}

fn load(dir: &str, only: &[String]) -> Vec<Case> {
    let mut cases = Vec::new();
    let names: Vec<String> = match std::env::var("EIGEN_BENCH_NAMES") {
        Ok(list) => list.split(',').map(str::to_owned).filter(|s| !s.is_empty()).collect(),
        Err(_) => DEFAULT_CIRCUITS.iter().map(|&s| s.to_owned()).collect(),
    };
    for name in names {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let path = format!("{dir}/{name}.qasm");
        let source = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {path}: {e}");
                continue;
            }
        };
        match qasm::parse(&source, ProgramFormat::Detect, &ParseLimits::default()) {
            Ok(p) => cases.push(Case { name, path, circuit: p.circuit }),
            Err(d) => eprintln!("skipping {path}: {d:?}"),
        }
    }
    cases
}

/// `warmup` untimed compiles, then `repeats` timed ones; the samples in
/// seconds (in run order) and the last result's JSON fields.
fn measure(
    case: &Case,
    device: &Target,
    level: u8,
    repeats: usize,
    warmup: usize,
) -> Result<(Vec<f64>, String), String> {
    let options = CompileOptions { optimization_level: level };
    let mut last = None;
    for _ in 0..warmup {
        last = Some(compile_circuit(&case.circuit, device, &options));
    }
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        let c = compile_circuit(&case.circuit, device, &options);
        times.push(t.elapsed().as_secs_f64());
        last = Some(c);
    }
    match last {
        Some(Ok(c)) => Ok((
            times,
            format!(
                "\"circuit\":\"{}\",\"file\":\"{}\",\"device\":\"{}\",\"level\":{level},\"two_qubit\":{},\"swaps\":{},\"depth\":{}",
                case.name,
                case.path,
                device.id,
                c.stats.two_qubit_gates,
                c.stats.swaps,
                c.stats.depth
            ),
        )),
        Some(Err(e)) => Err(format!("{} on {} failed: {e:?}", case.name, device.id)),
        None => Err("nothing ran".into()),
    }
}

fn json_samples(times: &[f64]) -> String {
    let parts: Vec<String> = times.iter().map(|t| format!("{t:e}")).collect();
    format!("[{}]", parts.join(","))
}

fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let dir = std::env::var("EIGEN_BENCH_CIRCUITS")
        .unwrap_or_else(|_| "/work/shared/bench/circuits".into());
    let repeats: usize =
        std::env::var("EIGEN_BENCH_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let only: Vec<String> = std::env::var("EIGEN_BENCH_ONLY")
        .map(|s| s.split(',').map(str::to_owned).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let levels: Vec<u8> = std::env::var("EIGEN_BENCH_LEVELS")
        .ok()
        .map(|s| s.split(',').filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let serve = std::env::var("EIGEN_BENCH_SERVE").is_ok_and(|v| v == "1");
    let devices = [
        device("heavyhex-27", 27, topology::heavy_hex_27()),
        device("grid-5x5", 25, topology::grid(5, 5)),
    ];
    for d in &devices {
        let map = d.coupling_map.as_deref().unwrap_or(&[]);
        println!(
            "{{\"device\":\"{}\",\"num_qubits\":{},\"coupling_map\":{}}}",
            d.id,
            d.num_qubits,
            json_edges(map)
        );
    }
    let cases = load(&dir, &only);
    if serve {
        serve_requests(&cases, &devices, &levels);
        return;
    }
    for case in &cases {
        for d in &devices {
            for &level in &levels {
                match measure(case, d, level, repeats, 1) {
                    Ok((times, fields)) => println!(
                        "{{{fields},\"seconds\":{:e},\"samples\":{}}}",
                        median(&times),
                        json_samples(&times)
                    ),
                    Err(e) => eprintln!("{e}"),
                }
            }
        }
    }
}

/// Serve mode: lists the cases, then answers `CIRCUIT DEVICE LEVEL REPEATS
/// WARMUP` lines until stdin closes.
fn serve_requests(cases: &[Case], devices: &[Target], levels: &[u8]) {
    use std::io::{BufRead, Write};
    for case in cases {
        for d in devices {
            for &level in levels {
                println!(
                    "{{\"case\":{{\"circuit\":\"{}\",\"file\":\"{}\",\"device\":\"{}\",\"level\":{level}}}}}",
                    case.name, case.path, d.id
                );
            }
        }
    }
    println!("{{\"ready\":true}}");
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let f: Vec<&str> = line.split_whitespace().collect();
        let reply = match f.as_slice() {
            [name, dev, level, repeats, warmup] => {
                let case = cases.iter().find(|c| c.name == *name);
                let device = devices.iter().find(|d| d.id == *dev);
                match (case, device, level.parse(), repeats.parse(), warmup.parse()) {
                    (Some(c), Some(d), Ok(level), Ok(repeats), Ok(warmup)) => {
                        match measure(c, d, level, repeats, warmup) {
                            Ok((times, fields)) => {
                                format!("{{{fields},\"samples\":{}}}", json_samples(&times))
                            }
                            Err(e) => format!("{{\"error\":{e:?}}}"),
                        }
                    }
                    _ => format!("{{\"error\":\"bad request: {}\"}}", line.escape_default()),
                }
            }
            _ => format!("{{\"error\":\"bad request: {}\"}}", line.escape_default()),
        };
        if writeln!(stdout, "{reply}").and_then(|()| stdout.flush()).is_err() {
            break;
        }
    }
}
