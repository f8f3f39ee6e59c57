//! What `serve` needs of its database role when it does not migrate
//! (`postgres.migrate_on_start = false`, docs/operations.md#least-privilege): a schema at the
//! build's last migration, and row privileges on its tables and sequences. Checked once at
//! start-up, so a missing GRANT stops the service naming it, instead of failing jobs later.

use deadpool_postgres::GenericClient;

use super::{StorageError, MIGRATIONS};

/// Every table the service reads or writes, and what it does to it. docs/operations.md gives
/// the matching GRANTs.
pub const PRIVILEGES: &[(&str, &[&str])] = &[
    ("predictions", &["SELECT", "INSERT", "DELETE"]),
    ("shadow_predictions", &["SELECT", "INSERT", "DELETE"]),
    ("rejected_messages", &["SELECT", "INSERT", "DELETE"]),
    ("outcomes", &["SELECT", "INSERT", "UPDATE", "DELETE"]),
    ("model_versions", &["SELECT", "INSERT", "UPDATE"]),
    ("batches", &["SELECT", "INSERT"]),
    ("erasures", &["SELECT", "INSERT"]),
    ("schema_migrations", &["SELECT"]),
];

/// Sequences the service draws ids from (`USAGE`).
const SEQUENCES: &[&str] = &["rejected_messages_id_seq", "erasures_id_seq"];

/// Why `serve` cannot use its database role as it is.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// A migration or a privilege is missing, named in the message.
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<tokio_postgres::Error> for PrivilegeError {
    fn from(e: tokio_postgres::Error) -> Self {
        PrivilegeError::Storage(e.into())
    }
}

/// Refuses a schema older than this build or a role without a privilege it needs.
///
/// # Errors
/// [`PrivilegeError::Missing`] naming the migration or the privilege and its object;
/// [`PrivilegeError::Storage`] when a check itself fails.
pub async fn check_privileges(client: &impl GenericClient) -> Result<(), PrivilegeError> {
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    let applied: Option<i32> = client
        .query_one(
            "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL \
                    ELSE (SELECT max(version) FROM schema_migrations) END",
            &[],
        )
        .await
        .map(|row| row.get(0))
        .unwrap_or(None);
    if applied.unwrap_or(0) < latest {
        return Err(PrivilegeError::Missing(format!(
            "the database is at migration {} but this build needs V{latest}: run `turnover \
             migrate` with the owner role (postgres.migrate_on_start is false)",
            applied.map_or("none".to_owned(), |v| format!("V{v}"))
        )));
    }
    for (table, privileges) in PRIVILEGES {
        for privilege in *privileges {
            let granted: bool = client
                .query_one(
                    "SELECT has_table_privilege(current_user, $1, $2)",
                    &[&format!("public.{table}"), privilege],
                )
                .await?
                .get(0);
            if !granted {
                return Err(missing(&format!("{privilege} on table {table}")));
            }
        }
    }
    for sequence in SEQUENCES {
        let granted: bool = client
            .query_one(
                "SELECT has_sequence_privilege(current_user, $1, 'USAGE')",
                &[&format!("public.{sequence}")],
            )
            .await?
            .get(0);
        if !granted {
            return Err(missing(&format!("USAGE on sequence {sequence}")));
        }
    }
    Ok(())
}

fn missing(what: &str) -> PrivilegeError {
    PrivilegeError::Missing(format!(
        "the database role lacks {what}; grant it as docs/operations.md#least-privilege shows"
    ))
}
