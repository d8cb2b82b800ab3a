//! JobService contract (RFC 0004): the call pattern, stream rules, resume,
//! heartbeats, status mapping and every error's details, over a real server.

mod contract_support;

use contract_support::*;
use eigen_proto::api::v1 as pb;
use pb::job_service_client::JobServiceClient;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

fn assert_ghz_counts(r: &pb::JobResultsResponse, n: usize, shots: u64) {
    let zeros = "0".repeat(n);
    let ones = "1".repeat(n);
    assert!(
        r.counts.keys().all(|k| *k == zeros || *k == ones),
        "only all-0 and all-1: {:?}",
        r.counts
    );
    assert_eq!(r.counts.values().sum::<u64>(), shots);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc_call_pattern_submit_stream_results() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let job = jobs.submit_job(submit(&ghz(5), 1000)).await.expect("submit").into_inner();
    assert!(!job.job_id.is_empty());
    // The kernel may already have compiled it by the time SubmitJob answers.
    assert!(
        [
            pb::JobStatus::Compiling,
            pb::JobStatus::Queued,
            pb::JobStatus::Running,
            pb::JobStatus::Done
        ]
        .map(|s| s as i32)
        .contains(&job.status),
        "{job:?}"
    );

    let stream = jobs
        .stream_job_updates(pb::JobUpdatesRequest { job_id: job.job_id.clone(), last_event_seq: 0 })
        .await
        .expect("stream")
        .into_inner();
    let (updates, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    assert_stream_contract(&updates, 1);
    assert!(updates.iter().all(|u| u.job_id == job.job_id && u.timestamp.is_some()));
    // Golden order of public states: never backwards.
    let states: Vec<i32> = updates.iter().map(|u| u.state).collect();
    assert!(states.windows(2).all(|w| w[0] <= w[1]), "states go forward: {states:?}");
    assert_eq!(states.first(), Some(&(pb::JobStatus::Compiling as i32)));
    assert!(states.contains(&(pb::JobStatus::Queued as i32)));
    assert!(states.contains(&(pb::JobStatus::Running as i32)));
    assert_eq!(states.last(), Some(&(pb::JobStatus::Done as i32)));

    let results = jobs
        .get_job_results(pb::JobResultsRequest { job_id: job.job_id.clone() })
        .await
        .expect("results")
        .into_inner();
    assert_eq!(results.job_id, job.job_id);
    assert_ghz_counts(&results, 5, 1000);
    let meta = results.metadata.expect("metadata");
    assert_eq!((meta.device_id.as_str(), meta.shots, meta.seed), ("sim", 1000, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc_call_pattern_poll_status() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let job = jobs.submit_job(submit(&ghz(3), 100)).await.expect("submit").into_inner();
    let status = loop {
        let s = jobs
            .get_job_status(pb::JobStatusRequest { job_id: job.job_id.clone() })
            .await
            .expect("status")
            .into_inner();
        if s.status == pb::JobStatus::Done as i32 {
            break s;
        }
        assert!(
            [pb::JobStatus::Compiling, pb::JobStatus::Queued, pb::JobStatus::Running]
                .map(|s| s as i32)
                .contains(&s.status),
            "unexpected {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        status.created_at.is_some() && status.started_at.is_some() && status.finished_at.is_some()
    );
    assert!(status.last_event_seq >= 4);
    let seen: Vec<i32> = status.stages.iter().map(|s| s.status).collect();
    assert_eq!(
        seen,
        [
            pb::JobStatus::Compiling,
            pb::JobStatus::Queued,
            pb::JobStatus::Running,
            pb::JobStatus::Done
        ]
        .map(|s| s as i32)
    );
    let results =
        jobs.get_job_results(pb::JobResultsRequest { job_id: job.job_id }).await.expect("results");
    assert_ghz_counts(results.get_ref(), 3, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_last_event_seq_continues_without_gaps() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let job = jobs.submit_job(submit(&ghz(4), 200)).await.expect("submit").into_inner();
    let req = |seq| pb::JobUpdatesRequest { job_id: job.job_id.clone(), last_event_seq: seq };
    let (all, err) =
        collect(jobs.stream_job_updates(req(0)).await.expect("stream").into_inner()).await;
    assert!(err.is_none());
    assert_stream_contract(&all, 1);
    // Resume after each point: exactly the rest, in order.
    for cut in 1..all.len() as u64 {
        let (rest, err) =
            collect(jobs.stream_job_updates(req(cut)).await.expect("resume").into_inner()).await;
        assert!(err.is_none());
        assert_stream_contract(&rest, cut + 1);
        let expect: Vec<u64> =
            all.iter().filter(|u| u.event_seq > cut).map(|u| u.event_seq).collect();
        assert_eq!(rest.iter().map(|u| u.event_seq).collect::<Vec<_>>(), expect);
    }
    // After the terminal event there is nothing more, and the stream ends.
    let last = all.last().expect("terminal").event_seq;
    let (none, err) =
        collect(jobs.stream_job_updates(req(last)).await.expect("resume").into_inner()).await;
    assert!(none.is_empty() && err.is_none(), "{none:?} {err:?}");
}

/// A job on the switchable device made slow: RUNNING until cancelled.
async fn running_job(server: &TestServer, jobs: &mut JobServiceClient<Channel>) -> String {
    server.slow.execute_ms.store(120_000, Ordering::SeqCst);
    let req = pb::SubmitJobRequest { target: SWITCHABLE.into(), ..submit(&ghz(2), 10) };
    jobs.submit_job(req).await.expect("submit").into_inner().job_id
}

fn ts(u: &pb::JobUpdate) -> SystemTime {
    eigen_api::convert::system_time(u.timestamp.as_ref().expect("timestamp"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_while_running_repeat_the_latest_seq_then_cancel_ends_once() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let job_id = running_job(&server, &mut jobs).await;
    let req = |seq| pb::JobUpdatesRequest { job_id: job_id.clone(), last_event_seq: seq };
    let mut stream = jobs.stream_job_updates(req(0)).await.expect("stream").into_inner();
    let mut updates = Vec::new();
    // Up to RUNNING, then three heartbeats (every HEARTBEAT = 100 ms here).
    while updates.iter().filter(|u: &&pb::JobUpdate| u.heartbeat).count() < 3 {
        let u = stream.message().await.expect("update").expect("not ended");
        updates.push(u);
        assert!(updates.len() < 100, "runaway stream: {updates:#?}");
    }
    let first_beat = updates.iter().position(|u| u.heartbeat).expect("a heartbeat");
    let before = updates[first_beat - 1].clone();
    assert_eq!(before.state, pb::JobStatus::Running as i32, "heartbeats only while RUNNING");
    let beats = &updates[first_beat..];
    for b in beats {
        // The latest update again: same seq (none consumed), state, stage.
        assert!(b.heartbeat, "nothing happens while the device runs: {updates:#?}");
        assert_eq!(
            (b.event_seq, b.state, &b.stage),
            (before.event_seq, before.state, &before.stage)
        );
        assert_eq!(b.job_id, job_id);
    }
    // At the configured period, not faster (tokio timers never fire early;
    // the bound is loose for clocks and scheduling).
    let mut at = ts(&before);
    for b in beats {
        let gap = ts(b).duration_since(at).unwrap_or_default();
        assert!(gap >= HEARTBEAT / 2, "heartbeat {gap:?} after the previous update");
        at = ts(b);
    }
    // No kernel "heartbeat" events with seqs of their own.
    assert!(updates.iter().all(|u| u.heartbeat || u.message.as_deref() != Some("heartbeat")));

    // Resuming at the latest seq while RUNNING: heartbeats carry that seq.
    let mut resumed =
        jobs.stream_job_updates(req(before.event_seq)).await.expect("resume").into_inner();
    let beat = resumed.message().await.expect("update").expect("a heartbeat");
    assert!(beat.heartbeat, "{beat:?}");
    assert_eq!((beat.event_seq, beat.state), (before.event_seq, pb::JobStatus::Running as i32));
    drop(resumed);

    let cancel = jobs.cancel_job(pb::CancelJobRequest { job_id: job_id.clone() }).await;
    assert_eq!(cancel.expect("cancel").get_ref().job_id, job_id);
    let (rest, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    updates.extend(rest);
    assert_stream_contract(&updates, 1);
    let last = updates.last().expect("terminal");
    assert_eq!(last.state, pb::JobStatus::Cancelled as i32);
    // The next event after the heartbeats takes the next seq: they took none.
    let next = updates[first_beat..].iter().find(|u| !u.heartbeat).expect("an event after");
    assert_eq!(next.event_seq, before.event_seq + 1);
    let status = jobs
        .get_job_status(pb::JobStatusRequest { job_id: job_id.clone() })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.last_event_seq, last.event_seq);
    // Cancelling a finished job changes nothing.
    let again = jobs
        .cancel_job(pb::CancelJobRequest { job_id: job_id.clone() })
        .await
        .expect("cancel again");
    assert_eq!(again.get_ref().status, pb::JobStatus::Cancelled as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_before_done_is_failed_precondition_with_status() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let job =
        pb::JobResponse { job_id: running_job(&server, &mut jobs).await, ..Default::default() };
    let err = jobs
        .get_job_results(pb::JobResultsRequest { job_id: job.job_id.clone() })
        .await
        .expect_err("not done");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let d = err.get_error_details();
    let info = d.error_info().expect("ErrorInfo");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), ("JOB_NOT_DONE", "eigen.dev"));
    let status = info.metadata.get("status").expect("status in metadata");
    assert!(["COMPILING", "QUEUED", "RUNNING"].contains(&status.as_str()), "{status}");
    assert!(err.message().contains(status.as_str()), "{}", err.message());
    let pf = d.precondition_failure().expect("PreconditionFailure");
    assert_eq!(pf.violations[0].r#type, "JOB_NOT_DONE");
    jobs.cancel_job(pb::CancelJobRequest { job_id: job.job_id }).await.expect("cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_program_lists_diagnostics_with_line_and_column() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let program = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nfoo q[0];\n";
    let err = jobs.submit_job(submit(program, 10)).await.expect_err("bad program");
    assert_eq!(err.code(), Code::InvalidArgument);
    let d = err.get_error_details();
    assert_eq!(d.error_info().expect("ErrorInfo").reason, "INVALID_PROGRAM");
    let v = &d.bad_request().expect("BadRequest").field_violations;
    assert!(!v.is_empty());
    assert_eq!(v[0].field, "program");
    assert!(v[0].description.starts_with("4:"), "line:column first: {}", v[0].description);
    let diags = eigen_api::error::program_diagnostics(&err).expect("ProgramDiagnostics detail");
    assert_eq!(diags[0].line, 4);
    assert!(diags[0].column >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_unknown_ids_and_oversize_are_precise() {
    let mut config = eigen_api::config::ServerConfig::default();
    config.limits.max_request_bytes = 64 * 1024;
    config.limits.max_program_bytes = 16 * 1024;
    let server = start_with(config, |_| {}).await;
    let mut jobs = server.jobs().await;

    // A shape error names its field.
    let err = jobs
        .submit_job(pb::SubmitJobRequest { target: String::new(), ..submit(&ghz(2), 10) })
        .await
        .expect_err("no target");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().bad_request().expect("BadRequest").field_violations[0].field,
        "target"
    );

    // Unknown target and unknown job: NOT_FOUND with ResourceInfo.
    let err = jobs
        .submit_job(pb::SubmitJobRequest { target: "nope".into(), ..submit(&ghz(2), 10) })
        .await
        .expect_err("unknown device");
    assert_eq!(err.code(), Code::NotFound);
    let ri = err.get_error_details().resource_info().cloned().expect("ResourceInfo");
    assert_eq!((ri.resource_type.as_str(), ri.resource_name.as_str()), ("device", "nope"));
    let missing = "01890000-0000-7000-8000-000000000000".to_owned();
    let err = jobs
        .get_job_status(pb::JobStatusRequest { job_id: missing.clone() })
        .await
        .expect_err("unknown job");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.get_error_details().resource_info().expect("ResourceInfo").resource_name,
        missing
    );
    let err = jobs
        .stream_job_updates(pb::JobUpdatesRequest { job_id: missing, last_event_seq: 0 })
        .await
        .expect_err("unknown job stream");
    assert_eq!(err.code(), Code::NotFound);

    // Program over the program limit: INVALID_ARGUMENT on `program`.
    let big = format!("{}{}", ghz(2), "// padding\n".repeat(2000));
    let err = jobs.submit_job(submit(&big, 10)).await.expect_err("program too big");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().bad_request().expect("BadRequest").field_violations[0].field,
        "program"
    );

    // Message over the transport limit: RESOURCE_EXHAUSTED (not OUT_OF_RANGE).
    let huge = format!("{}{}", ghz(2), "// padding\n".repeat(10_000));
    let err = jobs.submit_job(submit(&huge, 10)).await.expect_err("message too big");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let d = err.get_error_details();
    assert_eq!(d.error_info().expect("ErrorInfo").reason, "MESSAGE_TOO_LARGE");
    assert!(d.quota_failure().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_id_is_taken_from_the_client_and_echoed() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let mut req = tonic::Request::new(submit(&ghz(2), 10));
    req.metadata_mut().insert("x-trace-id", "contract-trace-1".parse().expect("ascii"));
    let resp = jobs.submit_job(req).await.expect("submit");
    assert_eq!(
        resp.metadata().get("x-trace-id").and_then(|v| v.to_str().ok()),
        Some("contract-trace-1")
    );
    let mut req =
        tonic::Request::new(pb::JobStatusRequest { job_id: resp.get_ref().job_id.clone() });
    req.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().expect("ascii"),
    );
    let resp = jobs.get_job_status(req).await.expect("status");
    assert_eq!(
        resp.metadata().get("x-trace-id").and_then(|v| v.to_str().ok()),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let resp = jobs
        .get_job_status(pb::JobStatusRequest { job_id: resp.get_ref().job_id.clone() })
        .await
        .expect("status");
    let made =
        resp.metadata().get("x-trace-id").and_then(|v| v.to_str().ok()).expect("one is made");
    assert_eq!(made.len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_submit_returns_the_same_job() {
    let server = start().await;
    let mut jobs = server.jobs().await;
    let req = pb::SubmitJobRequest { idempotency_key: "key-1".into(), ..submit(&ghz(2), 10) };
    let a = jobs.submit_job(req.clone()).await.expect("first").into_inner();
    let b = jobs.submit_job(req).await.expect("second").into_inner();
    assert_eq!(a.job_id, b.job_id);
}
