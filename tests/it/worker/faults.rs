//! The worker through faults: broker connections cut, Postgres away, SIGTERM mid-run.

use std::num::NonZero;

use super::*;

fn amqp_upstream() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5672))
}

#[tokio::test]
async fn broker_connections_cut_mid_run_lose_nothing_and_duplicate_nothing() {
    let proxy = Proxy::start(amqp_upstream()).await;
    let url = format!("amqp://guest:guest@{}/%2f", proxy.addr);
    let app = TestApp::spawn_with(|s| s.amqp.url = url, Roles::WORKER_ONLY).await;
    let mut direct = app.settings.clone();
    direct.amqp.url = "amqp://guest:guest@127.0.0.1:5672/%2f".into();
    let producer = TestApp {
        db: TestDb::new().await,
        settings: direct,
        addr: None,
        shutdown: Default::default(),
        task: None,
    };

    let n = 3000;
    let records = sample::many(5, n);
    let publishing = producer.publish(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| envelope(&format!("c-{i}"), i as i64, r)),
    );
    let cutting = async {
        for _ in 0..3 {
            wait_until("some progress", Duration::from_secs(20), || async {
                (app.predictions().await > 0).then_some(())
            })
            .await;
            proxy.cut();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let (report, ()) = tokio::join!(publishing, cutting);
    assert!(report.all_confirmed(n as u64), "{report:?}");
    app.wait_for_predictions(n as u64).await;
    let client = app.db.client().await;
    let distinct: i64 = client
        .query_one("SELECT count(DISTINCT request_id) FROM predictions", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(
        (app.predictions().await, distinct),
        (n as u64, n as i64),
        "every record exactly once"
    );
    app.finish().await;
}

#[tokio::test]
async fn postgres_away_for_a_while_loses_nothing() {
    let db = TestDb::new().await;
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let mut settings = test_settings(&db);
    settings.postgres.url = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(
        settings.postgres.url, db.url,
        "the service goes through the proxy"
    );
    let app = TestApp::start(db, settings, Roles::WORKER_ONLY).await;

    assert!(app
        .publish((0..100).map(|i| envelope(&format!("a-{i}"), i, &sample::example())))
        .await
        .all_confirmed(100));
    app.wait_for_predictions(100).await;
    proxy.down();
    let records = sample::many(8, 400);
    assert!(app
        .publish(
            records
                .iter()
                .enumerate()
                .map(|(i, r)| envelope(&format!("b-{i}"), i as i64, r))
        )
        .await
        .all_confirmed(400));
    tokio::time::sleep(Duration::from_secs(3)).await; // the outage itself, not a wait for a condition
    assert_eq!(
        app.predictions().await,
        100,
        "nothing is written while Postgres is away"
    );
    proxy.up();
    app.wait_for_predictions(500).await;
    assert_eq!(app.queue_state(&app.settings.amqp.queue).await.0, 0);
    assert_eq!(
        app.queue_state(&app.settings.amqp.dead_letter_queue)
            .await
            .0,
        0,
        "no message dead-lettered by the outage"
    );
    app.finish().await;
}

#[tokio::test]
async fn sigterm_with_messages_in_flight_leaves_each_message_a_row_or_queued() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.worker.batch_size = NonZero::new(64).unwrap();
    let mut app = TestApp::idle(db, settings);
    // A backlog first, then the worker, then the stop as soon as rows appear: the stop
    // lands in the middle of the work whatever the machine's speed.
    let n = 10_000u64;
    let records = sample::many(21, n as usize);
    let published = app
        .publish(
            records
                .iter()
                .enumerate()
                .map(|(i, r)| envelope(&format!("s-{i}"), i as i64, r)),
        )
        .await;
    assert!(published.all_confirmed(n));
    app.run(Roles::WORKER_ONLY).await;
    wait_until("scoring under way", Duration::from_secs(20), || async {
        (app.predictions().await > 0).then_some(())
    })
    .await;
    app.stop().await.expect("a clean stop");

    let rows = app.predictions().await;
    assert!(rows < n, "stopped before the end ({rows} rows)");
    // Unacked messages return to the queue as the connection closes; give the broker a moment.
    wait_until(
        "every message a row or queued",
        Duration::from_secs(10),
        || async {
            let queued = u64::from(app.queue_state(&app.settings.amqp.queue).await.0);
            (rows + queued == n).then_some(())
        },
    )
    .await;
    delete_topology(&app.settings).await;
}
