//! The cluster's shared state and the rules that are specific to a kind: pod creation
//! defaults and graceful deletion, pod garbage collection when a node goes, the kubelet's
//! image list on nodes, and the counters tests read.
//!
//! Both the HTTP layer and the test-facing `FakeCluster` call these methods, so a pod created
//! through the API and one created directly behave the same. One mutex guards everything; it
//! is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use super::clients::{ClientFault, ClientFaults, LeaseRecord, RequestRecord};
use super::faults::{ClusterStats, Faults, PodEvent, PodEventKind};
use super::gc;
use super::kind::Kind;
use super::kubelet::{self, PullBehaviour};
use super::pod_security;
use super::scheduler;
use super::status::ApiError;
use super::store::{meta_str, Store};
use super::taints;
use super::throttle::{Classification, Limiter};
use super::validate;

/// Labels that mark rsp-images' prepull pods (decisions.md §8); those pods are counted
/// separately for the `maxInFlight` cap. The original controller's prepull pods
/// (`nublado.lsst.io/category: prepuller`) are not.
pub const PREPULL_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/managed-by", "rsp-images"),
    ("app.kubernetes.io/component", "prepuller"),
];
/// How long the simulated kubelet takes to stop a pod deleted gracefully, by default.
pub const DEFAULT_KILL_TIME: Duration = Duration::from_millis(20);
/// The namespace label that makes pod security admission enforce a level.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// How many names kubelet reports per image.
pub const MAX_NAMES_PER_IMAGE: usize = 5;
/// kubelet's default `--node-status-max-images`.
pub const DEFAULT_MAX_IMAGES: usize = 50;

/// Everything behind the mutex.
pub struct State {
    pub store: Store,
    pub faults: Faults,
    pub client_faults: ClientFaults,
    pub stats: ClusterStats,
    /// Every request, in the order it was handled.
    pub requests: Vec<RequestRecord>,
    /// Every Lease write through the API.
    pub leases: Vec<LeaseRecord>,
    /// Labels of namespaces (the fake does not serve Namespace objects; pod security
    /// admission reads these).
    pub namespace_labels: HashMap<String, BTreeMap<String, String>>,
    pub pod_log: Vec<PodEvent>,
    /// (substring of the image reference, behaviour); the longest matching pattern wins.
    pub pulls: Vec<(String, PullBehaviour)>,
    /// (substring of the image reference, size in bytes); the longest matching pattern wins.
    pub sizes: Vec<(String, i64)>,
    /// (substring of the image reference, the (os, architecture) pairs its index lists);
    /// images without a rule run anywhere.
    pub platforms: Vec<(String, Vec<(String, String)>)>,
    /// Every image each node's kubelet holds; `status.images` shows the largest of them.
    pub node_images: HashMap<String, Vec<Value>>,
    /// kubelet's `nodeStatusMaxImages`; `None` for `-1` (no cap).
    pub max_images: Option<usize>,
    /// How long after a pull the node's `status.images` shows it (kubelet reports node
    /// status periodically, every 10 s by default).
    pub node_status_delay: Duration,
    /// How long a kubelet takes to stop the containers of a pod deleted gracefully (at most
    /// the pod's grace period).
    pub kill_time: Duration,
    pub bookmark_every: Duration,
    /// API Priority and Fairness' limits (none by default).
    pub limiter: Limiter,
    /// The task sending kubelets' periodic status reports, when on.
    pub heartbeats: Option<tokio::task::JoinHandle<()>>,
}

/// How the server deals with one request, decided when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Hand it to its verb.
    Serve,
    /// Answer with this injected status, without effect.
    Inject(u16),
    /// Refuse it as API Priority and Fairness does: 429, retry after this many seconds.
    Throttle(u64),
}

/// Shared between the server, the kubelet tasks and every `FakeCluster` clone.
pub struct Inner {
    state: Mutex<State>,
    /// Bumped on every node change so that kubelets waiting for their node re-check it.
    pub nodes_changed: watch::Sender<u64>,
    /// Bumped on every change of the client faults, so that hung requests re-check them.
    pub faults_changed: watch::Sender<u64>,
    pub started: Instant,
    pub runtime: Handle,
    /// The APF classification every answer names.
    pub apf: Classification,
}

fn pod_key(pod: &Value) -> (String, String) {
    (meta_str(pod, "namespace"), meta_str(pod, "name"))
}

fn is_prepull(pod: &Value) -> bool {
    PREPULL_LABELS
        .iter()
        .all(|(key, value)| pod["metadata"]["labels"][key].as_str() == Some(value))
}

