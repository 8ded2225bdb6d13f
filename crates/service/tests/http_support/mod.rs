//! A test [`Backend`] over the behaviour's Docker "standard" fixture (§9.1, §9.3), computed
//! by the service's own functions: a Docker-shaped `Listing` (tag collection, prepull subset,
//! `ImageCatalog`) and real `NodeInfo`s combined into a `served::ListingOnNodes`, served as a
//! `snapshot::ServedSnapshot` with a prepuller status: bodies, the status report and the
//! metrics come from the snapshot, lookups from `served` over a fake registry
//! ([`DigestLookup`]). Only the inputs are made up: the prepuller's report (pulls in progress,
//! backing off, its counters), how refreshes went, the tasks, and the service's counters.
//!
//! Listing: `lighthouse.ceres/library/sketchbook` with `recommended` and `w_2077_43`
//! (`sha256:5678`), `d_2077_10_23` (`sha256:1234`), `latest_weekly` and `latest_daily` (no
//! digest in the listing; the fake registry knows `latest_weekly`). Nodes: `node1` caches
//! both digests, `node2` lacks `sha256:1234` (its prepull is backing off), `node4` is pulling
//! it, and `node3` is ineligible (tainted) and caches nothing.

#![allow(dead_code)] // Each test binary uses a different part of the fixture.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rsp_config::Config;
use rsp_kube::prepuller::FailureReason;
use rsp_kube::prepuller::{PrepullerReport, PullStatus};
use rsp_model::api::{MenuImages, PrepulledImage};
use rsp_model::listing::{DockerTags, Listing};
use rsp_model::node::{CachedImage, NodeInfo, Taint};
use rsp_model::plan::PrepullImage;
use rsp_model::plan::PulledSet;
use rsp_model::platform::{Platform, Platforms};
use rsp_registry::source::DigestLookup;
use rsp_registry::RegistryError;
use rsp_service::backend::{
    Backend, ImageSelection, LookupError, MetricsSnapshot, NotReady, RefreshReport, ResolvedImage,
    StatusReport, TaskMetrics, TaskReport,
};
use rsp_service::body::JsonBody;
use rsp_service::form::{FormAuth, LabForm};
use rsp_service::metrics::{Histogram, PREPULL_BUCKETS, REFRESH_BUCKETS};
use rsp_service::pages::{self, RenderError};
use rsp_service::refresh::RefreshRecord;
use rsp_service::served::{self, ListingOnNodes};
use rsp_service::snapshot::{ListingOrigin, ServedSnapshot, ServiceCounters, ServiceFacts};
use rsp_service::warm::WARM_BUCKETS;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tower::ServiceExt as _;

pub const PREFIX: &str = "/nublado";
const REGISTRY: &str = "lighthouse.ceres";
const REPOSITORY: &str = "library/sketchbook";

const CONFIG: &str = "
images:
  source:
    type: docker
    registry: lighthouse.ceres
    repository: library/sketchbook
  recommendedTag: recommended
  numReleases: 1
  numWeeklies: 2
  numDailies: 3
pathPrefix: /nublado
";

/// The fixture's `lab.sizes` items, the demo's (`examples/demo.yaml`): small, medium, large
/// and huge. The lab-form vectors bring their own sizes from the specification.
const SIZES: &str = "
    - size: small
      resources:
        limits: {cpu: 1.0, memory: 3Gi}
        requests: {cpu: 0.25, memory: 0.75Gi}
    - size: medium
      resources:
        limits: {cpu: 2.0, memory: 6Gi}
        requests: {cpu: 0.5, memory: 1.5Gi}
    - size: large
      resources:
        limits: {cpu: 9.0, memory: 27Gi}
        requests: {cpu: 2.25, memory: 6.7Gi}
    - size: huge
      resources:
        limits: {cpu: 12.0, memory: 32Gi}
        requests: {cpu: 3, memory: 8Gi}
";

/// The registry as the lookups see it: digests of tags outside the listing's catalog.
pub struct FakeRegistry {
    registry: String,
    repository: String,
    digests: HashMap<String, String>,
}

impl DigestLookup for FakeRegistry {
    /// `latest_daily` stands for a tag the registry cannot be asked about right now.
    async fn current_digest(&self, tag: &str) -> Result<Option<String>, RegistryError> {
        if tag == "latest_daily" {
            return Err(RegistryError::Transport {
                host: self.registry.clone(),
                operation: format!("HEAD manifest {tag}"),
                detail: "connection refused".to_owned(),
                timeout: false,
            });
        }
        Ok(self.digests.get(tag).cloned())
    }

