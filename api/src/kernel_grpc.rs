//! The internal gateway between the api and the kernel over gRPC
//! (`eigen.kernel.v0.KernelGateway`, RFC 0004 Appendix A), for the split
//! deployment: `eigen serve --role kernel` runs [`KernelGatewayService`] over
//! the in-process kernel; `eigen serve --role api --kernel URL` gives the
//! public services a [`RemoteKernel`] instead.
//!
//! The tenant and trace id travel as request metadata
//! (`eigen_proto::metadata`). Errors travel as statuses with the same
//! details as on the public API and are turned back into the same
//! [`KernelError`] by [`crate::error::kernel_error_from_status`].

use crate::convert;
use crate::error;
use async_trait::async_trait;
use eigen_kernel::gateway::{
    DeviceInfo, JobEvent, JobResults, JobStatusView, KernelError, KernelGateway, RequestContext,
    Reservation, SubmitJob,
};
use eigen_kernel::job::{ExecStage, JobId, JobStatus, TaskState};
use eigen_proto::api::v1 as api;
use eigen_proto::kernel::v0 as pb;
use eigen_proto::metadata;
use futures::StreamExt;
use futures::stream::BoxStream;
use pb::kernel_gateway_client::KernelGatewayClient;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// Largest message either side accepts (results with inline memory).
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The wire value of a kernel state.
#[must_use]
pub fn task_state_to_pb(s: TaskState) -> pb::TaskState {
    match s {
        TaskState::Pending => pb::TaskState::Pending,
        TaskState::Validating => pb::TaskState::Validating,
        TaskState::Compiling => pb::TaskState::Compiling,
        TaskState::Queued => pb::TaskState::Queued,
        TaskState::Allocating => pb::TaskState::Allocating,
        TaskState::Executing(ExecStage::Upload) => pb::TaskState::ExecutingUpload,
        TaskState::Executing(ExecStage::Run) => pb::TaskState::ExecutingRun,
        TaskState::Executing(ExecStage::Readout) => pb::TaskState::ExecutingReadout,
        TaskState::Completed => pb::TaskState::Completed,
        TaskState::Failed => pb::TaskState::Failed,
        TaskState::Cancelled => pb::TaskState::Cancelled,
        TaskState::Timeout => pb::TaskState::Timeout,
    }
}

/// The kernel state of a wire value.
pub fn task_state_from_pb(v: i32) -> Result<TaskState, KernelError> {
    Ok(match pb::TaskState::try_from(v) {
        Ok(pb::TaskState::Pending) => TaskState::Pending,
        Ok(pb::TaskState::Validating) => TaskState::Validating,
        Ok(pb::TaskState::Compiling) => TaskState::Compiling,
        Ok(pb::TaskState::Queued) => TaskState::Queued,
        Ok(pb::TaskState::Allocating) => TaskState::Allocating,
        Ok(pb::TaskState::ExecutingUpload) => TaskState::Executing(ExecStage::Upload),
        Ok(pb::TaskState::ExecutingRun) => TaskState::Executing(ExecStage::Run),
        Ok(pb::TaskState::ExecutingReadout) => TaskState::Executing(ExecStage::Readout),
        Ok(pb::TaskState::Completed) => TaskState::Completed,
        Ok(pb::TaskState::Failed) => TaskState::Failed,
        Ok(pb::TaskState::Cancelled) => TaskState::Cancelled,
        Ok(pb::TaskState::Timeout) => TaskState::Timeout,
        Ok(pb::TaskState::Unspecified) | Err(_) => {
            return Err(KernelError::Internal(format!("kernel gateway sent task state {v}")));
        }
    })
}

fn job_view(v: &JobStatusView) -> pb::JobView {
    pb::JobView {
        status: Some(convert::status_view_to_pb(v)),
        task_state: task_state_to_pb(v.state) as i32,
    }
}

fn job_view_from_pb(v: Option<pb::JobView>) -> Result<JobStatusView, KernelError> {
    let v = v.ok_or_else(|| KernelError::Internal("kernel gateway sent no job".into()))?;
    let state = task_state_from_pb(v.task_state)?;
    let s =
        v.status.ok_or_else(|| KernelError::Internal("kernel gateway sent no status".into()))?;
    Ok(JobStatusView {
        job_id: JobId(s.job_id.clone()),
        state,
        status: state.status(),
        stage: s.stage.clone(),
        progress: s.progress,
        message: s.message.clone(),
        created_at: s.created_at.as_ref().map_or(std::time::UNIX_EPOCH, convert::system_time),
        entered_at: convert::entered_at_from_pb(&s),
        queue_position: s.queue_position,
        estimated_start: s.estimated_start.as_ref().map(convert::system_time),
        estimated_finish: s.estimated_finish.as_ref().map(convert::system_time),
        last_event_seq: s.last_event_seq,
    })
}

