//! How a [`crate::Kernel`] is set up, and the hook through which the api
//! observes job transitions (for its Prometheus metrics).

use crate::job::{JobId, TaskState};
use crate::store::SyncMode;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Told of every state change of every job, after it is durable. Called on
/// the kernel's hot path: must be cheap and must not block.
pub trait JobObserver: Send + Sync {
    /// `job_id` on `device` went `from -> to` (`from` is `None` for the first
    /// event of a new job) after `time_in_previous` in `from`.
    fn on_transition(
        &self,
        job_id: &JobId,
        device: &str,
        from: Option<TaskState>,
        to: TaskState,
        time_in_previous: Duration,
    );
}

/// The kernel's settings. `KernelConfig::new(data_dir)` gives sensible
/// values for everything else.
#[derive(Clone)]
pub struct KernelConfig {
    /// Where the job store (`eigen.db`) and artifacts (`artifacts/`) live.
    pub data_dir: PathBuf,
    /// How hard a commit tries to reach the disk.
    pub sync: SyncMode,
    /// How often a RUNNING job emits a heartbeat event (stored, with its own
    /// `event_seq`); `None` for never, as when the API's update streams make
    /// their own heartbeats, which repeat the latest seq instead.
    pub heartbeat_interval: Option<Duration>,
    /// Execution slots per device (jobs run at once), unless `slots` names it.
    pub default_slots: usize,
    /// Execution slots of named devices.
    pub slots: BTreeMap<String, usize>,
    /// Most jobs one tenant may have waiting (not yet executing or finished).
    pub queued_jobs_quota_per_tenant: usize,
    /// Most reservations one tenant may hold at once.
    pub reservations_per_tenant: usize,
    /// Longest reservation TTL granted.
    pub max_reservation_ttl: Duration,
    /// Finished jobs and their artifacts older than this are pruned.
    pub retention: Duration,
    /// How often pruning runs.
    pub prune_interval: Duration,
    /// How often device status is polled (a job never starts on a device that
    /// is not online; waiting jobs resume when it returns).
    pub device_poll_interval: Duration,
    /// How many times a transient device error (offline, busy, I/O) re-queues
    /// a job before it ends ERROR.
    pub max_device_retries: u32,
    /// How long `cancel_job` waits for an executing job to stop before it
    /// returns the status as it is.
    pub cancel_wait: Duration,
    /// The longest simulator run (as predicted from the program's last run)
    /// done inline, on the async worker that dispatched it, or during its
    /// SubmitJob. Below this a hand-off to a blocking thread (and back) costs
    /// more than the run itself; above it, runs go to blocking threads where
    /// cancels and timeouts can interrupt them.
    pub inline_run_limit: Duration,
    /// Per-shot memory or statevectors larger than this (bytes of JSON) are
    /// stored as artifacts rather than inlined in results.
    pub inline_limit_bytes: usize,
    /// Told of every transition.
    pub observer: Option<Arc<dyn JobObserver>>,
}

impl KernelConfig {
    /// Defaults, with the store under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), ..Self::default() }
    }

    /// The execution slots of `device`.
    #[must_use]
    pub fn slots_of(&self, device: &str) -> usize {
        self.slots.get(device).copied().unwrap_or(self.default_slots).max(1)
    }
}

impl Default for KernelConfig {
    /// Defaults with `./eigen-data` as data directory; prefer
    /// [`KernelConfig::new`].
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("eigen-data"),
            sync: SyncMode::default(),
            heartbeat_interval: Some(Duration::from_secs(10)),
            default_slots: 1,
            slots: BTreeMap::new(),
            queued_jobs_quota_per_tenant: 10_000,
            reservations_per_tenant: 2,
            max_reservation_ttl: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(600),
            device_poll_interval: Duration::from_secs(1),
            max_device_retries: 3,
            cancel_wait: Duration::from_secs(2),
            inline_run_limit: Duration::from_micros(100),
            inline_limit_bytes: 1 << 20,
            observer: None,
        }
    }
}

impl std::fmt::Debug for KernelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelConfig")
            .field("data_dir", &self.data_dir)
            .field("sync", &self.sync)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("default_slots", &self.default_slots)
            .field("slots", &self.slots)
            .field("queued_jobs_quota_per_tenant", &self.queued_jobs_quota_per_tenant)
            .field("reservations_per_tenant", &self.reservations_per_tenant)
            .field("retention", &self.retention)
            .field("observer", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}
