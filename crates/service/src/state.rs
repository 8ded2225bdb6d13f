//! The live state behind the HTTP layer: the current [`ServedSnapshot`], how refreshes went,
//! how the tasks fare; the [`Backend`] the routes read.
//!
//! Writers never block readers: the snapshot is rebuilt off to the side and published through
//! a `watch` channel whenever the listing, the nodes or the prepuller's status change (see
//! `snapshot_task`), and every request reads the latest `Arc<ServedSnapshot>`. What a route
//! answers is computed by the snapshot (`crate::snapshot`) from it and the facts kept here;
//! readiness is computed from the current state on every probe.

use crate::backend::{
    Backend, ImageSelection, LookupError, MetricsSnapshot, NotReady, RefreshReport, ResolvedImage,
    StatusReport,
};
use crate::body::JsonBody;
use crate::form::LabForm;
use crate::metrics::Histogram;
use crate::pages::RenderError;
use crate::refresh::SharedRecord;
use crate::served::{self, ListingOnNodes};
use crate::snapshot::{ListingOrigin, ServedSnapshot, ServiceCounters, ServiceFacts};
use crate::supervise::Health;
use axum::body::Bytes;
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerReport;
use rsp_kube::NodeSnapshot;
use rsp_model::api::PrepulledImage;
use rsp_model::listing::Listing;
use rsp_model::plan::PulledSet;
use rsp_registry::source::ImageSource;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long the snapshot task waits after a change for more to arrive: kubelets report in
/// bursts, and one rebuild for a burst is enough.
const SETTLE: Duration = Duration::from_millis(50);

/// The least time between the starts of two rebuilds under steady churn. At 5,000 nodes
/// something changes many times a second (pulls end, nodes come and go), and the bodies and
/// pages need not follow faster than people and scrapers read them: the snapshot is rebuilt
/// at most four times a second then. The prepuller plans from the node watcher directly and
/// never waits for this.
pub const MIN_REBUILD_INTERVAL: Duration = Duration::from_millis(250);

/// Rebuilds allowed one after the other (each after `SETTLE`) after a quiet spell, before
/// `MIN_REBUILD_INTERVAL` applies: at start-up the listing, the first node list and the first
/// prepuller report arrive within moments of each other, and each should show at once.
pub const REBUILD_BURST: u32 = 3;

/// The service state shared by all requests.
pub struct ServiceState<S> {
    pub(crate) config: Arc<Config>,
    pub(crate) source: Arc<S>,
    pub(crate) current: watch::Receiver<Arc<ServedSnapshot>>,
    pub(crate) refresh: SharedRecord,
    /// How the supervised tasks fare (readiness, notices, metrics).
    pub(crate) health: Health,
    pub(crate) leader: rsp_kube::Leadership,
    /// Whether prepull pods are really created (false for a static cluster).
    pub(crate) prepulling: bool,
    /// Durations of successful prepulls (see `record_prepull_durations`).
    pub(crate) prepull_durations: Histogram,
    /// Warm taints this replica removed (see `WarmMetrics::record`).
    pub(crate) warm: crate::warm::WarmMetrics,
    pub(crate) form: LabForm,
}

impl<S: ImageSource> ServiceState<S> {
    fn current(&self) -> Arc<ServedSnapshot> {
        Arc::clone(&self.current.borrow())
    }

    fn listing(&self) -> Arc<Listing> {
        Arc::clone(&self.current.borrow().listing_on_nodes.listing)
    }
}

