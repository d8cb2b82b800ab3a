//! Shared set-up of the contract tests: the real public server on a loopback
//! port over the real in-process kernel (temporary durable store) with the
//! real simulator devices, and real tonic clients.
//!
//! The only stand-in is [`SwitchableDevice`]: a real simulator device whose
//! reported status a test can switch to offline, because no simulator can be
//! unplugged (needed for FAILED_PRECONDITION of ReserveDevice), and which a
//! test can make slow, as a lab instrument is (a status query that takes
//! seconds; an execution that runs until cancelled), because a simulator
//! finishes small jobs in microseconds.
//!
//! [`BareHttp2`] carries tonic's generated clients over a plain hyper HTTP/2
//! connection, for the one thing tonic's `Channel` hides: it enforces a
//! call's deadline itself and reports its own expiry as CANCELLED, so only a
//! client without that timer shows the status the server sent.

#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

use eigen_api::config::ServerConfig;
use eigen_api::metrics::Metrics;
use eigen_api::server::{ServeError, serve_with_metrics};
use eigen_hal::{
    Device, DeviceError, DeviceStatus, ExecContext, ExecOptions, ExecResult, Executable, Target,
};
use eigen_kernel::gateway::KernelGateway;
use eigen_kernel::{Kernel, KernelConfig};
use eigen_proto::api::v1 as pb;
use pb::compilation_service_client::CompilationServiceClient;
use pb::device_service_client::DeviceServiceClient;
use pb::job_service_client::JobServiceClient;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A running public server and what it runs on.
pub struct TestServer {
    pub addr: SocketAddr,
    pub kernel: Kernel,
    pub metrics: Arc<Metrics>,
    pub offline_switch: Arc<AtomicBool>,
    pub slow: Arc<Slowness>,
    pub stop: CancellationToken,
    pub handle: Option<JoinHandle<Result<(), ServeError>>>,
    _dir: tempfile::TempDir,
}

/// The id of the switchable device.
pub const SWITCHABLE: &str = "sim-switchable";

/// Short stream heartbeats so tests see them.
pub const HEARTBEAT: Duration = Duration::from_millis(100);

/// How slow the switchable device is (0 = as fast as the simulator).
#[derive(Debug, Default)]
pub struct Slowness {
    /// Milliseconds a status query takes.
    pub status_ms: AtomicU64,
    /// Milliseconds an execution waits (or until cancelled) before running.
    pub execute_ms: AtomicU64,
}

/// A server with `config` (its listen address is ignored: port 0) and a
/// kernel adjusted by `tweak`.
pub async fn start_with(
    mut config: ServerConfig,
    tweak: impl FnOnce(&mut KernelConfig),
) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::new());
    let mut kconfig = KernelConfig::new(dir.path());
    // As `eigen serve` does: the streams make the heartbeats, not the kernel.
    kconfig.heartbeat_interval = None;
    kconfig.default_slots = 4;
    kconfig.device_poll_interval = Duration::from_millis(50);
    kconfig.observer = Some(Arc::new(Observer(Arc::clone(&metrics))));
    tweak(&mut kconfig);
    let (kernel, offline_switch, slow) = start_kernel(kconfig).await;
    let gateway: Arc<dyn KernelGateway> = Arc::new(kernel.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    config.listen = addr;
    config.heartbeat_interval = HEARTBEAT;
    let stop = CancellationToken::new();
    let handle = tokio::spawn(serve_with_metrics(
        config,
        gateway,
        Arc::clone(&metrics),
        listener,
        stop.clone().cancelled_owned(),
    ));
    TestServer {
        addr,
        kernel,
        metrics,
        offline_switch,
        slow,
        stop,
        handle: Some(handle),
        _dir: dir,
    }
}

/// The kernel on a store under a fresh temporary directory.
pub async fn start_kernel(kconfig: KernelConfig) -> (Kernel, Arc<AtomicBool>, Arc<Slowness>) {
    let mut devices = eigen_sim::default_devices().expect("sim devices");
    let offline = Arc::new(AtomicBool::new(false));
    let slow = Arc::new(Slowness::default());
    let inner = eigen_sim::default_devices().expect("sim devices").remove(0);
    devices.push(Arc::new(SwitchableDevice::new(inner, Arc::clone(&offline), Arc::clone(&slow))));
    let kernel = Kernel::start(kconfig, devices).await.expect("kernel starts");
    (kernel, offline, slow)
}

/// A server with default settings.
pub async fn start() -> TestServer {
    start_with(ServerConfig::default(), |_| {}).await
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> Channel {
        channel(&self.url()).await
    }

    pub async fn jobs(&self) -> JobServiceClient<Channel> {
        JobServiceClient::new(self.channel().await)
    }

    pub async fn devices(&self) -> DeviceServiceClient<Channel> {
        DeviceServiceClient::new(self.channel().await)
    }

    pub async fn compiler(&self) -> CompilationServiceClient<Channel> {
        CompilationServiceClient::new(self.channel().await)
    }

    /// Starts shutdown and waits for `serve` to return.
    pub async fn shutdown(&mut self) -> Result<(), ServeError> {
        self.stop.cancel();
        let r = self.handle.take().expect("not yet shut down").await.expect("serve task");
        self.kernel.shutdown().await;
        r
    }
}

