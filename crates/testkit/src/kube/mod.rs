//! A fake Kubernetes API server on 127.0.0.1 with a simulated kubelet, for testing the
//! Kubernetes side of rsp-images through real kube-rs clients over real HTTP.
//!
//! It serves core/v1 nodes and pods and coordination.k8s.io/v1 leases with the semantics
//! kube-rs and kube-runtime rely on: one global `resourceVersion`, list paging, watches with
//! bookmarks and 410 on compacted history, optimistic concurrency, `Status` errors. Tests
//! steer it through [`FakeCluster`]: nodes, per-image pull behaviours, injected faults, and
//! counters of what the client did.
//!
//! Behaviour worth knowing when writing tests against it:
//! - Pods bound with `spec.nodeName` run on the simulated kubelet: `Pending`
//!   (`ContainerCreating`) → pull (default 50 ms, see [`FakeCluster::set_pull`]) →
//!   `Running` with `imageID` → `Succeeded` about 5 ms later. A digest the node already holds
//!   is not pulled again. Pods on missing or NotReady nodes stay `Pending`. Unbound pods
//!   are scheduled (`scheduler.rs`) onto a Ready, uncordoned node whose `NoSchedule` and
//!   `NoExecute` taints they tolerate, or stay `Pending` until a node changes.
//! - Node patches are applied as the API server applies them (`patch.rs`): JSON patches
//!   with `test` (422 when one fails), merge patches replacing atomic lists such as
//!   `spec.taints` whole, 409 when the patch names a stale `resourceVersion`. A node's
//!   `Ready` condition carries its `lastTransitionTime`.
//! - The node's `status.images` lists the names containerd records, repo digests then repo
//!   tags, at most five per image (a pull by `repo:tag@digest` records `repo@digest` only),
//!   largest image first, at most 50 images (see [`FakeCluster::set_max_images`],
//!   `set_node_status_delay`).
//! - Deletion is graceful (`termination.rs`): a bound, unfinished pod deleted with a grace
//!   period stays `Terminating` until its kubelet confirms ([`FakeCluster::set_kill_time`]),
//!   which a NotReady or missing node never does; `gracePeriodSeconds=0` removes it at once.
//!   Evictions ([`FakeCluster::evict_pod`], [`FakeCluster::drain`], untolerated `NoExecute`
//!   taints) are graceful; removing a node force-deletes its pods (pod GC).
//! - The garbage collector deletes pods whose owners are all absent, an owner in another
//!   namespace counting as absent (`gc.rs`).
//! - Creates are validated as the API server does (names, labels, node selector,
//!   tolerations: 422 with the API's message), and namespaces labelled for it enforce the Pod
//!   Security Standards (403, [`FakeCluster::label_namespace`], [`pod_security`]).
//! - Watches: a version older than the kept history (see `compact_history`,
//!   `set_history_limit`) gets an `ERROR` event with a 410 `Status` in a 200 stream, which
//!   makes kube-runtime watchers relist; bookmarks every second when asked for.
//! - Clients are told apart by their bearer token ([`FakeCluster::client_for`]); one
//!   client's calls can hang or fail while the others go through
//!   ([`FakeCluster::set_client_fault`]), and every request is logged with its client and
//!   outcome ([`FakeCluster::request_log`], Lease writes in [`FakeCluster::lease_log`]).
//! - API Priority and Fairness (`throttle.rs`): every answer carries the
//!   `X-Kubernetes-PF-*-UID` headers; with [`FakeCluster::set_throttle`], requests beyond
//!   per-client and global token buckets (watch starts included, open watches never) are
//!   refused with 429, `Retry-After` and the apiserver's plain-text body.
//! - Kubelets' periodic status reports (`heartbeat.rs`): [`FakeCluster::set_heartbeat_every`]
//!   updates each node's `lastHeartbeatTime` once per period, spread evenly, as at scale;
//!   [`FakeCluster::expire_watches`] forces every watcher to relist.
//! - `pods_created` / `pods_deleted` count every pod that came into existence or went away,
//!   whether through the API, `create_pod_directly`, pod GC or eviction; requests are
//!   counted by (verb, plural resource) including those answered with injected faults.
//!
//! Modules: `api` (HTTP routing, faults), `clients` (who calls, per-client faults, the
//! request log), `verbs` (what each verb does), `store` (versioned objects, history),
//! `watch` (event streams), `cluster` (pod/node rules, counters), `kubelet` (pod lifecycle
//! and node images), `termination` (graceful deletion), `gc` (owner references), `taints`
//! (NoExecute evictions), `scheduler` (unbound pods), `pod_security` (the Pod Security Standards), `selector`, `patch`,
//! `validate`, `faults`, `status`, `discovery`, `builder`, `kind`, `throttle` (API Priority
//! and Fairness), `heartbeat` (kubelets' periodic status reports).

