//! The kernel's front door: [`KernelGateway`], and the domain types that
//! cross it.
//!
//! The api crate talks to the kernel only through this trait: in process
//! (the kernel's own implementation) or over the internal `eigen.kernel.v0`
//! gRPC service (an adapter in the api crate). Nothing here knows protobuf.

use crate::compiler::{CompileStats, Diagnostic, ProgramFormat};
use crate::job::{JobId, JobStatus, TaskState};
use async_trait::async_trait;
use eigen_hal::{DeviceStatus, Target};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Who is asking, as established by the api's authentication, and the trace
/// the request belongs to. Reaches the kernel as request metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The tenant every job, reservation and lookup is scoped to.
    pub tenant: String,
    /// The trace id carried into every log line of the request's path.
    pub trace_id: String,
}

/// A job as the client submitted it. Serializable because the kernel's store
/// keeps it as submitted (crash recovery recompiles from it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitJob {
    /// A human-readable name.
    pub name: String,
    /// The program text.
    pub program: String,
    /// Its language.
    pub format: ProgramFormat,
    /// The device id to run on.
    pub target: String,
    /// Repetitions.
    pub shots: u32,
    /// A seed for reproducible results.
    pub seed: Option<u64>,
    /// Compiler options (`optimization_level`, ...).
    pub compiler_options: BTreeMap<String, String>,
    /// Free-form client metadata, returned with the job.
    pub metadata: BTreeMap<String, String>,
    /// Jobs that must be DONE before this one runs.
    pub dependencies: Vec<JobId>,
    /// Repeating a submit with the same key (same tenant) returns the same job.
    pub idempotency_key: Option<String>,
    /// Ends the job TIMEOUT when execution takes longer.
    pub timeout: Option<Duration>,
    /// Higher runs first.
    pub priority: i32,
    /// Run in this reservation's slot.
    pub reservation_id: Option<String>,
    /// Return per-shot memory.
    pub memory: bool,
    /// Return the final statevector and probabilities (simulators only).
    pub statevector: bool,
}

/// A job's status as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatusView {
    /// The job.
    pub job_id: JobId,
    /// The kernel state.
    pub state: TaskState,
    /// Its public status.
    pub status: JobStatus,
    /// The current stage, if any (`validate`, `compile`, `upload`, `run`, ...).
    pub stage: Option<String>,
    /// Progress in 0..=1, if known.
    pub progress: Option<f64>,
    /// The last message (the reason of an ERROR).
    pub message: String,
    /// When the job was accepted.
    pub created_at: SystemTime,
    /// When each public status was entered.
    pub entered_at: BTreeMap<JobStatus, SystemTime>,
    /// Jobs ahead of it on its device's queue, while queued.
    pub queue_position: Option<u64>,
    /// Estimated start of execution, while waiting.
    pub estimated_start: Option<SystemTime>,
    /// Estimated end, while not finished.
    pub estimated_finish: Option<SystemTime>,
    /// The last event's sequence number.
    pub last_event_seq: u64,
}

/// One event of a job's log.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// The job.
    pub job_id: JobId,
    /// Gapless per job, from 1.
    pub event_seq: u64,
    /// The kernel state after the event.
    pub state: TaskState,
    /// Its public status.
    pub status: JobStatus,
    /// The stage, if any.
    pub stage: Option<String>,
    /// Progress in 0..=1, if known.
    pub progress: Option<f64>,
    /// A message for people.
    pub message: String,
    /// When it happened.
    pub timestamp: SystemTime,
}

/// A pointer to a payload stored beside the results (the RFC's QFS refs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// What it holds: `memory`, `statevector`, ...
    pub kind: String,
    /// Where: `artifact://<job_id>/<kind>`.
    pub uri: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// How and where a job ran.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionMetadata {
    /// The device id.
    pub device: String,
    /// Shots run.
    pub shots: u32,
    /// The seed used.
    pub seed: u64,
    /// Time spent validating and compiling.
    pub compile_duration: Duration,
    /// Time spent waiting for a device.
    pub queue_duration: Duration,
    /// Time spent executing.
    pub execution_duration: Duration,
    /// The device calibration the job ran under.
    pub calibration_id: String,
    /// The compiler's version.
    pub compiler_version: String,
    /// The compiler's statistics.
    pub compile_stats: CompileStats,
}

