//! DeviceService and CompilationService contract: listings, details, every
//! ReserveDevice error code with its details, compile/optimize/validate.

mod contract_support;

use contract_support::*;
use eigen_proto::api::v1 as pb;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

fn reserve(device: &str, ttl: u32) -> pb::ReserveDeviceRequest {
    pb::ReserveDeviceRequest {
        device_id: device.into(),
        ttl_seconds: ttl,
        purpose: "contract".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_describes_devices() {
    let server = start().await;
    let mut devices = server.devices().await;
    let list =
        devices.list_devices(pb::ListDevicesRequest {}).await.expect("list").into_inner().devices;
    let ids: Vec<&str> = list.iter().map(|d| d.id.as_str()).collect();
    assert!(ids.contains(&"sim") && ids.contains(&SWITCHABLE), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    let sim = list.iter().find(|d| d.id == "sim").expect("sim");
    assert_eq!(sim.kind, pb::DeviceKind::Simulator as i32);
    assert_eq!(sim.status, pb::DeviceStatus::Online as i32);

    let details = devices
        .get_device_details(pb::DeviceDetailsRequest { device_id: "sim".into() })
        .await
        .expect("details")
        .into_inner();
    let props = details.properties.expect("properties");
    assert!(props.limits.expect("limits").max_shots >= 1000);
    let status = devices
        .get_device_status(pb::DeviceStatusRequest { device_id: "sim".into() })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.status, pb::DeviceStatus::Online as i32);

    for err in [
        devices
            .get_device_details(pb::DeviceDetailsRequest { device_id: "nope".into() })
            .await
            .expect_err("details"),
        devices
            .get_device_status(pb::DeviceStatusRequest { device_id: "nope".into() })
            .await
            .expect_err("status"),
    ] {
        assert_eq!(err.code(), Code::NotFound);
        assert_eq!(
            err.get_error_details().resource_info().expect("ResourceInfo").resource_name,
            "nope"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reservation_error_code() {
    let server = start_with(eigen_api::config::ServerConfig::default(), |k| {
        k.slots.insert(SWITCHABLE.into(), 1);
        k.reservations_per_tenant = 2;
    })
    .await;
    let mut devices = server.devices().await;

    // OK: an id and an expiry about ttl from now.
    let ok = devices.reserve_device(reserve(SWITCHABLE, 30)).await.expect("reserve").into_inner();
    assert!(ok.reservation_id.starts_with("res-") && ok.device_id == SWITCHABLE);
    let expires = eigen_api::convert::system_time(&ok.expires_at.expect("expires_at"));
    let left = expires.duration_since(std::time::SystemTime::now()).expect("in the future");
    assert!(left > Duration::from_secs(20) && left <= Duration::from_secs(30), "{left:?}");

    // RESOURCE_EXHAUSTED: no free slot (the device has one), with RetryInfo.
    let err = devices.reserve_device(reserve(SWITCHABLE, 30)).await.expect_err("no slot");
    assert_eq!(err.code(), Code::ResourceExhausted);
    let d = err.get_error_details();
    assert_eq!(
        d.quota_failure().expect("QuotaFailure").violations[0].subject,
        format!("device:{SWITCHABLE}")
    );
    assert!(d.retry_info().expect("RetryInfo").retry_delay.is_some());
    assert_eq!(d.error_info().expect("ErrorInfo").domain, "eigen.dev");

    // RESOURCE_EXHAUSTED: the tenant's quota (2) is used.
    devices.reserve_device(reserve("sim", 30)).await.expect("second reservation");
    let err = devices.reserve_device(reserve("sim", 30)).await.expect_err("quota");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(
        err.get_error_details().quota_failure().expect("QuotaFailure").violations[0].subject,
        "tenant:default"
    );

    // NOT_FOUND: unknown device, with ResourceInfo.
    let err = devices.reserve_device(reserve("nope", 30)).await.expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let ri = err.get_error_details().resource_info().cloned().expect("ResourceInfo");
    assert_eq!((ri.resource_type.as_str(), ri.resource_name.as_str()), ("device", "nope"));

    // FAILED_PRECONDITION: the device is offline, with PreconditionFailure.
    server.offline_switch.store(true, Ordering::SeqCst);
    let err = devices.reserve_device(reserve(SWITCHABLE, 30)).await.expect_err("offline");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let pf = err.get_error_details().precondition_failure().cloned().expect("PreconditionFailure");
    assert_eq!(pf.violations[0].r#type, "DEVICE_UNAVAILABLE");
    assert_eq!(pf.violations[0].subject, SWITCHABLE);

    // INVALID_ARGUMENT: a zero TTL, naming the field.
    let err = devices.reserve_device(reserve("sim", 0)).await.expect_err("ttl 0");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().bad_request().expect("BadRequest").field_violations[0].field,
        "ttl_seconds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_optimize_validate() {
    let server = start().await;
    let mut c = server.compiler().await;
    let compiled = c
        .compile_circuit(pb::CompileCircuitRequest {
            program: ghz(3),
            target: "sim".into(),
            ..Default::default()
        })
        .await
        .expect("compile")
        .into_inner();
    assert!(compiled.compiled_program.contains("OPENQASM 3"), "{}", compiled.compiled_program);
    assert_eq!(compiled.final_layout.len(), 3);
    assert!(!compiled.compiler_version.is_empty());

    let optimized = c
        .optimize_circuit(pb::OptimizeCircuitRequest {
            program:
                "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[1] q;\nx q[0];\nx q[0];\nh q[0];\n"
                    .into(),
            ..Default::default()
        })
        .await
        .expect("optimize")
        .into_inner();
    let (before, after) =
        (optimized.original_stats.expect("before"), optimized.optimized_stats.expect("after"));
    let total = |s: &pb::CompileStats| s.gate_counts.values().sum::<u64>();
    assert!(total(&after) < total(&before), "{before:?} -> {after:?}");

    let valid = c
        .validate_circuit(pb::ValidateCircuitRequest {
            program: ghz(4),
            target: "sim".into(),
            ..Default::default()
        })
        .await
        .expect("validate")
        .into_inner();
    assert_eq!((valid.num_qubits, valid.num_clbits), (4, 4));
    assert_eq!(valid.format, pb::ProgramFormat::Openqasm3 as i32);

    let err = c
        .validate_circuit(pb::ValidateCircuitRequest {
            program: "OPENQASM 3.0;\nqubit[2] q;\ncx q[0] q[1];\n".into(),
            ..Default::default()
        })
        .await
        .expect_err("syntax error");
    assert_eq!(err.code(), Code::InvalidArgument);
    let diags = eigen_api::error::program_diagnostics(&err).expect("diagnostics");
    assert_eq!(diags[0].line, 3, "{diags:?}");

    let err = c
        .compile_circuit(pb::CompileCircuitRequest {
            program: ghz(2),
            target: "sim".into(),
            compiler_options: [("speed".to_owned(), "max".to_owned())].into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown option");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().bad_request().expect("BadRequest").field_violations[0].field,
        "compiler_options.speed"
    );
    let err = c
        .compile_circuit(pb::CompileCircuitRequest {
            program: ghz(2),
            target: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown target");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_over_the_send_limit_is_resource_exhausted() {
    let mut config = eigen_api::config::ServerConfig::default();
    config.limits.max_response_bytes = 256;
    let server = start_with(config, |_| {}).await;
    let mut devices = server.devices().await;
    // A heavy-hex device's properties (coupling map, gates, 27 qubits) are
    // far over 256 bytes.
    let err = devices
        .get_device_details(pb::DeviceDetailsRequest { device_id: "sim-heavyhex-27".into() })
        .await
        .expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let d = err.get_error_details();
    let info = d.error_info().expect("ErrorInfo");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), ("MESSAGE_TOO_LARGE", "eigen.dev"));
    assert!(d.quota_failure().is_some(), "{err:?}");
    assert!(d.retry_info().is_none(), "the same answer would be refused again");
    // A small answer still goes through.
    let status = devices
        .get_device_status(pb::DeviceStatusRequest { device_id: "sim".into() })
        .await
        .expect("small enough");
    assert_eq!(status.get_ref().status, pb::DeviceStatus::Online as i32);
}
