use super::*;
use crate::gateway::{JobResults, SubmitJob};
use crate::job::TaskState;
use crate::store::{StoreErrorKind, from_micros};
use std::collections::BTreeMap;
use std::time::Duration;

fn job(id: &str, key: Option<&str>) -> StoredJob {
    StoredJob {
        id: JobId(id.into()),
        tenant: "acme".into(),
        trace_id: "t-1".into(),
        spec: SubmitJob {
            name: "bell".into(),
            program: "OPENQASM 3;".into(),
            target: "sim".into(),
            shots: 100,
            idempotency_key: key.map(Into::into),
            timeout: Some(Duration::from_secs(3)),
            ..SubmitJob::default()
        },
        created_at: SystemTime::now(),
        recoveries: 0,
        final_state: None,
        finished_at: None,
    }
}

fn event(id: &str, seq: u64, state: TaskState) -> JobEvent {
    JobEvent {
        job_id: JobId(id.into()),
        event_seq: seq,
        state,
        status: state.status(),
        stage: state.stage().map(Into::into),
        progress: Some(0.5),
        message: format!("event {seq}"),
        timestamp: from_micros(1_700_000_000_000_000 + i64::try_from(seq).unwrap()),
    }
}

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn job_and_events_round_trip_and_survive_reopen() {
    let (dir, store) = open().await;
    let j = job("j1", Some("k1"));
    store
        .commit(vec![
            Write::InsertJob(Box::new(j.clone())),
            Write::Event(event("j1", 1, TaskState::Pending)),
            Write::Event(event("j1", 2, TaskState::Validating)),
        ])
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), SyncMode::Power).await.unwrap();
    let back = store.job(&JobId("j1".into())).await.unwrap().unwrap();
    assert_eq!(back.spec, j.spec);
    assert_eq!(back.tenant, "acme");
    assert_eq!(store.unfinished_jobs().await.unwrap().len(), 1);
    let evs = store.events_after(&JobId("j1".into()), 0, 10).await.unwrap();
    assert_eq!(
        evs,
        vec![event("j1", 1, TaskState::Pending), event("j1", 2, TaskState::Validating)]
    );
    assert_eq!(store.events_after(&JobId("j1".into()), 1, 10).await.unwrap().len(), 1);
    assert_eq!(store.last_event(&JobId("j1".into())).await.unwrap().unwrap().event_seq, 2);
    assert_eq!(store.job_by_idempotency_key("acme", "k1").await.unwrap(), Some(JobId("j1".into())));
    assert_eq!(store.job_by_idempotency_key("other", "k1").await.unwrap(), None);
}

/// What accepting job `id` writes: the job and its first event.
fn accepted(id: &str) -> Vec<Write> {
    vec![Write::InsertJob(Box::new(job(id, None))), Write::Event(event(id, 1, TaskState::Pending))]
}

#[tokio::test]
async fn a_duplicate_event_seq_fails_only_its_own_batch() {
    let (_dir, store) = open().await;
    store.commit(accepted("a")).await.unwrap();
    let dup = store.commit(vec![Write::Event(event("a", 1, TaskState::Validating))]);
    let ok = store.commit(vec![Write::InsertJob(Box::new(job("b", None)))]);
    let (dup, ok) = tokio::join!(dup, ok);
    assert_eq!(dup.unwrap_err().kind(), StoreErrorKind::Conflict);
    ok.unwrap();
    assert!(store.job(&JobId("b".into())).await.unwrap().is_some());
    assert_eq!(
        store.events_after(&JobId("a".into()), 0, 10).await.unwrap()[0].state,
        TaskState::Pending
    );
}

#[tokio::test]
async fn duplicate_idempotency_key_conflicts() {
    let (_dir, store) = open().await;
    store.commit(vec![Write::InsertJob(Box::new(job("a", Some("k"))))]).await.unwrap();
    let err =
        store.commit(vec![Write::InsertJob(Box::new(job("b", Some("k"))))]).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
}

#[tokio::test]
async fn many_concurrent_commits_all_land() {
    let (_dir, store) = open().await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("job-{i}");
            s.commit(vec![
                Write::InsertJob(Box::new(job(&id, None))),
                Write::Event(event(&id, 1, TaskState::Pending)),
            ])
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.unfinished_jobs().await.unwrap().len(), 300);
}

