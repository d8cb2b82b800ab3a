//! Protobuf messages as the CLI shows them: public status names, RFC 3339
//! timestamps, JSON objects with stable keys, and the program diagnostics a
//! failed call carries in its details.

use eigen_kernel::compiler::{Diagnostic, Severity};
use eigen_proto::api::v1 as pb;
use prost::Message as _;
use serde_json::{Value, json};
use tonic::{Code, Status};

/// The public name of a job status (`DONE`, ...), without the enum prefix.
#[must_use]
pub fn job_status_name(status: i32) -> String {
    match pb::JobStatus::try_from(status) {
        Ok(s) => s.as_str_name().trim_start_matches("JOB_STATUS_").to_owned(),
        Err(_) => format!("UNKNOWN({status})"),
    }
}

/// True for DONE, ERROR, CANCELLED and TIMEOUT.
#[must_use]
pub fn is_terminal(status: i32) -> bool {
    matches!(
        pb::JobStatus::try_from(status),
        Ok(pb::JobStatus::Done
            | pb::JobStatus::Error
            | pb::JobStatus::Cancelled
            | pb::JobStatus::Timeout)
    )
}

/// A device status name (`ONLINE`, ...).
#[must_use]
pub fn device_status_name(status: i32) -> String {
    match pb::DeviceStatus::try_from(status) {
        Ok(s) => s.as_str_name().trim_start_matches("DEVICE_STATUS_").to_owned(),
        Err(_) => format!("UNKNOWN({status})"),
    }
}

/// A device kind name (`SIMULATOR`, `HARDWARE`).
#[must_use]
pub fn device_kind_name(kind: i32) -> String {
    match pb::DeviceKind::try_from(kind) {
        Ok(k) => k.as_str_name().trim_start_matches("DEVICE_KIND_").to_owned(),
        Err(_) => format!("UNKNOWN({kind})"),
    }
}

/// A program format name (`OPENQASM2`, `OPENQASM3`).
#[must_use]
pub fn format_name(format: i32) -> String {
    match pb::ProgramFormat::try_from(format) {
        Ok(f) => f.as_str_name().trim_start_matches("PROGRAM_FORMAT_").to_owned(),
        Err(_) => format!("UNKNOWN({format})"),
    }
}

/// RFC 3339, or `None` when unset.
#[must_use]
pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    ts.map(ToString::to_string)
}

/// Seconds as a float, or `None` when unset or negative.
#[must_use]
pub fn seconds(d: Option<&prost_types::Duration>) -> Option<f64> {
    d.and_then(|d| std::time::Duration::try_from(*d).ok()).map(|d| d.as_secs_f64())
}

/// A proto diagnostic as the domain type the CLI prints.
#[must_use]
pub fn diagnostic(d: &pb::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: if d.severity == pb::Severity::Warning as i32 {
            Severity::Warning
        } else {
            // UNSPECIFIED is treated as an error, as the contract says.
            Severity::Error
        },
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        snippet: d.snippet.clone(),
    }
}

/// The `eigen.api.v1.ProgramDiagnostics` packed in an INVALID_ARGUMENT
/// status's details, if there is one.
#[must_use]
pub fn program_diagnostics(status: &Status) -> Option<Vec<Diagnostic>> {
    if status.code() != Code::InvalidArgument || status.details().is_empty() {
        return None;
    }
    let rpc = tonic_types::Status::decode(status.details()).ok()?;
    let any = rpc
        .details
        .iter()
        .find(|a| a.type_url.rsplit('/').next() == Some("eigen.api.v1.ProgramDiagnostics"))?;
    let diags = pb::ProgramDiagnostics::decode(any.value.as_slice()).ok()?;
    Some(diags.diagnostics.iter().map(diagnostic).collect())
}

/// Compile statistics with stable keys.
#[must_use]
pub fn stats_json(stats: Option<&pb::CompileStats>) -> Value {
    let Some(s) = stats else { return Value::Null };
    json!({
        "depth": s.depth,
        "two_qubit_gates": s.two_qubit_gates,
        "swaps": s.swaps,
        "gate_counts": s.gate_counts.iter().collect::<std::collections::BTreeMap<_, _>>(),
        "estimated_duration_seconds": seconds(s.estimated_duration.as_ref()),
        "estimated_success_probability": s.estimated_success_probability,
    })
}

