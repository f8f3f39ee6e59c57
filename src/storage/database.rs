//! Creating the database `postgres.url` names when it is missing, the one thing the service does
//! before it can migrate. Safe to run from several processes at once.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config};

use super::tls::{connect_error, PgTls};
use super::{connect_config, StorageError};

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
