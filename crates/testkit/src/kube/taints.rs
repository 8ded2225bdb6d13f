//! The taint manager: pods on a node with a `NoExecute` taint they do not tolerate are
//! evicted (deleted gracefully, see `termination.rs`), at once or after their
//! `tolerationSeconds`, as in a real cluster.
//!
//! Binding a pod with `spec.nodeName` bypasses the scheduler and so `NoSchedule` taints,
//! but not this; it runs when a bound pod is created and whenever a node changes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::cluster::{uid_of, Inner};
use super::kind::Kind;
use super::store::meta_str;

/// Kubernetes' toleration rule (behaviour.md §7.3 without the eligibility twists).
pub fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect_ok = tol["effect"]
        .as_str()
        .is_none_or(|e| e.is_empty() || Some(e) == taint["effect"].as_str());
    let key = tol["key"].as_str().unwrap_or_default();
    let key_ok = Some(key) == taint["key"].as_str();
    effect_ok
        && match tol["operator"].as_str().unwrap_or("Equal") {
            "Exists" => key.is_empty() || key_ok,
            _ => {
                key_ok
                    && tol["value"].as_str().unwrap_or_default()
                        == taint["value"].as_str().unwrap_or_default()
            }
        }
}

/// How long `pod` may stay on a node with `taints`: `None` for ever, else the time left.
fn allowed_stay(pod: &Value, taints: &[Value]) -> Option<Duration> {
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut stay: Option<Duration> = None;
    for taint in taints.iter().filter(|t| t["effect"] == "NoExecute") {
        let matching: Vec<&Value> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        // Any toleration without a time limit tolerates the taint for ever.
        let limits: Option<Vec<i64>> = matching
            .iter()
            .map(|t| t["tolerationSeconds"].as_i64())
            .collect();
        if let Some(secs) = limits.and_then(|l| l.into_iter().min()) {
            let d = Duration::from_secs(secs.max(0).unsigned_abs());
            stay = Some(stay.map_or(d, |s| s.min(d)));
        }
    }
    stay
}

/// Evicts (or schedules the eviction of) the pods on `node` that do not tolerate its
/// `NoExecute` taints.
pub fn evict(inner: &Arc<Inner>, node: &str) {
    let doomed: Vec<(String, String, String, Duration)> = {
        let st = inner.lock();
        let taints = st
            .store
            .get(Kind::Node, "", node)
            .and_then(|n| n["spec"]["taints"].as_array().cloned())
            .unwrap_or_default();
        if taints.is_empty() {
            return;
        }
        st.store
            .iter(Kind::Pod, None)
            .filter(|p| p["spec"]["nodeName"].as_str() == Some(node))
            .filter_map(|p| {
                let stay = allowed_stay(p, &taints)?;
                Some((
                    meta_str(p, "namespace"),
                    meta_str(p, "name"),
                    uid_of(p),
                    stay,
                ))
            })
            .collect()
    };
    for (ns, name, uid, stay) in doomed {
        if stay.is_zero() {
            inner.evict_pod(&ns, &name, Some(&uid));
            continue;
        }
        let (inner, node) = (inner.clone(), node.to_string());
        inner.clone().runtime.spawn(async move {
            tokio::time::sleep(stay).await;
            // Still there, still the same pod, and the taint still not tolerated for ever.
            let still = {
                let st = inner.lock();
                let pod = st
                    .store
                    .get(Kind::Pod, &ns, &name)
                    .filter(|p| uid_of(p) == uid);
                let taints = st
                    .store
                    .get(Kind::Node, "", &node)
                    .and_then(|n| n["spec"]["taints"].as_array().cloned())
                    .unwrap_or_default();
                pod.is_some_and(|p| allowed_stay(p, &taints).is_some())
            };
            if still {
                inner.evict_pod(&ns, &name, Some(&uid));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stays() {
        let taints = vec![json!({"key": "k", "value": "v", "effect": "NoExecute"})];
        let pod = |tols: Value| json!({"spec": {"tolerations": tols}});
        assert_eq!(allowed_stay(&pod(json!([])), &taints), Some(Duration::ZERO));
        let exists = json!([{"key": "k", "operator": "Exists"}]);
        assert_eq!(allowed_stay(&pod(exists), &taints), None);
        let wrong_value = json!([{"key": "k", "value": "w"}]);
        assert_eq!(
            allowed_stay(&pod(wrong_value), &taints),
            Some(Duration::ZERO)
        );
        let timed = json!([{"key": "k", "value": "v", "tolerationSeconds": 5}]);
        assert_eq!(
            allowed_stay(&pod(timed), &taints),
            Some(Duration::from_secs(5))
        );
        let no_schedule = vec![json!({"key": "k", "effect": "NoSchedule"})];
        assert_eq!(allowed_stay(&pod(json!([])), &no_schedule), None);
    }
}
