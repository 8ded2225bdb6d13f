//! The prepull plan: which images each eligible node still needs, in the order to pull them.
//!
//! This is the pure half of the prepuller (behaviour.md §8.4, decisions.md §5 fix 2 and §6):
//! given the prepull images in priority order, the nodes as listed, the lab node selector and
//! tolerations, and the (node, digest) pulls already remembered as successful, it lists per
//! eligible node the images whose digest the node neither reports nor has been seen to pull.
//! Kept free of I/O so that the live prepuller, the `plan` command and the status page all
//! derive the same answer from the same inputs.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::NodePresence;
use crate::node::{NodeInfo, Toleration};
use crate::platform::{PlatformSupport, Platforms};
use crate::selected::SelectedNodes;

/// One image the policy wants on every eligible node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrepullImage {
    /// The tag the image is known by (used for the pod name).
    pub tag: String,
    /// `registry/repository:tag@digest`, the image a prepull pod runs.
    pub reference_with_digest: String,
    /// The content digest, `sha256:…`; what node caches are compared by. An init container's
    /// image whose digest is not known yet holds here the name kubelet lists it by
    /// (`docker.io/library/busybox:1.36`, see `init_image`), and is compared by that name.
    pub digest: String,
    /// The platforms the image runs on, as far as the registry told.
    pub platforms: Platforms,
}

impl PrepullImage {
    /// Whether the image is known by its name rather than its digest (an init container's
    /// image before its registry answered): a normalised name always holds a `/`, a digest
    /// (`algorithm:hex`, OCI image spec) never does.
    pub fn known_by_name(&self) -> bool {
        self.digest.contains('/')
    }

    /// Whether the image can be pulled onto `node`: not when the registry says the node's
    /// platform is not among the image's (kubelet would fail with "no match for platform",
    /// every time). Unknown platforms, or a node without a `kubernetes.io/arch` label, keep
    /// the pull.
    pub fn can_run_on(&self, node: &NodeInfo) -> bool {
        self.can_run_on_platform(node.os(), node.arch())
    }

    /// [`PrepullImage::can_run_on`] for a node's `kubernetes.io/os` and `kubernetes.io/arch`
    /// read once, for callers that ask about many images per node.
    pub fn can_run_on_platform(&self, os: Option<&str>, arch: Option<&str>) -> bool {
        self.platforms.support(os, arch) != PlatformSupport::Unsupported
    }
}

/// The images one node still needs, most important first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePulls {
    pub node: String,
    pub images: Vec<PlannedImage>,
}

/// An image of a plan: shared by every node that misses it (a plan of 5,000 nodes × 50
/// images holds 50 images, not 250,000 copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage(Arc<PrepullImage>);

impl std::ops::Deref for PlannedImage {
    type Target = PrepullImage;

    fn deref(&self) -> &PrepullImage {
        &self.0
    }
}

impl PartialEq<PrepullImage> for PlannedImage {
    fn eq(&self, other: &PrepullImage) -> bool {
        *self.0 == *other
    }
}

/// Every eligible node that misses at least one image, in node listing order.
#[derive(Debug, Clone, Default)]
pub struct PrepullPlan {
    pub nodes: Vec<NodePulls>,
    /// The images planned, each digest once, in priority order: what
    /// [`PrepullPlan::update_node`] plans a node with.
    images: Vec<PlannedImage>,
}

/// Plans are equal when they list the same pulls.
impl PartialEq for PrepullPlan {
    fn eq(&self, other: &PrepullPlan) -> bool {
        self.nodes == other.nodes
    }
}

impl Eq for PrepullPlan {}

impl PrepullPlan {
    /// Plans again the node named `node` of `nodes` (it joined, left or changed since this
    /// plan was made), with the same images, from the snapshot's eligibility and presence
    /// and the pulls remembered, as [`plan_for_selected`] would: the rest of the plan is
    /// kept. The node's place follows name order (the node watcher's); a plan of a list in
    /// another order is made again whole.
    pub fn update_node(&mut self, nodes: &SelectedNodes, node: &str, pulled: &PulledSet) {
        if !nodes.is_in_name_order() {
            let images = std::mem::take(&mut self.images);
            *self = plan_where(images, nodes.eligible(), |image, node| {
                cached_for_selected(nodes, pulled, image, node)
            });
            return;
        }
        let pulls = nodes
            .get(node)
            .filter(|(_, eligibility)| eligibility.is_eligible())
            .and_then(|(info, _)| {
                node_pulls(&self.images, info, |image, node| {
                    cached_for_selected(nodes, pulled, image, node)
                })
            });
        let at = self
            .nodes
            .binary_search_by(|pulls| pulls.node.as_str().cmp(node));
        match (at, pulls) {
            (Ok(at), Some(pulls)) => self.nodes[at] = pulls,
            (Ok(at), None) => {
                self.nodes.remove(at);
            }
            (Err(at), Some(pulls)) => self.nodes.insert(at, pulls),
            (Err(_), None) => {}
        }
    }

