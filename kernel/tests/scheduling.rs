//! Scheduling: slots, priority, tenant fairness, dependencies, device
//! status, transient device errors.

mod common;

use common::*;
use eigen_hal::{DeviceStatus, ErrorKind};
use eigen_kernel::gateway::{KernelGateway, SubmitJob};
use eigen_kernel::job::JobStatus;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn a_device_never_runs_more_jobs_than_its_slots() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(20));
    let mut c = config(dir.path());
    c.slots.insert("dev".into(), 3);
    let k = start_with(c, std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(k.enqueue_job(&acme, job(1)).await.unwrap().job_id);
    }
    for id in &ids {
        assert_eq!(wait_terminal(&k, &acme, id).await, JobStatus::Done);
    }
    assert_eq!(dev.max_running.load(Ordering::SeqCst), 3, "three slots, used at once");
    k.shutdown().await;
}

#[tokio::test]
async fn priority_then_fifo_then_fair_between_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    dev.set_status(DeviceStatus::Calibrating);
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let (big, small) = (ctx("big"), ctx("small"));
    // Tagged by shot count: big tenant floods 1..=20, small tenant has 100,
    // one urgent big job has 500 at priority 5.
    for shots in 1..=20 {
        k.enqueue_job(&big, job(shots)).await.unwrap();
    }
    let small_id = k.enqueue_job(&small, job(100)).await.unwrap().job_id;
    let urgent = SubmitJob { priority: 5, ..job(500) };
    let urgent_id = k.enqueue_job(&big, urgent).await.unwrap().job_id;
    let st = k.get_job_status(&small, &small_id).await.unwrap();
    assert_eq!(st.queue_position, Some(2), "behind the urgent job and one big job");
    assert_eq!(k.get_job_status(&big, &urgent_id).await.unwrap().queue_position, Some(0));
    dev.set_status(DeviceStatus::Online);
    wait_terminal(&k, &small, &small_id).await;
    eventually("all ran", || dev.executions.load(Ordering::SeqCst) == 22).await;
    let order = dev.started.lock().unwrap().clone();
    assert_eq!(&order[..4], &[500, 1, 100, 2], "priority, then tenants take turns, FIFO each");
    assert_eq!(&order[4..], &(3..=20).collect::<Vec<_>>()[..]);
    k.shutdown().await;
}

#[tokio::test]
async fn dependencies_wait_for_done_and_fail_with_their_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(30));
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let first = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let second = SubmitJob { dependencies: vec![first.clone()], ..job(2) };
    let second = k.enqueue_job(&acme, second).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &second).await, JobStatus::Done);
    assert_eq!(*dev.started.lock().unwrap(), [1, 2]);

    // A dependency that ends otherwise fails its dependents.
    dev.set_status(DeviceStatus::Offline);
    let doomed = k.enqueue_job(&acme, job(3)).await.unwrap().job_id;
    let after = SubmitJob { dependencies: vec![doomed.clone()], ..job(4) };
    let after = k.enqueue_job(&acme, after).await.unwrap().job_id;
    k.cancel_job(&acme, &doomed).await.unwrap();
    assert_eq!(wait_terminal(&k, &acme, &after).await, JobStatus::Error);
    let st = k.get_job_status(&acme, &after).await.unwrap();
    assert_eq!(st.message, format!("dependency {doomed} ended CANCELLED"));
    // Depending on an already failed job fails at once.
    let late = SubmitJob { dependencies: vec![after.clone()], ..job(5) };
    let late = k.enqueue_job(&acme, late).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &late).await, JobStatus::Error);
    k.shutdown().await;
}

#[tokio::test]
async fn jobs_wait_for_an_offline_device_and_resume_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    dev.set_status(DeviceStatus::Offline);
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let timed = SubmitJob { timeout: Some(Duration::from_millis(100)), ..job(2) };
    let timed = k.enqueue_job(&acme, timed).await.unwrap().job_id;
    // The job with a timeout gives up waiting: ERROR.
    assert_eq!(wait_terminal(&k, &acme, &timed).await, JobStatus::Error);
    let st = k.get_job_status(&acme, &timed).await.unwrap();
    assert!(st.message.contains("not available"), "{}", st.message);
    assert_eq!(dev.executions.load(Ordering::SeqCst), 0, "nothing starts on an offline device");
    assert_eq!(k.get_job_status(&acme, &id).await.unwrap().status, JobStatus::Queued);
    dev.set_status(DeviceStatus::Online);
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Done);
    k.shutdown().await;
}

#[tokio::test]
async fn transient_device_errors_requeue_then_give_up() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let mut c = config(dir.path());
    c.max_device_retries = 2;
    let k = start_with(c, std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    dev.fail_next.lock().unwrap().extend([ErrorKind::Busy, ErrorKind::Offline]);
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    let evs = events(&k, &acme, &id, 0).await;
    assert_well_formed(&evs);
    assert_eq!(evs.last().unwrap().status, JobStatus::Done);
    let requeues = evs.iter().filter(|e| e.message.contains("re-queued")).count();
    assert_eq!(requeues, 2);
    assert_eq!(dev.executions.load(Ordering::SeqCst), 3);

    dev.fail_next.lock().unwrap().extend([ErrorKind::Busy; 3]);
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Error);
    // A program the device refuses fails at once.
    dev.fail_next.lock().unwrap().push(ErrorKind::InvalidProgram);
    let id = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &id).await, JobStatus::Error);
    let st = k.get_job_status(&acme, &id).await.unwrap();
    assert!(st.message.contains("InvalidProgram"), "{}", st.message);
    k.shutdown().await;
}
