//! The daemon's configuration: where to listen, who may call, how much to
//! accept, and how long to wait on shutdown.
//!
//! Loaded from a TOML file (see [`ServerConfig::from_toml`]) and then
//! overridden by command-line flags. [`ServerConfig::validate`] refuses the
//! one dangerous combination: a non-loopback address with authentication off,
//! unless `insecure` is set on purpose.

use crate::auth::ApiKey;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default public gRPC address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// The default `/metrics` address.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9090";

/// Everything [`crate::server::serve`] needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The public gRPC address (the caller binds it; kept for validation and logs).
    pub listen: SocketAddr,
    /// The Prometheus `/metrics` address.
    pub metrics_listen: SocketAddr,
    /// API keys and their tenants; none means authentication is off and every
    /// caller is tenant `default`.
    pub api_keys: Vec<ApiKey>,
    /// TLS certificate and key (PEM); plaintext when absent.
    pub tls: Option<TlsConfig>,
    /// Size, concurrency and abuse limits.
    pub limits: Limits,
    /// How long shutdown waits for in-flight work before it stops anyway.
    pub grace_period: Duration,
    /// Allow a non-loopback bind without authentication.
    pub insecure: bool,
    /// How often `StreamJobUpdates` repeats the latest update while a job is
    /// RUNNING and nothing changes (RFC 0004: 5-15 s).
    pub heartbeat_interval: Duration,
    /// How long `StreamJobUpdates` may hold a job's non-terminal updates to
    /// send several in one HTTP/2 frame (zero: each at once). A terminal
    /// update, and any held before it, goes out at once, so a job's end is
    /// never delayed; a running job's progress is at most this late. Fewer
    /// frames mean fewer syscalls and wake-ups on both ends.
    pub update_batch_window: Duration,
}

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Bounds that keep one client from exhausting the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request message accepted (bytes); larger is RESOURCE_EXHAUSTED.
    pub max_request_bytes: usize,
    /// Largest response message sent (bytes); larger is RESOURCE_EXHAUSTED.
    pub max_response_bytes: usize,
    /// Largest program text accepted (bytes); larger is INVALID_ARGUMENT on `program`.
    pub max_program_bytes: usize,
    /// Unary calls (and stream set-ups) in flight at once across all
    /// connections; beyond it calls are shed with RESOURCE_EXHAUSTED at once
    /// rather than queued.
    pub max_concurrent_requests: usize,
    /// Open `StreamJobUpdates` streams at once; beyond it RESOURCE_EXHAUSTED.
    pub max_open_streams: usize,
    /// HTTP/2 streams a single connection may open at once.
    pub max_concurrent_streams_per_connection: u32,
    /// Streams reset by a client before the server accepted them, per
    /// connection, before the connection is closed (the "rapid reset" attack).
    pub max_pending_reset_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: 8 << 20,
            max_response_bytes: 64 << 20,
            max_program_bytes: 4 << 20,
            max_concurrent_requests: 4096,
            max_open_streams: 20_000,
            max_concurrent_streams_per_connection: 2048,
            max_pending_reset_streams: 32,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("a valid constant address"),
            metrics_listen: DEFAULT_METRICS_LISTEN.parse().expect("a valid constant address"),
            api_keys: Vec::new(),
            tls: None,
            limits: Limits::default(),
            grace_period: Duration::from_secs(5),
            insecure: false,
            heartbeat_interval: Duration::from_secs(10),
            update_batch_window: Duration::from_millis(5),
        }
    }
}

/// The file format: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    insecure: Option<bool>,
    grace_period_secs: Option<f64>,
    heartbeat_interval_secs: Option<f64>,
    update_batch_window_ms: Option<f64>,
    tls: Option<TlsConfig>,
    limits: Option<Limits>,
    api_keys: Vec<ApiKey>,
}

