//! The prepuller's state machine, without I/O: it takes what the watchers saw and what API
//! calls returned, and answers with the pods to create or delete next.
//!
//! Keeping it synchronous and clock-injected makes every rule testable without a cluster:
//!
//! - one *slot* per node (one image at a time per node), each slot being a pod we create, run
//!   or delete; slots plus foreign prepull pods never exceed `max_in_flight`;
//! - a slot ends in success (image on the node), failure (timeout, pull errors past a grace
//!   period, a failed pod, a refused create), or cancellation (node left or became
//!   ineligible, image no longer wanted); in every case its pod is deleted and the slot is
//!   freed only once the pod is gone (decisions.md §5 fix 8);
//! - failures back off per (node, digest) with jitter; the node moves on to its next image;
//! - candidates are ordered by image priority, then node name (the node watcher's listing
//!   order), so that every node gets its most important image before any node gets its
//!   second, and a node that joins is served at the next free slot; a node with nothing
//!   cached (one that just joined) comes before all others, so that a cold node waits for one
//!   slot at most; the line is kept node by node (`queue.rs`), not ranked again per pass;
//! - with warm nodes configured, a node carrying the warm taint loses it once every eligible
//!   prepull image is cached there, or at the warm timeout (`warm.rs`);
//! - on start, prepull pods left by a previous run are adopted when they do wanted work, and
//!   deleted otherwise;
//! - a node snapshot that differs from the last planned one in a few nodes (node events)
//!   re-plans only those nodes ([`PrepullPlan::update_node`], the pulls they remember, their
//!   eligibility); new images, or many nodes changed at once (a relist), re-plan them all.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use rsp_model::plan::{self, NodePulls, PlannedImage, PrepullImage, PrepullPlan, PulledSet};
use tokio::time::Instant;

use super::status::{FailureReason, PrepullEvent, PrepullerReport, WarmEvent, WarmOutcome};
use crate::config::PrepullerSettings;
use crate::nodes::NodeSnapshot;
use crate::pod::{pod_name, prepull_pod};
use crate::warm::Released;
use rsp_model::warm::WarmTaint;

/// Delay before a delete that has not visibly taken effect is sent again.
const DELETE_RECHECK: Duration = Duration::from_secs(10);
/// How long a pod may be missing before it counts as deleted by someone else: long enough for
/// a node removal to reach us through the node watch, so that it is not reported as a failure.
const VANISH_GRACE: Duration = Duration::from_millis(500);
/// Up to how many changed nodes (or an eighth of the nodes, if more) a new node snapshot
/// re-plans node by node; past that, planning every node at once is as cheap.
const FEW_CHANGED_NODES: usize = 64;

/// How many nodes of a snapshot of `nodes` nodes may change for it to be followed node by
/// node (see [`FEW_CHANGED_NODES`]).
pub(super) fn few_changed(nodes: usize) -> usize {
    FEW_CHANGED_NODES.max(nodes / 8)
}

/// An API call the runner should make.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create {
        node: String,
        name: String,
        pod: Box<Pod>,
    },
    /// Deletes the pod of that name, and only the one with that uid when it is known, so
    /// that a pod created under the same name since is never deleted by mistake.
    Delete { name: String, uid: Option<String> },
    /// Removes the warm taint from a node (at `index` in its last snapshot).
    Release {
        node: String,
        index: usize,
        taint: WarmTaint,
        waited: Duration,
        outcome: WarmOutcome,
    },
}

/// The result of an [`Action`], fed back to the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpDone {
    /// `Ok` carries the new pod's uid.
    Created {
        node: String,
        name: String,
        result: Result<Option<String>, String>,
    },
    /// `Ok` also when the pod was already gone.
    Deleted {
        name: String,
        result: Result<(), String>,
    },
    /// A warm taint release ended.
    Released {
        node: String,
        waited: Duration,
        outcome: WarmOutcome,
        result: Result<Released, String>,
    },
    /// The call was dropped unfinished because this replica stopped leading (the session is
    /// ending: nothing to record).
    Abandoned,
}

/// The prepull pods the pod watcher currently sees.
pub trait PodView {
    fn get(&self, name: &str) -> Option<Arc<Pod>>;
    fn all(&self) -> Vec<Arc<Pod>>;
}

