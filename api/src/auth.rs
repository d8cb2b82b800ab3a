//! Authentication: API keys (bearer tokens) to tenants.
//!
//! Keys are configured by their SHA-256 (hex), never in clear, so a leaked
//! configuration file does not leak credentials. With no key configured,
//! authentication is off and every caller is tenant [`DEFAULT_TENANT`] (the
//! default loopback-only setup). [`ContextInterceptor`] runs before every
//! public RPC and leaves a [`RequestContext`] in the request's extensions.

use crate::error;
use crate::trace::TraceId;
use eigen_kernel::gateway::RequestContext;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The tenant of every caller when authentication is off.
pub const DEFAULT_TENANT: &str = "default";

/// One configured key: the tenant it authenticates, and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The tenant the key's holder acts as.
    pub tenant: String,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
}

impl ApiKey {
    /// Checks the entry is usable: a tenant name and a 64-digit hex hash.
    pub fn check(&self) -> Result<(), String> {
        if self.tenant.trim().is_empty() {
            return Err("api_keys: tenant must not be empty".into());
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "api_keys: sha256 of tenant {} must be 64 hex digits (the key's SHA-256, not the key)",
                self.tenant
            ));
        }
        Ok(())
    }
}

/// Lower-case hex SHA-256 of `key`: what the configuration stores.
#[must_use]
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Maps presented keys to tenants.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    /// sha256 hex -> tenant; empty means authentication is off.
    tenants_by_hash: HashMap<String, String>,
}

impl Authenticator {
    /// An authenticator for `keys` (off when empty).
    #[must_use]
    pub fn new(keys: &[ApiKey]) -> Self {
        Self {
            tenants_by_hash: keys
                .iter()
                .map(|k| (k.sha256.to_ascii_lowercase(), k.tenant.clone()))
                .collect(),
        }
    }

    /// True when callers must present a key.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.tenants_by_hash.is_empty()
    }

    /// The caller's tenant, from `authorization: Bearer <key>`.
    /// UNAUTHENTICATED when the key is missing, malformed or unknown.
    pub fn tenant(&self, metadata: &MetadataMap) -> Result<String, Status> {
        if !self.is_enabled() {
            return Ok(DEFAULT_TENANT.to_owned());
        }
        let Some(value) = metadata.get("authorization") else {
            return Err(error::unauthenticated(
                "missing `authorization: Bearer <api key>` metadata",
            ));
        };
        let value = value
            .to_str()
            .map_err(|_| error::unauthenticated("`authorization` metadata is not ASCII"))?;
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| error::unauthenticated("`authorization` must be `Bearer <api key>`"))?;
        self.tenants_by_hash
            .get(&hash_key(key))
            .cloned()
            .ok_or_else(|| error::unauthenticated("unknown API key"))
    }
}

/// Authenticates every call and attaches its [`RequestContext`] (tenant and
/// trace id) to the request's extensions for the service to use.
#[derive(Debug, Clone)]
pub struct ContextInterceptor {
    auth: Arc<Authenticator>,
}

impl ContextInterceptor {
    /// An interceptor using `auth`.
    #[must_use]
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth }
    }
}

impl tonic::service::Interceptor for ContextInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let tenant = self.auth.tenant(request.metadata())?;
        let trace_id = match request.extensions().get::<TraceId>() {
            Some(t) => t.0.clone(),
            None => crate::trace::trace_id_from(request.metadata()),
        };
        request.extensions_mut().insert(RequestContext { tenant, trace_id });
        Ok(request)
    }
}

/// The context the interceptor attached; INTERNAL if a service was mounted
/// without it (a wiring bug, not a client error).
pub fn context<T>(request: &tonic::Request<T>) -> Result<RequestContext, Status> {
    request.extensions().get::<RequestContext>().cloned().ok_or_else(|| {
        Status::internal("request context missing: service mounted without its interceptor")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn md(auth: Option<&str>) -> MetadataMap {
        let mut m = MetadataMap::new();
        if let Some(a) = auth {
            m.insert("authorization", a.parse().expect("ascii"));
        }
        m
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn off_means_default_tenant() {
        let a = Authenticator::default();
        assert_eq!(a.tenant(&md(None)).expect("off"), DEFAULT_TENANT);
    }

    #[test]
    fn maps_keys_to_tenants_and_refuses_others() {
        let a = Authenticator::new(&[
            ApiKey { tenant: "acme".into(), sha256: hash_key("k1") },
            ApiKey { tenant: "lab".into(), sha256: hash_key("k2").to_uppercase() },
        ]);
        assert_eq!(a.tenant(&md(Some("Bearer k1"))).expect("k1"), "acme");
        assert_eq!(a.tenant(&md(Some("Bearer k2"))).expect("k2"), "lab");
        for bad in [None, Some("Bearer nope"), Some("k1"), Some("Bearer "), Some("Basic k1")] {
            assert_eq!(
                a.tenant(&md(bad)).map_err(|s| s.code()),
                Err(Code::Unauthenticated),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn checks_configured_hashes() {
        assert!(ApiKey { tenant: "a".into(), sha256: hash_key("x") }.check().is_ok());
        assert!(ApiKey { tenant: "a".into(), sha256: "x".into() }.check().is_err());
        assert!(ApiKey { tenant: " ".into(), sha256: hash_key("x") }.check().is_err());
    }
}
