//! `eigen serve`: the composition root.
//!
//! Builds the devices (the simulators by default, no configuration needed),
//! starts the kernel on its durable store under the data directory, and
//! serves the public gRPC API and `/metrics`; or, with `--role`, only one
//! side of a split deployment (`kernel`: the kernel behind the internal
//! `eigen.kernel.v0` gateway; `api`: the public API in front of a remote
//! kernel). SIGTERM or SIGINT starts a graceful shutdown: the servers stop
//! accepting and drain within the grace period, then the kernel flushes its
//! store.
//!
//! The bound addresses are printed on stderr as `eigen: listening on ADDR`
//! and `eigen: metrics on ADDR` (the real port when 0 was asked for), so
//! scripts and tests can find them whatever the log format.

use super::output::errln;
use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use eigen_api::config::ServerConfig;
use eigen_api::kernel_grpc::RemoteKernel;
use eigen_api::metrics::{Metrics, serve_metrics};
use eigen_api::server::{serve_kernel, serve_with_metrics};
use eigen_kernel::gateway::KernelGateway;
use eigen_kernel::job::{JobId, TaskState};
use eigen_kernel::{JobObserver, Kernel, KernelConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Which parts of Eigen this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Public API, kernel and devices in one process.
    All,
    /// The kernel and devices behind the internal gateway (`eigen.kernel.v0`).
    Kernel,
    /// The public API in front of a remote kernel (`--kernel URL`).
    Api,
}

/// Arguments of `eigen serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The gRPC address (public API; the internal gateway for `--role kernel`).
    /// Port 0 picks a free port. Default: the config file's, else 127.0.0.1:50051.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where jobs, events and results are stored (created if missing).
    /// Default: `$EIGEN_DATA_DIR`, else the platform data dir (e.g. ~/.local/share/eigen).
    #[arg(long, env = "EIGEN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The Prometheus `/metrics` address. Default: the config file's, else 127.0.0.1:9090.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// A TOML configuration: API keys (hashed), TLS, limits; `[kernel]` for
    /// the scheduler. Optional: everything has a default.
    #[arg(long, env = "EIGEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Allow a non-loopback address without authentication.
    #[arg(long)]
    pub insecure: bool,
    /// Seconds between heartbeats on update streams while a job runs.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_secs: Option<u64>,
    /// Seconds to let in-flight calls and streams finish on shutdown.
    #[arg(long)]
    pub grace_secs: Option<f64>,
    /// Which parts to run.
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// The kernel's gateway URL, for `--role api` (e.g. http://10.0.0.2:50061).
    #[arg(long, required_if_eq("role", "api"))]
    pub kernel: Option<String>,
}

/// The platform's per-user data directory for Eigen.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(target_os = "windows") {
        if let Some(d) = env("LOCALAPPDATA").or_else(|| env("APPDATA")) {
            return Ok(d.join("eigen"));
        }
    } else if cfg!(target_os = "macos") {
        if let Some(h) = env("HOME") {
            return Ok(h.join("Library").join("Application Support").join("eigen"));
        }
    } else {
        if let Some(d) = env("XDG_DATA_HOME") {
            return Ok(d.join("eigen"));
        }
        if let Some(h) = env("HOME") {
            return Ok(h.join(".local").join("share").join("eigen"));
        }
    }
    bail!("no data directory: pass --data-dir or set EIGEN_DATA_DIR")
}

/// The kernel's part of the configuration file (`[kernel]`), read by the
/// binary; everything else goes to [`ServerConfig`]. Every key is optional.
///
/// ```toml
/// [kernel]
/// heartbeat_secs = 10
/// default_slots = 1
/// slots = { sim = 4 }          # jobs run at once, per device
/// queued_jobs_per_tenant = 10000
/// reservations_per_tenant = 2
/// retention_days = 7
/// ```
#[derive(Debug, Default, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct KernelSection {
    heartbeat_secs: Option<u64>,
    default_slots: Option<usize>,
    slots: std::collections::BTreeMap<String, usize>,
    queued_jobs_per_tenant: Option<usize>,
    reservations_per_tenant: Option<usize>,
    retention_days: Option<f64>,
}

impl KernelSection {
    /// Applies the section to `k`. `heartbeat_secs` is not the kernel's: it
    /// sets the update streams' heartbeat (see [`serve`]), and the kernel
    /// writes no heartbeat events: the update streams repeat the latest
    /// update without consuming an `event_seq` or writing to the store.
    fn apply(&self, k: &mut KernelConfig) -> anyhow::Result<()> {
        k.heartbeat_interval = None;
        if let Some(s) = self.default_slots {
            k.default_slots = s.max(1);
        }
        k.slots.extend(self.slots.iter().map(|(d, n)| (d.clone(), *n)));
        if let Some(q) = self.queued_jobs_per_tenant {
            k.queued_jobs_quota_per_tenant = q;
        }
        if let Some(r) = self.reservations_per_tenant {
            k.reservations_per_tenant = r;
        }
        if let Some(days) = self.retention_days {
            k.retention = Duration::try_from_secs_f64(days * 86_400.0)
                .map_err(|_| anyhow::anyhow!("[kernel] retention_days must be >= 0"))?;
        }
        Ok(())
    }
}