#[derive(Debug)]
enum SlotState {
    Creating {
        cancel: bool,
    },
    Running {
        /// The pod's uid, so that a stale pod of the same name is never taken for ours.
        uid: Option<String>,
        seen: bool,
        pull_error_since: Option<Instant>,
        missing_since: Option<Instant>,
    },
    Deleting {
        /// The pod's uid, when known, so that only that pod is deleted.
        uid: Option<String>,
        confirmed: bool,
        resend_at: Instant,
    },
}

#[derive(Debug)]
struct Slot {
    name: String,
    image: PlannedImage,
    started: Instant,
    started_at: DateTime<Utc>,
    state: SlotState,
}

#[derive(Debug, Default)]
struct PairState {
    failures: u32,
    retry_at: Option<Instant>,
    retry_at_wall: Option<DateTime<Utc>>,
    last_error: Option<(FailureReason, String, DateTime<Utc>)>,
}

/// A prepull pod of ours that no slot tracks (left by an earlier run or another replica),
/// being deleted.
#[derive(Debug)]
struct Orphan {
    node: String,
    uid: Option<String>,
    resend_at: Instant,
}

/// See the module comment.
pub struct Reconciler {
    config: PrepullerSettings,
    nodes: Option<NodeSnapshot>,
    images: Option<Arc<[PrepullImage]>>,
    pods_synced: bool,
    started: bool,
    stopping: bool,
    /// The plan must be made again whole (new images, or no plan yet).
    plan_dirty: bool,
    plan: PrepullPlan,
    /// The node snapshot `plan` was made from; a newer one re-plans the nodes that changed.
    planned_nodes: Option<NodeSnapshot>,
    /// Eligible node names (from the snapshot's eligibility), and wanted digests with their
    /// priority.
    eligible: HashSet<String>,
    rank: HashMap<String, usize>,
    slots: BTreeMap<String, Slot>,
    orphans: BTreeMap<String, Orphan>,
    /// Failure state by node, then digest (nested so that lookups need no allocation).
    pairs: HashMap<String, HashMap<String, PairState>>,
    pulled: Arc<PulledSet>,
    outbox: Vec<Action>,
    events: Vec<PrepullEvent>,
    /// Nodes carrying the warm taint, by name (see `warm.rs`).
    cold: BTreeMap<String, warm::ColdNode>,
    /// Nodes of the planned snapshot that carry the warm taint, kept with the plan so that
    /// a pass looks at these few, not at every node.
    tainted: BTreeSet<String>,
    /// The nodes waiting for a slot, in the order they get one.
    queue: queue::SlotQueue,
    /// Eligible nodes on which no wanted image is cached: first in line for a slot.
    empty: HashSet<String>,
    warm_events: Vec<WarmEvent>,
    status: PrepullerReport,
    status_dirty: bool,
}

impl Reconciler {
    /// A reconciler that remembers `pulled` from earlier sessions.
    pub fn new(config: PrepullerSettings, pulled: Arc<PulledSet>) -> Self {
        Reconciler {
            config,
            nodes: None,
            images: None,
            pods_synced: false,
            started: false,
            stopping: false,
            plan_dirty: true,
            plan: PrepullPlan::default(),
            planned_nodes: None,
            eligible: HashSet::new(),
            rank: HashMap::new(),
            slots: BTreeMap::new(),
            orphans: BTreeMap::new(),
            pairs: HashMap::new(),
            status: PrepullerReport {
                active: true,
                pulled: pulled.clone(),
                ..PrepullerReport::default()
            },
            pulled,
            outbox: Vec::new(),
            events: Vec::new(),
            cold: BTreeMap::new(),
            tainted: BTreeSet::new(),
            queue: queue::SlotQueue::default(),
            empty: HashSet::new(),
            warm_events: Vec::new(),
            status_dirty: true,
        }
    }

    /// A new node snapshot: the next pass re-plans the nodes that changed since the plan.
    pub fn set_nodes(&mut self, nodes: Option<NodeSnapshot>) {
        self.nodes = nodes;
    }

    pub fn set_images(&mut self, images: Option<Arc<[PrepullImage]>>) {
        self.images = images;
        self.plan_dirty = true;
    }

