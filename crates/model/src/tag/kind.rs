//! The kinds of image tag, in the order in which menus, collections and filters list them.
//!
//! Declaration order is significant: `TagKind::ALL` and the derived `Ord` are the display order
//! of the original (aliases first, unknown tags last).

use serde::{Serialize, Serializer};

/// What a tag names, as decided by the pattern table (or by the alias constructor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagKind {
    Alias,
    Release,
    Weekly,
    Daily,
    Candidate,
    Experimental,
    Unknown,
}

impl TagKind {
    /// Every kind, in display order.
    pub const ALL: [TagKind; 7] = [
        TagKind::Alias,
        TagKind::Release,
        TagKind::Weekly,
        TagKind::Daily,
        TagKind::Candidate,
        TagKind::Experimental,
        TagKind::Unknown,
    ];

    /// The serialised value (`image_type`), also the first words of display names.
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::Alias => "Alias",
            TagKind::Release => "Release",
            TagKind::Weekly => "Weekly",
            TagKind::Daily => "Daily",
            TagKind::Candidate => "Release Candidate",
            TagKind::Experimental => "Experimental",
            TagKind::Unknown => "Unknown",
        }
    }

    /// Position in display order, usable as an array index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Kinds whose tags carry a semantic version (`semantic` is true for them).
    pub fn is_semantic(self) -> bool {
        matches!(self, TagKind::Release | TagKind::Candidate)
    }

    /// Kinds that may turn out to be an alias of another tag with the same digest.
    pub fn is_possible_alias(self) -> bool {
        matches!(self, TagKind::Alias | TagKind::Unknown)
    }
}

impl std::fmt::Display for TagKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TagKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
