//! Nodes: the conversion from Kubernetes `Node` objects to the model's [`NodeInfo`], and a
//! watcher that publishes the selected nodes as a snapshot after every change that matters.
//!
//! The watcher is kube-runtime's (list, then watch from the list's resourceVersion, relist on
//! 410 Gone) feeding a table of converted nodes; errors are logged and retried with backoff,
//! so the snapshot stream never ends while the process lives. Snapshots are sorted by name,
//! which is the API server's listing order (etcd key order), so that the plan is the same
//! whether nodes came from a watch or from a NodeList file. A snapshot is a
//! [`SelectedNodes`]: the nodes with their eligibility and reported presence, shared by the
//! service and the prepuller. A watch event makes the next snapshot from the last one
//! ([`SelectedNodes::with_node`], [`SelectedNodes::without_node`]): only the changed node is
//! judged and only the digests it gains or loses are touched; unchanged nodes are shared with
//! the previous snapshot (`Arc<NodeInfo>`), never copied; an event that changes nothing
//! rsp-images reads (a kubelet heartbeat) publishes nothing. Only a relist builds the
//! snapshot from the whole list. No full `Node` objects are kept: nothing reads them.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use rsp_model::node::{CachedImage, ImageNames, NodeInfo, Taint, Toleration};
use rsp_model::selected::SelectedNodes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backoff::WatchBackoff;

/// The selected nodes at one moment, in listing order, with what is derived from them.
pub type NodeSnapshot = Arc<SelectedNodes>;

