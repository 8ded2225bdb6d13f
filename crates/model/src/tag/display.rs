//! Display names of tags (behaviour.md §1.6, §1.7) and Python's `str.title()`.
//!
//! Display names are built on demand rather than at parse time: parsing is on the hot path of
//! every registry listing, display names only of what is shown.

use super::fields::Form;
use super::{Tag, TagKind};
use std::fmt::Write;

pub(super) fn display_name(tag: &Tag) -> String {
    let text = tag.tag();
    let f = &tag.fields;
    let mut out = String::with_capacity(text.len() + 32);
    for _ in 0..tag.exp_depth {
        out.push_str(TagKind::Experimental.as_str());
        out.push(' ');
    }
    match f.form {
        Form::Release { .. } => {
            let kind = if f.pre.is_some() {
                TagKind::Candidate
            } else {
                TagKind::Release
            };
            if let Some(version) = tag.version() {
                let (major, minor, patch) = (version.major, version.minor, version.patch);
                let _ = write!(out, "{kind} r{major}.{minor}.{patch}");
            }
            if let Some(pre) = f.pre {
                out.push('-');
                out.push_str(pre.of(text));
            }
        }
        Form::Weekly { year, week } => {
            out.push_str("Weekly ");
            join_raw(&mut out, text, &[year, week]);
        }
        Form::Daily { year, month, day } => {
            out.push_str("Daily ");
            join_raw(&mut out, text, &[year, month, day]);
        }
        Form::Unknown => out.push_str(tag.base().unwrap_or_default()),
        Form::Alias => out.push_str(&title_case(
            &tag.base().unwrap_or_default().replace('_', " "),
        )),
        Form::Verbatim => {
            out.push_str(text);
            return out;
        }
    }
    if let Some(cycle) = f.cycle_raw {
        out.push_str(" (SAL Cycle ");
        out.push_str(cycle.of(text));
        if let Some(cbuild) = f.cycle_build_raw {
            out.push_str(", Build ");
            out.push_str(cbuild.of(text));
        }
        out.push(')');
    }
    if let Some(build) = f.build_raw {
        out.push_str(" (RSP Build ");
        out.push_str(build.of(text));
        out.push(')');
    }
    for part in [tag.extra(), tag.architecture()].into_iter().flatten() {
        out.push_str(" [");
        out.push_str(part);
        out.push(']');
    }
    out
}

fn join_raw(out: &mut String, text: &str, parts: &[super::Span]) {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        out.push_str(part.of(text));
    }
}

/// Python's `str.title()`: a cased character is title-cased when the character before it is not
/// cased, lower-cased otherwise; digits, punctuation and spaces are not cased, so a letter after
/// them starts a word (`it's_2x` → `It'S_2X`).
///
/// Exact for ASCII, and for other characters whose title case is their upper case. Rust has no
/// title-case mapping, so the few Unicode characters whose title case differs (digraphs such
/// as `ǆ`, ligatures, `ß`) are approximated by their upper case, except the Latin digraphs,
/// which are mapped exactly.
pub fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else if let Some(t) = latin_digraph_title(c) {
            out.push(t);
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = is_cased(c);
    }
    out
}

/// Unicode "Cased": upper, lower or title case letters.
fn is_cased(c: char) -> bool {
    c.is_lowercase()
        || c.is_uppercase()
        || latin_digraph_title(c).is_some_and(|t| t == c)
        || is_other_titlecase(c)
}

/// The title-case forms of the Latin digraphs DŽ, LJ, NJ and DZ.
fn latin_digraph_title(c: char) -> Option<char> {
    match c {
        '\u{01C4}'..='\u{01C6}' => Some('\u{01C5}'),
        '\u{01C7}'..='\u{01C9}' => Some('\u{01C8}'),
        '\u{01CA}'..='\u{01CC}' => Some('\u{01CB}'),
        '\u{01F1}'..='\u{01F3}' => Some('\u{01F2}'),
        _ => None,
    }
}

/// Greek title-case letters (category Lt), which are neither upper nor lower case in Rust.
fn is_other_titlecase(c: char) -> bool {
    matches!(c, '\u{1F88}'..='\u{1F8F}' | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}' | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}
