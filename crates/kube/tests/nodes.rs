//! The node watcher against the fake cluster: selection, snapshots on every change, and
//! recovery from dropped watches, expired history (410) and an unavailable API server.

mod common;

use std::time::Duration;

use common::*;
use rsp_kube::{NodeSnapshot, NodeWatcher};
use rsp_testkit::kube::{node, FakeCluster};
use tokio::sync::watch;

const SECOND: Duration = Duration::from_secs(1);

fn names(snapshot: &NodeSnapshot) -> Vec<String> {
    snapshot.iter().map(|n| n.name.clone()).collect()
}

/// Waits until the snapshot satisfies `done`.
async fn wait_snapshot(
    rx: &mut watch::Receiver<Option<NodeSnapshot>>,
    timeout: Duration,
    mut done: impl FnMut(&NodeSnapshot) -> bool,
) -> bool {
    tokio::time::timeout(timeout, rx.wait_for(|s| s.as_ref().is_some_and(&mut done)))
        .await
        .is_ok_and(|seen| seen.is_ok())
}

fn selector() -> std::collections::BTreeMap<String, String> {
    fast_config().node_selector
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_follow_selected_nodes_in_listing_order() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node2").image(&[cached("sha256:5678")], 65537));
    cluster.add_node(lab_node("node1"));
    cluster.add_node(node("other"));
    let watcher = NodeWatcher::start(cluster.client(), &selector());
    let mut rx = watcher.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| names(s) == ["node1", "node2"]).await);
    let node2 = rx.borrow().as_ref().unwrap()[1].clone();
    assert_eq!(node2.images[0].references, [cached("sha256:5678")]);
    assert_eq!(node2.ready, Some(true));

    cluster.add_node(lab_node("node0"));
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node0", "node1", "node2"]).await);
    cluster.cordon("node1", true);
    assert!(wait_snapshot(&mut rx, SECOND, |s| s[1].unschedulable).await);
    cluster.label_node("node2", "some-label", None);
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node0", "node1"]).await);
    cluster.remove_node("node0");
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node1"]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_recovers_from_drops_expired_history_and_outages() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    let watcher = NodeWatcher::start(cluster.client_without_retry(), &selector());
    let mut rx = watcher.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 1).await);

    // A closed stream resumes from the last version.
    cluster.drop_watches();
    cluster.add_node(lab_node("node2"));
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 2).await);

    // The API server is away for a while, and meanwhile the history the watch would resume
    // from is compacted: the watcher backs off, then gets 410 and relists.
    cluster.set_unavailable(true);
    cluster.drop_watches();
    cluster.remove_node("node1");
    cluster.compact_history();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.set_unavailable(false);
    cluster.add_node(lab_node("node3"));
    assert!(wait_snapshot(&mut rx, 15 * SECOND, |s| names(s) == ["node2", "node3"]).await);
    let lists = cluster.stats().requests("list", "nodes");
    assert!(lists >= 2, "relisted after 410 ({lists} lists)");
    let watches = cluster.stats().requests("watch", "nodes");
    assert!(
        watches < 40,
        "backed off instead of hammering ({watches} watches)"
    );
}
