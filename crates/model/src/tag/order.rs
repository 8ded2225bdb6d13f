//! Versions and the ordering of tags of one kind (behaviour.md §2.1).
//!
//! The ordering is a plain `Ord` on `SortKey`, a borrowed view of the fields that matter, so
//! that images whose alias resolution changed some fields (cycle, architecture) sort with the
//! same code as tags. It is defined once, as the list of fields compared in turn
//! (`SortKey::fields`); the order prefix that sorting compares first (`SortKey::prefix`) is
//! packed from the same list, each kind of field next to its comparison.

use super::prefix::{Bit, Packer};
use super::Number;
use serde::{Serialize, Serializer};
use std::cmp::Ordering;

/// A tag's version: `major.minor.patch[-prerelease]` (weeklies: year.week.0, dailies:
/// year.month.day), compared by semver precedence.
#[derive(Clone, Copy, Debug)]
pub struct Version<'a> {
    pub major: Number<'a>,
    pub minor: Number<'a>,
    pub patch: Number<'a>,
    pub prerelease: Option<&'a str>,
}

impl Version<'_> {
    /// Semver precedence against a parsed semver version (build metadata ignored).
    pub fn cmp_semver(&self, other: &semver::Version) -> Ordering {
        let other_pre = (!other.pre.is_empty()).then(|| other.pre.as_str());
        let other_parts = [other.major, other.minor, other.patch].map(Number::Small);
        [self.major, self.minor, self.patch]
            .cmp(&other_parts)
            .then_with(|| cmp_prerelease(self.prerelease, other_pre))
    }
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| cmp_prerelease(self.prerelease, other.prerelease))
    }
}

impl Version<'_> {
    /// Packs what `cmp` compares, in its order: the three parts, then whether there is a
    /// prerelease (none is greater). Prereleases are rare (candidates), so their identifiers
    /// are left to the whole comparison: one closes the prefix.
    fn pack(&self, packer: &mut Packer) {
        for part in [self.major, self.minor, self.patch] {
            packer.number(part);
        }
        match self.prerelease {
            None => packer.bit(Bit::One),
            Some(_) => {
                packer.bit(Bit::Zero);
                packer.close();
            }
        }
    }
}

impl PartialEq for Version<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version<'_> {}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        match self.prerelease {
            Some(pre) => write!(f, "-{pre}"),
            None => Ok(()),
        }
    }
}

impl Serialize for Version<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Version", 4)?;
        s.serialize_field("major", &self.major)?;
        s.serialize_field("minor", &self.minor)?;
        s.serialize_field("patch", &self.patch)?;
        s.serialize_field("prerelease", &self.prerelease)?;
        s.end()
    }
}

/// Semver prerelease precedence: no prerelease is greater; otherwise dot-separated identifiers,
/// numeric ones compared as numbers and below alphanumeric ones, which compare as ASCII
/// strings (so `rc10` < `rc2`); a longer list wins when all shared identifiers are equal.
fn cmp_prerelease(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => {
            let mut left = a.split('.');
            let mut right = b.split('.');
            loop {
                match (left.next(), right.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(x), Some(y)) => match cmp_identifier(x, y) {
                        Ordering::Equal => continue,
                        other => return other,
                    },
                }
            }
        }
    }
}

fn cmp_identifier(x: &str, y: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(x), numeric(y)) {
        (true, true) => {
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => x.cmp(y),
    }
}

/// The fields that order tags of one kind, compared in this order: version when both have
/// one, else base (absent first); then cycle, cycle build, build, extra (absent first); then
/// architecture, where absent is greatest so that the arch-independent tag comes first in
/// descending order.
///
/// The first step is implemented as "base, then version" (absent first for both). Tags with a
/// version never have a base, so this is the original's rule for every key a tag or image can
/// produce, and unlike the original's rule it stays a total order for any key.
#[derive(Clone, Copy, Debug)]
pub struct SortKey<'a> {
    pub version: Option<Version<'a>>,
    pub base: Option<&'a str>,
    pub cycle: Option<Number<'a>>,
    pub cycle_build: Option<Number<'a>>,
    pub build: Option<Number<'a>>,
    pub extra: Option<&'a str>,
    pub architecture: Option<&'a str>,
}

impl<'a> SortKey<'a> {
    /// The fields in the order they are compared: the definition of the order, which both
    /// `cmp` and `prefix` follow.
    fn fields(&self) -> [Field<'_, 'a>; 7] {
        [
            Field::Text(self.base),
            Field::Version(self.version.as_ref()),
            Field::Number(self.cycle),
            Field::Number(self.cycle_build),
            Field::Number(self.build),
            Field::Text(self.extra),
            Field::AbsentLast(AbsentLast(self.architecture)),
        ]
    }

    /// The leading fields packed into the low 96 bits, such that a smaller prefix means a
    /// smaller key and equal keys have equal prefixes (equal prefixes decide nothing). Sorts
    /// compare these integers first and whole keys only when they are equal; see `prefix.rs`.
    pub fn prefix(&self) -> u128 {
        let mut packer = Packer::new();
        for field in self.fields() {
            field.pack(&mut packer);
        }
        packer.finish()
    }
}

/// One field of a sort key as the order sees it. The derived order compares fields of the
/// same position, hence the same variant. The version is borrowed: it is most of a key's size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field<'k, 'a> {
    /// Absent first, then by bytes.
    Text(Option<&'a str>),
    /// Absent first, then by precedence.
    Version(Option<&'k Version<'a>>),
    /// Absent first, then by value.
    Number(Option<Number<'a>>),
    /// Absent last, then by bytes.
    AbsentLast(AbsentLast<'a>),
}

impl Field<'_, '_> {
    /// Writes the field with a code that orders as the derived `Ord` does.
    fn pack(&self, packer: &mut Packer) {
        match *self {
            Field::Text(None) | Field::Version(None) | Field::Number(None) => packer.bit(Bit::Zero),
            Field::Text(Some(text)) => {
                packer.bit(Bit::One);
                packer.text(text);
            }
            Field::Version(Some(version)) => {
                packer.bit(Bit::One);
                version.pack(packer);
            }
            Field::Number(Some(number)) => {
                packer.bit(Bit::One);
                packer.number(number);
            }
            Field::AbsentLast(AbsentLast(None)) => packer.bit(Bit::One),
            Field::AbsentLast(AbsentLast(Some(text))) => {
                packer.bit(Bit::Zero);
                packer.text(text);
            }
        }
    }
}

/// An optional string where absent is greatest (the architecture).
#[derive(Clone, Copy, PartialEq, Eq)]
struct AbsentLast<'a>(Option<&'a str>);

impl Ord for AbsentLast<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.0, other.0) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for AbsentLast<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.fields().cmp(&other.fields())
    }
}

impl PartialEq for SortKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey<'_> {}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
