//! Running jobs: one dispatcher per device takes jobs off its queue while
//! the device accepts work, and each job executes on a blocking thread
//! (`Device::execute` blocks) while its async side relays progress, emits
//! heartbeats, and enforces the timeout.

use super::Inner;
use super::live::{Change, LiveJob, Prepared, Step};
use crate::compiler::COMPILER_VERSION;
use crate::gateway::{ExecutionMetadata, JobResults, KernelError};
use crate::job::{ExecStage, TaskState};
use crate::scheduler::Slot;
use crate::store::Write;
use eigen_hal::{ErrorKind, ExecContext, ExecOptions, ExecResult, Progress};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::Instrument;

/// At most one progress event per job per this interval (stage changes are
/// always emitted).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// The dispatcher of `device`: starts jobs whenever a slot is free and the
/// device accepts work; polls the device status; ends jobs that waited for
/// an unavailable device past their timeout.
pub(crate) async fn dispatch_loop(inner: Weak<Inner>, device: String) {
    let Some(me) = inner.upgrade() else { return };
    let mut poll = tokio::time::interval(me.config.device_poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    drop(me);
    loop {
        let Some(me) = inner.upgrade() else { return };
        let Some(entry) = me.devices.get(&device) else {
            return;
        };
        tokio::select! {
            () = entry.wake.notified() => {}
            _ = poll.tick() => {
                let dev = entry.device.clone();
                if let Ok(status) = tokio::task::spawn_blocking(move || dev.status()).await {
                    let was = entry.accepting.swap(status.accepts_jobs(), Ordering::SeqCst);
                    if was != status.accepts_jobs() {
                        tracing::info!(device = %device, ?status, "device status changed");
                    }
                }
            }
        }
        if me.is_stopped() {
            return;
        }
        if !entry.accepting.load(Ordering::SeqCst) {
            let overdue = me.sched().take_overdue(&device, std::time::Instant::now());
            for q in overdue {
                if let Some(job) = me.live_get(&q.id) {
                    let msg = format!("device {device} was not available within the job's timeout");
                    let _ = me.emit(&job, Change::To(TaskState::Failed), None, msg, vec![]).await;
                }
            }
            continue;
        }
        loop {
            let next = me.sched().next(&device);
            let Some((queued, slot)) = next else { break };
            match me.live_get(&queued.id) {
                Some(job) => {
                    let span = job.span.clone();
                    tokio::spawn(run_job(me.clone(), job, slot).instrument(span));
                }
                None => me.sched().release(&device, &slot),
            }
        }
    }
}

/// Progress reports from the device thread, waiting for the async side:
/// every change of stage (so none is lost), and the latest fraction.
#[derive(Default)]
struct Reports {
    stages: Vec<(&'static str, f64)>,
    last_stage: &'static str,
    latest: Option<f64>,
}

impl Reports {
    fn add(&mut self, p: Progress) {
        if p.stage != self.last_stage {
            self.last_stage = p.stage;
            self.stages.push((p.stage, p.fraction));
            self.latest = None;
        } else {
            self.latest = Some(p.fraction);
        }
    }

    fn take(&mut self) -> (Vec<(&'static str, f64)>, Option<f64>) {
        (std::mem::take(&mut self.stages), self.latest.take())
    }
}

/// Turns the device's pending progress reports into events: each new stage
/// a transition, the fraction at most once per [`PROGRESS_INTERVAL`]. The
/// new stages go out in one store commit.
async fn relay(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    reports: &Mutex<Reports>,
    stage: &mut ExecStage,
    last_progress: &mut Instant,
) -> Result<(), KernelError> {
    let steps = stage_steps(reports, stage, last_progress);
    if !steps.is_empty() {
        inner.emit_steps(job, steps, vec![]).await?;
    }
    Ok(())
}

/// The events for the device's pending progress reports (see [`relay`]),
/// not yet emitted.
fn stage_steps(
    reports: &Mutex<Reports>,
    stage: &mut ExecStage,
    last_progress: &mut Instant,
) -> Vec<Step> {
    let (stages, latest) = reports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    let mut steps = Vec::new();
    for (name, fraction) in stages {
        if let Some(next) = ExecStage::from_progress(name).filter(|s| s > stage) {
            *stage = next;
            steps.push(Step::to(TaskState::Executing(next), Some(fraction)));
            *last_progress = Instant::now();
        }
    }
    if let Some(fraction) = latest
        && last_progress.elapsed() >= PROGRESS_INTERVAL
    {
        steps.push(Step { change: Change::Same, progress: Some(fraction), message: String::new() });
        *last_progress = Instant::now();
    }
    steps
}

enum Outcome {
    Ran(Option<Duration>),
    Requeue,
}

async fn run_job(inner: Arc<Inner>, job: Arc<LiveJob>, slot: Slot) {
    let device = job.device().to_string();
    let mut slot = Some(slot);
    let outcome = match execute(&inner, &job, &mut slot).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "job execution could not be recorded");
            Outcome::Ran(None)
        }
    };
    {
        let mut sched = inner.sched();
        if let Some(slot) = slot.take() {
            sched.release(&device, &slot);
        }
        if let Outcome::Ran(Some(took)) = outcome {
            sched.record_execution(&device, took);
        }
    }
    if matches!(outcome, Outcome::Requeue) {
        job.scheduled.store(false, Ordering::SeqCst);
        inner.enqueue_ready(&job);
    }
    inner.wake_device(&device);
}

