//! The watchers' backoff: the project's one rule ([`rsp_retry::Backoff`]) behind the trait
//! kube-rs' watcher streams take. An unreachable API server must not be hammered, and the
//! stream must never end, so this backoff never gives up. (The prepuller's per-pair waits use
//! [`rsp_retry::Backoff`] directly, from its configuration.)

use std::time::Duration;

use rsp_retry::Backoff;

/// A [`kube::runtime::utils::Backoff`] for watcher streams: it never gives up, so a watcher
/// keeps retrying for as long as the process lives.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    backoff: Backoff,
    failures: u32,
}

impl WatchBackoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        WatchBackoff {
            backoff: Backoff::new(initial, max),
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
        Some(self.backoff.delay(self.failures))
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
    fn watch_backoff_never_ends_and_resets() {
        let mut backoff = WatchBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<_> = backoff.by_ref().take(50).collect();
        assert_eq!(waits.len(), 50);
        assert!(waits[49] >= Duration::from_millis(500));
        backoff.reset();
        assert!(backoff.next().unwrap() <= Duration::from_millis(100));
    }
}