    /// All (node, image) pulls of the plan, node by node.
    pub fn pulls(&self) -> impl Iterator<Item = (&str, &PrepullImage)> {
        self.nodes.iter().flat_map(|node| {
            node.images
                .iter()
                .map(move |image| (node.node.as_str(), &**image))
        })
    }

    /// All pulls in the order a prepuller with one image at a time per node starts them:
    /// every node's first missing image (nodes in listing order), then every node's second,
    /// and so on. This is the order the `plan` command lists pods in.
    pub fn in_pull_order(&self) -> Vec<(&str, &PrepullImage)> {
        let rounds = self.nodes.iter().map(|n| n.images.len()).max().unwrap_or(0);
        (0..rounds)
            .flat_map(|round| {
                self.nodes.iter().filter_map(move |node| {
                    node.images
                        .get(round)
                        .map(|image| (node.node.as_str(), &**image))
                })
            })
            .collect()
    }

    /// Whether nothing is left to pull anywhere.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// kubelet's `nodeStatusMaxImages`: how many images (largest first) a node's `status.images`
/// lists at most. A node that lists fewer has listed all it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum NodeStatusMaxImages {
    Limit(usize),
    /// `-1`: every image is listed.
    Unlimited,
}

impl Default for NodeStatusMaxImages {
    /// kubelet's default, 50.
    fn default() -> Self {
        NodeStatusMaxImages::Limit(50)
    }
}

impl NodeStatusMaxImages {
    /// Whether a list of `listed` images is every image the node has.
    pub fn lists_all(self, listed: usize) -> bool {
        match self {
            NodeStatusMaxImages::Limit(limit) => listed < limit,
            NodeStatusMaxImages::Unlimited => true,
        }
    }
}

impl TryFrom<i64> for NodeStatusMaxImages {
    type Error = String;

    /// kubelet's own rule: `-1` or more.
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match value {
            -1 => Ok(NodeStatusMaxImages::Unlimited),
            0.. => Ok(NodeStatusMaxImages::Limit(
                usize::try_from(value).unwrap_or(usize::MAX),
            )),
            _ => Err(format!(
                "{value} is not a kubelet nodeStatusMaxImages: give -1 (every image is \
                 listed) or the number of images kubelet lists (default 50)"
            )),
        }
    }
}

impl From<NodeStatusMaxImages> for i64 {
    fn from(value: NodeStatusMaxImages) -> i64 {
        match value {
            NodeStatusMaxImages::Limit(limit) => i64::try_from(limit).unwrap_or(i64::MAX),
            NodeStatusMaxImages::Unlimited => -1,
        }
    }
}

/// What following a node's report changes in its remembered pulls: digests now seen, with
/// the size listed, or forgotten (`None`).
type NodeChanges = Vec<(String, Option<Sighting>)>;

/// Whether a node has listed a remembered pull since it succeeded, and with what size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sighting {
    NotYet,
    Listed { size: Option<u64> },
}

/// (node, digest) pulls that succeeded, remembered because kubelet reports at most
/// `nodeStatusMaxImages` images per node, the largest first: without this memory an image
/// pushed out of the reported list would be pulled again after every refresh.
///
/// Memory must not outlive the image, though: kubelet's garbage collector evicts images, and
/// an evicted image remembered as pulled would never be pulled again (and would look cached).
/// Each pull is therefore remembered as *not yet seen* until the node lists it (kubelet
/// reports its status some seconds after a pull), and once seen it is forgotten when the
/// node's report proves it gone ([`PulledSet::follow_reports`]).
///
/// Each node's pulls are shared between copies (`Arc`): the set is copied whenever the
/// prepuller publishes it, and a change to one node then copies one pointer per node and
/// that node's pulls, not every pull of every node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PulledSet {
    /// Node → digest → whether (and with what size) the node has listed the digest since.
    by_node: HashMap<Arc<str>, Arc<HashMap<String, Sighting>>>,
}

impl PulledSet {
    /// Remembers a successful pull; returns whether it was new.
    pub fn insert(&mut self, node: &str, digest: &str) -> bool {
        self.set(node, digest, Sighting::NotYet)
    }

    /// Remembers a successful pull on `node`, already seen when the node's latest report
    /// lists it; returns whether it was new.
    pub fn insert_reported(&mut self, node: &NodeInfo, digest: &str) -> bool {
        let listed = node
            .images
            .iter()
            .find(|image| image.keys().any(|key| key == digest));
        let sighting = match listed {
            Some(image) => Sighting::Listed {
                size: image.size.filter(|s| *s > 0),
            },
            None => Sighting::NotYet,
        };
        self.set(&node.name, digest, sighting)
    }

