//! Schema migrations.
//!
//! Owns the list of migrations (the SQL files of `migrations/`, embedded at build time so the
//! binary needs no files at run time) and the `schema_migrations` bookkeeping table; creating
//! the database when it is missing is `storage::database`'s. It must not change a migration that has been applied
//! anywhere: a changed file is refused, never re-run; new changes go in a new file.
//!
//! Concurrency: several replicas may start at once. Each migration runs in its own transaction
//! that first takes a transaction-level advisory lock, then re-reads what is applied, so
//! exactly one starter applies each migration and the others see it done. The lock is released
//! by commit or rollback, so a crashed starter never leaves it held. A file that starts with
//! [`NO_TRANSACTION`] runs outside a transaction (for `CREATE INDEX CONCURRENTLY`) under a
//! session advisory lock instead.
//!
//! Waiting: each migration sets `lock_timeout` and `statement_timeout`
//! ([`MigrationOptions`]), so an `ALTER TABLE` stuck behind a long reader fails fast instead
//! of queueing every worker insert behind it, and is retried with backoff.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::StorageError;
use crate::backoff::Backoff;

/// One embedded migration: `migrations/V{version}__{name}.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// `migration!(6, "rejected_key")` embeds `migrations/V6__rejected_key.sql`: the file name is
/// written once, so version, name and path cannot disagree.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                "../../migrations/V",
                stringify!($version),
                "__",
                $name,
                ".sql"
            )),
        }
    };
}

/// Every migration, in the order they apply. A new file in `migrations/` must be added here
/// (a unit test checks that the two agree).
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "init"),
    migration!(2, "dashboard_indexes"),
    migration!(3, "idempotency"),
    migration!(4, "model_registry"),
    migration!(5, "outcomes"),
    migration!(6, "rejected_key"),
    migration!(7, "registry_append_only"),
    migration!(8, "privacy"),
    migration!(9, "predictions_public"),
    migration!(10, "fairness"),
    migration!(11, "trace_id"),
    migration!(12, "performance_summary"),
    migration!(13, "insert_costs"),
];

// An arbitrary constant shared by every turnover process: the key of the advisory lock that
// serialises migrations ("turnover" in ASCII, as an i64).
const MIGRATION_LOCK_KEY: i64 = 0x7475_726e_6f76_6572;

impl Migration {
    /// `V{version}__{name}`, as the file is named.
    #[must_use]
    pub fn file_stem(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }

    /// SHA-256 of the SQL, hex. Line endings are normalised first, so a checkout that turned
    /// `\n` into `\r\n` does not count as a change.
    #[must_use]
    pub fn checksum(&self) -> String {
        let normalised = self.sql.replace("\r\n", "\n");
        crate::digest::sha256_hex(normalised.as_bytes())
    }
}

/// How migrations wait: each sets `lock_timeout` and `statement_timeout`, and one that hit its
/// lock timeout is tried again `retries` times, after 250 ms, 500 ms, 1 s, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationOptions {
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub retries: u32,
}

impl Default for MigrationOptions {
    fn default() -> Self {
        MigrationOptions::from(&crate::config::Postgres::default())
    }
}

impl From<&crate::config::Postgres> for MigrationOptions {
    fn from(pg: &crate::config::Postgres) -> Self {
        MigrationOptions {
            lock_timeout_ms: pg.migration_lock_timeout_ms.get(),
            statement_timeout_ms: pg.migration_statement_timeout_ms.get(),
            retries: pg.migration_retries,
        }
    }
}

/// The first line that makes a migration run outside a transaction (for `CREATE INDEX
/// CONCURRENTLY`). Such a file holds statements each ending with `;` at the end of a line, run
/// one by one; it must be safe to run again (`IF NOT EXISTS`), since a failure can leave part
/// of it applied.
pub const NO_TRANSACTION: &str = "-- turnover: no-transaction";

impl Migration {
    /// Whether the file declares it runs outside a transaction ([`NO_TRANSACTION`]).
    #[must_use]
    pub fn outside_transaction(&self) -> bool {
        self.sql.trim_start().starts_with(NO_TRANSACTION)
    }
}

/// Applies the migrations that are not yet applied, in order, with the default
/// [`MigrationOptions`], and returns their file stems (`V1__init`, ...). Applying twice is a
/// no-op that returns an empty list.
///
/// # Errors
///
/// As [`migrate_with`].
pub async fn migrate(client: &mut Client) -> Result<Vec<String>, StorageError> {
    migrate_with(client, MIGRATIONS, &MigrationOptions::default()).await
}

