//! Warm nodes: a startup taint (`prepuller.warmTaint`) keeps labs off a node that has just
//! joined until every prepull image eligible for it is cached there; the prepuller's leader
//! then removes the taint, or removes it anyway at `prepuller.warmTimeout` so that a broken
//! registry never takes capacity away for good.
//!
//! What is pure lives here: the taint, the toleration prepull pods carry for it (and that
//! eligibility adds, so a node tainted only by it is eligible), where the taint sits on a
//! node, and the decision for one node. The patch is rsp-kube's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::node::{IneligibleReason, NodeInfo, Taint, Toleration, TolerationOperator};

/// The taint effects a warm taint may have: those that keep labs off a node.
/// `PreferNoSchedule` keeps nothing off, so it is no gate.
pub const WARM_TAINT_EFFECTS: [&str; 2] = ["NoSchedule", "NoExecute"];

/// The configured startup taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmTaint {
    pub key: String,
    pub effect: String,
}

impl WarmTaint {
    /// The toleration of the taint whatever its value (`operator: Exists`, key and effect):
    /// prepull pods carry it, and eligibility adds it to `lab.tolerations`.
    pub fn toleration(&self) -> Toleration {
        Toleration {
            key: Some(self.key.clone()),
            operator: TolerationOperator::Exists,
            effect: Some(self.effect.clone()),
            ..Toleration::default()
        }
    }

    /// Whether `taint` is this one (same key and effect; the value is the operator's).
    pub fn is(&self, taint: &Taint) -> bool {
        taint.key == self.key && taint.effect == self.effect
    }

    /// The index of the taint in the node's `spec.taints`, when the node carries it.
    pub fn index_on(&self, node: &NodeInfo) -> Option<usize> {
        node.taints.iter().position(|taint| self.is(taint))
    }
}

/// `lab.tolerations` with the warm taint's toleration added when one is configured: what
/// eligibility is judged with everywhere (the prepuller, the plan, the status pages).
pub fn eligibility_tolerations(lab: &[Toleration], warm: Option<&WarmTaint>) -> Vec<Toleration> {
    lab.iter()
        .cloned()
        .chain(warm.map(WarmTaint::toleration))
        .collect()
}

/// How long a node may stay cold: `configured` (`prepuller.warmTimeout`) when set, else the
/// prepull timeout times the number of prepull images (at least one), saturating.
pub fn timeout(configured: Option<Duration>, prepull_timeout: Duration, images: usize) -> Duration {
    configured.unwrap_or_else(|| {
        let images = u32::try_from(images.max(1)).unwrap_or(u32::MAX);
        prepull_timeout.saturating_mul(images)
    })
}

/// What to do about one node that carries the warm taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmDecision {
    /// Not warm yet, and within its time: keep the taint.
    Wait,
    /// Every eligible prepull image is cached (or none is due: the node is kept from labs by
    /// another taint): remove the taint.
    Warm,
    /// Not warm at `warmTimeout`: remove the taint anyway (fail open).
    TimedOut,
}

/// Decides for a node that carries the warm taint. `missing` is how many eligible prepull
/// images it still lacks; `waiting` how long it has waited (since Ready, or since first seen).
/// A cordoned or NotReady node waits (it takes no labs anyway, and nothing can be pulled
/// onto it); a node with another untolerated taint has nothing of ours due, so is warm.
pub fn decide(
    ineligible: Option<IneligibleReason>,
    missing: usize,
    waiting: Duration,
    timeout: Duration,
) -> WarmDecision {
    match ineligible {
        Some(IneligibleReason::Tainted) => WarmDecision::Warm,
        None if missing == 0 => WarmDecision::Warm,
        _ if waiting >= timeout => WarmDecision::TimedOut,
        _ => WarmDecision::Wait,
    }
}

/// How long a node has waited at `now`: since its `Ready` condition turned true when it is
/// Ready and says when, else since `first_seen` (when the prepuller first saw it tainted).
/// A clock that runs behind the node's report counts as no wait.
pub fn waited(node: &NodeInfo, first_seen: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let since = match (node.ready, node.ready_since) {
        (Some(true), Some(since)) => since.min(first_seen),
        _ => first_seen,
    };
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests;
