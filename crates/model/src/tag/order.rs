//! Versions and the ordering of tags of one kind (behaviour.md §2.1).
//!
//! The ordering is a plain `Ord` on `SortKey`, a borrowed view of the fields that matter, so
//! that images whose alias resolution changed some fields (cycle, architecture) sort with the
//! same code as tags.

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

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.base
            .cmp(&other.base)
            .then_with(|| self.version.cmp(&other.version))
            .then_with(|| self.cycle.cmp(&other.cycle))
            .then_with(|| self.cycle_build.cmp(&other.cycle_build))
            .then_with(|| self.build.cmp(&other.build))
            .then_with(|| self.extra.cmp(&other.extra))
            .then_with(|| match (self.architecture, other.architecture) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
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
