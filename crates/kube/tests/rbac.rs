//! The RBAC of `deploy/kubernetes/rbac.yaml` grants exactly the verbs rsp-images uses: a
//! replica's whole life (leader election, the node watcher, prepulling with someone else's
//! pod squatting on one of its names, shutdown) against the fake cluster, whose request log
//! says which (verb, resource) pairs it used.

mod cluster_support;

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_support::*;
use rsp_testkit::builders::image;
use rsp_testkit::kube::{lab_node, FakeCluster, PullBehaviour};
use serde::Deserialize;

/// The service account's user, as the API server names it.
const USER: &str = "system:serviceaccount:nublado:rsp-images";

/// (verb, resource) pairs granted by every Role and ClusterRole of a manifest in
/// `deploy/kubernetes`.
fn granted(file: &str) -> BTreeSet<(String, String)> {
    let path = format!(
        "{}/../../deploy/kubernetes/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
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
    // Unbound and selecting no node, so that it is never scheduled and does not pull the
    // image itself.
    let spec = squatter.spec.as_mut().unwrap();
    spec.node_name = None;
    spec.node_selector = Some([("pool".to_owned(), "nowhere".to_owned())].into());
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
    assert_eq!(
        used,
        granted("rbac.yaml"),
        "used (left) and granted (right)"
    );
}

/// With warm nodes on, the optional ClusterRole grants what the feature adds: the patch that
/// removes the taint, and the read after a failed test (which `warm.rs` forces; here it
/// happens only when the node watch is slower than the patch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_nodes_role_grants_exactly_what_the_feature_adds() {
    let cluster = FakeCluster::start().await;
    cluster.set_pull("", PullBehaviour::Hang);
    let key = "rsp-images/cold";
    cluster.add_node(lab_node("node1").taint(key, "", "NoSchedule"));
    let config = fast_config().with_warm(rsp_kube::WarmConfig {
        taint: rsp_model::warm::WarmTaint {
            key: key.into(),
            effect: "NoSchedule".into(),
        },
        timeout: None,
    });
    let images = vec![image("w_2077_43", "sha256:43")];
    let replica = Replica::with_config(&cluster, leader_config(USER), config, images);
    assert!(
        cluster
            .wait_until(Duration::from_secs(5), |c| !c.pod_events().is_empty())
            .await
    );
    // Another controller's taint goes in front of ours: ours is no longer first.
    cluster.update_node("node1", |n| {
        let taints = n.spec.as_mut().unwrap().taints.as_mut().unwrap();
        taints.insert(
            0,
            k8s_openapi::api::core::v1::Taint {
                key: "other".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            },
        );
    });
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(50)));
    let released = cluster
        .wait_until(Duration::from_secs(10), |c| {
            let node = c.node("node1").unwrap();
            let taints = node.spec.unwrap().taints.unwrap_or_default();
            taints.iter().all(|t| t.key != key)
        })
        .await;
    assert!(released);
    replica.shutdown().await;
    let base = granted("rbac.yaml");
    let added: BTreeSet<(String, String)> = cluster
        .request_log()
        .into_iter()
        .filter(|r| r.client == USER)
        .map(|r| (r.verb, r.resource))
        .filter(|pair| !base.contains(pair))
        .collect();
    let warm = granted("warm-nodes.yaml");
    assert!(added.is_subset(&warm), "used {added:?}, granted {warm:?}");
    assert!(added.contains(&("patch".to_owned(), "nodes".to_owned())));
}
