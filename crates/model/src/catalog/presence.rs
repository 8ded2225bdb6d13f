//! Where each digest is cached: the set of nodes per digest, and sizes reported by nodes.
//!
//! Kept outside the immutable catalog (behaviour.md §3.5, §13): images are looked up here by
//! digest, so every tag of a digest, in every view of the catalog, sees the same nodes.
//!
//! Presence is read far more than it is built: every image of `/spawner/v1/images` asks
//! whether all eligible nodes cache it, and the prepull plan asks it per (node, image). So
//! nodes are numbered and each digest keeps a bit set of node numbers: a question costs one
//! hash of the digest and a few word operations, and a build allocates per distinct digest
//! rather than per (node, digest) pair.
//!
//! It is built in one go from a node list (nodes numbered in name order), and then follows
//! node events one node at a time ([`crate::selected::SelectedNodes::with_node`]): numbers
//! are stable (a node keeps its number while it stays; a number freed by a node that left
//! is reused by the next to join), and copies share what they do not change: the numbering
//! until a node joins or leaves, and each digest's set until a node joins or leaves it. A
//! node event therefore copies the sets of the digests that node gains or loses, never the
//! others. Sets list their nodes sorted by name: by their bits while numbers still ascend
//! with names, else by walking the numbers in name order.

use std::sync::Arc;

use crate::bitset::BitSet;
use crate::node::NodeInfo;
use crate::plan::{PrepullImage, PulledSet};

/// Digest-keyed maps: digests come from registries and kubelets, never from requests, and are
/// hashed tens of thousands of times per refresh, so a fast hasher pays. Keys are shared
/// (`Arc<str>`) so that copying a presence for a node event allocates nothing per digest.
type DigestMap<V> = foldhash::HashMap<Arc<str>, V>;

/// A set of nodes of one [`NodePresence`] (e.g. the eligible ones), made by
/// [`NodePresence::node_set`]; it means nothing to another presence, but compares equal to a
/// set of another presence with the same nodes.
#[derive(Debug, Clone, Default)]
pub struct NodeSet {
    members: BitSet,
    numbers: Arc<Numbers>,
}

impl NodeSet {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sets of the same numbering compare their bits; others compare their nodes' names (the
/// numbers of a node differ between a presence built in one go and one that followed events).
impl PartialEq for NodeSet {
    fn eq(&self, other: &NodeSet) -> bool {
        if self.numbers.same_as(&other.numbers) {
            return self.members == other.members;
        }
        self.len() == other.len()
            && self
                .numbers
                .in_name_order(&self.members)
                .map(|id| self.numbers.name(id))
                .eq(other
                    .numbers
                    .in_name_order(&other.members)
                    .map(|id| other.numbers.name(id)))
    }
}

impl Eq for NodeSet {}

/// The numbers of a presence's nodes, shared by its copies until a node joins or leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Numbers {
    /// Each number's node; `None` for a number freed by a node that left.
    names: Vec<Option<Arc<str>>>,
    /// The nodes present with their numbers, sorted by name: how a name finds its number (a
    /// binary search over names held here, one pointer away, as it is asked per (node,
    /// image) by plans and per image by node sets), and the order sets list their nodes in.
    by_name: Vec<(Arc<str>, u32)>,
    /// Numbers freed by nodes that left, reused first.
    free: Vec<u32>,
    /// Whether numbers ascend with names (so a set's bits are already in name order): true
    /// after a build, until a node joins with a number out of place.
    ascending: bool,
}

impl Numbers {
    /// Nodes numbered in the order of `names` (sorted and unique).
    fn sorted(names: Vec<String>) -> Numbers {
        let names: Vec<Arc<str>> = names.into_iter().map(Arc::from).collect();
        Numbers {
            by_name: names.iter().cloned().zip(0..).collect(),
            names: names.into_iter().map(Some).collect(),
            free: Vec::new(),
            ascending: true,
        }
    }

    /// Whether two numberings give every node the same number (cheap when shared).
    fn same_as(self: &Arc<Self>, other: &Arc<Numbers>) -> bool {
        Arc::ptr_eq(self, other) || (self.names == other.names && self.by_name == other.by_name)
    }

    fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize)?.as_deref()
    }

    /// Where `node` is (`Ok`) or would go (`Err`) in `by_name`.
    fn position(&self, node: &str) -> Result<usize, usize> {
        self.by_name
            .binary_search_by(|(name, _)| (**name).cmp(node))
    }

    fn id(&self, node: &str) -> Option<u32> {
        self.position(node).ok().map(|at| self.by_name[at].1)
    }

    /// The numbers of the nodes present, in name order.
    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_name.iter().map(|&(_, id)| id)
    }

    /// How many numbers are in use or free: the room a set needs.
    fn capacity(&self) -> usize {
        self.names.len()
    }

    /// Numbers `node` (a freed number if there is one); its number if it has one already.
    fn add(&mut self, node: &str) -> u32 {
        let at = match self.position(node) {
            Ok(at) => return self.by_name[at].1,
            Err(at) => at,
        };
        let name: Arc<str> = Arc::from(node);
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = Some(Arc::clone(&name));
                id
            }
            None => {
                self.names.push(Some(Arc::clone(&name)));
                (self.names.len() - 1) as u32
            }
        };
        self.by_name.insert(at, (name, id));
        let after_previous = at == 0 || self.by_name[at - 1].1 < id;
        let before_next = self.by_name.get(at + 1).is_none_or(|&(_, next)| id < next);
        self.ascending &= after_previous && before_next;
        id
    }

    /// Frees the number of `node`; returns it.
    fn remove(&mut self, node: &str) -> Option<u32> {
        let at = self.position(node).ok()?;
        let (_, id) = self.by_name.remove(at);
        self.names[id as usize] = None;
        self.free.push(id);
        Some(id)
    }

    /// The members of a set of these numbers, in name order.
    fn in_name_order<'a>(&'a self, members: &'a BitSet) -> Box<dyn Iterator<Item = u32> + 'a> {
        if self.ascending {
            Box::new(members.iter())
        } else {
            Box::new(self.ids().filter(|&id| members.contains(id)))
        }
    }
}

/// Whether a presence keeps the sizes nodes report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizes {
    Reported,
    Ignored,
}

/// A size a node reported for a digest, and which node (the last listed wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReportedSize {
    size: u64,
    /// The node's number; [`NO_NODE`] for a size not kept per node (images known by name).
    node: u32,
}

const NO_NODE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub struct NodePresence {
    numbers: Arc<Numbers>,
    nodes: DigestMap<Arc<BitSet>>,
    sizes: DigestMap<ReportedSize>,
}

/// Presences are equal when they know the same nodes, each digest on the same nodes, with the
/// same sizes, however their nodes are numbered.
impl PartialEq for NodePresence {
    fn eq(&self, other: &NodePresence) -> bool {
        let sizes_equal = self.sizes.len() == other.sizes.len()
            && self.sizes.iter().all(|(digest, size)| {
                other
                    .sizes
                    .get(digest)
                    .is_some_and(|theirs| theirs.size == size.size)
            });
        if !sizes_equal || self.nodes.len() != other.nodes.len() {
            return false;
        }
        if self.numbers.same_as(&other.numbers) {
            return self.nodes.iter().all(|(digest, set)| {
                other
                    .nodes
                    .get(digest)
                    .is_some_and(|theirs| Arc::ptr_eq(set, theirs) || set == theirs)
            });
        }
        let (mine, theirs) = (&self.numbers, &other.numbers);
        let same_nodes = mine.by_name.len() == theirs.by_name.len()
            && mine
                .by_name
                .iter()
                .zip(&theirs.by_name)
                .all(|((a, _), (b, _))| a == b);
        if !same_nodes {
            return false;
        }
        // The other presence's number of each of this one's nodes.
        let mut translate = vec![NO_NODE; mine.capacity()];
        for (a, b) in mine.ids().zip(theirs.ids()) {
            translate[a as usize] = b;
        }
        self.nodes.iter().all(|(digest, set)| {
            other.nodes.get(digest).is_some_and(|theirs| {
                set.len() == theirs.len()
                    && set.iter().all(|a| {
                        let b = translate.get(a as usize).copied().unwrap_or(NO_NODE);
                        theirs.contains(b)
                    })
            })
        })
    }
}