/// What a finished job produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobResults {
    /// Bitstring (Qiskit format) -> shots.
    pub counts: BTreeMap<String, u64>,
    /// Per-shot bitstrings, when asked for and small enough to inline.
    pub memory: Option<Vec<String>>,
    /// The final state (re, im) when asked for and small enough to inline.
    pub statevector: Option<Vec<(f64, f64)>>,
    /// |amplitude|^2 of each basis state, with the statevector.
    pub probabilities: Option<Vec<f64>>,
    /// How and where it ran.
    pub metadata: ExecutionMetadata,
    /// Payloads too large to inline.
    pub artifacts: Vec<ArtifactRef>,
}

/// A device as the kernel knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Its properties (id, qubits, coupling, natives, calibration).
    pub target: Target,
    /// Its operational state.
    pub status: DeviceStatus,
    /// Jobs waiting for it.
    pub queue_length: u64,
}

/// A held scheduler slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The id jobs carry to run in the slot.
    pub reservation_id: String,
    /// The device.
    pub device_id: String,
    /// When the slot is released.
    pub expires_at: SystemTime,
}

/// Why the kernel refused a request. The api maps each variant to exactly
/// one gRPC status (one `From<KernelError> for Status`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// A request field is wrong.
    #[error("invalid {field}: {description}")]
    InvalidArgument {
        /// The field's name.
        field: String,
        /// What is wrong with it.
        description: String,
    },
    /// The program does not compile; each diagnostic has a position.
    #[error("invalid program: {} error(s)", .0.len())]
    InvalidProgram(Vec<Diagnostic>),
    /// No such job, device or reservation visible to the tenant.
    #[error("{resource_type} {name} not found")]
    NotFound {
        /// `job`, `device` or `reservation`.
        resource_type: &'static str,
        /// Its id.
        name: String,
    },
    /// The request is valid but the system is not in a state to serve it.
    #[error("{description}")]
    FailedPrecondition {
        /// A machine-readable violation type, e.g. `JOB_NOT_DONE`.
        violation: String,
        /// The subject, e.g. the job id.
        subject: String,
        /// What is wrong, for people.
        description: String,
    },
    /// A quota or capacity is used up.
    #[error("{description}")]
    ResourceExhausted {
        /// The subject of the quota, e.g. `tenant:acme`.
        subject: String,
        /// What is used up.
        description: String,
        /// When it is worth trying again.
        retry_after: Option<Duration>,
    },
    /// The kernel cannot serve now (shutting down, store unavailable).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The operations the api forwards to the kernel (RFC 0004, Appendix A).
#[async_trait]
pub trait KernelGateway: Send + Sync + 'static {
    /// Validates, persists and queues a job; returns once it is durable.
    async fn enqueue_job(
        &self,
        ctx: &RequestContext,
        job: SubmitJob,
    ) -> Result<JobStatusView, KernelError>;

    /// The job's status now.
    async fn get_job_status(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError>;

    /// Cancels the job (no-op on a finished job); returns its status after.
    async fn cancel_job(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError>;

    /// The job's events after `after_seq` (0 for all), then live ones; the
    /// stream ends after the terminal event.
    async fn job_events(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
        after_seq: u64,
    ) -> Result<BoxStream<'static, JobEvent>, KernelError>;

    /// The results of a DONE job; `FailedPrecondition` before.
    async fn get_job_results(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobResults, KernelError>;

    /// Every device with its status and queue length.
    async fn list_devices(&self, ctx: &RequestContext) -> Result<Vec<DeviceInfo>, KernelError>;

    /// Holds a scheduler slot of `device_id` for the tenant until `ttl` ends.
    async fn reserve_device(
        &self,
        ctx: &RequestContext,
        device_id: &str,
        ttl: Duration,
        purpose: &str,
    ) -> Result<Reservation, KernelError>;
}
