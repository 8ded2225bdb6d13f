//! The scheduler, for pods created without `spec.nodeName` (a lab, in the warm-node tests):
//! it binds a pending pod to the first node, in name order, that is Ready, not cordoned,
//! matches its `nodeSelector` and whose `NoSchedule` and `NoExecute` taints it all tolerates
//! (kube-scheduler's `NodeUnschedulable`, `NodeAffinity` and `TaintToleration` filters:
//! <https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/>). A pod
//! no node takes stays `Pending`, untouched, and is tried again whenever a node changes, as
//! the scheduler's queue does.
//!
//! Pods bound by `spec.nodeName` (prepull pods) bypass it, as in a real cluster: kubelet's
//! admission checks only `NoExecute` taints (`taints.rs`).

use std::sync::Arc;

use serde_json::{json, Value};

use super::cluster::{uid_of, Inner};
use super::kind::Kind;
use super::store::meta_str;
use super::taints::tolerates;

/// Whether `pod` may be scheduled onto `node`.
fn feasible(pod: &Value, node: &Value) -> bool {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let cordoned = node["spec"]["unschedulable"].as_bool().unwrap_or(false);
    let selected = pod["spec"]["nodeSelector"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(key, value)| node["metadata"]["labels"][key] == *value);
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tolerated = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|taint| taint["effect"] == "NoSchedule" || taint["effect"] == "NoExecute")
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)));
    ready && !cordoned && selected && tolerated
}

/// Binds every pending, unbound pod that some node takes.
pub fn schedule(inner: &Arc<Inner>) {
    let bound: Vec<(String, String, String, String)> = {
        let mut st = inner.lock();
        let pending: Vec<Value> = st
            .store
            .iter(Kind::Pod, None)
            .filter(|p| p["spec"]["nodeName"].as_str().is_none_or(str::is_empty))
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["status"]["phase"] == "Pending")
            .cloned()
            .collect();
        if pending.is_empty() {
            // Nothing to bind: every node change calls this, and copying 5,000 nodes under
            // the lock for nothing made each join cost milliseconds.
            return;
        }
        let nodes: Vec<Value> = st.store.iter(Kind::Node, None).cloned().collect();
        let mut bound = Vec::new();
        for pod in pending {
            let (ns, name) = (meta_str(&pod, "namespace"), meta_str(&pod, "name"));
            // A pod no node takes is left as it is (a real scheduler also records
            // PodScheduled=False; nothing here reads it).
            let Some(node) = nodes.iter().find(|node| feasible(&pod, node)) else {
                continue;
            };
            let node = meta_str(node, "name");
            st.store.modify(Kind::Pod, &ns, &name, |p| {
                p["spec"]["nodeName"] = json!(node);
                p["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "True"}]);
            });
            bound.push((ns, name, uid_of(&pod), node));
        }
        bound
    };
    for (ns, name, uid, node) in bound {
        super::taints::evict(inner, &node);
        super::kubelet::spawn(inner.clone(), ns, name, uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(taints: Value) -> Value {
        json!({
            "metadata": {"name": "n", "labels": {"pool": "lab"}},
            "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        })
    }

    #[test]
    fn no_schedule_taints_keep_pods_that_do_not_tolerate_them_away() {
        let cold = json!([{"key": "rsp/cold", "effect": "NoSchedule"}]);
        let lab = json!({"spec": {"nodeSelector": {"pool": "lab"}}});
        assert!(feasible(&lab, &node(json!([]))));
        assert!(!feasible(&lab, &node(cold.clone())));
        let tolerating =
            json!({"spec": {"tolerations": [{"key": "rsp/cold", "operator": "Exists"}]}});
        assert!(feasible(&tolerating, &node(cold)));
        let prefer = json!([{"key": "k", "effect": "PreferNoSchedule"}]);
        assert!(feasible(&lab, &node(prefer)));
        let elsewhere = json!({"spec": {"nodeSelector": {"pool": "other"}}});
        assert!(!feasible(&elsewhere, &node(json!([]))));
    }
}