#[tokio::test]
async fn results_finish_and_prune() {
    let (_dir, store) = open().await;
    let results = JobResults {
        counts: BTreeMap::from([("00".to_string(), 51), ("11".to_string(), 49)]),
        ..JobResults::default()
    };
    let old = SystemTime::now() - Duration::from_secs(3600);
    store
        .commit(vec![
            Write::InsertJob(Box::new(job("old", None))),
            Write::InsertJob(Box::new(job("new", None))),
            Write::Event(event("old", 1, TaskState::Pending)),
            Write::Results {
                job_id: JobId("old".into()),
                results: std::sync::Arc::new(results.clone()),
            },
            Write::Finish { job_id: JobId("old".into()), state: TaskState::Completed, at: old },
            Write::Finish {
                job_id: JobId("new".into()),
                state: TaskState::Failed,
                at: SystemTime::now(),
            },
            Write::Recoveries { job_id: JobId("new".into()), count: 1 },
        ])
        .await
        .unwrap();
    assert_eq!(store.results(&JobId("old".into())).await.unwrap(), Some(results));
    assert!(store.unfinished_jobs().await.unwrap().is_empty());
    let n = store.job(&JobId("new".into())).await.unwrap().unwrap();
    assert_eq!((n.final_state, n.recoveries), (Some(TaskState::Failed), 1));
    let pruned = store.prune_finished(SystemTime::now() - Duration::from_secs(60)).await.unwrap();
    assert_eq!(pruned, vec![JobId("old".into())]);
    assert!(store.job(&JobId("old".into())).await.unwrap().is_none());
    assert!(store.events_after(&JobId("old".into()), 0, 10).await.unwrap().is_empty());
    assert!(store.results(&JobId("old".into())).await.unwrap().is_none());
    assert!(store.job(&JobId("new".into())).await.unwrap().is_some());
}

#[tokio::test]
async fn reservations_round_trip() {
    let (_dir, store) = open().await;
    let r = ReservationRecord {
        id: "r1".into(),
        tenant: "acme".into(),
        device: "sim".into(),
        purpose: "calibration".into(),
        expires_at: from_micros(1_800_000_000_000_000),
    };
    store.commit(vec![Write::PutReservation(r.clone())]).await.unwrap();
    assert_eq!(store.reservations().await.unwrap(), vec![r]);
    store.commit(vec![Write::DeleteReservation("r1".into())]).await.unwrap();
    assert!(store.reservations().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_finished_in_its_insert_batch_and_one_finished_later_both_land() {
    let (dir, store) = open().await;
    store.commit(vec![Write::InsertJob(Box::new(job("earlier", None)))]).await.unwrap();
    let at = from_micros(1_700_000_000_000_123);
    store
        .commit(vec![
            Write::InsertJob(Box::new(job("at-once", None))),
            Write::Event(event("at-once", 1, TaskState::Pending)),
            Write::Finish { job_id: JobId("at-once".into()), state: TaskState::Completed, at },
            Write::Finish { job_id: JobId("earlier".into()), state: TaskState::Cancelled, at },
        ])
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap();
    for (id, state) in [("at-once", TaskState::Completed), ("earlier", TaskState::Cancelled)] {
        let j = store.job(&JobId(id.into())).await.unwrap().expect("stored");
        assert_eq!((j.final_state, j.finished_at), (Some(state), Some(at)), "{id}");
    }
    assert!(store.unfinished_jobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_batches_leave_nothing_of_themselves_and_the_rest_of_their_group_lands() {
    let (_dir, store) = open().await;
    store.commit(accepted("a")).await.unwrap();
    // Queued while the connection is busy, so they share group commits:
    // every third batch inserts a job and then an event that already
    // exists.
    let busy = store.writer.hold();
    let mut tasks = Vec::new();
    for i in 0..90 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("j{i}");
            let mut batch = vec![
                Write::InsertJob(Box::new(job(&id, None))),
                Write::Event(event(&id, 1, TaskState::Pending)),
            ];
            if i % 3 == 0 {
                batch.push(Write::Event(event("a", 1, TaskState::Validating)));
            }
            s.commit(batch).await
        }));
    }
    while store.writer.pending() < 90 {
        tokio::task::yield_now().await;
    }
    drop(busy);
    for (i, t) in tasks.into_iter().enumerate() {
        let outcome = t.await.unwrap();
        let id = JobId(format!("j{i}"));
        if i % 3 == 0 {
            assert_eq!(outcome.unwrap_err().kind(), StoreErrorKind::Conflict, "j{i}");
            assert!(store.job(&id).await.unwrap().is_none(), "j{i} was rolled back");
            assert!(store.events_after(&id, 0, 10).await.unwrap().is_empty(), "j{i}");
        } else {
            outcome.unwrap();
            assert!(store.job(&id).await.unwrap().is_some(), "j{i} landed");
            assert_eq!(store.events_after(&id, 0, 10).await.unwrap().len(), 1, "j{i}");
        }
    }
    let a = store.events_after(&JobId("a".into()), 0, 10).await.unwrap();
    assert_eq!(a, vec![event("a", 1, TaskState::Pending)]);
}

