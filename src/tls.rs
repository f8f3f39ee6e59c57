//! What the broker and the database connections share about TLS: the crypto provider, reading
//! PEM files named in the configuration, and turning a failed handshake into one sentence an
//! operator can act on.
//!
//! The connections themselves live with their protocol: `queue::broker` (lapin's own rustls
//! backend) and `storage::tls` (a rustls connector for tokio-postgres). This module must not
//! open connections, and its messages never hold a URL: callers name the server as
//! `host:port`, which carries no password.

use std::error::Error as StdError;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, CertificateError, RootCertStore};

/// ring, the provider lapin's TLS backend is built with here too: one provider for the whole
/// process, chosen explicitly rather than left to cargo feature unification.
#[must_use]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS file named by a configuration key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{key} {path}: {message}")]
pub struct FileError {
    pub key: &'static str,
    pub path: String,
    pub message: String,
}

impl FileError {
    fn new(key: &'static str, path: &Path, message: impl Into<String>) -> Self {
        FileError {
            key,
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// The bytes of a file named by `key`.
///
/// # Errors
/// [`FileError`] when it cannot be read.
pub fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| FileError::new(key, path, format!("cannot read it: {e}")))
}

/// The certificates of a PEM file, at least one.
///
/// # Errors
/// [`FileError`] when the file cannot be read or holds no PEM certificate.
pub fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, FileError> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FileError::new(key, path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(FileError::new(key, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// A root store holding every certificate of a CA file (refused when one is not a usable CA).
///
/// # Errors
/// [`FileError`] as for [`read_certificates`], or when a certificate cannot be a trust anchor.
pub fn read_roots(key: &'static str, path: &Path) -> Result<RootCertStore, FileError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(key, path)? {
        roots
            .add(cert)
            .map_err(|e| FileError::new(key, path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// [`FileError`] when the file cannot be read or holds no PEM private key.
pub fn read_private_key(
    key: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, FileError> {
    let pem = read(key, path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| FileError::new(key, path, format!("holds no PEM private key: {e}")))
}

/// The rustls error somewhere in `error`'s chain, looking inside `io::Error`s too (their
/// `source()` skips the error they wrap, which is where TLS stacks put theirs).
#[must_use]
pub fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(tls) = find_rustls_error(inner) {
                return Some(tls);
            }
        }
        current = e.source();
    }
    None
}

/// One sentence on why a handshake failed. `trusted` says where trust came from (`the system
/// roots`, `sslrootcert=/etc/ca.pem`), `client_auth` which keys give a client certificate:
/// the two things an operator changes to fix the common failures.
#[must_use]
pub fn describe(error: &rustls::Error, trusted: &str, client_auth: &str) -> String {
    use rustls::Error as E;
    use CertificateError as C;
    match error {
        E::InvalidCertificate(C::UnknownIssuer) => format!(
            "the server's certificate is not trusted: no CA in {trusted} signed it (unknown issuer)"
        ),
        E::InvalidCertificate(C::NotValidForNameContext {
            expected,
            presented,
        }) => format!(
            "the server's certificate is not valid for the host name {} (it names {})",
            expected.to_str(),
            if presented.is_empty() {
                "no host".to_owned()
            } else {
                presented
                    .iter()
                    .map(|n| plain_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        E::InvalidCertificate(C::NotValidForName) => {
            "the server's certificate is not valid for this host name".to_owned()
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired".to_owned()
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server's certificate is not valid yet (check this machine's clock)".to_owned()
        }
        E::InvalidCertificate(C::InvalidPurpose | C::InvalidPurposeContext { .. }) => {
            "the server's certificate is not meant for a TLS server".to_owned()
        }
        E::InvalidCertificate(other) => format!("the server's certificate is refused: {other:?}"),
        E::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            format!("the server requires a client certificate ({client_auth})")
        }
        E::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied),
        ) => format!(
            "the server refused the client certificate (TLS alert {alert:?}; {client_auth})"
        ),
        E::AlertReceived(alert) => {
            format!("the server aborted the handshake (TLS alert {alert:?})")
        }
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server does not speak TLS on this port".to_owned()
        }
        other => other.to_string(),
    }
}

/// `localhost` for webpki's `DnsName("localhost")`, `10.0.0.1` for `IpAddress(10.0.0.1)`.
fn plain_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_failures_read_as_sentences() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let message = describe(&unknown, "sslrootcert=/ca.pem", "sslcert");
        assert!(message.contains("not trusted"), "{message}");
        assert!(message.contains("sslrootcert=/ca.pem"), "{message}");
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("127.0.0.1")
                .expect("ip")
                .to_owned(),
            presented: vec!["DnsName(\"localhost\")".into()],
        });
        let message = describe(&name, "", "");
        assert!(
            message.ends_with("host name 127.0.0.1 (it names localhost)"),
            "{message}"
        );
        let not_tls = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(describe(&not_tls, "", "").contains("does not speak TLS"));
    }

    #[test]
    fn the_rustls_error_is_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let wrapped = std::io::Error::other(io);
        assert!(matches!(
            find_rustls_error(&wrapped),
            Some(rustls::Error::InvalidCertificate(CertificateError::Expired))
        ));
        assert!(find_rustls_error(&std::io::Error::other("plain")).is_none());
    }

    #[test]
    fn files_name_their_key() {
        let err = read_roots("amqp.tls_ca_file", Path::new("/nonexistent/ca.pem")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("amqp.tls_ca_file /nonexistent/ca.pem: cannot read it"),
            "{message}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not pem\n").expect("write");
        let message = read_certificates("k", &path).unwrap_err().to_string();
        assert!(message.contains("holds no PEM certificate"), "{message}");
    }
}