/// Splits the file into the server's configuration and the `[kernel]` table.
fn load_config(path: Option<&Path>) -> anyhow::Result<(ServerConfig, KernelSection)> {
    let Some(path) = path else {
        return Ok((ServerConfig::default(), KernelSection::default()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: invalid TOML", path.display()))?;
    let kernel = match table.remove("kernel") {
        Some(v) => v
            .try_into::<KernelSection>()
            .with_context(|| format!("{}: [kernel]", path.display()))?,
        None => KernelSection::default(),
    };
    let rest = toml::to_string(&table).context("re-encoding the configuration")?;
    let server = ServerConfig::from_toml(&rest).with_context(|| format!("{}", path.display()))?;
    Ok((server, kernel))
}

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Binds `addr`, printing the bound address in the parseable form.
async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    errln!("eigen: {what} {bound}");
    tracing::info!(%bound, "{what}");
    Ok((listener, bound))
}

/// Feeds the kernel's job transitions into the Prometheus metrics.
struct MetricsObserver(Arc<Metrics>);

impl JobObserver for MetricsObserver {
    fn on_transition(
        &self,
        _job_id: &JobId,
        _device: &str,
        from: Option<TaskState>,
        to: TaskState,
        time_in_previous: Duration,
    ) {
        self.0.record_transition(from, to, time_in_previous);
    }
}

/// `eigen serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (mut config, kernel_section) = load_config(args.config.as_deref())?;
    if let Some(a) = args.listen {
        config.listen = a;
    }
    if let Some(a) = args.metrics_listen {
        config.metrics_listen = a;
    }
    if args.insecure {
        config.insecure = true;
    }
    if let Some(g) = args.grace_secs {
        config.grace_period = Duration::try_from_secs_f64(g)
            .map_err(|_| anyhow::anyhow!("--grace-secs must be a non-negative number"))?;
    }
    if let Some(h) = args.heartbeat_secs.or(kernel_section.heartbeat_secs) {
        config.heartbeat_interval = Duration::from_secs(h.max(1));
    }
    config.validate()?;

    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested");
            errln!("eigen: shutting down");
            stop.cancel();
        });
    }
    let metrics = Arc::new(Metrics::new());

    if args.role == Role::Api {
        let url = args.kernel.clone().context("--role api needs --kernel URL")?;
        let remote = RemoteKernel::connect_lazy(&url)
            .with_context(|| format!("invalid kernel address {url}"))?;
        let gateway: Arc<dyn KernelGateway> = Arc::new(remote);
        errln!("eigen: kernel at {url}");
        let result = serve_role(Role::Api, config, gateway, metrics, stop).await;
        errln!("eigen: stopped");
        return result;
    }

    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let mut kconfig = KernelConfig::new(&data_dir);
    kernel_section.apply(&mut kconfig)?;
    kconfig.observer = Some(Arc::new(MetricsObserver(Arc::clone(&metrics))));
    let devices = eigen_sim::default_devices().context("cannot build the simulator devices")?;
    let kernel = Kernel::start(kconfig, devices)
        .await
        .with_context(|| format!("cannot start the kernel on {}", data_dir.display()))?;
    errln!("eigen: data in {}", data_dir.display());
    let gateway: Arc<dyn KernelGateway> = Arc::new(kernel.clone());
    let result = serve_role(args.role, config, gateway, metrics, stop).await;
    // The servers have drained (or failed): stop scheduling; every accepted
    // job is already durable and unfinished ones resume at the next start.
    kernel.shutdown().await;
    errln!("eigen: stopped");
    result
}

/// Serves `/metrics` and the role's gRPC service (the public API, or the
/// internal gateway for `Role::Kernel`) until `stop`.
async fn serve_role(
    role: Role,
    config: ServerConfig,
    gateway: Arc<dyn KernelGateway>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (listener, _) = bind(config.listen, "listening on").await?;
    let (metrics_listener, _) = bind(config.metrics_listen, "metrics on").await?;
    let metrics_task = tokio::spawn(serve_metrics(
        Arc::clone(&metrics),
        Some(Arc::clone(&gateway)),
        metrics_listener,
        stop.clone().cancelled_owned(),
    ));
    let served = if role == Role::Kernel {
        tracing::info!("serving the internal kernel gateway (eigen.kernel.v0)");
        serve_kernel(config, gateway, listener, stop.clone().cancelled_owned()).await
    } else {
        serve_with_metrics(config, gateway, metrics, listener, stop.clone().cancelled_owned()).await
    };
    // If the gRPC server failed on its own, take the metrics server down too.
    stop.cancel();
    let metrics_result = metrics_task.await;
    served.context("gRPC server failed")?;
    metrics_result.context("metrics server panicked")?.context("metrics server failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_section_is_split_from_the_server_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("eigen.toml");
        std::fs::write(
            &path,
            "grace_period_secs = 2\n[limits]\nmax_program_bytes = 100\n\
             [kernel]\nheartbeat_secs = 3\nslots = { sim = 4 }\nretention_days = 1\n",
        )
        .expect("write");
        let (server, kernel) = load_config(Some(&path)).expect("valid");
        assert_eq!(server.grace_period, Duration::from_secs(2));
        assert_eq!(server.limits.max_program_bytes, 100);
        assert_eq!(kernel.heartbeat_secs, Some(3));
        assert_eq!(kernel.slots.get("sim"), Some(&4));
        let mut k = KernelConfig::new(dir.path());
        kernel.apply(&mut k).expect("valid");
        assert_eq!(k.heartbeat_interval, None, "streams make the heartbeats");
        assert_eq!(k.slots_of("sim"), 4);
        assert_eq!(k.retention, Duration::from_secs(86_400));
    }

    #[test]
    fn unknown_kernel_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("eigen.toml");
        std::fs::write(&path, "[kernel]\nhartbeat_secs = 3\n").expect("write");
        let err = load_config(Some(&path)).expect_err("typo");
        assert!(format!("{err:#}").contains("hartbeat_secs"), "{err:#}");
    }

    #[test]
    fn no_file_means_defaults() {
        let (server, kernel) = load_config(None).expect("defaults");
        assert_eq!(server, ServerConfig::default());
        assert_eq!(kernel, KernelSection::default());
    }
}
