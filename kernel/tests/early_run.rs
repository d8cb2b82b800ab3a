//! A short job on an idle simulator runs while it is submitted, and the job
//! and its outcome are committed in one transaction (`service::early`).
//! These tests pin the promises that must survive that: nothing of a job is
//! visible before the commit that persists it, a failed commit discards the
//! run, and what a client sees is what a restart finds.
//!
//! `GateStore` is the real SQLite store with a gate in front of `commit`
//! that can fail the next commit or hold it until the test releases it: a
//! full disk or a slow fsync cannot be produced on demand here, so the
//! failure is injected, in front of a real store.

mod common;

use async_trait::async_trait;
use common::*;
use eigen_kernel::Kernel;
use eigen_kernel::gateway::{JobEvent, JobResults, KernelError, KernelGateway};
use eigen_kernel::job::{JobId, JobStatus, TaskState};
use eigen_kernel::store::{
    JobStore, ReservationRecord, SqliteStore, StoreError, StoreErrorKind, StoredJob, SyncMode,
    Write,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, Semaphore};

/// The real store behind a gate (see the module docs).
struct GateStore {
    inner: SqliteStore,
    /// Fail the next commit.
    fail_next: AtomicBool,
    /// Hold commits while set, until `release` gives a permit.
    hold: AtomicBool,
    /// The same, for commits that finish a job (its outcome) only.
    hold_outcome: AtomicBool,
    release: Semaphore,
    /// Told when a commit is being held.
    holding: Notify,
    /// Every batch handed to `commit`, in order.
    batches: Mutex<Vec<Vec<Write>>>,
}

impl GateStore {
    async fn open(dir: &std::path::Path) -> Arc<Self> {
        Arc::new(Self {
            inner: SqliteStore::open(dir, SyncMode::Process).await.expect("store opens"),
            fail_next: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            hold_outcome: AtomicBool::new(false),
            release: Semaphore::new(0),
            holding: Notify::new(),
            batches: Mutex::new(Vec::new()),
        })
    }

    fn last_batch(&self) -> Vec<Write> {
        self.batches.lock().expect("test lock").last().cloned().expect("a batch was committed")
    }
}

#[async_trait]
impl JobStore for GateStore {
    async fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        self.batches.lock().expect("test lock").push(batch.clone());
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new(StoreErrorKind::Unavailable, "injected: disk full"));
        }
        let outcome = batch.iter().any(|w| matches!(w, Write::Finish { .. }));
        if self.hold.load(Ordering::SeqCst) || (outcome && self.hold_outcome.load(Ordering::SeqCst))
        {
            self.holding.notify_one();
            self.release.acquire().await.expect("never closed").forget();
        }
        self.inner.commit(batch).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<StoredJob>, StoreError> {
        self.inner.job(id).await
    }
    async fn unfinished_jobs(&self) -> Result<Vec<StoredJob>, StoreError> {
        self.inner.unfinished_jobs().await
    }
    async fn events_after(
        &self,
        id: &JobId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<JobEvent>, StoreError> {
        self.inner.events_after(id, after_seq, limit).await
    }
    async fn last_event(&self, id: &JobId) -> Result<Option<JobEvent>, StoreError> {
        self.inner.last_event(id).await
    }
    async fn results(&self, id: &JobId) -> Result<Option<JobResults>, StoreError> {
        self.inner.results(id).await
    }
    async fn job_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<JobId>, StoreError> {
        self.inner.job_by_idempotency_key(tenant, key).await
    }
    async fn reservations(&self) -> Result<Vec<ReservationRecord>, StoreError> {
        self.inner.reservations().await
    }
    async fn prune_finished(&self, before: SystemTime) -> Result<Vec<JobId>, StoreError> {
        self.inner.prune_finished(before).await
    }
}

async fn start_gated(dir: &std::path::Path, dev: &Arc<TestDevice>) -> (Kernel, Arc<GateStore>) {
    let store = GateStore::open(dir).await;
    let devices: Vec<Arc<dyn eigen_hal::Device>> = vec![dev.clone()];
    let k =
        Kernel::start_with_store(config(dir), devices, store.clone()).await.expect("kernel starts");
    (k, store)
}

/// Runs the program once, so the kernel knows it is short.
async fn warm_up(k: &Kernel) {
    let acme = ctx("acme");
    // As many shots as the tests' jobs: their predicted run is this one's.
    let id = k.enqueue_job(&acme, job(100)).await.expect("warm-up submit").job_id;
    assert_eq!(wait_terminal(k, &acme, &id).await, JobStatus::Done);
}

