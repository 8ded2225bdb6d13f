//! Leader election against the fake cluster: one leader at a time, failover within the lease
//! duration, stepping down at once when the lease is taken, a partitioned leader that stops
//! writing before anyone can take over, expiry by the record's own duration, and the
//! prepuller following it all.

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::PostParams;
use kube::Api;
use rsp_kube::LeaderElection;
use rsp_testkit::builders::image;
use rsp_testkit::kube::{lab_node, ClientFault, FakeCluster, PullBehaviour};

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
    assert!(wait_leader(&a, true, 2 * LEASE).await);
    // A few failed renewals (shorter than the renew deadline) keep the leader leading.
    cluster.fail_next("get", "leases", 2, 500);
    tokio::time::sleep(3 * RENEW).await;
    assert!(a.is_leader());
    let b = LeaderElection::start(cluster.client(), leader_config("b"));
    tokio::time::sleep(2 * RENEW).await;
    assert!(!b.is_leader());
    let released = tokio::time::Instant::now();
    a.shutdown().await;
    assert!(wait_leader(&b, true, 2 * RENEW + Duration::from_millis(200)).await);
    assert!(
        released.elapsed() < LEASE,
        "no need to wait for expiry after a release"
    );
    b.shutdown().await;
}

/// The pod writes of one client that took effect, and its first write of any kind.
fn writes(cluster: &FakeCluster, client: &str) -> Vec<rsp_testkit::kube::RequestRecord> {
    cluster
        .request_log()
        .into_iter()
        .filter(|r| r.client == client && r.is_write() && r.took_effect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_its_lease_stops_writing_before_anyone_takes_over() {
    let cluster = FakeCluster::start().await;
    for i in 0..8 {
        cluster.add_node(lab_node(&format!("node{i}")));
    }
    // Constant pod traffic: many short pulls.
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(30)));
    let images: Vec<_> = (0..40)
        .map(|i| image(&format!("w_2077_{i:02}"), &format!("sha256:{i:02}")))
        .collect();
    init_logs();
    let a = Replica::start(&cluster, "replica-a", images.clone());
    assert!(a.wait_leader(true, 2 * LEASE).await);
    let b = Replica::start(&cluster, "replica-b", images);
    assert!(
        cluster
            .wait_until(2 * LEASE, |c| !prepull_pods(c).is_empty())
            .await
    );
    tokio::time::sleep(2 * RENEW).await;

    // A network partition between A and the API server, for Lease calls only: A's pod calls
    // still go through, so only A itself can stop them.
    cluster.set_client_fault("replica-a", "leases", Some(ClientFault::Hang));
    assert!(
        b.wait_leader(true, 2 * LEASE + 2 * RENEW).await,
        "B takes over the lease A cannot renew"
    );
    // Give A every chance to write after the takeover.
    tokio::time::sleep(LEASE).await;

    let a_pods: Vec<_> = writes(&cluster, "replica-a")
        .into_iter()
        .filter(|r| r.resource == "pods")
        .collect();
    let last_a = a_pods.last().expect("A wrote pods while it led");
    let first_b = writes(&cluster, "replica-b")
        .into_iter()
        .next()
        .expect("B wrote the lease");
    assert_eq!(first_b.resource, "leases", "{first_b:?}");
    eprintln!(
        "A's last pod write at {:?}, B's first write at {:?}",
        last_a.at, first_b.at
    );
    assert!(
        last_a.at < first_b.at,
        "A wrote pods after B took over: A {last_a:?}, B {first_b:?}"
    );
    assert!(!a.election.is_leader());
    assert!(!a.prepuller.status().borrow().active);
    let b_pods = writes(&cluster, "replica-b")
        .into_iter()
        .filter(|r| r.resource == "pods")
        .count();
    assert!(b_pods > 0, "B prepulls");

    cluster.heal_client("replica-a");
    b.shutdown().await;
    a.shutdown().await;
    assert_no_prepull_pods(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_follows_the_lease_duration_the_holder_wrote() {
    let cluster = FakeCluster::start().await;
    // A promises 3 s; B's own setting says 1 s.
    let mut long = leader_config("replica-a");
    long.lease_duration = Duration::from_secs(3);
    long.renew_deadline = Duration::from_secs(2);
    let a = LeaderElection::start(cluster.client_for("replica-a"), long);
    assert!(wait_leader(&a, true, 2 * LEASE).await);
    let b = LeaderElection::start(cluster.client_for("replica-b"), leader_config("replica-b"));
    tokio::time::sleep(2 * RENEW).await;
    let last_renewal = cluster
        .lease_log()
        .last()
        .map(|record| record.at)
        .expect("A renewed");
    drop(a);
    assert!(
        !wait_leader(&b, true, Duration::from_secs(2)).await,
        "B took a lease the record says is still valid"
    );
    assert!(wait_leader(&b, true, Duration::from_secs(3)).await);
    let takeover = cluster
        .lease_log()
        .into_iter()
        .find(|record| record.holder.as_deref() == Some("replica-b"))
        .expect("B took over");
    assert!(
        takeover.at >= last_renewal + Duration::from_secs(3),
        "taken {:?} after the last renewal",
        takeover.at - last_renewal
    );
    b.shutdown().await;
}
