//! The edge of Eigen: the public gRPC services of RFC 0004, the internal
//! kernel gateway over gRPC, authentication, error mapping, metrics, and the
//! server that puts them together. The `eigen` binary (`src/main.rs`) wires
//! devices, the kernel and this crate.
//!
//! # Layout
//!
//! - [`config`]: [`config::ServerConfig`]: addresses, API keys (hashed),
//!   TLS, limits, grace period; refuses an unauthenticated public bind.
//! - [`auth`]: API keys to tenants; the interceptor that puts a
//!   `RequestContext` (tenant, trace id) on every public call.
//! - [`trace`]: trace ids from `x-trace-id` / W3C `traceparent`, or new ones.
//! - [`error`]: the one mapping from `KernelError` to a gRPC status with
//!   `google.rpc` details, and back (for the gateway client).
//! - [`convert`]: domain <-> `eigen.api.v1` conversions and request shape checks.
//! - [`services`]: `JobService`, `DeviceService`, `CompilationService`, thin
//!   over `KernelGateway`.
//! - [`layer`]: the tower layer in front of them: trace ids, load shedding,
//!   client deadlines -> DEADLINE_EXCEEDED, oversize -> RESOURCE_EXHAUSTED,
//!   RPC metrics.
//! - [`metrics`]: Prometheus metrics, the kernel observer feeding them, and
//!   the `/metrics` HTTP server.
//! - [`server`]: [`server::serve`] (public API + health + reflection, limits,
//!   graceful shutdown) and [`server::serve_kernel`] (the internal gateway).
//! - [`kernel_grpc`]: the `eigen.kernel.v0` gateway service over any
//!   `KernelGateway`, and [`kernel_grpc::RemoteKernel`], a `KernelGateway`
//!   that calls it.

pub mod auth;
pub mod config;
pub mod convert;
pub mod error;
pub mod kernel_grpc;
pub mod layer;
pub mod metrics;
pub mod server;
pub mod services;
pub mod trace;
