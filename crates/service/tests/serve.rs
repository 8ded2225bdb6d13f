//! The whole service in process, against a saved listing and a fake cluster: the supervision
//! of the long-running tasks, each killed or panicked through the test-only fault hooks, after
//! which the service must restart it (and go on working) or stop reporting ready.

mod serve_support;

use rsp_config::Config;
use rsp_service::run::Options;
use rsp_service::supervise::{Fault, Faults, Task};
use rsp_testkit::kube::{node, FakeCluster};
use serve_support::{eventually, Running};
use std::path::{Path, PathBuf};
use std::time::Duration;

const REGISTRY: &str = "registry.example";
const REPOSITORY: &str = "lsst/sciplat-lab";
const NAMESPACE: &str = "nublado";
const WEEKLY: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000043";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsp-service-serve-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A saved listing with `recommended` and `w_2077_43` on one digest.
fn write_snapshot(dir: &Path) {
    let images = serde_json::json!({"dockerImages": [{
        "name": format!("{REPOSITORY}@{WEEKLY}"),
        "uri": format!("{REGISTRY}/{REPOSITORY}@{WEEKLY}"),
        "tags": ["recommended", "w_2077_43"],
        "imageSizeBytes": "1000",
    }]});
    std::fs::write(dir.join("listing.json"), images.to_string()).unwrap();
}

fn config(dir: &Path, cluster: &str) -> Config {
    let text = format!(
        "images:\n  source:\n    type: snapshot\n    path: listing.json\n    registry: {REGISTRY}\n    \
         repository: {REPOSITORY}\n  refreshInterval: 1s\n  numWeeklies: 1\n  numDailies: 0\n  \
         numReleases: 0\nmetadataPath: {}\nprepuller:\n  namespace: {NAMESPACE}\n{cluster}",
        dir.join("podinfo").display()
    );
    Config::from_yaml(&text)
        .expect("valid test configuration")
        .0
}

async fn restarts(service: &Running, task: Task) -> f64 {
    let sample = format!("rsp_images_task_restarts_total{{task=\"{}\"}}", task.name());
    service.metric(&sample).await.unwrap_or(0.0)
}

