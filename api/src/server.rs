//! The servers: [`serve`] runs the public API, [`serve_kernel`] the internal
//! kernel gateway. The caller binds the listener and owns the shutdown signal
//! (so tests bind port 0 and the binary wires SIGTERM/SIGINT).
//!
//! Shutdown, when `shutdown` completes: the health service reports
//! NOT_SERVING, the listener is dropped (no new connections), every open
//! update stream is told to end (its client gets UNAVAILABLE with the
//! `last_event_seq` to resume from), in-flight unary calls finish, and the
//! function returns once all connections have closed or the grace period
//! has passed, whichever is first. Jobs are durable in the kernel before
//! SubmitJob answers, so nothing accepted is lost either way.

use crate::auth::{Authenticator, ContextInterceptor};
use crate::config::{ConfigError, ServerConfig};
use crate::kernel_grpc::KernelGatewayService;
use crate::layer::RpcLayer;
use crate::metrics::Metrics;
use crate::services::Shared;
use crate::services::compilation::CompilationApi;
use crate::services::device::DeviceApi;
use crate::services::job::JobApi;
use eigen_kernel::gateway::KernelGateway;
use eigen_proto::api::v1::compilation_service_server::CompilationServiceServer;
use eigen_proto::api::v1::device_service_server::DeviceServiceServer;
use eigen_proto::api::v1::job_service_server::JobServiceServer;
use eigen_proto::kernel::v0::kernel_gateway_server::KernelGatewayServer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;

/// HTTP/2 keepalive pings: find dead peers holding streams open.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of failure stopped a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeErrorKind {
    /// The configuration was refused.
    Config,
    /// TLS files could not be read or used.
    Tls,
    /// The gRPC transport failed.
    Transport,
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ServeError {
    kind: ServeErrorKind,
    message: String,
}