    /// The pod watcher finished its first list.
    pub fn pods_synced(&mut self) {
        self.pods_synced = true;
    }

    /// Stop creating pods and delete ours.
    pub fn stop(&mut self) {
        self.stopping = true;
        let names: Vec<String> = self.slots.keys().cloned().collect();
        for node in names {
            self.cancel(&node, Instant::now());
        }
    }

    /// Nothing of ours exists any more.
    pub fn is_idle(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether [`Reconciler::take_status`] would return something.
    pub fn has_status_changes(&self) -> bool {
        self.status_dirty
    }

    pub fn pulled(&self) -> Arc<PulledSet> {
        self.pulled.clone()
    }

    /// Finished pulls since the last call.
    pub fn take_events(&mut self) -> Vec<PrepullEvent> {
        std::mem::take(&mut self.events)
    }

    /// Decides what to do now; returns the API calls to make.
    pub fn reconcile(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        pods: &dyn PodView,
    ) -> Vec<Action> {
        if self.pods_synced && self.nodes.is_some() && self.images.is_some() {
            if self.plan_dirty {
                self.replan(now);
            } else {
                self.replan_changed_nodes(now);
            }
            if !self.started {
                self.adopt(now, wall, pods);
                self.started = true;
            }
            let nodes: Vec<String> = self.slots.keys().cloned().collect();
            for node in nodes {
                self.check_slot(&node, now, wall, pods);
            }
            self.sweep_orphans(now, pods);
            if !self.stopping {
                self.start_pulls(now, wall);
                self.check_warm(now, wall);
            }
        }
        std::mem::take(&mut self.outbox)
    }

    /// When `reconcile` should run again even if nothing happens.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let timeout = self.config.prepull_timeout;
        let grace = self.config.pull_error_grace;
        let slots = self.slots.values().filter_map(|slot| match &slot.state {
            SlotState::Creating { cancel } => (!cancel).then_some(slot.started + timeout),
            SlotState::Running {
                pull_error_since,
                missing_since,
                ..
            } => [
                Some(slot.started + timeout),
                pull_error_since.map(|since| since + grace),
                missing_since.map(|since| since + VANISH_GRACE),
            ]
            .into_iter()
            .flatten()
            .min(),
            SlotState::Deleting { resend_at, .. } => Some(*resend_at),
        });
        let orphans = self.orphans.values().map(|orphan| orphan.resend_at);
        // A retry time already passed waits for a free slot, which wakes us anyway.
        let retries = self
            .pairs
            .values()
            .flat_map(HashMap::values)
            .filter_map(|pair| pair.retry_at)
            .filter(|retry_at| *retry_at > now);
        slots
            .chain(orphans)
            .chain(retries)
            .chain(self.warm_wakeup(now))
            .min()
    }

    fn replan(&mut self, now: Instant) {
        self.plan_dirty = false;
        self.status_dirty = true;
        let (Some(nodes), Some(images)) = (self.nodes.clone(), self.images.clone()) else {
            return;
        };
        // Evicted images must be pulled again: follow what the nodes list now.
        if let Some(pulled) = self
            .pulled
            .follow_reports(nodes.nodes(), self.config.node_status_max_images)
        {
            self.pulled = Arc::new(pulled);
        }
        // Eligibility and what the nodes report come with the snapshot, computed once by
        // the node watcher and shared with the service.
        self.plan = plan::plan_for_selected(&images, &nodes, &self.pulled);
        self.planned_nodes = Some(Arc::clone(&nodes));
        self.queue.mark_all();
        self.tainted.clear();
        for node in nodes.iter() {
            self.note_warm_taint(&nodes, &node.name);
        }
        self.eligible = nodes.eligible().map(|node| node.name.clone()).collect();
        self.rank = HashMap::new();
        for (index, image) in images.iter().enumerate() {
            self.rank.entry(image.digest.clone()).or_insert(index);
        }
        let rank = &self.rank;
        self.empty = nodes
            .eligible()
            .filter(|node| caches_nothing_wanted(rank, &nodes, &node.name))
            .map(|node| node.name.clone())
            .collect();
        let present: HashSet<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
        let departed: Vec<String> = self
            .pulled
            .nodes()
            .filter(|node| !present.contains(node))
            .map(str::to_owned)
            .collect();
        if !departed.is_empty() {
            let pulled = Arc::make_mut(&mut self.pulled);
            for node in &departed {
                pulled.remove_node(node);
            }
        }
        let eligible = &self.eligible;
        let rank = &self.rank;
        self.pairs.retain(|node, pairs| {
            pairs.retain(|digest, _| rank.contains_key(digest));
            eligible.contains(node) && !pairs.is_empty()
        });
        let unwanted: Vec<String> = self
            .slots
            .iter()
            .filter(|(node, slot)| {
                !eligible.contains(*node) || !rank.contains_key(&slot.image.digest)
            })
            .map(|(node, _)| node.clone())
            .collect();
        for node in unwanted {
            self.drop_work(&node, now);
        }
    }

