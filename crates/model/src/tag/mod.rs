//! Docker image tags following Rubin's SQR-059 conventions: parsing, display names, ordering.
//!
//! A `Tag` owns its text and stores every other textual field as a span into it, so parsing
//! allocates once; the display name is built on demand (`display_name`). The submodules are:
//! `parse` (the fast parser), `fields` (the spans it produces), `display` (display names and
//! Python's `str.title()`), `order` (versions and the ordering within one kind), `prefix` (the
//! ordering's leading fields packed into an integer, for sorting), `serialize`
//! (the JSON shape of `rsp-images tags parse`) and, for tests and fuzzing, `oracle` (the
//! original regex table, against which the fast parser is checked).

mod display;
mod fields;
mod kind;
mod number;
mod order;
mod parse;
mod prefix;
mod serialize;

#[cfg(any(test, feature = "oracle"))]
pub mod oracle;

pub use display::title_case;
pub use kind::TagKind;
pub use number::{Number, OwnedNumber};
pub use order::{SortKey, Version};
pub(crate) use prefix::PREFIX_BITS;

use chrono::{DateTime, NaiveDate, Utc};
use fields::{Fields, Form, Span};
use std::cmp::Ordering;

/// The tag the original uses for an empty string (Docker's default tag).
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image tag.
#[derive(Clone, Debug)]
pub struct Tag {
    text: Box<str>,
    fields: Fields,
    /// Number of `exp_` prefixes peeled off (each adds "Experimental " to the display name).
    exp_depth: u32,
}

impl Tag {
    /// Parses a tag with the ordered pattern table (behaviour.md §1.5). Never fails: what
    /// matches nothing else is an `Unknown` tag.
    ///
    /// Tags of 4 GiB or more (no registry allows them) are kept verbatim as `Unknown`.
    pub fn parse(tag: &str) -> Tag {
        let text = if tag.is_empty() { DEFAULT_TAG } else { tag };
        // A byte loop: tags are a dozen bytes, for which `contains`' vectorised search costs
        // several times more to set up than it saves.
        if text.len() >= u32::MAX as usize || text.bytes().any(|b| b == b'\n') {
            return Tag::verbatim(text);
        }
        // `exp_` + a non-empty remainder is experimental, whatever the remainder parses as;
        // peeling the prefixes in a loop keeps deep nesting off the stack.
        let bytes = text.as_bytes();
        let mut offset = 0;
        let mut depth = 0u32;
        while bytes[offset..].starts_with(b"exp_") && bytes.len() - offset > 4 {
            offset += 4;
            depth += 1;
        }
        let mut fields = parse::plain(&bytes[offset..]);
        if depth > 0 {
            fields.shift(offset);
            fields.kind = TagKind::Experimental;
        }
        Tag {
            text: text.into(),
            fields,
            exp_depth: depth,
        }
    }

    /// Builds a tag known to be an alias (behaviour.md §1.7); never fails.
    pub fn alias(tag: &str) -> Tag {
        if tag.len() >= u32::MAX as usize {
            return Tag::verbatim(tag);
        }
        let mut fields = Fields::new(TagKind::Alias, Form::Alias);
        let bytes = tag.as_bytes();
        let with_cycle = || {
            let (base, raw, arch) = parse::unknown_with_cycle(bytes)?;
            Some((base, raw, parse::cycle_number(bytes, raw), arch))
        };
        if tag.contains('\n') {
            // Neither pattern matches across a newline: the whole tag is the base.
            fields.base = Some(Span::new(0, tag.len()));
        } else if let Some((base, raw, cycle, arch)) = with_cycle() {
            fields.base = Some(base);
            fields.cycle = cycle;
            fields.cycle_raw = Some(raw);
            fields.arch = arch;
        } else {
            let (base, arch) = parse::unknown(bytes);
            fields.base = Some(base);
            fields.arch = arch;
        }
        Tag {
            text: tag.into(),
            fields,
            exp_depth: 0,
        }
    }

