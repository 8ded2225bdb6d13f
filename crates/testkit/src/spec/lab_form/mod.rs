//! lab-form.md's vectors as data, read from the specification at run time: the sizes and
//! user quotas of the form vectors (§6.1) with what each answer must show, the error vectors
//! (§6.2) and the error bodies they name (§1.4), the lab-creation vectors (§6.3), the unit
//! vectors (§6.4) and the label tables (§3.5, §6.1's V10). Only the reading is here; what a
//! vector means for the service is decided by the tests that use it.
//!
//! - this module: the loader, sizes (§3.2, STD) and quotas, and the Markdown pieces they share.
//! - `form`: §6.1's form vectors, V10 and the further labels.
//! - `errors`: §6.2's error vectors and §1.4's bodies.
//! - `creation`: §6.3's lab-creation vectors.
//! - `units`: §6.4's unit vectors, §3.5's label examples and table, §2.2's quota bytes.

mod creation;
mod errors;
mod form;
mod units;

pub use creation::{CreationVector, Creator};
pub use errors::ErrorVector;
pub use form::{FormAnswer, FormCheck, FormVector, LabelPart, SpecMenu};
pub use units::{MemoryLabel, UnitVector};

use regex::Regex;
use serde_json::{json, Map, Value};

use super::{code_spans, Spec};

/// lab-form.md as read from `../shared/spec` by [`LabFormSpec::load`].
pub struct LabFormSpec {
    spec: Spec,
}

/// A lab size as a vector writes it: quantities as configuration text.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecSize {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub request_cpu: String,
    pub request_memory: String,
}

impl SpecSize {
    fn even(name: &str, cpu: &str, memory: &str) -> SpecSize {
        SpecSize {
            name: name.to_owned(),
            cpu: cpu.to_owned(),
            memory: memory.to_owned(),
            request_cpu: cpu.to_owned(),
            request_memory: memory.to_owned(),
        }
    }
}

/// `sizes` as the items of a `lab.sizes` YAML list (each line begins with a newline and four
/// spaces, to follow `  sizes:`), quantities quoted so that they reach the parser as written.
pub fn sizes_yaml(sizes: &[SpecSize]) -> String {
    let mut yaml: String = sizes
        .iter()
        .map(|size| {
            format!(
                "\n    - size: {}\n      resources:\n        limits: {{cpu: {:?}, memory: {:?}}}\n        \
                 requests: {{cpu: {:?}, memory: {:?}}}",
                size.name, size.cpu, size.memory, size.request_cpu, size.request_memory
            )
        })
        .collect();
    yaml.push('\n');
    yaml
}

/// A user's quota in a form vector.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecQuota {
    /// `none`: user information without a quota.
    None,
    /// `c / m`, with `spawn` when the vector sets it.
    Notebook {
        cpu: f64,
        memory_gib: f64,
        spawn: Option<bool>,
    },
    /// A `quota` object written out in JSON.
    Other(Value),
}

impl SpecQuota {
    /// Gafaelfawr's user information for `username` with this quota.
    pub fn user_info(&self, username: &str) -> Value {
        let mut info = Map::new();
        info.insert("username".into(), json!(username));
        match self {
            SpecQuota::None => {}
            SpecQuota::Notebook {
                cpu,
                memory_gib,
                spawn,
            } => {
                let mut notebook = json!({"cpu": cpu, "memory": memory_gib});
                if let Some(spawn) = spawn {
                    notebook["spawn"] = json!(spawn);
                }
                info.insert("quota".into(), json!({ "notebook": notebook }));
            }
            SpecQuota::Other(Value::Object(extra)) => info.extend(extra.clone()),
            SpecQuota::Other(other) => panic!("a quota that is not an object: {other}"),
        }
        Value::Object(info)
    }
}

impl LabFormSpec {
    pub fn load() -> LabFormSpec {
        LabFormSpec {
            spec: Spec::load("lab-form.md"),
        }
    }

