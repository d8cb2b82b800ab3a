//! The [`KernelGateway`] implementation: every lookup scoped by tenant.

use super::live::{Change, LiveJob};
use super::{Inner, Kernel};
use crate::events::{Attach, EventSource, attach_finished, event_stream};
use crate::gateway::{
    DeviceInfo, JobEvent, JobResults, JobStatusView, KernelError, KernelGateway, RequestContext,
    Reservation, SubmitJob,
};
use crate::job::{JobId, JobStatus, TaskState};
use crate::reservations::Held;
use crate::scheduler::ReserveRefusal;
use crate::store::{ReservationRecord, Write};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tracing::Instrument;

fn job_not_found(id: &JobId) -> KernelError {
    KernelError::NotFound { resource_type: "job", name: id.0.clone() }
}

fn unavailable(e: impl std::fmt::Display) -> KernelError {
    KernelError::Unavailable(e.to_string())
}

impl Inner {
    /// The tenant's live job `id`, if it is live.
    fn live_for(&self, ctx: &RequestContext, id: &JobId) -> Option<Arc<LiveJob>> {
        self.live_get(id).filter(|j| j.tenant == ctx.tenant)
    }

    /// A live job's status with queue position and estimates.
    pub(crate) fn view_with_estimates(&self, job: &LiveJob) -> JobStatusView {
        let mut v = job.status_view();
        let fallback = job.prepared.get().map_or(Duration::ZERO, |p| {
            p.compiled.stats.estimated_duration.saturating_mul(job.spec.shots)
        });
        let now = SystemTime::now();
        match v.state {
            TaskState::Queued | TaskState::Allocating => {
                if let Some(p) = self.sched().position(job.device(), &job.id, fallback) {
                    v.queue_position = Some(p.ahead);
                    v.estimated_start = Some(now + p.start_in);
                    v.estimated_finish = Some(now + p.start_in + p.exec_time);
                }
            }
            TaskState::Executing(_) => {
                let average = self.sched().exec_average(job.device()).unwrap_or(fallback);
                let started = job.view().exec_started;
                if let Some(started) = started {
                    v.estimated_finish = Some(now + average.saturating_sub(started.elapsed()));
                }
            }
            _ => {}
        }
        v
    }

    /// `get_job_status`.
    pub(crate) async fn status(
        &self,
        ctx: &RequestContext,
        id: &JobId,
    ) -> Result<JobStatusView, KernelError> {
        if let Some(job) = self.live_for(ctx, id) {
            return Ok(self.view_with_estimates(&job));
        }
        if let Some(f) = self.finished_view(id) {
            return if f.tenant == ctx.tenant { Ok(f.view) } else { Err(job_not_found(id)) };
        }
        let job = self.store.job(id).await.map_err(unavailable)?;
        let job = job.filter(|j| j.tenant == ctx.tenant).ok_or_else(|| job_not_found(id))?;
        // Finished long ago (or just now, and evicted from memory): the
        // store has every event; the view is folded from them.
        let mut view = JobStatusView {
            job_id: id.clone(),
            state: TaskState::Pending,
            status: JobStatus::Compiling,
            stage: None,
            progress: None,
            message: String::new(),
            created_at: job.created_at,
            entered_at: BTreeMap::new(),
            queue_position: None,
            estimated_start: None,
            estimated_finish: None,
            last_event_seq: 0,
        };
        let mut after = 0;
        loop {
            let page = self.store.events_after(id, after, 1024).await.map_err(unavailable)?;
            let Some(last) = page.last() else { break };
            after = last.event_seq;
            for e in &page {
                view.entered_at.entry(e.status).or_insert(e.timestamp);
            }
            view.state = last.state;
            view.status = last.status;
            view.stage = last.stage.clone();
            view.progress = last.progress;
            view.message = last.message.clone();
            view.last_event_seq = last.event_seq;
        }
        Ok(view)
    }

    async fn cancel(&self, ctx: &RequestContext, id: &JobId) -> Result<JobStatusView, KernelError> {
        let Some(job) = self.live_for(ctx, id) else {
            return self.status(ctx, id).await;
        };
        job.cancel_requested.store(true, Ordering::SeqCst);
        // Stop a device that may be about to start or already running it.
        job.cancel.cancel();
        if job.state().is_waiting() {
            self.sched().remove(job.device(), &job.id);
            let msg = "cancelled by its owner";
            self.emit(&job, Change::To(TaskState::Cancelled), None, msg, vec![]).await?;
        }
        let _ = tokio::time::timeout(self.config.cancel_wait, job.wait_finished()).await;
        self.status(ctx, id).await
    }

