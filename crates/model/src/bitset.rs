//! A set of small indices, one bit each.
//!
//! Catalog views ask "is image i a member?" and node presence asks "is node n among the ones
//! caching this digest?" tens of thousands of times per refresh. Both number their items
//! densely, so a bit per index answers in one load, and set operations (subset, difference)
//! run a word at a time instead of walking trees of strings.

/// A set of `u32` indices, sized for the largest index inserted.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(crate) const EMPTY: BitSet = BitSet { words: Vec::new() };

    /// An empty set with room for indices below `capacity` (it grows past that if needed).
    pub(crate) fn with_capacity(capacity: usize) -> BitSet {
        BitSet {
            words: vec![0; capacity.div_ceil(64)],
        }
    }

    pub(crate) fn insert(&mut self, i: u32) {
        let word = i as usize / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (i % 64);
    }

    pub(crate) fn remove(&mut self, i: u32) {
        if let Some(word) = self.words.get_mut(i as usize / 64) {
            *word &= !(1 << (i % 64));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub(crate) fn contains(&self, i: u32) -> bool {
        self.words
            .get(i as usize / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    pub(crate) fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether every member of `self` is in `other`.
    pub(crate) fn is_subset(&self, other: &BitSet) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(k, &w)| w & !other.words.get(k).copied().unwrap_or(0) == 0)
    }

    /// The members, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        ones(self.words.iter().copied())
    }

    /// The members of `self` that `other` lacks, ascending.
    pub(crate) fn difference<'a>(&'a self, other: &'a BitSet) -> impl Iterator<Item = u32> + 'a {
        ones(
            self.words
                .iter()
                .enumerate()
                .map(|(k, &w)| w & !other.words.get(k).copied().unwrap_or(0)),
        )
    }
}

/// The indices of the set bits of consecutive words.
fn ones(words: impl Iterator<Item = u64>) -> impl Iterator<Item = u32> {
    words.enumerate().flat_map(|(k, mut word)| {
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros();
                word &= word - 1;
                k as u32 * 64 + bit
            })
        })
    })
}

/// Sets are equal when they have the same members, whatever room each was given.
impl PartialEq for BitSet {
    fn eq(&self, other: &BitSet) -> bool {
        let (short, long) = if self.words.len() <= other.words.len() {
            (&self.words, &other.words)
        } else {
            (&other.words, &self.words)
        };
        long[..short.len()] == short[..] && long[short.len()..].iter().all(|&w| w == 0)
    }
}

impl Eq for BitSet {}

#[cfg(test)]
mod tests {
    use super::BitSet;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(members: &BTreeSet<u32>, capacity: usize) -> BitSet {
        let mut set = BitSet::with_capacity(capacity);
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
            ca in 0usize..400,
            cb in 0usize..400,
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
