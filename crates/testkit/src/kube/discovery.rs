//! `/version` and the discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{v}`).
//!
//! kube-rs does not call them when a client is built, but `Discovery`, `kubectl` and version
//! checks do; they are static and list exactly the kinds the fake serves.

use serde_json::{json, Value};

use super::kind::Kind;

/// The discovery or version document at `path`, if it is one.
pub fn document(path: &str) -> Option<Value> {
    let path = path.trim_end_matches('/');
    match path {
        "/version" => Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-rsp-fake",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        "/api" => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        })),
        "/apis" => {
            let groups: Vec<Value> = groups()
                .map(|g| {
                    let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
                    json!({"name": g, "versions": [gv], "preferredVersion": gv})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        "/api/v1" => Some(resource_list("")),
        _ => {
            let group = path.strip_prefix("/apis/")?.strip_suffix("/v1")?;
            groups().any(|g| g == group).then(|| resource_list(group))
        }
    }
}

fn groups() -> impl Iterator<Item = &'static str> {
    let mut seen: Vec<&'static str> = Kind::ALL.iter().map(|k| k.group()).collect();
    seen.retain(|g| !g.is_empty());
    seen.dedup();
    seen.into_iter()
}

fn resource_list(group: &str) -> Value {
    let resources: Vec<Value> = Kind::ALL
        .into_iter()
        .filter(|k| k.group() == group)
        .map(|k| {
            json!({
                "name": k.plural(), "singularName": k.name().to_lowercase(),
                "namespaced": k.namespaced(), "kind": k.name(),
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            })
        })
        .collect();
    json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": if group.is_empty() { "v1".to_string() } else { format!("{group}/v1") },
        "resources": resources,
    })
}
