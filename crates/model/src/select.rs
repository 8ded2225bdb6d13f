//! The selection algorithms shared by tag collections and image catalogs: grouping by kind with
//! a stable descending sort, iteration in collection order, `subset` and `filter`.
//!
//! Both `TagCollection` and the catalog views keep, per kind, a list of indices into their
//! items; the algorithms only need that and a few fields of each item (`Item`). Images answer
//! with their resolved fields (an alias inherits its target's architecture), tags with parsed
//! ones, so the same code serves both without copying tags.

use crate::filter::{ImageFilter, ImageFilterPolicy};
use crate::tag::{Number, SortKey, Tag, TagKind, Version, PREFIX_BITS};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Indices of items, per kind in display order, each list sorted descending.
pub(crate) type KindLists = [Vec<u32>; 7];

/// What the selection algorithms read from an item.
pub(crate) trait Item {
    fn name(&self) -> &str;
    fn kind(&self) -> TagKind;
    fn sort_key(&self) -> SortKey<'_>;
    fn is_arch_specific(&self) -> bool;
    fn build(&self) -> Option<Number<'_>>;
    fn date(&self) -> Option<DateTime<Utc>>;
    /// The version, for semantic items only (the only ones `cutoffVersion` applies to).
    fn semantic_version(&self) -> Option<Version<'_>>;
}

impl Item for Tag {
    fn name(&self) -> &str {
        self.tag()
    }
    fn kind(&self) -> TagKind {
        Tag::kind(self)
    }
    fn sort_key(&self) -> SortKey<'_> {
        Tag::sort_key(self)
    }
    fn is_arch_specific(&self) -> bool {
        Tag::is_arch_specific(self)
    }
    fn build(&self) -> Option<Number<'_>> {
        Tag::build(self)
    }
    fn date(&self) -> Option<DateTime<Utc>> {
        Tag::date(self)
    }
    fn semantic_version(&self) -> Option<Version<'_>> {
        self.version().filter(|_| self.semantic())
    }
}

/// Groups `members` (indices into `items`) by kind, keeping their order, then sorts each group
/// descending with a stable sort, so equal items keep their input order.
pub(crate) fn group_sorted<T: Item>(
    items: &[T],
    members: impl IntoIterator<Item = u32>,
) -> KindLists {
    let mut lists: KindLists = Default::default();
    for i in members {
        lists[items[i as usize].kind().index()].push(i);
    }
    for list in &mut lists {
        sort_descending(items, list);
    }
    lists
}

/// Stable descending sort of indices by their items' sort keys.
///
/// Each item's order prefix (`SortKey::prefix`) is computed once and packed above the index's
/// position in `list`, so that one integer sort orders by prefix, descending, and keeps input
/// order among equal prefixes. Only runs of equal prefixes, which the prefix cannot order,
/// are then sorted again by whole keys; being in input order already, they stay stable.
pub(crate) fn sort_descending<T: Item>(items: &[T], list: &mut [u32]) {
    if list.len() < 2 {
        return;
    }
    let Ok(len) = u32::try_from(list.len()) else {
        return sort_by_whole_keys(items, list);
    };
    let greatest = (1u128 << PREFIX_BITS) - 1;
    let mut packed: Vec<u128> = list
        .iter()
        .zip(0..len)
        .map(|(&i, position)| {
            let prefix = items[i as usize].sort_key().prefix();
            ((greatest - prefix) << 32) | u128::from(position)
        })
        .collect();
    packed.sort_unstable();
    let input = list.to_vec();
    for (slot, &p) in list.iter_mut().zip(&packed) {
        *slot = input[p as u32 as usize];
    }
    let mut start = 0;
    for run in packed.chunk_by(|a, b| a >> 32 == b >> 32) {
        if run.len() > 1 {
            sort_by_whole_keys(items, &mut list[start..start + run.len()]);
        }
        start += run.len();
    }
}

/// Stable descending sort of indices by their items' whole sort keys, each computed once.
fn sort_by_whole_keys<T: Item>(items: &[T], list: &mut [u32]) {
    let keys: Vec<SortKey<'_>> = list.iter().map(|&i| items[i as usize].sort_key()).collect();
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by(|&a, &b| keys[b].cmp(&keys[a]));
    let sorted: Vec<u32> = order.iter().map(|&k| list[k]).collect();
    list.copy_from_slice(&sorted);
}

/// Whether arch-specific tags (`w_2077_43-amd64`, and aliases of them) are kept or left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchSpecific {
    Keep,
    Hide,
}

