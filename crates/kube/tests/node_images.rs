//! What is on a node, reasoned from what kubelet reports: `nodeStatusMaxImages` (50 by
//! default, `-1` for every image) and the size order of the list make some absences certain,
//! and an image that certainly left a node is pulled again.

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use k8s_openapi::api::core::v1::ContainerImage;
use rsp_model::plan::NodeStatusMaxImages;
use rsp_testkit::builders::image;
use rsp_testkit::kube::{lab_node, FakeCluster};

const SECOND: Duration = Duration::from_secs(1);
const GB: i64 = 1_000_000_000;

/// `count` other images of `size` bytes, as a node lists them.
fn others(count: usize, size: i64, seed: &str) -> Vec<ContainerImage> {
    (0..count)
        .map(|i| ContainerImage {
            names: Some(vec![format!("example/{seed}{i}@sha256:{seed}{i}")]),
            size_bytes: Some(size),
        })
        .collect()
}

/// Replaces the node's image list (as kubelet's image garbage collection changes it).
fn set_images(cluster: &FakeCluster, node: &str, images: Vec<ContainerImage>) {
    cluster.update_node(node, |n| {
        n.status.as_mut().unwrap().images = Some(images);
    });
}

/// Waits until the pull succeeded and the node lists it (so the prepuller has seen it), then
/// a moment more for anything it would do about it.
async fn pulled_and_listed(harness: &mut Harness, cluster: &FakeCluster) {
    assert!(
        harness
            .wait_pulled(5 * SECOND, &[("busy", "sha256:43")])
            .await
    );
    assert!(
        cluster
            .wait_until(SECOND, |c| nodes_hold(c, &["busy"], &["sha256:43"]))
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pods_created(cluster), 1);
}

/// Waits for the second pull of the image, after its eviction.
async fn pulled_again(cluster: &FakeCluster) {
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| pods_created(c) == 2)
            .await,
        "the evicted image is pulled again"
    );
}

fn pods_created(cluster: &FakeCluster) -> usize {
    created_pods(cluster)
        .iter()
        .filter(|name| name.starts_with("rsp-prepull-"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_image_larger_than_the_smallest_listed_is_pulled_again() {
    let cluster = FakeCluster::start().await;
    let mut busy = lab_node("busy");
    for image in others(49, 10 * GB, "old") {
        busy = busy.image(&image.names.unwrap(), image.size_bytes.unwrap());
    }
    cluster.add_node(busy);
    cluster.set_image_size("sketchbook", 20 * GB);
    let mut harness = Harness::start(
        &cluster,
        fast_config(),
        vec![image("w_2077_43", "sha256:43")],
    );
    // Listed among 50 images: at the cap.
    pulled_and_listed(&mut harness, &cluster).await;
    // Evicted: the list is still at the cap, but of 10 GB images; kubelet lists the largest
    // first, so the 20 GB image would be there.
    set_images(&cluster, "busy", others(50, 10 * GB, "new"));
    pulled_again(&cluster).await;
    assert!(
        harness
            .wait_pulled(5 * SECOND, &[("busy", "sha256:43")])
            .await
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_image_listed_a_long_list_is_complete() {
    let cluster = FakeCluster::start().await;
    // kubelet configured with nodeStatusMaxImages: -1.
    cluster.set_max_images(None);
    cluster.add_node(lab_node("busy"));
    cluster.set_image_size("sketchbook", GB);
    let mut config = fast_config();
    config.node_status_max_images = NodeStatusMaxImages::Unlimited;
    let mut harness = Harness::start(&cluster, config, vec![image("w_2077_43", "sha256:43")]);
    pulled_and_listed(&mut harness, &cluster).await;
    // Sixty larger images and not ours: with every image listed, it is gone.
    set_images(&cluster, "busy", others(60, 10 * GB, "new"));
    pulled_again(&cluster).await;
    harness.finish().await;
}