impl Inner {
    pub fn new(runtime: Handle) -> Arc<Inner> {
        Arc::new(Inner {
            state: Mutex::new(State {
                store: Store::default(),
                faults: Faults::default(),
                client_faults: ClientFaults::default(),
                stats: ClusterStats::default(),
                requests: Vec::new(),
                leases: Vec::new(),
                namespace_labels: HashMap::new(),
                pod_log: Vec::new(),
                pulls: Vec::new(),
                sizes: Vec::new(),
                platforms: Vec::new(),
                node_images: HashMap::new(),
                max_images: Some(DEFAULT_MAX_IMAGES),
                node_status_delay: Duration::ZERO,
                kill_time: DEFAULT_KILL_TIME,
                bookmark_every: Duration::from_secs(1),
                limiter: Limiter::default(),
                heartbeats: None,
            }),
            nodes_changed: watch::channel(0).0,
            faults_changed: watch::channel(0).0,
            started: Instant::now(),
            runtime,
            apf: Classification::new(),
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
            admit(&st, ns, &name, &pod)?;
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
        } else {
            scheduler::schedule(self);
        }
        gc::schedule(self);
        Ok(created)
    }

    /// Removes a pod from the store now, with its counters; with `uid`, only that pod and
    /// not a newer one of the same name.
    pub fn remove_pod(self: &Arc<Self>, ns: &str, name: &str, uid: Option<&str>) -> Option<Value> {
        let mut st = self.lock();
        let current = st.store.get(Kind::Pod, ns, name)?;
        if uid.is_some_and(|u| u != uid_of(current)) {
            return None;
        }
        let pod = st.store.remove(Kind::Pod, ns, name)?;
        st.stats.pods_deleted += 1;
        Self::count_pods(&mut st);
        self.log_pod(&mut st, PodEventKind::Deleted, &pod);
        drop(st);
        gc::schedule(self);
        Some(pod)
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
        scheduler::schedule(self);
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

    /// Removes a node and, as the pod garbage collector does, force-deletes every pod bound
    /// to it (terminating ones included: no kubelet will ever confirm them).
    pub fn remove_node(self: &Arc<Self>, name: &str) -> Option<Value> {
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
        gc::schedule(self);
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
                let mut known: Vec<String> = img["names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect();
                kubelet::merge_names(&mut known, &names);
                img["names"] = json!(known);
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

    /// The fault of `client` for calls on `resource`, if any.
    pub fn client_fault(&self, client: &str, resource: &str) -> Option<ClientFault> {
        self.lock().client_faults.get(client, resource)
    }

    /// Changes the client faults and wakes the requests they hold.
    pub fn change_client_faults(&self, f: impl FnOnce(&mut ClientFaults)) {
        f(&mut self.lock().client_faults);
        self.faults_changed.send_modify(|v| *v += 1);
    }

    pub fn log_request(&self, record: RequestRecord) {
        self.lock().requests.push(record);
    }

    /// Records a committed Lease write.
    pub fn log_lease(&self, client: &str, lease: &Value) {
        let record = LeaseRecord {
            at: self.started.elapsed(),
            namespace: meta_str(lease, "namespace"),
            name: meta_str(lease, "name"),
            holder: lease["spec"]["holderIdentity"]
                .as_str()
                .filter(|h| !h.is_empty())
                .map(str::to_owned),
            client: client.to_owned(),
        };
        self.lock().leases.push(record);
    }

    /// Counts a request and decides what happens to it: an injected failure first (an API
    /// server that is down answers nothing else), then API Priority and Fairness' limits.
    pub fn admit(&self, client: &str, verb: &str, resource: &str) -> Admission {
        let mut st = self.lock();
        *st.stats
            .requests
            .entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
        if let Some(code) = st.faults.take(verb, resource) {
            return Admission::Inject(code);
        }
        match st.limiter.admit(client, Instant::now()) {
            Ok(()) => Admission::Serve,
            Err(retry_after) => Admission::Throttle(retry_after),
        }
    }
}

/// Pod Security Admission: a namespace labelled `pod-security.kubernetes.io/enforce` refuses
/// pods that break its level with 403 Forbidden, before anything is stored.
fn admit(st: &State, ns: &str, name: &str, pod: &Value) -> Result<(), ApiError> {
    let level = st
        .namespace_labels
        .get(ns)
        .and_then(|labels| labels.get(ENFORCE_LABEL))
        .and_then(|value| pod_security::Level::from_label(value));
    let Some(level) = level else {
        return Ok(());
    };
    let Ok(typed) = serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(pod.clone()) else {
        return Ok(());
    };
    let violations = pod_security::violations(&typed, level);
    if violations.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        pod_security::forbidden_message(name, level, &violations),
    ))
}

fn has_name(img: &Value, name: &str) -> bool {
    img["names"]
        .as_array()
        .is_some_and(|a| a.iter().any(|n| n.as_str() == Some(name)))
}

pub fn uid_of(obj: &Value) -> String {
    meta_str(obj, "uid")
}

/// The node's image list as kubelet reports it: largest first, at most `max_images`
/// (`None`: every image, kubelet's `nodeStatusMaxImages: -1`), at most five names each
/// (`MaxNamesPerImageInNodeStatus` in kubernetes `pkg/kubelet/nodestatus/setters.go`).
fn visible_images(st: &State, node: &str) -> Value {
    let mut images = st.node_images.get(node).cloned().unwrap_or_default();
    images.sort_by_key(|img| std::cmp::Reverse(img["sizeBytes"].as_i64().unwrap_or(0)));
    if let Some(max) = st.max_images {
        images.truncate(max);
    }
    for image in &mut images {
        if let Some(names) = image["names"].as_array_mut() {
            names.truncate(MAX_NAMES_PER_IMAGE);
        }
    }
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
