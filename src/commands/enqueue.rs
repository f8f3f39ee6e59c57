//! `turnover enqueue`: publishes scoring requests from a JSON-lines file or the three extracts,
//! with pipelined publisher confirms, and says how many the broker confirmed. A lost connection
//! is not the end: it moves to the next node of `amqp.url` and sends again what was not
//! confirmed (`queue::resend`).
//!
//! Without a `request_id`, the worker derives one from the body, so the same extract sent
//! again is a replay: each employee gets back the row the first run stored, scored by whatever
//! bundle served then. After a promotion that is not what is wanted, hence `--rescore`: every
//! envelope gets the id `rescore:<tag>:<employee_id>`, the tag being the version of the bundle
//! under `model.path` (or one given), so a new bundle (or a new tag) scores everyone again,
//! while the same run sent twice is still deduplicated.
//!
//! A run inside a caller's trace (a job scheduler's, a CI pipeline's) passes it as the
//! environment variables `TRACEPARENT` and `TRACESTATE`, the OpenTelemetry convention for a
//! process's parent context: every message then carries it, and every job continues it.
//! Without them each job starts its own trace at the worker.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::extracts;
use crate::queue::publisher::Outgoing;
use crate::queue::resend::{publish_resending, Pace, ResendError, ResendReport};
use crate::trace::{TraceParent, TRACEPARENT_HEADER, TRACESTATE_HEADER};
use crate::wire::Envelope;

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
    /// After losing the broker, seconds to keep trying the nodes of `amqp.url` before giving
    /// up; what was not confirmed is then sent again.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub reconnect_for: u64,
    /// Score every employee of `--data` again, even those scored before: request ids
    /// `rescore:<TAG>:<employee_id>`, TAG being the version of the bundle under `model.path`
    /// unless given (`--rescore=after-review`).
    #[arg(long, value_name = "TAG", num_args = 0..=1, default_missing_value = "", requires = "data")]
    pub rescore: Option<String>,
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
        (None, Some(dir)) => extract_bodies(dir, args.explain, rescore_tag(settings, &args)?)?,
        (None, None) => anyhow::bail!("give --jsonl FILE or --data DIR"),
    };
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
    let trace = trace_headers(
        std::env::var("TRACEPARENT").ok().as_deref(),
        std::env::var("TRACESTATE").ok().as_deref(),
    )?;
    let messages: Vec<Outgoing> = bodies
        .into_iter()
        .map(|body| Outgoing {
            body,
            headers: trace.clone(),
            ..Default::default()
        })
        .collect();
    let pace = Pace {
        in_flight: args.in_flight,
        rate: args.rate,
        reconnect_for: Duration::from_secs(args.reconnect_for),
    };
    // The first connection's error names the broker (host:port) and the reason, TLS included.
    let run = publish_resending(&settings.amqp, "turnover-enqueue", &messages, pace, |r| {
        bar.set_position(r.confirmed + r.returned + r.nacked)
    })
    .await;
    bar.finish_and_clear();
    let run = match run {
        Ok(run) => run,
        Err(error) => {
            if let ResendError::GaveUp { so_far, .. } = &error {
                print_tally(total, so_far);
            }
            return Err(error.into());
        }
    };
    print_tally(total, &run);
    Ok(if run.report.all_confirmed(total) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The `traceparent` (and `tracestate`) headers of every message, from the caller's
/// environment. Unlike a message's header, which is ignored when malformed, a variable the
/// caller set on purpose and got wrong stops the run before anything is sent.
fn trace_headers(
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> anyhow::Result<Vec<(String, String)>> {
    let Some(value) = traceparent.filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let Some(parent) = TraceParent::parse(value, tracestate) else {
        anyhow::bail!(
            "TRACEPARENT: not a W3C traceparent (00-<32 lower-case hex trace id>-<16 lower-case \
             hex span id>-<2 hex flags>, ids not all zero); unset it to start a trace per job"
        );
    };
    let mut headers = vec![(TRACEPARENT_HEADER.to_owned(), value.trim().to_owned())];
    if let Some(state) = parent.tracestate {
        headers.push((TRACESTATE_HEADER.to_owned(), state));
    }
    Ok(headers)
}

fn print_tally(total: u64, run: &ResendReport) {
    let r = &run.report;
    println!(
        "{total} published: {} confirmed, {} returned, {} nacked; {} re-sent after {} reconnection(s), {} after a nack",
        r.confirmed, r.returned, r.nacked, run.resent, run.reconnections, run.resent_after_nack
    );
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

/// The tag of `--rescore`: the one given, or the version of the bundle under `model.path`.
fn rescore_tag(settings: &Settings, args: &EnqueueArgs) -> anyhow::Result<Option<String>> {
    match args.rescore.as_deref() {
        None => Ok(None),
        Some("") => {
            let path = &settings.model.path;
            let bundle = crate::model::Bundle::load(path).with_context(|| {
                format!(
                    "--rescore: cannot read the serving bundle's version under {}; give a tag \
                     (--rescore=TAG) or set model.path",
                    path.display()
                )
            })?;
            Ok(Some(bundle.manifest.version))
        }
        Some(tag) => Ok(Some(tag.to_owned())),
    }
}

/// One envelope per employee of the extracts, after checking every record; with a rescore
/// tag, each carries the request id `rescore:<tag>:<employee_id>`.
fn extract_bodies(
    dir: &std::path::Path,
    explain: bool,
    rescore: Option<String>,
) -> anyhow::Result<Vec<Vec<u8>>> {
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
                request_id: rescore
                    .as_ref()
                    .map(|tag| format!("rescore:{tag}:{}", row.employee_id)),
                employee_id: Some(row.employee_id),
                explain,
                ..Envelope::new(row.record.clone())
            }
            .to_bytes()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::trace_headers;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_callers_traceparent_goes_on_every_message_with_its_tracestate() {
        assert_eq!(trace_headers(None, Some("a=1")).unwrap(), Vec::new());
        assert_eq!(trace_headers(Some(" "), None).unwrap(), Vec::new());
        assert_eq!(
            trace_headers(Some(PARENT), Some("vendor=abc")).unwrap(),
            vec![
                ("traceparent".to_owned(), PARENT.to_owned()),
                ("tracestate".to_owned(), "vendor=abc".to_owned()),
            ]
        );
    }

    #[test]
    fn a_malformed_traceparent_stops_the_run_naming_the_variable() {
        let error = trace_headers(Some("00-4BF92F35-01"), None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("TRACEPARENT: not a W3C traceparent"),
            "{error}"
        );
    }
}
