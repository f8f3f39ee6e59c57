//! A small HTTP/1.1 load generator: `c` keep-alive connections, each sending one request at a
//! time (a closed loop, as a client waiting for its answer does), for a fixed duration after a
//! warm-up. Written against a raw socket so the client costs as little CPU as possible on a
//! machine it shares with everything it measures; it needs `Content-Length` answers (axum's).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::machine::Snapshot;
use crate::stats::quantile;

/// What a load level measured.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Answers other than 200, and failed connections.
    pub errors: u64,
    /// Microseconds of the service's CPU per 200 answer while measuring (`NaN` without a pid).
    pub cpu_us_per_answer: f64,
    /// The whole machine's CPU per 200 answer, by process.
    pub machine: crate::machine::Split,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

/// An answer: the status and the body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads its answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<Answer> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let mut out = Vec::with_capacity(head.len() + body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body);
        self.stream.write_all(&out).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> anyhow::Result<Answer> {
        let header_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head =
            std::str::from_utf8(&self.buf[..header_end]).context("answer head is not UTF-8")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .context("answer without Content-Length")?
            .parse()?;
        while self.buf.len() < header_end + length {
            self.fill().await?;
        }
        let body = self.buf[header_end..header_end + length].to_vec();
        self.buf.drain(..header_end + length);
        Ok(Answer { status, body })
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs `connections` closed-loop clients posting `bodies` (round robin) to `path` for
/// `warmup` (not recorded) then `duration`; the CPU of process `pid` is read at both ends of
/// the measured window.
pub async fn drive(
    pid: Option<u32>,
    addr: SocketAddr,
    path: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> LoadResult {
    let start = Instant::now() + warmup;
    let end = start + duration;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let before = pid.and_then(crate::service::cpu_seconds);
        let machine_before = crate::machine::snapshot(pid);
        tokio::time::sleep_until(end.into()).await;
        let after = pid.and_then(crate::service::cpu_seconds);
        let machine_after = crate::machine::snapshot(pid);
        (
            before.zip(after).map_or(f64::NAN, |(b, a)| a - b),
            (machine_before, machine_after),
        )
    });
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (bodies, path) = (Arc::clone(&bodies), path.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::with_capacity(100_000), 0u64);
            let Ok(mut conn) = Conn::open(addr).await else {
                return (latencies, 1);
            };
            let mut i = c * 7919;
            loop {
                let body = &bodies[i % bodies.len()];
                i += 1;
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                match conn.request("POST", &path, "application/json", body).await {
                    Ok(answer) if sent >= start => {
                        if answer.status == 200 {
                            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                        } else {
                            errors += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        errors += 1;
                        match Conn::open(addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort_by(f64::total_cmp);
    let (cpu, (machine_before, machine_after)) = cpu
        .await
        .unwrap_or((f64::NAN, (Snapshot::unknown(), Snapshot::unknown())));
    LoadResult {
        cpu_us_per_answer: cpu * 1e6 / all.len() as f64,
        machine: machine_after.since(&machine_before, all.len()),
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: quantile(&all, 0.5),
        p99_ms: quantile(&all, 0.99),
        p999_ms: quantile(&all, 0.999),
        errors,
    }
}
