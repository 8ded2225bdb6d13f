//! The one retry of Kubernetes API requests: a tower layer over kube-rs' client stack that
//! tries a request again when the API server answers 429 (API Priority and Fairness refused
//! it), 503 (unavailable) or 504 (timed out), waiting the project's backoff or the
//! `Retry-After` the server asked for, whichever is longer, within a time budget
//! ([`rsp_retry::RetryPolicy`], the rule the registry clients and watchers use too).
//!
//! Why a layer of its own rather than kube-rs' `default_retry` (which [`crate::connect`]
//! turns off): kube's policy starts at 5 ms and allows 15 retries up to 1000 s each, so
//! an overloaded API server is asked again within milliseconds and a request may be retried
//! for many minutes; it takes a `Retry-After` only when it is longer than its own backoff,
//! reads only the seconds form, and caps nothing. Here the waits have a floor and a cap, a
//! server may lengthen them (up to [`MAX_ASKED`]) but never shorten them, and a request
//! gives up after [`BUDGET`] with an error that says so.
//!
//! What is retried: every request answered 429, 503 or 504, watch starts included: the API
//! server admits a watch through API Priority and Fairness like any other request ("API
//! Priority and Fairness _does_ apply to **watch** requests",
//! <https://kubernetes.io/docs/concepts/cluster-administration/flow-control/>), and such an
//! answer comes before any event, so trying again is safe. What is not: transport errors
//! (the caller's timeout and the watchers' backoff deal with them) and every other status.
//! A request body is read into memory once and sent again from there (kube-rs' bodies are
//! bytes already; a streaming one is buffered), since a retry must send it whole.
//!
//! The layer sits outside kube's whole stack, so each attempt goes through authentication
//! again (a token refreshed between attempts is used).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use kube::client::{Body, DynBody};
use rsp_retry::{Backoff, Decision, RetryPolicy};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tower::{BoxError, Layer, Service};

/// No retry starts whose wait would end this long or longer after the first attempt.
pub const BUDGET: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_ASKED: Duration = Duration::from_secs(10);

/// The policy of every Kubernetes API request: 0.2 s doubling to 5 s (an overloaded server is
/// not asked again at once), a server may ask for up to [`MAX_ASKED`], within [`BUDGET`].
pub const API_RETRY: RetryPolicy = RetryPolicy {
    backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
    max_elapsed: BUDGET,
    max_asked: MAX_ASKED,
};

/// The most of an error answer's body that is read (an API server's `Status` is a few hundred
/// bytes); a longer one is dropped unread.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// How long an error answer's body may take to arrive: what sends a 503 may be a proxy that
/// never finishes it, and no retry (nor the answer given up) may wait on that.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(5);

/// Whether an answer with this status is worth trying again.
fn retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The layer; [`ApiRetryLayer::default`] has [`API_RETRY`].
#[derive(Clone, Copy, Debug)]
pub struct ApiRetryLayer {
    policy: RetryPolicy,
}

impl ApiRetryLayer {
    /// A layer with another policy (tests use a shorter budget).
    pub fn new(policy: RetryPolicy) -> ApiRetryLayer {
        ApiRetryLayer { policy }
    }
}

impl Default for ApiRetryLayer {
    fn default() -> Self {
        ApiRetryLayer::new(API_RETRY)
    }
}

impl<S> Layer<S> for ApiRetryLayer {
    type Service = ApiRetry<S>;

    fn layer(&self, inner: S) -> ApiRetry<S> {
        ApiRetry {
            inner: Arc::new(Mutex::new(inner)),
            policy: self.policy,
        }
    }
}

/// kube's stack with retries around it. The stack is shared by the requests in flight (each
/// retry calls it again later), behind a mutex held only while it is made ready and called,
/// never while a response is awaited.
pub struct ApiRetry<S> {
    inner: Arc<Mutex<S>>,
    policy: RetryPolicy,
}

type Answer = Response<Box<DynBody>>;

