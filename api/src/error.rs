//! The error model of the public boundary (RFC 0004 "Error model").
//!
//! Every failure is a non-OK gRPC status whose `google.rpc.Status` details say
//! what to fix: `ErrorInfo` (a machine-readable reason, domain
//! [`ERROR_DOMAIN`]) always, plus `BadRequest` (with a
//! `eigen.api.v1.ProgramDiagnostics` for a program that does not compile),
//! `ResourceInfo` for NOT_FOUND, `PreconditionFailure` for
//! FAILED_PRECONDITION, `QuotaFailure` and `RetryInfo` for RESOURCE_EXHAUSTED.
//!
//! [`ApiError`] holds the one conversion from [`KernelError`]
//! (`From<KernelError> for ApiError`, then `From<ApiError> for Status`: the
//! orphan rule forbids `From<KernelError> for Status` here). The reverse,
//! [`kernel_error_from_status`], serves the internal gateway's client, which
//! must hand the api the kernel's error unchanged.

use crate::convert;
use eigen_kernel::compiler::Diagnostic;
use eigen_kernel::gateway::KernelError;
use eigen_proto::api::v1 as pb;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every Eigen error.
pub const ERROR_DOMAIN: &str = "eigen.dev";

/// The type URL of [`pb::ProgramDiagnostics`] inside `google.rpc.Status.details`.
pub const PROGRAM_DIAGNOSTICS_TYPE_URL: &str =
    "type.googleapis.com/eigen.api.v1.ProgramDiagnostics";

/// A status under construction: code, message and details. Convert it into
/// a [`Status`] with `.into()`.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    reason: String,
    metadata: HashMap<String, String>,
    details: ErrorDetails,
    diagnostics: Vec<Diagnostic>,
}

impl ApiError {
    fn new(code: Code, message: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: reason.into(),
            metadata: HashMap::new(),
            details: ErrorDetails::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Adds a key to the `ErrorInfo` metadata (e.g. the job's current `status`).
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The gRPC code it will carry.
    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }
}

impl From<KernelError> for ApiError {
    fn from(error: KernelError) -> Self {
        let message = error.to_string();
        match error {
            KernelError::InvalidArgument { field, description } => {
                let mut e = Self::new(Code::InvalidArgument, message, "INVALID_ARGUMENT");
                e.details.add_bad_request_violation(field.clone(), description);
                e.with_metadata("field", field)
            }
            KernelError::InvalidProgram(diagnostics) => {
                let first = diagnostics
                    .iter()
                    .find(|d| d.severity == eigen_kernel::compiler::Severity::Error)
                    .or(diagnostics.first());
                let message = match first {
                    Some(d) => {
                        format!("{message}; first at {}:{}: {}", d.line, d.column, d.message)
                    }
                    None => message,
                };
                let mut e = Self::new(Code::InvalidArgument, message, "INVALID_PROGRAM");
                let violations: Vec<FieldViolation> = diagnostics
                    .iter()
                    .map(|d| {
                        let mut v = FieldViolation::new(
                            "program",
                            format!("{}:{}: {}", d.line, d.column, d.message),
                        );
                        v.reason = format!("{:?}", d.severity).to_uppercase();
                        v
                    })
                    .collect();
                e.details.set_bad_request(violations);
                if let Some(d) = first {
                    e = e
                        .with_metadata("line", d.line.to_string())
                        .with_metadata("column", d.column.to_string());
                }
                e.diagnostics = diagnostics;
                e
            }
            KernelError::NotFound { resource_type, name } => {
                let reason = format!("{}_NOT_FOUND", resource_type.to_uppercase());
                let mut e = Self::new(Code::NotFound, message.clone(), reason);
                e.details.set_resource_info(resource_type, name.clone(), "", message);
                e.with_metadata("resource_type", resource_type).with_metadata("resource_name", name)
            }
            KernelError::FailedPrecondition { violation, subject, description } => {
                let mut e = Self::new(Code::FailedPrecondition, message, violation.clone());
                e.details.add_precondition_failure_violation(
                    violation,
                    subject.clone(),
                    description,
                );
                e.with_metadata("subject", subject)
            }
            KernelError::ResourceExhausted { subject, description, retry_after } => {
                let mut e = Self::new(Code::ResourceExhausted, message, "RESOURCE_EXHAUSTED");
                e.details.add_quota_failure_violation(subject.clone(), description);
                e.details.set_retry_info(Some(retry_after.unwrap_or(Duration::from_secs(1))));
                e.with_metadata("subject", subject)
            }
            KernelError::Unavailable(m) => {
                let mut e = Self::new(Code::Unavailable, message, "KERNEL_UNAVAILABLE");
                e.details.set_retry_info(Some(Duration::from_secs(1)));
                e.with_metadata("detail", m)
            }
            KernelError::Internal(_) => Self::new(Code::Internal, message, "INTERNAL"),
            // KernelError is non-exhaustive: a variant added later is an
            // internal error until it is mapped here.
            _ => Self::new(Code::Internal, message, "INTERNAL"),
        }
    }
}

impl From<ApiError> for Status {
    fn from(mut e: ApiError) -> Self {
        e.details.set_error_info(e.reason, ERROR_DOMAIN, e.metadata);
        let status = Status::with_error_details(e.code, e.message.clone(), e.details);
        if e.diagnostics.is_empty() {
            return status;
        }
        // tonic-types builds the standard details; ProgramDiagnostics is ours,
        // so it is appended to the encoded google.rpc.Status.
        let mut rpc = match tonic_types::pb::Status::decode(status.details()) {
            Ok(rpc) => rpc,
            Err(_) => return status,
        };
        let diagnostics = pb::ProgramDiagnostics {
            diagnostics: e.diagnostics.iter().map(convert::diagnostic_to_pb).collect(),
        };
        rpc.details.push(prost_types::Any {
            type_url: PROGRAM_DIAGNOSTICS_TYPE_URL.into(),
            value: diagnostics.encode_to_vec(),
        });
        Status::with_details(e.code, e.message, rpc.encode_to_vec().into())
    }
}

/// The status of a kernel error: the one mapping, as a function for `map_err`.
#[must_use]
pub fn kernel(error: KernelError) -> Status {
    ApiError::from(error).into()
}

/// INVALID_ARGUMENT for a request field that fails the api's shape checks.
#[must_use]
pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    kernel(KernelError::InvalidArgument { field: field.into(), description: description.into() })
}

