//! Images found by a string they hold (tag name or digest), without copying the strings.
//!
//! A catalog is looked up by tag name and by digest, and both strings already live in its
//! images. A map keyed by owned copies would allocate, hash and free 20,000 strings per refresh
//! for nothing; this table stores image numbers and compares keys through the images.

use super::image::Image;
use hashbrown::HashTable;
use std::hash::BuildHasher;

pub(super) struct ImageIndex {
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
    key: fn(&Image) -> &str,
}

impl ImageIndex {
    pub(super) fn new(capacity: usize, key: fn(&Image) -> &str) -> ImageIndex {
        ImageIndex {
            table: HashTable::with_capacity(capacity),
            state: foldhash::fast::RandomState::default(),
            key,
        }
    }

    /// The image whose key is `text`.
    pub(super) fn get(&self, images: &[Image], text: &str) -> Option<u32> {
        let key = self.key;
        self.table
            .find(self.state.hash_one(text), |&i| {
                key(&images[i as usize]) == text
            })
            .copied()
    }

    /// Indexes image `i`, replacing an image with the same key.
    pub(super) fn insert(&mut self, images: &[Image], i: u32) {
        let key = self.key;
        let state = &self.state;
        let text = key(&images[i as usize]);
        let entry = self.table.entry(
            state.hash_one(text),
            |&j| key(&images[j as usize]) == text,
            |&j| state.hash_one(key(&images[j as usize])),
        );
        *entry.or_insert(i).get_mut() = i;
    }
}

impl std::fmt::Debug for ImageIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageIndex")
            .field("len", &self.table.len())
            .finish()
    }
}
