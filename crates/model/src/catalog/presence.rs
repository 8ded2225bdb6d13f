//! Where each digest is cached: the set of nodes per digest, and sizes reported by nodes.
//!
//! Kept outside the immutable catalog (behaviour.md §3.5, §13): images are looked up here by
//! digest, so every tag of a digest, in every view of the catalog, sees the same nodes.
//!
//! Presence is rebuilt in one go from a node list whenever the nodes change, and it is read
//! far more than it is built: every image of `/spawner/v1/images` asks whether all eligible
//! nodes cache it, and the prepull plan asks it per (node, image). So nodes are numbered once,
//! in name order, and each digest keeps a bit set of node numbers: a question costs one hash
//! of the digest and a few word operations, sets list their nodes sorted by name for free,
//! and a refresh allocates per distinct digest rather than per (node, digest) pair.

use crate::bitset::BitSet;
use crate::node::NodeInfo;
use crate::plan::{PrepullImage, PulledSet};

/// Digest-keyed maps: digests come from registries and kubelets, never from requests, and are
/// hashed tens of thousands of times per refresh, so a fast hasher pays.
type DigestMap<V> = foldhash::HashMap<Box<str>, V>;

/// A set of nodes of one [`NodePresence`] (e.g. the eligible ones), made by
/// [`NodePresence::node_set`]; it means nothing to another presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSet(BitSet);

impl NodeSet {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a presence keeps the sizes nodes report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizes {
    Reported,
    Ignored,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePresence {
    /// Every node's name, sorted and unique: a node's number is its position here.
    names: Vec<String>,
    nodes: DigestMap<BitSet>,
    sizes: DigestMap<u64>,
}

impl NodePresence {
    /// Where each digest is cached on `nodes`: the digest of every image a node reports (its
    /// first reference with a digest, behaviour §7.2), plus the pulls the prepuller saw
    /// succeed there and that the node may not list (kubelet reports at most 50 images).
    /// With `sizes_from_nodes`, the sizes nodes report replace the registry's; the last node
    /// listed wins, and zero (kubelet's "unknown") is ignored, as in the original.
    pub fn from_nodes<'a>(
        nodes: impl IntoIterator<Item = &'a NodeInfo>,
        pulled: &PulledSet,
        sizes_from_nodes: bool,
    ) -> NodePresence {
        let sizes = if sizes_from_nodes {
            Sizes::Reported
        } else {
            Sizes::Ignored
        };
        let mut presence = NodePresence::build(nodes, sizes);
        presence.add_pulled(pulled);
        presence
    }

    /// Where each digest is cached as `nodes` report it, with the sizes they report: what a
    /// node list alone says, computed once per list ([`crate::selected::SelectedNodes`]) and
    /// completed by each consumer with [`NodePresence::with_pulled`].
    pub fn reported_by<'a>(nodes: impl IntoIterator<Item = &'a NodeInfo>) -> NodePresence {
        NodePresence::build(nodes, Sizes::Reported)
    }

    /// This presence plus the pulls the prepuller saw succeed on its nodes: the same as
    /// [`NodePresence::from_nodes`] over the same nodes, without reading their images again.
    pub fn with_pulled(&self, pulled: &PulledSet) -> NodePresence {
        let mut presence = self.clone();
        presence.add_pulled(pulled);
        presence
    }

    /// This presence without the sizes nodes reported (the registry's sizes then stand).
    pub fn without_sizes(mut self) -> NodePresence {
        self.sizes = DigestMap::default();
        self
    }

