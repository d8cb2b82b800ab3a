//! Shared pieces of Eigen's benchmarks.
//!
//! # Layout
//!
//! - [`read_circuit`]: a benchmark circuit file through the real OpenQASM
//!   front end, so the simulator is timed on exactly what a job would run.
//! - [`floor_pass`]: the memory-bandwidth floor a gate pass is held to.
//! - [`time_ms`], [`median`], [`Sizes`]: what the quick `sim-bench-*`
//!   binaries share (timing one call, the median of repetitions, a
//!   `--sizes "20 24"` list).
//!
//! The benchmarks themselves are in `benches/` (criterion and peer
//! comparisons) and `src/bin/sim-bench.rs` (one circuit, as the peers' script
//! times theirs).

use eigen_hal::Circuit;
use eigen_kernel::compiler::ProgramFormat;
use eigen_kernel::compiler::qasm::{self, ParseLimits};
use num_complex::Complex64;
use rayon::prelude::*;

/// Reads and parses an OpenQASM 2 or 3 file into a circuit.
///
/// # Errors
///
/// The file cannot be read, or the program has errors (each as
/// `line:column: message`).
pub fn read_circuit(path: &std::path::Path) -> Result<Circuit, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    qasm::parse(&text, ProgramFormat::Detect, &ParseLimits::default()).map(|p| p.circuit).map_err(
        |diags| {
            diags
                .iter()
                .map(|d| format!("{}:{}:{}: {}", path.display(), d.line, d.column, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
}

/// The memory-bandwidth floor of a gate pass: one parallel read-modify-write
/// sweep over `amplitudes` (each scaled by a constant), the least any pass
/// over a state of that size must do. Issue 3 holds a single 1-qubit gate to
/// within 1.3x of this sweep's time on a buffer of the same size.
pub fn floor_pass(amplitudes: &mut [Complex64]) {
    amplitudes.par_chunks_mut(1 << 14).for_each(|c| {
        for x in c {
            *x *= 0.999_999;
        }
    });
}

/// How long `f` takes, in milliseconds.
pub fn time_ms(f: impl FnOnce()) -> f64 {
    let t0 = std::time::Instant::now();
    f();
    t0.elapsed().as_secs_f64() * 1e3
}

/// The median of `t` (the upper one of an even count); NaN when empty.
pub fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A list of qubit counts given as one argument, separated by spaces or
/// commas: `--sizes "20 22 24"` or `--sizes 20,24`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes(pub Vec<u32>);

impl std::str::FromStr for Sizes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let sizes = s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().map_err(|e| format!("{x:?} is not a qubit count: {e}")))
            .collect::<Result<Vec<u32>, _>>()?;
        if sizes.is_empty() {
            return Err("no qubit count given".into());
        }
        Ok(Self(sizes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_split_on_spaces_and_commas() {
        assert_eq!("20 22,24".parse(), Ok(Sizes(vec![20, 22, 24])));
        assert!("20 x".parse::<Sizes>().is_err());
        assert!(" ".parse::<Sizes>().is_err());
    }

    #[test]
    fn median_takes_the_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(Vec::new()).is_nan());
    }
}