// ------------------------------------------------------------------ server

/// The `eigen.kernel.v0.KernelGateway` service over any [`KernelGateway`].
#[derive(Clone)]
pub struct KernelGatewayService {
    gateway: Arc<dyn KernelGateway>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for KernelGatewayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelGatewayService").finish_non_exhaustive()
    }
}

impl KernelGatewayService {
    /// A service over `gateway`; event streams end when `shutdown` is cancelled.
    #[must_use]
    pub fn new(gateway: Arc<dyn KernelGateway>, shutdown: CancellationToken) -> Self {
        Self { gateway, shutdown }
    }
}

/// The caller's context from the request metadata; the tenant is required.
fn context<T>(request: &Request<T>) -> Result<RequestContext, Status> {
    let get = |k: &str| request.metadata().get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let tenant = get(metadata::TENANT)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| error::invalid_argument(metadata::TENANT, "metadata is required"))?;
    let trace_id = get(metadata::TRACE_ID).unwrap_or_else(crate::trace::new_trace_id);
    Ok(RequestContext { tenant, trace_id })
}

fn job_id(raw: &str) -> Result<JobId, Status> {
    convert::job_id(raw)
}

#[async_trait]
impl pb::kernel_gateway_server::KernelGateway for KernelGatewayService {
    type StreamJobEventsStream = BoxStream<'static, Result<pb::StreamJobEventsResponse, Status>>;

    async fn enqueue_job(
        &self,
        r: Request<pb::EnqueueJobRequest>,
    ) -> Result<Response<pb::EnqueueJobResponse>, Status> {
        let ctx = context(&r)?;
        let job =
            r.into_inner().job.ok_or_else(|| error::invalid_argument("job", "is required"))?;
        let job = convert::submit_from_pb(job, usize::MAX)?;
        let view = self.gateway.enqueue_job(&ctx, job).await.map_err(error::kernel)?;
        tracing::info!(job_id = %view.job_id, trace_id = %ctx.trace_id, "enqueued via gateway");
        Ok(Response::new(pb::EnqueueJobResponse { job: Some(job_view(&view)) }))
    }

    async fn get_job_status(
        &self,
        r: Request<pb::GetJobStatusRequest>,
    ) -> Result<Response<pb::GetJobStatusResponse>, Status> {
        let ctx = context(&r)?;
        let view = self
            .gateway
            .get_job_status(&ctx, &job_id(&r.get_ref().job_id)?)
            .await
            .map_err(error::kernel)?;
        Ok(Response::new(pb::GetJobStatusResponse { job: Some(job_view(&view)) }))
    }

