//! The shared vocabulary of Eigen: what a device is, what it runs, and what it
//! reports. Nothing here knows about gRPC, storage or scheduling.
//!
//! # Layout
//!
//! - [`units`]: physical quantities as newtypes (seconds, hertz, radians), so
//!   a duration can never be passed where a frequency is expected.
//! - [`circuit`]: the native gate-level program a device executes, and the
//!   gate set every compiler and simulator agrees on.
//! - [`pulse`]: waveforms, ports, frames and schedules (OpenPulse-style).
//! - [`target`]: a device's properties, the one data type the compiler reads.
//! - [`topology`]: coupling-map generators (line, ring, grid, heavy-hex).
//! - [`device`]: the [`Device`] trait, execution options, results, progress
//!   and cancellation, and [`DeviceError`] with its actionable [`ErrorKind`].
//! - [`instrument`]: small capability traits for lab instruments.

pub mod circuit;
pub mod device;
pub mod instrument;
pub mod pulse;
pub mod target;
pub mod topology;
pub mod units;

pub use circuit::{Circuit, ClassicalRegister, Condition, Gate, Operation, Qubits};
pub use device::{
    CancelToken, Device, DeviceError, DeviceStatus, ErrorKind, ExecContext, ExecOptions,
    ExecResult, Executable, Progress, ProgressSink,
};
pub use target::{DeviceKind, Limits, NativeGate, QubitProperties, Target};
pub use units::{Hertz, Radians, Seconds};
