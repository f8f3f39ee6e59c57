//! The benchmark's measured phases: the pipeline runs, `/predict/batch`, and the soak.

use super::*;

/// One pipeline run's measures.
pub(super) struct Pipeline {
    pub(super) jobs_per_s: f64,
    pub(super) p50: f64,
    pub(super) p99: f64,
    pub(super) p999: f64,
    pub(super) rss_peak: f64,
    pub(super) rss_steady: f64,
    /// Microseconds of the service's CPU per committed job.
    pub(super) cpu_us_per_job: f64,
    /// The whole machine's CPU per committed job, by process (the harness is the publisher).
    pub(super) machine: machine::Split,
}

#[derive(Default)]
pub(super) struct PipelineRows {
    pub(super) rate: Vec<f64>,
    pub(super) p50: Vec<f64>,
    pub(super) p99: Vec<f64>,
    pub(super) p999: Vec<f64>,
    pub(super) peak: Vec<f64>,
    pub(super) steady: Vec<f64>,
    pub(super) cpu: Vec<f64>,
    pub(super) machine: Vec<machine::Split>,
}

impl PipelineRows {
    pub(super) fn push(&mut self, m: &Pipeline) {
        self.rate.push(m.jobs_per_s);
        self.p50.push(m.p50);
        self.p99.push(m.p99);
        self.p999.push(m.p999);
        self.peak.push(m.rss_peak);
        self.steady.push(m.rss_steady);
        self.cpu.push(m.cpu_us_per_job);
        self.machine.push(m.machine);
    }

    pub(super) fn into_rows(self, name: &str, who: &str, rows: &mut Vec<Row>) {
        rows.push(Row::new(format!("{name}: throughput"), "jobs/s", self.rate));
        rows.push(Row::new(
            format!("{name}: enqueue→commit p50"),
            "ms",
            self.p50,
        ));
        rows.push(Row::new(
            format!("{name}: enqueue→commit p99"),
            "ms",
            self.p99,
        ));
        rows.push(Row::new(
            format!("{name}: enqueue→commit p99.9"),
            "ms",
            self.p999,
        ));
        rows.push(Row::new(
            format!("4. {who} RSS {}, peak", &name[3..]),
            "MiB",
            self.peak,
        ));
        rows.push(Row::new(
            format!("4. {who} RSS {}, steady", &name[3..]),
            "MiB",
            self.steady,
        ));
        rows.push(Row::new(
            format!("5. {who} CPU per job, {}", &name[3..]),
            "µs",
            self.cpu,
        ));
        machine::rows(
            &self.machine,
            &format!("per job, {}", &name[3..]),
            "publisher",
            rows,
        );
    }
}

