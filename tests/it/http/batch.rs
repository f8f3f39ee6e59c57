//! `POST /predict/batch` and `GET /batches/{batch_id}`: a generated extract of 1,500 employees
//! end to end, and the errors that name the part, the file or the batch.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use turnover::extracts::{write_extracts, ExtractRow};
use turnover::record::sample;
use turnover::startup::Roles;

use super::{client, wait_ready};
use crate::app::TestApp;
use crate::helpers::wait_until;

pub(crate) fn extract_files(n: usize) -> [Vec<u8>; 3] {
    let rows: Vec<ExtractRow> = sample::many(11, n)
        .into_iter()
        .enumerate()
        .map(|(i, record)| ExtractRow {
            employee_id: i as i64 + 1,
            record,
            label: None,
        })
        .collect();
    let (mut sondage, mut eval, mut sirh) = (Vec::new(), Vec::new(), Vec::new());
    write_extracts(&mut sondage, &mut eval, &mut sirh, &rows).expect("extracts");
    [sondage, eval, sirh]
}

pub(crate) fn form(files: [Vec<u8>; 3], skip: Option<&str>) -> reqwest::multipart::Form {
    let names = [
        ("sondage_file", "extrait_sondage.csv"),
        ("eval_file", "extrait_eval.csv"),
        ("sirh_file", "extrait_sirh.csv"),
    ];
    let mut form = reqwest::multipart::Form::new();
    for ((part, file), bytes) in names.into_iter().zip(files) {
        if Some(part) != skip {
            form = form.part(
                part,
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(file)
                    .mime_str("text/csv")
                    .unwrap(),
            );
        }
    }
    form
}

#[tokio::test]
async fn a_batch_of_1500_employees_completes_with_a_consistent_summary() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let http = client();
    let response = http
        .post(app.url("/predict/batch"))
        .multipart(form(extract_files(1500), None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["total_employees"], 1500);
    let status_url = accepted["status_url"].as_str().unwrap().to_owned();
    assert_eq!(
        status_url,
        format!("/batches/{}", accepted["batch_id"].as_str().unwrap())
    );

    let done: Value = wait_until("the batch to complete", Duration::from_secs(60), || {
        let (http, url) = (http.clone(), app.url(&status_url));
        async move {
            let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            assert!(
                body["status"] == "running" || body["status"] == "complete",
                "{body}"
            );
            (body["status"] == "complete").then_some(body)
        }
    })
    .await;
    let predictions = done["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 1500);
    let mut counts = Map::new();
    for p in predictions {
        let (stay, leave) = (
            p["probability_stay"].as_f64().unwrap(),
            p["probability_leave"].as_f64().unwrap(),
        );
        assert!((stay + leave - 1.0).abs() < 1e-9);
        for key in [
            if p["prediction"] == 1 {
                "total_leave"
            } else {
                "total_stay"
            },
            &format!(
                "{}_risk_count",
                p["risk_level"].as_str().unwrap().to_lowercase()
            ),
        ] {
            let n = counts.get(key).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(key.to_owned(), json!(n + 1));
        }
    }
    for (key, n) in &counts {
        assert_eq!(done["summary"][key], *n, "{key}");
    }
    let summary = &done["summary"];
    assert_eq!(
        summary["total_stay"].as_u64().unwrap() + summary["total_leave"].as_u64().unwrap(),
        1500
    );
    let batch_rows: i64 = app
        .db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM predictions WHERE source = 'batch'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(batch_rows, 1500);
    app.finish().await;
}

#[tokio::test]
async fn batch_errors_name_the_part_the_file_or_the_batch() {
    let app = TestApp::spawn_with(|s| s.http.max_upload_bytes = 200_000, Roles::ALL).await;
    let http = client();
    let unknown = http
        .get(app.url(&format!("/batches/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.json::<Value>().await.unwrap()["detail"].is_string());
    assert_eq!(
        http.get(app.url("/batches/not-a-uuid"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let missing = http
        .post(app.url("/predict/batch"))
        .multipart(form(extract_files(5), Some("eval_file")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(missing.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("eval_file"));

    let [sondage, eval, sirh] = extract_files(5);
    let text = String::from_utf8(sirh).unwrap();
    let header = text.lines().next().unwrap();
    let age_column = header
        .split(',')
        .position(|c| c == "age")
        .expect("an age column");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    cells[age_column] = "trente".into();
    lines[3] = cells.join(",");
    let bad = http
        .post(app.url("/predict/batch"))
        .multipart(form(
            [sondage, eval, (lines.join("\n") + "\n").into_bytes()],
            None,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = bad.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("extrait_sirh.csv") && detail.contains("line 4") && detail.contains("age"),
        "{detail}"
    );

    let big = http
        .post(app.url("/predict/batch"))
        .multipart(form(extract_files(2000), None))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.predictions().await, 0);
    app.finish().await;
}
