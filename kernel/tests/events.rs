//! Event streams: resume, heartbeats, slow subscribers, many streams.

mod common;

use common::*;
use eigen_kernel::gateway::KernelGateway;
use eigen_kernel::job::{JobStatus, TaskState};
use futures::StreamExt;
use std::time::Duration;

#[tokio::test]
async fn resume_from_any_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path(), &[TestDevice::new("dev")]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let all = events(&k, &acme, &id, 0).await;
    assert_well_formed(&all);
    for after in 0..=all.len() as u64 {
        let tail = events(&k, &acme, &id, after).await;
        assert_eq!(tail, all[after as usize..], "resume after {after}");
    }
    k.shutdown().await;
}

#[tokio::test]
async fn heartbeats_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(500));
    let mut c = config(dir.path());
    c.heartbeat_interval = Some(Duration::from_millis(100));
    let k = start_with(c, &[dev]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let evs = events(&k, &acme, &id, 0).await;
    assert_well_formed(&evs);
    let beats: Vec<_> = evs.iter().filter(|e| e.message == "heartbeat").collect();
    assert!(beats.len() >= 2, "{} heartbeats in 500 ms at 100 ms", beats.len());
    assert!(beats.iter().all(|e| e.status == JobStatus::Running));
    k.shutdown().await;
}

#[tokio::test]
async fn a_stalled_subscriber_blocks_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(300));
    let mut c = config(dir.path());
    c.heartbeat_interval = Some(Duration::from_millis(5));
    let k = start_with(c, &[dev]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    // Opened and never read while the job produces ~60 heartbeats.
    let mut stalled = k.job_events(&acme, &id, 0).await.unwrap();
    let reader = events(&k, &acme, &id, 0).await;
    assert_well_formed(&reader);
    assert!(reader.len() > 40, "many events: {}", reader.len());
    // The stalled one, read at last, still gets every event in order.
    let mut late = Vec::new();
    while let Some(e) = stalled.next().await {
        late.push(e);
    }
    assert_eq!(late, reader);
    k.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_open_streams() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(200));
    let k = start(dir.path(), &[dev]).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let mut streams = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        streams.push(k.job_events(&acme, &id, 0).await.unwrap());
    }
    let mut ends = 0;
    for s in streams {
        let evs: Vec<_> = s.collect().await;
        assert_eq!(evs.last().unwrap().state, TaskState::Completed);
        assert_eq!(evs.len() as u64, evs.last().unwrap().event_seq);
        ends += 1;
    }
    assert_eq!(ends, 10_000);
    k.shutdown().await;
}