#[tokio::test]
async fn a_schema_newer_than_the_kernel_is_refused() {
    let (dir, store) = open().await;
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("eigen.db")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert!(err.to_string().contains("999"), "{err}");
}

#[tokio::test]
async fn a_reopened_store_keeps_its_schema_version() {
    let (dir, store) = open().await;
    store.commit(vec![Write::InsertJob(Box::new(job("kept", None)))]).await.unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap();
    assert!(store.job(&JobId("kept".into())).await.unwrap().is_some());
    let conn = rusqlite::Connection::open(dir.path().join("eigen.db")).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert!(version >= 1);
}

fn results_of(id: &str, zeros: u64) -> Write {
    let results =
        JobResults { counts: BTreeMap::from([("0".to_string(), zeros)]), ..JobResults::default() };
    Write::Results { job_id: JobId(id.into()), results: std::sync::Arc::new(results) }
}

#[tokio::test]
async fn a_lone_commit_runs_on_the_callers_thread_and_a_power_store_queues_it() {
    use futures::FutureExt;
    let (_dir, store) = open().await;
    // Done within its first poll: no hand-off to the writer thread.
    let lone = store.commit(vec![results_of("j", 1)]).now_or_never();
    assert!(matches!(lone, Some(Ok(()))), "{lone:?}");
    let dir = tempfile::tempdir().unwrap();
    let power = SqliteStore::open(dir.path(), SyncMode::Power).await.unwrap();
    // Every commit is an fsync there: never on the runtime's threads.
    let mut queued = std::pin::pin!(power.commit(vec![results_of("j", 1)]));
    assert!((&mut queued).now_or_never().is_none());
    queued.await.unwrap();
}

#[tokio::test]
async fn a_commit_never_overtakes_one_handed_in_before_it() {
    let (_dir, store) = open().await;
    let busy = store.writer.hold();
    let first = tokio::spawn({
        let store = store.clone();
        async move { store.commit(vec![results_of("j", 1)]).await }
    });
    while store.writer.pending() < 1 {
        tokio::task::yield_now().await;
    }
    // The connection is free, yet the earlier batch still waits: this one
    // must queue behind it rather than commit inline.
    drop(busy);
    let second = store.commit(vec![results_of("j", 2)]);
    let (first, second) = tokio::join!(first, second);
    first.unwrap().unwrap();
    second.unwrap();
    let counts = store.results(&JobId("j".into())).await.unwrap().unwrap().counts;
    assert_eq!(counts["0"], 2, "the later batch wrote last");
}