    fn image_repository(&self) -> (&str, &str) {
        (&self.registry, &self.repository)
    }
}

pub struct TestBackend {
    pub config: Config,
    pub listing_on_nodes: Arc<ListingOnNodes>,
    pub registry: FakeRegistry,
    /// What the prepuller reports: pulls in progress and failures.
    pub puller: PrepullerReport,
    pub refresh: RefreshReport,
    /// Whether a listing exists (and so whether the service is ready).
    pub ready: AtomicBool,
    /// How the supervised tasks fare (the status pages' notices about the service itself).
    pub tasks: Vec<TaskReport>,
    pub leader: bool,
    pub prepulling: bool,
    /// Makes `menu` panic, to show the last-resort panic layer at work.
    pub panic_in_menu: bool,
    /// The lab form's sizes (the configuration's) and authentication (open by default).
    pub form: LabForm,
    /// A menu to serve instead of the snapshot's (lab-form vectors with other menus).
    pub menu_override: Option<MenuImages>,
    /// Makes `status` block its thread this long, as a slow computation would.
    pub status_delay: Option<Duration>,
    /// What `/metrics` reads besides the snapshot.
    pub counters: ServiceCounters,
    /// The served snapshot of `listing_on_nodes` and `puller`, made at the first request (a test sets
    /// the fixture up before it sends one).
    served: OnceLock<(Arc<Config>, Arc<ServedSnapshot>)>,
}

pub fn at(secs_ago: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs_ago)
}

fn utc(time: SystemTime) -> chrono::DateTime<chrono::Utc> {
    time.into()
}

/// The prepuller's record of a pair it is pulling or that failed.
fn pull(node: &str, digest: &str) -> PullStatus {
    let image = PrepullImage {
        tag: String::new(),
        reference_with_digest: format!("{REGISTRY}/{REPOSITORY}@{digest}"),
        digest: digest.to_owned(),
        platforms: Default::default(),
    };
    PullStatus::new(node.to_owned(), image)
}

impl TestBackend {
    /// The configuration and the served snapshot of the fixture as it is now.
    fn served(&self) -> &(Arc<Config>, Arc<ServedSnapshot>) {
        self.served.get_or_init(|| {
            let snapshot = ServedSnapshot::new(
                ListingOnNodes::clone(&self.listing_on_nodes),
                Arc::new(self.puller.clone()),
                ListingOrigin::Refreshed,
            );
            (Arc::new(self.config.clone()), Arc::new(snapshot))
        })
    }

    /// The same listing on these nodes.
    pub fn set_nodes(&mut self, nodes: &[NodeInfo]) {
        self.served = OnceLock::new();
        self.listing_on_nodes = Arc::new(ListingOnNodes::new(
            Arc::clone(&self.listing_on_nodes.listing),
            nodes,
            &self.config,
            &PulledSet::default(),
        ));
    }

    /// Warm nodes on (`prepuller.warmTaint` with key [`WARM_KEY`], default timeout): node4
    /// carries the warm taint, Ready since `waited` ago.
    pub fn with_a_cold_node(waited: Duration) -> TestBackend {
        let mut backend = TestBackend::standard();
        backend.config.prepuller.warm_taint = Some(rsp_config::WarmTaintConfig {
            key: WARM_KEY.to_owned(),
            effect: "NoSchedule".to_owned(),
        });
        let mut nodes = backend.listing_on_nodes.nodes.to_vec();
        let node4 = nodes.iter_mut().find(|n| n.name == "node4").expect("node4");
        node4.taints.push(Taint {
            key: WARM_KEY.to_owned(),
            value: None,
            effect: "NoSchedule".to_owned(),
        });
        node4.ready = Some(true);
        node4.ready_since = Some(utc(SystemTime::now() - waited));
        backend.set_nodes(&nodes);
        backend
    }

    /// A prepull pod has been pulling `digest` onto `node` since `since`.
    pub fn set_pulling(&mut self, node: &str, digest: &str, since: SystemTime) {
        self.served = OnceLock::new();
        let mut status = pull(node, digest);
        status.pulling_since = Some(utc(since));
        status.pod = Some(format!("rsp-prepull-{node}"));
        self.puller
            .pulls
            .insert((node.to_owned(), digest.to_owned()), status);
    }

