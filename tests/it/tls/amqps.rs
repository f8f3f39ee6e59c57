//! `amqps://` against a TLS relay of the test's own: trusted CAs, client certificates, a
//! job and a `/predict` scored through it, and a list of brokers.

use super::*;

#[tokio::test]
async fn amqps_trusts_the_configured_ca_and_refuses_other_cas_wrong_names_and_plain_ports() {
    let pki = Pki::new();
    let relay = TlsRelay::start(&pki, upstream(), None);
    let port = relay.port;

    let trusted = amqp_settings(&amqps("localhost", port), Some(&pki.ca));
    let connection = tokio::time::timeout(
        Duration::from_secs(30),
        queue::connect_with(&trusted, "test-tls"),
    )
    .await
    .expect("an answer within 30 s")
    .expect("the test CA is trusted");
    connection
        .create_channel()
        .await
        .expect("a channel over TLS");
    let _ = connection.close(200, "".into()).await;

    let other_ca = pki.other_ca.display();
    let error = refused(&amqp_settings(
        &amqps("localhost", port),
        Some(&pki.other_ca),
    ))
    .await;
    assert!(error.needs_operator());
    assert_eq!(
        error.to_string(),
        format!(
            "RabbitMQ at localhost:{port}: TLS: the server's certificate is not trusted: no CA \
             in the system roots and amqp.tls_ca_file {other_ca} signed it (unknown issuer)"
        )
    );
    assert_eq!(
        refused(&amqp_settings(&amqps("localhost", port), None))
            .await
            .to_string(),
        format!(
            "RabbitMQ at localhost:{port}: TLS: the server's certificate is not trusted: no CA \
             in the system roots signed it (unknown issuer)"
        )
    );
    assert_eq!(
        refused(&amqp_settings(&amqps("127.0.0.1", port), Some(&pki.ca)))
            .await
            .to_string(),
        format!(
            "RabbitMQ at 127.0.0.1:{port}: TLS: the server's certificate is not valid for the \
             host name 127.0.0.1 (it names localhost)"
        )
    );
    // amqps:// to the broker's plain AMQP port.
    let plain = upstream();
    let error = refused(&amqp_settings(
        &amqps(&plain.ip().to_string(), plain.port()),
        Some(&pki.ca),
    ))
    .await;
    assert!(matches!(error, ConnectError::Tls { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("RabbitMQ at {plain}: TLS: the server does not speak TLS on this port")
    );

    // At start-up, the service stops with that line before anything else.
    let settings = Settings {
        amqp: amqp_settings(&amqps("localhost", port), Some(&pki.other_ca)),
        ..Settings::default()
    };
    let Err(error) = startup::build(settings, Roles::ALL).await else {
        panic!("an untrusted broker certificate must stop start-up");
    };
    let line = format!("{error:#}");
    assert!(
        line.starts_with(&format!(
            "RabbitMQ at localhost:{port}: TLS: the server's certificate is not trusted"
        )),
        "{line}"
    );
}

#[tokio::test]
async fn amqps_with_a_client_certificate_passes_a_relay_that_requires_one() {
    let pki = Pki::new();
    let relay = TlsRelay::start(&pki, upstream(), Some(&pki.ca));
    let mut amqp = amqp_settings(&amqps("localhost", relay.port), Some(&pki.ca));

    let error = refused(&amqp).await;
    assert!(error.needs_operator(), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "RabbitMQ at localhost:{}: TLS: the server requires a client certificate (set \
             amqp.tls_cert_file and amqp.tls_key_file)",
            relay.port
        )
    );

    amqp.tls_cert_file = Some(pki.client_cert.clone());
    amqp.tls_key_file = Some(pki.client_key.clone());
    let connection = tokio::time::timeout(
        Duration::from_secs(30),
        queue::connect_with(&amqp, "test-mtls"),
    )
    .await
    .expect("an answer within 30 s")
    .expect("the client certificate is accepted");
    connection.create_channel().await.expect("a channel");
    let _ = connection.close(200, "".into()).await;
}

#[tokio::test]
async fn a_queued_job_and_a_predict_call_are_scored_through_amqps() {
    let pki = Pki::new();
    let relay = TlsRelay::start(&pki, upstream(), None);
    let (url, ca) = (amqps("localhost", relay.port), pki.ca.clone());
    let app = TestApp::spawn_with(
        move |s| {
            s.amqp.url = url;
            s.amqp.tls_ca_file = Some(ca);
        },
        Roles::ALL,
    )
    .await;
    let records = sample::many(17, 40);
    let report = app
        .publish(records.iter().enumerate().map(|(i, record)| {
            body(&json!({"request_id": format!("tls-{i:02}"), "employee": record}))
        }))
        .await;
    assert!(report.all_confirmed(40), "{report:?}");
    app.wait_for_predictions(40).await;

    // The sidecar's request-reply client goes through the relay too.
    let http = reqwest::Client::new();
    let answer = wait_until("/predict over amqps", Duration::from_secs(20), || {
        let request = http
            .post(app.url("/predict"))
            .json(&Value::Object(sample::example()));
        async move {
            let response = request.send().await.ok()?;
            (response.status() == reqwest::StatusCode::OK)
                .then_some(response)?
                .json::<Value>()
                .await
                .ok()
        }
    })
    .await;
    assert!(answer["probability_1"].is_number(), "{answer}");
    assert_eq!(app.predictions().await, 41);
    app.finish().await;
}

#[tokio::test]
async fn a_list_of_brokers_connects_to_the_first_that_accepts() {
    let dead = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let live = broker().to_string();
    let connection = queue::connect(&format!("{dead}, {live}"), "test-list")
        .await
        .expect("the second broker accepts");
    assert!(connection.status().connected());
    let _ = connection.close(200, "".into()).await;
    let error = queue::connect(&format!("{dead},{dead}"), "test-list")
        .await
        .expect_err("none accepts");
    assert!(
        !error.needs_operator(),
        "a broker that is down is not a configuration error"
    );
}