pub async fn channel(url: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// A plain HTTP/2 connection to a server, as a tonic client transport
/// (see the module documentation). Use it with a client's `with_origin`.
#[derive(Clone)]
pub struct BareHttp2(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

/// Connects a [`BareHttp2`] to `addr` (plaintext).
pub async fn bare_http2(addr: SocketAddr) -> BareHttp2 {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (send, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    BareHttp2(send)
}

impl tower::Service<http::Request<tonic::body::Body>> for BareHttp2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// A request carrying `authorization: Bearer <key>`.
pub fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {key}").parse().expect("ascii"));
    r
}

/// An n-qubit GHZ program, OpenQASM 3.
pub fn ghz(n: usize) -> String {
    let mut p =
        format!("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[{n}] q;\nbit[{n}] c;\nh q[0];\n");
    for i in 1..n {
        p.push_str(&format!("cx q[{}], q[{i}];\n", i - 1));
    }
    p.push_str("c = measure q;\n");
    p
}

/// A program that keeps the simulator busy for a while (to see RUNNING,
/// heartbeats and cancellation): `layers` rounds of rotations and
/// entanglers on 20 qubits.
pub fn slow_program(layers: usize) -> String {
    let n = 20;
    let mut p = format!("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[{n}] q;\nbit[{n}] c;\n");
    for l in 0..layers {
        for i in 0..n {
            p.push_str(&format!(
                "rx({}) q[{i}];\nry({}) q[{i}];\n",
                0.1 + l as f64 * 0.01,
                0.2 + i as f64 * 0.01
            ));
        }
        for i in 0..n - 1 {
            p.push_str(&format!("cx q[{i}], q[{}];\n", i + 1));
        }
    }
    p.push_str("c = measure q;\n");
    p
}

/// A submission of `program` on `sim`.
pub fn submit(program: &str, shots: u32) -> pb::SubmitJobRequest {
    pb::SubmitJobRequest {
        name: "contract".into(),
        program: program.into(),
        target: "sim".into(),
        shots,
        seed: Some(7),
        ..Default::default()
    }
}

/// Every update of a stream until it ends.
pub async fn collect(
    mut stream: tonic::Streaming<pb::JobUpdate>,
) -> (Vec<pb::JobUpdate>, Option<tonic::Status>) {
    let mut updates = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(u)) => updates.push(u),
            Ok(None) => return (updates, None),
            Err(s) => return (updates, Some(s)),
        }
    }
}

/// Checks the RFC's stream rules on the non-heartbeat updates: event_seq
/// gapless from `first`, one terminal update, last.
pub fn assert_stream_contract(updates: &[pb::JobUpdate], first: u64) {
    let real: Vec<&pb::JobUpdate> = updates.iter().filter(|u| !u.heartbeat).collect();
    assert!(!real.is_empty(), "no updates");
    for (i, u) in real.iter().enumerate() {
        assert_eq!(u.event_seq, first + i as u64, "gap or reorder in {updates:#?}");
    }
    let terminal = [
        pb::JobStatus::Done,
        pb::JobStatus::Error,
        pb::JobStatus::Cancelled,
        pb::JobStatus::Timeout,
    ]
    .map(|s| s as i32);
    let terminals: Vec<_> = updates.iter().filter(|u| terminal.contains(&u.state)).collect();
    assert_eq!(terminals.len(), 1, "terminal update must come exactly once: {updates:#?}");
    assert!(
        terminal.contains(&updates.last().expect("non-empty").state),
        "terminal update is last"
    );
}

struct Observer(Arc<Metrics>);

impl eigen_kernel::JobObserver for Observer {
    fn on_transition(
        &self,
        _job_id: &eigen_kernel::job::JobId,
        _device: &str,
        from: Option<eigen_kernel::job::TaskState>,
        to: eigen_kernel::job::TaskState,
        time_in_previous: Duration,
    ) {
        self.0.record_transition(from, to, time_in_previous);
    }
}

/// A real simulator device under another id, whose status a test can set
/// to offline and whose answers it can slow down.
pub struct SwitchableDevice {
    inner: Arc<dyn Device>,
    target: Target,
    offline: Arc<AtomicBool>,
    slow: Arc<Slowness>,
}

impl SwitchableDevice {
    fn new(inner: Arc<dyn Device>, offline: Arc<AtomicBool>, slow: Arc<Slowness>) -> Self {
        let mut target = inner.target().clone();
        target.id = SWITCHABLE.into();
        target.name = "switchable simulator".into();
        Self { inner, target, offline, slow }
    }
}

/// Waits `ms` milliseconds, or until `stop` says so.
fn wait_ms(ms: u64, stop: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !stop() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Device for SwitchableDevice {
    fn target(&self) -> &Target {
        &self.target
    }

    fn status(&self) -> DeviceStatus {
        wait_ms(self.slow.status_ms.load(Ordering::SeqCst), || false);
        if self.offline.load(Ordering::SeqCst) {
            DeviceStatus::Offline
        } else {
            DeviceStatus::Online
        }
    }

    fn execute(
        &self,
        executable: &Executable,
        options: &ExecOptions,
        ctx: &ExecContext,
    ) -> Result<ExecResult, DeviceError> {
        wait_ms(self.slow.execute_ms.load(Ordering::SeqCst), || ctx.cancel.is_cancelled());
        self.inner.execute(executable, options, ctx)
    }
}
