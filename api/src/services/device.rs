//! `DeviceService`: which devices exist, what they can do, reserving a slot.

use super::Shared;
use crate::auth::context;
use crate::convert;
use crate::error;
use eigen_kernel::gateway::{DeviceInfo, KernelError, RequestContext};
use eigen_proto::api::v1 as pb;
use pb::device_service_server::DeviceService;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// The longest reservation a caller may ask for (one week).
pub const MAX_RESERVATION_TTL_SECONDS: u32 = 7 * 24 * 3600;
/// The longest accepted `purpose`.
const MAX_PURPOSE_BYTES: usize = 1024;

/// The `DeviceService` implementation.
#[derive(Debug, Clone)]
pub struct DeviceApi {
    shared: Shared,
}

impl DeviceApi {
    /// A service over `shared`.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The device `raw_id`, or NOT_FOUND.
    async fn device(&self, ctx: &RequestContext, raw_id: &str) -> Result<DeviceInfo, Status> {
        let id = convert::device_id(raw_id)?;
        let devices = self.shared.gateway.list_devices(ctx).await.map_err(error::kernel)?;
        devices.into_iter().find(|d| d.target.id == id).ok_or_else(|| {
            error::kernel(KernelError::NotFound { resource_type: "device", name: id.to_owned() })
        })
    }
}

#[tonic::async_trait]
impl DeviceService for DeviceApi {
    async fn list_devices(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let ctx = context(&request)?;
        let mut devices = self.shared.gateway.list_devices(&ctx).await.map_err(error::kernel)?;
        devices.sort_by(|a, b| a.target.id.cmp(&b.target.id));
        Ok(Response::new(pb::ListDevicesResponse {
            devices: devices.iter().map(convert::device_to_pb).collect(),
        }))
    }

    async fn get_device_details(
        &self,
        request: Request<pb::DeviceDetailsRequest>,
    ) -> Result<Response<pb::DeviceDetailsResponse>, Status> {
        let ctx = context(&request)?;
        let d = self.device(&ctx, &request.get_ref().device_id).await?;
        Ok(Response::new(pb::DeviceDetailsResponse {
            device: Some(convert::device_to_pb(&d)),
            properties: Some(convert::properties_to_pb(&d.target)),
        }))
    }

    async fn get_device_status(
        &self,
        request: Request<pb::DeviceStatusRequest>,
    ) -> Result<Response<pb::DeviceStatusResponse>, Status> {
        let ctx = context(&request)?;
        let d = self.device(&ctx, &request.get_ref().device_id).await?;
        Ok(Response::new(pb::DeviceStatusResponse {
            device_id: d.target.id,
            status: convert::device_status_to_pb(d.status) as i32,
            queue_length: d.queue_length,
            calibration_id: d.target.calibration_id,
        }))
    }

    async fn reserve_device(
        &self,
        request: Request<pb::ReserveDeviceRequest>,
    ) -> Result<Response<pb::ReserveDeviceResponse>, Status> {
        let ctx = context(&request)?;
        let r = request.get_ref();
        let device_id = convert::device_id(&r.device_id)?;
        if r.ttl_seconds == 0 || r.ttl_seconds > MAX_RESERVATION_TTL_SECONDS {
            return Err(error::invalid_argument(
                "ttl_seconds",
                format!("must be between 1 and {MAX_RESERVATION_TTL_SECONDS}"),
            ));
        }
        if r.purpose.len() > MAX_PURPOSE_BYTES {
            return Err(error::invalid_argument("purpose", "must be at most 1024 bytes"));
        }
        let ttl = Duration::from_secs(u64::from(r.ttl_seconds));
        let reservation = self
            .shared
            .gateway
            .reserve_device(&ctx, device_id, ttl, &r.purpose)
            .await
            .map_err(error::kernel)?;
        tracing::info!(
            trace_id = %ctx.trace_id,
            tenant = %ctx.tenant,
            device = %device_id,
            reservation_id = %reservation.reservation_id,
            "device reserved"
        );
        Ok(Response::new(convert::reservation_to_pb(&reservation)))
    }
}
