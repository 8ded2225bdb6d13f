//! The prepull plan: which images each eligible node still needs, in the order to pull them.
//!
//! This is the pure half of the prepuller (behaviour.md §8.4, decisions.md §5 fix 2 and §6):
//! given the prepull images in priority order, the nodes as listed, the lab node selector and
//! tolerations, and the (node, digest) pulls already remembered as successful, it lists per
//! eligible node the images whose digest the node neither reports nor has been seen to pull.
//! Kept free of I/O so that the live prepuller, the `plan` command and the status page all
//! derive the same answer from the same inputs.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::NodePresence;
use crate::node::{CachedImage, NodeInfo, Toleration};

/// One image the policy wants on every eligible node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrepullImage {
    /// The tag the image is known by (used for the pod name).
    pub tag: String,
    /// `registry/repository:tag@digest`, the image a prepull pod runs.
    pub reference_with_digest: String,
    /// The content digest, `sha256:…`; what node caches are compared by.
    pub digest: String,
}

/// The images one node still needs, most important first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePulls {
    pub node: String,
    pub images: Vec<PrepullImage>,
}

/// Every eligible node that misses at least one image, in node listing order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrepullPlan {
    pub nodes: Vec<NodePulls>,
}

impl PrepullPlan {
    /// All (node, image) pulls of the plan, node by node.
    pub fn pulls(&self) -> impl Iterator<Item = (&str, &PrepullImage)> {
        self.nodes.iter().flat_map(|node| {
            node.images
                .iter()
                .map(move |image| (node.node.as_str(), image))
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
                        .map(|image| (node.node.as_str(), image))
                })
            })
            .collect()
    }

    /// Whether nothing is left to pull anywhere.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// How many images kubelet lists in a node's status by default (`--node-status-max-images`).
/// A node that lists fewer has listed all it has.
pub const REPORTED_IMAGES_CAP: usize = 50;

/// (node, digest) pulls that succeeded, remembered because kubelet reports at most 50 images
/// per node (`--node-status-max-images`): without this memory an image pushed out of the
/// reported list would be pulled again after every refresh.
///
/// Memory must not outlive the image, though: kubelet's garbage collector evicts images, and
/// an evicted image remembered as pulled would never be pulled again. Each pull is therefore
/// remembered as *not yet seen* until the node lists it, and forgotten once a node that lists
/// all its images (fewer than the cap) stops listing it ([`PulledSet::follow_reports`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PulledSet {
    /// Node → digest → whether the node has listed the digest since it was pulled.
    by_node: HashMap<String, HashMap<String, bool>>,
}

impl PulledSet {
    /// Remembers a successful pull; returns whether it was new.
    pub fn insert(&mut self, node: &str, digest: &str) -> bool {
        self.by_node
            .entry(node.to_owned())
            .or_default()
            .insert(digest.to_owned(), false)
            .is_none()
    }

    /// The set after the nodes' latest reports, or `None` if they change nothing: pulls a
    /// node lists are marked seen; seen pulls that a complete list no longer has are
    /// forgotten (the image was evicted). Pulls not yet listed are kept, since kubelet
    /// updates the node's status some seconds after a pull.
    pub fn follow_reports(&self, nodes: &[NodeInfo]) -> Option<PulledSet> {
        let mut next: Option<PulledSet> = None;
        for node in nodes {
            let Some(remembered) = self.by_node.get(&node.name) else {
                continue;
            };
            let listed: HashSet<&str> =
                node.images.iter().filter_map(CachedImage::digest).collect();
            let complete = node.images.len() < REPORTED_IMAGES_CAP;
            for (digest, seen) in remembered {
                let change = if listed.contains(digest.as_str()) {
                    (!seen).then_some(Some(true))
                } else {
                    (*seen && complete).then_some(None)
                };
                if let Some(change) = change {
                    let set = next.get_or_insert_with(|| self.clone());
                    let digests = set.by_node.entry(node.name.clone()).or_default();
                    match change {
                        Some(seen) => {
                            digests.insert(digest.clone(), seen);
                        }
                        None => {
                            digests.remove(digest);
                        }
                    }
                }
            }
        }
        next
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
        self.by_node.keys().map(String::as_str)
    }

    /// Digests remembered for one node.
    pub fn digests(&self, node: &str) -> impl Iterator<Item = &str> {
        self.by_node
            .get(node)
            .into_iter()
            .flat_map(|digests| digests.keys().map(String::as_str))
    }

    pub fn len(&self) -> usize {
        self.by_node.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.values().all(HashMap::is_empty)
    }
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
    let presence = NodePresence::from_nodes(selected.iter().copied(), pulled, false);
    let eligible = selected
        .into_iter()
        .filter(|node| node.eligibility(tolerations).is_eligible())
        .map(|node| node.name.as_str());
    plan_with_presence(images, eligible, &presence)
}

/// The plan for the eligible nodes (names in listing order), given where each digest is
/// already cached or known to be pulled: what a caller that keeps a [`NodePresence`] plans
/// from, without parsing node caches again. Images repeating an earlier digest are dropped:
/// pulling a digest once brings every tag that shares it.
pub fn plan_with_presence<'a>(
    images: &[PrepullImage],
    eligible: impl IntoIterator<Item = &'a str>,
    presence: &NodePresence,
) -> PrepullPlan {
    let mut seen = HashSet::new();
    let unique: Vec<&PrepullImage> = images
        .iter()
        .filter(|image| seen.insert(image.digest.as_str()))
        .collect();
    let nodes = eligible
        .into_iter()
        .filter_map(|node| {
            let missing: Vec<PrepullImage> = unique
                .iter()
                .filter(|image| !presence.is_on(&image.digest, node))
                .map(|image| (*image).clone())
                .collect();
            (!missing.is_empty()).then(|| NodePulls {
                node: node.to_owned(),
                images: missing,
            })
        })
        .collect();
    PrepullPlan { nodes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Taint;

    fn image(tag: &str, digest: &str) -> PrepullImage {
        PrepullImage {
            tag: tag.into(),
            reference_with_digest: format!("lighthouse.ceres/library/sketchbook:{tag}@{digest}"),
            digest: digest.into(),
        }
    }

    fn node(name: &str, cached: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: BTreeMap::from([("some-label".into(), "some-value".into())]),
            images: cached
                .iter()
                .map(|digest| CachedImage {
                    references: vec![format!("lighthouse.ceres/library/sketchbook@{digest}")],
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
        assert_eq!(pulled.follow_reports(&[node("node1", &[])]), None);
        // Listed: marked seen.
        let seen = pulled
            .follow_reports(&[node("node1", &["sha256:a"])])
            .expect("marked as seen");
        assert!(seen.contains("node1", "sha256:a"));
        assert_eq!(seen.follow_reports(&[node("node1", &["sha256:a"])]), None);
        // Gone from a complete list: evicted, forgotten, and planned again.
        let evicted = seen
            .follow_reports(&[node("node1", &["sha256:b"])])
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
        // Gone from a list at the cap: the node may just not report it; kept.
        let full: Vec<String> = (0..REPORTED_IMAGES_CAP)
            .map(|i| format!("sha256:x{i}"))
            .collect();
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        assert_eq!(seen.follow_reports(&[node("node1", &full)]), None);
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