    /// Records how a pull was seen; returns whether the pull was new.
    fn set(&mut self, node: &str, digest: &str, sighting: Sighting) -> bool {
        let digests = match self.by_node.get_mut(node) {
            Some(digests) => digests,
            None => self.by_node.entry(node.into()).or_default(),
        };
        Arc::make_mut(digests)
            .insert(digest.to_owned(), sighting)
            .is_none()
    }

    /// The set after the nodes' latest reports, or `None` if they change nothing: pulls a
    /// node lists are marked seen; a seen pull the node no longer lists is forgotten when
    /// that is certain, which is when the list is complete (shorter than
    /// `nodeStatusMaxImages`) or when the image is larger than the smallest image listed
    /// (kubelet lists the largest first, so it would be listed). Sizes are those kubelet
    /// reported for the digest (on this node when it listed it, else on any node), never a
    /// registry's, which measure something else (compressed layers).
    pub fn follow_reports<N: Borrow<NodeInfo>>(
        &self,
        nodes: &[N],
        max_images: NodeStatusMaxImages,
    ) -> Option<PulledSet> {
        let mut next: Option<PulledSet> = None;
        let mut reported_sizes: Option<HashMap<&str, u64>> = None;
        for node in nodes {
            let node = node.borrow();
            let changes = self.changes_of_node(node, max_images, &mut |digest| {
                reported_sizes
                    .get_or_insert_with(|| sizes_reported(nodes))
                    .get(digest)
                    .copied()
            });
            if !changes.is_empty() {
                next.get_or_insert_with(|| self.clone())
                    .apply(&node.name, Some(changes));
            }
        }
        next
    }

    /// As [`PulledSet::follow_reports`] for the nodes named `changed` of `nodes` (those a
    /// node event changed), and forgetting those no longer there: what a node event costs is
    /// that node's pulls. The sizes other nodes report come from the snapshot's presence
    /// (the same last-listed-wins sizes `follow_reports` reads from the list). A pull whose
    /// size only another node reported is judged again when its own node next changes.
    ///
    /// `set` is changed where it is, copied first only when it is shared
    /// ([`Arc::make_mut`]); returns whether anything changed. A holder that publishes its set
    /// (the prepuller, every 100 ms at most) then copies it once per publication rather than
    /// once per node event: a copy is a pointer per node, which at 5,000 nodes cost more than
    /// the event.
    pub fn follow_reports_of(
        set: &mut Arc<PulledSet>,
        nodes: &SelectedNodes,
        changed: &[String],
        max_images: NodeStatusMaxImages,
    ) -> bool {
        let changes = set.changes_of(nodes, changed, max_images);
        if changes.is_empty() {
            return false;
        }
        Arc::make_mut(set).apply_all(changes);
        true
    }

    /// What following the reports of the nodes named `changed` changes, node by node (see
    /// [`PulledSet::follow_reports_of`]); a node no longer there is forgotten whole (`None`).
    fn changes_of(
        &self,
        nodes: &SelectedNodes,
        changed: &[String],
        max_images: NodeStatusMaxImages,
    ) -> Vec<(String, Option<NodeChanges>)> {
        let mut all = Vec::new();
        for name in changed {
            match nodes.get(name) {
                Some((node, _)) => {
                    let changes = self.changes_of_node(node, max_images, &mut |digest| {
                        nodes.reported().size(digest)
                    });
                    if !changes.is_empty() {
                        all.push((name.clone(), Some(changes)));
                    }
                }
                None if self.by_node.contains_key(name.as_str()) => all.push((name.clone(), None)),
                None => {}
            }
        }
        all
    }

    /// What one node's report changes in its remembered pulls (see
    /// [`PulledSet::follow_reports`]).
    fn changes_of_node(
        &self,
        node: &NodeInfo,
        max_images: NodeStatusMaxImages,
        size_elsewhere: &mut dyn FnMut(&str) -> Option<u64>,
    ) -> NodeChanges {
        let Some(remembered) = self.by_node.get(node.name.as_str()) else {
            return Vec::new();
        };
        // Names too: a pull of an image known by name is remembered under that name.
        let listed: HashMap<&str, Option<u64>> = node
            .images
            .iter()
            .flat_map(|image| {
                let size = image.size.filter(|s| *s > 0);
                image.keys().map(move |key| (key, size))
            })
            .collect();
        let complete = max_images.lists_all(node.images.len());
        let smallest = node
            .images
            .iter()
            .filter_map(|image| image.size.filter(|s| *s > 0))
            .min();
        let mut changes = Vec::new();
        for (digest, sighting) in remembered.iter() {
            let change = match (listed.get(digest.as_str()), sighting) {
                (Some(size), Sighting::Listed { size: known }) if size == known => None,
                (Some(size), _) => Some(Some(Sighting::Listed { size: *size })),
                (None, Sighting::NotYet) => None,
                (None, Sighting::Listed { size }) => {
                    let size = size.or_else(|| size_elsewhere(digest));
                    let would_be_listed = matches!(
                        (size, smallest),
                        (Some(size), Some(smallest)) if size > smallest
                    );
                    (complete || would_be_listed).then_some(None)
                }
            };
            if let Some(change) = change {
                changes.push((digest.clone(), change));
            }
        }
        changes
    }

