//! The hostile-mix check (issue 17), run by `.ci/hostile-mix` against a running
//! `turnover serve` configured by the same `TURNOVER_*` variables: 20,000 valid jobs
//! interleaved with 1,000 hostile messages of 17 kinds on the queue while valid and hostile
//! requests go to `POST /predict`, all at once. It passes when every valid job is exactly one
//! `predictions` row, every hostile message exactly one `rejected_messages` row (or one 4xx
//! over HTTP), the dead-letter queue is empty and no message was requeued (so none was
//! delivered more than once, but for a broker failure). Prints one summary line.
//!
//! `turnover-hostile-mix [VALID] [HOSTILE] [HTTP_VALID] [HTTP_HOSTILE]` (defaults 20000 1000 500 320).

mod http;
mod kinds;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use futures_util::stream::{self, StreamExt};
use turnover::config::Settings;
use turnover::digest::sha256_hex;
use turnover::queue::publisher::Publisher;
use turnover::queue::{self, topology};
use turnover::record::sample;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let mut next = |default| args.next().unwrap_or(Ok(default));
    let (valid_n, hostile_n, http_valid_n, http_hostile_n) =
        (next(20_000)?, next(1_000)?, next(500)?, next(320)?);
    let settings = Settings::load(None).context("the service's configuration")?;
    let amqp = &settings.amqp;

    // Queue: one hostile message every `stride` valid ones, the kinds taking turns.
    let mut hostile = Vec::new();
    for (kind, _) in kinds::QUEUE_KINDS.iter().enumerate() {
        for i in 0..kinds::per_kind(kind, hostile_n) {
            hostile.push((kind, kinds::hostile(kind, i)));
        }
    }
    hostile.sort_by_key(|(kind, m)| (m.body.len() % 7, *kind));
    let records = sample::many(17, 500);
    let stride = valid_n / hostile.len().max(1) + 1;
    let mut messages = Vec::with_capacity(valid_n + hostile.len());
    let mut expected: HashMap<String, usize> = HashMap::new();
    let mut hostile_iter = hostile.iter();
    for i in 0..valid_n {
        messages.push(kinds::valid(i, &records[i % records.len()]));
        if i % stride == 0 {
            if let Some((_, m)) = hostile_iter.next() {
                *expected.entry(sha256_hex(&m.body)).or_default() += 1;
                messages.push(m.clone());
            }
        }
    }
    for (_, m) in hostile_iter {
        *expected.entry(sha256_hex(&m.body)).or_default() += 1;
        messages.push(m.clone());
    }
    let queued = messages.len();

    // HTTP, at the same time: valid and hostile requests, eight at once.
    let addr = settings.http.addr;
    let requests: Vec<http::Request> = (0..http_valid_n.max(http_hostile_n))
        .flat_map(|i| {
            let v = (i < http_valid_n).then(|| http::valid(i));
            let h = (i < http_hostile_n).then(|| http::hostile(i % http::HTTP_KINDS, i));
            v.into_iter().chain(h)
        })
        .collect();
    let http_task = tokio::spawn(async move {
        stream::iter(requests)
            .map(|r| async move { (r.valid, http::post(addr, &r).await) })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await
    });

    let started = Instant::now();
    let connection = queue::connect_with(amqp, "hostile-mix").await?;
    topology::declare(&connection, amqp).await?;
    let publisher = Publisher::new(&connection, &amqp.exchange, &amqp.routing_key).await?;
    let report = publisher.publish_all(messages, 500, None, |_| {}).await?;
    ensure!(
        report.all_confirmed(queued as u64),
        "publishing: {report:?}"
    );

    let answers = http_task.await?;
    let (mut http_ok, mut http_4xx) = (0, 0);
    for (valid, status) in &answers {
        match (valid, status) {
            (true, Ok(200)) => http_ok += 1,
            (false, Ok(400..=499)) => http_4xx += 1,
            (valid, status) => bail!(
                "/predict: a {} request answered {status:?}",
                if *valid { "valid" } else { "hostile" }
            ),
        }
    }

    // Wait, with a deadline, until every message has its row and the queue is empty.
    let pool = turnover::storage::pool(
        &settings.postgres.url,
        NonZeroUsize::new(2).expect("2 connections"),
    )?;
    let db = pool.get().await?;
    let channel = connection.create_channel().await?;
    let want_valid = (valid_n + http_ok) as i64;
    let deadline = Instant::now() + Duration::from_secs(180);
    let (predictions, rejected) = loop {
        let count = |sql: &'static str| {
            let db = &db;
            async move { db.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0)) }
        };
        let p = count("SELECT count(*) FROM predictions").await?;
        let r = count("SELECT count(*) FROM rejected_messages").await?;
        let (ready, _) = topology::depth(&channel, &amqp.queue).await?;
        if p >= want_valid && r >= expected.values().sum::<usize>() as i64 && ready == 0 {
            break (p, r);
        }
        if Instant::now() > deadline {
            bail!("after 180 s: {p} of {want_valid} predictions, {r} rejected rows, {ready} still queued");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Exactly one rejected row per hostile message: by the hash of its whole body.
    let mut stored: HashMap<String, usize> = HashMap::new();
    for row in db
        .query("SELECT payload_sha256 FROM rejected_messages", &[])
        .await?
    {
        *stored.entry(row.get(0)).or_default() += 1;
    }
    ensure!(
        stored == expected,
        "rejected rows differ from the hostile messages sent"
    );
    let queue_valid: i64 = db
        .query_one(
            "SELECT count(*) FROM predictions WHERE request_id LIKE 'valid-%'",
            &[],
        )
        .await?
        .get(0);
    ensure!(
        queue_valid == valid_n as i64 && predictions == want_valid,
        "{queue_valid} queued and {predictions} rows in all"
    );
    let (dead, _) = topology::depth(&channel, &amqp.dead_letter_queue).await?;
    ensure!(dead == 0, "{dead} dead letters");
    let requeued = requeued(addr).await?;
    ensure!(requeued == 0, "{requeued} messages were requeued");
    println!(
        "hostile-mix: {valid_n} valid queued jobs -> {queue_valid} predictions rows; {} hostile \
         messages of {} kinds -> {rejected} rejected_messages rows; /predict: {http_ok} valid -> \
         200, {http_4xx} hostile -> 4xx; dead letters {dead}; requeued {requeued} (every message \
         delivered once); {:.0} s",
        expected.values().sum::<usize>(),
        kinds::QUEUE_KINDS.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `turnover_jobs_total{outcome="failed"}`: messages nacked with requeue (each one a second
/// delivery).
async fn requeued(addr: std::net::SocketAddr) -> anyhow::Result<u64> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await?;
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await?;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("turnover_jobs_total{outcome=\"failed\"} "))
        .and_then(|v| v.trim().parse().ok())
        .context("turnover_jobs_total{outcome=\"failed\"} in /metrics")
}
