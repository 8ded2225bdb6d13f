//! Admission and validation: prepull pods pass the `restricted` Pod Security Standard in a
//! namespace that enforces it (images without `/bin/true` included), and carry only what the
//! API server accepts from the configuration.

mod cluster_support;

use std::time::Duration;

use cluster_support::*;
use rsp_testkit::builders::image;
use rsp_testkit::kube::{lab_node, FakeCluster, PullBehaviour};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepull_pods_are_admitted_where_the_restricted_profile_is_enforced() {
    let cluster = FakeCluster::start().await;
    cluster.label_namespace(
        NAMESPACE,
        "pod-security.kubernetes.io/enforce",
        Some("restricted"),
    );
    cluster.add_node(lab_node("node1"));
    cluster.set_pull(
        "no_true",
        PullBehaviour::MissingCommand(Duration::from_millis(50)),
    );
    let images = vec![
        image("w_2077_43", "sha256:43"),
        image("no_true", "sha256:77"),
    ];
    let mut harness = Harness::start(&cluster, fast_config(), images);
    assert!(
        harness
            .wait_pulled(
                5 * SECOND,
                &[("node1", "sha256:43"), ("node1", "sha256:77")]
            )
            .await
    );
    harness.assert_no_failures();
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toleration_seconds_without_no_execute_stay_out_of_the_pod() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.set_pull("", PullBehaviour::Hang);
    // The standard configuration's first toleration: NoSchedule with tolerationSeconds, which
    // the API server refuses in a pod (422).
    let config = fast_config();
    assert_eq!(config.pod.tolerations[0].toleration_seconds, Some(60));
    let harness = Harness::start(&cluster, config, vec![image("w_2077_43", "sha256:43")]);
    assert!(
        cluster
            .wait_until(5 * SECOND, |c| prepull_pods(c).len() == 1)
            .await,
        "the pod was created"
    );
    let pod = prepull_pods(&cluster).remove(0);
    let tolerations = pod.spec.unwrap().tolerations.unwrap();
    assert_eq!(tolerations[0].effect.as_deref(), Some("NoSchedule"));
    assert_eq!(tolerations[0].toleration_seconds, None);
    harness.finish().await;
}
