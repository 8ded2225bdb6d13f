//! `node("name").label(..).taint(..).image(..)` and `pod("name", "image").node(..)`:
//! concise nodes and pods for tests.
//!
//! They build typed `k8s_openapi` objects, so tests read like the objects the prepuller
//! sees; a node is Ready and schedulable unless told otherwise.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerImage, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec, Taint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

/// A node under construction; see [`node`].
#[derive(Clone, Debug, Default)]
pub struct NodeSpecBuilder {
    name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    images: Vec<ContainerImage>,
    unschedulable: bool,
    ready: Option<bool>,
    no_conditions: bool,
}

/// Starts a Ready, schedulable node called `name` with no labels, taints or images.
pub fn node(name: &str) -> NodeSpecBuilder {
    NodeSpecBuilder {
        name: name.to_string(),
        ready: Some(true),
        ..Default::default()
    }
}

/// [`node`] carrying the lab node selector label of the original's tests
/// ([`crate::builders::LAB_LABEL`]).
pub fn lab_node(name: &str) -> NodeSpecBuilder {
    let (key, value) = crate::builders::LAB_LABEL;
    node(name).label(key, value)
}

impl NodeSpecBuilder {
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// Adds a taint; an empty `value` leaves the taint without one.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.to_string(),
            value: (!value.is_empty()).then(|| value.to_string()),
            effect: effect.to_string(),
            time_added: None,
        });
        self
    }

    /// Adds an image the node already holds, by its names (`repo@sha256:…`, `repo:tag`).
    pub fn image<S: AsRef<str>>(mut self, names: &[S], size_bytes: i64) -> Self {
        self.images.push(ContainerImage {
            names: Some(names.iter().map(|n| n.as_ref().to_string()).collect()),
            size_bytes: Some(size_bytes),
        });
        self
    }

    /// Cordons the node (`spec.unschedulable: true`).
    pub fn unschedulable(mut self) -> Self {
        self.unschedulable = true;
        self
    }

    /// Makes the Ready condition False; the simulated kubelet then runs no pods there.
    pub fn not_ready(mut self) -> Self {
        self.ready = Some(false);
        self
    }

    /// Reports no conditions at all (decisions.md §5.2: such a node counts as ready).
    pub fn no_conditions(mut self) -> Self {
        self.no_conditions = true;
        self
    }

    pub fn build(self) -> Node {
        let conditions = (!self.no_conditions).then(|| {
            vec![NodeCondition {
                type_: "Ready".into(),
                status: if self.ready == Some(true) {
                    "True"
                } else {
                    "False"
                }
                .into(),
                reason: Some(
                    if self.ready == Some(true) {
                        "KubeletReady"
                    } else {
                        "KubeletNotReady"
                    }
                    .into(),
                ),
                // kubelet sets it when the condition changes; warm nodes count from it.
                last_transition_time: Some(Time(Timestamp::now())),
                ..Default::default()
            }]
        });
        Node {
            metadata: ObjectMeta {
                name: Some(self.name),
                labels: (!self.labels.is_empty()).then_some(self.labels),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: (!self.taints.is_empty()).then_some(self.taints),
                unschedulable: self.unschedulable.then_some(true),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions,
                images: Some(self.images),
                ..Default::default()
            }),
        }
    }
}

impl From<NodeSpecBuilder> for Node {
    fn from(b: NodeSpecBuilder) -> Node {
        b.build()
    }
}

/// A pod under construction; see [`pod`].
#[derive(Clone, Debug, Default)]
pub struct PodBuilder {
    meta: ObjectMeta,
    image: String,
    node: Option<String>,
}

/// Starts a pod called `name` (empty: use [`PodBuilder::generate_name`]) with one container
/// `c` running `image`, unbound, in the default namespace.
pub fn pod(name: &str, image: &str) -> PodBuilder {
    PodBuilder {
        meta: ObjectMeta {
            name: (!name.is_empty()).then(|| name.to_string()),
            ..Default::default()
        },
        image: image.to_string(),
        node: None,
    }
}

impl PodBuilder {
    pub fn namespace(mut self, ns: &str) -> Self {
        self.meta.namespace = Some(ns.to_string());
        self
    }

    pub fn generate_name(mut self, prefix: &str) -> Self {
        self.meta.generate_name = Some(prefix.to_string());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.meta
            .labels
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value.to_string());
        self
    }

    /// Binds the pod to a node (`spec.nodeName`), so the simulated kubelet runs it.
    pub fn node(mut self, node: &str) -> Self {
        self.node = Some(node.to_string());
        self
    }

    pub fn build(self) -> Pod {
        Pod {
            metadata: self.meta,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(self.image),
                    ..Default::default()
                }],
                node_name: self.node,
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
            status: None,
        }
    }
}

impl From<PodBuilder> for Pod {
    fn from(b: PodBuilder) -> Pod {
        b.build()
    }
}
