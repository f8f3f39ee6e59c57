//! `turnover enqueue`: publishes scoring requests from a JSON-lines file or the three extracts,
//! with pipelined publisher confirms, and says how many the broker confirmed.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::extracts;
use crate::queue::publisher::{Outgoing, Publisher};
use crate::queue::{self, topology};
use crate::record::Envelope;

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "source")]
pub struct EnqueueSource {
    /// A file of JSON lines: bare records or envelopes, one per line.
    #[arg(long, value_name = "FILE", group = "source")]
    pub jsonl: Option<PathBuf>,
    /// A folder holding the three extracts.
    #[arg(long, value_name = "DIR", group = "source")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    #[command(flatten)]
    pub source: EnqueueSource,
    /// Messages per second at most (default: as fast as confirms allow).
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Ask for explanations in every request.
    #[arg(long)]
    pub explain: bool,
    /// Publisher confirms allowed in flight.
    #[arg(long, default_value_t = 1000)]
    pub in_flight: usize,
}

/// Reads the requests, publishes them, prints the tally; non-zero exit unless all confirmed.
///
/// # Errors
/// Unreadable input, invalid extracts (with file, line and column), an unreachable broker.
pub fn enqueue(settings: &Settings, args: EnqueueArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(publish(settings, args))
}

async fn publish(settings: &Settings, args: EnqueueArgs) -> anyhow::Result<ExitCode> {
    let bodies = match (&args.source.jsonl, &args.source.data) {
        (Some(path), _) => jsonl_bodies(path, args.explain)?,
        (None, Some(dir)) => extract_bodies(dir, args.explain)?,
        (None, None) => anyhow::bail!("give --jsonl FILE or --data DIR"),
    };
    let amqp = &settings.amqp;
    // The error names the broker (host:port) and the reason, TLS included.
    let connection = queue::connect_with(amqp, "turnover-enqueue").await?;
    let channel = connection.create_channel().await?;
    topology::declare(&channel, amqp)
        .await
        .context("cannot declare the queues")?;
    let publisher = Publisher::new(&connection, &amqp.exchange, &amqp.routing_key).await?;

    let total = bodies.len() as u64;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} confirmed, {per_sec}, ~{eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let messages = bodies.into_iter().map(|body| Outgoing {
        body,
        ..Default::default()
    });
    let report = publisher
        .publish_all(messages, args.in_flight, args.rate, |r| {
            bar.set_position(r.confirmed + r.returned + r.nacked)
        })
        .await?;
    bar.finish_and_clear();
    let _ = connection.close(200, "done".into()).await;
    println!(
        "{total} published: {} confirmed, {} returned, {} nacked",
        report.confirmed, report.returned, report.nacked
    );
    Ok(if report.all_confirmed(total) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Each non-empty line as it is, with `"explain": true` merged into envelopes when asked.
fn jsonl_bodies(path: &std::path::Path, explain: bool) -> anyhow::Result<Vec<Vec<u8>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bodies = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("{} line {}: cannot read", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        if !explain {
            bodies.push(line.into_bytes());
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).with_context(|| {
            format!(
                "{} line {}: not JSON, cannot add explain",
                path.display(),
                n + 1
            )
        })?;
        let body = match value {
            // An envelope keeps whatever else it holds: the worker judges it, not this tool.
            serde_json::Value::Object(mut map) if map.contains_key("employee") => {
                map.insert("explain".to_owned(), true.into());
                serde_json::to_vec(&map)?
            }
            serde_json::Value::Object(record) => Envelope {
                explain: true,
                ..Envelope::new(record)
            }
            .to_bytes(),
            _ => anyhow::bail!(
                "{} line {}: not a JSON object, cannot add explain",
                path.display(),
                n + 1
            ),
        };
        bodies.push(body);
    }
    Ok(bodies)
}

/// One envelope per employee of the extracts, after checking every record.
fn extract_bodies(dir: &std::path::Path, explain: bool) -> anyhow::Result<Vec<Vec<u8>>> {
    let extracts = extracts::read_dir(dir)?;
    if !extracts.orphans.is_empty() {
        eprintln!("warning: {}", extracts.orphans);
    }
    extracts::validate_rows(&extracts)?;
    Ok(extracts
        .rows
        .iter()
        .map(|row| {
            Envelope {
                employee_id: Some(row.employee_id),
                explain,
                ..Envelope::new(row.record.clone())
            }
            .to_bytes()
        })
        .collect())
}