    fn apply_all(&mut self, changes: Vec<(String, Option<NodeChanges>)>) {
        for (node, changes) in changes {
            self.apply(&node, changes);
        }
    }

    /// Applies one node's changes; `None` forgets the node.
    fn apply(&mut self, node: &str, changes: Option<NodeChanges>) {
        let Some(changes) = changes else {
            self.by_node.remove(node);
            return;
        };
        let digests = match self.by_node.get_mut(node) {
            Some(digests) => digests,
            None => self.by_node.entry(node.into()).or_default(),
        };
        let digests = Arc::make_mut(digests);
        for (digest, change) in changes {
            match change {
                Some(sighting) => {
                    digests.insert(digest, sighting);
                }
                None => {
                    digests.remove(&digest);
                }
            }
        }
    }

    pub fn contains(&self, node: &str, digest: &str) -> bool {
        self.by_node
            .get(node)
            .is_some_and(|digests| digests.contains_key(digest))
    }

    /// Forgets a node (it left the cluster; a node of the same name later starts afresh).
    pub fn remove_node(&mut self, node: &str) -> bool {
        self.by_node.remove(node).is_some()
    }

    /// Names of the nodes with at least one remembered pull.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.by_node.keys().map(|node| &**node)
    }

    /// Digests remembered for one node.
    pub fn digests(&self, node: &str) -> impl Iterator<Item = &str> {
        self.by_node
            .get(node)
            .into_iter()
            .flat_map(|digests| digests.keys().map(String::as_str))
    }

    pub fn len(&self) -> usize {
        self.by_node.values().map(|digests| digests.len()).sum()
    }

    /// How a pull was last seen (tests).
    #[cfg(test)]
    fn sighting(&self, node: &str, digest: &str) -> Option<Sighting> {
        self.by_node.get(node)?.get(digest).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.values().all(|digests| digests.is_empty())
    }
}

/// The size kubelet reports for each digest, on any node.
fn sizes_reported<N: Borrow<NodeInfo>>(nodes: &[N]) -> HashMap<&str, u64> {
    nodes
        .iter()
        .flat_map(|node| &node.borrow().images)
        .filter_map(|image| Some((image.digest()?, image.size.filter(|s| *s > 0)?)))
        .collect()
}

/// Computes the plan (see the module comment). Nodes outside `selector` are skipped, so the
/// same function serves a NodeList file that was not filtered by the API server; ineligible
/// nodes (untolerated taints, cordoned, NotReady) get nothing, since a pod forced onto them
/// would either never run or warm a node labs cannot use.
pub fn plan(
    images: &[PrepullImage],
    nodes: &[NodeInfo],
    selector: &BTreeMap<String, String>,
    tolerations: &[Toleration],
    pulled: &PulledSet,
) -> PrepullPlan {
    let selected: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|node| node.matches_selector(selector))
        .collect();
    let mut presence = NodePresence::from_nodes(selected.iter().copied(), pulled, false);
    presence.mark_names(selected.iter().copied(), images);
    let eligible = selected
        .into_iter()
        .filter(|node| node.eligibility(tolerations).is_eligible());
    plan_with_presence(images, eligible, &presence)
}

/// The plan for the eligible nodes (in listing order), given where each digest is already
/// cached or known to be pulled: what a caller that keeps a [`NodePresence`] plans from,
/// without parsing node caches again. Images repeating an earlier digest are dropped: pulling
/// a digest once brings every tag that shares it. An image is planned only onto nodes whose
/// platform it supports ([`PrepullImage::can_run_on`]).
pub fn plan_with_presence<'a>(
    images: &[PrepullImage],
    eligible: impl IntoIterator<Item = &'a NodeInfo>,
    presence: &NodePresence,
) -> PrepullPlan {
    plan_where(unique(images), eligible, |image, node| {
        presence.is_on(&image.digest, &node.name)
    })
}

/// The plan for a node list whose eligibility and reported presence were computed with it
/// ([`SelectedNodes`]), with the pulls remembered since: nothing about the nodes is computed
/// again.
pub fn plan_for_selected(
    images: &[PrepullImage],
    nodes: &SelectedNodes,
    pulled: &PulledSet,
) -> PrepullPlan {
    plan_where(unique(images), nodes.eligible(), |image, node| {
        cached_for_selected(nodes, pulled, image, node)
    })
}

