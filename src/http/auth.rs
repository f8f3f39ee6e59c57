//! API keys and rate limits, as middleware on the scoring routes only (`/health`, `/ready`,
//! `/metrics` and `/openapi.json` stay open for probes and scrapers).
//!
//! Keys are compared in constant time (`subtle`), against every configured key, so neither the
//! position of a mismatch nor which key matched shows in the timing. Keys are never logged,
//! and the rate limiter stores a hash of the key, not the key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::{Choice, ConstantTimeEq};

use super::errors::ApiError;
use crate::model::sha256_hex;

/// The header carrying the key.
pub const API_KEY_HEADER: &str = "x-api-key";

const WINDOW: Duration = Duration::from_secs(60);

/// Whether `given` is one of `keys`, in time independent of where they differ. A key written
/// `sha256:<hex>` is the digest of the key (the configuration then holds nothing usable): the
/// digest of `given` is compared with it, also in constant time.
pub fn key_matches(keys: &[String], given: &[u8]) -> bool {
    let digest = sha256_hex(given);
    keys.iter()
        .fold(Choice::from(0), |found, key| {
            found
                | match key.strip_prefix(DIGEST_PREFIX) {
                    Some(hex) => hex.to_ascii_lowercase().as_bytes().ct_eq(digest.as_bytes()),
                    None => key.as_bytes().ct_eq(given),
                }
        })
        .into()
}

/// The prefix of a key given as its SHA-256 digest (`sha256:` + 64 hex digits).
pub const DIGEST_PREFIX: &str = "sha256:";

/// Rejects a request without a valid `X-API-Key` when keys are configured (401). Failures are
/// counted per client address: past `http.auth_failures_per_minute`, the address gets 429 with
/// `Retry-After` until its minute is over, and its keys are not even checked, so keys cannot
/// be guessed at line rate.
pub async fn require_key(
    State(state): State<super::State>,
    request: Request,
    next: Next,
) -> Response {
    let keys = &state.ctx.settings.auth.api_keys;
    if keys.is_empty() {
        return next.run(request).await;
    }
    let client = client_address(&request);
    let now = Instant::now();
    let failures = &state.auth_failures;
    if let Err(retry_after) = failures.peek(&client, now) {
        return ApiError::too_many_failures(retry_after, failures.limit).into_response();
    }
    let given = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
    if given.is_some_and(|g| key_matches(keys, g)) {
        return next.run(request).await;
    }
    match failures.check(&client, now) {
        Ok(()) => ApiError::unauthorized().into_response(),
        Err(retry_after) => {
            ApiError::too_many_failures(retry_after, failures.limit).into_response()
        }
    }
}

/// `ip:<address>` of the connection (the sidecar sits behind no proxy it could trust).
fn client_address(request: &Request) -> String {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".to_owned(),
    }
}

/// A fixed one-minute window per client: simple, and a burst at a window's edge (at most twice
/// the limit over a minute) is acceptable for protecting the broker from one noisy client.
pub struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit_per_minute: u32) -> Self {
        RateLimiter {
            limit: limit_per_minute.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `client`; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        self.count(client, now, 1)
    }

    /// As [`RateLimiter::check`], without counting: whether `client` is over the limit now.
    pub fn peek(&self, client: &str, now: Instant) -> Result<(), u64> {
        self.count(client, now, 0)
    }

    fn count(&self, client: &str, now: Instant, add: u32) -> Result<(), u64> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget clients whose window has passed, so the map stays as small as the set of
        // clients seen in the last minute.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(client.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= self.limit {
            let left = WINDOW.saturating_sub(now.duration_since(*start));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        *count += add;
        Ok(())
    }
}

/// 429 with `Retry-After` over `http.rate_limit_per_minute`, per API key, or per client
/// address when no key is sent.
pub async fn rate_limit(
    State(state): State<super::State>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    let client = match request.headers().get(API_KEY_HEADER) {
        Some(key) => format!("key:{}", &sha256_hex(key.as_bytes())[..32]),
        None => client_address(&request),
    };
    match limiter.check(&client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => ApiError::rate_limited(retry_after, limiter.limit).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        let keys = vec!["alpha".to_owned(), "beta".to_owned()];
        assert!(key_matches(&keys, b"beta"));
        assert!(!key_matches(&keys, b"bet"));
        assert!(!key_matches(&keys, b"betaa"));
        assert!(!key_matches(&[], b""));
    }

    #[test]
    fn a_digest_key_matches_the_key_it_hashes() {
        // sha256("0042"), upper-case as some tools print it.
        let keys = vec![format!("sha256:{}", sha256_hex(b"0042").to_uppercase())];
        assert!(key_matches(&keys, b"0042"));
        assert!(!key_matches(&keys, b"042"));
        assert!(
            !key_matches(&keys, keys[0].as_bytes()),
            "the digest itself is not a key"
        );
    }

    #[test]
    fn the_window_limits_then_resets() {
        let limiter = RateLimiter::new(2);
        let t = Instant::now();
        assert!(limiter.check("a", t).is_ok());
        assert!(limiter.check("a", t).is_ok());
        let wait = limiter.check("a", t + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(limiter.check("b", t).is_ok(), "clients are counted apart");
        assert!(limiter.check("a", t + WINDOW).is_ok());
    }

    #[test]
    fn peeking_does_not_count() {
        let limiter = RateLimiter::new(1);
        let t = Instant::now();
        assert!(limiter.peek("a", t).is_ok());
        assert!(limiter.peek("a", t).is_ok());
        assert!(limiter.check("a", t).is_ok());
        assert_eq!(limiter.peek("a", t), Err(60));
    }
}