/// What the image side needs from a `Node`. Taints with an empty value count as having none
/// (the API does not distinguish the two), image entries without names are skipped
/// (behaviour.md §7.2) and a node without a `Ready` condition has `ready: None`. Image names
/// are shared through `image_names` with the other nodes converted through it.
pub fn node_info(node: &Node, image_names: &mut ImageNames) -> NodeInfo {
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let taints = spec
        .and_then(|spec| spec.taints.as_ref())
        .map(|taints| {
            taints
                .iter()
                .map(|taint| Taint {
                    key: taint.key.clone(),
                    value: taint.value.clone().filter(|value| !value.is_empty()),
                    effect: taint.effect.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let ready_condition = status
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"));
    let ready = ready_condition.map(|condition| condition.status == "True");
    let ready_since = ready_condition
        .and_then(|condition| condition.last_transition_time.as_ref())
        .and_then(|time| {
            let nanos = u32::try_from(time.0.subsec_nanosecond()).unwrap_or(0);
            chrono::DateTime::from_timestamp(time.0.as_second(), nanos)
        });
    let images = status
        .and_then(|status| status.images.as_ref())
        .map(|images| {
            images
                .iter()
                .filter_map(|image| {
                    let names = image.names.as_ref().filter(|names| !names.is_empty())?;
                    Some(CachedImage {
                        references: names.iter().map(|name| image_names.share(name)).collect(),
                        size: image.size_bytes.and_then(|size| u64::try_from(size).ok()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    NodeInfo {
        name: node.metadata.name.clone().unwrap_or_default(),
        labels: node.metadata.labels.clone().unwrap_or_default(),
        taints,
        unschedulable: spec.and_then(|spec| spec.unschedulable).unwrap_or(false),
        ready,
        ready_since,
        images,
    }
}

/// The `lab.nodeSelector` map as a label selector string, `k1=v1,k2=v2` in key order.
pub fn label_selector(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A running node watcher. Dropping it stops the watch.
pub struct NodeWatcher {
    snapshots: watch::Receiver<Option<NodeSnapshot>>,
    task: JoinHandle<()>,
}

/// Which nodes a watcher selects and how their eligibility is judged.
#[derive(Debug, Clone, Default)]
pub struct NodeSelection {
    /// `lab.nodeSelector`: the labels a node must carry.
    pub selector: BTreeMap<String, String>,
    /// What eligibility is judged with (`lab.tolerations` plus the warm taint's).
    pub tolerations: Vec<Toleration>,
}

impl NodeWatcher {
    /// Starts watching the nodes that carry every label of the selector. The first snapshot
    /// is published once the initial list is complete; until then [`NodeWatcher::subscribe`]
    /// yields `None`.
    pub fn start(client: Client, selection: NodeSelection) -> NodeWatcher {
        let api: Api<Node> = Api::all(client);
        let mut config = watcher::Config::default();
        if !selection.selector.is_empty() {
            config = config.labels(&label_selector(&selection.selector));
        }
        let (sender, snapshots) = watch::channel(None);
        let events = watcher(api, config).backoff(WatchBackoff::default());
        let task = tokio::spawn(async move {
            let mut events = std::pin::pin!(events);
            let mut table = NodeTable::new(selection);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        if table.apply(&event) {
                            sender.send_replace(Some(table.snapshot()));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Node watch failed, retrying with backoff");
                    }
                }
            }
        });
        NodeWatcher { snapshots, task }
    }

    /// A receiver of snapshots: `None` until the first complete list, then every change.
    pub fn subscribe(&self) -> watch::Receiver<Option<NodeSnapshot>> {
        self.snapshots.clone()
    }

    /// Completes if the watch task ends, which it never should (errors are retried): with its
    /// panic, if it panicked. The service supervises it through this.
    pub async fn ended(&mut self) -> Result<(), tokio::task::JoinError> {
        (&mut self.task).await
    }
}

impl Drop for NodeWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The selected nodes as the image side sees them, kept up to date from watcher events.
///
/// Only changes that matter publish a snapshot: kubelet's periodic status reports
/// (heartbeats) and other status noise convert to an identical [`NodeInfo`] and are dropped
/// here, so neither the prepuller nor the service re-plans or rebuilds anything for them.
#[derive(Debug, Default)]
struct NodeTable {
    selection: NodeSelection,
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    /// Objects of a relist in progress, swapped in at `InitDone`.
    relist: Option<BTreeMap<String, Arc<NodeInfo>>>,
    /// The last snapshot, once the first list is complete.
    snapshot: Option<NodeSnapshot>,
    /// The image names of the nodes, one copy each.
    image_names: ImageNames,
}

impl NodeTable {
    fn new(selection: NodeSelection) -> NodeTable {
        NodeTable {
            selection,
            ..NodeTable::default()
        }
    }

    /// Applies one event; returns whether a new snapshot should be published.
    fn apply(&mut self, event: &watcher::Event<Node>) -> bool {
        match event {
            watcher::Event::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            watcher::Event::InitApply(node) => {
                let info = node_info(node, &mut self.image_names);
                // A node the relist finds unchanged keeps its shared value.
                let info = match self.nodes.get(&info.name) {
                    Some(known) if **known == info => Arc::clone(known),
                    _ => Arc::new(info),
                };
                self.relist
                    .get_or_insert_with(BTreeMap::new)
                    .insert(info.name.clone(), info);
                false
            }
            watcher::Event::InitDone => {
                let relisted = self.relist.take().unwrap_or_default();
                let changed = self.snapshot.is_none() || relisted != self.nodes;
                self.nodes = relisted;
                if changed {
                    self.snapshot = Some(Arc::new(SelectedNodes::new(
                        self.nodes.values().cloned(),
                        &self.selection.selector,
                        &self.selection.tolerations,
                    )));
                }
                changed
            }
            watcher::Event::Apply(node) => {
                let info = node_info(node, &mut self.image_names);
                if self
                    .nodes
                    .get(&info.name)
                    .is_some_and(|known| **known == info)
                {
                    return false;
                }
                let info = Arc::new(info);
                self.nodes.insert(info.name.clone(), Arc::clone(&info));
                self.advance(|snapshot| snapshot.with_node(info))
            }
            watcher::Event::Delete(node) => {
                let name = node.metadata.name.as_deref().unwrap_or_default();
                self.nodes.remove(name).is_some()
                    && self.advance(|snapshot| snapshot.without_node(name))
            }
        }
    }

    /// Makes the next snapshot from the last one; returns whether there is one (none before
    /// the first list, or when the event changed nothing the snapshot holds).
    fn advance(&mut self, next: impl FnOnce(&SelectedNodes) -> Option<SelectedNodes>) -> bool {
        let Some(next) = self.snapshot.as_deref().and_then(next) else {
            return false;
        };
        self.snapshot = Some(Arc::new(next));
        true
    }

    /// Nodes sorted by name (the API server's listing order, etcd key order), with their
    /// eligibility and presence; each node is shared, not copied.
    fn snapshot(&self) -> NodeSnapshot {
        self.snapshot.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_reads_labels_taints_readiness_and_named_images() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node1", "labels": {"a": "1"}},
            "spec": {
                "unschedulable": true,
                "taints": [
                    {"key": "k", "value": "v", "effect": "NoSchedule"},
                    {"key": "bare", "value": "", "effect": "NoExecute"}
                ]
            },
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "Unknown"}
                ],
                "images": [
                    {"names": ["r/a@sha256:1", "r/a:t"], "sizeBytes": 69105},
                    {"names": [], "sizeBytes": 5},
                    {"sizeBytes": 6}
                ]
            }
        }))
        .unwrap();
        let info = node_info(&node, &mut ImageNames::default());
        assert_eq!(info.name, "node1");
        assert_eq!(info.labels.get("a").map(String::as_str), Some("1"));
        assert!(info.unschedulable);
        assert_eq!(info.ready, Some(false));
        assert_eq!(info.taints[0].value.as_deref(), Some("v"));
        assert_eq!(info.taints[1].value, None);
        assert_eq!(
            info.images,
            [CachedImage {
                references: vec!["r/a@sha256:1".into(), "r/a:t".into()],
                size: Some(69105),
            }]
        );
    }

    #[test]
    fn bare_node_is_ready_unknown_and_empty() {
        let node: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
        let info = node_info(&node, &mut ImageNames::default());
        assert_eq!(info.ready, None);
        assert!(info.images.is_empty() && info.taints.is_empty() && !info.unschedulable);
    }

    fn named(name: &str, labels: serde_json::Value) -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}}))
            .unwrap()
    }

    #[test]
    fn the_table_publishes_only_real_changes() {
        let mut table = NodeTable::default();
        assert!(!table.apply(&watcher::Event::Init));
        assert!(!table.apply(&watcher::Event::InitApply(named(
            "b",
            serde_json::json!({})
        ))));
        assert!(!table.apply(&watcher::Event::InitApply(named(
            "a",
            serde_json::json!({})
        ))));
        assert!(
            table.apply(&watcher::Event::InitDone),
            "the first list is always published"
        );
        let names: Vec<_> = table.snapshot().iter().map(|n| n.name.clone()).collect();
        assert_eq!(names, ["a", "b"]);
        let mut heartbeat = named("a", serde_json::json!({}));
        heartbeat.metadata.resource_version = Some("42".into());
        assert!(
            !table.apply(&watcher::Event::Apply(heartbeat)),
            "no-op updates are dropped"
        );
        assert!(table.apply(&watcher::Event::Apply(named(
            "a",
            serde_json::json!({"x": "1"})
        ))));
        assert!(table.apply(&watcher::Event::Delete(named("b", serde_json::json!({})))));
        assert!(!table.apply(&watcher::Event::Delete(named("zz", serde_json::json!({})))));
        // A relist that finds the same nodes publishes nothing.
        table.apply(&watcher::Event::Init);
        table.apply(&watcher::Event::InitApply(named(
            "a",
            serde_json::json!({"x": "1"}),
        )));
        assert!(!table.apply(&watcher::Event::InitDone));
    }

    #[test]
    fn unchanged_nodes_are_shared_between_snapshots_not_copied() {
        let mut table = NodeTable::default();
        table.apply(&watcher::Event::Init);
        for name in ["a", "b"] {
            table.apply(&watcher::Event::InitApply(named(
                name,
                serde_json::json!({}),
            )));
        }
        table.apply(&watcher::Event::InitDone);
        let before = table.snapshot();
        assert!(table.apply(&watcher::Event::Apply(named(
            "b",
            serde_json::json!({"x": "1"})
        ))));
        let after = table.snapshot();
        assert!(
            Arc::ptr_eq(&before.nodes()[0], &after.nodes()[0]),
            "a is shared"
        );
        assert!(
            !Arc::ptr_eq(&before.nodes()[1], &after.nodes()[1]),
            "b changed"
        );
        // A relist that finds a node unchanged keeps sharing it.
        table.apply(&watcher::Event::Init);
        table.apply(&watcher::Event::InitApply(named(
            "a",
            serde_json::json!({}),
        )));
        assert!(table.apply(&watcher::Event::InitDone), "b is gone");
        assert!(Arc::ptr_eq(&after.nodes()[0], &table.snapshot().nodes()[0]));
    }

    /// A node as kubelet keeps it: Ready since a fixed time, an image, and the time of its
    /// last status report.
    fn reporting(name: &str, heartbeat: &str, unschedulable: bool) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "resourceVersion": heartbeat},
            "spec": {"unschedulable": unschedulable},
            "status": {
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": heartbeat,
                    "lastTransitionTime": "2077-01-01T00:00:00Z"
                }],
                "images": [{"names": ["r/a@sha256:1", "r/a:t"], "sizeBytes": 7}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_heartbeat_publishes_nothing_and_a_change_publishes_the_whole_lists_snapshot() {
        let mut table = NodeTable::default();
        table.apply(&watcher::Event::Init);
        for name in ["a", "b", "c"] {
            table.apply(&watcher::Event::InitApply(reporting(
                name,
                "2077-01-01T00:00:10Z",
                false,
            )));
        }
        assert!(table.apply(&watcher::Event::InitDone));
        let before = table.snapshot();
        // kubelet's periodic report changes only lastHeartbeatTime (and resourceVersion).
        assert!(
            !table.apply(&watcher::Event::Apply(reporting(
                "b",
                "2077-01-01T00:00:20Z",
                false
            ))),
            "a heartbeat publishes nothing"
        );
        assert!(
            Arc::ptr_eq(&before, &table.snapshot()),
            "nor makes a snapshot"
        );
        // A cordon is a change: the next snapshot is the one the whole list gives.
        let cordoned = reporting("b", "2077-01-01T00:00:30Z", true);
        assert!(table.apply(&watcher::Event::Apply(cordoned.clone())));
        let after = table.snapshot();
        let whole = SelectedNodes::from_owned(
            [
                node_info(
                    &reporting("a", "2077-01-01T00:00:40Z", false),
                    &mut ImageNames::default(),
                ),
                node_info(&cordoned, &mut ImageNames::default()),
                node_info(
                    &reporting("c", "2077-01-01T00:00:40Z", false),
                    &mut ImageNames::default(),
                ),
            ],
            &BTreeMap::new(),
            &[],
        );
        assert_eq!(*after, whole);
        assert!(!after.eligibility()[1].is_eligible());
        assert!(
            Arc::ptr_eq(&before.nodes()[0], &after.nodes()[0]),
            "a is shared"
        );
        assert!(table.apply(&watcher::Event::Delete(cordoned)));
        let last = table.snapshot();
        let names: Vec<&str> = last.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn snapshots_carry_eligibility_judged_with_the_selection() {
        let mut table = NodeTable::new(NodeSelection {
            selector: BTreeMap::from([("pool".to_string(), "lab".to_string())]),
            tolerations: Vec::new(),
        });
        table.apply(&watcher::Event::Init);
        let mut cordoned = named("a", serde_json::json!({"pool": "lab"}));
        cordoned.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        });
        table.apply(&watcher::Event::InitApply(cordoned));
        table.apply(&watcher::Event::InitApply(named(
            "b",
            serde_json::json!({"pool": "lab"}),
        )));
        table.apply(&watcher::Event::InitApply(named(
            "c",
            serde_json::json!({}),
        )));
        table.apply(&watcher::Event::InitDone);
        let snapshot = table.snapshot();
        let names: Vec<&str> = snapshot.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "only selected nodes");
        let eligible: Vec<&str> = snapshot.eligible().map(|n| n.name.as_str()).collect();
        assert_eq!(eligible, ["b"]);
    }

    #[test]
    fn selector_string_is_in_key_order() {
        let selector = BTreeMap::from([
            ("status".to_string(), "online".to_string()),
            ("nublado".to_string(), "eligible".to_string()),
        ]);
        assert_eq!(label_selector(&selector), "nublado=eligible,status=online");
        assert_eq!(label_selector(&BTreeMap::new()), "");
    }
}