fn inserted_job(batch: &[Write]) -> Option<JobId> {
    batch.iter().find_map(|w| match w {
        Write::InsertJob(j) => Some(j.id.clone()),
        _ => None,
    })
}

fn finishes(batch: &[Write]) -> bool {
    batch.iter().any(|w| matches!(w, Write::Finish { state: TaskState::Completed, .. }))
}

#[tokio::test]
async fn a_short_job_on_an_idle_simulator_is_durable_and_finished_when_submit_returns() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let (k, store) = start_gated(dir.path(), &dev).await;
    warm_up(&k).await;
    let acme = ctx("acme");
    let commits = store.batches.lock().unwrap().len();
    let view = k.enqueue_job(&acme, job(100)).await.unwrap();
    assert_eq!(view.status, JobStatus::Done, "ran while it was submitted");
    let batches = store.batches.lock().unwrap().clone();
    assert_eq!(batches.len(), commits + 1, "the job and its outcome: one commit");
    let batch = &batches[commits];
    assert_eq!(inserted_job(batch), Some(view.job_id.clone()));
    assert!(finishes(batch), "the outcome is in the job's own transaction");
    assert!(batch.iter().any(|w| matches!(w, Write::Results { .. })));

    let evs = events(&k, &acme, &view.job_id, 0).await;
    assert_well_formed(&evs);
    assert_eq!(evs.iter().map(|e| e.state).collect::<Vec<_>>(), happy_path());
    assert!(evs.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "{evs:#?}");
    let results = k.get_job_results(&acme, &view.job_id).await.unwrap();
    assert_eq!(results.counts.get("01"), Some(&100));
    assert_eq!(k.live_jobs(), 0);
    k.shutdown().await;
    drop(k);

    // What the client saw is what the store has.
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    assert_eq!(events(&k, &acme, &view.job_id, 0).await, evs);
    assert_eq!(k.get_job_results(&acme, &view.job_id).await.unwrap(), results);
    k.shutdown().await;
}

#[tokio::test]
async fn a_failed_submit_commit_discards_the_early_run() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let (k, store) = start_gated(dir.path(), &dev).await;
    warm_up(&k).await;
    let acme = ctx("acme");
    let ran = dev.executions.load(Ordering::SeqCst);
    store.fail_next.store(true, Ordering::SeqCst);
    let keyed =
        || eigen_kernel::gateway::SubmitJob { idempotency_key: Some("once".into()), ..job(100) };
    match k.enqueue_job(&acme, keyed()).await {
        Err(KernelError::Unavailable(msg)) => assert!(msg.contains("disk full"), "{msg}"),
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    assert_eq!(dev.executions.load(Ordering::SeqCst), ran + 1, "it did run early");
    let refused = store.last_batch();
    assert!(finishes(&refused), "its outcome was in the refused transaction");
    let lost = inserted_job(&refused).expect("the job was in it");
    // Nothing of it is visible, now or after a restart.
    assert!(matches!(
        k.get_job_status(&acme, &lost).await,
        Err(KernelError::NotFound { resource_type: "job", .. })
    ));
    assert!(k.job_events(&acme, &lost, 0).await.is_err());
    assert!(k.get_job_results(&acme, &lost).await.is_err());
    assert_eq!(k.live_jobs(), 0);
    assert_eq!(store.job_by_idempotency_key("acme", "once").await.unwrap(), None);

    // The key is free: the retry is a new job with its own, whole log.
    let retry = k.enqueue_job(&acme, keyed()).await.unwrap();
    assert_ne!(retry.job_id, lost);
    assert_eq!(retry.status, JobStatus::Done);
    let evs = events(&k, &acme, &retry.job_id, 0).await;
    assert_well_formed(&evs);
    k.shutdown().await;
    drop(k);
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    assert!(k.get_job_status(&acme, &lost).await.is_err(), "gone after a restart too");
    assert_eq!(k.get_job_status(&acme, &retry.job_id).await.unwrap().status, JobStatus::Done);
    k.shutdown().await;
}

