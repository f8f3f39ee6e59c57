//! `turnover-bench`: the benchmark of docs/performance.md, against the machine's RabbitMQ and
//! Postgres, in one run:
//!
//! 1. the broker ceiling: persistent ~1 KiB messages through a fresh quorum queue, pipelined
//!    confirms, manual (multiple) acks, no work;
//! 2. the pipeline: distinct ~1 KiB requests into a fresh `turnover serve`, from the first
//!    publish to the last committed `predictions` row, at full speed and at half that rate,
//!    with enqueue→commit latency percentiles from `scored_at - enqueued_at`;
//! 3. `POST /predict` at several connection counts, and `POST /predict/batch` of 1,470;
//! 4. the service's RSS during each phase (a separate process unless `--in-process`).
//!
//! `--soak-minutes M` runs the endurance test instead. Each phase runs `--runs` times and the
//! table quotes the median. Everything it creates (queues, exchanges, the database
//! `turnover_bench_<id>`) is deleted at the end. Never run as a test: timing is not pass/fail.
//!
//! `cargo run --release --bin turnover-bench -- --runs 3`

#[path = "bench/broker.rs"]
mod broker;
#[path = "bench/load.rs"]
mod load;
#[path = "bench/service.rs"]
mod service;
#[path = "bench/stats.rs"]
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serde_json::Value;
use turnover::queue::publisher::Outgoing;
use turnover::record::sample;

use service::{Service, SERVE_ENV};
use stats::Row;

#[derive(Debug, Parser)]
#[command(
    name = "turnover-bench",
    about = "Throughput, latency and memory of turnover against the local RabbitMQ and Postgres"
)]
struct Args {
    /// Runs of each phase; the table quotes the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Messages per ceiling and pipeline run.
    #[arg(long, default_value_t = 30_000)]
    messages: usize,
    /// Unconfirmed publishes in flight.
    #[arg(long, default_value_t = 1000)]
    in_flight: usize,
    /// The ceiling consumer's prefetch.
    #[arg(long, default_value_t = 1000)]
    ceiling_prefetch: u16,
    /// The ceiling consumer acks (multiple) every this many deliveries.
    #[arg(long, default_value_t = 100)]
    ceiling_ack_every: u64,
    /// Connection counts for `/predict`.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,32")]
    connections: Vec<usize>,
    /// Seconds of measurement per `/predict` level (after a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    predict_seconds: u64,
    /// Only these phases (comma-separated: ceiling, pipeline, half, predict, batch).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ceiling,pipeline,half,predict,batch"
    )]
    phases: Vec<String>,
    /// Publish rate for the half-rate phase and the soak (default: half the measured maximum).
    #[arg(long)]
    rate: Option<u32>,
    /// Run the endurance test for this many minutes instead of the benchmark.
    #[arg(long)]
    soak_minutes: Option<u64>,
    /// Run the service inside the harness (memory figures are then the harness's own).
    #[arg(long)]
    in_process: bool,
    #[arg(
        long,
        env = "TURNOVERBENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// The Postgres server (no database name); the benchmark creates and drops its own.
    #[arg(
        long,
        env = "TURNOVERBENCH_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
}

