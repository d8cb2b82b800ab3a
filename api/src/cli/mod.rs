//! The `eigen` command line: argument parsing, logging set-up, dispatch and
//! the one-line error report.
//!
//! # Layout
//!
//! - [`serve`]: `eigen serve`, the composition root (devices, kernel, servers,
//!   signals, graceful shutdown).
//! - [`client`]: connecting to the public API (`--addr`, `--token`, TLS).
//! - [`jobs`]: `submit`, `watch`, `status`, `results`, `cancel`.
//! - [`follow`]: following a job's updates with resume after a dropped
//!   connection, and the live progress bar.
//! - [`devices`]: `devices`, `device`, `reserve`.
//! - [`compile`]: `compile`, `validate` (through the CompilationService).
//! - [`run`]: `eigen run`, in process, no server.
//! - [`convert`]: protobuf messages to JSON and to domain types.
//! - [`program`]: program files and compiler-style diagnostics.
//! - [`output`]: tables, the counts histogram, durations.
//! - [`error`]: gRPC statuses (with decoded details) as one line.

use output::{errln, outln};
mod client;
mod compile;
mod convert;
mod devices;
mod error;
mod follow;
mod jobs;
mod output;
mod program;
mod run;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal as _;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Eigen: submit quantum programs, follow them, and run the server.
#[derive(Debug, Parser)]
#[command(name = "eigen", version, about, propagate_version = true)]
struct Cli {
    /// Log line format (on stderr); the level comes from `RUST_LOG`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "EIGEN_LOG_FORMAT")]
    log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: public gRPC API, kernel and simulator devices.
    Serve(serve::ServeArgs),
    /// Submit a program as a job.
    Submit(jobs::SubmitArgs),
    /// Follow a job's updates until it ends (resumes after a dropped connection).
    Watch(jobs::WatchArgs),
    /// Show a job's status.
    Status(jobs::JobArgs),
    /// Show a finished job's results: counts table and histogram.
    Results(jobs::JobArgs),
    /// Cancel a job.
    Cancel(jobs::JobArgs),
    /// List the devices.
    Devices(devices::DevicesArgs),
    /// Show one device: coupling map, native gates, calibration, limits.
    Device(devices::DeviceArgs),
    /// Reserve a scheduler slot on a device.
    Reserve(devices::ReserveArgs),
    /// Compile a program for a device and show the result and its cost.
    Compile(compile::CompileArgs),
    /// Check a program; prints `file:line:col: error: message` for each problem.
    Validate(compile::ValidateArgs),
    /// Compile and simulate a program in this process (no server); prints counts and timing.
    Run(run::RunArgs),
    /// Print the SHA-256 of an API key, as the `[[api_keys]]` config stores it.
    HashKey(HashKeyArgs),
}

/// Arguments of `eigen hash-key`.
#[derive(Debug, clap::Args)]
struct HashKeyArgs {
    /// The key; read from stdin when absent (keeps it out of shell history).
    key: Option<String>,
}

/// `eigen hash-key`.
fn hash_key(args: &HashKeyArgs) -> anyhow::Result<()> {
    let key = match &args.key {
        Some(k) => k.clone(),
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if key.is_empty() {
        anyhow::bail!("the key is empty");
    }
    outln!("{}", eigen_api::auth::hash_key(&key))?;
    Ok(())
}

/// Parses the command line, runs the command, reports failure on one line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    init_logging(cli.log_format, default_level);
    match dispatch(cli.command) {
        Ok(code) => code,
        // The reader of stdout went away (`eigen results X | head`): not a
        // failure. (A broken pipe on the network connection is one.)
        Err(err) if stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            errln!("eigen: error: {}", error::format_error(&err));
            ExitCode::FAILURE
        }
    }
}

fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<output::StdoutError>().is_some_and(|e| e.is_closed_reader()))
}

/// Logs to stderr, so stdout stays clean for results and `--json`.
fn init_logging(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation can only fail if a subscriber is already set,
    // which this binary never does; logging is best effort either way.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve::serve(args).await?,
            Command::Submit(args) => return jobs::submit(args).await,
            Command::Watch(args) => return jobs::watch(args).await,
            Command::Status(args) => jobs::status(args).await?,
            Command::Results(args) => jobs::results(args).await?,
            Command::Cancel(args) => jobs::cancel(args).await?,
            Command::Devices(args) => devices::list(args).await?,
            Command::Device(args) => devices::show(args).await?,
            Command::Reserve(args) => devices::reserve(args).await?,
            Command::Compile(args) => compile::compile(args).await?,
            Command::Validate(args) => return compile::validate(args).await,
            // Synchronous and CPU-bound (the simulator runs on rayon's pool).
            Command::Run(args) => run::run(&args)?,
            Command::HashKey(args) => hash_key(&args)?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn submit_accepts_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "eigen",
            "submit",
            "bell.qasm",
            "--target",
            "sim",
            "--shots",
            "1000",
            "--seed",
            "7",
            "-O",
            "optimization_level=2",
            "--wait",
            "--json",
        ])
        .expect("valid command line");
        let Command::Submit(args) = cli.command else { panic!("not submit") };
        assert_eq!(args.shots, 1000);
        assert!(args.wait && args.client.json);
        assert_eq!(args.options, vec![("optimization_level".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn wait_and_watch_exclude_each_other() {
        let r =
            Cli::try_parse_from(["eigen", "submit", "f", "--target", "sim", "--wait", "--watch"]);
        assert!(r.is_err());
    }
}
