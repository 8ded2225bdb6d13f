//! Retrying transient registry failures within a bounded time (decisions.md §5 fix 10).
//!
//! The original retried only 500 and 503, three times, with a fixed 10 s sleep (also after
//! the last failure). Here 429, 500, 502, 503, 504 and connection or timeout errors are
//! retried with exponential backoff and full jitter (a uniformly random delay between zero
//! and the exponential bound), so that many replicas hitting a struggling registry spread
//! out; a `Retry-After` the registry sends is honoured up to `max_delay`. The total time is
//! bounded by `max_elapsed`: no retry starts whose sleep would end past it. Other 4xx are
//! never retried because repeating the same request cannot change the answer.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::error::RegistryError;

/// How long and how often transient failures are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// No retry starts whose delay would end later than this after the first attempt.
    pub max_elapsed: Duration,
    /// Upper bound of the first delay; it doubles on every retry.
    pub initial: Duration,
    /// Upper bound of any single delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_elapsed: Duration::from_secs(60),
            initial: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries: every failure is returned at once.
    pub fn none() -> Self {
        Self {
            max_elapsed: Duration::ZERO,
            initial: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// Runs `attempt` until it succeeds, fails permanently, or the time budget is spent.
    ///
    /// A failure after more than one attempt is wrapped in
    /// [`RegistryError::RetriesExhausted`], which keeps the last error.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let start = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let delay = error
                .retry_after()
                .map(|asked| asked.min(self.max_delay))
                .unwrap_or_else(|| self.jittered_delay(attempts - 1));
            let retry = error.is_transient() && start.elapsed() + delay <= self.max_elapsed;
            if !retry {
                return Err(if attempts == 1 {
                    error
                } else {
                    RegistryError::RetriesExhausted {
                        attempts,
                        elapsed: start.elapsed(),
                        last: Box::new(error),
                    }
                });
            }
            tracing::warn!(%error, attempt = attempts, delay_ms = delay.as_millis() as u64, "registry request failed, retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Full jitter: uniform in `[0, min(max_delay, initial * 2^retry)]`.
    fn jittered_delay(&self, retry: u32) -> Duration {
        let bound = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_delay);
        let bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=bound_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn status(code: u16) -> RegistryError {
        RegistryError::Status {
            host: "h".into(),
            operation: "op".into(),
            status: code,
            detail: String::new(),
            retry_after: None,
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_elapsed: Duration::from_secs(5),
            initial: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn retries_transient_statuses_until_success() {
        for code in [429, 500, 502, 503, 504] {
            let calls = AtomicU32::new(0);
            let result = quick()
                .run(|| async {
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        Err(status(code))
                    } else {
                        Ok(7)
                    }
                })
                .await;
            assert_eq!(result.unwrap(), 7, "status {code}");
            assert_eq!(calls.load(Ordering::SeqCst), 3);
        }
    }

    #[tokio::test]
    async fn never_retries_other_client_errors() {
        for code in [400, 401, 403, 404, 409] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = quick()
                .run(|| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(status(code))
                })
                .await;
            assert_eq!(result.unwrap_err().status(), Some(code));
            assert_eq!(calls.load(Ordering::SeqCst), 1, "status {code}");
        }
    }

    #[tokio::test]
    async fn gives_up_within_the_budget() {
        let policy = RetryPolicy {
            max_elapsed: Duration::from_millis(50),
            initial: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
        };
        let start = Instant::now();
        let result: Result<(), _> = policy.run(|| async { Err(status(503)) }).await;
        assert!(start.elapsed() < Duration::from_secs(2));
        match result.unwrap_err() {
            RegistryError::RetriesExhausted { attempts, last, .. } => {
                assert!(attempts > 1);
                assert_eq!(last.status(), Some(503));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn jitter_stays_within_the_exponential_bound() {
        let policy = RetryPolicy {
            max_elapsed: Duration::from_secs(60),
            initial: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for retry in 0..40 {
            let bound = (100u64 << retry.min(20)).min(1000);
            let delay = policy.jittered_delay(retry);
            assert!(
                delay <= Duration::from_millis(bound),
                "retry {retry}: {delay:?}"
            );
        }
    }
}
