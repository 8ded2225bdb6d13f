//! The status snapshot the reconciler publishes: pairs being pulled or in trouble, counters
//! and the remembered successes.

use std::collections::BTreeMap;

use rsp_model::plan::PrepullImage;

use super::{Reconciler, SlotState};
use crate::prepuller::status::{PrepullerReport, PullStatus};

impl Reconciler {
    /// The status if it changed since the last call.
    pub fn take_status(&mut self) -> Option<PrepullerReport> {
        if !self.status_dirty {
            return None;
        }
        self.status_dirty = false;
        let mut pulls = BTreeMap::new();
        let failing = self
            .pairs
            .iter()
            .flat_map(|(node, pairs)| pairs.iter().map(move |(digest, pair)| (node, digest, pair)));
        for (node, digest, pair) in failing {
            let Some(image) = self.wanted_image(digest) else {
                continue;
            };
            let (reason, message, at) = match &pair.last_error {
                Some((reason, message, at)) => (Some(*reason), Some(message.clone()), Some(*at)),
                None => (None, None, None),
            };
            pulls.insert(
                (node.clone(), digest.clone()),
                PullStatus {
                    node: node.clone(),
                    image,
                    pulling_since: None,
                    pod: None,
                    failures: pair.failures,
                    last_error: message,
                    last_error_reason: reason,
                    last_error_at: at,
                    backing_off_until: pair.retry_at_wall,
                },
            );
        }
        for (node, slot) in &self.slots {
            if matches!(slot.state, SlotState::Deleting { .. }) {
                continue;
            }
            let key = (node.clone(), slot.image.digest.clone());
            let entry = pulls
                .entry(key)
                .or_insert_with(|| PullStatus::new(node.clone(), PrepullImage::clone(&slot.image)));
            entry.pulling_since = Some(slot.started_at);
            entry.pod = Some(slot.name.clone());
        }
        self.status.in_flight = self.slots.len();
        self.status.pulls = pulls;
        self.status.pulled = self.pulled.clone();
        Some(self.status.clone())
    }

    fn wanted_image(&self, digest: &str) -> Option<PrepullImage> {
        self.images
            .as_ref()?
            .iter()
            .find(|image| image.digest == digest)
            .cloned()
    }
}
