//! Every example of the AsyncAPI document (docs/asyncapi.yaml, `turnover asyncapi`) published
//! as a producer would, against the real broker and database: each request example gets the
//! outcome its summary states (a `predictions` row or a `rejected_messages` row with the
//! documented error), and each reply example is what the worker answers.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Consumer};
use serde_json::Value;
use sha2::Digest as _;
use turnover::asyncapi::{self, EMPLOYEE_ID, INVALID_ID, PREDICT_ID, SCORED_ID};
use turnover::queue::{self, header_f64, header_u64, topology};
use turnover::wire::{JSON, PREDICTION_HEADER, PROBABILITY_HEADER, REPLAYED_HEADER, STATUS_HEADER};

use crate::app::TestApp;
use crate::helpers::wait_until;

/// A reply as the producer sees it.
struct Reply {
    status: Option<u64>,
    replayed: Option<u64>,
    prediction: Option<u64>,
    probability: Option<f64>,
    body: Value,
}

/// An example's headers as an AMQP table: numbers as 64-bit integers, strings as strings.
fn headers(example: &Value) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in example["headers"].as_object().into_iter().flatten() {
        let value = match value {
            Value::Number(n) => AMQPValue::LongLongInt(n.as_i64().expect("an integer header")),
            Value::String(s) => AMQPValue::LongString(s.as_str().into()),
            other => panic!("header {name}: {other} has no AMQP form here"),
        };
        table.insert(name.as_str().into(), value);
    }
    table
}

struct Producer {
    channel: Channel,
    consumer: Consumer,
    reply_to: ShortString,
}

impl Producer {
    /// Publishes `example` (mandatory, confirmed) with `reply_to` and waits for its reply.
    async fn call(
        &mut self,
        exchange: &str,
        routing_key: &str,
        delivery_mode: u8,
        example: &Value,
    ) -> (Vec<u8>, Reply) {
        let name = example["name"].as_str().unwrap();
        let body = serde_json::to_vec(&example["payload"]).unwrap();
        let properties = BasicProperties::default()
            .with_content_type(JSON.into())
            .with_delivery_mode(delivery_mode)
            .with_reply_to(self.reply_to.clone())
            .with_correlation_id(name.into())
            .with_headers(headers(example));
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            confirm.is_ack() && confirm.take_message().is_none(),
            "{name} routed and confirmed"
        );
        let delivery = tokio::time::timeout(Duration::from_secs(20), self.consumer.next())
            .await
            .unwrap_or_else(|_| panic!("a reply to {name} within 20 s"))
            .expect("a delivery")
            .expect("no error");
        let correlation = delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string());
        assert_eq!(
            correlation.as_deref(),
            Some(name),
            "the reply carries the request's correlation_id"
        );
        let h = delivery.properties.headers().as_ref();
        let reply = Reply {
            status: header_u64(h, STATUS_HEADER),
            replayed: header_u64(h, REPLAYED_HEADER),
            prediction: header_u64(h, PREDICTION_HEADER),
            probability: header_f64(h, PROBABILITY_HEADER),
            body: serde_json::from_slice(&delivery.data).unwrap(),
        };
        (body, reply)
    }
}

