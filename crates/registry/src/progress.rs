//! How far a listing has got, for people watching a long one (`rsp-images snapshot` of a
//! registry with tens of thousands of tags). The clients count as they go; whoever cares
//! reads the counters from another task. Counts are cumulative over a client's life.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the listings of one client.
#[derive(Debug, Default)]
pub struct ListingProgress {
    pages: AtomicU64,
    tags: AtomicU64,
    digests: AtomicU64,
}

/// One reading of [`ListingProgress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressCounts {
    /// Listing pages received (tag-list pages, or `dockerImages` pages).
    pub pages: u64,
    /// Tags those pages named.
    pub tags: u64,
    /// Manifest digests read one by one (Docker registries only).
    pub digests: u64,
}

impl ListingProgress {
    pub fn counts(&self) -> ProgressCounts {
        ProgressCounts {
            pages: self.pages.load(Ordering::Relaxed),
            tags: self.tags.load(Ordering::Relaxed),
            digests: self.digests.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn page(&self, tags: usize) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.tags
            .fetch_add(u64::try_from(tags).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn digest(&self) {
        self.digests.fetch_add(1, Ordering::Relaxed);
    }
}
