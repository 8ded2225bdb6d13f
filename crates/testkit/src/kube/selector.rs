//! Label and field selectors, parsed once per request and applied to JSON objects.
//!
//! Label selectors accept the full syntax of `kubectl`/kube-rs (`a=b`, `a==b`, `a!=b`, `a`,
//! `!a`, `a in (x,y)`, `a notin (x,y)`); field selectors accept `=`, `==` and `!=` on the
//! fields the real API supports for each kind and reject others with 400, as the API does.

use serde_json::Value;

use super::kind::Kind;
use super::status::ApiError;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// One field requirement: a dotted path, an expected value, and whether it must equal it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldReq {
    path: &'static str,
    value: String,
    equal: bool,
}

/// The selectors of one list or watch request; empty selectors match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<FieldReq>,
}

impl Selector {
    /// Parses the `labelSelector` and `fieldSelector` query values for `kind`.
    pub fn parse(kind: Kind, labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        Ok(Selector {
            labels: labels.map(parse_labels).transpose()?.unwrap_or_default(),
            fields: fields
                .map(|f| parse_fields(kind, f))
                .transpose()?
                .unwrap_or_default(),
        })
    }

    /// Whether `obj` satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => label(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
        });
        labels_ok
            && self
                .fields
                .iter()
                .all(|req| (field_value(obj, req.path) == req.value) == req.equal)
    }
}

/// The string form of a selectable field; absent fields read as "" (as in the API server).
fn field_value(obj: &Value, path: &str) -> String {
    let found = path.split('.').try_fold(obj, |v, part| v.get(part));
    match found {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        // The API server treats an unset `spec.unschedulable` as false.
        None if path == "spec.unschedulable" => "false".to_string(),
        _ => String::new(),
    }
}

fn supported_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Node => &["metadata.name", "spec.unschedulable"],
        Kind::Pod => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Kind::Lease => &["metadata.name", "metadata.namespace"],
    }
}

fn parse_fields(kind: Kind, text: &str) -> Result<Vec<FieldReq>, ApiError> {
    split_top_level(text)
        .into_iter()
        .filter(|term| !term.trim().is_empty())
        .map(|term| {
            let (key, value, equal) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: invalid selector: '{term}'; can't understand '{term}'"
                )));
            };
            let key = key.trim();
            let path = supported_fields(kind)
                .iter()
                .find(|f| **f == key)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("field label not supported: {key}"))
                })?;
            Ok(FieldReq {
                path,
                value: value.trim().to_string(),
                equal,
            })
        })
        .collect()
}

/// Splits on commas that are not inside `( … )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_labels(text: &str) -> Result<Vec<LabelReq>, ApiError> {
    let bad = |term: &str| {
        ApiError::bad_request(format!(
            "unable to parse requirement: invalid label selector: '{term}'"
        ))
    };
    let mut reqs = Vec::new();
    for raw in split_top_level(text) {
        let term = raw.trim();
        if term.is_empty() {
            continue;
        }
        let req = if let Some((k, v)) = term.split_once("!=") {
            LabelReq::NotEq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==") {
            LabelReq::Eq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once('=') {
            LabelReq::Eq(k.trim().into(), v.trim().into())
        } else if let Some(k) = term.strip_prefix('!') {
            LabelReq::NotExists(k.trim().into())
        } else if let Some((k, set)) = split_set(term, " notin ") {
            LabelReq::NotIn(k, set.ok_or_else(|| bad(term))?)
        } else if let Some((k, set)) = split_set(term, " in ") {
            LabelReq::In(k, set.ok_or_else(|| bad(term))?)
        } else {
            LabelReq::Exists(term.into())
        };
        let key = match &req {
            LabelReq::Eq(k, _)
            | LabelReq::NotEq(k, _)
            | LabelReq::In(k, _)
            | LabelReq::NotIn(k, _)
            | LabelReq::Exists(k)
            | LabelReq::NotExists(k) => k,
        };
        if !valid_label_key(key) {
            return Err(bad(term));
        }
        reqs.push(req);
    }
    Ok(reqs)
}

/// Splits `key op (a,b)`; the inner option is `None` when the parenthesised set is malformed.
fn split_set(term: &str, op: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = term.split_once(op)?;
    let set = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .map(|inner| inner.split(',').map(|v| v.trim().to_string()).collect());
    Some((key.trim().to_string(), set))
}

fn valid_label_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value, node: &str) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}, "spec": {"nodeName": node}})
    }

    #[test]
    fn label_forms() {
        let obj = pod(json!({"a": "b", "c": "d"}), "n1");
        let ok = |s: &str| {
            Selector::parse(Kind::Pod, Some(s), None)
                .unwrap()
                .matches(&obj)
        };
        assert!(ok("a=b,c=d"));
        assert!(ok("a==b"));
        assert!(!ok("a!=b"));
        assert!(ok("a"));
        assert!(!ok("!a"));
        assert!(ok("a in (x, b)"));
        assert!(!ok("a notin (x,b)"));
        assert!(ok("z!=y"));
        assert!(Selector::parse(Kind::Pod, Some("a in x"), None).is_err());
    }

    #[test]
    fn field_forms() {
        let obj = pod(json!({}), "n1");
        let ok = |s: &str| {
            Selector::parse(Kind::Pod, None, Some(s))
                .unwrap()
                .matches(&obj)
        };
        assert!(ok("spec.nodeName=n1,metadata.name=p"));
        assert!(!ok("spec.nodeName!=n1"));
        let err = Selector::parse(Kind::Pod, None, Some("spec.foo=1")).unwrap_err();
        assert_eq!(err.code, 400);
    }
}
