//! The rules between keys (docs/contract.md#configuration), checked after loading and before
//! any connection is opened: each names the key it is about.

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
        if self.worker.batch_size == 0 {
            return invalid("worker.batch_size", "must be at least 1");
        }
        if self.worker.consumers == 0 {
            return invalid("worker.consumers", "must be at least 1");
        }
        if self.worker.scoring_threads == 0 {
            return invalid("worker.scoring_threads", "must be at least 1");
        }
        if usize::from(self.amqp.prefetch) < self.worker.batch_size {
            return invalid(
                "amqp.prefetch",
                "must be at least worker.batch_size, or batches can never fill",
            );
        }
        // Below 4 KiB a too_large row would keep the whole body, which the bound exists to avoid.
        if self.amqp.max_message_bytes < 4096 {
            return invalid("amqp.max_message_bytes", "must be at least 4096");
        }
        if self.amqp.quorum_initial_group_size == 0 {
            return invalid("amqp.quorum_initial_group_size", "must be at least 1");
        }
        if self.postgres.pool_size == 0 {
            return invalid("postgres.pool_size", "must be at least 1");
        }
        if self.http.predict_timeout_ms == 0 {
            return invalid("http.predict_timeout_ms", "must be at least 1");
        }
        if self.http.auth_failures_per_minute == 0 {
            return invalid("http.auth_failures_per_minute", "must be at least 1");
        }
        self.check_http_bounds()?;
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
        if self.http.rate_limit_per_minute == Some(0) {
            return invalid(
                "http.rate_limit_per_minute",
                "must be at least 1 (leave unset for no limit)",
            );
        }
        if self.model.watch_interval_ms == Some(0) {
            return invalid(
                "model.watch_interval_ms",
                "must be at least 1 (leave unset to reload on SIGHUP only)",
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
        if self.http.limiter_max_clients == 0 {
            return invalid("http.limiter_max_clients", "must be at least 1");
        }
        if self.metrics.performance_refresh_secs == 0 {
            return invalid("metrics.performance_refresh_secs", "must be at least 1");
        }
        if self.drift.window == 0 {
            return invalid("drift.window", "must be at least 1");
        }
        if self.drift.min_records == 0 || self.drift.min_records > self.drift.window {
            return invalid(
                "drift.min_records",
                "must be at least 1 and at most drift.window, or no PSI is ever exported",
            );
        }
        if self.drift.refresh_secs == 0 {
            return invalid("drift.refresh_secs", "must be at least 1");
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

impl Settings {
    /// The bounds of the HTTP edge (issue 17): each must let at least one request through.
    fn check_http_bounds(&self) -> Result<(), ConfigError> {
        let http = &self.http;
        let at_least_one = [
            ("http.max_outcomes_bytes", http.max_outcomes_bytes as u64),
            ("http.max_outcomes", http.max_outcomes as u64),
            ("http.max_batch_rows", http.max_batch_rows as u64),
            (
                "http.max_concurrent_batches",
                http.max_concurrent_batches as u64,
            ),
            ("http.read_timeout_ms", http.read_timeout_ms),
            ("http.max_connections", http.max_connections as u64),
        ];
        if let Some(&(key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid {
                key,
                message: "must be at least 1".to_owned(),
            });
        }
        // tokio's semaphore (the connection cap) holds at most this many permits.
        if http.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(ConfigError::Invalid {
                key: "http.max_connections",
                message: format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            });
        }
        Ok(())
    }
}
