//! Conversions between the kernel's domain types and the generated
//! `eigen.api.v1` messages, and the request shape checks that go with them.
//!
//! Generated types never leave the api crate: the services and the internal
//! gateway adapter convert at their edge with these functions. Conversions
//! from client input return a [`Status`] (INVALID_ARGUMENT naming the field)
//! instead of guessing.

use crate::error;
use eigen_hal::{DeviceKind, DeviceStatus, Limits, NativeGate, QubitProperties, Seconds, Target};
use eigen_kernel::compiler::{CompileStats, Diagnostic, ProgramFormat, Severity};
use eigen_kernel::gateway::{
    ArtifactRef, DeviceInfo, ExecutionMetadata, JobEvent, JobResults, JobStatusView, Reservation,
    SubmitJob,
};
use eigen_kernel::job::{JobId, JobStatus};
use eigen_proto::api::v1 as pb;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::Status;

/// Shots run when a request leaves `shots` at 0.
pub const DEFAULT_SHOTS: u32 = 1024;
/// Longest accepted idempotency key, name, or id.
const MAX_KEY_LEN: usize = 256;

// ---------------------------------------------------------------- scalars

/// A protobuf timestamp of `t`.
#[must_use]
pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// The time of a protobuf timestamp (the epoch for an invalid one).
#[must_use]
pub fn system_time(t: &prost_types::Timestamp) -> SystemTime {
    SystemTime::try_from(*t).unwrap_or(UNIX_EPOCH)
}

/// A protobuf duration of `d` (saturating).
#[must_use]
pub fn duration_to_pb(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d)
        .unwrap_or(prost_types::Duration { seconds: i64::MAX, nanos: 999_999_999 })
}

/// The duration of a protobuf duration; `field` names it in the error when
/// it is negative or malformed.
pub fn duration_from_pb(d: &prost_types::Duration, field: &str) -> Result<Duration, Status> {
    Duration::try_from(*d)
        .map_err(|_| error::invalid_argument(field, "must be a non-negative duration"))
}

/// The public enum of a status.
#[must_use]
pub fn job_status_to_pb(s: JobStatus) -> pb::JobStatus {
    match s {
        JobStatus::Compiling => pb::JobStatus::Compiling,
        JobStatus::Queued => pb::JobStatus::Queued,
        JobStatus::Running => pb::JobStatus::Running,
        JobStatus::Done => pb::JobStatus::Done,
        JobStatus::Error => pb::JobStatus::Error,
        JobStatus::Cancelled => pb::JobStatus::Cancelled,
        JobStatus::Timeout => pb::JobStatus::Timeout,
    }
}

/// The status of a public enum value; none for UNSPECIFIED or unknown.
#[must_use]
pub fn job_status_from_pb(v: i32) -> Option<JobStatus> {
    Some(match pb::JobStatus::try_from(v).ok()? {
        pb::JobStatus::Unspecified => return None,
        pb::JobStatus::Compiling => JobStatus::Compiling,
        pb::JobStatus::Queued => JobStatus::Queued,
        pb::JobStatus::Running => JobStatus::Running,
        pb::JobStatus::Done => JobStatus::Done,
        pb::JobStatus::Error => JobStatus::Error,
        pb::JobStatus::Cancelled => JobStatus::Cancelled,
        pb::JobStatus::Timeout => JobStatus::Timeout,
    })
}

/// The program format of a request field.
pub fn program_format_from_pb(v: i32, field: &str) -> Result<ProgramFormat, Status> {
    match pb::ProgramFormat::try_from(v) {
        Ok(pb::ProgramFormat::Unspecified) => Ok(ProgramFormat::Detect),
        Ok(pb::ProgramFormat::Openqasm2) => Ok(ProgramFormat::OpenQasm2),
        Ok(pb::ProgramFormat::Openqasm3) => Ok(ProgramFormat::OpenQasm3),
        Err(_) => Err(error::invalid_argument(field, format!("unknown program format {v}"))),
    }
}