    /// The last pull of `digest` onto `node` failed at `failed_at`; the next waits until `until`.
    pub fn set_failed(
        &mut self,
        node: &str,
        digest: &str,
        error: &str,
        failed_at: SystemTime,
        until: SystemTime,
    ) {
        self.served = OnceLock::new();
        let mut status = pull(node, digest);
        status.failures = 1;
        status.last_error = Some(error.to_owned());
        status.last_error_at = Some(utc(failed_at));
        status.backing_off_until = Some(utc(until));
        self.puller
            .pulls
            .insert((node.to_owned(), digest.to_owned()), status);
    }
}

fn config() -> Config {
    Config::from_yaml(&format!("{CONFIG}lab:\n  sizes:{SIZES}"))
        .expect("the test configuration is valid")
        .0
}

/// The fixture's tags and the digests the listing gives them.
const TAGS: [(&str, Option<&str>); 5] = [
    ("recommended", Some("sha256:5678")),
    ("w_2077_43", Some("sha256:5678")),
    ("d_2077_10_23", Some("sha256:1234")),
    ("latest_weekly", None),
    ("latest_daily", None),
];

/// A Docker-shaped listing, built as the Docker source builds it (`Listing::from_docker`):
/// every tag in a collection, the prepull subset resolved to the digests given here; the
/// digests in `amd64_only` run on `linux/amd64` only, as an image index would say, and the
/// others' platforms are unknown.
fn docker_listing(
    config: &Config,
    registry: &str,
    repository: &str,
    tags: &[(&str, Option<&str>)],
    amd64_only: &[&str],
) -> Listing {
    let names: Vec<&str> = tags.iter().map(|(tag, _)| *tag).collect();
    let digests: HashMap<String, String> = tags
        .iter()
        .filter_map(|(tag, digest)| Some(((*tag).to_owned(), (*digest)?.to_owned())))
        .collect();
    let platforms: HashMap<String, Platforms> = amd64_only
        .iter()
        .map(|digest| {
            let amd64 = Platforms::known([Platform::new("linux", "amd64")]);
            ((*digest).to_owned(), amd64)
        })
        .collect();
    let docker_tags = DockerTags::new(&names, &config.images.listing_rules());
    Listing::from_docker(registry, repository, docker_tags, &digests, &platforms)
}

fn node(name: &str, digests: &[&str]) -> NodeInfo {
    NodeInfo {
        name: name.to_owned(),
        images: digests
            .iter()
            .map(|digest| CachedImage {
                references: vec![format!("{REGISTRY}/{REPOSITORY}@{digest}").into()],
                size: Some(3 * 1024 * 1024 * 1024),
            })
            .collect(),
        ..NodeInfo::default()
    }
}

fn tainted(mut node: NodeInfo, value: &str) -> NodeInfo {
    node.taints.push(Taint {
        key: "some-taint".to_owned(),
        value: Some(value.to_owned()),
        effect: "NoSchedule".to_owned(),
    });
    node
}

/// The warm taint's key in [`TestBackend::with_a_cold_node`].
pub const WARM_KEY: &str = "startup-taint.cluster-autoscaler.kubernetes.io/rsp-images-cold";

impl TestBackend {
    /// The standard fixture, ready.
    pub fn standard() -> TestBackend {
        TestBackend::build(
            REPOSITORY,
            "node2",
            "other-value",
            "image pull failed: manifest unknown",
            "amd64",
        )
    }

    /// Markup and quotes everywhere a registry or cluster could put them.
    pub fn hostile() -> TestBackend {
        let mut backend = TestBackend::build(
            "lib/<script>alert(\"x\")</script>&'",
            "<b>node2</b>",
            "<img src=x onerror=alert(1)>",
            "<script>alert('pull')</script>",
            "<svg onload=alert(2)>",
        );
        backend.refresh.last_error = Some(("<i>bad</i> & \"worse\"".to_owned(), at(30)));
        backend.refresh.failing_since = Some(at(30));
        backend.refresh.consecutive_failures = 1;
        backend
    }

