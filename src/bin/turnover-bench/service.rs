//! The service under test: `turnover serve` as a separate process (this binary re-executed in
//! serve mode, so it is always the code just built), or in-process for a quick look. Its own
//! database `turnover_bench_<id>` and queue names; an RSS sampler reading `/proc/<pid>/status`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use turnover::config::{LogFormat, Settings};
use turnover::queue;
use turnover::startup::Roles;

use crate::broker;

/// The environment variable that turns this binary into `turnover serve`.
/// (Not `TURNOVER_*`: the configuration rejects unknown keys under that prefix.)
pub const SERVE_ENV: &str = "TURNOVERBENCH_SERVE";

/// A running service.
pub struct Service {
    pub settings: Settings,
    pub http: SocketAddr,
    pub pid: u32,
    pub in_process: bool,
    pub log: Option<PathBuf>,
    kind: Kind,
    pub memory: Memory,
}

enum Kind {
    Child(tokio::process::Child),
    InProcess {
        shutdown: CancellationToken,
        task: JoinHandle<anyhow::Result<()>>,
    },
}

/// The settings of one benchmark service: the user's (file and `TURNOVER_*`), with its own
/// database, exchange and queue names, HTTP on a free loopback port, the committed model.
pub fn settings(id: &str, amqp_url: &str, pg_base: &str) -> anyhow::Result<Settings> {
    let mut s = Settings::load(None)?;
    s.amqp.url = amqp_url.to_owned();
    s.amqp.exchange = format!("bench.{id}");
    s.amqp.queue = format!("bench.{id}.requests");
    s.amqp.dead_letter_exchange = format!("bench.{id}.dlx");
    s.amqp.dead_letter_queue = format!("bench.{id}.dead");
    s.amqp.rpc_queue = format!("bench.{id}.rpc");
    s.postgres.url = format!("{}/turnover_bench_{id}", pg_base.trim_end_matches('/'));
    // Bound then released: the child binds it again (a race only with another program).
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    s.http.addr = SocketAddr::from(([127, 0, 0, 1], port));
    if s.model.path.is_relative() && !s.model.path.exists() {
        s.model.path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/turnover");
    }
    s.log.format = LogFormat::Json;
    s.log.level = std::env::var("TURNOVER_LOG__LEVEL").unwrap_or_else(|_| "warn".into());
    Ok(s)
}

impl Service {
    /// Starts the service and waits until its worker consumes and its sidecar answers.
    /// `binary`: the `turnover-bench` to run as the service (default: this one).
    pub async fn start(
        settings: Settings,
        in_process: bool,
        binary: Option<&std::path::Path>,
        log_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let http = settings.http.addr;
        let (kind, pid, log) = if in_process {
            turnover::telemetry::init(LogFormat::Pretty, &settings.log.level);
            let app = turnover::startup::build(settings.clone(), Roles::ALL).await?;
            let shutdown = CancellationToken::new();
            let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
            (Kind::InProcess { shutdown, task }, std::process::id(), None)
        } else {
            std::fs::create_dir_all(log_dir)?;
            let log = log_dir.join(format!("{}.log", settings.amqp.exchange));
            let a = &settings.amqp;
            let exe = match binary {
                Some(path) => path.to_owned(),
                None => std::env::current_exe()?,
            };
            let child = tokio::process::Command::new(exe)
                .env(SERVE_ENV, "1")
                .env("TURNOVER_AMQP__URL", &a.url)
                .env("TURNOVER_AMQP__EXCHANGE", &a.exchange)
                .env("TURNOVER_AMQP__QUEUE", &a.queue)
                .env(
                    "TURNOVER_AMQP__DEAD_LETTER_EXCHANGE",
                    &a.dead_letter_exchange,
                )
                .env("TURNOVER_AMQP__DEAD_LETTER_QUEUE", &a.dead_letter_queue)
                .env("TURNOVER_AMQP__RPC_QUEUE", &a.rpc_queue)
                .env("TURNOVER_POSTGRES__URL", &settings.postgres.url)
                .env("TURNOVER_HTTP__ADDR", http.to_string())
                .env("TURNOVER_MODEL__PATH", &settings.model.path)
                .env("TURNOVER_LOG__FORMAT", "json")
                .env("TURNOVER_LOG__LEVEL", &settings.log.level)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?)
                .kill_on_drop(true)
                .spawn()
                .context("cannot start the service")?;
            let pid = child.id().context("the service exited at once")?;
            (Kind::Child(child), pid, Some(log))
        };
        let memory = Memory::start(pid);
        let mut service = Service {
            settings,
            http,
            pid,
            in_process,
            log,
            kind,
            memory,
        };
        service.wait_ready().await?;
        Ok(service)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let connection = queue::connect(&self.settings.amqp.url, "turnover-bench-probe").await?;
        loop {
            if let Kind::Child(child) = &mut self.kind {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the service exited during start-up ({status}); see {:?}",
                        self.log
                    );
                }
            }
            let consuming = broker::consumers(&connection, &self.settings.amqp.queue).await > 0;
            if consuming && tokio::net::TcpStream::connect(self.http).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("the service was not ready within 60 s; see {:?}", self.log);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = connection.close(200, "".into()).await;
        Ok(())
    }

    /// Stops the service as SIGTERM would and waits for it (at most 30 s, then kills it).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.memory.stop();
        match self.kind {
            Kind::InProcess { shutdown, task } => {
                shutdown.cancel();
                task.await??;
            }
            Kind::Child(mut child) => {
                let _ = tokio::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(self.pid.to_string())
                    .status()
                    .await;
                match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                    Ok(status) => {
                        let status = status?;
                        if !status.success() {
                            bail!("the service exited with {status}; see {:?}", self.log);
                        }
                    }
                    Err(_) => {
                        child.kill().await?;
                        bail!("the service did not stop within 30 s of SIGTERM");
                    }
                }
            }
        }
        Ok(())
    }

    /// Log lines at WARN or ERROR so far (separate process only).
    pub fn log_problems(&self) -> (usize, usize) {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return (0, 0);
        };
        let count = |level: &str| {
            text.lines()
                .filter(|l| l.contains(&format!("\"level\":\"{level}\"")))
                .count()
        };
        (count("WARN"), count("ERROR"))
    }
}

