//! Kubernetes nodes as the image side sees them: labels, taints, readiness and the images
//! kubelet reports as cached, plus the rule that decides whether a node is *eligible* for lab
//! images (and therefore for prepulling and for the "prepulled" status).
//!
//! These are plain values so that the same rule serves a live cluster (the watchers convert
//! `k8s_openapi` nodes into [`NodeInfo`]) and a dry run over a NodeList file.

use crate::reference::ReferenceParts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the image side needs to know about one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// `spec.unschedulable`: the node is cordoned.
    pub unschedulable: bool,
    /// Status of the `Ready` condition; `None` when the node reports no such condition.
    pub ready: Option<bool>,
    /// When the `Ready` condition last changed (`lastTransitionTime`), if reported: for a
    /// node that is Ready, since when. Warm nodes count their wait from it.
    pub ready_since: Option<chrono::DateTime<chrono::Utc>>,
    /// `status.images` entries that have at least one name, in the order kubelet lists them.
    pub images: Vec<CachedImage>,
}

/// One entry of a node's `status.images`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedImage {
    /// The names kubelet lists, each shared with every other node listing it
    /// ([`ImageNames`]).
    pub references: Vec<Arc<str>>,
    pub size: Option<u64>,
}

/// One copy of each image name across a cluster's nodes.
///
/// Every node lists the names of the images it caches, two per image (by digest and by tag),
/// and the nodes of a cluster mostly cache the same images: at 5,000 nodes of 50 images, one
/// string per node and name was the largest part of the nodes' memory. Names converted
/// through one `ImageNames` share their text.
#[derive(Debug, Default)]
pub struct ImageNames {
    names: foldhash::HashSet<Arc<str>>,
    /// How many names there were after the last [`ImageNames::forget_unused`].
    kept: usize,
}

impl ImageNames {
    /// The shared copy of `name`, made the first time it is seen.
    pub fn share(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.names.get(name) {
            return Arc::clone(known);
        }
        // Images come and go over a cluster's life: names no node lists any more are let
        // go whenever the set has doubled, so it stays within twice what nodes hold.
        if self.names.len() >= 2 * self.kept.max(1024) {
            self.forget_unused();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(Arc::clone(&shared));
        shared
    }

    /// Lets go of the names nothing but this set holds.
    pub fn forget_unused(&mut self) {
        self.names.retain(|name| Arc::strong_count(name) > 1);
        self.kept = self.names.len();
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl CachedImage {
    /// The digest of the first reference that parses as a Docker reference with a digest
    /// (behaviour §7.2). Registry and repository are not compared: a digest names content
    /// wherever it was pulled from.
    pub fn digest(&self) -> Option<&str> {
        self.references
            .iter()
            .find_map(|reference| ReferenceParts::parse(reference).ok()?.digest)
    }

    /// What the image can be known by: its digest, then every name kubelet lists for it. An
    /// image the prepuller knows by name (`PrepullImage::known_by_name`) is found among the
    /// names; digests and names never collide (a name holds a `/`, a digest does not).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.digest()
            .into_iter()
            .chain(self.references.iter().map(|name| &**name))
    }
}

/// A node taint (`spec.taints[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

/// How a toleration compares its key and value with a taint's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TolerationOperator {
    #[default]
    Equal,
    Exists,
}

impl TolerationOperator {
    /// The name in the Kubernetes API.
    pub fn as_str(self) -> &'static str {
        match self {
            TolerationOperator::Equal => "Equal",
            TolerationOperator::Exists => "Exists",
        }
    }
}

/// A toleration from `lab.tolerations`, in the Kubernetes shape (camelCase keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: TolerationOperator,
    #[serde(
        default,
        alias = "toleration_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub toleration_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A toleration that can never be what the operator meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TolerationError {
    #[error("a toleration with operator Exists must not have a value (remove `value`)")]
    ExistsWithValue,
    #[error("a toleration with operator Equal needs both `key` and `value`")]
    EqualWithoutKeyOrValue,
}

impl Toleration {
    /// Checks the same rules Kubernetes applies to a pod's tolerations.
    pub fn validate(&self) -> Result<(), TolerationError> {
        match self.operator {
            TolerationOperator::Exists if self.value.is_some() => {
                Err(TolerationError::ExistsWithValue)
            }
            TolerationOperator::Equal if self.key.is_none() || self.value.is_none() => {
                Err(TolerationError::EqualWithoutKeyOrValue)
            }
            _ => Ok(()),
        }
    }

