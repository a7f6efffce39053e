//! SessionConfig validation and translation into a driver SessionBuilder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::OpenSsl010Config;
use scylla::client::session_builder::SessionBuilder;
use scylla::frame::types::{Consistency, SerialConsistency};
use scylla::policies::load_balancing::{DefaultPolicy, LoadBalancingPolicy};

use crate::errors::invalid;
use crate::ffi::{BridgeError, SessionConfig};

pub(crate) const DEFAULT_PORT: u16 = 9042;
pub(crate) const DEFAULT_KEYSPACE: &str = "event_sourcing";
const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 5_000;
const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 5_000;
const DEFAULT_SCHEMA_AGREEMENT_TIMEOUT_MS: u32 = 60_000;
const DEFAULT_WORKER_THREADS: u32 = 2;
const MAX_WORKER_THREADS: u32 = 64;

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("hosts", &self.hosts)
            .field("username", &self.username)
            .field("password", &if self.password.is_empty() { "" } else { "<redacted>" })
            .field("local_dc", &self.local_dc)
            .field("keyspace", &self.keyspace)
            .field("local_consistency", &self.local_consistency)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("resolve_timeout_ms", &self.resolve_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("schema_agreement_timeout_ms", &self.schema_agreement_timeout_ms)
            .field("worker_threads", &self.worker_threads)
            .field("tls_enabled", &self.tls_enabled)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .finish()
    }
}

/// Validated settings (no password: it only goes into the driver's authenticator).
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) hosts: Vec<String>,
    pub(crate) local_dc: Option<String>,
    pub(crate) keyspace: String,
    pub(crate) consistency: Consistency,
    pub(crate) serial: SerialConsistency,
    pub(crate) request_timeout: Duration,
    /// Timeout of the SERIAL reads that resolve an append whose outcome is unknown.
    pub(crate) resolve_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) schema_agreement_timeout: Duration,
    pub(crate) worker_threads: usize,
}

impl Resolved {
    /// The consistency used for SERIAL reads.
    pub(crate) fn serial_read_consistency(&self) -> Consistency {
        match self.serial {
            SerialConsistency::LocalSerial => Consistency::LocalSerial,
            _ => Consistency::Serial,
        }
    }
}

fn or_default(v: u32, d: u32) -> u32 {
    if v == 0 {
        d
    } else {
        v
    }
}

/// "host" -> "host:9042"; "host:port" and "[v6]:port" kept; bare IPv6 bracketed.
pub(crate) fn normalize_host(raw: &str) -> Result<String, BridgeError> {
    let h = raw.trim();
    if h.is_empty() {
        return Err(invalid("empty host in SCYLLA hosts list"));
    }
    if h.chars().any(|c| c.is_whitespace() || c == ',' || c == '/') {
        return Err(invalid(format!("invalid host {h:?}")));
    }
    if let Some(rest) = h.strip_prefix('[') {
        // [v6] or [v6]:port
        let Some(close) = rest.find(']') else {
            return Err(invalid(format!("invalid host {h:?}: missing ']'")));
        };
        let after = &rest[close + 1..];
        if after.is_empty() {
            return Ok(format!("{h}:{DEFAULT_PORT}"));
        }
        let port = after.strip_prefix(':').ok_or_else(|| invalid(format!("invalid host {h:?}")))?;
        parse_port(h, port)?;
        return Ok(h.to_string());
    }
    match h.matches(':').count() {
        0 => Ok(format!("{h}:{DEFAULT_PORT}")),
        1 => {
            let (name, port) = h.split_once(':').expect("one colon");
            if name.is_empty() {
                return Err(invalid(format!("invalid host {h:?}")));
            }
            parse_port(h, port)?;
            Ok(h.to_string())
        }
        // A bare IPv6 address.
        _ => Ok(format!("[{h}]:{DEFAULT_PORT}")),
    }
}

fn parse_port(host: &str, port: &str) -> Result<u16, BridgeError> {
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(invalid(format!("invalid port in host {host:?}"))),
    }
}

pub(crate) fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

