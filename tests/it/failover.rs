//! Moving to the next broker of `amqp.url`: a publisher that loses its connection mid-run sends
//! again what was not confirmed, and every job still ends as exactly one row; the request
//! queue's `x-quorum-initial-group-size` never stops start-up on a queue that exists.

use std::net::SocketAddr;
use std::num::NonZero;
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::Value;
use turnover::queue::publisher::Outgoing;
use turnover::queue::resend::{publish_resending, Pace};
use turnover::queue::{self, topology};
use turnover::record::sample;
use turnover::startup::Roles;
use turnover::wire::Envelope;

use crate::app::{delete_topology, TestApp};
use crate::proxy::Proxy;

fn envelope(id: &str, employee_id: i64, record: &serde_json::Map<String, Value>) -> Outgoing {
    Outgoing {
        body: Envelope {
            request_id: Some(id.to_owned()),
            employee_id: Some(employee_id),
            ..Envelope::new(record.clone())
        }
        .to_bytes(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_publisher_cut_mid_run_resends_the_unconfirmed_and_every_job_is_one_row() {
    let app = TestApp::spawn_with(|_| {}, Roles::WORKER_ONLY).await;
    // The publisher's first broker is a proxy that dies mid-run; the second is the real one.
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    let mut amqp = app.settings.amqp.clone();
    amqp.url = format!(
        "amqp://guest:guest@{}/%2f,{}",
        proxy.addr, app.settings.amqp.url
    );

    let n = 4000_u64;
    let records = sample::many(12, n as usize);
    let messages: Vec<Outgoing> = records
        .iter()
        .enumerate()
        .map(|(i, r)| envelope(&format!("r-{i}"), i as i64, r))
        .collect();
    let pace = Pace {
        in_flight: 1000,
        rate: None,
        reconnect_for: Duration::from_secs(30),
    };
    // Cut while the in-flight window is full: up to 1,000 publishes are then unconfirmed, some
    // stored by the broker, some lost on the way.
    let mut cut = false;
    let run = publish_resending(&amqp, "test-resend", &messages, pace, |report| {
        if !cut && report.confirmed >= 500 {
            proxy.down();
            cut = true;
        }
    })
    .await
    .expect("every message answered");

    assert!(cut, "the connection was cut mid-run");
    assert_eq!(run.report.confirmed, n, "{run:?}");
    assert_eq!((run.report.returned, run.report.nacked), (0, 0), "{run:?}");
    assert_eq!(run.reconnections, 1, "{run:?}");
    assert!(
        run.resent > 0,
        "something was unconfirmed at the cut: {run:?}"
    );

    app.wait_for_predictions(n).await;
    // Let redelivered or re-sent copies still in the queue arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.predictions().await, n, "each job exactly one row");
    assert_eq!(app.rejected().await, 0, "no re-sent copy was refused");
    let client = app.db.client().await;
    let missing: i64 = client
        .query_one(
            "SELECT count(*) FROM generate_series(0, $1::bigint - 1) i \
             WHERE NOT EXISTS (SELECT 1 FROM predictions WHERE request_id = 'r-' || i)",
            &[&(n as i64)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(missing, 0);
    app.finish().await;
}

#[tokio::test]
async fn an_existing_queue_with_another_group_size_is_used_as_it_is() {
    let db = crate::helpers::TestDb::new().await;
    let mut settings = crate::app::test_settings(&db);
    let amqp = &mut settings.amqp;
    let connection = queue::connect_with(amqp, "test-group-size").await.unwrap();

    // Created before the setting existed: no x-quorum-initial-group-size at all.
    let channel = connection.create_channel().await.unwrap();
    let mut legacy = FieldTable::default();
    for (k, v) in topology::request_queue_args(amqp).inner() {
        if k.as_str() != "x-quorum-initial-group-size" {
            legacy.insert(k.clone(), v.clone());
        }
    }
    channel
        .queue_declare(
            amqp.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            legacy,
        )
        .await
        .unwrap();
    // The broker itself refuses the new argument on that queue...
    let refused = channel
        .queue_declare(
            amqp.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            topology::request_queue_args(amqp),
        )
        .await
        .expect_err("RabbitMQ compares x-quorum-initial-group-size");
    assert!(
        refused.to_string().contains("x-quorum-initial-group-size"),
        "{refused}"
    );
    // ...which the topology takes in its stride, with 3 as with 7.
    topology::declare(&connection, amqp)
        .await
        .expect("a legacy queue is used as it is");
    amqp.quorum_initial_group_size = NonZero::new(7).unwrap();
    topology::declare(&connection, amqp)
        .await
        .expect("another size is used as it is");

    // A real mismatch still stops start-up.
    amqp.delivery_limit = 9;
    let error = topology::declare(&connection, amqp)
        .await
        .expect_err("another delivery limit is refused");
    assert!(error.to_string().contains("x-delivery-limit"), "{error}");

    // The queue works: declared passively, it is there, a quorum queue on this single node.
    let channel = connection.create_channel().await.unwrap();
    let (ready, _) = topology::depth(&channel, &amqp.queue).await.unwrap();
    assert_eq!(ready, 0);
    let _ = connection.close(200, "".into()).await;
    delete_topology(&settings).await;
}

#[tokio::test]
async fn a_new_quorum_queue_with_a_group_size_over_the_cluster_size_is_created() {
    // This machine's broker is one node: RabbitMQ caps the group at 1 rather than refusing.
    let db = crate::helpers::TestDb::new().await;
    let mut settings = crate::app::test_settings(&db);
    settings.amqp.quorum_initial_group_size = NonZero::new(3).unwrap();
    let connection = queue::connect_with(&settings.amqp, "test-group-size")
        .await
        .unwrap();
    topology::declare(&connection, &settings.amqp)
        .await
        .expect("declared with a group of 3 on one node");
    let args = topology::request_queue_args(&settings.amqp);
    assert_eq!(
        args.inner().get("x-quorum-initial-group-size"),
        Some(&AMQPValue::LongInt(3))
    );
    let channel = connection.create_channel().await.unwrap();
    assert!(topology::depth(&channel, &settings.amqp.queue)
        .await
        .is_ok());
    let _ = connection.close(200, "".into()).await;
    delete_topology(&settings).await;
}
