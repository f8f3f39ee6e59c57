//! `turnover-bench`: the benchmark of docs/performance.md, against the machine's RabbitMQ and
//! Postgres, in one run:
//!
//! 1. the broker ceiling: persistent ~1 KiB messages through a fresh quorum queue, pipelined
//!    confirms, manual (multiple) acks, no work;
//! 2. the pipeline: distinct ~1 KiB requests into a fresh `turnover serve`, from the first
//!    publish to the last committed `predictions` row, at full speed and at half that rate,
//!    with enqueue→commit latency percentiles from `scored_at - enqueued_at`;
//! 3. `POST /predict` at several connection counts, and `POST /predict/batch` of 1,470;
//! 4. the service's RSS during each phase (a separate process unless `--in-process`);
//! 5. CPU per unit of work: the service's, and the whole machine's by process (broker,
//!    Postgres, this harness, the rest) over each ceiling, pipeline and `/predict` window.
//!
//! `--soak-minutes M` runs the endurance test instead. Each phase runs `--runs` times and the
//! table quotes the median. Everything it creates (queues, exchanges, the database
//! `turnover_bench_<id>`) is deleted at the end. Never run as a test: timing is not pass/fail.
//!
//! `cargo run --release --bin turnover-bench -- --runs 3`

mod broker;
mod load;
mod machine;
mod phases;
mod predict;
mod service;
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

use phases::{batch, pipeline, soak, PipelineRows};
use predict::{predict, probe_predict};
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
    /// Run the service from this `turnover-bench` binary, another build, instead of this one:
    /// two builds measured under one harness differ only in the service.
    #[arg(long, value_name = "PATH", conflicts_with = "in_process")]
    serve_binary: Option<PathBuf>,
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
        return match turnover::commands::dispatch(turnover::commands::Cli::parse_from(["turnover"]))
        {
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
    match runtime.block_on(bench(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let settings = service::settings(&id, &args.amqp_url, &args.postgres)?;
    let db_name = format!("turnover_bench_{id}");
    eprintln!(
        "turnover-bench {id}: {} run(s), {} messages, worker consumers={} batch_size={} batch_wait_ms={} prefetch={} pool={}",
        args.runs, args.messages, settings.worker.consumers, settings.worker.batch_size, settings.worker.batch_wait_ms, settings.amqp.prefetch, settings.postgres.pool_size
    );
    let mut rows = Vec::new();
    // The machine is shared: the load around the run says how far its figures can be trusted.
    let load_at_start = service::load_average();
    let phase = |name: &str| args.soak_minutes.is_none() && args.phases.iter().any(|p| p == name);

    if phase("ceiling") {
        let knobs = broker::Knobs {
            in_flight: args.in_flight,
            prefetch: args.ceiling_prefetch,
            ack_every: args.ceiling_ack_every,
        };
        let (mut runs, mut machine) = (Vec::new(), Vec::new());
        for r in 0..args.runs {
            let before = machine::snapshot(None);
            let rate = broker::ceiling(
                &args.amqp_url,
                &format!("bench.{id}.ceiling.{r}"),
                args.messages,
                1024,
                &knobs,
            )
            .await?;
            let w = machine::snapshot(None).since(&before, args.messages);
            eprintln!(
                "  ceiling run {r}: {rate:.0} msg/s; machine CPU/message: broker {:.0}, publisher and consumer {:.0}, all {:.0} µs",
                w.broker, w.harness, w.total
            );
            runs.push(rate);
            machine.push(w);
        }
        rows.push(Row::new("1. broker ceiling", "msg/s", runs));
        machine::rows(
            &machine,
            "per message, ceiling",
            "publisher and consumer",
            &mut rows,
        );
    }

    let log_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let svc = Service::start(
        settings,
        args.in_process,
        args.serve_binary.as_deref(),
        &log_dir,
    )
    .await?;
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
    for (when, load) in [("start", load_at_start), ("end", service::load_average())] {
        let [one, five, fifteen] = load.unwrap_or([f64::NAN; 3]);
        rows.push(Row::new(
            format!("0. load average 1/5/15 min at {when}"),
            "load",
            vec![one, five, fifteen],
        ));
    }
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
            let w = &m.machine;
            eprintln!(
                "  pipeline run {r}: {:.0} jobs/s, p50 {:.1} ms, p99 {:.1} ms, RSS peak {:.1} MiB\n    machine CPU/job: {who} {:.0}, broker {:.0}, postgres {:.0}, publisher {:.0}, other {:.0}; all {:.0} µs",
                m.jobs_per_s, m.p50, m.p99, m.rss_peak, m.cpu_us_per_job, w.broker, w.postgres, w.harness, w.other, w.total
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
        predict(args, svc, who, rows).await;
    }
    if args.phases.iter().any(|p| p == "batch") {
        let (mut took, mut peak, mut cpu) = (vec![], vec![], vec![]);
        for r in 0..args.runs {
            let from = Instant::now();
            let (ms, us_per_row) = batch(svc, &db, r as u64).await?;
            let (pk, _) = svc.memory.window(from, Instant::now());
            eprintln!("  /predict/batch of 1470 run {r}: {ms:.0} ms to complete, {us_per_row:.0} µs CPU per row");
            took.push(ms);
            peak.push(pk);
            cpu.push(us_per_row);
        }
        rows.push(Row::new(
            format!("5. {who} CPU per /predict/batch row"),
            "µs",
            cpu,
        ));
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