    /// The fixture with `failing_node` in place of `node2` (its pull of `sha256:1234` failed
    /// with `pull_error`), node3 tainted with `taint` and every node's `kubernetes.io/arch`
    /// label set to `arch`.
    fn build(
        repository: &str,
        failing_node: &str,
        taint: &str,
        pull_error: &str,
        arch: &str,
    ) -> TestBackend {
        let config = config();
        let listing = docker_listing(&config, REGISTRY, repository, &TAGS, &[]);
        let mut nodes = [
            node("node1", &["sha256:5678", "sha256:1234"]),
            node(failing_node, &["sha256:5678"]),
            tainted(node("node3", &[]), taint),
            node("node4", &["sha256:5678"]),
        ];
        for node in &mut nodes {
            node.labels
                .insert("kubernetes.io/arch".to_owned(), arch.to_owned());
        }
        let world = ListingOnNodes::new(Arc::new(listing), &nodes, &config, &PulledSet::default());
        let form = LabForm {
            sizes: config.lab.sizes.clone(),
            auth: FormAuth::Open,
        };
        let mut backend = TestBackend {
            config,
            listing_on_nodes: Arc::new(world),
            registry: FakeRegistry {
                registry: REGISTRY.to_owned(),
                repository: repository.to_owned(),
                digests: [("latest_weekly".to_owned(), "sha256:9999".to_owned())].into(),
            },
            puller: PrepullerReport::default(),
            refresh: RefreshReport {
                source: format!("{REGISTRY}/{repository} (docker)"),
                last_success: Some(at(120)),
                ..RefreshReport::default()
            },
            ready: AtomicBool::new(true),
            tasks: Vec::new(),
            leader: true,
            prepulling: true,
            panic_in_menu: false,
            form,
            menu_override: None,
            status_delay: None,
            counters: counters(),
            served: OnceLock::new(),
        };
        backend.puller.in_flight = 1;
        backend.puller.succeeded_total = 2;
        backend.puller.failed_total = [(FailureReason::PullError, 2)].into();
        backend.set_failed(
            failing_node,
            "sha256:1234",
            pull_error,
            at(90),
            SystemTime::now() + Duration::from_secs(150),
        );
        backend.set_pulling("node4", "sha256:1234", at(42));
        backend
    }

    /// The standard fixture where the registry says the daily (`sha256:1234`) runs on
    /// `linux/amd64` only, and node4 (which was pulling it) is a `linux/arm64` node.
    pub fn with_an_amd64_only_daily() -> TestBackend {
        let mut backend = TestBackend::standard();
        let listing = docker_listing(
            &backend.config,
            REGISTRY,
            REPOSITORY,
            &TAGS,
            &["sha256:1234"],
        );
        let mut nodes: Vec<NodeInfo> = backend.listing_on_nodes.nodes.to_vec();
        for node in &mut nodes {
            let arch = if node.name == "node4" {
                "arm64"
            } else {
                "amd64"
            };
            node.labels
                .insert("kubernetes.io/os".to_owned(), "linux".to_owned());
            node.labels
                .insert("kubernetes.io/arch".to_owned(), arch.to_owned());
        }
        backend.listing_on_nodes = Arc::new(ListingOnNodes::new(
            Arc::new(listing),
            &nodes,
            &backend.config,
            &PulledSet::default(),
        ));
        backend
    }

    /// The fixture's listing on `count` eligible nodes (`node-000`, `node-001`, …) that cache
    /// `sha256:5678` only, each failing to pull `sha256:1234`.
    pub fn many_failing(count: usize) -> TestBackend {
        let mut backend = TestBackend::standard();
        let nodes: Vec<NodeInfo> = (0..count)
            .map(|i| node(&format!("node-{i:03}"), &["sha256:5678"]))
            .collect();
        backend.set_nodes(&nodes);
        backend.puller = PrepullerReport::default();
        for node in &nodes {
            backend.set_failed(
                &node.name,
                "sha256:1234",
                &format!("manifest unknown on {}", node.name),
                at(60),
                SystemTime::now() + Duration::from_secs(60),
            );
        }
        backend
    }

