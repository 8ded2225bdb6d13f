//! A set of small indices: a sorted list while it has few members, one bit per index after.
//!
//! Catalog views ask "is image i a member?" and node presence asks "is node n among the ones
//! caching this digest?" tens of thousands of times per refresh. Both number their items
//! densely, so a bit per index answers in one load, and set operations (subset, difference)
//! run a word at a time instead of walking trees of strings.
//!
//! Bits cost memory in proportion to the largest index, though, and most digests a cluster
//! reports are cached on two or three of its nodes: at 5,000 nodes, a bit set per digest is
//! 632 bytes where three node numbers take 12, and a registry's worth of digests made node
//! presence the largest thing the service held. So a set made empty ([`BitSet::EMPTY`])
//! lists its members until the list would outgrow the bits, and only then becomes bits; a set
//! made [`BitSet::with_capacity`] (node sets of many members, catalog views) is bits from the
//! start. Which form a set has never changes what it answers.

/// A set of `u32` indices.
#[derive(Debug, Clone)]
pub(crate) struct BitSet {
    form: Form,
}

#[derive(Debug, Clone)]
enum Form {
    /// The members, ascending, while they take less room than their bits would.
    Few(Vec<u32>),
    /// One bit per index, as many words as the largest member needs (or more).
    Bits(Vec<u64>),
}

impl Default for BitSet {
    fn default() -> BitSet {
        BitSet::EMPTY
    }
}

impl BitSet {
    /// An empty set that lists its members while they are few.
    pub(crate) const EMPTY: BitSet = BitSet {
        form: Form::Few(Vec::new()),
    };

    /// An empty set of bits with room for indices below `capacity` (it grows past that if
    /// needed): for sets expected to hold a good part of their indices.
    pub(crate) fn with_capacity(capacity: usize) -> BitSet {
        BitSet {
            form: Form::Bits(vec![0; capacity.div_ceil(64)]),
        }
    }

    pub(crate) fn insert(&mut self, i: u32) {
        match &mut self.form {
            Form::Few(members) => {
                let Err(at) = members.binary_search(&i) else {
                    return;
                };
                // Past this, the list takes more room than bits up to its largest member.
                let largest = members.last().copied().unwrap_or(0).max(i);
                if members.len() + 1 > 2 * words_for(largest) {
                    let mut words = vec![0; words_for(largest)];
                    for &member in members.iter().chain([&i]) {
                        set_bit(&mut words, member);
                    }
                    self.form = Form::Bits(words);
                } else {
                    members.insert(at, i);
                }
            }
            Form::Bits(words) => set_bit(words, i),
        }
    }

    pub(crate) fn remove(&mut self, i: u32) {
        match &mut self.form {
            Form::Few(members) => {
                if let Ok(at) = members.binary_search(&i) {
                    members.remove(at);
                }
            }
            Form::Bits(words) => {
                if let Some(word) = words.get_mut(i as usize / 64) {
                    *word &= !(1 << (i % 64));
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.form {
            Form::Few(members) => members.is_empty(),
            Form::Bits(words) => words.iter().all(|&w| w == 0),
        }
    }

    pub(crate) fn contains(&self, i: u32) -> bool {
        match &self.form {
            Form::Few(members) => members.binary_search(&i).is_ok(),
            Form::Bits(words) => words
                .get(i as usize / 64)
                .is_some_and(|word| word & (1 << (i % 64)) != 0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.form {
            Form::Few(members) => members.len(),
            Form::Bits(words) => words.iter().map(|w| w.count_ones() as usize).sum(),
        }
    }

    /// Whether every member of `self` is in `other`.
    pub(crate) fn is_subset(&self, other: &BitSet) -> bool {
        match (&self.form, &other.form) {
            (Form::Bits(mine), Form::Bits(theirs)) => mine
                .iter()
                .enumerate()
                .all(|(k, &w)| w & !theirs.get(k).copied().unwrap_or(0) == 0),
            // Stops at the first member the other lacks: for a digest on a handful of nodes
            // asked about every eligible node, usually the first, so the answer costs one
            // lookup rather than a count of the bits.
            (Form::Bits(_), Form::Few(_)) => self.iter().all(|i| other.contains(i)),
            (Form::Few(mine), _) => mine.iter().all(|&i| other.contains(i)),
        }
    }

    /// The members, ascending.
    pub(crate) fn iter(&self) -> Members<'_> {
        match &self.form {
            Form::Few(members) => Members::Few(members.iter()),
            Form::Bits(words) => Members::Bits(Ones::new(words.iter().copied())),
        }
    }

    /// The members of `self` that `other` lacks, ascending: a word at a time when both are
    /// bits, else member by member.
    pub(crate) fn difference<'a>(
        &'a self,
        other: &'a BitSet,
    ) -> Box<dyn Iterator<Item = u32> + 'a> {
        match (&self.form, &other.form) {
            (Form::Bits(mine), Form::Bits(theirs)) => Box::new(Ones::new(
                mine.iter()
                    .enumerate()
                    .map(|(k, &w)| w & !theirs.get(k).copied().unwrap_or(0)),
            )),
            _ => Box::new(self.iter().filter(|&i| !other.contains(i))),
        }
    }
}

/// Words enough for bits up to `largest`.
fn words_for(largest: u32) -> usize {
    largest as usize / 64 + 1
}

fn set_bit(words: &mut Vec<u64>, i: u32) {
    let word = i as usize / 64;
    if word >= words.len() {
        words.resize(word + 1, 0);
    }
    words[word] |= 1 << (i % 64);
}

/// The members of a [`BitSet`], ascending.
pub(crate) enum Members<'a> {
    Few(std::slice::Iter<'a, u32>),
    Bits(Ones<std::iter::Copied<std::slice::Iter<'a, u64>>>),
}

impl Iterator for Members<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Members::Few(members) => members.next().copied(),
            Members::Bits(ones) => ones.next(),
        }
    }
}