#[tokio::test]
async fn nothing_of_an_early_run_is_visible_before_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let (k, store) = start_gated(dir.path(), &dev).await;
    warm_up(&k).await;
    let acme = ctx("acme");
    store.hold.store(true, Ordering::SeqCst);
    let submit = {
        let (k, acme) = (k.clone(), acme.clone());
        tokio::spawn(async move { k.enqueue_job(&acme, job(100)).await })
    };
    store.holding.notified().await;
    let held = store.last_batch();
    assert!(finishes(&held), "the early run is done; its commit is held");
    let id = inserted_job(&held).expect("the job is in the held commit");
    // The run is over but not durable: no status, no event, no result.
    assert!(matches!(
        k.get_job_status(&acme, &id).await,
        Err(KernelError::NotFound { resource_type: "job", .. })
    ));
    assert!(k.job_events(&acme, &id, 0).await.is_err());
    assert!(k.get_job_results(&acme, &id).await.is_err());
    assert_eq!(k.live_jobs(), 0);
    assert!(!submit.is_finished(), "submit waits for the commit");

    store.hold.store(false, Ordering::SeqCst);
    store.release.add_permits(1);
    let view = submit.await.unwrap().unwrap();
    assert_eq!(view.job_id, id);
    assert_eq!(view.status, JobStatus::Done);
    assert_well_formed(&events(&k, &acme, &id, 0).await);
    k.shutdown().await;
}

#[tokio::test]
async fn no_event_of_a_queued_run_is_published_before_its_commit() {
    // The usual path (a busy device): the outcome of the run is held in its
    // commit; the stream, the status and the results show only what is
    // durable.
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let (k, store) = start_gated(dir.path(), &dev).await;
    warm_up(&k).await;
    let acme = ctx("acme");
    // A timeout under a second keeps the job off the inline paths.
    let mut j = job(100);
    j.timeout = Some(Duration::from_millis(900));
    // Hold its outcome's commit. (Set before the submit: the job may run
    // as soon as it is queued, before the submit's caller resumes.)
    store.hold_outcome.store(true, Ordering::SeqCst);
    let id = k.enqueue_job(&acme, j).await.unwrap().job_id;
    store.holding.notified().await;
    let held = store.last_batch();
    let published = k.get_job_status(&acme, &id).await.unwrap();
    let held_seqs: Vec<u64> = held
        .iter()
        .filter_map(|w| if let Write::Event(e) = w { Some(e.event_seq) } else { None })
        .collect();
    assert!(!held_seqs.is_empty(), "{held:?}");
    assert!(
        published.last_event_seq < held_seqs[0],
        "an event of the held commit is already published: {} >= {}",
        published.last_event_seq,
        held_seqs[0]
    );
    assert!(!published.status.is_terminal());
    assert!(k.get_job_results(&acme, &id).await.is_err(), "no results before their commit");
    store.hold_outcome.store(false, Ordering::SeqCst);
    store.release.add_permits(1);
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Done);
    k.shutdown().await;
}

#[tokio::test]
async fn a_job_never_overtakes_a_queued_one_by_running_early() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    warm_up(&k).await;
    // A new program (so not inline) holds the only slot for a while; the
    // jobs after it wait their turn, however short their program is known
    // to be.
    *dev.run_time.lock().unwrap() = Duration::from_millis(300);
    let mut long = job(2);
    long.program = X0.replace("x q[0];", "x q[1];");
    let long = k.enqueue_job(&acme, long).await.unwrap().job_id;
    let next = k.enqueue_job(&acme, job(3)).await.unwrap();
    assert_eq!(next.status, JobStatus::Queued, "the device is busy: it waits its turn");
    let last = k.enqueue_job(&acme, job(4)).await.unwrap();
    assert_eq!(last.status, JobStatus::Queued);
    for id in [&long, &next.job_id, &last.job_id] {
        assert_eq!(wait_terminal(&k, &acme, id).await, JobStatus::Done);
    }
    let started = dev.started.lock().unwrap().clone();
    assert_eq!(started[started.len() - 3..], [2, 3, 4], "FIFO: {started:?}");
    k.shutdown().await;
}

#[tokio::test]
async fn a_submit_dropped_while_its_job_commits_still_runs_the_job() {
    // A client that goes away (or whose deadline passes) while its job is
    // being committed: the job may be durable, so it must run, not sit
    // Queued until a restart. The usual path (a new program), so nothing
    // runs before the commit.
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let (k, store) = start_gated(dir.path(), &dev).await;
    let acme = ctx("acme");
    store.hold.store(true, Ordering::SeqCst);
    let submit = {
        let (k, acme) = (k.clone(), acme.clone());
        tokio::spawn(async move { k.enqueue_job(&acme, job(7)).await })
    };
    store.holding.notified().await;
    let id = inserted_job(&store.last_batch()).expect("the submit is being committed");
    submit.abort();
    assert!(submit.await.unwrap_err().is_cancelled());
    store.hold.store(false, Ordering::SeqCst);
    store.release.add_permits(1);
    // It becomes visible once committed (no one is left to be told).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while k.get_job_status(&acme, &id).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the committed job never appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Done);
    assert_eq!(dev.started.lock().unwrap().clone(), [7]);
    eventually("the job leaves the live set", || k.live_jobs() == 0).await;
    k.shutdown().await;
}
