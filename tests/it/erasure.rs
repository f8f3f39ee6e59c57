//! Erasure (issue 19 item 3): `DELETE /employees/{id}` and `turnover forget` leave no row about
//! the employee in any table, record one `erasures` row each without personal data, and a
//! later message with the erased employee's old `request_id` is scored anew.

use std::time::Duration;

use serde_json::{json, Value};
use turnover::queue::publisher::Outgoing;
use turnover::record::sample;
use turnover::startup::Roles;
use turnover::storage;
use turnover::wire::Envelope;

use crate::app::{body, TestApp};
use crate::helpers::wait_until;

const SALT: &str = "test-salt-of-this-deployment";
const KEY: &str = "erasure-test-admin-key";

fn envelope(request_id: &str, employee_id: i64, seed: u64) -> Outgoing {
    Outgoing {
        body: Envelope {
            request_id: Some(request_id.to_owned()),
            employee_id: Some(employee_id),
            ..Envelope::new(sample::many(seed, 1).remove(0))
        }
        .to_bytes(),
        ..Default::default()
    }
}

/// Rows about `employee_id` in each table, the way an auditor would look for them.
async fn rows_about(app: &TestApp, employee_id: i64) -> [i64; 4] {
    let client = app.db.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[&employee_id])
                .await
                .expect(sql)
                .get::<_, i64>(0)
        }
    };
    [
        count("SELECT count(*) FROM predictions WHERE employee_id = $1").await,
        count(
            "SELECT count(*) FROM shadow_predictions s JOIN predictions p USING (request_id) \
             WHERE p.employee_id = $1",
        )
        .await,
        count("SELECT count(*) FROM outcomes WHERE employee_id = $1").await,
        count(
            "SELECT count(*) FROM rejected_messages \
             WHERE convert_from(payload, 'UTF8')::jsonb->>'employee_id' = $1::bigint::text",
        )
        .await,
    ]
}

