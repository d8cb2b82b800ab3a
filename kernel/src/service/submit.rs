//! Submitting a job: checks, compile, one durable insert, then scheduling;
//! or, for a short program on an idle simulator, the run itself, committed
//! with the job in the same transaction (see `early`).

use super::compile_cache::{CompileCache, Hit};
use super::detach::FinishOnDrop;
use super::exec::ExecHistory;
use super::live::{Change, LiveJob, Prepared, outcome_writes, plan_steps};
use super::{Inner, lock};
use crate::compiler::{self, CompileOptions, Severity};
use crate::gateway::{JobEvent, JobStatusView, KernelError, RequestContext, SubmitJob};
use crate::job::{JobId, JobStatus, TaskState};
use crate::scheduler::QueuedJob;
use crate::store::{StoreErrorKind, StoredJob, Write};
use eigen_hal::{Executable, Target};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

/// Programs at least this long are compiled on a blocking thread.
const INLINE_COMPILE_BYTES: usize = 16 * 1024;

fn invalid(field: &str, description: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument { field: field.into(), description: description.into() }
}

/// The compiler options a job asked for.
pub(crate) fn compile_options(job: &SubmitJob) -> Result<CompileOptions, KernelError> {
    let mut options = CompileOptions::default();
    for (k, v) in &job.compiler_options {
        match k.as_str() {
            "optimization_level" => {
                options.optimization_level =
                    v.parse().ok().filter(|l| *l <= 3).ok_or_else(|| {
                        invalid(
                            "compiler_options.optimization_level",
                            format!("{v:?} is not 0..=3"),
                        )
                    })?;
            }
            other => {
                return Err(invalid(
                    "compiler_options",
                    format!("unknown option {other:?} (known: optimization_level)"),
                ));
            }
        }
    }
    Ok(options)
}

/// Compiles `job` for `target` (or takes the compilation from `cache`);
/// errors are the program's diagnostics.
pub(crate) async fn prepare(
    cache: &CompileCache,
    job: &SubmitJob,
    target: &Target,
) -> Result<Prepared, KernelError> {
    let options = compile_options(job)?;
    let started = Instant::now();
    if let Some(hit) = cache.get(&job.program, job.format, target, &options) {
        return Ok(Prepared {
            compiled: hit.compiled,
            executable: hit.executable,
            compile_time: started.elapsed(),
            history: hit.history,
        });
    }
    let compiled = if job.program.len() < INLINE_COMPILE_BYTES {
        compiler::compile(&job.program, job.format, target, &options)
    } else {
        let (program, format, target, options) =
            (job.program.clone(), job.format, target.clone(), options.clone());
        tokio::task::spawn_blocking(move || compiler::compile(&program, format, &target, &options))
            .await
            .map_err(|e| KernelError::Internal(e.to_string()))?
    };
    let compiled = compiled.map_err(|diags| {
        KernelError::InvalidProgram(
            diags.into_iter().filter(|d| d.severity == Severity::Error).collect(),
        )
    })?;
    let executable = Arc::new(Executable::Circuit(compiled.circuit.clone()));
    let compiled = Arc::new(compiled);
    let hit = Hit { compiled, executable, history: Arc::new(ExecHistory::default()) };
    cache.put(&job.program, job.format, target, &options, &hit);
    Ok(Prepared {
        compiled: hit.compiled,
        executable: hit.executable,
        compile_time: started.elapsed(),
        history: hit.history,
    })
}

