//! The fast tag parser: a hand-written equivalent of the ordered pattern table.
//!
//! The original tries eight regular expressions in order (behaviour.md §1.4) and falls through
//! when building a tag from a match fails. Running them with captures costs microseconds per
//! tag; this parser walks the bytes once per candidate pattern instead. Each function below
//! mirrors one part of the table and documents why its choice is the one a leftmost-first
//! backtracking engine would make. `oracle.rs` keeps the regex table itself, and the property
//! tests check that both agree on generated tag-like strings.
//!
//! Conventions: digits are ASCII only (`[0-9]`), `$` is the end of the string, `.` is any
//! character but `\n` (so any newline makes every pattern fail, which the caller handles before
//! coming here). Positions are byte offsets; every delimiter is ASCII, so they always fall on
//! character boundaries.

use super::fields::{Fields, Form, Span};
use super::number;
use chrono::{Datelike, NaiveDate, Weekday};

/// End of the run of ASCII digits starting at `i`.
fn digits_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    j
}

fn is_digit_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// Value of the ASCII digits `b[s..e]`, or `None` when it does not fit in a `u64` (dates:
/// the original's `date()` fails for such a year, so the build fails too).
fn number(b: &[u8], s: usize, e: usize) -> Option<u64> {
    let mut v: u64 = 0;
    for &d in &b[s..e] {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// A cycle or build number as stored: its value, or `LONG32` when it does not fit below it
/// (Python's `int` has no limit, so a long number never makes the build fail).
fn small_number(b: &[u8], span: Span) -> u32 {
    number::pack32(&b[span.start()..span.end()])
}

/// Start of the architecture suffix `-[a-z0-9]+` that ends the string, if there is one.
///
/// Only the last `-` can start it: the class excludes `-`, so an earlier one would have a `-`
/// after it. Returns the position of that `-`, which is at or after `from`.
fn arch_dash(b: &[u8], from: usize) -> Option<usize> {
    let mut j = b.len();
    while j > from && matches!(b[j - 1], b'a'..=b'z' | b'0'..=b'9') {
        j -= 1;
    }
    (j > from && j < b.len() && b[j - 1] == b'-').then(|| j - 1)
}

/// The optional components after a version, as captured by `CYCLE RSP REST ARCH $`.
#[derive(Default)]
struct Suffix {
    cycle: Option<(Span, Span)>,
    build: Option<Span>,
    rest: Option<Span>,
    arch: Option<Span>,
}

/// `REST ARCH $` on `b[i..]`.
///
/// A present `_rest` is tried first; its lazy `.+?` stops at the first length after which the
/// remainder is `-arch` or empty, i.e. before the final `-arch` when that leaves `rest`
/// non-empty, else at the end. Without `_`, the remainder must be empty or exactly `-arch`.
fn rest_arch(b: &[u8], i: usize) -> Option<(Option<Span>, Option<Span>)> {
    let n = b.len();
    if i == n {
        return Some((None, None));
    }
    if b[i] == b'_' && n - i >= 2 {
        if let Some(p) = arch_dash(b, i) {
            if p >= i + 2 {
                return Some((Some(Span::new(i + 1, p)), Some(Span::new(p + 1, n))));
            }
        }
        return Some((Some(Span::new(i + 1, n)), None));
    }
    if b[i] == b'-' && arch_dash(b, i) == Some(i) {
        return Some((None, Some(Span::new(i + 1, n))));
    }
    None
}

/// `RSP REST ARCH $` on `b[i..]`: the greedy optional `_rspNN` is kept only if the rest still
/// matches (its digits are maximal: giving one back leaves a digit nothing else accepts).
fn rsp_rest_arch(b: &[u8], i: usize) -> Option<Suffix> {
    if b[i..].starts_with(b"_rsp") && is_digit_at(b, i + 4) {
        let e = digits_end(b, i + 4);
        if let Some((rest, arch)) = rest_arch(b, e) {
            let build = Some(Span::new(i + 4, e));
            return Some(Suffix {
                cycle: None,
                build,
                rest,
                arch,
            });
        }
    }
    let (rest, arch) = rest_arch(b, i)?;
    Some(Suffix {
        rest,
        arch,
        ..Suffix::default()
    })
}

/// `CYCLE RSP REST ARCH $` on `b[i..]`, with the same greedy-then-backtrack rule for the cycle.
fn suffix(b: &[u8], i: usize) -> Option<Suffix> {
    if b[i..].starts_with(b"_c") && is_digit_at(b, i + 2) {
        let e1 = digits_end(b, i + 2);
        if b.get(e1) == Some(&b'.') && is_digit_at(b, e1 + 1) {
            let e2 = digits_end(b, e1 + 1);
            if let Some(mut s) = rsp_rest_arch(b, e2) {
                s.cycle = Some((Span::new(i + 2, e1), Span::new(e1 + 1, e2)));
                return Some(s);
            }
        }
    }
    rsp_rest_arch(b, i)
}

/// Reads `(\d+)_` repeated: the spans of `count` digit runs separated by `_`, starting at `i`.
/// Returns the spans and the position after the last run.
fn numbers<const N: usize>(b: &[u8], mut i: usize) -> Option<([Span; N], usize)> {
    let mut spans = [Span::default(); N];
    for (k, span) in spans.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'_') {
                return None;
            }
            i += 1;
        }
        let e = digits_end(b, i);
        if e == i {
            return None;
        }
        *span = Span::new(i, e);
        i = e;
    }
    Some((spans, i))
}