mod api;
mod builder;
mod clients;
mod cluster;
mod discovery;
mod faults;
mod gc;
mod heartbeat;
mod kind;
mod kubelet;
mod patch;
pub mod pod_security;
mod scheduler;
mod selector;
mod status;
mod store;
mod taints;
mod termination;
mod throttle;
mod validate;
mod verbs;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use builder::{lab_node, node, pod, NodeSpecBuilder, PodBuilder};
pub use clients::{ClientFault, LeaseRecord, Outcome, RequestRecord, ANONYMOUS};
pub use cluster::{DEFAULT_MAX_IMAGES, ENFORCE_LABEL, PREPULL_LABELS};
pub use faults::{ClusterStats, PodEvent, PodEventKind};
pub use kind::Kind;
pub use kubelet::{image_names, PullBehaviour};
pub use status::ApiError;
pub use throttle::{Limit, Throttle, FLOW_SCHEMA_UID, PRIORITY_LEVEL_UID, TOO_MANY_REQUESTS_BODY};

use cluster::Inner;

/// Stops the server when the last clone of the cluster goes away, closing open watches
/// too: their connections outlive the accept loop and would otherwise stream forever.
struct ServerTask(tokio::task::JoinHandle<()>, Arc<Inner>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
        let mut st = self.1.lock();
        st.store.drop_watches();
        if let Some(heartbeats) = st.heartbeats.take() {
            heartbeats.abort();
        }
    }
}

/// A running fake cluster; clones share it.
#[derive(Clone)]
pub struct FakeCluster {
    inner: Arc<Inner>,
    addr: SocketAddr,
    _server: Arc<ServerTask>,
}

fn from_value<T: DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone())
        .inspect_err(|e| tracing::warn!("fake cluster: stored object does not parse: {e}"))
        .ok()
}

fn to_value<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap_or_default()
}

