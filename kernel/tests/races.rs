//! Cancel against completion against timeout, many times: the terminal event
//! is emitted exactly once and matches the final status.

mod common;

use common::*;
use eigen_kernel::gateway::{KernelGateway, SubmitJob};
use eigen_kernel::job::JobStatus;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_completion_and_timeout_race_to_exactly_one_terminal_event() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(3));
    let mut c = config(dir.path());
    c.default_slots = 8;
    c.heartbeat_interval = Some(Duration::from_millis(1));
    let k = start_with(c, &[dev]).await;
    let acme = ctx("acme");
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        let (k, acme) = (k.clone(), acme.clone());
        tasks.push(tokio::spawn(async move {
            let j =
                SubmitJob { timeout: Some(Duration::from_millis(u64::from(i % 5) + 1)), ..job(1) };
            let id = k.enqueue_job(&acme, j).await.unwrap().job_id;
            tokio::time::sleep(Duration::from_micros(u64::from(i % 7) * 700)).await;
            let after_cancel = k.cancel_job(&acme, &id).await.unwrap();
            let evs = events(&k, &acme, &id, 0).await;
            assert_well_formed(&evs);
            let last = evs.last().unwrap();
            let status = k.get_job_status(&acme, &id).await.unwrap();
            assert_eq!(status.status, last.status);
            assert_eq!(status.last_event_seq, last.event_seq);
            if after_cancel.status.is_terminal() {
                assert_eq!(after_cancel.status, last.status);
            }
            if last.status == JobStatus::Done {
                assert!(k.get_job_results(&acme, &id).await.is_ok());
            }
            last.status
        }));
    }
    let mut seen = std::collections::BTreeMap::new();
    for t in tasks {
        *seen.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    assert!(seen.keys().all(|s| s.is_terminal()));
    assert!(seen.contains_key(&JobStatus::Cancelled), "{seen:?}");
    k.shutdown().await;
}

#[tokio::test]
async fn cancel_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_secs(30));
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    // Executing: cooperative cancel through the HAL, then CANCELLED.
    let running = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    eventually("running", || dev.running.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
    // Queued behind it: CANCELLED at once.
    let queued = k.enqueue_job(&acme, job(2)).await.unwrap().job_id;
    let st = k.cancel_job(&acme, &queued).await.unwrap();
    assert_eq!(st.status, JobStatus::Cancelled);
    let st = k.cancel_job(&acme, &running).await.unwrap();
    assert_eq!(st.status, JobStatus::Cancelled);
    assert_eq!(dev.running.load(std::sync::atomic::Ordering::SeqCst), 0, "the device stopped");
    // Finished: unchanged.
    let again = k.cancel_job(&acme, &running).await.unwrap();
    assert_eq!((again.status, again.last_event_seq), (st.status, st.last_event_seq));
    *dev.run_time.lock().unwrap() = Duration::ZERO;
    let done = k.enqueue_job(&acme, job(3)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &done).await, JobStatus::Done);
    assert_eq!(k.cancel_job(&acme, &done).await.unwrap().status, JobStatus::Done);
    k.shutdown().await;
}

#[tokio::test]
async fn a_timeout_stops_the_execution() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_secs(30));
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let j = SubmitJob { timeout: Some(Duration::from_millis(100)), ..job(1) };
    let id = k.enqueue_job(&acme, j).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Timeout);
    eventually("device stopped", || dev.running.load(std::sync::atomic::Ordering::SeqCst) == 0)
        .await;
    // The slot is free again.
    *dev.run_time.lock().unwrap() = Duration::ZERO;
    let next = k.enqueue_job(&acme, job(2)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &next).await, JobStatus::Done);
    k.shutdown().await;
}
