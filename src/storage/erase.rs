//! Erasure of one employee (docs/privacy.md, issue 19): every row about them goes, in one
//! transaction, and an `erasures` row records the request without personal data.
//!
//! A row is about an employee when it carries their `employee_id` (`predictions`, `outcomes`),
//! hangs off such a row (`shadow_predictions`, by `request_id`), or is a rejected message whose
//! envelope names them. The last cannot be found by a column: the payload is the body as
//! received, so candidates are narrowed in SQL by the id's digits and confirmed by parsing the
//! JSON here. This module does not log: what it erased goes back to the caller as counts.

use deadpool_postgres::{Client, GenericClient};
use serde::Serialize;

use super::StorageError;
use crate::digest::sha256_hex;

/// Rows erased, per table: what the `erasures` row records and the caller reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErasedRows {
    pub predictions: u64,
    pub shadow_predictions: u64,
    pub outcomes: u64,
    pub rejected_messages: u64,
}

/// The `erasures.employee_hash` of an employee: hex sha256 of `salt`, a newline, and the id in
/// decimal. The salt is the deployment's secret (`privacy.erasure_salt`), so the hash tells
/// whether an id was erased only to someone who holds it.
pub fn employee_hash(salt: &str, employee_id: i64) -> String {
    sha256_hex(format!("{salt}\n{employee_id}").as_bytes())
}

const ERASE_SHADOW: &str = "\
DELETE FROM shadow_predictions s USING predictions p
 WHERE p.request_id = s.request_id AND p.employee_id = $1";
const ERASE_PREDICTIONS: &str = "DELETE FROM predictions WHERE employee_id = $1";
const ERASE_OUTCOMES: &str = "DELETE FROM outcomes WHERE employee_id = $1";
// The id's digits must appear in the body for its envelope to name it; the JSON is checked
// in Rust, since a body may not be JSON (or UTF-8) at all.
const REJECTED_CANDIDATES: &str = "\
SELECT id, payload FROM rejected_messages
 WHERE position(convert_to($1::text, 'UTF8') IN payload) > 0";
const ERASE_REJECTED: &str = "DELETE FROM rejected_messages WHERE id = ANY($1)";
const RECORD_ERASURE: &str = "\
INSERT INTO erasures (employee_hash, requested_by, predictions, shadow_predictions, outcomes, \
                      rejected_messages)
VALUES ($1, $2, $3, $4, $5, $6)";

/// Whether a rejected body is an envelope naming `employee_id` (a number, or a string of it).
fn names_employee(payload: &[u8], employee_id: i64) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return false;
    };
    match &value["employee_id"] {
        serde_json::Value::Number(n) => n.as_i64() == Some(employee_id),
        serde_json::Value::String(s) => s.trim() == employee_id.to_string(),
        _ => false,
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Erases every row about `employee_id` and records the request in `erasures`, all in one
/// transaction: either the employee is gone and the erasure recorded, or nothing changed.
/// `requested_by` is the first 8 hex digits of the caller's key's sha256, or `cli`.
///
/// # Errors
/// [`StorageError`] when a statement fails; nothing was erased.
pub async fn erase_employee(
    client: &mut Client,
    employee_id: i64,
    employee_hash: &str,
    requested_by: &str,
) -> Result<ErasedRows, StorageError> {
    let tx = client.transaction().await?;
    // Shadow rows first: they are found through the live rows about to go.
    let shadow_predictions = tx.execute(ERASE_SHADOW, &[&employee_id]).await?;
    let predictions = tx.execute(ERASE_PREDICTIONS, &[&employee_id]).await?;
    let outcomes = tx.execute(ERASE_OUTCOMES, &[&employee_id]).await?;
    let ids: Vec<i64> = tx
        .query(REJECTED_CANDIDATES, &[&employee_id.to_string()])
        .await?
        .iter()
        .filter(|row| names_employee(row.get::<_, &[u8]>(1), employee_id))
        .map(|row| row.get(0))
        .collect();
    let rejected_messages = tx.execute(ERASE_REJECTED, &[&ids]).await?;
    let erased = ErasedRows {
        predictions,
        shadow_predictions,
        outcomes,
        rejected_messages,
    };
    tx.execute(
        RECORD_ERASURE,
        &[
            &employee_hash,
            &requested_by,
            &count(predictions),
            &count(shadow_predictions),
            &count(outcomes),
            &count(rejected_messages),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(erased)
}

/// The `erasures` rows, oldest first, as `(employee_hash, requested_by, rows)`.
///
/// # Errors
/// [`StorageError`] when the query fails.
pub async fn erasures(
    client: &impl GenericClient,
) -> Result<Vec<(String, String, ErasedRows)>, StorageError> {
    let rows = client
        .query(
            "SELECT employee_hash, requested_by, predictions, shadow_predictions, outcomes, \
                    rejected_messages FROM erasures ORDER BY id",
            &[],
        )
        .await?;
    let n = |row: &tokio_postgres::Row, i: usize| -> Result<u64, StorageError> {
        Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0))
    };
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                ErasedRows {
                    predictions: n(row, 2)?,
                    shadow_predictions: n(row, 3)?,
                    outcomes: n(row, 4)?,
                    rejected_messages: n(row, 5)?,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_names_an_employee_by_number_or_string_only_in_its_field() {
        assert!(names_employee(br#"{"employee_id": 42, "record": {}}"#, 42));
        assert!(names_employee(br#"{"employee_id": "42"}"#, 42));
        assert!(!names_employee(br#"{"employee_id": 420}"#, 42));
        assert!(!names_employee(
            br#"{"request_id": "42", "employee_id": 7}"#,
            42
        ));
        assert!(!names_employee(b"\xff42 not json", 42));
    }

    #[test]
    fn the_hash_depends_on_the_salt_and_hides_the_id() {
        let a = employee_hash("salt-a", 42);
        assert_eq!(a.len(), 64);
        assert_ne!(a, sha256_hex(b"42"), "the id alone does not give the hash");
        assert_ne!(a, employee_hash("salt-b", 42));
        assert_ne!(a, employee_hash("salt-a", 43));
        assert_eq!(a, sha256_hex(b"salt-a\n42"));
    }
}
