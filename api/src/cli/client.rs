//! Connecting to the public API: address, bearer token, TLS.

use anyhow::Context as _;
use clap::Args;
use eigen_proto::api::v1::compilation_service_client::CompilationServiceClient;
use eigen_proto::api::v1::device_service_client::DeviceServiceClient;
use eigen_proto::api::v1::job_service_client::JobServiceClient;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

/// The largest response accepted (results with per-shot memory can be big;
/// larger payloads come as artifacts).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub struct ClientOpts {
    /// The server's address.
    #[arg(long, env = "EIGEN_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// An API key, sent as `authorization: Bearer <token>`.
    #[arg(long, env = "EIGEN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A PEM CA certificate to trust for an `https://` address (a private
    /// CA), instead of the system's trust roots.
    #[arg(long, env = "EIGEN_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Adds the bearer token to every call.
#[derive(Debug, Clone)]
pub struct BearerAuth(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel that authenticates every call.
pub type AuthChannel = InterceptedService<Channel, BearerAuth>;

/// Clients of the three public services over one connection.
#[derive(Debug, Clone)]
pub struct Api {
    /// JobService.
    pub jobs: JobServiceClient<AuthChannel>,
    /// DeviceService.
    pub devices: DeviceServiceClient<AuthChannel>,
    /// CompilationService.
    pub compiler: CompilationServiceClient<AuthChannel>,
}

/// `host:port` becomes `http://host:port`; explicit schemes are kept.
fn normalize_addr(addr: &str) -> String {
    if addr.contains("://") { addr.to_owned() } else { format!("http://{addr}") }
}

/// TLS for an `https://` address: the server must present a certificate
/// for the address's host, chaining to `ca_cert` when given (a private CA),
/// otherwise to the system's trust roots (which also honour the usual
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`).
fn tls_config(ca_cert: Option<&Path>) -> anyhow::Result<ClientTlsConfig> {
    let tls = ClientTlsConfig::new();
    Ok(match ca_cert {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read CA certificate {}", path.display()))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                anyhow::bail!("{} holds no PEM certificate", path.display());
            }
            tls.ca_certificate(Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    })
}

impl Api {
    /// Connects to `opts.addr`. A server that is not there is `UNAVAILABLE`.
    pub async fn connect(opts: &ClientOpts) -> anyhow::Result<Self> {
        let addr = normalize_addr(&opts.addr);
        let mut endpoint = Endpoint::from_shared(addr.clone())
            .with_context(|| format!("invalid server address {addr:?}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if addr.starts_with("https://") {
            endpoint = endpoint
                .tls_config(tls_config(opts.ca_cert.as_deref())?)
                .context("invalid TLS configuration")?;
        }
        let token = match &opts.token {
            Some(t) if !t.is_empty() => Some(
                format!("Bearer {t}")
                    .parse::<MetadataValue<Ascii>>()
                    .context("the token must be printable ASCII")?,
            ),
            _ => None,
        };
        let channel = endpoint.connect().await.map_err(|e| {
            let mut msg = format!("cannot connect to {addr}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            Status::unavailable(msg)
        })?;
        let auth = BearerAuth(token);
        Ok(Self {
            jobs: JobServiceClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            devices: DeviceServiceClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            compiler: CompilationServiceClient::with_interceptor(channel, auth)
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_host_port_gets_http() {
        assert_eq!(normalize_addr("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(normalize_addr("https://x:1"), "https://x:1");
    }

    #[test]
    fn bearer_token_is_added_to_metadata() {
        let mut auth = BearerAuth(Some("Bearer k".parse().expect("ascii")));
        let req = auth.call(Request::new(())).expect("interceptor never fails");
        assert_eq!(
            req.metadata().get("authorization").map(|v| v.to_str().ok()),
            Some(Some("Bearer k"))
        );
        let mut none = BearerAuth(None);
        assert!(none.call(Request::new(())).expect("ok").metadata().get("authorization").is_none());
    }
}
