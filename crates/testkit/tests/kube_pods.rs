//! The fake cluster's pods and simulated kubelet, seen through a plain kube-rs client:
//! lifecycle to Succeeded, node image lists, 404/409 semantics, pull behaviours, pod GC.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Toleration};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::ResourceExt;
use rsp_testkit::builders::digest;
use rsp_testkit::kube::{self as kube_fake, node, FakeCluster, PodEventKind, PullBehaviour};

const WAIT: Duration = Duration::from_secs(5);

fn image(tag: &str, n: u32) -> String {
    format!("reg.io/lsst/sciplat:{tag}@{}", digest(n))
}

fn prepull_pod(name: &str, node: &str, image: &str) -> Pod {
    kube_fake::pod(name, image)
        .node(node)
        .label("app.kubernetes.io/managed-by", "rsp-images")
        .label("app.kubernetes.io/component", "prepuller")
        .build()
}

/// Creates a prepull pod through the API.
async fn create(pods: &Api<Pod>, name: &str, node: &str, image: &str) -> Pod {
    pods.create(&PostParams::default(), &prepull_pod(name, node, image))
        .await
        .expect("create pod")
}

fn waiting_reason(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let waiting = statuses.first()?.state.as_ref()?.waiting.as_ref()?;
    waiting.reason.clone()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn image_id(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .map(|c| c.image_id.clone())
        .unwrap_or_default()
}

fn node_image_names(node: &Node) -> Vec<Vec<String>> {
    node.status
        .as_ref()
        .and_then(|s| s.images.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.names.unwrap_or_default())
        .collect()
}

fn api_status(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("expected an API error, got {other}"),
    }
}

async fn wait_phase(pods: &Api<Pod>, name: &str, want: &str) -> Pod {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pod = pods.get(name).await.expect("get pod");
        if phase(&pod) == want || tokio::time::Instant::now() > deadline {
            return pod;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pod_runs_to_succeeded_and_node_gains_image() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let img = image("w_2077_43", 1);
    let created = create(&pods, "p1", "n1", &img).await;
    assert_eq!(phase(&created), "Pending");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let done = wait_phase(&pods, "p1", "Succeeded").await;
    assert_eq!(phase(&done), "Succeeded");
    assert_eq!(
        image_id(&done),
        format!("reg.io/lsst/sciplat@{}", digest(1))
    );
    // Pulled by tag and digest: containerd records the digest reference only.
    let names = node_image_names(&cluster.node("n1").expect("node"));
    assert_eq!(
        names,
        vec![vec![format!("reg.io/lsst/sciplat@{}", digest(1))]]
    );
}

#[tokio::test]
async fn create_existing_is_409_and_delete_missing_is_404() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let pod = prepull_pod("p1", "n1", &image("r", 2));
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    assert_eq!(api_status(err), (409, "AlreadyExists".into()));

    let deleted = pods
        .delete("p1", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_left(), "pods answer a delete with the object");
    // Graceful: the pod is gone once the kubelet has stopped it.
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pods("default").is_empty())
            .await
    );
    let err = pods
        .delete("p1", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_status(err), (404, "NotFound".into()));
    let err = pods.get("p1").await.unwrap_err();
    assert_eq!(api_status(err).0, 404);

    let stats = cluster.stats();
    assert_eq!(
        (stats.pods_created, stats.pods_deleted, stats.current_pods),
        (1, 1, 0)
    );
    assert_eq!(stats.peak_prepull_pods, 1);
    assert_eq!(stats.requests("create", "pods"), 2);
    assert_eq!(stats.requests("delete", "pods"), 2);
    let kinds: Vec<_> = cluster.pod_events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [PodEventKind::Created, PodEventKind::Deleted]);
}

