//! The image catalog: every image of one registry listing, with aliases resolved once, and
//! views (subsets) over it (behaviour.md §3 with decisions.md §5 fix 5).
//!
//! An `ImageCatalog` is a cheap handle: the images live in shared, immutable data built by
//! `ImageCatalog::build`; a catalog value is a *view*, an ordered member list over them with
//! its own per-digest primaries. The full listing is the view of all images; `subset`,
//! `subtract` and `with_digests` return other views of the same data, so no operation
//! mutates what another view sees, and alias information computed over the full listing stays
//! visible through every view. Membership questions ("is this image aliased by an image in
//! this collection?") are answered against the view's members. Node presence is kept apart,
//! in `NodePresence`, keyed by digest.

mod image;
mod presence;
mod resolve;

pub use image::{Image, ListedImage};
pub use presence::{NodePresence, NodeSet};

use crate::bitset::BitSet;
use crate::filter::ImageFilterPolicy;
use crate::key_index::KeyIndex;
use crate::select::{self, ArchSpecific, FilterSide, KindLists, SubsetSpec};
use crate::tag::{Number, TagKind};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Debug)]
struct CatalogData {
    registry: Arc<str>,
    repository: Arc<str>,
    images: Vec<Image>,
    /// Digest group of each image: images with the same digest share the number.
    group_of: Vec<u32>,
    /// How many digest groups there are.
    groups: u32,
    by_name: KeyIndex<Image>,
    /// One image of each digest (its group is the digest's).
    by_digest: KeyIndex<Image>,
}

/// No member of a view has this digest group.
const NO_PRIMARY: u32 = u32::MAX;

/// A view over the images of one listing: members in collection order.
#[derive(Debug, Clone)]
pub struct ImageCatalog {
    data: Arc<CatalogData>,
    lists: KindLists,
    members: BitSet,
    /// Digest group → the member that stands for the digest (first non-alias, else first),
    /// or `NO_PRIMARY`.
    primaries: Vec<u32>,
}

/// What [`ImageCatalog::all_images`] leaves out: the original's three optional hidings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hidden {
    /// Non-alias images that a member alias resolves to.
    pub aliased: bool,
    /// Images with an architecture (their own or inherited).
    pub arch_specific: ArchSpecific,
    /// Aliases whose target is a member.
    pub resolved_aliases: bool,
}

impl Hidden {
    /// Every member.
    pub const NOTHING: Hidden = Hidden {
        aliased: false,
        arch_specific: ArchSpecific::Keep,
        resolved_aliases: false,
    };
    /// Every member but the arch-specific ones (what menus and the prepuller show).
    pub const ARCH_SPECIFIC: Hidden = Hidden {
        arch_specific: ArchSpecific::Hide,
        ..Hidden::NOTHING
    };
}

