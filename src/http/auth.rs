//! API keys, their scopes and the rate limits, as middleware on the routes behind the key
//! (`/health`, `/ready`, `/metrics` and `/openapi.json` stay open for probes and scrapers).
//!
//! Keys are compared in constant time (`subtle`), against every configured key, so neither the
//! position of a mismatch nor which key matched shows in the timing. Keys are never logged,
//! and the rate limiter stores a hash of the key, not the key.
//!
//! The scope a request needs is decided here from its method and path
//! ([`required_scope`]), not by each route: a route mounted behind this layer later needs
//! `admin` unless this table says otherwise, so no route is open to a `score` key by mistake.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::client::{client_of, ClientKey};
use super::errors::ApiError;
use crate::config::keys::{ApiKey, KeySecret, Scope, Scopes};
use crate::digest::sha256_hex;

use crate::wire::API_KEY_HEADER;

/// The scopes of the key `given` is, in time independent of where keys differ; `None` when it
/// is none of `keys`. A digest entry is compared with the digest of `given`, also in constant
/// time (the configuration then holds nothing usable).
pub fn key_matches(keys: &[ApiKey], given: &[u8]) -> Option<Scopes> {
    let digest = sha256_hex(given);
    let (found, scopes) = keys
        .iter()
        .fold((Choice::from(0), 0u8), |(found, scopes), key| {
            let hit = match &key.secret {
                KeySecret::Digest(hex) => hex.as_bytes().ct_eq(digest.as_bytes()),
                KeySecret::Plain(plain) => plain.as_slice().ct_eq(given),
            };
            (
                found | hit,
                u8::conditional_select(&scopes, &key.scopes.0, hit),
            )
        });
    bool::from(found).then_some(Scopes(scopes))
}

/// The scope a request needs: `score` for scoring and its batches, `outcomes` for recording
/// outcomes, `admin` for everything else behind the key (`/admin/...`, `DELETE
/// /employees/...`, and whatever is mounted later).
pub fn required_scope(method: &Method, path: &str) -> Scope {
    match (method, path) {
        (&Method::POST, "/predict" | "/predict/batch") => Scope::Score,
        (&Method::GET, p) if p.starts_with("/batches/") => Scope::Score,
        (&Method::POST, "/outcomes") => Scope::Outcomes,
        _ => Scope::Admin,
    }
}

/// Rejects a request without a valid `X-API-Key` when keys are configured (401), and one
/// whose key lacks the route's scope (403). Failures are counted per client address: past
/// `http.auth_failures_per_minute`, the address gets 429 with `Retry-After` until its minute
/// is over, and its keys are not even checked, so keys cannot be guessed at line rate.
pub async fn require_key(
    State(state): State<super::Shared>,
    request: Request,
    next: Next,
) -> Response {
    if state.keys.is_empty() {
        return next.run(request).await;
    }
    let client = client_of(&request, &state.ctx.settings.http.trusted_proxies);
    let now = Instant::now();
    let failures = &state.auth_failures;
    if let Err(retry_after) = failures.peek(&client, now) {
        return ApiError::too_many_failures(retry_after, failures.limit).into_response();
    }
    let given = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
    match given.and_then(|g| key_matches(&state.keys, g)) {
        Some(scopes) => {
            let needed = required_scope(request.method(), request.uri().path());
            if scopes.contains(needed) {
                next.run(request).await
            } else {
                // A valid key used out of its scope is no guess: not counted as a failure.
                ApiError::forbidden(needed.name()).into_response()
            }
        }
        None => match failures.check(&client, now) {
            Ok(()) => ApiError::unauthorized().into_response(),
            Err(retry_after) => {
                ApiError::too_many_failures(retry_after, failures.limit).into_response()
            }
        },
    }
}

/// 429 with `Retry-After` over `http.rate_limit_per_minute`: per API key when keys are
/// configured (the key was checked before), else per client address. Without keys the header
/// proves nothing, so a fresh value per request must not buy a fresh allowance.
pub async fn rate_limit(
    State(state): State<super::Shared>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    let key = request
        .headers()
        .get(API_KEY_HEADER)
        .filter(|_| !state.keys.is_empty());
    let client = match key {
        Some(key) => {
            let digest = sha2::Sha256::digest(key.as_bytes());
            let mut prefix = [0u8; 16];
            prefix.copy_from_slice(&digest[..16]);
            ClientKey::Key(prefix)
        }
        None => client_of(&request, &state.ctx.settings.http.trusted_proxies),
    };
    match limiter.check(&client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => ApiError::rate_limited(retry_after, limiter.limit).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys::parse_all;

    fn keys(entries: &[&str]) -> Vec<ApiKey> {
        parse_all(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).expect("keys")
    }

    #[test]
    fn keys_match_exactly() {
        let keys = keys(&["alpha", "beta"]);
        assert_eq!(key_matches(&keys, b"beta"), Some(Scopes::EVERY));
        assert_eq!(key_matches(&keys, b"bet"), None);
        assert_eq!(key_matches(&keys, b"betaa"), None);
        assert_eq!(key_matches(&[], b""), None);
    }

    #[test]
    fn a_digest_key_matches_the_key_it_hashes() {
        // sha256("0042"), upper-case as some tools print it.
        let entry = format!("sha256:{}", sha256_hex(b"0042").to_uppercase());
        let keys = keys(&[&entry]);
        assert!(key_matches(&keys, b"0042").is_some());
        assert!(key_matches(&keys, b"042").is_none());
        assert!(
            key_matches(&keys, entry.as_bytes()).is_none(),
            "the digest itself is not a key"
        );
    }

    #[test]
    fn the_matching_key_brings_its_scopes() {
        let digest = format!("outcomes:sha256:{}", sha256_hex(b"o"));
        let keys = keys(&["score:s", &digest, "everything"]);
        let score = key_matches(&keys, b"s").expect("score key");
        assert!(score.contains(Scope::Score) && !score.contains(Scope::Outcomes));
        let outcomes = key_matches(&keys, b"o").expect("outcomes key");
        assert!(outcomes.contains(Scope::Outcomes) && !outcomes.contains(Scope::Admin));
        assert_eq!(key_matches(&keys, b"everything"), Some(Scopes::EVERY));
        assert_eq!(
            key_matches(&keys, b"score:s"),
            None,
            "the scope is not part of the key"
        );
    }

    #[test]
    fn routes_need_the_scope_of_their_path() {
        assert_eq!(required_scope(&Method::POST, "/predict"), Scope::Score);
        assert_eq!(
            required_scope(&Method::POST, "/predict/batch"),
            Scope::Score
        );
        assert_eq!(required_scope(&Method::GET, "/batches/3f1e"), Scope::Score);
        assert_eq!(required_scope(&Method::POST, "/outcomes"), Scope::Outcomes);
        assert_eq!(required_scope(&Method::POST, "/admin/reload"), Scope::Admin);
        assert_eq!(
            required_scope(&Method::DELETE, "/employees/E1"),
            Scope::Admin
        );
        assert_eq!(
            required_scope(&Method::DELETE, "/outcomes"),
            Scope::Admin,
            "an unlisted method on a listed path is admin"
        );
    }
}