/// The public enum of a program format.
#[must_use]
pub fn program_format_to_pb(f: ProgramFormat) -> pb::ProgramFormat {
    match f {
        ProgramFormat::Detect => pb::ProgramFormat::Unspecified,
        ProgramFormat::OpenQasm2 => pb::ProgramFormat::Openqasm2,
        ProgramFormat::OpenQasm3 => pb::ProgramFormat::Openqasm3,
    }
}

/// A diagnostic as sent.
#[must_use]
pub fn diagnostic_to_pb(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::Severity::Error,
            Severity::Warning => pb::Severity::Warning,
        } as i32,
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        snippet: d.snippet.clone(),
    }
}

/// A diagnostic as received (UNSPECIFIED severity is an error, as documented).
#[must_use]
pub fn diagnostic_from_pb(d: &pb::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: if d.severity == pb::Severity::Warning as i32 {
            Severity::Warning
        } else {
            Severity::Error
        },
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        snippet: d.snippet.clone(),
    }
}

/// Compiler statistics as sent.
#[must_use]
pub fn compile_stats_to_pb(s: &CompileStats) -> pb::CompileStats {
    pb::CompileStats {
        depth: s.depth,
        gate_counts: s.gate_counts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        two_qubit_gates: s.two_qubit_gates,
        swaps: s.swaps,
        estimated_duration: Some(duration_to_pb(s.estimated_duration)),
        estimated_success_probability: s.estimated_success,
    }
}

/// Compiler statistics as received.
#[must_use]
pub fn compile_stats_from_pb(s: &pb::CompileStats) -> CompileStats {
    CompileStats {
        depth: s.depth,
        gate_counts: s.gate_counts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        two_qubit_gates: s.two_qubit_gates,
        swaps: s.swaps,
        estimated_duration: s
            .estimated_duration
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default(),
        estimated_success: s.estimated_success_probability,
    }
}

// ---------------------------------------------------------------- checks

/// A job id from a request: non-empty, bounded, printable.
pub fn job_id(raw: &str) -> Result<JobId, Status> {
    id_field(raw, "job_id").map(|s| JobId(s.to_owned()))
}

/// A device id from a request.
pub fn device_id(raw: &str) -> Result<&str, Status> {
    id_field(raw, "device_id")
}

/// A required id-like field named `field`: non-empty, bounded, printable.
pub fn id_field<'a>(raw: &'a str, field: &str) -> Result<&'a str, Status> {
    if raw.is_empty() {
        return Err(error::invalid_argument(field, "is required"));
    }
    if raw.len() > MAX_KEY_LEN || raw.chars().any(char::is_control) {
        return Err(error::invalid_argument(field, "must be at most 256 printable characters"));
    }
    Ok(raw)
}

/// The program text of a request: non-empty and within the size limit.
pub fn program(raw: &str, max_bytes: usize) -> Result<&str, Status> {
    if raw.trim().is_empty() {
        return Err(error::invalid_argument("program", "is required"));
    }
    if raw.len() > max_bytes {
        return Err(error::invalid_argument(
            "program",
            format!("is {} bytes; the limit is {max_bytes} bytes", raw.len()),
        ));
    }
    Ok(raw)
}

