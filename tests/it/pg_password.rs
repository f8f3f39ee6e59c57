//! A Postgres password holding `?`, `/`, `,` or `@`, raw or percent-encoded, through every
//! path that prints the URL (issue 17, item 6): it is read whole, and no message shows it.

use std::num::NonZeroUsize;
use std::process::Command;

use turnover::startup::{self, Roles};

use crate::app::test_settings;
use crate::helpers::{server_url, unique_db_name, TestDb};

/// Every password starts with `s3cr`, which nothing else in a message holds.
const PASSWORDS: &[&str] = &[
    "s3cr?et",
    "s3cr/et",
    "s3cr,et",
    "s3cr@et",
    "s3cr?/,@et",
    "s3cr%3Fet",
    "s3cr%2Fet",
    "s3cr%2Cet",
    "s3cr%40et",
];

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains("s3cr"), "{what} shows the password: {text}");
}

#[tokio::test]
async fn a_password_with_url_characters_is_read_whole_and_never_shown() {
    let db = TestDb::new().await;
    for password in PASSWORDS {
        // Nothing listens on port 1: the connection fails, and the error names the URL.
        let unreachable = format!("postgres://app:{password}@127.0.0.1:1/turnover");
        let mut settings = test_settings(&db);
        settings.postgres.url = unreachable.clone();
        let error = startup::build(settings, Roles::HTTP_ONLY)
            .await
            .err()
            .expect("no database on port 1");
        let shown = format!("{error:#} {error:?}");
        assert!(
            shown.contains("postgres://app:***@127.0.0.1:1/turnover"),
            "{shown}"
        );
        assert_hidden("serve", &shown);

        let output = Command::new(env!("CARGO_BIN_EXE_turnover"))
            .arg("migrate")
            .env("TURNOVER_POSTGRES__URL", &unreachable)
            .env("TURNOVER_LOG__FORMAT", "json")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
        assert_hidden("migrate", &stderr);

        let bad_port = format!("postgres://app:{password}@127.0.0.1:notaport/turnover");
        let error = turnover::storage::pool(&bad_port, NonZeroUsize::MIN).expect_err("bad port");
        assert_hidden("the pool", &format!("{error} {error:?}"));
        let no_root = format!("{unreachable}?sslmode=verify-full&sslrootcert=/nonexistent.pem");
        let error = turnover::storage::pool(&no_root, NonZeroUsize::MIN).expect_err("no root file");
        assert_hidden("the TLS set-up", &format!("{error} {error:?}"));
        assert_hidden("redact_url", &turnover::config::redact_url(&no_root));

        // The real server (trust authentication) reached through such a URL: host, port and
        // database were read as meant, not cut at the password's character.
        let server = server_url();
        let (scheme, rest) = server.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let name = unique_db_name();
        let url = format!("{scheme}://postgres:{password}@{host}/{name}");
        turnover::storage::ensure_database(&url)
            .await
            .unwrap_or_else(|e| panic!("{password}: {e:#}"));
        let pool = turnover::storage::pool(&url, NonZeroUsize::MIN).expect("pool");
        let client = pool.get().await.expect("connects");
        let row = client
            .query_one("SELECT current_database()", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), name);
        drop(client);
        drop(pool);
        db.client()
            .await
            .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