impl ServerConfig {
    /// Parses a TOML configuration, e.g.
    ///
    /// ```toml
    /// listen = "0.0.0.0:50051"
    /// grace_period_secs = 5
    /// [tls]
    /// cert = "/etc/eigen/cert.pem"
    /// key = "/etc/eigen/key.pem"
    /// [limits]
    /// max_request_bytes = 8388608
    /// [[api_keys]]
    /// tenant = "acme"
    /// sha256 = "<hex of sha256(key)>"   # `eigen` never stores the key itself
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(text)
            .map_err(|e| ConfigError { kind: ConfigErrorKind::Parse, message: e.to_string() })?;
        let mut config = Self::default();
        if let Some(a) = file.listen {
            config.listen = a;
        }
        if let Some(a) = file.metrics_listen {
            config.metrics_listen = a;
        }
        if let Some(i) = file.insecure {
            config.insecure = i;
        }
        if let Some(s) = file.grace_period_secs {
            config.grace_period = Duration::try_from_secs_f64(s).map_err(|_| ConfigError {
                kind: ConfigErrorKind::Invalid,
                message: format!("grace_period_secs must be a non-negative number, got {s}"),
            })?;
        }
        if let Some(s) = file.heartbeat_interval_secs {
            config.heartbeat_interval = Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError {
                    kind: ConfigErrorKind::Invalid,
                    message: format!("heartbeat_interval_secs must be a positive number, got {s}"),
                })?;
        }
        if let Some(ms) = file.update_batch_window_ms {
            config.update_batch_window =
                Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| ConfigError {
                    kind: ConfigErrorKind::Invalid,
                    message: format!(
                        "update_batch_window_ms must be a non-negative number, got {ms}"
                    ),
                })?;
        }
        config.tls = file.tls;
        if let Some(l) = file.limits {
            config.limits = l;
        }
        for key in &file.api_keys {
            key.check()
                .map_err(|message| ConfigError { kind: ConfigErrorKind::Invalid, message })?;
        }
        config.api_keys = file.api_keys;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            kind: ConfigErrorKind::Io,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::from_toml(&text).map_err(|e| ConfigError {
            kind: e.kind,
            message: format!("{}: {}", path.display(), e.message),
        })
    }

    /// True when callers must present an API key.
    #[must_use]
    pub fn auth_enabled(&self) -> bool {
        !self.api_keys.is_empty()
    }

    /// Refuses configurations that would expose the server by accident.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() && !self.auth_enabled() && !self.insecure {
            return Err(ConfigError {
                kind: ConfigErrorKind::InsecureBind,
                message: format!(
                    "refusing to listen on {} without authentication: configure api_keys, \
                     bind a loopback address, or pass --insecure",
                    self.listen
                ),
            });
        }
        let l = &self.limits;
        if l.max_request_bytes == 0
            || l.max_response_bytes == 0
            || l.max_program_bytes == 0
            || l.max_concurrent_requests == 0
            || l.max_open_streams == 0
        {
            return Err(ConfigError {
                kind: ConfigErrorKind::Invalid,
                message: "limits must be positive".into(),
            });
        }
        if let Some(tls) = &self.tls {
            for p in [&tls.cert, &tls.key] {
                if !p.is_file() {
                    return Err(ConfigError {
                        kind: ConfigErrorKind::Io,
                        message: format!("TLS file {} does not exist", p.display()),
                    });
                }
            }
        }
        Ok(())
    }
}

/// What kind of configuration problem it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML or has unknown keys.
    Parse,
    /// A value is out of range.
    Invalid,
    /// A non-loopback bind without authentication and without `insecure`.
    InsecureBind,
}

/// A configuration the server refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
}

impl ConfigError {
    /// What kind of problem it is.
    #[must_use]
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hash_key;

    #[test]
    fn defaults_are_loopback_without_auth() {
        let c = ServerConfig::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(c.metrics_listen.to_string(), "127.0.0.1:9090");
        assert_eq!(c.grace_period, Duration::from_secs(5));
        assert!(!c.auth_enabled());
        c.validate().expect("loopback without auth is fine");
    }

    #[test]
    fn refuses_public_bind_without_auth_unless_insecure() {
        let mut c =
            ServerConfig { listen: "0.0.0.0:50051".parse().expect("addr"), ..Default::default() };
        assert_eq!(c.validate().map_err(|e| e.kind()), Err(ConfigErrorKind::InsecureBind));
        c.insecure = true;
        c.validate().expect("insecure was asked for");
        c.insecure = false;
        c.api_keys = vec![ApiKey { tenant: "acme".into(), sha256: hash_key("k") }];
        c.validate().expect("auth is on");
    }

    #[test]
    fn parses_a_full_file() {
        let text = format!(
            "listen = \"0.0.0.0:6000\"\ngrace_period_secs = 2.5\n[limits]\nmax_program_bytes = 10\n\
             [[api_keys]]\ntenant = \"acme\"\nsha256 = \"{}\"\n",
            hash_key("secret")
        );
        let c = ServerConfig::from_toml(&text).expect("valid");
        assert_eq!(c.listen.port(), 6000);
        assert_eq!(c.update_batch_window, ServerConfig::default().update_batch_window);
        let c2 = ServerConfig::from_toml("update_batch_window_ms = 0").expect("valid");
        assert_eq!(c2.update_batch_window, Duration::ZERO);
        assert_eq!(c.grace_period, Duration::from_millis(2500));
        assert_eq!(c.limits.max_program_bytes, 10);
        assert_eq!(c.limits.max_request_bytes, Limits::default().max_request_bytes);
        assert_eq!(c.api_keys[0].tenant, "acme");
        c.validate().expect("auth on");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_hashes() {
        let e = ServerConfig::from_toml("lisen = \"x\"").expect_err("typo");
        assert_eq!(e.kind(), ConfigErrorKind::Parse);
        let e = ServerConfig::from_toml("[[api_keys]]\ntenant = \"a\"\nsha256 = \"plain-key\"\n")
            .expect_err("not a hash");
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        let e = ServerConfig::from_toml("grace_period_secs = -1").expect_err("negative");
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    }
}