/// A domain submission from a request, shape-checked.
pub fn submit_from_pb(
    r: pb::SubmitJobRequest,
    max_program_bytes: usize,
) -> Result<SubmitJob, Status> {
    program(&r.program, max_program_bytes)?;
    id_field(&r.target, "target")?;
    if r.name.len() > MAX_KEY_LEN {
        return Err(error::invalid_argument("name", "must be at most 256 bytes"));
    }
    if r.idempotency_key.len() > MAX_KEY_LEN {
        return Err(error::invalid_argument("idempotency_key", "must be at most 256 bytes"));
    }
    let dependencies = r
        .dependencies
        .iter()
        .map(|d| id_field(d, "dependencies").map(|s| JobId(s.to_owned())))
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = r
        .execution_timeout
        .as_ref()
        .map(|d| duration_from_pb(d, "execution_timeout"))
        .transpose()?;
    if timeout == Some(Duration::ZERO) {
        return Err(error::invalid_argument("execution_timeout", "must be positive when set"));
    }
    if let Some(id) = &r.reservation_id {
        id_field(id, "reservation_id")?;
    }
    Ok(SubmitJob {
        format: program_format_from_pb(r.format, "format")?,
        name: r.name,
        program: r.program,
        target: r.target,
        shots: if r.shots == 0 { DEFAULT_SHOTS } else { r.shots },
        seed: r.seed,
        compiler_options: r.compiler_options.into_iter().collect(),
        metadata: r.metadata.into_iter().collect(),
        dependencies,
        idempotency_key: Some(r.idempotency_key).filter(|k| !k.is_empty()),
        timeout,
        priority: r.priority,
        reservation_id: r.reservation_id,
        memory: r.memory,
        statevector: r.statevector,
    })
}

/// A request for a domain submission (the internal gateway's client).
#[must_use]
pub fn submit_to_pb(j: SubmitJob) -> pb::SubmitJobRequest {
    pb::SubmitJobRequest {
        name: j.name,
        program: j.program,
        target: j.target,
        compiler_options: j.compiler_options.into_iter().collect(),
        metadata: j.metadata.into_iter().collect(),
        dependencies: j.dependencies.into_iter().map(|d| d.0).collect(),
        shots: j.shots,
        seed: j.seed,
        format: program_format_to_pb(j.format) as i32,
        idempotency_key: j.idempotency_key.unwrap_or_default(),
        execution_timeout: j.timeout.map(duration_to_pb),
        priority: j.priority,
        reservation_id: j.reservation_id,
        memory: j.memory,
        statevector: j.statevector,
    }
}

// ---------------------------------------------------------------- jobs

/// The public status of a job.
#[must_use]
pub fn status_view_to_pb(v: &JobStatusView) -> pb::JobStatusResponse {
    let mut entered: Vec<(SystemTime, JobStatus)> =
        v.entered_at.iter().map(|(s, t)| (*t, *s)).collect();
    entered.sort();
    let stages = entered
        .iter()
        .enumerate()
        .map(|(i, (t, s))| pb::StageTiming {
            status: job_status_to_pb(*s) as i32,
            started_at: Some(timestamp(*t)),
            finished_at: entered.get(i + 1).map(|(next, _)| timestamp(*next)),
        })
        .collect();
    let finished_at =
        entered.iter().rev().find(|(_, s)| s.is_terminal()).map(|(t, _)| timestamp(*t));
    pb::JobStatusResponse {
        job_id: v.job_id.0.clone(),
        status: job_status_to_pb(v.status) as i32,
        stage: v.stage.clone(),
        progress: v.progress,
        message: v.message.clone(),
        created_at: Some(timestamp(v.created_at)),
        started_at: v.entered_at.get(&JobStatus::Running).copied().map(timestamp),
        finished_at,
        stages,
        queue_position: v.queue_position,
        estimated_start: v.estimated_start.map(timestamp),
        estimated_finish: v.estimated_finish.map(timestamp),
        last_event_seq: v.last_event_seq,
    }
}

/// The entered-at map of a public status (the internal gateway's client).
#[must_use]
pub fn entered_at_from_pb(r: &pb::JobStatusResponse) -> BTreeMap<JobStatus, SystemTime> {
    r.stages
        .iter()
        .filter_map(|s| Some((job_status_from_pb(s.status)?, system_time(s.started_at.as_ref()?))))
        .collect()
}

/// A job event as a public update.
#[must_use]
pub fn event_to_update(e: &JobEvent, heartbeat: bool) -> pb::JobUpdate {
    pb::JobUpdate {
        job_id: e.job_id.0.clone(),
        state: job_status_to_pb(e.status) as i32,
        stage: e.stage.clone(),
        progress: e.progress,
        message: Some(e.message.clone()).filter(|m| !m.is_empty()),
        event_seq: e.event_seq,
        timestamp: Some(timestamp(e.timestamp)),
        heartbeat,
    }
}

