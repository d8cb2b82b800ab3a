//! Quick timing of shot sampling against one gate pass on the same state,
//! without criterion's statistics (a few seconds per size), to follow
//! progress on a shared machine. The criterion figures are in
//! `benches/sim_kernels.rs` (`sample_vs_gate`).
//!
//! `RAYON_NUM_THREADS=T sim-bench-sample [--sizes "20 24"] [--shots S] [--reps R] [--fused-only]`
//! (`--help` says more) prints, per size, the medians (ms) of: one h pass on the middle qubit;
//! the same pass recording what the sampler needs (the dense sampler's
//! counts, or with few shots per amplitude the search's masses), then `S`
//! shots as counts (a device's terminal sampling); `S` shots from the state
//! alone (with its own read pass; skipped with `--fused-only`, e.g. to
//! profile the fused path alone); and the sampling share (fused minus the
//! plain pass). The
//! plain and fused passes alternate, so a load change on a shared machine
//! hits both alike.

use clap::Parser;
use eigen_benches::{Sizes, median, time_ms};
use eigen_hal::Gate;
use eigen_sim::{Blocking, StateVector};

/// Shot sampling against one gate pass on the same state.
#[derive(Debug, Parser)]
struct Args {
    /// Qubit counts, separated by spaces or commas.
    #[arg(long, default_value = "20 24")]
    sizes: Sizes,
    /// Shots per sampling.
    #[arg(long, default_value_t = 1_000_000)]
    shots: u64,
    /// Repetitions per measurement (after one warm-up).
    #[arg(long, default_value_t = 9)]
    reps: usize,
    /// Skip sampling from the state alone (with its own mass pass).
    #[arg(long)]
    fused_only: bool,
}

fn main() {
    if let Err(e) = run(&Args::parse()) {
        eprintln!("sim-bench-sample: {e}");
        std::process::exit(2);
    }
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median((0..reps.max(1)).map(|_| time_ms(&mut f)).collect())
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let Args { shots, reps, fused_only, .. } = *args;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    for &n in &args.sizes.0 {
        if n == 0 {
            return Err("--sizes: a gate needs at least one qubit".into());
        }
        let mut sv = StateVector::zero(n)?;
        let layer: Vec<_> = (0..n).map(|q| (Gate::Ry(0.3 + 0.1 * f64::from(q)), vec![q])).collect();
        sv.apply_gates(&layer, Blocking::default())?;
        let h = [(Gate::H, vec![n / 2])];
        let mut distinct = 0;
        let mut gate = Vec::new();
        let mut fused = Vec::new();
        // One warm-up of each, then the two alternate.
        for k in 0..=reps.max(1) {
            let mut applied = Ok(());
            let g = time_ms(|| applied = sv.apply_gate(&Gate::H, &[n / 2]));
            applied?;
            let mut sampled = Ok(Vec::new());
            let f =
                time_ms(|| sampled = sv.apply_gates_and_sample(&h, Blocking::default(), shots, 7));
            distinct = sampled?.len();
            if k > 0 {
                gate.push(g);
                fused.push(f);
            }
        }
        // Minima too: on a loaded machine they are the steadier figure.
        let min = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
        let (gate_min, fused_min) = (min(&gate), min(&fused));
        let (gate, fused) = (median(gate), median(fused));
        let alone = if fused_only {
            f64::NAN
        } else {
            median_ms(reps, || {
                std::hint::black_box(sv.sample_runs(shots, 7));
            })
        };
        println!(
            "n={n} threads={threads} shots={shots}: gate {gate:.3} ms, gate+sample {fused:.3} ms \
             (sampling {:.3} ms = {:.2}x gate), sample alone {alone:.3} ms, {distinct} distinct; \
             minima: gate {gate_min:.3} ms, gate+sample {fused_min:.3} ms ({:.2}x)",
            fused - gate,
            (fused - gate) / gate,
            (fused_min - gate_min) / gate_min
        );
    }
    Ok(())
}
