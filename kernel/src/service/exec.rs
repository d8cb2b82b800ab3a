//! Running jobs: one dispatcher per device takes jobs off its queue while
//! the device accepts work, and runs each one of two ways:
//! - *on a blocking thread* (`Device::execute` blocks): Allocating and
//!   Executing are committed first, then the async side relays progress,
//!   emits heartbeats and enforces the timeout while the device runs;
//! - *inline*, when the executable's last run on a simulator took at most
//!   `KernelConfig::inline_run_limit` (a 2-qubit circuit takes microseconds): the device runs
//!   on the dispatching worker and the whole execution is recorded in one
//!   commit, because for such runs the thread hand-offs and the commit
//!   before the run cost more than the run itself.
//!
//! Either way every transition is an event, persisted before it is
//! published, and the outcome (terminal event, results) is one commit.

use super::live::{Change, LiveJob, Prepared, Step};
use super::{DeviceEntry, Inner};
use crate::compiler::COMPILER_VERSION;
use crate::gateway::{ExecutionMetadata, JobResults, KernelError};
use crate::job::{ExecStage, TaskState};
use crate::scheduler::Slot;
use crate::store::Write;
use eigen_hal::{
    DeviceError, DeviceKind, ErrorKind, ExecContext, ExecOptions, ExecResult, Progress,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        steps.push(Step {
            change: Change::Same,
            progress: Some(fraction),
            message: String::new(),
            at: None,
        });
        *last_progress = Instant::now();
    }
    steps
}

pub(super) enum Outcome {
    Ran(Option<Duration>),
    Requeue,
}

/// Jobs with a timeout shorter than this always run on a blocking thread,
/// where the timeout can interrupt them.
const INLINE_MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// A run on a blocking thread reports its stages only after this long:
/// a short run's stages go out with its outcome, in one commit.
const STAGE_GRACE: Duration = Duration::from_millis(20);

/// What the last run of an executable on its device cost: shared by every
/// job of the same compilation (see `compile_cache`).
#[derive(Debug, Default)]
pub(crate) struct ExecHistory {
    nanos: AtomicU64,
    shots: AtomicU64,
}