/// A finished job's results as sent.
#[must_use]
pub fn results_to_pb(job_id: &JobId, r: JobResults) -> pb::JobResultsResponse {
    let m = r.metadata;
    pb::JobResultsResponse {
        job_id: job_id.0.clone(),
        counts: r.counts.into_iter().collect(),
        memory: r.memory.unwrap_or_default(),
        statevector: r
            .statevector
            .unwrap_or_default()
            .into_iter()
            .map(|(re, im)| pb::Complex { re, im })
            .collect(),
        probabilities: r.probabilities.unwrap_or_default(),
        metadata: Some(pb::ExecutionMetadata {
            device_id: m.device,
            shots: m.shots,
            seed: m.seed,
            compile_duration: Some(duration_to_pb(m.compile_duration)),
            queue_duration: Some(duration_to_pb(m.queue_duration)),
            execution_duration: Some(duration_to_pb(m.execution_duration)),
            calibration_id: m.calibration_id,
            compiler_version: m.compiler_version,
            compile_stats: Some(compile_stats_to_pb(&m.compile_stats)),
        }),
        artifacts: r
            .artifacts
            .into_iter()
            .map(|a| pb::ArtifactRef {
                kind: a.kind,
                uri: a.uri,
                size_bytes: a.size_bytes,
                sha256: a.sha256,
            })
            .collect(),
    }
}

