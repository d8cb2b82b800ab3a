//! Job commands: `submit`, `watch`, `status`, `results`, `cancel`.

use super::client::{Api, ClientOpts};
use super::convert::{
    job_status_name, program_diagnostics, results_json, seconds, status_json, timestamp,
};
use super::follow::{PrintingSink, QuietSink, follow};
use super::output::counts_table;
use super::output::outln;
use super::program::ProgramFile;
use anyhow::bail;
use clap::Args;
use eigen_kernel::compiler::ProgramFormat;
use eigen_proto::api::v1 as pb;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tonic::Status;

/// Arguments of `eigen submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The OpenQASM 2 or 3 program.
    pub file: PathBuf,
    /// The device id to run on (see `eigen devices`).
    #[arg(long, short = 't')]
    pub target: String,
    /// Repetitions (0: the server's default).
    #[arg(long, short = 's', default_value_t = 1024)]
    pub shots: u32,
    /// Seed for reproducible results.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A name for the job (default: the file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Scheduling priority: higher runs first.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i32,
    /// End the job TIMEOUT when its execution runs longer than this.
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// Run in the slot of this reservation (from `eigen reserve`).
    #[arg(long)]
    pub reservation: Option<String>,
    /// Repeating a submit with the same key returns the first job.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Also return each shot's outcome.
    #[arg(long)]
    pub memory: bool,
    /// A compiler option, e.g. `-O optimization_level=2` (repeatable).
    #[arg(long = "option", short = 'O', value_parser = parse_key_value)]
    pub options: Vec<(String, String)>,
    /// Client metadata stored with the job, `key=value` (repeatable).
    #[arg(long = "meta", value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// A job that must be DONE first (repeatable).
    #[arg(long = "depends-on")]
    pub dependencies: Vec<String>,
    /// Show a live progress bar and the updates, then the counts.
    #[arg(long, conflicts_with = "wait")]
    pub watch: bool,
    /// Wait for the end and print the status and counts.
    #[arg(long)]
    pub wait: bool,
    /// Stop following after this long without any news from the server.
    #[arg(long, default_value_t = 120)]
    pub reconnect_secs: u64,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// Arguments of `eigen watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The job id.
    pub job_id: String,
    /// Start after this event (0: from the first).
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Stop following after this long without any news from the server.
    #[arg(long, default_value_t = 120)]
    pub reconnect_secs: u64,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// Arguments of the commands that take one job id.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job id.
    pub job_id: String,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// `key=value`.
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

fn proto_format(format: ProgramFormat) -> pb::ProgramFormat {
    match format {
        ProgramFormat::OpenQasm2 => pb::ProgramFormat::Openqasm2,
        ProgramFormat::OpenQasm3 => pb::ProgramFormat::Openqasm3,
        ProgramFormat::Detect => pb::ProgramFormat::Unspecified,
    }
}

/// Prints a rejected program's diagnostics as `file:line:col: ...` lines
/// before the status itself is reported.
fn report_program_errors(program: &ProgramFile, status: Status) -> anyhow::Error {
    if let Some(diags) = program_diagnostics(&status) {
        program.eprint_diagnostics(&diags);
    }
    status.into()
}