/// Fills the suffix fields.
fn with_suffix(b: &[u8], mut f: Fields, s: Suffix) -> Fields {
    if let Some((c, cb)) = s.cycle {
        f.cycle = small_number(b, c);
        f.cycle_build = small_number(b, cb);
        f.cycle_raw = Some(c);
        f.cycle_build_raw = Some(cb);
    }
    if let Some(bs) = s.build {
        f.build = small_number(b, bs);
        f.build_raw = Some(bs);
    }
    f.extra = s.rest;
    f.arch = s.arch;
    f
}

/// A release or candidate version as stored: each part's value, or `LONG` when it does not
/// fit below it (the original's integers have no limit).
fn semantic_fields(b: &[u8], kind: super::TagKind, parts: [Span; 3]) -> Fields {
    let [major, minor, patch] = parts;
    let mut f = Fields::new(
        kind,
        Form::Release {
            major,
            minor,
            patch,
        },
    );
    f.version = Some(parts.map(|part| number::pack(&b[part.start()..part.end()], number::LONG)));
    f
}

/// Patterns 1 and 2 (candidate, then release), sharing the `rX_Y_Z` prefix.
fn semantic(b: &[u8]) -> Option<Fields> {
    let (parts, e) = numbers::<3>(b, 1)?;
    if b[e..].starts_with(b"_rc") && is_digit_at(b, e + 3) {
        let pre_end = digits_end(b, e + 3);
        if let Some(s) = suffix(b, pre_end) {
            let mut f = semantic_fields(b, super::TagKind::Candidate, parts);
            f.pre = Some(Span::new(e + 1, pre_end));
            return Some(with_suffix(b, f, s));
        }
    }
    let s = suffix(b, e)?;
    let f = semantic_fields(b, super::TagKind::Release, parts);
    Some(with_suffix(b, f, s))
}

/// Pattern 3, the obsolete `rNNN` form: `r17` + `0` is release 17.0.0.
fn obsolete_release(b: &[u8]) -> Option<Fields> {
    if b.len() != 4 || !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut f = Fields::new(
        super::TagKind::Release,
        Form::Release {
            major: Span::new(1, 3),
            minor: Span::new(3, 4),
            patch: Span::new(4, 4),
        },
    );
    f.version = Some([number(b, 1, 3)?, number(b, 3, 4)?, 0]);
    Some(f)
}

/// Python's `date` covers years 1 to 9999; dates outside make the original's build fail.
fn python_year(y: u64) -> Option<i32> {
    (1..=9999).contains(&y).then_some(y as i32)
}

fn in_python_range(d: NaiveDate) -> Option<NaiveDate> {
    (1..=9999).contains(&d.year()).then_some(d)
}

