//! Whether a connection string sends credentials and records over a network without
//! authenticating the server: a non-loopback TCP host with an `sslmode` below `verify-full`
//! (`prefer` and `require` encrypt but accept any certificate, so anyone on the path can
//! pose as the server; `verify-ca` does not check the name). Start-up warns; it does not
//! refuse, since a private network may be trusted on purpose.
//!
//! Names servers `host:port`, never the URL.

use std::net::IpAddr;
use std::str::FromStr;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use super::params::split_ssl_params;
use super::userinfo::encode_userinfo;
use super::{mode_name, SslMode};

/// A sentence for a WARN when `url` reaches a non-loopback host with `sslmode` below
/// `verify-full`; `None` when it does not (or does not parse: the pool says why).
pub(crate) fn weak_transport(url: &str) -> Option<String> {
    let (rest, mode, root) = split_ssl_params(&encode_userinfo(url)).ok()?;
    let mode = match mode {
        Some(mode) => mode.parse().ok()?,
        None if root.as_deref() == Some("system") => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if mode == SslMode::VerifyFull {
        return None;
    }
    let config = Config::from_str(&rest).ok()?;
    let remote: Vec<&str> = config
        .get_hosts()
        .iter()
        .filter_map(|host| match host {
            Host::Tcp(name) if !is_loopback(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if remote.is_empty() {
        return None;
    }
    Some(format!(
        "postgres.url reaches {} with sslmode={}: the server is not authenticated, so the \
         password and the records can be read by anyone who can pose as it; use \
         sslmode=verify-full with sslrootcert (docs/operations.md)",
        remote.join(","),
        mode_name(mode)
    ))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_host_without_verify_full_is_named() {
        for mode in [
            "",
            "?sslmode=disable",
            "?sslmode=prefer",
            "?sslmode=require",
            "?sslmode=verify-ca",
        ] {
            let message = weak_transport(&format!("postgres://u:s3cret@db.example:5433/t{mode}"))
                .expect("a warning");
            assert!(message.contains("db.example with sslmode="), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        let message = weak_transport("postgres://u:p@127.0.0.1,10.0.0.5/t?sslmode=require")
            .expect("one remote host");
        assert!(
            message.contains("reaches 10.0.0.5 with sslmode=require"),
            "{message}"
        );
    }

    #[test]
    fn channel_binding_require_is_accepted() {
        let (config, _) = super::super::resolve(
            "postgres://u:p@127.0.0.1/t?sslmode=require&channel_binding=require",
        )
        .expect("accepted");
        assert_eq!(
            config.get_channel_binding(),
            tokio_postgres::config::ChannelBinding::Require
        );
    }

    #[test]
    fn loopback_sockets_and_verify_full_are_quiet() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/turnover",
            "postgres://postgres@localhost/turnover?sslmode=disable",
            "postgres://postgres@[::1]:5432/turnover",
            "host=/var/run/postgresql dbname=turnover",
            "postgres://u:p@db.example/t?sslmode=verify-full&sslrootcert=/ca.pem",
            "postgres://u:p@db.example/t?sslrootcert=system",
            "postgres://u:p@db.example/t?sslmode=verify-full&channel_binding=require",
        ] {
            assert_eq!(weak_transport(url), None, "{url}");
        }
    }
}
