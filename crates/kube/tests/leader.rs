//! Leader election against the fake cluster: one leader at a time, failover within the lease
//! duration, stepping down at once when the lease is taken, and the prepuller following it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::PostParams;
use kube::Api;
use rsp_kube::{LeaderConfig, LeaderElection, NodeWatcher, PrepullerHandle};
use rsp_testkit::kube::{FakeCluster, PullBehaviour};
use tokio::sync::watch;

const LEASE: Duration = Duration::from_secs(1);
const RENEW: Duration = Duration::from_millis(200);

fn leader_config(identity: &str) -> LeaderConfig {
    let mut config = LeaderConfig::new(NAMESPACE, identity);
    config.lease_duration = LEASE;
    config.renew_interval = RENEW;
    config
}

/// One replica: an election and a prepuller that follows it.
struct Replica {
    election: LeaderElection,
    prepuller: PrepullerHandle,
    _nodes: NodeWatcher,
    _images: watch::Sender<rsp_kube::WantedImages>,
}

impl Replica {
    fn start(cluster: &FakeCluster, identity: &str, images: Vec<rsp_kube::PrepullImage>) -> Self {
        let config = fast_config();
        let election = LeaderElection::start(cluster.client(), leader_config(identity));
        let nodes = NodeWatcher::start(cluster.client(), &config.node_selector);
        let (images_tx, images_rx) = watch::channel(Some(Arc::new(images)));
        let prepuller = PrepullerHandle::start(
            cluster.client(),
            config,
            nodes.subscribe(),
            images_rx,
            election.subscribe(),
        );
        Replica {
            election,
            prepuller,
            _nodes: nodes,
            _images: images_tx,
        }
    }

    async fn wait_leader(&self, leader: bool, timeout: Duration) -> bool {
        let mut rx = self.election.subscribe();
        let result = tokio::time::timeout(timeout, rx.wait_for(|l| *l == leader)).await;
        matches!(result, Ok(Ok(_)))
    }

    async fn shutdown(self) {
        self.prepuller.shutdown().await;
        self.election.shutdown().await;
    }
}

fn two_nodes() -> Vec<rsp_kube::PrepullImage> {
    vec![
        image("w_2077_43", "sha256:43"),
        image("w_2077_42", "sha256:42"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leader_is_replaced_and_its_pods_are_adopted() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("w_2077_43", PullBehaviour::Succeed(Duration::from_secs(3)));
    init_logs();
    let a = Replica::start(&cluster, "replica-a", two_nodes());
    assert!(
        a.wait_leader(true, 2 * LEASE).await,
        "the first replica leads"
    );
    let b = Replica::start(&cluster, "replica-b", two_nodes());
    assert!(
        cluster
            .wait_until(2 * LEASE, |c| prepull_pods(c).len() == 2)
            .await
    );
    tokio::time::sleep(3 * RENEW).await;
    assert!(!b.election.is_leader(), "only one leader at a time");
    assert!(!b.prepuller.status().borrow().active);
    assert_eq!(
        b.prepuller.status().borrow().pods_created_total,
        0,
        "a follower creates nothing"
    );

    // Replica A dies: its tasks stop where they are, the lease is not released.
    let died = tokio::time::Instant::now();
    drop(a);
    assert!(
        b.wait_leader(true, LEASE + 2 * RENEW + Duration::from_millis(300))
            .await
    );
    eprintln!("failover after {:?}", died.elapsed());
    let lease = cluster.lease(NAMESPACE, "rsp-images-prepuller").unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("replica-b")
    );

    // B adopts A's pods (still pulling) and finishes the work; nothing is left.
    let finished = cluster
        .wait_until(Duration::from_secs(10), |c| {
            nodes_hold(c, &["node1", "node2"], &["sha256:43", "sha256:42"])
                && prepull_pods(c).is_empty()
        })
        .await;
    assert!(finished, "the new leader finishes the prepull");
    // Four successes for B: the two adopted pulls and its own two.
    let mut status = b.prepuller.status();
    let counted = tokio::time::timeout(
        Duration::from_secs(1),
        status.wait_for(|s| s.succeeded_total == 4),
    )
    .await
    .is_ok_and(|seen| seen.is_ok());
    assert!(counted, "succeeded: {}", status.borrow().succeeded_total);
    let created = created_pods(&cluster);
    assert_eq!(
        created.iter().filter(|n| n.contains("w-2077-43")).count(),
        2,
        "A's pods were adopted, not created again: {created:?}"
    );
    b.shutdown().await;
    assert_no_prepull_pods(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_stops_prepulling_at_once() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.set_pull("", PullBehaviour::Hang);
    init_logs();
    let a = Replica::start(&cluster, "replica-a", two_nodes());
    assert!(a.wait_leader(true, 2 * LEASE).await);
    assert!(
        cluster
            .wait_until(2 * LEASE, |c| prepull_pods(c).len() == 1)
            .await
    );

    // Another holder writes the lease (as a replica with a fast clock would).
    let api: Api<Lease> = Api::namespaced(cluster.client(), NAMESPACE);
    let mut lease = api.get("rsp-images-prepuller").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
    api.replace("rsp-images-prepuller", &PostParams::default(), &lease)
        .await
        .unwrap();

    assert!(
        a.wait_leader(false, 2 * RENEW + Duration::from_millis(300))
            .await
    );
    let mut status = a.prepuller.status();
    // (A watch `Ref` must not be held: it would block the prepuller's next publish.)
    let inactive = tokio::time::timeout(LEASE, status.wait_for(|s| !s.active))
        .await
        .is_ok_and(|seen| seen.is_ok());
    assert!(inactive, "the prepuller stops with the lease");
    let created = cluster.stats().pods_created;
    tokio::time::sleep(3 * RENEW).await;
    assert_eq!(
        cluster.stats().pods_created,
        created,
        "no pod after losing the lease"
    );

    // The intruder never renews: A takes the lease back and cleans up on shutdown.
    assert!(a.wait_leader(true, 2 * LEASE + RENEW).await);
    let adopted = tokio::time::timeout(LEASE, status.wait_for(|s| s.active && s.in_flight == 1))
        .await
        .is_ok_and(|seen| seen.is_ok());
    assert!(adopted, "the new session adopts the pod of the old one");
    a.shutdown().await;
    assert_no_prepull_pods(&cluster).await;
    let lease = cluster.lease(NAMESPACE, "rsp-images-prepuller").unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity,
        None,
        "released on shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_is_taken_over_at_once_and_errors_do_not_flap() {
    let cluster = FakeCluster::start().await;
    let a = LeaderElection::start(cluster.client(), leader_config("a"));
    let mut a_rx = a.subscribe();
    assert!(tokio::time::timeout(2 * LEASE, a_rx.wait_for(|l| *l))
        .await
        .is_ok());
    // A few failed renewals (shorter than the renew deadline) keep the leader leading.
    cluster.fail_next("get", "leases", 2, 500);
    tokio::time::sleep(3 * RENEW).await;
    assert!(a.is_leader());
    let b = LeaderElection::start(cluster.client(), leader_config("b"));
    tokio::time::sleep(2 * RENEW).await;
    assert!(!b.is_leader());
    let released = tokio::time::Instant::now();
    a.shutdown().await;
    let mut b_rx = b.subscribe();
    assert!(tokio::time::timeout(
        2 * RENEW + Duration::from_millis(200),
        b_rx.wait_for(|l| *l)
    )
    .await
    .is_ok());
    assert!(
        released.elapsed() < LEASE,
        "no need to wait for expiry after a release"
    );
    b.shutdown().await;
}
