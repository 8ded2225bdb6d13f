//! The RBAC of `deploy/kubernetes/rbac.yaml` grants exactly the verbs rsp-images uses: a
//! replica's whole life (leader election, the node watcher, prepulling with someone else's
//! pod squatting on one of its names, shutdown) against the fake cluster, whose request log
//! says which (verb, resource) pairs it used.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use rsp_testkit::kube::{FakeCluster, PullBehaviour};
use serde::Deserialize;

/// The service account's user, as the API server names it.
const USER: &str = "system:serviceaccount:nublado:rsp-images";

/// (verb, resource) pairs granted by every Role and ClusterRole of the RBAC manifest.
fn granted() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/kubernetes/rbac.yaml"
    ))
    .expect("deploy/kubernetes/rbac.yaml");
    let mut pairs = BTreeSet::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let doc = serde_yaml::Value::deserialize(document).unwrap();
        if !matches!(doc["kind"].as_str(), Some("Role" | "ClusterRole")) {
            continue;
        }
        for rule in doc["rules"].as_sequence().into_iter().flatten() {
            for resource in rule["resources"].as_sequence().into_iter().flatten() {
                for verb in rule["verbs"].as_sequence().into_iter().flatten() {
                    let (verb, resource) = (verb.as_str().unwrap(), resource.as_str().unwrap());
                    pairs.insert((verb.to_owned(), resource.to_owned()));
                }
            }
        }
    }
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_grants_exactly_the_verbs_used() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(200)));
    let template = fast_config().pod;
    // Someone else's pod on one of its names: only a get tells it is not rsp-images' own.
    let first = image("w_2077_43", "sha256:43");
    let squatted = image("w_2077_42", "sha256:42");
    let mut squatter = rsp_kube::prepull_pod(&template, &squatted, "node2");
    squatter.metadata.labels = None;
    // Unbound, so that it does not pull the image itself.
    squatter.spec.as_mut().unwrap().node_name = None;
    cluster.create_pod_directly(squatter);

    let replica = Replica::start(&cluster, USER, vec![first, squatted]);
    let status = replica.prepuller.status();
    let done = cluster
        .wait_until(Duration::from_secs(10), |_| {
            let status = status.borrow();
            status.pulled.contains("node1", "sha256:42")
                && status.pulled.contains("node2", "sha256:43")
                && status
                    .pull("node2", "sha256:42")
                    .is_some_and(|p| p.failures > 0)
        })
        .await;
    assert!(done, "{:?}", status.borrow());
    replica.shutdown().await;

    let used: BTreeSet<(String, String)> = cluster
        .request_log()
        .into_iter()
        .filter(|r| r.client == USER)
        .map(|r| (r.verb, r.resource))
        .collect();
    assert_eq!(used, granted(), "used (left) and granted (right)");
}
