//! Where each digest is cached: node names per digest, and sizes reported by nodes.
//!
//! Kept outside the immutable catalog (behaviour.md §3.5, §13): marking a digest on a node is a
//! cheap update of this map, and every tag of that digest, in every view of the catalog, sees
//! it, because images are looked up here by digest.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePresence {
    nodes: HashMap<String, BTreeSet<String>>,
    sizes: HashMap<String, u64>,
}

impl NodePresence {
    pub fn new() -> NodePresence {
        NodePresence::default()
    }

    /// Records that `node` caches `digest`; true if it was not known yet.
    pub fn mark(&mut self, digest: &str, node: &str) -> bool {
        match self.nodes.get_mut(digest) {
            Some(nodes) => nodes.insert(node.to_string()),
            None => {
                self.nodes
                    .insert(digest.to_string(), BTreeSet::from([node.to_string()]));
                true
            }
        }
    }

    /// Records a size reported by a node for `digest`; it replaces the registry's size. Zero is
    /// ignored, as kubelet reports 0 when it does not know (and as the original did).
    pub fn set_size(&mut self, digest: &str, size: u64) {
        if size > 0 {
            self.sizes.insert(digest.to_string(), size);
        }
    }

    /// Forgets a node (it left the cluster).
    pub fn remove_node(&mut self, node: &str) {
        self.nodes.retain(|_, nodes| {
            nodes.remove(node);
            !nodes.is_empty()
        });
    }

    /// The nodes caching `digest`, sorted.
    pub fn nodes(&self, digest: &str) -> impl Iterator<Item = &str> + '_ {
        self.nodes
            .get(digest)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    pub fn is_on(&self, digest: &str, node: &str) -> bool {
        self.nodes
            .get(digest)
            .is_some_and(|nodes| nodes.contains(node))
    }

    /// Whether every node of `eligible` caches `digest` (true when `eligible` is empty).
    pub fn is_on_all(&self, digest: &str, eligible: &BTreeSet<String>) -> bool {
        match self.nodes.get(digest) {
            Some(nodes) => eligible.is_subset(nodes),
            None => eligible.is_empty(),
        }
    }

    /// The eligible nodes that do not cache `digest`, sorted.
    pub fn missing<'a>(
        &'a self,
        digest: &str,
        eligible: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        let nodes = self.nodes.get(digest);
        eligible
            .iter()
            .filter(move |n| !nodes.is_some_and(|set| set.contains(*n)))
            .map(String::as_str)
    }

    /// The size a node reported for `digest`, if any.
    pub fn size(&self, digest: &str) -> Option<u64> {
        self.sizes.get(digest).copied()
    }
}
