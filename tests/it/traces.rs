//! Distributed tracing end to end (docs/operations.md#tracing): a caller's `traceparent` is
//! continued from the HTTP request through the broker, the worker's batch and the Postgres
//! write to the stored row and the reply, and the spans reach an OTLP/HTTP collector the
//! test runs itself. Against the real RabbitMQ and Postgres.

mod collector;
mod dead_collector;
mod enqueue;

use std::time::Duration;

use futures_util::StreamExt;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::{json, Value};
use turnover::record::sample;
use turnover::wire::Envelope;

use self::collector::{wait_for_spans, Collector, Served};
use crate::app::TestApp;
use crate::helpers::wait_until;
use crate::http::{client, wait_ready};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn is_trace_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The trace id of a `traceparent` value.
fn trace_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or("")
}

/// A `POST /predict` of the example record, in the caller's trace `trace` (as its span
/// `CALLER_SPAN`, sampled) when given.
fn predict_request(app: &TestApp, trace: Option<&str>) -> reqwest::RequestBuilder {
    let request = client()
        .post(app.url("/predict"))
        .json(&Value::Object(sample::example()));
    match trace {
        Some(trace) => request.header("traceparent", format!("00-{trace}-{CALLER_SPAN}-01")),
        None => request,
    }
}

async fn stored_trace(app: &TestApp, table: &str, request_id: &str) -> Option<String> {
    let sql = format!("SELECT trace_id FROM {table} WHERE request_id = $1");
    app.db
        .client()
        .await
        .query_opt(sql.as_str(), &[&request_id])
        .await
        .unwrap()
        .map(|row| row.get::<_, Option<String>>(0).expect("a trace id"))
}

#[tokio::test]
async fn a_predict_is_one_trace_from_the_http_request_to_the_stored_row() {
    let collector = Collector::start().await;
    let served = Served::start(&collector, "1.0").await;
    let app = &served.app;
    wait_ready(app, true).await;

    let response = predict_request(app, Some(CALLER_TRACE))
        .header("tracestate", "caller=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", served.logs());
    let replied = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        trace_of(&replied),
        CALLER_TRACE,
        "the reply continues the caller's trace"
    );
    let body: Value = response.json().await.unwrap();
    let request_id = body["request_id"].as_str().unwrap();
    assert_eq!(
        stored_trace(app, "predictions", request_id)
            .await
            .as_deref(),
        Some(CALLER_TRACE),
        "the row names the caller's trace"
    );

    let names = ["POST /predict", "publish", "job", "postgres.write", "reply"];
    let spans = wait_for_spans(&collector, CALLER_TRACE, &names).await;
    let one = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let (http, publish, job) = (one("POST /predict"), one("publish"), one("job"));
    // One chain: caller → HTTP span → publish → the worker's job → its write and its reply.
    assert_eq!(http.parent_span_id, CALLER_SPAN);
    assert_eq!(replied, format!("00-{CALLER_TRACE}-{}-01", http.span_id));
    assert_eq!(publish.parent_span_id, http.span_id);
    assert_eq!(job.parent_span_id, publish.span_id);
    assert_eq!(one("postgres.write").parent_span_id, job.span_id);
    assert_eq!(one("reply").parent_span_id, job.span_id);
    // The job links to its batch, whose score and transaction spans are its children.
    let (batch_trace, batch_span) = job.links.first().expect("a link to the batch").clone();
    let batch_spans = wait_for_spans(&collector, &batch_trace, &["batch", "score"]).await;
    let batch = batch_spans.iter().find(|s| s.name == "batch").unwrap();
    assert_eq!(batch.span_id, batch_span);
    for child in ["score", "postgres.transaction"] {
        let child = wait_for_spans(&collector, &batch_trace, &[child]).await;
        assert!(child.iter().any(|s| s.parent_span_id == batch.span_id));
    }

    // Every route answers in a trace: one without a traceparent starts its own.
    let health = client().get(app.url("/health")).send().await.unwrap();
    let started = health.headers()["traceparent"].to_str().unwrap();
    assert!(is_trace_id(trace_of(started)) && trace_of(started) != CALLER_TRACE);
    served.stop().await;
}

