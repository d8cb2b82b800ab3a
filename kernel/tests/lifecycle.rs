//! The job lifecycle end to end on a real SQLite store and a real device.

mod common;

use common::*;
use eigen_kernel::gateway::{KernelError, KernelGateway, SubmitJob};
use eigen_kernel::job::{JobId, JobStatus, TaskState};
use eigen_kernel::{JobObserver, KernelConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn a_job_runs_to_done_with_every_transition_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let mut j = job(100);
    j.seed = Some(42);
    j.metadata.insert("owner".into(), "alice".into());
    let accepted = k.enqueue_job(&acme, j).await.unwrap();
    assert!(accepted.last_event_seq >= 4, "durable through Queued on return");
    let evs = events(&k, &acme, &accepted.job_id, 0).await;
    assert_well_formed(&evs);
    let states: Vec<TaskState> = evs.iter().map(|e| e.state).collect();
    assert_eq!(states, happy_path());
    let status = k.get_job_status(&acme, &accepted.job_id).await.unwrap();
    assert_eq!(status.status, JobStatus::Done);
    assert_eq!(status.last_event_seq, 9);
    for s in [JobStatus::Compiling, JobStatus::Queued, JobStatus::Running, JobStatus::Done] {
        assert!(status.entered_at.contains_key(&s), "entered_at has {s}");
    }
    let results = k.get_job_results(&acme, &accepted.job_id).await.unwrap();
    assert_eq!(results.counts.get("01"), Some(&100), "{:?}", results.counts);
    assert_eq!(results.counts.len(), 1);
    assert_eq!(results.metadata.device, "dev");
    assert_eq!(results.metadata.shots, 100);
    assert_eq!(results.metadata.seed, 42);
    assert_eq!(results.metadata.calibration_id, "dev-cal-1");
    assert!(!results.metadata.compiler_version.is_empty());
    assert!(results.memory.is_none() && results.artifacts.is_empty());
    k.shutdown().await;
}

#[tokio::test]
async fn an_invalid_program_is_refused_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let mut j = job(10);
    j.program = "OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n".into();
    match k.enqueue_job(&ctx("acme"), j).await {
        Err(KernelError::InvalidProgram(diags)) => {
            assert!(!diags.is_empty());
            assert!(diags.iter().all(|d| d.line >= 1 && d.column >= 1));
            assert!(diags.iter().any(|d| d.line == 3), "{diags:?}");
        }
        other => panic!("expected InvalidProgram, got {other:?}"),
    }
    assert_eq!(k.live_jobs(), 0, "nothing was accepted");
}

#[tokio::test]
async fn bad_requests_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let mut j = job(10);
    j.target = "nope".into();
    assert!(matches!(
        k.enqueue_job(&acme, j).await,
        Err(KernelError::NotFound { resource_type: "device", .. })
    ));
    assert!(matches!(
        k.enqueue_job(&acme, job(0)).await,
        Err(KernelError::InvalidArgument { field, .. }) if field == "shots"
    ));
    let mut j = job(10);
    j.compiler_options.insert("optimization_level".into(), "9".into());
    assert!(matches!(k.enqueue_job(&acme, j).await, Err(KernelError::InvalidArgument { .. })));
    let mut j = job(10);
    j.dependencies = vec![JobId("missing".into())];
    assert!(matches!(k.enqueue_job(&acme, j).await, Err(KernelError::InvalidArgument { .. })));
    let mut j = job(10);
    j.reservation_id = Some("res-unknown".into());
    assert!(matches!(
        k.enqueue_job(&acme, j).await,
        Err(KernelError::NotFound { resource_type: "reservation", .. })
    ));
    assert!(matches!(
        k.get_job_status(&acme, &JobId("nope".into())).await,
        Err(KernelError::NotFound { resource_type: "job", .. })
    ));
}

#[tokio::test]
async fn tenants_never_see_each_others_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let (acme, other) = (ctx("acme"), ctx("other"));
    let id = k.enqueue_job(&acme, job(5)).await.unwrap().job_id;
    wait_terminal(&k, &acme, &id).await;
    let nf = |r: Result<_, KernelError>| matches!(r, Err(KernelError::NotFound { .. }));
    assert!(nf(k.get_job_status(&other, &id).await.map(|_| ())));
    assert!(nf(k.cancel_job(&other, &id).await.map(|_| ())));
    assert!(nf(k.get_job_results(&other, &id).await.map(|_| ())));
    assert!(nf(k.job_events(&other, &id, 0).await.map(|_| ())));
    assert!(k.get_job_results(&acme, &id).await.is_ok());
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let keyed = |key: &str| SubmitJob { idempotency_key: Some(key.into()), ..job(3) };
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (k, acme, j) = (k.clone(), acme.clone(), keyed("k-1"));
        tasks.push(tokio::spawn(async move { k.enqueue_job(&acme, j).await.unwrap().job_id }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one job for one key");
    wait_terminal(&k, &acme, &ids[0]).await;
    // Later, and after the job finished, the key still maps to it.
    assert_eq!(k.enqueue_job(&acme, keyed("k-1")).await.unwrap().job_id, ids[0]);
    // Another tenant's same key is another job.
    let theirs = k.enqueue_job(&ctx("other"), keyed("k-1")).await.unwrap().job_id;
    assert_ne!(theirs, ids[0]);
    k.shutdown().await;
}

#[tokio::test]
async fn the_queued_jobs_quota_is_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    dev.set_status(eigen_hal::DeviceStatus::Offline);
    let mut c = config(dir.path());
    c.queued_jobs_quota_per_tenant = 3;
    let k = start_with(c, std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(k.enqueue_job(&acme, job(1)).await.unwrap().job_id);
    }
    match k.enqueue_job(&acme, job(1)).await {
        Err(KernelError::ResourceExhausted { subject, retry_after, .. }) => {
            assert_eq!(subject, "tenant:acme");
            assert!(retry_after.is_some());
        }
        other => panic!("expected ResourceExhausted, got {other:?}"),
    }
    assert!(k.enqueue_job(&ctx("other"), job(1)).await.is_ok(), "other tenants are not affected");
    // Cancelling frees quota.
    k.cancel_job(&acme, &ids[0]).await.unwrap();
    assert!(k.enqueue_job(&acme, job(1)).await.is_ok());
    k.shutdown().await;
}

