//! The state of one prepull image on one node (a *cell* of the image × node grid), and its
//! kind: the fieldless name that summaries count, filters select and pages colour.
//!
//! A cell is decided from four facts the served snapshot holds: whether the node caches the
//! digest (node presence, pulls seen to succeed included), whether the node is eligible,
//! whether the image runs on the node's platform (as far as the registry told), and what the
//! prepuller reports about the pair (a pod pulling it, or the last failure and the back-off
//! after it). What is cached wins: a pull reported after the image arrived changes nothing
//! anyone must do. Next comes a platform mismatch on an eligible node: the pair cannot exist,
//! so it is neither missing nor failing, whatever an older pull reported.

use chrono::{DateTime, Utc};
use rsp_kube::prepuller::PullStatus;
use std::time::SystemTime;

/// The state of one image on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    /// The node reports the image (or a prepull of it succeeded).
    Cached,
    /// A prepull pod is pulling it.
    Pulling { since: SystemTime },
    /// The last prepull failed and the pair waits before the next try.
    BackingOff {
        reason: String,
        failed_at: SystemTime,
        until: SystemTime,
    },
    /// Not on the (eligible) node yet, nothing under way: waiting for a prepull slot.
    Missing,
    /// Not on the node, and not wanted there: the node is ineligible for lab images.
    NotWanted,
    /// The node is eligible but the image does not run on its platform: it can never be
    /// there (kubelet would fail with "no match for platform" on every try).
    Unsupported(PlatformMismatch),
}

/// An image's platforms against a node's, as pages show a mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformMismatch {
    /// The node's `os/arch`, e.g. `linux/arm64` (`?` for a missing label).
    pub node: String,
    /// The image's platforms, e.g. `linux/amd64`.
    pub image: String,
}

/// What a [`CellState`] is, without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CellKind {
    Cached,
    Pulling,
    BackingOff,
    Missing,
    NotWanted,
    Unsupported,
}

impl CellKind {
    /// Every kind, in the order pages list them. A new kind is added here too (its
    /// [`CellKind::index`] is its position).
    pub const ALL: [CellKind; 6] = [
        CellKind::Cached,
        CellKind::Pulling,
        CellKind::BackingOff,
        CellKind::Missing,
        CellKind::NotWanted,
        CellKind::Unsupported,
    ];

    /// Position in [`CellKind::ALL`].
    pub fn index(self) -> usize {
        match self {
            CellKind::Cached => 0,
            CellKind::Pulling => 1,
            CellKind::BackingOff => 2,
            CellKind::Missing => 3,
            CellKind::NotWanted => 4,
            CellKind::Unsupported => 5,
        }
    }

    /// The kind's name in URLs (`?state=backing-off`) and CSS classes.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Cached => "cached",
            CellKind::Pulling => "pulling",
            CellKind::BackingOff => "backing-off",
            CellKind::Missing => "missing",
            CellKind::NotWanted => "not-wanted",
            CellKind::Unsupported => "unsupported",
        }
    }

    pub fn from_name(name: &str) -> Option<CellKind> {
        CellKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether the image belongs on the node: such cells make up the "of M nodes" of an
    /// image's summary, and a node is complete when all of them are cached. An image is
    /// prepulled when every eligible node its platforms allow has it, so a platform mismatch
    /// is not wanted either.
    pub fn is_wanted(self) -> bool {
        !matches!(self, CellKind::NotWanted | CellKind::Unsupported)
    }

    /// Whether the image belongs on the node and is not there yet.
    pub fn is_outstanding(self) -> bool {
        self.is_wanted() && self != CellKind::Cached
    }

    /// Whether the pair failed and someone may have to look: listed by name with its error.
    pub fn is_failure(self) -> bool {
        matches!(self, CellKind::BackingOff)
    }
}

impl CellState {
    pub fn kind(&self) -> CellKind {
        match self {
            CellState::Cached => CellKind::Cached,
            CellState::Pulling { .. } => CellKind::Pulling,
            CellState::BackingOff { .. } => CellKind::BackingOff,
            CellState::Missing => CellKind::Missing,
            CellState::NotWanted => CellKind::NotWanted,
            CellState::Unsupported(_) => CellKind::Unsupported,
        }
    }

    /// The state of a pair from what the snapshot knows about it; `mismatch` is asked only
    /// for an eligible node without the image (it formats the platforms).
    pub fn decide(
        cached: bool,
        eligible: bool,
        mismatch: impl FnOnce() -> Option<PlatformMismatch>,
        pull: Option<&PullStatus>,
    ) -> CellState {
        if cached {
            return CellState::Cached;
        }
        if eligible {
            if let Some(mismatch) = mismatch() {
                return CellState::Unsupported(mismatch);
            }
        }
        let under_way = pull.and_then(|pull| {
            if let Some(since) = pull.pulling_since {
                return Some(CellState::Pulling {
                    since: system_time(since),
                });
            }
            match (&pull.last_error, pull.last_error_at, pull.backing_off_until) {
                (Some(reason), Some(failed_at), Some(until)) => Some(CellState::BackingOff {
                    reason: reason.clone(),
                    failed_at: system_time(failed_at),
                    until: system_time(until),
                }),
                _ => None,
            }
        });
        match under_way {
            Some(state) => state,
            None if eligible => CellState::Missing,
            None => CellState::NotWanted,
        }
    }
}