impl<S> Service<Request<Body>> for ApiRetry<S>
where
    S: Service<Request<Body>, Response = Answer, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, BoxError>> + Send>>;

    /// Always ready: the stack's readiness is awaited by each attempt.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        Box::pin(send(self.inner.clone(), self.policy, request))
    }
}

/// Sends a request until it gets an answer that is not worth retrying or the policy gives up.
async fn send<S>(
    inner: Arc<Mutex<S>>,
    policy: RetryPolicy,
    request: Request<Body>,
) -> Result<Answer, BoxError>
where
    S: Service<Request<Body>, Response = Answer, Error = BoxError>,
{
    let (parts, body) = request.into_parts();
    let body = body.collect_bytes().await.map_err(BoxError::from)?;
    let started = Instant::now();
    let mut failures = 0_u32;
    loop {
        let mut attempt = Request::new(Body::from(body.clone()));
        *attempt.method_mut() = parts.method.clone();
        *attempt.uri_mut() = parts.uri.clone();
        *attempt.version_mut() = parts.version;
        *attempt.headers_mut() = parts.headers.clone();
        *attempt.extensions_mut() = parts.extensions.clone();
        let answer = call(&inner, attempt).await?;
        let status = answer.status();
        if !retryable(status) {
            return Ok(answer);
        }
        failures = failures.saturating_add(1);
        let asked = asked_delay(answer.headers());
        match policy.decide(failures, started.elapsed(), asked) {
            Decision::Retry(wait) => {
                tracing::debug!(
                    method = %parts.method, uri = %parts.uri, status = status.as_u16(),
                    "Kubernetes API answered {status}; trying again in {wait:.1?}"
                );
                // Read the (small) error body, so that the connection can serve the retry.
                error_text(answer.into_body()).await;
                tokio::time::sleep(wait).await;
            }
            Decision::GiveUp => {
                let spent = started.elapsed();
                tracing::warn!(
                    method = %parts.method, uri = %parts.uri, status = status.as_u16(),
                    "Kubernetes API answered {status} {failures} times in {spent:.1?}; giving up"
                );
                return Ok(gave_up(answer, failures, spent, policy.max_elapsed).await);
            }
        }
    }
}

/// One call of the stack: made ready and called under the lock, answered without it.
async fn call<S>(inner: &Mutex<S>, request: Request<Body>) -> Result<Answer, BoxError>
where
    S: Service<Request<Body>, Response = Answer, Error = BoxError>,
{
    let pending = {
        let mut service = inner.lock().await;
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request)
    };
    pending.await
}

/// The delay a `Retry-After` header asks for, if it is readable.
fn asked_delay(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    rsp_retry::hint::retry_after(value, SystemTime::now())
}

/// The last answer, its message saying that it was retried and for how long, as a `Status`
/// (kube-rs reads the code and message from it): the API server's 429 is plain text, which
/// kube would otherwise pass on as it is.
async fn gave_up(answer: Answer, failures: u32, spent: Duration, budget: Duration) -> Answer {
    let (mut parts, body) = answer.into_parts();
    let text = error_text(body).await;
    let code = parts.status.as_u16();
    let body = gave_up_status(code, &text, failures, spent, budget);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let body = Full::from(body.to_string()).map_err(BoxError::from);
    Response::from_parts(parts, Box::new(body) as Box<DynBody>)
}

/// The text of an error answer's body: empty when it is longer than [`ERROR_BODY_LIMIT`],
/// fails, or does not end within [`ERROR_BODY_WAIT`].
async fn error_text(mut body: Box<DynBody>) -> String {
    let read = async {
        let mut text = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.ok()?.into_data() else {
                continue; // trailers
            };
            if text.len() + data.len() > ERROR_BODY_LIMIT {
                return None;
            }
            text.extend_from_slice(&data);
        }
        Some(text)
    };
    match tokio::time::timeout(ERROR_BODY_WAIT, read).await {
        Ok(Some(text)) => String::from_utf8_lossy(&text).into_owned(),
        Ok(None) | Err(_) => String::new(),
    }
}