/// A job's status; `counts` is added by the caller once the job is DONE.
#[must_use]
pub fn status_json(s: &pb::JobStatusResponse) -> Value {
    let stages: Vec<Value> = s
        .stages
        .iter()
        .map(|t| {
            json!({
                "status": job_status_name(t.status),
                "started_at": timestamp(t.started_at.as_ref()),
                "finished_at": timestamp(t.finished_at.as_ref()),
            })
        })
        .collect();
    json!({
        "job_id": s.job_id,
        "status": job_status_name(s.status),
        "stage": s.stage,
        "progress": s.progress,
        "message": s.message,
        "created_at": timestamp(s.created_at.as_ref()),
        "started_at": timestamp(s.started_at.as_ref()),
        "finished_at": timestamp(s.finished_at.as_ref()),
        "queue_position": s.queue_position,
        "estimated_start": timestamp(s.estimated_start.as_ref()),
        "estimated_finish": timestamp(s.estimated_finish.as_ref()),
        "last_event_seq": s.last_event_seq,
        "stages": stages,
        "counts": Value::Null,
    })
}

/// A DONE job's results, with `status` so it reads like a status object.
#[must_use]
pub fn results_json(r: &pb::JobResultsResponse) -> Value {
    let counts: std::collections::BTreeMap<&String, &u64> = r.counts.iter().collect();
    let metadata = r.metadata.as_ref().map_or(Value::Null, |m| {
        json!({
            "device_id": m.device_id,
            "shots": m.shots,
            "seed": m.seed,
            "compile_seconds": seconds(m.compile_duration.as_ref()),
            "queue_seconds": seconds(m.queue_duration.as_ref()),
            "execution_seconds": seconds(m.execution_duration.as_ref()),
            "calibration_id": m.calibration_id,
            "compiler_version": m.compiler_version,
            "compile_stats": stats_json(m.compile_stats.as_ref()),
        })
    });
    let mut v = json!({
        "job_id": r.job_id,
        "status": "DONE",
        "counts": counts,
        "metadata": metadata,
    });
    if !r.memory.is_empty() {
        v["memory"] = json!(r.memory);
    }
    if !r.statevector.is_empty() {
        v["statevector"] = r.statevector.iter().map(|c| json!([c.re, c.im])).collect();
        v["probabilities"] = json!(r.probabilities);
    }
    if !r.artifacts.is_empty() {
        v["artifacts"] = r
            .artifacts
            .iter()
            .map(|a| {
                json!({"kind": a.kind, "uri": a.uri, "size_bytes": a.size_bytes, "sha256": a.sha256})
            })
            .collect();
    }
    v
}

/// One update as a JSON line.
#[must_use]
pub fn update_json(u: &pb::JobUpdate) -> Value {
    json!({
        "job_id": u.job_id,
        "event_seq": u.event_seq,
        "status": job_status_name(u.state),
        "stage": u.stage,
        "progress": u.progress,
        "message": u.message,
        "timestamp": timestamp(u.timestamp.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn status_names_drop_the_enum_prefix() {
        assert_eq!(job_status_name(pb::JobStatus::Done as i32), "DONE");
        assert_eq!(job_status_name(99), "UNKNOWN(99)");
        assert!(is_terminal(pb::JobStatus::Cancelled as i32));
        assert!(!is_terminal(pb::JobStatus::Running as i32));
        assert_eq!(device_status_name(pb::DeviceStatus::Online as i32), "ONLINE");
    }

    #[test]
    fn program_diagnostics_are_decoded_from_status_details() {
        let diags = pb::ProgramDiagnostics {
            diagnostics: vec![pb::Diagnostic {
                severity: pb::Severity::Error as i32,
                line: 4,
                column: 2,
                message: "unknown gate `hh`".into(),
                snippet: "hh".into(),
            }],
        };
        let any = prost_types::Any {
            type_url: "type.googleapis.com/eigen.api.v1.ProgramDiagnostics".into(),
            value: diags.encode_to_vec(),
        };
        let rpc = tonic_types::Status {
            code: Code::InvalidArgument as i32,
            message: "invalid program".into(),
            details: vec![any],
        };
        let status = Status::with_details(
            Code::InvalidArgument,
            "invalid program",
            rpc.encode_to_vec().into(),
        );
        let got = program_diagnostics(&status).expect("diagnostics present");
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].line, got[0].column), (4, 2));
        assert_eq!(got[0].severity, Severity::Error);

        let plain = Status::with_error_details(Code::InvalidArgument, "x", ErrorDetails::new());
        assert!(program_diagnostics(&plain).is_none());
    }
}
