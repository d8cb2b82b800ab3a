//! Server operations: health, reflection (v1 and v1alpha), /metrics, load
//! shedding, 1,000 concurrent update streams, graceful shutdown.

mod contract_support;

use contract_support::*;
use eigen_api::config::ServerConfig;
use eigen_proto::api::v1 as pb;
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_types::StatusExt;

/// A job that waits on the (switched-off) switchable device until cancelled.
async fn parked_job(server: &TestServer) -> String {
    server.offline_switch.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(120)).await; // two device polls
    let req = pb::SubmitJobRequest { target: SWITCHABLE.into(), ..submit(&ghz(2), 10) };
    server.jobs().await.submit_job(req).await.expect("submit").into_inner().job_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_v1_and_v1alpha() {
    let server = start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "eigen.api.v1.JobService",
        "eigen.api.v1.DeviceService",
        "eigen.api.v1.CompilationService",
    ] {
        let r = health.check(HealthCheckRequest { service: service.into() }).await.expect("check");
        assert_eq!(r.get_ref().status, ServingStatus::Serving as i32, "{service}");
    }

    use tonic_reflection::pb::v1 as r1;
    let mut c1 = r1::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let req = |m| r1::ServerReflectionRequest { host: String::new(), message_request: Some(m) };
    let reqs = vec![
        req(r1::server_reflection_request::MessageRequest::ListServices(String::new())),
        req(r1::server_reflection_request::MessageRequest::FileContainingSymbol(
            "google.rpc.BadRequest".into(),
        )),
        req(r1::server_reflection_request::MessageRequest::FileContainingSymbol(
            "eigen.api.v1.ProgramDiagnostics".into(),
        )),
    ];
    let mut answers =
        c1.server_reflection_info(tokio_stream::iter(reqs)).await.expect("v1").into_inner();
    let first = answers.message().await.expect("answer").expect("some");
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        first.message_response
    else {
        panic!("expected a service list: {first:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in [
        "eigen.api.v1.JobService",
        "eigen.api.v1.DeviceService",
        "eigen.api.v1.CompilationService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} in {names:?}");
    }
    for _ in 0..2 {
        let a = answers.message().await.expect("answer").expect("some");
        assert!(
            matches!(
                a.message_response,
                Some(r1::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
            ),
            "{a:?}"
        );
    }

    use tonic_reflection::pb::v1alpha as ra;
    let mut ca = ra::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let reqs = vec![ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(ra::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    }];
    let mut answers =
        ca.server_reflection_info(tokio_stream::iter(reqs)).await.expect("v1alpha").into_inner();
    let a = answers.message().await.expect("answer").expect("some");
    assert!(matches!(
        a.message_response,
        Some(ra::server_reflection_response::MessageResponse::ListServicesResponse(_))
    ));
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect metrics");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_reports_jobs_stages_rpcs_devices_streams() {
    let server = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gateway: std::sync::Arc<dyn eigen_kernel::gateway::KernelGateway> =
        std::sync::Arc::new(server.kernel.clone());
    tokio::spawn(eigen_api::metrics::serve_metrics(
        server.metrics.clone(),
        Some(gateway),
        listener,
        server.stop.clone().cancelled_owned(),
    ));
    let mut jobs = server.jobs().await;
    let job = jobs.submit_job(submit(&ghz(3), 100)).await.expect("submit").into_inner();
    let stream = jobs
        .stream_job_updates(pb::JobUpdatesRequest { job_id: job.job_id.clone(), last_event_seq: 0 })
        .await
        .expect("stream")
        .into_inner();
    collect(stream).await;
    let _ = jobs.get_job_status(pb::JobStatusRequest { job_id: "missing".into() }).await;
    let text = scrape(addr).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for needle in [
        "eigen_jobs{status=\"DONE\"} 1",
        "eigen_stage_seconds_count{stage=\"validate\"}",
        "eigen_stage_seconds_count{stage=\"compile\"}",
        "eigen_stage_seconds_count{stage=\"queue\"}",
        "eigen_stage_seconds_count{stage=\"execute\"}",
        "eigen_rpc_requests_total{method=\"/eigen.api.v1.JobService/SubmitJob\",code=\"OK\"} 1",
        "eigen_rpc_requests_total{method=\"/eigen.api.v1.JobService/GetJobStatus\",code=\"NOT_FOUND\"} 1",
        "eigen_rpc_duration_seconds_bucket{",
        "eigen_device_queue_depth{device=\"sim\"} 0",
        "eigen_device_status{device=\"sim\",status=\"online\"} 1",
        "eigen_open_streams 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_with_resource_exhausted() {
    let mut config = ServerConfig::default();
    config.limits.max_open_streams = 2;
    config.limits.max_concurrent_requests = 1;
    let server = start_with(config, |_| {}).await;
    let id = parked_job(&server).await;
    let mut jobs = server.jobs().await;
    let req = || pb::JobUpdatesRequest { job_id: id.clone(), last_event_seq: 0 };
    let _a = jobs.stream_job_updates(req()).await.expect("first stream");
    let _b = jobs.stream_job_updates(req()).await.expect("second stream");
    while server.metrics.open_streams() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = jobs.stream_job_updates(req()).await.expect_err("third stream is over the limit");
    assert_eq!(err.code(), Code::ResourceExhausted);
    let d = err.get_error_details();
    assert!(d.quota_failure().is_some() && d.retry_info().is_some(), "{d:?}");

    // One call in flight at most: a burst of compilations is partly shed at
    // once (never queued), the rest succeed.
    let compiler = server.compiler().await;
    let calls = (0..64).map(|_| {
        let mut c = compiler.clone();
        async move {
            c.compile_circuit(pb::CompileCircuitRequest {
                program: slow_program(20),
                target: "sim".into(),
                ..Default::default()
            })
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let shed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!shed.is_empty(), "some calls are shed");
    assert!(results.iter().any(Result::is_ok), "some calls succeed");
    for s in shed {
        assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
        assert!(s.get_error_details().retry_info().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_a_thousand_concurrent_update_streams() {
    let server = start().await;
    let id = parked_job(&server).await;
    let channels: Vec<_> = futures::future::join_all((0..4).map(|_| server.channel())).await;
    let streams = futures::stream::iter(0..1000)
        .map(|i| {
            let mut jobs = pb::job_service_client::JobServiceClient::new(channels[i % 4].clone());
            let id = id.clone();
            async move {
                jobs.stream_job_updates(pb::JobUpdatesRequest { job_id: id, last_event_seq: 0 })
                    .await
                    .expect("stream opens")
                    .into_inner()
            }
        })
        .buffer_unordered(100)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(streams.len(), 1000);
    while server.metrics.open_streams() < 1000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.metrics.open_streams(), 1000);
    server.jobs().await.cancel_job(pb::CancelJobRequest { job_id: id }).await.expect("cancel");
    let all = futures::future::join_all(streams.into_iter().map(collect)).await;
    for (updates, err) in all {
        assert!(err.is_none(), "{err:?}");
        assert_stream_contract(&updates, 1);
        assert_eq!(updates.last().map(|u| u.state), Some(pb::JobStatus::Cancelled as i32));
    }
    while server.metrics.open_streams() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_streams_and_returns_within_grace() {
    let config =
        ServerConfig { grace_period: Duration::from_millis(1500), ..ServerConfig::default() };
    let mut server = start_with(config, |_| {}).await;
    let id = parked_job(&server).await;
    let mut jobs = server.jobs().await;
    let mut stream = jobs
        .stream_job_updates(pb::JobUpdatesRequest { job_id: id, last_event_seq: 0 })
        .await
        .expect("stream")
        .into_inner();
    let first = stream.message().await.expect("update").expect("some");
    assert_eq!(first.event_seq, 1);
    // A health watch holds its connection open: shutdown must not wait on it
    // past the grace period.
    let mut health = HealthClient::new(server.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        watch.message().await.expect("watch").expect("some").status,
        ServingStatus::Serving as i32
    );

    let done = tokio::spawn(async move { server.shutdown().await });
    // The job stream is told to end, with where to resume.
    let err = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream must end with UNAVAILABLE, not OK"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("last_event_seq"), "{}", err.message());
    // Health reports NOT_SERVING to its watchers.
    assert_eq!(
        watch.message().await.expect("watch").expect("some").status,
        ServingStatus::NotServing as i32
    );
    // serve returns, bounded by the grace period (the guard is only against a hang).
    let result = tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("serve returned")
        .expect("task");
    result.expect("clean shutdown");
}

/// The HTTP/2 "rapid reset" abuse: a client that opens streams and resets
/// them at once, over and over, gets its connection closed with GOAWAY
/// (ENHANCE_YOUR_CALM) after the configured number of such resets; other
/// clients are served as before.
///
/// The server counts resets of streams it has not accepted yet, so the
/// abuse must arrive faster than the server accepts. The test runs on one
/// thread and queues each burst without yielding: the client's connection
/// task then writes the whole burst at once, and the server reads it before
/// it accepts any of its streams, however fast or loaded the machine is.
#[tokio::test(flavor = "current_thread")]
async fn rapid_reset_abuse_closes_the_connection() {
    let server = start().await;
    let limit = ServerConfig::default().limits.max_pending_reset_streams;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let (mut client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    let mut connection = tokio::spawn(connection);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut refused = None;
    let ended = 'abuse: loop {
        for i in 0..(limit * 4) {
            let request = http::Request::builder()
                .method("POST")
                .uri(format!("http://{}/eigen.api.v1.JobService/GetJobStatus", server.addr))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(())
                .expect("request");
            let sent = match client.clone().ready().await {
                Ok(ready) => {
                    client = ready;
                    client.send_request(request, false)
                }
                Err(e) => Err(e),
            };
            match sent {
                Ok((_response, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
                Err(e) => {
                    refused = Some((i, e));
                    break 'abuse connection.await;
                }
            }
        }
        // Let the burst go out; stop as soon as the server ends the connection.
        tokio::select! {
            ended = &mut connection => break ended,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        // (The client never closes it: without the server's limit the
        // connection would stay open and this fails.)
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not close the connection within 30 s"
        );
    };
    let err = ended.expect("connection task").expect_err("closed with an error");
    // The server sends GOAWAY(ENHANCE_YOUR_CALM) and closes; a client still
    // writing resets may hit the closed socket (broken pipe) before it reads
    // the GOAWAY. Either way the server ended the connection.
    let goaway = err.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM);
    let closed_by_server = err.is_io();
    assert!(goaway || closed_by_server, "{err:?} (refused: {refused:?})");

    // Everyone else is still served.
    let mut jobs = server.jobs().await;
    let job = jobs.submit_job(submit(&ghz(2), 10)).await.expect("submit").into_inner();
    assert!(!job.job_id.is_empty());
}
