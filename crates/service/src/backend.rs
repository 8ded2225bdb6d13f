//! The boundary between the HTTP layer and the rest of the service.
//!
//! Routes, pages and metrics only *read* what the refresh loop and the prepuller maintain; they
//! see it through [`Backend`], so the HTTP layer can be read (and tested) without knowing how
//! registries or Kubernetes are reached. The service's real state implements it in `state`;
//! readiness (`/readyz`) is `Backend::ready`, computed from that state on every probe, and
//! the routes that read the listing answer 503 until `Backend::has_listing`.

use crate::body::JsonBody;
use crate::form::LabForm;
use crate::metrics::{Histogram, PREPULL_BUCKETS, REFRESH_BUCKETS};
use crate::pages::RenderError;
use crate::warm::WARM_BUCKETS;
use axum::body::Bytes;
use rsp_model::api::PrepulledImage;
use rsp_model::node::IneligibleReason;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// How the spawner chose an image (behaviour §9.6), after the form's rules were applied.
pub use rsp_model::lab::ImageSelection;

pub use rsp_model::api::{ImageClass, ResolvedImage};
/// Why an image could not be found or resolved: the model's one lookup error.
pub use rsp_model::listing::LookupError;

/// What the status pages read (see `crate::status`).
pub use crate::status::{CellState, Notice, RefreshReport, Severity, StatusReport, TaskReport};

/// Why the service does not answer from a listing yet: the body of its 503s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// No refresh of the registry has succeeded yet.
    #[error("No refresh of the image list has succeeded yet")]
    NoListing,
    /// A task the API depends on is down (it died and is being restarted).
    #[error("{task} is not running ({reason}); it is being restarted")]
    TaskDown { task: &'static str, reason: String },
}

/// Counters and gauges for `/metrics`, read at scrape time: plain data, one field per value.
/// Adding a series is a field here, filled in `ServedSnapshot::metrics` (`crate::snapshot`),
/// and one call in `metrics/snapshot.rs`; the series name is in each field's comment.
#[derive(Debug, Clone)]
pub struct MetricsSnapshot {
    /// `rsp_images_refresh_total{outcome="success"}`.
    pub refresh_success_total: u64,
    /// `rsp_images_refresh_total{outcome="failure"}`.
    pub refresh_failure_total: u64,
    /// `rsp_images_refresh_duration_seconds`: durations of refreshes (shared with the loop).
    pub refresh_durations: Histogram,
    /// `rsp_images_refresh_last_success_timestamp_seconds`; absent before the first success.
    pub last_refresh_success: Option<SystemTime>,
    /// `rsp_images_refresh_interval_seconds`: `images.refreshInterval`.
    pub refresh_interval: Duration,
    /// `rsp_images_images_seen`.
    pub images_seen: u64,
    /// `rsp_images_tags_seen`.
    pub tags_seen: u64,
    /// `rsp_images_leader`: whether this replica prepulls; `None` when nothing is prepulled
    /// (a static cluster), so that "no leader" cannot fire there.
    pub leader: Option<bool>,
    /// `rsp_images_prepull_pods_in_flight`.
    pub prepull_pods_in_flight: u64,
    /// `rsp_images_prepull_pods_max`: `prepuller.maxInFlight`.
    pub prepull_pods_max: u64,
    /// `rsp_images_prepull_duration_seconds`: durations of successful prepulls.
    pub prepull_durations: Histogram,
    /// `rsp_images_prepulls_total{outcome="success"}`.
    pub prepull_successes_total: u64,
    /// `rsp_images_prepulls_total{outcome="failure",reason}`: failed prepulls by reason
    /// (`timeout`, `pull_error`, `create_failed`, …).
    pub prepull_failures: Vec<(String, u64)>,
    /// `rsp_images_missing_pairs`: (node, image) pairs that should be cached on an eligible
    /// node and are not.
    pub missing_pairs: u64,
    /// `rsp_images_nodes_eligible`.
    pub eligible_nodes: u64,
    /// `rsp_images_nodes_ineligible{reason}`; reasons not listed count 0.
    pub ineligible_nodes: Vec<(IneligibleReason, u64)>,
    /// `rsp_images_prepull_image_missing_nodes{tag}`: for each prepull image, the eligible
    /// nodes that do not have it yet.
    pub prepull_image_missing_nodes: Vec<(String, u64)>,
    /// `rsp_images_warm_nodes_cold`: selected nodes carrying the warm taint now; `None`
    /// (absent) when no warm taint is configured.
    pub warm_nodes_cold: Option<u64>,
    /// `rsp_images_warm_wait_seconds`: from node Ready to its warm taint removed because its
    /// images were there (releases by this replica).
    pub warm_waits: Histogram,
    /// `rsp_images_warm_released_by_timeout_total`: warm taints removed at the warm timeout
    /// with images still missing (fail open).
    pub warm_released_by_timeout_total: u64,
    /// Per supervised task (`refresh`, `world`, `node_watcher`, `prepuller`): how often it
    /// died and was restarted (`rsp_images_task_restarts_total{task}`, a counter) and whether
    /// it runs now (`rsp_images_task_up{task}`, a gauge of 0 or 1).
    pub tasks: Vec<TaskMetrics>,
}