impl Eq for NodePresence {}

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
            numbers: Arc::new(Numbers::sorted(names)),
            nodes: DigestMap::default(),
            sizes: DigestMap::default(),
        };
        for node in nodes {
            let Some(id) = presence.id(&node.name) else {
                continue;
            };
            for image in &node.images {
                let Some(digest) = image.digest() else {
                    continue;
                };
                presence.mark(digest, id);
                if sizes == Sizes::Reported {
                    if let Some(size) = image.size.filter(|&size| size > 0) {
                        presence.set_size(digest, Some((size, id)));
                    }
                }
            }
        }
        presence
    }

    /// Marks the remembered pulls of the nodes this presence knows.
    fn add_pulled(&mut self, pulled: &PulledSet) {
        for node in pulled.nodes() {
            let Some(id) = self.id(node) else {
                continue;
            };
            for digest in pulled.digests(node) {
                self.mark(digest, id);
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
        for node in nodes {
            let Some(id) = self.id(&node.name) else {
                continue;
            };
            for image in &node.images {
                for name in image
                    .references
                    .iter()
                    .filter(|name| names.contains(&name.as_ref()))
                {
                    self.mark(name, id);
                    if let Some(size) = image.size.filter(|&size| size > 0) {
                        self.set_size(name, Some((size, NO_NODE)));
                    }
                }
            }
        }
    }

    /// Puts node `id` into the set of `digest`, copying the set only if it changes.
    fn mark(&mut self, digest: &str, id: u32) {
        match self.nodes.get_mut(digest) {
            Some(set) if set.contains(id) => {}
            Some(set) => Arc::make_mut(set).insert(id),
            None => {
                // Most digests are on a few nodes: the set lists them (see `BitSet`).
                let mut set = BitSet::EMPTY;
                set.insert(id);
                self.nodes.insert(digest.into(), Arc::new(set));
            }
        }
    }

    /// Takes node `id` out of the set of `digest` (a digest on no node is forgotten).
    fn unmark(&mut self, digest: &str, id: u32) {
        let Some(set) = self.nodes.get_mut(digest) else {
            return;
        };
        if !set.contains(id) {
            return;
        }
        Arc::make_mut(set).remove(id);
        if set.is_empty() {
            self.nodes.remove(digest);
        }
    }

    fn id(&self, node: &str) -> Option<u32> {
        self.numbers.id(node)
    }

    /// Numbers a node that joins (see the module comment); the numbering is copied here,
    /// once per join.
    pub(crate) fn join(&mut self, node: &str) -> u32 {
        Arc::make_mut(&mut self.numbers).add(node)
    }

    /// Forgets a node that left: its digests (as `info` reports them) and its number.
    /// Sizes it reported are the caller's to settle ([`NodePresence::size_from`]).
    pub(crate) fn leave(&mut self, info: &NodeInfo) {
        let Some(id) = self.id(&info.name) else {
            return;
        };
        for digest in info.images.iter().filter_map(|image| image.digest()) {
            self.unmark(digest, id);
        }
        Arc::make_mut(&mut self.numbers).remove(&info.name);
    }

    /// Moves a known node from what `before` reports to what `after` reports: only the sets
    /// of the digests it gains or loses change (and are copied).
    pub(crate) fn restate(&mut self, before: &NodeInfo, after: &NodeInfo) {
        let Some(id) = self.id(&after.name) else {
            return;
        };
        let now: foldhash::HashSet<&str> = after
            .images
            .iter()
            .filter_map(|image| image.digest())
            .collect();
        for digest in before.images.iter().filter_map(|image| image.digest()) {
            if !now.contains(digest) {
                self.unmark(digest, id);
            }
        }
        for digest in now {
            self.mark(digest, id);
        }
    }

    /// The number of the node whose reported size `digest` has, if any.
    pub(crate) fn size_from(&self, digest: &str) -> Option<u32> {
        self.sizes.get(digest).map(|size| size.node)
    }

    /// The node of a number (none for a number of a set made by another presence).
    pub(crate) fn name(&self, id: u32) -> Option<&str> {
        self.numbers.name(id)
    }

    /// The number of a node.
    pub(crate) fn number(&self, node: &str) -> Option<u32> {
        self.id(node)
    }

    /// Sets (or, with `None`, forgets) the size of `digest`, as reported by node number `id`.
    pub(crate) fn set_size(&mut self, digest: &str, size: Option<(u64, u32)>) {
        match size {
            Some((size, node)) => match self.sizes.get_mut(digest) {
                Some(known) => *known = ReportedSize { size, node },
                None => {
                    self.sizes
                        .insert(digest.into(), ReportedSize { size, node });
                }
            },
            None => {
                self.sizes.remove(digest);
            }
        }
    }

    /// The set of the named nodes; names this presence does not know are left out.
    pub fn node_set<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> NodeSet {
        let mut set = BitSet::with_capacity(self.numbers.capacity());
        for id in names.into_iter().filter_map(|name| self.id(name)) {
            set.insert(id);
        }
        NodeSet {
            members: set,
            numbers: Arc::clone(&self.numbers),
        }
    }

    /// The nodes caching `digest`, sorted.
    pub fn nodes(&self, digest: &str) -> impl Iterator<Item = &str> + '_ {
        self.nodes
            .get(digest)
            .into_iter()
            .flat_map(|set| self.numbers.in_name_order(set))
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
            Some(set) => eligible.members.is_subset(set),
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
        let cached: &BitSet = self.nodes.get(digest).map_or(&NONE, |set| set);
        let ids: Box<dyn Iterator<Item = u32> + 'a> = if self.numbers.ascending {
            Box::new(eligible.members.difference(cached))
        } else {
            Box::new(
                self.numbers
                    .in_name_order(&eligible.members)
                    .filter(move |&id| !cached.contains(id)),
            )
        };
        ids.filter_map(|id| self.name(id))
    }

    /// The size a node reported for `digest`, if any.
    pub fn size(&self, digest: &str) -> Option<u64> {
        self.sizes.get(digest).map(|size| size.size)
    }
}
