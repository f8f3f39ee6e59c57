//! The same hostile kinds sent to `POST /predict`, with valid requests among them, over plain
//! HTTP/1.1 (one connection per request). A body over the sidecar's 64 KiB limit is sent with
//! `Expect: 100-continue`, as curl does: the sidecar refuses it before it is sent.

use std::net::SocketAddr;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use turnover::record::sample;

use crate::kinds;

/// One `/predict` request: extra headers and the body.
pub struct Request {
    pub headers: Vec<(&'static str, Vec<u8>)>,
    pub body: Vec<u8>,
    pub valid: bool,
}

/// The queue kinds whose body reaches the sidecar as it is (the others are AMQP properties
/// and headers, which HTTP replaces with its own ids: the two `Idempotency-Key` kinds).
const BODY_KINDS: [usize; 14] = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

/// The HTTP kinds: two bad keys, then the body kinds.
pub const HTTP_KINDS: usize = 2 + BODY_KINDS.len();

/// Hostile request `i` of kind `kind` (0 to `HTTP_KINDS - 1`).
pub fn hostile(kind: usize, i: usize) -> Request {
    let (headers, body) = match kind {
        0 => (
            // Inside the value: HTTP drops the whitespace around a header value.
            vec![("idempotency-key", format!("k\t{i}").into_bytes())],
            json_body(i),
        ),
        1 => (
            vec![("idempotency-key", "k".repeat(201).into_bytes())],
            json_body(i),
        ),
        k => (
            Vec::new(),
            kinds::hostile(BODY_KINDS[(k - 2) % BODY_KINDS.len()], i).body,
        ),
    };
    Request {
        headers,
        body,
        valid: false,
    }
}

fn json_body(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"employee": sample::example(), "employee_id": i}))
        .unwrap_or_default()
}

/// Valid request `i`, with its own idempotency key.
pub fn valid(i: usize) -> Request {
    Request {
        headers: vec![("idempotency-key", format!("http-valid-{i}").into_bytes())],
        body: json_body(i),
        valid: true,
    }
}

/// Sends one request and returns the answer's status.
///
/// # Errors
/// When the connection fails or the answer has no status line.
pub async fn post(addr: SocketAddr, request: &Request) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let large = request.body.len() > 64 * 1024;
    let mut head = format!(
        "POST /predict HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n",
        request.body.len()
    )
    .into_bytes();
    if large {
        head.extend_from_slice(b"expect: 100-continue\r\n");
    }
    for (name, value) in &request.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).await?;
    if large {
        let status = status(&read_head(&mut stream).await?)?;
        if status != 100 {
            return Ok(status);
        }
    }
    stream.write_all(&request.body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    status(&answer)
}

/// Reads until the end of a response head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn status(answer: &[u8]) -> std::io::Result<u16> {
    answer
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line in the answer"))
}