/// RSS samples of one process, every 100 ms, in KiB, with their time.
#[derive(Clone)]
pub struct Memory {
    pid: u32,
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: CancellationToken,
}

impl Memory {
    fn start(pid: u32) -> Self {
        let memory = Memory {
            pid,
            samples: Arc::default(),
            stop: CancellationToken::new(),
        };
        let m = memory.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    () = m.stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Some((rss, _)) = status_kib(m.pid) {
                    m.samples
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((Instant::now(), rss));
                }
            }
        });
        memory
    }

    fn stop(&self) {
        self.stop.cancel();
    }

    /// Peak and median RSS (MiB) of the samples taken between `from` and `to`.
    pub fn window(&self, from: Instant, to: Instant) -> (f64, f64) {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let v: Vec<f64> = samples
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, kib)| *kib as f64 / 1024.0)
            .collect();
        let peak = v.iter().copied().fold(f64::NAN, f64::max);
        (peak, crate::stats::median(&v))
    }

    /// RSS now and the high-water mark of the process's life (MiB).
    pub fn now(&self) -> (f64, f64) {
        status_kib(self.pid).map_or((f64::NAN, f64::NAN), |(rss, hwm)| {
            (rss as f64 / 1024.0, hwm as f64 / 1024.0)
        })
    }
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn status_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The process's CPU time so far (user + system, every thread), in seconds, from fields 14 and
/// 15 of `/proc/<pid>/stat`. Those count clock ticks of `USER_HZ`, which Linux fixes at 100 for
/// every program reading `/proc`, so one reading is good to 10 ms: a phase must use far more.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from the `)` that closes it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The machine's load averages (1, 5 and 15 minutes), from `/proc/loadavg`.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|x| x.parse().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Drops the benchmark's database (best effort), connecting to the server's `postgres` database.
pub async fn drop_database(pg_base: &str, name: &str) {
    let url = format!("{}/postgres", pg_base.trim_end_matches('/'));
    let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
    else {
        return;
    };
    tokio::spawn(connection);
    let _ = client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
}

/// A plain connection to the service's database, for counting rows and reading latencies.
pub async fn database(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to the benchmark database")?;
    tokio::spawn(connection);
    Ok(client)
}

/// The service's `turnover_jobs_total{outcome="scored"}`: jobs whose rows have committed.
pub async fn scored_jobs(conn: &mut crate::load::Conn) -> anyhow::Result<u64> {
    let answer = conn.request("GET", "/metrics", "text/plain", b"").await?;
    if answer.status != 200 {
        bail!("GET /metrics answered {}", answer.status);
    }
    let text = String::from_utf8_lossy(&answer.body);
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("turnover_jobs_total{outcome=\"scored\"} "))
        .map_or(Ok(0), str::parse)?)
}