impl ArchSpecific {
    /// Whether an item with this arch-specificness stays.
    fn keeps(self, item: &impl Item) -> bool {
        self == ArchSpecific::Keep || !item.is_arch_specific()
    }
}

/// Which side of a filter policy a filter returns: what it accepts, or what it rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterSide {
    Accepted,
    Rejected,
}

/// Every member in collection order: kinds in display order, each descending.
pub(crate) fn in_order<'a, T: Item>(
    items: &'a [T],
    lists: &'a KindLists,
    arch_specific: ArchSpecific,
) -> impl Iterator<Item = u32> + 'a {
    lists
        .iter()
        .flatten()
        .copied()
        .filter(move |&i| arch_specific.keeps(&items[i as usize]))
}

/// How many of the newest releases, weeklies and dailies to keep, and which tags besides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubsetSpec {
    pub releases: usize,
    pub weeklies: usize,
    pub dailies: usize,
    /// Tag names kept whatever their kind (the recommended tag, pins), if they exist.
    pub include: Vec<String>,
    /// Skip arch-specific tags when counting (they can still be included by name).
    pub remove_arch_specific: bool,
}

/// Members of the subset (behaviour.md §2.3), each name once (decisions.md §5 fix 6), in the
/// order: counted releases, weeklies, dailies, then included names.
pub(crate) fn subset<T: Item>(
    items: &[T],
    lists: &KindLists,
    spec: &SubsetSpec,
    lookup: impl Fn(&str) -> Option<u32>,
) -> Vec<u32> {
    let counted = [
        (TagKind::Release, spec.releases),
        (TagKind::Weekly, spec.weeklies),
        (TagKind::Daily, spec.dailies),
    ];
    let mut chosen = Vec::new();
    for (kind, count) in counted {
        let candidates = lists[kind.index()].iter().copied();
        chosen.extend(
            candidates
                .filter(|&i| !(spec.remove_arch_specific && items[i as usize].is_arch_specific()))
                .take(count),
        );
    }
    chosen.extend(spec.include.iter().filter_map(|name| lookup(name)));
    let mut seen = HashSet::with_capacity(chosen.len());
    chosen.retain(|&i| seen.insert(items[i as usize].name()));
    chosen
}

/// Members accepted (or rejected) by the policy, in collection order (behaviour.md
/// §2.5 with decisions.md §5 fix 7: `number: 0` keeps none, build 0 compares like any number).
pub(crate) fn filter<T: Item>(
    items: &[T],
    lists: &KindLists,
    policy: &ImageFilterPolicy,
    now: DateTime<Utc>,
    side: FilterSide,
    arch_specific: ArchSpecific,
) -> Vec<u32> {
    let mut out = Vec::new();
    for kind in TagKind::ALL {
        let candidates = lists[kind.index()]
            .iter()
            .copied()
            .filter(|&i| arch_specific.keeps(&items[i as usize]));
        let Some(rule) = policy.for_kind(kind) else {
            if side == FilterSide::Accepted {
                out.extend(candidates);
            }
            continue;
        };
        let accepted = accepted_by(items, candidates.clone(), rule, now);
        if side == FilterSide::Rejected {
            let accepted: HashSet<&str> =
                accepted.iter().map(|&i| items[i as usize].name()).collect();
            out.extend(candidates.filter(|&i| !accepted.contains(items[i as usize].name())));
        } else {
            out.extend(accepted);
        }
    }
    out
}

fn accepted_by<T: Item>(
    items: &[T],
    candidates: impl Iterator<Item = u32>,
    rule: &ImageFilter,
    now: DateTime<Utc>,
) -> Vec<u32> {
    // The later of `now - age` and `cutoffDate` wins.
    let by_age = rule
        .age
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .and_then(|age| now.checked_sub_signed(age));
    let date_cutoff = match (by_age, rule.cutoff_date) {
        (Some(a), Some(d)) => Some(a.max(d)),
        (a, d) => a.or(d),
    };
    let limit = rule.number.map_or(usize::MAX, |n| n as usize);
    let mut accepted = Vec::new();
    for i in candidates {
        if accepted.len() >= limit {
            break;
        }
        let item = &items[i as usize];
        let too_old_build =
            matches!((item.build(), rule.cutoff_build), (Some(b), Some(c)) if b.is_below(c));
        let too_old_date = matches!((item.date(), date_cutoff), (Some(d), Some(c)) if d < c);
        let too_old_version = match (item.semantic_version(), &rule.cutoff_version) {
            (Some(v), Some(c)) => v.cmp_semver(c).is_lt(),
            _ => false,
        };
        if !(too_old_build || too_old_date || too_old_version) {
            accepted.push(i);
        }
    }
    accepted
}
