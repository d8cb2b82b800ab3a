//! The [`Device`] trait and what flows through it.

use crate::circuit::Circuit;
use crate::pulse::Schedule;
use crate::target::Target;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a device runs: a circuit in its native gates, or a pulse schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Executable {
    /// A gate-level circuit using only gates the device's target accepts.
    Circuit(Circuit),
    /// A pulse schedule on the device's ports and frames.
    Schedule(Schedule),
}

/// How to run an executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOptions {
    /// The number of repetitions.
    pub shots: u32,
    /// A seed for every random choice; the same seed gives the same results on
    /// any machine and thread count. `None` draws one.
    pub seed: Option<u64>,
    /// Return each shot's outcome in order, not only the counts.
    pub memory: bool,
    /// Return the final state vector and probabilities (simulators only; for
    /// circuits without mid-circuit measurement).
    pub statevector: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self { shots: 1024, seed: None, memory: false, statevector: false }
    }
}

/// What an execution produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExecResult {
    /// Outcome (classical bits as an integer, bit 0 least significant) ->
    /// number of shots that gave it.
    pub counts: BTreeMap<u64, u64>,
    /// Each shot's outcome, in shot order, when asked for.
    pub memory: Option<Vec<u64>>,
    /// The final state, when asked for and available.
    pub statevector: Option<Vec<Complex64>>,
    /// The seed actually used.
    pub seed: u64,
    /// Wall time spent executing.
    pub duration: Duration,
}

/// A report of progress during execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The stage being run (`upload`, `run`, `readout`, ...).
    pub stage: &'static str,
    /// The fraction done, 0..=1.
    pub fraction: f64,
}

/// Receives progress reports; must be cheap and must not block.
pub trait ProgressSink: Send + Sync {
    /// Called with each report.
    fn report(&self, progress: Progress);
}

impl<F: Fn(Progress) + Send + Sync> ProgressSink for F {
    fn report(&self, progress: Progress) {
        self(progress);
    }
}

/// Cooperative cancellation: the caller sets it, the device polls it between
/// units of work (gates, shots, instrument commands) and returns
/// [`ErrorKind::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the execution to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once [`CancelToken::cancel`] was called on any clone.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The caller's side of an execution: where progress goes and how to stop.
#[derive(Clone)]
pub struct ExecContext {
    /// Receives progress reports.
    pub progress: Arc<dyn ProgressSink>,
    /// Polled by the device; cancelled means stop soon.
    pub cancel: CancelToken,
}

impl std::fmt::Debug for ExecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecContext").field("cancel", &self.cancel).finish_non_exhaustive()
    }
}

impl ExecContext {
    /// A context that discards progress and is never cancelled.
    #[must_use]
    pub fn detached() -> Self {
        Self { progress: Arc::new(|_: Progress| {}), cancel: CancelToken::new() }
    }

    /// Reports progress.
    pub fn report(&self, stage: &'static str, fraction: f64) {
        self.progress.report(Progress { stage, fraction });
    }

    /// `Err(Cancelled)` once cancellation was asked for.
    pub fn check_cancelled(&self) -> Result<(), DeviceError> {
        if self.cancel.is_cancelled() {
            Err(DeviceError::new(ErrorKind::Cancelled, "execution cancelled"))
        } else {
            Ok(())
        }
    }
}

/// The operational state of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DeviceStatus {
    /// Accepting and running work.
    Online,
    /// Not reachable or switched off; no job may start.
    Offline,
    /// Being calibrated; jobs wait.
    Calibrating,
    /// Under maintenance; jobs wait.
    Maintenance,
}

impl DeviceStatus {
    /// True when a job may start now.
    #[must_use]
    pub fn accepts_jobs(self) -> bool {
        matches!(self, Self::Online)
    }
}

/// What a caller can do about a [`DeviceError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The device is offline: requeue and wait for it.
    Offline,
    /// The device is busy: retry later.
    Busy,
    /// The executable cannot run here (unknown gate, too many qubits, over a
    /// limit): fail the job, retrying will not help.
    InvalidProgram,
    /// The device did not answer in time.
    Timeout,
    /// The execution was cancelled through its [`CancelToken`].
    Cancelled,
    /// Communication with the device failed.
    Io,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// True when the same execution may succeed if retried later.
    #[must_use]
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Offline | Self::Busy | Self::Timeout | Self::Io)
    }
}

/// An error from a device, with a kind the caller acts on and a message for
/// people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeviceError {
    kind: ErrorKind,
    message: String,
}

impl DeviceError {
    /// An error of `kind` with a message that says what failed and, where it
    /// can, how to fix it.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What the caller can do about it.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A quantum device: a simulator or instruments around a processor.
///
/// `execute` blocks for the duration of the run: the kernel calls it from a
/// blocking thread, never from an async task. Implementations poll
/// `ctx.cancel` between units of work and report progress through
/// `ctx.progress`.
pub trait Device: Send + Sync {
    /// The device's properties.
    fn target(&self) -> &Target;

    /// The device's operational state now.
    fn status(&self) -> DeviceStatus {
        DeviceStatus::Online
    }

    /// Runs `executable` `options.shots` times.
    fn execute(
        &self,
        executable: &Executable,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_token_is_shared_between_clones() {
        let t = CancelToken::new();
        let c = t.clone();
        assert!(!c.is_cancelled());
        t.cancel();
        assert!(c.is_cancelled());
        let ctx = ExecContext { progress: Arc::new(|_: Progress| {}), cancel: c };
        assert_eq!(ctx.check_cancelled().map_err(|e| e.kind()), Err(ErrorKind::Cancelled));
    }

    #[test]
    fn transient_kinds() {
        assert!(ErrorKind::Busy.is_transient());
        assert!(!ErrorKind::InvalidProgram.is_transient());
    }
}
