//! The API server's syntax rules for what rsp-images puts into a pod from its configuration:
//! names, label keys and values, and tolerations.
//!
//! A configuration the API server would refuse must be refused when it loads, naming the
//! key, rather than make every prepull pod fail with a 422 later. The rules and messages are
//! those of Kubernetes: `IsQualifiedName`, `IsValidLabelValue`, `IsDNS1123Subdomain` and
//! `IsDNS1123Label` in apimachinery `pkg/util/validation/validation.go`, and
//! `ValidateTolerations` in kubernetes `pkg/apis/core/validation/validation.go`; a
//! [`FieldError`] prints as the API's `field.Error` does.

use std::fmt;

const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const DNS1123_LABEL_MAX: usize = 63;

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
     characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
     alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
     characters or '-', and must start and end with an alphanumeric character";
const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

/// The taint effects a toleration may name.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
/// The toleration operators.
pub const TOLERATION_OPERATORS: [&str; 2] = ["Equal", "Exists"];

/// apimachinery's `RegexError`: the message, examples and the pattern.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`: the name part of a qualified name and a
/// non-empty label value.
fn is_alphanumeric_word(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns1123_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    ok(first) && ok(last) && bytes.iter().all(|b| ok(b) || *b == b'-')
}

/// Problems with a DNS-1123 subdomain (names of pods, nodes, secrets); empty when valid.
pub fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !value.split('.').all(is_dns1123_label) {
        errors.push(regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"]));
    }
    errors
}

/// Problems with a DNS-1123 label (namespace names); empty when valid.
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !is_dns1123_label(value) {
        errors.push(regex_error(LABEL_MSG, LABEL_FMT, &["my-name", "123-abc"]));
    }
    errors
}

/// Problems with a qualified name (label keys, toleration keys): an optional DNS subdomain
/// prefix and `/`, then a name part; empty when valid.
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]
        }
    };
    let mut errors = Vec::new();
    match prefix {
        Some("") => errors.push("prefix part must be non-empty".to_owned()),
        Some(prefix) => errors.extend(
            dns1123_subdomain_errors(prefix)
                .into_iter()
                .map(|e| format!("prefix part {e}")),
        ),
        None => {}
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errors.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX)));
    }
    if !name.is_empty() && !is_alphanumeric_word(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errors
}

