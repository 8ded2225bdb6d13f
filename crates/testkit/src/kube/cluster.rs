//! The cluster's shared state and the rules that are specific to a kind: pod creation
//! defaults and graceful deletion, pod garbage collection when a node goes, the kubelet's
//! image list on nodes, and the counters tests read.
//!
//! Both the HTTP layer and the test-facing `FakeCluster` call these methods, so a pod created
//! through the API and one created directly behave the same. One mutex guards everything; it
//! is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use super::faults::{ClusterStats, Faults, PodEvent, PodEventKind};
use super::kind::Kind;
use super::kubelet::{self, PullBehaviour};
use super::status::ApiError;
use super::store::{meta_str, now_rfc3339, Store};
use super::taints;
use super::validate;

/// Label that marks prepull pods (behaviour.md §8.6); counted separately for the
/// `maxInFlight` cap.
pub const PREPULL_LABEL: (&str, &str) = ("nublado.lsst.io/category", "prepuller");
/// kubelet's default `--node-status-max-images`.
pub const DEFAULT_MAX_IMAGES: usize = 50;

/// Everything behind the mutex.
pub struct State {
    pub store: Store,
    pub faults: Faults,
    pub stats: ClusterStats,
    pub pod_log: Vec<PodEvent>,
    /// (substring of the image reference, behaviour); the longest matching pattern wins.
    pub pulls: Vec<(String, PullBehaviour)>,
    /// (substring of the image reference, size in bytes); the longest matching pattern wins.
    pub sizes: Vec<(String, i64)>,
    /// Every image each node's kubelet holds; `status.images` shows the largest of them.
    pub node_images: HashMap<String, Vec<Value>>,
    pub max_images: usize,
    /// How long after a pull the node's `status.images` shows it (kubelet reports node
    /// status periodically, every 10 s by default).
    pub node_status_delay: Duration,
    /// How long a bound, running pod takes to go away after a graceful delete.
    pub deletion_delay: Duration,
    pub bookmark_every: Duration,
}

/// Shared between the server, the kubelet tasks and every `FakeCluster` clone.
pub struct Inner {
    state: Mutex<State>,
    /// Bumped on every node change so that kubelets waiting for their node re-check it.
    pub nodes_changed: watch::Sender<u64>,
    pub started: Instant,
    pub runtime: Handle,
}

fn pod_key(pod: &Value) -> (String, String) {
    (meta_str(pod, "namespace"), meta_str(pod, "name"))
}

fn is_prepull(pod: &Value) -> bool {
    pod["metadata"]["labels"][PREPULL_LABEL.0].as_str() == Some(PREPULL_LABEL.1)
}

impl Inner {
    pub fn new(runtime: Handle) -> Arc<Inner> {
        Arc::new(Inner {
            state: Mutex::new(State {
                store: Store::default(),
                faults: Faults::default(),
                stats: ClusterStats::default(),
                pod_log: Vec::new(),
                pulls: Vec::new(),
                sizes: Vec::new(),
                node_images: HashMap::new(),
                max_images: DEFAULT_MAX_IMAGES,
                node_status_delay: Duration::ZERO,
                deletion_delay: Duration::ZERO,
                bookmark_every: Duration::from_secs(1),
            }),
            nodes_changed: watch::channel(0).0,
            started: Instant::now(),
            runtime,
        })
    }

    /// The state; a panic in another holder does not make the fake unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log_pod(&self, st: &mut State, kind: PodEventKind, pod: &Value) {
        let (namespace, name) = pod_key(pod);
        st.pod_log.push(PodEvent {
            at: self.started.elapsed(),
            kind,
            namespace,
            name,
            node: pod["spec"]["nodeName"].as_str().unwrap_or_default().into(),
            image: pod["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .into(),
        });
    }

    fn count_pods(st: &mut State) {
        let (all, prepull) = st.store.iter(Kind::Pod, None).fold((0, 0), |(a, p), pod| {
            (a + 1, p + usize::from(is_prepull(pod)))
        });
        st.stats.current_pods = all;
        st.stats.current_prepull_pods = prepull;
        st.stats.peak_pods = st.stats.peak_pods.max(all);
        st.stats.peak_prepull_pods = st.stats.peak_prepull_pods.max(prepull);
    }

