//! The HTTP front of the fake API server: parses a request into (verb, kind, namespace,
//! name), counts it, applies injected faults, and hands it to the verb in `verbs.rs`.
//!
//! One fallback handler parses paths itself instead of an axum route table, because the
//! Kubernetes URL space (core vs. group, namespaced vs. cluster scoped) is easier to get
//! exactly right as a small parser, and because unknown paths must still answer a `Status`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use serde_json::{json, Value};

use super::clients::{client_of, ClientFault, Outcome};
use super::cluster::{Admission, Inner};
use super::discovery;
use super::kind::Kind;
use super::patch::PatchKind;
use super::status::ApiError;
use super::throttle;
use super::verbs::Ctx;
use super::watch;

/// Largest request body accepted (the real default is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Where a request points.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/{group}/v1/...` paths; `None` for anything else.
fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, "v1", rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(name.to_string())),
        _ => return None,
    };
    let kind = Kind::from_path(group, plural)?;
    let scoped_ok = kind.namespaced() || namespace.is_none();
    let named_ok = !kind.namespaced() || name.is_none() || namespace.is_some();
    (scoped_ok && named_ok).then_some(Target {
        kind,
        namespace,
        name,
    })
}

fn json_response(code: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub fn error_response(err: &ApiError) -> Response {
    json_response(err.code, &err.to_status())
}

fn not_found_path() -> ApiError {
    ApiError::new(404, "the server could not find the requested resource")
}

/// The Kubernetes verb of a request on a resource.
fn verb(method: &Method, target: &Target, query: &HashMap<String, String>) -> Option<&'static str> {
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    Some(match (method.as_str(), target.name.is_some()) {
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    })
}

/// The single entry point of the server: every answer, whatever it is, carries the API
/// Priority and Fairness classification headers (`throttle.rs`).
pub async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let mut response = serve(&inner, req).await;
    inner.apf.mark(response.headers_mut());
    response
}

async fn serve(inner: &Arc<Inner>, req: Request) -> Response {
    let client = client_of(req.headers());
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();

    if let Some(doc) = discovery::document(&path) {
        let resource = if path == "/version" {
            "version"
        } else {
            "discovery"
        };
        let call = Call::new(inner, &client, "get", resource, None);
        match inner.admit(&client, "get", resource) {
            Admission::Serve => {}
            Admission::Throttle(retry_after) => return call.throttled(retry_after),
            Admission::Inject(code) => {
                call.log(code, Outcome::Injected);
                return error_response(&ApiError::new(code, "injected failure"));
            }
        }
        call.log(200, Outcome::Served);
        return json_response(200, &doc);
    }
    let Some(target) = parse_path(&path) else {
        return error_response(&not_found_path());
    };
    let Some(verb) = verb(req.method(), &target, &query) else {
        return error_response(&ApiError::new(405, "method not allowed"));
    };
    let resource = target.kind.plural();
    let call = Call::new(inner, &client, verb, resource, Some(&target));
    if let Some(response) = client_fault(&call).await {
        return response;
    }
    // Watches are admitted like every other request: APF limits their start (see
    // `throttle.rs`), never an open stream.
    let injected = match inner.admit(&client, verb, resource) {
        Admission::Serve => None,
        Admission::Throttle(retry_after) => return call.throttled(retry_after),
        Admission::Inject(code) => Some(code),
    };
    if let Some(code) = injected {
        call.log(code, Outcome::Injected);
        let err = match (code, target.name.as_deref()) {
            // A 409 on anything but a create is an optimistic-concurrency conflict.
            (409, Some(name)) if verb != "create" => ApiError::conflict(resource, name),
            _ => ApiError::new(code, format!("injected failure of {verb} {resource}")),
        };
        // An expired watch is reported inside a 200 stream, as the API server does; kube-rs
        // watchers only relist on that form.
        if verb == "watch" && code == 410 {
            return streaming(Body::from_stream(watch::error_stream(&err)));
        }
        return error_response(&err);
    }

    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(format!("reading body: {e}"))),
    };
    let ctx = Ctx {
        inner: inner.clone(),
        target,
        query,
        client: client.clone(),
    };
    let at = inner.started.elapsed();
    if verb == "watch" {
        let response = ctx.watch();
        call.log_at(at, response.status().as_u16(), Outcome::Served);
        return response;
    }
    let result = match verb {
        "list" => ctx.list(),
        "get" => ctx.get(),
        "create" => parse_body(&body).and_then(|b| ctx.create(b)),
        "update" => parse_body(&body).and_then(|b| ctx.update(b)),
        "patch" => PatchKind::from_content_type(&content_type)
            .and_then(|k| Ok((k, parse_body(&body)?)))
            .and_then(|(k, b)| ctx.patch(k, &b)),
        "delete" => parse_optional_body(&body).and_then(|b| ctx.delete(&b)),
        _ => parse_optional_body(&body).and_then(|b| ctx.delete_collection(&b)),
    };
    match result {
        Ok((code, v)) => {
            call.log_at(at, code, Outcome::Served);
            json_response(code, &v)
        }
        Err(e) => {
            call.log_at(at, e.code, Outcome::Served);
            error_response(&e)
        }
    }
}

