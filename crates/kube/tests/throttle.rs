//! The client against an API server that throttles (API Priority and Fairness, 429 with
//! `Retry-After`) and against kubelets' periodic status reports (issue 16): a refused request
//! waits as long as the server asks and then succeeds, gives up with an error saying so once
//! the budget is spent, open watches are never throttled while refused watch starts are
//! retried, and heartbeats cost no pod, no node write and no re-plan.

mod cluster_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cluster_support::*;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use rsp_kube::api_retry::API_RETRY;
use rsp_kube::config::WarmConfig;
use rsp_kube::{ApiRetryLayer, NodeWatcher};
use rsp_model::warm::WarmTaint;
use rsp_testkit::builders::{cached, image};
use rsp_testkit::kube::{lab_node, FakeCluster, Outcome, RequestRecord, Throttle};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn requests_of(cluster: &FakeCluster, client: &str) -> Vec<RequestRecord> {
    cluster
        .request_log()
        .into_iter()
        .filter(|r| r.client == client)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_request_waits_for_retry_after_and_then_succeeds() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    // One request at once per client, then one every 2 s: the second asks for 2 s.
    cluster.set_throttle(Throttle::per_client(1, 0.5));
    let nodes: Api<Node> = Api::all(client_as(&cluster, Some("replica-a")));
    nodes
        .get("node1")
        .await
        .expect("the first request is admitted");
    let started = Instant::now();
    let node = nodes.get("node1").await.expect("admitted once it waited");
    let waited = started.elapsed();
    assert_eq!(node.metadata.name.as_deref(), Some("node1"));
    // The backoff alone would have retried after 0.1–0.2 s, and been refused again.
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(waited < 4 * SECOND, "{waited:?}");
    let log = requests_of(&cluster, "replica-a");
    let outcomes: Vec<(u16, Outcome)> = log.iter().map(|r| (r.code, r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (200, Outcome::Served),
            (429, Outcome::Throttled),
            (200, Outcome::Served)
        ],
        "one refusal, then the retry Retry-After asked for"
    );
    assert!(log[2].at - log[1].at >= Duration::from_millis(1900));

    // Another client has a bucket of its own.
    let other: Api<Node> = Api::all(client_as(&cluster, Some("replica-b")));
    let started = Instant::now();
    other.get("node1").await.expect("not throttled");
    assert!(started.elapsed() < SECOND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_past_the_budget_fails_saying_so() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.set_throttle(Throttle::refusing_everything());
    let budget = 3 * SECOND;
    let client = client_retrying(
        &cluster,
        Some("replica-a"),
        ApiRetryLayer::new(API_RETRY.within(budget)),
    );
    let nodes: Api<Node> = Api::all(client);
    let started = Instant::now();
    let error = nodes
        .list(&ListParams::default())
        .await
        .expect_err("refused every time");
    let spent = started.elapsed();
    let kube::Error::Api(status) = error else {
        panic!("not an API error: {error}");
    };
    assert_eq!(status.code, 429);
    assert_eq!(status.reason, "TooManyRequests");
    assert!(
        status.message.starts_with(
            "Too many requests, please try again later. (the Kubernetes API answered 429 "
        ),
        "{}",
        status.message
    );
    assert!(
        status
            .message
            .ends_with("rsp-images gave up, its retry budget being 3 s)"),
        "{}",
        status.message
    );
    // Each wait is at least the asked second: 0, 1, 2 s, and no retry would end past 3 s.
    assert!(spent >= 2 * SECOND && spent < budget, "{spent:?}");
    let attempts = requests_of(&cluster, "replica-a");
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts
        .iter()
        .all(|r| r.verb == "list" && r.outcome == Outcome::Throttled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_watches_are_never_throttled_and_refused_watch_starts_are_retried() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    let watcher = NodeWatcher::start(
        client_as(&cluster, Some("watcher")),
        fast_config().node_selection(),
    );
    let mut rx = watcher.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 1).await);
    // The watcher lists, then watches: throttle once the watch is open.
    let watching = cluster
        .wait_until(2 * SECOND, |c| {
            requests_of(c, "watcher")
                .iter()
                .any(|r| r.verb == "watch" && r.took_effect())
        })
        .await;
    assert!(watching);

    cluster.set_throttle(Throttle::refusing_everything());
    let plain: Api<Node> = Api::all(cluster.client_without_retry());
    let refused = plain.list(&ListParams::default()).await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(status)) if status.code == 429),
        "{refused:?}"
    );
    // The open watch still delivers.
    cluster.add_node(lab_node("node2"));
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 2).await);
    assert!(requests_of(&cluster, "watcher")
        .iter()
        .all(|r| r.outcome != Outcome::Throttled));

    // A watch that must start again is admitted like any request: refused while the limit
    // holds, tried again as Retry-After says, and served once the limit is lifted.
    cluster.drop_watches();
    let refused_start = cluster
        .wait_until(3 * SECOND, |c| {
            requests_of(c, "watcher")
                .iter()
                .any(|r| r.verb == "watch" && r.outcome == Outcome::Throttled)
        })
        .await;
    assert!(refused_start, "the watch start was refused");
    cluster.set_throttle(Throttle::default());
    cluster.add_node(lab_node("node3"));
    assert!(wait_snapshot(&mut rx, 5 * SECOND, |s| s.len() == 3).await);
    let log = requests_of(&cluster, "watcher");
    let throttled: Vec<_> = log
        .iter()
        .filter(|r| r.outcome == Outcome::Throttled)
        .collect();
    // Retry-After: 1, so at most about one refusal a second, never a burst of them.
    for pair in throttled.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(900),
            "{log:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_cost_no_pod_no_node_write_and_no_replan() {
    let cluster = FakeCluster::start().await;
    let digests = ["sha256:43", "sha256:42"];
    let names = ["node1", "node2", "node3"];
    for name in names {
        let node = digests
            .iter()
            .fold(lab_node(name), |node, d| node.image(&[cached(d)], 1 << 30));
        cluster.add_node(node);
    }
    let warm = WarmConfig {
        taint: WarmTaint {
            key: "startup-taint.cluster-autoscaler.kubernetes.io/rsp-images-cold".into(),
            effect: "NoSchedule".into(),
        },
        timeout: None,
    };
    let images = digests
        .iter()
        .enumerate()
        .map(|(i, d)| image(&format!("w_2077_4{i}"), d))
        .collect();
    let harness = Harness::start(&cluster, fast_config().with_warm(warm), images);
    let mut rx = harness.nodes.subscribe();
    assert!(wait_snapshot(&mut rx, 2 * SECOND, |s| s.len() == 3).await);
    // Let the prepuller look at the nodes before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rx.borrow_and_update();
    let published = Arc::new(AtomicUsize::new(0));
    let counter = {
        let (mut rx, published) = (rx.clone(), Arc::clone(&published));
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                rx.borrow_and_update();
                published.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let requests_before = cluster.request_log().len();
    let version = cluster.resource_version();

    // Three nodes every 300 ms: 10 reports a second, for 2 s.
    cluster.set_heartbeat_every(Duration::from_millis(300));
    tokio::time::sleep(2 * SECOND).await;
    cluster.stop_heartbeats();
    let reports = cluster.resource_version() - version;
    assert!((15..=25).contains(&reports), "{reports} reports in 2 s");
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(published.load(Ordering::SeqCst), 0, "no snapshot published");
    let stats = cluster.stats();
    assert_eq!(stats.pods_created, 0);
    let after: Vec<RequestRecord> = cluster.request_log()[requests_before..].to_vec();
    assert!(
        after.is_empty(),
        "no request of any kind (no pod, no node patch, no relist): {after:?}"
    );
    counter.abort();
    harness.finish().await;
}