/// Combines the latest inputs into a served snapshot whenever one of them changes, until
/// every input is gone (the service is stopping). `placeholder` is the empty listing the
/// listings channel starts with: a snapshot built from it is not `listed`.
pub async fn snapshot_task(
    config: Arc<Config>,
    placeholder: Arc<Listing>,
    mut listings: watch::Receiver<Arc<Listing>>,
    mut nodes: watch::Receiver<Option<NodeSnapshot>>,
    mut puller: watch::Receiver<Arc<PrepullerReport>>,
    current: watch::Sender<Arc<ServedSnapshot>>,
) {
    let mut last_pulled: Option<Arc<PulledSet>> = None;
    let no_nodes: NodeSnapshot = Arc::default();
    // When the next rebuild would be due if every rebuild kept to the interval (the generic
    // cell rate algorithm): a rebuild may start `REBUILD_BURST - 1` intervals before it.
    let mut due = tokio::time::Instant::now();
    loop {
        due = due.max(tokio::time::Instant::now()) + MIN_REBUILD_INTERVAL;
        let listing = Arc::clone(&listings.borrow_and_update());
        let origin = if Arc::ptr_eq(&listing, &placeholder) {
            ListingOrigin::Placeholder
        } else {
            ListingOrigin::Refreshed
        };
        let node_list = nodes
            .borrow_and_update()
            .clone()
            .unwrap_or_else(|| Arc::clone(&no_nodes));
        let status = Arc::clone(&puller.borrow_and_update());
        // A status change that did not add a pull changes no presence: keep the listing on
        // nodes, with the new status (the status page shows pulls in progress).
        let pulled_changed = last_pulled
            .as_ref()
            .is_none_or(|last| !Arc::ptr_eq(last, &status.pulled));
        last_pulled = Some(Arc::clone(&status.pulled));
        let previous = Arc::clone(&current.borrow());
        let same_inputs = Arc::ptr_eq(&previous.listing_on_nodes.listing, &listing)
            && !pulled_changed
            && previous.listing_on_nodes.built_from(&node_list);
        let next = if same_inputs {
            previous.with_status(status)
        } else {
            let config = Arc::clone(&config);
            // Building a listing on nodes and its bodies takes milliseconds: keep it off the
            // threads that answer requests.
            let built = tokio::task::spawn_blocking(move || {
                let world =
                    ListingOnNodes::from_shared(listing, node_list, &config, &status.pulled);
                let next = previous.rebuilt(world, status, origin);
                next.images_body(&config);
                next
            })
            .await;
            match built {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "building the new state failed; keeping the last one");
                    Arc::clone(&current.borrow()).with_status(Arc::clone(&puller.borrow()))
                }
            }
        };
        current.send_replace(Arc::new(next));
        tokio::select! {
            changed = listings.changed() => if changed.is_err() { return },
            changed = nodes.changed() => if changed.is_err() { return },
            changed = puller.changed() => if changed.is_err() { return },
        }
        let settled = tokio::time::Instant::now() + SETTLE;
        let allowed = due
            .checked_sub(MIN_REBUILD_INTERVAL * (REBUILD_BURST - 1))
            .unwrap_or(settled);
        tokio::time::sleep_until(settled.max(allowed)).await;
    }
}

/// The guarded value, also after a panic while it was held (every writer leaves it whole).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Counts the duration of every successful prepull until the prepuller stops.
pub async fn record_prepull_durations(
    mut events: tokio::sync::broadcast::Receiver<rsp_kube::prepuller::PrepullEvent>,
    histogram: Histogram,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => {
                if event.outcome == rsp_kube::prepuller::PrepullOutcome::Succeeded {
                    histogram.observe(event.duration.as_secs_f64());
                }
            }
            // Missed events only cost metric samples; keep counting the next ones.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}

impl<S: ImageSource> Backend for ServiceState<S> {
    fn spawner_images_body(&self) -> JsonBody {
        self.current().images_body(&self.config)
    }

    async fn prepulls_body(&self) -> JsonBody {
        self.current().prepulls_body(&self.config).await
    }

    async fn menu_body(&self) -> JsonBody {
        self.current().menu_body(&self.config).await
    }

    fn lab_form(&self) -> &LabForm {
        &self.form
    }

    async fn lab_form_images(&self) -> Result<Bytes, RenderError> {
        self.current().lab_form_images(&self.config).await
    }

    fn listed_image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError> {
        served::listed_image_for_tag(&self.current().listing_on_nodes, tag)
    }

    async fn resolve(&self, selection: ImageSelection) -> Result<ResolvedImage, LookupError> {
        let listing = self.listing();
        let recommended_tag = &self.config.images.recommended_tag;
        served::resolve(&listing, selection, recommended_tag, self.source.as_ref()).await
    }

    fn status(&self) -> StatusReport {
        let record = lock(&self.refresh).clone();
        self.current().status_report(ServiceFacts {
            refresh: RefreshReport::of(self.source.describe(), &record),
            leader: self.leader.is_leading(),
            prepulling: self.prepulling,
            tasks: self.health.tasks(),
            lab_form: self.form.setup(),
        })
    }

    fn has_listing(&self) -> bool {
        self.current.borrow().listed
    }

    /// Follows the state as it is now: the snapshot the API answers from holds a refreshed
    /// listing, and every task the API depends on runs.
    fn ready(&self) -> Result<(), NotReady> {
        if !self.has_listing() {
            return Err(NotReady::NoListing);
        }
        self.health.ready()
    }

    fn metrics(&self) -> MetricsSnapshot {
        self.current().metrics(ServiceCounters {
            refresh: lock(&self.refresh).clone(),
            refresh_interval: self.config.images.refresh_interval,
            leader: self.prepulling.then(|| self.leader.is_leading()),
            prepull_pods_max: self.config.prepuller.max_in_flight as u64,
            prepull_durations: self.prepull_durations.clone(),
            warm_waits: self.warm.waits.clone(),
            warm_released_by_timeout_total: self.warm.released_by_timeout(),
            tasks: self.health.metrics(),
        })
    }
}
