//! What the loopback fakes share: serving an axum router on `127.0.0.1:0`, recording every
//! request, and a queue of programmable faults.
//!
//! Fakes answer everything from one fallback handler (their routes are few and some paths,
//! like nested repository names, do not fit axum's router), record each request before
//! anything else so that tests can prove a server was never contacted, and take faults from
//! a queue, one per request, so that "503, then 429, then success" is written as data.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// A fault injected into one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a small JSON error body.
    Status(u16),
    /// Answer with this status and `Retry-After: seconds`.
    StatusRetryAfter(u16, u64),
    /// Serve the normal answer with its body cut in half (valid framing, broken JSON).
    TruncatedBody,
    /// Wait this long, then serve the normal answer.
    Delay(Duration),
    /// Google's quota error: `429 RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` detail
    /// asking for this delay, and no `Retry-After` header, as Google's APIs answer
    /// (https://cloud.google.com/apis/design/errors#retryinfo).
    GoogleQuota(Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub accept: Option<String>,
}

impl RecordedRequest {
    pub fn of(request: &Request<Body>) -> Self {
        let uri = request.uri();
        Self {
            method: request.method().as_str().to_owned(),
            path: uri.path().to_owned(),
            query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
            authorization: header(request, "authorization"),
            accept: header(request, "accept"),
        }
    }

    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn header(request: &Request<Body>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The request log and fault queue of one fake.
#[derive(Debug, Default)]
pub struct Recorder {
    log: Mutex<Vec<RecordedRequest>>,
    faults: Mutex<VecDeque<Fault>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Recorder {
    pub fn record(&self, request: &Request<Body>) -> RecordedRequest {
        let recorded = RecordedRequest::of(request);
        lock(&self.log).push(recorded.clone());
        recorded
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).clone()
    }

    pub fn count(&self) -> usize {
        lock(&self.log).len()
    }

    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.faults).extend(faults);
    }

    pub fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }
}

/// A fake's mutable state behind one lock, and its recorder.
#[derive(Debug, Default)]
pub struct FakeState<I> {
    inner: Mutex<I>,
    pub recorder: Recorder,
}

impl<I> FakeState<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner: Mutex::new(inner),
            recorder: Recorder::default(),
        }
    }

    pub fn inner(&self) -> MutexGuard<'_, I> {
        lock(&self.inner)
    }
}

/// Request log and fault queue access, shared by every fake.
pub trait Recorded {
    fn recorder(&self) -> &Recorder;

    /// Queues faults, one per coming request.
    fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.recorder().push_faults(faults);
    }

    /// Every request received so far.
    fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder().requests()
    }

    /// How many requests were received.
    fn request_count(&self) -> usize {
        self.recorder().count()
    }
}

/// Runs `handler` for the next request with the next queued fault applied.
pub async fn with_fault<F>(fault: Option<Fault>, handler: F) -> Response
where
    F: std::future::Future<Output = Response>,
{
    match fault {
        Some(Fault::Status(code)) => error_response(code, None),
        Some(Fault::StatusRetryAfter(code, seconds)) => error_response(code, Some(seconds)),
        Some(Fault::GoogleQuota(delay)) => google_quota(delay),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            handler.await
        }
        Some(Fault::TruncatedBody) => {
            let (parts, body) = handler.await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            let mut headers = parts.headers;
            headers.remove("content-length");
            (parts.status, headers, half).into_response()
        }
        None => handler.await,
    }
}

fn error_response(code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(seconds) = retry_after {
        headers.insert("retry-after", HeaderValue::from(seconds));
    }
    let body = serde_json::json!({
        "errors": [{"code": "FAULT", "message": format!("injected fault {code}")}],
        "error": {"code": code, "message": format!("injected fault {code}"), "status": "FAULT"},
    });
    (status, headers, body.to_string()).into_response()
}

fn google_quota(delay: Duration) -> Response {
    let retry_delay = format!("{}.{:09}s", delay.as_secs(), delay.subsec_nanos());
    json(
        StatusCode::TOO_MANY_REQUESTS,
        &serde_json::json!({"error": {
            "code": 429,
            "message": "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'artifactregistry.googleapis.com'.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                 "domain": "googleapis.com"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        }}),
    )
}

/// A JSON response.
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [("content-type", HeaderValue::from_static("application/json"))],
        bytes,
    )
        .into_response()
}

/// A server on `127.0.0.1:0` that stops when dropped.
#[derive(Debug)]
pub struct Served {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a fresh loopback port.
pub async fn serve(router: Router) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "fake server stopped");
        }
    });
    Ok(Served { url, task })
}