/// The nodes `/prepulls` lists.
async fn nodes(service: &Running) -> Vec<String> {
    let (_, body) = service.get("/nublado/spawner/v1/prepulls").await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    body["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .filter_map(|node| node["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Adds a node to the cluster and waits until the API lists it.
async fn serves_a_new_node(service: &Running, cluster: &FakeCluster, name: &str) {
    cluster.add_node(node(name));
    eventually("the new node served", Duration::from_secs(10), || async {
        nodes(service).await.iter().any(|node| node == name)
    })
    .await;
}

/// Kills `task`, waits for its restart, and checks the status page says so.
async fn kill_and_wait_for_restart(service: &Running, task: Task, fault: Fault) {
    let before = restarts(service, task).await;
    service.faults.inject(task, fault);
    eventually("the task restarted", Duration::from_secs(10), || async {
        restarts(service, task).await > before
    })
    .await;
    let up = format!("rsp_images_task_up{{task=\"{}\"}}", task.name());
    assert_eq!(service.metric(&up).await, Some(1.0));
    let (_, page) = service.get("/nublado/").await;
    assert!(
        page.contains(&format!("{} was restarted", task.title())),
        "the status page says so: {page}"
    );
    service.wait_ready().await;
}

/// Whether kubelet reports the weekly on `node`.
fn has_weekly(cluster: &FakeCluster, node: &str) -> bool {
    has_image(cluster, node, &format!("{REGISTRY}/{REPOSITORY}@{WEEKLY}"))
}

/// Whether kubelet lists `name` among the images of `node`.
fn has_image(cluster: &FakeCluster, node: &str, name: &str) -> bool {
    cluster
        .node(node)
        .and_then(|node| node.status?.images)
        .is_some_and(|images| {
            images
                .iter()
                .any(|image| image.names.iter().flatten().any(|listed| listed == name))
        })
}

/// A fake cluster with two lab nodes and the service on it, with fault hooks.
async fn on_a_cluster(name: &str) -> (FakeCluster, Running) {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("node1"));
    cluster.add_node(node("node2"));
    let dir = temp_dir(name);
    write_snapshot(&dir);
    let options = Options {
        kube_client: Some(cluster.client()),
        faults: Faults::for_tests(),
        ..Options::default()
    };
    let service = Running::start(config(&dir, ""), &dir, options).await;
    let prepulled = cluster
        .wait_until(Duration::from_secs(20), |c| {
            has_weekly(c, "node1") && has_weekly(c, "node2")
        })
        .await;
    assert!(prepulled, "the weekly is prepulled");
    (cluster, service)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_refresh_loop_is_restarted_and_refreshes_go_on() {
    let (_cluster, service) = on_a_cluster("refresh").await;
    kill_and_wait_for_restart(&service, Task::Refresh, Fault::Panic).await;
    let success = "rsp_images_refresh_total{outcome=\"success\"}";
    let after_restart = service.metric(success).await.unwrap();
    eventually(
        "a refresh after the restart",
        Duration::from_secs(10),
        || async { service.metric(success).await.unwrap() > after_restart },
    )
    .await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_loop_that_keeps_ending_makes_the_service_unready_until_it_runs() {
    let (_cluster, service) = on_a_cluster("unready").await;
    kill_and_wait_for_restart(&service, Task::Refresh, Fault::End).await;
    // A second death in a row waits before the restart; meanwhile the service is not ready.
    service.faults.inject(Task::Refresh, Fault::End);
    eventually("not ready", Duration::from_secs(5), || async {
        let (status, body) = service.get("/readyz").await;
        status == 503 && body.contains("The registry refresh loop is not running")
    })
    .await;
    let (_, page) = service.get("/nublado/").await;
    assert!(page.contains("The registry refresh loop is down"), "{page}");
    service.wait_ready().await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_world_task_is_restarted_and_follows_the_nodes_again() {
    let (cluster, service) = on_a_cluster("world").await;
    kill_and_wait_for_restart(&service, Task::World, Fault::Panic).await;
    serves_a_new_node(&service, &cluster, "node3").await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_node_watcher_is_restarted_and_sees_new_nodes() {
    let (cluster, service) = on_a_cluster("nodes").await;
    // The served snapshot follows the nodes within a few rebuilds; what is checked below is
    // that a restart keeps them, so they must be served before it.
    eventually("both nodes served", Duration::from_secs(10), || async {
        nodes(&service).await == ["node1", "node2"]
    })
    .await;
    kill_and_wait_for_restart(&service, Task::NodeWatcher, Fault::Panic).await;
    assert_eq!(
        nodes(&service).await,
        ["node1", "node2"],
        "nodes kept meanwhile"
    );
    serves_a_new_node(&service, &cluster, "node3").await;
    service.stop().await;
}

/// A prepuller that dies gives up its Lease before it is started again (a replica that cannot
/// prepull must not keep others from it), then takes it back and prepulls new nodes.
#[tokio::test(flavor = "multi_thread")]
async fn a_dying_prepuller_releases_its_lease_and_is_restarted() {
    let (cluster, service) = on_a_cluster("prepuller").await;
    let holder = || {
        cluster
            .lease(NAMESPACE, "rsp-images-prepuller")
            .and_then(|lease| lease.spec?.holder_identity)
    };
    assert!(holder().is_some(), "the replica holds the Lease");
    kill_and_wait_for_restart(&service, Task::Prepuller, Fault::Panic).await;
    // Dying again in a row, it waits before the restart: the Lease is free meanwhile.
    service.faults.inject(Task::Prepuller, Fault::Panic);
    eventually("the Lease released", Duration::from_secs(5), || async {
        holder().is_none()
    })
    .await;
    assert_eq!(service.get("/readyz").await.0, 200, "the API still serves");
    eventually("the Lease taken back", Duration::from_secs(10), || async {
        holder().is_some()
    })
    .await;
    cluster.add_node(node("node3"));
    let prepulled = cluster
        .wait_until(Duration::from_secs(20), |c| has_weekly(c, "node3"))
        .await;
    assert!(prepulled, "the restarted prepuller prepulls a new node");
    service.stop().await;
    assert!(
        cluster.pods(NAMESPACE).is_empty(),
        "no prepull pod left behind"
    );
}

/// A snapshot task on its own, fed by channels the test holds: the listing starts as the
/// empty placeholder, the nodes as none, the prepuller's report as empty. The task ends when
/// any sender is dropped, so a test binds every one it keeps (a `..` pattern drops the rest).
struct SnapshotInputs {
    listings: tokio::sync::watch::Sender<std::sync::Arc<rsp_model::listing::Listing>>,
    nodes: tokio::sync::watch::Sender<Option<rsp_kube::NodeSnapshot>>,
    _puller: tokio::sync::watch::Sender<std::sync::Arc<rsp_kube::prepuller::PrepullerReport>>,
    current: tokio::sync::watch::Receiver<std::sync::Arc<rsp_service::snapshot::ServedSnapshot>>,
    task: tokio::task::JoinHandle<()>,
}

impl SnapshotInputs {
    fn start(name: &str) -> SnapshotInputs {
        use rsp_kube::prepuller::PrepullerReport;
        use rsp_model::listing::Listing;
        use rsp_service::served::ListingOnNodes;
        use rsp_service::snapshot::{ListingOrigin, ServedSnapshot};
        use rsp_service::state::snapshot_task;
        use std::sync::Arc;
        use tokio::sync::watch;

        let dir = temp_dir(name);
        let config = Arc::new(config(&dir, ""));
        let placeholder = Arc::new(Listing::empty(REGISTRY, REPOSITORY));
        let world =
            ListingOnNodes::new(Arc::clone(&placeholder), &[], &config, &Default::default());
        let (current_tx, current) = watch::channel(Arc::new(ServedSnapshot::new(
            world,
            Arc::new(PrepullerReport::default()),
            ListingOrigin::Placeholder,
        )));
        let (listings_tx, listings) = watch::channel(Arc::clone(&placeholder));
        let (nodes_tx, nodes) = watch::channel(None);
        let (puller_tx, puller) = watch::channel(Arc::new(PrepullerReport::default()));
        let task = tokio::spawn(snapshot_task(
            config,
            placeholder,
            listings,
            nodes,
            puller,
            current_tx,
        ));
        SnapshotInputs {
            listings: listings_tx,
            nodes: nodes_tx,
            _puller: puller_tx,
            current,
            task,
        }
    }
}

/// Readiness follows the state: a served snapshot is `listed` exactly when it was built from a
/// refreshed listing, whichever comes first, so `readyz` never turns 200 before the API
/// answers from that listing (an end-to-end finding), nor stays 503 after.
#[tokio::test]
async fn a_snapshot_is_listed_exactly_when_built_from_a_refreshed_listing() {
    use rsp_model::listing::Listing;
    use std::sync::Arc;

    let SnapshotInputs {
        listings: listings_tx,
        nodes: nodes_tx,
        mut current,
        task,
        _puller,
    } = SnapshotInputs::start("listed");
    // A rebuild from the placeholder (nodes arrived) is not a listing.
    nodes_tx.send_replace(Some(Arc::default()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!current.borrow_and_update().listed);
    let refreshed = Arc::new(Listing::empty(REGISTRY, REPOSITORY));
    listings_tx.send_replace(Arc::clone(&refreshed));
    let listed = tokio::time::timeout(
        Duration::from_secs(5),
        current.wait_for(|current| current.listed),
    )
    .await
    .expect("listed within 5 s")
    .expect("the snapshot task runs");
    assert!(Arc::ptr_eq(&listed.listing_on_nodes.listing, &refreshed));
    drop(listed);
    task.abort();
    drop(listings_tx);
}

/// Node churn is coalesced (issue 16: bodies rebuilt at most a few times a second): two
/// seconds of a new node snapshot every 10 ms give at most four rebuilds a second after the
/// burst allowed after quiet, not one per change after each 50 ms settle; a change after a
/// quiet spell still lands within 100 ms.
/// Time is paused, so the counts do not depend on the machine's speed.
#[tokio::test(start_paused = true)]
async fn node_churn_is_coalesced_into_a_few_rebuilds_a_second() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let SnapshotInputs {
        nodes: nodes_tx,
        mut current,
        task,
        listings: _listings,
        _puller,
    } = SnapshotInputs::start("coalesced");
    let rebuilds = Arc::new(AtomicUsize::new(0));
    let mut counted = current.clone();
    let counter = {
        let rebuilds = Arc::clone(&rebuilds);
        tokio::spawn(async move {
            while counted.changed().await.is_ok() {
                rebuilds.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rebuilds.load(Ordering::SeqCst);
    for _ in 0..200 {
        // A new snapshot each time, as the node watcher publishes one per real change.
        nodes_tx.send_replace(Some(Arc::default()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = rebuilds.load(Ordering::SeqCst) - before;
    let most = rsp_service::state::REBUILD_BURST as usize + 2 * 4 + 1;
    assert!(
        (4..=most).contains(&during),
        "{during} rebuilds for 2 s of churn: at most 4 a second after the first {} (<= {most})",
        rsp_service::state::REBUILD_BURST
    );

    current.borrow_and_update();
    nodes_tx.send_replace(Some(Arc::default()));
    let landed = tokio::time::timeout(Duration::from_millis(100), current.changed()).await;
    assert!(
        matches!(landed, Ok(Ok(()))),
        "a change after a quiet spell lands within 100 ms"
    );
    drop(nodes_tx);
    task.await.unwrap();
    counter.await.unwrap();
}

/// The init container images are prepulled by tag beside the lab image, under the same cap,
/// while their registry accepts connections and never answers: the attempts at their digests
/// run in the background, so neither readiness nor any pull waits on them. The status page
/// and the metrics show them; `/prepulls` does not (the original's contract).
#[tokio::test(flavor = "multi_thread")]
async fn init_container_images_are_prepulled_by_tag_while_their_registry_never_answers() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap();
    let reference = format!("{host}/lsst-sqre/nublado:10.0.0");
    let cluster = FakeCluster::start().await;
    let nodes = ["node1", "node2", "node3"];
    for name in nodes {
        cluster.add_node(node(name));
    }
    let dir = temp_dir("init-images");
    write_snapshot(&dir);
    let extra = format!(
        "  maxInFlight: 1\nlab:\n  initContainers:\n    - name: inithome\n      \
         privileged: true\n      image:\n        repository: {host}/lsst-sqre/nublado\n        \
         tag: 10.0.0\n"
    );
    let options = Options {
        kube_client: Some(cluster.client()),
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let service = Running::start(config(&dir, &extra), &dir, options).await;
    assert!(
        started.elapsed() < rsp_service::init_images::ATTEMPT_BOUND,
        "ready without waiting for the silent registry ({:?})",
        started.elapsed()
    );
    let pulled = cluster
        .wait_until(Duration::from_secs(30), |c| {
            nodes
                .iter()
                .all(|n| has_weekly(c, n) && has_image(c, n, &reference))
        })
        .await;
    assert!(pulled, "the lab image and the init image are on every node");
    assert!(cluster.stats().peak_prepull_pods <= 1, "the cap holds");

    let sample = format!("rsp_images_prepull_image_missing_nodes{{tag=\"{reference}\"}}");
    eventually(
        "the metric counts no node missing it",
        Duration::from_secs(10),
        || async { service.metric(&sample).await == Some(0.0) },
    )
    .await;
    let (_, page) = service.get("/nublado/").await;
    assert!(
        page.contains(&reference) && page.contains("Init container image"),
        "{page}"
    );
    let (_, node_page) = service.get("/nublado/nodes/node1").await;
    assert!(node_page.contains(&reference), "{node_page}");
    let (_, prepulls) = service.get("/nublado/spawner/v1/prepulls").await;
    assert!(!prepulls.contains("nublado:10.0.0"), "{prepulls}");
    let (_, images) = service.get("/nublado/spawner/v1/images").await;
    assert!(!images.contains("nublado:10.0.0"), "{images}");
    service.stop().await;
}
