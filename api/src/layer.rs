//! The tower layer in front of every gRPC service of the public server.
//!
//! For each call it:
//! - takes the trace id from `x-trace-id` / `traceparent` (or makes one),
//!   puts it in the request's extensions and echoes it in the response's
//!   `x-trace-id` header, and runs the handler in a span carrying it;
//! - sheds load: beyond `max_concurrent_requests` calls in flight the call is
//!   refused at once with RESOURCE_EXHAUSTED and a RetryInfo, never queued
//!   (health and reflection are exempt, so probes keep working under load);
//! - maps tonic's OUT_OF_RANGE for an oversize message to RESOURCE_EXHAUSTED,
//!   as the gRPC spec says;
//! - honours the client's deadline (`grpc-timeout`): when it passes before
//!   the handler answers, the handler is dropped (its work stops) and the
//!   call ends with DEADLINE_EXCEEDED; when it passes during a response
//!   stream, the stream ends with DEADLINE_EXCEEDED in its trailers. (tonic's
//!   own timeout, which wraps this layer and fires at the same instant or
//!   later, answers CANCELLED: this layer's deadline is set first and polled
//!   first, so the client gets the code the gRPC spec asks for.)
//! - records the call's count and latency by method and final code.

use crate::error;
use crate::metrics::{MethodMetrics, Metrics};
use crate::trace::{TRACE_ID_HEADER, TraceId, trace_id_from_headers};
use bytes::Bytes;
use http_body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tonic::Status;
use tower::{Layer, Service};
use tracing::Instrument;

/// How long a shed client is told to wait before retrying.
const SHED_RETRY_AFTER: Duration = Duration::from_millis(100);

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct RpcLayer {
    metrics: Arc<Metrics>,
    permits: Arc<Semaphore>,
}

impl RpcLayer {
    /// A layer admitting `max_in_flight` calls at once.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>, max_in_flight: usize) -> Self {
        Self { metrics, permits: Arc::new(Semaphore::new(max_in_flight)) }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner, layer: self.clone() }
    }
}

/// The service [`RpcLayer`] wraps around the router.
#[derive(Debug, Clone)]
pub struct RpcService<S> {
    inner: S,
    layer: RpcLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for RpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Set before anything else, so it never ends after tonic's own.
        let deadline = grpc_timeout(request.headers())
            .and_then(|t| tokio::time::Instant::now().checked_add(t).map(|at| (at, t)));
        let method = request.uri().path();
        let trace_id = trace_id_from_headers(request.headers());
        let mut recorder = Recorder::new(self.layer.metrics.method(method));
        let exempt = method.starts_with("/grpc.health.") || method.starts_with("/grpc.reflection.");
        let span = tracing::info_span!("rpc", method = %method, trace_id = %trace_id);
        request.extensions_mut().insert(TraceId(trace_id.clone()));
        let permit = if exempt {
            None
        } else {
            match Arc::clone(&self.layer.permits).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    self.layer.metrics.record_shed();
                    tracing::warn!(parent: &span, "overloaded: call shed");
                    let status = error::overloaded(
                        "server",
                        "too many calls in flight; retry shortly",
                        SHED_RETRY_AFTER,
                    );
                    recorder.finish(status.code());
                    let mut response = status.into_http::<tonic::body::Body>();
                    echo_trace_id(&mut response, &trace_id);
                    return Box::pin(std::future::ready(Ok(response)));
                }
            }
        };
        // The service that was polled ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let call = inner.call(request).instrument(span.clone());
            let mut response = match deadline {
                None => call.await?,
                Some((at, timeout)) => match tokio::time::timeout_at(at, call).await {
                    Ok(response) => response?,
                    Err(_) => {
                        drop(permit);
                        tracing::info!(parent: &span, ?timeout, "deadline exceeded before the answer");
                        let status = error::deadline_exceeded(timeout);
                        recorder.finish(status.code());
                        let mut response = status.into_http::<tonic::body::Body>();
                        echo_trace_id(&mut response, &trace_id);
                        return Ok(response);
                    }
                },
            };
            drop(permit);
            echo_trace_id(&mut response, &trace_id);
            // A trailers-only response (every error before the first message)
            // carries its status in the headers.
            if let Some(status) = Status::from_header_map(response.headers()) {
                if let Some(mapped) = map_oversize(&status) {
                    rewrite_status(response.headers_mut(), &mapped);
                    recorder.finish(mapped.code());
                } else {
                    recorder.finish(status.code());
                }
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let deadline = deadline.map(|(at, timeout)| Deadline {
                sleep: Box::pin(tokio::time::sleep_until(at)),
                timeout,
                span,
            });
            let body =
                tonic::body::Body::new(ObservedBody { inner: Some(body), recorder, deadline });
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

fn echo_trace_id<B>(response: &mut http::Response<B>, trace_id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(trace_id) {
        response.headers_mut().insert(TRACE_ID_HEADER, v);
    }
}

/// RESOURCE_EXHAUSTED for tonic's OUT_OF_RANGE on an oversize message.
fn map_oversize(status: &Status) -> Option<Status> {
    let m = status.message();
    let too_large = status.code() == tonic::Code::OutOfRange
        && (m.starts_with("Error, decoded message length too large")
            || m.starts_with("Error, encoded message length too large"));
    too_large.then(|| error::message_too_large(m))
}

fn rewrite_status(headers: &mut http::HeaderMap, status: &Status) {
    for h in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        headers.remove(h);
    }
    if status.add_header(headers).is_err() {
        headers.insert("grpc-status", http::HeaderValue::from(status.code() as i32));
    }
}