/// Whether `image` is on `node` for a plan from [`SelectedNodes`]: reported there, pulled
/// there, or (for an image known only by name, [`PrepullImage::known_by_name`]) listed there
/// by that name: the reported presence indexes digests, so only these few names are looked
/// for in what kubelet lists.
fn cached_for_selected(
    nodes: &SelectedNodes,
    pulled: &PulledSet,
    image: &PrepullImage,
    node: &NodeInfo,
) -> bool {
    nodes.reported().is_on(&image.digest, &node.name)
        || pulled.contains(&node.name, &image.digest)
        || (image.known_by_name()
            && node
                .images
                .iter()
                .any(|listed| listed.references.iter().any(|name| **name == *image.digest)))
}

/// The images of a plan: each digest once, the first image of a digest kept.
fn unique(images: &[PrepullImage]) -> Vec<PlannedImage> {
    let mut seen = HashSet::new();
    images
        .iter()
        .filter(|image| seen.insert(image.digest.as_str()))
        .map(|image| PlannedImage(Arc::new(image.clone())))
        .collect()
}

/// The plan, `cached` telling whether an image is on a node already.
fn plan_where<'a>(
    images: Vec<PlannedImage>,
    eligible: impl IntoIterator<Item = &'a NodeInfo>,
    cached: impl Fn(&PrepullImage, &NodeInfo) -> bool,
) -> PrepullPlan {
    let nodes = eligible
        .into_iter()
        .filter_map(|node| node_pulls(&images, node, &cached))
        .collect();
    PrepullPlan { nodes, images }
}

