//! The rules between keys (docs/contract.md#configuration), and the bounds a type does not
//! hold, checked after loading and before any connection is opened: each names the key it is
//! about. A 0 where at least 1 is needed never gets here: those keys are `NonZero*`, refused
//! by the loader ([`nonzero`](super::nonzero)).

use super::{ConfigError, Settings};

impl Settings {
    /// The rule of a process that listens: with no API key, `http.addr` must be a loopback
    /// address unless `auth.allow_anonymous` says the open routes are meant.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `auth.allow_anonymous`.
    pub fn check_exposure(&self) -> Result<(), ConfigError> {
        let addr = self.http.addr;
        if self.auth.api_keys.is_empty() && !addr.ip().is_loopback() && !self.auth.allow_anonymous {
            return Err(ConfigError::Invalid {
                key: "auth.allow_anonymous",
                message: format!(
                    "http.addr {addr} is not a loopback address and auth.api_keys is empty, so \
                     anyone who reaches it could score and write outcomes: set auth.api_keys \
                     (or auth.api_keys_file), listen on 127.0.0.1, or set \
                     auth.allow_anonymous = true to serve without keys on purpose"
                ),
            });
        }
        Ok(())
    }

    /// Whether every route is open: no API key configured.
    #[must_use]
    pub fn anonymous(&self) -> bool {
        self.auth.api_keys.is_empty()
    }
}

impl Settings {
    /// The rules between keys, checked before any connection is opened.
    ///
    /// # Errors
    /// The first inconsistent key.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if usize::from(self.amqp.prefetch) < self.worker.batch_size.get() {
            return invalid(
                "amqp.prefetch",
                "must be at least worker.batch_size, or batches can never fill",
            );
        }
        // Below 4 KiB a too_large row would keep the whole body, which the bound exists to avoid.
        if self.amqp.max_message_bytes < 4096 {
            return invalid("amqp.max_message_bytes", "must be at least 4096");
        }
        // tokio's semaphore (the connection cap) holds at most this many permits.
        if self.http.max_connections.get() > tokio::sync::Semaphore::MAX_PERMITS {
            return invalid(
                "http.max_connections",
                &format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            );
        }
        let queues = [
            &self.amqp.queue,
            &self.amqp.rpc_queue,
            &self.amqp.dead_letter_queue,
        ];
        if queues[0] == queues[1] || queues[1] == queues[2] || queues[0] == queues[2] {
            return invalid(
                "amqp.rpc_queue",
                "amqp.queue, amqp.rpc_queue and amqp.dead_letter_queue must be three different queues",
            );
        }
        if let Some([low, high]) = self.model.risk_cuts {
            if !(0.0 <= low && low <= high && high <= 1.0) {
                return invalid(
                    "model.risk_cuts",
                    "must be two increasing probabilities, like [0.3, 0.7]",
                );
            }
        }
        if crate::queue::broker::urls(&self.amqp.url).next().is_none()
            || !crate::queue::broker::urls(&self.amqp.url).all(|u| u.contains("://"))
        {
            return invalid(
                "amqp.url",
                "must be a URL (scheme://host...), or several separated by commas",
            );
        }
        if !self.postgres.url.contains("://") {
            return invalid("postgres.url", "must be a URL (scheme://host...)");
        }
        if self.amqp.tls_cert_file.is_some() != self.amqp.tls_key_file.is_some() {
            return invalid(
                "amqp.tls_cert_file",
                "and amqp.tls_key_file go together: set both for a client certificate, or neither",
            );
        }
        let tls_file = [
            ("amqp.tls_ca_file", &self.amqp.tls_ca_file),
            ("amqp.tls_cert_file", &self.amqp.tls_cert_file),
        ]
        .into_iter()
        .find_map(|(key, file)| file.as_ref().map(|_| key));
        if let Some(key) = tls_file {
            if !crate::queue::broker::urls(&self.amqp.url)
                .any(|u| u.to_ascii_lowercase().starts_with("amqps://"))
            {
                return invalid(
                    key,
                    "is set but no amqp.url is amqps://, so it would not be used",
                );
            }
        }
        if let Err(message) = super::keys::parse_all(&self.auth.api_keys) {
            return invalid("auth.api_keys", &message);
        }
        // The other half, at least 1, is the type's (`nonzero`), with the same message.
        if self.drift.min_records > self.drift.window {
            return invalid(
                "drift.min_records",
                "must be at least 1 and at most drift.window, or no PSI is ever exported",
            );
        }
        if !super::LOG_LEVELS.contains(&self.log.level.as_str()) {
            return invalid(
                "log.level",
                "must be one of error, warn, info, debug, trace (a filter goes in log.filter)",
            );
        }
        if let Some(filter) = &self.log.filter {
            if filter.parse::<tracing_subscriber::EnvFilter>().is_err() {
                return invalid(
                    "log.filter",
                    "must be a tracing filter, like info,turnover::worker=debug",
                );
            }
        }
        super::privacy::check(self)?;
        super::telemetry::check(self)?;
        Ok(())
    }
}