    /// Creates a pod as the API server would (validation, defaults, Pending status) and
    /// hands it to its node's kubelet.
    pub fn create_pod(self: &Arc<Self>, ns: &str, mut pod: Value) -> Result<Value, ApiError> {
        let name = meta_str(&pod, "name");
        if !validate::name(&name) {
            return Err(ApiError::invalid(format!("invalid pod name {name:?}")));
        }
        validate::pod(&pod)?;
        pod["status"] = json!({"phase": "Pending"});
        let created = {
            let mut st = self.lock();
            let created = st.store.create(Kind::Pod, ns, pod)?;
            st.stats.pods_created += 1;
            Self::count_pods(&mut st);
            self.log_pod(&mut st, PodEventKind::Created, &created);
            created
        };
        if created["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
        {
            let (ns, name) = pod_key(&created);
            let node = created["spec"]["nodeName"].as_str().unwrap_or_default();
            taints::evict(self, node);
            kubelet::spawn(self.clone(), ns, name, uid_of(&created));
        }
        Ok(created)
    }

    /// Removes a pod from the store now, with its counters; with `uid`, only that pod and
    /// not a newer one of the same name.
    pub fn remove_pod(&self, ns: &str, name: &str, uid: Option<&str>) -> Option<Value> {
        let mut st = self.lock();
        let current = st.store.get(Kind::Pod, ns, name)?;
        if uid.is_some_and(|u| u != uid_of(current)) {
            return None;
        }
        let pod = st.store.remove(Kind::Pod, ns, name)?;
        st.stats.pods_deleted += 1;
        Self::count_pods(&mut st);
        self.log_pod(&mut st, PodEventKind::Deleted, &pod);
        Some(pod)
    }

    /// Deletes a pod the way the API server does: immediately when it is unbound, finished,
    /// asked with `gracePeriodSeconds=0` or when the configured kill delay is zero; otherwise
    /// it is marked with `deletionTimestamp` and removed once the kubelet has stopped it.
    pub fn delete_pod(
        self: &Arc<Self>,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let (delay, marked) = {
            let mut st = self.lock();
            let pod = st
                .store
                .get(Kind::Pod, ns, name)
                .ok_or_else(|| ApiError::not_found("pods", name))?;
            opts.check(pod, "pods", name)?;
            let finished = matches!(
                pod["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed")
            );
            let unbound = pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
            let delay = st.deletion_delay;
            if opts.grace_seconds == Some(0) || finished || unbound || delay.is_zero() {
                drop(st);
                return self
                    .remove_pod(ns, name, None)
                    .ok_or_else(|| ApiError::not_found("pods", name));
            }
            if pod["metadata"]["deletionTimestamp"].is_string() {
                return Ok(pod.clone());
            }
            let grace = opts.grace_seconds.unwrap_or(30);
            let marked = st
                .store
                .modify(Kind::Pod, ns, name, |p| {
                    p["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                    p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                })
                .ok_or_else(|| ApiError::not_found("pods", name))?;
            (delay, marked)
        };
        let inner = self.clone();
        let (ns, name, uid) = (ns.to_string(), name.to_string(), uid_of(&marked));
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            inner.remove_pod(&ns, &name, Some(&uid));
        });
        Ok(marked)
    }

    /// Adds or replaces a node; its `status.images` seeds the kubelet's image list.
    pub fn put_node(self: &Arc<Self>, mut node: Value) -> Result<(), ApiError> {
        let name = meta_str(&node, "name");
        if !validate::name(&name) {
            return Err(ApiError::invalid(format!("invalid node name {name:?}")));
        }
        {
            let mut st = self.lock();
            let images = node["status"]["images"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            st.node_images.insert(name.clone(), images);
            node["status"]["images"] = visible_images(&st, &name);
            let exists = st.store.get(Kind::Node, "", &name).is_some();
            // Identity fields (uid, resourceVersion) come from the store, not the caller.
            if let Some(meta) = node["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            if exists {
                st.store.replace(Kind::Node, "", node)?;
            } else {
                st.store.create(Kind::Node, "", node)?;
            }
        }
        self.node_changed(&name);
        Ok(())
    }

    /// Wakes kubelets waiting for a node and applies its `NoExecute` taints.
    pub fn node_changed(self: &Arc<Self>, name: &str) {
        self.nodes_changed.send_modify(|v| *v += 1);
        taints::evict(self, name);
    }

    /// Edits a node in place; an edit of `status.images` replaces the kubelet's image list.
    pub fn update_node(self: &Arc<Self>, name: &str, f: impl FnOnce(&mut Value)) -> Option<Value> {
        let updated = {
            let mut st = self.lock();
            let mut images = None;
            let updated = st.store.modify(Kind::Node, "", name, |n| {
                let before = n["status"]["images"].clone();
                f(n);
                if n["status"]["images"] != before {
                    images = Some(
                        n["status"]["images"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
            });
            if let Some(images) = images {
                st.node_images.insert(name.to_string(), images);
                let visible = visible_images(&st, name);
                st.store
                    .modify(Kind::Node, "", name, |n| n["status"]["images"] = visible);
            }
            updated
        };
        self.node_changed(name);
        updated
    }

    /// Removes a node and, as the pod garbage collector does, every pod bound to it.
    pub fn remove_node(&self, name: &str) -> Option<Value> {
        let (removed, orphans) = {
            let mut st = self.lock();
            st.node_images.remove(name);
            let removed = st.store.remove(Kind::Node, "", name);
            let orphans: Vec<(String, String)> = st
                .store
                .iter(Kind::Pod, None)
                .filter(|p| p["spec"]["nodeName"].as_str() == Some(name))
                .map(pod_key)
                .collect();
            (removed, orphans)
        };
        for (ns, pod) in orphans {
            self.remove_pod(&ns, &pod, None);
        }
        self.nodes_changed.send_modify(|v| *v += 1);
        removed
    }

    /// Records that `node` now holds `image` (merging names when the digest is known) and
    /// republishes the node's `status.images`, after the configured status delay.
    pub fn record_image(self: &Arc<Self>, node: &str, names: Vec<String>, size: i64) {
        let delay = self.add_image(node, names, size);
        if delay.is_zero() {
            self.publish_images(node);
        } else {
            let (inner, node) = (self.clone(), node.to_string());
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                inner.publish_images(&node);
            });
        }
    }

    /// Adds to the kubelet's image list; returns the delay before the node reports it.
    fn add_image(&self, node: &str, names: Vec<String>, size: i64) -> Duration {
        let mut st = self.lock();
        let delay = st.node_status_delay;
        let Some(list) = st.node_images.get_mut(node) else {
            return delay;
        };
        let digest_name = names.first().cloned().unwrap_or_default();
        match list.iter_mut().find(|img| has_name(img, &digest_name)) {
            Some(img) => {
                for n in &names {
                    if !has_name(img, n) {
                        if let Some(arr) = img["names"].as_array_mut() {
                            arr.push(json!(n));
                        }
                    }
                }
            }
            None => list.push(json!({"names": names, "sizeBytes": size})),
        }
        delay
    }

    /// Writes the node's `status.images` from the kubelet's list.
    fn publish_images(&self, node: &str) {
        let mut st = self.lock();
        let visible = visible_images(&st, node);
        st.store
            .modify(Kind::Node, "", node, |n| n["status"]["images"] = visible);
    }

    /// Whether the kubelet on `node` already holds an image known by `name`.
    pub fn node_has_image(&self, node: &str, name: &str) -> bool {
        self.lock()
            .node_images
            .get(node)
            .is_some_and(|l| l.iter().any(|img| has_name(img, name)))
    }

    /// A snapshot of the stats with current pod counts.
    pub fn stats(&self) -> ClusterStats {
        let mut st = self.lock();
        Self::count_pods(&mut st);
        st.stats.clone()
    }

    pub fn count_request(&self, verb: &str, resource: &str) -> Option<u16> {
        let mut st = self.lock();
        *st.stats
            .requests
            .entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
        st.faults.take(verb, resource)
    }
}

fn has_name(img: &Value, name: &str) -> bool {
    img["names"]
        .as_array()
        .is_some_and(|a| a.iter().any(|n| n.as_str() == Some(name)))
}

pub fn uid_of(obj: &Value) -> String {
    meta_str(obj, "uid")
}

/// The node's image list as kubelet reports it: largest first, at most `max_images`.
fn visible_images(st: &State, node: &str) -> Value {
    let mut images = st.node_images.get(node).cloned().unwrap_or_default();
    images.sort_by_key(|img| std::cmp::Reverse(img["sizeBytes"].as_i64().unwrap_or(0)));
    images.truncate(st.max_images);
    Value::Array(images)
}

/// The parts of a `DeleteOptions` body the fake honours.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
}

impl DeleteOptions {
    pub fn from_json(body: &Value) -> DeleteOptions {
        let pre = &body["preconditions"];
        DeleteOptions {
            grace_seconds: body["gracePeriodSeconds"].as_i64(),
            precondition_uid: pre["uid"].as_str().map(String::from),
            precondition_rv: pre["resourceVersion"].as_str().map(String::from),
        }
    }

    /// 409 Conflict when a precondition does not hold, as the API server answers.
    pub fn check(&self, obj: &Value, resource: &str, name: &str) -> Result<(), ApiError> {
        let meta = &obj["metadata"];
        let uid_ok = self
            .precondition_uid
            .as_deref()
            .is_none_or(|u| meta["uid"].as_str() == Some(u));
        let rv_ok = self
            .precondition_rv
            .as_deref()
            .is_none_or(|r| meta["resourceVersion"].as_str() == Some(r));
        if uid_ok && rv_ok {
            Ok(())
        } else {
            Err(ApiError::conflict(resource, name))
        }
    }
}

/// Pull behaviours and image sizes are matched by the longest pattern contained in the image.
pub fn longest_match<'a, T>(rules: &'a [(String, T)], image: &str) -> Option<&'a T> {
    rules
        .iter()
        .filter(|(pat, _)| image.contains(pat.as_str()))
        .max_by_key(|(pat, _)| pat.len())
        .map(|(_, v)| v)
}