    /// Re-plans only the nodes that joined, left or changed since the plan was made (node
    /// events: the cost is theirs, not the cluster's), or every node when many changed.
    fn replan_changed_nodes(&mut self, now: Instant) {
        let (Some(nodes), Some(planned)) = (&self.nodes, &self.planned_nodes) else {
            return self.replan(now);
        };
        if Arc::ptr_eq(nodes, planned) {
            return;
        }
        let Some(changed) = nodes.changed_since(planned, few_changed(nodes.len())) else {
            return self.replan(now);
        };
        let nodes = Arc::clone(nodes);
        self.planned_nodes = Some(Arc::clone(&nodes));
        self.status_dirty = true;
        // Evicted images must be pulled again; a node that left is forgotten. The set is
        // changed where it is: copied only when a published status still shares it.
        PulledSet::follow_reports_of(
            &mut self.pulled,
            &nodes,
            &changed,
            self.config.node_status_max_images,
        );
        for node in &changed {
            self.plan.update_node(&nodes, node, &self.pulled);
            self.queue.mark(node);
            self.note_warm_taint(&nodes, node);
            let eligible = nodes
                .get(node)
                .is_some_and(|(_, eligibility)| eligibility.is_eligible());
            if eligible {
                self.eligible.insert(node.clone());
                if caches_nothing_wanted(&self.rank, &nodes, node) {
                    self.empty.insert(node.clone());
                } else {
                    self.empty.remove(node);
                }
            } else {
                self.eligible.remove(node);
                self.empty.remove(node);
                self.pairs.remove(node);
                if self.slots.contains_key(node) {
                    self.drop_work(node, now);
                }
            }
        }
    }

    /// Cancels a node's slot whose node or image is no longer wanted (no failure).
    fn drop_work(&mut self, node: &str, now: Instant) {
        tracing::info!(%node, "Dropping prepull work for a node or image no longer wanted");
        self.cancel(node, now);
    }

    /// Takes over prepull pods from an earlier run that do wanted work; deletes the others.
    fn adopt(&mut self, now: Instant, wall: DateTime<Utc>, pods: &dyn PodView) {
        let mut all = pods.all();
        all.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for pod in all {
            let Some(name) = pod.metadata.name.clone() else {
                continue;
            };
            let node = pod_node(&pod);
            let image = pod_image(&pod);
            // A pod adopted or deleted here makes its node busy: adoption follows the first
            // whole re-plan, whose line is worked out after it.
            let wanted = self.planned(&node).and_then(|pulls| {
                pulls
                    .images
                    .iter()
                    .find(|candidate| Some(candidate.reference_with_digest.as_str()) == image)
            });
            let adoptable = pod.metadata.deletion_timestamp.is_none()
                && !self.slots.contains_key(&node)
                && self.slots.len() < self.config.max_in_flight;
            match wanted {
                Some(image) if adoptable => {
                    tracing::info!(pod = %name, %node, "Adopting prepull pod from an earlier run");
                    let slot = Slot {
                        name,
                        image: image.clone(),
                        started: now,
                        started_at: wall,
                        state: SlotState::Running {
                            uid: pod.metadata.uid.clone(),
                            seen: true,
                            pull_error_since: None,
                            missing_since: None,
                        },
                    };
                    self.slots.insert(node, slot);
                }
                _ => {
                    tracing::info!(pod = %name, %node, "Deleting leftover prepull pod");
                    let uid = pod.metadata.uid.clone();
                    self.orphans.insert(
                        name.clone(),
                        Orphan {
                            node,
                            uid: uid.clone(),
                            resend_at: now + DELETE_RECHECK,
                        },
                    );
                    self.outbox.push(Action::Delete { name, uid });
                }
            }
        }
    }

