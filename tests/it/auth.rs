//! Safe defaults, key scopes, trusted proxies and bounded limiters (issue 17, item 4),
//! against the real service: the binary or `startup::build`, Postgres, RabbitMQ.

use std::net::SocketAddr;
use std::num::NonZero;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};
use turnover::startup::Roles;

use crate::app::{test_settings, TestApp};
use crate::helpers::TestDb;
use crate::http::{client, get_json};

/// A route behind the key that needs no worker: an unknown batch is a 404 once past the key.
fn batch_path() -> String {
    format!("/batches/{}", uuid::Uuid::new_v4())
}

async fn get(app: &TestApp, path: &str, key: Option<&str>, forwarded: Option<&str>) -> StatusCode {
    let mut request = client().get(app.url(path));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    if let Some(forwarded) = forwarded {
        request = request.header("X-Forwarded-For", forwarded);
    }
    request.send().await.expect("request").status()
}

#[tokio::test]
async fn serve_on_all_addresses_without_a_key_refuses_to_start_and_names_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_turnover"))
        .arg("serve")
        .env("TURNOVER_HTTP__ADDR", "0.0.0.0:0")
        .env("TURNOVER_LOG__FORMAT", "pretty")
        .env_remove("TURNOVER_AUTH__API_KEYS")
        .env_remove("TURNOVER_AUTH__ALLOW_ANONYMOUS")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "serve started: {stderr}");
    assert!(
        stderr.contains("auth.allow_anonymous") && stderr.contains("0.0.0.0:0"),
        "{stderr}"
    );

    // Allowed on purpose: it serves, warns, and /health says the routes are open.
    let app = TestApp::spawn_with(
        |s| {
            s.http.addr = SocketAddr::from(([0, 0, 0, 0], 0));
            s.auth.allow_anonymous = true;
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let port = app.addr.expect("listens").port();
    let health = get_json(&format!("http://127.0.0.1:{port}/health")).await;
    assert_eq!(health["anonymous_access"], true, "{health}");
    app.finish().await;
}

#[tokio::test]
async fn a_key_on_all_addresses_starts_and_health_says_keys_are_needed() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.http.addr = SocketAddr::from(([0, 0, 0, 0], 0));
    settings.auth.api_keys = vec!["k".into()];
    let app = TestApp::start(db, settings, Roles::HTTP_ONLY).await;
    let health = get_json(&app.url("/health")).await;
    assert_eq!(health["anonymous_access"], false, "{health}");
    app.finish().await;
}

#[tokio::test]
async fn a_key_without_the_scope_gets_403_json() {
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec![
                "score:s-key".into(),
                "outcomes:o-key".into(),
                "all-key".into(),
            ]
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let response = client()
        .post(app.url("/outcomes"))
        .header("X-API-Key", "s-key")
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("a JSON body");
    assert!(
        body["detail"].as_str().unwrap().contains("outcomes scope"),
        "{body}"
    );
    assert_eq!(
        get(&app, &batch_path(), Some("o-key"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, &batch_path(), Some("s-key"), None).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &batch_path(), Some("all-key"), None).await,
        StatusCode::NOT_FOUND
    );
    // 403s are no guesses: the failed-key throttle (10 a minute) never starts.
    for _ in 0..15 {
        assert_eq!(
            get(&app, &batch_path(), Some("o-key"), None).await,
            StatusCode::FORBIDDEN
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_an_untrusted_one_does_not() {
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec!["the-key".into()];
            s.http.auth_failures_per_minute = NonZero::new(2).unwrap();
            s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let path = batch_path();
    // The client forges a first entry; the proxy (this test, on 127.0.0.1) appended its address.
    let guesser = Some("6.6.6.6, 203.0.113.1");
    for _ in 0..2 {
        assert_eq!(
            get(&app, &path, Some("guess"), guesser).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        get(&app, &path, Some("the-key"), guesser).await,
        StatusCode::TOO_MANY_REQUESTS,
        "203.0.113.1 is throttled"
    );
    assert_eq!(
        get(&app, &path, Some("the-key"), Some("6.6.6.6, 203.0.113.2")).await,
        StatusCode::NOT_FOUND,
        "another client behind the same proxy is not locked out"
    );
    app.finish().await;

    // The same requests from a peer that is not trusted: the header is ignored, the peer counts.
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec!["the-key".into()];
            s.http.auth_failures_per_minute = NonZero::new(2).unwrap();
            s.http.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        },
        Roles::HTTP_ONLY,
    )
    .await;
    for i in 0..2 {
        let forwarded = format!("203.0.113.{i}");
        assert_eq!(
            get(&app, &path, Some("guess"), Some(&forwarded)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        get(&app, &path, Some("the-key"), Some("203.0.113.99")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a fresh X-Forwarded-For from an untrusted peer buys nothing"
    );
    app.finish().await;
}

/// `turnover_http_limiter_clients{limiter}` from `/metrics`.
async fn tracked(app: &TestApp, limiter: &str) -> u64 {
    let text = client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("turnover_http_limiter_clients{{limiter=\"{limiter}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .expect("a count")
}

#[tokio::test]
async fn limiters_stay_bounded_and_without_keys_limit_per_address_not_per_claimed_key() {
    let app = TestApp::spawn_with(
        |s| {
            s.http.rate_limit_per_minute = Some(NonZero::new(3).unwrap());
            s.http.limiter_max_clients = NonZero::new(50).unwrap();
            s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        },
        Roles::HTTP_ONLY,
    )
    .await;
    // No keys configured: a fresh X-API-Key per request is the same client.
    let client_addr = Some("192.0.2.7");
    let mut statuses = Vec::new();
    for i in 0..5 {
        let key = format!("made-up-{i}");
        statuses.push(
            get(&app, &batch_path(), Some(&key), client_addr)
                .await
                .as_u16(),
        );
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429], "{statuses:?}");
    // 400 more client addresses, one request each: 49 fill the table, the rest share one
    // count (3 a minute) and are throttled together.
    let mut allowed = 0;
    for i in 0..400u32 {
        let forwarded = format!("198.18.{}.{}", i / 256, i % 256);
        match get(&app, &batch_path(), None, Some(&forwarded)).await {
            StatusCode::NOT_FOUND => allowed += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(allowed, 49 + 3);
    assert_eq!(
        tracked(&app, "rate_limit").await,
        50,
        "the table holds its cap, no more"
    );
    app.finish().await;
}