#[tokio::test]
async fn results_are_refused_before_done() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    dev.set_status(eigen_hal::DeviceStatus::Maintenance);
    let k = start(dir.path(), &[dev]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    match k.get_job_results(&acme, &id).await {
        Err(KernelError::FailedPrecondition { violation, .. }) => {
            assert_eq!(violation, "JOB_NOT_DONE")
        }
        other => panic!("{other:?}"),
    }
    let st = k.get_job_status(&acme, &id).await.unwrap();
    assert_eq!(st.status, JobStatus::Queued);
    assert_eq!(st.queue_position, Some(0));
    assert!(st.estimated_start.is_some() && st.estimated_finish.is_some());
    k.shutdown().await;
}

#[tokio::test]
async fn large_payloads_become_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // Three shots of memory (16 bytes of JSON) inline; a 2-qubit
    // statevector (41 bytes) and 1000 shots of memory do not.
    c.inline_limit_bytes = 30;
    let k = start_with(c, &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let small = SubmitJob { memory: true, ..job(3) };
    let id = k.enqueue_job(&acme, small).await.unwrap().job_id;
    wait_terminal(&k, &acme, &id).await;
    let r = k.get_job_results(&acme, &id).await.unwrap();
    assert_eq!(r.memory, Some(vec!["01".to_string(); 3]));

    let big = SubmitJob { memory: true, statevector: true, ..job(1000) };
    let id = k.enqueue_job(&acme, big).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Done);
    let r = k.get_job_results(&acme, &id).await.unwrap();
    assert!(
        r.memory.is_none() && r.statevector.is_none(),
        "{:?}",
        (r.memory.as_ref().map(Vec::len), &r.statevector, &r.artifacts)
    );
    let kinds: Vec<&str> = r.artifacts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["memory", "statevector", "probabilities"]);
    let mem = &r.artifacts[0];
    assert_eq!(mem.uri, format!("artifact://{id}/memory"));
    let bytes = k.read_artifact(&acme, &mem.uri).await.unwrap();
    assert_eq!(bytes.len() as u64, mem.size_bytes);
    let shots: Vec<String> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(shots.len(), 1000);
    assert!(shots.iter().all(|s| s == "01"));
    assert!(k.read_artifact(&ctx("other"), &mem.uri).await.is_err(), "tenant scoped");
    k.shutdown().await;
}

#[tokio::test]
async fn retention_prunes_finished_jobs_and_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.inline_limit_bytes = 8;
    // Not zero: the prune at start-up must not race the job's finish (it
    // runs when the kernel starts, a few milliseconds at most before).
    c.retention = Duration::from_millis(500);
    let k = start_with(c, &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, SubmitJob { memory: true, ..job(50) }).await.unwrap().job_id;
    wait_terminal(&k, &acme, &id).await;
    let uri = k.get_job_results(&acme, &id).await.unwrap().artifacts[0].uri.clone();
    assert_eq!(k.prune_now().await.unwrap(), 0, "finished less than the retention ago");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(k.prune_now().await.unwrap() >= 1);
    assert!(matches!(k.get_job_status(&acme, &id).await, Err(KernelError::NotFound { .. })));
    assert!(k.read_artifact(&acme, &uri).await.is_err());
    k.shutdown().await;
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(Option<TaskState>, TaskState)>>);

impl JobObserver for Recorder {
    fn on_transition(
        &self,
        _: &JobId,
        device: &str,
        from: Option<TaskState>,
        to: TaskState,
        _: Duration,
    ) {
        assert_eq!(device, "dev");
        self.0.lock().expect("recorder lock").push((from, to));
    }
}

#[tokio::test]
async fn the_observer_sees_every_transition_and_finished_jobs_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let mut c: KernelConfig = config(dir.path());
    c.observer = Some(rec.clone());
    let k = start_with(c, &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(7)).await.unwrap().job_id;
    wait_terminal(&k, &acme, &id).await;
    let seen = rec.0.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&(None, TaskState::Pending)));
    assert_eq!(seen.last().map(|t| t.1), Some(TaskState::Completed));
    for w in seen.windows(2) {
        assert_eq!(w[0].1, w[1].0.unwrap(), "transitions chain");
    }
    k.shutdown().await;
    drop(k);
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let st = k.get_job_status(&acme, &id).await.unwrap();
    assert_eq!((st.status, st.last_event_seq), (JobStatus::Done, 9));
    assert_eq!(k.get_job_results(&acme, &id).await.unwrap().counts.get("01"), Some(&7));
    assert_eq!(events(&k, &acme, &id, 0).await.len(), 9);
    k.shutdown().await;
}
