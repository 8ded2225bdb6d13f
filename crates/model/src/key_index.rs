//! Items found by a string they hold (a tag name, a digest), without copying the strings.
//!
//! A catalog is looked up by tag name and by digest, a tag collection by name, and these
//! strings already live in the items. A map keyed by owned copies would allocate, hash and free
//! 20,000 strings per refresh for nothing; this table stores item numbers and compares keys
//! through the items.

use hashbrown::HashTable;
use std::hash::BuildHasher;

#[derive(Clone)]
pub(crate) struct KeyIndex<T> {
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
    key: fn(&T) -> &str,
}

impl<T> KeyIndex<T> {
    pub(crate) fn new(capacity: usize, key: fn(&T) -> &str) -> KeyIndex<T> {
        KeyIndex {
            table: HashTable::with_capacity(capacity),
            state: foldhash::fast::RandomState::default(),
            key,
        }
    }

    /// The item whose key is `text`.
    pub(crate) fn get(&self, items: &[T], text: &str) -> Option<u32> {
        let key = self.key;
        self.table
            .find(self.state.hash_one(text), |&i| {
                key(&items[i as usize]) == text
            })
            .copied()
    }

    /// Indexes item `i`, replacing an item with the same key.
    pub(crate) fn insert(&mut self, items: &[T], i: u32) {
        let key = self.key;
        let state = &self.state;
        let text = key(&items[i as usize]);
        let entry = self.table.entry(
            state.hash_one(text),
            |&j| key(&items[j as usize]) == text,
            |&j| state.hash_one(key(&items[j as usize])),
        );
        *entry.or_insert(i).get_mut() = i;
    }
}

impl<T> std::fmt::Debug for KeyIndex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyIndex")
            .field("len", &self.table.len())
            .finish()
    }
}
