//! Exponential backoff with jitter, one rule for the two places that wait after failures: the
//! watchers (an unreachable API server must not be hammered, and the stream must never end)
//! and failing (node, image) pulls (a broken image must not be retried in a tight loop, while
//! other pulls carry on).
//!
//! Jitter keeps replicas and pairs that failed together from retrying together; it draws the
//! wait uniformly from the upper half of the exponential step, so the bound still grows.

use std::time::Duration;

use rand::Rng;

/// The wait before the next attempt after `failures` consecutive failures (1 = first).
pub fn delay(initial: Duration, max: Duration, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let step = initial.saturating_mul(1 << exponent).min(max);
    let half = step / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

/// A [`kube::runtime::utils::Backoff`] for watcher streams: it never gives up, so a watcher
/// keeps retrying for as long as the process lives.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl WatchBackoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        WatchBackoff {
            initial,
            max,
            failures: 0,
        }
    }
}

impl Default for WatchBackoff {
    /// 0.5 s doubling to 10 s: an API server restart is noticed quickly, an outage costs a
    /// request every few seconds.
    fn default() -> Self {
        WatchBackoff::new(Duration::from_millis(500), Duration::from_secs(10))
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        Some(delay(self.initial, self.max, self.failures))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::utils::Backoff;

    #[test]
    fn delay_doubles_within_jitter_and_is_capped() {
        let initial = Duration::from_secs(2);
        let max = Duration::from_secs(10);
        for failures in 1..40 {
            let step = (initial * 2u32.pow(failures.min(20) - 1)).min(max);
            let wait = delay(initial, max, failures);
            assert!(
                wait >= step / 2 && wait <= step,
                "{failures}: {wait:?} vs {step:?}"
            );
        }
    }

    #[test]
    fn watch_backoff_never_ends_and_resets() {
        let mut backoff = WatchBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<_> = backoff.by_ref().take(50).collect();
        assert_eq!(waits.len(), 50);
        assert!(waits[49] >= Duration::from_millis(500));
        backoff.reset();
        assert!(backoff.next().unwrap() <= Duration::from_millis(100));
    }
}
