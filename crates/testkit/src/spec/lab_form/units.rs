//! Quantities: §6.4's unit vectors, §3.5's label examples and memory table, and §2.2's
//! quota bytes.

use regex::Regex;

use super::{between, LabFormSpec};
use crate::spec::{code_spans, number, table_rows, SUPERSCRIPTS};

/// A unit vector: the text and its value, `None` for an error.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitVector {
    pub text: String,
    pub value: Option<f64>,
}

/// A row of §3.5's memory table: what is configured (`None` for a number written as a
/// power), its bytes and their text in a label.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryLabel {
    pub configured: Option<String>,
    pub bytes: f64,
    pub shown: String,
}

impl LabFormSpec {
    /// §6.4's memory vectors.
    pub fn memory_units(&self) -> Vec<UnitVector> {
        let text = self.spec.paragraph("### 6.4", "Memory (3.4):");
        units(between(&text, "Memory (3.4):", "CPU (3.3):"))
    }

    /// §6.4's CPU vectors.
    pub fn cpu_units(&self) -> Vec<UnitVector> {
        let text = self.spec.paragraph("### 6.4", "Memory (3.4):");
        units(text.split_once("CPU (3.3):").expect("CPU vectors").1)
    }

    /// §3.5's examples of a CPU limit in a label: `(value, text)`.
    pub fn cpu_labels(&self) -> Vec<(f64, String)> {
        let text = self
            .spec
            .paragraph("### 3.5", "`{cpu}` (Python float repr)");
        let example = Regex::new(r"([-+\d.e]+)→`([^`]+)`").expect("a regex");
        let examples: Vec<(f64, String)> = example
            .captures_iter(&text)
            .map(|c| (c[1].parse().expect("a number"), c[2].to_owned()))
            .collect();
        assert!(examples.len() >= 5, "§3.5's CPU examples: {text}");
        examples
    }

    /// §3.5's table of memory limits in labels.
    pub fn memory_labels(&self) -> Vec<MemoryLabel> {
        let mut labels = Vec::new();
        for row in table_rows(self.spec.section("### 3.5")) {
            let [configured, bytes, shown] = <[String; 3]>::try_from(row).expect("three columns");
            let configured: Vec<&str> = configured.split(" / ").collect();
            let bytes: Vec<&str> = bytes.split(" / ").collect();
            let shown = code_spans(&shown);
            assert_eq!(configured.len(), bytes.len(), "{configured:?}");
            for (i, configured) in configured.iter().enumerate() {
                let configured = configured.trim().trim_matches('`');
                let power = configured.chars().any(|c| SUPERSCRIPTS.contains(c));
                labels.push(MemoryLabel {
                    configured: (!power).then(|| configured.to_owned()),
                    bytes: number(bytes[i]).expect("bytes"),
                    shown: shown[i].clone(),
                });
            }
        }
        assert!(labels.len() >= 15, "§3.5's memory table: {labels:?}");
        labels
    }

    /// §2.2: quota memory in GiB and the bytes compared with limits.
    pub fn quota_bytes(&self) -> Vec<(f64, f64)> {
        let text = self.spec.paragraph("### 2.2", "Unknown keys are ignored");
        let text = between(&text, "to an integer:", ". The original");
        let example = Regex::new(r"([\d.]+) → (\d+)").expect("a regex");
        let examples: Vec<(f64, f64)> = example
            .captures_iter(text)
            .map(|c| (c[1].parse().expect("GiB"), c[2].parse().expect("bytes")))
            .collect();
        assert!(examples.len() >= 5, "§2.2's examples: {text}");
        examples
    }
}

/// `` `3Gi`→3221225472, `4G`/`4GB`→4000000000, `4GI`→error `` as vectors.
fn units(text: &str) -> Vec<UnitVector> {
    let item = Regex::new(r"((?:`[^`]*`\s*/\s*)*`[^`]*`)→\s*([^,\s]+)").expect("a regex");
    let mut vectors = Vec::new();
    for c in item.captures_iter(text) {
        let value = c[2].trim_end_matches('.');
        let value = (value != "error")
            .then(|| number(value).unwrap_or_else(|| panic!("not a value: {value:?}")));
        for text in code_spans(&c[1]) {
            vectors.push(UnitVector { text, value });
        }
    }
    assert!(vectors.len() >= 10, "unit vectors in {text:?}");
    vectors
}
