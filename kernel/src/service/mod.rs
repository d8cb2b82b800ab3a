//! [`Kernel`]: the in-process implementation of [`KernelGateway`].
//!
//! - `live`: live jobs and the one transition path (`Inner::emit`).
//! - `submit`: `enqueue_job` (checks, compile, durable insert, idempotency,
//!   quota, dependencies).
//! - `detach`: work that runs to its end even when its caller goes away.
//! - `compile_cache`: a bounded LRU of compilations, by program, device
//!   and options.
//! - `exec`: the per-device dispatchers and the execution of one job.
//! - `early`: a short simulator run done while its job is submitted, and
//!   committed with it in one transaction.
//! - `recovery`: crash recovery at start, reservations, pruning.
//! - `gateway`: the trait implementation (status, cancel, events, results,
//!   devices, reservations).

mod compile_cache;
mod detach;
mod early;
mod exec;
mod gateway;
mod live;
mod recovery;
mod submit;

use crate::artifacts::ArtifactStore;
use crate::config::KernelConfig;
use crate::gateway::{JobEvent, JobResults, JobStatusView, KernelError};
use crate::job::JobId;
use crate::reservations::ReservationBook;
use crate::scheduler::Scheduler;
use crate::store::{JobStore, SqliteStore};
use eigen_hal::{Device, Target};
use live::LiveJob;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

const SHARDS: usize = 16;
/// Finished jobs whose status (and small results) are kept in memory
/// (older ones come from the store).
const FINISHED_CACHE: usize = 4096;
/// Results at most this large (roughly, in memory) are kept with the
/// finished status, so a client fetching the results of a job that just
/// finished is answered from memory; larger ones are read from the store.
/// Bounds the cache at `FINISHED_CACHE` times this.
const CACHED_RESULTS_BYTES: usize = 16 * 1024;
/// The last events of a finished job kept with its status (a short job has
/// about ten); a stream needing older ones reads the store. Bounds the
/// cache at `FINISHED_CACHE` times this many events.
const CACHED_EVENTS: usize = 16;

/// A device as the kernel runs it.
pub(crate) struct DeviceEntry {
    pub device: Arc<dyn Device>,
    pub target: Target,
    /// Wakes the device's dispatcher (new job, freed slot).
    pub wake: Notify,
    /// The last polled status allowed jobs to start.
    pub accepting: AtomicBool,
}

/// A recently finished job as clients ask about it.
#[derive(Clone)]
pub(crate) struct Finished {
    pub tenant: String,
    pub view: JobStatusView,
    /// Its results when it completed with small ones.
    pub results: Option<Arc<JobResults>>,
    /// Its last events (all of them for a short job), so a stream opened
    /// right after it finished replays from memory, not the store.
    pub events: Arc<[JobEvent]>,
}

#[derive(Default)]
struct FinishedCache {
    views: HashMap<JobId, Finished>,
    order: VecDeque<JobId>,
}

/// Roughly the bytes `r` takes in memory.
fn results_size(r: &JobResults) -> usize {
    let strings = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
    r.counts.keys().map(|k| k.len() + 48).sum::<usize>()
        + r.memory.as_deref().map_or(0, strings)
        + r.statevector.as_ref().map_or(0, |v| v.len() * 16)
        + r.probabilities.as_ref().map_or(0, |v| v.len() * 8)
        + r.artifacts.len() * 128
}

/// Resolves to the job of a (tenant, idempotency key) while it is being
/// submitted, so concurrent repeats wait for the first and get its job.
pub(crate) type IdempotencyCell = Arc<tokio::sync::OnceCell<JobId>>;

pub(crate) struct Inner {
    pub config: KernelConfig,
    pub store: Arc<dyn JobStore>,
    pub artifacts: ArtifactStore,
    pub devices: BTreeMap<String, DeviceEntry>,
    pub book: Arc<ReservationBook>,
    pub compile_cache: compile_cache::CompileCache,
    sched: Mutex<Scheduler>,
    live: Vec<Mutex<HashMap<JobId, Arc<LiveJob>>>>,
    finished: Mutex<FinishedCache>,
    pub waiting: Mutex<HashMap<String, usize>>,
    pub idempotency: Mutex<HashMap<(String, String), IdempotencyCell>>,
    pub dependents: Mutex<HashMap<JobId, Vec<JobId>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopped: AtomicBool,
    me: Weak<Inner>,
}

