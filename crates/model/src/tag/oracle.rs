//! The original's regex table (behaviour.md §1.3–§1.5), kept as an oracle for the fast parser.
//!
//! Compiled for tests and with the `oracle` feature (the fuzz targets compare both parsers).
//! It is slow on purpose: it runs the patterns in order with captures, exactly as the original
//! does, with two documented choices: `\d` is ASCII (`[0-9]`) and `$` is the end of the string.
//! Numbers have no size limit, as Python's `int`; dates outside Python's years 1–9999 make
//! the build fail.

use super::fields::{Fields, Form, Span};
use super::number::{self, LONG};
use super::{Tag, TagKind, DEFAULT_TAG};
use chrono::{Datelike, NaiveDate, Weekday};
use regex::{Captures, Regex};
use std::sync::OnceLock;

const CYCLE: &str = r"(?:_c(?P<cycle>[0-9]+)\.(?P<cbuild>[0-9]+))?";
const RSP: &str = r"(?:_rsp(?P<build>[0-9]+))?";
const REST: &str = r"(?:_(?P<rest>.+?))?";
const ARCH: &str = r"(?:-(?P<arch>[a-z0-9]+))?";

fn table() -> &'static [(TagKind, Regex)] {
    static TABLE: OnceLock<Vec<(TagKind, Regex)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let release = r"r(?P<major>[0-9]+)_(?P<minor>[0-9]+)_(?P<patch>[0-9]+)";
        let candidate = format!("{release}_(?P<pre>rc[0-9]+)");
        let tail = format!("{CYCLE}{RSP}{REST}{ARCH}$");
        let patterns = [
            (TagKind::Candidate, format!("^{candidate}{tail}")),
            (TagKind::Release, format!("^{release}{tail}")),
            (
                TagKind::Release,
                r"^r(?P<major>[0-9][0-9])(?P<minor>[0-9])$".to_string(),
            ),
            (
                TagKind::Weekly,
                format!("^w_(?P<year>[0-9]+)_(?P<week>[0-9]+){tail}"),
            ),
            (
                TagKind::Daily,
                format!("^d_(?P<year>[0-9]+)_(?P<month>[0-9]+)_(?P<day>[0-9]+){tail}"),
            ),
            (TagKind::Experimental, r"^exp_(?P<rest>.+)$".to_string()),
            (TagKind::Unknown, format!("^{}{ARCH}$", UNKNOWN_WITH_CYCLE)),
            (TagKind::Unknown, format!("^(?P<tag>.*?){ARCH}$")),
        ];
        patterns
            .into_iter()
            .map(|(k, p)| (k, Regex::new(&p).expect("valid pattern")))
            .collect()
    })
}

const UNKNOWN_WITH_CYCLE: &str = r"(?P<tag>.*?)_c(?P<cycle>[0-9]+)";

fn span(c: &Captures<'_>, name: &str) -> Option<Span> {
    c.name(name).map(|m| Span::new(m.start(), m.end()))
}

fn int<T: TryFrom<u64>>(c: &Captures<'_>, name: &str) -> Option<Option<T>> {
    match c.name(name) {
        None => Some(None),
        Some(m) => {
            let v: u64 = m.as_str().parse().ok()?;
            Some(Some(T::try_from(v).ok()?))
        }
    }
}