/// UNAUTHENTICATED, with an `ErrorInfo` reason.
#[must_use]
pub fn unauthenticated(message: &str) -> Status {
    ApiError::new(Code::Unauthenticated, message, "UNAUTHENTICATED").into()
}

/// RESOURCE_EXHAUSTED for an overloaded server: retry after `retry_after`.
#[must_use]
pub fn overloaded(subject: &str, description: &str, retry_after: Duration) -> Status {
    kernel(KernelError::ResourceExhausted {
        subject: subject.into(),
        description: description.into(),
        retry_after: Some(retry_after),
    })
}

/// RESOURCE_EXHAUSTED for a message over the size limit (tonic reports
/// OUT_OF_RANGE; the gRPC spec says RESOURCE_EXHAUSTED). No RetryInfo: the
/// same message will be refused again.
#[must_use]
pub fn message_too_large(detail: &str) -> Status {
    let mut e = ApiError::new(Code::ResourceExhausted, detail, "MESSAGE_TOO_LARGE");
    e.details.add_quota_failure_violation("grpc.max_message_bytes", detail);
    e.into()
}

/// DEADLINE_EXCEEDED: the client's deadline (`timeout`, from its
/// `grpc-timeout`) passed before the call finished. No RetryInfo: only the
/// client knows whether a longer deadline makes sense.
#[must_use]
pub fn deadline_exceeded(timeout: Duration) -> Status {
    ApiError::new(
        Code::DeadlineExceeded,
        format!("the client's deadline of {timeout:?} passed before the call finished"),
        "DEADLINE_EXCEEDED",
    )
    .with_metadata("timeout_ms", timeout.as_millis().to_string())
    .into()
}

/// The program diagnostics carried by a status, if any (client side).
#[must_use]
pub fn program_diagnostics(status: &Status) -> Option<Vec<Diagnostic>> {
    let rpc = tonic_types::pb::Status::decode(status.details()).ok()?;
    let any = rpc.details.iter().find(|a| a.type_url == PROGRAM_DIAGNOSTICS_TYPE_URL)?;
    let d = pb::ProgramDiagnostics::decode(any.value.as_slice()).ok()?;
    Some(d.diagnostics.iter().map(convert::diagnostic_from_pb).collect())
}

/// The kernel error a status from the internal gateway stands for: the
/// inverse of `From<KernelError> for ApiError`, read from the details.
/// Transport failures (no kernel answering) are `Unavailable`.
#[must_use]
pub fn kernel_error_from_status(status: &Status) -> KernelError {
    let details = status.get_error_details();
    let reason = details.error_info().map(|i| i.reason.as_str()).unwrap_or_default();
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument if reason == "INVALID_PROGRAM" => {
            KernelError::InvalidProgram(program_diagnostics(status).unwrap_or_default())
        }
        Code::InvalidArgument => {
            match details.bad_request().and_then(|b| b.field_violations.first()) {
                Some(v) => KernelError::InvalidArgument {
                    field: v.field.clone(),
                    description: v.description.clone(),
                },
                None => KernelError::InvalidArgument { field: String::new(), description: message },
            }
        }
        Code::NotFound => {
            let (resource_type, name) = match details.resource_info() {
                Some(r) => (r.resource_type.as_str(), r.resource_name.clone()),
                None => ("resource", message),
            };
            KernelError::NotFound { resource_type: static_resource_type(resource_type), name }
        }
        Code::FailedPrecondition => {
            match details.precondition_failure().and_then(|p| p.violations.first()) {
                Some(v) => KernelError::FailedPrecondition {
                    violation: v.r#type.clone(),
                    subject: v.subject.clone(),
                    description: v.description.clone(),
                },
                None => KernelError::FailedPrecondition {
                    violation: reason.to_owned(),
                    subject: String::new(),
                    description: message,
                },
            }
        }
        Code::ResourceExhausted => {
            let retry_after = details.retry_info().and_then(|r| r.retry_delay);
            match details.quota_failure().and_then(|q| q.violations.first()) {
                Some(v) => KernelError::ResourceExhausted {
                    subject: v.subject.clone(),
                    description: v.description.clone(),
                    retry_after,
                },
                None => KernelError::ResourceExhausted {
                    subject: String::new(),
                    description: message,
                    retry_after,
                },
            }
        }
        Code::Unavailable if reason == "KERNEL_UNAVAILABLE" => KernelError::Unavailable(
            details.error_info().and_then(|i| i.metadata.get("detail").cloned()).unwrap_or(message),
        ),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            KernelError::Unavailable(format!("kernel gateway: {message}"))
        }
        Code::Internal if reason == "INTERNAL" => KernelError::Internal(
            message.strip_prefix("internal error: ").unwrap_or(&message).to_owned(),
        ),
        code => KernelError::Internal(format!("kernel gateway answered {code:?}: {message}")),
    }
}

