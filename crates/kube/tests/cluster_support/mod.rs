//! Support of the tests against the fake cluster (shared builders come from
//! `rsp_testkit::builders`): clients made as the service makes them (rsp-kube's retry layer,
//! not kube's), the standard configuration of the
//! original's tests (selector, tolerations, pull secret), short timings, a prepuller wired to
//! a node watcher, and the end-of-test check that no prepull pod is left behind.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use rsp_kube::config::{Backoff, PrepullerSettings};
use rsp_kube::prepuller::WarmEvent;
use rsp_kube::{
    ApiRetryLayer, Client, LeaderConfig, LeaderElection, Leadership, NodeSnapshot, NodeWatcher,
    PrepullEvent, PrepullImage, PrepullerHandle, PrepullerReport, Tenure,
};
use rsp_model::node::{Toleration, TolerationOperator};
use rsp_testkit::builders::LAB_LABEL;
use rsp_testkit::kube::FakeCluster;
use tokio::sync::{broadcast, watch};

pub const NAMESPACE: &str = "nublado";

/// Logs to stderr when `RUST_LOG` is set (for debugging a test; silent otherwise).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A client of `cluster` as the service makes one (`rsp_kube::client_for`: its retry layer,
/// kube's off), authenticating as `user` (`None`: anonymous).
pub fn client_as(cluster: &FakeCluster, user: Option<&str>) -> Client {
    client_retrying(cluster, user, ApiRetryLayer::default())
}

/// [`client_as`] with another retry layer.
pub fn client_retrying(cluster: &FakeCluster, user: Option<&str>, retry: ApiRetryLayer) -> Client {
    rsp_kube::client_for(cluster.config_as(user), retry).expect("a client of the fake cluster")
}

/// `lab.tolerations` of the standard configuration.
pub fn standard_tolerations() -> Vec<Toleration> {
    vec![
        Toleration {
            effect: Some("NoSchedule".into()),
            key: Some("some-toleration".into()),
            operator: TolerationOperator::Equal,
            toleration_seconds: Some(60),
            value: Some("some-value".into()),
        },
        Toleration {
            key: Some("other-toleration".into()),
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        },
    ]
}

/// The standard configuration with timings short enough for tests.
pub fn fast_config() -> PrepullerSettings {
    let mut config = PrepullerSettings::new(NAMESPACE);
    config.pod.pull_secret = Some("pull-secret".into());
    config.pod.tolerations = standard_tolerations();
    let (key, value) = LAB_LABEL;
    config.node_selector = BTreeMap::from([(key.into(), value.into())]);
    config.prepull_timeout = Duration::from_secs(10);
    config.pull_error_grace = Duration::from_millis(200);
    config.backoff = Backoff {
        initial: Duration::from_millis(300),
        max: Duration::from_secs(2),
    };
    config.shutdown_timeout = Duration::from_secs(5);
    config
}

/// A prepuller with its node watcher and input channels.
pub struct Harness {
    pub cluster: FakeCluster,
    pub nodes: NodeWatcher,
    pub images: watch::Sender<Option<Arc<[PrepullImage]>>>,
    /// Leading for good until a test says otherwise.
    pub tenure: watch::Sender<Tenure>,
    pub prepuller: Option<PrepullerHandle>,
    pub events: broadcast::Receiver<PrepullEvent>,
    /// Warm taints removed, from the start.
    pub warm_events: broadcast::Receiver<WarmEvent>,
    pub status: watch::Receiver<Arc<PrepullerReport>>,
}

impl Harness {
    /// Starts a prepuller (active) on `cluster` wanting `images`.
    pub fn start(
        cluster: &FakeCluster,
        config: PrepullerSettings,
        images: Vec<PrepullImage>,
    ) -> Self {
        let client = client_as(cluster, None);
        let nodes = NodeWatcher::start(client.clone(), config.node_selection());
        let (images_tx, images_rx) = watch::channel(Some(Arc::from(images)));
        let (tenure, tenure_rx) = watch::channel(Tenure::Always);
        let prepuller = PrepullerHandle::start(
            client,
            config,
            nodes.subscribe(),
            images_rx,
            Leadership::new(tenure_rx),
        );
        Harness {
            cluster: cluster.clone(),
            events: prepuller.events(),
            warm_events: prepuller.warm_events(),
            status: prepuller.status(),
            nodes,
            images: images_tx,
            tenure,
            prepuller: Some(prepuller),
        }
    }

    /// Waits for the next event matching `want`, up to `timeout`.
    pub async fn event(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&PrepullEvent) -> bool,
    ) -> Option<PrepullEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(event)) if want(&event) => return Some(event),
                Ok(Ok(_)) => continue,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
            }
        }
    }

    /// Every event received so far without waiting.
    pub fn drain_events(&mut self) -> Vec<PrepullEvent> {
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
        }
        events
    }

    /// Waits until the prepuller's status satisfies `done`.
    pub async fn wait_status(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&PrepullerReport) -> bool,
    ) -> bool {
        let result = tokio::time::timeout(timeout, self.status.wait_for(|s| done(s))).await;
        matches!(result, Ok(Ok(_)))
    }

    /// Waits until every (node, digest) in `pairs` was pulled successfully.
    pub async fn wait_pulled(&mut self, timeout: Duration, pairs: &[(&str, &str)]) -> bool {
        self.wait_status(timeout, |status| {
            pairs
                .iter()
                .all(|(node, digest)| status.pulled.contains(node, digest))
        })
        .await
    }

    /// Fails the test if any finished pull so far failed.
    pub fn assert_no_failures(&mut self) {
        let failures: Vec<_> = self
            .drain_events()
            .into_iter()
            .filter(|e| e.outcome != rsp_kube::PrepullOutcome::Succeeded)
            .collect();
        assert!(failures.is_empty(), "{failures:?}");
    }

    /// Stops the prepuller gracefully and checks that no prepull pod is left.
    pub async fn finish(mut self) {
        if let Some(prepuller) = self.prepuller.take() {
            prepuller.shutdown().await;
        }
        assert_no_prepull_pods(&self.cluster).await;
    }
}

