//! Per-object retry delays for failed reconciles: doubling from a short first wait up to a
//! ceiling, forgotten once the object reconciles cleanly.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Remembers how often each object failed in a row, keyed by whatever names the object
/// uniquely to its controller.
#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Waits `first` after the first failure, twice as long after each further one, never
    /// longer than `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.lock();
        let count = failures.entry(key.to_string()).or_insert(0);
        let delay = self
            .first
            .saturating_mul(2_u32.saturating_pow(*count))
            .min(self.max);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        // The map stays consistent even if a holder panicked: each update is one statement.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_ceiling_and_reset_on_success() {
        let cases: [(u64, u64, &[u64]); 3] = [
            (500, 3_000, &[500, 1_000, 2_000, 3_000, 3_000]),
            (1_000, 10_000, &[1_000, 2_000, 4_000, 8_000, 10_000, 10_000]),
            (
                250,
                60_000,
                &[250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000],
            ),
        ];
        for (first, max, want) in cases {
            let backoff = Backoff::new(Duration::from_millis(first), Duration::from_millis(max));
            let delays: Vec<u64> = want
                .iter()
                .map(|_| u64::try_from(backoff.failed("a").as_millis()).unwrap())
                .collect();
            assert_eq!(delays, want, "first {first} ms, max {max} ms");
            assert_eq!(
                backoff.failed("b"),
                Duration::from_millis(first),
                "objects back off independently"
            );
            backoff.succeeded("a");
            assert_eq!(backoff.failed("a"), Duration::from_millis(first));
        }
    }

    #[test]
    fn endless_failures_stay_at_the_ceiling() {
        let backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(60));
        for _ in 0..40 {
            backoff.failed("a");
        }
        assert_eq!(backoff.failed("a"), Duration::from_secs(60));
    }
}