/// Results as received (the internal gateway's client).
#[must_use]
pub fn results_from_pb(r: pb::JobResultsResponse) -> JobResults {
    let d = |d: Option<prost_types::Duration>| {
        d.and_then(|d| Duration::try_from(d).ok()).unwrap_or_default()
    };
    let m = r.metadata.unwrap_or_default();
    JobResults {
        counts: r.counts.into_iter().collect(),
        memory: Some(r.memory).filter(|v| !v.is_empty()),
        statevector: Some(r.statevector.into_iter().map(|c| (c.re, c.im)).collect::<Vec<_>>())
            .filter(|v| !v.is_empty()),
        probabilities: Some(r.probabilities).filter(|v| !v.is_empty()),
        metadata: ExecutionMetadata {
            device: m.device_id,
            shots: m.shots,
            seed: m.seed,
            compile_duration: d(m.compile_duration),
            queue_duration: d(m.queue_duration),
            execution_duration: d(m.execution_duration),
            calibration_id: m.calibration_id,
            compiler_version: m.compiler_version,
            compile_stats: m.compile_stats.as_ref().map(compile_stats_from_pb).unwrap_or_default(),
        },
        artifacts: r
            .artifacts
            .into_iter()
            .map(|a| ArtifactRef {
                kind: a.kind,
                uri: a.uri,
                size_bytes: a.size_bytes,
                sha256: a.sha256,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- devices

/// The public enum of a device status.
#[must_use]
pub fn device_status_to_pb(s: DeviceStatus) -> pb::DeviceStatus {
    match s {
        DeviceStatus::Online => pb::DeviceStatus::Online,
        DeviceStatus::Offline => pb::DeviceStatus::Offline,
        DeviceStatus::Calibrating => pb::DeviceStatus::Calibrating,
        DeviceStatus::Maintenance => pb::DeviceStatus::Maintenance,
        _ => pb::DeviceStatus::Unspecified,
    }
}

/// A device status as received (unknown values read as offline: never
/// schedule onto a device whose state is not understood).
#[must_use]
pub fn device_status_from_pb(v: i32) -> DeviceStatus {
    match pb::DeviceStatus::try_from(v) {
        Ok(pb::DeviceStatus::Online) => DeviceStatus::Online,
        Ok(pb::DeviceStatus::Calibrating) => DeviceStatus::Calibrating,
        Ok(pb::DeviceStatus::Maintenance) => DeviceStatus::Maintenance,
        _ => DeviceStatus::Offline,
    }
}

/// A device as listed.
#[must_use]
pub fn device_to_pb(d: &DeviceInfo) -> pb::Device {
    let t = &d.target;
    pb::Device {
        id: t.id.clone(),
        name: t.name.clone(),
        kind: match t.kind {
            DeviceKind::Simulator => pb::DeviceKind::Simulator,
            DeviceKind::Hardware => pb::DeviceKind::Hardware,
            _ => pb::DeviceKind::Unspecified,
        } as i32,
        status: device_status_to_pb(d.status) as i32,
        queue_length: d.queue_length,
        num_qubits: t.num_qubits,
        calibration_id: t.calibration_id.clone(),
    }
}

/// A device's properties as sent.
#[must_use]
pub fn properties_to_pb(t: &Target) -> pb::DeviceProperties {
    pb::DeviceProperties {
        coupling_map: t
            .coupling_map
            .iter()
            .flatten()
            .map(|&(control, target)| pb::CouplingEdge { control, target })
            .collect(),
        all_to_all: t.coupling_map.is_none(),
        native_gates: t
            .native_gates
            .iter()
            .map(|g| pb::NativeGate {
                name: g.name.clone(),
                num_qubits: g.num_qubits,
                duration_seconds: g.duration.0,
                error_rate: g.error,
            })
            .collect(),
        qubits: t
            .qubits
            .iter()
            .zip(0u32..)
            .map(|(q, i)| pb::QubitProperties {
                qubit: i,
                t1_seconds: q.t1.0,
                t2_seconds: q.t2.0,
                frequency_hz: q.frequency.0,
                readout_error: q.readout_error,
                readout_duration_seconds: q.readout_duration.0,
            })
            .collect(),
        dt_seconds: t.dt.map(|s| s.0),
        limits: Some(pb::Limits { max_shots: t.limits.max_shots, max_qubits: t.limits.max_qubits }),
        calibration_id: t.calibration_id.clone(),
    }
}

/// A device as received (the internal gateway's client).
#[must_use]
pub fn device_info_from_pb(d: pb::Device, p: pb::DeviceProperties) -> DeviceInfo {
    let limits = p.limits.unwrap_or_default();
    DeviceInfo {
        target: Target {
            id: d.id,
            name: d.name,
            kind: if d.kind == pb::DeviceKind::Hardware as i32 {
                DeviceKind::Hardware
            } else {
                DeviceKind::Simulator
            },
            num_qubits: d.num_qubits,
            coupling_map: (!p.all_to_all)
                .then(|| p.coupling_map.iter().map(|e| (e.control, e.target)).collect()),
            native_gates: p
                .native_gates
                .into_iter()
                .map(|g| NativeGate {
                    name: g.name,
                    num_qubits: g.num_qubits,
                    duration: Seconds(g.duration_seconds),
                    error: g.error_rate,
                })
                .collect(),
            qubits: p
                .qubits
                .into_iter()
                .map(|q| QubitProperties {
                    t1: Seconds(q.t1_seconds),
                    t2: Seconds(q.t2_seconds),
                    frequency: eigen_hal::Hertz(q.frequency_hz),
                    readout_error: q.readout_error,
                    readout_duration: Seconds(q.readout_duration_seconds),
                })
                .collect(),
            dt: p.dt_seconds.map(Seconds),
            limits: Limits { max_shots: limits.max_shots, max_qubits: limits.max_qubits },
            calibration_id: p.calibration_id,
        },
        status: device_status_from_pb(d.status),
        queue_length: d.queue_length,
    }
}

/// A reservation as sent.
#[must_use]
pub fn reservation_to_pb(r: &Reservation) -> pb::ReserveDeviceResponse {
    pb::ReserveDeviceResponse {
        reservation_id: r.reservation_id.clone(),
        expires_at: Some(timestamp(r.expires_at)),
        device_id: r.device_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn request() -> pb::SubmitJobRequest {
        pb::SubmitJobRequest {
            program: "OPENQASM 3;".into(),
            target: "sim".into(),
            ..Default::default()
        }
    }

    #[test]
    fn golden_status_mapping_round_trips() {
        let all = [
            (JobStatus::Compiling, pb::JobStatus::Compiling),
            (JobStatus::Queued, pb::JobStatus::Queued),
            (JobStatus::Running, pb::JobStatus::Running),
            (JobStatus::Done, pb::JobStatus::Done),
            (JobStatus::Error, pb::JobStatus::Error),
            (JobStatus::Cancelled, pb::JobStatus::Cancelled),
            (JobStatus::Timeout, pb::JobStatus::Timeout),
        ];
        for (d, p) in all {
            assert_eq!(job_status_to_pb(d), p);
            assert_eq!(job_status_from_pb(p as i32), Some(d));
        }
        assert_eq!(job_status_from_pb(0), None);
    }

    #[test]
    fn submit_shape_checks_name_the_field() {
        let field = |r: pb::SubmitJobRequest, limit| {
            let s = submit_from_pb(r, limit).expect_err("refused");
            assert_eq!(s.code(), Code::InvalidArgument);
            tonic_types::StatusExt::get_error_details(&s)
                .bad_request()
                .map(|b| b.field_violations[0].field.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            field(pb::SubmitJobRequest { program: String::new(), ..request() }, 100),
            "program"
        );
        assert_eq!(field(request(), 5), "program");
        assert_eq!(
            field(pb::SubmitJobRequest { target: String::new(), ..request() }, 100),
            "target"
        );
        assert_eq!(field(pb::SubmitJobRequest { format: 9, ..request() }, 100), "format");
        assert_eq!(
            field(pb::SubmitJobRequest { dependencies: vec![String::new()], ..request() }, 100),
            "dependencies"
        );
        let neg = prost_types::Duration { seconds: -1, nanos: 0 };
        assert_eq!(
            field(pb::SubmitJobRequest { execution_timeout: Some(neg), ..request() }, 100),
            "execution_timeout"
        );
        let ok = submit_from_pb(request(), 100).expect("valid");
        assert_eq!(ok.shots, DEFAULT_SHOTS);
        assert_eq!(ok.idempotency_key, None);
    }

    #[test]
    fn submit_round_trips() {
        let mut r = request();
        r.shots = 10;
        r.seed = Some(7);
        r.idempotency_key = "k".into();
        r.execution_timeout = Some(duration_to_pb(Duration::from_secs(3)));
        r.reservation_id = Some("r1".into());
        r.dependencies = vec!["a".into()];
        r.compiler_options.insert("optimization_level".into(), "2".into());
        let domain = submit_from_pb(r.clone(), 100).expect("valid");
        assert_eq!(submit_to_pb(domain), r);
    }

    #[test]
    fn stages_are_ordered_with_their_ends() {
        let t0 = UNIX_EPOCH + Duration::from_secs(100);
        let view = JobStatusView {
            job_id: JobId("j".into()),
            state: eigen_kernel::job::TaskState::Completed,
            status: JobStatus::Done,
            stage: None,
            progress: None,
            message: String::new(),
            created_at: t0,
            entered_at: [
                (JobStatus::Compiling, t0),
                (JobStatus::Queued, t0 + Duration::from_secs(1)),
                (JobStatus::Running, t0 + Duration::from_secs(2)),
                (JobStatus::Done, t0 + Duration::from_secs(3)),
            ]
            .into_iter()
            .collect(),
            queue_position: None,
            estimated_start: None,
            estimated_finish: None,
            last_event_seq: 6,
        };
        let p = status_view_to_pb(&view);
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.stages[0].finished_at, Some(timestamp(t0 + Duration::from_secs(1))));
        assert_eq!(p.stages[3].finished_at, None);
        assert_eq!(p.started_at, Some(timestamp(t0 + Duration::from_secs(2))));
        assert_eq!(p.finished_at, Some(timestamp(t0 + Duration::from_secs(3))));
        assert_eq!(entered_at_from_pb(&p), view.entered_at);
    }
}
