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

use super::cluster::Inner;
use super::discovery;
use super::kind::Kind;
use super::patch::PatchKind;
use super::status::ApiError;
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

/// The single entry point of the server.
pub async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
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
        if let Some(code) = inner.count_request("get", resource) {
            return error_response(&ApiError::new(code, "injected failure"));
        }
        return json_response(200, &doc);
    }
    let Some(target) = parse_path(&path) else {
        return error_response(&not_found_path());
    };
    let Some(verb) = verb(req.method(), &target, &query) else {
        return error_response(&ApiError::new(405, "method not allowed"));
    };
    if let Some(code) = inner.count_request(verb, target.kind.plural()) {
        let resource = target.kind.plural();
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
        inner,
        target,
        query,
    };
    let result = match verb {
        "watch" => return ctx.watch(),
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
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
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
