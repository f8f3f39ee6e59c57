//! Schema migrations and database creation.
//!
//! Owns the list of migrations (the SQL files of `migrations/`, embedded at build time so the
//! binary needs no files at run time), the `schema_migrations` bookkeeping table, and creating
//! the database when it is missing. It must not change a migration that has been applied
//! anywhere: a changed file is refused, never re-run; new changes go in a new file.
//!
//! Concurrency: several replicas may start at once. Each migration runs in its own transaction
//! that first takes a transaction-level advisory lock, then re-reads what is applied, so
//! exactly one starter applies each migration and the others see it done. The lock is released
//! by commit or rollback, so a crashed starter never leaves it held.

use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config};

use super::tls::{connect_error, PgTls};
use super::{connect_config, StorageError};

/// One embedded migration: `migrations/V{version}__{name}.sql`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order they apply. A new file in `migrations/` must be added here
/// (a unit test checks that the two agree).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/V1__init.sql"),
    },
    Migration {
        version: 2,
        name: "dashboard_indexes",
        sql: include_str!("../../migrations/V2__dashboard_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "idempotency",
        sql: include_str!("../../migrations/V3__idempotency.sql"),
    },
    Migration {
        version: 4,
        name: "model_registry",
        sql: include_str!("../../migrations/V4__model_registry.sql"),
    },
    Migration {
        version: 5,
        name: "outcomes",
        sql: include_str!("../../migrations/V5__outcomes.sql"),
    },
    Migration {
        version: 10,
        name: "fairness",
        sql: include_str!("../../migrations/V10__fairness.sql"),
    },
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
        let digest = Sha256::digest(normalised.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Applies the migrations that are not yet applied, in order, and returns their file stems
/// (`V1__init`, ...). Applying twice is a no-op that returns an empty list.
///
/// # Errors
///
/// [`StorageError::ChecksumMismatch`] when an applied migration differs from the embedded one
/// (nothing after it is applied); [`StorageError::Postgres`] when a statement fails (that
/// migration is rolled back, the ones before it stay applied).
pub async fn migrate(client: &mut Client) -> Result<Vec<String>, StorageError> {
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        // Under the lock, so concurrent starters cannot race on creating it.
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 checksum   text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let checksum = migration.checksum();
        let existing = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await?;
        match existing {
            Some(row) => {
                let stored: String = row.try_get(0)?;
                if stored != checksum {
                    return Err(StorageError::ChecksumMismatch {
                        version: migration.version,
                        name: migration.name.to_owned(),
                        applied: stored,
                        embedded: checksum,
                    });
                }
                // Already applied (maybe by another starter a moment ago): the commit below
                // only releases the lock.
            }
            None => {
                tx.batch_execute(migration.sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&migration.version, &migration.name, &checksum],
                )
                .await?;
                applied.push(migration.file_stem());
            }
        }
        tx.commit().await?;
    }
    Ok(applied)
}

/// Creates the database that `url` names when it does not exist, by connecting to the
/// `postgres` maintenance database of the same server with the same credentials. Safe to call
/// from several processes at once.
///
/// # Errors
///
/// [`StorageError::InvalidUrl`] or [`StorageError::TlsSettings`] when `url` cannot be used;
/// [`StorageError::Tls`] when the TLS handshake fails (one line: server, reason);
/// [`StorageError::Postgres`] when the server cannot be reached or refuses (e.g. the role may
/// not create databases).
pub async fn ensure_database(url: &str) -> Result<(), StorageError> {
    let (config, tls) = connect_config(url)?;
    let Some(dbname) = target_dbname(&config) else {
        return Ok(());
    };
    // Connecting to the target first also serves roles that may not use `postgres`.
    match connect(&config, &tls).await {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(connect_error(e, &config)),
    }
    let mut maintenance = config.clone();
    maintenance.dbname("postgres");
    let client = connect(&maintenance, &tls)
        .await
        .map_err(|e| connect_error(e, &maintenance))?;
    let created = client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&dbname)))
        .await;
    match created {
        Ok(()) => {
            tracing::info!(db.name = %dbname, "created the database");
            Ok(())
        }
        // Another starter created it between our check and our CREATE. Concurrent CREATE
        // DATABASE can also surface as a unique violation on pg_database's name index.
        Err(e)
            if e.code() == Some(&SqlState::DUPLICATE_DATABASE)
                || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The database the config names; Postgres defaults it to the user name. `None` when neither
/// is set (libpq would then use the OS user, which we cannot know to create).
fn target_dbname(config: &Config) -> Option<String> {
    config.get_dbname().or(config.get_user()).map(str::to_owned)
}

async fn connect(config: &Config, tls: &PgTls) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(tls.clone()).await?;
    tokio::spawn(async move {
        // The error also reaches the client's next call, where it is handled.
        let _ = connection.await;
    });
    Ok(client)
}

/// A double-quoted SQL identifier (CREATE DATABASE takes no bind parameters).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("turnover"), "\"turnover\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn dbname_defaults_to_user() {
        let c: Config = "postgres://alice@localhost".parse().expect("url");
        assert_eq!(target_dbname(&c).as_deref(), Some("alice"));
        let c: Config = "postgres://alice@localhost/turnover".parse().expect("url");
        assert_eq!(target_dbname(&c).as_deref(), Some("turnover"));
    }
}