    fn verbatim(text: &str) -> Tag {
        Tag {
            text: text.into(),
            fields: Fields::new(TagKind::Unknown, Form::Verbatim),
            exp_depth: 0,
        }
    }

    /// The tag exactly as given (`latest` for an empty string).
    pub fn tag(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> TagKind {
        self.fields.kind
    }

    /// The human-readable name, e.g. "Release r21.0.1 (RSP Build 19) [amd64]".
    pub fn display_name(&self) -> String {
        display::display_name(self)
    }

    /// For unknown, alias and experimental-of-unknown tags: the tag without cycle and
    /// architecture suffixes; used for sorting.
    pub fn base(&self) -> Option<&str> {
        self.span(self.fields.base)
    }

    pub fn version(&self) -> Option<Version<'_>> {
        let [major, minor, patch] = self.fields.version?;
        // Only a release's parts can be too long to store; they are read from its digits.
        let digits = match self.fields.form {
            Form::Release {
                major,
                minor,
                patch,
            } => [major, minor, patch],
            _ => [Span::default(); 3],
        };
        let part =
            |stored: u64, span: Span| Number::unpack(stored, number::LONG, || span.of(&self.text));
        Some(Version {
            major: part(major, digits[0]),
            minor: part(minor, digits[1]),
            patch: part(patch, digits[2]),
            prerelease: self.span(self.fields.pre),
        })
    }

    /// True for releases and release candidates, and experimentals of them.
    pub fn semantic(&self) -> bool {
        matches!(self.fields.form, Form::Release { .. })
    }

    pub fn cycle(&self) -> Option<Number<'_>> {
        self.number(self.fields.cycle, self.fields.cycle_raw)
    }

    pub fn cycle_build(&self) -> Option<Number<'_>> {
        self.number(self.fields.cycle_build, self.fields.cycle_build_raw)
    }

    /// The RSP build number (`_rspNN`).
    pub fn build(&self) -> Option<Number<'_>> {
        self.number(self.fields.build, self.fields.build_raw)
    }

    /// A cycle or build number from its stored value and its digits, present when they are.
    fn number(&self, stored: u32, raw: Option<Span>) -> Option<Number<'_>> {
        raw.map(|raw| {
            Number::unpack(u64::from(stored), u64::from(number::LONG32), || {
                raw.of(&self.text)
            })
        })
    }

    pub fn architecture(&self) -> Option<&str> {
        self.span(self.fields.arch)
    }

    pub fn is_arch_specific(&self) -> bool {
        self.fields.arch.is_some()
    }

    /// Free-form trailing component (`_anything` after the known suffixes).
    pub fn extra(&self) -> Option<&str> {
        self.span(self.fields.extra)
    }

    /// Midnight UTC of the tag's date (weeklies: the Thursday of the ISO week; dailies).
    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.date_naive()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc())
    }

    pub fn date_naive(&self) -> Option<NaiveDate> {
        self.fields.date
    }

    /// The fields that order tags of one kind (behaviour.md §2.1).
    pub fn sort_key(&self) -> SortKey<'_> {
        SortKey {
            version: self.version(),
            base: self.base(),
            cycle: self.cycle(),
            cycle_build: self.cycle_build(),
            build: self.build(),
            extra: self.extra(),
            architecture: self.architecture(),
        }
    }

    /// Three-way comparison of two tags of the same kind (behaviour.md §2.1). Tags of different
    /// kinds, which the original refuses to compare, are ordered by kind so that this stays a
    /// total order.
    pub fn cmp_same_kind(&self, other: &Tag) -> Ordering {
        self.kind()
            .cmp(&other.kind())
            .then_with(|| self.sort_key().cmp(&other.sort_key()))
    }

    fn span(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| s.of(&self.text))
    }
}

#[cfg(test)]
mod tests;
