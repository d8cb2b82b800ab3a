//! Eigen's state-vector simulator devices.
//!
//! # Layout
//!
//! - `ops` (private): gates lowered to a few kernel shapes (dense, real,
//!   rx-like, diagonal, bit flip, swap, phase) with controls as a mask, and
//!   fusion of 1-qubit runs.
//! - `kernels` (private): each shape applied to one contiguous block.
//! - [`plan`]: cache blocking, a gate sequence cut into stages of one memory
//!   pass each ([`Blocking`] sets the block size).
//! - `exec` (private): stages run over the state in parallel (rayon), with
//!   an AVX2 copy of the block loop chosen at run time; groups known to be
//!   zero (qubits no earlier stage mixed) skipped, and the sampler's
//!   masses recorded by the last pass.
//! - `par` (private): the size threshold below which work stays on the
//!   calling thread (tiny circuits never wake rayon's workers).
//! - [`state`]: the [`StateVector`], memory accounting, the buffer pool.
//! - `buffer` (private): the state's amplitudes, viewed from a 64-byte
//!   boundary of a slightly larger `Vec` (glibc puts large blocks at 16 mod
//!   64), so 8-amplitude groups and vector loads do not split cache lines.
//! - `sample` (private): probabilities, collapse, random streams, and the
//!   map from basis indices to outcomes.
//! - `masses` (private): the masses the sampler reads instead of the
//!   state (the running group masses of every 64-amplitude run, 1/16 of
//!   the state), recorded by the last gate pass or computed in one read;
//!   a spare buffer kept between jobs.
//! - `shots` (private): many shots from one final state, and what the last
//!   gate pass records for them: with fewer than one shot per 128
//!   amplitudes, shots split down a tree of 4096-amplitude chunks by exact
//!   binomials, then drawn inside each chunk; with more, `dense`.
//! - `dense` (private): Poissonized sampling for many shots: a Poisson
//!   count per amplitude, drawn by the last gate pass block by block from
//!   per-amplitude uniforms (a vector screen skips most amplitudes), then
//!   an exact thinning to the shots asked for.
//! - `poisson` (private): Poisson draws (inversion, PTRS) with `exp` and
//!   `ln` of the crate's own, the same bits on every machine.
//! - `draw` (private): a chunk's shots: per shot four vector searches of
//!   8 running masses (blocks, runs, groups, then the group's 8
//!   amplitudes, the one read of the state), in prefetched batches.
//! - `shuffle` (private): per-shot memory in a random order, shuffled
//!   bucket by bucket in parallel (the same for a seed at any thread count).
//! - `rng` (private): the sampler's random streams (xoshiro256++ keyed by
//!   seed, purpose and index: integer arithmetic, the same everywhere).
//! - `binomial` (private): exact binomial draws from random bits only, the
//!   same on every machine.
//! - [`noise`]: the [`NoiseModel`] built from calibration data.
//! - `compact` (private): the qubits a circuit touches relabelled densely,
//!   so a routed program on a 27-qubit chip simulates only those.
//! - `program` (private): a circuit validated and compiled into steps, and
//!   the shot loop (sampling from one final state, or trajectories); a
//!   terminal circuit's trailing bit flips, swaps and phases applied to the
//!   sampled indices instead of simulated.
//! - [`device`]: [`SimDevice`], the [`eigen_hal::Device`] implementation.
//! - [`targets`]: `sim`, `sim-noisy`, and the emulated `sim-heavyhex-27` and
//!   `sim-grid-25` with calibration data; [`default_devices`].

mod binomial;
mod buffer;
mod compact;
mod dense;
pub mod device;
mod draw;
mod exec;
mod kernels;
mod masses;
pub mod noise;
mod ops;
mod par;
pub mod plan;
mod poisson;
mod program;
mod rng;
mod sample;
mod shots;
mod shuffle;
pub mod state;
pub mod targets;

pub use device::{SimConfig, SimDevice};
pub use noise::{GateNoise, NoiseModel, QubitNoise};
pub use plan::Blocking;
pub use state::StateVector;
pub use targets::default_devices;