async fn shadow_rows(app: &TestApp) -> i64 {
    app.db
        .client()
        .await
        .query_one("SELECT count(*) FROM shadow_predictions", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_by_route_and_by_command_leaves_no_row_and_one_record_each() {
    let candidate = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/candidate");
    let app = TestApp::spawn_with(
        |s| {
            s.privacy.erasure_salt = Some(SALT.into());
            s.auth.api_keys = vec![KEY.into()];
            s.model.shadow_path = Some(candidate);
        },
        Roles::ALL,
    )
    .await;

    // Two employees with two scores each, an outcome each, and a rejected message each.
    let mut bodies = vec![
        envelope("e7-a", 7, 1),
        envelope("e7-b", 7, 2),
        envelope("e8-a", 8, 3),
        envelope("e8-b", 8, 4),
    ];
    for (id, employee) in [("e7-bad", 7), ("e8-bad", 8)] {
        bodies.push(body(&json!({"request_id": id, "employee_id": employee,
                                 "employee": {"age": "old"}})));
    }
    app.publish(bodies).await;
    app.wait_for_predictions(4).await;
    wait_until("two rejected rows", Duration::from_secs(20), || async {
        (app.rejected().await >= 2).then_some(())
    })
    .await;
    let http = reqwest::Client::new();
    let status = http
        .post(app.url("/outcomes"))
        .header("x-api-key", KEY)
        .json(&json!([
            {"employee_id": 7, "left": true, "observed_at": "2026-01-01"},
            {"employee_id": 8, "left": false, "observed_at": "2026-01-01"},
        ]))
        .send()
        .await
        .expect("outcomes")
        .status();
    assert!(status.is_success(), "{status}");
    assert_eq!(rows_about(&app, 7).await, [2, 2, 1, 1]);
    assert_eq!(rows_about(&app, 8).await, [2, 2, 1, 1]);

    // No key: refused, nothing erased.
    let anonymous = http
        .delete(app.url("/employees/7"))
        .send()
        .await
        .expect("delete");
    assert_eq!(anonymous.status(), 401);
    let bad_id = http
        .delete(app.url("/employees/seven"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(bad_id.status(), 400);
    let detail: Value = bad_id.json().await.expect("json error");
    assert!(
        detail["detail"]
            .as_str()
            .unwrap_or("")
            .contains("employee_id"),
        "{detail}"
    );

    let erased: Value = http
        .delete(app.url("/employees/7"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(
        erased,
        json!({"predictions": 2, "shadow_predictions": 2, "outcomes": 1, "rejected_messages": 1})
    );
    assert_eq!(rows_about(&app, 7).await, [0, 0, 0, 0]);
    assert_eq!(rows_about(&app, 8).await, [2, 2, 1, 1], "others are kept");

    // By command, as an operator would run it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_turnover"))
        .args(["forget", "--employee-id", "8"])
        .env_remove("TURNOVER_CONFIG")
        .env("TURNOVER_POSTGRES__URL", &app.db.url)
        .env("TURNOVER_PRIVACY__ERASURE_SALT", SALT)
        .env("TURNOVER_LOG__FORMAT", "json")
        .output()
        .expect("turnover forget");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("2 predictions, 2 shadow predictions, 1 outcomes, 1 rejected messages"),
        "{stdout}"
    );
    assert_eq!(rows_about(&app, 8).await, [0, 0, 0, 0]);
    assert_eq!(shadow_rows(&app).await, 0);

    // One record per request, holding no id: a salted hash, who asked, counts.
    let records = storage::erasures(&app.db.client().await)
        .await
        .expect("erasures");
    let key_prefix = &turnover::digest::sha256_hex(KEY.as_bytes())[..8];
    let who: Vec<_> = records
        .iter()
        .map(|(hash, by, rows)| (hash.clone(), by.clone(), rows.predictions))
        .collect();
    assert_eq!(
        who,
        [
            (storage::employee_hash(SALT, 7), key_prefix.to_owned(), 2),
            (storage::employee_hash(SALT, 8), "cli".to_owned(), 2),
        ]
    );

    // A later message with an erased request_id is scored anew, not answered from a row.
    app.publish([envelope("e7-a", 7, 5)]).await;
    wait_until("e7-a scored anew", Duration::from_secs(20), || async {
        (rows_about(&app, 7).await[0] == 1).then_some(())
    })
    .await;
    app.finish().await;
}

#[tokio::test]
async fn erasure_without_a_salt_is_refused_naming_the_key() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_turnover"))
        .args(["forget", "--employee-id", "8"])
        .env_remove("TURNOVER_CONFIG")
        .env(
            "TURNOVER_POSTGRES__URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .env_remove("TURNOVER_PRIVACY__ERASURE_SALT")
        .output()
        .expect("turnover forget");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("privacy.erasure_salt"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_store_inputs_a_row_keeps_the_explained_fields_its_group_bands_and_the_hash() {
    let app = TestApp::spawn_with(|s| s.storage.store_inputs = false, Roles::ALL).await;
    let explained = Outgoing {
        body: Envelope {
            request_id: Some("explained".into()),
            employee_id: Some(1),
            explain: true,
            ..Envelope::new(sample::many(31, 1).remove(0))
        }
        .to_bytes(),
        ..Default::default()
    };
    app.publish([explained, envelope("plain", 2, 32)]).await;
    app.wait_for_predictions(2).await;
    let rows = app
        .db
        .client()
        .await
        .query(
            "SELECT request_id, input, explanation, record_sha256, \
                    genre IS NOT NULL AND statut_marital IS NOT NULL AND age_band IS NOT NULL \
               FROM predictions ORDER BY request_id",
            &[],
        )
        .await
        .expect("rows");
    let (id, input, explanation, sha): (String, Value, Value, String) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
    );
    assert_eq!(id, "explained");
    let named: Vec<&str> = explanation
        .as_array()
        .expect("an explanation")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    let kept: Vec<&str> = input
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "_groups")
        .collect();
    assert!(!kept.is_empty(), "{input}");
    assert!(
        kept.iter().all(|k| named.contains(k)),
        "{kept:?} not all in {named:?}"
    );
    assert!(
        kept.len() < sample::example().len(),
        "not the whole record: {input}"
    );
    assert_eq!(sha.len(), 64);
    let plain: Value = rows[1].get(1);
    let groups = plain.as_object().expect("object");
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["_groups"],
        "nothing explained, nothing kept but the group bands: {plain}"
    );
    assert!(
        plain["_groups"].get("age").is_none() && plain["_groups"]["age_band"].is_string(),
        "an age band, not the age: {plain}"
    );
    for row in &rows {
        assert!(
            row.get::<_, bool>(4),
            "the fairness view still sees the row's groups"
        );
    }
    app.finish().await;
}
