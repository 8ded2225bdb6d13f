//! API Priority and Fairness as the fake API server answers it: request limits that refuse
//! with 429, and the classification headers on every answer, so that a client's handling of
//! an overloaded API server can be tested (issue 16: "it honours 429 and API Priority and
//! Fairness").
//!
//! What the real API server does, and what the fake keeps of it
//! (<https://kubernetes.io/docs/concepts/cluster-administration/flow-control/>, and the
//! apiserver's filters `priority-and-fairness.go` and `maxinflight.go` in
//! `k8s.io/apiserver/pkg/server/filters`):
//!
//! - A request APF cannot admit is answered by `tooManyRequests`: status 429, a
//!   `Retry-After` header in whole seconds (the constant `"1"` in older servers, a value
//!   derived from recent drops in newer ones, never 0), and Go's `http.Error` body: the
//!   plain text `Too many requests, please try again later.` and a newline, with
//!   `Content-Type: text/plain; charset=utf-8` and `X-Content-Type-Options: nosniff`. It is
//!   not a JSON `Status`; clients (kube-rs included) make one from the text and the code.
//! - Watches go through APF like other requests: their start (until the initial events are
//!   sent) takes a seat and may be refused with 429. "API Priority and Fairness _does_ apply
//!   to **watch** requests" (the flow-control page); the filter handles `isWatchRequest`
//!   separately only to release the seat once the watch is initialised. An open watch
//!   stream is never cut or slowed by the limits. The long-running requests APF skips
//!   (exec, attach, logs, port-forward) are not served by the fake.
//! - Every answer, served or refused, carries `X-Kubernetes-PF-FlowSchema-UID` and
//!   `X-Kubernetes-PF-PriorityLevel-UID`, the UIDs (never the names) of the FlowSchema that
//!   matched and of its priority level. rsp-images authenticates as a service account, which
//!   the default configuration puts in the `service-accounts` FlowSchema and the
//!   `workload-low` priority level; the fake gives every client that classification.
//!
//! The real server limits concurrency (seats per priority level, fair queues per flow); a
//! fake whose requests take microseconds would almost never reach a concurrency limit, so the
//! fake limits the rate instead, with token buckets: one per client (the flow, which the
//! `service-accounts` schema distinguishes by user) and one for everybody (the priority
//! level). A request needs a token from each bucket that is configured; it takes none when
//! either refuses. Limits are off unless a test sets them ([`Throttle::default`]), so tests
//! that do not ask for them see no 429.

use std::collections::HashMap;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::time::Instant;

use super::store::new_uid;

/// The body Go's `http.Error` writes for the apiserver's `tooManyRequests`.
pub const TOO_MANY_REQUESTS_BODY: &str = "Too many requests, please try again later.\n";
/// The header naming the UID of the FlowSchema that matched the request.
pub const FLOW_SCHEMA_UID: &str = "x-kubernetes-pf-flowschema-uid";
/// The header naming the UID of the priority level the request was assigned to.
pub const PRIORITY_LEVEL_UID: &str = "x-kubernetes-pf-prioritylevel-uid";

/// A token bucket's size and refill rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Requests admitted back to back from a full bucket (its capacity); 0 refuses everything.
    pub burst: u32,
    /// Tokens added per second, up to `burst`.
    pub per_second: f64,
}

/// Which limits apply; `None` is no limit. The default has none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Throttle {
    /// Each client (bearer token) on its own.
    pub per_client: Option<Limit>,
    /// Every client together.
    pub global: Option<Limit>,
}

impl Throttle {
    /// Only a per-client limit.
    pub fn per_client(burst: u32, per_second: f64) -> Throttle {
        Throttle {
            per_client: Some(Limit { burst, per_second }),
            global: None,
        }
    }

    /// A global limit that admits nothing: every request, watch starts included, is refused
    /// with `Retry-After: 1`.
    pub fn refusing_everything() -> Throttle {
        Throttle {
            per_client: None,
            global: Some(Limit {
                burst: 0,
                per_second: 0.0,
            }),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: Limit, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    fn refill(&mut self, limit: Limit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let rate = limit.per_second.max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(limit.burst));
        self.at = now;
    }

    /// How long until a token is there (zero when one is there now).
    fn wait(&self, limit: Limit) -> Duration {
        let missing = 1.0 - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        if limit.burst == 0 || limit.per_second <= 0.0 {
            // Never: the bucket cannot hold a token. The answer still asks for a retry,
            // as the apiserver's does; the wait is the apiserver's constant.
            return Duration::from_secs(1);
        }
        Duration::try_from_secs_f64(missing / limit.per_second).unwrap_or(Duration::MAX)
    }
}

/// The buckets of one fake API server.
#[derive(Debug, Default)]
pub struct Limiter {
    config: Throttle,
    global: Option<Bucket>,
    clients: HashMap<String, Bucket>,
}

impl Limiter {
    /// Replaces the limits; buckets start full.
    pub fn configure(&mut self, config: Throttle) {
        *self = Limiter {
            config,
            ..Limiter::default()
        };
    }

