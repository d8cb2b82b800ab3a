//! Prometheus metrics, served as text on `/metrics` on their own HTTP port.
//!
//! - `eigen_jobs{status}`: jobs in each public status (terminal statuses
//!   count every job that ended so since start), fed by [`Metrics::observer`].
//! - `eigen_stage_seconds{stage}`: time spent in validate, compile, queue and
//!   execute, also from the observer.
//! - `eigen_device_queue_depth{device}` and `eigen_device_status{device,status}`
//!   (1 for the current status): read from the kernel at every scrape.
//! - `eigen_rpc_requests_total{method,code}` and
//!   `eigen_rpc_duration_seconds{method,code}`: every public RPC, recorded by
//!   the tower layer in [`crate::layer`].
//! - `eigen_open_streams`: open `StreamJobUpdates` streams.
//! - `eigen_rpc_shed_total`: calls refused because the server was full.

use eigen_kernel::gateway::{DeviceInfo, KernelGateway, RequestContext};
use eigen_kernel::job::{ExecStage, TaskState};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceStatusLabel {
    device: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabel {
    method: Arc<str>,
    code: &'static str,
}

/// The gRPC codes, 0 (OK) to 16 (UNAUTHENTICATED).
const GRPC_CODES: usize = 17;

/// Distinct method labels kept; calls to further paths (a client probing
/// random methods, all UNIMPLEMENTED) share [`OTHER_METHOD`], so the label
/// set, and memory, stay bounded.
const MAX_METHODS: usize = 256;

/// The method label of calls beyond [`MAX_METHODS`].
pub const OTHER_METHOD: &str = "other";

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 us .. ~13 min: covers a cached unary call and a long hardware run.
    Histogram::new(exponential_buckets(50e-6, 2.0, 24))
}

/// Every metric of the daemon and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<StatusLabel, Gauge>,
    stages: HistogramFamily<StageLabel>,
    queue_depth: Family<DeviceLabel, Gauge>,
    device_status: Family<DeviceStatusLabel, Gauge>,
    rpc_requests: Family<RpcLabel, Counter>,
    rpc_duration: HistogramFamily<RpcLabel>,
    /// Per-method handles, so a call records without building a label set.
    methods: RwLock<HashMap<Arc<str>, Arc<MethodMetrics>>>,
    open_streams: Gauge,
    shed: Counter,
}

/// The RPC metrics of one method: a counter and a histogram handle per gRPC
/// code, looked up in the families once (on the first call ending with that
/// code) and then updated directly, with no label set built, hashed or
/// allocated per call.
#[derive(Debug)]
pub struct MethodMetrics {
    method: Arc<str>,
    requests: Family<RpcLabel, Counter>,
    durations: HistogramFamily<RpcLabel>,
    by_code: [OnceLock<(Counter, Histogram)>; GRPC_CODES],
}

impl MethodMetrics {
    /// Records one call of this method that ended with `code` after `elapsed`.
    pub fn record(&self, code: tonic::Code, elapsed: Duration) {
        let i = usize::try_from(code as i32).unwrap_or(0).min(GRPC_CODES - 1);
        let (count, latency) = self.by_code[i].get_or_init(|| {
            let labels = RpcLabel { method: Arc::clone(&self.method), code: code_name(code) };
            (
                self.requests.get_or_create(&labels).clone(),
                self.durations.get_or_create(&labels).clone(),
            )
        });
        count.inc();
        latency.observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered under the `eigen` prefix.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("eigen");
        let jobs = Family::<StatusLabel, Gauge>::default();
        let stages: HistogramFamily<StageLabel> = Family::new_with_constructor(latency_histogram);
        let queue_depth = Family::<DeviceLabel, Gauge>::default();
        let device_status = Family::<DeviceStatusLabel, Gauge>::default();
        let rpc_requests = Family::<RpcLabel, Counter>::default();
        let rpc_duration: HistogramFamily<RpcLabel> =
            Family::new_with_constructor(latency_histogram);
        let open_streams = Gauge::default();
        let shed = Counter::default();
        registry.register("jobs", "Jobs by public status", jobs.clone());
        registry.register("stage_seconds", "Time jobs spent in each stage", stages.clone());
        registry.register(
            "device_queue_depth",
            "Jobs waiting on each device's queue",
            queue_depth.clone(),
        );
        registry.register(
            "device_status",
            "1 for each device's current status",
            device_status.clone(),
        );
        registry.register(
            "rpc_requests",
            "Public RPCs by method and gRPC code",
            rpc_requests.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "Public RPC latency by method and code",
            rpc_duration.clone(),
        );
        registry.register("open_streams", "Open StreamJobUpdates streams", open_streams.clone());
        registry.register(
            "rpc_shed",
            "Calls refused with RESOURCE_EXHAUSTED because the server was full",
            shed.clone(),
        );
        Self {
            registry,
            jobs,
            stages,
            queue_depth,
            device_status,
            rpc_requests,
            rpc_duration,
            methods: RwLock::new(HashMap::new()),
            open_streams,
            shed,
        }
    }