pub(crate) fn resolve(cfg: &SessionConfig) -> Result<Resolved, BridgeError> {
    let hosts = cfg.hosts.iter().map(|h| normalize_host(h)).collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(invalid("no hosts given"));
    }
    let keyspace = if cfg.keyspace.is_empty() { DEFAULT_KEYSPACE.to_string() } else { cfg.keyspace.clone() };
    if !valid_identifier(&keyspace) {
        return Err(invalid(format!("invalid keyspace name {keyspace:?}")));
    }
    if cfg.username.is_empty() && !cfg.password.is_empty() {
        return Err(invalid("a password was given without a username"));
    }
    let local_dc = cfg.local_dc.trim();
    if cfg.tls_enabled && cfg.tls_ca_file.is_empty() {
        return Err(invalid("TLS is enabled but no CA file is given"));
    }
    if cfg.tls_cert_file.is_empty() != cfg.tls_key_file.is_empty() {
        return Err(invalid("TLS client certificate and key must be given together"));
    }
    let worker_threads = or_default(cfg.worker_threads, DEFAULT_WORKER_THREADS);
    if worker_threads > MAX_WORKER_THREADS {
        return Err(invalid(format!("worker_threads {worker_threads} exceeds {MAX_WORKER_THREADS}")));
    }
    let (consistency, serial) = if cfg.local_consistency {
        (Consistency::LocalQuorum, SerialConsistency::LocalSerial)
    } else {
        (Consistency::Quorum, SerialConsistency::Serial)
    };
    let request_timeout_ms = or_default(cfg.request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    Ok(Resolved {
        hosts,
        local_dc: (!local_dc.is_empty()).then(|| local_dc.to_string()),
        keyspace,
        consistency,
        serial,
        request_timeout: Duration::from_millis(request_timeout_ms.into()),
        resolve_timeout: Duration::from_millis(or_default(cfg.resolve_timeout_ms, request_timeout_ms).into()),
        connect_timeout: Duration::from_millis(or_default(cfg.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS).into()),
        schema_agreement_timeout: Duration::from_millis(
            or_default(cfg.schema_agreement_timeout_ms, DEFAULT_SCHEMA_AGREEMENT_TIMEOUT_MS).into(),
        ),
        worker_threads: worker_threads as usize,
    })
}

/// Token-aware DefaultPolicy, preferring `local_dc` (no DC failover) when given.
pub(crate) fn base_policy(r: &Resolved) -> Arc<dyn LoadBalancingPolicy> {
    let mut b = DefaultPolicy::builder().token_aware(true).permit_dc_failover(false);
    if let Some(dc) = &r.local_dc {
        b = b.prefer_datacenter(dc.clone());
    }
    b.build()
}

fn tls_context(cfg: &SessionConfig) -> Result<OpenSsl010Config, BridgeError> {
    use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::X509;

    let tls_err = |what: &str, path: &str, e: &dyn fmt::Display| invalid(format!("TLS: {what} {path:?}: {e}"));
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(|e| tls_err("init", "", &e))?;
    // Trust exactly the given CA(s), not the system store.
    let pem = std::fs::read(&cfg.tls_ca_file).map_err(|e| tls_err("cannot read CA file", &cfg.tls_ca_file, &e))?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| tls_err("bad CA file", &cfg.tls_ca_file, &e))?;
    if certs.is_empty() {
        return Err(invalid(format!("TLS: no certificate in CA file {:?}", cfg.tls_ca_file)));
    }
    let mut store = X509StoreBuilder::new().map_err(|e| tls_err("store", "", &e))?;
    for c in certs {
        store.add_cert(c).map_err(|e| tls_err("bad CA certificate in", &cfg.tls_ca_file, &e))?;
    }
    builder.set_cert_store(store.build());
    if !cfg.tls_cert_file.is_empty() {
        builder
            .set_certificate_chain_file(&cfg.tls_cert_file)
            .map_err(|e| tls_err("bad client certificate", &cfg.tls_cert_file, &e))?;
        builder
            .set_private_key_file(&cfg.tls_key_file, SslFiletype::PEM)
            .map_err(|e| tls_err("bad client key", &cfg.tls_key_file, &e))?;
        builder
            .check_private_key()
            .map_err(|e| tls_err("client key does not match certificate", &cfg.tls_key_file, &e))?;
    }
    Ok(OpenSsl010Config::new(builder))
}