/// The `Status` of a request given up: the server's own reason and message when it sent a
/// `Status`, its text otherwise, and how often it was tried within which budget.
fn gave_up_status(
    code: u16,
    text: &str,
    failures: u32,
    spent: Duration,
    budget: Duration,
) -> Value {
    let sent: Option<Value> = serde_json::from_str(text)
        .ok()
        .filter(|status: &Value| status["kind"] == "Status");
    let message = sent
        .as_ref()
        .and_then(|status| status["message"].as_str())
        .unwrap_or(text.trim());
    let reason = sent
        .as_ref()
        .and_then(|status| status["reason"].as_str())
        .map_or_else(|| reason_of(code).to_owned(), str::to_owned);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "{message} (the Kubernetes API answered {code} {failures} times in {:.1} s; \
             rsp-images gave up, its retry budget being {} s)",
            spent.as_secs_f64(),
            budget.as_secs()
        ),
        "reason": reason,
        "code": code,
    })
}

/// The API server's reason for the statuses retried here.
fn reason_of(code: u16) -> &'static str {
    match code {
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_overload_and_unavailability_are_retried() {
        for code in [429, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409, 410, 422, 500, 502] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn the_policy_caps_what_a_server_asks_and_keeps_the_budget() {
        // A server asking for a minute is waited for 10 s, not longer.
        assert_eq!(
            API_RETRY.decide_at(1, Duration::ZERO, Some(Duration::from_secs(60)), 0.0),
            Decision::Retry(MAX_ASKED)
        );
        // `Retry-After: 0` does not switch the backoff off.
        assert_eq!(
            API_RETRY.decide_at(1, Duration::ZERO, Some(Duration::ZERO), 0.0),
            Decision::Retry(Duration::from_millis(100))
        );
        // Nothing starts past the 30 s budget.
        assert_eq!(
            API_RETRY.decide_at(
                3,
                Duration::from_secs(25),
                Some(Duration::from_secs(5)),
                0.0
            ),
            Decision::GiveUp
        );
    }

    /// A body that never ends, as from a proxy that sends its headers and stops.
    struct Endless;

    impl http_body::Body for Endless {
        type Data = bytes::Bytes;
        type Error = BoxError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, BoxError>>> {
            Poll::Pending
        }
    }

    fn full(text: impl Into<bytes::Bytes>) -> Box<DynBody> {
        Box::new(Full::new(text.into()).map_err(|never| match never {}))
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_body_is_read_only_while_short_and_prompt() {
        assert_eq!(error_text(full("etcd is down")).await, "etcd is down");
        assert_eq!(
            error_text(full(vec![b'x'; ERROR_BODY_LIMIT + 1])).await,
            "",
            "too long: dropped"
        );
        let endless = tokio::time::timeout(2 * ERROR_BODY_WAIT, error_text(Box::new(Endless)));
        assert_eq!(
            endless.await.expect("an endless body is given up"),
            "",
            "never ends: dropped"
        );
    }

    #[test]
    fn a_request_given_up_says_so_in_its_status() {
        let plain = gave_up_status(
            429,
            "Too many requests, please try again later.\n",
            7,
            Duration::from_millis(29_300),
            BUDGET,
        );
        assert_eq!(plain["code"], 429);
        assert_eq!(plain["reason"], "TooManyRequests");
        assert_eq!(
            plain["message"],
            "Too many requests, please try again later. (the Kubernetes API answered 429 7 \
             times in 29.3 s; rsp-images gave up, its retry budget being 30 s)"
        );
        let status = json!({"kind": "Status", "reason": "ServiceUnavailable",
                            "message": "etcd is down", "code": 503});
        let sent = gave_up_status(503, &status.to_string(), 2, Duration::ZERO, BUDGET);
        assert_eq!(sent["reason"], "ServiceUnavailable");
        assert!(sent["message"]
            .as_str()
            .unwrap()
            .starts_with("etcd is down (the Kubernetes API answered 503 2 times"));
    }
}
