//! The split deployment: client -> public API server -> RemoteKernel ->
//! kernel gateway server (eigen.kernel.v0) -> Kernel, all over real gRPC on
//! loopback. The same call pattern and error details as in process.

mod contract_support;

use contract_support::*;
use eigen_api::auth::{ApiKey, hash_key};
use eigen_api::config::ServerConfig;
use eigen_api::kernel_grpc::RemoteKernel;
use eigen_api::server::{serve, serve_kernel};
use eigen_kernel::KernelConfig;
use eigen_kernel::gateway::KernelGateway;
use eigen_proto::api::v1 as pb;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_types::StatusExt;

struct Split {
    url: String,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Split {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn split(config: ServerConfig) -> Split {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kconfig = KernelConfig::new(dir.path());
    kconfig.heartbeat_interval = None;
    let (kernel, _, _) = start_kernel(kconfig).await;
    let stop = CancellationToken::new();

    let kernel_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let kernel_url = format!("http://{}", kernel_listener.local_addr().expect("addr"));
    let kernel_gateway: Arc<dyn KernelGateway> = Arc::new(kernel);
    tokio::spawn(serve_kernel(
        ServerConfig::default(),
        kernel_gateway,
        kernel_listener,
        stop.clone().cancelled_owned(),
    ));

    let remote: Arc<dyn KernelGateway> =
        Arc::new(RemoteKernel::connect(&kernel_url).await.expect("kernel reachable"));
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", api_listener.local_addr().expect("addr"));
    tokio::spawn(serve(config, remote, api_listener, stop.clone().cancelled_owned()));
    Split { url, stop, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_pattern_through_the_kernel_gateway() {
    let s = split(ServerConfig::default()).await;
    let mut jobs = pb::job_service_client::JobServiceClient::new(channel(&s.url).await);
    let job = jobs.submit_job(submit(&ghz(5), 1000)).await.expect("submit").into_inner();
    let req = |seq| pb::JobUpdatesRequest { job_id: job.job_id.clone(), last_event_seq: seq };
    let (updates, err) =
        collect(jobs.stream_job_updates(req(0)).await.expect("stream").into_inner()).await;
    assert!(err.is_none(), "{err:?}");
    assert_stream_contract(&updates, 1);
    assert_eq!(updates.last().map(|u| u.state), Some(pb::JobStatus::Done as i32));
    // Resume through the gateway too.
    let (rest, _) =
        collect(jobs.stream_job_updates(req(2)).await.expect("resume").into_inner()).await;
    assert_stream_contract(&rest, 3);

    let status = jobs
        .get_job_status(pb::JobStatusRequest { job_id: job.job_id.clone() })
        .await
        .expect("status");
    assert_eq!(status.get_ref().status, pb::JobStatus::Done as i32);
    assert_eq!(status.get_ref().stages.len(), 4);
    let results = jobs
        .get_job_results(pb::JobResultsRequest { job_id: job.job_id })
        .await
        .expect("results")
        .into_inner();
    assert_eq!(results.counts.values().sum::<u64>(), 1000);
    assert!(results.counts.keys().all(|k| k == "00000" || k == "11111"), "{:?}", results.counts);

    let devices = pb::device_service_client::DeviceServiceClient::new(channel(&s.url).await)
        .get_device_details(pb::DeviceDetailsRequest { device_id: "sim".into() })
        .await
        .expect("details through the gateway")
        .into_inner();
    assert_eq!(devices.device.expect("device").id, "sim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_their_details_through_the_gateway() {
    let s = split(ServerConfig::default()).await;
    let ch = channel(&s.url).await;
    let mut jobs = pb::job_service_client::JobServiceClient::new(ch.clone());

    let err = jobs
        .submit_job(submit("OPENQASM 3.0;\nqubit[1] q;\nbogus q[0];\n", 10))
        .await
        .expect_err("bad program");
    assert_eq!(err.code(), Code::InvalidArgument);
    let diags = eigen_api::error::program_diagnostics(&err).expect("diagnostics survive the hop");
    assert_eq!(diags[0].line, 3);

    let err = jobs
        .get_job_status(pb::JobStatusRequest {
            job_id: "01890000-0000-7000-8000-000000000000".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.get_error_details().resource_info().expect("ResourceInfo").resource_type, "job");

    let job = jobs.submit_job(submit(&slow_program(400), 1)).await.expect("submit").into_inner();
    let err = jobs
        .get_job_results(pb::JobResultsRequest { job_id: job.job_id.clone() })
        .await
        .expect_err("not done");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.get_error_details().error_info().expect("ErrorInfo").reason, "JOB_NOT_DONE");
    jobs.cancel_job(pb::CancelJobRequest { job_id: job.job_id }).await.expect("cancel");

    let mut devices = pb::device_service_client::DeviceServiceClient::new(ch);
    let reserve = |d: &str| pb::ReserveDeviceRequest {
        device_id: d.into(),
        ttl_seconds: 30,
        purpose: String::new(),
    };
    let err = devices.reserve_device(reserve("nope")).await.expect_err("unknown device");
    assert_eq!(err.code(), Code::NotFound);
    // The switchable device has one slot here: the second reservation finds
    // none free.
    devices.reserve_device(reserve(SWITCHABLE)).await.expect("first");
    let err = devices.reserve_device(reserve(SWITCHABLE)).await.expect_err("no free slot");
    assert_eq!(err.code(), Code::ResourceExhausted);
    let d = err.get_error_details();
    assert_eq!(
        d.quota_failure().expect("QuotaFailure").violations[0].subject,
        format!("device:{SWITCHABLE}")
    );
    assert!(d.retry_info().and_then(|r| r.retry_delay).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_stay_apart_through_the_gateway() {
    let config = ServerConfig {
        api_keys: vec![
            ApiKey { tenant: "acme".into(), sha256: hash_key("a-key") },
            ApiKey { tenant: "lab".into(), sha256: hash_key("b-key") },
        ],
        ..ServerConfig::default()
    };
    let s = split(config).await;
    let mut jobs = pb::job_service_client::JobServiceClient::new(channel(&s.url).await);
    let job =
        jobs.submit_job(with_key(submit(&ghz(2), 10), "a-key")).await.expect("acme").into_inner();
    let err = jobs
        .get_job_status(with_key(pb::JobStatusRequest { job_id: job.job_id.clone() }, "b-key"))
        .await
        .expect_err("lab cannot see acme's job");
    assert_eq!(err.code(), Code::NotFound);
    jobs.get_job_status(with_key(pb::JobStatusRequest { job_id: job.job_id }, "a-key"))
        .await
        .expect("acme sees it");
}