#[tokio::test]
async fn node_images_are_capped_at_50_largest_first() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.set_pull("reg.io", PullBehaviour::Succeed(Duration::from_millis(1)));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    for i in 1..=55u32 {
        let tag = format!("t{i}");
        cluster.set_image_size(&format!(":{tag}@"), i64::from(i) * 1000);
        let name = format!("p{i}");
        create(&pods, &name, "n1", &image(&tag, i)).await;
        wait_phase(&pods, &name, "Succeeded").await;
    }
    let images = cluster
        .node("n1")
        .and_then(|n| n.status)
        .and_then(|s| s.images)
        .unwrap();
    assert_eq!(images.len(), 50);
    let sizes: Vec<i64> = images.iter().map(|i| i.size_bytes.unwrap_or(0)).collect();
    let expected: Vec<i64> = (6..=55).rev().map(|i| i * 1000).collect();
    assert_eq!(sizes, expected);
}

#[tokio::test]
async fn pull_behaviours() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.set_pull("backoff", PullBehaviour::PullBackOff);
    cluster.set_pull(
        "nocmd",
        PullBehaviour::MissingCommand(Duration::from_millis(10)),
    );
    cluster.set_pull(&digest(9), PullBehaviour::Hang);
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    create(&pods, "a", "n1", &image("backoff", 7)).await;
    create(&pods, "b", "n1", &image("nocmd", 8)).await;
    create(&pods, "c", "n1", &image("hang", 9)).await;

    let failed = wait_phase(&pods, "b", "Failed").await;
    let cs = failed
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap();
    let term = cs[0]
        .state
        .as_ref()
        .and_then(|s| s.terminated.clone())
        .expect("terminated");
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (127, Some("StartError"))
    );
    assert_eq!(
        image_id(&failed),
        format!("reg.io/lsst/sciplat@{}", digest(8))
    );

    let backed_off = cluster
        .wait_until(WAIT, |c| {
            c.pod("default", "a")
                .is_some_and(|p| waiting_reason(&p).as_deref() == Some("ImagePullBackOff"))
        })
        .await;
    assert!(backed_off, "the failing pull ends in ImagePullBackOff");
    let backoff = pods.get("a").await.unwrap();
    assert_eq!(phase(&backoff), "Pending");
    assert_eq!(image_id(&backoff), "");
    let hung = pods.get("c").await.unwrap();
    assert_eq!((phase(&hung), image_id(&hung).as_str()), ("Pending", ""));

    // Only the image that was actually pulled shows on the node.
    let names = node_image_names(&cluster.node("n1").unwrap());
    assert_eq!(names.len(), 1);
    assert!(names[0][0].ends_with(&digest(8)));
}

#[tokio::test]
async fn pods_on_missing_nodes_wait_and_pods_of_removed_nodes_are_collected() {
    let cluster = FakeCluster::start().await;
    cluster.set_pull("slow", PullBehaviour::Succeed(Duration::from_secs(30)));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    create(&pods, "later", "n2", &image("fast", 3)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(phase(&pods.get("later").await.unwrap()), "Pending");
    cluster.add_node(node("n2"));
    assert_eq!(
        phase(&wait_phase(&pods, "later", "Succeeded").await),
        "Succeeded"
    );

    cluster.add_node(node("n3"));
    create(&pods, "doomed", "n3", &image("slow", 4)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    cluster.remove_node("n3");
    let err = pods.get("doomed").await.unwrap_err();
    assert_eq!(api_status(err).0, 404);
    let list = pods
        .list(&ListParams::default().fields("spec.nodeName=n3"))
        .await
        .unwrap();
    assert!(list.items.is_empty());
}

#[tokio::test]
async fn graceful_deletion_keeps_the_name_until_the_pod_is_gone() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.set_pull("hang", PullBehaviour::Hang);
    // Long enough that the create below surely comes while the pod is terminating.
    cluster.set_kill_time(Duration::from_secs(1));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let pod = prepull_pod("p", "n1", &image("hang", 5));
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let marked = pods.delete("p", &DeleteParams::default()).await.unwrap();
    let marked = marked.left().expect("object while terminating");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    assert_eq!(api_status(err).0, 409);
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pods("default").is_empty())
            .await
    );
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("name free again");
    assert_eq!(cluster.stats().peak_pods, 1);
}

