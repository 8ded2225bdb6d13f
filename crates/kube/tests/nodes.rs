//! The node watcher against the fake cluster: selection, snapshots on every change, and
//! recovery from dropped watches, expired history (410) and an unavailable API server.

mod cluster_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cluster_support::*;
use rsp_kube::{NodeSelection, NodeSnapshot, NodeWatcher};
use rsp_testkit::builders::cached;
use rsp_testkit::kube::{lab_node, node, FakeCluster};

const SECOND: Duration = Duration::from_secs(1);

fn names(snapshot: &NodeSnapshot) -> Vec<String> {
    snapshot.iter().map(|n| n.name.clone()).collect()
}

fn selection() -> NodeSelection {
    fast_config().node_selection()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_follow_selected_nodes_in_listing_order() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node2").image(&[cached("sha256:5678")], 65537));
    cluster.add_node(lab_node("node1"));
    cluster.add_node(node("other"));
    let watcher = NodeWatcher::start(cluster.client(), selection());
    let mut rx = watcher.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| names(s) == ["node1", "node2"]).await);
    let node2 = rx.borrow().as_ref().unwrap().nodes()[1].clone();
    assert_eq!(node2.images[0].references, [cached("sha256:5678").into()]);
    assert_eq!(node2.ready, Some(true));

    cluster.add_node(lab_node("node0"));
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node0", "node1", "node2"]).await);
    cluster.cordon("node1", true);
    assert!(wait_snapshot(&mut rx, SECOND, |s| s.nodes()[1].unschedulable).await);
    cluster.label_node("node2", "some-label", None);
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node0", "node1"]).await);
    cluster.remove_node("node0");
    assert!(wait_snapshot(&mut rx, SECOND, |s| names(s) == ["node1"]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_recovers_from_drops_expired_history_and_outages() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    let watcher = NodeWatcher::start(cluster.client_without_retry(), selection());
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

/// Kubelet's periodic status reports (issue 16: about 17 a second at 5,000 nodes) change
/// nothing rsp-images reads: they publish no snapshot, so the prepuller re-plans nothing and
/// the service rebuilds nothing. A real change after them publishes one snapshot, which
/// shares the nodes it did not touch with the previous one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_status_reports_publish_no_snapshot() {
    let cluster = FakeCluster::start().await;
    for name in ["node1", "node2", "node3"] {
        cluster.add_node(lab_node(name).image(&[cached("sha256:5678")], 65537));
    }
    let watcher = NodeWatcher::start(cluster.client(), selection());
    let mut rx = watcher.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 3).await);
    let first = rx.borrow_and_update().clone().unwrap();

    // Every snapshot published from here on is counted.
    let published = Arc::new(AtomicUsize::new(0));
    let counter = {
        let (mut rx, published) = (watcher.subscribe(), Arc::clone(&published));
        rx.borrow_and_update();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                rx.borrow_and_update();
                published.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let version = cluster.resource_version();
    for _ in 0..5 {
        cluster.report_every_node_status();
    }
    assert_eq!(
        cluster.resource_version(),
        version + 15,
        "each report is a write the watch delivers"
    );
    // Watch events arrive in order: once the cordon is seen, every report before it was.
    cluster.cordon("node3", true);
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.nodes()[2].unschedulable).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        published.load(Ordering::SeqCst),
        1,
        "only the cordon published"
    );
    let last = rx.borrow().clone().unwrap();
    for i in 0..2 {
        assert!(
            Arc::ptr_eq(&first.nodes()[i], &last.nodes()[i]),
            "{} is the same value, not a copy",
            first.nodes()[i].name
        );
    }
    counter.abort();
}
