//! Trace ids: taken from the caller (`x-trace-id`, or the trace id of a W3C
//! `traceparent`), otherwise made here, and carried on every log line of the
//! request's path and back to the caller in the `x-trace-id` response header.

use tonic::metadata::MetadataMap;

/// The metadata key a client may set, and the server echoes.
pub const TRACE_ID_HEADER: &str = "x-trace-id";
/// The W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A request's trace id, kept in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

/// The trace id of a request with these headers.
#[must_use]
pub fn trace_id_from_headers(headers: &http::HeaderMap) -> String {
    if let Some(id) =
        headers.get(TRACE_ID_HEADER).and_then(|v| v.to_str().ok()).filter(|v| valid_id(v))
    {
        return id.to_owned();
    }
    if let Some(id) =
        headers.get(TRACEPARENT_HEADER).and_then(|v| v.to_str().ok()).and_then(traceparent_trace_id)
    {
        return id.to_owned();
    }
    new_trace_id()
}

/// The trace id of a request with this metadata.
#[must_use]
pub fn trace_id_from(metadata: &MetadataMap) -> String {
    trace_id_from_headers(&metadata.clone().into_headers())
}

/// A fresh 32-hex-digit trace id (W3C-compatible).
#[must_use]
pub fn new_trace_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A client-chosen id: 1..=128 characters of `[A-Za-z0-9._-]`, so it can
/// be logged and echoed safely.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The trace-id field of `00-<32 hex>-<16 hex>-<2 hex>`; none if malformed
/// or all zeros (invalid per W3C).
fn traceparent_trace_id(value: &str) -> Option<&str> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let ok = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    ok.then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("ascii"));
        }
        h
    }

    #[test]
    fn prefers_x_trace_id_then_traceparent() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id_from_headers(&headers(&[("x-trace-id", "abc-1"), ("traceparent", tp)])),
            "abc-1"
        );
        assert_eq!(
            trace_id_from_headers(&headers(&[("traceparent", tp)])),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn makes_one_when_absent_or_invalid() {
        for h in [
            headers(&[]),
            headers(&[("x-trace-id", "bad id with spaces")]),
            headers(&[("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")]),
            headers(&[("traceparent", "garbage")]),
        ] {
            let id = trace_id_from_headers(&h);
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(new_trace_id(), new_trace_id());
    }
}