/// Runs `job` on its device. `slot` is released (and the dispatcher woken)
/// as soon as the device returns: recording the outcome does not need the
/// device, so the next job starts while this one's last events commit.
async fn execute(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    slot: &mut Option<Slot>,
) -> Result<Outcome, KernelError> {
    let Some(prepared) = job.prepared.get().cloned() else {
        let msg = "internal error: the job was scheduled before it was compiled";
        inner.emit(job, Change::To(TaskState::Failed), None, msg, vec![]).await?;
        return Ok(Outcome::Ran(None));
    };
    let Some(entry) = inner.devices.get(job.device()) else {
        return Ok(Outcome::Ran(None));
    };
    let queue_duration = job.view().queued_at.map_or(Duration::ZERO, |t| t.elapsed());
    // Allocating and Executing(Upload) happen back to back: one commit.
    let steps = vec![
        Step::to(TaskState::Allocating, None),
        Step::to(TaskState::Executing(ExecStage::Upload), Some(0.0)),
    ];
    if !inner.emit_steps(job, steps, vec![]).await? {
        return Ok(Outcome::Ran(None));
    }
    let started = Instant::now();
    job.view().exec_started = Some(started);

    let reports = Arc::new(Mutex::new(Reports::default()));
    let reported = Arc::new(Notify::new());
    let ctx = ExecContext {
        progress: {
            let (reports, reported) = (reports.clone(), reported.clone());
            Arc::new(move |p: Progress| {
                reports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(p);
                reported.notify_one();
            })
        },
        cancel: job.cancel.clone(),
    };
    let options = ExecOptions {
        shots: job.spec.shots,
        seed: job.spec.seed,
        memory: job.spec.memory,
        statevector: job.spec.statevector,
    };
    let mut handle = {
        let (device, prepared, span) = (entry.device.clone(), prepared.clone(), job.span.clone());
        tokio::task::spawn_blocking(move || {
            let _g = span.enter();
            device.execute(&prepared.executable, &options, &ctx)
        })
    };
    let timeout = job.spec.timeout.unwrap_or(Duration::from_secs(100 * 365 * 24 * 3600));
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let hb = inner.config.heartbeat_interval;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + hb, hb);
    let mut stage = ExecStage::Upload;
    let mut last_progress = Instant::now();
    let mut timed_out = false;
    let result = loop {
        tokio::select! {
            r = &mut handle => break r,
            () = reported.notified() => {
                relay(inner, job, &reports, &mut stage, &mut last_progress).await?;
            }
            _ = heartbeat.tick() => {
                let progress = job.view().progress;
                inner.emit(job, Change::Same, progress, "heartbeat", vec![]).await?;
            }
            () = &mut deadline, if !timed_out => {
                timed_out = true;
                job.cancel.cancel();
                let msg = format!("execution exceeded its timeout of {timeout:?}");
                inner.emit(job, Change::To(TaskState::Timeout), None, msg, vec![]).await?;
            }
        }
    };
    // Stages the device reported just before returning: emitted with the
    // outcome when the job completed, on their own otherwise.
    let took = started.elapsed();
    if matches!(&result, Ok(Err(e)) if e.kind() == ErrorKind::Offline) {
        // Before the slot frees: the dispatcher must not start another job.
        entry.accepting.store(false, Ordering::SeqCst);
    }
    if let Some(slot) = slot.take() {
        inner.sched().release(job.device(), &slot);
        inner.wake_device(job.device());
    }
    let cancelled = job.cancel_requested.load(Ordering::SeqCst);
    let mut pending = stage_steps(&reports, &mut stage, &mut last_progress);
    if (cancelled || !matches!(result, Ok(Ok(_)))) && !pending.is_empty() {
        inner.emit_steps(job, std::mem::take(&mut pending), vec![]).await?;
    }
    let cancel_msg = "cancelled by its owner";
    match result {
        Err(join) => {
            let msg = format!("internal error: the device failed while executing: {join}");
            inner.emit(job, Change::To(TaskState::Failed), None, msg, vec![]).await?;
        }
        Ok(Ok(_)) | Ok(Err(_)) if cancelled => {
            inner.emit(job, Change::To(TaskState::Cancelled), None, cancel_msg, vec![]).await?;
        }
        Ok(Ok(res)) => {
            if stage < ExecStage::Readout {
                pending.push(Step::to(TaskState::Executing(ExecStage::Readout), Some(1.0)));
            }
            let results = build_results(inner, job, &prepared, res, queue_duration, took).await;
            match results {
                Ok((results, has_artifacts)) => {
                    // The last stages, the terminal event and the results:
                    // one commit.
                    pending.push(Step::to(TaskState::Completed, Some(1.0)));
                    let extra =
                        vec![Write::Results { job_id: job.id.clone(), results: Box::new(results) }];
                    let done = inner.emit_steps(job, pending, extra);
                    if !done.await? && has_artifacts {
                        inner.artifacts.remove_job(&job.id);
                    }
                }
                Err(msg) => {
                    pending.push(Step {
                        change: Change::To(TaskState::Failed),
                        progress: None,
                        message: msg,
                    });
                    inner.emit_steps(job, pending, vec![]).await?;
                }
            }
        }
        Ok(Err(e)) if e.kind() == ErrorKind::Cancelled => {
            // Our timeout asked for it (the job already ended TIMEOUT), or
            // the device stopped on its own.
            let msg = format!("device cancelled the execution: {e}");
            inner.emit(job, Change::To(TaskState::Cancelled), None, msg, vec![]).await?;
        }
        Ok(Err(e)) if e.kind().is_transient() && !timed_out => {
            if e.kind() == ErrorKind::Offline {
                entry.accepting.store(false, Ordering::SeqCst);
            }
            let attempt = job.device_retries.fetch_add(1, Ordering::SeqCst) + 1;
            let max = inner.config.max_device_retries;
            if attempt <= max {
                let msg =
                    format!("device {:?}: {e}; re-queued (retry {attempt} of {max})", e.kind());
                if inner.emit(job, Change::To(TaskState::Queued), None, msg, vec![]).await? {
                    return Ok(Outcome::Requeue);
                }
            } else {
                let msg = format!("device {:?} after {max} retries: {e}", e.kind());
                inner.emit(job, Change::To(TaskState::Failed), None, msg, vec![]).await?;
            }
        }
        Ok(Err(e)) => {
            let msg = format!("device error ({:?}): {e}", e.kind());
            inner.emit(job, Change::To(TaskState::Failed), None, msg, vec![]).await?;
        }
    }
    Ok(Outcome::Ran(Some(took)))
}

