//! The bounds of the HTTP edge (issue 17): `/outcomes` floods, batch rows and slots, the
//! header and body deadlines and the connection cap, each refused with its JSON error.

use std::num::NonZero;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use turnover::startup::Roles;

use super::batch::{extract_files, form};
use super::{client, wait_ready};
use crate::app::TestApp;
use crate::helpers::wait_until;

async fn post_outcomes(app: &TestApp, body: String) -> (StatusCode, Value) {
    let response = client()
        .post(app.url("/outcomes"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// `n` empty objects as a JSON list: `[{},{},...]`.
fn empties(n: usize) -> String {
    format!("[{}{{}}]", "{},".repeat(n - 1))
}

#[tokio::test]
async fn outcome_floods_are_refused_with_json_naming_the_limit() {
    let app = TestApp::spawn_with(|_| {}, Roles::HTTP_ONLY).await;
    // 20 MiB: refused from its Content-Length, before it is read.
    let (status, body) = post_outcomes(&app, empties(7 * 1024 * 1024)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(
        body["detail"],
        "the body is larger than http.max_outcomes_bytes (2097152 bytes)"
    );
    // Under the byte limit, over the item limit.
    let (status, body) = post_outcomes(&app, empties(10_001)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["field"], "body");
    assert_eq!(
        body["detail"][0]["message"],
        "holds more than 10000 outcomes (http.max_outcomes); send them in several requests"
    );
    // 1,000 outcomes missing 3 fields each: 100 errors listed, then how many more.
    let (status, body) = post_outcomes(&app, empties(1_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = body["detail"].as_array().expect("a list");
    assert_eq!(errors.len(), 101);
    assert_eq!(errors[0]["field"], "[0].employee_id");
    assert_eq!(errors[100]["field"], "body");
    assert_eq!(
        errors[100]["message"],
        "and 2900 more errors; an answer lists at most 100"
    );
    assert_eq!(errors[100]["value"], 2900);
    app.finish().await;
}

#[tokio::test]
async fn batches_are_bounded_in_rows_and_in_uploads_at_once() {
    let app = TestApp::spawn_with(
        |s| {
            s.http.max_batch_rows = NonZero::new(10).unwrap();
            s.http.max_concurrent_batches = NonZero::new(1).unwrap();
        },
        Roles::ALL,
    )
    .await;
    wait_ready(&app, true).await;
    let http = client();
    let response = http
        .post(app.url("/predict/batch"))
        .multipart(form(extract_files(11), None))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["detail"],
        "extrait_sondage.csv has more than 10 rows (http.max_batch_rows); split the extracts \
         into several batches"
    );

    // An upload that has sent its headers and part of its body holds the only slot.
    let addr = app.addr.expect("listening");
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(
        b"POST /predict/batch HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; \
          boundary=b\r\ncontent-length: 100000\r\n\r\n--b\r\n",
    )
    .await
    .expect("write");
    let busy = wait_until(
        "the slow upload to hold the slot",
        Duration::from_secs(10),
        || {
            let (http, url) = (http.clone(), app.url("/predict/batch"));
            async move {
                let response = http
                    .post(url)
                    .multipart(form(extract_files(3), None))
                    .send()
                    .await
                    .ok()?;
                (response.status() == StatusCode::TOO_MANY_REQUESTS).then_some(response)
            }
        },
    )
    .await;
    assert_eq!(busy.headers()["retry-after"], "5");
    let body: Value = busy.json().await.expect("json");
    assert_eq!(
        body["detail"],
        "1 batch uploads are already in progress (http.max_concurrent_batches); retry in 5 s"
    );
    // The client goes away: its slot is free again.
    drop(slow);
    wait_until("the slot to be free", Duration::from_secs(10), || {
        let (http, url) = (http.clone(), app.url("/predict/batch"));
        async move {
            let response = http
                .post(url)
                .multipart(form(extract_files(3), None))
                .send()
                .await
                .ok()?;
            (response.status() == StatusCode::ACCEPTED).then_some(())
        }
    })
    .await;
    app.finish().await;
}

/// Reads what the server sends until it closes the connection or has sent a whole JSON body,
/// for at most 10 s.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            answer.extend_from_slice(&chunk[..n]);
            if n == 0 || answer.ends_with(b"}") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer or a closed connection within 10 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn slow_headers_are_cut_and_a_slow_body_is_a_408() {
    let app = TestApp::spawn_with(
        |s| s.http.read_timeout_ms = NonZero::new(300).unwrap(),
        Roles::HTTP_ONLY,
    )
    .await;
    let addr = app.addr.expect("listening");

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\n")
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            b"POST /outcomes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 1000\r\n\r\n[{\"employee_id\": 1,",
        )
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(
        answer.ends_with(
            "{\"detail\":\"the request body did not arrive within http.read_timeout_ms \
             (300 ms); send it faster or in smaller parts\"}"
        ),
        "{answer}"
    );
    app.finish().await;
}

#[tokio::test]
async fn past_the_connection_cap_a_client_waits_for_a_free_slot() {
    let app = TestApp::spawn_with(
        |s| s.http.max_connections = NonZero::new(2).unwrap(),
        Roles::HTTP_ONLY,
    )
    .await;
    let addr = app.addr.expect("listening");
    let get_health = b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let (first, second) = (
        TcpStream::connect(addr).await.expect("connect"),
        TcpStream::connect(addr).await.expect("connect"),
    );
    // Two idle connections take both slots (the header deadline, 10 s, is far off).
    let mut third = TcpStream::connect(addr).await.expect("connect");
    third.write_all(get_health).await.expect("write");
    let mut buffer = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_secs(1), third.read(&mut buffer)).await;
    assert!(waited.is_err(), "answered past the cap of 2 connections");
    drop(first);
    let answer = read_answer(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    drop(second);
    app.finish().await;
}