impl ImageCatalog {
    /// Builds the catalog of a listing: drops images of other cycles when `cycle` is given,
    /// then resolves aliases by digest (see `resolve`).
    pub fn build(
        registry: &str,
        repository: &str,
        listed: Vec<ListedImage>,
        cycle: Option<u32>,
    ) -> ImageCatalog {
        let registry: Arc<str> = registry.into();
        let repository: Arc<str> = repository.into();
        // Sized up front: a filtered iterator gives no size hint, and growing a vector of
        // 20,000 images copies it several times.
        let mut images: Vec<Image> = Vec::with_capacity(listed.len().min(u32::MAX as usize));
        images.extend(
            listed
                .into_iter()
                .filter(|l| cycle.is_none() || l.tag.cycle() == cycle.map(Number::from))
                .take(u32::MAX as usize)
                .map(|l| Image::new(l, Arc::clone(&registry), Arc::clone(&repository))),
        );
        let count = images.len() as u32;

        // Groups list their members in collection order as parsed, which decides primaries.
        let parsed_order = select::group_sorted(&images, 0..count);
        let mut by_digest = KeyIndex::new(images.len(), Image::digest);
        let mut group_of = vec![0u32; images.len()];
        let mut groups = 0u32;
        for &i in parsed_order.iter().flatten() {
            group_of[i as usize] = match by_digest.get(&images, images[i as usize].digest()) {
                Some(j) => group_of[j as usize],
                None => {
                    by_digest.insert(&images, i);
                    groups += 1;
                    groups - 1
                }
            };
        }
        // Members of each group, flat and in collection order (a counting sort by group).
        let mut starts = vec![0usize; groups as usize + 1];
        for &g in &group_of {
            starts[g as usize + 1] += 1;
        }
        for g in 1..starts.len() {
            starts[g] += starts[g - 1];
        }
        let mut fill = starts.clone();
        let mut flat = vec![0u32; images.len()];
        for &i in parsed_order.iter().flatten() {
            let g = group_of[i as usize] as usize;
            flat[fill[g]] = i;
            fill[g] += 1;
        }
        let members = starts.windows(2).map(|w| &flat[w[0]..w[1]]);
        resolve::resolve(&mut images, members);

        // Resolution only turns unknown tags into aliases (with their target's cycle and
        // architecture), so only those two lists are sorted again, from input order so that
        // equal images keep it.
        let mut lists = parsed_order;
        let mut possible = std::mem::take(&mut lists[TagKind::Alias.index()]);
        possible.append(&mut lists[TagKind::Unknown.index()]);
        possible.sort_unstable();
        for i in possible {
            lists[images[i as usize].kind().index()].push(i);
        }
        for kind in [TagKind::Alias, TagKind::Unknown] {
            select::sort_descending(&images, &mut lists[kind.index()]);
        }

        // A tag listed twice is found as its last listing.
        let mut by_name = KeyIndex::new(images.len(), Image::name);
        for i in 0..count {
            by_name.insert(&images, i);
        }
        let data = CatalogData {
            registry,
            repository,
            images,
            group_of,
            by_name,
            by_digest,
            groups,
        };
        ImageCatalog::from_lists(Arc::new(data), lists)
    }

    fn view(data: Arc<CatalogData>, members: impl IntoIterator<Item = u32>) -> ImageCatalog {
        let lists = select::group_sorted(&data.images, members);
        ImageCatalog::from_lists(data, lists)
    }

    fn from_lists(data: Arc<CatalogData>, lists: KindLists) -> ImageCatalog {
        let mut set = BitSet::with_capacity(data.images.len());
        let mut primaries = vec![NO_PRIMARY; data.groups as usize];
        for &i in lists.iter().flatten() {
            set.insert(i);
            let primary = &mut primaries[data.group_of[i as usize] as usize];
            let alias = data.images[i as usize].is_possible_alias();
            // The first member of a digest stands for it until a non-alias one comes.
            let keep = *primary != NO_PRIMARY
                && (alias || !data.images[*primary as usize].is_possible_alias());
            if !keep {
                *primary = i;
            }
        }
        ImageCatalog {
            data,
            lists,
            members: set,
            primaries,
        }
    }

    pub fn registry(&self) -> &str {
        &self.data.registry
    }

    pub fn repository(&self) -> &str {
        &self.data.repository
    }