    async fn cancel_job(
        &self,
        r: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::CancelJobResponse>, Status> {
        let ctx = context(&r)?;
        let view = self
            .gateway
            .cancel_job(&ctx, &job_id(&r.get_ref().job_id)?)
            .await
            .map_err(error::kernel)?;
        Ok(Response::new(pb::CancelJobResponse { job: Some(job_view(&view)) }))
    }

    async fn stream_job_events(
        &self,
        r: Request<pb::StreamJobEventsRequest>,
    ) -> Result<Response<Self::StreamJobEventsStream>, Status> {
        let ctx = context(&r)?;
        let id = job_id(&r.get_ref().job_id)?;
        let events = self
            .gateway
            .job_events(&ctx, &id, r.get_ref().after_seq)
            .await
            .map_err(error::kernel)?;
        let stream = events
            .map(|e| {
                Ok(pb::StreamJobEventsResponse {
                    update: Some(convert::event_to_update(&e, false)),
                    task_state: task_state_to_pb(e.state) as i32,
                })
            })
            .take_until(self.shutdown.clone().cancelled_owned());
        Ok(Response::new(stream.boxed()))
    }

    async fn get_job_results(
        &self,
        r: Request<pb::GetJobResultsRequest>,
    ) -> Result<Response<pb::GetJobResultsResponse>, Status> {
        let ctx = context(&r)?;
        let id = job_id(&r.get_ref().job_id)?;
        let results = self.gateway.get_job_results(&ctx, &id).await.map_err(error::kernel)?;
        Ok(Response::new(pb::GetJobResultsResponse {
            results: Some(convert::results_to_pb(&id, results)),
        }))
    }

    async fn list_devices(
        &self,
        r: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let ctx = context(&r)?;
        let mut devices = self.gateway.list_devices(&ctx).await.map_err(error::kernel)?;
        devices.sort_by(|a, b| a.target.id.cmp(&b.target.id));
        Ok(Response::new(pb::ListDevicesResponse {
            devices: devices
                .iter()
                .map(|d| pb::DeviceInfo {
                    device: Some(convert::device_to_pb(d)),
                    properties: Some(convert::properties_to_pb(&d.target)),
                })
                .collect(),
        }))
    }

    async fn reserve_device(
        &self,
        r: Request<pb::ReserveDeviceRequest>,
    ) -> Result<Response<pb::ReserveDeviceResponse>, Status> {
        let ctx = context(&r)?;
        let r = r.into_inner();
        let ttl = r
            .ttl
            .as_ref()
            .map(|d| convert::duration_from_pb(d, "ttl"))
            .transpose()?
            .unwrap_or_default();
        let res = self
            .gateway
            .reserve_device(&ctx, &r.device_id, ttl, &r.purpose)
            .await
            .map_err(error::kernel)?;
        Ok(Response::new(pb::ReserveDeviceResponse {
            reservation_id: res.reservation_id,
            device_id: res.device_id,
            expires_at: Some(convert::timestamp(res.expires_at)),
        }))
    }
}

// ------------------------------------------------------------------ client

/// A [`KernelGateway`] that forwards every call to a kernel gateway server.
#[derive(Debug, Clone)]
pub struct RemoteKernel {
    client: KernelGatewayClient<Channel>,
}

impl RemoteKernel {
    /// Connects to the kernel gateway at `url` (e.g. `http://10.0.0.2:50052`).
    pub async fn connect(url: &str) -> Result<Self, KernelError> {
        let channel = endpoint(url)?.connect().await.map_err(|e| {
            KernelError::Unavailable(format!("cannot reach kernel gateway {url}: {e}"))
        })?;
        Ok(Self::from_channel(channel))
    }

    /// A client that connects on first use (and reconnects after failures).
    pub fn connect_lazy(url: &str) -> Result<Self, KernelError> {
        Ok(Self::from_channel(endpoint(url)?.connect_lazy()))
    }

    fn from_channel(channel: Channel) -> Self {
        Self {
            client: KernelGatewayClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }
}

fn endpoint(url: &str) -> Result<Endpoint, KernelError> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|e| KernelError::InvalidArgument {
            field: "kernel".into(),
            description: format!("{url}: {e}"),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true))
}

/// A request carrying `ctx` as metadata.
fn request<T>(ctx: &RequestContext, message: T) -> Result<Request<T>, KernelError> {
    let mut r = Request::new(message);
    let value = |v: &str, what: &str| {
        tonic::metadata::MetadataValue::try_from(v).map_err(|_| KernelError::InvalidArgument {
            field: what.into(),
            description: "must be ASCII".into(),
        })
    };
    r.metadata_mut().insert(metadata::TENANT, value(&ctx.tenant, "tenant")?);
    r.metadata_mut().insert(metadata::TRACE_ID, value(&ctx.trace_id, "trace_id")?);
    Ok(r)
}

fn remote(status: Status) -> KernelError {
    error::kernel_error_from_status(&status)
}

#[async_trait]
impl KernelGateway for RemoteKernel {
    async fn enqueue_job(
        &self,
        ctx: &RequestContext,
        job: SubmitJob,
    ) -> Result<JobStatusView, KernelError> {
        let req = request(ctx, pb::EnqueueJobRequest { job: Some(convert::submit_to_pb(job)) })?;
        let r = self.client.clone().enqueue_job(req).await.map_err(remote)?;
        job_view_from_pb(r.into_inner().job)
    }

