//! The line of nodes waiting for a free slot, kept node by node.
//!
//! Nodes are served in this order: a node that caches none of the wanted images first, then
//! by the priority of the image it would pull, then by name (the node watcher's listing
//! order). Ranking every planned node on every pass with a free slot cost, at 5,000 nodes, a
//! few milliseconds of hashing per finished pull: more than everything else the prepuller
//! does for a pod, and enough to make a large cluster's prepull bound by CPU rather than by
//! `maxInFlight`. Instead a node's place is worked out again only when something it depends
//! on may have changed (its part of the plan, its pulls, its failures, its slot, an orphan pod
//! on it: the reconciler marks it), or when a backoff that held back one of its images ends;
//! a whole re-plan marks every node.

use std::collections::{BTreeSet, HashMap, HashSet};

use rsp_model::plan::PlannedImage;
use tokio::time::Instant;

use super::Reconciler;

/// A node's place in line (see the module comment for the order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    /// 0 for a node that caches nothing wanted, 1 for the others.
    cached: u8,
    /// The priority of the image it would pull (0 first).
    rank: usize,
    node: String,
}

/// See the module comment.
#[derive(Debug, Default)]
pub(super) struct SlotQueue {
    /// The nodes that could take a slot now, in the order they get one.
    line: BTreeSet<Place>,
    /// Each node in `line`: its place and the image it would pull.
    queued: HashMap<String, (Place, PlannedImage)>,
    /// Nodes whose place may have changed since it was worked out.
    stale: HashSet<String>,
    /// Every node's place may have changed.
    all_stale: bool,
    /// When a backoff ends that may let a node move up or into line.
    wakes: BTreeSet<(Instant, String)>,
}

impl SlotQueue {
    /// Something the node's place depends on may have changed.
    pub(super) fn mark(&mut self, node: &str) {
        if !self.all_stale {
            self.stale.insert(node.to_owned());
        }
    }

    /// Anything may have changed (a whole re-plan).
    pub(super) fn mark_all(&mut self) {
        self.all_stale = true;
        self.stale.clear();
    }

    fn take_out(&mut self, node: &str) {
        if let Some((place, _)) = self.queued.remove(node) {
            self.line.remove(&place);
        }
    }

    fn put(&mut self, place: Place, image: PlannedImage) {
        self.line.insert(place.clone());
        self.queued.insert(place.node.clone(), (place, image));
    }
}

impl Reconciler {
    /// The first `free` nodes in line at `now`, each with the image it would pull.
    pub(super) fn next_in_line(
        &mut self,
        free: usize,
        now: Instant,
    ) -> Vec<(String, PlannedImage)> {
        self.refresh_line(now);
        self.queue
            .line
            .iter()
            .take(free)
            .filter_map(|place| {
                let (_, image) = self.queue.queued.get(&place.node)?;
                Some((place.node.clone(), image.clone()))
            })
            .collect()
    }

    /// Works out again the places of the nodes marked, and of those whose backoff ended.
    fn refresh_line(&mut self, now: Instant) {
        while let Some((at, node)) = self.queue.wakes.first().cloned() {
            if at > now {
                break;
            }
            self.queue.wakes.pop_first();
            self.queue.mark(&node);
        }
        let stale: Vec<String> = if self.queue.all_stale {
            self.queue = SlotQueue::default();
            self.plan
                .nodes
                .iter()
                .map(|pulls| pulls.node.clone())
                .collect()
        } else {
            self.queue.stale.drain().collect()
        };
        for node in stale {
            self.place(&node, now);
        }
    }

    /// Puts the node where it belongs in line now, or out of it.
    fn place(&mut self, node: &str, now: Instant) {
        self.queue.take_out(node);
        let busy = self.slots.contains_key(node) || self.orphans.values().any(|o| o.node == node);
        if busy {
            return;
        }
        let Some(pulls) = self.planned(node) else {
            return;
        };
        let pairs = self.pairs.get(node);
        // The first image not pulled yet and not backing off; the backoffs of those before
        // it say when it may change.
        let mut wake: Option<Instant> = None;
        let mut next = None;
        for image in &pulls.images {
            if self.pulled.contains(node, &image.digest) {
                continue;
            }
            let retry_at = pairs
                .and_then(|pairs| pairs.get(&image.digest))
                .and_then(|pair| pair.retry_at);
            match retry_at {
                Some(at) if at > now => wake = Some(wake.map_or(at, |wake| wake.min(at))),
                _ => {
                    next = Some(image.clone());
                    break;
                }
            }
        }
        if let Some(at) = wake {
            self.queue.wakes.insert((at, node.to_owned()));
        }
        if let Some(image) = next {
            let place = Place {
                cached: self.cache_order(node),
                rank: self.rank.get(&image.digest).copied().unwrap_or(usize::MAX),
                node: node.to_owned(),
            };
            self.queue.put(place, image);
        }
    }
}

/// (node, digest) pairs in the order the nodes get a slot.
#[cfg(test)]
pub(super) type Line = Vec<(String, String)>;

#[cfg(test)]
impl Reconciler {
    /// The line as it is kept, and the line that ranking every planned node gives (what each
    /// pass with a free slot did before the line was kept): (node, digest) pairs in the
    /// order nodes get a slot. The two must always agree.
    pub(super) fn line_kept_and_ranked(&mut self, now: Instant) -> (Line, Line) {
        self.refresh_line(now);
        let kept = self
            .queue
            .line
            .iter()
            .filter_map(|place| {
                let (_, image) = self.queue.queued.get(&place.node)?;
                Some((place.node.clone(), image.digest.clone()))
            })
            .collect();
        let busy: HashSet<&str> = self
            .slots
            .keys()
            .map(String::as_str)
            .chain(self.orphans.values().map(|orphan| orphan.node.as_str()))
            .collect();
        let mut ranked: Vec<(u8, usize, String, String)> = Vec::new();
        for pulls in &self.plan.nodes {
            if busy.contains(pulls.node.as_str()) {
                continue;
            }
            let next = pulls.images.iter().find(|image| {
                !self.pulled.contains(&pulls.node, &image.digest)
                    && self
                        .pairs
                        .get(&pulls.node)
                        .and_then(|pairs| pairs.get(&image.digest))
                        .and_then(|pair| pair.retry_at)
                        .is_none_or(|retry_at| now >= retry_at)
            });
            if let Some(image) = next {
                let rank = self.rank.get(&image.digest).copied().unwrap_or(usize::MAX);
                let cached = self.cache_order(&pulls.node);
                ranked.push((cached, rank, pulls.node.clone(), image.digest.clone()));
            }
        }
        ranked.sort();
        let ranked = ranked
            .into_iter()
            .map(|(_, _, node, digest)| (node, digest))
            .collect();
        (kept, ranked)
    }
}
