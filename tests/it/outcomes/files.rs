//! `turnover outcomes --csv`: a bad file refused naming file, line and column, nothing written.

use super::*;

#[tokio::test]
async fn bad_outcome_files_are_refused_with_file_line_and_column_and_nothing_is_written() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "bool.csv",
            "employee_id,left,observed_at\n1,true,2026-09-30\n2,maybe,2026-09-30\n",
            "line 3, column left: expected true or false",
        ),
        (
            "date.csv",
            "employee_id,left,observed_at\n1,true,30/09/2026\n",
            "line 2, column observed_at: expected an RFC 3339 time",
        ),
        (
            "future.csv",
            "employee_id,left,observed_at\n1,true,2999-01-01\n",
            "line 2, column observed_at: is in the future",
        ),
        (
            "columns.csv",
            "employee_id,left\n1,true\n",
            "line 1: missing column observed_at; the header line has: employee_id, left",
        ),
        (
            "crlf.csv",
            "employee_id,left,observed_at\r\n1,true,2026-09-30\r\n2,false,2026-09-30\r\nE_3,true,2026-09-30\r\n",
            "line 4, column employee_id: expected a whole number",
        ),
        (
            "twice.csv",
            "employee_id,left,observed_at\n1,true,2026-09-30\n1,false,2026-09-30\n",
            "line 3, column employee_id: employee 1 already appears on line 2",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(dir.path(), name, text);
        let err = load_outcomes_file(&db.url, &path)
            .await
            .expect_err(name)
            .to_string();
        assert!(
            err.starts_with(&format!("{}, {want}", path.display())),
            "{name}: {err}"
        );
    }
    assert_eq!(outcome_rows(&db).await, 0, "a refused file writes nothing");

    // The binary itself: exit status 1 and the message on stderr; the example file loads.
    let bad = write(dir.path(), "bad.csv", cases[0].1);
    let run = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_turnover"))
            .args(["outcomes", "--csv"])
            .arg(file)
            .env_remove("TURNOVER_CONFIG")
            .env("TURNOVER_POSTGRES__URL", &db.url)
            .env("TURNOVER_LOG__LEVEL", "warn")
            .output()
            .expect("run turnover")
    };
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}, line 3, column left", bad.display())),
        "{stderr}"
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/outcomes.csv");
    let out = run(&example);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("200 outcomes: 200 inserted, 0 updated, 0 unchanged"),
        "{stdout}"
    );
}
