//! TLS to the database and the broker against real servers (a PostgreSQL cluster and a TLS
//! relay of the test's own, see `tls_servers`): what `sslmode` and the `amqp.tls_*` keys
//! accept, and the one line an operator reads when a certificate is untrusted or misnamed or
//! the server has no TLS. Also: a list of broker URLs connects to the first that accepts.

use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use turnover::config::{Amqp, Settings};
use turnover::queue::{self, ConnectError};
use turnover::record::sample;
use turnover::startup;
use turnover::startup::Roles;
use turnover::storage::{self, StorageError};

use crate::app::{body, TestApp};
use crate::helpers::wait_until;
use crate::tls_servers::{free_port, Pki, TlsPostgres, TlsRelay};

mod amqps;

/// The machine's broker (`TURNOVER_TEST_AMQP_URL`), which the relays front.
fn broker() -> url::Url {
    let url = std::env::var("TURNOVER_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    url::Url::parse(&url).expect("TURNOVER_TEST_AMQP_URL is a URL")
}

fn upstream() -> SocketAddr {
    let url = broker();
    (url.host_str().expect("host"), url.port().unwrap_or(5672))
        .to_socket_addrs()
        .expect("resolve the broker")
        .next()
        .expect("an address")
}

/// `amqps://` with the broker's credentials, to `host:port`.
fn amqps(host: &str, port: u16) -> String {
    let url = broker();
    format!(
        "amqps://{}:{}@{host}:{port}/%2f",
        url.username(),
        url.password().unwrap_or("guest")
    )
}

fn amqp_settings(url: &str, ca: Option<&Path>) -> Amqp {
    Amqp {
        url: url.to_owned(),
        tls_ca_file: ca.map(Path::to_path_buf),
        ..Amqp::default()
    }
}

async fn refused(amqp: &Amqp) -> ConnectError {
    let attempt = tokio::time::timeout(
        Duration::from_secs(30),
        queue::connect_with(amqp, "test-tls"),
    );
    match attempt.await.expect("an answer within 30 s") {
        Ok(_) => panic!("{} was accepted", amqp.url),
        Err(error) => {
            let message = error.to_string();
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(!message.contains(":guest@"), "no password: {message}");
            error
        }
    }
}

async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

async fn pg_refused(url: &str) -> String {
    let error = storage::ensure_database(url)
        .await
        .expect_err("the connection is refused");
    assert!(matches!(error, StorageError::Tls { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        !message.contains('\n') && !message.contains("s3cret"),
        "{message}"
    );
    message
}

#[tokio::test]
async fn postgres_over_tls_verifies_what_sslmode_asks_and_says_why_it_refuses() {
    let pki = Pki::new();
    let pg = TlsPostgres::start(&pki);
    let port = pg.port;
    let (ca, other_ca) = (pki.ca.display(), pki.other_ca.display());
    let db = "turnover_tls";

    // verify-full with the CA: the database is created, the pool connects and migrates.
    let verify_full = pg.url(
        "localhost",
        db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    if let Err(e) = storage::ensure_database(&verify_full).await {
        panic!("verify-full: {e}\n{}", pg.log());
    }
    let pool =
        storage::pool(&verify_full, NonZeroUsize::new(2).expect("2 connections")).expect("pool");
    let mut client = pool.get().await.expect("a verify-full connection");
    let applied = storage::migrate(&mut client)
        .await
        .expect("migrations over TLS");
    assert!(!applied.is_empty(), "a fresh database is migrated");
    assert!(encrypted(&client).await);
    drop(client);

    // A CA that did not sign the server's certificate.
    let untrusted = pg.url(
        "localhost",
        db,
        &format!("sslmode=verify-full&sslrootcert={other_ca}"),
    );
    assert_eq!(
        pg_refused(&untrusted).await,
        format!(
            "Postgres at localhost:{port}: TLS: the server's certificate is not trusted: \
             no CA in sslrootcert={other_ca} signed it (unknown issuer)"
        )
    );
    // The pool says the same, and waits (transient) rather than failing batches for good.
    let error = storage::pool(&untrusted, NonZeroUsize::MIN)
        .expect("pool")
        .get()
        .await
        .map(|_| ())
        .map_err(StorageError::from)
        .expect_err("refused");
    assert!(error.is_transient());
    let chain = format!("{:#}", anyhow::Error::from(error));
    assert!(
        chain.contains("localhost:") && chain.contains("not trusted"),
        "{chain}"
    );

    // The right CA, but a host name the certificate does not carry.
    let misnamed = pg.url(
        "127.0.0.1",
        db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert_eq!(
        pg_refused(&misnamed).await,
        format!(
            "Postgres at 127.0.0.1:{port}: TLS: the server's certificate is not valid for the \
             host name 127.0.0.1 (it names localhost)"
        )
    );

    // verify-ca checks the chain and not the name; require and prefer encrypt without a
    // root certificate; disable does not encrypt.
    for (host, query, tls) in [
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            true,
        ),
        ("127.0.0.1", "sslmode=require".to_owned(), true),
        (
            "127.0.0.1",
            "application_name=default-is-prefer".to_owned(),
            true,
        ),
        ("localhost", "sslmode=disable".to_owned(), false),
    ] {
        let url = pg.url(host, db, &query);
        let pool = storage::pool(&url, NonZeroUsize::MIN).expect("pool");
        let client = pool
            .get()
            .await
            .unwrap_or_else(|e| panic!("{query}: {e:?}"));
        assert_eq!(encrypted(&client).await, tls, "{query}");
    }

    // What an operator sees: `turnover migrate` fails with one line naming server and reason.
    let mut command = Command::new(env!("CARGO_BIN_EXE_turnover"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TURNOVER_")) {
        command.env_remove(name);
    }
    let output = command
        .arg("migrate")
        .env_remove("TURNOVER_CONFIG")
        .env("TURNOVER_POSTGRES__URL", &untrusted)
        .output()
        .expect("run turnover migrate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: cannot prepare the database postgres://postgres:***@localhost:{port}/{db}\
             ?sslmode=verify-full&sslrootcert={other_ca}: Postgres at localhost:{port}: TLS: \
             the server's certificate is not trusted: no CA in sslrootcert={other_ca} signed it \
             (unknown issuer)"
        )
    );

    // The same server without TLS: require refuses, prefer connects in clear.
    let plain = pg.url("localhost", "postgres", "sslmode=disable");
    let (admin, connection) = tokio_postgres::connect(&plain, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    // Two statements: ALTER SYSTEM may not run in the implicit transaction of a batch.
    for sql in ["ALTER SYSTEM SET ssl = off", "SELECT pg_reload_conf()"] {
        admin.batch_execute(sql).await.expect("ssl off");
    }
    wait_until(
        "the reload to turn TLS off",
        Duration::from_secs(10),
        || {
            let plain = plain.clone();
            async move {
                let (client, connection) = tokio_postgres::connect(&plain, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                let row = client.query_one("SHOW ssl", &[]).await.ok()?;
                (row.get::<_, String>(0) == "off").then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        pg_refused(&pg.url("localhost", db, "sslmode=require")).await,
        format!(
            "Postgres at localhost:{port}: TLS: the server does not support TLS, and sslmode \
             requires it"
        )
    );
    let pool = storage::pool(
        &pg.url("localhost", db, "sslmode=prefer"),
        NonZeroUsize::MIN,
    )
    .expect("pool");
    let client = pool.get().await.expect("prefer falls back to clear text");
    assert!(!encrypted(&client).await);
}