fn system_time(time: DateTime<Utc>) -> SystemTime {
    SystemTime::from(time)
}

/// How many cells of each kind, e.g. of one image over the eligible nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts([usize; CellKind::ALL.len()]);

impl KindCounts {
    pub fn add(&mut self, kind: CellKind) {
        self.0[kind.index()] += 1;
    }

    pub fn merge(&mut self, other: &KindCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub fn get(&self, kind: CellKind) -> usize {
        self.0[kind.index()]
    }

    /// Cells of the kinds `which` selects.
    fn count(&self, which: fn(CellKind) -> bool) -> usize {
        CellKind::ALL
            .into_iter()
            .filter(|kind| which(*kind))
            .map(|kind| self.get(kind))
            .sum()
    }

    /// Cells whose image belongs on their node.
    pub fn wanted(&self) -> usize {
        self.count(CellKind::is_wanted)
    }

    /// Wanted cells that are not cached yet.
    pub fn outstanding(&self) -> usize {
        self.count(CellKind::is_outstanding)
    }

    /// Cells whose pull failed.
    pub fn failures(&self) -> usize {
        self.count(CellKind::is_failure)
    }

    /// Kinds with at least one cell, in page order.
    pub fn nonzero(&self) -> impl Iterator<Item = (CellKind, usize)> + '_ {
        CellKind::ALL
            .into_iter()
            .map(|kind| (kind, self.get(kind)))
            .filter(|(_, count)| *count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsp_model::plan::PrepullImage;

    #[test]
    fn every_kind_is_listed_once_at_its_index_and_named_uniquely() {
        for (position, kind) in CellKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), position, "{kind:?}");
            assert_eq!(CellKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(CellKind::from_name("Cached"), None);
    }

    fn pull(pulling: bool, failed: bool) -> PullStatus {
        let at = DateTime::<Utc>::from_timestamp(1_000, 0).expect("a valid time");
        let image = PrepullImage {
            tag: "t".to_owned(),
            reference_with_digest: "r:t@sha256:1".to_owned(),
            digest: "sha256:1".to_owned(),
            platforms: Default::default(),
        };
        let mut status = PullStatus::new("n".to_owned(), image);
        status.pulling_since = pulling.then_some(at);
        status.failures = u32::from(failed);
        status.last_error = failed.then(|| "boom".to_owned());
        status.last_error_at = failed.then_some(at);
        status.backing_off_until = failed.then_some(at);
        status
    }

    fn no_mismatch() -> Option<PlatformMismatch> {
        None
    }

    fn arm_node() -> Option<PlatformMismatch> {
        Some(PlatformMismatch {
            node: "linux/arm64".to_owned(),
            image: "linux/amd64".to_owned(),
        })
    }

    #[test]
    fn a_platform_mismatch_on_an_eligible_node_is_unsupported_unless_cached() {
        let failing = pull(false, true);
        assert_eq!(
            CellState::decide(false, true, arm_node, Some(&failing)),
            CellState::Unsupported(arm_node().unwrap())
        );
        assert_eq!(
            CellState::decide(true, true, arm_node, None),
            CellState::Cached
        );
        assert_eq!(
            CellState::decide(false, false, arm_node, None),
            CellState::NotWanted
        );
        let kind = CellKind::Unsupported;
        assert!(!kind.is_wanted() && !kind.is_outstanding() && !kind.is_failure());
    }

    #[test]
    fn cached_wins_then_pulling_then_back_off_then_eligibility() {
        let failing = pull(false, true);
        assert_eq!(
            CellState::decide(true, true, no_mismatch, Some(&failing)),
            CellState::Cached
        );
        assert_eq!(
            CellState::decide(false, true, no_mismatch, Some(&pull(true, true))).kind(),
            CellKind::Pulling
        );
        let backing_off = CellState::decide(false, false, no_mismatch, Some(&failing));
        assert!(matches!(&backing_off, CellState::BackingOff { reason, .. } if reason == "boom"));
        assert_eq!(
            CellState::decide(false, true, no_mismatch, None),
            CellState::Missing
        );
        assert_eq!(
            CellState::decide(false, false, no_mismatch, None),
            CellState::NotWanted
        );
        // A pull status without a pod or a complete failure record says nothing.
        assert_eq!(
            CellState::decide(false, true, no_mismatch, Some(&pull(false, false))),
            CellState::Missing
        );
    }

    #[test]
    fn counts_know_what_is_wanted_and_outstanding() {
        let mut counts = KindCounts::default();
        for kind in [
            CellKind::Cached,
            CellKind::Cached,
            CellKind::Missing,
            CellKind::BackingOff,
            CellKind::NotWanted,
        ] {
            counts.add(kind);
        }
        assert_eq!(counts.wanted(), 4);
        assert_eq!(counts.outstanding(), 2);
        assert_eq!(
            counts.nonzero().collect::<Vec<_>>(),
            [
                (CellKind::Cached, 2),
                (CellKind::BackingOff, 1),
                (CellKind::Missing, 1),
                (CellKind::NotWanted, 1)
            ]
        );
    }
}