/// Pattern 4: the date is the Thursday of the ISO week; an impossible week fails the build.
fn weekly(b: &[u8]) -> Option<Fields> {
    let ([y, w], e) = numbers::<2>(b, 2)?;
    let s = suffix(b, e)?;
    let year = number(b, y.start(), y.end())?;
    let week = number(b, w.start(), w.end())?;
    let week32 = u32::try_from(week).ok()?;
    let date = NaiveDate::from_isoywd_opt(python_year(year)?, week32, Weekday::Thu)?;
    let mut f = Fields::new(super::TagKind::Weekly, Form::Weekly { year: y, week: w });
    f.version = Some([year, week, 0]);
    f.date = Some(in_python_range(date)?);
    Some(with_suffix(b, f, s))
}

/// Pattern 5: an impossible calendar date fails the build.
fn daily(b: &[u8]) -> Option<Fields> {
    let ([y, m, d], e) = numbers::<3>(b, 2)?;
    let s = suffix(b, e)?;
    let parts = [
        number(b, y.start(), y.end())?,
        number(b, m.start(), m.end())?,
        number(b, d.start(), d.end())?,
    ];
    let month = u32::try_from(parts[1]).ok()?;
    let day = u32::try_from(parts[2]).ok()?;
    let date = NaiveDate::from_ymd_opt(python_year(parts[0])?, month, day)?;
    let mut f = Fields::new(
        super::TagKind::Daily,
        Form::Daily {
            year: y,
            month: m,
            day: d,
        },
    );
    f.version = Some(parts);
    f.date = Some(date);
    Some(with_suffix(b, f, s))
}

/// Pattern 7 without the build step: `(.*?)_c(\d+)(?:-arch)?$` as (base, cycle, arch) spans.
///
/// At most one `_c` can be followed by digits up to the end or the final `-arch`, so the lazy
/// prefix has a single candidate: the trailing digit run of what precedes the arch.
pub(super) fn unknown_with_cycle(b: &[u8]) -> Option<(Span, Span, Option<Span>)> {
    let n = b.len();
    let (core, arch) = match arch_dash(b, 0) {
        Some(p) => (p, Some(Span::new(p + 1, n))),
        None => (n, None),
    };
    let mut ds = core;
    while ds > 0 && b[ds - 1].is_ascii_digit() {
        ds -= 1;
    }
    (ds < core && ds >= 2 && b[ds - 1] == b'c' && b[ds - 2] == b'_')
        .then(|| (Span::new(0, ds - 2), Span::new(ds, core), arch))
}

/// Pattern 8: `(.*?)(?:-arch)?$` as (base, arch) spans; it always matches.
pub(super) fn unknown(b: &[u8]) -> (Span, Option<Span>) {
    match arch_dash(b, 0) {
        Some(p) => (Span::new(0, p), Some(Span::new(p + 1, b.len()))),
        None => (Span::new(0, b.len()), None),
    }
}

/// Parses a newline-free tag that does not start with `exp_` and more (patterns 1–5, 7, 8).
pub(super) fn plain(b: &[u8]) -> Fields {
    let found = match b.first() {
        Some(b'r') => semantic(b).or_else(|| obsolete_release(b)),
        Some(b'w') if b.starts_with(b"w_") => weekly(b),
        Some(b'd') if b.starts_with(b"d_") => daily(b),
        _ => None,
    };
    if let Some(f) = found {
        return f;
    }
    if let Some((base, cycle, arch)) = unknown_with_cycle(b) {
        let mut f = Fields::new(super::TagKind::Unknown, Form::Unknown);
        f.base = Some(base);
        f.cycle = small_number(b, cycle);
        f.cycle_raw = Some(cycle);
        f.arch = arch;
        return f;
    }
    let (base, arch) = unknown(b);
    let mut f = Fields::new(super::TagKind::Unknown, Form::Unknown);
    f.base = Some(base);
    f.arch = arch;
    f
}

/// The cycle of the alias constructor, which shares pattern 7.
pub(super) fn cycle_number(b: &[u8], span: Span) -> u32 {
    small_number(b, span)
}
