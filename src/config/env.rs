//! The `TURNOVER_*` environment as figment providers, and what the loader must not refuse.
//!
//! Two rules on top of figment's `Env`:
//! - Keys that hold secrets, URLs or paths are read verbatim. figment parses other values, so
//!   an API key `0042` would become the number 42 and `true` a boolean; these keys are strings
//!   whatever they look like.
//! - Kubernetes injects service-link variables into every pod for every service of the
//!   namespace: a service named `turnover` (the chart's default release name) gives
//!   `TURNOVER_SERVICE_HOST`, `TURNOVER_PORT`, `TURNOVER_PORT_8080_TCP_ADDR`, ... They are
//!   recognised by name and value, skipped, and listed for a debug log; any other unknown
//!   `TURNOVER_*` key still fails the load with its name.
//!
//! Configuration keys always have a section (`TURNOVER_AMQP__URL`): a name without `__`
//! cannot be one, which is what makes skipping the service links safe.

use std::net::IpAddr;

use figment::providers::Env;
use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

const PREFIX: &str = "TURNOVER_";

/// Keys taken as strings, never parsed (dotted, lower-case).
const VERBATIM: &[&str] = &[
    "amqp.url",
    "amqp.url_file",
    "amqp.tls_ca_file",
    "amqp.tls_cert_file",
    "amqp.tls_key_file",
    "postgres.url",
    "postgres.url_file",
    "auth.api_keys",
    "auth.api_keys_file",
    "http.trusted_proxies",
    "model.shadow_path",
    "privacy.erasure_salt",
    "telemetry.otlp_endpoint",
];

/// The environment's part of the configuration.
pub(super) struct Environment {
    /// Every other `TURNOVER_*` key, parsed by figment.
    pub parsed: Env,
    /// The [`VERBATIM`] keys that are set.
    pub verbatim: Verbatim,
    /// Names of the Kubernetes service-link variables skipped.
    pub ignored: Vec<String>,
}

/// Reads the `TURNOVER_*` environment (`TURNOVER_CONFIG` and `TURNOVER_DATA` excepted: they
/// belong to the command line).
pub(super) fn environment() -> Environment {
    let mut verbatim = Dict::new();
    let mut ignored = Vec::new();
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        let Some(rest) = strip_prefix(name) else {
            continue;
        };
        if is_service_link(rest, value) {
            ignored.push(name.to_owned());
        } else if let Some(key) = verbatim_key(rest) {
            let nested = figment::util::nest(key, Value::from(value.to_owned()));
            if let Some(dict) = nested.into_dict() {
                verbatim = merge(verbatim, dict);
            }
        }
    }
    ignored.sort();
    let mut skip: Vec<&str> = VERBATIM.to_vec();
    // TURNOVER_CONFIG and TURNOVER_DATA belong to the command line (--config, --data).
    skip.extend(["config", "data"]);
    let parsed = Env::prefixed(PREFIX)
        .filter(|rest| {
            // The value is needed to recognise a service link: look it up again.
            std::env::var(format!("{PREFIX}{rest}"))
                .map_or(true, |value| !is_service_link(rest.as_str(), &value))
        })
        .split("__")
        .ignore(&skip);
    Environment {
        parsed,
        verbatim: Verbatim(verbatim),
        ignored,
    }
}

/// The part of `name` after `TURNOVER_`, matched without regard to case as figment does.
fn strip_prefix(name: &str) -> Option<&str> {
    let head = name.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX)
        .then(|| &name[PREFIX.len()..])
}

fn verbatim_key(rest: &str) -> Option<&'static str> {
    let key = rest.trim().to_ascii_lowercase().replace("__", ".");
    VERBATIM.iter().copied().find(|k| *k == key)
}

