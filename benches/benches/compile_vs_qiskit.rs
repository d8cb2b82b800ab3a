//! Compile benchmark: Eigen's compiler on the shared benchmark circuits
//! (qft_N, random_N_d20, N = 16, 20) for a 27-qubit heavy-hex map and a 5x5
//! grid with natives {rz, sx, x, cz}, at optimization levels 1 and 2.
//!
//! Prints one JSON object per line (circuit, device, level, median compile
//! seconds, 2-qubit gate count, swaps, depth) plus the coupling maps, for
//! `scripts/bench-compile.py`, which runs `qiskit.transpile` on the same
//! circuits and maps in the same run and prints the ratios. Not a test:
//! nothing here asserts a time.
//!
//! Environment: `EIGEN_BENCH_CIRCUITS` (default `/work/shared/bench/circuits`),
//! `EIGEN_BENCH_REPEATS` (default 15), `EIGEN_BENCH_ONLY` (comma-separated
//! substrings of circuit names to keep), `EIGEN_BENCH_LEVELS` (comma-separated
//! optimization levels, default `1,2`).

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
    for name in ["qft_16", "qft_20", "random_16_d20", "random_20_d20"] {
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
        let t0 = Instant::now();
        let parsed = match qasm::parse(&source, ProgramFormat::Detect, &ParseLimits::default()) {
            Ok(p) => p,
            Err(d) => {
                eprintln!("skipping {path}: {d:?}");
                continue;
            }
        };
        let parse_s = t0.elapsed().as_secs_f64();
        for d in &devices {
            for &level in &levels {
                let options = CompileOptions { optimization_level: level };
                let mut times = Vec::with_capacity(repeats);
                let mut last = None;
                for _ in 0..repeats {
                    let t = Instant::now();
                    let c = compile_circuit(&parsed.circuit, d, &options);
                    times.push(t.elapsed().as_secs_f64());
                    last = Some(c);
                }
                times.sort_by(f64::total_cmp);
                let median = times[times.len() / 2];
                match last {
                    Some(Ok(c)) => println!(
                        "{{\"circuit\":\"{name}\",\"file\":\"{path}\",\"device\":\"{}\",\"level\":{level},\"seconds\":{median:e},\"parse_seconds\":{parse_s:e},\"two_qubit\":{},\"swaps\":{},\"depth\":{}}}",
                        d.id, c.stats.two_qubit_gates, c.stats.swaps, c.stats.depth
                    ),
                    Some(Err(e)) => eprintln!("{name} on {} failed: {e:?}", d.id),
                    None => {}
                }
            }
        }
    }
}
