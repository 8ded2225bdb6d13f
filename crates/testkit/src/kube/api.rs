//! The HTTP front of the fake API server: parses a request into (verb, kind, namespace,
//! name), counts it, applies injected faults, and dispatches it to the store or the
//! kind-specific rules in `cluster.rs`.
//!
//! One fallback handler parses paths itself instead of an axum route table, because the
//! Kubernetes URL space (core vs. group, namespaced vs. cluster scoped) is easier to get
//! exactly right as a small parser, and because unknown paths must still answer a `Status`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use serde_json::{json, Value};

use super::cluster::{DeleteOptions, Inner};
use super::discovery;
use super::kind::Kind;
use super::patch::{self, PatchKind};
use super::selector::Selector;
use super::status::ApiError;
use super::store::meta_str;
use super::watch::{self, WatchRequest};

/// Largest request body accepted (the real default is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// Server-side watch timeout when the client sends none (the real one is 30–60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// Where a request points.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
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

fn error_response(err: &ApiError) -> Response {
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
        let err = ApiError::new(
            code,
            format!("injected failure of {verb} {}", target.kind.plural()),
        );
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

fn streaming(body: Body) -> Response {
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

/// DNS-1123 subdomain, the rule for the names of nodes, pods and leases.
fn valid_name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| ok_char(c) || c == '-' || c == '.')
        && name.starts_with(ok_char)
        && name.ends_with(ok_char)
}

/// One request being served.
struct Ctx {
    inner: Arc<Inner>,
    target: Target,
    query: HashMap<String, String>,
}

type Reply = Result<(u16, Value), ApiError>;

impl Ctx {
    fn kind(&self) -> Kind {
        self.target.kind
    }

    fn ns(&self) -> &str {
        self.target.namespace.as_deref().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn selector(&self) -> Result<Selector, ApiError> {
        Selector::parse(
            self.kind(),
            self.param("labelSelector"),
            self.param("fieldSelector"),
        )
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.param(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid {key}: {v:?}")))
            })
            .transpose()
    }

    fn list(&self) -> Reply {
        let sel = self.selector()?;
        let limit = self.number::<usize>("limit")?;
        let page = self.inner.lock().store.list(
            self.kind(),
            self.target.namespace.as_deref(),
            &sel,
            limit,
            self.param("continue"),
        )?;
        let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
        if let Some(token) = page.continue_token {
            meta["continue"] = json!(token);
            meta["remainingItemCount"] = json!(page.remaining);
        }
        Ok((
            200,
            json!({
                "kind": format!("{}List", self.kind().name()),
                "apiVersion": self.kind().api_version(),
                "metadata": meta,
                "items": page.items,
            }),
        ))
    }

