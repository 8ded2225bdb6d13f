//! §6.3's lab-creation vectors: each row's options (on top of a valid request), the user
//! who posts them, and what lab creation answers.

use regex::Regex;
use serde_json::{json, Map, Value};

use super::LabFormSpec;
use crate::spec::{code_spans, outside_code, table_rows};

/// Who asks for a lab in a creation vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// The vectors' user: quota 9/27, may spawn.
    Standard,
    /// `spawn: false`.
    MayNotSpawn,
    /// No quota at all.
    WithoutQuota,
    /// No uid in the user record.
    WithoutUid,
}

/// One case of §6.3 (a row with alternatives `a / b` gives one case each).
#[derive(Debug, Clone)]
pub struct CreationVector {
    pub row: String,
    pub creator: Creator,
    /// The options posted; `reference` stands for `ref`.
    pub options: Map<String, Value>,
    pub status: u16,
    /// What the refusal must mention: messages, error types, the field.
    pub mentions: Vec<String>,
}

impl LabFormSpec {
    /// §6.3, every case; `reference` is what `ref` stands for.
    pub fn creation_vectors(&self, reference: &str) -> Vec<CreationVector> {
        let rows = table_rows(self.spec.section("### 6.3"));
        assert!(rows.len() >= 16, "§6.3 has 16 rows");
        let mut vectors = Vec::new();
        for row in rows {
            let [options, result] = <[String; 2]>::try_from(row).expect("two columns in §6.3");
            let option_cases: Vec<&str> = options.split(" / ").collect();
            let result_cases: Vec<&str> = result.split(" / ").collect();
            let count = option_cases.len().max(result_cases.len());
            let mut key = None;
            for i in 0..count {
                let options_text = option_cases[i.min(option_cases.len() - 1)];
                let result_text = result_cases[i.min(result_cases.len() - 1)];
                let (creator, options) = creation_options(options_text, reference, &mut key);
                let (status, mentions) = creation_result(result_text);
                vectors.push(CreationVector {
                    row: format!("{options_text} → {result_text}"),
                    creator,
                    options,
                    status,
                    mentions,
                });
            }
        }
        vectors
    }
}

/// The options of a §6.3 case, on top of a valid request (`image_list: [reference]`,
/// `size: ["small"]`). `key` carries the field of a row's first alternative to a second
/// one written as a bare value (`enable_debug:["on"]` / `["True"]`).
fn creation_options(
    text: &str,
    reference: &str,
    key: &mut Option<String>,
) -> (Creator, Map<String, Value>) {
    let mut options = Map::new();
    options.insert("image_list".into(), json!([reference]));
    options.insert("size".into(), json!(["small"]));
    let words = outside_code(text);
    let creator = if words.contains("without quota") {
        Creator::WithoutQuota
    } else if words.contains("without uid") {
        Creator::WithoutUid
    } else if code_spans(text).iter().any(|s| s == "spawn:false") {
        Creator::MayNotSpawn
    } else {
        Creator::Standard
    };
    let field_name = Regex::new(r"^\w+$").expect("a regex");
    let spans: Vec<String> = code_spans(text)
        .iter()
        .flat_map(|s| assignments(s))
        .collect();
    for span in spans {
        if span == "{}" {
            options.clear();
            continue;
        }
        if span == "spawn:false" {
            continue;
        }
        if field_name.is_match(&span) {
            // A field named in prose: `no `size`` removes it, `beside `image_list`` keeps it.
            if words.trim_start().starts_with("no ") {
                options.remove(&span);
            }
            continue;
        }
        let (field, value) = match span.split_once(':') {
            Some((field, value)) if field_name.is_match(field) => {
                *key = Some(field.to_owned());
                (field.to_owned(), value.to_owned())
            }
            _ => (
                key.clone().expect("a field before a bare value"),
                span.clone(),
            ),
        };
        let value = value.replace("[ref]", &format!("[{reference:?}]"));
        let value: Value =
            serde_json::from_str(&value).unwrap_or_else(|e| panic!("{span:?} is not JSON: {e}"));
        options.insert(field, value);
    }
    (creator, options)
}

/// `a:[1], b:true` → `a:[1]`, `b:true`: a code span's assignments, split where a comma is
/// followed by the next field's name and a colon.
fn assignments(span: &str) -> Vec<String> {
    let next = Regex::new(r",\s*\w+:").expect("a regex");
    let mut parts = Vec::new();
    let mut start = 0;
    for found in next.find_iter(span) {
        parts.push(span[start..found.start()].trim().to_owned());
        start = found.start() + 1;
    }
    parts.push(span[start..].trim().to_owned());
    parts
}

/// `422 "Too many values for foo"` → the status, and what the refusal must mention.
fn creation_result(text: &str) -> (u16, Vec<String>) {
    let text = text.trim();
    let status: u16 = text[..3].parse().expect("a status");
    let rest = Regex::new(r"\([^)]*\)")
        .expect("a regex")
        .replace_all(&text[3..], "")
        .into_owned();
    let mut mentions: Vec<String> = Vec::new();
    for span in code_spans(&rest) {
        match serde_json::from_str::<Vec<String>>(&span) {
            // A location: the refusal names its last element, the field.
            Ok(location) => mentions.extend(location.last().cloned()),
            Err(_) => mentions.push(span),
        }
    }
    let outside = outside_code(&rest);
    let mut quoted = outside.split('"');
    let words = quoted.next().unwrap_or_default();
    mentions.extend(quoted.step_by(2).map(str::to_owned));
    mentions.extend(
        words
            .split_whitespace()
            .filter(|word| !["error", "at", "a"].contains(word))
            .map(str::to_owned),
    );
    (status, mentions)
}