fn merge(mut into: Dict, from: Dict) -> Dict {
    for (key, value) in from {
        match (into.remove(&key), value) {
            (Some(Value::Dict(_, old)), Value::Dict(tag, new)) => {
                into.insert(key, Value::Dict(tag, merge(old, new)));
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
    into
}

/// Whether `TURNOVER_{rest}={value}` is a variable Kubernetes injects for a service whose name
/// starts with `turnover`: `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT[_{NAME}]`, `{SVC}_PORT`,
/// `{SVC}_PORT_{N}_{PROTO}[_PROTO|_PORT|_ADDR]`, each with the value Kubernetes gives it.
pub(super) fn is_service_link(rest: &str, value: &str) -> bool {
    let name = rest.trim().to_ascii_uppercase();
    if name.contains("__") {
        return false;
    }
    let tokens: Vec<&str> = name.split('_').collect();
    let is_port_number = |v: &str| v.parse::<u16>().is_ok();
    let is_ip = |v: &str| v.parse::<IpAddr>().is_ok();
    let is_proto = |t: &str| matches!(t, "TCP" | "UDP" | "SCTP");
    let is_service_url = |v: &str| {
        ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|scheme| v.to_ascii_lowercase().starts_with(scheme))
    };
    // {SVC}_SERVICE_HOST=10.0.0.1
    if tokens.ends_with(&["SERVICE", "HOST"]) {
        return is_ip(value);
    }
    // {SVC}_SERVICE_PORT=8080 and {SVC}_SERVICE_PORT_{PORT NAME}=8080
    if tokens.windows(2).any(|w| w == ["SERVICE", "PORT"]) {
        return is_port_number(value);
    }
    // {SVC}_PORT=tcp://10.0.0.1:8080
    if tokens.last() == Some(&"PORT") && is_service_url(value) {
        return true;
    }
    // {SVC}_PORT_{N}_{PROTO}[_{FIELD}]: find the `PORT_{N}_{PROTO}` triple from the end.
    let n = tokens.len();
    for (start, suffix) in [(n.checked_sub(3), None), (n.checked_sub(4), tokens.last())] {
        let Some(start) = start else { continue };
        let triple = &tokens[start..start + 3];
        if triple[0] != "PORT" || !is_port_number(triple[1]) || !is_proto(triple[2]) {
            continue;
        }
        return match suffix.copied() {
            None => is_service_url(value),
            Some("PROTO") => is_proto(&value.to_ascii_uppercase()),
            Some("PORT") => is_port_number(value),
            Some("ADDR") => is_ip(value),
            Some(_) => false,
        };
    }
    false
}

/// A provider of the [`VERBATIM`] keys, named like figment's own environment provider in
/// error messages.
pub(super) struct Verbatim(Dict);

impl Provider for Verbatim {
    fn metadata(&self) -> Metadata {
        Metadata::named("`TURNOVER_` environment variable(s)")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_service_links_are_recognised_by_name_and_value() {
        for (rest, value) in [
            ("SERVICE_HOST", "10.96.12.7"),
            ("SERVICE_PORT", "8080"),
            ("SERVICE_PORT_HTTP", "8080"),
            ("PORT", "tcp://10.96.12.7:8080"),
            ("PORT_8080_TCP", "tcp://10.96.12.7:8080"),
            ("PORT_8080_TCP_PROTO", "tcp"),
            ("PORT_8080_TCP_PORT", "8080"),
            ("PORT_8080_TCP_ADDR", "10.96.12.7"),
            ("WORKER_SERVICE_HOST", "fd00::7"),
            ("METRICS_PORT_9090_TCP_ADDR", "10.96.0.9"),
        ] {
            assert!(is_service_link(rest, value), "{rest}={value}");
        }
        for (rest, value) in [
            ("AMQP__URL", "amqp://x"),
            ("HTTP__PORT", "8080"),
            ("SERVICE_HOST", "not-an-ip"),
            ("HTTP_PORT", "8080"),
            ("PREFETCH", "512"),
            ("PORT_8080_TCP_ADDR", "elsewhere"),
            ("PORT_X_TCP", "tcp://10.0.0.1:1"),
        ] {
            assert!(!is_service_link(rest, value), "{rest}={value}");
        }
    }

    #[test]
    fn verbatim_keys_match_without_case() {
        assert_eq!(verbatim_key("AUTH__API_KEYS"), Some("auth.api_keys"));
        assert_eq!(
            verbatim_key("postgres__url_FILE"),
            Some("postgres.url_file")
        );
        assert_eq!(verbatim_key("AMQP__PREFETCH"), None);
        assert_eq!(strip_prefix("turnover_AMQP__URL"), Some("AMQP__URL"));
        assert_eq!(strip_prefix("TURN"), None);
    }
}
