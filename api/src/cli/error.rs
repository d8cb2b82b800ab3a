//! Turning failures into the one line a user reads.
//!
//! A gRPC failure prints as `CODE: message (details)`, with the canonical
//! code name (`NOT_FOUND`, `INVALID_ARGUMENT`, ...) and every `google.rpc`
//! detail the server attached, decoded: field violations (a program's
//! diagnostics carry their line and column there), resource, precondition
//! and quota violations, the retry delay and the error reason.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The canonical upper-case name of a gRPC code, as the gRPC spec spells it.
#[must_use]
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Collapses whitespace runs (newlines included) so a message stays on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `CODE: message (detail; detail; ...)` on a single line.
#[must_use]
pub fn format_status(status: &Status) -> String {
    let mut out = format!("{}: {}", code_name(status.code()), one_line(status.message()));
    let details = describe_details(status, status.message());
    if !details.is_empty() {
        out.push_str(" (");
        out.push_str(&details.join("; "));
        out.push(')');
    }
    out
}

/// Each decodable `google.rpc` detail of `status`, rendered for people,
/// leaving out what `message` already says.
fn describe_details(status: &Status, message: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let Ok(details) = status.check_error_details() else {
        return vec!["undecodable error details".to_owned()];
    };
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            parts.push(one_line(&format!("{}: {}", v.field, v.description)));
        }
    }
    if let Some(pre) = details.precondition_failure() {
        for v in &pre.violations {
            parts.push(one_line(&format!(
                "precondition {} on {}: {}",
                v.r#type, v.subject, v.description
            )));
        }
    }
    if let Some(quota) = details.quota_failure() {
        for v in &quota.violations {
            parts.push(one_line(&format!("quota {}: {}", v.subject, v.description)));
        }
    }
    if let Some(res) = details.resource_info() {
        // "job X not found" already names the resource.
        if !message.contains(&res.resource_name) {
            let mut s = format!("resource {} {}", res.resource_type, res.resource_name);
            if !res.description.is_empty() && res.description != message {
                s.push_str(": ");
                s.push_str(&res.description);
            }
            parts.push(one_line(&s));
        }
    }
    if let Some(retry) = details.retry_info()
        && let Some(delay) = retry.retry_delay
    {
        parts.push(format!("retry after {:.1}s", delay.as_secs_f64()));
    }
    if let Some(info) = details.error_info() {
        let mut s = format!("reason {}", info.reason);
        if !info.domain.is_empty() {
            s.push_str(&format!(" [{}]", info.domain));
        }
        parts.push(one_line(&s));
    }
    if let Some(help) = details.help() {
        for link in &help.links {
            parts.push(one_line(&format!("see {}: {}", link.description, link.url)));
        }
    }
    parts
}

/// The single line printed for a failed command: the context chain, with any
/// gRPC status in it rendered by [`format_status`].
#[must_use]
pub fn format_error(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        if let Some(status) = cause.downcast_ref::<Status>() {
            parts.push(format_status(status));
            // A status renders its own details; its sources add nothing.
            break;
        }
        parts.push(one_line(&cause.to_string()));
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn not_found_with_resource_info_is_one_line() {
        let mut d = ErrorDetails::new();
        d.set_resource_info("job", "abc", "", "no such job");
        let s = Status::with_error_details(Code::NotFound, "lookup\nfailed", d.clone());
        let line = format_status(&s);
        assert_eq!(line, "NOT_FOUND: lookup failed (resource job abc: no such job)");
        // A message that names the resource already says it all.
        let s = Status::with_error_details(Code::NotFound, "job abc not found", d);
        assert_eq!(format_status(&s), "NOT_FOUND: job abc not found");
    }

    #[test]
    fn field_violations_are_listed_in_order() {
        let mut d = ErrorDetails::new();
        d.add_bad_request_violation("program", "3:5: unknown gate foo");
        d.add_bad_request_violation("program", "4:1: expected ;");
        d.set_error_info("INVALID_PROGRAM", "eigen.dev", std::collections::HashMap::new());
        let s = Status::with_error_details(Code::InvalidArgument, "invalid program", d);
        assert_eq!(
            format_status(&s),
            "INVALID_ARGUMENT: invalid program (program: 3:5: unknown gate foo; \
             program: 4:1: expected ;; reason INVALID_PROGRAM [eigen.dev])"
        );
    }

    #[test]
    fn context_chain_keeps_the_status_line() {
        let err = anyhow::Error::new(Status::unavailable("connection refused"))
            .context("cannot reach http://x");
        assert_eq!(format_error(&err), "cannot reach http://x: UNAVAILABLE: connection refused");
    }
}
