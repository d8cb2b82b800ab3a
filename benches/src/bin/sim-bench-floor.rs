//! One 1-qubit gate pass against the memory-bandwidth floor, measured in
//! the same run and interleaved, so that a load change on a shared machine
//! (another tenant's memory traffic) hits both alike.
//!
//! Issue 3 asks for a single 1-qubit gate within 1.3x of the floor: a
//! parallel read-modify-write sweep over a buffer of the state's size
//! ([`eigen_benches::floor_pass`], 32 * 2^n bytes moved). For each size and
//! target qubit (the lowest, the middle and the highest: within a vector,
//! within a cache block, and across the two halves of the state), each
//! repetition times one floor sweep then one pass of the gate (`h` unless
//! `--gate` says otherwise); the figure is the median over repetitions of
//! the per-repetition ratio gate / floor, beside the medians of each and
//! the floor's bandwidth. Repetitions: at least `--reps`, and enough for a
//! quarter second of floor sweeps.
//!
//! `RAYON_NUM_THREADS=T sim-bench-floor [--sizes "20 22 24 26"] [--reps R] [--gate h|x|rz]`
//! (`--help` says more).

use clap::{Parser, ValueEnum};
use eigen_benches::{Sizes, floor_pass, median, time_ms};
use eigen_hal::Gate;
use eigen_sim::{Blocking, StateVector};
use num_complex::Complex64;

/// One 1-qubit gate pass against the memory-bandwidth floor, interleaved.
#[derive(Debug, Parser)]
struct Args {
    /// Qubit counts, separated by spaces or commas.
    #[arg(long, default_value = "20 22 24 26")]
    sizes: Sizes,
    /// Fewest repetitions per case (more until a quarter second of floor sweeps).
    #[arg(long, default_value_t = 15)]
    reps: usize,
    /// The gate timed.
    #[arg(long, value_enum, default_value_t = Timed::H)]
    gate: Timed,
}

/// The gates `--gate` offers: a dense one, a permutation and a diagonal.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Timed {
    H,
    X,
    Rz,
}

fn main() {
    if let Err(e) = run(&Args::parse()) {
        eprintln!("sim-bench-floor: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let gate = match args.gate {
        Timed::H => Gate::H,
        Timed::X => Gate::X,
        Timed::Rz => Gate::Rz(0.3),
    };
    let reps = args.reps.max(1);
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "{:>3} {:>6} {:>11} {:>11} {:>10} {:>13}  (threads={threads}, {gate:?}, >= {reps} reps)",
        "n", "qubit", "floor ms", "gate ms", "floor GB/s", "gate / floor"
    );
    for &n in &args.sizes.0 {
        if n == 0 {
            return Err("--sizes: a gate needs at least one qubit".into());
        }
        let mut sv = StateVector::zero(n)?;
        let layer: Vec<_> = (0..n).map(|q| (Gate::H, vec![q])).collect();
        sv.apply_gates(&layer, Blocking::default())?;
        let mut floor = vec![Complex64::new(1.0, 0.5); 1usize << n];
        let mut worst = 0.0f64;
        for q in [0, n / 2, n - 1] {
            let (mut f, mut g, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
            // One warm-up of each, then the two alternate: at least `reps`
            // times, and for at least a quarter second of floor sweeps (a
            // cache-resident n = 20 sweep is some 0.2 ms: a few dozen
            // repetitions steady its median).
            let mut swept = 0.0;
            for k in 0.. {
                if k > reps && swept >= 250.0 {
                    break;
                }
                let tf = time_ms(|| floor_pass(std::hint::black_box(&mut floor)));
                let mut applied = Ok(());
                let tg = time_ms(|| applied = sv.apply_gate(&gate, &[q]));
                applied?;
                if k > 0 {
                    swept += tf;
                    f.push(tf);
                    g.push(tg);
                    ratio.push(tg / tf);
                }
            }
            let (f, g, ratio) = (median(f), median(g), median(ratio));
            worst = worst.max(ratio);
            let gbps = (32u64 << n) as f64 / (f * 1e-3) / 1e9;
            println!("{n:>3} {q:>6} {f:>11.3} {g:>11.3} {gbps:>10.1} {ratio:>12.2}x");
        }
        println!(
            "{n:>3} {:>6} {:>11} {:>11} {:>10} {worst:>12.2}x (target <= 1.3x)",
            "worst", "", "", ""
        );
    }
    Ok(())
}
