//! Capped exponential backoff: how long to wait before trying again something that failed for
//! a reason that may pass (a broker or a database that is away, a lock held elsewhere).
//!
//! The delays double from a first one up to a cap, so a short outage is retried quickly and a
//! long one is not hammered. Callers own the waiting (they also watch their stop signal) and
//! the count of attempts; this only says how long.

use std::time::Duration;

/// The delays of one run of failures: `first`, then twice the last, never above `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    cap: Duration,
    next: Duration,
}

impl Backoff {
    /// A run that starts at `first` and doubles up to `cap`.
    pub const fn new(first: Duration, cap: Duration) -> Self {
        Backoff { cap, next: first }
    }

    /// The delay to wait now; the following one is twice as long, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (now * 2).min(self.cap);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let ms: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn a_cap_that_is_not_a_doubling_of_the_first_is_reached_exactly() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_millis(16_000));
        let ms: Vec<u128> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            ms,
            [250, 500, 1000, 2000, 4000, 8000, 16_000, 16_000, 16_000]
        );
    }
}
