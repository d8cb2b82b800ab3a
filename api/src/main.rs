//! `eigen`: the daemon (`eigen serve`) and the command-line client.
//!
//! One binary for every role: `serve` composes the simulator devices, the
//! kernel and the public gRPC server (or only one side of a split
//! deployment); every other subcommand is a client of the public API, except
//! `run`, which compiles and simulates a program in this process.
//!
//! Errors end the process with one line on stderr (for gRPC failures: the
//! canonical code name and the decoded `google.rpc` details) and a non-zero
//! exit code; nothing a user types makes it panic.

mod cli;

/// The daemon's allocator (why: the workspace manifest, at `mimalloc`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