/// Applies those of `migrations` that are not yet applied, in order, each under its
/// `lock_timeout` and `statement_timeout`; a lock timeout is retried with backoff.
///
/// # Errors
///
/// [`StorageError::ChecksumMismatch`] when an applied migration differs from the embedded one
/// (nothing after it is applied); [`StorageError::Postgres`] when a statement fails (that
/// migration is rolled back, the ones before it stay applied), including a lock timeout still
/// hit after the last retry.
pub async fn migrate_with(
    client: &mut Client,
    migrations: &[Migration],
    options: &MigrationOptions,
) -> Result<Vec<String>, StorageError> {
    let mut applied = Vec::new();
    for migration in migrations {
        let mut attempt = 0;
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_millis(16_000));
        loop {
            let result = if migration.outside_transaction() {
                apply_outside_transaction(client, migration, options).await
            } else {
                apply_in_transaction(client, migration, options).await
            };
            match result {
                Ok(true) => applied.push(migration.file_stem()),
                Ok(false) => {}
                Err(StorageError::Postgres(e))
                    if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
                        && attempt < options.retries =>
                {
                    attempt += 1;
                    let wait = backoff.next_delay();
                    tracing::warn!(migration = %migration.file_stem(), attempt, retry_in_ms = wait.as_millis() as u64, "migration waited too long for a lock; trying again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            }
            break;
        }
    }
    Ok(applied)
}

const CREATE_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Whether `migration` is applied; refuses one applied with another checksum.
async fn is_applied(
    client: &impl tokio_postgres::GenericClient,
    migration: &Migration,
) -> Result<bool, StorageError> {
    let existing = client
        .query_opt(
            "SELECT checksum FROM schema_migrations WHERE version = $1",
            &[&migration.version],
        )
        .await?;
    let Some(row) = existing else {
        return Ok(false);
    };
    let stored: String = row.try_get(0)?;
    if stored != migration.checksum() {
        return Err(StorageError::ChecksumMismatch {
            version: migration.version,
            name: migration.name.to_owned(),
            applied: stored,
            embedded: migration.checksum(),
        });
    }
    Ok(true)
}

fn timeouts(options: &MigrationOptions, scope: &str) -> String {
    format!(
        "SET {scope} lock_timeout = {}; SET {scope} statement_timeout = {}",
        options.lock_timeout_ms, options.statement_timeout_ms
    )
}

/// One migration in its own transaction, which first takes a transaction-level advisory lock
/// and then re-reads what is applied, so exactly one starter applies it. Returns whether it
/// was applied now.
async fn apply_in_transaction(
    client: &mut Client,
    migration: &Migration,
    options: &MigrationOptions,
) -> Result<bool, StorageError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    // Under the lock, so concurrent starters cannot race on creating it.
    tx.batch_execute(CREATE_BOOKKEEPING).await?;
    if is_applied(&tx, migration).await? {
        // Applied (maybe by another starter a moment ago): the commit only releases the lock.
        tx.commit().await?;
        return Ok(false);
    }
    // Set after the advisory lock: waiting for another starter is not waiting on a reader.
    tx.batch_execute(&timeouts(options, "LOCAL")).await?;
    tx.batch_execute(migration.sql).await?;
    tx.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        &[&migration.version, &migration.name, &migration.checksum()],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A [`NO_TRANSACTION`] migration: under a session advisory lock, each statement on its own.
async fn apply_outside_transaction(
    client: &mut Client,
    migration: &Migration,
    options: &MigrationOptions,
) -> Result<bool, StorageError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result: Result<bool, StorageError> = async {
        client.batch_execute(CREATE_BOOKKEEPING).await?;
        if is_applied(&*client, migration).await? {
            return Ok(false);
        }
        client.batch_execute(&timeouts(options, "SESSION")).await?;
        for statement in statements(migration.sql) {
            client.batch_execute(&statement).await?;
        }
        client
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&migration.version, &migration.name, &migration.checksum()],
            )
            .await?;
        Ok(true)
    }
    .await;
    // The session outlives the migration (a pooled connection): its settings and lock go.
    let reset = client
        .batch_execute("RESET lock_timeout; RESET statement_timeout")
        .await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    reset?;
    unlock?;
    Ok(applied)
}

/// The statements of a [`NO_TRANSACTION`] file: split after each line ending with `;`, comment
/// lines dropped.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort_by_key(|n| {
            n.trim_start_matches('V')
                .split("__")
                .next()
                .and_then(|v| v.parse::<i32>().ok())
        });
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.file_stem()))
            .collect();
        assert_eq!(files, listed);
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn checksum_ignores_line_endings() {
        let lf = Migration {
            version: 1,
            name: "x",
            sql: "SELECT 1;\nSELECT 2;\n",
        };
        let crlf = Migration {
            version: 1,
            name: "x",
            sql: "SELECT 1;\r\nSELECT 2;\r\n",
        };
        assert_eq!(lf.checksum(), crlf.checksum());
        assert_eq!(lf.checksum().len(), 64);
    }

    #[test]
    fn a_no_transaction_file_is_declared_by_its_first_line_and_split_by_statement() {
        let m = Migration {
            version: 9,
            name: "x",
            sql: "-- turnover: no-transaction\n-- why\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a\n  ON t (c);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (d);\n",
        };
        assert!(m.outside_transaction());
        let parts = statements(m.sql);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].contains("ON t (c);") && parts[1].contains(" b ON t (d);"));
    }
}
