//! The original's prepuller scenarios (behaviour.md §11) and the fixes of decisions.md §5–§6,
//! against the fake cluster. Every test ends by checking that no prepull pod is left.

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use rsp_kube::{FailureReason, PrepullOutcome};
use rsp_testkit::builders::{cached, image};
use rsp_testkit::kube::{lab_node, FakeCluster, PodEventKind, PullBehaviour};
use serde_json::json;

const SECOND: Duration = Duration::from_secs(1);

/// The standard nodes: node1 holds both digests, node2 only `sha256:5678`.
async fn standard_cluster() -> FakeCluster {
    let cluster = FakeCluster::start().await;
    cluster.add_node(
        lab_node("node1")
            .image(&[cached("sha256:1234")], 69105)
            .image(&[cached("sha256:5678")], 65537),
    );
    cluster.add_node(lab_node("node2").image(&[cached("sha256:5678")], 65537));
    cluster
}

fn standard_images() -> Vec<rsp_kube::PrepullImage> {
    vec![
        image("w_2077_43", "sha256:5678"),
        image("d_2077_10_23", "sha256:1234"),
    ]
}

/// The pod of `objects/prepull.json`, written out from behaviour.md §8.6, with rsp-images'
/// own labels and name prefix, no owner, and the hardening of the `restricted` profile
/// (decisions.md §8).
fn expected_docker_pod() -> serde_json::Value {
    json!({
        "metadata": {
            "name": "rsp-prepull-d-2077-10-23-node2",
            "namespace": "nublado",
            "labels": {
                "app.kubernetes.io/managed-by": "rsp-images",
                "app.kubernetes.io/name": "rsp-images",
                "app.kubernetes.io/component": "prepuller"
            }
        },
        "spec": {
            "containers": [{
                "name": "prepull",
                "image": "lighthouse.ceres/library/sketchbook:d_2077_10_23@sha256:1234",
                "command": ["/bin/true"],
                "workingDir": "/tmp",
                "resources": {
                    "limits": {"cpu": "1m", "memory": "16Mi"},
                    "requests": {"cpu": "1m", "memory": "16Mi"}
                },
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                }
            }],
            "imagePullSecrets": [{"name": "pull-secret"}],
            "nodeName": "node2",
            "restartPolicy": "Never",
            "tolerations": [
                {"effect": "NoSchedule", "key": "some-toleration", "operator": "Equal",
                 "value": "some-value"},
                {"key": "other-toleration", "operator": "Exists"}
            ],
            "automountServiceAccountToken": false,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"}
            }
        }
    })
}