    fn build<'a>(nodes: impl IntoIterator<Item = &'a NodeInfo>, sizes: Sizes) -> NodePresence {
        let nodes: Vec<&NodeInfo> = nodes.into_iter().collect();
        let mut names: Vec<String> = nodes.iter().map(|node| node.name.clone()).collect();
        names.sort_unstable();
        names.dedup();
        let mut presence = NodePresence {
            names,
            nodes: DigestMap::default(),
            sizes: DigestMap::default(),
        };
        let count = presence.names.len();
        for node in nodes {
            let Some(id) = presence.id(&node.name) else {
                continue;
            };
            for image in &node.images {
                let Some(digest) = image.digest() else {
                    continue;
                };
                presence.mark(digest, id, count);
                if sizes == Sizes::Reported {
                    if let Some(size) = image.size.filter(|&size| size > 0) {
                        presence.sizes.insert(digest.into(), size);
                    }
                }
            }
        }
        presence
    }

    /// Marks the remembered pulls of the nodes this presence knows.
    fn add_pulled(&mut self, pulled: &PulledSet) {
        let count = self.names.len();
        for node in pulled.nodes() {
            let Some(id) = self.id(node) else {
                continue;
            };
            for digest in pulled.digests(node) {
                self.mark(digest, id, count);
            }
        }
    }

    /// Marks the images of `images` that are known by name (an init container's image whose
    /// digest is not known yet) on the nodes that list that name, with the size they report.
    /// Kept apart from [`NodePresence::from_nodes`] so that only the few wanted names are
    /// hashed, not every name of every image of every node.
    pub fn mark_names<'a>(
        &mut self,
        nodes: impl IntoIterator<Item = &'a NodeInfo>,
        images: &[PrepullImage],
    ) {
        let names: Vec<&str> = images
            .iter()
            .filter(|image| image.known_by_name())
            .map(|image| image.digest.as_str())
            .collect();
        if names.is_empty() {
            return;
        }
        let count = self.names.len();
        for node in nodes {
            let Some(id) = self.id(&node.name) else {
                continue;
            };
            for image in &node.images {
                for name in image
                    .references
                    .iter()
                    .filter(|r| names.contains(&r.as_str()))
                {
                    self.mark(name, id, count);
                    if let Some(size) = image.size.filter(|&size| size > 0) {
                        self.sizes.insert(name.as_str().into(), size);
                    }
                }
            }
        }
    }

    fn mark(&mut self, digest: &str, id: u32, count: usize) {
        match self.nodes.get_mut(digest) {
            Some(set) => set.insert(id),
            None => {
                let mut set = BitSet::with_capacity(count);
                set.insert(id);
                self.nodes.insert(digest.into(), set);
            }
        }
    }

    fn id(&self, node: &str) -> Option<u32> {
        self.names
            .binary_search_by(|name| name.as_str().cmp(node))
            .ok()
            .map(|i| i as u32)
    }

    /// A node's name (none for a number of a set made by another presence).
    fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    /// The set of the named nodes; names this presence does not know are left out.
    pub fn node_set<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> NodeSet {
        let mut set = BitSet::with_capacity(self.names.len());
        for id in names.into_iter().filter_map(|name| self.id(name)) {
            set.insert(id);
        }
        NodeSet(set)
    }

    /// The nodes caching `digest`, sorted.
    pub fn nodes(&self, digest: &str) -> impl Iterator<Item = &str> + '_ {
        self.nodes
            .get(digest)
            .into_iter()
            .flat_map(BitSet::iter)
            .filter_map(|id| self.name(id))
    }

    pub fn is_on(&self, digest: &str, node: &str) -> bool {
        match (self.nodes.get(digest), self.id(node)) {
            (Some(set), Some(id)) => set.contains(id),
            _ => false,
        }
    }

    /// Whether every node of `eligible` caches `digest` (true when `eligible` is empty).
    pub fn is_on_all(&self, digest: &str, eligible: &NodeSet) -> bool {
        match self.nodes.get(digest) {
            Some(set) => eligible.0.is_subset(set),
            None => eligible.is_empty(),
        }
    }

    /// The nodes of `eligible` that do not cache `digest`, sorted.
    pub fn missing<'a>(
        &'a self,
        digest: &str,
        eligible: &'a NodeSet,
    ) -> impl Iterator<Item = &'a str> + 'a {
        static NONE: BitSet = BitSet::EMPTY;
        let cached = self.nodes.get(digest).unwrap_or(&NONE);
        eligible.0.difference(cached).filter_map(|id| self.name(id))
    }

    /// The size a node reported for `digest`, if any.
    pub fn size(&self, digest: &str) -> Option<u64> {
        self.sizes.get(digest).copied()
    }
}
