//! The parsed parts of a tag, stored as byte spans into the tag text.
//!
//! Every textual field of a tag (base, extra, architecture, the raw digits shown in display
//! names) is a substring of the tag itself, so a parsed tag needs one allocation: its text.
//! Spans are `u32` pairs to keep `Tag` small; tags longer than 4 GiB are not parsed (see
//! `Tag::parse`). A span's end is stored plus one as a `NonZeroU32`, so that an absent span
//! (`Option<Span>`, seven of them per tag) takes 8 bytes rather than 12, and a stored number
//! is present when its span is: a collection holds 20,000 tags, and every page of them costs
//! a page fault to the command that builds it.

use super::TagKind;
use chrono::NaiveDate;
use std::num::NonZeroU32;

/// A byte range of the tag text; always on character boundaries (delimiters are ASCII).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Span {
    start: u32,
    /// The end plus one.
    end: NonZeroU32,
}

impl Default for Span {
    fn default() -> Span {
        Span::new(0, 0)
    }
}

impl Span {
    /// Callers only pass offsets into strings shorter than `u32::MAX` bytes.
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: NonZeroU32::new((end as u32).wrapping_add(1)).unwrap_or(NonZeroU32::MAX),
        }
    }

    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    pub(crate) fn end(self) -> usize {
        (self.end.get() - 1) as usize
    }

    pub(crate) fn shifted(self, by: usize) -> Span {
        Span::new(self.start() + by, self.end() + by)
    }

    /// The text of this span; empty if the span does not fit `text` (never happens for spans
    /// made by the parser, but slicing must not panic).
    pub(crate) fn of(self, text: &str) -> &str {
        text.get(self.start()..self.end()).unwrap_or("")
    }
}

/// How the display name starts, before the common suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// "Release r1.2.3" or "Release Candidate r1.2.3-rc1" (integer values); the spans are
    /// the version's digits, read only for a part too long for a `u64` (`number::LONG`).
    Release {
        major: Span,
        minor: Span,
        patch: Span,
    },
    /// "Weekly {year}_{week}" (raw digits).
    Weekly { year: Span, week: Span },
    /// "Daily {year}_{month}_{day}" (raw digits).
    Daily { year: Span, month: Span, day: Span },
    /// The base as it is.
    Unknown,
    /// The base title-cased, underscores as spaces.
    Alias,
    /// The whole tag (nothing matched: the tag contains a newline).
    Verbatim,
}

/// Everything the parser decides, with spans relative to the text it was given.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    pub kind: TagKind,
    pub form: Form,
    /// Major, minor, patch (weeklies: year, week, 0; dailies: year, month, day); `LONG` for
    /// a part whose digits must be read from the tag.
    pub version: Option<[u64; 3]>,
    pub pre: Option<Span>,
    pub base: Option<Span>,
    /// Cycle, cycle build and RSP build; `LONG32` for one whose digits (the `_raw` span) must
    /// be read from the tag. Each is present when its `_raw` span is, and 0 otherwise: an
    /// `Option` of its own would add 4 bytes to every tag for what the span already says.
    pub cycle: u32,
    pub cycle_build: u32,
    pub build: u32,
    pub cycle_raw: Option<Span>,
    pub cycle_build_raw: Option<Span>,
    pub build_raw: Option<Span>,
    pub extra: Option<Span>,
    pub arch: Option<Span>,
    pub date: Option<NaiveDate>,
}

impl Fields {
    pub(crate) fn new(kind: TagKind, form: Form) -> Fields {
        Fields {
            kind,
            form,
            version: None,
            pre: None,
            base: None,
            cycle: 0,
            cycle_build: 0,
            build: 0,
            cycle_raw: None,
            cycle_build_raw: None,
            build_raw: None,
            extra: None,
            arch: None,
            date: None,
        }
    }

    /// Moves every span by `by` bytes: the parts of an experimental tag's remainder are
    /// stored relative to the whole tag.
    pub(crate) fn shift(&mut self, by: usize) {
        let move_span = |s: &mut Option<Span>| *s = s.map(|s| s.shifted(by));
        self.form = match self.form {
            Form::Release {
                major,
                minor,
                patch,
            } => Form::Release {
                major: major.shifted(by),
                minor: minor.shifted(by),
                patch: patch.shifted(by),
            },
            Form::Weekly { year, week } => Form::Weekly {
                year: year.shifted(by),
                week: week.shifted(by),
            },
            Form::Daily { year, month, day } => Form::Daily {
                year: year.shifted(by),
                month: month.shifted(by),
                day: day.shifted(by),
            },
            other => other,
        };
        for s in [
            &mut self.pre,
            &mut self.base,
            &mut self.cycle_raw,
            &mut self.cycle_build_raw,
            &mut self.build_raw,
            &mut self.extra,
            &mut self.arch,
        ] {
            move_span(s);
        }
    }
}
