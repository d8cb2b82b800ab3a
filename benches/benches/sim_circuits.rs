//! Whole benchmark circuits through `Device::execute`, as `scripts/bench-sim`
//! runs them against Aer and qulacs (this bench is the criterion view of the
//! same workload, without peers).
//!
//! `cargo bench -p eigen-benches --bench sim_circuits`
//! Circuits come from `EIGEN_BENCH_CIRCUITS` (default
//! `/work/shared/bench/circuits`); sizes 20 and 22 keep a run short.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use eigen_hal::{Device, ExecContext, ExecOptions, Executable, Operation};
use eigen_sim::SimDevice;
use std::path::PathBuf;

fn circuits(c: &mut Criterion) {
    let dir = PathBuf::from(
        std::env::var("EIGEN_BENCH_CIRCUITS")
            .unwrap_or_else(|_| "/work/shared/bench/circuits".into()),
    );
    let device = SimDevice::ideal().expect("simulator");
    let ctx = ExecContext::detached();
    let mut g = c.benchmark_group("sim_circuit");
    g.sample_size(10);
    for name in ["qft_20", "random_20_d20", "ghz_20", "qft_22", "random_22_d20"] {
        let path = dir.join(format!("{name}.qasm"));
        if !path.exists() {
            eprintln!("skipping {name}: {} not found", path.display());
            continue;
        }
        let circuit = eigen_benches::read_circuit(&path).expect("a valid benchmark circuit");
        let measured = circuit.ops.iter().any(|o| matches!(o, Operation::Measure { .. }));
        let options = ExecOptions {
            shots: if measured { 1024 } else { 1 },
            seed: Some(1),
            ..ExecOptions::default()
        };
        let exe = Executable::Circuit(circuit);
        g.bench_with_input(BenchmarkId::from_parameter(name), &name, |b, _| {
            b.iter(|| device.execute(&exe, &options, &ctx).expect("runs"));
        });
    }
    g.finish();
}

criterion_group!(benches, circuits);
criterion_main!(benches);