    async fn reserve(
        &self,
        ctx: &RequestContext,
        device_id: &str,
        ttl: Duration,
        purpose: &str,
    ) -> Result<Reservation, KernelError> {
        let entry = self.devices.get(device_id).ok_or_else(|| KernelError::NotFound {
            resource_type: "device",
            name: device_id.to_string(),
        })?;
        if ttl.is_zero() || ttl > self.config.max_reservation_ttl {
            return Err(KernelError::InvalidArgument {
                field: "ttl".into(),
                description: format!(
                    "must be between 1 s and {} s",
                    self.config.max_reservation_ttl.as_secs()
                ),
            });
        }
        let dev = entry.device.clone();
        let status = tokio::task::spawn_blocking(move || dev.status())
            .await
            .map_err(|e| KernelError::Internal(e.to_string()))?;
        entry.accepting.store(status.accepts_jobs(), Ordering::SeqCst);
        if !status.accepts_jobs() {
            return Err(KernelError::FailedPrecondition {
                violation: "DEVICE_UNAVAILABLE".into(),
                subject: device_id.to_string(),
                description: format!("device {device_id} is {status:?}"),
            });
        }
        if self.book.count_for(&ctx.tenant) >= self.config.reservations_per_tenant {
            return Err(KernelError::ResourceExhausted {
                subject: format!("tenant:{}", ctx.tenant),
                description: format!(
                    "tenant {} holds {} reservations, the most allowed",
                    ctx.tenant, self.config.reservations_per_tenant
                ),
                retry_after: None,
            });
        }
        let id = format!("res-{}", uuid::Uuid::now_v7());
        let refused = self.sched().reserve(device_id, &id);
        match refused {
            Ok(()) => {}
            Err(ReserveRefusal::UnknownDevice) => {
                return Err(KernelError::NotFound {
                    resource_type: "device",
                    name: device_id.into(),
                });
            }
            Err(ReserveRefusal::NoFreeSlot) => {
                let retry = self.sched().exec_average(device_id).unwrap_or(Duration::from_secs(1));
                return Err(KernelError::ResourceExhausted {
                    subject: format!("device:{device_id}"),
                    description: format!("no free slot on {device_id}"),
                    retry_after: Some(retry.max(Duration::from_secs(1))),
                });
            }
        }
        let expires_at = SystemTime::now() + ttl;
        let record = ReservationRecord {
            id: id.clone(),
            tenant: ctx.tenant.clone(),
            device: device_id.to_string(),
            purpose: purpose.to_string(),
            expires_at,
        };
        if let Err(e) = self.store.commit(vec![Write::PutReservation(record)]).await {
            self.sched().unreserve(device_id, &id);
            return Err(unavailable(e));
        }
        self.book.insert(Held {
            id: id.clone(),
            tenant: ctx.tenant.clone(),
            device: device_id.to_string(),
            purpose: purpose.to_string(),
            expires_at,
            deadline: tokio::time::Instant::now() + ttl,
        });
        tracing::info!(trace_id = %ctx.trace_id, reservation = %id, device = device_id, ?ttl, "device slot reserved");
        self.wake_device(device_id);
        Ok(Reservation { reservation_id: id, device_id: device_id.to_string(), expires_at })
    }
}

#[async_trait]
impl EventSource for Inner {
    fn attach(&self, job: &JobId, after_seq: u64) -> Option<Attach> {
        // The live set first: a job is remembered as finished before it
        // leaves it, so one of the two always has it while it is recent.
        if let Some(job) = self.live_get(job) {
            let mut v = job.view();
            let finished = v.state.is_terminal();
            return Some(v.log.attach(after_seq, finished));
        }
        let finished = self.finished_view(job)?;
        Some(attach_finished(&finished.events, after_seq))
    }

    async fn stored_after(&self, job: &JobId, after_seq: u64, limit: u32) -> Vec<JobEvent> {
        match self.store.events_after(job, after_seq, limit).await {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(job_id = %job, error = %e, "cannot read job events");
                Vec::new()
            }
        }
    }
}

#[async_trait]
impl KernelGateway for Kernel {
    async fn enqueue_job(
        &self,
        ctx: &RequestContext,
        job: SubmitJob,
    ) -> Result<JobStatusView, KernelError> {
        let span = tracing::info_span!("submit", trace_id = %ctx.trace_id, tenant = %ctx.tenant);
        self.inner.submit(ctx, job).instrument(span).await
    }

    async fn get_job_status(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError> {
        self.inner.status(ctx, job_id).await
    }

    async fn cancel_job(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError> {
        let span = tracing::info_span!("cancel", job_id = %job_id, trace_id = %ctx.trace_id);
        self.inner.cancel(ctx, job_id).instrument(span).await
    }

    async fn job_events(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
        after_seq: u64,
    ) -> Result<BoxStream<'static, JobEvent>, KernelError> {
        // Checks existence and ownership.
        self.inner.status(ctx, job_id).await?;
        let source: Arc<dyn EventSource> = self.inner.clone();
        Ok(event_stream(source, job_id.clone(), after_seq))
    }

    async fn get_job_results(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobResults, KernelError> {
        // A job that just finished: its results are still in memory.
        if let Some(f) = self.inner.finished_view(job_id)
            && f.tenant == ctx.tenant
            && let Some(results) = f.results
        {
            return Ok(JobResults::clone(&results));
        }
        let view = self.inner.status(ctx, job_id).await?;
        if view.status != JobStatus::Done {
            return Err(KernelError::FailedPrecondition {
                violation: "JOB_NOT_DONE".into(),
                subject: job_id.0.clone(),
                description: format!(
                    "job {job_id} is {}, results exist once it is DONE",
                    view.status
                ),
            });
        }
        self.inner
            .store
            .results(job_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KernelError::Internal(format!("job {job_id} is DONE without results")))
    }

    async fn list_devices(&self, _ctx: &RequestContext) -> Result<Vec<DeviceInfo>, KernelError> {
        let mut out = Vec::with_capacity(self.inner.devices.len());
        for (id, entry) in &self.inner.devices {
            let dev = entry.device.clone();
            let status = tokio::task::spawn_blocking(move || dev.status())
                .await
                .map_err(|e| KernelError::Internal(e.to_string()))?;
            let queue_length = self.inner.sched().queue_length(id);
            out.push(DeviceInfo { target: entry.target.clone(), status, queue_length });
        }
        Ok(out)
    }

    async fn reserve_device(
        &self,
        ctx: &RequestContext,
        device_id: &str,
        ttl: Duration,
        purpose: &str,
    ) -> Result<Reservation, KernelError> {
        self.inner.reserve(ctx, device_id, ttl, purpose).await
    }
}