    /// The toleration as the API server validates it (see [`crate::validation`]).
    pub fn fields(&self) -> crate::validation::TolerationFields<'_> {
        crate::validation::TolerationFields {
            key: self.key.as_deref().unwrap_or_default(),
            operator: self.operator.as_str(),
            value: self.value.as_deref().unwrap_or_default(),
            effect: self.effect.as_deref().unwrap_or_default(),
            toleration_seconds: self.toleration_seconds,
        }
    }

    /// Whether this toleration makes a node with `taint` acceptable for a lab.
    ///
    /// One difference from the scheduler: a toleration without a key never tolerates a
    /// platform taint ([`PLATFORM_TAINT_KEYS`]). GKE taints Arm nodes
    /// `kubernetes.io/arch=arm64:NoSchedule` and Windows nodes
    /// `node.kubernetes.io/os=windows:NoSchedule`, so that only workloads that ask for that
    /// platform land there (GKE adds the toleration itself to pods that select the platform);
    /// <https://cloud.google.com/kubernetes-engine/docs/how-to/prepare-arm-workloads-for-deployment>,
    /// <https://cloud.google.com/kubernetes-engine/docs/how-to/creating-a-cluster-windows>.
    /// A catch-all `{operator: Exists}` in `lab.tolerations` is written for the lab pool's own
    /// taints, not as a claim that lab images run on Arm or Windows; taking it as one would
    /// send images to nodes whose platform they may lack, where every pull fails. An operator
    /// who does mean it names the key, and then each image's platforms decide
    /// ([`crate::plan::PrepullImage::can_run_on`]).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.key.is_none() && PLATFORM_TAINT_KEYS.contains(&taint.key.as_str()) {
            return false;
        }
        if self
            .effect
            .as_ref()
            .is_some_and(|effect| *effect != taint.effect)
        {
            return false;
        }
        // A toleration with a time limit only delays eviction: it never makes a node that
        // evicts (NoExecute) a home for a lab that should live for days.
        if self.toleration_seconds.is_some() && taint.effect == "NoExecute" {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => self.key.as_ref().is_none_or(|key| *key == taint.key),
            TolerationOperator::Equal => {
                self.key.as_deref() == Some(taint.key.as_str())
                    && taint.value.is_some()
                    && self.value == taint.value
            }
        }
    }
}

/// Whether lab images belong on a node, and if not, why (shown to operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    Eligible,
    Ineligible {
        reason: IneligibleReason,
        /// The operator-facing sentence, naming the taint or condition (shared: every node
        /// snapshot copies each node's eligibility).
        comment: Arc<str>,
    },
}

/// Why a node is ineligible, as a fixed vocabulary: the `reason` label of the node metrics
/// and a column of `plan`'s table (the comment says the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IneligibleReason {
    /// `spec.unschedulable`.
    Cordoned,
    /// The `Ready` condition is not `True`.
    NotReady,
    /// A taint that `lab.tolerations` does not tolerate.
    Tainted,
}

impl IneligibleReason {
    /// Every reason, so that metrics report zeros rather than missing series.
    pub const ALL: [IneligibleReason; 3] = [
        IneligibleReason::Cordoned,
        IneligibleReason::NotReady,
        IneligibleReason::Tainted,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IneligibleReason::Cordoned => "cordoned",
            IneligibleReason::NotReady => "not_ready",
            IneligibleReason::Tainted => "tainted",
        }
    }
}

impl Eligibility {
    pub fn is_eligible(&self) -> bool {
        matches!(self, Eligibility::Eligible)
    }

    /// The operator-facing reason, `None` for an eligible node.
    pub fn comment(&self) -> Option<&str> {
        match self {
            Eligibility::Eligible => None,
            Eligibility::Ineligible { comment, .. } => Some(comment),
        }
    }

    /// Why the node is ineligible, `None` for an eligible node.
    pub fn reason(&self) -> Option<IneligibleReason> {
        match self {
            Eligibility::Eligible => None,
            Eligibility::Ineligible { reason, .. } => Some(*reason),
        }
    }

    fn ineligible(reason: IneligibleReason, comment: String) -> Eligibility {
        Eligibility::Ineligible {
            reason,
            comment: comment.into(),
        }
    }
}

/// Taints that fence off nodes of a platform (see [`Toleration::tolerates`]).
pub const PLATFORM_TAINT_KEYS: [&str; 3] = [
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/os",
];

/// The well-known label with a node's operating system (set by kubelet).
pub const OS_LABEL: &str = "kubernetes.io/os";
/// The well-known label with a node's CPU architecture (set by kubelet).
pub const ARCH_LABEL: &str = "kubernetes.io/arch";

impl NodeInfo {
    /// The node's operating system (`kubernetes.io/os`), e.g. `linux`.
    pub fn os(&self) -> Option<&str> {
        self.labels.get(OS_LABEL).map(String::as_str)
    }