#[tokio::test]
async fn the_wal_starts_over_under_a_steady_stream_of_commits() {
    let (dir, store) = open().await;
    let wal = || std::fs::metadata(dir.path().join("eigen.db-wal")).map_or(0, |m| m.len());
    // Eight rounds of 500 commits of 5 rows (2,500 rows: a sweep is asked
    // for in each), one after another; after each round the test waits
    // for a sweep to end (however slow the machine), so a later commit
    // finds the tail due. Each commit appends some 25 KiB of frames: a
    // WAL that never started over reaches about 100 MiB, one that starts
    // over at least every other round stays within three rounds (39 MiB).
    let mut job = 0;
    for _round in 0..8 {
        let swept = store.writer.sweeps();
        for _ in 0..500 {
            let id = format!("j{job}");
            job += 1;
            let mut batch = accepted(&id);
            batch.extend((2..=4).map(|seq| Write::Event(event(&id, seq, TaskState::Validating))));
            store.commit(batch).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while store.writer.sweeps() == swept {
            assert!(std::time::Instant::now() < deadline, "no checkpoint sweep in 2 minutes");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert!(wal() < 48 << 20, "the WAL grew to {} bytes", wal());
    assert_eq!(store.unfinished_jobs().await.unwrap().len(), 4000);
}

/// What a job that finished while it was submitted writes: the job, its
/// whole log, its results and its end, in one batch.
fn finished_at_insert(id: &str, seqs: &[u64]) -> (Vec<Write>, Vec<JobEvent>, JobResults) {
    let mut events: Vec<JobEvent> = seqs
        .iter()
        .zip(TaskState::ALL.iter().cycle())
        .map(|(&seq, &state)| event(id, seq, state))
        .collect();
    // Text that JSON must escape, and an event with neither stage nor
    // progress.
    events[0].message = "say \"hi\"\\ ✓\n".into();
    events[0].stage = None;
    events[0].progress = None;
    let results = JobResults {
        counts: BTreeMap::from([("00".to_string(), 7), ("11".to_string(), 3)]),
        ..JobResults::default()
    };
    let mut batch = vec![Write::InsertJob(Box::new(job(id, None)))];
    batch.extend(events.iter().cloned().map(Write::Event));
    batch.push(Write::Results {
        job_id: JobId(id.into()),
        results: std::sync::Arc::new(results.clone()),
    });
    let at = from_micros(1_700_000_000_000_999);
    batch.push(Write::Finish { job_id: JobId(id.into()), state: TaskState::Completed, at });
    (batch, events, results)
}

/// Rows of `table` for job `id`, and whether its jobs row holds a log.
fn rows_of(dir: &tempfile::TempDir, table: &str, id: &str) -> (i64, bool) {
    let conn = rusqlite::Connection::open(dir.path().join("eigen.db")).unwrap();
    let n = conn
        .query_row(&format!("SELECT count(*) FROM {table} WHERE job_id = ?1"), [id], |r| r.get(0))
        .unwrap();
    let inline = conn
        .query_row("SELECT log IS NOT NULL FROM jobs WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    (n, inline)
}

#[tokio::test]
async fn a_job_finished_at_insert_keeps_its_log_and_results_in_its_row() {
    let (dir, store) = open().await;
    let seqs: Vec<u64> = (1..=9).collect();
    let (batch, events, results) = finished_at_insert("quick", &seqs);
    store.commit(batch).await.unwrap();
    assert_eq!(rows_of(&dir, "events", "quick"), (0, true));
    assert_eq!(rows_of(&dir, "results", "quick"), (0, true));
    let id = JobId("quick".into());
    assert_eq!(store.events_after(&id, 0, 100).await.unwrap(), events);
    assert_eq!(store.events_after(&id, 4, 2).await.unwrap(), events[4..6].to_vec());
    assert!(store.events_after(&id, 9, 10).await.unwrap().is_empty());
    assert_eq!(store.last_event(&id).await.unwrap().as_ref(), events.last());
    assert_eq!(store.results(&id).await.unwrap(), Some(results));
    let j = store.job(&id).await.unwrap().unwrap();
    assert_eq!(j.final_state, Some(TaskState::Completed));
    // Pruning takes the log and results with the row.
    let pruned = store.prune_finished(SystemTime::now()).await.unwrap();
    assert_eq!(pruned, vec![id.clone()]);
    assert!(store.events_after(&id, 0, 10).await.unwrap().is_empty());
    assert!(store.last_event(&id).await.unwrap().is_none());
    assert!(store.results(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_log_that_is_not_gapless_from_one_goes_to_the_events_table() {
    let (dir, store) = open().await;
    let (batch, events, results) = finished_at_insert("gap", &[1, 3]);
    store.commit(batch).await.unwrap();
    assert_eq!(rows_of(&dir, "events", "gap"), (2, false));
    assert_eq!(rows_of(&dir, "results", "gap"), (1, false));
    let id = JobId("gap".into());
    assert_eq!(store.events_after(&id, 0, 10).await.unwrap(), events);
    assert_eq!(store.results(&id).await.unwrap(), Some(results));
}

#[tokio::test]
async fn a_version_one_store_opens_with_its_jobs_events_and_results() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("eigen.db")).unwrap();
        conn.execute_batch(include_str!("../../../migrations/0001_jobs.sql")).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO jobs (id, tenant, trace_id, device, spec, idempotency_key, created_at, \
             final_state, finished_at) VALUES ('v1', 'acme', 't', 'sim', ?1, 'k', 5, 'COMPLETED', 6)",
            [serde_json::to_string(&job("v1", Some("k")).spec).unwrap()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO events VALUES ('v1', 1, 'PENDING', NULL, NULL, 'accepted', 5)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO results VALUES ('v1', '{\"counts\":{\"1\":2}}')", []).unwrap();
    }
    let store = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap();
    let id = JobId("v1".into());
    let j = store.job(&id).await.unwrap().unwrap();
    assert_eq!((j.final_state, j.finished_at), (Some(TaskState::Completed), Some(from_micros(6))));
    assert_eq!(store.job_by_idempotency_key("acme", "k").await.unwrap(), Some(id.clone()));
    let evs = store.events_after(&id, 0, 10).await.unwrap();
    assert_eq!((evs.len(), evs[0].message.as_str()), (1, "accepted"));
    let counts = store.results(&id).await.unwrap().unwrap().counts;
    assert_eq!(counts, BTreeMap::from([("1".to_string(), 2)]));
    // The idempotency key is still unique after the table was rebuilt.
    let again = store.commit(vec![Write::InsertJob(Box::new(job("v1-again", Some("k"))))]).await;
    assert_eq!(again.unwrap_err().kind(), StoreErrorKind::Conflict);
    let (batch, events, _) = finished_at_insert("v2", &[1, 2]);
    store.commit(batch).await.unwrap();
    assert_eq!(store.events_after(&JobId("v2".into()), 0, 10).await.unwrap(), events);
}
