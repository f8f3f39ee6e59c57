//! Reloads an operator triggers: a real SIGHUP to `turnover serve`, and a watched bundle folder.

use std::num::NonZero;

use super::*;

#[tokio::test]
async fn sighup_makes_a_running_turnover_serve_swap_its_bundle_or_refuse_a_broken_one() {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    let served = bundle_dir(&model_path());
    let logs = tempfile::NamedTempFile::new().expect("log file");
    let port = spawn::free_port();
    let mut child = spawn::command(&settings, &["serve"])
        .env("TURNOVER_HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("TURNOVER_MODEL__PATH", served.path())
        .env("TURNOVER_LOG__FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(logs.reopen().expect("log file"))
        .spawn()
        .expect("spawn turnover serve");
    let pid = child.id().to_string();
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()
        }
    };
    let health_version = || async {
        let body: Value = serde_json::from_str(&get("/health").await?).ok()?;
        body["model_version"].as_str().map(str::to_owned)
    };
    let (version_a, version_b) = (version_of(&model_path()), version_of(&candidate_path()));
    let first = wait_until("turnover serve to answer", Duration::from_secs(60), || {
        health_version()
    })
    .await;
    assert_eq!(first, version_a);
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    };

    install(&candidate_path(), served.path());
    hangup();
    wait_until(
        "the candidate to serve",
        Duration::from_secs(30),
        || async { (health_version().await? == version_b).then_some(()) },
    )
    .await;
    let text = get("/metrics").await.expect("metrics");
    assert_eq!(
        metric(&text, "turnover_model_reload_last_success"),
        Some(1.0)
    );

    std::fs::write(served.path().join("model.json"), b"{\"learner\": {").expect("corrupt");
    hangup();
    let metrics = wait_until(
        "the refusal to be counted",
        Duration::from_secs(30),
        || async {
            let text = get("/metrics").await?;
            (metric(&text, "turnover_model_reloads_total{outcome=\"failure\"}") == Some(1.0))
                .then_some(text)
        },
    )
    .await;
    assert_eq!(
        metric(
            &metrics,
            "turnover_model_reloads_total{outcome=\"success\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "turnover_model_reload_last_success"),
        Some(0.0),
        "the last reload was refused"
    );
    assert_eq!(health_version().await.as_deref(), Some(version_b.as_str()));
    assert!(child.try_wait().expect("wait").is_none(), "still running");

    let log = std::fs::read_to_string(logs.path()).expect("logs");
    let refusal = log
        .lines()
        .find(|l| l.contains("model bundle refused"))
        .unwrap_or_else(|| panic!("no refusal line in\n{log}"));
    assert!(refusal.contains("ERROR"), "{refusal}");
    assert!(
        refusal.contains(&served.path().join("model.json").display().to_string())
            || refusal.contains(&served.path().display().to_string()),
        "{refusal}"
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "{exit:?}\n{log}");
    crate::app::delete_topology(&settings).await;
}

#[tokio::test]
async fn with_a_watch_interval_a_changed_bundle_folder_is_reloaded_without_a_signal() {
    let served = bundle_dir(&model_path());
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    settings.model.watch_interval_ms = Some(NonZero::new(50).unwrap());
    let (app, ctx) = start(db, settings).await;
    let (version_a, version_b) = (version_of(&model_path()), version_of(&candidate_path()));
    assert_eq!(ctx.model_version(), version_a);

    install(&candidate_path(), served.path());
    wait_until(
        "the candidate to serve",
        Duration::from_secs(10),
        || async { (ctx.model_version() == version_b).then_some(()) },
    )
    .await;

    // A broken change is refused once, and not retried while the files stay the same.
    std::fs::write(served.path().join("model.json"), b"{}").expect("break");
    let failures = || {
        metric(
            &ctx.metrics.render(),
            "turnover_model_reloads_total{outcome=\"failure\"}",
        )
    };
    wait_until("the refusal", Duration::from_secs(10), || async {
        (failures() == Some(1.0)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(failures(), Some(1.0));
    assert_eq!(ctx.model_version(), version_b);
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"success\"}"),
        Some(1.0)
    );
    app.finish().await;
}