    /// The metrics handles of gRPC method `path` (made on first use; past
    /// [`MAX_METHODS`] distinct paths, the shared [`OTHER_METHOD`] ones).
    #[must_use]
    pub fn method(&self, path: &str) -> Arc<MethodMetrics> {
        {
            let known = self.methods.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(m) = known.get(path) {
                return Arc::clone(m);
            }
        }
        let mut known = self.methods.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = if known.len() >= MAX_METHODS { OTHER_METHOD } else { path };
        let entry = known.entry(Arc::from(path)).or_insert_with_key(|method| {
            Arc::new(MethodMetrics {
                method: Arc::clone(method),
                requests: self.rpc_requests.clone(),
                durations: self.rpc_duration.clone(),
                by_code: std::array::from_fn(|_| OnceLock::new()),
            })
        });
        Arc::clone(entry)
    }

    /// Records one job transition: the job leaves `from` (after
    /// `time_in_previous`) and enters `to`.
    pub fn record_transition(
        &self,
        from: Option<TaskState>,
        to: TaskState,
        time_in_previous: Duration,
    ) {
        let to_status = to.status();
        match from {
            Some(f) if f.status() == to_status => {}
            Some(f) => {
                self.jobs.get_or_create(&StatusLabel { status: f.status().as_str() }).dec();
                self.jobs.get_or_create(&StatusLabel { status: to_status.as_str() }).inc();
            }
            None => {
                self.jobs.get_or_create(&StatusLabel { status: to_status.as_str() }).inc();
            }
        }
        if let Some(stage) = from.and_then(stage_of) {
            self.stages
                .get_or_create(&StageLabel { stage })
                .observe(time_in_previous.as_secs_f64());
        }
    }

    /// Sets the device gauges from the kernel's device list.
    pub fn record_devices(&self, devices: &[DeviceInfo]) {
        use eigen_hal::DeviceStatus as S;
        for d in devices {
            let device = d.target.id.clone();
            self.queue_depth
                .get_or_create(&DeviceLabel { device: device.clone() })
                .set(i64::try_from(d.queue_length).unwrap_or(i64::MAX));
            for (status, name) in [
                (S::Online, "online"),
                (S::Offline, "offline"),
                (S::Calibrating, "calibrating"),
                (S::Maintenance, "maintenance"),
            ] {
                self.device_status
                    .get_or_create(&DeviceStatusLabel { device: device.clone(), status: name })
                    .set(i64::from(d.status == status));
            }
        }
    }

    /// Records one finished RPC (`method` is the gRPC path).
    pub fn record_rpc(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.method(method).record(code, elapsed);
    }

    /// Counts a shed call.
    pub fn record_shed(&self) {
        self.shed.inc();
    }

    /// A guard that counts one open stream until dropped.
    #[must_use]
    pub fn open_stream(self: &Arc<Self>) -> OpenStream {
        self.open_streams.inc();
        OpenStream(Arc::clone(self))
    }

    /// Open streams now.
    #[must_use]
    pub fn open_streams(&self) -> i64 {
        self.open_streams.get()
    }

    /// The metrics in Prometheus (OpenMetrics) text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts an open stream; decrements on drop, however the stream ends.
#[derive(Debug)]
pub struct OpenStream(Arc<Metrics>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.open_streams.dec();
    }
}

/// The stage a kernel state's time counts towards.
fn stage_of(s: TaskState) -> Option<&'static str> {
    match s {
        TaskState::Pending | TaskState::Validating => Some("validate"),
        TaskState::Compiling => Some("compile"),
        TaskState::Queued | TaskState::Allocating => Some("queue"),
        TaskState::Executing(ExecStage::Upload | ExecStage::Run | ExecStage::Readout) => {
            Some("execute")
        }
        _ => None,
    }
}

