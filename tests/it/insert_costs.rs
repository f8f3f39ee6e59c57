//! What migration V13 changed in an insert into `predictions`, and what it kept: a score's
//! groups (`genre`, `statut_marital`, `age_band`) as its writer names them, with the trigger
//! drawing them from `input` for a writer that does not (V10); the `trace_id` rule (V11).

use turnover::fairness::groups;
use turnover::record::{sample, validate};
use turnover::storage::{self, Document};

use crate::helpers::TestDb;
use crate::storage::prediction;

async fn trigger_calls(client: &storage::Client) -> i64 {
    client
        .query_one(
            "SELECT coalesce(pg_stat_get_xact_function_calls('turnover_prediction_groups'::regproc), 0)",
            &[],
        )
        .await
        .expect("the transaction's function calls")
        .get(0)
}

#[tokio::test]
async fn groups_named_by_the_writer_cost_no_trigger_call_and_rows_without_them_still_get_them() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let record = validate(&sample::many(11, 1)[0]).expect("a generated record is valid");
    let canonical = record.canonical_json();
    let mut named = prediction("named", Some(1), None);
    named.input = Document::Written(canonical.clone());
    named.groups = Some(groups(&record));
    let mut left = prediction("left", Some(2), None);
    left.input = Document::Written(canonical);
    left.groups = None;

    // Counted within one transaction: the function calls of this session so far.
    client
        .batch_execute("BEGIN; SET LOCAL track_functions = 'pl'")
        .await
        .expect("begun");
    storage::insert_alone(&client, &[named])
        .await
        .expect("written");
    assert_eq!(
        trigger_calls(&client).await,
        0,
        "a row that names its groups still ran the trigger"
    );
    storage::insert_alone(&client, &[left])
        .await
        .expect("written");
    assert_eq!(
        trigger_calls(&client).await,
        1,
        "a row without its groups did not run the trigger"
    );
    client.batch_execute("COMMIT").await.expect("committed");

    let want = groups(&record).map(str::to_owned).to_vec();
    for request_id in ["named", "left"] {
        let row = client
            .query_one(
                "SELECT genre, statut_marital, age_band FROM predictions WHERE request_id = $1",
                &[&request_id],
            )
            .await
            .expect("stored");
        let stored: Vec<String> = (0..3).map(|k| row.get(k)).collect();
        assert_eq!(stored, want, "{request_id}");
    }
}

#[tokio::test]
async fn a_trace_id_is_stored_when_it_is_32_lower_case_hex_digits_and_refused_otherwise() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let hex = "0af7651916cd43dd8448eb211c80319c";
    let cases = [
        (hex.to_owned(), true),
        ("0".repeat(32), true),
        (hex.to_uppercase(), false),
        (hex[..31].to_owned(), false),
        (format!("{hex}0"), false),
        (format!("{}g", &hex[..31]), false),
        (format!("{}\n", &hex[..31]), false),
        (format!("{hex}\n"), false),
        // 32 bytes, 31 characters.
        (format!("{}é", &hex[..30]), false),
        (String::new(), false),
    ];
    for (k, (trace_id, stored)) in cases.into_iter().enumerate() {
        let mut row = prediction(&format!("trace-{k}"), None, None);
        row.trace_id = Some(trace_id.clone());
        let result = storage::insert_alone(&client, &[row]).await;
        assert_eq!(result.is_ok(), stored, "{trace_id:?}: {result:?}");
        let mut rejected = crate::storage::rejected(Some(&format!("trace-{k}")), b"{}");
        rejected.trace_id = Some(trace_id.clone());
        let result = storage::insert_rejected(&client, &[&rejected]).await;
        assert_eq!(result.is_ok(), stored, "rejected {trace_id:?}: {result:?}");
    }
    let none = prediction("no-trace", None, None);
    assert!(none.trace_id.is_none());
    storage::insert_alone(&client, &[none])
        .await
        .expect("a row without a trace is stored");
}
