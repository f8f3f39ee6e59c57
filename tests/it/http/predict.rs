//! `POST /predict` end to end: the offline score and an `http` row, and what the old API refused.

use super::*;

#[tokio::test]
async fn predict_scores_like_offline_scoring_and_stores_an_http_row() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let record = sample::example();
    let (status, body) = post_json(&app, "/predict", &Value::Object(record.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in [
        "request_id",
        "prediction",
        "probability_0",
        "probability_1",
        "risk_level",
        "model_version",
    ] {
        assert!(!body[field].is_null(), "{field} missing in {body}");
    }
    let (p0, p1) = (
        body["probability_0"].as_f64().unwrap(),
        body["probability_1"].as_f64().unwrap(),
    );
    assert!((p0 + p1 - 1.0).abs() < 1e-9);

    let bundle = Bundle::load(&model_path()).expect("bundle");
    let model = Model::new(&bundle, None).expect("model");
    let offline = model
        .score(&[&turnover::record::validate(&record).expect("valid")])
        .expect("scored")[0]
        .clone();
    assert!(
        (p1 - offline.probability).abs() < 1e-6,
        "http {p1} vs offline {}",
        offline.probability
    );
    assert_eq!(body["prediction"], json!(offline.prediction));
    assert_eq!(body["risk_level"], offline.risk_level.as_str());
    assert_eq!(body["model_version"], bundle.manifest.version.as_str());

    let request_id = body["request_id"].as_str().unwrap();
    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT source, probability FROM predictions WHERE request_id = $1",
            &[&request_id],
        )
        .await
        .expect("a row");
    assert_eq!(row.get::<_, &str>(0), "http");
    assert!((row.get::<_, f64>(1) - p1).abs() < 1e-12);

    // An envelope keeps its request_id; ?explain=true adds the explanation.
    let envelope = json!({"request_id": "mine-1", "employee_id": 7, "employee": record});
    let response = client()
        .post(app.url("/predict?explain=true"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "mine-1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], "mine-1");
    assert!(
        !body["explanation"]
            .as_array()
            .expect("explanation")
            .is_empty(),
        "{body}"
    );
    app.finish().await;
}

#[tokio::test]
async fn predict_rejects_what_the_old_api_rejected_naming_the_field() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let mut missing = sample::example();
    missing.remove("age");
    let cases = [
        (with("age", json!(15)), "age"),
        (with("age", json!(75)), "age"),
        (with("age", json!("trente")), "age"),
        (
            with("nb_formations_suivies", json!(-1)),
            "nb_formations_suivies",
        ),
        (
            with("nombre_experiences_precedentes", json!(-2)),
            "nombre_experiences_precedentes",
        ),
        (with("genre", json!("X")), "genre"),
        (with("departement", json!("Finance")), "departement"),
        (with("statut_marital", json!("Veuf")), "statut_marital"),
        (
            with("frequence_deplacement", json!("Jamais")),
            "frequence_deplacement",
        ),
        (with("revenu_mensuel", json!(500)), "revenu_mensuel"),
        (
            with("nb_formations_suivies", json!(99)),
            "nb_formations_suivies",
        ),
        (json!({}), "age"),
        (Value::Object(missing), "age"),
    ];
    for (body, field) in &cases {
        let (status, answer) = post_json(&app, "/predict", body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        let detail = answer["detail"]
            .as_array()
            .unwrap_or_else(|| panic!("a list in {answer}"));
        assert!(
            detail
                .iter()
                .any(|e| e["field"] == *field && e["message"].is_string()),
            "{field} not named in {answer}"
        );
    }
    for raise in ["15%", "10 %"] {
        let (status, answer) = post_json(
            &app,
            "/predict",
            &with("augementation_salaire_precedente", json!(raise)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{raise}: {answer}");
    }
    for malformed in [&b"{\"age\": "[..], b"not json", b"[1, 2]", b""] {
        let response = client()
            .post(app.url("/predict"))
            .header("content-type", "application/json")
            .body(malformed.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status}"
        );
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["detail"][0]["message"].is_string(), "{body}");
    }
    // Nothing invalid reached the queue: the two raises are the only rows.
    assert_eq!(app.predictions().await, 2);
    assert_eq!(app.rejected().await, 0);
    app.finish().await;
}