/// The canonical upper-case name of a gRPC code.
#[must_use]
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The tenant the metrics scraper asks the kernel as (devices are shared).
const METRICS_TENANT: &str = "system:metrics";

/// Serves `GET /metrics` on `listener` until `shutdown` completes. Device
/// gauges are refreshed from `gateway` at every scrape (bounded to 2 s, so a
/// stuck kernel never hangs the scraper).
pub async fn serve_metrics(
    metrics: Arc<Metrics>,
    gateway: Option<Arc<dyn KernelGateway>>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;
    let handler = move || {
        let metrics = Arc::clone(&metrics);
        let gateway = gateway.clone();
        async move {
            if let Some(g) = gateway {
                let ctx = RequestContext {
                    tenant: METRICS_TENANT.into(),
                    trace_id: crate::trace::new_trace_id(),
                };
                if let Ok(Ok(devices)) =
                    tokio::time::timeout(Duration::from_secs(2), g.list_devices(&ctx)).await
                {
                    metrics.record_devices(&devices);
                }
            }
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                metrics.encode(),
            )
        }
    };
    let app = axum::Router::new().route("/metrics", get(handler));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_move_jobs_between_statuses_and_time_stages() {
        let m = Metrics::new();
        m.record_transition(None, TaskState::Pending, Duration::ZERO);
        m.record_transition(
            Some(TaskState::Pending),
            TaskState::Validating,
            Duration::from_millis(1),
        );
        m.record_transition(
            Some(TaskState::Validating),
            TaskState::Compiling,
            Duration::from_millis(2),
        );
        m.record_transition(
            Some(TaskState::Compiling),
            TaskState::Queued,
            Duration::from_millis(3),
        );
        m.record_transition(
            Some(TaskState::Queued),
            TaskState::Executing(ExecStage::Run),
            Duration::from_millis(4),
        );
        m.record_transition(
            Some(TaskState::Executing(ExecStage::Run)),
            TaskState::Completed,
            Duration::from_millis(5),
        );
        let text = m.encode();
        assert!(text.contains("eigen_jobs{status=\"DONE\"} 1"), "{text}");
        assert!(text.contains("eigen_jobs{status=\"COMPILING\"} 0"), "{text}");
        for stage in ["validate", "compile", "queue", "execute"] {
            assert!(
                text.contains(&format!("eigen_stage_seconds_count{{stage=\"{stage}\"}}")),
                "{stage}: {text}"
            );
        }
    }

    #[test]
    fn rpc_and_streams_are_counted() {
        let m = Arc::new(Metrics::new());
        m.record_rpc(
            "/eigen.api.v1.JobService/SubmitJob",
            tonic::Code::Ok,
            Duration::from_millis(1),
        );
        let s = m.open_stream();
        assert_eq!(m.open_streams(), 1);
        drop(s);
        assert_eq!(m.open_streams(), 0);
        let text = m.encode();
        assert!(text.contains("eigen_rpc_requests_total{method=\"/eigen.api.v1.JobService/SubmitJob\",code=\"OK\"} 1"), "{text}");
    }

    #[test]
    fn cached_method_handles_count_by_code_and_stay_bounded() {
        let m = Metrics::new();
        let submit = m.method("/eigen.api.v1.JobService/SubmitJob");
        submit.record(tonic::Code::Ok, Duration::from_millis(1));
        submit.record(tonic::Code::Ok, Duration::from_millis(2));
        m.record_rpc(
            "/eigen.api.v1.JobService/SubmitJob",
            tonic::Code::DeadlineExceeded,
            Duration::ZERO,
        );
        for i in 0..(MAX_METHODS + 10) {
            m.record_rpc(&format!("/x.Y/M{i}"), tonic::Code::Unimplemented, Duration::ZERO);
        }
        let text = m.encode();
        let line = |method: &str, code: &str| {
            format!("eigen_rpc_requests_total{{method=\"{method}\",code=\"{code}\"}}")
        };
        assert!(
            text.contains(&format!("{} 2", line("/eigen.api.v1.JobService/SubmitJob", "OK"))),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{} 1",
                line("/eigen.api.v1.JobService/SubmitJob", "DEADLINE_EXCEEDED")
            )),
            "{text}"
        );
        assert!(text.contains(&line(OTHER_METHOD, "UNIMPLEMENTED")), "{text}");
        assert!(m.methods.read().expect("lock").len() <= MAX_METHODS + 1);
    }
}