impl ServeError {
    fn new(kind: ServeErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What kind of failure it is.
    #[must_use]
    pub fn kind(&self) -> ServeErrorKind {
        self.kind
    }
}

impl From<ConfigError> for ServeError {
    fn from(e: ConfigError) -> Self {
        Self::new(ServeErrorKind::Config, e.to_string())
    }
}

/// Serves the public API with fresh metrics; see [`serve_with_metrics`].
pub async fn serve(
    config: ServerConfig,
    gateway: Arc<dyn KernelGateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with_metrics(config, gateway, Arc::new(Metrics::new()), listener, shutdown).await
}

/// Serves `JobService`, `DeviceService` and `CompilationService` over
/// `gateway`, plus gRPC health and reflection (v1 and v1alpha), on
/// `listener` until `shutdown` completes (see the module documentation),
/// recording into `metrics` (share it with [`crate::metrics::serve_metrics`]
/// and the kernel's observer).
pub async fn serve_with_metrics(
    config: ServerConfig,
    gateway: Arc<dyn KernelGateway>,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.validate()?;
    let local = listener.local_addr().ok();
    let token = CancellationToken::new();
    let shared = Shared {
        gateway,
        metrics: Arc::clone(&metrics),
        limits: config.limits.clone(),
        heartbeat_interval: config.heartbeat_interval,
        update_batch_window: config.update_batch_window,
        shutdown: token.clone(),
    };
    let interceptor = ContextInterceptor::new(Arc::new(Authenticator::new(&config.api_keys)));
    let (max_in, max_out) = (config.limits.max_request_bytes, config.limits.max_response_bytes);
    let jobs = JobServiceServer::new(JobApi::new(shared.clone()))
        .max_decoding_message_size(max_in)
        .max_encoding_message_size(max_out);
    let devices = DeviceServiceServer::new(DeviceApi::new(shared.clone()))
        .max_decoding_message_size(max_in)
        .max_encoding_message_size(max_out);
    let compilation = CompilationServiceServer::new(CompilationApi::new(shared))
        .max_decoding_message_size(max_in)
        .max_encoding_message_size(max_out);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<JobServiceServer<JobApi>>().await;
    health.set_serving::<DeviceServiceServer<DeviceApi>>().await;
    health.set_serving::<CompilationServiceServer<CompilationApi>>().await;
    let (reflection_v1, reflection_v1alpha) = reflection()?;

    let signal = {
        let token = token.clone();
        async move {
            shutdown.await;
            tracing::info!(
                "shutting down: health NOT_SERVING, closing the listener, ending streams"
            );
            for service in [
                "",
                <JobServiceServer<JobApi> as tonic::server::NamedService>::NAME,
                <DeviceServiceServer<DeviceApi> as tonic::server::NamedService>::NAME,
                <CompilationServiceServer<CompilationApi> as tonic::server::NamedService>::NAME,
            ] {
                health.set_service_status(service, ServingStatus::NotServing).await;
            }
            token.cancel();
        }
    };

    let router = builder(&config)
        .await?
        .layer(RpcLayer::new(metrics, config.limits.max_concurrent_requests))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(InterceptedService::new(jobs, interceptor.clone()))
        .add_service(InterceptedService::new(devices, interceptor.clone()))
        .add_service(InterceptedService::new(compilation, interceptor));
    tracing::info!(addr = ?local, auth = config.auth_enabled(), tls = config.tls.is_some(), "public API serving");
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    drain(server, token, config.grace_period).await
}

/// Serves the internal `eigen.kernel.v0.KernelGateway` over `gateway` on
/// `listener` until `shutdown` completes. The tenant comes from request
/// metadata set by the api, so this port belongs on a private network: the
/// same bind rule as the public API applies (loopback, or `insecure`, or
/// TLS + keys at the network's edge).
pub async fn serve_kernel(
    config: ServerConfig,
    gateway: Arc<dyn KernelGateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.validate()?;
    let local = listener.local_addr().ok();
    let token = CancellationToken::new();
    let service = KernelGatewayServer::new(KernelGatewayService::new(gateway, token.clone()))
        .max_decoding_message_size(config.limits.max_request_bytes)
        .max_encoding_message_size(config.limits.max_response_bytes);
    let (health, health_service) = tonic_health::server::health_reporter();
    let signal = {
        let token = token.clone();
        async move {
            shutdown.await;
            tracing::info!("kernel gateway shutting down");
            health.set_service_status("", ServingStatus::NotServing).await;
            token.cancel();
        }
    };
    let router = builder(&config).await?.add_service(health_service).add_service(service);
    tracing::info!(addr = ?local, "kernel gateway serving");
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    drain(router.serve_with_incoming_shutdown(incoming, signal), token, config.grace_period).await
}

/// A tonic server builder with the configuration's transport limits.
async fn builder(config: &ServerConfig) -> Result<Server, ServeError> {
    let mut b = Server::builder()
        .http2_max_pending_accept_reset_streams(Some(config.limits.max_pending_reset_streams))
        .max_concurrent_streams(Some(config.limits.max_concurrent_streams_per_connection))
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .tcp_nodelay(true);
    if let Some(tls) = &config.tls {
        let read = |p: &std::path::Path| {
            std::fs::read(p)
                .map_err(|e| ServeError::new(ServeErrorKind::Tls, format!("{}: {e}", p.display())))
        };
        let identity = Identity::from_pem(read(&tls.cert)?, read(&tls.key)?);
        b = b
            .tls_config(ServerTlsConfig::new().identity(identity))
            .map_err(|e| ServeError::new(ServeErrorKind::Tls, format!("TLS configuration: {e}")))?;
    }
    Ok(b)
}

/// Reflection services, v1 and v1alpha, knowing every Eigen and google.rpc type.
fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    ServeError,
> {
    let configure = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(eigen_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let err = |e: tonic_reflection::server::Error| {
        ServeError::new(ServeErrorKind::Transport, format!("reflection: {e}"))
    };
    Ok((configure().build_v1().map_err(err)?, configure().build_v1alpha().map_err(err)?))
}

/// Runs `server` to completion, but no longer than `grace` after shutdown
/// began (`token` cancelled): tonic's own drain waits for every connection.
async fn drain(
    server: impl Future<Output = Result<(), tonic::transport::Error>>,
    token: CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    tokio::pin!(server);
    let deadline = async {
        token.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = &mut server => {
            tracing::info!("server stopped");
            result.map_err(|e| ServeError::new(ServeErrorKind::Transport, e.to_string()))
        }
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "grace period over; closing remaining connections");
            Ok(())
        }
    }
}
