//! The verbs on one resource: list, watch, get, create, update, patch, delete and
//! deletecollection, each turning a parsed request into a store or cluster operation.
//!
//! `api.rs` has already routed, counted and fault-checked the request; what is left here is
//! the Kubernetes semantics of each verb (name rules, body checks against the URL, which
//! kinds keep their status, what a delete answers), so they can be read in one place.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use serde_json::{json, Value};

use super::api::{error_response, streaming, Target};

use super::cluster::{DeleteOptions, Inner};
use super::kind::Kind;
use super::patch::{self, PatchKind};
use super::selector::Selector;
use super::status::ApiError;
use super::store::meta_str;
use super::validate;
use super::watch::{self, WatchRequest};

/// Server-side watch timeout when the client sends none (the real one is 30–60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// One request being served.
pub struct Ctx {
    pub inner: Arc<Inner>,
    pub target: Target,
    pub query: HashMap<String, String>,
    /// Who is calling (see `clients.rs`).
    pub client: String,
}

pub type Reply = Result<(u16, Value), ApiError>;

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

    /// Lists from the current state: a `resourceVersion` only selects semantics the fake
    /// does not need (it always serves the newest state), but the combinations the API
    /// server rejects are rejected here too, so client bugs show up in tests.
    pub fn list(&self) -> Reply {
        let sel = self.selector()?;
        let limit = self.number::<usize>("limit")?;
        let rv = self.param("resourceVersion");
        if self.param("continue").is_some() && rv.is_some_and(|v| v != "0") {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        if self.param("resourceVersionMatch").is_some() && rv.is_none() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
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

    pub fn watch(&self) -> Response {
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

    pub fn get(&self) -> Reply {
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

    pub fn create(&self, mut obj: Value) -> Reply {
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
        if !validate::name(&name) {
            return Err(ApiError::invalid(format!(
                "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            )));
        }
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        validate::typed(self.kind(), &obj)?;
        let created = match self.kind() {
            Kind::Pod => self.inner.create_pod(self.ns(), obj)?,
            Kind::Node => {
                if self.inner.lock().store.get(Kind::Node, "", &name).is_some() {
                    return Err(ApiError::already_exists("nodes", &name));
                }
                self.inner.put_node(obj)?;
                self.get_named(&name)?
            }
            Kind::Lease => {
                let created = self
                    .inner
                    .lock()
                    .store
                    .create(Kind::Lease, self.ns(), obj)?;
                self.inner.log_lease(&self.client, &created);
                created
            }
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

    pub fn update(&self, mut obj: Value) -> Reply {
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
        if kind == Kind::Pod {
            validate::pod_update(current, &obj)?;
        }
        validate::typed(kind, &obj)?;
        let stored = st.store.replace(kind, self.ns(), obj)?;
        drop(st);
        match kind {
            Kind::Node => self.inner.node_changed(self.name()),
            Kind::Lease => self.inner.log_lease(&self.client, &stored),
            Kind::Pod => {}
        }
        Ok(stored)
    }

    pub fn patch(&self, kind: PatchKind, body: &Value) -> Reply {
        let current = self
            .inner
            .lock()
            .store
            .get(self.kind(), self.ns(), self.name())
            .cloned();
        let Some(mut obj) = current else {
            if kind == PatchKind::Apply {
                let mut obj = body.clone();
                self.check_body(&mut obj)?;
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

    pub fn delete(&self, body: &Value) -> Reply {
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
        // A removed owner may orphan dependents.
        super::gc::schedule(&self.inner);
        Ok((
            200,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": kind.plural(), "uid": removed["metadata"]["uid"]},
            }),
        ))
    }

    pub fn delete_collection(&self, body: &Value) -> Reply {
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
