//! Whether to try a failed request again, and after how long.
//!
//! A request is retried while the failure is transient (the caller decides that) and the
//! retry still fits the time budget: no retry starts whose wait would end `max_elapsed` or
//! later after the first attempt. The wait is the backoff's, or the delay the server asked
//! for when that is longer: a server may slow a client down (up to `max_asked`), never speed
//! it up. When the server asks for more than the budget has left, the request is not retried
//! at all, since retrying earlier than asked would only be refused again.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::random_unit;

/// How long and how often transient failures of one request are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait between attempts when the server asks for nothing longer.
    pub backoff: Backoff,
    /// No retry starts whose wait would end this long or longer after the first attempt.
    pub max_elapsed: Duration,
    /// The longest wait a server can ask for; a longer request is cut to this.
    pub max_asked: Duration,
}

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop: the budget does not allow another attempt.
    GiveUp,
}

impl Default for RetryPolicy {
    /// 0.5 s doubling to 10 s, within 60 s; a server may ask for up to 60 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
            max_elapsed: Duration::from_secs(60),
            max_asked: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub const fn none() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::new(Duration::ZERO, Duration::ZERO),
            max_elapsed: Duration::ZERO,
            max_asked: Duration::ZERO,
        }
    }

    /// The same policy with a smaller time budget (never a larger one).
    pub fn within(self, budget: Duration) -> RetryPolicy {
        RetryPolicy {
            max_elapsed: self.max_elapsed.min(budget),
            ..self
        }
    }

    /// After the `failures`-th consecutive failure (1 after the first), `elapsed` after the
    /// first attempt began, with the server asking for `asked`: retry after how long, or not.
    pub fn decide(&self, failures: u32, elapsed: Duration, asked: Option<Duration>) -> Decision {
        self.decide_at(failures, elapsed, asked, random_unit())
    }

    /// [`Self::decide`] with the backoff's jitter `unit` given.
    pub fn decide_at(
        &self,
        failures: u32,
        elapsed: Duration,
        asked: Option<Duration>,
        unit: f64,
    ) -> Decision {
        let backoff = self.backoff.delay_at(failures, unit);
        let wait = asked.map_or(backoff, |asked| asked.min(self.max_asked).max(backoff));
        if elapsed.saturating_add(wait) < self.max_elapsed {
            Decision::Retry(wait)
        } else {
            Decision::GiveUp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);
    const SECOND: Duration = Duration::from_secs(1);

    fn policy() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::new(500 * MS, 10 * SECOND),
            max_elapsed: 60 * SECOND,
            max_asked: 45 * SECOND,
        }
    }

    #[test]
    fn backs_off_without_a_server_hint() {
        let policy = policy();
        assert_eq!(
            policy.decide_at(1, Duration::ZERO, None, 1.0),
            Decision::Retry(500 * MS)
        );
        assert_eq!(
            policy.decide_at(3, SECOND, None, 0.0),
            Decision::Retry(SECOND)
        );
    }

    #[test]
    fn a_server_cannot_shorten_the_backoff() {
        // Issue 10: `429` with `Retry-After: 0` must not switch backoff off.
        let policy = policy();
        assert_eq!(
            policy.decide_at(4, SECOND, Some(Duration::ZERO), 0.0),
            Decision::Retry(2 * SECOND)
        );
    }

    #[test]
    fn a_server_may_ask_for_longer_waits_up_to_the_cap() {
        let policy = policy();
        assert_eq!(
            policy.decide_at(1, Duration::ZERO, Some(30 * SECOND), 0.5),
            Decision::Retry(30 * SECOND)
        );
        assert_eq!(
            policy.decide_at(1, Duration::ZERO, Some(Duration::MAX), 0.5),
            Decision::Retry(45 * SECOND)
        );
    }

    #[test]
    fn gives_up_when_the_wait_would_end_past_the_budget() {
        let policy = policy();
        assert_eq!(
            policy.decide_at(1, 40 * SECOND, Some(30 * SECOND), 0.5),
            Decision::GiveUp
        );
        assert_eq!(
            policy.decide_at(9, 59 * SECOND, None, 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            policy
                .within(20 * SECOND)
                .decide_at(1, Duration::ZERO, Some(30 * SECOND), 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn none_never_retries() {
        for elapsed in [Duration::ZERO, SECOND] {
            assert_eq!(
                RetryPolicy::none().decide_at(1, elapsed, Some(Duration::ZERO), 0.0),
                Decision::GiveUp
            );
        }
    }

    proptest! {
        #[test]
        fn waits_respect_floor_cap_and_budget(
            failures in 1u32..64,
            elapsed_ms in 0u64..120_000,
            asked in proptest::option::of(any::<u64>()),
            unit in 0.0..=1.0f64,
        ) {
            let policy = policy();
            let elapsed = Duration::from_millis(elapsed_ms);
            let asked = asked.map(Duration::from_secs);
            match policy.decide_at(failures, elapsed, asked, unit) {
                Decision::Retry(wait) => {
                    prop_assert!(wait >= policy.backoff.floor(failures));
                    prop_assert!(wait <= policy.max_asked.max(policy.backoff.max));
                    prop_assert!(elapsed + wait < policy.max_elapsed);
                    if let Some(asked) = asked {
                        prop_assert!(wait >= asked.min(policy.max_asked));
                    }
                }
                Decision::GiveUp => {
                    let wait = asked
                        .map_or(Duration::ZERO, |a| a.min(policy.max_asked))
                        .max(policy.backoff.delay_at(failures, unit));
                    prop_assert!(elapsed + wait >= policy.max_elapsed);
                }
            }
        }
    }
}