    async fn get_job_status(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError> {
        let req = request(ctx, pb::GetJobStatusRequest { job_id: job_id.0.clone() })?;
        let r = self.client.clone().get_job_status(req).await.map_err(remote)?;
        job_view_from_pb(r.into_inner().job)
    }

    async fn cancel_job(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobStatusView, KernelError> {
        let req = request(ctx, pb::CancelJobRequest { job_id: job_id.0.clone() })?;
        let r = self.client.clone().cancel_job(req).await.map_err(remote)?;
        job_view_from_pb(r.into_inner().job)
    }

    async fn job_events(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
        after_seq: u64,
    ) -> Result<BoxStream<'static, JobEvent>, KernelError> {
        let req = request(ctx, pb::StreamJobEventsRequest { job_id: job_id.0.clone(), after_seq })?;
        let stream = self.client.clone().stream_job_events(req).await.map_err(remote)?.into_inner();
        let trace_id = ctx.trace_id.clone();
        // A broken stream ends here; the public stream then tells its client
        // to resume from the last event it got.
        let events = stream
            .take_while(move |r| {
                if let Err(s) = r {
                    tracing::warn!(%trace_id, code = ?s.code(), message = s.message(), "kernel event stream broke");
                }
                std::future::ready(r.is_ok())
            })
            .filter_map(|r| std::future::ready(r.ok().and_then(|e| event_from_pb(e).ok())));
        Ok(events.boxed())
    }

    async fn get_job_results(
        &self,
        ctx: &RequestContext,
        job_id: &JobId,
    ) -> Result<JobResults, KernelError> {
        let req = request(ctx, pb::GetJobResultsRequest { job_id: job_id.0.clone() })?;
        let r = self.client.clone().get_job_results(req).await.map_err(remote)?;
        let results = r
            .into_inner()
            .results
            .ok_or_else(|| KernelError::Internal("no results sent".into()))?;
        Ok(convert::results_from_pb(results))
    }

    async fn list_devices(&self, ctx: &RequestContext) -> Result<Vec<DeviceInfo>, KernelError> {
        let req = request(ctx, pb::ListDevicesRequest {})?;
        let r = self.client.clone().list_devices(req).await.map_err(remote)?;
        Ok(r.into_inner()
            .devices
            .into_iter()
            .map(|d| {
                convert::device_info_from_pb(
                    d.device.unwrap_or_default(),
                    d.properties.unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn reserve_device(
        &self,
        ctx: &RequestContext,
        device_id: &str,
        ttl: Duration,
        purpose: &str,
    ) -> Result<Reservation, KernelError> {
        let req = request(
            ctx,
            pb::ReserveDeviceRequest {
                device_id: device_id.to_owned(),
                ttl: Some(convert::duration_to_pb(ttl)),
                purpose: purpose.to_owned(),
            },
        )?;
        let r = self.client.clone().reserve_device(req).await.map_err(remote)?.into_inner();
        Ok(Reservation {
            reservation_id: r.reservation_id,
            device_id: r.device_id,
            expires_at: r.expires_at.as_ref().map_or(std::time::UNIX_EPOCH, convert::system_time),
        })
    }
}

fn event_from_pb(e: pb::StreamJobEventsResponse) -> Result<JobEvent, KernelError> {
    let state = task_state_from_pb(e.task_state)?;
    let u: api::JobUpdate =
        e.update.ok_or_else(|| KernelError::Internal("event without update".into()))?;
    Ok(JobEvent {
        job_id: JobId(u.job_id),
        event_seq: u.event_seq,
        state,
        status: state.status(),
        stage: u.stage,
        progress: u.progress,
        message: u.message.unwrap_or_default(),
        timestamp: u.timestamp.as_ref().map_or(std::time::UNIX_EPOCH, convert::system_time),
    })
}

/// Public status of a wire state (used by tests of the golden table).
#[must_use]
pub fn status_of_pb_state(v: i32) -> Option<JobStatus> {
    task_state_from_pb(v).ok().map(TaskState::status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_state_round_trips() {
        let all = [
            TaskState::Pending,
            TaskState::Validating,
            TaskState::Compiling,
            TaskState::Queued,
            TaskState::Allocating,
            TaskState::Executing(ExecStage::Upload),
            TaskState::Executing(ExecStage::Run),
            TaskState::Executing(ExecStage::Readout),
            TaskState::Completed,
            TaskState::Failed,
            TaskState::Cancelled,
            TaskState::Timeout,
        ];
        for s in all {
            assert_eq!(task_state_from_pb(task_state_to_pb(s) as i32), Ok(s));
        }
        assert!(task_state_from_pb(0).is_err());
        assert_eq!(
            status_of_pb_state(pb::TaskState::ExecutingRun as i32),
            Some(JobStatus::Running)
        );
    }
}
