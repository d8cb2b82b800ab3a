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

impl ExecStage {
    /// Every stage, in execution order.
    pub const ALL: [ExecStage; 3] = [ExecStage::Upload, ExecStage::Run, ExecStage::Readout];

    /// The stage's name as reported in events (`upload`, `run`, `readout`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Run => "run",
            Self::Readout => "readout",
        }
    }

    /// The stage a device's progress report names, if it is one of ours.
    #[must_use]
    pub fn from_progress(stage: &str) -> Option<Self> {
        match stage {
            "upload" => Some(Self::Upload),
            "run" => Some(Self::Run),
            "readout" => Some(Self::Readout),
            _ => None,
        }
    }
}

/// A refused state change: the move `from -> to` is not in the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal job transition {from:?} -> {to:?}")]
pub struct IllegalTransition {
    /// The state the job is in.
    pub from: TaskState,
    /// The state asked for.
    pub to: TaskState,
}

impl TaskState {
    /// Every state, each executing stage separately.
    pub const ALL: [TaskState; 12] = [
        TaskState::Pending,
        TaskState::Validating,
        TaskState::Compiling,
        TaskState::Queued,
        TaskState::Allocating,
        TaskState::Executing(ExecStage::Upload),
        TaskState::Executing(ExecStage::Run),
        TaskState::Executing(ExecStage::Readout),
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Timeout,
    ];

    /// The one transition function: `Ok(to)` when the machine allows
    /// `self -> to`, an error otherwise. Every state change of a job goes
    /// through it, so a job can never, say, leave a terminal state (which is
    /// what makes the terminal event unique).
    ///
    /// The machine:
    /// - forward along the path Pending -> Validating -> Compiling -> Queued
    ///   -> Allocating -> Executing(upload -> run -> readout) -> Completed
    ///   (stages may be skipped forward, never re-entered);
    /// - Allocating and Executing may go back to Queued: a transient device
    ///   error or a kernel restart re-queues the job;
    /// - any non-terminal state may end Failed or Cancelled;
    /// - only an executing job may end Timeout (its execution timeout), and
    ///   only an executing job may end Completed.
    pub fn transition(self, to: TaskState) -> Result<TaskState, IllegalTransition> {
        use TaskState::*;
        let legal = match (self, to) {
            (from, _) if from.is_terminal() => false,
            (_, Failed | Cancelled) => true,
            (Pending, Validating) | (Validating, Compiling) | (Compiling, Queued) => true,
            (Queued, Allocating) | (Allocating, Queued) => true,
            (Allocating, Executing(_)) => true,
            (Executing(a), Executing(b)) => b > a,
            (Executing(_), Queued | Completed | Timeout) => true,
            _ => false,
        };
        if legal { Ok(to) } else { Err(IllegalTransition { from: self, to }) }
    }

    /// The stage name carried in events (`validate`, `compile`, `upload`, ...).
    #[must_use]
    pub fn stage(self) -> Option<&'static str> {
        match self {
            Self::Validating => Some("validate"),
            Self::Compiling => Some("compile"),
            Self::Allocating => Some("allocate"),
            Self::Executing(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// A stable name, used in the store and in logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Validating => "VALIDATING",
            Self::Compiling => "COMPILING",
            Self::Queued => "QUEUED",
            Self::Allocating => "ALLOCATING",
            Self::Executing(ExecStage::Upload) => "EXECUTING_UPLOAD",
            Self::Executing(ExecStage::Run) => "EXECUTING_RUN",
            Self::Executing(ExecStage::Readout) => "EXECUTING_READOUT",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// The state [`TaskState::as_str`] named.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True while the job waits for a device (counted against the tenant's
    /// queued-jobs quota): every non-terminal state before execution.
    #[must_use]
    pub fn is_waiting(self) -> bool {
        !self.is_terminal() && !matches!(self, Self::Executing(_))
    }
}

impl ExecStage {
    fn rank(self) -> u8 {
        match self {
            Self::Upload => 0,
            Self::Run => 1,
            Self::Readout => 2,
        }
    }
}

impl PartialOrd for ExecStage {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ExecStage {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl JobStatus {
    /// Every public status.
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Compiling,
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Error,
        JobStatus::Cancelled,
        JobStatus::Timeout,
    ];

    /// The kernel states this status stands for (the golden table read
    /// right to left).
    #[must_use]
    pub fn task_states(self) -> Vec<TaskState> {
        TaskState::ALL.into_iter().filter(|s| s.status() == self).collect()
    }

    /// The status [`JobStatus::as_str`] named.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecStage::*;
    use TaskState::*;

    /// The RFC's golden table, exactly as written there.
    const GOLDEN: [(TaskState, JobStatus); 12] = [
        (Pending, JobStatus::Compiling),
        (Validating, JobStatus::Compiling),
        (Compiling, JobStatus::Compiling),
        (Queued, JobStatus::Queued),
        (Allocating, JobStatus::Queued),
        (Executing(Upload), JobStatus::Running),
        (Executing(Run), JobStatus::Running),
        (Executing(Readout), JobStatus::Running),
        (Completed, JobStatus::Done),
        (Failed, JobStatus::Error),
        (Cancelled, JobStatus::Cancelled),
        (Timeout, JobStatus::Timeout),
    ];

    #[test]
    fn golden_table_state_to_status() {
        for (state, status) in GOLDEN {
            assert_eq!(state.status(), status, "{state:?}");
        }
        assert_eq!(GOLDEN.len(), TaskState::ALL.len());
    }

    #[test]
    fn golden_table_status_to_states() {
        for status in JobStatus::ALL {
            let expected: Vec<TaskState> =
                GOLDEN.iter().filter(|(_, s)| *s == status).map(|(t, _)| *t).collect();
            assert!(!expected.is_empty(), "{status} has no kernel state");
            assert_eq!(status.task_states(), expected, "{status}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TaskState::parse("nope"), None);
    }

    #[test]
    fn happy_path_is_legal() {
        let path = [
            Pending,
            Validating,
            Compiling,
            Queued,
            Allocating,
            Executing(Upload),
            Executing(Run),
            Executing(Readout),
            Completed,
        ];
        for w in path.windows(2) {
            assert_eq!(w[0].transition(w[1]), Ok(w[1]));
        }
    }

    #[test]
    fn terminal_states_never_move() {
        for from in [Completed, Failed, Cancelled, Timeout] {
            for to in TaskState::ALL {
                assert_eq!(from.transition(to), Err(IllegalTransition { from, to }));
            }
        }
    }

    #[test]
    fn refused_moves() {
        let refused = [
            (Pending, Queued),
            (Queued, Executing(Upload)),
            (Queued, Completed),
            (Queued, Timeout),
            (Executing(Run), Executing(Upload)),
            (Executing(Run), Executing(Run)),
            (Compiling, Compiling),
            (Allocating, Completed),
            (Validating, Pending),
        ];
        for (from, to) in refused {
            assert!(from.transition(to).is_err(), "{from:?} -> {to:?} must be refused");
        }
    }

    #[test]
    fn every_live_state_can_fail_or_be_cancelled() {
        for from in TaskState::ALL.into_iter().filter(|s| !s.is_terminal()) {
            assert!(from.transition(Failed).is_ok());
            assert!(from.transition(Cancelled).is_ok());
        }
    }

    #[test]
    fn requeue_only_from_allocating_or_executing() {
        for from in TaskState::ALL {
            let ok = from.transition(Queued).is_ok();
            let expected = matches!(from, Compiling | Allocating | Executing(_));
            assert_eq!(ok, expected, "{from:?} -> Queued");
        }
    }
}
