//! Crash recovery: no accepted job is lost or stuck. (The kill -9 test of
//! the real binary is api/tests/crash_recovery.rs.)

mod common;

use common::*;
use eigen_kernel::gateway::{JobEvent, KernelGateway, SubmitJob};
use eigen_kernel::job::{ExecStage, JobId, JobStatus, TaskState};
use eigen_kernel::store::{JobStore, SqliteStore, StoredJob, SyncMode, Write};
use std::time::{Duration, SystemTime};

fn stored(id: &str, recoveries: u32) -> StoredJob {
    StoredJob {
        id: JobId(id.into()),
        tenant: "acme".into(),
        trace_id: "t".into(),
        spec: job(11),
        created_at: SystemTime::now(),
        recoveries,
        final_state: None,
        finished_at: None,
    }
}

fn events_up_to(id: &str, path: &[TaskState]) -> Vec<Write> {
    path.iter()
        .zip(1u64..)
        .map(|(s, seq)| {
            Write::Event(JobEvent {
                job_id: JobId(id.into()),
                event_seq: seq,
                state: *s,
                status: s.status(),
                stage: s.stage().map(Into::into),
                progress: None,
                message: String::new(),
                timestamp: SystemTime::now(),
            })
        })
        .collect()
}

#[tokio::test]
async fn unfinished_jobs_are_brought_back_and_none_is_stuck() {
    use TaskState::*;
    let dir = tempfile::tempdir().unwrap();
    {
        // The state a crash leaves behind.
        let store = SqliteStore::open(dir.path(), SyncMode::Process).await.unwrap();
        let full = [Pending, Validating, Compiling, Queued, Allocating, Executing(ExecStage::Run)];
        let mut batch = Vec::new();
        for (id, recoveries, upto) in [
            ("pending", 0, 1),
            ("queued", 0, 4),
            ("allocating", 0, 5),
            ("executing", 0, 6),
            ("twice", 1, 6),
        ] {
            batch.push(Write::InsertJob(Box::new(stored(id, recoveries))));
            batch.extend(events_up_to(id, &full[..upto]));
        }
        store.commit(batch).await.unwrap();
    }
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    for id in ["pending", "queued", "allocating", "executing"] {
        let id = JobId(id.into());
        let evs = events(&k, &acme, &id, 0).await;
        assert_well_formed(&evs);
        assert_eq!(evs.last().unwrap().status, JobStatus::Done, "{id}: {evs:#?}");
        assert_eq!(k.get_job_results(&acme, &id).await.unwrap().counts.get("01"), Some(&11));
    }
    let evs = events(&k, &acme, &JobId("executing".into()), 0).await;
    assert!(evs.iter().any(|e| e.state == Queued && e.message.contains("interrupted")));
    let twice = k.get_job_status(&acme, &JobId("twice".into())).await.unwrap();
    assert_eq!(twice.status, JobStatus::Error);
    assert!(twice.message.contains("interrupted by a kernel restart twice"), "{}", twice.message);
    assert_eq!(k.live_jobs(), 0, "none stuck");
    k.shutdown().await;
}

#[test]
fn a_kernel_killed_mid_run_recovers_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(200));
    let ids: Vec<JobId> = {
        // A runtime dropped under load is the in-process stand-in for kill -9:
        // every task stops where it is; only what was committed remains.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mut c = config(dir.path());
            c.default_slots = 2;
            let k = start_with(c, std::slice::from_ref(&dev)).await;
            let mut ids = Vec::new();
            for i in 0..20 {
                ids.push(k.enqueue_job(&ctx("acme"), job(i + 1)).await.unwrap().job_id);
            }
            eventually("two running", || {
                dev.running.load(std::sync::atomic::Ordering::SeqCst) == 2
            })
            .await;
            ids
        })
        // The runtime is dropped here.
    };
    *dev.run_time.lock().unwrap() = Duration::ZERO;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let k = start(dir.path(), std::slice::from_ref(&dev)).await;
        let acme = ctx("acme");
        for id in &ids {
            let evs = events(&k, &acme, id, 0).await;
            assert_well_formed(&evs);
            assert_eq!(evs.last().unwrap().status, JobStatus::Done, "{id}");
        }
        let requeued = {
            let mut n = 0;
            for id in &ids {
                let evs = events(&k, &acme, id, 0).await;
                n += usize::from(evs.iter().any(|e| e.message.contains("interrupted")));
            }
            n
        };
        assert_eq!(requeued, 2, "the two executing jobs were re-queued once");
        // A job's terminal event is published just before the job leaves
        // the live set, so the last stream can end a moment before that.
        eventually("no job left live", || k.live_jobs() == 0).await;
        let j = SubmitJob { ..job(1) };
        let id = k.enqueue_job(&acme, j).await.unwrap().job_id;
        assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Done);
        k.shutdown().await;
    });
}
