//! The garbage collector's handling of `metadata.ownerReferences`, for pods.
//!
//! As <https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/>
//! states it: a dependent whose owners are all absent is deleted, and "a namespaced owner
//! must exist in the same namespace as the dependent. If it does not, the owner reference is
//! treated as absent, and the dependent is subject to deletion once all owners are verified
//! absent". An owner is present only when an object of its kind with its name *and uid*
//! exists (a new object of the same name is another owner). The collector works in the
//! background, a moment after the change that orphaned a dependent, and deletes with the
//! default (background) propagation, which for a pod is a graceful delete.
//!
//! Owners of kinds the fake does not serve cannot be looked up and count as present, as the
//! real collector keeps dependents whose owner's resource it cannot resolve.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::cluster::{uid_of, Inner};
use super::kind::Kind;
use super::store::{meta_str, Store};

/// How long after a change the collector acts (it works from its own informers, not inline).
const DELAY: Duration = Duration::from_millis(30);

/// Whether an owner reference of a dependent in `namespace` points to an existing object.
fn owner_present(store: &Store, namespace: &str, owner: &Value) -> bool {
    let api_version = owner["apiVersion"].as_str().unwrap_or_default();
    let kind = Kind::ALL.into_iter().find(|kind| {
        owner["kind"].as_str() == Some(kind.name()) && api_version == kind.api_version()
    });
    let Some(kind) = kind else {
        return true;
    };
    let name = owner["name"].as_str().unwrap_or_default();
    let uid = owner["uid"].as_str().unwrap_or_default();
    let namespace = if kind.namespaced() { namespace } else { "" };
    store
        .get(kind, namespace, name)
        .is_some_and(|object| uid_of(object) == uid)
}

/// Pods whose owners are all absent: (namespace, name, uid).
fn orphans(store: &Store) -> Vec<(String, String, String)> {
    store
        .iter(Kind::Pod, None)
        .filter(|pod| {
            let namespace = meta_str(pod, "namespace");
            pod["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| {
                    !owners.is_empty()
                        && owners
                            .iter()
                            .all(|owner| !owner_present(store, &namespace, owner))
                })
        })
        .map(|pod| {
            (
                meta_str(pod, "namespace"),
                meta_str(pod, "name"),
                uid_of(pod),
            )
        })
        .collect()
}

/// Whether any pod has owners at all (most tests have none: no collection to schedule).
fn has_dependents(store: &Store) -> bool {
    store
        .iter(Kind::Pod, None)
        .any(|pod| pod["metadata"]["ownerReferences"].is_array())
}

/// Runs the collector a moment from now, if any pod has owners.
pub fn schedule(inner: &Arc<Inner>) {
    if !has_dependents(&inner.lock().store) {
        return;
    }
    let inner = inner.clone();
    inner.clone().runtime.spawn(async move {
        tokio::time::sleep(DELAY).await;
        let doomed = orphans(&inner.lock().store);
        for (namespace, name, uid) in doomed {
            // Only that pod (a new one of the same name may have other owners); one already
            // gone or replaced is nothing to collect.
            inner.evict_pod(&namespace, &name, Some(&uid));
        }
    });
}
