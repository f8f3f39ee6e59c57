//! The registry of served versions: `first_served_at` set once, `last_served_at` only moved
//! forward.

use super::*;

#[tokio::test]
async fn the_registry_sets_first_served_once_and_only_moves_last_served_forward() {
    use turnover::storage::{self, RegisteredModel};
    let db = TestDb::new().await;
    let client = db.client().await;
    let manifest = serde_json::json!({"version": "v1", "threshold": 0.3});
    let metrics = serde_json::json!({"holdout": {"f1": 0.5}});
    let model = RegisteredModel {
        version: "v1",
        sha256: "aa",
        manifest: &manifest,
        metrics: &metrics,
    };
    let read = || async {
        let row = client
            .query_one(
                "SELECT first_served_at, last_served_at, loaded_at, manifest, sha256 \
                 FROM model_versions WHERE version = 'v1'",
                &[],
            )
            .await
            .expect("row");
        let times: (OffsetDateTime, OffsetDateTime, OffsetDateTime) =
            (row.get(0), row.get(1), row.get(2));
        (times, row.get::<_, Value>(3), row.get::<_, String>(4))
    };
    storage::register_model(&client, model)
        .await
        .expect("register");
    let ((first, last, loaded), stored, sha) = read().await;
    assert_eq!((stored, sha.as_str()), (manifest.clone(), "aa"));
    assert!(first <= last);

    // A heartbeat moves last_served_at only.
    tokio::time::sleep(Duration::from_millis(20)).await;
    storage::touch_models(&client, &[model])
        .await
        .expect("touch");
    let ((first2, last2, loaded2), _, _) = read().await;
    assert_eq!((first2, loaded2), (first, loaded));
    assert!(last2 > last);

    // A reload of the same files moves last_served_at only; other files under the same
    // version are refused and the row keeps what it said.
    tokio::time::sleep(Duration::from_millis(20)).await;
    storage::register_model(&client, model)
        .await
        .expect("register again");
    let ((first3, last3, loaded3), _, _) = read().await;
    assert_eq!((first3, loaded3), (first, loaded));
    assert!(last3 > last2);
    let reloaded = RegisteredModel {
        sha256: "bb",
        ..model
    };
    storage::register_model(&client, reloaded)
        .await
        .expect_err("other files under v1 are refused");
    let ((_, last4, _), stored4, sha4) = read().await;
    assert_eq!(
        (stored4, sha4.as_str(), last4),
        (manifest.clone(), "aa", last3)
    );

    // A heartbeat for a version whose load was never recorded records it in full.
    let other = RegisteredModel {
        version: "v2",
        ..model
    };
    storage::touch_models(&client, &[other])
        .await
        .expect("touch v2");
    let row = client
        .query_one(
            "SELECT first_served_at IS NOT NULL, manifest FROM model_versions WHERE version = 'v2'",
            &[],
        )
        .await
        .expect("v2");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Value>(1), manifest);
}

/// A batch that took the bundles before a swap commits its rows after it: the swapped-out
/// version's `last_served_at` is recorded once that batch lets go of them, so the registry
/// never says a version stopped serving before a row it scored.
#[tokio::test]
async fn a_swapped_out_version_is_last_served_after_the_batch_still_holding_it() {
    let (a, b) = (model_path(), candidate_path());
    let version_a = version_of(&a);
    let served = bundle_dir(&a);
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    let (app, ctx) = start(db, settings).await;

    // What a batch in flight holds: the pair it took at its start.
    let in_flight = ctx.models.current();
    assert_eq!(in_flight.live.version, version_a);
    install(&b, served.path());
    let reload = {
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move { ctx.reload().await.map(|s| s.live.version.clone()) })
    };
    // The swap happens while the batch still holds A; it lets go a little later.
    let version_b = version_of(&b);
    wait_until("the swap", Duration::from_secs(60), || {
        let ctx = Arc::clone(&ctx);
        let version_b = version_b.clone();
        async move { (ctx.models.current().live.version == version_b).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let released = OffsetDateTime::now_utc();
    drop(in_flight);
    let now_serving = reload.await.expect("joined").expect("reloaded");
    assert_eq!(now_serving, version_b);

    let (_, last_a, _, _) = registry(&app, &version_a).await.expect("row A");
    assert!(
        last_a >= released,
        "A's last_served_at {last_a} is before the batch holding it let go at {released}"
    );
    app.finish().await;
}