/// The kernel: a cheap, cloneable handle. Implements [`KernelGateway`].
///
/// [`KernelGateway`]: crate::gateway::KernelGateway
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("data_dir", &self.inner.config.data_dir)
            .field("devices", &self.inner.devices.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections here are short and leave their data consistent, so a
    // lock poisoned by a panic elsewhere still guards valid data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Kernel {
    /// Opens the store under `config.data_dir`, recovers every unfinished
    /// job, and starts scheduling on `devices`.
    pub async fn start(
        config: KernelConfig,
        devices: Vec<Arc<dyn Device>>,
    ) -> Result<Kernel, KernelError> {
        let store = SqliteStore::open(&config.data_dir, config.sync)
            .await
            .map_err(|e| KernelError::Unavailable(e.to_string()))?;
        Self::start_with_store(config, devices, Arc::new(store)).await
    }

    /// Like [`Kernel::start`] on a given store.
    pub async fn start_with_store(
        config: KernelConfig,
        devices: Vec<Arc<dyn Device>>,
        store: Arc<dyn JobStore>,
    ) -> Result<Kernel, KernelError> {
        let mut sched = Scheduler::new();
        let mut entries = BTreeMap::new();
        for device in devices {
            let target = device.target().clone();
            if entries.contains_key(&target.id) {
                return Err(KernelError::InvalidArgument {
                    field: "devices".into(),
                    description: format!("device id {} appears twice", target.id),
                });
            }
            sched.add_device(&target.id, config.slots_of(&target.id));
            let accepting = AtomicBool::new(device.status().accepts_jobs());
            entries.insert(
                target.id.clone(),
                DeviceEntry { device, target, wake: Notify::new(), accepting },
            );
        }
        let inner = Arc::new_cyclic(|me| Inner {
            artifacts: ArtifactStore::new(&config.data_dir),
            config,
            store,
            devices: entries,
            book: Arc::new(ReservationBook::new()),
            compile_cache: compile_cache::CompileCache::default(),
            sched: Mutex::new(sched),
            live: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            finished: Mutex::new(FinishedCache::default()),
            waiting: Mutex::new(HashMap::new()),
            idempotency: Mutex::new(HashMap::new()),
            dependents: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            me: me.clone(),
        });
        recovery::recover(&inner).await?;
        let mut tasks = Vec::new();
        for id in inner.devices.keys() {
            tasks.push(tokio::spawn(exec::dispatch_loop(Arc::downgrade(&inner), id.clone())));
        }
        tasks.push(tokio::spawn(recovery::expiry_task(&inner)));
        tasks.push(tokio::spawn(recovery::prune_loop(Arc::downgrade(&inner))));
        lock(&inner.tasks).extend(tasks);
        tracing::info!(devices = inner.devices.len(), "kernel started");
        Ok(Kernel { inner })
    }

    /// Stops scheduling and background work. Jobs still running are left
    /// as they are in the store: the next start re-queues them.
    pub async fn shutdown(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        tracing::info!("kernel stopped");
    }

    /// The content of an artifact a result refers to (`artifact://...`),
    /// if it belongs to one of the tenant's jobs.
    pub async fn read_artifact(
        &self,
        ctx: &crate::gateway::RequestContext,
        uri: &str,
    ) -> Result<Vec<u8>, KernelError> {
        let not_found =
            || KernelError::NotFound { resource_type: "artifact", name: uri.to_string() };
        let artifacts = self.inner.artifacts.clone();
        let owned = uri.to_string();
        let (job, bytes) = tokio::task::spawn_blocking(move || artifacts.read(&owned))
            .await
            .map_err(|e| KernelError::Internal(e.to_string()))?
            .ok_or_else(not_found)?;
        match self.inner.store.job(&job).await {
            Ok(Some(j)) if j.tenant == ctx.tenant => Ok(bytes),
            Ok(_) => Err(not_found()),
            Err(e) => Err(KernelError::Unavailable(e.to_string())),
        }
    }

    /// Prunes finished jobs and artifacts past the retention now (it also
    /// runs every `prune_interval`); returns how many jobs went.
    pub async fn prune_now(&self) -> Result<usize, KernelError> {
        recovery::prune_once(&self.inner).await.map_err(|e| KernelError::Unavailable(e.to_string()))
    }

    /// Jobs not finished yet (for tests and metrics).
    #[must_use]
    pub fn live_jobs(&self) -> usize {
        self.inner.live_count()
    }
}

impl Inner {
    pub(crate) fn sched(&self) -> MutexGuard<'_, Scheduler> {
        lock(&self.sched)
    }

    fn live_shard(&self, id: &JobId) -> &Mutex<HashMap<JobId, Arc<LiveJob>>> {
        let h = id.0.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        &self.live[h % SHARDS]
    }

    /// Wakes `device`'s dispatcher if a job waits for it. A wake-up only
    /// starts queued jobs (status polls and timeouts run on the
    /// dispatcher's own tick), so with none queued it would only cost a task
    /// wake-up, often another worker thread's: every job finishing would
    /// pay one. Whoever queues a job wakes the dispatcher after queuing it
    /// (`enqueue_ready`), so a job is never left waiting by the check.
    pub(crate) fn wake_device(&self, device: &str) {
        if self.sched().queue_length(device) == 0 {
            return;
        }
        if let Some(d) = self.devices.get(device) {
            d.wake.notify_one();
        }
    }

    /// The `Arc` this `Inner` lives in (`None` while it is being dropped).
    pub(crate) fn self_arc(&self) -> Option<Arc<Inner>> {
        self.me.upgrade()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn remember_finished(
        &self,
        tenant: &str,
        view: JobStatusView,
        results: Option<Arc<JobResults>>,
        events: Vec<JobEvent>,
    ) {
        let results = results.filter(|r| results_size(r) <= CACHED_RESULTS_BYTES);
        let events: Arc<[JobEvent]> = events.into();
        let mut c = lock(&self.finished);
        if c.order.len() >= FINISHED_CACHE
            && let Some(old) = c.order.pop_front()
        {
            c.views.remove(&old);
        }
        c.order.push_back(view.job_id.clone());
        c.views.insert(
            view.job_id.clone(),
            Finished { tenant: tenant.to_string(), view, results, events },
        );
    }

    pub(crate) fn finished_view(&self, id: &JobId) -> Option<Finished> {
        lock(&self.finished).views.get(id).cloned()
    }

    pub(crate) fn forget_finished(&self, id: &JobId) {
        lock(&self.finished).views.remove(id);
    }
}