/// The metrics of one supervised task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMetrics {
    pub task: &'static str,
    pub restarts: u64,
    pub up: bool,
}

impl Default for MetricsSnapshot {
    fn default() -> Self {
        MetricsSnapshot {
            refresh_success_total: 0,
            refresh_failure_total: 0,
            refresh_durations: Histogram::new(REFRESH_BUCKETS),
            last_refresh_success: None,
            refresh_interval: Duration::ZERO,
            images_seen: 0,
            tags_seen: 0,
            leader: None,
            prepull_pods_in_flight: 0,
            prepull_pods_max: 0,
            prepull_durations: Histogram::new(PREPULL_BUCKETS),
            prepull_successes_total: 0,
            prepull_failures: Vec::new(),
            missing_pairs: 0,
            eligible_nodes: 0,
            ineligible_nodes: Vec::new(),
            prepull_image_missing_nodes: Vec::new(),
            warm_nodes_cold: None,
            warm_waits: Histogram::new(WARM_BUCKETS),
            warm_released_by_timeout_total: 0,
            tasks: Vec::new(),
        }
    }
}

/// What the HTTP layer reads: the bodies, answers and reports of the served snapshot, and
/// readiness. Implementations answer from memory except `resolve`, which may ask the
/// registry (a Docker source looks up digests of tags outside the prepull set). The service
/// (`state::ServiceState`) and the HTTP tests' backend compute them with the same functions
/// (`crate::snapshot`, `crate::served`).
pub trait Backend: Send + Sync + 'static {
    /// The body of `GET /spawner/v1/images`, serialised (only asked for once a listing
    /// exists). The service makes it once per snapshot (see `crate::body`).
    fn spawner_images_body(&self) -> JsonBody;
    /// The body of `GET /spawner/v1/prepulls`, serialised away from the threads that answer
    /// requests (thousands of nodes make it large).
    fn prepulls_body(&self) -> impl Future<Output = JsonBody> + Send;
    /// The body of `GET /spawner/v1/menu`, serialised (off the request threads, as above).
    fn menu_body(&self) -> impl Future<Output = JsonBody> + Send;
    /// The lab form's sizes and how it authenticates users.
    fn lab_form(&self) -> &LabForm;
    /// The images half of the lab form for the current menu (see `pages::lab_form`), read
    /// from the cached menu: rendered once per menu, off the request threads, and shared.
    fn lab_form_images(&self) -> impl Future<Output = Result<Bytes, RenderError>> + Send;
    /// `GET /spawner/v1/images/{tag}`, from the listing alone (never asks the registry).
    fn listed_image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError>;
    /// `POST /spawner/v1/images/resolve`.
    fn resolve(
        &self,
        selection: ImageSelection,
    ) -> impl Future<Output = Result<ResolvedImage, LookupError>> + Send;
    /// What the status pages show. Pages call it off the async worker threads: the first
    /// call for a snapshot may build its grid (milliseconds at 5,000 nodes).
    fn status(&self) -> StatusReport;
    /// Whether a listing exists: until then the routes that read it answer 503.
    fn has_listing(&self) -> bool;
    /// `GET /readyz`: ready once a listing exists and every task the API depends on runs.
    fn ready(&self) -> Result<(), NotReady>;
    /// What `/metrics` shows, read at scrape time.
    fn metrics(&self) -> MetricsSnapshot;
}
