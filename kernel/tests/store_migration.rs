//! A data directory written by an earlier kernel opens with every job,
//! event, result and reservation it held.
//!
//! `tests/data/store-v1/eigen.db` was written by the kernel whose store ran
//! on sqlx (schema version 1, recorded in sqlx's `_sqlx_migrations` table):
//! a completed job with results and an idempotency key, an unfinished job
//! interrupted twice, an unfinished job with a key, and a reservation. The
//! test opens a copy (opening migrates the file in place).

use eigen_kernel::job::{JobId, TaskState};
use eigen_kernel::store::{JobStore, SqliteStore, StoreErrorKind, SyncMode, Write, from_micros};
use std::path::Path;

const T: i64 = 1_764_000_000_000_000;

fn copy_fixture() -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store-v1");
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&from).expect("fixture dir") {
        let entry = entry.expect("fixture entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy fixture");
    }
    dir
}

fn id(s: &str) -> JobId {
    JobId(s.into())
}

#[tokio::test]
async fn a_data_dir_of_the_sqlx_era_opens_with_all_its_jobs() {
    let dir = copy_fixture();
    let store = SqliteStore::open(dir.path(), SyncMode::Process).await.expect("opens");

    let done = store.job(&id("job-done")).await.expect("reads").expect("kept");
    assert_eq!(done.tenant, "acme");
    assert_eq!(done.trace_id, "trace-job-done");
    assert_eq!(done.spec.name, "bell-job-done");
    assert_eq!(done.spec.shots, 1000);
    assert_eq!(done.spec.idempotency_key.as_deref(), Some("key-done"));
    assert_eq!(done.created_at, from_micros(T));
    assert_eq!(done.final_state, Some(TaskState::Completed));
    assert_eq!(done.finished_at, Some(from_micros(T + 100)));
    let events = store.events_after(&id("job-done"), 0, 100).await.expect("events");
    let states: Vec<TaskState> = events.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Pending,
            TaskState::Validating,
            TaskState::Compiling,
            TaskState::Queued,
            TaskState::Completed
        ]
    );
    assert_eq!(events[1].progress, Some(0.25));
    assert_eq!(events[1].message, "event 2 of job-done");
    assert_eq!(events[4].timestamp, from_micros(T + 5));
    let results = store.results(&id("job-done")).await.expect("results").expect("kept");
    assert_eq!(results.counts.values().sum::<u64>(), 1000);
    assert_eq!(results.counts.get("00"), Some(&503));

    let unfinished = store.unfinished_jobs().await.expect("unfinished");
    let ids: Vec<&str> = unfinished.iter().map(|j| j.id.0.as_str()).collect();
    assert_eq!(ids, ["job-running", "job-keyed"]);
    assert_eq!(unfinished[0].recoveries, 2);
    let last = store.last_event(&id("job-running")).await.expect("last").expect("kept");
    assert_eq!((last.event_seq, last.state), (3, TaskState::Queued));
    assert_eq!(
        store.job_by_idempotency_key("acme", "key-2").await.expect("key"),
        Some(id("job-keyed"))
    );
    let reservations = store.reservations().await.expect("reservations");
    assert_eq!(reservations.len(), 1);
    assert_eq!(reservations[0].id, "res-1");
    assert_eq!(reservations[0].expires_at, from_micros(T + 9_000_000));

    // The old rules still hold on the migrated file, and it takes new writes.
    let dup = store
        .commit(vec![Write::Event(eigen_kernel::gateway::JobEvent {
            job_id: id("job-running"),
            event_seq: 3,
            ..events[0].clone()
        })])
        .await;
    assert_eq!(dup.map_err(|e| e.kind()), Err(StoreErrorKind::Conflict));
    store
        .commit(vec![Write::Finish {
            job_id: id("job-running"),
            state: TaskState::Cancelled,
            at: from_micros(T + 5000),
        }])
        .await
        .expect("finish");
    drop(store);

    // Reopened (now at our own schema version), it has the change.
    let store = SqliteStore::open(dir.path(), SyncMode::Power).await.expect("reopens");
    let ids: Vec<JobId> =
        store.unfinished_jobs().await.expect("unfinished").into_iter().map(|j| j.id).collect();
    assert_eq!(ids, [id("job-keyed")]);
    let pruned = store.prune_finished(from_micros(T + 10_000)).await.expect("prune");
    assert_eq!(pruned.len(), 2);
    assert!(store.results(&id("job-done")).await.expect("results").is_none());
}
