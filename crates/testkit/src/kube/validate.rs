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

use rsp_model::validation;

use super::kind::Kind;
use super::status::ApiError;
use super::store::meta_str;

/// DNS-1123 subdomain, the rule for the names of nodes, pods and leases.
pub fn name(name: &str) -> bool {
    validation::dns1123_subdomain_errors(name).is_empty()
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

/// A pod as the API server validates it on create (`ValidatePodCreate` in kubernetes
/// `pkg/apis/core/validation/validation.go`), for the fields rsp-images sets: at least one
/// container, each with a name and an image; labels; the node selector; tolerations. Every
/// problem is reported, in one 422 naming the pod, as the API aggregates them.
pub fn pod(pod: &Value) -> Result<(), ApiError> {
    let mut errors: Vec<String> = Vec::new();
    let labels = string_map(&pod["metadata"]["labels"]);
    errors.extend(
        validation::label_errors("metadata.labels", labels.iter().map(|(k, v)| (*k, *v)))
            .iter()
            .map(ToString::to_string),
    );
    let containers = pod["spec"]["containers"].as_array();
    if containers.is_none_or(Vec::is_empty) {
        errors.push("spec.containers: Required value".to_owned());
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        for field in ["name", "image"] {
            if c[field].as_str().is_none_or(str::is_empty) {
                errors.push(format!("spec.containers[{i}].{field}: Required value"));
            }
        }
    }
    let selector = string_map(&pod["spec"]["nodeSelector"]);
    errors.extend(
        validation::label_errors("spec.nodeSelector", selector.iter().map(|(k, v)| (*k, *v)))
            .iter()
            .map(ToString::to_string),
    );
    for (i, toleration) in pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let text = |field: &str| toleration[field].as_str().unwrap_or_default();
        let fields = validation::TolerationFields {
            key: text("key"),
            operator: text("operator"),
            value: text("value"),
            effect: text("effect"),
            toleration_seconds: toleration["tolerationSeconds"].as_i64(),
        };
        errors.extend(
            validation::toleration_errors(&format!("spec.tolerations[{i}]"), &fields)
                .iter()
                .map(ToString::to_string),
        );
    }
    if !errors.is_empty() {
        return Err(invalid("Pod", &meta_str(pod, "name"), &errors));
    }
    typed(Kind::Pod, pod)
}

/// The API's 422 for an object with field errors: `Kind "name" is invalid: error` for one
/// error, `[error, error]` for several (apimachinery `NewInvalid`).
pub fn invalid(kind: &str, name: &str, errors: &[String]) -> ApiError {
    let detail = match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    ApiError::invalid(format!("{kind} {name:?} is invalid: {detail}"))
}

/// A JSON object of strings as (key, value) pairs; other values read as empty strings.
fn string_map(value: &Value) -> Vec<(&str, &str)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect()
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
        Err(invalid(
            "Pod",
            &meta_str(new, "name"),
            &[
                "spec: Forbidden: pod updates may not change fields other than \
               `spec.containers[*].image`, `spec.initContainers[*].image`, \
               `spec.activeDeadlineSeconds` or `spec.tolerations` (only additions to existing \
               tolerations)"
                    .to_owned(),
            ],
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
        let mut timed = ok.clone();
        timed["spec"]["tolerations"] = json!([{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
                    "tolerationSeconds": 60}]);
        assert_eq!(
            pod(&timed).unwrap_err().message,
            "Pod \"p\" is invalid: spec.tolerations[0].effect: Invalid value: \"NoSchedule\": \
             effect must be 'NoExecute' when `tolerationSeconds` is set"
        );
        let mut labelled = ok.clone();
        labelled["metadata"]["labels"] = json!({"bad key": "x", "ok": "-bad"});
        let message = pod(&labelled).unwrap_err().message;
        assert!(
            message.starts_with(
                "Pod \"p\" is invalid: [metadata.labels.bad key: Invalid value: \"bad key\""
            ),
            "{message}"
        );
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
