//! The prepuller beside other things in a real cluster: the original Nublado controller's
//! prepull pods, the garbage collector, and pods that are being deleted gracefully.

mod cluster_support;

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_support::*;
use k8s_openapi::api::core::v1::Pod;
use rsp_testkit::builders::{image, REPOSITORY};
use rsp_testkit::kube::{lab_node, pod, FakeCluster, PullBehaviour};

const SECOND: Duration = Duration::from_secs(1);

/// A prepull pod as the original controller makes it: its label and its name prefix.
fn nublado_pod(tag: &str, digest: &str, node: &str) -> Pod {
    let name = format!("prepull-{}-{node}", tag.replace('_', "-"));
    pod(&name, &format!("{REPOSITORY}:{tag}@{digest}"))
        .namespace(NAMESPACE)
        .node(node)
        .label("nublado.lsst.io/category", "prepuller")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_controllers_pods_are_never_touched_and_both_pull_side_by_side() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(300)));
    // The original controller pulls the same images at the same time, and has a pod it
    // forgot about for an image rsp-images does not want.
    let foreign = [
        cluster.create_pod_directly(nublado_pod("w_2077_43", "sha256:43", "node1")),
        cluster.create_pod_directly(nublado_pod("w_2077_43", "sha256:43", "node2")),
        cluster.create_pod_directly(nublado_pod("w_2077_01", "sha256:01", "node1")),
    ];
    let names: BTreeSet<String> = foreign
        .iter()
        .filter_map(|pod| pod.metadata.name.clone())
        .collect();
    let images = vec![
        image("w_2077_43", "sha256:43"),
        image("w_2077_42", "sha256:42"),
    ];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    let pairs = pairs(&["node1", "node2"], &["sha256:43", "sha256:42"]);
    assert!(harness.wait_pulled(10 * SECOND, &pairs).await);
    harness.finish().await;
    for original in &foreign {
        let name = original.metadata.name.as_deref().unwrap();
        let now = cluster.pod(NAMESPACE, name).expect("still there");
        assert_eq!(now.metadata.uid, original.metadata.uid, "{name} replaced");
        assert!(now.metadata.deletion_timestamp.is_none(), "{name} deleted");
    }
    let touched: Vec<_> = cluster
        .request_log()
        .into_iter()
        .filter(|r| r.name.as_ref().is_some_and(|n| names.contains(n)))
        .collect();
    assert!(touched.is_empty(), "requests on foreign pods: {touched:?}");
    // Both pulled: the original's pods ran to the end beside rsp-images' own.
    let phase = |name: &str| {
        cluster
            .pod(NAMESPACE, name)
            .and_then(|p| p.status?.phase)
            .unwrap_or_default()
    };
    assert!(
        cluster
            .wait_until(2 * SECOND, |_| phase("prepull-w-2077-43-node1")
                == "Succeeded")
            .await
    );
    let ours: BTreeSet<String> = created_pods(&cluster)
        .into_iter()
        .filter(|name| !names.contains(name))
        .collect();
    assert!(
        ours.iter().all(|name| name.starts_with("rsp-prepull-")),
        "{ours:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepull_pods_have_no_owner_for_the_garbage_collector_to_take() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(400)));
    // The replica runs in another namespace than the prepull pods (prepuller.namespace), and
    // goes away mid-prepull.
    let replica = cluster
        .create_pod_directly(pod("rsp-images-5d8f9", "rsp-images:1").namespace("rsp-images"));
    assert!(replica.metadata.uid.is_some());
    let images = vec![
        image("w_2077_43", "sha256:43"),
        image("w_2077_42", "sha256:42"),
    ];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| !prepull_pods(c).is_empty())
            .await
    );
    for pod in prepull_pods(&cluster) {
        assert_eq!(
            pod.metadata.owner_references, None,
            "{:?}",
            pod.metadata.name
        );
    }
    cluster.delete_pod_directly("rsp-images", "rsp-images-5d8f9");
    let pairs = pairs(&["node1", "node2"], &["sha256:43", "sha256:42"]);
    assert!(harness.wait_pulled(10 * SECOND, &pairs).await);
    harness.assert_no_failures();
    let prepull_pods_created = created_pods(&cluster)
        .into_iter()
        .filter(|name| name.starts_with("rsp-prepull-"))
        .count();
    assert_eq!(prepull_pods_created, 4, "no pull had to start again");
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_prepull_pod_still_counts_against_the_cap() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("", PullBehaviour::Hang);
    // Evictions take the kubelet a while to confirm.
    cluster.set_kill_time(2 * SECOND);
    let mut config = fast_config();
    config.max_in_flight = 1;
    let harness = Harness::start(&cluster, config, vec![image("w_2077_43", "sha256:43")]);
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| prepull_pods(c).len() == 1)
            .await
    );
    let first = prepull_pods(&cluster).remove(0);
    let name = first.metadata.name.clone().unwrap();
    // Evicted (as by the eviction API): Terminating, still there.
    assert!(cluster.evict_pod(NAMESPACE, &name));
    tokio::time::sleep(SECOND).await;
    assert!(cluster
        .pod(NAMESPACE, &name)
        .is_some_and(|p| p.metadata.deletion_timestamp.is_some()));
    assert_eq!(
        cluster.stats().peak_prepull_pods,
        1,
        "no second pod while the first one terminates"
    );
    harness.finish().await;
    assert_eq!(cluster.stats().peak_prepull_pods, 1);
}
