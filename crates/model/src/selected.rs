//! The selected nodes at one moment, with what is derived from them alone: each node's
//! eligibility and where each digest is reported cached.
//!
//! Both the service (its served snapshot, the status pages) and the prepuller plan from the
//! same node list. Eligibility and the reported presence depend only on the nodes and the
//! configuration, so they are computed once, where the list is made (the node watcher, or a
//! NodeList file), and shared; what each consumer adds (the pulls it remembers) is added to
//! the shared presence rather than parsed again from every node's image list. Nodes are held
//! as `Arc<NodeInfo>`, so a node event copies one pointer per unchanged node, not the node.
//!
//! A node event makes the next snapshot from the last one ([`SelectedNodes::with_node`],
//! [`SelectedNodes::without_node`]): the changed node is compared first, so that an event
//! that changes nothing rsp-images reads (a kubelet heartbeat) copies nothing; otherwise only
//! that node's eligibility is judged and only the digests it gains or loses are touched in the
//! presence. The result is the snapshot a rebuild from the whole list would give (a property
//! test holds this over random event sequences).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::NodePresence;
use crate::node::{Eligibility, NodeInfo, Toleration};

/// See the module comment. Nodes keep the order they were given in (listing order); a node
/// that joins goes where name order puts it, which is the node watcher's order (a list given
/// in another order gets it at the end).
#[derive(Debug, Clone, Default)]
pub struct SelectedNodes {
    nodes: Vec<Arc<NodeInfo>>,
    /// The eligibility of each of `nodes`, in the same order.
    eligibility: Vec<Eligibility>,
    /// Where each digest is cached as the nodes report it, with the sizes they report.
    reported: NodePresence,
    /// What nodes are selected and judged with, for the nodes of later events.
    selection: Arc<Selection>,
    /// Whether `nodes` are sorted by name (unique names): nodes are then found by binary
    /// search, and joining nodes keep the order.
    in_name_order: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Selection {
    selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
}

/// Snapshots are equal when they hold equal nodes, in the same order, judged alike.
impl PartialEq for SelectedNodes {
    fn eq(&self, other: &SelectedNodes) -> bool {
        self.nodes == other.nodes
            && self.eligibility == other.eligibility
            && self.reported == other.reported
            && self.selection == other.selection
    }
}

impl Eq for SelectedNodes {}

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
        let in_name_order = nodes.windows(2).all(|pair| pair[0].name < pair[1].name);
        SelectedNodes {
            nodes,
            eligibility,
            reported,
            selection: Arc::new(Selection {
                selector: selector.clone(),
                tolerations: tolerations.to_vec(),
            }),
            in_name_order,
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

    /// The snapshot after `node` was added or updated, or `None` when nothing rsp-images
    /// reads changed (the node is as known, or is not selected and was not known). A node
    /// that no longer carries the selector's labels leaves.
    pub fn with_node(&self, node: Arc<NodeInfo>) -> Option<SelectedNodes> {
        let at = self.position(&node.name);
        if !node.matches_selector(&self.selection.selector) {
            return at.map(|at| self.without_at(at));
        }
        match at {
            Some(at) if *self.nodes[at] == *node => None,
            Some(at) => Some(self.replaced(at, node)),
            None => Some(self.joined(node)),
        }
    }

    /// The snapshot after the node named `name` left, or `None` if it was not known.
    pub fn without_node(&self, name: &str) -> Option<SelectedNodes> {
        self.position(name).map(|at| self.without_at(at))
    }

    fn replaced(&self, at: usize, node: Arc<NodeInfo>) -> SelectedNodes {
        let mut next = self.clone();
        next.eligibility[at] = node.eligibility(&self.selection.tolerations);
        let before = std::mem::replace(&mut next.nodes[at], Arc::clone(&node));
        if before.images != node.images {
            next.reported.restate(&before, &node);
            next.settle_sizes(at, Some(&before));
        }
        next
    }

    fn joined(&self, node: Arc<NodeInfo>) -> SelectedNodes {
        let mut next = self.clone();
        let at = if self.in_name_order {
            self.nodes.partition_point(|known| known.name < node.name)
        } else {
            self.nodes.len()
        };
        next.eligibility
            .insert(at, node.eligibility(&self.selection.tolerations));
        next.nodes.insert(at, Arc::clone(&node));
        next.reported.join(&node.name);
        next.reported.restate(&NodeInfo::default(), &node);
        next.settle_sizes(at, None);
        next
    }

    fn without_at(&self, at: usize) -> SelectedNodes {
        let mut next = self.clone();
        next.eligibility.remove(at);
        let gone = next.nodes.remove(at);
        let id = next.reported.number(&gone.name);
        next.reported.leave(&gone);
        // The sizes it gave now come from the last other node listed that reports one.
        for (digest, _) in sized_digests(&gone) {
            if id.is_some() && next.reported.size_from(digest) == id {
                next.resize_from_list(digest);
            }
        }
        next
    }

    /// Brings the sizes in line after the node at `at` changed from `before` (`None`: it
    /// joined): the last node listed that reports a size for a digest gives it, as in a
    /// rebuild ([`NodePresence::reported_by`]).
    fn settle_sizes(&mut self, at: usize, before: Option<&NodeInfo>) {
        let node = Arc::clone(&self.nodes[at]);
        let Some(id) = self.reported.number(&node.name) else {
            return;
        };
        let now = sized_digests(&node);
        for (digest, size) in &now {
            let later_node_gives_it = match self.reported.size_from(digest) {
                Some(from) if from != id => self
                    .reported
                    .name(from)
                    .and_then(|name| self.position(name))
                    .is_some_and(|from_at| from_at > at),
                _ => false,
            };
            if !later_node_gives_it {
                self.reported.set_size(digest, Some((*size, id)));
            }
        }
        for (digest, _) in before.map(sized_digests).unwrap_or_default() {
            if !now.contains_key(digest) && self.reported.size_from(digest) == Some(id) {
                self.resize_from_list(digest);
            }
        }
    }

    /// The size of `digest` from the last node listed that reports one.
    fn resize_from_list(&mut self, digest: &str) {
        let size = self
            .nodes
            .iter()
            .rev()
            .filter(|node| self.reported.is_on(digest, &node.name))
            .find_map(|node| {
                let size = sized_digests(node).get(digest).copied()?;
                Some((size, self.reported.number(&node.name)?))
            });
        self.reported.set_size(digest, size);
    }

    /// The position of the node named `name`.
    fn position(&self, name: &str) -> Option<usize> {
        if self.in_name_order {
            self.nodes
                .binary_search_by(|node| node.name.as_str().cmp(name))
                .ok()
        } else {
            self.nodes.iter().position(|node| node.name == name)
        }
    }

    /// The node named `name`, with its eligibility.
    pub fn get(&self, name: &str) -> Option<(&NodeInfo, &Eligibility)> {
        self.position(name)
            .map(|at| (&*self.nodes[at], &self.eligibility[at]))
    }

    /// Whether the nodes are sorted by name, as the node watcher lists them.
    pub fn is_in_name_order(&self) -> bool {
        self.in_name_order
    }

    /// The names of the nodes that joined, left or changed since `earlier`, sorted; `None`
    /// when more than `limit` did, or when either list is not in name order (the two are
    /// then not compared). Unchanged nodes are found by pointer: snapshots made by events
    /// share them.
    pub fn changed_since(&self, earlier: &SelectedNodes, limit: usize) -> Option<Vec<String>> {
        if !self.in_name_order || !earlier.in_name_order {
            return None;
        }
        let (old, new) = (&earlier.nodes, &self.nodes);
        let (mut i, mut j) = (0, 0);
        let mut changed = Vec::new();
        while i < old.len() || j < new.len() {
            let name = match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if Arc::ptr_eq(a, b) => {
                    i += 1;
                    j += 1;
                    continue;
                }
                (Some(a), Some(b)) => match a.name.cmp(&b.name) {
                    std::cmp::Ordering::Equal => {
                        i += 1;
                        j += 1;
                        if a == b {
                            continue;
                        }
                        &b.name
                    }
                    std::cmp::Ordering::Less => {
                        i += 1;
                        &a.name
                    }
                    std::cmp::Ordering::Greater => {
                        j += 1;
                        &b.name
                    }
                },
                (Some(a), None) => {
                    i += 1;
                    &a.name
                }
                (None, Some(b)) => {
                    j += 1;
                    &b.name
                }
                (None, None) => break,
            };
            if changed.len() == limit {
                return None;
            }
            changed.push(name.clone());
        }
        Some(changed)
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

/// Each digest a node reports with a size (zero is kubelet's "unknown"), with that size; the
/// node's last entry of a digest wins, as in a rebuild.
fn sized_digests(node: &NodeInfo) -> foldhash::HashMap<&str, u64> {
    node.images
        .iter()
        .filter_map(|image| Some((image.digest()?, image.size.filter(|&size| size > 0)?)))
        .collect()
}

impl std::ops::Index<usize> for SelectedNodes {
    type Output = NodeInfo;

    /// The node at a position of [`SelectedNodes::nodes`].
    fn index(&self, index: usize) -> &NodeInfo {
        &self.nodes[index]
    }
}

#[cfg(test)]
mod event_tests;

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
                    references: vec![format!("r/x@{digest}").into()],
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