/// Publishes `args.messages` distinct requests (at `rate` when given) and waits for every row.
pub(super) async fn pipeline(
    args: &Args,
    id: &str,
    svc: &Service,
    db: &tokio_postgres::Client,
    seed: u64,
    rate: Option<u32>,
) -> anyhow::Result<Pipeline> {
    db.batch_execute("TRUNCATE predictions, rejected_messages")
        .await?;
    let n = args.messages;
    let messages = broker::requests(id, seed, n);
    let a = &svc.settings.amqp;
    let mut metrics = load::Conn::open(svc.http).await?;
    let scored_before = service::scored_jobs(&mut metrics).await?;
    let cpu_before = service::cpu_seconds(svc.pid);
    let machine_before = machine::snapshot(Some(svc.pid));
    let started = Instant::now();
    let started_wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let (url, exchange, key, in_flight) = (
        a.url.clone(),
        a.exchange.clone(),
        a.routing_key.clone(),
        args.in_flight,
    );
    let publishing = tokio::spawn(async move {
        broker::publish(&url, &exchange, &key, messages, in_flight, rate).await
    });
    let expected = rate.map_or(0.0, |r| n as f64 / f64::from(r));
    let deadline = started + Duration::from_secs_f64(120.0 + expected);
    // The end is watched on the service's count of committed jobs, not by counting the table:
    // a `count(*)` is a scan of every row stored so far (2–4 ms of Postgres at 30,000 rows),
    // which the run would pay in its own CPU, and the first to read the fresh rows, it would
    // set their hint bits too. The rows are counted once, at the end.
    let finished = loop {
        let done = service::scored_jobs(&mut metrics).await? - scored_before;
        if done >= n as u64 {
            break Instant::now();
        }
        if Instant::now() > deadline {
            bail!(
                "only {done} of {n} jobs scored after {:?}",
                started.elapsed()
            );
        }
        // The end time comes from the rows, so a coarse poll costs no precision.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cpu_after = service::cpu_seconds(svc.pid);
    let machine = machine::snapshot(Some(svc.pid)).since(&machine_before, n);
    publishing.await??;
    let stored: i64 = db
        .query_one("SELECT count(*) FROM predictions", &[])
        .await?
        .get(0);
    if stored as usize != n {
        bail!("{n} jobs scored but {stored} rows stored");
    }
    let last: f64 = db
        .query_one(
            "SELECT extract(epoch FROM max(scored_at))::float8 FROM predictions",
            &[],
        )
        .await?
        .get(0);
    let rejected: i64 = db
        .query_one("SELECT count(*) FROM rejected_messages", &[])
        .await?
        .get(0);
    if rejected > 0 {
        bail!("{rejected} requests rejected in a pipeline run of valid records");
    }
    let q: Vec<f64> = db
        .query_one(
            "SELECT percentile_cont(ARRAY[0.5, 0.99, 0.999]) WITHIN GROUP \
             (ORDER BY (extract(epoch FROM scored_at - enqueued_at) * 1000)::float8) FROM predictions",
            &[],
        )
        .await?
        .get(0);
    let (rss_peak, rss_steady) = svc.memory.window(started, finished);
    Ok(Pipeline {
        jobs_per_s: n as f64 / (last - started_wall),
        p50: q[0],
        p99: q[1],
        p999: q[2],
        rss_peak,
        rss_steady,
        cpu_us_per_job: cpu_per_unit(cpu_before, cpu_after, n),
        machine,
    })
}

/// Microseconds of CPU per unit of work between two readings (`NaN` when one is missing).
fn cpu_per_unit(before: Option<f64>, after: Option<f64>, units: usize) -> f64 {
    before
        .zip(after)
        .map_or(f64::NAN, |(b, a)| (a - b) * 1e6 / units as f64)
}

/// `POST /predict/batch` of 1,470 generated employees, then `GET /batches/{id}` until complete:
/// milliseconds from the POST to the complete answer, after checking every row is committed,
/// and the service's CPU per row over that time (its status polls, every 2 ms, included).
pub(super) async fn batch(
    svc: &Service,
    db: &tokio_postgres::Client,
    seed: u64,
) -> anyhow::Result<(f64, f64)> {
    const N: usize = 1470;
    let rows: Vec<_> = sample::many(1000 + seed, N)
        .into_iter()
        .enumerate()
        .map(|(i, record)| turnover::extracts::ExtractRow {
            employee_id: i as i64 + 1,
            record,
            label: None,
        })
        .collect();
    let (mut sondage, mut eval, mut sirh) = (Vec::new(), Vec::new(), Vec::new());
    turnover::extracts::write_extracts(&mut sondage, &mut eval, &mut sirh, &rows)?;
    let boundary = "turnoverbenchboundary7d1f";
    let mut body = Vec::new();
    for (field, file, bytes) in [
        ("sondage_file", "extrait_sondage.csv", &sondage),
        ("eval_file", "extrait_eval.csv", &eval),
        ("sirh_file", "extrait_sirh.csv", &sirh),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());

    let mut conn = load::Conn::open(svc.http).await?;
    let cpu_before = service::cpu_seconds(svc.pid);
    let started = Instant::now();
    let answer = conn
        .request(
            "POST",
            "/predict/batch",
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
        )
        .await?;
    if answer.status != 202 {
        bail!(
            "POST /predict/batch answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    let accepted: Value = serde_json::from_slice(&answer.body)?;
    let url = accepted["status_url"]
        .as_str()
        .context("no status_url")?
        .to_owned();
    let batch_id = accepted["batch_id"]
        .as_str()
        .context("no batch_id")?
        .parse::<uuid::Uuid>()?;
    let took = loop {
        let answer = conn.request("GET", &url, "application/json", b"").await?;
        let view: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if view["status"] == "complete" {
            break (started.elapsed(), service::cpu_seconds(svc.pid));
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("batch not complete after 60 s: {view}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let committed: i64 = db
        .query_one(
            "SELECT count(*) FROM predictions WHERE batch_id = $1",
            &[&batch_id],
        )
        .await?
        .get(0);
    if committed as usize != N {
        bail!("batch complete with {committed} of {N} rows committed");
    }
    Ok((
        took.0.as_secs_f64() * 1000.0,
        cpu_per_unit(cpu_before, took.1, N),
    ))
}

/// The endurance test: `minutes` at `--rate` (default half the maximum measured first), 1 in
/// 100 requests invalid, then counts reconciled and RSS compared between minute 2 and the end.
pub(super) async fn soak(
    args: &Args,
    id: &str,
    svc: &Service,
    db: &tokio_postgres::Client,
    minutes: u64,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let rate = match args.rate {
        Some(r) => r,
        None => {
            let m = pipeline(args, id, svc, db, 1, None).await?;
            eprintln!("  maximum measured: {:.0} jobs/s", m.jobs_per_s);
            (m.jobs_per_s / 2.0) as u32
        }
    };
    db.batch_execute("TRUNCATE predictions, rejected_messages")
        .await?;
    let total = u64::from(rate) * 60 * minutes;
    eprintln!("  soak: {minutes} min at {rate}/s = {total} messages (1% invalid)");
    let tag = id.to_owned();
    let messages = (0..total).map(move |i| {
        let mut rng = turnover::rng::Rng::new(i ^ 0x5eed);
        let mut below = |n: u64| rng.below(n);
        let mut record = sample::random(&mut below);
        if i % 100 == 99 {
            record.insert("age".into(), serde_json::json!(200));
        }
        let envelope = turnover::wire::Envelope {
            request_id: Some(format!("soak-{tag}-{i}")),
            employee_id: i64::try_from(i).ok(),
            ..turnover::wire::Envelope::new(record)
        };
        Outgoing {
            body: envelope.to_bytes(),
            ..Default::default()
        }
    });
    let a = svc.settings.amqp.clone();
    let in_flight = args.in_flight;
    let started = Instant::now();
    let publishing = tokio::spawn(async move {
        let connection = turnover::queue::connect(&a.url, "turnover-bench-soak").await?;
        let publisher =
            turnover::queue::publisher::Publisher::new(&connection, &a.exchange, &a.routing_key)
                .await?;
        let report = publisher
            .publish_all(messages, in_flight, Some(rate), |_| {})
            .await?;
        let _ = connection.close(200, "".into()).await;
        Ok::<_, anyhow::Error>(report)
    });
    let mut per_minute = Vec::new();
    for minute in 1..=minutes {
        tokio::time::sleep_until((started + Duration::from_secs(60 * minute)).into()).await;
        let (rss, _) = svc.memory.now();
        let from = started + Duration::from_secs(60 * (minute - 1));
        let (peak, _) = svc.memory.window(from, Instant::now());
        let count: i64 = db
            .query_one("SELECT count(*) FROM predictions", &[])
            .await?
            .get(0);
        eprintln!(
            "  soak minute {minute}: RSS {rss:.1} MiB (peak in the minute {peak:.1}), {count} rows"
        );
        per_minute.push((rss, peak));
    }
    let report = publishing.await??;
    let published = report.confirmed;
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    let (scored, rejected) = loop {
        let scored: i64 = db
            .query_one("SELECT count(*) FROM predictions", &[])
            .await?
            .get(0);
        let rejected: i64 = db
            .query_one("SELECT count(*) FROM rejected_messages", &[])
            .await?
            .get(0);
        if (scored + rejected) as u64 >= published || Instant::now() > drain_deadline {
            break (scored as u64, rejected as u64);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dead = u64::from(
        broker::depth(&svc.settings.amqp.url, &svc.settings.amqp.dead_letter_queue).await?,
    );
    let left = u64::from(broker::depth(&svc.settings.amqp.url, &svc.settings.amqp.queue).await?);
    let (warns, errors) = svc.log_problems();
    let reconciled = published == scored + rejected + dead;
    println!("soak: published {published} (returned {}, nacked {}) = predictions {scored} + rejected {rejected} + dead {dead}: {}; {left} left in the queue",
        report.returned, report.nacked, if reconciled { "reconciled" } else { "NOT RECONCILED" });
    let at = |m: u64| per_minute.get(m as usize - 1).map_or(f64::NAN, |x| x.0);
    let (m2, end) = (at(2.min(minutes)), at(minutes));
    println!("soak: RSS at minute 2 {m2:.1} MiB, at minute {minutes} {end:.1} MiB, growth {:+.1}%; log {warns} WARN, {errors} ERROR", (end / m2 - 1.0) * 100.0);
    rows.push(Row::new("soak rate", "msg/s", vec![f64::from(rate)]));
    rows.push(Row::new("soak RSS minute 2", "MiB", vec![m2]));
    rows.push(Row::new(
        format!("soak RSS minute {minutes}"),
        "MiB",
        vec![end],
    ));
    rows.push(Row::new(
        "soak RSS peak",
        "MiB",
        vec![per_minute.iter().map(|x| x.1).fold(f64::NAN, f64::max)],
    ));
    if !reconciled {
        bail!("soak counts do not reconcile");
    }
    Ok(())
}
