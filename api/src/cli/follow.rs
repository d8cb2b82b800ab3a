//! Following a job: StreamJobUpdates until the terminal update, resuming from
//! the last seen `event_seq` when the connection drops, with backoff.
//!
//! The server replays the job's durable event log after `last_event_seq`, so
//! a reconnect neither loses nor repeats an update; updates with a sequence
//! number already seen are skipped anyway, so a server that replays more than
//! asked cannot make the CLI print an update twice.

use super::client::Api;
use super::convert::{is_terminal, job_status_name, update_json};
use super::error::format_status;
use super::output::{StdoutError, errln, outln};
use eigen_proto::api::v1 as pb;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};
use tonic::{Code, Status};

/// First wait before reconnecting; doubled after each failure.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a follower does with each update.
pub trait UpdateSink {
    /// A new (never seen) update, in order. An error (stdout closed) stops
    /// following.
    fn update(&mut self, update: &pb::JobUpdate) -> Result<(), StdoutError>;
    /// A heartbeat while RUNNING.
    fn heartbeat(&mut self, _update: &pb::JobUpdate) {}
    /// The connection dropped; a reconnect follows after `delay`.
    fn reconnecting(&mut self, status: &Status, last_seq: u64, delay: Duration) {
        errln!(
            "eigen: connection lost ({}); resuming after event {last_seq} in {:.1}s",
            format_status(status),
            delay.as_secs_f64()
        );
    }
}

/// Failures worth a reconnect: the transport, not the request.
fn is_retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled | Code::Aborted
    )
}

/// Follows `job_id` from after `last_seq` until its terminal update, which it
/// returns. Gives up when no update arrived for `give_up_after` while the
/// connection kept failing.
pub async fn follow(
    api: &mut Api,
    job_id: &str,
    mut last_seq: u64,
    give_up_after: Duration,
    sink: &mut dyn UpdateSink,
) -> anyhow::Result<pb::JobUpdate> {
    let mut backoff = INITIAL_BACKOFF;
    let mut last_progress = Instant::now();
    loop {
        let request = pb::JobUpdatesRequest { job_id: job_id.to_owned(), last_event_seq: last_seq };
        let failure = match api.jobs.stream_job_updates(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(update)) => {
                            last_progress = Instant::now();
                            backoff = INITIAL_BACKOFF;
                            if update.heartbeat {
                                sink.heartbeat(&update);
                                continue;
                            }
                            if update.event_seq <= last_seq {
                                continue;
                            }
                            last_seq = update.event_seq;
                            sink.update(&update)?;
                            if is_terminal(update.state) {
                                return Ok(update);
                            }
                        }
                        Ok(None) => {
                            break Status::unavailable("the update stream ended before the job");
                        }
                        Err(status) if is_retryable(&status) => break status,
                        Err(status) => return Err(status.into()),
                    }
                }
            }
            Err(status) if is_retryable(&status) => status,
            Err(status) => return Err(status.into()),
        };
        if last_progress.elapsed() >= give_up_after {
            return Err(Status::new(
                failure.code(),
                format!(
                    "gave up following job {job_id} after {}s without updates: {}",
                    give_up_after.as_secs(),
                    failure.message()
                ),
            )
            .into());
        }
        sink.reconnecting(&failure, last_seq, backoff);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `#SEQ STATUS stage progress message`: one update for people.
#[must_use]
pub fn update_line(u: &pb::JobUpdate) -> String {
    let mut line = format!("#{} {}", u.event_seq, job_status_name(u.state));
    if let Some(stage) = u.stage.as_deref().filter(|s| !s.is_empty()) {
        line.push(' ');
        line.push_str(stage);
    }
    if let Some(p) = u.progress {
        line.push_str(&format!(" {:.0}%", p * 100.0));
    }
    if let Some(m) = u.message.as_deref().filter(|m| !m.is_empty()) {
        line.push_str(" - ");
        line.push_str(m);
    }
    line
}

/// Prints updates as lines (or JSON lines) on stdout, under a live progress
/// bar on stderr showing the status and stage. The bar hides itself when
/// stderr is not a terminal.
#[derive(Debug)]
pub struct PrintingSink {
    json: bool,
    bar: ProgressBar,
}

impl PrintingSink {
    /// A sink that prints; the bar is shown only when `live` and on a terminal.
    #[must_use]
    pub fn new(json: bool, live: bool) -> Self {
        let bar = if live && !json {
            ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template(
            "{spinner} {prefix:<9} [{bar:30}] {pos:>3}% {msg} ({elapsed})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix("SUBMITTED");
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { json, bar }
    }

    /// Removes the bar (before printing results).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl UpdateSink for PrintingSink {
    fn update(&mut self, u: &pb::JobUpdate) -> Result<(), StdoutError> {
        let line = if self.json { update_json(u).to_string() } else { update_line(u) };
        // Suspend the bar so the line lands above it, on stdout.
        self.bar.suspend(|| outln!("{line}"))?;
        self.bar.set_prefix(job_status_name(u.state));
        self.bar.set_message(u.stage.clone().unwrap_or_default());
        let pos = u.progress.map_or(0, |p| (p.clamp(0.0, 1.0) * 100.0).round() as u64);
        self.bar.set_position(if is_terminal(u.state) { 100 } else { pos });
        Ok(())
    }

    fn heartbeat(&mut self, u: &pb::JobUpdate) {
        if let Some(p) = u.progress {
            self.bar.set_position((p.clamp(0.0, 1.0) * 100.0).round() as u64);
        }
    }

    fn reconnecting(&mut self, status: &Status, last_seq: u64, delay: Duration) {
        self.bar.suspend(|| {
            errln!(
                "eigen: connection lost ({}); resuming after event {last_seq} in {:.1}s",
                format_status(status),
                delay.as_secs_f64()
            );
        });
    }
}

/// Records nothing: for `--wait`, which only needs the end.
#[derive(Debug, Default)]
pub struct QuietSink;

impl UpdateSink for QuietSink {
    fn update(&mut self, _update: &pb::JobUpdate) -> Result<(), StdoutError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_lines_show_seq_status_stage_progress_message() {
        let u = pb::JobUpdate {
            job_id: "j".into(),
            state: pb::JobStatus::Running as i32,
            stage: Some("run".into()),
            progress: Some(0.4),
            message: Some("shots".into()),
            event_seq: 5,
            timestamp: None,
            heartbeat: false,
        };
        assert_eq!(update_line(&u), "#5 RUNNING run 40% - shots");
        let done = pb::JobUpdate {
            state: pb::JobStatus::Done as i32,
            stage: None,
            progress: None,
            message: None,
            event_seq: 6,
            ..u
        };
        assert_eq!(update_line(&done), "#6 DONE");
    }

    #[test]
    fn only_transport_failures_are_retried() {
        assert!(is_retryable(&Status::unavailable("x")));
        assert!(!is_retryable(&Status::not_found("x")));
        assert!(!is_retryable(&Status::unauthenticated("x")));
    }
}