/// Problems with a label value (also a toleration's value); empty when valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errors.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !is_alphanumeric_word(value) {
        errors.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// What is wrong with one field, as the API server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `spec.tolerations[0].effect`.
    pub field: String,
    pub kind: FieldErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Invalid value: "…": detail`.
    Invalid { value: String, detail: String },
    /// `Unsupported value: "…": supported values: "a", "b"`.
    NotSupported {
        value: String,
        supported: &'static [&'static str],
    },
}

impl FieldError {
    fn invalid(field: String, value: &str, detail: impl Into<String>) -> FieldError {
        FieldError {
            field,
            kind: FieldErrorKind::Invalid {
                value: value.to_owned(),
                detail: detail.into(),
            },
        }
    }

    /// The message without the field: what a configuration error says after naming its key.
    pub fn body(&self) -> String {
        match &self.kind {
            FieldErrorKind::Invalid { value, detail } => {
                format!("Invalid value: {value:?}: {detail}")
            }
            FieldErrorKind::NotSupported { value, supported } => {
                let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
                format!(
                    "Unsupported value: {value:?}: supported values: {}",
                    supported.join(", ")
                )
            }
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// The errors of a label map (`metadata.labels`, `spec.nodeSelector`) at `path`: keys are
/// qualified names, values label values. Each error names its key (`path.key`).
pub fn label_errors<'a>(
    path: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels {
        let field = format!("{path}.{key}");
        for detail in qualified_name_errors(key) {
            errors.push(FieldError::invalid(field.clone(), key, detail));
        }
        for detail in label_value_errors(value) {
            errors.push(FieldError::invalid(field.clone(), value, detail));
        }
    }
    errors
}

/// A toleration as the API sees it: absent strings are empty, as in Go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TolerationFields<'a> {
    pub key: &'a str,
    /// `Equal`, `Exists`, or empty (meaning `Equal`).
    pub operator: &'a str,
    pub value: &'a str,
    pub effect: &'a str,
    pub toleration_seconds: Option<i64>,
}

/// The errors of one toleration at `path` (e.g. `spec.tolerations[0]`), in the API server's
/// order.
pub fn toleration_errors(path: &str, toleration: &TolerationFields<'_>) -> Vec<FieldError> {
    let TolerationFields {
        key,
        operator,
        value,
        effect,
        toleration_seconds,
    } = *toleration;
    let mut errors = Vec::new();
    if !key.is_empty() {
        for detail in qualified_name_errors(key) {
            errors.push(FieldError::invalid(format!("{path}.key"), key, detail));
        }
    }
    if key.is_empty() && operator != "Exists" {
        errors.push(FieldError::invalid(
            format!("{path}.operator"),
            operator,
            "operator must be Exists when `key` is empty, which means \"match all values and \
             all keys\"",
        ));
    }
    if toleration_seconds.is_some() && effect != "NoExecute" {
        errors.push(toleration_seconds_error(path, effect));
    }
    match operator {
        "Equal" | "" => {
            let detail = label_value_errors(value).join(";");
            if !detail.is_empty() {
                errors.push(FieldError::invalid(
                    format!("{path}.operator"),
                    value,
                    detail,
                ));
            }
        }
        "Exists" if !value.is_empty() => errors.push(FieldError::invalid(
            format!("{path}.operator"),
            value,
            "value must be empty when `operator` is 'Exists'",
        )),
        "Exists" => {}
        other => errors.push(FieldError {
            field: format!("{path}.operator"),
            kind: FieldErrorKind::NotSupported {
                value: other.to_owned(),
                supported: &TOLERATION_OPERATORS,
            },
        }),
    }
    if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
        errors.push(FieldError {
            field: format!("{path}.effect"),
            kind: FieldErrorKind::NotSupported {
                value: effect.to_owned(),
                supported: &TAINT_EFFECTS,
            },
        });
    }
    errors
}

/// The API server's refusal of `tolerationSeconds` with an effect other than `NoExecute`.
pub fn toleration_seconds_error(path: &str, effect: &str) -> FieldError {
    FieldError::invalid(
        format!("{path}.effect"),
        effect,
        "effect must be 'NoExecute' when `tolerationSeconds` is set",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "k8s.io/arch",
            "nublado.lsst.io/lab-node",
            "A_b.c-D",
            "x/y",
        ] {
            assert!(qualified_name_errors(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            qualified_name_errors("bad key"),
            [
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must \
              start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
              '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            qualified_name_errors("/a"),
            ["prefix part must be non-empty"]
        );
        assert_eq!(qualified_name_errors("a/"), ["name part must be non-empty"]);
        assert!(qualified_name_errors("Example.com/a")[0].starts_with("prefix part a lowercase"));
        assert!(qualified_name_errors("a/b/c")[0].starts_with("a qualified name must"));
        assert_eq!(
            qualified_name_errors(&"a".repeat(64)),
            ["name part must be no more than 63 characters"]
        );
    }

    #[test]
    fn label_values() {
        for ok in ["", "true", "some-value", "a.b_c"] {
            assert!(label_value_errors(ok).is_empty(), "{ok}");
        }
        assert!(label_value_errors("-a")[0].starts_with("a valid label must be an empty string"));
        assert_eq!(label_value_errors(&"a".repeat(64)).len(), 1);
    }

    #[test]
    fn dns_names() {
        assert!(dns1123_label_errors("nublado").is_empty());
        assert!(!dns1123_label_errors("a.b").is_empty());
        assert!(dns1123_subdomain_errors("a.b-c").is_empty());
        assert!(!dns1123_subdomain_errors("A").is_empty());
    }

    #[test]
    fn tolerations_as_the_api_server_checks_them() {
        let check = |t: TolerationFields| -> Vec<String> {
            toleration_errors("spec.tolerations[0]", &t)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let ok = TolerationFields {
            key: "k",
            operator: "Equal",
            value: "v",
            effect: "NoSchedule",
            toleration_seconds: None,
        };
        assert!(check(ok).is_empty());
        let all = TolerationFields {
            operator: "Exists",
            ..TolerationFields::default()
        };
        assert!(check(all).is_empty());
        assert_eq!(
            check(TolerationFields {
                toleration_seconds: Some(60),
                ..ok
            }),
            [
                "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be \
              'NoExecute' when `tolerationSeconds` is set"
            ]
        );
        assert_eq!(
            check(TolerationFields { key: "", ..ok })[0],
            "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists \
             when `key` is empty, which means \"match all values and all keys\""
        );
        assert_eq!(
            check(TolerationFields {
                effect: "NoEvict",
                ..ok
            }),
            [
                "spec.tolerations[0].effect: Unsupported value: \"NoEvict\": supported values: \
              \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
            ]
        );
        assert_eq!(
            check(TolerationFields {
                operator: "Lt",
                ..ok
            })[0],
            "spec.tolerations[0].operator: Unsupported value: \"Lt\": supported values: \
             \"Equal\", \"Exists\""
        );
        assert!(check(TolerationFields {
            operator: "Exists",
            ..ok
        })[0]
            .contains("value must be empty when `operator` is 'Exists'"));
        assert!(check(TolerationFields {
            key: "bad key",
            ..ok
        })[0]
            .starts_with("spec.tolerations[0].key: Invalid value: \"bad key\": name part"));
    }

    #[test]
    fn label_maps_name_their_key() {
        let errors = label_errors("spec.nodeSelector", [("ok", "v"), ("bad key", "v!")]);
        assert_eq!(errors.len(), 2);
        assert!(errors
            .iter()
            .all(|e| e.field == "spec.nodeSelector.bad key"));
    }
}