/// `NotFound.resource_type` is `&'static str`: the kernel's known types map
/// back to themselves, anything else to `resource`.
fn static_resource_type(s: &str) -> &'static str {
    match s {
        "job" => "job",
        "device" => "device",
        "reservation" => "reservation",
        "dependency" => "dependency",
        _ => "resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eigen_kernel::compiler::Severity;

    fn every_error() -> Vec<KernelError> {
        vec![
            KernelError::InvalidArgument {
                field: "shots".into(),
                description: "must be positive".into(),
            },
            KernelError::InvalidProgram(vec![
                Diagnostic {
                    severity: Severity::Error,
                    line: 3,
                    column: 5,
                    message: "unknown gate `foo`".into(),
                    snippet: "foo q[0];".into(),
                },
                Diagnostic {
                    severity: Severity::Warning,
                    line: 4,
                    column: 1,
                    message: "unused register".into(),
                    snippet: "qreg r[2];".into(),
                },
            ]),
            KernelError::NotFound { resource_type: "job", name: "j-1".into() },
            KernelError::FailedPrecondition {
                violation: "DEVICE_OFFLINE".into(),
                subject: "device:sim".into(),
                description: "device sim is offline".into(),
            },
            KernelError::ResourceExhausted {
                subject: "tenant:acme".into(),
                description: "queued-job quota used".into(),
                retry_after: Some(Duration::from_secs(3)),
            },
            KernelError::Unavailable("shutting down".into()),
            KernelError::Internal("boom".into()),
        ]
    }

    #[test]
    fn golden_codes_and_details() {
        let statuses: Vec<Status> = every_error().into_iter().map(kernel).collect();
        let codes: Vec<Code> = statuses.iter().map(Status::code).collect();
        assert_eq!(
            codes,
            [
                Code::InvalidArgument,
                Code::InvalidArgument,
                Code::NotFound,
                Code::FailedPrecondition,
                Code::ResourceExhausted,
                Code::Unavailable,
                Code::Internal
            ]
        );
        for s in &statuses {
            let d = s.check_error_details().expect("details decode");
            let info = d.error_info().expect("every error has ErrorInfo");
            assert_eq!(info.domain, ERROR_DOMAIN);
            assert!(!info.reason.is_empty());
        }
        let bad = statuses[1].get_error_details();
        let v = &bad.bad_request().expect("BadRequest").field_violations;
        assert_eq!(
            (v[0].field.as_str(), v[0].description.as_str()),
            ("program", "3:5: unknown gate `foo`")
        );
        assert!(statuses[1].message().contains("3:5"));
        assert_eq!(
            statuses[2].get_error_details().resource_info().expect("ResourceInfo").resource_name,
            "j-1"
        );
        assert_eq!(
            statuses[3].get_error_details().precondition_failure().expect("PF").violations[0]
                .r#type,
            "DEVICE_OFFLINE"
        );
        let q = statuses[4].get_error_details();
        assert_eq!(q.quota_failure().expect("QF").violations[0].subject, "tenant:acme");
        assert_eq!(q.retry_info().expect("RetryInfo").retry_delay, Some(Duration::from_secs(3)));
    }

    #[test]
    fn round_trips_through_a_status() {
        for e in every_error() {
            assert_eq!(kernel_error_from_status(&kernel(e.clone())), e);
        }
    }

    #[test]
    fn metadata_reaches_error_info() {
        let s: Status = ApiError::from(KernelError::FailedPrecondition {
            violation: "JOB_NOT_DONE".into(),
            subject: "job:1".into(),
            description: "job 1 is RUNNING".into(),
        })
        .with_metadata("status", "RUNNING")
        .into();
        let d = s.get_error_details();
        let info = d.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "JOB_NOT_DONE");
        assert_eq!(info.metadata.get("status").map(String::as_str), Some("RUNNING"));
    }

    #[test]
    fn transport_failures_are_unavailable() {
        let e = kernel_error_from_status(&Status::unavailable("connection refused"));
        assert!(matches!(e, KernelError::Unavailable(_)));
    }
}