impl FakeCluster {
    /// Binds 127.0.0.1 on a free port and serves in a task of the current runtime.
    ///
    /// # Panics
    /// When called outside a tokio runtime or when no local port can be bound.
    pub async fn start() -> FakeCluster {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake cluster: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake cluster: local address");
        // Go, and so the real API server, turns Nagle's algorithm off on every connection: a
        // watch event written while the last is unacknowledged goes out at once instead of
        // waiting up to the client's delayed ACK (40 ms on Linux).
        let listener = listener.tap_io(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!("fake cluster: cannot set TCP_NODELAY: {e}");
            }
        });
        let inner = Inner::new(tokio::runtime::Handle::current());
        let app = axum::Router::new()
            .fallback(api::handle)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("fake cluster: server stopped: {e}");
            }
        });
        FakeCluster {
            _server: Arc::new(ServerTask(task, inner.clone())),
            inner,
            addr,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for the fake, default namespace `default`, with kube's default retry
    /// layer: it retries 429/503/504 up to 15 times with exponential backoff from 5 ms
    /// (minutes in total), so injected 503s and short `set_unavailable` periods are
    /// invisible to it. rsp-images' own clients turn that layer off for their own
    /// (`rsp_kube::client_for`, built from [`FakeCluster::config_as`] in its tests).
    pub fn client(&self) -> ::kube::Client {
        self.build_client(true)
    }

    /// Like [`FakeCluster::client`] but without the retry layer: every injected failure
    /// reaches the caller at once.
    pub fn client_without_retry(&self) -> ::kube::Client {
        self.build_client(false)
    }

    /// A client (as [`FakeCluster::client`]) that authenticates as `user` with a bearer
    /// token, so that the request log names it and client faults can single it out.
    pub fn client_for(&self, user: &str) -> ::kube::Client {
        self.build_client_as(true, Some(user))
    }

    fn build_client(&self, retry: bool) -> ::kube::Client {
        self.build_client_as(retry, None)
    }

    fn build_client_as(&self, retry: bool, user: Option<&str>) -> ::kube::Client {
        let mut config = self.config_as(user);
        config.default_retry = retry;
        ::kube::Client::try_from(config).expect("fake cluster: kube client builds")
    }

    /// The configuration of [`FakeCluster::client_for`], for building a client another
    /// way (rsp-kube's own retry layer); `None` is anonymous. kube's default retry is on in
    /// it, as in any `kube::Config`.
    pub fn config_as(&self, user: Option<&str>) -> ::kube::Config {
        let uri = self.url().parse().expect("fake cluster: url parses");
        let mut config = ::kube::Config::new(uri);
        config.default_namespace = "default".into();
        config.auth_info.token = user.map(|user| secrecy::SecretString::from(user.to_owned()));
        config
    }

    /// Sets (or with `None` clears) what happens to `user`'s calls on `resource` (`*`: all):
    /// [`ClientFault::Hang`] models a network partition between that client and the API
    /// server, [`ClientFault::Fail`] an error answered to it alone. Other clients are not
    /// affected.
    pub fn set_client_fault(&self, user: &str, resource: &str, fault: Option<ClientFault>) {
        self.inner
            .change_client_faults(|faults| faults.set(user, resource, fault));
    }

    /// Clears every fault of `user`; its hung calls then fail without effect.
    pub fn heal_client(&self, user: &str) {
        self.inner.change_client_faults(|faults| faults.clear(user));
    }

    /// Every request since start, in the order the server handled them.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.inner.lock().requests.clone()
    }

    /// The requests after the first `from` of [`FakeCluster::request_log`], without copying
    /// the rest (a long simulation logs hundreds of thousands).
    pub fn request_log_since(&self, from: usize) -> Vec<RequestRecord> {
        let st = self.inner.lock();
        st.requests
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// How many requests [`FakeCluster::request_log`] holds.
    pub fn request_count(&self) -> usize {
        self.inner.lock().requests.len()
    }

    /// Every Lease write through the API since start, in commit order.
    pub fn lease_log(&self) -> Vec<LeaseRecord> {
        self.inner.lock().leases.clone()
    }

    /// Adds a node (or replaces one of the same name); a watch event follows.
    ///
    /// # Panics
    /// When the node has no valid name: that is a mistake in the test.
    pub fn add_node(&self, node: impl Into<Node>) {
        if let Err(e) = self.inner.put_node(to_value(&node.into())) {
            panic!("add_node: {e}");
        }
    }

    /// Removes a node; pods bound to it are deleted, as the pod garbage collector does.
    pub fn remove_node(&self, name: &str) {
        self.inner.remove_node(name);
    }

    /// Edits a node; a changed `status.images` replaces what the kubelet holds. `f` runs
    /// under the cluster's lock, so it must not call back into the cluster.
    pub fn update_node(&self, name: &str, f: impl FnOnce(&mut Node)) {
        self.inner.update_node(name, |v| {
            if let Some(mut node) = from_value::<Node>(v) {
                f(&mut node);
                let rv = v["metadata"]["resourceVersion"].clone();
                *v = to_value(&node);
                v["metadata"]["resourceVersion"] = rv;
            }
        });
    }

    /// Cordons or uncordons a node (`spec.unschedulable`).
    pub fn cordon(&self, name: &str, on: bool) {
        self.update_node(name, |n| {
            n.spec.get_or_insert_with(Default::default).unschedulable = on.then_some(true);
        });
    }

    /// Sets the node's Ready condition to True or False (adding it if missing).
    pub fn set_ready(&self, name: &str, ready: bool) {
        self.update_node(name, |n| {
            let status = n.status.get_or_insert_with(Default::default);
            let conds = status.conditions.get_or_insert_with(Vec::new);
            let wanted = if ready { "True" } else { "False" };
            let unchanged = conds
                .iter()
                .find(|c| c.type_ == "Ready")
                .filter(|c| c.status == wanted)
                .cloned();
            conds.retain(|c| c.type_ != "Ready");
            // As kubelet: the transition time moves only when the status does.
            conds.push(
                unchanged.unwrap_or_else(|| k8s_openapi::api::core::v1::NodeCondition {
                    type_: "Ready".into(),
                    status: wanted.into(),
                    last_transition_time: Some(
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                            k8s_openapi::jiff::Timestamp::now(),
                        ),
                    ),
                    ..Default::default()
                }),
            );
        });
    }

    /// Sends one periodic node status report of the node's kubelet, which changes nothing but
    /// the conditions' `lastHeartbeatTime` (`heartbeat.rs`); a watcher sees a MODIFIED event
    /// with a new `resourceVersion`. Reports sent back to back each move the time.
    pub fn report_node_status(&self, name: &str) {
        heartbeat::report(&self.inner, name);
    }

    /// Sends every node's periodic status report once per `period`, the nodes spread evenly
    /// over it, as kubelets do every `nodeStatusReportFrequency` (5 minutes by default): N
    /// nodes give N / period updates a second, each a MODIFIED event that changes nothing but
    /// `lastHeartbeatTime` (`heartbeat.rs`). Replaces an earlier period; see
    /// [`FakeCluster::stop_heartbeats`].
    pub fn set_heartbeat_every(&self, period: Duration) {
        let task = heartbeat::spawn(self.inner.clone(), period);
        if let Some(old) = self.inner.lock().heartbeats.replace(task) {
            old.abort();
        }
    }

    /// Stops the reports [`FakeCluster::set_heartbeat_every`] started.
    pub fn stop_heartbeats(&self) {
        if let Some(task) = self.inner.lock().heartbeats.take() {
            task.abort();
        }
    }

    /// Sets API Priority and Fairness' limits (`throttle.rs`): requests beyond them, watch
    /// starts included, are answered 429 with `Retry-After` and the apiserver's plain-text
    /// body, without effect, and logged as [`Outcome::Throttled`]. Open watch streams are
    /// never limited. [`Throttle::default`] (the initial setting) limits nothing.
    pub fn set_throttle(&self, throttle: Throttle) {
        self.inner.lock().limiter.configure(throttle);
    }

    /// [`FakeCluster::report_node_status`] for every node.
    pub fn report_every_node_status(&self) {
        for node in self.nodes() {
            if let Some(name) = node.metadata.name {
                self.report_node_status(&name);
            }
        }
    }

    /// Sets (or with `None` removes) a label on a node.
    pub fn label_node(&self, name: &str, key: &str, value: Option<&str>) {
        self.update_node(name, |n| {
            let labels = n.metadata.labels.get_or_insert_with(Default::default);
            match value {
                Some(v) => labels.insert(key.into(), v.into()),
                None => labels.remove(key),
            };
        });
    }

    /// Adds a taint to a node (an empty `value` means none).
    pub fn taint_node(&self, name: &str, key: &str, value: &str, effect: &str) {
        self.update_node(name, |n| {
            let spec = n.spec.get_or_insert_with(Default::default);
            spec.taints
                .get_or_insert_with(Vec::new)
                .push(k8s_openapi::api::core::v1::Taint {
                    key: key.into(),
                    value: (!value.is_empty()).then(|| value.into()),
                    effect: effect.into(),
                    time_added: None,
                });
        });
    }

    /// Removes every taint with `key` from a node.
    pub fn untaint_node(&self, name: &str, key: &str) {
        self.update_node(name, |n| {
            if let Some(taints) = n.spec.as_mut().and_then(|s| s.taints.as_mut()) {
                taints.retain(|t| t.key != key);
            }
        });
    }

    /// How pulls of images whose reference contains `image_contains` behave on every node;
    /// the longest matching pattern wins, the default is `Succeed(50 ms)`. The pattern may
    /// be a digest; the empty pattern sets the default for every image.
    pub fn set_pull(&self, image_contains: &str, behaviour: PullBehaviour) {
        let mut st = self.inner.lock();
        st.pulls.retain(|(p, _)| p != image_contains);
        st.pulls.push((image_contains.into(), behaviour));
    }

    /// The `sizeBytes` nodes report for images whose reference contains `image_contains`
    /// (default: a stable pseudo-random 1–5 GiB).
    pub fn set_image_size(&self, image_contains: &str, size_bytes: i64) {
        let mut st = self.inner.lock();
        st.sizes.retain(|(p, _)| p != image_contains);
        st.sizes.push((image_contains.into(), size_bytes));
    }

    /// The platforms (`os`, `architecture`) of images whose reference contains
    /// `image_contains`, as their manifest index lists them: on a node whose
    /// `kubernetes.io/os` / `kubernetes.io/arch` labels name another platform, the pull fails
    /// with `ErrImagePull` "no match for platform in manifest", as containerd reports it, and
    /// keeps failing. Images without a rule run anywhere.
    pub fn set_image_platforms(&self, image_contains: &str, platforms: &[(&str, &str)]) {
        let mut st = self.inner.lock();
        st.platforms.retain(|(p, _)| p != image_contains);
        let platforms = platforms
            .iter()
            .map(|(os, arch)| ((*os).to_owned(), (*arch).to_owned()))
            .collect();
        st.platforms.push((image_contains.into(), platforms));
    }

    /// kubelet's `nodeStatusMaxImages` (default 50; `None` is `-1`, no cap) for later
    /// status updates.
    pub fn set_max_images(&self, max: Option<usize>) {
        self.inner.lock().max_images = max;
    }

    /// How long after a successful pull the node's `status.images` shows the image
    /// (default zero; kubelet's real status period is 10 s). The pod's `imageID` is set
    /// at once either way.
    pub fn set_node_status_delay(&self, delay: Duration) {
        self.inner.lock().node_status_delay = delay;
    }

    /// How long a kubelet takes to stop the containers of a pod deleted gracefully (default
    /// 20 ms, never more than the pod's grace period). Meanwhile the pod is `Terminating`: it
    /// carries `deletionTimestamp`, still exists and its name stays taken (a create answers
    /// 409). A delete with `gracePeriodSeconds=0` removes a pod at once.
    pub fn set_kill_time(&self, kill: Duration) {
        self.inner.lock().kill_time = kill;
    }

    /// Sets (or with `None` removes) a label of a namespace. Namespaces labelled
    /// `pod-security.kubernetes.io/enforce: baseline|restricted` refuse pods that break that
    /// level of the Pod Security Standards (403, see [`pod_security`]).
    pub fn label_namespace(&self, namespace: &str, key: &str, value: Option<&str>) {
        let mut st = self.inner.lock();
        let labels = st.namespace_labels.entry(namespace.to_owned()).or_default();
        match value {
            Some(value) => labels.insert(key.to_owned(), value.to_owned()),
            None => labels.remove(key),
        };
    }

    /// Evicts a pod as the eviction API does (a graceful delete with the pod's own grace
    /// period); `false` when it does not exist.
    pub fn evict_pod(&self, namespace: &str, name: &str) -> bool {
        self.inner.evict_pod(namespace, name, None)
    }

    /// Drains a node as `kubectl drain` does: cordons it and evicts every pod on it.
    pub fn drain(&self, node: &str) {
        self.cordon(node, true);
        let pods: Vec<(String, String)> = self
            .all_pods()
            .into_iter()
            .filter(|pod| pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .filter_map(|pod| Some((pod.metadata.namespace?, pod.metadata.name?)))
            .collect();
        for (namespace, name) in pods {
            self.inner.evict_pod(&namespace, &name, None);
        }
    }

    /// How often watches that allow bookmarks get one (default 1 s).
    pub fn set_bookmark_interval(&self, every: Duration) {
        self.inner.lock().bookmark_every = every;
    }

    /// Fails the next `count` requests matching (verb, resource) with `status`; `*` matches
    /// anything. Verbs: list, watch, get, create, update, patch, delete, deletecollection.
    /// A watch failed with 410 gets an `ERROR` event in a 200 stream, as the API sends it.
    pub fn fail_next(&self, verb: &str, resource: &str, count: usize, status: u16) {
        self.inner
            .lock()
            .faults
            .fail_next(verb, resource, count, status);
    }

    /// While on, every request answers 503; turning it on also closes open watches, as an
    /// API server outage does. kube's default client retries 503s (see
    /// [`FakeCluster::client`]), so a short outage only delays its requests.
    pub fn set_unavailable(&self, on: bool) {
        let mut st = self.inner.lock();
        st.faults.set_unavailable(on);
        if on {
            st.store.drop_watches();
        }
    }

    /// Closes every open watch stream (clients see a normal end of stream).
    pub fn drop_watches(&self) {
        self.inner.lock().store.drop_watches();
    }

    /// Forgets all watch history: resuming from any version before now answers 410.
    pub fn compact_history(&self) {
        self.inner.lock().store.compact();
    }

    /// Forgets all watch history and ends every open watch with an `ERROR` 410 event, so that
    /// every kube-runtime watcher lists again (compaction, 410, relist).
    pub fn expire_watches(&self) {
        self.inner.lock().store.expire_watches();
    }

    /// Keeps only the last `changes` changes for resuming watches (default 1000).
    pub fn set_history_limit(&self, changes: usize) {
        self.inner.lock().store.set_history_limit(changes);
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.lock().store.resource_version()
    }

    fn objects<T: DeserializeOwned>(&self, kind: Kind, ns: Option<&str>) -> Vec<T> {
        self.inner
            .lock()
            .store
            .iter(kind, ns)
            .filter_map(from_value)
            .collect()
    }

    /// Pods in `namespace`, by name.
    pub fn pods(&self, namespace: &str) -> Vec<Pod> {
        self.objects(Kind::Pod, Some(namespace))
    }

    /// Pods in every namespace.
    pub fn all_pods(&self) -> Vec<Pod> {
        self.objects(Kind::Pod, None)
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.inner
            .lock()
            .store
            .get(Kind::Pod, namespace, name)
            .and_then(from_value)
    }

    pub fn nodes(&self) -> Vec<Node> {
        self.objects(Kind::Node, None)
    }

    pub fn node(&self, name: &str) -> Option<Node> {
        self.inner
            .lock()
            .store
            .get(Kind::Node, "", name)
            .and_then(from_value)
    }

    pub fn lease(&self, namespace: &str, name: &str) -> Option<Lease> {
        self.inner
            .lock()
            .store
            .get(Kind::Lease, namespace, name)
            .and_then(from_value)
    }

    /// Creates a pod without going through the API (no request is counted), e.g. a pod
    /// left over by an earlier run. Its namespace defaults to `default`. A pod bound to a
    /// node is run by the kubelet like any other.
    ///
    /// # Panics
    /// When the pod is invalid or its name is taken: that is a mistake in the test.
    pub fn create_pod_directly(&self, pod: impl Into<Pod>) -> Pod {
        let pod = pod.into();
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let created = self
            .inner
            .create_pod(&ns, to_value(&pod))
            .unwrap_or_else(|e| panic!("create_pod_directly: {e}"));
        from_value(&created).expect("created pod parses")
    }

    /// Deletes a pod now, bypassing the API and any grace period.
    pub fn delete_pod_directly(&self, namespace: &str, name: &str) -> bool {
        self.inner.remove_pod(namespace, name, None).is_some()
    }

    /// Counters since start.
    pub fn stats(&self) -> ClusterStats {
        self.inner.stats()
    }

    /// Every pod creation and removal since start, in order.
    pub fn pod_events(&self) -> Vec<PodEvent> {
        self.inner.lock().pod_log.clone()
    }

    /// Time since the cluster started: the clock of [`PodEvent::at`] and of the request log,
    /// so that a caller can place its own moments (a node added) among them.
    pub fn elapsed(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Polls `done` every 5 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&FakeCluster) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
