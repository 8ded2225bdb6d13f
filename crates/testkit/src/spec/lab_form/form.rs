//! §6.1's form vectors: sizes, quota and menu of each, and what its answer must show
//! (sizes offered, the checked one, and the details its last column names), with V10's labels
//! and the further labels written below the table.

use regex::Regex;

use super::{between, pair, parse_quota, split_outside_code, LabFormSpec, SpecQuota, SpecSize};
use crate::spec::{code_spans, outside_code, table_rows};

/// A menu written out in a vector: `(reference, display name)` pairs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpecMenu {
    pub menu: Vec<(String, String)>,
    pub dropdown: Vec<(String, String)>,
}

/// What the form route answers.
#[derive(Debug, Clone, PartialEq)]
pub enum FormAnswer {
    /// A form; `sizes` are the sizes offered in order and the checked one, when the
    /// vector states them (the menu vectors do not).
    Form {
        sizes: Option<(Vec<String>, String)>,
    },
    Unavailable,
    /// The original's plain-text 500.
    ServerError,
}

/// A detail a vector's answer must show besides its sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum FormCheck {
    /// The body equals this file of the conformance suite byte for byte.
    ByteIdentical(String),
    /// The image radio with this id is checked (or not).
    ImageChecked(String, bool),
    /// The dropdown's sentinel radio is checked (or not).
    SentinelChecked(bool),
    /// No `imageN` radio at all.
    NoMenuImages,
    /// The number of dropdown options.
    Options(usize),
    /// The default submission (§5.2) gives this field this value.
    Submits(String, String),
    /// The default submission is refused with this message.
    SubmissionRefused(String),
    /// The size labels, in order.
    Labels(Vec<String>),
    /// The HTML contains this text as written.
    Contains(String),
}

/// One row of §6.1.
#[derive(Debug, Clone)]
pub struct FormVector {
    pub id: String,
    /// `None`: `lab.sizes` omitted.
    pub sizes: Option<Vec<SpecSize>>,
    pub default_size: Option<String>,
    pub quota: SpecQuota,
    /// `None`: the standard menu M0.
    pub menu: Option<SpecMenu>,
    pub answer: FormAnswer,
    pub checks: Vec<FormCheck>,
}

/// What a label shows for one quantity (§6.1's further labels).
#[derive(Debug, Clone, PartialEq)]
pub enum LabelPart {
    Cpu,
    Memory,
    Size,
}

impl LabFormSpec {
    /// §6.1, every row.
    pub fn form_vectors(&self) -> Vec<FormVector> {
        let std = self.std_sizes();
        let rows = table_rows(self.spec.section("### 6.1"));
        assert!(rows.len() >= 21, "§6.1 has 21 form vectors");
        rows.into_iter()
            .map(|row| {
                let [id, sizes, default, quota, menu, expected] =
                    <[String; 6]>::try_from(row).expect("six columns in §6.1");
                let sizes = match sizes.as_str() {
                    "STD" => Some(std.clone()),
                    "see below" => Some(self.v10_labels().into_iter().map(|(s, _)| s).collect()),
                    text if text.contains("omitted") => None,
                    text => Some(self.parse_sizes(text, &std)),
                };
                let default_size = (default != "—").then_some(default);
                let (answer, checks) = self.form_answer(&expected, &std);
                FormVector {
                    id,
                    sizes,
                    default_size,
                    quota: parse_quota(&quota),
                    menu: (menu != "M0").then(|| parse_menu(&menu)),
                    answer,
                    checks,
                }
            })
            .collect()
    }

