//! Warm nodes in the reconcile loop: for each node carrying the warm taint, whether every
//! eligible prepull image is cached there (the plan's images for it, less the pulls that
//! succeeded since), or its time is up; then the release of its taint, one call per node at
//! a time, checked again after a while when the node still shows the taint.
//!
//! The taint is never added, and a node whose taint someone else removed simply leaves the
//! set: an operator who releases a node by hand is not fought.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rsp_model::selected::SelectedNodes;
use rsp_model::warm::{self as rule, WarmDecision};
use tokio::time::Instant;

use super::{Action, OpDone, Reconciler};
use crate::prepuller::status::{WarmEvent, WarmOutcome};
use crate::warm::Released;

/// How long after a release (or a failed one) a node still showing the taint is looked at
/// again: long enough for the node watch to bring the change.
const RELEASE_RECHECK: Duration = Duration::from_secs(10);

/// A node carrying the warm taint.
#[derive(Debug)]
pub(super) struct ColdNode {
    /// When this prepuller first saw it tainted (its wait counts from Ready when known).
    first_seen: DateTime<Utc>,
    /// A release call is in flight.
    releasing: bool,
    /// Not looked at again before this (after a release, or a failed one).
    recheck_at: Option<Instant>,
    /// When it times out, while waiting.
    deadline: Option<Instant>,
}

impl Reconciler {
    /// Notes whether the node named `node` of `nodes` (the snapshot being planned) carries
    /// the warm taint; a node no longer there does not.
    pub(super) fn note_warm_taint(&mut self, nodes: &SelectedNodes, node: &str) {
        let tainted = self.config.warm.as_ref().is_some_and(|warm| {
            nodes
                .get(node)
                .is_some_and(|(info, _)| warm.taint.index_on(info).is_some())
        });
        if tainted {
            self.tainted.insert(node.to_owned());
        } else {
            self.tainted.remove(node);
        }
    }

    /// Decides, for every node carrying the warm taint, whether to release it now.
    pub(super) fn check_warm(&mut self, now: Instant, wall: DateTime<Utc>) {
        let (Some(warm), Some(nodes)) = (&self.config.warm, &self.nodes) else {
            return;
        };
        let timeout = warm.timeout(self.config.prepull_timeout, self.rank.len());
        for name in &self.tainted {
            let Some((node, eligibility)) = nodes.get(name) else {
                continue;
            };
            let Some(index) = warm.taint.index_on(node) else {
                continue;
            };
            let missing = self.planned(&node.name).map_or(0, |pulls| {
                pulls
                    .images
                    .iter()
                    .filter(|image| !self.pulled.contains(&node.name, &image.digest))
                    .count()
            });
            let cold = self
                .cold
                .entry(node.name.clone())
                .or_insert_with(|| ColdNode {
                    first_seen: wall,
                    releasing: false,
                    recheck_at: None,
                    deadline: None,
                });
            if cold.releasing || cold.recheck_at.is_some_and(|at| now < at) {
                continue;
            }
            let ineligible = eligibility.reason();
            let waited = rule::waited(node, cold.first_seen, wall);
            let outcome = match rule::decide(ineligible, missing, waited, timeout) {
                WarmDecision::Wait => {
                    cold.deadline = Some(now + timeout.saturating_sub(waited));
                    continue;
                }
                WarmDecision::Warm => WarmOutcome::Warm,
                WarmDecision::TimedOut => {
                    tracing::warn!(
                        node = %node.name,
                        missing,
                        ?timeout,
                        "Node not warm within the warm timeout: removing its warm taint anyway"
                    );
                    WarmOutcome::TimedOut
                }
            };
            cold.releasing = true;
            cold.deadline = None;
            self.outbox.push(Action::Release {
                node: node.name.clone(),
                index,
                taint: warm.taint.clone(),
                waited,
                outcome,
            });
        }
        let tainted = &self.tainted;
        self.cold.retain(|name, _| tainted.contains(name));
    }

    /// The soonest time a cold node times out or is to be looked at again.
    pub(super) fn warm_wakeup(&self, now: Instant) -> Option<Instant> {
        self.cold
            .values()
            .filter(|cold| !cold.releasing)
            .filter_map(|cold| cold.recheck_at.or(cold.deadline))
            .filter(|at| *at > now)
            .min()
    }

    /// Records the end of a release.
    pub(super) fn release_done(&mut self, done: OpDone, now: Instant) {
        let OpDone::Released {
            node,
            waited,
            outcome,
            result,
        } = done
        else {
            return;
        };
        if let Some(cold) = self.cold.get_mut(&node) {
            cold.releasing = false;
            cold.recheck_at = Some(now + RELEASE_RECHECK);
        }
        match result {
            Ok(Released::Removed) => {
                tracing::info!(%node, ?waited, ?outcome, "Removed the warm taint");
                self.warm_events.push(WarmEvent {
                    node,
                    waited,
                    outcome,
                });
            }
            Ok(Released::AlreadyGone) => {
                tracing::info!(%node, "The warm taint was already gone");
            }
            Err(error) => {
                tracing::warn!(%node, %error, "Failed to remove the warm taint; will retry");
            }
        }
    }

    /// Warm taints removed since the last call.
    pub fn take_warm_events(&mut self) -> Vec<WarmEvent> {
        std::mem::take(&mut self.warm_events)
    }

    /// Orders slot candidates: nodes with nothing cached first (0), then the others (1).
    pub(super) fn cache_order(&self, node: &str) -> u8 {
        let nothing =
            self.empty.contains(node) && !self.rank.keys().any(|d| self.pulled.contains(node, d));
        u8::from(!nothing)
    }
}