/// Waits until the node watcher's snapshot satisfies `done`.
pub async fn wait_snapshot(
    rx: &mut watch::Receiver<Option<NodeSnapshot>>,
    timeout: Duration,
    mut done: impl FnMut(&NodeSnapshot) -> bool,
) -> bool {
    tokio::time::timeout(timeout, rx.wait_for(|s| s.as_ref().is_some_and(&mut done)))
        .await
        .is_ok_and(|seen| seen.is_ok())
}

/// Every (node, digest) pair of these nodes and digests.
pub fn pairs<'a>(nodes: &[&'a str], digests: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    digests
        .iter()
        .flat_map(|digest| nodes.iter().map(move |node| (*node, *digest)))
        .collect()
}

/// rsp-images' prepull pods in the test namespace now.
pub fn prepull_pods(cluster: &FakeCluster) -> Vec<Pod> {
    cluster
        .pods(NAMESPACE)
        .into_iter()
        .filter(rsp_kube::pod::is_ours)
        .collect()
}

/// Fails the test if a prepull pod remains (allowing a moment for deletions to land).
pub async fn assert_no_prepull_pods(cluster: &FakeCluster) {
    let gone = cluster
        .wait_until(Duration::from_secs(2), |c| prepull_pods(c).is_empty())
        .await;
    let left: Vec<_> = prepull_pods(cluster)
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .collect();
    assert!(gone, "prepull pods left behind: {left:?}");
}

/// Whether every node in `nodes` reports every digest in `digests` as cached.
pub fn nodes_hold(cluster: &FakeCluster, nodes: &[&str], digests: &[&str]) -> bool {
    nodes.iter().all(|name| {
        let Some(node) = cluster.node(name) else {
            return false;
        };
        let images = node.status.and_then(|s| s.images).unwrap_or_default();
        digests.iter().all(|digest| {
            images
                .iter()
                .flat_map(|image| image.names.clone().unwrap_or_default())
                .any(|n| n.ends_with(digest))
        })
    })
}

/// Names of the prepull pods created so far, in creation order.
pub fn created_pods(cluster: &FakeCluster) -> Vec<String> {
    cluster
        .pod_events()
        .into_iter()
        .filter(|event| event.kind == rsp_testkit::kube::PodEventKind::Created)
        .map(|event| event.name)
        .collect()
}

/// Lease timings short enough for tests (the ratios of the defaults, 15 s / 10 s / 5 s, kept
/// roughly: a holder stops 200 ms before anyone may take over).
pub const LEASE: Duration = Duration::from_secs(1);
pub const RENEW_DEADLINE: Duration = Duration::from_millis(800);
pub const RENEW: Duration = Duration::from_millis(150);

/// Leader election for `identity` with the test timings.
pub fn leader_config(identity: &str) -> LeaderConfig {
    let mut config = LeaderConfig::new(NAMESPACE, identity);
    config.lease_duration = LEASE;
    config.renew_deadline = RENEW_DEADLINE;
    config.renew_interval = RENEW;
    config
}

/// One replica: an election and a prepuller that follows it, all its calls made with its
/// own identity (as each pod has its own service-account token).
pub struct Replica {
    pub election: LeaderElection,
    pub prepuller: PrepullerHandle,
    _nodes: NodeWatcher,
    _images: watch::Sender<rsp_kube::WantedImages>,
}

impl Replica {
    pub fn start(cluster: &FakeCluster, identity: &str, images: Vec<PrepullImage>) -> Self {
        Replica::with_lease(cluster, leader_config(identity), images)
    }

    pub fn with_lease(
        cluster: &FakeCluster,
        lease: LeaderConfig,
        images: Vec<PrepullImage>,
    ) -> Self {
        Replica::with_config(cluster, lease, fast_config(), images)
    }

    pub fn with_config(
        cluster: &FakeCluster,
        lease: LeaderConfig,
        config: PrepullerSettings,
        images: Vec<PrepullImage>,
    ) -> Self {
        let client = client_as(cluster, Some(&lease.identity));
        let election = LeaderElection::start(client.clone(), lease);
        let nodes = NodeWatcher::start(client.clone(), config.node_selection());
        let (images_tx, images_rx) = watch::channel(Some(Arc::from(images)));
        let prepuller = PrepullerHandle::start(
            client,
            config,
            nodes.subscribe(),
            images_rx,
            election.leadership(),
        );
        Replica {
            election,
            prepuller,
            _nodes: nodes,
            _images: images_tx,
        }
    }

    pub async fn wait_leader(&self, leader: bool, timeout: Duration) -> bool {
        wait_leader(&self.election, leader, timeout).await
    }

    pub async fn shutdown(self) {
        self.prepuller.shutdown().await;
        self.election.shutdown().await;
    }
}

/// Waits until the election says this replica leads (or not).
pub async fn wait_leader(election: &LeaderElection, leader: bool, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while election.is_leader() != leader {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
