//! Where the brokers are and how to reach them: the comma-separated list of `amqp.url`,
//! tried in order, and TLS for `amqps://` URLs through lapin's own rustls backend (the
//! system's root certificates, plus `amqp.tls_ca_file`; a client certificate from
//! `amqp.tls_cert_file` and `amqp.tls_key_file` for mutual TLS).
//!
//! Owns parsing the URLs and naming a broker in messages as `host:port`, never by its URL
//! (which may carry a password). It must not retry or back off: `queue::connect_with_backoff`
//! does, over the whole list.

use std::time::Duration;

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};

use crate::config::{redact_url, Amqp};
use crate::tls;

/// How long one broker may take to accept a connection (TCP, TLS, AMQP handshake) before the
/// next one of the list is tried: a node that hangs must not hold up failing over.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The URLs of a comma-separated `amqp.url`, in order.
pub fn urls(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|u| !u.is_empty())
}

/// Why no connection could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// `amqp.url` or a TLS file is unusable: no retry can help.
    #[error("{0}")]
    Config(String),
    /// The TLS handshake failed: an untrusted or misnamed certificate, a server without TLS.
    #[error("RabbitMQ at {server}: TLS: {reason}")]
    Tls { server: String, reason: String },
    /// Unreachable, refused, or the AMQP handshake failed (credentials, vhost).
    #[error("RabbitMQ at {server}: {reason}")]
    Failed { server: String, reason: String },
    /// Every broker of a list failed; each one's reason, in order.
    #[error("no broker of amqp.url could be reached: {}", join(.0))]
    All(Vec<ConnectError>),
}

fn join(errors: &[ConnectError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConnectError {
    /// Whether fixing this needs an operator (configuration, certificates), as opposed to
    /// waiting for a broker to come back.
    #[must_use]
    pub fn needs_operator(&self) -> bool {
        match self {
            Self::Config(_) | Self::Tls { .. } => true,
            Self::Failed { .. } => false,
            Self::All(errors) => errors.iter().any(Self::needs_operator),
        }
    }
}

/// One broker of the list.
struct Endpoint {
    uri: AMQPUri,
    /// `host:port`, for messages.
    server: String,
    /// The URL without its password, for logs.
    shown: String,
}

/// The TLS material of `amqp.tls_*`, read once per [`Brokers`]. Not `Debug`: it holds a key.
#[derive(Clone, Default)]
struct TlsMaterial {
    config: OwnedTLSConfig,
    /// Where trust comes from, for messages.
    trusted: String,
}

/// The brokers of `amqp.url`, ready to be tried in order.
pub struct Brokers {
    endpoints: Vec<Endpoint>,
    tls: TlsMaterial,
}

impl Brokers {
    /// Parses `amqp.url` and reads the TLS files (read again on every call, so a renewed
    /// certificate is picked up on the next reconnection).
    ///
    /// # Errors
    /// [`ConnectError::Config`] naming the key whose value is unusable.
    pub fn new(amqp: &Amqp) -> Result<Self, ConnectError> {
        let endpoints = urls(&amqp.url)
            .map(endpoint)
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err(ConnectError::Config("amqp.url: no URL given".into()));
        }
        let uses_tls = endpoints.iter().any(|e| e.uri.scheme == AMQPScheme::AMQPS);
        let tls = if uses_tls {
            tls_material(amqp).map_err(|e| ConnectError::Config(e.to_string()))?
        } else {
            TlsMaterial::default()
        };
        Ok(Brokers { endpoints, tls })
    }

    /// Whether any broker is reached over TLS.
    #[must_use]
    pub fn uses_tls(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.uri.scheme == AMQPScheme::AMQPS)
    }

    /// Connects to the first broker of the list that accepts, in order, and logs which.
    ///
    /// # Errors
    /// The broker's [`ConnectError`] (for a list, [`ConnectError::All`] with each reason).
    pub async fn connect(&self, name: &str) -> Result<Connection, ConnectError> {
        let mut errors = Vec::new();
        for endpoint in &self.endpoints {
            match self.connect_one(endpoint, name).await {
                Ok(connection) => {
                    tracing::info!(amqp.server = %endpoint.server, amqp.url = %endpoint.shown, amqp.connection = name, "connected to RabbitMQ");
                    return Ok(connection);
                }
                Err(error) => {
                    if self.endpoints.len() > 1 {
                        tracing::debug!(amqp.url = %endpoint.shown, error.message = %error, "broker unavailable; trying the next one");
                    }
                    errors.push(error);
                }
            }
        }
        Err(if errors.len() == 1 {
            errors.remove(0)
        } else {
            ConnectError::All(errors)
        })
    }

    async fn connect_one(
        &self,
        endpoint: &Endpoint,
        name: &str,
    ) -> Result<Connection, ConnectError> {
        let properties = ConnectionProperties::default()
            .with_client_property("connection_name".into(), name.into());
        let runtime = lapin::runtime::default_runtime().map_err(|e| ConnectError::Failed {
            server: endpoint.server.clone(),
            reason: e.to_string(),
        })?;
        let attempt = Connection::connect_uri_with_config(
            endpoint.uri.clone(),
            properties,
            self.tls.config.clone(),
            runtime,
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(self.classify(endpoint, &error)),
            Err(_) => Err(ConnectError::Failed {
                server: endpoint.server.clone(),
                reason: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            }),
        }
    }

    fn classify(&self, endpoint: &Endpoint, error: &lapin::Error) -> ConnectError {
        let server = endpoint.server.clone();
        if endpoint.uri.scheme == AMQPScheme::AMQPS {
            if let Some(tls_error) = tls::find_rustls_error(error) {
                let reason = tls::describe(
                    tls_error,
                    &self.tls.trusted,
                    "set amqp.tls_cert_file and amqp.tls_key_file",
                );
                return ConnectError::Tls { server, reason };
            }
            if let lapin::ErrorKind::IOError(io) = error.kind() {
                if io.kind() == std::io::ErrorKind::UnexpectedEof {
                    return ConnectError::Tls {
                        server,
                        reason: "the server closed the connection during the handshake \
                                 (not a TLS port, or it wants a client certificate)"
                            .into(),
                    };
                }
            }
        }
        let reason = match error.kind() {
            lapin::ErrorKind::IOError(io) => io.to_string(),
            _ => error.to_string(),
        };
        ConnectError::Failed { server, reason }
    }
}