fn main() -> ExitCode {
    if std::env::var_os(SERVE_ENV).is_some() {
        // The service under test: exactly what `turnover serve` runs.
        return match turnover::commands::run(turnover::cli::Cli::parse_from(["turnover"])) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let settings = service::settings(&id, &args.amqp_url, &args.postgres)?;
    let db_name = format!("turnover_bench_{id}");
    eprintln!(
        "turnover-bench {id}: {} run(s), {} messages, worker consumers={} batch_size={} batch_wait_ms={} prefetch={} pool={}",
        args.runs, args.messages, settings.worker.consumers, settings.worker.batch_size, settings.worker.batch_wait_ms, settings.amqp.prefetch, settings.postgres.pool_size
    );
    let mut rows = Vec::new();
    let phase = |name: &str| args.soak_minutes.is_none() && args.phases.iter().any(|p| p == name);

    if phase("ceiling") {
        let knobs = broker::Knobs {
            in_flight: args.in_flight,
            prefetch: args.ceiling_prefetch,
            ack_every: args.ceiling_ack_every,
        };
        let mut runs = Vec::new();
        for r in 0..args.runs {
            let rate = broker::ceiling(
                &args.amqp_url,
                &format!("bench.{id}.ceiling.{r}"),
                args.messages,
                1024,
                &knobs,
            )
            .await?;
            eprintln!("  ceiling run {r}: {rate:.0} msg/s");
            runs.push(rate);
        }
        rows.push(Row::new("1. broker ceiling", "msg/s", runs));
    }

    let log_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let svc = Service::start(settings, args.in_process, &log_dir).await?;
    let outcome = with_service(&args, &id, &svc, &mut rows).await;
    let (warns, errors) = svc.log_problems();
    let (_, hwm) = svc.memory.now();
    let log = svc.log.clone();
    let amqp = svc.settings.amqp.clone();
    let stopped = svc.stop().await;
    broker::delete_topology(&amqp, &[]).await;
    service::drop_database(&args.postgres, &db_name).await;
    outcome?;
    stopped?;

    let who = if args.in_process {
        "harness (in-process service)"
    } else {
        "serve"
    };
    rows.push(Row::new(
        format!("4. {who} VmHWM at exit"),
        "MiB",
        vec![hwm],
    ));
    println!();
    stats::print_table(&rows);
    println!(
        "\nservice log: {warns} WARN, {errors} ERROR lines ({})",
        log.map_or("in-process".into(), |p| p.display().to_string())
    );
    Ok(())
}

/// The phases that need the service.
async fn with_service(
    args: &Args,
    id: &str,
    svc: &Service,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let db = service::database(&svc.settings.postgres.url).await?;
    // The harness's counts must not borrow Postgres's parallel workers from the service.
    db.batch_execute("SET max_parallel_workers_per_gather = 0")
        .await?;
    let who = if svc.in_process { "harness" } else { "serve" };
    let idle_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (peak, steady) = svc.memory.window(idle_from, Instant::now());
    rows.push(Row::new(
        format!("4. {who} RSS idle, peak"),
        "MiB",
        vec![peak],
    ));
    rows.push(Row::new(
        format!("4. {who} RSS idle, steady"),
        "MiB",
        vec![steady],
    ));

    if let Some(minutes) = args.soak_minutes {
        return soak(args, id, svc, &db, minutes, rows).await;
    }

    let ceiling = rows
        .iter()
        .find(|r| r.measure.starts_with("1."))
        .map(|r| r.median);
    let mut max_rate = None;
    if args.phases.iter().any(|p| p == "pipeline") {
        let mut p = PipelineRows::default();
        for r in 0..args.runs {
            let m = pipeline(args, id, svc, &db, r as u64, None).await?;
            eprintln!(
                "  pipeline run {r}: {:.0} jobs/s, p50 {:.1} ms, p99 {:.1} ms, RSS peak {:.1} MiB",
                m.jobs_per_s, m.p50, m.p99, m.rss_peak
            );
            p.push(&m);
        }
        let median = stats::median(&p.rate);
        max_rate = Some(median);
        if let Some(c) = ceiling {
            rows.push(Row::new(
                "2. pipeline / ceiling (medians)",
                "ratio",
                vec![median / c],
            ));
        }
        p.into_rows("2. pipeline full speed", who, rows);
    }
    if args.phases.iter().any(|p| p == "half") {
        let rate = match (args.rate, max_rate) {
            (Some(r), _) => r,
            (None, Some(m)) => (m / 2.0) as u32,
            (None, None) => bail!("the half-rate phase needs --rate or the pipeline phase"),
        };
        let mut p = PipelineRows::default();
        for r in 0..args.runs {
            let m = pipeline(args, id, svc, &db, 100 + r as u64, Some(rate)).await?;
            eprintln!(
                "  half-rate run {r} at {rate}/s: p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms",
                m.p50, m.p99, m.p999
            );
            p.push(&m);
        }
        p.into_rows(&format!("2. pipeline at {rate}/s"), who, rows);
    }

    let wants_http = args.phases.iter().any(|p| p == "predict" || p == "batch");
    if wants_http {
        if let Err(error) = probe_predict(svc).await {
            eprintln!("  /predict does not work yet ({error:#}); skipping the HTTP phases");
            return Ok(());
        }
    }
    if args.phases.iter().any(|p| p == "predict") {
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
            sample::many(7, 1000)
                .into_iter()
                .map(|r| serde_json::to_vec(&r).unwrap_or_default())
                .collect(),
        );
        for &c in &args.connections {
            let (mut rps, mut p50, mut p99, mut p999, mut peak, mut steady) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for r in 0..args.runs {
                let from = Instant::now();
                let m = load::run(
                    svc.http,
                    "/predict",
                    Arc::clone(&bodies),
                    c,
                    Duration::from_secs(1),
                    Duration::from_secs(args.predict_seconds),
                )
                .await;
                let (pk, st) = svc.memory.window(from, Instant::now());
                eprintln!(
                    "  /predict c={c} run {r}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                    m.rps, m.p50_ms, m.p99_ms, m.errors
                );
                if m.errors > 0 {
                    eprintln!("    {} non-200 answers or failed connections", m.errors);
                }
                rps.push(m.rps);
                p50.push(m.p50_ms);
                p99.push(m.p99_ms);
                p999.push(m.p999_ms);
                peak.push(pk);
                steady.push(st);
            }
            rows.push(Row::new(
                format!("3. /predict c={c} throughput"),
                "req/s",
                rps,
            ));
            rows.push(Row::new(format!("3. /predict c={c} p50"), "ms", p50));
            rows.push(Row::new(format!("3. /predict c={c} p99"), "ms", p99));
            rows.push(Row::new(format!("3. /predict c={c} p99.9"), "ms", p999));
            rows.push(Row::new(
                format!("4. {who} RSS /predict c={c}, peak"),
                "MiB",
                peak,
            ));
            rows.push(Row::new(
                format!("4. {who} RSS /predict c={c}, steady"),
                "MiB",
                steady,
            ));
        }
    }
    if args.phases.iter().any(|p| p == "batch") {
        let (mut took, mut peak) = (vec![], vec![]);
        for r in 0..args.runs {
            let from = Instant::now();
            let ms = batch(svc, &db, r as u64).await?;
            let (pk, _) = svc.memory.window(from, Instant::now());
            eprintln!("  /predict/batch of 1470 run {r}: {ms:.0} ms to complete");
            took.push(ms);
            peak.push(pk);
        }
        rows.push(Row::new(
            "3. /predict/batch 1470: POST to complete",
            "ms",
            took,
        ));
        rows.push(Row::new(
            format!("4. {who} RSS /predict/batch, peak"),
            "MiB",
            peak,
        ));
    }
    Ok(())
}

