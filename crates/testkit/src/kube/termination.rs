//! Graceful deletion of pods, as the API server and the kubelet do it together.
//!
//! - A delete of a bound, unfinished pod with a grace period does not remove it: the API
//!   server sets `deletionTimestamp` (now + grace) and `deletionGracePeriodSeconds`, and the
//!   pod stays, `Terminating`, with its name taken, until the kubelet of its node has stopped
//!   its containers and confirms by deleting it with grace 0. A kubelet that is gone or whose
//!   node is NotReady never confirms, so such a pod stays until the pod garbage collector
//!   force-deletes it (here: when its node is removed).
//! - Grace 0, an unbound pod or a finished pod (`Succeeded`/`Failed`) is removed at once
//!   (`CheckGracefulDelete` in kubernetes `pkg/registry/core/pod/strategy.go`).
//! - The grace period is the request's `gracePeriodSeconds`, else the pod's
//!   `terminationGracePeriodSeconds`, which defaults to 30; a later delete may shorten an
//!   ongoing one but never lengthen it (`BeforeDelete` in apiserver `pkg/registry/rest/delete.go`).
//! - Evictions (the eviction API, `kubectl drain`, the taint manager's `NoExecute` evictions)
//!   are graceful deletions with the pod's own grace period
//!   (<https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/>).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::{uid_of, DeleteOptions, Inner};
use super::kind::Kind;
use super::status::ApiError;
use super::store::now_rfc3339;

/// `terminationGracePeriodSeconds` when a pod does not set it (the API's default).
pub const DEFAULT_GRACE_SECONDS: i64 = 30;

/// Whether a pod is being deleted gracefully.
pub fn is_terminating(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_string()
}

/// The grace period a delete with `requested` gives `pod` (0: remove at once).
fn grace_seconds(pod: &Value, requested: Option<i64>) -> i64 {
    let finished = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    let unbound = pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    if finished || unbound {
        return 0;
    }
    requested
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(DEFAULT_GRACE_SECONDS)
        .max(0)
}

impl Inner {
    /// Deletes a pod as the API server does (see the module comment); answers the pod as
    /// the API does: the marked object while it terminates, its last state once removed.
    pub fn delete_pod(
        self: &Arc<Self>,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let marked = {
            let mut st = self.lock();
            let pod = st
                .store
                .get(Kind::Pod, ns, name)
                .ok_or_else(|| ApiError::not_found("pods", name))?;
            opts.check(pod, "pods", name)?;
            let grace = grace_seconds(pod, opts.grace_seconds);
            let ongoing = pod["metadata"]["deletionGracePeriodSeconds"].as_i64();
            if grace == 0 {
                drop(st);
                return self
                    .remove_pod(ns, name, None)
                    .ok_or_else(|| ApiError::not_found("pods", name));
            }
            if ongoing.is_some_and(|ongoing| ongoing <= grace) {
                return Ok(pod.clone());
            }
            let deadline = rfc3339_in(grace);
            st.store
                .modify(Kind::Pod, ns, name, |p| {
                    p["metadata"]["deletionTimestamp"] = json!(deadline);
                    p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                })
                .ok_or_else(|| ApiError::not_found("pods", name))?
        };
        let (inner, ns, name, uid) = (
            self.clone(),
            ns.to_owned(),
            name.to_owned(),
            uid_of(&marked),
        );
        self.runtime
            .spawn(async move { confirm(inner, ns, name, uid).await });
        Ok(marked)
    }

    /// Evicts a pod (a graceful delete with its own grace period), as the eviction API and
    /// the taint manager do; with `uid`, only that pod. `false` when there is no such pod.
    pub fn evict_pod(self: &Arc<Self>, ns: &str, name: &str, uid: Option<&str>) -> bool {
        let opts = DeleteOptions {
            precondition_uid: uid.map(str::to_owned),
            ..DeleteOptions::default()
        };
        self.delete_pod(ns, name, &opts).is_ok()
    }
}

/// Now plus `seconds`, as the API server writes `deletionTimestamp` (whole seconds, UTC).
fn rfc3339_in(seconds: i64) -> String {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    k8s_openapi::jiff::Timestamp::from_second(now.saturating_add(seconds))
        .map_or_else(|_| now_rfc3339(), |at| at.to_string())
}

/// The kubelet's side: once the pod's node is there and Ready, stop the containers (which
/// takes the configured kill time, at most the grace period), report them terminated and
/// remove the pod. Ends early when the pod is removed otherwise (a force delete, pod GC).
async fn confirm(inner: Arc<Inner>, ns: String, name: String, uid: String) {
    let alive = |inner: &Inner| {
        inner
            .lock()
            .store
            .get(Kind::Pod, &ns, &name)
            .filter(|p| uid_of(p) == uid)
            .cloned()
    };
    let Some(pod) = alive(&inner) else { return };
    let node = pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut changes = inner.nodes_changed.subscribe();
    while !super::kubelet::node_ready(&inner, &node) {
        if changes.changed().await.is_err() || alive(&inner).is_none() {
            return;
        }
    }
    let grace = pod["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .map_or(Duration::ZERO, |s| {
            Duration::from_secs(s.max(0).unsigned_abs())
        });
    let kill = inner.lock().kill_time.min(grace);
    tokio::time::sleep(kill).await;
    if alive(&inner).is_none() {
        return;
    }
    {
        let mut st = inner.lock();
        st.store.modify(Kind::Pod, &ns, &name, |p| {
            if uid_of(p) == uid {
                terminate_containers(p);
            }
        });
    }
    inner.remove_pod(&ns, &name, Some(&uid));
}

/// The status a killed pod reports: every container terminated (exit 137), phase `Failed`
/// unless it had already succeeded.
fn terminate_containers(pod: &mut Value) {
    let finished_at = now_rfc3339();
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for status in statuses {
            if status["state"]["terminated"].is_object() {
                continue;
            }
            status["ready"] = json!(false);
            status["state"] = json!({"terminated": {
                "exitCode": 137, "reason": "Error", "finishedAt": finished_at,
            }});
        }
    }
    if pod["status"]["phase"] != "Succeeded" {
        pod["status"]["phase"] = json!("Failed");
    }
}
