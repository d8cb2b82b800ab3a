//! The durable job store: jobs as submitted, their event logs, results and
//! reservations.
//!
//! [`JobStore`] is the contract; [`SqliteStore`] the embedded default. The
//! trait speaks in whole, atomic [`Write`] batches and a few reads, never in
//! SQL, so a server database (PostgreSQL, for several kernel replicas) can
//! implement it later without touching the kernel: a batch maps to one
//! transaction, `events (job_id, seq)` to a primary key that refuses a
//! second writer of the same sequence number.

mod sqlite;

pub use sqlite::{SqliteStore, SyncMode};

use crate::gateway::{JobEvent, JobResults, SubmitJob};
use crate::job::{JobId, TaskState};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    /// Its id.
    pub id: JobId,
    /// The tenant owning it.
    pub tenant: String,
    /// The trace of the submit request, carried into every log line.
    pub trace_id: String,
    /// The job as submitted (its `target` is the device).
    pub spec: SubmitJob,
    /// When it was accepted.
    pub created_at: SystemTime,
    /// How many times a kernel restart interrupted its execution.
    pub recoveries: u32,
    /// Its terminal state, once finished.
    pub final_state: Option<TaskState>,
    /// When it finished.
    pub finished_at: Option<SystemTime>,
}

/// A held reservation as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRecord {
    /// The id jobs carry.
    pub id: String,
    /// The tenant holding it.
    pub tenant: String,
    /// The device whose slot it holds.
    pub device: String,
    /// Why it was taken.
    pub purpose: String,
    /// When it lapses.
    pub expires_at: SystemTime,
}

/// One change; a batch of them is applied atomically.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new job (with no events yet).
    InsertJob(Box<StoredJob>),
    /// The next event of a job's log.
    Event(JobEvent),
    /// The job reached a terminal state.
    Finish {
        /// The job.
        job_id: JobId,
        /// Its terminal state.
        state: TaskState,
        /// When.
        at: SystemTime,
    },
    /// The results of a completed job.
    Results {
        /// The job.
        job_id: JobId,
        /// What it produced (shared with the kernel's memory of recent
        /// results, so writing them copies nothing).
        results: Arc<JobResults>,
    },
    /// The count of executions a restart interrupted.
    Recoveries {
        /// The job.
        job_id: JobId,
        /// The new count.
        count: u32,
    },
    /// A reservation was taken.
    PutReservation(ReservationRecord),
    /// A reservation lapsed.
    DeleteReservation(String),
}

/// Why the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job store: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

/// What a caller can do about a [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// A uniqueness rule refused the write (a second job with the same
    /// idempotency key, a second event with the same sequence number).
    Conflict,
    /// The database could not be reached or written; retry later.
    Unavailable,
    /// Stored data could not be decoded.
    Corrupt,
}

impl StoreError {
    /// An error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What the caller can do about it.
    #[must_use]
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

/// The kernel's durable state. Every method is safe to call concurrently.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Applies `batch` atomically; returns once it is durable. Batches from
    /// one caller are applied in the order they were called.
    async fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError>;

    /// A job by id (any tenant: the caller checks ownership).
    async fn job(&self, id: &JobId) -> Result<Option<StoredJob>, StoreError>;

    /// Every job without a terminal state, oldest first.
    async fn unfinished_jobs(&self) -> Result<Vec<StoredJob>, StoreError>;

    /// Up to `limit` events of the job after `after_seq`, in order.
    async fn events_after(
        &self,
        id: &JobId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<JobEvent>, StoreError>;

    /// The job's last event, if any.
    async fn last_event(&self, id: &JobId) -> Result<Option<JobEvent>, StoreError>;

    /// The results of a completed job.
    async fn results(&self, id: &JobId) -> Result<Option<JobResults>, StoreError>;

    /// The job a tenant submitted with `key`, if any.
    async fn job_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<JobId>, StoreError>;

    /// Every held reservation.
    async fn reservations(&self) -> Result<Vec<ReservationRecord>, StoreError>;

    /// Deletes jobs (with events and results) that finished before `before`;
    /// returns their ids so their artifacts can go too.
    async fn prune_finished(&self, before: SystemTime) -> Result<Vec<JobId>, StoreError>;
}

/// Now, at the store's precision (microseconds), so an event read back
/// equals the event published.
#[must_use]
pub fn now() -> SystemTime {
    from_micros(to_micros(SystemTime::now()))
}

/// `t` as unix microseconds (0 before the epoch).
#[must_use]
pub fn to_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix microseconds as a time.
#[must_use]
pub fn from_micros(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}
