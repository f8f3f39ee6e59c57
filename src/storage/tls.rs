//! TLS to Postgres, with libpq's `sslmode` and `sslrootcert` URL parameters, through rustls
//! (`tokio-postgres-rustls`) for the pool and for `ensure_database`.
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` only, and neither verifies
//! certificates nor knows `sslrootcert`: both are taken out of the URL here and applied as
//! libpq documents them (<https://www.postgresql.org/docs/current/libpq-ssl.html>):
//!
//! | `sslmode` | TLS | certificate chain | host name |
//! | --- | --- | --- | --- |
//! | `disable` | never | - | - |
//! | `allow`, `prefer` (default) | when the server offers it | checked when a root certificate is given | no |
//! | `require` | always | checked when a root certificate is given | no |
//! | `verify-ca` | always | always | no |
//! | `verify-full` | always | always | yes |
//!
//! The root certificate is `sslrootcert` (a PEM file), else `~/.postgresql/root.crt` when it
//! exists, as libpq. `sslrootcert=system` trusts the system's roots, and then (as libpq 16)
//! `sslmode` defaults to `verify-full` and a weaker one is refused. Differences from libpq,
//! on purpose or by tokio-postgres: `allow` behaves as `prefer` (TLS first); under `prefer` a
//! failed handshake is an error, not a retry in clear text; `PGSSLMODE` and the other `PG*`
//! variables are not read; client certificates (`sslcert`, `sslkey`) are not supported.
//!
//! `channel_binding=require` (SCRAM bound to the TLS channel, so a man in the middle cannot
//! relay the authentication) is tokio-postgres's own parameter and passes through.
//! A password may hold `@`, `/`, `?` or `,` unencoded ([`userinfo`]); start-up warns about a
//! remote server not authenticated by `verify-full` ([`transport`]).
//!
//! This module never formats a URL: servers are named `host:port`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Config, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StorageError;
use crate::tls;
use params::split_ssl_params;
pub(crate) use transport::weak_transport;
use userinfo::encode_userinfo;
use verify::{checking, AnyCertificate};

mod params;
mod transport;
mod userinfo;
mod verify;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, StorageError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(settings(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

/// Where trust comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    None,
    File(PathBuf),
    System,
}

fn settings(message: String) -> StorageError {
    StorageError::TlsSettings(message)
}

/// A connection string made ready for tokio-postgres: the configuration (with the service's
/// defaults applied by the caller) and the TLS connector its `sslmode` asks for.
pub(crate) fn resolve(url: &str) -> Result<(Config, PgTls), StorageError> {
    // First, so that a `?` or `/` in the password is not taken for the query or the path.
    let (rest, mode, root) = split_ssl_params(&encode_userinfo(url))?;
    let mut config = Config::from_str(&rest).map_err(StorageError::InvalidUrl)?;
    let roots = match root.as_deref() {
        Some("system") => Roots::System,
        Some(path) => Roots::File(PathBuf::from(path)),
        None => default_root_file().map_or(Roots::None, Roots::File),
    };
    let mode = match mode {
        Some(mode) => mode.parse()?,
        None if roots == Roots::System => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if roots == Roots::System && mode != SslMode::VerifyFull {
        return Err(settings(format!(
            "sslrootcert=system needs sslmode=verify-full (a weaker sslmode would trust any \
             certificate the system's roots sign, for any host); got sslmode={}",
            mode_name(mode)
        )));
    }
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && roots == Roots::None {
        return Err(settings(format!(
            "sslmode={} needs a root certificate: set sslrootcert to a CA file (PEM), or \
             sslrootcert=system for the system's roots (~/.postgresql/root.crt does not exist)",
            mode_name(mode)
        )));
    }
    config.ssl_mode(match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    let tls = PgTls::new(mode, &roots, &config)?;
    Ok((config, tls))
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// libpq's default root certificate, when it exists.
fn default_root_file() -> Option<PathBuf> {
    let path = Path::new(&std::env::var_os("HOME")?).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

/// The TLS connector of the pool and of `ensure_database`: rustls with the verification the
/// `sslmode` asks for, and handshake errors that name the server and the reason.
#[derive(Clone)]
pub struct PgTls {
    inner: MakeRustlsConnect,
    /// `host` → `host:port`, to name the server in errors (the handshake sees the host only).
    servers: Arc<Vec<(String, String)>>,
    /// Where trust comes from, for messages.
    trusted: Arc<str>,
}

impl PgTls {
    fn new(mode: SslMode, roots: &Roots, config: &Config) -> Result<Self, StorageError> {
        let provider = tls::provider();
        let (verifier, trusted): (Arc<dyn ServerCertVerifier>, String) = match roots {
            // Encryption without authentication, as libpq's prefer and require.
            Roots::None => (
                Arc::new(AnyCertificate(Arc::clone(&provider))),
                String::new(),
            ),
            Roots::File(path) => {
                let store =
                    tls::read_roots("sslrootcert", path).map_err(|e| settings(e.to_string()))?;
                let trusted = format!("sslrootcert={}", path.display());
                (checking(store, &provider, mode)?, trusted)
            }
            Roots::System => {
                let loaded = rustls_native_certs::load_native_certs();
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(loaded.certs);
                if store.is_empty() {
                    return Err(settings(
                        "sslrootcert=system: this machine has no root certificates (install ca-certificates)".into(),
                    ));
                }
                (
                    checking(store, &provider, mode)?,
                    "the system roots (sslrootcert=system)".into(),
                )
            }
        };
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| settings(format!("TLS set-up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(PgTls {
            inner: MakeRustlsConnect::new(client),
            servers: Arc::new(servers(config)),
            trusted: trusted.into(),
        })
    }

    fn server(&self, host: &str) -> String {
        self.servers
            .iter()
            .find(|(h, _)| h == host)
            .map_or_else(|| format!("{host}:5432"), |(_, server)| server.clone())
    }
}

/// `host:port` of every TCP host of the configuration, keyed by host.
fn servers(config: &Config) -> Vec<(String, String)> {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .filter_map(|(i, host)| match host {
            Host::Tcp(name) => {
                let port = match ports {
                    [] => 5432,
                    [one] => *one,
                    many => many.get(i).copied().unwrap_or(5432),
                };
                let shown = if name.contains(':') {
                    format!("[{name}]:{port}")
                } else {
                    format!("{name}:{port}")
                };
                Some((name.clone(), shown))
            }
            Host::Unix(_) => None,
        })
        .collect()
}

/// Every server of the configuration, for an error that is not about one of them.
pub(crate) fn all_servers(config: &Config) -> String {
    let all: Vec<String> = servers(config).into_iter().map(|(_, s)| s).collect();
    if all.is_empty() {
        "the local socket".into()
    } else {
        all.join(",")
    }
}

/// A failed handshake with one server, as a sentence.
#[derive(Debug, thiserror::Error)]
#[error("{server}: {reason}")]
pub struct HandshakeError {
    pub server: String,
    pub reason: String,
}

type Inner = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

impl MakeTlsConnect<Socket> for PgTls {
    type Stream = Stream;
    type TlsConnect = Handshake;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, host: &str) -> Result<Handshake, Self::Error> {
        let Ok(inner) = MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, host);
        Ok(Handshake {
            inner,
            server: self.server(host),
            trusted: Arc::clone(&self.trusted),
        })
    }
}

/// One handshake, whose error says which server refused what.
pub struct Handshake {
    inner: Inner,
    server: String,
    trusted: Arc<str>,
}

impl TlsConnect<Socket> for Handshake {
    type Stream = Stream;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, HandshakeError>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        let Handshake {
            inner,
            server,
            trusted,
        } = self;
        Box::pin(async move {
            inner.connect(socket).await.map_err(|error| {
                let reason = match tls::find_rustls_error(&error) {
                    Some(tls_error) => tls::describe(
                        tls_error,
                        &trusted,
                        "client certificates are not supported for Postgres",
                    ),
                    None => error.to_string(),
                };
                HandshakeError { server, reason }
            })
        })
    }
}

/// A connection error in one line naming the server and, for TLS, the reason; other errors
/// unchanged.
pub(crate) fn connect_error(error: tokio_postgres::Error, config: &Config) -> StorageError {
    // tokio_postgres has no accessor for its error kind; its TLS kind's message is fixed.
    if error.to_string() != "error performing TLS handshake" {
        return StorageError::Postgres(error);
    }
    let source = std::error::Error::source(&error);
    if let Some(handshake) = source.and_then(|s| s.downcast_ref::<HandshakeError>()) {
        return StorageError::Tls {
            server: handshake.server.clone(),
            reason: handshake.reason.clone(),
        };
    }
    let reason = match source.map(ToString::to_string) {
        Some(s) if s == "server does not support TLS" => {
            "the server does not support TLS, and sslmode requires it".to_owned()
        }
        Some(s) => s,
        None => "the handshake failed".to_owned(),
    };
    StorageError::Tls {
        server: all_servers(config),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_libpq() {
        let (config, _) = resolve("postgres://db/t").expect("default");
        assert_eq!(config.get_ssl_mode(), PgSslMode::Prefer);
        let (config, _) = resolve("postgres://db/t?sslmode=disable").expect("disable");
        assert_eq!(config.get_ssl_mode(), PgSslMode::Disable);
        let (config, _) = resolve("postgres://db/t?sslmode=require").expect("require");
        assert_eq!(config.get_ssl_mode(), PgSslMode::Require);
        let message = resolve("postgres://db/t?sslmode=verify-full")
            .err()
            .expect("no root")
            .to_string();
        assert!(message.contains("needs a root certificate"), "{message}");
        let message = resolve("postgres://db/t?sslmode=require&sslrootcert=system")
            .err()
            .expect("weak")
            .to_string();
        assert!(
            message.contains("sslrootcert=system needs sslmode=verify-full"),
            "{message}"
        );
        let message = resolve("postgres://db/t?sslmode=on")
            .err()
            .expect("bad")
            .to_string();
        assert!(message.contains("sslmode=on is not one of"), "{message}");
        let message =
            resolve("postgres://u:s3cret@db/t?sslmode=verify-ca&sslrootcert=/nonexistent.pem")
                .err()
                .expect("missing file")
                .to_string();
        assert!(
            message.contains("sslrootcert /nonexistent.pem: cannot read it"),
            "{message}"
        );
        assert!(!message.contains("s3cret"));
    }

    #[test]
    fn servers_are_named_with_their_port() {
        let config = Config::from_str("postgres://u@a:5433,b,[::1]:5435/t").expect("multi-host");
        assert_eq!(all_servers(&config), "a:5433,b:5432,[::1]:5435");
        let config = Config::from_str("host=a,b port=6000").expect("one port for all");
        assert_eq!(all_servers(&config), "a:6000,b:6000");
    }
}