/// Parses one URL. The URI parser's own messages may quote the URL (and its password): they
/// are replaced by the redacted URL.
fn endpoint(url: &str) -> Result<Endpoint, ConnectError> {
    let shown = redact_url(url);
    let invalid = |why: &str| ConnectError::Config(format!("amqp.url: {shown} {why}"));
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    let mut uri: AMQPUri = url
        .parse()
        .map_err(|_| invalid("is not an AMQP URL (amqp:// or amqps://)"))?;
    // The AMQP URI parser keeps domain names only: an IPv6 address (`[::1]`, parsed as an
    // address even in an amqp:// URL) would become `localhost`. Connect to (and check the
    // certificate for) the address written.
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => uri.authority.host = ip.to_string(),
        Some(url::Host::Ipv6(ip)) => uri.authority.host = ip.to_string(),
        Some(url::Host::Domain(_)) | None => {}
    }
    let server = if uri.authority.host.contains(':') {
        format!("[{}]:{}", uri.authority.host, uri.authority.port)
    } else {
        format!("{}:{}", uri.authority.host, uri.authority.port)
    };
    Ok(Endpoint { uri, server, shown })
}

fn tls_material(amqp: &Amqp) -> Result<TlsMaterial, tls::FileError> {
    let mut material = TlsMaterial {
        trusted: "the system roots".into(),
        ..TlsMaterial::default()
    };
    if let Some(path) = &amqp.tls_ca_file {
        let key = "amqp.tls_ca_file";
        tls::read_roots(key, path)?;
        let pem = String::from_utf8(tls::read(key, path)?).map_err(|_| tls::FileError {
            key,
            path: path.display().to_string(),
            message: "is not a text (PEM) file".into(),
        })?;
        material.config.cert_chain = Some(pem);
        material.trusted = format!("the system roots and amqp.tls_ca_file {}", path.display());
    }
    if let (Some(cert), Some(key)) = (&amqp.tls_cert_file, &amqp.tls_key_file) {
        tls::read_certificates("amqp.tls_cert_file", cert)?;
        tls::read_private_key("amqp.tls_key_file", key)?;
        material.config.identity = Some(OwnedIdentity::PKCS8 {
            pem: tls::read("amqp.tls_cert_file", cert)?,
            key: tls::read("amqp.tls_key_file", key)?,
        });
    }
    Ok(material)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amqp(url: &str) -> Amqp {
        Amqp {
            url: url.into(),
            ..Amqp::default()
        }
    }

    #[test]
    fn a_list_keeps_its_order_and_ip_addresses() {
        let brokers = Brokers::new(&amqp(
            "amqp://u:p@10.0.0.7:5673/%2f, amqp://u:p@rabbit-b/%2f,,amqps://[::1]/%2f",
        ))
        .expect("parses");
        let servers: Vec<_> = brokers
            .endpoints
            .iter()
            .map(|e| e.server.as_str())
            .collect();
        assert_eq!(servers, ["10.0.0.7:5673", "rabbit-b:5672", "[::1]:5671"]);
        assert!(brokers.uses_tls());
        assert!(brokers.endpoints.iter().all(|e| !e.shown.contains(":p@")));
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        let Err(error) = Brokers::new(&amqp("amqp://u:s3cret@host:notaport/%2f")) else {
            panic!("a bad port is refused");
        };
        let message = error.to_string();
        assert!(
            message.starts_with("amqp.url: amqp://u:***@host"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
        assert!(error.needs_operator());
        let Err(error) = Brokers::new(&amqp("http://u:s3cret@host/")) else {
            panic!("not amqp");
        };
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn an_unreadable_ca_file_is_a_configuration_error() {
        let mut settings = amqp("amqps://localhost/%2f");
        settings.tls_ca_file = Some("/nonexistent/ca.pem".into());
        let Err(error) = Brokers::new(&settings) else {
            panic!("missing CA file");
        };
        assert!(matches!(error, ConnectError::Config(_)));
        assert!(error
            .to_string()
            .starts_with("amqp.tls_ca_file /nonexistent/ca.pem"));
    }

    #[tokio::test]
    async fn every_broker_of_a_list_is_tried_and_named() {
        // Port 1 refuses at once on this machine.
        let brokers = Brokers::new(&amqp(
            "amqp://g:g@127.0.0.1:1/%2f,amqp://g:g@localhost:1/%2f",
        ))
        .expect("parses");
        let error = brokers.connect("test").await.expect_err("nothing listens");
        let message = error.to_string();
        assert!(
            message
                .starts_with("no broker of amqp.url could be reached: RabbitMQ at 127.0.0.1:1: "),
            "{message}"
        );
        assert!(message.contains("; RabbitMQ at localhost:1: "), "{message}");
        assert!(!error.needs_operator());
    }
}
