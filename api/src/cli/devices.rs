//! Device commands: `devices`, `device`, `reserve`.

use super::client::{Api, ClientOpts};
use super::convert::{device_kind_name, device_status_name, timestamp};
use super::output::outln;
use super::output::table;
use anyhow::Context as _;
use clap::Args;
use eigen_proto::api::v1 as pb;
use serde_json::{Value, json};

/// Arguments of `eigen devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// Arguments of `eigen device`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// The device id.
    pub device_id: String,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// Arguments of `eigen reserve`.
#[derive(Debug, Args)]
pub struct ReserveArgs {
    /// The device id.
    pub device_id: String,
    /// How long to hold the slot, in seconds.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub ttl_secs: u32,
    /// Why, for the operators.
    #[arg(long, default_value = "")]
    pub purpose: String,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

fn device_json(d: &pb::Device) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "kind": device_kind_name(d.kind),
        "status": device_status_name(d.status),
        "queue_length": d.queue_length,
        "num_qubits": d.num_qubits,
        "calibration_id": d.calibration_id,
    })
}

/// The device and its properties; `coupling_map` as `[control, target]` pairs.
fn details_json(r: &pb::DeviceDetailsResponse) -> Value {
    let mut v = r.device.as_ref().map_or_else(|| json!({}), device_json);
    let Some(p) = &r.properties else { return v };
    v["all_to_all"] = json!(p.all_to_all);
    v["coupling_map"] = p.coupling_map.iter().map(|e| json!([e.control, e.target])).collect();
    v["native_gates"] = p
        .native_gates
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "num_qubits": g.num_qubits,
                "duration_seconds": g.duration_seconds,
                "error_rate": g.error_rate,
            })
        })
        .collect();
    v["qubits"] = p
        .qubits
        .iter()
        .map(|q| {
            json!({
                "qubit": q.qubit,
                "t1_seconds": q.t1_seconds,
                "t2_seconds": q.t2_seconds,
                "frequency_hz": q.frequency_hz,
                "readout_error": q.readout_error,
                "readout_duration_seconds": q.readout_duration_seconds,
            })
        })
        .collect();
    v["dt_seconds"] = json!(p.dt_seconds);
    v["limits"] = p
        .limits
        .as_ref()
        .map_or(Value::Null, |l| json!({"max_shots": l.max_shots, "max_qubits": l.max_qubits}));
    v["calibration_id"] = json!(p.calibration_id);
    v
}

/// `eigen devices`.
pub async fn list(args: DevicesArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let r = api.devices.list_devices(pb::ListDevicesRequest {}).await?.into_inner();
    if args.client.json {
        let v: Vec<Value> = r.devices.iter().map(device_json).collect();
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = r
        .devices
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.name.clone(),
                device_kind_name(d.kind),
                device_status_name(d.status),
                d.num_qubits.to_string(),
                d.queue_length.to_string(),
                d.calibration_id.clone(),
            ]
        })
        .collect();
    outln!(
        "{}",
        table(&["ID", "NAME", "KIND", "STATUS", "QUBITS", "QUEUE", "CALIBRATION"], &rows)
    )?;
    Ok(())
}

/// `eigen device ID`.
pub async fn show(args: DeviceArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let r = api
        .devices
        .get_device_details(pb::DeviceDetailsRequest { device_id: args.device_id.clone() })
        .await?
        .into_inner();
    if args.client.json {
        outln!("{}", serde_json::to_string_pretty(&details_json(&r))?)?;
        return Ok(());
    }
    let d = r.device.as_ref().context("the server sent a device without its description")?;
    outln!("{} ({})", d.id, d.name)?;
    outln!(
        "kind {}  status {}  qubits {}  queue {}  calibration {}",
        device_kind_name(d.kind),
        device_status_name(d.status),
        d.num_qubits,
        d.queue_length,
        d.calibration_id
    )?;
    let Some(p) = &r.properties else {
        return Ok(());
    };
    if let Some(l) = &p.limits {
        outln!("limits: max shots {}, max qubits {}", l.max_shots, l.max_qubits)?;
    }
    if let Some(dt) = p.dt_seconds {
        outln!("dt: {:.3} ns", dt * 1e9)?;
    }
    if p.all_to_all {
        outln!("coupling: all to all")?;
    } else {
        let pairs: Vec<String> =
            p.coupling_map.iter().map(|e| format!("{}->{}", e.control, e.target)).collect();
        outln!("coupling ({} edges): {}", pairs.len(), pairs.join(" "))?;
    }
    if p.native_gates.is_empty() {
        outln!("native gates: every standard gate")?;
    } else {
        let rows: Vec<Vec<String>> = p
            .native_gates
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    g.num_qubits.to_string(),
                    format!("{:.1}", g.duration_seconds * 1e9),
                    format!("{:.2e}", g.error_rate),
                ]
            })
            .collect();
        outln!("{}", table(&["GATE", "QUBITS", "DURATION_NS", "ERROR_RATE"], &rows))?;
    }
    if !p.qubits.is_empty() {
        let rows: Vec<Vec<String>> = p
            .qubits
            .iter()
            .map(|q| {
                vec![
                    q.qubit.to_string(),
                    format!("{:.1}", q.t1_seconds * 1e6),
                    format!("{:.1}", q.t2_seconds * 1e6),
                    format!("{:.4}", q.frequency_hz / 1e9),
                    format!("{:.4}", q.readout_error),
                ]
            })
            .collect();
        outln!("{}", table(&["QUBIT", "T1_US", "T2_US", "FREQ_GHZ", "READOUT_ERR"], &rows))?;
    }
    Ok(())
}

/// `eigen reserve DEVICE --ttl-secs N`.
pub async fn reserve(args: ReserveArgs) -> anyhow::Result<()> {
    let mut api = Api::connect(&args.client).await?;
    let r = api
        .devices
        .reserve_device(pb::ReserveDeviceRequest {
            device_id: args.device_id.clone(),
            ttl_seconds: args.ttl_secs,
            purpose: args.purpose.clone(),
        })
        .await?
        .into_inner();
    let expires = timestamp(r.expires_at.as_ref());
    if args.client.json {
        let v = json!({
            "reservation_id": r.reservation_id,
            "device_id": r.device_id,
            "expires_at": expires,
        });
        outln!("{v}")?;
    } else {
        outln!(
            "{}  (device {}, expires {}; submit with --reservation {})",
            r.reservation_id,
            r.device_id,
            expires.unwrap_or_default(),
            r.reservation_id
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_map_is_a_list_of_pairs() {
        let r = pb::DeviceDetailsResponse {
            device: Some(pb::Device { id: "d".into(), num_qubits: 3, ..Default::default() }),
            properties: Some(pb::DeviceProperties {
                coupling_map: vec![
                    pb::CouplingEdge { control: 0, target: 1 },
                    pb::CouplingEdge { control: 1, target: 2 },
                ],
                ..Default::default()
            }),
        };
        let v = details_json(&r);
        assert_eq!(v["coupling_map"], json!([[0, 1], [1, 2]]));
        assert_eq!(v["id"], "d");
        assert_eq!(v["num_qubits"], 3);
    }
}