/// Builds a tag from a match (behaviour.md §1.6); `None` when the original's build fails.
fn build(kind: TagKind, c: &Captures<'_>) -> Option<(Fields, u32)> {
    if kind == TagKind::Experimental {
        let rest = c.name("rest")?;
        let inner = parse(rest.as_str());
        let mut fields = inner.fields;
        fields.shift(rest.start());
        fields.kind = TagKind::Experimental;
        return Some((fields, inner.exp_depth + 1));
    }
    let form = match kind {
        TagKind::Release | TagKind::Candidate => Form::Release {
            major: span(c, "major")?,
            minor: span(c, "minor")?,
            // The obsolete form has no patch: 0.
            patch: span(c, "patch").unwrap_or_default(),
        },
        TagKind::Weekly => Form::Weekly {
            year: span(c, "year")?,
            week: span(c, "week")?,
        },
        TagKind::Daily => Form::Daily {
            year: span(c, "year")?,
            month: span(c, "month")?,
            day: span(c, "day")?,
        },
        _ => Form::Unknown,
    };
    let mut f = Fields::new(kind, form);
    match kind {
        TagKind::Release | TagKind::Candidate => {
            let part = |name: &str| {
                c.name(name)
                    .map(|m| number::pack(m.as_str().as_bytes(), LONG))
            };
            f.version = Some([part("major")?, part("minor")?, part("patch").unwrap_or(0)]);
            f.pre = span(c, "pre");
        }
        TagKind::Weekly => {
            let (year, week) = (int::<u64>(c, "year")??, int::<u64>(c, "week")??);
            let y = i32::try_from(year)
                .ok()
                .filter(|y| (1..=9999).contains(y))?;
            let d = NaiveDate::from_isoywd_opt(y, u32::try_from(week).ok()?, Weekday::Thu)?;
            f.date = Some(Some(d).filter(|d| (1..=9999).contains(&d.year()))?);
            f.version = Some([year, week, 0]);
        }
        TagKind::Daily => {
            let (year, month, day) = (
                int::<u64>(c, "year")??,
                int::<u64>(c, "month")??,
                int::<u64>(c, "day")??,
            );
            let y = i32::try_from(year)
                .ok()
                .filter(|y| (1..=9999).contains(y))?;
            f.date = Some(NaiveDate::from_ymd_opt(
                y,
                u32::try_from(month).ok()?,
                u32::try_from(day).ok()?,
            )?);
            f.version = Some([year, month, day]);
        }
        _ => f.base = span(c, "tag"),
    }
    let small = |name: &str| c.name(name).map(|m| number::pack32(m.as_str().as_bytes()));
    f.cycle = small("cycle").unwrap_or(0);
    f.cycle_build = small("cbuild").unwrap_or(0);
    f.build = small("build").unwrap_or(0);
    f.cycle_raw = span(c, "cycle");
    f.cycle_build_raw = span(c, "cbuild");
    f.build_raw = span(c, "build");
    f.extra = span(c, "rest");
    f.arch = span(c, "arch");
    Some((f, 0))
}

/// Parses with the regex table; the reference behaviour for `Tag::parse`.
pub fn parse(tag: &str) -> Tag {
    let text = if tag.is_empty() { DEFAULT_TAG } else { tag };
    for (kind, regex) in table() {
        if let Some(c) = regex.captures(text) {
            if let Some((fields, exp_depth)) = build(*kind, &c) {
                return Tag {
                    text: text.into(),
                    fields,
                    exp_depth,
                };
            }
        }
    }
    Tag::verbatim(text)
}

/// The alias constructor with the regexes; the reference behaviour for `Tag::alias`.
pub fn alias(tag: &str) -> Tag {
    let mut f = Fields::new(TagKind::Alias, Form::Alias);
    let (with_cycle, plain) = (&table()[6].1, &table()[7].1);
    let cycle = with_cycle.captures(tag).and_then(|c| {
        let value = number::pack32(c.name("cycle")?.as_str().as_bytes());
        Some((value, c))
    });
    if let Some((value, c)) = cycle {
        f.base = span(&c, "tag");
        f.cycle = value;
        f.cycle_raw = span(&c, "cycle");
        f.arch = span(&c, "arch");
    } else if let Some(c) = plain.captures(tag) {
        f.base = span(&c, "tag");
        f.arch = span(&c, "arch");
    } else {
        f.base = Some(Span::new(0, tag.len()));
    }
    Tag {
        text: tag.into(),
        fields: f,
        exp_depth: 0,
    }
}

/// True when two tags agree on every parsed field and on the display name.
pub fn same(a: &Tag, b: &Tag) -> bool {
    a.tag() == b.tag()
        && a.kind() == b.kind()
        && a.display_name() == b.display_name()
        && a.version() == b.version()
        && a.version().map(|v| v.prerelease) == b.version().map(|v| v.prerelease)
        && a.semantic() == b.semantic()
        && a.base() == b.base()
        && (a.cycle(), a.cycle_build(), a.build()) == (b.cycle(), b.cycle_build(), b.build())
        && a.architecture() == b.architecture()
        && a.extra() == b.extra()
        && a.date() == b.date()
}
