//! Retrying transient registry failures within a bounded time (decisions.md §5 fix 10), by
//! the project's one rule ([`rsp_retry::RetryPolicy`]).
//!
//! The original retried only 500 and 503, three times, with a fixed 10 s sleep (also after
//! the last failure). Here 429, 500, 502, 503, 504 and connection or timeout errors are
//! retried with exponential backoff and jitter, so that many replicas hitting a struggling
//! registry spread out. A delay the registry asks for (`Retry-After`, Google's `RetryInfo`)
//! is honoured up to the policy's cap, but never shortens the backoff: a `429` with
//! `Retry-After: 0` waits like any other failure. Other 4xx are never retried because
//! repeating the same request cannot change the answer.

use std::future::Future;
use tokio::time::Instant;

use rsp_retry::{Decision, RetryPolicy};

use crate::error::RegistryError;

/// Runs `attempt` until it succeeds, fails permanently, or `policy`'s time budget is spent.
///
/// A failure after more than one attempt is wrapped in
/// [`RegistryError::RetriesExhausted`], which keeps the last error.
pub(crate) async fn run<T, F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<T, RegistryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RegistryError>>,
{
    let start = Instant::now();
    let mut attempts: u32 = 0;
    loop {
        attempts = attempts.saturating_add(1);
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let decision = if error.is_transient() {
            policy.decide(attempts, start.elapsed(), error.retry_after())
        } else {
            Decision::GiveUp
        };
        let Decision::Retry(delay) = decision else {
            return Err(if attempts == 1 {
                error
            } else {
                RegistryError::RetriesExhausted {
                    attempts,
                    elapsed: start.elapsed(),
                    last: Box::new(error),
                }
            });
        };
        tracing::warn!(%error, attempt = attempts, delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "registry request failed, retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsp_retry::Backoff;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn status(code: u16, retry_after: Option<Duration>) -> RegistryError {
        RegistryError::Status {
            host: "h".into(),
            operation: "op".into(),
            status: code,
            detail: String::new(),
            retry_after,
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(4)),
            max_elapsed: Duration::from_secs(5),
            max_asked: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn retries_transient_statuses_until_success() {
        for code in [429, 500, 502, 503, 504] {
            let calls = AtomicU32::new(0);
            let result = run(&quick(), || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(status(code, None))
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
            let result: Result<(), _> = run(&quick(), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(status(code, None))
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
            ..quick()
        };
        let start = Instant::now();
        let result: Result<(), _> = run(&policy, || async { Err(status(503, None)) }).await;
        assert!(start.elapsed() < Duration::from_secs(2));
        match result.unwrap_err() {
            RegistryError::RetriesExhausted { attempts, last, .. } => {
                assert!(attempts > 1);
                assert_eq!(last.status(), Some(503));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Issue 10: `Retry-After: 0` on every answer made 83 requests in 4 s; the backoff's
    /// floor holds whatever the header says.
    #[tokio::test(start_paused = true)]
    async fn retry_after_zero_does_not_switch_backoff_off() {
        let policy = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let _: Result<(), _> = run(&policy, || async {
            // With paused time a loop that never waits never ends: stop it after 100
            // attempts, which the bound below then refuses.
            if calls.fetch_add(1, Ordering::SeqCst) >= 100 {
                return Ok(());
            }
            Err(status(429, Some(Duration::ZERO)))
        })
        .await;
        let calls = calls.load(Ordering::SeqCst);
        // Waits of at least half of 0.5 s, 1 s, 2 s, 4 s, 8 s, then 5 s each, within 60 s:
        // at most 16 attempts.
        assert!(calls <= 16, "{calls} attempts");
        assert!(
            start.elapsed() >= Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
    }

    /// A delay the registry asks for is waited out (up to the cap), not cut to the backoff.
    #[tokio::test(start_paused = true)]
    async fn asked_delays_are_honoured() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let result = run(&RetryPolicy::default(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(status(429, Some(Duration::from_secs(30))))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(result.is_ok());
        assert!(
            start.elapsed() >= Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }
}
