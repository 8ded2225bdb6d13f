//! The one rule for waiting after failures, shared by every part of rsp-images that retries:
//! the registry clients (a failed request), the refresh loop (a failed listing), the
//! Kubernetes watchers (a broken watch) and the prepuller (a failed pull on one node).
//!
//! - [`Backoff`]: exponential steps with "equal jitter", the wait after the n-th consecutive
//!   failure drawn uniformly from the upper half of `min(max, initial · 2ⁿ⁻¹)`. The lower half
//!   is never drawn, so the step is a floor that grows; the upper bound is a real cap.
//! - [`RetryPolicy`]: whether and when to try one request again, given how long it has been
//!   tried already and what delay the server asked for (`Retry-After`, Google's
//!   `RetryInfo.retryDelay`). A server may ask for longer waits, up to a cap, but never for
//!   shorter ones than the backoff: a `429` with `Retry-After: 0` backs off like any other.
//! - [`spread`]: ±10 % around a period, so replicas started together do not stay in step.
//! - [`hint`]: reading the delays servers ask for, saturating instead of overflowing.
//!
//! Everything is pure arithmetic on [`Duration`]s: no I/O, no clock, no async. Randomness is
//! a parameter (`unit`, a number in `[0, 1]`) in the `*_at` forms, which the property tests
//! and the callers' tests use; the plain forms draw it from the thread's generator. Every
//! computation saturates, so no input (a huge configured maximum, a server asking for
//! 2⁶⁴ seconds) can panic.

mod backoff;
pub mod hint;
mod policy;

pub use backoff::{spread, spread_at, Backoff};
pub use policy::{Decision, RetryPolicy};

/// A uniformly random number in `[0, 1)`, the `unit` of the `*_at` forms.
pub fn random_unit() -> f64 {
    rand::random::<f64>()
}
