//! A live (unfinished) job in memory, and the one place its state changes:
//! [`Inner::emit`] checks the transition, makes the event durable, then
//! publishes it. Transitions of one job are serialized, so its event
//! sequence is gapless and its terminal event unique whatever races.

use super::Inner;
use crate::compiler::Compiled;
use crate::events::EventLog;
use crate::gateway::{JobEvent, JobResults, JobStatusView, KernelError, SubmitJob};
use crate::job::{JobId, JobStatus, TaskState};
use crate::store::Write;
use eigen_hal::{CancelToken, Executable};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// What a job compiled to.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Shared with other jobs of the same program (see `compile_cache`).
    pub compiled: Arc<Compiled>,
    pub executable: Arc<Executable>,
    pub compile_time: Duration,
    /// How long the executable last took on its device (shared like
    /// `compiled`); decides whether a run is short enough to do inline.
    pub history: Arc<super::exec::ExecHistory>,
}

/// The mutable, quickly readable part of a live job.
#[derive(Debug)]
pub(crate) struct View {
    pub state: TaskState,
    pub since: Instant,
    pub progress: Option<f64>,
    pub message: String,
    pub entered: BTreeMap<JobStatus, SystemTime>,
    pub log: EventLog,
    pub queued_at: Option<Instant>,
    pub exec_started: Option<Instant>,
}

/// A job that has not finished.
#[derive(Debug)]
pub(crate) struct LiveJob {
    pub id: JobId,
    pub tenant: String,
    pub trace_id: String,
    pub spec: SubmitJob,
    pub created_at: SystemTime,
    pub prepared: OnceLock<Arc<Prepared>>,
    pub recoveries: AtomicU32,
    pub device_retries: AtomicU32,
    pub cancel: CancelToken,
    pub cancel_requested: AtomicBool,
    /// Set once it is on a device queue (or running), so a dependency
    /// finishing twice cannot queue it twice.
    pub scheduled: AtomicBool,
    pub span: tracing::Span,
    serial: tokio::sync::Mutex<()>,
    view: Mutex<View>,
    finished: watch::Sender<bool>,
}

/// A state change, or an event in the same state (progress, heartbeat).
#[derive(Debug, Clone)]
pub(crate) enum Change {
    To(TaskState),
    Same,
}

/// One event of [`Inner::emit_steps`].
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub change: Change,
    pub progress: Option<f64>,
    pub message: String,
    /// When it happened, if before the steps are emitted (an execution
    /// recorded after the device returned); `None` means now.
    pub at: Option<SystemTime>,
}

impl Step {
    /// A move to `to` with `progress` and no message.
    pub fn to(to: TaskState, progress: Option<f64>) -> Self {
        Self { change: Change::To(to), progress, message: String::new(), at: None }
    }

    /// This step as having happened at `at`.
    #[must_use]
    pub fn at(self, at: SystemTime) -> Self {
        Self { at: Some(at), ..self }
    }
}

impl LiveJob {
    pub fn new(
        id: JobId,
        tenant: String,
        trace_id: String,
        spec: SubmitJob,
        created_at: SystemTime,
        state: TaskState,
        last_seq: u64,
    ) -> Self {
        let span = tracing::info_span!("job", job_id = %id, trace_id = %trace_id);
        let mut entered = BTreeMap::new();
        entered.insert(state.status(), created_at);
        Self {
            id,
            tenant,
            trace_id,
            spec,
            created_at,
            prepared: OnceLock::new(),
            recoveries: AtomicU32::new(0),
            device_retries: AtomicU32::new(0),
            cancel: CancelToken::new(),
            cancel_requested: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            span,
            serial: tokio::sync::Mutex::new(()),
            view: Mutex::new(View {
                state,
                since: Instant::now(),
                progress: None,
                message: String::new(),
                entered,
                log: EventLog::resumed(last_seq),
                queued_at: None,
                exec_started: None,
            }),
            finished: watch::channel(false).0,
        }
    }

    pub fn device(&self) -> &str {
        &self.spec.target
    }

    pub fn view(&self) -> MutexGuard<'_, View> {
        // Every critical section leaves the view consistent (plain field
        // updates), so a poisoned lock still holds a valid view.
        self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> TaskState {
        self.view().state
    }

