//! Short runs of a known program execute inline (on the dispatching
//! worker, no blocking thread) and are recorded in one commit after the
//! device returns: they must still emit and persist every transition, in
//! order, and survive device panics.
//!
//! The tests run on tokio's current-thread runtime, where every task runs
//! on the test's own thread: an execution on that thread ran inline, one on
//! another thread ran on the blocking pool.

mod common;

use common::*;
use eigen_kernel::gateway::KernelGateway;
use eigen_kernel::job::{JobStatus, TaskState};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn ran_inline(dev: &TestDevice, execution: usize) -> bool {
    dev.threads.lock().expect("test lock")[execution] == std::thread::current().id()
}

#[tokio::test]
async fn a_known_short_program_runs_inline_with_every_transition_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    // First run of the program: its cost is unknown, so a blocking thread.
    let first = k.enqueue_job(&acme, job(100)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &first).await, JobStatus::Done);
    assert!(!ran_inline(&dev, 0), "an unknown program never runs inline");
    // Same program, known to take microseconds: inline.
    let second = k.enqueue_job(&acme, job(100)).await.unwrap().job_id;
    let live = events(&k, &acme, &second, 0).await;
    assert!(ran_inline(&dev, 1), "a known short run executes inline");
    assert_well_formed(&live);
    let states: Vec<TaskState> = live.iter().map(|e| e.state).collect();
    assert_eq!(states, happy_path());
    assert!(live.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "{live:#?}");
    let results = k.get_job_results(&acme, &second).await.unwrap();
    assert_eq!(results.counts.get("01"), Some(&100));
    let status = k.get_job_status(&acme, &second).await.unwrap();
    assert!(status.entered_at.contains_key(&JobStatus::Running));
    k.shutdown().await;
    drop(k);

    // After a restart, the store has the same log and results.
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    assert_eq!(events(&k, &acme, &second, 0).await, live);
    assert_eq!(k.get_job_results(&acme, &second).await.unwrap(), results);
    k.shutdown().await;
}

#[tokio::test]
async fn short_timeouts_and_slow_programs_stay_on_blocking_threads() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let first = k.enqueue_job(&acme, job(10)).await.unwrap().job_id;
    wait_terminal(&k, &acme, &first).await;
    // A timeout below a second must be able to interrupt the run.
    let mut j = job(10);
    j.timeout = Some(Duration::from_millis(500));
    let timed = k.enqueue_job(&acme, j).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &timed).await, JobStatus::Done);
    assert!(!ran_inline(&dev, 1), "a job with a short timeout runs on a blocking thread");
    // A run that turned out slow is not repeated inline.
    *dev.run_time.lock().unwrap() = Duration::from_millis(5);
    let slow = k.enqueue_job(&acme, job(10)).await.unwrap().job_id;
    wait_terminal(&k, &acme, &slow).await;
    assert!(ran_inline(&dev, 2), "its last run was short");
    let again = k.enqueue_job(&acme, job(10)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &again).await, JobStatus::Done);
    assert!(!ran_inline(&dev, 3), "its last run took 5 ms: blocking thread");
    k.shutdown().await;
}

#[tokio::test]
async fn a_device_panic_ends_the_job_error_inline_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let mut outcomes = Vec::new();
    for panics in [true, false, true, false] {
        dev.panic_next.store(panics, Ordering::SeqCst);
        let id = k.enqueue_job(&acme, job(10)).await.unwrap().job_id;
        let evs = events(&k, &acme, &id, 0).await;
        assert_well_formed(&evs);
        let last = evs.last().unwrap();
        if panics {
            assert!(last.message.contains("injected device panic"), "{last:?}");
        }
        outcomes.push(last.status);
    }
    assert_eq!(outcomes, [JobStatus::Error, JobStatus::Done, JobStatus::Error, JobStatus::Done]);
    assert!(!ran_inline(&dev, 0) && !ran_inline(&dev, 1), "unknown program: blocking threads");
    assert!(ran_inline(&dev, 2) && ran_inline(&dev, 3), "known short program: inline");
    assert_eq!(k.live_jobs(), 0);
    k.shutdown().await;
}
