//! What the prepuller tells the rest of the service: an event per finished pull (success or
//! failure with its reason and duration, for logs and the duration histogram) and a status
//! snapshot (pulls in progress, last errors, backoffs, remembered successes, counters) for
//! `/spawner/v1/prepulls`, the status page and `/metrics`.
//!
//! Only successful pulls are remembered (decisions.md §5 fix 1): the service marks an image as
//! cached on a node from [`PrepullerReport::pulled`] or from `Succeeded` events, never from an
//! attempt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rsp_model::plan::{PrepullImage, PulledSet};

/// Why a prepull failed; also the `reason` label of the failure counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureReason {
    /// The pod did not pull the image within `prepullTimeout`.
    Timeout,
    /// Kubelet kept failing to pull (`ErrImagePull` / `ImagePullBackOff`) past the grace period.
    PullError,
    /// Kubelet refused the image outright (`InvalidImageName`, `ErrImageNeverPull`).
    InvalidImage,
    /// The pod ended in phase `Failed` without having pulled the image.
    PodFailed,
    /// The API refused to create the pod.
    CreateFailed,
    /// Someone else deleted the pod before it finished.
    PodDeleted,
}

impl FailureReason {
    /// Stable snake_case name for metrics labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Timeout => "timeout",
            FailureReason::PullError => "pull_error",
            FailureReason::InvalidImage => "invalid_image",
            FailureReason::PodFailed => "pod_failed",
            FailureReason::CreateFailed => "create_failed",
            FailureReason::PodDeleted => "pod_deleted",
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one pull ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepullOutcome {
    Succeeded,
    Failed {
        reason: FailureReason,
        /// What went wrong, for people (includes the API or kubelet message).
        message: String,
        /// When this (node, image) pair will be tried again.
        retry_at: DateTime<Utc>,
    },
}

/// One finished pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepullEvent {
    pub node: String,
    pub image: PrepullImage,
    /// Name of the pod that did the work.
    pub pod: String,
    /// When the pull finished.
    pub at: DateTime<Utc>,
    /// From the pod's creation (or adoption) to the outcome.
    pub duration: Duration,
    pub outcome: PrepullOutcome,
}

/// Why the warm taint came off a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarmOutcome {
    /// Every eligible prepull image was cached there.
    Warm,
    /// `warmTimeout` passed first (fail open).
    TimedOut,
}

/// The warm taint removed from a node by this replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmEvent {
    pub node: String,
    /// From the node's Ready transition (or first sight) to the removal being sent.
    pub waited: Duration,
    pub outcome: WarmOutcome,
}

/// The prepuller's view of one (node, digest) pair that is being pulled or has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullStatus {
    pub node: String,
    pub image: PrepullImage,
    /// Set while a pod for this pair exists.
    pub pulling_since: Option<DateTime<Utc>>,
    pub pod: Option<String>,
    /// Consecutive failures since the last success.
    pub failures: u32,
    pub last_error: Option<String>,
    pub last_error_reason: Option<FailureReason>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// No new attempt before this time.
    pub backing_off_until: Option<DateTime<Utc>>,
}

impl PullStatus {
    /// A pair with nothing recorded yet: no pod, no failure.
    pub fn new(node: String, image: PrepullImage) -> PullStatus {
        PullStatus {
            node,
            image,
            pulling_since: None,
            pod: None,
            failures: 0,
            last_error: None,
            last_error_reason: None,
            last_error_at: None,
            backing_off_until: None,
        }
    }
}

/// What the prepuller reports of itself, published after every change. (Not the model's
/// `api::PrepullerStatus`, the `/spawner/v1/prepulls` body, which the service derives
/// from this and the served listing.)
#[derive(Debug, Clone, Default)]
pub struct PrepullerReport {
    /// Whether this replica is prepulling (it holds the lease, or election is off).
    pub active: bool,
    /// Prepull pods this replica created or adopted that still exist (including ones being
    /// deleted): never more than `maxInFlight`.
    pub in_flight: usize,
    /// Pairs being pulled or in trouble, by (node, digest).
    pub pulls: BTreeMap<(String, String), PullStatus>,
    /// (node, digest) pulls that succeeded while nodes stayed in the cluster.
    pub pulled: Arc<PulledSet>,
    /// Successful pulls since start.
    pub succeeded_total: u64,
    /// Failed pulls since start, by reason.
    pub failed_total: BTreeMap<FailureReason, u64>,
    /// Prepull pods created since start.
    pub pods_created_total: u64,
}

impl PrepullerReport {
    /// The status of one pair, if it is pulling or has failed.
    pub fn pull(&self, node: &str, digest: &str) -> Option<&PullStatus> {
        self.pulls.get(&(node.to_owned(), digest.to_owned()))
    }
}