    /// Resolves once the job is finished.
    pub async fn wait_finished(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|f| *f).await;
    }

    /// The status as a client sees it (queue estimates are added by the
    /// caller, which holds the scheduler).
    pub fn status_view(&self) -> JobStatusView {
        let v = self.view();
        JobStatusView {
            job_id: self.id.clone(),
            state: v.state,
            status: v.state.status(),
            stage: v.state.stage().map(Into::into),
            progress: v.progress,
            message: v.message.clone(),
            created_at: self.created_at,
            entered_at: v.entered.clone(),
            queue_position: None,
            estimated_start: None,
            estimated_finish: None,
            last_event_seq: v.log.last_seq(),
        }
    }
}

/// A step that applies: the state it leaves, the state it enters, its
/// event.
pub(crate) type Applied = (TaskState, TaskState, JobEvent);

/// The events of `steps` for `job`, starting from `state` after event
/// `seq`: checked against the state machine, stopping at the first step
/// that no longer applies (or after a terminal one). Nothing is persisted
/// or published.
pub(crate) fn plan_steps(
    job: &LiveJob,
    mut state: TaskState,
    mut seq: u64,
    steps: Vec<Step>,
) -> Vec<Applied> {
    let mut applied = Vec::with_capacity(steps.len());
    let now = crate::store::now();
    for step in steps {
        if state.is_terminal() {
            break;
        }
        let to = match step.change {
            Change::Same => state,
            Change::To(to) => match state.transition(to) {
                Ok(to) => to,
                Err(illegal) => {
                    tracing::debug!(parent: &job.span, %illegal, "transition not applied");
                    break;
                }
            },
        };
        seq += 1;
        let event = JobEvent {
            job_id: job.id.clone(),
            event_seq: seq,
            state: to,
            status: to.status(),
            stage: to.stage().map(Into::into),
            progress: step.progress,
            message: step.message,
            // Never before the previous event (the wall clock may step
            // back).
            timestamp: step.at.map_or(now, |at| at.min(now)),
        };
        applied.push((state, to, event));
        state = to;
    }
    applied
}

/// Appends to `batch` the writes of `applied` (non-empty): its events,
/// `extra` (which belongs with the last step, so the caller passes it only
/// when every step applied), and the terminal state if it ends in one.
/// Returns the results among `extra`, to keep in memory once published.
pub(crate) fn outcome_writes(
    job: &LiveJob,
    applied: &[Applied],
    extra: Option<Vec<Write>>,
    batch: &mut Vec<Write>,
) -> Option<Arc<JobResults>> {
    batch.extend(applied.iter().map(|(_, _, e)| Write::Event(e.clone())));
    let extra = extra.unwrap_or_default();
    let results = extra.iter().find_map(|w| match w {
        Write::Results { results, .. } => Some(results.clone()),
        _ => None,
    });
    batch.extend(extra);
    if let Some((_, to, e)) = applied.last()
        && to.is_terminal()
    {
        batch.push(Write::Finish { job_id: job.id.clone(), state: *to, at: e.timestamp });
    }
    results
}

impl Inner {
    /// Applies `change` to `job`: checks it against the state machine,
    /// persists the event (with `extra` writes, atomically), then publishes
    /// it. `Ok(false)` when the change no longer applies (the job finished,
    /// or the move is not legal from where the job is now).
    pub(crate) async fn emit(
        &self,
        job: &Arc<LiveJob>,
        change: Change,
        progress: Option<f64>,
        message: impl Into<String>,
        extra: Vec<Write>,
    ) -> Result<bool, KernelError> {
        let step = Step { change, progress, message: message.into(), at: None };
        self.emit_steps(job, vec![step], extra).await
    }

