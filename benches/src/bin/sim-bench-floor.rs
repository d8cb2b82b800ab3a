//! One 1-qubit gate pass against the memory-bandwidth floor, measured in
//! the same run and interleaved, so that a load change on a shared machine
//! (another tenant's memory traffic) hits both alike.
//!
//! Issue 3 asks for a single 1-qubit gate within 1.3x of the floor: a
//! parallel read-modify-write sweep over a buffer of the state's size
//! ([`eigen_benches::floor_pass`], 32 * 2^n bytes moved). For each size and
//! target qubit (the lowest, the middle and the highest: within a vector,
//! within a cache block, and across the two halves of the state), each
//! repetition times one floor sweep then one `h` pass; the figure is the
//! median over repetitions of the per-repetition ratio gate / floor, beside
//! the medians of each and the floor's bandwidth. Repetitions: at least
//! `--reps`, and enough for a quarter second of floor sweeps.
//!
//! `RAYON_NUM_THREADS=T sim-bench-floor [--sizes "20 22 24 26"] [--reps R] [--gate h|x|rz]`

use eigen_benches::floor_pass;
use eigen_hal::Gate;
use eigen_sim::{Blocking, StateVector};
use num_complex::Complex64;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("sim-bench-floor: {e}");
        std::process::exit(2);
    }
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn time_ms(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64() * 1e3
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut sizes = vec![20u32, 22, 24, 26];
    let mut reps = 15usize;
    let mut gate = Gate::H;
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
            "--reps" => reps = value()?.parse::<usize>()?.max(1),
            "--gate" => {
                gate = match value()?.as_str() {
                    "h" => Gate::H,
                    "x" => Gate::X,
                    "rz" => Gate::Rz(0.3),
                    other => return Err(format!("--gate {other}: one of h, x, rz").into()),
                };
            }
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "{:>3} {:>6} {:>11} {:>11} {:>10} {:>13}  (threads={threads}, {gate:?}, >= {reps} reps)",
        "n", "qubit", "floor ms", "gate ms", "floor GB/s", "gate / floor"
    );
    for n in sizes {
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
