//! Authentication and tenant isolation: API keys map to tenants; a tenant
//! never sees, streams, cancels, fetches or reserves against another's
//! jobs or reservations (NOT_FOUND, so existence does not leak).

mod contract_support;

use contract_support::*;
use eigen_api::auth::{ApiKey, hash_key};
use eigen_api::config::ServerConfig;
use eigen_proto::api::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

const ACME: &str = "key-acme-0123456789";
const LAB: &str = "key-lab-9876543210";

async fn server_with_keys() -> TestServer {
    let config = ServerConfig {
        api_keys: vec![
            ApiKey { tenant: "acme".into(), sha256: hash_key(ACME) },
            ApiKey { tenant: "lab".into(), sha256: hash_key(LAB) },
        ],
        ..ServerConfig::default()
    };
    start_with(config, |_| {}).await
}

fn assert_unauthenticated(s: &tonic::Status) {
    assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
    let d = s.get_error_details();
    let info = d.error_info().expect("ErrorInfo");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), ("UNAUTHENTICATED", "eigen.dev"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_keys_are_unauthenticated() {
    let server = server_with_keys().await;
    let mut jobs = server.jobs().await;
    let err = jobs.submit_job(submit(&ghz(2), 10)).await.expect_err("no key");
    assert_unauthenticated(&err);
    let err = jobs.submit_job(with_key(submit(&ghz(2), 10), "wrong")).await.expect_err("bad key");
    assert_unauthenticated(&err);
    let mut req = tonic::Request::new(pb::ListDevicesRequest {});
    req.metadata_mut().insert("authorization", ACME.parse().expect("ascii"));
    let err = server.devices().await.list_devices(req).await.expect_err("not a bearer token");
    assert_unauthenticated(&err);
    let err = server
        .compiler()
        .await
        .validate_circuit(pb::ValidateCircuitRequest { program: ghz(2), ..Default::default() })
        .await
        .expect_err("compilation needs a key too");
    assert_unauthenticated(&err);
    // Health stays open for probes.
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .expect("health");
    assert_eq!(
        r.get_ref().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_touch_each_others_jobs() {
    let server = server_with_keys().await;
    let mut jobs = server.jobs().await;
    let job = jobs
        .submit_job(with_key(submit(&ghz(3), 50), ACME))
        .await
        .expect("acme submits")
        .into_inner();
    let id = job.job_id.clone();

    let not_found = |s: tonic::Status| {
        assert_eq!(s.code(), Code::NotFound, "{s:?}");
        assert_eq!(s.get_error_details().resource_info().expect("ResourceInfo").resource_name, id);
    };
    not_found(
        jobs.get_job_status(with_key(pb::JobStatusRequest { job_id: id.clone() }, LAB))
            .await
            .expect_err("status"),
    );
    not_found(
        jobs.stream_job_updates(with_key(
            pb::JobUpdatesRequest { job_id: id.clone(), last_event_seq: 0 },
            LAB,
        ))
        .await
        .expect_err("stream"),
    );
    not_found(
        jobs.cancel_job(with_key(pb::CancelJobRequest { job_id: id.clone() }, LAB))
            .await
            .expect_err("cancel"),
    );
    not_found(
        jobs.get_job_results(with_key(pb::JobResultsRequest { job_id: id.clone() }, LAB))
            .await
            .expect_err("results"),
    );

    // The owner still sees it through to DONE: lab's cancel did nothing.
    let stream = jobs
        .stream_job_updates(with_key(
            pb::JobUpdatesRequest { job_id: id.clone(), last_event_seq: 0 },
            ACME,
        ))
        .await
        .expect("owner streams")
        .into_inner();
    let (updates, err) = collect(stream).await;
    assert!(err.is_none());
    assert_stream_contract(&updates, 1);
    assert_eq!(updates.last().map(|u| u.state), Some(pb::JobStatus::Done as i32));
    jobs.get_job_results(with_key(pb::JobResultsRequest { job_id: id }, ACME))
        .await
        .expect("owner's results");

    // Idempotency keys are per tenant: the same key from lab is a new job.
    let req = |key| {
        with_key(
            pb::SubmitJobRequest { idempotency_key: "same".into(), ..submit(&ghz(2), 10) },
            key,
        )
    };
    let a = jobs.submit_job(req(ACME)).await.expect("acme").into_inner();
    let b = jobs.submit_job(req(LAB)).await.expect("lab").into_inner();
    assert_ne!(a.job_id, b.job_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_use_each_others_reservations() {
    let server = server_with_keys().await;
    let mut devices = server.devices().await;
    let res = devices
        .reserve_device(with_key(
            pb::ReserveDeviceRequest {
                device_id: "sim".into(),
                ttl_seconds: 60,
                purpose: "calibration".into(),
            },
            ACME,
        ))
        .await
        .expect("acme reserves")
        .into_inner();
    let mut jobs = server.jobs().await;
    let with_res = |key| {
        with_key(
            pb::SubmitJobRequest {
                reservation_id: Some(res.reservation_id.clone()),
                ..submit(&ghz(2), 10)
            },
            key,
        )
    };
    let err = jobs.submit_job(with_res(LAB)).await.expect_err("lab cannot use acme's reservation");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.get_error_details().resource_info().expect("ResourceInfo").resource_type,
        "reservation"
    );
    // Acme's job runs in its slot.
    let job = jobs.submit_job(with_res(ACME)).await.expect("acme uses it").into_inner();
    let stream = jobs
        .stream_job_updates(with_key(
            pb::JobUpdatesRequest { job_id: job.job_id, last_event_seq: 0 },
            ACME,
        ))
        .await
        .expect("stream")
        .into_inner();
    let (updates, _) = collect(stream).await;
    assert_eq!(updates.last().map(|u| u.state), Some(pb::JobStatus::Done as i32));
}