    /// §3.2: the size names, in order.
    pub fn size_names(&self) -> Vec<String> {
        let mut names = code_spans(self.spec.section("### 3.2"));
        let mut seen = std::collections::HashSet::new();
        names.retain(|name| seen.insert(name.clone()));
        assert!(names.len() >= 9, "§3.2 lists the size names: {names:?}");
        names
    }

    /// §6: **STD**, the standard sizes.
    pub fn std_sizes(&self) -> Vec<SpecSize> {
        let text = self.spec.paragraph("## 6.", "Sizes used below:");
        let list = between(&text, "**STD** =", ", in that order");
        self.parse_sizes(list, &[])
    }

    /// §6: the reference of menu M0's one image.
    pub fn m0_reference(&self) -> String {
        let text = self.spec.paragraph("## 6.", "Sizes used below:");
        let menu = between(&text, "Menu **M0**", "dropdown");
        code_spans(menu)
            .into_iter()
            .next()
            .expect("M0's image reference")
    }

    /// Sizes of a vector: `small (1, `4G`), medium (…)` or names of STD sizes.
    fn parse_sizes(&self, text: &str, std: &[SpecSize]) -> Vec<SpecSize> {
        let names = self.size_names().join("|");
        let entry = Regex::new(&format!(r"`?\b({names})\b`?(?:\s*\(([^)]*)\))?")).expect("a regex");
        let sizes: Vec<SpecSize> = entry
            .captures_iter(text)
            .map(|c| match c.get(2) {
                Some(quantities) => {
                    let (limits, requests) = match quantities.as_str().split_once(';') {
                        Some((limits, requests)) => (limits, Some(requests.replace("req", ""))),
                        None => (quantities.as_str(), None),
                    };
                    let (cpu, memory) = pair(limits);
                    let mut size = SpecSize::even(&c[1], &cpu, &memory);
                    if let Some(requests) = requests {
                        (size.request_cpu, size.request_memory) = pair(&requests);
                    }
                    size
                }
                None => std
                    .iter()
                    .find(|size| size.name == c[1])
                    .unwrap_or_else(|| panic!("{} is not a STD size", &c[1]))
                    .clone(),
            })
            .collect();
        assert!(!sizes.is_empty(), "no sizes in {text:?}");
        sizes
    }
}

/// The text between `start` and the following `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let rest = text
        .split_once(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text:?}"))
        .1;
    rest.split_once(end).map_or(rest, |(inside, _)| inside)
}

/// `1, `4G`` → `("1", "4G")`.
fn pair(text: &str) -> (String, String) {
    let (a, b) = text.split_once(',').expect("two quantities");
    let clean = |s: &str| s.trim().trim_matches('`').to_owned();
    (clean(a), clean(b))
}

/// `text` split at `separator` where it is not inside a code span.
fn split_outside_code(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut in_code = false;
    for c in text.chars() {
        if c == '`' {
            in_code = !in_code;
        }
        if c == separator && !in_code {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("a part").push(c);
        }
    }
    parts
}

fn parse_quota(text: &str) -> SpecQuota {
    if text == "none" {
        return SpecQuota::None;
    }
    if let Some(json) = code_spans(text).first().filter(|s| s.starts_with('{')) {
        let value: Value = serde_json::from_str(json).expect("a JSON quota");
        return SpecQuota::Other(value);
    }
    let quota = Regex::new(r"^([\d.]+) / ([\d.]+)").expect("a regex");
    let c = quota
        .captures(text)
        .unwrap_or_else(|| panic!("not a quota: {text:?}"));
    let spawn = code_spans(text)
        .iter()
        .find_map(|s| s.strip_prefix("spawn:").map(|v| v == "true"));
    SpecQuota::Notebook {
        cpu: c[1].parse().expect("cpu"),
        memory_gib: c[2].parse().expect("memory"),
        spawn,
    }
}
