//! Fault injection and request accounting, consulted by the HTTP layer before any request
//! reaches the store.
//!
//! Rules are "fail the next N requests matching (verb, resource) with status S", consumed in
//! the order they were added; `*` matches any verb or resource. A global switch makes every
//! request answer 503, as an API server that is restarting does.

use std::collections::BTreeMap;
use std::time::Duration;

/// A pod coming into or going out of existence, for tests that check what was done and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodEvent {
    /// Time since the cluster started.
    pub at: Duration,
    pub kind: PodEventKind,
    pub namespace: String,
    pub name: String,
    /// `spec.nodeName`, empty when unbound.
    pub node: String,
    /// The first container's image.
    pub image: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodEventKind {
    Created,
    /// The pod was removed from the store (not just marked for deletion).
    Deleted,
}

/// Counters of what clients did to the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Requests received, by (verb, resource), including those answered with injected faults.
    /// Verbs: list, watch, get, create, update, patch, delete, deletecollection; resources:
    /// nodes, pods, leases, and `version` / `discovery` for the non-resource endpoints.
    pub requests: BTreeMap<(String, String), u64>,
    /// Pods that came into existence (through the API or `create_pod_directly`).
    pub pods_created: u64,
    /// Pods removed from the store (API deletion or pod garbage collection).
    pub pods_deleted: u64,
    /// Pods existing now (including terminating ones).
    pub current_pods: usize,
    /// Highest number of pods that existed at once.
    pub peak_pods: usize,
    /// rsp-images' prepull pods (see `PREPULL_LABELS`) existing now, terminating ones included.
    pub current_prepull_pods: usize,
    /// Highest number of such prepull pods that existed at once.
    pub peak_prepull_pods: usize,
}

impl ClusterStats {
    /// Requests received for (verb, resource); 0 when none.
    pub fn requests(&self, verb: &str, resource: &str) -> u64 {
        self.requests
            .get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug)]
struct FailRule {
    verb: String,
    resource: String,
    remaining: usize,
    status: u16,
}

/// Pending injected failures and the unavailability switch.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FailRule>,
    unavailable: bool,
}

impl Faults {
    pub fn fail_next(&mut self, verb: &str, resource: &str, count: usize, status: u16) {
        if count > 0 {
            self.rules.push(FailRule {
                verb: verb.to_string(),
                resource: resource.to_string(),
                remaining: count,
                status,
            });
        }
    }

    pub fn set_unavailable(&mut self, on: bool) {
        self.unavailable = on;
    }

    /// The status to answer this request with instead of serving it, if any; consumes one
    /// use of the first matching rule.
    pub fn take(&mut self, verb: &str, resource: &str) -> Option<u16> {
        if self.unavailable {
            return Some(503);
        }
        let matches = |pat: &str, v: &str| pat == "*" || pat == v;
        let idx = self
            .rules
            .iter()
            .position(|r| matches(&r.verb, verb) && matches(&r.resource, resource))?;
        let rule = &mut self.rules[idx];
        rule.remaining -= 1;
        let status = rule.status;
        if rule.remaining == 0 {
            self.rules.remove(idx);
        }
        Some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_consumed_in_order() {
        let mut f = Faults::default();
        f.fail_next("create", "pods", 2, 500);
        f.fail_next("*", "pods", 1, 409);
        assert_eq!(f.take("get", "nodes"), None);
        assert_eq!(f.take("create", "pods"), Some(500));
        assert_eq!(f.take("get", "pods"), Some(409));
        assert_eq!(f.take("create", "pods"), Some(500));
        assert_eq!(f.take("create", "pods"), None);
        f.set_unavailable(true);
        assert_eq!(f.take("get", "nodes"), Some(503));
    }
}
