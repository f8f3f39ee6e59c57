//! `turnover enqueue`: publishes scoring requests from a JSON-lines file or the three extracts,
//! with pipelined publisher confirms, and says how many the broker confirmed.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::EnqueueArgs;
use crate::config::Settings;
use crate::extracts;
use crate::queue::publisher::{Outgoing, Publisher};
use crate::queue::{self, topology};

/// Reads the requests, publishes them, prints the tally; non-zero exit unless all confirmed.
///
/// # Errors
/// Unreadable input, invalid extracts (with file, line and column), an unreachable broker.
pub async fn run(settings: &Settings, args: EnqueueArgs) -> anyhow::Result<ExitCode> {
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
        let envelope = if value.get("employee").is_some() {
            let mut v = value;
            v["explain"] = json!(true);
            v
        } else {
            json!({"employee": value, "explain": true})
        };
        bodies.push(serde_json::to_vec(&envelope)?);
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
            let body =
                json!({"employee_id": row.employee_id, "employee": row.record, "explain": explain});
            serde_json::to_vec(&body).unwrap_or_default()
        })
        .collect())
}