    /// Takes a token for one request of `client`, or says after how many whole seconds to
    /// retry (at least 1, as `Retry-After` carries whole seconds and the apiserver never
    /// sends 0).
    pub fn admit(&mut self, client: &str, now: Instant) -> Result<(), u64> {
        let global = self.config.global.map(|limit| {
            (
                limit,
                self.global.get_or_insert_with(|| Bucket::full(limit, now)),
            )
        });
        let mut wait = Duration::ZERO;
        if let Some((limit, bucket)) = global {
            bucket.refill(limit, now);
            wait = wait.max(bucket.wait(limit));
        }
        if let Some(limit) = self.config.per_client {
            let bucket = self
                .clients
                .entry(client.to_owned())
                .or_insert_with(|| Bucket::full(limit, now));
            bucket.refill(limit, now);
            wait = wait.max(bucket.wait(limit));
        }
        if !wait.is_zero() {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(seconds.max(1));
        }
        if let Some(bucket) = self.global.as_mut() {
            bucket.tokens -= 1.0;
        }
        if let Some(bucket) = self.clients.get_mut(client) {
            bucket.tokens -= 1.0;
        }
        Ok(())
    }
}

/// The FlowSchema and priority level every request is classified into, with UIDs made when
/// the cluster starts, as the API server's objects get theirs when they are created.
#[derive(Clone, Debug)]
pub struct Classification {
    flow_schema: HeaderValue,
    priority_level: HeaderValue,
}

impl Classification {
    pub fn new() -> Classification {
        let uid = || HeaderValue::from_str(&new_uid()).unwrap_or(HeaderValue::from_static(""));
        Classification {
            flow_schema: uid(),
            priority_level: uid(),
        }
    }

    /// Adds the two APF headers to an answer.
    pub fn mark(&self, headers: &mut HeaderMap) {
        headers.insert(
            HeaderName::from_static(FLOW_SCHEMA_UID),
            self.flow_schema.clone(),
        );
        headers.insert(
            HeaderName::from_static(PRIORITY_LEVEL_UID),
            self.priority_level.clone(),
        );
    }
}

impl Default for Classification {
    fn default() -> Self {
        Classification::new()
    }
}

/// The apiserver's answer to a request APF does not admit.
pub fn too_many_requests(retry_after_seconds: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, retry_after_seconds.to_string()),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        TOO_MANY_REQUESTS_BODY,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn no_limits_admit_everything() {
        let mut limiter = Limiter::default();
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.admit("a", now).is_ok()));
    }

    #[test]
    fn a_client_bucket_refuses_after_its_burst_and_refills() {
        let mut limiter = Limiter::default();
        limiter.configure(Throttle::per_client(2, 0.5));
        let now = Instant::now();
        assert_eq!(limiter.admit("a", now), Ok(()));
        assert_eq!(limiter.admit("a", now), Ok(()));
        // A token comes every 2 s.
        assert_eq!(limiter.admit("a", now), Err(2));
        // Another client has its own bucket.
        assert_eq!(limiter.admit("b", now), Ok(()));
        assert_eq!(limiter.admit("a", now + SECOND), Err(1));
        assert_eq!(limiter.admit("a", now + 2 * SECOND), Ok(()));
        assert_eq!(limiter.admit("a", now + 2 * SECOND), Err(2));
    }

    #[test]
    fn the_global_bucket_is_shared_and_a_refusal_takes_no_token() {
        let mut limiter = Limiter::default();
        limiter.configure(Throttle {
            per_client: Some(Limit {
                burst: 1,
                per_second: 1.0,
            }),
            global: Some(Limit {
                burst: 2,
                per_second: 4.0,
            }),
        });
        let now = Instant::now();
        assert_eq!(limiter.admit("a", now), Ok(()));
        assert_eq!(limiter.admit("b", now), Ok(()));
        // "c" has a token of its own, but everybody's bucket is empty: refused, and its own
        // token is kept for later.
        assert_eq!(limiter.admit("c", now), Err(1));
        let later = now + Duration::from_millis(250);
        assert_eq!(limiter.admit("c", later), Ok(()));
    }

    #[test]
    fn a_zero_burst_refuses_everything_with_the_apiservers_constant() {
        let mut limiter = Limiter::default();
        limiter.configure(Throttle::refusing_everything());
        let now = Instant::now();
        assert_eq!(limiter.admit("a", now), Err(1));
        assert_eq!(limiter.admit("a", now + 100 * SECOND), Err(1));
    }
}