/// One pipeline run's measures.
struct Pipeline {
    jobs_per_s: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    rss_peak: f64,
    rss_steady: f64,
}

#[derive(Default)]
struct PipelineRows {
    rate: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    peak: Vec<f64>,
    steady: Vec<f64>,
}

impl PipelineRows {
    fn push(&mut self, m: &Pipeline) {
        self.rate.push(m.jobs_per_s);
        self.p50.push(m.p50);
        self.p99.push(m.p99);
        self.p999.push(m.p999);
        self.peak.push(m.rss_peak);
        self.steady.push(m.rss_steady);
    }

    fn into_rows(self, name: &str, who: &str, rows: &mut Vec<Row>) {
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
    }
}

/// Publishes `args.messages` distinct requests (at `rate` when given) and waits for every row.
async fn pipeline(
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
    let finished = loop {
        let count: i64 = db
            .query_one("SELECT count(*) FROM predictions", &[])
            .await?
            .get(0);
        if count as usize >= n {
            break Instant::now();
        }
        if Instant::now() > deadline {
            bail!("only {count} of {n} rows after {:?}", started.elapsed());
        }
        // Coarse on purpose: a count is a scan of the table, and polling it fast showed up in
        // the profile as Postgres CPU taken from the service. The end time comes from the rows.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    publishing.await??;
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
    })
}

/// One `/predict` that must answer 200 with a score.
async fn probe_predict(svc: &Service) -> anyhow::Result<()> {
    let mut conn = load::Conn::open(svc.http).await?;
    let body = serde_json::to_vec(&sample::example())?;
    let answer = conn
        .request("POST", "/predict", "application/json", &body)
        .await?;
    let value: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if answer.status != 200 || value.get("probability_1").is_none() {
        bail!(
            "POST /predict answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    Ok(())
}

/// `POST /predict/batch` of 1,470 generated employees, then `GET /batches/{id}` until complete:
/// milliseconds from the POST to the complete answer, after checking every row is committed.
async fn batch(svc: &Service, db: &tokio_postgres::Client, seed: u64) -> anyhow::Result<f64> {
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
            break started.elapsed();
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
    Ok(took.as_secs_f64() * 1000.0)
}

/// The endurance test: `minutes` at `--rate` (default half the maximum measured first), 1 in
/// 100 requests invalid, then counts reconciled and RSS compared between minute 2 and the end.
async fn soak(
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
        let mut state = i ^ 0x5eed;
        let mut below = |n: u64| sample::splitmix(&mut state) % n;
        let mut record = sample::random(&mut below);
        if i % 100 == 99 {
            record.insert("age".into(), serde_json::json!(200));
        }
        let body = serde_json::json!({"request_id": format!("soak-{tag}-{i}"), "employee_id": i, "employee": record});
        Outgoing { body: serde_json::to_vec(&body).unwrap_or_default(), ..Default::default() }
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
