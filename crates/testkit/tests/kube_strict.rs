//! The fake cluster is as strict as the real one where rsp-images could go wrong: one
//! client's calls hang while others go through, graceful deletion leaves pods Terminating
//! until their kubelet confirms, the garbage collector follows owner references (an owner in
//! another namespace is absent), kubelet names images as containerd records them, and the
//! API server validates and admits pods.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use rsp_testkit::kube::{
    self as kube_fake, node, ClientFault, FakeCluster, Outcome, PullBehaviour,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

fn api_error(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("expected an API error, got {other}"),
    }
}

fn lease(name: &str, holder: &str) -> Lease {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}
    }))
    .unwrap()
}

#[tokio::test]
async fn one_client_hangs_while_the_others_go_through_and_every_call_is_logged() {
    let cluster = FakeCluster::start().await;
    let a: Api<Lease> = Api::default_namespaced(cluster.client_for("replica-a"));
    let b: Api<Lease> = Api::default_namespaced(cluster.client_for("replica-b"));
    a.create(&PostParams::default(), &lease("l", "replica-a"))
        .await
        .unwrap();
    cluster.set_client_fault("replica-a", "leases", Some(ClientFault::Hang));
    let hung = tokio::time::timeout(Duration::from_millis(300), a.get("l")).await;
    assert!(hung.is_err(), "a partitioned client's call hangs");
    assert!(
        b.get("l").await.is_ok(),
        "another client's call goes through"
    );
    // A's other resources are not partitioned.
    let pods: Api<Pod> = Api::default_namespaced(cluster.client_for("replica-a"));
    assert!(pods.list(&Default::default()).await.is_ok());

    let pending = tokio::spawn(async move { a.get("l").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.heal_client("replica-a");
    // The held call fails with 504 without effect once healed, which kube's retry layer
    // retries: the retry goes through.
    assert!(pending.await.unwrap().is_ok());

    let log = cluster.request_log();
    let a_leases: Vec<(&str, Outcome)> = log
        .iter()
        .filter(|r| r.client == "replica-a" && r.resource == "leases")
        .map(|r| (r.verb.as_str(), r.outcome))
        .collect();
    assert_eq!(
        a_leases,
        [
            ("create", Outcome::Served),
            ("get", Outcome::Partitioned),
            ("get", Outcome::Partitioned),
            ("get", Outcome::Served)
        ]
    );
    assert!(log
        .iter()
        .any(|r| r.client == "replica-b" && r.verb == "get" && r.took_effect()));
    let writes = cluster.lease_log();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].holder.as_deref(), Some("replica-a"));
    assert_eq!(writes[0].client, "replica-a");
}

#[tokio::test]
async fn a_client_fault_can_fail_calls_with_a_status() {
    let cluster = FakeCluster::start().await;
    cluster.set_client_fault("x", "*", Some(ClientFault::Fail(503)));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client_for("x"));
    let other: Api<Pod> = Api::default_namespaced(cluster.client_for("y"));
    // The retrying client retries 503s for a long time: use a short deadline.
    let failed =
        tokio::time::timeout(Duration::from_millis(300), pods.list(&Default::default())).await;
    assert!(!matches!(failed, Ok(Ok(_))));
    assert!(other.list(&Default::default()).await.is_ok());
    assert!(cluster
        .request_log()
        .iter()
        .any(|r| r.client == "x" && r.code == 503 && r.outcome == Outcome::Injected));
}

#[tokio::test]
async fn evicted_pods_terminate_until_their_kubelet_confirms() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.add_node(node("n2"));
    cluster.set_pull("", PullBehaviour::Hang);
    let prepull = |name: &str, node: &str| {
        kube_fake::pod(name, "reg.io/a:1@sha256:1")
            .node(node)
            .label("app.kubernetes.io/managed-by", "rsp-images")
            .label("app.kubernetes.io/component", "prepuller")
            .build()
    };
    cluster.create_pod_directly(prepull("on-n1", "n1"));
    cluster.create_pod_directly(prepull("on-n2", "n2"));
    // n2's kubelet is gone: nothing will confirm the eviction there.
    cluster.set_ready("n2", false);
    cluster.set_kill_time(Duration::from_millis(300));
    cluster.drain("n1");
    assert!(cluster.evict_pod("default", "on-n2"));
    let terminating = cluster.pod("default", "on-n1").expect("still exists");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        cluster.stats().current_prepull_pods,
        2,
        "terminating pods still exist"
    );
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pod("default", "on-n1").is_none())
            .await,
        "n1's kubelet confirms"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        cluster.pod("default", "on-n2").is_some(),
        "no kubelet confirms on a NotReady node"
    );
    // A force delete (grace 0) removes it at once.
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    pods.delete("on-n2", &force).await.unwrap();
    assert!(cluster.pod("default", "on-n2").is_none());
    assert!(cluster.node("n1").unwrap().spec.unwrap().unschedulable == Some(true));
}

