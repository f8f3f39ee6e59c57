//! Jobs flowing while the bundle is swapped twice and a broken one is refused: each job scored
//! once, by a named version.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_flowing_through_two_swaps_and_a_refused_bundle_are_each_scored_once_by_a_named_version(
) {
    let n = swap_jobs();
    let (a, b) = (model_path(), candidate_path());
    let (version_a, version_b) = (version_of(&a), version_of(&b));
    assert_ne!(version_a, version_b, "the two committed bundles differ");
    let served = bundle_dir(&a);
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    let (app, ctx) = start(db, settings).await;
    let started = Instant::now();

    // Replies to every 10th job come to a queue of the test's own.
    let (connection, replies, mut consumer) = reply_queue(&app.settings, "test-swap-replies").await;
    let reply_every = 10;
    let expected_replies = n.div_ceil(reply_every);
    let collect = tokio::spawn(async move {
        let mut answers: HashMap<String, Value> = HashMap::new();
        while answers.len() < expected_replies {
            let Ok(Some(Ok(delivery))) =
                tokio::time::timeout(Duration::from_secs(60), consumer.next()).await
            else {
                break;
            };
            let body: Value = serde_json::from_slice(&delivery.data).expect("json reply");
            let id = delivery
                .properties
                .correlation_id()
                .as_ref()
                .expect("correlation id")
                .to_string();
            answers.insert(id, body);
        }
        answers
    });

    let records = sample::many(1313, n);
    let producer = {
        let (settings, records, to) = (
            app.settings.clone(),
            records.clone(),
            replies.name().as_str().to_owned(),
        );
        tokio::spawn(async move { publish(&settings, &records, &to, reply_every).await })
    };

    let at = |share: u64| {
        let app = &app;
        async move {
            let target = n as u64 * share / 10;
            wait_until(
                &format!("{target} rows"),
                Duration::from_secs(120),
                || async move { (app.predictions().await >= target).then_some(()) },
            )
            .await;
        }
    };

    // First swap, to the candidate, while jobs flow.
    at(2).await;
    install(&b, served.path());
    let reloaded = ctx.reload().await.expect("the candidate is accepted");
    assert_eq!(reloaded.live.version, version_b);
    assert_eq!(ctx.model_version(), version_b);

    // A broken bundle (a feature list the code does not build) is refused; B serves on.
    at(4).await;
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(served.path().join("manifest.json")).expect("read manifest"),
    )
    .expect("json");
    manifest["features"][0] = Value::from("shoe_size");
    std::fs::write(
        served.path().join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write manifest");
    let refused = ctx
        .reload()
        .await
        .expect_err("the broken bundle is refused");
    assert!(refused.to_string().contains("shoe_size"), "{refused}");
    assert!(
        refused
            .to_string()
            .contains(&served.path().display().to_string()),
        "{refused}"
    );
    assert_eq!(ctx.model_version(), version_b);

    // Second swap, back to the committed bundle.
    at(6).await;
    install(&a, served.path());
    ctx.reload()
        .await
        .expect("the committed bundle is accepted");
    assert_eq!(ctx.model_version(), version_a);

    producer.await.expect("producer");
    app.wait_for_predictions(n as u64).await;
    let answers = collect.await.expect("replies");
    let elapsed = started.elapsed();
    eprintln!(
        "{n} jobs through two swaps in {:.1} s",
        elapsed.as_secs_f64()
    );

    // Every job once, scored by one of the two versions, exactly as that version scores offline.
    let stored = rows(&app, "predictions").await;
    assert_eq!(stored.len(), n);
    let ids: Vec<String> = (0..n).map(request_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        stored.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        sorted
    );
    let (scores_a, scores_b) = (offline(&a, &records), offline(&b, &records));
    let mut by_version: HashMap<&str, usize> = HashMap::new();
    for row in &stored {
        let i: usize = row.0[2..].parse().expect("index");
        let score = if row.1 == version_a {
            &scores_a[i]
        } else if row.1 == version_b {
            &scores_b[i]
        } else {
            panic!("{} names {}, neither bundle", row.0, row.1)
        };
        assert_same_score("prediction", row, score);
        *by_version.entry(row.1.as_str()).or_default() += 1;
    }
    assert!(
        by_version.get(version_a.as_str()) > Some(&0)
            && by_version.get(version_b.as_str()) > Some(&0),
        "both versions scored: {by_version:?}"
    );
    assert_eq!(app.rejected().await, 0);
    assert_eq!(app.queue_state(&app.settings.amqp.queue).await.0, 0);
    assert_eq!(
        app.queue_state(&app.settings.amqp.dead_letter_queue)
            .await
            .0,
        0
    );

    // Each reply is its row: same version, same probability.
    assert_eq!(answers.len(), expected_replies);
    let by_id: HashMap<&str, &Row> = stored.iter().map(|r| (r.0.as_str(), r)).collect();
    for (id, reply) in &answers {
        let row = by_id[id.as_str()];
        assert_eq!(reply["model_version"], row.1.as_str(), "{id}");
        assert_close(&reply["probability_1"], row.2, id);
        assert_eq!(reply["risk_level"], row.4.as_str(), "{id}");
    }

    // The metrics: two reloads accepted, one refused; only the live version is "info".
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"success\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"failure\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("turnover_model_info{{version=\"{version_a}\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("turnover_model_info{{version=\"{version_b}\"}}")
        ),
        None,
        "the swapped-out version is no longer exported"
    );

    // The registry: both versions, with the manifest and the time each served. B was swapped
    // out after its last row, so its last_served_at is no earlier than that row's scoring.
    let (first_a, last_a, sha_a, manifest_a) = registry(&app, &version_a).await.expect("row A");
    let (first_b, last_b, sha_b, manifest_b) = registry(&app, &version_b).await.expect("row B");
    assert_eq!(
        (manifest_a, manifest_b),
        (version_a.clone(), version_b.clone())
    );
    assert_eq!(sha_a, Bundle::load(&a).expect("a").sha256);
    assert_eq!(sha_b, Bundle::load(&b).expect("b").sha256);
    assert!(first_a < first_b && first_b <= last_b && first_a <= last_a);
    let last_b_row = stored
        .iter()
        .filter(|r| r.1 == version_b)
        .map(|r| r.5)
        .max()
        .expect("B rows");
    assert!(last_b >= last_b_row, "{last_b} < {last_b_row}");
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}
