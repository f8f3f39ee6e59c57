//! A per-client count over one-minute windows whose memory is bounded whatever the number of
//! clients: the failed-key throttle and the rate limit.
//!
//! A fixed window per client is simple, and a burst at a window's edge (at most twice the
//! limit over a minute) is acceptable for protecting the broker from one noisy client.
//! Bounded two ways, with no full scan on the request path:
//! - clients whose window has passed are swept out at most once a minute (one scan of at most
//!   `http.limiter_max_clients` entries, paid by one request a minute, not by every request);
//! - at most `http.limiter_max_clients` clients are tracked; past that, until the next sweep,
//!   new clients share one count. Filling the table takes that many addresses in one minute
//!   (IPv6 counts by /64, see `http::client`); the shared count then throttles the flood
//!   together instead of letting each new address through uncounted.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::IntGauge;

use super::client::ClientKey;

/// The length of a window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Requests counted per client and minute.
pub struct RateLimiter {
    pub limit: u32,
    max_clients: usize,
    state: Mutex<Windows>,
    /// Clients tracked now (`turnover_http_limiter_clients{limiter}`).
    tracked: IntGauge,
}

struct Windows {
    clients: HashMap<ClientKey, (Instant, u32)>,
    /// The count new clients share while `clients` is full.
    overflow: (Instant, u32),
    last_sweep: Instant,
}

impl RateLimiter {
    /// A limiter of `limit_per_minute` per client, tracking at most `max_clients` clients,
    /// reporting how many it tracks in `tracked`.
    pub fn new(limit_per_minute: NonZeroU32, max_clients: NonZeroUsize, tracked: IntGauge) -> Self {
        let now = Instant::now();
        RateLimiter {
            limit: limit_per_minute.get(),
            max_clients: max_clients.get(),
            state: Mutex::new(Windows {
                clients: HashMap::new(),
                overflow: (now, 0),
                last_sweep: now,
            }),
            tracked,
        }
    }

    /// Counts one request of `client`; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, client: &ClientKey, now: Instant) -> Result<(), u64> {
        self.count(client, now, 1)
    }

    /// As [`RateLimiter::check`], without counting: whether `client` is over the limit now.
    pub fn peek(&self, client: &ClientKey, now: Instant) -> Result<(), u64> {
        self.count(client, now, 0)
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().clients.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, client: &ClientKey, now: Instant, add: u32) -> Result<(), u64> {
        let mut state = self.lock();
        let Windows {
            clients,
            overflow,
            last_sweep,
        } = &mut *state;
        if now.saturating_duration_since(*last_sweep) >= WINDOW {
            clients.retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
            *last_sweep = now;
            self.tracked
                .set(i64::try_from(clients.len()).unwrap_or(i64::MAX));
        }
        let tracked = clients.contains_key(client);
        // A peek never adds an entry: a client that is not tracked is under the limit.
        if !tracked && add == 0 {
            return Ok(());
        }
        let window = if tracked || clients.len() < self.max_clients {
            let len = clients.len() + usize::from(!tracked);
            self.tracked.set(i64::try_from(len).unwrap_or(i64::MAX));
            clients.entry(*client).or_insert((now, 0))
        } else {
            overflow
        };
        let (start, count) = window;
        if now.saturating_duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= self.limit {
            let left = WINDOW.saturating_sub(now.saturating_duration_since(*start));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        *count += add;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn addr(n: u32) -> ClientKey {
        ClientKey::Addr(IpAddr::V4(Ipv4Addr::from(n)))
    }

    fn limiter(limit: u32, max_clients: usize) -> RateLimiter {
        RateLimiter::new(
            NonZeroU32::new(limit).expect("a limit"),
            NonZeroUsize::new(max_clients).expect("a capacity"),
            IntGauge::new("t", "t").expect("gauge"),
        )
    }

    #[test]
    fn the_window_limits_then_resets() {
        let limiter = limiter(2, 100);
        let t = Instant::now();
        assert!(limiter.check(&addr(1), t).is_ok());
        assert!(limiter.check(&addr(1), t).is_ok());
        let wait = limiter
            .check(&addr(1), t + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, 50);
        assert!(
            limiter.check(&addr(2), t).is_ok(),
            "clients are counted apart"
        );
        assert!(limiter.check(&addr(1), t + WINDOW).is_ok());
    }

    #[test]
    fn peeking_does_not_count_nor_track() {
        let limiter = limiter(1, 100);
        let t = Instant::now();
        assert!(limiter.peek(&addr(1), t).is_ok());
        assert_eq!(limiter.tracked(), 0);
        assert!(limiter.check(&addr(1), t).is_ok());
        assert_eq!(limiter.peek(&addr(1), t), Err(60));
    }

    #[test]
    fn many_clients_stay_within_the_cap_and_share_one_count_past_it() {
        let limiter = limiter(3, 1000);
        let t = Instant::now();
        for n in 0..50_000 {
            let _ = limiter.check(&addr(n), t);
        }
        assert_eq!(limiter.tracked(), 1000);
        // The 49,000 untracked clients shared one count: it is spent.
        assert!(limiter.check(&addr(60_000), t).is_err());
        // Tracked clients keep their own.
        assert!(limiter.check(&addr(1), t).is_ok());
        // A minute on, the sweep empties the table and newcomers are tracked again.
        let later = t + WINDOW;
        assert!(limiter.check(&addr(70_000), later).is_ok());
        assert_eq!(limiter.tracked(), 1);
    }
}
