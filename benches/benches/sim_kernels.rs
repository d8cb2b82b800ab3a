//! Single gate passes against the memory-bandwidth floor, and shot sampling.
//!
//! For n = 20..26 the `floor` case is a plain read-modify-write pass over
//! `2^n` complex128 amplitudes (scale every value; 32 * 2^n bytes moved),
//! run in the same process on the same rayon pool as the gates, so the
//! ratio `gate / floor` is what the issue asks to keep under 1.3 for a
//! 1-qubit gate. Criterion prints each case's throughput in bytes/s
//! (32 * 2^n per pass).
//!
//! `sample_vs_gate/*/n` (n = 20, 24), one after the other in one run on the
//! same 2^n state: `gate_h_qmid`, one h pass on the middle qubit;
//! `gate_h_qmid_then_sample_1e6`, the same pass recording the sampler's
//! masses while the amplitudes are in cache, then 10^6 shots as (index,
//! count) pairs, as a device samples a terminal circuit (its excess over
//! `gate_h_qmid` is what sampling costs there); `sample_runs_1e6`, the same
//! shots from the state alone (with a read pass for the masses);
//! `sample_1e6`, those shots expanded to one index each; and
//! `sample_counts_1e6`, counted into a map (its size depends on how many
//! distinct outcomes there are, not on the sampler).
//!
//! `h_every_qubit_24/{floor_rmw,h/q}` (only with `EIGEN_BENCH_EVERY_QUBIT=1`):
//! the floor and an h pass on each of the 24 qubits.
//!
//! `cargo bench -p eigen-benches --bench sim_kernels`
//! (threads: `RAYON_NUM_THREADS`, default one per core).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eigen_benches::floor_pass;
use eigen_hal::Gate;
use eigen_sim::StateVector;
use num_complex::Complex64;
use std::hint::black_box;

const SIZES: [u32; 4] = [20, 22, 24, 26];

fn gate_pass(c: &mut Criterion) {
    let mut g = c.benchmark_group("gate_pass");
    g.sample_size(10);
    for n in SIZES {
        g.throughput(Throughput::Bytes(32u64 << n));
        g.bench_with_input(BenchmarkId::new("floor_rmw", n), &n, |b, &n| floor_rmw(b, n));
        let mut sv = uniform_state(n);
        let cases: [(&str, Gate, Vec<u32>); 6] = [
            ("h_q0", Gate::H, vec![0]),
            ("h_qmid", Gate::H, vec![n / 2]),
            ("h_qtop", Gate::H, vec![n - 1]),
            ("u_qtop", Gate::U(0.3, 0.2, 0.1), vec![n - 1]),
            ("rz_qtop", Gate::Rz(0.3), vec![n - 1]),
            ("cx_top_low", Gate::Cx, vec![n - 1, 0]),
        ];
        for (name, gate, qubits) in cases {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| sv.apply_gate(&gate, &qubits).expect("valid"));
            });
        }
    }
    g.finish();
}

/// Sampling 10^6 shots next to one gate pass on the same state, so the
/// issue's "sampling in less time than one gate pass" reads off one run.
fn sampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("sample_vs_gate");
    g.sample_size(10);
    for n in [20u32, 24] {
        let mut sv = StateVector::zero(n).expect("fits in memory");
        let layer: Vec<_> = (0..n).map(|q| (Gate::Ry(0.3 + 0.1 * f64::from(q)), vec![q])).collect();
        sv.apply_gates(&layer, Default::default()).expect("valid");
        // Repeated h passes alternate between two normalized states; the
        // sampler's cost does not depend on which one it reads.
        g.bench_with_input(BenchmarkId::new("gate_h_qmid", n), &n, |b, _| {
            b.iter(|| sv.apply_gate(&Gate::H, &[n / 2]).expect("valid"));
        });
        let h = [(Gate::H, vec![n / 2])];
        g.bench_with_input(BenchmarkId::new("gate_h_qmid_then_sample_1e6", n), &n, |b, _| {
            b.iter(|| {
                black_box(sv.apply_gates_and_sample(&h, Default::default(), 1_000_000, 7))
                    .expect("valid")
            });
        });
        g.bench_with_input(BenchmarkId::new("sample_runs_1e6", n), &n, |b, _| {
            b.iter(|| black_box(sv.sample_runs(1_000_000, 7)));
        });
        g.bench_with_input(BenchmarkId::new("sample_1e6", n), &n, |b, _| {
            b.iter(|| black_box(sv.sample(1_000_000, 7)));
        });
        g.bench_with_input(BenchmarkId::new("sample_counts_1e6", n), &n, |b, _| {
            b.iter(|| black_box(sv.sample_counts(1_000_000, 7)));
        });
    }
    g.finish();
}

/// With `EIGEN_BENCH_EVERY_QUBIT=1`: an h pass on every qubit of a 24-qubit
/// state, after the floor in the same group (the issue asks for every
/// target qubit within 1.3x of the floor). Off by default: 25 cases.
fn every_qubit(c: &mut Criterion) {
    if std::env::var_os("EIGEN_BENCH_EVERY_QUBIT").is_none() {
        return;
    }
    let n = 24u32;
    let mut g = c.benchmark_group("h_every_qubit_24");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(32u64 << n));
    g.bench_function("floor_rmw", |b| floor_rmw(b, n));
    let mut sv = uniform_state(n);
    for q in 0..n {
        g.bench_with_input(BenchmarkId::new("h", q), &q, |b, &q| {
            b.iter(|| sv.apply_gate(&Gate::H, &[q]).expect("valid"));
        });
    }
    g.finish();
}

/// The memory-bandwidth floor ([`floor_pass`]) on a 2^n-amplitude buffer.
fn floor_rmw(b: &mut criterion::Bencher<'_>, n: u32) {
    let mut floor = vec![Complex64::new(1.0, 0.5); 1 << n];
    b.iter(|| {
        floor_pass(&mut floor);
        black_box(&floor);
    });
}

/// The uniform superposition on n qubits (h on every qubit).
fn uniform_state(n: u32) -> StateVector {
    let mut sv = StateVector::zero(n).expect("fits in memory");
    sv.apply_gates(&(0..n).map(|q| (Gate::H, vec![q])).collect::<Vec<_>>(), Default::default())
        .expect("valid");
    sv
}

criterion_group!(benches, gate_pass, sampling, every_qubit);
criterion_main!(benches);
