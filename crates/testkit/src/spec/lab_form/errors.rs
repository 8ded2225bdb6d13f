//! §6.2's error vectors and the bodies of §1.4 they are answered with.

use regex::Regex;

use super::{LabFormSpec, SpecQuota};
use crate::spec::{code_spans, table_rows, unwrap};

/// One of §6.2's error vectors: `E7`, what is done, what the original answers.
#[derive(Debug, Clone)]
pub struct ErrorVector {
    pub id: String,
    pub case: String,
    pub answer: String,
}

impl ErrorVector {
    /// The status Gafaelfawr answers in this case (`Gafaelfawr 404`), if it names one.
    pub fn gafaelfawr_status(&self) -> Option<u16> {
        Regex::new(r"Gafaelfawr (\d{3})")
            .expect("a regex")
            .captures(&self.case)
            .and_then(|c| c[1].parse().ok())
    }

    /// The first status of the answer (`→ 422 (…)`).
    pub fn status(&self) -> Option<u16> {
        Regex::new(r"\b(\d{3})\b")
            .expect("a regex")
            .captures(&self.answer)
            .and_then(|c| c[1].parse().ok())
    }
}

impl LabFormSpec {
    /// §6.2, every error vector.
    pub fn error_vectors(&self) -> Vec<ErrorVector> {
        let text = unwrap(self.spec.section("### 6.2"));
        let start = Regex::new(r"\bE(\d+) ").expect("a regex");
        let starts: Vec<usize> = start.find_iter(&text).map(|m| m.start()).collect();
        let vectors: Vec<ErrorVector> = starts
            .iter()
            .enumerate()
            .map(|(i, &at)| {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                let entry = text[at..end].trim().trim_end_matches('.');
                let (id, rest) = entry.split_once(' ').expect("an id");
                let (case, answer) = rest.split_once('→').expect("an arrow");
                ErrorVector {
                    id: id.to_owned(),
                    case: case.trim().to_owned(),
                    answer: answer.trim().to_owned(),
                }
            })
            .collect();
        assert!(vectors.len() >= 21, "§6.2 has 21 error vectors");
        vectors
    }

    /// §6.2's user: "quota c/m" in its heading.
    pub fn error_vector_quota(&self) -> SpecQuota {
        let heading = self.spec.heading("### 6.2");
        let quota = Regex::new(r"quota ([\d.]+)/([\d.]+)").expect("a regex");
        let c = quota
            .captures(heading)
            .unwrap_or_else(|| panic!("no quota in {heading:?}"));
        SpecQuota::Notebook {
            cpu: c[1].parse().expect("cpu"),
            memory_gib: c[2].parse().expect("memory"),
            spawn: None,
        }
    }

    /// §1.4: the status and body of the row whose case begins with `case`; rows that say
    /// `plain text` give that text.
    pub fn error_body(&self, case: &str) -> (u16, String) {
        let row = table_rows(self.spec.section("### 1.4"))
            .into_iter()
            .find(|row| row[0].starts_with(case))
            .unwrap_or_else(|| panic!("§1.4 has no case {case:?}"));
        let status = row[1].parse().expect("a status");
        let body = code_spans(&row[2])
            .into_iter()
            .next()
            .unwrap_or_else(|| row[2].clone());
        (status, body)
    }
}
