//! The whole machine's CPU over a window, split by process: the service, the broker
//! (RabbitMQ's Erlang VM), Postgres (every server process), this harness (the load generator)
//! and everything else, from `/proc` read at the window's two ends. On two shared cores, what a
//! request costs the broker and the database bounds the throughput as much as the service does.

/// CPU seconds so far, by who spent them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    service: f64,
    broker: f64,
    postgres: f64,
    harness: f64,
    /// Every CPU's non-idle time (`/proc/stat`), all processes and the kernel's own work.
    busy: f64,
}

/// Microseconds of CPU per unit of work, by who spent them.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    pub service: f64,
    pub broker: f64,
    pub postgres: f64,
    pub harness: f64,
    pub other: f64,
    pub total: f64,
}

use crate::stats::Row;

/// `USER_HZ`: Linux reports clock ticks of 1/100 s to every reader of `/proc`.
const TICKS: f64 = 100.0;

/// Reads the CPU of every process now; `service` is the `serve` process's pid.
#[must_use]
pub fn snapshot(service: Option<u32>) -> Snapshot {
    let me = std::process::id();
    let mut s = Snapshot {
        busy: machine_busy().unwrap_or(f64::NAN),
        ..Snapshot::default()
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return s;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((comm, own, reaped)) = times(pid) else {
            continue;
        };
        // A process's reaped children count with it: Postgres's exited autovacuum workers and
        // parallel workers are in the postmaster's, never in a live process's own.
        if Some(pid) == service {
            s.service += own;
        } else if pid == me {
            s.harness += own;
        } else if matches!(comm.as_str(), "beam.smp" | "erl_child_setup" | "epmd") {
            s.broker += own + reaped;
        } else if comm.starts_with("postgres") || comm.starts_with("postmaster") {
            s.postgres += own + reaped;
        }
    }
    s
}

impl Snapshot {
    /// A reading that could not be taken: every share of a window with it is `NaN`.
    #[must_use]
    pub fn unknown() -> Self {
        Snapshot {
            service: f64::NAN,
            broker: f64::NAN,
            postgres: f64::NAN,
            harness: f64::NAN,
            busy: f64::NAN,
        }
    }

    /// What was spent between `before` and `self`, per one of `units`.
    #[must_use]
    pub fn since(&self, before: &Snapshot, units: usize) -> Split {
        let per = |a: f64, b: f64| (a - b) * 1e6 / units.max(1) as f64;
        let (service, broker, postgres, harness, total) = (
            per(self.service, before.service),
            per(self.broker, before.broker),
            per(self.postgres, before.postgres),
            per(self.harness, before.harness),
            per(self.busy, before.busy),
        );
        Split {
            service,
            broker,
            postgres,
            harness,
            other: total - service - broker - postgres - harness,
            total,
        }
    }
}

/// The rows of the machine's CPU `per` unit of work, by process other than the service (it
/// has its own row): the broker, Postgres, the harness as `harness`, the rest and the total.
pub fn rows(splits: &[Split], per: &str, harness: &str, rows: &mut Vec<Row>) {
    let by = |f: fn(&Split) -> f64| splits.iter().map(f).collect::<Vec<_>>();
    for (name, values) in [
        ("broker", by(|w| w.broker)),
        ("postgres", by(|w| w.postgres)),
        (harness, by(|w| w.harness)),
        ("other", by(|w| w.other)),
        ("machine, all", by(|w| w.total)),
    ] {
        rows.push(Row::new(format!("5. {name} CPU {per}"), "µs", values));
    }
}

/// The command name, the process's own CPU seconds, and its reaped children's.
fn times(pid: u32) -> Option<(String, f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    // Fields 14 to 17 (utime, stime, cutime, cstime), counted after the `)` of field 2.
    let mut fields = stat[close + 1..].split_whitespace().skip(11);
    let mut next = || fields.next()?.parse::<f64>().ok();
    let (utime, stime, cutime, cstime) = (next()?, next()?, next()?, next()?);
    Some((comm, (utime + stime) / TICKS, (cutime + cstime) / TICKS))
}

/// Non-idle CPU seconds of the whole machine since boot (all CPUs).
fn machine_busy() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 = ticks.iter().take(8).sum::<f64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy / TICKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_this_process_burns_is_the_harness_share_and_within_the_machine_total() {
        let me = std::process::id();
        let own = || times(me).map(|t| t.1).unwrap();
        let before = snapshot(None);
        let (start, wall) = (own(), std::time::Instant::now());
        let mut x = 0u64;
        // 300 ms of this process's CPU, however busy the machine (at most 60 s of waiting).
        while own() - start < 0.3 && wall.elapsed().as_secs() < 60 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let split = snapshot(None).since(&before, 1);
        assert!(split.harness >= 290_000.0, "{split:?}");
        assert!(split.service == 0.0, "no service pid given: {split:?}");
        assert!(split.total >= split.harness - 20_000.0, "{split:?}");
    }
}
