//! What the API server refuses to store: bad names, objects that do not parse as their
//! kind, pods without containers, and pod updates that touch immutable fields.
//!
//! Everything stored must deserialize into its `k8s_openapi` type, so that a malformed
//! request is a 4xx here instead of a deserialization error later in a watcher or in
//! `FakeCluster::pods()`.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::kind::Kind;
use super::status::ApiError;

/// DNS-1123 subdomain, the rule for the names of nodes, pods and leases.
pub fn name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| ok_char(c) || c == '-' || c == '.')
        && name.starts_with(ok_char)
        && name.ends_with(ok_char)
}

fn parses<T: DeserializeOwned>(kind: Kind, obj: &Value) -> Result<(), ApiError> {
    T::deserialize(obj)
        .map(drop)
        .map_err(|e| ApiError::invalid(format!("{} is invalid: {e}", kind.name())))
}

/// The object deserializes as its kind.
pub fn typed(kind: Kind, obj: &Value) -> Result<(), ApiError> {
    match kind {
        Kind::Node => parses::<Node>(kind, obj),
        Kind::Pod => parses::<Pod>(kind, obj),
        Kind::Lease => parses::<Lease>(kind, obj),
    }
}

/// A pod must have at least one container, each with a name and an image.
pub fn pod(pod: &Value) -> Result<(), ApiError> {
    let containers = pod["spec"]["containers"].as_array();
    if containers.is_none_or(Vec::is_empty) {
        return Err(ApiError::invalid(
            "Pod is invalid: spec.containers: Required value",
        ));
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        for field in ["name", "image"] {
            if c[field].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::invalid(format!(
                    "Pod is invalid: spec.containers[{i}].{field}: Required value"
                )));
            }
        }
    }
    typed(Kind::Pod, pod)
}

/// The spec without the fields a pod update may change.
fn frozen_spec(pod: &Value) -> Value {
    let mut spec = pod["spec"].clone();
    if let Some(m) = spec.as_object_mut() {
        m.remove("activeDeadlineSeconds");
        m.remove("tolerations");
        for list in ["containers", "initContainers"] {
            for c in m
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
    }
    spec
}

/// Pod specs are immutable except for images, the active deadline and tolerations.
pub fn pod_update(current: &Value, new: &Value) -> Result<(), ApiError> {
    if frozen_spec(current) == frozen_spec(new) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "Pod is invalid: spec: Forbidden: pod updates may not change fields other than \
             `spec.containers[*].image`, `spec.initContainers[*].image`, \
             `spec.activeDeadlineSeconds` or `spec.tolerations` (only additions to existing \
             tolerations)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(name("prepull-w-2077-43-node1"));
        assert!(!name("Prepull"));
        assert!(!name("-a"));
    }

    #[test]
    fn pods() {
        let ok = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        assert!(pod(&ok).is_ok());
        assert_eq!(pod(&json!({"spec": {}})).unwrap_err().code, 422);
        let mut renamed = ok.clone();
        renamed["spec"]["containers"][0]["image"] = json!("j");
        assert!(pod_update(&ok, &renamed).is_ok());
        renamed["spec"]["nodeName"] = json!("n");
        assert!(pod_update(&ok, &renamed).is_err());
        assert_eq!(
            typed(Kind::Pod, &json!({"spec": "x"})).unwrap_err().code,
            422
        );
    }
}