    /// The node's CPU architecture (`kubernetes.io/arch`), e.g. `amd64`, `arm64`.
    pub fn arch(&self) -> Option<&str> {
        self.labels.get(ARCH_LABEL).map(String::as_str)
    }

    /// Whether the node's labels satisfy an equality label selector (`lab.nodeSelector`).
    pub fn matches_selector(&self, selector: &BTreeMap<String, String>) -> bool {
        selector
            .iter()
            .all(|(key, value)| self.labels.get(key) == Some(value))
    }

    /// Decides eligibility. The original looked only at taints; a cordoned or NotReady node is
    /// ineligible too, because a prepull pod bound to it would never run (or would pull onto a
    /// node about to be drained), and counting it would keep every image "not prepulled".
    pub fn eligibility(&self, tolerations: &[Toleration]) -> Eligibility {
        if self.unschedulable {
            return Eligibility::ineligible(
                IneligibleReason::Cordoned,
                "Node is cordoned (spec.unschedulable)".to_owned(),
            );
        }
        if self.ready == Some(false) {
            return Eligibility::ineligible(
                IneligibleReason::NotReady,
                "Node is not ready".to_owned(),
            );
        }
        let untolerated = self.taints.iter().find(|taint| {
            taint.effect != "PreferNoSchedule" && !tolerations.iter().any(|t| t.tolerates(taint))
        });
        match untolerated {
            None => Eligibility::Eligible,
            Some(taint) => Eligibility::ineligible(
                IneligibleReason::Tainted,
                match &taint.value {
                    Some(value) => format!(
                        "Node is tainted ({}, {} = {})",
                        taint.effect, taint.key, value
                    ),
                    None => format!("Node is tainted ({}, {})", taint.effect, taint.key),
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_shared_and_let_go_when_no_node_holds_them() {
        let mut names = ImageNames::default();
        let first = names.share("r/x@sha256:a");
        let again = names.share("r/x@sha256:a");
        assert!(Arc::ptr_eq(&first, &again));
        let other = names.share("r/x:t");
        assert_eq!((names.len(), &*other), (2, "r/x:t"));
        drop((first, again));
        names.forget_unused();
        assert_eq!(names.len(), 1, "only r/x:t is still held");
        // A name seen again after it was let go is a new copy with the same text.
        assert_eq!(&*names.share("r/x@sha256:a"), "r/x@sha256:a");
    }

    #[test]
    fn image_names_stay_within_twice_what_is_held() {
        let mut names = ImageNames::default();
        let held: Vec<Arc<str>> = (0..10).map(|i| names.share(&format!("kept{i}"))).collect();
        for i in 0..100_000 {
            names.share(&format!("gone{i}"));
        }
        assert!(names.len() <= 2 * 1024, "{} names kept", names.len());
        assert!(held.iter().all(|name| Arc::strong_count(name) == 2));
    }

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
        }
    }

    fn equal(key: &str, value: &str) -> Toleration {
        Toleration {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Toleration::default()
        }
    }

    fn node_with(taints: Vec<Taint>) -> NodeInfo {
        NodeInfo {
            name: "node1".into(),
            taints,
            ..NodeInfo::default()
        }
    }

    #[test]
    fn untainted_ready_node_is_eligible() {
        assert_eq!(node_with(vec![]).eligibility(&[]), Eligibility::Eligible);
    }

    #[test]
    fn first_untolerated_taint_is_named() {
        let node = node_with(vec![
            taint("some-taint", Some("some-value"), "NoSchedule"),
            taint("some-taint", Some("other-value"), "NoSchedule"),
            taint("bare", None, "NoExecute"),
        ]);
        let eligibility = node.eligibility(&[equal("some-taint", "some-value")]);
        assert_eq!(
            eligibility.comment(),
            Some("Node is tainted (NoSchedule, some-taint = other-value)")
        );
        let node = node_with(vec![taint("bare", None, "NoExecute")]);
        assert_eq!(
            node.eligibility(&[]).comment(),
            Some("Node is tainted (NoExecute, bare)")
        );
        assert_eq!(
            node.eligibility(&[]).reason(),
            Some(IneligibleReason::Tainted)
        );
        assert_eq!(node_with(vec![]).eligibility(&[]).reason(), None);
    }

    #[test]
    fn prefer_no_schedule_never_blocks() {
        let node = node_with(vec![taint("soft", Some("x"), "PreferNoSchedule")]);
        assert!(node.eligibility(&[]).is_eligible());
    }

    #[test]
    fn toleration_matching_rules() {
        let t = taint("k", Some("v"), "NoSchedule");
        assert!(equal("k", "v").tolerates(&t));
        assert!(!equal("k", "w").tolerates(&t));
        let bare = taint("k", None, "NoSchedule");
        assert!(
            !equal("k", "v").tolerates(&bare),
            "Equal never matches a value-less taint"
        );
        let exists_any = Toleration {
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        };
        assert!(exists_any.tolerates(&t) && exists_any.tolerates(&bare));
        let exists_other = Toleration {
            operator: TolerationOperator::Exists,
            key: Some("other".into()),
            ..Toleration::default()
        };
        assert!(!exists_other.tolerates(&t));
        let wrong_effect = Toleration {
            effect: Some("NoExecute".into()),
            ..equal("k", "v")
        };
        assert!(!wrong_effect.tolerates(&t));
        let timed = Toleration {
            toleration_seconds: Some(60),
            ..equal("k", "v")
        };
        assert!(timed.tolerates(&t));
        assert!(!timed.tolerates(&taint("k", Some("v"), "NoExecute")));
    }

    #[test]
    fn a_toleration_without_a_key_does_not_tolerate_platform_taints() {
        let catch_all = Toleration {
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        };
        let arm = node_with(vec![taint(
            "kubernetes.io/arch",
            Some("arm64"),
            "NoSchedule",
        )]);
        let windows = node_with(vec![taint(
            "node.kubernetes.io/os",
            Some("windows"),
            "NoSchedule",
        )]);
        let pool = node_with(vec![taint(
            "nublado.lsst.io/lab",
            Some("true"),
            "NoSchedule",
        )]);
        assert!(pool
            .eligibility(std::slice::from_ref(&catch_all))
            .is_eligible());
        assert_eq!(
            arm.eligibility(std::slice::from_ref(&catch_all)).comment(),
            Some("Node is tainted (NoSchedule, kubernetes.io/arch = arm64)")
        );
        assert!(!windows
            .eligibility(std::slice::from_ref(&catch_all))
            .is_eligible());
        let effect_only = Toleration {
            effect: Some("NoSchedule".into()),
            ..catch_all.clone()
        };
        assert!(!arm.eligibility(&[effect_only]).is_eligible());
        // Naming the key is an explicit choice.
        let arm64 = Toleration {
            key: Some("kubernetes.io/arch".into()),
            ..catch_all
        };
        assert!(arm.eligibility(&[arm64]).is_eligible());
    }

    #[test]
    fn cordoned_and_not_ready_nodes_are_ineligible() {
        let cordoned = NodeInfo {
            unschedulable: true,
            ..node_with(vec![])
        };
        assert!(!cordoned.eligibility(&[]).is_eligible());
        assert_eq!(
            cordoned.eligibility(&[]).reason(),
            Some(IneligibleReason::Cordoned)
        );
        let not_ready = NodeInfo {
            ready: Some(false),
            ..node_with(vec![])
        };
        assert_eq!(
            not_ready.eligibility(&[]).comment(),
            Some("Node is not ready")
        );
        assert_eq!(
            not_ready.eligibility(&[]).reason(),
            Some(IneligibleReason::NotReady)
        );
        let unknown = NodeInfo {
            ready: None,
            ..node_with(vec![])
        };
        assert!(unknown.eligibility(&[]).is_eligible());
    }

    #[test]
    fn cached_image_digest_is_the_first_parsable_one() {
        let image = CachedImage {
            references: vec![
                "no-slash@sha256:0".into(),
                "lighthouse.ceres/library/sketchbook:w_2077_43".into(),
                "lighthouse.ceres/library/sketchbook@sha256:5678".into(),
                "other.host/repo@sha256:9999".into(),
            ],
            size: Some(1),
        };
        assert_eq!(image.digest(), Some("sha256:5678"));
        let none = CachedImage {
            references: vec!["registry/repo:tag".into()],
            size: None,
        };
        assert_eq!(none.digest(), None);
    }

    #[test]
    fn toleration_validation() {
        assert!(equal("k", "v").validate().is_ok());
        let bad_exists = Toleration {
            operator: TolerationOperator::Exists,
            value: Some("v".into()),
            ..Toleration::default()
        };
        assert_eq!(bad_exists.validate(), Err(TolerationError::ExistsWithValue));
        let bad_equal = Toleration {
            key: Some("k".into()),
            ..Toleration::default()
        };
        assert_eq!(
            bad_equal.validate(),
            Err(TolerationError::EqualWithoutKeyOrValue)
        );
    }

    #[test]
    fn selector_requires_every_label() {
        let mut node = node_with(vec![]);
        node.labels.insert("a".into(), "1".into());
        let mut selector = BTreeMap::new();
        assert!(node.matches_selector(&selector));
        selector.insert("a".into(), "1".into());
        assert!(node.matches_selector(&selector));
        selector.insert("b".into(), "2".into());
        assert!(!node.matches_selector(&selector));
    }
}