    fn watch(&self) -> Response {
        let start = || -> Result<_, ApiError> {
            let sel = self.selector()?;
            let timeout = self.number::<u64>("timeoutSeconds")?;
            let flag = |k: &str| matches!(self.param(k), Some("true" | "1"));
            let initial = flag("sendInitialEvents");
            let from = match self.param("resourceVersion") {
                None | Some("0") => None,
                Some(_) if initial => None,
                Some(v) => Some(v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {v:?}"))
                })?),
            };
            let st = self.inner.lock();
            let req = WatchRequest {
                kind: self.kind(),
                namespace: self.target.namespace.clone(),
                selector: sel,
                timeout: timeout.map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs),
                bookmarks: flag("allowWatchBookmarks"),
                initial_events_end: initial,
                bookmark_every: st.bookmark_every,
            };
            Ok((req, st.store.watch(self.kind(), from)))
        };
        match start() {
            Err(e) => error_response(&e),
            Ok((_, Err(expired))) => streaming(Body::from_stream(watch::error_stream(&expired))),
            Ok((req, Ok(start))) => streaming(Body::from_stream(watch::stream(req, start))),
        }
    }

    fn get(&self) -> Reply {
        self.inner
            .lock()
            .store
            .get(self.kind(), self.ns(), self.name())
            .cloned()
            .map(|v| (200, v))
            .ok_or_else(|| ApiError::not_found(self.kind().plural(), self.name()))
    }

    /// Checks kind, apiVersion and namespace of a body against the URL.
    fn check_body(&self, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() || !obj["metadata"].is_object() && !obj["metadata"].is_null() {
            return Err(ApiError::bad_request("the request body must be an object"));
        }
        let kind = self.kind();
        for (field, want) in [("kind", kind.name()), ("apiVersion", kind.api_version())] {
            if obj[field].as_str().is_some_and(|v| v != want) {
                return Err(ApiError::bad_request(format!(
                    "{field} {:?} does not match the request ({want})",
                    obj[field]
                )));
            }
        }
        if kind.namespaced() {
            match obj["metadata"]["namespace"].as_str() {
                Some(ns) if !ns.is_empty() && ns != self.ns() => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => obj["metadata"]["namespace"] = json!(self.ns()),
            }
        }
        Ok(())
    }

    fn create(&self, mut obj: Value) -> Reply {
        self.check_body(&mut obj)?;
        let meta = &mut obj["metadata"];
        if meta["name"].as_str().is_none_or(str::is_empty) {
            let prefix = meta["generateName"].as_str().unwrap_or_default();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            let suffix: String = (0..5)
                .map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[rand::random_range(0..27)]))
                .collect();
            meta["name"] = json!(format!("{prefix}{suffix}"));
        }
        let name = meta_str(&obj, "name");
        if !valid_name(&name) {
            return Err(ApiError::invalid(format!(
                "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            )));
        }
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let created = match self.kind() {
            Kind::Pod => self.inner.create_pod(self.ns(), obj)?,
            Kind::Node => {
                if self.inner.lock().store.get(Kind::Node, "", &name).is_some() {
                    return Err(ApiError::already_exists("nodes", &name));
                }
                self.inner.put_node(obj);
                self.get_named(&name)?
            }
            Kind::Lease => self
                .inner
                .lock()
                .store
                .create(Kind::Lease, self.ns(), obj)?,
        };
        Ok((201, created))
    }

    fn get_named(&self, name: &str) -> Result<Value, ApiError> {
        self.inner
            .lock()
            .store
            .get(self.kind(), self.ns(), name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(self.kind().plural(), name))
    }

    fn update(&self, mut obj: Value) -> Reply {
        self.check_body(&mut obj)?;
        if obj["metadata"]["name"].as_str() != Some(self.name()) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        self.replace(obj).map(|v| (200, v))
    }

    /// Stores `obj` over the current object. Pods and nodes keep their status: it belongs
    /// to the kubelet, and the real API ignores it outside the `status` subresource.
    fn replace(&self, mut obj: Value) -> Result<Value, ApiError> {
        let kind = self.kind();
        let mut st = self.inner.lock();
        let current = st
            .store
            .get(kind, self.ns(), self.name())
            .ok_or_else(|| ApiError::not_found(kind.plural(), self.name()))?;
        if kind != Kind::Lease {
            obj["status"] = current["status"].clone();
        }
        let stored = st.store.replace(kind, self.ns(), obj)?;
        drop(st);
        if kind == Kind::Node {
            self.inner.nodes_changed.send_modify(|v| *v += 1);
        }
        Ok(stored)
    }

    fn patch(&self, kind: PatchKind, body: &Value) -> Reply {
        let current = self
            .inner
            .lock()
            .store
            .get(self.kind(), self.ns(), self.name())
            .cloned();
        let Some(mut obj) = current else {
            if kind == PatchKind::Apply {
                let mut obj = body.clone();
                if obj["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n != self.name())
                {
                    return Err(ApiError::bad_request(
                        "the name of the object does not match the name on the URL",
                    ));
                }
                obj["metadata"]["name"] = json!(self.name());
                return self.create(obj);
            }
            return Err(ApiError::not_found(self.kind().plural(), self.name()));
        };
        match kind {
            PatchKind::Json => patch::json_patch(&mut obj, body)?,
            PatchKind::Merge | PatchKind::Apply => patch::merge(&mut obj, body),
        }
        self.check_body(&mut obj)?;
        if obj["metadata"]["name"].as_str() != Some(self.name()) {
            return Err(ApiError::bad_request("a patch cannot change the name"));
        }
        self.replace(obj).map(|v| (200, v))
    }

    fn delete_options(&self, body: &Value) -> Result<DeleteOptions, ApiError> {
        let mut opts = DeleteOptions::from_json(body);
        if let Some(g) = self.number::<i64>("gracePeriodSeconds")? {
            opts.grace_seconds = Some(g);
        }
        Ok(opts)
    }

    fn delete(&self, body: &Value) -> Reply {
        let opts = self.delete_options(body)?;
        self.delete_one(self.name(), &opts)
    }

    /// Pods answer with the object (as the API does for them); other kinds with a Status.
    fn delete_one(&self, name: &str, opts: &DeleteOptions) -> Reply {
        let kind = self.kind();
        if kind == Kind::Pod {
            return Ok((200, self.inner.delete_pod(self.ns(), name, opts)?));
        }
        let current = self.get_named(name)?;
        opts.check(&current, kind.plural(), name)?;
        let removed = match kind {
            Kind::Node => self.inner.remove_node(name),
            _ => self.inner.lock().store.remove(kind, self.ns(), name),
        }
        .ok_or_else(|| ApiError::not_found(kind.plural(), name))?;
        Ok((
            200,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": kind.plural(), "uid": removed["metadata"]["uid"]},
            }),
        ))
    }

    fn delete_collection(&self, body: &Value) -> Reply {
        let opts = self.delete_options(body)?;
        let sel = self.selector()?;
        let names: Vec<String> = self
            .inner
            .lock()
            .store
            .iter(self.kind(), self.target.namespace.as_deref())
            .filter(|o| sel.matches(o))
            .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
            .collect();
        let mut items = Vec::new();
        for name in names {
            match self.delete_one(&name, &opts) {
                Ok((_, obj)) if self.kind() == Kind::Pod => items.push(obj),
                Ok(_) => {}
                // Deleted concurrently: the collection delete still succeeds.
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let rv = self.inner.lock().store.resource_version();
        Ok((
            200,
            json!({
                "kind": format!("{}List", self.kind().name()),
                "apiVersion": self.kind().api_version(),
                "metadata": {"resourceVersion": rv.to_string()},
                "items": items,
            }),
        ))
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

    #[test]
    fn names() {
        assert!(valid_name("prepull-w-2077-43-node1"));
        assert!(!valid_name("Prepull"));
        assert!(!valid_name("-a"));
    }
}
