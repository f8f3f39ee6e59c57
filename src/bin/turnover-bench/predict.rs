//! The `/predict` phase: a probe that it answers at all, then each connection level's runs
//! through the load generator, with the service's and the machine's CPU per answer.

use super::*;

/// One `/predict` that must answer 200 with a score.
pub(super) async fn probe_predict(svc: &Service) -> anyhow::Result<()> {
    let mut conn = load::Conn::open(svc.http).await?;
    let body = serde_json::to_vec(&sample::example())?;
    let answer = conn
        .request("POST", "/predict", "application/json", &body)
        .await?;
    let value: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if answer.status != 200 || value.get("probability_1").is_none() {
        bail!(
            "POST /predict answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    Ok(())
}

/// Drives `POST /predict` at each of `args.connections` keep-alive connections, `args.runs`
/// times, and adds each level's rows (throughput, latency, CPU by process, RSS).
pub(super) async fn predict(args: &Args, svc: &Service, who: &str, rows: &mut Vec<Row>) {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        sample::many(7, 1000)
            .into_iter()
            .map(|r| serde_json::to_vec(&r).unwrap_or_default())
            .collect(),
    );
    for &c in &args.connections {
        let (mut rps, mut p50, mut p99, mut p999, mut peak, mut steady, mut cpu) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut machine: Vec<machine::Split> = Vec::new();
        for r in 0..args.runs {
            let from = Instant::now();
            let m = load::drive(
                Some(svc.pid),
                svc.http,
                "/predict",
                Arc::clone(&bodies),
                c,
                Duration::from_secs(1),
                Duration::from_secs(args.predict_seconds),
            )
            .await;
            let (pk, st) = svc.memory.window(from, Instant::now());
            eprintln!(
                "  /predict c={c} run {r}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.0} µs CPU/answer, {} errors",
                m.rps, m.p50_ms, m.p99_ms, m.cpu_us_per_answer, m.errors
            );
            let w = &m.machine;
            eprintln!(
                "    machine CPU/answer: {who} {:.0}, broker {:.0}, postgres {:.0}, load generator {:.0}, other {:.0}; all {:.0} µs",
                w.service, w.broker, w.postgres, w.harness, w.other, w.total
            );
            machine.push(*w);
            if m.errors > 0 {
                eprintln!("    {} non-200 answers or failed connections", m.errors);
            }
            rps.push(m.rps);
            p50.push(m.p50_ms);
            p99.push(m.p99_ms);
            p999.push(m.p999_ms);
            peak.push(pk);
            steady.push(st);
            cpu.push(m.cpu_us_per_answer);
        }
        rows.push(Row::new(
            format!("3. /predict c={c} throughput"),
            "req/s",
            rps,
        ));
        rows.push(Row::new(format!("3. /predict c={c} p50"), "ms", p50));
        rows.push(Row::new(format!("3. /predict c={c} p99"), "ms", p99));
        rows.push(Row::new(format!("3. /predict c={c} p99.9"), "ms", p999));
        rows.push(Row::new(
            format!("5. {who} CPU per /predict answer, c={c}"),
            "µs",
            cpu,
        ));
        machine::rows(
            &machine,
            &format!("per /predict answer, c={c}"),
            "load generator",
            rows,
        );
        rows.push(Row::new(
            format!("4. {who} RSS /predict c={c}, peak"),
            "MiB",
            peak,
        ));
        rows.push(Row::new(
            format!("4. {who} RSS /predict c={c}, steady"),
            "MiB",
            steady,
        ));
    }
}
