//! Client deadlines (`grpc-timeout`) over a real server: a call whose
//! deadline passes while the server works ends with DEADLINE_EXCEEDED (not
//! CANCELLED), for a unary call and for an update stream.

mod contract_support;

use contract_support::*;
use eigen_proto::api::v1 as pb;
use pb::device_service_client::DeviceServiceClient;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_types::StatusExt;

fn assert_deadline_details(err: &tonic::Status) {
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let d = err.get_error_details();
    let info = d.error_info().expect("ErrorInfo");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), ("DEADLINE_EXCEEDED", "eigen.dev"));
}

fn rpc_count(server: &TestServer, method: &str, code: &str) -> u64 {
    let text = server.metrics.encode();
    let key = format!("eigen_rpc_requests_total{{method=\"{method}\",code=\"{code}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_call_past_its_deadline_is_deadline_exceeded() {
    let server = start().await;
    // The device takes 5 s to say whether it is online (a slow instrument);
    // ReserveDevice asks it, with a 300 ms deadline.
    server.slow.status_ms.store(5_000, Ordering::SeqCst);
    let origin: http::Uri = server.url().parse().expect("uri");
    let mut devices = DeviceServiceClient::with_origin(bare_http2(server.addr).await, origin);
    let mut req = tonic::Request::new(pb::ReserveDeviceRequest {
        device_id: SWITCHABLE.into(),
        ttl_seconds: 30,
        purpose: String::new(),
    });
    req.set_timeout(Duration::from_millis(300));
    let asked = Instant::now();
    let err = devices.reserve_device(req).await.expect_err("deadline");
    // Answered when the deadline passed, not when the device did.
    assert!(asked.elapsed() < Duration::from_secs(5), "waited for the device");
    assert_deadline_details(&err);
    let method = "/eigen.api.v1.DeviceService/ReserveDevice";
    assert_eq!(rpc_count(&server, method, "DEADLINE_EXCEEDED"), 1);
    assert_eq!(rpc_count(&server, method, "CANCELLED"), 0);

    // The same call with time to spare answers normally.
    server.slow.status_ms.store(0, Ordering::SeqCst);
    let mut req = tonic::Request::new(pb::ReserveDeviceRequest {
        device_id: SWITCHABLE.into(),
        ttl_seconds: 30,
        purpose: String::new(),
    });
    req.set_timeout(Duration::from_secs(60));
    devices.reserve_device(req).await.expect("reserved in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_stream_past_its_deadline_ends_with_deadline_exceeded() {
    let server = start().await;
    server.slow.execute_ms.store(120_000, Ordering::SeqCst);
    let mut jobs = server.jobs().await;
    let req = pb::SubmitJobRequest { target: SWITCHABLE.into(), ..submit(&ghz(2), 10) };
    let job_id = jobs.submit_job(req).await.expect("submit").into_inner().job_id;

    // A real tonic Channel: it times only the response headers, so the
    // stream's end is the server's.
    let mut req =
        tonic::Request::new(pb::JobUpdatesRequest { job_id: job_id.clone(), last_event_seq: 0 });
    req.set_timeout(Duration::from_millis(1500));
    let stream = jobs.stream_job_updates(req).await.expect("stream").into_inner();
    let (updates, err) = collect(stream).await;
    let err = err.expect("the stream ends with an error");
    assert_deadline_details(&err);
    // It followed the job until then: in order from 1, RUNNING reached.
    let real: Vec<u64> = updates.iter().filter(|u| !u.heartbeat).map(|u| u.event_seq).collect();
    assert_eq!(real, (1..=real.len() as u64).collect::<Vec<_>>(), "{updates:#?}");
    assert!(updates.iter().any(|u| u.state == pb::JobStatus::Running as i32), "{updates:#?}");
    let method = "/eigen.api.v1.JobService/StreamJobUpdates";
    assert_eq!(rpc_count(&server, method, "DEADLINE_EXCEEDED"), 1);
    // The stream's producer is gone; the job itself runs on.
    assert_eq!(server.metrics.open_streams(), 0);
    let status = jobs
        .get_job_status(pb::JobStatusRequest { job_id: job_id.clone() })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.status, pb::JobStatus::Running as i32);
    jobs.cancel_job(pb::CancelJobRequest { job_id }).await.expect("cancel");
}
