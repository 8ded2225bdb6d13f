//! PATCH bodies: JSON merge patch (RFC 7386), used for merge, strategic-merge and apply
//! patches alike, and JSON patch (RFC 6902) for the `add`/`remove`/`replace`/`test` ops.
//!
//! Strategic merge differs from merge only for lists with merge keys, which none of the
//! fields rsp-images patches (lease spec, labels, annotations, node taints) have, so one
//! implementation serves both and keeps the fake small. `spec.taints` in particular is
//! `+listType=atomic` (core/v1 `NodeSpec`), so a merge or strategic-merge patch replaces the
//! whole list, as here.
//!
//! A JSON patch applies its operations in order and fails as a whole: a `test` that does not
//! match, or a path that does not exist, is 422 (the API server wraps the jsonpatch library's
//! error as `StatusUnprocessableEntity`, `apiserver/pkg/endpoints/handlers/patch.go`,
//! `applyJSPatch`); a patched object whose `metadata.resourceVersion` is not the stored one
//! is 409 Conflict, as any update (`store.rs`, `replace`).
//! <https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>

use serde_json::Value;

use super::status::ApiError;

/// The patch formats kube-rs can send, by their `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    /// Server-side apply: merges, and creates the object when it does not exist.
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Result<PatchKind, ApiError> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                Ok(PatchKind::Merge)
            }
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            other => Err(ApiError::new(
                415,
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {other:?}"),
            )),
        }
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(obj) = target {
        for (k, v) in fields {
            if v.is_null() {
                obj.remove(k);
            } else {
                merge(obj.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Splits a JSON pointer into its unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, ApiError> {
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| ApiError::bad_request(format!("invalid JSON pointer {pointer:?}")))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// RFC 6902 with the operations clients use on metadata and specs.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::new(422, m);
    for op in ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array"))?
    {
        let path = op["path"].as_str().unwrap_or_default();
        let mut toks = tokens(path)?;
        let last = toks.pop().unwrap_or_default();
        let parent = toks
            .iter()
            .try_fold(&mut *target, |v, t| match v {
                Value::Object(m) => m.get_mut(t),
                Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            })
            .ok_or_else(|| bad(format!("path {path:?} does not exist")))?;
        match (op["op"].as_str(), parent) {
            (Some("test"), p) => {
                let here = match p {
                    Value::Object(m) => m.get(&last),
                    Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                if here != Some(&op["value"]) {
                    return Err(bad(format!("test failed at {path:?}")));
                }
            }
            (Some("add" | "replace"), Value::Object(m)) => {
                m.insert(last, op["value"].clone());
            }
            (Some("add"), Value::Array(a)) if last == "-" => a.push(op["value"].clone()),
            (Some(kind @ ("add" | "replace")), Value::Array(a)) => {
                let i = last.parse::<usize>().ok().filter(|i| *i <= a.len());
                match (kind, i) {
                    ("add", Some(i)) => a.insert(i, op["value"].clone()),
                    ("replace", Some(i)) if i < a.len() => a[i] = op["value"].clone(),
                    _ => return Err(bad(format!("bad index in {path:?}"))),
                }
            }
            (Some("remove"), Value::Object(m)) => {
                m.remove(&last)
                    .ok_or_else(|| bad(format!("path {path:?} does not exist")))?;
            }
            (Some("remove"), Value::Array(a)) => {
                match last.parse::<usize>().ok().filter(|i| *i < a.len()) {
                    Some(i) => {
                        a.remove(i);
                    }
                    None => return Err(bad(format!("bad index in {path:?}"))),
                }
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "unsupported JSON patch operation {other:?} at {path:?}"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut v = json!({"spec": {"holderIdentity": "a", "list": [1, 2]}});
        let ops = json!([
            {"op": "test", "path": "/spec/holderIdentity", "value": "a"},
            {"op": "replace", "path": "/spec/holderIdentity", "value": "b"},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "remove", "path": "/spec/list/0"},
        ]);
        json_patch(&mut v, &ops).unwrap();
        assert_eq!(v, json!({"spec": {"holderIdentity": "b", "list": [2, 3]}}));
        let failing = json!([{"op": "test", "path": "/spec/holderIdentity", "value": "x"}]);
        assert_eq!(json_patch(&mut v, &failing).unwrap_err().code, 422);
    }

    #[test]
    fn a_taint_is_removed_only_where_the_test_finds_it() {
        let node = json!({"spec": {"taints": [
            {"key": "gpu", "effect": "NoSchedule"},
            {"key": "cold", "effect": "NoSchedule"},
        ]}});
        let remove_at = |index: usize| {
            json!([
                {"op": "test", "path": format!("/spec/taints/{index}/key"), "value": "cold"},
                {"op": "remove", "path": format!("/spec/taints/{index}")},
            ])
        };
        // The first entry is not ours: the whole patch fails, nothing is removed.
        let mut patched = node.clone();
        assert_eq!(
            json_patch(&mut patched, &remove_at(0)).unwrap_err().code,
            422
        );
        // Past the end of the list (the taint went meanwhile): 422 as well.
        assert_eq!(
            json_patch(&mut patched, &remove_at(2)).unwrap_err().code,
            422
        );
        let mut patched = node.clone();
        json_patch(&mut patched, &remove_at(1)).unwrap();
        assert_eq!(
            patched,
            json!({"spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}})
        );
        // A merge patch replaces the atomic list whole.
        let mut merged = node;
        merge(
            &mut merged,
            &json!({"spec": {"taints": [{"key": "new", "effect": "NoExecute"}]}}),
        );
        assert_eq!(
            merged,
            json!({"spec": {"taints": [{"key": "new", "effect": "NoExecute"}]}})
        );
    }
}
