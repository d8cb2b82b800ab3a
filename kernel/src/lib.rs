//! The kernel: turns accepted programs into results, durably.
//!
//! # Layout
//!
//! - [`gateway`]: [`gateway::KernelGateway`], the one door the api crate uses,
//!   and the domain types that cross it.
//! - [`job`]: job ids, the [`job::TaskState`] machine and its public
//!   [`job::JobStatus`].
//! - [`compiler`]: OpenQASM front ends, the circuit pipeline, diagnostics.

pub mod compiler;
pub mod gateway;
pub mod job;