/// Formats the device's outcomes as the program's bitstrings; payloads too
/// large to inline become artifacts.
async fn build_results(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    prepared: &Arc<Prepared>,
    res: ExecResult,
    queue_duration: Duration,
    took: Duration,
) -> Result<(JobResults, bool), String> {
    let circuit = &prepared.compiled.circuit;
    let mut counts = std::collections::BTreeMap::new();
    for (outcome, n) in &res.counts {
        *counts.entry(circuit.format_outcome(*outcome)).or_insert(0) += n;
    }
    let memory: Option<Vec<String>> =
        res.memory.map(|m| m.iter().map(|o| circuit.format_outcome(*o)).collect());
    let statevector: Option<Vec<(f64, f64)>> =
        res.statevector.map(|v| v.iter().map(|c| (c.re, c.im)).collect());
    let probabilities: Option<Vec<f64>> =
        statevector.as_ref().map(|v| v.iter().map(|(re, im)| re * re + im * im).collect());
    let target = inner.devices.get(job.device()).map(|d| d.target.calibration_id.clone());
    let mut results = JobResults {
        counts,
        memory: None,
        statevector: None,
        probabilities: None,
        metadata: ExecutionMetadata {
            device: job.device().to_string(),
            shots: job.spec.shots,
            seed: res.seed,
            compile_duration: prepared.compile_time,
            queue_duration,
            execution_duration: if res.duration.is_zero() { took } else { res.duration },
            calibration_id: target.unwrap_or_default(),
            compiler_version: COMPILER_VERSION.to_string(),
            compile_stats: prepared.compiled.stats.clone(),
        },
        artifacts: Vec::new(),
    };
    let limit = inner.config.inline_limit_bytes;
    let mut large: Vec<(&'static str, Vec<u8>)> = Vec::new();
    if let Some(m) = memory {
        let bytes = json(&m);
        if bytes.len() > limit { large.push(("memory", bytes)) } else { results.memory = Some(m) }
    }
    if let (Some(sv), Some(p)) = (statevector, probabilities) {
        let bytes = json(&sv);
        if bytes.len() > limit {
            large.push(("statevector", bytes));
            large.push(("probabilities", json(&p)));
        } else {
            results.statevector = Some(sv);
            results.probabilities = Some(p);
        }
    }
    let has_artifacts = !large.is_empty();
    if has_artifacts {
        let (artifacts, id) = (inner.artifacts.clone(), job.id.clone());
        let refs = tokio::task::spawn_blocking(move || {
            large
                .iter()
                .map(|(kind, bytes)| artifacts.put(&id, kind, bytes))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await
        .map_err(|e| format!("internal error: {e}"))?
        .map_err(|e| format!("cannot store result artifacts: {e}"))?;
        results.artifacts = refs;
    }
    Ok((results, has_artifacts))
}

/// JSON bytes of plain vectors of strings and numbers (which cannot fail to
/// serialize; a non-finite amplitude becomes `null`).
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}
