//! `JobService`: submit a program, follow it, fetch its results.

use super::Shared;
use crate::auth::context;
use crate::convert;
use crate::error::{self, ApiError};
use eigen_kernel::gateway::{JobEvent, KernelError, RequestContext};
use eigen_kernel::job::{JobId, JobStatus};
use eigen_proto::api::v1 as pb;
use futures::StreamExt;
use futures::stream::BoxStream;
use pb::job_service_server::JobService;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// Updates buffered per stream before the producer waits for the client.
const STREAM_BUFFER: usize = 16;

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
    type StreamJobUpdatesStream = ReceiverStream<Result<pb::JobUpdate, Status>>;

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
            (v.last_event_seq == after).then(|| LastUpdate {
                update: pb::JobUpdate {
                    job_id: id.0.clone(),
                    state: convert::job_status_to_pb(v.status) as i32,
                    stage: v.stage,
                    progress: v.progress,
                    message: Some(v.message).filter(|m| !m.is_empty()),
                    event_seq: v.last_event_seq,
                    timestamp: None,
                    heartbeat: false,
                },
                status: v.status,
            })
        } else {
            None
        };
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let span =
            tracing::info_span!("stream_job_updates", job_id = %id, trace_id = %ctx.trace_id);
        let producer = Producer { shared: self.shared.clone(), tx, latest };
        tokio::spawn(producer.run(id, events).instrument(span));
        Ok(Response::new(ReceiverStream::new(rx)))
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

/// The latest update sent, repeated as a heartbeat while RUNNING.
struct LastUpdate {
    update: pb::JobUpdate,
    status: JobStatus,
}

/// Copies a job's kernel events to one client stream.
struct Producer {
    shared: Shared,
    tx: mpsc::Sender<Result<pb::JobUpdate, Status>>,
    latest: Option<LastUpdate>,
}

impl Producer {
    async fn run(mut self, id: JobId, mut events: BoxStream<'static, JobEvent>) {
        let _open = self.shared.metrics.open_stream();
        let period = self.shared.heartbeat_interval;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = self.shared.shutdown.clone();
        let tx = self.tx.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    let last = self.latest.as_ref().map_or(0, |l| l.update.event_seq);
                    let _ = self.tx.try_send(Err(Status::unavailable(format!(
                        "server shutting down; resume with last_event_seq = {last}"
                    ))));
                    tracing::info!("stream ended by shutdown");
                    return;
                }
                () = tx.closed() => {
                    tracing::debug!("client went away");
                    return;
                }
                event = events.next() => match event {
                    Some(e) => {
                        let last_seq = self.latest.as_ref().map_or(0, |l| l.update.event_seq);
                        // A repeat of the latest seq is the kernel's own heartbeat.
                        let is_heartbeat = last_seq > 0 && e.event_seq == last_seq;
                        if e.event_seq < last_seq {
                            continue;
                        }
                        let update = convert::event_to_update(&e, is_heartbeat);
                        if self.tx.send(Ok(update.clone())).await.is_err() {
                            return;
                        }
                        heartbeat.reset();
                        if e.status.is_terminal() {
                            tracing::info!(status = %e.status, event_seq = e.event_seq, "terminal update sent");
                            return;
                        }
                        self.latest = Some(LastUpdate { update, status: e.status });
                    }
                    None => {
                        if self.latest.as_ref().is_some_and(|l| !l.status.is_terminal()) {
                            let _ = self.tx.send(Err(error::kernel(KernelError::Unavailable(format!(
                                "updates of job {id} ended early; resume with last_event_seq"
                            ))))).await;
                        }
                        return;
                    }
                },
                _ = heartbeat.tick(), if self.latest.as_ref().is_some_and(|l| l.status == JobStatus::Running) => {
                    if let Some(l) = &self.latest {
                        let mut beat = l.update.clone();
                        beat.heartbeat = true;
                        beat.timestamp = Some(convert::timestamp(SystemTime::now()));
                        if self.tx.send(Ok(beat)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