#[tokio::test]
async fn sample_ratio_zero_exports_nothing_yet_stores_and_replies_trace_ids() {
    let collector = Collector::start().await;
    let served = Served::start(&collector, "0").await;
    let app = &served.app;
    wait_ready(app, true).await;
    let response = predict_request(app, None).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", served.logs());
    let replied = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(replied.ends_with("-00"), "not sampled: {replied}");
    let body: Value = response.json().await.unwrap();
    let stored = stored_trace(app, "predictions", body["request_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored, trace_of(&replied));
    // The exit flushes whatever was queued: after it, the collector has had its last word.
    served.stop().await;
    assert_eq!(collector.exports(), 0, "{:?}", collector.spans());
}

fn string_header(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties
        .headers()
        .as_ref()?
        .inner()
        .get(&ShortString::from(name))?
    {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn a_queued_job_keeps_its_producers_trace_and_one_without_gets_a_fresh_one() {
    let app = TestApp::spawn().await;
    let amqp = &app.settings.amqp;
    let mut client = app.reply_client("test-traces").await;
    let envelope = |id: &str| {
        Envelope {
            request_id: Some(id.into()),
            ..Envelope::new(sample::example())
        }
        .to_bytes()
    };
    let producer_trace = "0af7651916cd43dd8448eb211c80319c";
    let refused_trace = "11111111111111111111111111111111";
    let with_trace = |trace: &str| {
        let mut headers = FieldTable::default();
        let value = format!("00-{trace}-b7ad6b7169203331-01");
        headers.insert("traceparent".into(), AMQPValue::LongString(value.into()));
        headers
    };
    let messages = [
        (envelope("traced"), Some(with_trace(producer_trace))),
        (envelope("untraced"), None),
        (b"{not json".to_vec(), Some(with_trace(refused_trace))),
    ];
    for (bytes, headers) in messages {
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id(format!("c{}", bytes.len()).into());
        if let Some(headers) = headers {
            properties = properties.with_headers(headers);
        }
        client.request(amqp, &bytes, properties).await;
    }

    // Each reply names its message's trace in `traceparent`.
    let mut replied = Vec::new();
    while replied.len() < 3 {
        let delivery = tokio::time::timeout(Duration::from_secs(20), client.consumer.next())
            .await
            .expect("three replies within 20 s")
            .expect("a delivery")
            .expect("no error");
        let body: Value = serde_json::from_slice(&delivery.data).unwrap();
        let parent = string_header(&delivery.properties, "traceparent").expect("traceparent");
        replied.push((body["request_id"].clone(), trace_of(&parent).to_owned()));
    }
    let reply_trace = |id: Value| replied.iter().find(|(r, _)| *r == id).unwrap().1.clone();
    assert_eq!(reply_trace(json!("traced")), producer_trace);

    assert_eq!(
        stored_trace(&app, "predictions", "traced").await.as_deref(),
        Some(producer_trace)
    );
    let fresh = stored_trace(&app, "predictions", "untraced").await.unwrap();
    assert!(is_trace_id(&fresh) && fresh != producer_trace, "{fresh}");
    assert_eq!(reply_trace(json!("untraced")), fresh);
    // A rejected message keeps its producer's trace too.
    let refused = wait_until("the rejected row", Duration::from_secs(10), || {
        let app = &app;
        async move {
            let row = app
                .db
                .client()
                .await
                .query_opt("SELECT trace_id FROM rejected_messages", &[])
                .await
                .ok()??;
            row.get::<_, Option<String>>(0)
        }
    })
    .await;
    assert_eq!(refused, refused_trace);
    let _ = client.connection.close(200, "".into()).await;
    app.finish().await;
}

/// Without an exporter no OpenTelemetry layer runs (nothing would receive its spans), yet a
/// `/predict` still continues its caller's trace through the broker into its row and reply.
#[tokio::test]
async fn without_an_exporter_a_predict_still_continues_the_callers_trace_into_its_row() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let response = predict_request(&app, Some(CALLER_TRACE))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let replied = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(trace_of(&replied), CALLER_TRACE, "the reply's traceparent");
    assert!(
        replied.ends_with("-01"),
        "the caller's sampled flag stands: {replied}"
    );
    let body: Value = response.json().await.unwrap();
    let request_id = body["request_id"].as_str().unwrap();
    assert_eq!(
        stored_trace(&app, "predictions", request_id)
            .await
            .as_deref(),
        Some(CALLER_TRACE),
        "the row names the caller's trace"
    );
}