/// `eigen submit`.
pub async fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let program = ProgramFile::read(&args.file)?;
    let mut api = Api::connect(&args.client).await?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.file.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    });
    let request = pb::SubmitJobRequest {
        name,
        program: program.source.clone(),
        target: args.target.clone(),
        compiler_options: args.options.iter().cloned().collect::<HashMap<_, _>>(),
        metadata: args.metadata.iter().cloned().collect::<HashMap<_, _>>(),
        dependencies: args.dependencies.clone(),
        shots: args.shots,
        seed: args.seed,
        format: proto_format(program.format) as i32,
        idempotency_key: args.idempotency_key.clone().unwrap_or_default(),
        execution_timeout: args.timeout_secs.map(|s| prost_types::Duration {
            seconds: i64::try_from(s).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        priority: args.priority,
        reservation_id: args.reservation.clone(),
        memory: args.memory,
        statevector: false,
    };
    let accepted = match api.jobs.submit_job(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => return Err(report_program_errors(&program, status)),
    };
    let job_id = accepted.job_id.clone();
    let json = args.client.json;
    let give_up = Duration::from_secs(args.reconnect_secs);

    if !args.wait && !args.watch {
        if json {
            let v = json!({"job_id": job_id, "status": job_status_name(accepted.status)});
            outln!("{v}")?;
        } else {
            outln!("{job_id}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let terminal = if args.watch {
        if !json {
            outln!("job {job_id}")?;
        }
        let mut sink = PrintingSink::new(json, true);
        let end = follow(&mut api, &job_id, 0, give_up, &mut sink).await;
        sink.finish();
        end?
    } else {
        follow(&mut api, &job_id, 0, give_up, &mut QuietSink).await?
    };
    finish(&mut api, &job_id, &terminal, json).await
}

/// After the terminal update: the results of a DONE job, or why it ended.
async fn finish(
    api: &mut Api,
    job_id: &str,
    terminal: &pb::JobUpdate,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if terminal.state == pb::JobStatus::Done as i32 {
        let results = api
            .jobs
            .get_job_results(pb::JobResultsRequest { job_id: job_id.to_owned() })
            .await?
            .into_inner();
        print_results(&results, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let status = job_status_name(terminal.state);
    let message = terminal.message.clone().unwrap_or_default();
    if json {
        let v = json!({"job_id": job_id, "status": status, "message": message, "counts": null});
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
    }
    bail!("{}", ended_message(job_id, terminal))
}

fn print_results(r: &pb::JobResultsResponse, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&results_json(r))?)?;
        return Ok(());
    }
    let counts: BTreeMap<String, u64> = r.counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    outln!("{}", counts_table(&counts))?;
    if !r.memory.is_empty() {
        outln!("memory: {}", r.memory.join(" "))?;
    }
    for a in &r.artifacts {
        outln!("artifact {}: {} ({} bytes, sha256 {})", a.kind, a.uri, a.size_bytes, a.sha256)?;
    }
    if let Some(m) = &r.metadata {
        let ms = |d: Option<&prost_types::Duration>| {
            seconds(d).map_or_else(|| "-".to_owned(), |s| format!("{:.1} ms", s * 1e3))
        };
        outln!(
            "device {}  shots {}  seed {}  compile {}  queue {}  execute {}",
            m.device_id,
            m.shots,
            m.seed,
            ms(m.compile_duration.as_ref()),
            ms(m.queue_duration.as_ref()),
            ms(m.execution_duration.as_ref())
        )?;
        if let Some(s) = &m.compile_stats {
            outln!(
                "depth {}  2q gates {}  swaps {}  calibration {}  compiler {}",
                s.depth,
                s.two_qubit_gates,
                s.swaps,
                m.calibration_id,
                m.compiler_version
            )?;
        }
    }
    Ok(())
}

/// `eigen watch`.
pub async fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let mut api = Api::connect(&args.client).await?;
    let mut sink = PrintingSink::new(args.client.json, true);
    let end = follow(
        &mut api,
        &args.job_id,
        args.after,
        Duration::from_secs(args.reconnect_secs),
        &mut sink,
    )
    .await;
    sink.finish();
    let end = end?;
    if end.state != pb::JobStatus::Done as i32 {
        bail!("{}", ended_message(&args.job_id, &end));
    }
    Ok(ExitCode::SUCCESS)
}

/// `job ID ended STATUS: message`.
fn ended_message(job_id: &str, terminal: &pb::JobUpdate) -> String {
    let status = job_status_name(terminal.state);
    match terminal.message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => format!("job {job_id} ended {status}: {m}"),
        None => format!("job {job_id} ended {status}"),
    }
}

/// `eigen status`.
pub async fn status(args: JobArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let s = api
        .jobs
        .get_job_status(pb::JobStatusRequest { job_id: args.job_id.clone() })
        .await?
        .into_inner();
    let done = s.status == pb::JobStatus::Done as i32;
    if args.client.json {
        let mut v = status_json(&s);
        if done {
            let r = api
                .jobs
                .get_job_results(pb::JobResultsRequest { job_id: args.job_id.clone() })
                .await?
                .into_inner();
            v["counts"] = results_json(&r)["counts"].clone();
        }
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let mut status = job_status_name(s.status);
    if let Some(stage) = s.stage.as_deref().filter(|x| !x.is_empty()) {
        status.push_str(&format!(" ({stage}"));
        if let Some(p) = s.progress {
            status.push_str(&format!(" {:.0}%", p * 100.0));
        }
        status.push(')');
    }
    let rows: [(&str, Option<String>); 10] = [
        ("job", Some(s.job_id.clone())),
        ("status", Some(status)),
        ("message", Some(s.message.clone())),
        ("created", timestamp(s.created_at.as_ref())),
        ("started", timestamp(s.started_at.as_ref())),
        ("finished", timestamp(s.finished_at.as_ref())),
        ("queue position", s.queue_position.map(|p| p.to_string())),
        ("estimated start", timestamp(s.estimated_start.as_ref())),
        ("estimated end", timestamp(s.estimated_finish.as_ref())),
        ("last event", Some(s.last_event_seq.to_string())),
    ];
    for (label, value) in rows {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            outln!("{label:<16}{v}")?;
        }
    }
    for t in &s.stages {
        let from = timestamp(t.started_at.as_ref()).unwrap_or_default();
        let to = timestamp(t.finished_at.as_ref()).map_or_else(String::new, |t| format!(" -> {t}"));
        outln!("  {:<10}{from}{to}", job_status_name(t.status))?;
    }
    Ok(())
}

/// `eigen results`.
pub async fn results(args: JobArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let r = api
        .jobs
        .get_job_results(pb::JobResultsRequest { job_id: args.job_id.clone() })
        .await?
        .into_inner();
    print_results(&r, args.client.json)
}

/// `eigen cancel`.
pub async fn cancel(args: JobArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let r = api
        .jobs
        .cancel_job(pb::CancelJobRequest { job_id: args.job_id.clone() })
        .await?
        .into_inner();
    let status = job_status_name(r.status);
    if args.client.json {
        outln!("{}", json!({"job_id": r.job_id, "status": status}))?;
    } else {
        outln!("{} {status}", r.job_id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_and_reject_garbage() {
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=x").is_err());
    }

    #[test]
    fn results_json_has_the_public_keys() {
        let r = pb::JobResultsResponse {
            job_id: "j".into(),
            counts: HashMap::from([("00".to_owned(), 3), ("11".to_owned(), 5)]),
            ..Default::default()
        };
        let v = results_json(&r);
        assert_eq!(v["job_id"], "j");
        assert_eq!(v["status"], "DONE");
        assert_eq!(v["counts"]["11"], 5);
        assert!(v.get("memory").is_none());
    }
}