/// The driver SessionBuilder for `cfg` (already resolved into `r`).
pub(crate) fn session_builder(cfg: &SessionConfig, r: &Resolved) -> Result<SessionBuilder, BridgeError> {
    let profile = ExecutionProfile::builder()
        .consistency(r.consistency)
        .serial_consistency(Some(r.serial))
        .request_timeout(Some(r.request_timeout))
        .load_balancing_policy(base_policy(r))
        .build();
    let mut b = SessionBuilder::new()
        .known_nodes(&r.hosts)
        .default_execution_profile_handle(profile.into_handle())
        .connection_timeout(r.connect_timeout)
        .schema_agreement_timeout(r.schema_agreement_timeout)
        .auto_await_schema_agreement(true)
        .metadata_request_serverside_timeout(r.request_timeout)
        .tcp_nodelay(true);
    if let Some(dc) = &r.local_dc {
        b = b.prefer_datacenter(dc.clone());
    }
    if !cfg.username.is_empty() {
        b = b.user(cfg.username.clone(), cfg.password.clone());
    }
    if cfg.tls_enabled {
        b = b.tls_context(Some(tls_context(cfg)?));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::ErrorKind;

    fn cfg(hosts: &[&str]) -> SessionConfig {
        SessionConfig { hosts: hosts.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("127.0.0.1").unwrap(), "127.0.0.1:9042");
        assert_eq!(normalize_host(" db1:19042 ").unwrap(), "db1:19042");
        assert_eq!(normalize_host("::1").unwrap(), "[::1]:9042");
        assert_eq!(normalize_host("[::1]").unwrap(), "[::1]:9042");
        assert_eq!(normalize_host("[::1]:9043").unwrap(), "[::1]:9043");
        for bad in ["", "h:0", "h:x", "h:70000", ":9042", "[::1", "a b"] {
            assert_eq!(normalize_host(bad).unwrap_err().kind, ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn defaults_are_quorum_serial_5s_2_workers() {
        let r = resolve(&cfg(&["127.0.0.1"])).unwrap();
        assert_eq!(r.consistency, Consistency::Quorum);
        assert_eq!(r.serial, SerialConsistency::Serial);
        assert_eq!(r.serial_read_consistency(), Consistency::Serial);
        assert_eq!(r.request_timeout, Duration::from_secs(5));
        assert_eq!(r.resolve_timeout, Duration::from_secs(5));
        let r = resolve(&SessionConfig { request_timeout_ms: 20, ..cfg(&["h"]) }).unwrap();
        assert_eq!(r.resolve_timeout, Duration::from_millis(20));
        let r = resolve(&SessionConfig { request_timeout_ms: 20, resolve_timeout_ms: 900, ..cfg(&["h"]) }).unwrap();
        assert_eq!((r.request_timeout, r.resolve_timeout), (Duration::from_millis(20), Duration::from_millis(900)));
        assert_eq!(r.worker_threads, 2);
        assert_eq!(r.keyspace, "event_sourcing");
        assert_eq!(r.local_dc, None);
        let r = resolve(&SessionConfig { local_consistency: true, local_dc: "dc1".into(), ..cfg(&["h"]) }).unwrap();
        assert_eq!(r.consistency, Consistency::LocalQuorum);
        assert_eq!(r.serial, SerialConsistency::LocalSerial);
        assert_eq!(r.serial_read_consistency(), Consistency::LocalSerial);
        assert_eq!(r.local_dc.as_deref(), Some("dc1"));
    }

    #[test]
    fn bad_configs_are_invalid() {
        let bad = [
            cfg(&[]),
            SessionConfig { keyspace: "ks; DROP".into(), ..cfg(&["h"]) },
            SessionConfig { password: "p".into(), ..cfg(&["h"]) },
            SessionConfig { tls_enabled: true, ..cfg(&["h"]) },
            SessionConfig { tls_cert_file: "c.pem".into(), ..cfg(&["h"]) },
            SessionConfig { worker_threads: 1000, ..cfg(&["h"]) },
        ];
        for c in bad {
            assert_eq!(resolve(&c).unwrap_err().kind, ErrorKind::InvalidArgument, "{c:?}");
        }
    }

    #[test]
    fn password_never_in_debug() {
        let c = SessionConfig { username: "bob".into(), password: "hunter2-secret".into(), ..cfg(&["h"]) };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("bob"));
        let r = resolve(&c).unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn missing_ca_file_is_invalid_and_names_no_password() {
        let c = SessionConfig {
            username: "u".into(),
            password: "topsecret".into(),
            tls_enabled: true,
            tls_ca_file: "/nonexistent/ca.pem".into(),
            ..cfg(&["h"])
        };
        let r = resolve(&c).unwrap();
        let e = session_builder(&c, &r).err().unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("/nonexistent/ca.pem"));
        assert!(!e.message.contains("topsecret"));
    }
}