#[tokio::test]
async fn the_garbage_collector_deletes_pods_whose_owners_are_absent() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.set_pull("", PullBehaviour::Hang);
    let owner = cluster.create_pod_directly(kube_fake::pod("owner", "reg.io/o:1").namespace("a"));
    let owned = |name: &str, ns: &str, kind: &str, uid: &str| -> Pod {
        let mut pod = kube_fake::pod(name, "reg.io/d:1")
            .node("n1")
            .namespace(ns)
            .build();
        pod.metadata.owner_references = Some(vec![serde_json::from_value(json!({
            "apiVersion": if kind == "Pod" { "v1" } else { "apps/v1" },
            "kind": kind, "name": "owner", "uid": uid
        }))
        .unwrap()]);
        pod
    };
    let uid = owner.metadata.uid.clone().unwrap();
    cluster.create_pod_directly(owned("same-ns", "a", "Pod", &uid));
    cluster.create_pod_directly(owned("other-ns", "b", "Pod", &uid));
    cluster.create_pod_directly(owned("unknown-kind", "b", "ReplicaSet", "x"));
    // An owner in another namespace counts as absent: collected right away.
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pod("b", "other-ns").is_none())
            .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(cluster.pod("a", "same-ns").is_some(), "its owner exists");
    assert!(
        cluster.pod("b", "unknown-kind").is_some(),
        "owners of unknown kinds cannot be checked"
    );
    // The owner goes, and a new pod of the same name is another owner.
    cluster.delete_pod_directly("a", "owner");
    cluster.create_pod_directly(kube_fake::pod("owner", "reg.io/o:1").namespace("a"));
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pod("a", "same-ns").is_none())
            .await
    );
}

#[tokio::test]
async fn kubelet_reports_at_most_five_names_digests_first() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    // Pulls by tag only: each adds its tag to the same image (same made-up digest per tag,
    // so make them one image by giving the node the digest first).
    for (i, tag) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        let pod = kube_fake::pod(&format!("p{i}"), &format!("reg.io/r:{tag}"))
            .node("n1")
            .build();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    assert!(
        cluster
            .wait_until(WAIT, |c| {
                c.node("n1")
                    .and_then(|n| n.status?.images)
                    .is_some_and(|images| images.len() == 6)
            })
            .await
    );
    let images = cluster.node("n1").unwrap().status.unwrap().images.unwrap();
    for image in &images {
        let names = image.names.clone().unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].contains('@') && !names[1].contains('@'));
    }
    // One image known by seven names shows five, digests first.
    let names: Vec<String> = (0..4)
        .map(|i| format!("mirror{i}.io/r@sha256:7"))
        .chain((0..3).map(|i| format!("reg.io/r:t{i}")))
        .collect();
    cluster.add_node(node("n2").image(&names, 1));
    let shown = cluster.node("n2").unwrap().status.unwrap().images.unwrap();
    assert_eq!(shown[0].names.as_ref().unwrap().as_slice(), &names[..5]);
}

#[tokio::test]
async fn the_api_server_validates_pods_and_admission_enforces_the_namespace_level() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    let pods: Api<Pod> = Api::namespaced(cluster.client(), "locked");
    let mut pod = kube_fake::pod("p", "reg.io/r:1").node("n1").build();
    pod.spec.as_mut().unwrap().tolerations = Some(vec![serde_json::from_value(json!({
        "key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
        "tolerationSeconds": 60
    }))
    .unwrap()]);
    let (code, message) = api_error(pods.create(&PostParams::default(), &pod).await.unwrap_err());
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "Pod \"p\" is invalid: spec.tolerations[0].effect: Invalid value: \"NoSchedule\": \
         effect must be 'NoExecute' when `tolerationSeconds` is set"
    );
    pod.spec.as_mut().unwrap().tolerations = None;
    cluster.label_namespace(
        "locked",
        "pod-security.kubernetes.io/enforce",
        Some("restricted"),
    );
    let (code, message) = api_error(pods.create(&PostParams::default(), &pod).await.unwrap_err());
    assert_eq!(code, 403);
    assert!(
        message.starts_with(
            "pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": \
             allowPrivilegeEscalation != false"
        ),
        "{message}"
    );
    assert!(cluster.pods("locked").is_empty());
    // Another namespace does not enforce anything.
    let open: Api<Pod> = Api::namespaced(cluster.client(), "open");
    open.create(&PostParams::default(), &pod).await.unwrap();
}
