//! `POST /outcomes`: every outcome checked, all stored or none.

use std::num::NonZero;

use super::*;

#[tokio::test]
async fn post_outcomes_checks_every_outcome_and_stores_all_or_nothing() {
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec!["k1".into()];
            s.http.max_outcomes_bytes = NonZero::new(64 * 1024).unwrap();
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let good = json!([
        {"employee_id": 1, "left": true, "observed_at": "2026-09-30"},
        {"employee_id": 2, "left": false, "observed_at": "2026-09-30T17:00:00+02:00", "source": "hr"}
    ]);
    let (status, body) = post(&app, None, good.to_string().into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["detail"], "missing or invalid X-API-Key header");

    let (status, body) = post(&app, Some("k1"), "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["detail"][0]["field"], "body");

    let bad = json!([
        {"employee_id": 1, "left": true, "observed_at": "2026-09-30"},
        {"employee_id": 2, "left": "maybe", "observed_at": "2999-01-01", "extra": 1}
    ]);
    let (status, body) = post(&app, Some("k1"), bad.to_string().into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["detail"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        ["[1].extra", "[1].left", "[1].observed_at"],
        "{body}"
    );
    assert_eq!(body["detail"][1]["value"], "maybe");
    assert!(body["detail"][2]["message"]
        .as_str()
        .expect("message")
        .contains("future"));
    assert_eq!(outcome_rows(&app.db).await, 0, "nothing stored on a 422");

    // A NUL cannot be stored in Postgres text: refused as a rule, not a database failure.
    let nul = json!([{"employee_id": 3, "left": false, "observed_at": "2026-09-30", "source": "hr\u{0}x"}]);
    let (status, body) = post(&app, Some("k1"), nul.to_string().into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["field"], "[0].source", "{body}");
    assert_eq!(
        body["detail"][0]["message"],
        "must not contain control characters"
    );
    let many: Vec<Value> = (0..2000)
        .map(|e| json!({"employee_id": e, "left": false, "observed_at": "2026-09-30"}))
        .collect();
    let (status, body) = post(&app, Some("k1"), Value::Array(many).to_string().into()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(
        body["detail"],
        "the body is larger than http.max_outcomes_bytes (65536 bytes)"
    );

    let (status, body) = post(&app, Some("k1"), good.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nobody was scored in this database: no outcome can be judged yet, and the reply says so.
    assert_eq!(
        body,
        json!({"inserted": 2, "updated": 0, "unchanged": 0, "unjudged": 2})
    );
    let one = json!({"employee_id": 2, "left": true, "observed_at": "2026-10-31"});
    let (status, body) = post(&app, Some("k1"), one.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"inserted": 0, "updated": 1, "unchanged": 0, "unjudged": 1})
    );
    let stored: (bool, String) = {
        let r = app
            .db
            .client()
            .await
            .query_one(
                "SELECT \"left\", source FROM outcomes WHERE employee_id = 2",
                &[],
            )
            .await
            .expect("row");
        (r.get(0), r.get(1))
    };
    assert_eq!(stored, (true, "http".to_owned()));
    app.finish().await;
}
