//! The `telemetry.*` keys: where spans are exported and how many traces are kept
//! (docs/operations.md#tracing).

use serde::{Deserialize, Serialize};

/// Distributed tracing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// The OTLP/HTTP collector's base URL (`http://jaeger:4318`); unset, nothing is exported
    /// (trace ids are still continued, replied and stored).
    pub otlp_endpoint: Option<String>,
    /// The share of new traces sampled, `0.0..=1.0`; a caller's `traceparent` decides for its
    /// own trace (parent-based).
    pub sample_ratio: f64,
}

impl Default for Telemetry {
    fn default() -> Self {
        // Every trace: a job costs a few spans, and an operator chasing one slow request must
        // find it; lower it where the span volume matters more than the odd request.
        Telemetry {
            otlp_endpoint: None,
            sample_ratio: 1.0,
        }
    }
}

impl Telemetry {
    /// The collector's URL, when one is set: an empty value (compose's `${VAR:-}`) is unset.
    #[must_use]
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }
}

/// The rules of these keys, each naming its key.
pub(super) fn check(s: &super::Settings) -> Result<(), super::ConfigError> {
    let t = &s.telemetry;
    let invalid = |key, message: &str| {
        Err(super::ConfigError::Invalid {
            key,
            message: message.to_owned(),
        })
    };
    if !(0.0..=1.0).contains(&t.sample_ratio) {
        return invalid(
            "telemetry.sample_ratio",
            "must be a number from 0.0 to 1.0 (the share of new traces kept)",
        );
    }
    if let Some(endpoint) = t.endpoint() {
        match url::Url::parse(endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => {
                return invalid(
                    "telemetry.otlp_endpoint",
                    "must be an http:// or https:// URL of an OTLP/HTTP collector, e.g. http://jaeger:4318",
                )
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    #[test]
    fn a_ratio_outside_zero_to_one_and_an_endpoint_that_is_no_url_are_refused_by_name() {
        let mut s = Settings::default();
        s.telemetry.sample_ratio = 1.5;
        let error = super::check(&s).unwrap_err().to_string();
        assert!(error.contains("telemetry.sample_ratio"), "{error}");
        s.telemetry.sample_ratio = 0.0;
        s.telemetry.otlp_endpoint = Some("jaeger:4318".into());
        let error = super::check(&s).unwrap_err().to_string();
        assert!(error.contains("telemetry.otlp_endpoint"), "{error}");
        s.telemetry.otlp_endpoint = Some("http://127.0.0.1:4318".into());
        assert!(super::check(&s).is_ok());
    }
}
