//! The kernel: turns accepted programs into results, durably.
//!
//! # Layout
//!
//! - [`gateway`]: [`gateway::KernelGateway`], the one door the api crate uses,
//!   and the domain types that cross it.
//! - [`service`]: [`Kernel`], the in-process implementation of the gateway:
//!   submit, the job path on devices, cancel, timeouts, crash recovery.
//! - [`config`]: [`KernelConfig`] and the [`JobObserver`] hook for metrics.
//! - [`job`]: job ids, the [`job::TaskState`] machine (one transition
//!   function) and its public [`job::JobStatus`].
//! - [`store`]: the durable [`store::JobStore`] and its SQLite implementation
//!   (WAL, migrations, group commit).
//! - [`scheduler`]: per-device queues, slots, priority, tenant fairness.
//! - [`reservations`]: held device slots and their expiry task.
//! - [`events`]: per-job event logs, subscribers, resumable streams.
//! - [`artifacts`]: result payloads too large to inline.
//! - [`compiler`]: OpenQASM front ends, the circuit pipeline, diagnostics.

pub mod artifacts;
pub mod compiler;
pub mod config;
pub mod events;
pub mod gateway;
pub mod job;
pub mod reservations;
pub mod scheduler;
pub mod service;
pub mod store;

pub use config::{JobObserver, KernelConfig};
pub use service::Kernel;