    pub fn len(&self) -> usize {
        self.lists.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn image(&self, i: u32) -> &Image {
        &self.data.images[i as usize]
    }

    fn index_of(&self, name: &str) -> Option<u32> {
        self.data
            .by_name
            .get(&self.data.images, name)
            .filter(|&i| self.members.contains(i))
    }

    /// Every member in collection order (kinds in display order, each descending), less what
    /// `hidden` names (the original's three optional hidings).
    pub fn all_images(&self, hidden: Hidden) -> Vec<&Image> {
        select::in_order(&self.data.images, &self.lists, hidden.arch_specific)
            .map(|i| self.image(i))
            .filter(|image| !(hidden.aliased && self.is_aliased(image)))
            .filter(|image| {
                !(hidden.resolved_aliases
                    && image
                        .alias_target()
                        .is_some_and(|t| self.index_of(t).is_some()))
            })
            .collect()
    }

    /// Whether a member alias resolves to this (non-alias) image.
    fn is_aliased(&self, image: &Image) -> bool {
        image.kind() != TagKind::Alias
            && image.aliases().any(|name| {
                self.index_of(name)
                    .map(|i| self.image(i))
                    .is_some_and(|other| {
                        other.kind() == TagKind::Alias && other.alias_target() == Some(image.name())
                    })
            })
    }

    /// The digest group of a digest of the listing.
    fn group(&self, digest: &str) -> Option<u32> {
        let image = self.data.by_digest.get(&self.data.images, digest)?;
        Some(self.data.group_of[image as usize])
    }

    /// The member that stands for a digest group, if any member has the digest.
    fn primary(&self, group: u32) -> Option<u32> {
        self.primaries
            .get(group as usize)
            .copied()
            .filter(|&i| i != NO_PRIMARY)
    }

    /// The member with this tag.
    pub fn get(&self, name: &str) -> Option<&Image> {
        self.index_of(name).map(|i| self.image(i))
    }

    /// The member that stands for a digest: its first non-alias tag, else its first tag.
    pub fn image_for_digest(&self, digest: &str) -> Option<&Image> {
        let primary = self.primary(self.group(digest)?)?;
        Some(self.image(primary))
    }

    /// All members with this digest, in collection order.
    pub fn images_with_digest<'a>(
        &'a self,
        digest: &'a str,
    ) -> impl Iterator<Item = &'a Image> + 'a {
        let group = self.group(digest);
        self.lists
            .iter()
            .flatten()
            .filter(move |&&i| Some(self.data.group_of[i as usize]) == group)
            .map(|&i| self.image(i))
    }

    /// The greatest member of a kind, arch-specific ones included.
    pub fn latest(&self, kind: TagKind) -> Option<&Image> {
        self.lists[kind.index()].first().map(|&i| self.image(i))
    }

    /// The newest releases, weeklies and dailies plus the included tags, each once, as a view.
    pub fn subset(&self, spec: &SubsetSpec) -> ImageCatalog {
        let members = select::subset(&self.data.images, &self.lists, spec, |name| {
            self.index_of(name)
        });
        ImageCatalog::view(Arc::clone(&self.data), members)
    }

    /// One image per digest (the primary) for the digests of this view that `other` does not
    /// show among its images (arch-specific ones hidden, as the original does).
    pub fn subtract(&self, other: &ImageCatalog) -> ImageCatalog {
        let present: HashSet<&str> = other
            .all_images(Hidden::ARCH_SPECIFIC)
            .into_iter()
            .map(Image::digest)
            .collect();
        let members: Vec<u32> = self
            .primaries
            .iter()
            .copied()
            .filter(|&i| i != NO_PRIMARY && !present.contains(self.image(i).digest()))
            .collect();
        ImageCatalog::view(Arc::clone(&self.data), members)
    }

    /// The primaries of the given digests that this view knows (e.g. the images cached on one
    /// node), as a view.
    pub fn with_digests<'a>(&self, digests: impl IntoIterator<Item = &'a str>) -> ImageCatalog {
        let mut members: Vec<u32> = digests
            .into_iter()
            .filter_map(|d| self.group(d))
            .filter_map(|g| self.primary(g))
            .collect();
        members.sort_unstable();
        members.dedup();
        ImageCatalog::view(Arc::clone(&self.data), members)
    }

    /// Members accepted (or rejected) by the policy, in collection order.
    pub fn filter(
        &self,
        policy: &ImageFilterPolicy,
        now: DateTime<Utc>,
        side: FilterSide,
        arch_specific: ArchSpecific,
    ) -> Vec<&Image> {
        select::filter(
            &self.data.images,
            &self.lists,
            policy,
            now,
            side,
            arch_specific,
        )
        .into_iter()
        .map(|i| self.image(i))
        .collect()
    }
}

#[cfg(test)]
mod tests;
