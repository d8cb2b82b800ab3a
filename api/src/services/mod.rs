//! The public services of RFC 0004, thin over [`KernelGateway`]: each method
//! takes the caller's context (tenant, trace id) left by the interceptor,
//! checks the request's shape, converts it, calls the kernel, and maps the
//! answer or the error. Scheduling, persistence and compilation stay in the
//! kernel.
//!
//! - [`job`]: `JobService` (submit, status, cancel, stream, results).
//! - [`device`]: `DeviceService` (list, details, status, reserve).
//! - [`compilation`]: `CompilationService` (compile, optimize, validate).

pub mod compilation;
pub mod device;
pub mod job;

use crate::config::Limits;
use crate::metrics::Metrics;
use eigen_kernel::gateway::KernelGateway;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every service shares.
#[derive(Clone)]
pub struct Shared {
    /// The kernel, in process or remote.
    pub gateway: Arc<dyn KernelGateway>,
    /// Where RPC and stream metrics go.
    pub metrics: Arc<Metrics>,
    /// Size and concurrency limits.
    pub limits: Limits,
    /// Heartbeat period of job update streams while RUNNING.
    pub heartbeat_interval: Duration,
    /// How long update streams may hold non-terminal updates to batch them.
    pub update_batch_window: Duration,
    /// Cancelled when the server shuts down: open streams end at once.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("update_batch_window", &self.update_batch_window)
            .finish_non_exhaustive()
    }
}