#[tokio::test]
async fn node_status_can_lag_behind_the_pull() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    // Long enough that the check below surely comes before the node reports.
    cluster.set_node_status_delay(Duration::from_secs(1));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    create(&pods, "p", "n1", &image("lag", 6)).await;
    let done = wait_phase(&pods, "p", "Succeeded").await;
    assert!(!image_id(&done).is_empty());
    assert!(node_image_names(&cluster.node("n1").unwrap()).is_empty());
    let shown = cluster
        .wait_until(WAIT, |c| {
            c.node("n1")
                .is_some_and(|n| !node_image_names(&n).is_empty())
        })
        .await;
    assert!(shown, "the node reports the image after the status delay");
}

#[tokio::test]
async fn no_execute_taints_evict_pods_that_do_not_tolerate_them() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.add_node(node("dead").taint("gone", "", "NoExecute"));
    cluster.set_pull("hang", PullBehaviour::Hang);
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let pp = PostParams::default();

    // Binding bypasses NoSchedule taints but not NoExecute ones: the pod is evicted.
    create(&pods, "evicted", "dead", &image("hang", 1)).await;
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pod("default", "evicted").is_none())
            .await
    );

    cluster.taint_node("n1", "soft", "", "NoSchedule");
    create(&pods, "stays", "n1", &image("hang", 2)).await;
    let mut tolerant = prepull_pod("tolerant", "n1", &image("hang", 3));
    tolerant.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
        key: Some("hard".into()),
        operator: Some("Exists".into()),
        ..Default::default()
    }]);
    pods.create(&pp, &tolerant).await.unwrap();
    assert!(cluster.pod("default", "stays").is_some());

    cluster.taint_node("n1", "hard", "x", "NoExecute");
    // Evicted gracefully: terminating at once, gone once the kubelet confirms.
    let stays = cluster
        .pod("default", "stays")
        .expect("still there while terminating");
    assert!(stays.metadata.deletion_timestamp.is_some());
    assert!(
        cluster
            .wait_until(WAIT, |c| c.pods("default").len() == 1)
            .await
    );
    let names: Vec<String> = cluster
        .pods("default")
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(names, ["tolerant"]);
    assert_eq!(cluster.stats().pods_deleted, 2);
}

#[tokio::test]
async fn not_ready_nodes_hold_pods_and_cached_images_are_not_pulled_again() {
    let cluster = FakeCluster::start().await;
    let cached = format!("reg.io/lsst/sciplat@{}", digest(4));
    cluster.add_node(node("sick").not_ready().image(&[cached.as_str()], 5_000));
    // The pull would take far longer than the test waits: only the cache can explain success.
    cluster.set_pull("sciplat", PullBehaviour::Succeed(Duration::from_secs(60)));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    create(&pods, "p", "sick", &image("w_1", 4)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(phase(&pods.get("p").await.unwrap()), "Pending");

    cluster.set_ready("sick", true);
    let done = wait_phase(&pods, "p", "Succeeded").await;
    assert_eq!(phase(&done), "Succeeded");
    // Pulled by tag and digest: nothing joins the names the node already had.
    let names = node_image_names(&cluster.node("sick").unwrap());
    assert_eq!(names, vec![vec![cached]]);
}

#[tokio::test]
async fn a_backed_off_pull_succeeds_once_the_image_is_fixed() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("n1"));
    cluster.set_pull("flaky", PullBehaviour::PullBackOff);
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    create(&pods, "p", "n1", &image("flaky", 5)).await;
    let stuck = cluster
        .wait_until(WAIT, |c| {
            c.pod("default", "p")
                .is_some_and(|p| waiting_reason(&p).as_deref() == Some("ImagePullBackOff"))
        })
        .await;
    assert!(stuck);
    cluster.set_pull("flaky", PullBehaviour::Succeed(Duration::from_millis(10)));
    assert_eq!(
        phase(&wait_phase(&pods, "p", "Succeeded").await),
        "Succeeded"
    );
}