impl Inner {
    /// `enqueue_job`, idempotency included.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        ctx: &RequestContext,
        job: SubmitJob,
    ) -> Result<JobStatusView, KernelError> {
        if self.is_stopped() {
            return Err(KernelError::Unavailable("the kernel is shutting down".into()));
        }
        let Some(key) = job.idempotency_key.clone() else {
            return self.submit_new(ctx, job).await;
        };
        let map_key = (ctx.tenant.clone(), key.clone());
        let cell = lock(&self.idempotency).entry(map_key.clone()).or_default().clone();
        let id = cell
            .get_or_try_init(|| async {
                match self.store.job_by_idempotency_key(&ctx.tenant, &key).await {
                    Ok(Some(id)) => Ok(id),
                    Ok(None) => self.submit_new(ctx, job).await.map(|v| v.job_id),
                    Err(e) => Err(KernelError::Unavailable(e.to_string())),
                }
            })
            .await
            .cloned();
        {
            // Once the job is durable the store answers; keep the map small.
            let mut map = lock(&self.idempotency);
            if map.get(&map_key).is_some_and(|c| Arc::ptr_eq(c, &cell)) && cell.initialized() {
                map.remove(&map_key);
            }
        }
        self.status(ctx, &id?).await
    }

    fn check(&self, ctx: &RequestContext, job: &SubmitJob) -> Result<&Target, KernelError> {
        let device = self.devices.get(&job.target).ok_or_else(|| KernelError::NotFound {
            resource_type: "device",
            name: job.target.clone(),
        })?;
        let limits = &device.target.limits;
        if job.shots == 0 || job.shots > limits.max_shots {
            return Err(invalid(
                "shots",
                format!("{} is not in 1..={} for {}", job.shots, limits.max_shots, job.target),
            ));
        }
        if job.timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid("timeout", "must be positive when given"));
        }
        if job.statevector && device.target.kind != eigen_hal::DeviceKind::Simulator {
            return Err(invalid("statevector", format!("{} is not a simulator", job.target)));
        }
        if let Some(r) = &job.reservation_id {
            match self.book.get(r) {
                Some(h) if h.tenant == ctx.tenant => {
                    if h.device != job.target {
                        return Err(invalid(
                            "reservation_id",
                            format!("reservation {r} holds {}, not {}", h.device, job.target),
                        ));
                    }
                }
                _ => {
                    return Err(KernelError::NotFound {
                        resource_type: "reservation",
                        name: r.clone(),
                    });
                }
            }
        }
        if job.dependencies.len() > 1000 {
            return Err(invalid("dependencies", "at most 1000"));
        }
        Ok(&device.target)
    }

    fn take_quota(&self, tenant: &str) -> Result<(), KernelError> {
        let mut w = lock(&self.waiting);
        let n = w.entry(tenant.to_string()).or_insert(0);
        if *n >= self.config.queued_jobs_quota_per_tenant {
            return Err(KernelError::ResourceExhausted {
                subject: format!("tenant:{tenant}"),
                description: format!(
                    "tenant {tenant} has {} jobs waiting, the most allowed",
                    self.config.queued_jobs_quota_per_tenant
                ),
                retry_after: Some(Duration::from_secs(5)),
            });
        }
        *n += 1;
        Ok(())
    }

    fn give_back_quota(&self, tenant: &str) {
        self.count_waiting(tenant, TaskState::Queued, TaskState::Completed);
    }

    async fn submit_new(
        self: &Arc<Self>,
        ctx: &RequestContext,
        job: SubmitJob,
    ) -> Result<JobStatusView, KernelError> {
        let created_at = crate::store::now();
        self.check(ctx, &job)?;
        for dep in &job.dependencies {
            if self.dependency_status(ctx, dep).await?.is_none() {
                return Err(invalid("dependencies", format!("job {dep} not found")));
            }
        }
        self.take_quota(&ctx.tenant)?;
        // The rest runs to its end even if the caller goes away (an RPC
        // dropped by its client or its deadline): once the batch is handed
        // to the store the job may be durable, and must then be scheduled
        // (or finished) in memory too, never left stuck until a restart.
        // It runs on the caller's task; only a dropped caller's leftover
        // moves to a task of its own (see `detach`).
        let (me, ctx) = (self.clone(), ctx.clone());
        let accept = async move {
            let result = me.persist_new(&ctx, job, created_at).await;
            if result.is_err() {
                me.give_back_quota(&ctx.tenant);
            }
            let live = result?;
            if !live.state().is_terminal() {
                me.schedule(&live).await;
            }
            Ok(me.view_with_estimates(&live))
        };
        FinishOnDrop::new(accept.instrument(tracing::Span::current())).await
    }

    async fn persist_new(
        self: &Arc<Self>,
        ctx: &RequestContext,
        job: SubmitJob,
        created_at: SystemTime,
    ) -> Result<Arc<LiveJob>, KernelError> {
        let target = &self
            .devices
            .get(&job.target)
            .ok_or_else(|| KernelError::NotFound {
                resource_type: "device",
                name: job.target.clone(),
            })?
            .target;
        let prepared = prepare(&self.compile_cache, &job, target).await?;
        let id = JobId::new();
        let live = Arc::new(LiveJob::new(
            id.clone(),
            ctx.tenant.clone(),
            ctx.trace_id.clone(),
            job.clone(),
            created_at,
            TaskState::Queued,
            0,
        ));
        let compiled_at = crate::store::now();
        let message = format!(
            "compiled: depth {}, {} two-qubit gates",
            prepared.compiled.stats.depth, prepared.compiled.stats.two_qubit_gates
        );
        let path = [
            (TaskState::Pending, created_at, String::from("accepted")),
            (TaskState::Validating, created_at, String::new()),
            (TaskState::Compiling, created_at, String::new()),
            (TaskState::Queued, compiled_at, message),
        ];
        let events: Vec<JobEvent> = path
            .iter()
            .zip(1u64..)
            .map(|((state, at, msg), seq)| JobEvent {
                job_id: id.clone(),
                event_seq: seq,
                state: *state,
                status: state.status(),
                stage: state.stage().map(Into::into),
                progress: None,
                message: msg.clone(),
                timestamp: *at,
            })
            .collect();
        let mut batch = vec![Write::InsertJob(Box::new(StoredJob {
            id: id.clone(),
            tenant: ctx.tenant.clone(),
            trace_id: ctx.trace_id.clone(),
            spec: job,
            created_at,
            recoveries: 0,
            final_state: None,
            finished_at: None,
        }))];
        batch.extend(events.iter().cloned().map(Write::Event));
        let prepared = Arc::new(prepared);
        // A short simulator run on an idle device happens now, and its
        // outcome commits with the job (see `early`).
        let mut early = None;
        if let Some(verdict) = super::early::run_early(self, &live, &prepared).await {
            let seq = events.len() as u64;
            let total = verdict.steps.len();
            let applied = plan_steps(&live, TaskState::Queued, seq, verdict.steps);
            if applied.len() == total {
                let results = outcome_writes(&live, &applied, Some(verdict.extra), &mut batch);
                early = Some((applied, results, verdict.has_artifacts));
            } else if verdict.has_artifacts {
                // Cannot happen (every step of a run applies from Queued);
                // the job then runs the usual way.
                self.artifacts.remove_job(&live.id);
            }
        }
        let committed = self.store.commit(batch).await.map_err(|e| match e.kind() {
            StoreErrorKind::Conflict => KernelError::FailedPrecondition {
                violation: "IDEMPOTENCY_KEY_IN_USE".into(),
                subject: ctx.tenant.clone(),
                description: "a job with this idempotency key already exists".into(),
            },
            _ => KernelError::Unavailable(e.to_string()),
        });
        if let Err(e) = committed {
            // The early run, if any, is discarded with the job.
            if early.as_ref().is_some_and(|(_, _, artifacts)| *artifacts) {
                self.artifacts.remove_job(&live.id);
            }
            return Err(e);
        }
        let _ = live.prepared.set(prepared);
        {
            let mut v = live.view();
            for ev in events {
                v.entered.entry(ev.status).or_insert(ev.timestamp);
                v.log.publish(ev);
            }
            v.message = path[3].2.clone();
            v.queued_at = Some(Instant::now());
        }
        tracing::info!(parent: &live.span, device = %live.device(), "job accepted");
        if let Some(obs) = &self.config.observer {
            let mut from = None;
            for (state, _, _) in &path {
                obs.on_transition(&id, live.device(), from, *state, Duration::ZERO);
                from = Some(*state);
            }
        }
        if let Some((applied, results, _)) = early {
            // Finishes the job (or re-queues it after a transient device
            // error) in memory, as the store has it now.
            let since = live.view().since;
            self.publish_applied(&live, applied, since, results);
        }
        if !live.state().is_terminal() {
            self.live_insert(live.clone());
        }
        Ok(live)
    }

    /// The public status of a dependency visible to the tenant, `None` when
    /// there is no such job.
    pub(crate) async fn dependency_status(
        &self,
        ctx: &RequestContext,
        id: &JobId,
    ) -> Result<Option<JobStatus>, KernelError> {
        match self.status(ctx, id).await {
            Ok(v) => Ok(Some(v.status)),
            Err(KernelError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Puts a Queued job on its device's queue once its dependencies are
    /// DONE; ends it ERROR if one ended otherwise.
    pub(crate) async fn schedule(self: &Arc<Self>, job: &Arc<LiveJob>) {
        let ctx = RequestContext { tenant: job.tenant.clone(), trace_id: job.trace_id.clone() };
        for dep in &job.spec.dependencies {
            let mut status = self.dependency_status(&ctx, dep).await;
            if matches!(status, Ok(Some(s)) if !s.is_terminal()) {
                // Register, then look again: a dependency finishing in
                // between still wakes us.
                lock(&self.dependents).entry(dep.clone()).or_default().push(job.id.clone());
                status = self.dependency_status(&ctx, dep).await;
            }
            let failure = match status {
                Ok(Some(JobStatus::Done)) => continue,
                Ok(Some(s)) if s.is_terminal() => format!("dependency {dep} ended {s}"),
                Ok(Some(_)) => return,
                Ok(None) => format!("dependency {dep} no longer exists"),
                Err(e) => {
                    tracing::warn!(parent: &job.span, error = %e, "cannot read a dependency");
                    return;
                }
            };
            let _ = self.emit(job, Change::To(TaskState::Failed), None, failure, vec![]).await;
            return;
        }
        self.enqueue_ready(job);
    }

    /// Puts a Queued job whose dependencies are DONE on its device's queue.
    pub(crate) fn enqueue_ready(self: &Arc<Self>, job: &Arc<LiveJob>) {
        if job.state() != TaskState::Queued || job.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        let queued = QueuedJob {
            id: job.id.clone(),
            tenant: job.tenant.clone(),
            priority: job.spec.priority,
            reservation: job.spec.reservation_id.clone(),
            wait_deadline: job.spec.timeout.map(|t| Instant::now() + t),
        };
        if self.sched().enqueue(job.device(), queued).is_err() {
            let (inner, job) = (self.clone(), job.clone());
            tokio::spawn(async move {
                let msg = format!(
                    "reservation {} lapsed before the job ran",
                    job.spec.reservation_id.as_deref().unwrap_or("?")
                );
                let _ = inner.emit(&job, Change::To(TaskState::Failed), None, msg, vec![]).await;
            });
            return;
        }
        self.wake_device(job.device());
    }

    /// A job finished: re-check the jobs that depend on it.
    pub(crate) fn wake_dependents(&self, id: &JobId) {
        let Some(waiters) = lock(&self.dependents).remove(id) else {
            return;
        };
        let Some(me) = self.self_arc() else { return };
        for w in waiters {
            if let Some(job) = me.live_get(&w) {
                let me = me.clone();
                tokio::spawn(async move { me.schedule(&job).await });
            }
        }
    }
}