/// What one eligible node still needs, if anything.
fn node_pulls(
    images: &[PlannedImage],
    node: &NodeInfo,
    cached: impl Fn(&PrepullImage, &NodeInfo) -> bool,
) -> Option<NodePulls> {
    // The node's platform labels, read once for all the images.
    let (os, arch) = (node.os(), node.arch());
    let missing: Vec<PlannedImage> = images
        .iter()
        .filter(|image| image.can_run_on_platform(os, arch) && !cached(image, node))
        .cloned()
        .collect();
    (!missing.is_empty()).then(|| NodePulls {
        node: node.name.clone(),
        images: missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{CachedImage, Taint};
    use crate::platform::Platform;

    fn image(tag: &str, digest: &str) -> PrepullImage {
        PrepullImage {
            tag: tag.into(),
            reference_with_digest: format!("lighthouse.ceres/library/sketchbook:{tag}@{digest}"),
            digest: digest.into(),
            platforms: Platforms::Unknown,
        }
    }

    const CAP: NodeStatusMaxImages = NodeStatusMaxImages::Limit(50);

    fn node(name: &str, cached: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: BTreeMap::from([("some-label".into(), "some-value".into())]),
            images:
                cached
                    .iter()
                    .map(|digest| CachedImage {
                        references: vec![
                            format!("lighthouse.ceres/library/sketchbook@{digest}").into()
                        ],
                        size: Some(1),
                    })
                    .collect(),
            ..NodeInfo::default()
        }
    }

    fn selector() -> BTreeMap<String, String> {
        BTreeMap::from([("some-label".into(), "some-value".into())])
    }

    fn tags(plan: &PrepullPlan) -> Vec<(String, Vec<String>)> {
        plan.nodes
            .iter()
            .map(|n| {
                let tags = n.images.iter().map(|i| i.tag.clone()).collect();
                (n.node.clone(), tags)
            })
            .collect()
    }

    #[test]
    fn evicted_pulls_are_forgotten_once_seen_and_gone_from_a_complete_list() {
        let mut pulled = PulledSet::default();
        pulled.insert("node1", "sha256:a");
        // Not yet listed (kubelet reports later): kept, nothing changes.
        assert_eq!(pulled.follow_reports(&[node("node1", &[])], CAP), None);
        // Listed: marked seen.
        let seen = pulled
            .follow_reports(&[node("node1", &["sha256:a"])], CAP)
            .expect("marked as seen");
        assert!(seen.contains("node1", "sha256:a"));
        assert_eq!(
            seen.follow_reports(&[node("node1", &["sha256:a"])], CAP),
            None
        );
        // Gone from a complete list: evicted, forgotten, and planned again.
        let evicted = seen
            .follow_reports(&[node("node1", &["sha256:b"])], CAP)
            .expect("forgotten");
        assert!(!evicted.contains("node1", "sha256:a"));
        let images = [image("w_2077_43", "sha256:a")];
        let again = plan(
            &images,
            &[node("node1", &["sha256:b"])],
            &selector(),
            &[],
            &evicted,
        );
        assert_eq!(tags(&again), [("node1".into(), vec!["w_2077_43".into()])]);
        // Gone from a list at the cap, of images as large as it: the node may just not
        // report it; kept.
        let full: Vec<String> = (0..50).map(|i| format!("sha256:x{i}")).collect();
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        assert_eq!(seen.follow_reports(&[node("node1", &full)], CAP), None);
        // With kubelet's nodeStatusMaxImages at -1 the same list is complete.
        let unlimited = NodeStatusMaxImages::Unlimited;
        assert!(seen
            .follow_reports(&[node("node1", &full)], unlimited)
            .is_some());
    }

    #[test]
    fn following_the_changed_nodes_is_following_the_list() {
        // node1 evicted a (complete list), node2 lists b (seen), node3 left.
        let mut pulled = PulledSet::default();
        for (node, digest) in [
            ("node1", "sha256:a"),
            ("node2", "sha256:b"),
            ("node3", "sha256:a"),
        ] {
            pulled.insert(node, digest);
        }
        let seen = pulled
            .follow_reports(&[node("node1", &["sha256:a"])], CAP)
            .expect("seen");
        let nodes = [node("node1", &["sha256:c"]), node("node2", &["sha256:b"])];
        let selected = SelectedNodes::from_owned(nodes.clone(), &selector(), &[]);
        let changed = ["node1".to_owned(), "node2".to_owned(), "node3".to_owned()];
        // A shared set is copied, its other holder keeps what it had.
        let mut followed = Arc::new(seen.clone());
        let other = Arc::clone(&followed);
        assert!(PulledSet::follow_reports_of(
            &mut followed,
            &selected,
            &changed,
            CAP
        ));
        assert_eq!(*other, seen);
        let mut whole = seen.follow_reports(&nodes, CAP).expect("changed");
        whole.remove_node("node3");
        assert_eq!(*followed, whole);
        assert!(!followed.contains("node1", "sha256:a") && !followed.contains("node3", "sha256:a"));
        assert_eq!(
            followed.sighting("node2", "sha256:b"),
            Some(Sighting::Listed { size: Some(1) })
        );
        // Only the nodes named are looked at.
        let mut unchanged = Arc::new(seen.clone());
        assert!(!PulledSet::follow_reports_of(
            &mut unchanged,
            &selected,
            &[],
            CAP
        ));
        assert_eq!(*unchanged, seen);
        assert!(!PulledSet::follow_reports_of(
            &mut followed,
            &selected,
            &changed,
            CAP
        ));
        // A set held alone is changed in place.
        let mut alone = Arc::new(seen.clone());
        let place = Arc::as_ptr(&alone);
        assert!(PulledSet::follow_reports_of(
            &mut alone, &selected, &changed, CAP
        ));
        assert_eq!(Arc::as_ptr(&alone), place);
        assert_eq!(*alone, whole);
    }

    /// A node at the cap listing `count` images of `size` bytes, plus `extra`.
    fn full_node(count: usize, size: u64, extra: &[(&str, u64)]) -> NodeInfo {
        let mut node = node("node1", &[]);
        node.images = (0..count)
            .map(|i| CachedImage {
                references: vec![format!("example/big@sha256:x{i}").into()],
                size: Some(size),
            })
            .chain(extra.iter().map(|(digest, size)| CachedImage {
                references: vec![format!("lighthouse.ceres/library/sketchbook@{digest}").into()],
                size: Some(*size),
            }))
            .collect();
        node
    }

    #[test]
    fn a_pull_the_node_already_lists_is_seen_at_once() {
        // kubelet's node status can show the image before the pod's imageID is observed; no
        // later report would then mark it seen, and an eviction would never be noticed.
        let mut pulled = PulledSet::default();
        assert!(pulled.insert_reported(&full_node(0, 0, &[("sha256:a", 7)]), "sha256:a"));
        assert_eq!(
            pulled.sighting("node1", "sha256:a"),
            Some(Sighting::Listed { size: Some(7) })
        );
        assert!(pulled.insert_reported(&full_node(0, 0, &[]), "sha256:b"));
        assert_eq!(pulled.sighting("node1", "sha256:b"), Some(Sighting::NotYet));
        let evicted = pulled
            .follow_reports(&[full_node(0, 0, &[("sha256:c", 1)])], CAP)
            .expect("a is gone");
        assert!(!evicted.contains("node1", "sha256:a"));
        assert!(evicted.contains("node1", "sha256:b"));
    }

    #[test]
    fn an_image_larger_than_the_smallest_listed_is_gone_when_not_listed() {
        let mut pulled = PulledSet::default();
        pulled.insert("node1", "sha256:a");
        // Seen at 20 GB among 49 images of 10 GB (the list is at the cap of 50).
        let seen = pulled
            .follow_reports(&[full_node(49, 10_000, &[("sha256:a", 20_000)])], CAP)
            .expect("seen");
        assert_eq!(
            seen.sighting("node1", "sha256:a"),
            Some(Sighting::Listed { size: Some(20_000) })
        );
        // Fifty 10 GB images and not ours: kubelet lists the largest first, so a 20 GB image
        // would be there. Evicted.
        let evicted = seen
            .follow_reports(&[full_node(50, 10_000, &[])], CAP)
            .expect("evicted");
        assert!(!evicted.contains("node1", "sha256:a"));
        // Fifty 30 GB images: ours may just be below the cap. Kept.
        assert_eq!(
            seen.follow_reports(&[full_node(50, 30_000, &[])], CAP),
            None
        );
        // A size reported on another node counts too (here the sighting had none).
        let mut sizeless = PulledSet::default();
        sizeless.insert("node1", "sha256:b");
        let mut listed = full_node(49, 10_000, &[("sha256:b", 0)]);
        let sizeless = sizeless
            .follow_reports(std::slice::from_ref(&listed), CAP)
            .expect("seen");
        listed = full_node(50, 10_000, &[]);
        let mut other = full_node(0, 0, &[("sha256:b", 20_000)]);
        other.name = "node2".into();
        assert_eq!(
            sizeless.follow_reports(std::slice::from_ref(&listed), CAP),
            None
        );
        assert!(sizeless.follow_reports(&[listed, other], CAP).is_some());
    }

    #[test]
    fn images_are_planned_only_onto_nodes_whose_platform_they_support() {
        let mut amd64_only = image("w_2077_43_amd64", "sha256:a");
        amd64_only.platforms = Platforms::known([Platform::new("linux", "amd64")]);
        let anywhere = image("w_2077_42", "sha256:b");
        let labelled = |name: &str, arch: Option<&str>| {
            let mut node = node(name, &[]);
            node.labels
                .insert("kubernetes.io/os".into(), "linux".into());
            if let Some(arch) = arch {
                node.labels.insert("kubernetes.io/arch".into(), arch.into());
            }
            node
        };
        let nodes = [
            labelled("x86", Some("amd64")),
            labelled("arm", Some("arm64")),
            labelled("unlabelled", None),
        ];
        let plan = plan(
            &[amd64_only, anywhere],
            &nodes,
            &selector(),
            &[],
            &PulledSet::default(),
        );
        assert_eq!(
            tags(&plan),
            [
                (
                    "x86".into(),
                    vec!["w_2077_43_amd64".into(), "w_2077_42".into()]
                ),
                ("arm".into(), vec!["w_2077_42".into()]),
                (
                    "unlabelled".into(),
                    vec!["w_2077_43_amd64".into(), "w_2077_42".into()]
                ),
            ]
        );
    }

    #[test]
    fn standard_nodes_miss_only_the_daily_on_node2() {
        let images = [
            image("w_2077_43", "sha256:5678"),
            image("d_2077_10_23", "sha256:1234"),
        ];
        let nodes = [
            node("node1", &["sha256:1234", "sha256:5678"]),
            node("node2", &["sha256:5678"]),
        ];
        let plan = plan(&images, &nodes, &selector(), &[], &PulledSet::default());
        assert_eq!(tags(&plan), [("node2".into(), vec!["d_2077_10_23".into()])]);
    }

    #[test]
    fn order_is_node_listing_then_image_priority() {
        let images = [
            image("w_2077_43", "sha256:a"),
            image("w_2077_42", "sha256:b"),
        ];
        let nodes = [node("node2", &[]), node("node1", &[])];
        let plan = plan(&images, &nodes, &selector(), &[], &PulledSet::default());
        let want = vec!["w_2077_43".to_string(), "w_2077_42".to_string()];
        assert_eq!(
            tags(&plan),
            [("node2".into(), want.clone()), ("node1".into(), want)]
        );
        let pulls: Vec<_> = plan.pulls().map(|(n, i)| (n, i.tag.as_str())).collect();
        assert_eq!(pulls[1], ("node2", "w_2077_42"));
        let order: Vec<_> = plan
            .in_pull_order()
            .into_iter()
            .map(|(n, i)| (n, i.tag.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("node2", "w_2077_43"),
                ("node1", "w_2077_43"),
                ("node2", "w_2077_42"),
                ("node1", "w_2077_42")
            ]
        );
    }

    #[test]
    fn ineligible_and_unselected_nodes_get_nothing() {
        let images = [image("w_2077_43", "sha256:a")];
        let mut tainted = node("tainted", &[]);
        tainted.taints.push(Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
        });
        let cordoned = NodeInfo {
            unschedulable: true,
            ..node("cordoned", &[])
        };
        let not_ready = NodeInfo {
            ready: Some(false),
            ..node("not-ready", &[])
        };
        let mut unlabelled = node("unlabelled", &[]);
        unlabelled.labels.clear();
        let nodes = [tainted, cordoned, not_ready, unlabelled, node("ok", &[])];
        let plan = plan(&images, &nodes, &selector(), &[], &PulledSet::default());
        assert_eq!(tags(&plan), [("ok".into(), vec!["w_2077_43".into()])]);
    }

    #[test]
    fn remembered_pulls_count_as_cached() {
        let images = [
            image("w_2077_43", "sha256:a"),
            image("w_2077_42", "sha256:b"),
        ];
        let mut pulled = PulledSet::default();
        assert!(pulled.insert("node1", "sha256:a"));
        assert!(!pulled.insert("node1", "sha256:a"));
        let plan = plan(&images, &[node("node1", &[])], &selector(), &[], &pulled);
        assert_eq!(tags(&plan), [("node1".into(), vec!["w_2077_42".into()])]);
        assert_eq!(pulled.len(), 1);
        assert!(pulled.remove_node("node1"));
        assert!(pulled.is_empty());
    }

    #[test]
    fn a_plan_from_selected_nodes_is_the_plan_from_the_node_list() {
        let images = [
            image("w_2077_43", "sha256:a"),
            image("w_2077_42", "sha256:b"),
            image("recommended", "sha256:a"),
        ];
        let cordoned = NodeInfo {
            unschedulable: true,
            ..node("cordoned", &[])
        };
        let mut unlabelled = node("unlabelled", &[]);
        unlabelled.labels.clear();
        let nodes = [
            node("node2", &["sha256:a"]),
            cordoned,
            unlabelled,
            node("node1", &[]),
            node("node3", &[]),
        ];
        let mut pulled = PulledSet::default();
        pulled.insert("node3", "sha256:b");
        pulled.insert("unlabelled", "sha256:a");
        let selected = SelectedNodes::from_owned(nodes.clone(), &selector(), &[]);
        let shared = plan_for_selected(&images, &selected, &pulled);
        assert_eq!(shared, plan(&images, &nodes, &selector(), &[], &pulled));
        assert_eq!(
            tags(&shared),
            [
                ("node2".into(), vec!["w_2077_42".into()]),
                ("node1".into(), vec!["w_2077_43".into(), "w_2077_42".into()]),
                ("node3".into(), vec!["w_2077_43".into()]),
            ]
        );
    }

    #[test]
    fn repeated_digests_are_pulled_once() {
        let images = [
            image("recommended", "sha256:a"),
            image("w_2077_43", "sha256:a"),
        ];
        let plan = plan(
            &images,
            &[node("node1", &[])],
            &selector(),
            &[],
            &PulledSet::default(),
        );
        assert_eq!(tags(&plan), [("node1".into(), vec!["recommended".into()])]);
    }

    /// An init container image known by name: a node has it when kubelet lists that name
    /// (whatever digest it came with); a pull remembered under the name is seen, and
    /// forgotten once a complete list no longer names it.
    #[test]
    fn images_known_by_name_are_found_by_the_names_kubelet_lists() {
        let init = crate::init_image::InitImage::new("example/setup", "0.0.1").prepull_image();
        let images = [image("w_2077_43", "sha256:a"), init.clone()];
        let mut has_it = node("node1", &["sha256:a"]);
        has_it.images.push(CachedImage {
            references: vec![
                "docker.io/example/setup@sha256:f".into(),
                "docker.io/example/setup:0.0.1".into(),
            ],
            size: Some(1),
        });
        let mut other_tag = node("node2", &["sha256:a"]);
        other_tag.images.push(CachedImage {
            references: vec!["docker.io/example/setup:0.0.2".into()],
            size: Some(1),
        });
        let plan = plan(
            &images,
            &[has_it.clone(), other_tag],
            &selector(),
            &[],
            &PulledSet::default(),
        );
        assert_eq!(
            tags(&plan),
            [("node2".into(), vec!["example/setup:0.0.1".into()])]
        );
        // Remembered under its name, seen when listed, forgotten when evicted.
        let mut pulled = PulledSet::default();
        assert!(pulled.insert_reported(&has_it, &init.digest));
        assert_eq!(
            pulled.sighting("node1", &init.digest),
            Some(Sighting::Listed { size: Some(1) })
        );
        let evicted = pulled
            .follow_reports(&[node("node1", &["sha256:a"])], CAP)
            .expect("gone from a complete list");
        assert!(!evicted.contains("node1", &init.digest));
    }

    #[test]
    fn cache_entries_count_by_their_first_digest_reference() {
        let images = [image("a", "sha256:a"), image("b", "sha256:b")];
        let mut node = node("node1", &[]);
        node.images = vec![
            CachedImage {
                references: vec!["bad".into(), "r/x:a".into()],
                size: None,
            },
            CachedImage {
                references: vec!["r/x:b".into(), "elsewhere/other@sha256:b".into()],
                size: None,
            },
        ];
        let plan = plan(&images, &[node], &selector(), &[], &PulledSet::default());
        assert_eq!(tags(&plan), [("node1".into(), vec!["a".into()])]);
    }
}
