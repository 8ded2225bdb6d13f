//! A collection of tags grouped by kind and sorted (behaviour.md §2.3).
//!
//! Tags are stored once, in input order; per-kind index lists give the collection order
//! (kinds in display order, each descending by a stable sort) and a name index gives lookups
//! (the last tag of a name wins, as in the original). The name index is built by the first
//! lookup: sorting and filtering, which is all `rsp-images tags sort` does, never look a name
//! up. Subsets are new collections.

use crate::filter::ImageFilterPolicy;
use crate::key_index::KeyIndex;
use crate::select::{self, KindLists};
pub use crate::select::{ArchSpecific, FilterSide, SubsetSpec};
use crate::tag::{Number, Tag, TagKind};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::OnceLock;

#[derive(Debug, Clone)]
pub struct TagCollection {
    tags: Vec<Tag>,
    by_kind: KindLists,
    /// Names looked up through the tags themselves (no copied strings); see `by_name`.
    by_name: OnceLock<KeyIndex<Tag>>,
}

impl Default for TagCollection {
    fn default() -> TagCollection {
        TagCollection::new(Vec::new())
    }
}

impl TagCollection {
    /// A collection of these tags (duplicates of a name are all listed; lookups find the last).
    pub fn new(mut tags: Vec<Tag>) -> TagCollection {
        // Indices are u32; more than 4 billion tags cannot come from a registry listing.
        tags.truncate(u32::MAX as usize);
        let by_kind = select::group_sorted(&tags, 0..tags.len() as u32);
        TagCollection {
            tags,
            by_kind,
            by_name: OnceLock::new(),
        }
    }

    /// The name index, built on first use.
    fn by_name(&self) -> &KeyIndex<Tag> {
        self.by_name.get_or_init(|| {
            let mut by_name = KeyIndex::new(self.tags.len(), Tag::tag);
            for i in 0..self.tags.len() as u32 {
                by_name.insert(&self.tags, i);
            }
            by_name
        })
    }

    /// Parses names (with the alias constructor for those in `aliases`) and keeps those of
    /// `cycle` when one is given, which drops every tag without a cycle.
    pub fn from_tag_names<I, S>(
        names: I,
        aliases: &HashSet<String>,
        cycle: Option<u32>,
    ) -> TagCollection
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let tags = names
            .into_iter()
            .map(|name| {
                let name = name.as_ref();
                if aliases.contains(name) {
                    Tag::alias(name)
                } else {
                    Tag::parse(name)
                }
            })
            .filter(|tag| cycle.is_none() || tag.cycle() == cycle.map(Number::from))
            .collect();
        TagCollection::new(tags)
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Every tag in collection order, without arch-specific ones if asked.
    pub fn all_tags(&self, arch_specific: ArchSpecific) -> impl Iterator<Item = &Tag> + '_ {
        select::in_order(&self.tags, &self.by_kind, arch_specific).map(|i| &self.tags[i as usize])
    }

    /// The greatest tag of a kind, arch-specific ones included.
    pub fn latest(&self, kind: TagKind) -> Option<&Tag> {
        self.by_kind[kind.index()]
            .first()
            .map(|&i| &self.tags[i as usize])
    }

    pub fn get(&self, name: &str) -> Option<&Tag> {
        self.by_name()
            .get(&self.tags, name)
            .map(|i| &self.tags[i as usize])
    }

    /// The newest releases, weeklies and dailies plus the included tags, each once.
    pub fn subset(&self, spec: &SubsetSpec) -> TagCollection {
        let members = select::subset(&self.tags, &self.by_kind, spec, |name| {
            self.by_name().get(&self.tags, name)
        });
        TagCollection::new(
            members
                .into_iter()
                .map(|i| self.tags[i as usize].clone())
                .collect(),
        )
    }

    /// Tags accepted (or rejected) by the policy, in collection order.
    pub fn filter(
        &self,
        policy: &ImageFilterPolicy,
        now: DateTime<Utc>,
        side: FilterSide,
        arch_specific: ArchSpecific,
    ) -> Vec<&Tag> {
        select::filter(&self.tags, &self.by_kind, policy, now, side, arch_specific)
            .into_iter()
            .map(|i| &self.tags[i as usize])
            .collect()
    }
}

#[cfg(test)]
mod tests;
