//! Quick timing of shot sampling against one gate pass on the same state,
//! without criterion's statistics (a few seconds per size), to follow
//! progress on a shared machine. The criterion figures are in
//! `benches/sim_kernels.rs` (`sample_vs_gate`).
//!
//! `RAYON_NUM_THREADS=T sim-bench-sample [--sizes "20 24"] [--shots S] [--reps R] [--fused-only]`
//! prints, per size, the medians (ms) of: one h pass on the middle qubit;
//! the same pass recording the sampler's masses, then `S` shots as counts
//! (a device's terminal sampling); `S` shots from the state alone (with its
//! own mass pass; skipped with `--fused-only`, e.g. to profile the fused
//! path alone); and the sampling share (fused minus the plain pass). The
//! plain and fused passes alternate, so a load change on a shared machine
//! hits both alike.

use eigen_hal::Gate;
use eigen_sim::{Blocking, StateVector};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("sim-bench-sample: {e}");
        std::process::exit(2);
    }
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn time_ms(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64() * 1e3
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut sizes = vec![20u32, 24];
    let mut shots = 1_000_000u64;
    let mut reps = 9usize;
    let mut fused_only = false;
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--sizes" => {
                sizes = value()?
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--shots" => shots = value()?.parse()?,
            "--reps" => reps = value()?.parse()?,
            "--fused-only" => fused_only = true,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    {
        for n in sizes {
            let mut sv = StateVector::zero(n)?;
            let layer: Vec<_> =
                (0..n).map(|q| (Gate::Ry(0.3 + 0.1 * f64::from(q)), vec![q])).collect();
            sv.apply_gates(&layer, Blocking::default())?;
            let h = [(Gate::H, vec![n / 2])];
            let mut distinct = 0;
            let mut gate = Vec::new();
            let mut fused = Vec::new();
            // One warm-up of each, then the two alternate.
            for k in 0..=reps.max(1) {
                let g = time_ms(|| sv.apply_gate(&Gate::H, &[n / 2]).expect("valid gate"));
                let f = time_ms(|| {
                    let c = sv.apply_gates_and_sample(&h, Blocking::default(), shots, 7);
                    distinct = c.expect("valid gate").len();
                });
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
    }
    Ok(())
}