/// Records a call once: with its final code, or CANCELLED when dropped
/// before one was seen (the client went away).
#[derive(Debug)]
struct Recorder {
    method: Arc<MethodMetrics>,
    start: Instant,
    done: bool,
}

impl Recorder {
    fn new(method: Arc<MethodMetrics>) -> Self {
        Self { method, start: Instant::now(), done: false }
    }

    fn finish(&mut self, code: tonic::Code) {
        if !self.done {
            self.done = true;
            self.method.record(code, self.start.elapsed());
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

/// The client's deadline over a response body.
struct Deadline {
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
    span: tracing::Span,
}

/// A response body that watches for the trailers carrying the final status,
/// and ends the response with DEADLINE_EXCEEDED if the client's deadline
/// passes first (dropping the inner body stops its producer).
struct ObservedBody {
    inner: Option<tonic::body::Body>,
    recorder: Recorder,
    deadline: Option<Deadline>,
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(mut frame))) => {
                if let Some(trailers) = frame.trailers_mut() {
                    let code = match Status::from_header_map(trailers) {
                        Some(status) => match map_oversize(&status) {
                            Some(mapped) => {
                                rewrite_status(trailers, &mapped);
                                mapped.code()
                            }
                            None => status.code(),
                        },
                        None => tonic::Code::Ok,
                    };
                    self.recorder.finish(code);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.recorder.finish(e.code());
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.recorder.finish(tonic::Code::Ok);
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(deadline) = self.deadline.as_mut() else {
                    return Poll::Pending;
                };
                if deadline.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let status = error::deadline_exceeded(deadline.timeout);
                tracing::info!(parent: &deadline.span, timeout = ?deadline.timeout, "deadline exceeded: response stream ended");
                self.inner = None;
                self.deadline = None;
                self.recorder.finish(status.code());
                let mut trailers = http::HeaderMap::new();
                if status.add_header(&mut trailers).is_err() {
                    trailers.insert("grpc-status", http::HeaderValue::from(status.code() as i32));
                }
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(http_body::Body::size_hint).unwrap_or_default()
    }
}

/// The client's deadline from a `grpc-timeout` header (gRPC over HTTP/2:
/// 1 to 8 digits and a unit, `H`, `M`, `S`, `m`, `u` or `n`); none when
/// absent or malformed.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeout_values() {
        let t = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().expect("ascii"));
            grpc_timeout(&h)
        };
        assert_eq!(t("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(t("2M"), Some(Duration::from_secs(120)));
        assert_eq!(t("3S"), Some(Duration::from_secs(3)));
        assert_eq!(t("250m"), Some(Duration::from_millis(250)));
        assert_eq!(t("7u"), Some(Duration::from_micros(7)));
        assert_eq!(t("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "m", "123456789m", "10x", "-1S", "1.5S", "S1"] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }

    #[test]
    fn oversize_becomes_resource_exhausted() {
        let s = Status::out_of_range(
            "Error, decoded message length too large: found 10 bytes, the limit is: 5 bytes",
        );
        let m = map_oversize(&s).expect("mapped");
        assert_eq!(m.code(), tonic::Code::ResourceExhausted);
        assert!(map_oversize(&Status::out_of_range("other")).is_none());
        let mut h = http::HeaderMap::new();
        s.add_header(&mut h).expect("encodable");
        rewrite_status(&mut h, &m);
        assert_eq!(
            Status::from_header_map(&h).map(|s| s.code()),
            Some(tonic::Code::ResourceExhausted)
        );
    }
}
