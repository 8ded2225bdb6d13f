//! The words and CSS classes of the status pages' states, and the limits that keep text from
//! outside (errors, reasons, labels) from making a page heavy: each is shown up to a length
//! and ends with `…` when cut.

use serde::Serialize;
use std::borrow::Cow;
use std::time::SystemTime;

use super::time::{relative, span, timestamp};
use crate::status::{CellKind, CellState};

/// Errors in lists (the overview's failing nodes).
pub const ERROR_IN_LIST: usize = 200;
/// Errors on a node's own page, and notice details.
pub const ERROR_IN_FULL: usize = 2_000;
/// Ineligibility reasons, taints and label values.
pub const REASON: usize = 200;

/// `text` up to `max_chars` characters, with `…` when cut.
pub fn clip(text: &str, max_chars: usize) -> Cow<'_, str> {
    // A text has no more characters than bytes: most are short enough to need no count.
    if text.len() <= max_chars {
        return Cow::Borrowed(text);
    }
    // Errors are mostly ASCII: when the first `max_chars` bytes are, they are the first
    // `max_chars` characters, found without decoding each one (a 3,000-byte error took a
    // sixth of a node page's instructions).
    let end = if text.as_bytes()[..max_chars].is_ascii() {
        max_chars
    } else {
        match text.char_indices().nth(max_chars) {
            None => return Cow::Borrowed(text),
            Some((end, _)) => end,
        }
    };
    Cow::Owned(format!("{}…", &text[..end]))
}

/// A cell kind as pages name it: the CSS class (its URL name), a short label and a sentence.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KindWords {
    pub class: &'static str,
    pub label: &'static str,
    pub meaning: &'static str,
}

pub fn kind_words(kind: CellKind) -> KindWords {
    let (label, meaning) = match kind {
        CellKind::Cached => ("cached", "The node has the image."),
        CellKind::Pulling => ("pulling", "A prepull pod is pulling the image."),
        CellKind::BackingOff => (
            "backing off",
            "The last pull failed; the next try waits (see the node for the error).",
        ),
        CellKind::Missing => (
            "missing",
            "Not on the node yet, nothing under way: waiting for a prepull slot.",
        ),
        CellKind::NotWanted => (
            "not wanted",
            "The node is ineligible: nothing is prepulled there.",
        ),
        CellKind::Unsupported => (
            "unsupported",
            "The image does not run on the node's platform (OS and architecture): it cannot be there.",
        ),
    };
    KindWords {
        class: kind.name(),
        label,
        meaning,
    }
}

/// Every kind's words, in page order: the legends.
pub fn legend() -> Vec<KindWords> {
    CellKind::ALL.into_iter().map(kind_words).collect()
}

/// What a cell's state means on a node's page, with its times and error.
pub fn cell_detail(cell: &CellState, now: SystemTime) -> String {
    match cell {
        CellState::Cached => String::new(),
        CellState::Pulling { since } => format!(
            "pulling for {} (since {})",
            span(now.duration_since(*since).unwrap_or_default()),
            timestamp(*since)
        ),
        CellState::BackingOff {
            reason,
            failed_at,
            until,
        } => format!(
            "failed {}: {}; next try {}",
            relative(*failed_at, now),
            clip(reason, ERROR_IN_FULL),
            relative(*until, now)
        ),
        CellState::Missing => "waiting for a prepull slot".to_owned(),
        CellState::NotWanted => "the node is ineligible: nothing is prepulled here".to_owned(),
        CellState::Unsupported(mismatch) => format!(
            "the image runs on {}, not on this node's {}",
            clip(&mismatch.image, REASON),
            clip(&mismatch.node, REASON)
        ),
    }
}

/// `1 node`, `3 nodes`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("éé", 2), "éé");
        assert_eq!(clip("", 0), "");
        // ASCII up to the cut, and other characters before, at or after it.
        assert_eq!(clip("abcé", 3), "abc…");
        assert_eq!(clip("abcdé", 3), "abc…");
        assert_eq!(clip("aébc", 3), "aéb…");
        assert_eq!(clip("aéb", 3), "aéb");
        assert_eq!(clip("ab€", 3), "ab€");
        assert_eq!(clip("ab€d", 3), "ab€…");
    }

    #[test]
    fn every_kind_has_distinct_words() {
        let words = legend();
        assert_eq!(words.len(), CellKind::ALL.len());
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(a.label, b.label);
                assert_ne!(a.class, b.class);
            }
        }
    }
}