    /// Deletes prepull pods of ours that no slot tracks; forgets them once gone. (The pod
    /// watcher selects rsp-images' labels: other prepullers' pods are never seen here.)
    fn sweep_orphans(&mut self, now: Instant, pods: &dyn PodView) {
        let ours: HashSet<&str> = self.slots.values().map(|slot| slot.name.as_str()).collect();
        for pod in pods.all() {
            let Some(name) = pod.metadata.name.as_deref() else {
                continue;
            };
            if ours.contains(name) || self.orphans.contains_key(name) {
                continue;
            }
            tracing::info!(pod = %name, "Deleting prepull pod this prepuller does not track");
            let uid = pod.metadata.uid.clone();
            let node = pod_node(&pod);
            self.queue.mark(&node);
            self.orphans.insert(
                name.to_owned(),
                Orphan {
                    node,
                    uid: uid.clone(),
                    resend_at: now + DELETE_RECHECK,
                },
            );
            self.outbox.push(Action::Delete {
                name: name.to_owned(),
                uid,
            });
        }
        let (outbox, queue) = (&mut self.outbox, &mut self.queue);
        self.orphans.retain(|name, orphan| {
            let gone = match pods.get(name) {
                None => true,
                // Another pod took the name: that one is judged on its own.
                Some(pod) => orphan.uid.is_some() && pod.metadata.uid != orphan.uid,
            };
            if gone {
                queue.mark(&orphan.node);
                return false;
            }
            if now >= orphan.resend_at {
                orphan.resend_at = now + DELETE_RECHECK;
                outbox.push(Action::Delete {
                    name: name.clone(),
                    uid: orphan.uid.clone(),
                });
            }
            true
        });
    }

    fn start_pulls(&mut self, now: Instant, wall: DateTime<Utc>) {
        let in_use = self.slots.len() + self.orphans.len();
        let free = self.config.max_in_flight.saturating_sub(in_use);
        if free == 0 {
            return;
        }
        let chosen = self.next_in_line(free, now);
        for (node, image) in chosen {
            let name = pod_name(&image, &node);
            let pod = prepull_pod(&self.config.pod, &image, &node);
            tracing::debug!(pod = %name, %node, "Creating prepull pod");
            self.queue.mark(&node);
            self.slots.insert(
                node.clone(),
                Slot {
                    name: name.clone(),
                    image,
                    started: now,
                    started_at: wall,
                    state: SlotState::Creating { cancel: false },
                },
            );
            self.outbox.push(Action::Create {
                node,
                name,
                pod: Box::new(pod),
            });
            self.status_dirty = true;
        }
    }

    /// The plan's entry for the node named `node`, found by binary search when the plan
    /// follows the snapshot's name order (the node watcher's), by a scan otherwise.
    fn planned_index(&self, node: &str) -> Option<usize> {
        let in_name_order = self
            .planned_nodes
            .as_ref()
            .is_some_and(|nodes| nodes.is_in_name_order());
        if in_name_order {
            self.plan
                .nodes
                .binary_search_by(|pulls| pulls.node.as_str().cmp(node))
                .ok()
        } else {
            self.plan.nodes.iter().position(|pulls| pulls.node == node)
        }
    }

    fn planned(&self, node: &str) -> Option<&NodePulls> {
        self.planned_index(node).map(|at| &self.plan.nodes[at])
    }
}

/// Whether the snapshot shows none of the wanted digests (`rank`) on `node`: such a node (one
/// that just joined) goes first for a slot.
fn caches_nothing_wanted(
    rank: &HashMap<String, usize>,
    nodes: &rsp_model::selected::SelectedNodes,
    node: &str,
) -> bool {
    !rank
        .keys()
        .any(|digest| nodes.reported().is_on(digest, node))
}

fn pod_node(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.clone())
        .unwrap_or_default()
}

fn pod_image(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.containers.first()?.image.as_deref()
}

mod outcome;
mod queue;
mod report;
#[cfg(test)]
mod tests;
mod warm;
