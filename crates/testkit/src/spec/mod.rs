//! The specifications beside the project (`../shared/spec`), read at run time by the tests
//! that take their vectors from them, so that the vectors stay where they are written and
//! are never copied into the repository. A missing file fails the test and says where it was
//! looked for.
//!
//! This module finds a specification and the pieces of Markdown its vectors are written in:
//! sections, tables, paragraphs and code spans. `lab_form` turns lab-form.md's vectors into
//! data.

pub mod lab_form;

use std::path::PathBuf;

/// The digits of an exponent as the specifications write it (`2⁵⁰`).
pub const SUPERSCRIPTS: &str = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/// One specification's text.
pub struct Spec {
    name: &'static str,
    text: String,
}

impl Spec {
    /// `../shared/spec/{name}` relative to the project root.
    pub fn load(name: &'static str) -> Spec {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/spec")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read the specification {name} at {}: {error}. These tests read their \
                 vectors from it, beside the project in ../shared/spec",
                path.display()
            )
        });
        Spec { name, text }
    }

    /// The text under the heading that begins with `heading` (`### 6.1`), up to the next
    /// heading of the same or a higher level.
    pub fn section(&self, heading: &str) -> &str {
        let level = heading.chars().take_while(|&c| c == '#').count();
        let start = self
            .text
            .lines()
            .scan(0, |offset, line| {
                let at = *offset;
                *offset += line.len() + 1;
                Some((at, line))
            })
            .find(|(_, line)| line.starts_with(heading))
            .map(|(at, line)| at + line.len() + 1)
            .unwrap_or_else(|| panic!("{} has no heading {heading:?}", self.name));
        let body = &self.text[start.min(self.text.len())..];
        let end = body
            .match_indices('\n')
            .map(|(at, _)| at + 1)
            .find(|&at| {
                let hashes = body[at..].chars().take_while(|&c| c == '#').count();
                (1..=level).contains(&hashes) && body[at + hashes..].starts_with(' ')
            })
            .unwrap_or(body.len());
        &body[..end]
    }

    /// The whole heading line that begins with `heading`.
    pub fn heading(&self, heading: &str) -> &str {
        self.text
            .lines()
            .find(|line| line.starts_with(heading))
            .unwrap_or_else(|| panic!("{} has no heading {heading:?}", self.name))
    }

    /// The paragraph of `section` that begins with `start`, its line breaks as spaces.
    pub fn paragraph(&self, section: &str, start: &str) -> String {
        let text = self.section(section);
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("{} {section} has no paragraph {start:?}", self.name));
        let rest = &text[from..];
        let end = rest.find("\n\n").unwrap_or(rest.len());
        unwrap(&rest[..end])
    }
}

/// Soft line breaks as the spaces they render as.
pub fn unwrap(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// The rows of the first table in `text`, header and rule left out, each cell trimmed; a
/// `|` inside a code span does not end a cell.
pub fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(cells)
        .collect()
}

fn cells(row: &str) -> Vec<String> {
    let inner = row.trim_matches('|');
    let mut cells = vec![String::new()];
    let mut in_code = false;
    for c in inner.chars() {
        match c {
            '`' => in_code = !in_code,
            '|' if !in_code => {
                cells.push(String::new());
                continue;
            }
            _ => {}
        }
        cells.last_mut().expect("a cell").push(c);
    }
    cells.iter().map(|cell| cell.trim().to_owned()).collect()
}

/// The code spans of `text` in order, without their backticks, spaces kept.
pub fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `text` without its code spans.
pub fn outside_code(text: &str) -> String {
    text.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// A number as the specifications write it: decimal (`0.75`, `1e3`), or a power with a
/// superscript exponent and an optional difference (`10¹²`, `2⁵⁰`, `2⁵⁰−1`).
pub fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(value) = text.parse() {
        return Some(value);
    }
    let (power, minus) = match text.split_once('−') {
        Some((power, minus)) => (power, minus.trim().parse::<f64>().ok()?),
        None => (text, 0.0),
    };
    let digits = power.find(|c: char| !c.is_ascii_digit())?;
    let base: i32 = power[..digits].parse().ok()?;
    let exponent = power[digits..].chars().try_fold(0i32, |exponent, c| {
        let digit = SUPERSCRIPTS.chars().position(|s| s == c)?;
        Some(exponent * 10 + i32::try_from(digit).ok()?)
    })?;
    Some(f64::from(base).powi(exponent) - minus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_code_spans_and_numbers() {
        let text = "x\n| a | b |\n|---|---|\n| `p|q` | 2 |\n| r |  |\n\nafter";
        assert_eq!(
            table_rows(text),
            [
                vec!["`p|q`".to_owned(), "2".to_owned()],
                vec!["r".into(), "".into()]
            ]
        );
        assert_eq!(code_spans("a `x` b ` y ` c"), ["x", " y "]);
        assert_eq!(outside_code("a `x` b"), "a   b");
        assert_eq!(number("2⁵⁰−1"), Some(1125899906842623.0));
        assert_eq!(number("10¹²"), Some(1e12));
        assert_eq!(number("0.75"), Some(0.75));
        assert_eq!(number("many"), None);
    }
}