    fn form_answer(&self, expected: &str, std: &[SpecSize]) -> (FormAnswer, Vec<FormCheck>) {
        if expected.contains("**500**") {
            return (FormAnswer::ServerError, Vec::new());
        }
        if expected.contains("unavailable") {
            return (FormAnswer::Unavailable, Vec::new());
        }
        let mut checks = Vec::new();
        let plain = Regex::new(r"\([^)]*\)")
            .expect("a regex")
            .replace_all(&outside_code(expected), "")
            .into_owned();
        let sizes: Vec<String> = if plain.contains("all four") {
            std.iter().map(|s| s.name.clone()).collect()
        } else if plain.contains("labels below") {
            let labels = self.v10_labels();
            checks.push(FormCheck::Labels(
                labels.iter().map(|(_, l)| l.clone()).collect(),
            ));
            labels.into_iter().map(|(s, _)| s.name).collect()
        } else {
            let first = plain.split(';').next().unwrap_or_default();
            let names = self.size_names();
            first
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| names.iter().any(|n| n == word))
                .map(str::to_owned)
                .collect()
        };
        let default = Regex::new(r"(\w+)✓")
            .expect("a regex")
            .captures(&plain)
            .map(|c| c[1].to_owned());
        let sizes = match default {
            Some(default) => Some((sizes, default)),
            None => {
                assert!(sizes.is_empty(), "sizes without a checked one: {expected}");
                None
            }
        };
        // The details, clause by clause (a clause ends at `;`).
        let options = Regex::new(r"(\d+) options").expect("a regex");
        let radio = Regex::new(r"^image\d+$").expect("a regex");
        for clause in split_outside_code(expected, ';') {
            let words = outside_code(&clause);
            let spans = code_spans(&clause);
            if words.contains("byte-identical") {
                checks.push(FormCheck::ByteIdentical(spans[0].clone()));
                continue;
            }
            if let Some(message) = words.split_once("default submission →") {
                let message = message.1.split('"').nth(1).expect("a quoted message");
                checks.push(FormCheck::SubmissionRefused(message.to_owned()));
                continue;
            }
            if words.contains("default submission parses to") {
                let (field, value) = spans[0].split_once('=').expect("field=value");
                checks.push(FormCheck::Submits(field.to_owned(), value.to_owned()));
                continue;
            }
            if words.contains("sentinel") {
                checks.push(FormCheck::SentinelChecked(
                    !words.contains("sentinel unchecked"),
                ));
            }
            if let Some(count) = options.captures(&words) {
                checks.push(FormCheck::Options(count[1].parse().expect("a count")));
            }
            for item in split_outside_code(&clause, ',') {
                let item_words = outside_code(&item);
                for span in code_spans(&item) {
                    if span == "imageN" {
                        checks.push(FormCheck::NoMenuImages);
                    } else if span == "<select>" && item_words.contains("empty") {
                        checks.push(FormCheck::Options(0));
                    } else if radio.is_match(&span) {
                        let unchecked = item_words.contains("unchecked");
                        checks.push(FormCheck::ImageChecked(span, !unchecked));
                    } else {
                        checks.push(FormCheck::Contains(span));
                    }
                }
            }
        }
        (FormAnswer::Form { sizes }, checks)
    }

    /// §6.1's V10: `(size name, cpu, memory, label)`.
    pub fn v10_labels(&self) -> Vec<(SpecSize, String)> {
        let text = self.spec.paragraph("### 6.1", "V10 sizes");
        let text = between(&text, "→ label):", "Further labels");
        let entry = Regex::new(r"`(\w+)` \(([^)]*)\) → `([^`]*)`").expect("a regex");
        let labels: Vec<(SpecSize, String)> = entry
            .captures_iter(text)
            .map(|c| {
                let (cpu, memory) = pair(&c[2]);
                (SpecSize::even(&c[1], &cpu, &memory), c[3].to_owned())
            })
            .collect();
        assert_eq!(labels.len(), 9, "V10 has nine sizes: {text}");
        labels
    }

    /// §6.1's further labels: which quantity, the configured text, what the label shows
    /// (`…` cut off: the label begins with the rest).
    pub fn further_labels(&self) -> Vec<(LabelPart, String, String)> {
        let text = self.spec.paragraph("### 6.1", "V10 sizes");
        let text = text.split_once("Further labels").expect("further labels").1;
        let text = text.split_once(':').expect("a colon").1;
        let mut part = LabelPart::Cpu;
        let mut labels = Vec::new();
        for segment in text.trim().trim_end_matches('.').split(';') {
            let words = outside_code(segment);
            match words.split_whitespace().next() {
                Some("cpu") => part = LabelPart::Cpu,
                Some("memory") => part = LabelPart::Memory,
                Some("size") => part = LabelPart::Size,
                _ => {}
            }
            let spans = code_spans(segment);
            let (first, last) = (spans.first(), spans.last());
            if let (Some(first), Some(last)) = (first, last) {
                let shown = last.split('…').next().unwrap_or_default().to_owned();
                labels.push((part.clone(), first.clone(), shown));
            }
        }
        assert!(labels.len() >= 7, "further labels: {labels:?}");
        labels
    }
}

/// `menu [(`ref`, `name`), …], dropdown [`ref` "name", …]`: references are code spans, names
/// code spans or double-quoted.
fn parse_menu(text: &str) -> SpecMenu {
    let (menu, dropdown) = text
        .split_once("dropdown [")
        .unwrap_or_else(|| panic!("not a menu: {text:?}"));
    SpecMenu {
        menu: pairs(menu.split_once("menu [").expect("a menu list").1),
        dropdown: pairs(dropdown),
    }
}

fn pairs(list: &str) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut rest = list;
    loop {
        let next = rest.find(['`', '"']);
        let Some(at) = next else { break };
        let quote = &rest[at..at + 1];
        let after = &rest[at + 1..];
        let Some(end) = after.find(quote) else { break };
        items.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    assert!(
        items.len() % 2 == 0,
        "references and names pair up: {items:?}"
    );
    items
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}