    /// Before the first refresh: nothing listed, no nodes, not ready.
    pub fn empty() -> TestBackend {
        let mut backend = TestBackend::standard();
        backend.listing_on_nodes = Arc::new(ListingOnNodes::new(
            Arc::new(Listing::empty(REGISTRY, REPOSITORY)),
            &[],
            &backend.config,
            &PulledSet::default(),
        ));
        backend.puller = PrepullerReport::default();
        backend.ready = AtomicBool::new(false);
        backend.refresh.last_success = None;
        backend.refresh.last_error = Some(("connection refused".to_owned(), at(5)));
        backend.refresh.failing_since = Some(at(65));
        backend.refresh.consecutive_failures = 4;
        backend
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// The service's counters as `/metrics` reads them: three refreshes and a failure, two
/// prepulls, a warm node released by the timeout, a restarted refresh loop and a prepuller
/// that is down.
fn counters() -> ServiceCounters {
    ServiceCounters {
        refresh: RefreshRecord {
            success_total: 3,
            failure_total: 1,
            durations: histogram(REFRESH_BUCKETS, &[0.4, 1.2, 0.3, 31.0]),
            last_success: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            ..RefreshRecord::default()
        },
        refresh_interval: Duration::from_secs(300),
        leader: Some(true),
        prepull_pods_max: 10,
        prepull_durations: histogram(PREPULL_BUCKETS, &[12.5, 80.0]),
        warm_waits: histogram(WARM_BUCKETS, &[42.0]),
        warm_released_by_timeout_total: 1,
        tasks: vec![
            TaskMetrics {
                task: "refresh",
                restarts: 2,
                up: true,
            },
            TaskMetrics {
                task: "prepuller",
                restarts: 1,
                up: false,
            },
        ],
    }
}

impl Backend for TestBackend {
    fn spawner_images_body(&self) -> JsonBody {
        let (config, served) = self.served();
        served.images_body(config)
    }

    async fn prepulls_body(&self) -> JsonBody {
        let (config, served) = self.served();
        served.prepulls_body(config).await
    }

    async fn menu_body(&self) -> JsonBody {
        assert!(!self.panic_in_menu, "menu panics on purpose");
        match &self.menu_override {
            Some(menu) => JsonBody::new(menu),
            None => {
                let (config, served) = self.served();
                served.menu_body(config).await
            }
        }
    }

    fn lab_form(&self) -> &LabForm {
        &self.form
    }

    async fn lab_form_images(&self) -> Result<Bytes, RenderError> {
        assert!(!self.panic_in_menu, "menu panics on purpose");
        match &self.menu_override {
            Some(menu) => pages::lab_form::images(menu),
            None => {
                let (config, served) = self.served();
                served.lab_form_images(config).await
            }
        }
    }

    fn listed_image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError> {
        served::listed_image_for_tag(&self.listing_on_nodes, tag)
    }

    async fn resolve(&self, selection: ImageSelection) -> Result<ResolvedImage, LookupError> {
        let recommended_tag = &self.config.images.recommended_tag;
        served::resolve(
            &self.listing_on_nodes.listing,
            selection,
            recommended_tag,
            &self.registry,
        )
        .await
    }

    fn status(&self) -> StatusReport {
        if let Some(delay) = self.status_delay {
            std::thread::sleep(delay);
        }
        self.served().1.status_report(ServiceFacts {
            refresh: self.refresh.clone(),
            leader: self.leader,
            prepulling: self.prepulling,
            tasks: self.tasks.clone(),
            lab_form: self.form.setup(),
        })
    }

    fn has_listing(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn ready(&self) -> Result<(), NotReady> {
        if self.has_listing() {
            Ok(())
        } else {
            Err(NotReady::NoListing)
        }
    }

    fn metrics(&self) -> MetricsSnapshot {
        self.served().1.metrics(self.counters.clone())
    }
}

/// A router over `backend` mounted at [`PREFIX`].
pub fn app(backend: Arc<TestBackend>) -> Router {
    rsp_service::http::router(backend, PREFIX).expect("the test prefix is valid")
}

/// One response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `(status, first detail's type)` of an error reply, checking the error shape.
    pub fn error(&self) -> (u16, String) {
        let body = self.json();
        let detail = &body["detail"][0];
        assert!(detail["msg"].is_string(), "error without msg: {body}");
        (
            self.status.as_u16(),
            detail["type"].as_str().unwrap_or("").to_owned(),
        )
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("bodies are in memory")
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(
        app,
        Request::get(uri)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub async fn call(app: &Router, method: Method, uri: &str) -> Reply {
    send(
        app,
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub async fn post_json(app: &Router, uri: &str, body: impl Into<Body>) -> Reply {
    send(
        app,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("valid request"),
    )
    .await
}

pub async fn resolve(app: &Router, body: serde_json::Value) -> Reply {
    post_json(
        app,
        &format!("{PREFIX}/spawner/v1/images/resolve"),
        body.to_string(),
    )
    .await
}

fn histogram<const N: usize>(bounds: [f64; N], values: &[f64]) -> Histogram {
    let histogram = Histogram::new(bounds);
    for value in values {
        histogram.observe(*value);
    }
    histogram
}
