//! Quick timing of shot sampling against one gate pass on the same state,
//! without criterion's statistics (a few seconds per size), to follow
//! progress on a shared machine. The criterion figures are in
//! `benches/sim_kernels.rs` (`sample_vs_gate`).
//!
//! `RAYON_NUM_THREADS=T sim-bench-sample [--sizes "20 24"] [--shots S] [--reps R]`
//! prints, per size, the medians (ms) of: one h pass on the middle qubit;
//! the same pass recording the sampler's masses, then `S` shots as counts
//! (a device's terminal sampling); `S` shots from the state alone (with its
//! own mass pass); and the sampling share (fused minus the plain pass).

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

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut sizes = vec![20u32, 24];
    let mut shots = 1_000_000u64;
    let mut reps = 9usize;
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
            let gate = median_ms(reps, || {
                sv.apply_gate(&Gate::H, &[n / 2]).expect("valid gate");
            });
            let mut distinct = 0;
            let fused = median_ms(reps, || {
                let c = sv.apply_gates_and_sample(&h, Blocking::default(), shots, 7);
                distinct = c.expect("valid gate").len();
            });
            let alone = median_ms(reps, || {
                std::hint::black_box(sv.sample_runs(shots, 7));
            });
            println!(
                "n={n} threads={threads} shots={shots}: gate {gate:.3} ms, gate+sample {fused:.3} ms \
                 (sampling {:.3} ms = {:.2}x gate), sample alone {alone:.3} ms, {distinct} distinct",
                fused - gate,
                (fused - gate) / gate
            );
        }
    }
    Ok(())
}
