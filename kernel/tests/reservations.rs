//! ReserveDevice semantics through the kernel (expiry timing itself is
//! tested with paused time beside `reservations.rs`).

mod common;

use common::*;
use eigen_hal::DeviceStatus;
use eigen_kernel::gateway::{KernelError, KernelGateway, SubmitJob};
use eigen_kernel::job::JobStatus;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn a_reservation_holds_a_slot_for_its_jobs_only() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let r = k.reserve_device(&acme, "dev", Duration::from_secs(60), "calibration").await.unwrap();
    assert!(r.reservation_id.starts_with("res-"));
    assert!(r.expires_at > SystemTime::now() + Duration::from_secs(55));
    // The only slot is held: an ordinary job waits.
    let plain = k.enqueue_job(&acme, job(1)).await.unwrap().job_id;
    // A job carrying the reservation runs in it.
    let mine = SubmitJob { reservation_id: Some(r.reservation_id.clone()), ..job(2) };
    let mine = k.enqueue_job(&acme, mine).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &mine).await, JobStatus::Done);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(k.get_job_status(&acme, &plain).await.unwrap().status, JobStatus::Queued);
    assert_eq!(*dev.started.lock().unwrap(), [2]);
    // Another tenant cannot use it.
    let theirs = SubmitJob { reservation_id: Some(r.reservation_id.clone()), ..job(3) };
    assert!(matches!(
        k.enqueue_job(&ctx("other"), theirs).await,
        Err(KernelError::NotFound { resource_type: "reservation", .. })
    ));
    k.shutdown().await;
}

#[tokio::test]
async fn reserve_errors_follow_the_rfc() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev");
    let mut c = config(dir.path());
    c.slots.insert("dev".into(), 2);
    c.reservations_per_tenant = 1;
    let k = start_with(c, std::slice::from_ref(&dev)).await;
    let (acme, other, third) = (ctx("acme"), ctx("other"), ctx("third"));
    let ttl = Duration::from_secs(60);
    assert!(matches!(
        k.reserve_device(&acme, "nope", ttl, "").await,
        Err(KernelError::NotFound { resource_type: "device", .. })
    ));
    dev.set_status(DeviceStatus::Offline);
    assert!(matches!(
        k.reserve_device(&acme, "dev", ttl, "").await,
        Err(KernelError::FailedPrecondition { .. })
    ));
    dev.set_status(DeviceStatus::Online);
    k.reserve_device(&acme, "dev", ttl, "").await.unwrap();
    assert!(matches!(
        k.reserve_device(&acme, "dev", ttl, "").await,
        Err(KernelError::ResourceExhausted { subject, .. }) if subject == "tenant:acme"
    ));
    k.reserve_device(&other, "dev", ttl, "").await.unwrap();
    assert!(matches!(
        k.reserve_device(&third, "dev", ttl, "").await,
        Err(KernelError::ResourceExhausted { subject, .. }) if subject == "device:dev"
    ));
    assert!(matches!(
        k.reserve_device(&third, "dev", Duration::ZERO, "").await,
        Err(KernelError::InvalidArgument { .. })
    ));
    k.shutdown().await;
}

#[tokio::test]
async fn expiry_frees_the_slot_and_fails_jobs_left_waiting_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let dev = TestDevice::new("dev").with_run_time(Duration::from_millis(400));
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let acme = ctx("acme");
    let r = k.reserve_device(&acme, "dev", Duration::from_millis(200), "").await.unwrap();
    let rid = Some(r.reservation_id.clone());
    let running = k
        .enqueue_job(&acme, SubmitJob { reservation_id: rid.clone(), ..job(1) })
        .await
        .unwrap()
        .job_id;
    let waiting =
        k.enqueue_job(&acme, SubmitJob { reservation_id: rid, ..job(2) }).await.unwrap().job_id;
    let plain = k.enqueue_job(&acme, job(3)).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &waiting).await, JobStatus::Error);
    assert!(k.get_job_status(&acme, &waiting).await.unwrap().message.contains("lapsed"));
    // The job running in the lapsed slot finishes; then the slot is shared.
    assert_eq!(wait_terminal(&k, &acme, &running).await, JobStatus::Done);
    assert_eq!(wait_terminal(&k, &acme, &plain).await, JobStatus::Done);
    assert_eq!(dev.max_running.load(Ordering::SeqCst), 1, "never two jobs in one slot");
    // Reservations survive a restart of the kernel.
    let r = k.reserve_device(&acme, "dev", Duration::from_secs(600), "").await.unwrap();
    k.shutdown().await;
    drop(k);
    let k = start(dir.path(), std::slice::from_ref(&dev)).await;
    let mine = SubmitJob { reservation_id: Some(r.reservation_id), ..job(4) };
    let mine = k.enqueue_job(&acme, mine).await.unwrap().job_id;
    assert_eq!(wait_terminal(&k, &acme, &mine).await, JobStatus::Done);
    k.shutdown().await;
}