impl ExecHistory {
    pub(super) fn record(&self, took: Duration, shots: u32) {
        self.nanos.store(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.shots.store(u64::from(shots.max(1)), Ordering::Relaxed);
    }

    /// The expected duration of a run of `shots`: the last run's, scaled up
    /// (never down) with the shots. `None` before a first run.
    fn predict(&self, shots: u32) -> Option<Duration> {
        let last_shots = self.shots.load(Ordering::Relaxed);
        if last_shots == 0 {
            return None;
        }
        let nanos = u128::from(self.nanos.load(Ordering::Relaxed));
        let scaled = nanos * u128::from(shots.max(1)) / u128::from(last_shots);
        Some(Duration::from_nanos(u64::try_from(scaled.max(nanos)).unwrap_or(u64::MAX)))
    }
}

/// Whether `job` runs inline: on a simulator (which computes, never waits
/// on I/O), without a short timeout, and its executable's last run there
/// was short.
pub(super) fn runs_inline(
    inner: &Inner,
    entry: &DeviceEntry,
    job: &LiveJob,
    prepared: &Prepared,
) -> bool {
    let limit = inner.config.inline_run_limit;
    entry.target.kind == DeviceKind::Simulator
        && job.spec.timeout.is_none_or(|t| t >= INLINE_MIN_TIMEOUT)
        && prepared.history.predict(job.spec.shots).is_some_and(|d| d <= limit)
}

/// A finished run of the device, not yet recorded.
pub(super) struct Run {
    /// The device's answer, or why there is none (it panicked).
    pub result: Result<Result<ExecResult, DeviceError>, String>,
    pub took: Duration,
    /// The time spent in `Device::execute` (without hand-offs).
    pub device_time: Duration,
    timed_out: bool,
    /// Events of the execution not emitted yet, in order.
    pending: Vec<Step>,
    stage: ExecStage,
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

fn exec_options(job: &LiveJob) -> ExecOptions {
    ExecOptions {
        shots: job.spec.shots,
        seed: job.spec.seed,
        memory: job.spec.memory,
        statevector: job.spec.statevector,
    }
}

/// A progress sink that keeps the reports for the async side, and wakes
/// it through `reported` once `eager` is set.
fn recorder(
    reports: Arc<Mutex<Reports>>,
    reported: Arc<Notify>,
    eager: Arc<AtomicBool>,
) -> Arc<dyn eigen_hal::ProgressSink> {
    Arc::new(move |p: Progress| {
        reports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(p);
        if eager.load(Ordering::SeqCst) {
            reported.notify_one();
        }
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the device panicked".into())
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
    let run = if runs_inline(inner, entry, job, &prepared) {
        run_inline(job, entry, &prepared)
    } else {
        match run_blocking(inner, job, entry, &prepared).await? {
            Some(run) => run,
            None => return Ok(Outcome::Ran(None)),
        }
    };
    match &run.result {
        Ok(Ok(_)) => prepared.history.record(run.device_time, job.spec.shots),
        // Before the slot frees: the dispatcher must not start another job.
        Ok(Err(e)) if e.kind() == ErrorKind::Offline => {
            entry.accepting.store(false, Ordering::SeqCst);
        }
        _ => {}
    }
    if let Some(slot) = slot.take() {
        inner.sched().release(job.device(), &slot);
        inner.wake_device(job.device());
    }
    record_run(inner, job, &prepared, run, queue_duration).await
}

/// Runs a short job on this thread. Nothing is committed before: the whole
/// execution (Allocating, its stages, the outcome, the results) is one
/// commit after the device returns, its events stamped when they happened.
/// A restart during the run finds the job Queued and runs it again.
pub(super) fn run_inline(job: &LiveJob, entry: &DeviceEntry, prepared: &Prepared) -> Run {
    let started_at = crate::store::now();
    let started = Instant::now();
    let reports = Arc::new(Mutex::new(Reports::default()));
    let never = Arc::new(AtomicBool::new(false));
    let ctx = ExecContext {
        progress: recorder(reports.clone(), Arc::new(Notify::new()), never),
        cancel: job.cancel.clone(),
    };
    let options = exec_options(job);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        entry.device.execute(&prepared.executable, &options, &ctx)
    }))
    .map_err(|p| {
        format!("internal error: the device failed while executing: {}", panic_message(&*p))
    });
    let took = started.elapsed();
    let mut pending = vec![
        Step::to(TaskState::Allocating, None).at(started_at),
        Step::to(TaskState::Executing(ExecStage::Upload), Some(0.0)).at(started_at),
    ];
    let mut stage = ExecStage::Upload;
    pending.extend(stage_steps(&reports, &mut stage, &mut Instant::now()));
    Run { result, took, device_time: took, timed_out: false, pending, stage }
}

/// Runs `job` on a blocking thread once Allocating and Executing(Upload)
/// are committed (so a restart during a long run re-queues the job only
/// once), relaying progress, heartbeats and the timeout meanwhile. `None`
/// when the job can no longer start (cancelled meanwhile).
async fn run_blocking(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    entry: &DeviceEntry,
    prepared: &Arc<Prepared>,
) -> Result<Option<Run>, KernelError> {
    // Allocating and Executing(Upload) happen back to back: one commit.
    let steps = vec![
        Step::to(TaskState::Allocating, None),
        Step::to(TaskState::Executing(ExecStage::Upload), Some(0.0)),
    ];
    if !inner.emit_steps(job, steps, vec![]).await? {
        return Ok(None);
    }
    let started = Instant::now();
    job.view().exec_started = Some(started);
    let reports = Arc::new(Mutex::new(Reports::default()));
    let reported = Arc::new(Notify::new());
    let eager = Arc::new(AtomicBool::new(false));
    let ctx = ExecContext {
        progress: recorder(reports.clone(), reported.clone(), eager.clone()),
        cancel: job.cancel.clone(),
    };
    let options = exec_options(job);
    let mut handle = {
        let (device, prepared, span) = (entry.device.clone(), prepared.clone(), job.span.clone());
        tokio::task::spawn_blocking(move || {
            let _g = span.enter();
            let t = Instant::now();
            let result = device.execute(&prepared.executable, &options, &ctx);
            (result, t.elapsed())
        })
    };
    let timeout = job.spec.timeout.unwrap_or(Duration::from_secs(100 * 365 * 24 * 3600));
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let grace = tokio::time::sleep(STAGE_GRACE);
    tokio::pin!(grace);
    // A zero period would spin (and `interval` panics on it): treat it as off.
    let hb = inner.config.heartbeat_interval.filter(|p| !p.is_zero());
    let period = hb.unwrap_or(timeout);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut stage = ExecStage::Upload;
    let mut last_progress = Instant::now();
    let (mut timed_out, mut graced) = (false, false);
    let result = loop {
        tokio::select! {
            r = &mut handle => break r,
            () = &mut grace, if !graced => {
                // From now on every report wakes us.
                graced = true;
                eager.store(true, Ordering::SeqCst);
                relay(inner, job, &reports, &mut stage, &mut last_progress).await?;
            }
            () = reported.notified() => {
                relay(inner, job, &reports, &mut stage, &mut last_progress).await?;
            }
            _ = heartbeat.tick(), if hb.is_some() => {
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
    let took = started.elapsed();
    let (result, device_time) = match result {
        Ok((r, t)) => (Ok(r), t),
        Err(join) => {
            (Err(format!("internal error: the device failed while executing: {join}")), took)
        }
    };
    // Stages the device reported just before returning: emitted with the
    // outcome.
    let pending = stage_steps(&reports, &mut stage, &mut last_progress);
    Ok(Some(Run { result, took, device_time, timed_out, pending, stage }))
}

/// Records the outcome of `run`: its pending events, then the terminal
/// event (with the results when it completed) or a re-queue, in one commit.
async fn record_run(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    prepared: &Arc<Prepared>,
    run: Run,
    queue_duration: Duration,
) -> Result<Outcome, KernelError> {
    let took = run.took;
    let v = verdict(inner, job, prepared, run, queue_duration).await;
    let all = inner.emit_steps(job, v.steps, v.extra).await?;
    if !all && v.has_artifacts {
        inner.artifacts.remove_job(&job.id);
    }
    if all && v.requeue {
        return Ok(Outcome::Requeue);
    }
    Ok(Outcome::Ran(Some(took)))
}

/// What a finished run comes to, not yet recorded.
pub(super) struct Verdict {
    /// The events: the run's pending stages, then the terminal event (or
    /// the move back to Queued).
    pub steps: Vec<Step>,
    /// Writes that go with the last step (the results).
    pub extra: Vec<Write>,
    /// The job goes back on its queue (a transient device error).
    pub requeue: bool,
    /// Artifacts were written for the results (removed if the steps do not
    /// all apply).
    pub has_artifacts: bool,
}

/// The verdict on `run`: completed with its results, cancelled, failed, or
/// re-queued after a transient device error (up to `max_device_retries`).
pub(super) async fn verdict(
    inner: &Arc<Inner>,
    job: &Arc<LiveJob>,
    prepared: &Arc<Prepared>,
    run: Run,
    queue_duration: Duration,
) -> Verdict {
    let Run { result, took, timed_out, mut pending, stage, .. } = run;
    let cancelled = job.cancel_requested.load(Ordering::SeqCst);
    let (mut extra, mut requeue, mut has_artifacts) = (Vec::new(), false, false);
    let end = |change: TaskState, message: String| Step {
        change: Change::To(change),
        progress: None,
        message,
        at: None,
    };
    let last = match result {
        Err(msg) => end(TaskState::Failed, msg),
        Ok(Ok(_)) | Ok(Err(_)) if cancelled => {
            end(TaskState::Cancelled, "cancelled by its owner".into())
        }
        Ok(Ok(res)) => match build_results(inner, job, prepared, res, queue_duration, took).await {
            Ok((results, artifacts)) => {
                if stage < ExecStage::Readout {
                    pending.push(Step::to(TaskState::Executing(ExecStage::Readout), Some(1.0)));
                }
                has_artifacts = artifacts;
                extra.push(Write::Results { job_id: job.id.clone(), results: Arc::new(results) });
                Step::to(TaskState::Completed, Some(1.0))
            }
            Err(msg) => end(TaskState::Failed, msg),
        },
        // Our timeout asked for it (the job already ended TIMEOUT), or the
        // device stopped on its own.
        Ok(Err(e)) if e.kind() == ErrorKind::Cancelled => {
            end(TaskState::Cancelled, format!("device cancelled the execution: {e}"))
        }
        Ok(Err(e)) if e.kind().is_transient() && !timed_out => {
            let attempt = job.device_retries.fetch_add(1, Ordering::SeqCst) + 1;
            let max = inner.config.max_device_retries;
            if attempt <= max {
                requeue = true;
                let msg =
                    format!("device {:?}: {e}; re-queued (retry {attempt} of {max})", e.kind());
                end(TaskState::Queued, msg)
            } else {
                end(TaskState::Failed, format!("device {:?} after {max} retries: {e}", e.kind()))
            }
        }
        Ok(Err(e)) => end(TaskState::Failed, format!("device error ({:?}): {e}", e.kind())),
    };
    pending.push(last);
    Verdict { steps: pending, extra, requeue, has_artifacts }
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
    let (mut results, large) = format_results(inner, job, prepared, res, queue_duration, took);
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

/// Payloads of a result too large to inline, by kind, as JSON bytes.
type LargePayloads = Vec<(&'static str, Vec<u8>)>;

/// The results of a run with what fits inline, and the payloads that must
/// become artifacts (not written yet).
fn format_results(
    inner: &Inner,
    job: &LiveJob,
    prepared: &Prepared,
    res: ExecResult,
    queue_duration: Duration,
    took: Duration,
) -> (JobResults, LargePayloads) {
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
    let mut large: LargePayloads = Vec::new();
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
    (results, large)
}

/// JSON bytes of plain vectors of strings and numbers (which cannot fail to
/// serialize; a non-finite amplitude becomes `null`).
fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_predicts_from_the_last_run_scaled_up_with_shots() {
        let h = ExecHistory::default();
        assert_eq!(h.predict(100), None, "no run yet");
        h.record(Duration::from_micros(40), 1000);
        assert_eq!(h.predict(1000), Some(Duration::from_micros(40)));
        assert_eq!(h.predict(4000), Some(Duration::from_micros(160)));
        assert_eq!(h.predict(10), Some(Duration::from_micros(40)), "never scaled down");
        h.record(Duration::from_millis(5), 10);
        assert_eq!(h.predict(10), Some(Duration::from_millis(5)), "the last run counts");
    }
}
