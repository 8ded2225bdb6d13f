//! How slots end: reading the API's answers and the pods' progress, recording successes
//! (remembered, event) and failures (backoff with jitter, event), and deleting the pod in every
//! case.

use chrono::{DateTime, Utc};
use rsp_model::plan::PrepullImage;
use std::sync::Arc;
use tokio::time::Instant;

use super::{Action, OpDone, PodView, Reconciler, SlotState, DELETE_RECHECK, VANISH_GRACE};
use crate::prepuller::observe::{progress, Progress};
use crate::prepuller::status::{FailureReason, PrepullEvent, PrepullOutcome};

impl Reconciler {
    /// Records the result of an API call.
    pub fn op_done(&mut self, done: OpDone, now: Instant, wall: DateTime<Utc>) {
        self.status_dirty = true;
        match done {
            OpDone::Created { node, name, result } => {
                let Some(slot) = self.slots.get_mut(&node).filter(|slot| slot.name == name) else {
                    return;
                };
                let SlotState::Creating { cancel } = slot.state else {
                    return;
                };
                match result {
                    Ok(uid) => {
                        self.status.pods_created_total += 1;
                        slot.state = SlotState::Running {
                            uid,
                            seen: false,
                            pull_error_since: None,
                            missing_since: None,
                        };
                        if cancel || self.stopping {
                            self.cancel(&node, now);
                        }
                    }
                    Err(_) if cancel || self.stopping => {
                        self.free_slot(&node);
                    }
                    Err(message) => {
                        self.fail(&node, FailureReason::CreateFailed, message, now, wall);
                        self.free_slot(&node);
                    }
                }
            }
            OpDone::Abandoned => {}
            done @ OpDone::Released { .. } => self.release_done(done, now),
            OpDone::Deleted { name, result } => {
                if let Err(message) = &result {
                    tracing::warn!(pod = %name, error = %message, "Failed to delete prepull pod; will retry");
                    return;
                }
                for slot in self.slots.values_mut() {
                    if slot.name == name {
                        if let SlotState::Deleting { confirmed, .. } = &mut slot.state {
                            *confirmed = true;
                        }
                    }
                }
            }
        }
    }

    pub(super) fn check_slot(
        &mut self,
        node: &str,
        now: Instant,
        wall: DateTime<Utc>,
        pods: &dyn PodView,
    ) {
        let timeout = self.config.prepull_timeout;
        let grace = self.config.pull_error_grace;
        let node_present = self.eligible.contains(node);
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        let pod = pods.get(&slot.name);
        let verdict = match &mut slot.state {
            // A create that timed out was already reported; its result ends the slot.
            SlotState::Creating { cancel: true } => return,
            SlotState::Creating { cancel: false } => None,
            SlotState::Deleting {
                uid,
                confirmed,
                resend_at,
            } => {
                // Gone, or replaced by another pod of the same name: ours is gone.
                let gone = pod.is_none_or(|pod| uid.is_some() && pod.metadata.uid != *uid);
                if *confirmed && gone {
                    self.free_slot(node);
                    self.status_dirty = true;
                } else if now >= *resend_at {
                    *resend_at = now + DELETE_RECHECK;
                    *confirmed = false;
                    self.outbox.push(Action::Delete {
                        name: slot.name.clone(),
                        uid: uid.clone(),
                    });
                }
                return;
            }
            SlotState::Running {
                uid,
                seen,
                pull_error_since,
                missing_since,
            } => match pod.filter(|pod| uid.is_none() || pod.metadata.uid == *uid) {
                Some(pod) => {
                    *seen = true;
                    *missing_since = None;
                    match progress(&pod) {
                        Progress::Pulled => Some(Ok(())),
                        Progress::Failed(reason, message) => Some(Err((reason, message))),
                        Progress::PullError(message) => {
                            let since = *pull_error_since.get_or_insert(now);
                            (now >= since + grace).then(|| {
                                let message = format!(
                                    "image pull kept failing for {}s: {message}",
                                    grace.as_secs()
                                );
                                Err((FailureReason::PullError, message))
                            })
                        }
                        Progress::Waiting => {
                            *pull_error_since = None;
                            None
                        }
                    }
                }
                None if *seen => {
                    let since = *missing_since.get_or_insert(now);
                    if !node_present {
                        // The node left; `replan` cancels the slot without an error.
                        None
                    } else if now >= since + VANISH_GRACE {
                        let message = format!("pod {} was deleted before it finished", slot.name);
                        Some(Err((FailureReason::PodDeleted, message)))
                    } else {
                        None
                    }
                }
                None => None,
            },
        };
        let verdict = verdict.or_else(|| {
            (now >= slot.started + timeout).then(|| {
                let message = format!("image not pulled within {}s", timeout.as_secs());
                Err((FailureReason::Timeout, message))
            })
        });
        match verdict {
            None => {}
            Some(Ok(())) => {
                self.succeed(node, now, wall);
                self.cancel(node, now);
            }
            Some(Err((reason, message))) => {
                self.fail(node, reason, message, now, wall);
                self.cancel(node, now);
            }
        }
    }