/// A pod as created, without what the server adds.
fn as_created(pod: &k8s_openapi::api::core::v1::Pod) -> serde_json::Value {
    let mut value = serde_json::to_value(pod).unwrap();
    let metadata = value["metadata"].as_object_mut().unwrap();
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
    ] {
        metadata.remove(field);
    }
    let object = value.as_object_mut().unwrap();
    for field in ["status", "apiVersion", "kind"] {
        object.remove(field);
    }
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_creates_exactly_the_expected_pod_and_marks_on_success() {
    let cluster = standard_cluster().await;
    cluster.set_pull(
        "d_2077_10_23",
        PullBehaviour::Succeed(Duration::from_millis(500)),
    );
    let mut harness = Harness::start(&cluster, fast_config(), standard_images());
    let appeared = cluster
        .wait_until(5 * SECOND, |c| !prepull_pods(c).is_empty())
        .await;
    assert!(appeared, "no prepull pod created");
    let pods = prepull_pods(&cluster);
    assert_eq!(pods.len(), 1, "exactly one pod: node1 has everything");
    assert_eq!(as_created(&pods[0]), expected_docker_pod());
    assert!(!harness
        .status
        .borrow()
        .pulled
        .contains("node2", "sha256:1234"));
    let event = harness.event(5 * SECOND, |_| true).await.unwrap();
    assert_eq!(event.outcome, PrepullOutcome::Succeeded);
    assert_eq!(
        (event.node.as_str(), event.pod.as_str()),
        ("node2", "rsp-prepull-d-2077-10-23-node2")
    );
    assert!(
        harness
            .wait_pulled(2 * SECOND, &[("node2", "sha256:1234")])
            .await
    );
    assert_no_prepull_pods(&cluster).await;
    assert_eq!(created_pods(&cluster), ["rsp-prepull-d-2077-10-23-node2"]);
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gar_prepulls_one_image_per_node_in_two_rounds() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    let images = vec![
        image("w_2077_43", "sha256:43"),
        image("w_2077_42", "sha256:42"),
    ];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    let all = [
        ("node1", "sha256:43"),
        ("node2", "sha256:43"),
        ("node1", "sha256:42"),
        ("node2", "sha256:42"),
    ];
    assert!(harness.wait_pulled(10 * SECOND, &all).await);
    let created = created_pods(&cluster);
    assert_eq!(created.len(), 4, "{created:?}");
    let mut first_round = created[..2].to_vec();
    first_round.sort();
    assert_eq!(
        first_round,
        ["rsp-prepull-w-2077-43-node1", "rsp-prepull-w-2077-43-node2"]
    );
    let mut second_round = created[2..].to_vec();
    second_round.sort();
    assert_eq!(
        second_round,
        ["rsp-prepull-w-2077-42-node1", "rsp-prepull-w-2077-42-node2"]
    );
    // One image at a time per node: a node's second pod comes after its first is gone.
    let log = cluster.pod_events();
    for node in ["node1", "node2"] {
        let position = |kind, name: &str| log.iter().position(|e| e.kind == kind && e.name == name);
        let first_deleted = position(
            PodEventKind::Deleted,
            &format!("rsp-prepull-w-2077-43-{node}"),
        );
        let second_created = position(
            PodEventKind::Created,
            &format!("rsp-prepull-w-2077-42-{node}"),
        );
        assert!(
            first_deleted.unwrap() < second_created.unwrap(),
            "{node}: {log:?}"
        );
    }
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_name_pod_it_did_not_create_is_left_alone() {
    let cluster = standard_cluster().await;
    // Not one of rsp-images' pods (no label), so only the create's 409 reveals it.
    let squatter: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "rsp-prepull-d-2077-10-23-node2", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "other", "image": "example/other:1"}]}
    }))
    .unwrap();
    let squatter = cluster.create_pod_directly(squatter);
    let mut harness = Harness::start(&cluster, fast_config(), standard_images());
    let event = harness.event(5 * SECOND, |_| true).await.unwrap();
    let PrepullOutcome::Failed {
        reason, message, ..
    } = &event.outcome
    else {
        panic!("expected a failure, got {event:?}");
    };
    assert_eq!(*reason, FailureReason::CreateFailed);
    assert!(message.contains("did not create"), "{message}");
    let still = cluster
        .pod(NAMESPACE, "rsp-prepull-d-2077-10-23-node2")
        .expect("the other pod is still there");
    assert_eq!(still.metadata.uid, squatter.metadata.uid);
    assert!(
        cluster.request_log().iter().all(|r| r.verb != "delete"),
        "nothing was deleted"
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_removed_mid_prepull_drops_its_work_without_errors() {
    let cluster = standard_cluster().await;
    cluster.set_pull("d_2077_10_23", PullBehaviour::Hang);
    let mut harness = Harness::start(&cluster, fast_config(), standard_images());
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| !prepull_pods(c).is_empty())
            .await
    );
    cluster.remove_node("node2");
    assert!(
        harness
            .wait_status(5 * SECOND, |s| s.in_flight == 0 && s.pulls.is_empty())
            .await
    );
    assert!(
        harness.drain_events().is_empty(),
        "no success and no failure for a node that left"
    );
    assert_no_prepull_pods(&cluster).await;
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_error_on_create_is_reported_and_retried() {
    let cluster = standard_cluster().await;
    cluster.fail_next("create", "pods", 1, 400);
    let mut config = fast_config();
    // Long enough to look at the status while the pair backs off.
    config.backoff.initial = Duration::from_secs(2);
    let mut harness = Harness::start(&cluster, config, standard_images());
    let failure = harness.event(5 * SECOND, |_| true).await.unwrap();
    let PrepullOutcome::Failed {
        reason, message, ..
    } = &failure.outcome
    else {
        panic!("expected a failure, got {failure:?}");
    };
    assert_eq!(*reason, FailureReason::CreateFailed);
    assert!(
        message.starts_with(
            "Error creating object (Pod nublado/rsp-prepull-d-2077-10-23-node2, status 400)"
        ),
        "{message}"
    );
    let in_status = harness
        .wait_status(SECOND, |status| {
            status.pull("node2", "sha256:1234").is_some_and(|pull| {
                pull.last_error_reason == Some(FailureReason::CreateFailed)
                    && pull.last_error_at.is_some()
                    && pull.backing_off_until.is_some()
            })
        })
        .await;
    assert!(in_status, "the failure shows in the status");
    let retry = harness.event(5 * SECOND, |_| true).await.unwrap();
    assert_eq!(
        retry.outcome,
        PrepullOutcome::Succeeded,
        "retried after the backoff"
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_that_times_out_is_deleted_and_backs_off() {
    let cluster = standard_cluster().await;
    cluster.set_pull("d_2077_10_23", PullBehaviour::Hang);
    let mut config = fast_config();
    config.prepull_timeout = Duration::from_millis(700);
    let mut harness = Harness::start(&cluster, config, standard_images());
    let event = harness.event(5 * SECOND, |_| true).await.unwrap();
    assert!(
        matches!(
            &event.outcome,
            PrepullOutcome::Failed {
                reason: FailureReason::Timeout,
                ..
            }
        ),
        "{event:?}"
    );
    assert!(event.duration >= Duration::from_millis(700));
    assert!(
        cluster
            .wait_until(2 * SECOND, |c| c
                .pod_events()
                .iter()
                .any(|e| e.kind == PodEventKind::Deleted))
            .await,
        "the timed-out pod is deleted"
    );
    assert!(!harness
        .status
        .borrow()
        .pulled
        .contains("node2", "sha256:1234"));
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_image_backs_off_while_others_proceed() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.add_node(lab_node("node2"));
    cluster.set_pull("broken", PullBehaviour::PullBackOff);
    let images = vec![
        image("broken", "sha256:bad"),
        image("w_2077_43", "sha256:43"),
    ];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    assert!(
        harness
            .wait_pulled(
                5 * SECOND,
                &[("node1", "sha256:43"), ("node2", "sha256:43")]
            )
            .await
    );
    let status = harness.status.borrow().clone();
    for node in ["node1", "node2"] {
        let broken = status
            .pull(node, "sha256:bad")
            .expect("broken pair is tracked");
        assert!(broken.failures >= 1);
        assert_eq!(broken.last_error_reason, Some(FailureReason::PullError));
        assert!(
            broken
                .last_error
                .as_deref()
                .unwrap()
                .contains("ImagePullBackOff")
                || broken
                    .last_error
                    .as_deref()
                    .unwrap()
                    .contains("ErrImagePull")
        );
    }
    assert!(!status.pulled.contains("node1", "sha256:bad"));
    assert!(status.failed_total[&FailureReason::PullError] >= 2);
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_without_bin_true_counts_as_pulled() {
    let cluster = standard_cluster().await;
    cluster.set_pull(
        "d_2077_10_23",
        PullBehaviour::MissingCommand(Duration::from_millis(50)),
    );
    let mut harness = Harness::start(&cluster, fast_config(), standard_images());
    let event = harness.event(5 * SECOND, |_| true).await.unwrap();
    assert_eq!(event.outcome, PrepullOutcome::Succeeded);
    assert!(
        harness
            .wait_pulled(2 * SECOND, &[("node2", "sha256:1234")])
            .await
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_joins_gets_its_first_pod_within_two_seconds() {
    let cluster = standard_cluster().await;
    let mut harness = Harness::start(&cluster, fast_config(), standard_images());
    assert!(
        harness
            .wait_pulled(5 * SECOND, &[("node2", "sha256:1234")])
            .await
    );
    let before = cluster.pod_events().len();
    let joined = tokio::time::Instant::now();
    cluster.add_node(lab_node("node3"));
    let served = cluster
        .wait_until(2 * SECOND, |c| {
            c.pod_events()[before..]
                .iter()
                .any(|e| e.kind == PodEventKind::Created && e.node == "node3")
        })
        .await;
    assert!(served, "node3 got no pod within 2 s");
    eprintln!("first pod on the new node after {:?}", joined.elapsed());
    assert!(
        harness
            .wait_pulled(
                5 * SECOND,
                &[("node3", "sha256:1234"), ("node3", "sha256:5678")]
            )
            .await
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_tainted_and_not_ready_nodes_get_no_pods() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("cordoned").unschedulable());
    cluster.add_node(lab_node("tainted").taint("some-taint", "other-value", "NoSchedule"));
    cluster.add_node(lab_node("tolerated").taint("other-toleration", "x", "NoSchedule"));
    cluster.add_node(lab_node("not-ready").not_ready());
    cluster.add_node(rsp_testkit::kube::node("unlabelled"));
    let images = vec![image("w_2077_43", "sha256:43")];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    assert!(
        harness
            .wait_pulled(5 * SECOND, &[("tolerated", "sha256:43")])
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let nodes: Vec<String> = cluster.pod_events().into_iter().map(|e| e.node).collect();
    assert!(nodes.iter().all(|node| node == "tolerated"), "{nodes:?}");
    // Uncordoning makes the node eligible: it is served promptly.
    cluster.update_node("cordoned", |n| {
        n.spec.as_mut().unwrap().unschedulable = None
    });
    assert!(
        harness
            .wait_pulled(2 * SECOND, &[("cordoned", "sha256:43")])
            .await
    );
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_adopts_wanted_leftovers_and_removes_the_rest() {
    let cluster = standard_cluster().await;
    cluster.add_node(
        lab_node("node3")
            .image(&[cached("sha256:1234")], 1)
            .image(&[cached("sha256:5678")], 1),
    );
    cluster.set_pull(
        "d_2077_10_23",
        PullBehaviour::Succeed(Duration::from_millis(800)),
    );
    let config = fast_config();
    let template = config.pod.clone();
    // A wanted pull still running (node2 needs the daily), and two pods nobody wants: an
    // image no longer prepulled and a pod for a node that is gone.
    let wanted = image("d_2077_10_23", "sha256:1234");
    cluster.create_pod_directly(rsp_kube::prepull_pod(&template, &wanted, "node2"));
    let old = image("w_2077_01", "sha256:old");
    cluster.create_pod_directly(rsp_kube::prepull_pod(&template, &old, "node3"));
    cluster.create_pod_directly(rsp_kube::prepull_pod(&template, &wanted, "node9"));
    let mut harness = Harness::start(&cluster, config, standard_images());
    let event = harness.event(5 * SECOND, |_| true).await.unwrap();
    assert_eq!(event.outcome, PrepullOutcome::Succeeded);
    assert_eq!(event.pod, "rsp-prepull-d-2077-10-23-node2");
    assert_eq!(
        cluster.stats().requests("create", "pods"),
        0,
        "the leftover was adopted"
    );
    assert_no_prepull_pods(&cluster).await;
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fifty_image_cap_does_not_cause_repulls() {
    let cluster = FakeCluster::start().await;
    let mut busy = lab_node("busy");
    for i in 0..50 {
        busy = busy.image(&[format!("example/big{i}@sha256:big{i}")], 10_000_000_000);
    }
    cluster.add_node(busy);
    cluster.set_image_size("sketchbook", 1000);
    let images = vec![image("w_2077_43", "sha256:43")];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    assert!(
        harness
            .wait_pulled(5 * SECOND, &[("busy", "sha256:43")])
            .await
    );
    // kubelet reports only the 50 largest images: ours is not among them.
    let node = cluster.node("busy").unwrap();
    let reported = node.status.unwrap().images.unwrap();
    assert_eq!(reported.len(), 50);
    assert!(!reported
        .iter()
        .flat_map(|i| i.names.clone().unwrap())
        .any(|n| n.contains("sha256:43")));
    // Node updates make the prepuller re-plan; the remembered pull keeps it from pulling again.
    for round in 0..3 {
        cluster.update_node("busy", |n| {
            n.metadata
                .labels
                .as_mut()
                .unwrap()
                .insert("round".into(), round.to_string());
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(created_pods(&cluster).len(), 1);
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deletes_pods_in_flight() {
    let cluster = standard_cluster().await;
    cluster.add_node(lab_node("node3"));
    cluster.set_pull("", PullBehaviour::Hang);
    let harness = Harness::start(&cluster, fast_config(), standard_images());
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| prepull_pods(c).len() == 2)
            .await
    );
    // `finish` shuts down and asserts that nothing is left.
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_on_pods_in_flight_holds() {
    let cluster = FakeCluster::start().await;
    for i in 0..12 {
        cluster.add_node(lab_node(&format!("node{i:02}")));
    }
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(100)));
    let mut config = fast_config();
    config.max_in_flight = 3;
    let images = vec![image("a", "sha256:a"), image("b", "sha256:b")];
    let mut harness = Harness::start(&cluster, config, images);
    let pairs: Vec<(String, &str)> = (0..12)
        .flat_map(|i| {
            [
                (format!("node{i:02}"), "sha256:a"),
                (format!("node{i:02}"), "sha256:b"),
            ]
        })
        .collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    assert!(harness.wait_pulled(20 * SECOND, &pairs).await);
    let stats = cluster.stats();
    assert!(
        stats.peak_prepull_pods <= 3,
        "peak {}",
        stats.peak_prepull_pods
    );
    assert_eq!(stats.pods_created, 24);
    harness.finish().await;
}

/// An init container image known by name (its registry never answered): pods pull it by tag
/// under the same cap as lab images, onto the nodes that do not list its name; a node whose
/// kubelet lists the name (pulled from another digest, or before) counts as having it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_images_known_by_name_are_pulled_by_tag_under_the_cap() {
    let init = rsp_model::init_image::InitImage::new("ghcr.io/lsst-sqre/nublado", "10.0.0")
        .prepull_image();
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node0").image(
        &[
            "ghcr.io/lsst-sqre/nublado@sha256:99".to_owned(),
            "ghcr.io/lsst-sqre/nublado:10.0.0".to_owned(),
        ],
        1000,
    ));
    for i in 1..5 {
        cluster.add_node(lab_node(&format!("node{i}")));
    }
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(100)));
    let mut config = fast_config();
    config.max_in_flight = 2;
    let images = vec![image("w_2077_43", "sha256:43"), init.clone()];
    let mut harness = Harness::start(&cluster, config, images);
    let nodes = ["node1", "node2", "node3", "node4"];
    let mut wanted = pairs(&nodes, &["sha256:43", init.digest.as_str()]);
    wanted.push(("node0", "sha256:43"));
    assert!(harness.wait_pulled(20 * SECOND, &wanted).await);
    assert!(
        cluster.stats().peak_prepull_pods <= 2,
        "peak {}",
        cluster.stats().peak_prepull_pods
    );
    let init_pods: Vec<String> = created_pods(&cluster)
        .into_iter()
        .filter(|name| name.contains("nublado"))
        .collect();
    assert_eq!(
        init_pods.len(),
        4,
        "one per node without it, none for node0: {init_pods:?}"
    );
    assert!(init_pods.contains(&"rsp-prepull-ghcr.io-lsst-sqre-nublado-10.0.0-node1".to_owned()));
    harness.assert_no_failures();
    assert_no_prepull_pods(&cluster).await;
    harness.finish().await;
}
