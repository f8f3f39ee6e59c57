//! The shadow bundle: its own rows beside every live row, and no change to any reply.

use super::*;

#[tokio::test]
async fn a_shadow_bundle_stores_its_own_scores_beside_every_live_row_and_changes_no_reply() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.shadow_path = Some(candidate_path());
    let (app, ctx) = start(db, settings).await;
    let (live, shadow) = (version_of(&model_path()), version_of(&candidate_path()));

    let n = 600;
    let records = sample::many(77, n);
    let (connection, replies, mut consumer) =
        reply_queue(&app.settings, "test-shadow-replies").await;
    publish(&app.settings, &records, replies.name().as_str(), 3).await;
    app.wait_for_predictions(n as u64).await;
    let mut answers = HashMap::new();
    while answers.len() < n.div_ceil(3) {
        let (id, _, body) = crate::app::next_reply(&mut consumer, Duration::from_secs(20)).await;
        answers.insert(id, body);
    }

    let live_rows = rows(&app, "predictions").await;
    // The shadow rows are committed with the live ones: no wait needed.
    let shadow_rows = rows(&app, "shadow_predictions").await;
    assert_eq!(shadow_rows.len(), live_rows.len());
    let (live_scores, shadow_scores) = (
        offline(&model_path(), &records),
        offline(&candidate_path(), &records),
    );
    let mut disagreements = 0;
    for (l, s) in live_rows.iter().zip(&shadow_rows) {
        assert_eq!(l.0, s.0, "one shadow row per live row");
        let i: usize = l.0[2..].parse().expect("index");
        assert_eq!(
            (l.1.as_str(), s.1.as_str()),
            (live.as_str(), shadow.as_str())
        );
        assert_same_score("live", l, &live_scores[i]);
        assert_same_score("shadow", s, &shadow_scores[i]);
        disagreements += usize::from(l.3 != s.3);
    }
    assert!(
        shadow_scores
            .iter()
            .zip(&live_scores)
            .any(|(s, l)| (s.probability - l.probability).abs() > 1e-3),
        "the shadow bundle scores differently, or this test proves nothing"
    );
    for (id, reply) in &answers {
        let i: usize = id[2..].parse().expect("index");
        assert_eq!(reply["model_version"], live.as_str(), "{id}");
        assert_close(&reply["probability_1"], live_rows[i].2, id);
    }
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_shadow_disagreements_total"),
        Some(disagreements as f64)
    );
    assert_eq!(
        metric(&text, "turnover_shadow_probability_count"),
        Some(n as f64)
    );

    // A redelivery (same request_id, same record) makes no second row, live or shadow.
    publish(&app.settings, &records[..1], replies.name().as_str(), 1).await;
    let replay = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .expect("reply")
        .expect("delivery")
        .expect("no error");
    let replay: Value = serde_json::from_slice(&replay.data).expect("json");
    assert_close(&replay["probability_1"], live_rows[0].2, "the replay");
    assert_eq!(rows(&app, "shadow_predictions").await.len(), n);

    // Both bundles are in the registry, and a reload reloads the shadow too.
    for version in [&live, &shadow] {
        let (first, last, _, _) = registry(&app, version).await.expect("registered");
        assert!(first <= last);
    }
    let reloaded = ctx.reload().await.expect("reload");
    assert_eq!(
        reloaded.shadow.as_ref().map(|s| s.version.as_str()),
        Some(shadow.as_str())
    );
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}
