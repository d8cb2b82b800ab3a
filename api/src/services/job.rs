//! `JobService`: submit a program, follow it, fetch its results.

use super::Shared;
use crate::auth::context;
use crate::convert;
use crate::error::{self, ApiError};
use crate::metrics::OpenStream;
use eigen_kernel::gateway::{JobEvent, KernelError, RequestContext};
use eigen_kernel::job::{JobId, JobStatus};
use eigen_proto::api::v1 as pb;
use futures::StreamExt;
use futures::stream::BoxStream;
use pb::job_service_server::JobService;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::{Request, Response, Status};

/// The `JobService` implementation.
#[derive(Debug, Clone)]
pub struct JobApi {
    shared: Shared,
}

impl JobApi {
    /// A service over `shared`.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl JobService for JobApi {
    type StreamJobUpdatesStream = UpdateStream;

    async fn submit_job(
        &self,
        request: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::JobResponse>, Status> {
        let ctx = context(&request)?;
        let job =
            convert::submit_from_pb(request.into_inner(), self.shared.limits.max_program_bytes)?;
        let target = job.target.clone();
        let view = self.shared.gateway.enqueue_job(&ctx, job).await.map_err(|e| {
            tracing::info!(trace_id = %ctx.trace_id, tenant = %ctx.tenant, %target, error = %e, "submit refused");
            error::kernel(e)
        })?;
        tracing::info!(job_id = %view.job_id, trace_id = %ctx.trace_id, tenant = %ctx.tenant, %target, "job accepted");
        Ok(Response::new(pb::JobResponse {
            job_id: view.job_id.0,
            status: convert::job_status_to_pb(view.status) as i32,
            created_at: Some(convert::timestamp(view.created_at)),
        }))
    }

    async fn get_job_status(
        &self,
        request: Request<pb::JobStatusRequest>,
    ) -> Result<Response<pb::JobStatusResponse>, Status> {
        let ctx = context(&request)?;
        let id = convert::job_id(&request.get_ref().job_id)?;
        let view = self.shared.gateway.get_job_status(&ctx, &id).await.map_err(error::kernel)?;
        Ok(Response::new(convert::status_view_to_pb(&view)))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::CancelJobResponse>, Status> {
        let ctx = context(&request)?;
        let id = convert::job_id(&request.get_ref().job_id)?;
        let view = self.shared.gateway.cancel_job(&ctx, &id).await.map_err(error::kernel)?;
        tracing::info!(job_id = %id, trace_id = %ctx.trace_id, status = %view.status, "cancel requested");
        Ok(Response::new(pb::CancelJobResponse {
            job_id: view.job_id.0,
            status: convert::job_status_to_pb(view.status) as i32,
        }))
    }

    async fn stream_job_updates(
        &self,
        request: Request<pb::JobUpdatesRequest>,
    ) -> Result<Response<Self::StreamJobUpdatesStream>, Status> {
        let ctx = context(&request)?;
        let id = convert::job_id(&request.get_ref().job_id)?;
        let after = request.get_ref().last_event_seq;
        if usize::try_from(self.shared.metrics.open_streams()).unwrap_or(0)
            >= self.shared.limits.max_open_streams
        {
            return Err(error::overloaded(
                "server:open_streams",
                "too many open update streams; poll GetJobStatus or retry shortly",
                std::time::Duration::from_secs(1),
            ));
        }
        let events =
            self.shared.gateway.job_events(&ctx, &id, after).await.map_err(error::kernel)?;
        // On resume, the latest known update seeds the heartbeat: a RUNNING
        // job may have nothing new to send for a long time.
        let latest = if after > 0 {
            let v = self.shared.gateway.get_job_status(&ctx, &id).await.map_err(error::kernel)?;
            (v.last_event_seq == after).then(|| {
                let update = pb::JobUpdate {
                    job_id: id.0.clone(),
                    state: convert::job_status_to_pb(v.status) as i32,
                    stage: v.stage,
                    progress: v.progress,
                    message: Some(v.message).filter(|m| !m.is_empty()),
                    event_seq: v.last_event_seq,
                    timestamp: None,
                    heartbeat: false,
                };
                LastUpdate::new(&update, v.status)
            })
        } else {
            None
        };
        let span =
            tracing::info_span!("stream_job_updates", job_id = %id, trace_id = %ctx.trace_id);
        Ok(Response::new(UpdateStream::new(&self.shared, id, events, latest, span)))
    }

    async fn get_job_results(
        &self,
        request: Request<pb::JobResultsRequest>,
    ) -> Result<Response<pb::JobResultsResponse>, Status> {
        let ctx = context(&request)?;
        let id = convert::job_id(&request.get_ref().job_id)?;
        match self.shared.gateway.get_job_results(&ctx, &id).await {
            Ok(results) => Ok(Response::new(convert::results_to_pb(&id, results))),
            Err(KernelError::FailedPrecondition { violation, .. }) => {
                Err(self.not_done(&ctx, &id, violation).await)
            }
            Err(e) => Err(error::kernel(e)),
        }
    }
}

impl JobApi {
    /// FAILED_PRECONDITION naming the job's current status (in the message
    /// and as ErrorInfo metadata `status`).
    async fn not_done(&self, ctx: &RequestContext, id: &JobId, violation: String) -> Status {
        let status = match self.shared.gateway.get_job_status(ctx, id).await {
            Ok(v) => v.status,
            Err(e) => return error::kernel(e),
        };
        ApiError::from(KernelError::FailedPrecondition {
            violation,
            subject: format!("job:{id}"),
            description: format!("job {id} is {status}: results are available once it is DONE"),
        })
        .with_metadata("status", status.as_str())
        .with_metadata("job_id", id.0.clone())
        .into()
    }
}

/// The latest update taken; while RUNNING, the update itself, which
/// heartbeats repeat (kept only then, to save a copy of every update).
struct LastUpdate {
    event_seq: u64,
    status: JobStatus,
    running: Option<pb::JobUpdate>,
}

impl LastUpdate {
    fn new(update: &pb::JobUpdate, status: JobStatus) -> Self {
        let running = (status == JobStatus::Running).then(|| update.clone());
        Self { event_seq: update.event_seq, status, running }
    }
}

/// One client's `StreamJobUpdates` response: the job's kernel events as
/// public updates, in order, each `event_seq` once; while the job is RUNNING
/// and nothing new happens for a heartbeat period, the latest update again
/// with `heartbeat = true`, the same `event_seq` (a heartbeat consumes no
/// sequence number) and the current time. It ends after the terminal
/// update; with UNAVAILABLE (and the seq to resume from) when the server
/// shuts down or the kernel's event stream breaks off early.
///
/// Non-terminal updates may be held for up to the batch window, so that
/// updates close in time leave in one HTTP/2 frame; the terminal update
/// flushes everything held at once, so the end of a job is never late.
///
/// It is polled directly by the connection's response task (no task and
/// channel of its own in between: one wake-up less per update), and when the
/// client goes away it is simply dropped.
pub struct UpdateStream {
    id: JobId,
    events: BoxStream<'static, JobEvent>,
    latest: Option<LastUpdate>,
    period: Duration,
    heartbeat: Pin<Box<tokio::time::Sleep>>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Updates converted but not yet sent.
    held: VecDeque<pb::JobUpdate>,
    window: Duration,
    linger: Pin<Box<tokio::time::Sleep>>,
    lingering: bool,
    flushing: bool,
    /// Set once no more events will be read: what to end with after the
    /// held updates (an error, or a clean end).
    end: Option<Option<Status>>,
    done: bool,
    span: tracing::Span,
    _open: OpenStream,
}

impl std::fmt::Debug for UpdateStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateStream")
            .field("job_id", &self.id)
            .field("last_event_seq", &self.last_seq())
            .field("held", &self.held.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl UpdateStream {
    fn new(
        shared: &Shared,
        id: JobId,
        events: BoxStream<'static, JobEvent>,
        latest: Option<LastUpdate>,
        span: tracing::Span,
    ) -> Self {
        let period = shared.heartbeat_interval;
        let window = shared.update_batch_window;
        Self {
            id,
            events,
            latest,
            period,
            heartbeat: Box::pin(tokio::time::sleep(period)),
            shutdown: Box::pin(shared.shutdown.clone().cancelled_owned()),
            held: VecDeque::new(),
            window,
            linger: Box::pin(tokio::time::sleep(window)),
            lingering: false,
            flushing: false,
            end: None,
            done: false,
            span,
            _open: shared.metrics.open_stream(),
        }
    }

    fn last_seq(&self) -> u64 {
        self.latest.as_ref().map_or(0, |l| l.event_seq)
    }

    /// Reads every event ready now into `held`; notes the end of the events.
    fn read_events(&mut self, cx: &mut Context<'_>) {
        while self.end.is_none() {
            match self.events.poll_next_unpin(cx) {
                Poll::Ready(Some(e)) => {
                    // An event already taken (replay and live overlap) is
                    // not sent twice.
                    if e.event_seq <= self.last_seq() {
                        continue;
                    }
                    let update = convert::event_to_update(&e, false);
                    if e.status.is_terminal() {
                        tracing::info!(parent: &self.span, status = %e.status, event_seq = e.event_seq, "terminal update");
                        self.end = Some(None);
                    } else if e.status == JobStatus::Running {
                        let next = tokio::time::Instant::now() + self.period;
                        self.heartbeat.as_mut().reset(next);
                    }
                    self.latest = Some(LastUpdate::new(&update, e.status));
                    self.held.push_back(update);
                }
                Poll::Ready(None) => {
                    let early = self.latest.as_ref().is_some_and(|l| !l.status.is_terminal());
                    self.end = Some(early.then(|| {
                        error::kernel(KernelError::Unavailable(format!(
                            "updates of job {} ended early; resume with last_event_seq = {}",
                            self.id,
                            self.last_seq()
                        )))
                    }));
                }
                Poll::Pending => return,
            }
        }
    }

    /// The next held update to send now, if any: at once when flushing, at
    /// the end, or without a batch window; otherwise once the window that
    /// opened with the oldest held update has passed.
    fn next_held(&mut self, cx: &mut Context<'_>) -> Option<pb::JobUpdate> {
        if self.held.is_empty() {
            self.flushing = false;
            self.lingering = false;
            return None;
        }
        if !(self.flushing || self.end.is_some() || self.window.is_zero()) {
            if !self.lingering {
                let until = tokio::time::Instant::now() + self.window;
                self.linger.as_mut().reset(until);
                self.lingering = true;
            }
            if self.linger.as_mut().poll(cx).is_pending() {
                return None;
            }
            self.lingering = false;
        }
        self.flushing = true;
        self.held.pop_front()
    }
}

impl futures::Stream for UpdateStream {
    type Item = Result<pb::JobUpdate, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.end.is_none() && this.shutdown.as_mut().poll(cx).is_ready() {
            tracing::info!(parent: &this.span, "stream ended by shutdown");
            // The held updates go first, so the seq to resume from is right.
            let last = this.last_seq();
            this.end = Some(Some(Status::unavailable(format!(
                "server shutting down; resume with last_event_seq = {last}"
            ))));
        }
        this.read_events(cx);
        if let Some(update) = this.next_held(cx) {
            return Poll::Ready(Some(Ok(update)));
        }
        if let Some(end) = this.end.take() {
            this.done = true;
            return Poll::Ready(end.map(Err));
        }
        let running = this.latest.as_ref().and_then(|l| l.running.as_ref());
        if let Some(update) = running
            && this.heartbeat.as_mut().poll(cx).is_ready()
        {
            let mut beat = update.clone();
            beat.heartbeat = true;
            beat.timestamp = Some(convert::timestamp(SystemTime::now()));
            let next = tokio::time::Instant::now() + this.period;
            this.heartbeat.as_mut().reset(next);
            return Poll::Ready(Some(Ok(beat)));
        }
        Poll::Pending
    }
}
