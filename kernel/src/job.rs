//! Job identity and the job state machine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's id: a UUIDv7 string (time-ordered, so ids sort by submission).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl JobId {
    /// A fresh id.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stage of an executing job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExecStage {
    /// Loading the executable onto the device.
    Upload,
    /// Running shots.
    Run,
    /// Collecting and post-processing results.
    Readout,
}

/// The kernel's state of a job. Every change goes through one transition
/// function that refuses illegal moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    /// Accepted and durable, not yet looked at.
    Pending,
    /// Being parsed and checked.
    Validating,
    /// Being compiled for its target.
    Compiling,
    /// Waiting on its device's queue (or for its dependencies).
    Queued,
    /// Chosen by the scheduler; a device slot is being taken.
    Allocating,
    /// Running on the device.
    Executing(ExecStage),
    /// Finished with results.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled by its owner.
    Cancelled,
    /// Ran past its execution timeout.
    Timeout,
}

/// The client-visible status of a job (RFC 0004 "Status model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobStatus {
    /// Pending, validating or compiling.
    Compiling,
    /// Queued or allocating.
    Queued,
    /// Executing.
    Running,
    /// Completed.
    Done,
    /// Failed.
    Error,
    /// Cancelled.
    Cancelled,
    /// Timed out.
    Timeout,
}

impl JobStatus {
    /// True for DONE, ERROR, CANCELLED and TIMEOUT.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Error | Self::Cancelled | Self::Timeout)
    }

    /// The public name (`DONE`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compiling => "COMPILING",
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Done => "DONE",
            Self::Error => "ERROR",
            Self::Cancelled => "CANCELLED",
            Self::Timeout => "TIMEOUT",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TaskState {
    /// The public status this state maps to (the RFC's golden table).
    #[must_use]
    pub fn status(self) -> JobStatus {
        match self {
            Self::Pending | Self::Validating | Self::Compiling => JobStatus::Compiling,
            Self::Queued | Self::Allocating => JobStatus::Queued,
            Self::Executing(_) => JobStatus::Running,
            Self::Completed => JobStatus::Done,
            Self::Failed => JobStatus::Error,
            Self::Cancelled => JobStatus::Cancelled,
            Self::Timeout => JobStatus::Timeout,
        }
    }

    /// True once the job can change no more.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        self.status().is_terminal()
    }
}