/// One request on its way through the server, for the request log.
struct Call<'a> {
    inner: &'a Arc<Inner>,
    client: &'a str,
    verb: &'static str,
    resource: &'static str,
    namespace: Option<String>,
    name: Option<String>,
}

impl<'a> Call<'a> {
    fn new(
        inner: &'a Arc<Inner>,
        client: &'a str,
        verb: &'static str,
        resource: &'static str,
        target: Option<&Target>,
    ) -> Call<'a> {
        Call {
            inner,
            client,
            verb,
            resource,
            namespace: target.and_then(|t| t.namespace.clone()),
            name: target.and_then(|t| t.name.clone()),
        }
    }

    /// Logs and answers a request API Priority and Fairness refused.
    fn throttled(&self, retry_after_seconds: u64) -> Response {
        self.log(429, Outcome::Throttled);
        throttle::too_many_requests(retry_after_seconds)
    }

    fn log(&self, code: u16, outcome: Outcome) {
        self.log_at(self.inner.started.elapsed(), code, outcome);
    }

    fn log_at(&self, at: std::time::Duration, code: u16, outcome: Outcome) {
        self.inner.log_request(super::clients::RequestRecord {
            at,
            client: self.client.to_owned(),
            verb: self.verb.to_owned(),
            resource: self.resource.to_owned(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            code,
            outcome,
        });
    }
}

/// Applies the calling client's fault, if it has one for this resource: a hang lasts until
/// the fault is cleared and then fails without effect; a failure answers at once.
async fn client_fault(call: &Call<'_>) -> Option<Response> {
    let inner = call.inner;
    let mut changes = inner.faults_changed.subscribe();
    match inner.client_fault(call.client, call.resource)? {
        ClientFault::Fail(code) => {
            call.log(code, Outcome::Injected);
            let message = format!(
                "injected failure of {} {} for {}",
                call.verb, call.resource, call.client
            );
            Some(error_response(&ApiError::new(code, message)))
        }
        ClientFault::Hang => {
            // Logged on arrival: a client that gives up drops the connection, and with it
            // this handler.
            call.log(504, Outcome::Partitioned);
            while inner.client_fault(call.client, call.resource) == Some(ClientFault::Hang) {
                if changes.changed().await.is_err() {
                    break;
                }
            }
            Some(error_response(&ApiError::new(
                504,
                "the request was lost in a network partition",
            )))
        }
    }
}

pub fn streaming(body: Body) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn parse_optional_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(json!({}))
    } else {
        parse_body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse_path("/api/v1/namespaces/ns/pods/p1").unwrap();
        assert_eq!(
            (t.kind, t.namespace.as_deref(), t.name.as_deref()),
            (Kind::Pod, Some("ns"), Some("p1"))
        );
        assert_eq!(parse_path("/api/v1/pods").unwrap().namespace, None);
        assert!(parse_path("/api/v1/pods/p1").is_none());
        assert!(parse_path("/api/v1/namespaces/ns/nodes").is_none());
        let t = parse_path("/apis/coordination.k8s.io/v1/namespaces/ns/leases/l").unwrap();
        assert_eq!(t.kind, Kind::Lease);
        assert!(parse_path("/apis/coordination.k8s.io/v1/namespaces/ns/pods").is_none());
        assert!(parse_path("/api/v1/namespaces/ns/pods/p/status").is_none());
    }
}
