//! The selected nodes at one moment, with what is derived from them alone: each node's
//! eligibility and where each digest is reported cached.
//!
//! Both the service (its served snapshot, the status pages) and the prepuller plan from the
//! same node list. Eligibility and the reported presence depend only on the nodes and the
//! configuration, so they are computed once, where the list is made (the node watcher, or a
//! NodeList file), and shared; what each consumer adds (the pulls it remembers) is added to
//! the shared presence rather than parsed again from every node's image list. Nodes are held
//! as `Arc<NodeInfo>`, so a node event copies one pointer per unchanged node, not the node.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::NodePresence;
use crate::node::{Eligibility, NodeInfo, Toleration};

/// See the module comment. Nodes keep the order they were given in (listing order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectedNodes {
    nodes: Vec<Arc<NodeInfo>>,
    /// The eligibility of each of `nodes`, in the same order.
    eligibility: Vec<Eligibility>,
    /// Where each digest is cached as the nodes report it, with the sizes they report.
    reported: NodePresence,
}

impl SelectedNodes {
    /// The nodes of `nodes` that carry every label of `selector` (a watcher with that selector
    /// gives no others; a NodeList file may), judged with `tolerations`.
    pub fn new(
        nodes: impl IntoIterator<Item = Arc<NodeInfo>>,
        selector: &BTreeMap<String, String>,
        tolerations: &[Toleration],
    ) -> SelectedNodes {
        let nodes: Vec<Arc<NodeInfo>> = nodes
            .into_iter()
            .filter(|node| node.matches_selector(selector))
            .collect();
        let eligibility = nodes
            .iter()
            .map(|node| node.eligibility(tolerations))
            .collect();
        let reported = NodePresence::reported_by(nodes.iter().map(Arc::as_ref));
        SelectedNodes {
            nodes,
            eligibility,
            reported,
        }
    }

    /// As [`SelectedNodes::new`], for nodes not shared yet (tests, dry runs).
    pub fn from_owned(
        nodes: impl IntoIterator<Item = NodeInfo>,
        selector: &BTreeMap<String, String>,
        tolerations: &[Toleration],
    ) -> SelectedNodes {
        SelectedNodes::new(nodes.into_iter().map(Arc::new), selector, tolerations)
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// The nodes as plain references, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.nodes.iter().map(Arc::as_ref)
    }

    /// The eligibility of each node, in the same order as [`SelectedNodes::nodes`].
    pub fn eligibility(&self) -> &[Eligibility] {
        &self.eligibility
    }

    /// The nodes with their eligibility.
    pub fn entries(&self) -> impl Iterator<Item = (&NodeInfo, &Eligibility)> + '_ {
        self.iter().zip(&self.eligibility)
    }

    /// The eligible nodes, in order.
    pub fn eligible(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.entries()
            .filter(|(_, eligibility)| eligibility.is_eligible())
            .map(|(node, _)| node)
    }

    /// Where each digest is cached as the nodes report it (remembered pulls not included:
    /// see [`NodePresence::with_pulled`]).
    pub fn reported(&self) -> &NodePresence {
        &self.reported
    }

    /// The nodes as owned values: a copy, for building another list from this one.
    pub fn to_vec(&self) -> Vec<NodeInfo> {
        self.iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl std::ops::Index<usize> for SelectedNodes {
    type Output = NodeInfo;

    /// The node at a position of [`SelectedNodes::nodes`].
    fn index(&self, index: usize) -> &NodeInfo {
        &self.nodes[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::CachedImage;

    fn node(name: &str, labels: &[(&str, &str)], cached: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            images: cached
                .iter()
                .map(|digest| CachedImage {
                    references: vec![format!("r/x@{digest}")],
                    size: Some(3),
                })
                .collect(),
            ..NodeInfo::default()
        }
    }

    #[test]
    fn keeps_selected_nodes_in_order_with_their_eligibility_and_reports() {
        let selector = BTreeMap::from([("pool".to_string(), "lab".to_string())]);
        let cordoned = NodeInfo {
            unschedulable: true,
            ..node("a", &[("pool", "lab")], &["sha256:1"])
        };
        let nodes = [
            node("c", &[("pool", "lab")], &["sha256:1", "sha256:2"]),
            node("b", &[("pool", "other")], &["sha256:2"]),
            cordoned,
        ];
        let selected = SelectedNodes::from_owned(nodes, &selector, &[]);
        let names: Vec<&str> = selected.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["c", "a"]);
        let eligible: Vec<&str> = selected.eligible().map(|n| n.name.as_str()).collect();
        assert_eq!(eligible, ["c"]);
        assert!(!selected.eligibility()[1].is_eligible());
        let on: Vec<&str> = selected.reported().nodes("sha256:1").collect();
        assert_eq!(on, ["a", "c"]);
        assert!(!selected.reported().is_on("sha256:2", "b"), "not selected");
        assert_eq!(selected.reported().size("sha256:2"), Some(3));
    }
}