    fn succeed(&mut self, node: &str, now: Instant, wall: DateTime<Utc>) {
        let Some(slot) = self.slots.get(node) else {
            return;
        };
        let image = PrepullImage::clone(&slot.image);
        let duration = now.saturating_duration_since(slot.started);
        tracing::info!(%node, image = %image.reference_with_digest, seconds = duration.as_secs_f64(), "Prepulled image");
        // The node may list the image already (kubelet's status can beat the pod's): then it
        // is seen now, or no later report would ever mark it.
        let info = self
            .nodes
            .as_ref()
            .and_then(|nodes| nodes.get(node))
            .map(|(info, _)| info);
        let pulled = Arc::make_mut(&mut self.pulled);
        match info {
            Some(info) => pulled.insert_reported(info, &image.digest),
            None => pulled.insert(node, &image.digest),
        };
        if let Some(pairs) = self.pairs.get_mut(node) {
            pairs.remove(&image.digest);
        }
        if let Some(at) = self.planned_index(node) {
            self.plan.nodes[at]
                .images
                .retain(|candidate| candidate.digest != image.digest);
        }
        self.status.succeeded_total += 1;
        self.events.push(PrepullEvent {
            node: node.to_owned(),
            image,
            pod: slot.name.clone(),
            at: wall,
            duration,
            outcome: PrepullOutcome::Succeeded,
        });
    }

    fn fail(
        &mut self,
        node: &str,
        reason: FailureReason,
        message: String,
        now: Instant,
        wall: DateTime<Utc>,
    ) {
        let Some(slot) = self.slots.get(node) else {
            return;
        };
        let pair = self
            .pairs
            .entry(node.to_owned())
            .or_default()
            .entry(slot.image.digest.clone())
            .or_default();
        pair.failures += 1;
        let wait = self.config.backoff.delay(pair.failures);
        let retry_at_wall =
            wall + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        pair.retry_at = Some(now + wait);
        pair.retry_at_wall = Some(retry_at_wall);
        pair.last_error = Some((reason, message.clone(), wall));
        tracing::warn!(
            %node,
            image = %slot.image.reference_with_digest,
            %reason,
            error = %message,
            retry_in_seconds = wait.as_secs_f64(),
            "Failed to prepull image"
        );
        *self.status.failed_total.entry(reason).or_default() += 1;
        self.events.push(PrepullEvent {
            node: node.to_owned(),
            image: PrepullImage::clone(&slot.image),
            pod: slot.name.clone(),
            at: wall,
            duration: now.saturating_duration_since(slot.started),
            outcome: PrepullOutcome::Failed {
                reason,
                message,
                retry_at: retry_at_wall,
            },
        });
    }

    /// Forgets a slot whose pod is gone (or was never made): the node may take another. Its
    /// place in line is worked out again here, which also covers what its slot's end
    /// changed (its pulls, its plan, its backoffs): those change only while it holds a slot.
    fn free_slot(&mut self, node: &str) {
        self.slots.remove(node);
        self.queue.mark(node);
    }

    /// Ends a slot: deletes its pod (or marks a create in flight for deletion).
    pub(super) fn cancel(&mut self, node: &str, now: Instant) {
        let Some(slot) = self.slots.get_mut(node) else {
            return;
        };
        self.status_dirty = true;
        match &mut slot.state {
            SlotState::Creating { cancel } => *cancel = true,
            SlotState::Running { uid, .. } => {
                let uid = uid.clone();
                slot.state = SlotState::Deleting {
                    uid: uid.clone(),
                    confirmed: false,
                    resend_at: now + DELETE_RECHECK,
                };
                self.outbox.push(Action::Delete {
                    name: slot.name.clone(),
                    uid,
                });
            }
            SlotState::Deleting { .. } => {}
        }
    }
}
