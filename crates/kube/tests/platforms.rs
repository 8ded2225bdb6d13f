//! Platforms in eligibility: an image goes only onto nodes whose platform it supports, a
//! mismatch is never tried (not missing, no pod, nothing to retry), and images or nodes whose
//! platform is unknown keep being prepulled.

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use rsp_model::platform::{Platform, Platforms};
use rsp_testkit::builders::image;
use rsp_testkit::kube::{lab_node, FakeCluster, PodEventKind, PullBehaviour};

const SECOND: Duration = Duration::from_secs(1);

fn on(name: &str, arch: &str) -> rsp_testkit::kube::NodeSpecBuilder {
    lab_node(name)
        .label("kubernetes.io/os", "linux")
        .label("kubernetes.io/arch", arch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_prepulled_only_onto_nodes_whose_platform_it_supports() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(on("x86", "amd64"));
    cluster.add_node(on("arm", "arm64"));
    cluster.add_node(lab_node("unlabelled"));
    // The registry's word, and what the node's container runtime would find.
    cluster.set_image_platforms("w_2077_43_amd64", &[("linux", "amd64")]);
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(50)));
    let mut amd64_only = image("w_2077_43_amd64", "sha256:43");
    amd64_only.platforms = Platforms::known([Platform::new("linux", "amd64")]);
    let mut multi = image("w_2077_42", "sha256:42");
    multi.platforms = Platforms::known([
        Platform::new("linux", "amd64"),
        Platform::new("linux", "arm64"),
    ]);
    // Unknown platforms: prepulled everywhere, as before.
    let unknown = image("w_2077_41", "sha256:41");
    let mut harness = Harness::start(&cluster, fast_config(), vec![amd64_only, multi, unknown]);
    let pairs = [
        ("x86", "sha256:43"),
        ("x86", "sha256:42"),
        ("x86", "sha256:41"),
        ("arm", "sha256:42"),
        ("arm", "sha256:41"),
        ("unlabelled", "sha256:43"),
        ("unlabelled", "sha256:42"),
        ("unlabelled", "sha256:41"),
    ];
    assert!(harness.wait_pulled(10 * SECOND, &pairs).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_arm: Vec<String> = cluster
        .pod_events()
        .into_iter()
        .filter(|e| e.kind == PodEventKind::Created && e.node == "arm")
        .map(|e| e.image)
        .collect();
    assert!(
        on_arm.iter().all(|image| !image.contains("amd64")),
        "an amd64-only image went to an arm64 node: {on_arm:?}"
    );
    let status = harness.status.borrow().clone();
    assert!(
        status.pull("arm", "sha256:43").is_none(),
        "nothing to retry"
    );
    assert!(status.failed_total.is_empty(), "{:?}", status.failed_total);
    harness.finish().await;
}