fn examples(doc: &Value, message: &str) -> Vec<Value> {
    doc["components"]["messages"][message]["examples"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find(doc: &Value, message: &str, name: &str) -> Value {
    examples(doc, message)
        .into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{message} example {name}"))
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// The reply has the status (and replay mark) of the reply example, and its fields.
fn assert_like(reply: &Reply, example: &Value, what: &str) {
    assert_eq!(
        reply.status,
        example["headers"][STATUS_HEADER].as_u64(),
        "{what}: x-status"
    );
    assert_eq!(
        reply.replayed,
        example["headers"][REPLAYED_HEADER].as_u64(),
        "{what}: x-idempotent-replayed"
    );
    assert_eq!(
        keys(&reply.body),
        keys(&example["payload"]),
        "{what}: the fields of the reply example"
    );
    // The score headers are documented where the example has them, and then repeat the body.
    let scored = example["headers"].get(PREDICTION_HEADER).is_some();
    assert_eq!(
        reply.prediction,
        scored.then(|| reply.body["prediction"].as_u64().unwrap()),
        "{what}: x-prediction"
    );
    assert_eq!(
        reply.probability,
        scored.then(|| reply.body["probability_1"].as_f64().unwrap()),
        "{what}: x-probability"
    );
}

#[tokio::test]
async fn every_example_of_the_asyncapi_document_gets_its_documented_outcome() {
    let doc = asyncapi::document();
    let app = TestApp::spawn().await;
    let amqp = app.settings.amqp.clone();
    let db = app.db.client().await;
    let prediction = |id: String| {
        let db = &db;
        async move {
            let row = db
                .query_one(
                    "SELECT employee_id, source FROM predictions WHERE request_id = $1",
                    &[&id],
                )
                .await
                .unwrap();
            (row.get::<_, Option<i64>>(0), row.get::<_, String>(1))
        }
    };
    let rejection = |id: &'static str, reason: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one(
                    "SELECT errors FROM rejected_messages WHERE request_id = $1 AND reason = $2",
                    &[&id, &reason],
                )
                .await
                .unwrap_or_else(|e| panic!("one {reason} row for {id}: {e}"));
            row.get::<_, Value>(0)
        }
    };

    let connection = queue::connect_with(&amqp, "test-asyncapi").await.unwrap();
    topology::declare(&connection, &amqp).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let replies = channel
        .queue_declare("".into(), exclusive, FieldTable::default())
        .await
        .unwrap();
    let consumer = channel
        .basic_consume(
            replies.name().clone(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut producer = Producer {
        channel,
        consumer,
        reply_to: replies.name().clone(),
    };
    let mut covered = BTreeSet::new();

    // The envelope examples, in order: a score, its replay, a conflict with it, a refusal.
    let mut first_score = Value::Null;
    for example in examples(&doc, "envelope") {
        let name = example["name"].as_str().unwrap().to_owned();
        let (_, reply) = producer
            .call(&amqp.exchange, &amqp.routing_key, 2, &example)
            .await;
        let (reply_message, reply_example) = match name.as_str() {
            "scored" => {
                assert_eq!(
                    prediction(SCORED_ID.into()).await,
                    (Some(EMPLOYEE_ID), "queue".to_owned())
                );
                assert_eq!(reply.body["request_id"], SCORED_ID);
                assert!(
                    !reply.body["explanation"].as_array().unwrap().is_empty(),
                    "explained"
                );
                first_score = reply.body.clone();
                ("scoreReply", "scored")
            }
            "replayed" => {
                assert_eq!(
                    reply.body, first_score,
                    "the stored result, as first answered"
                );
                ("scoreReply", "replayed")
            }
            "conflict" | "invalid" => {
                let (id, reason) = if name == "conflict" {
                    (SCORED_ID, "request_id_conflict")
                } else {
                    (INVALID_ID, "invalid_record")
                };
                let documented = find(&doc, "errorReply", &name);
                assert_eq!(
                    reply.body, documented["payload"],
                    "{name}: the documented reply, byte for byte"
                );
                assert_eq!(
                    rejection(id, reason).await,
                    documented["payload"]["detail"],
                    "{name}: the stored errors"
                );
                ("errorReply", name.as_str())
            }
            other => panic!("the envelope example {other} has no outcome checked here"),
        };
        assert_like(&reply, &find(&doc, reply_message, reply_example), &name);
        covered.insert(("envelope".to_owned(), name.clone()));
        covered.insert((reply_message.to_owned(), reply_example.to_owned()));
    }
    assert_eq!(
        prediction(SCORED_ID.into()).await.1,
        "queue",
        "the conflict left the row as it was"
    );

    let scored = find(&doc, "scoreReply", "scored");
    for example in examples(&doc, "bareRecord") {
        let name = example["name"].as_str().unwrap().to_owned();
        assert_eq!(
            name, "bare-record",
            "a bare record example whose outcome is checked here"
        );
        let (body, reply) = producer
            .call(&amqp.exchange, &amqp.routing_key, 2, &example)
            .await;
        let id = format!("sha256:{}", &hex(&sha2::Sha256::digest(&body))[..32]);
        assert_eq!(prediction(id.clone()).await, (None, "queue".to_owned()));
        assert_eq!(reply.status, Some(200));
        assert_eq!(reply.body["request_id"], id.as_str());
        covered.insert(("bareRecord".to_owned(), name));
    }

    // The synchronous queue is consumed once a worker has declared it.
    wait_until(
        "a consumer on the synchronous queue",
        Duration::from_secs(10),
        || {
            let connection = &connection;
            let rpc_queue = amqp.rpc_queue.clone();
            async move {
                let channel = connection.create_channel().await.ok()?;
                let (_, consumers) = topology::depth(&channel, &rpc_queue).await.ok()?;
                let _ = channel.close(200, "".into()).await;
                (consumers > 0).then_some(())
            }
        },
    )
    .await;
    for example in examples(&doc, "predictRequest") {
        let name = example["name"].as_str().unwrap().to_owned();
        assert_eq!(
            name, "predict",
            "a /predict example whose outcome is checked here"
        );
        let (_, reply) = producer.call("", &amqp.rpc_queue, 1, &example).await;
        assert_eq!(
            prediction(PREDICT_ID.into()).await,
            (None, "http".to_owned())
        );
        assert_eq!(reply.body["request_id"], PREDICT_ID);
        let mut without_explanation = scored.clone();
        without_explanation["payload"]
            .as_object_mut()
            .unwrap()
            .remove("explanation");
        assert_like(&reply, &without_explanation, &name);
        covered.insert(("predictRequest".to_owned(), name));
    }

    let messages = doc["components"]["messages"].as_object().unwrap();
    for (message, _) in messages {
        for example in examples(&doc, message) {
            let key = (
                message.clone(),
                example["name"].as_str().unwrap().to_owned(),
            );
            assert!(
                covered.contains(&key),
                "the example {key:?} was published and checked"
            );
        }
    }
    // A channel still open when its connection closes makes lapin log an error.
    let _ = producer.channel.close(200, "".into()).await;
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