/// The indices of the set bits of consecutive words.
pub(crate) struct Ones<W> {
    words: W,
    /// The word being read, without the bits already given, and its index.
    word: u64,
    at: u32,
}

impl<W: Iterator<Item = u64>> Ones<W> {
    fn new(words: W) -> Ones<W> {
        Ones {
            words,
            word: 0,
            at: 0,
        }
    }
}

impl<W: Iterator<Item = u64>> Iterator for Ones<W> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        while self.word == 0 {
            self.word = self.words.next()?;
            self.at += 1;
        }
        let bit = self.word.trailing_zeros();
        self.word &= self.word - 1;
        Some((self.at - 1) * 64 + bit)
    }
}

/// Sets are equal when they have the same members, whatever their form or room.
impl PartialEq for BitSet {
    fn eq(&self, other: &BitSet) -> bool {
        match (&self.form, &other.form) {
            (Form::Bits(a), Form::Bits(b)) => {
                let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
                long[..short.len()] == short[..] && long[short.len()..].iter().all(|&w| w == 0)
            }
            (Form::Few(a), Form::Few(b)) => a == b,
            _ => self.iter().eq(other.iter()),
        }
    }
}

impl Eq for BitSet {}

#[cfg(test)]
mod tests {
    use super::{BitSet, Form};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A set of `members`: with a capacity, bits from the start; without, a list that turns
    /// into bits when it outgrows them.
    fn set(members: &BTreeSet<u32>, capacity: Option<usize>) -> BitSet {
        let mut set = capacity.map_or(BitSet::EMPTY, BitSet::with_capacity);
        for &i in members {
            set.insert(i);
        }
        set
    }

    proptest! {
        /// Every operation agrees with a `BTreeSet`, whatever the capacities.
        #[test]
        fn behaves_as_a_sorted_set(
            a in proptest::collection::btree_set(0u32..300, 0..60),
            b in proptest::collection::btree_set(0u32..300, 0..60),
            ca in proptest::option::of(0usize..400),
            cb in proptest::option::of(0usize..400),
        ) {
            let (sa, sb) = (set(&a, ca), set(&b, cb));
            prop_assert_eq!(sa.iter().collect::<Vec<_>>(), a.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(sa.len(), a.len());
            prop_assert_eq!(sa.is_subset(&sb), a.is_subset(&b));
            prop_assert_eq!(
                sa.difference(&sb).collect::<Vec<_>>(),
                a.difference(&b).copied().collect::<Vec<_>>()
            );
            prop_assert_eq!(sa == sb, a == b);
            prop_assert_eq!(sa.is_empty(), a.is_empty());
            for i in 0..310 {
                prop_assert_eq!(sa.contains(i), a.contains(&i));
            }
            // Removing every member of `b` leaves the difference.
            let mut rest = sa.clone();
            for &i in &b {
                rest.remove(i);
            }
            prop_assert_eq!(
                rest.iter().collect::<Vec<_>>(),
                a.difference(&b).copied().collect::<Vec<_>>()
            );
        }
    }

    /// A digest on three of 5,000 nodes keeps three numbers, not 5,000 bits; a set that
    /// fills up turns into bits.
    #[test]
    fn few_members_are_listed_until_bits_take_less_room() {
        let mut set = BitSet::EMPTY;
        for i in [4_999, 17, 2_500] {
            set.insert(i);
        }
        assert!(matches!(&set.form, Form::Few(members) if members == &[17, 2_500, 4_999]));
        for i in 0..200 {
            set.insert(i);
        }
        assert!(matches!(&set.form, Form::Bits(words) if words.len() == 79));
        assert_eq!(set.len(), 202);
    }

    #[test]
    fn word_boundaries() {
        let mut set = BitSet::with_capacity(64);
        for i in [0, 63, 64, 127, 128] {
            set.insert(i);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 63, 64, 127, 128]);
        assert!(!set.contains(65) && !set.contains(1000));
    }
}