    /// Applies several changes that happen back to back (say Allocating
    /// then Executing) as one atomic store commit: one event each, in
    /// order, with `extra` in the same transaction. Steps stop at the first
    /// that no longer applies; the ones before it are still applied.
    /// `Ok(true)` when every step applied. Each event is durable before it
    /// is published, as with [`Inner::emit`].
    pub(crate) async fn emit_steps(
        &self,
        job: &Arc<LiveJob>,
        steps: Vec<Step>,
        extra: Vec<Write>,
    ) -> Result<bool, KernelError> {
        let _serial = job.serial.lock().await;
        let (first_since, total) = (job.view().since, steps.len());
        let (state, seq) = {
            let v = job.view();
            (v.state, v.log.last_seq())
        };
        let applied = plan_steps(job, state, seq, steps);
        if applied.is_empty() {
            return Ok(false);
        }
        let all = applied.len() == total;
        let mut batch = Vec::with_capacity(applied.len() + 1 + extra.len());
        let results = outcome_writes(job, &applied, all.then_some(extra), &mut batch);
        self.store.commit(batch).await.map_err(|e| {
            tracing::error!(parent: &job.span, error = %e, "cannot persist job event");
            KernelError::Unavailable(e.to_string())
        })?;
        self.publish_applied(job, applied, first_since, results);
        Ok(all)
    }

    /// Publishes events planned by [`plan_steps`] once they are durable:
    /// the job's view moves with them, subscribers get them, and a terminal
    /// one finishes the job. `results` go with a completion.
    pub(crate) fn publish_applied(
        &self,
        job: &Arc<LiveJob>,
        applied: Vec<Applied>,
        first_since: Instant,
        results: Option<Arc<JobResults>>,
    ) {
        let Some((last_from, last_to)) = applied.last().map(|(f, t, _)| (*f, *t)) else {
            return;
        };
        let mut since = first_since;
        let (clock, instant) = (SystemTime::now(), Instant::now());
        for (from, to, event) in applied {
            let (seq, message, progress, now) =
                (event.event_seq, event.message.clone(), event.progress, event.timestamp);
            let moved = from != to;
            // When the event happened on the monotonic clock, so the time
            // spent in each state is right even for events recorded after
            // the fact (an inline run's).
            let happened = clock
                .duration_since(now)
                .ok()
                .and_then(|ago| instant.checked_sub(ago))
                .unwrap_or(instant)
                .max(since);
            let took = {
                let mut v = job.view();
                let took = happened.duration_since(since);
                if moved {
                    v.state = to;
                    v.since = happened;
                    since = happened;
                    v.entered.entry(to.status()).or_insert(now);
                    if to == TaskState::Queued {
                        v.queued_at = Some(Instant::now());
                    }
                }
                if progress.is_some() || moved {
                    v.progress = progress;
                }
                if !message.is_empty() || moved {
                    v.message = message.clone();
                }
                v.log.publish(event);
                took
            };
            if moved {
                self.count_waiting(&job.tenant, from, to);
                tracing::info!(parent: &job.span, from = from.as_str(), to = to.as_str(), seq, %message, "job transition");
                if let Some(obs) = &self.config.observer {
                    obs.on_transition(&job.id, job.device(), Some(from), to, took);
                }
            }
        }
        if last_to.is_terminal() {
            let _ = job.finished.send(true);
            self.on_finished(job, last_from, results);
        }
    }

    /// Keeps the per-tenant count of waiting jobs (the quota) in step.
    pub(crate) fn count_waiting(&self, tenant: &str, from: TaskState, to: TaskState) {
        let mut w = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = w.entry(tenant.to_string()).or_insert(0);
        match (from.is_waiting(), to.is_waiting()) {
            (true, false) => *n = n.saturating_sub(1),
            (false, true) => *n += 1,
            _ => {}
        }
        if *n == 0 {
            w.remove(tenant);
        }
    }

    /// The job finished: move it out of the live set, wake its dependents.
    fn on_finished(&self, job: &Arc<LiveJob>, from: TaskState, results: Option<Arc<JobResults>>) {
        if from.is_waiting() {
            self.sched().remove(job.device(), &job.id);
        }
        let view = job.status_view();
        let events = job.view().log.recent(super::CACHED_EVENTS);
        self.remember_finished(&job.tenant, view, results, events);
        self.live_remove(&job.id);
        self.wake_dependents(&job.id);
        self.wake_device(job.device());
    }

    pub(crate) fn live_get(&self, id: &JobId) -> Option<Arc<LiveJob>> {
        self.live_shard(id)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub(crate) fn live_insert(&self, job: Arc<LiveJob>) {
        self.live_shard(&job.id)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(job.id.clone(), job);
    }

    fn live_remove(&self, id: &JobId) {
        self.live_shard(id).lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    pub(crate) fn live_count(&self) -> usize {
        self.live
            .iter()
            .map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len())
            .sum()
    }
}
