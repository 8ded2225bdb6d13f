//! The live state behind the HTTP layer: the current [`World`], how refreshes went, and what
//! the prepuller reports; the [`Backend`] the routes read.
//!
//! Writers never block readers: the world is rebuilt off to the side and published through a
//! `watch` channel whenever the listing, the nodes or the prepuller's successes change (see
//! `world_task`), and every request reads the latest `Arc<World>`. Bodies derived from a world
//! are computed once per world and shared (`BodyCache`), so a burst of spawner requests costs
//! one computation, not one per request.

use crate::backend::{
    Backend, ImageSelection, LookupError, MetricsSnapshot, NotReady, RefreshView, ResolvedImage,
    StatusView,
};
use crate::body::JsonBody;
use crate::metrics::Histogram;
use crate::refresh::SharedRecord;
use crate::status::StatusGrid;
use crate::supervise::Health;
use crate::views::{self, World};
use chrono::Utc;
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerStatus as PullerStatus;
use rsp_model::api::{MenuImages, PrepulledImage, PrepullerStatus, SpawnerImages};
use rsp_model::listing::Listing;
use rsp_model::node::NodeInfo;
use rsp_model::plan::PulledSet;
use rsp_registry::source::{self, ImageSource};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How stale the dropdown's age filters may get: a cutoff measured in days or weeks moving
/// a few seconds late changes nothing anyone can see.
const MENU_MAX_AGE: Duration = Duration::from_secs(10);

/// How long the world task waits after a change for more to arrive: kubelets report in
/// bursts, and one rebuild for a burst is enough.
const SETTLE: Duration = Duration::from_millis(50);

/// The menu body of one world, recomputed in the background when it gets older than
/// `MENU_MAX_AGE` while requests keep getting the previous one.
#[derive(Default)]
struct MenuCache {
    body: Mutex<Option<(Instant, JsonBody)>>,
    refreshing: AtomicBool,
}

/// The world with its bodies. `images` and `menu` depend only on the world and are shared
/// with the next `Current` when a rebuild changed nothing they show; `prepulls` and the
/// status pages' grid also show the prepuller's activity, so they belong to one `Current`.
pub struct Current {
    pub world: Arc<World>,
    pub puller: Arc<PullerStatus>,
    /// Whether the world holds a refreshed listing rather than the empty placeholder the
    /// service starts with: what readiness and the listing routes follow.
    pub listed: bool,
    images: Arc<OnceLock<JsonBody>>,
    menu: Arc<MenuCache>,
    prepulls: OnceLock<JsonBody>,
    grid: OnceLock<Arc<StatusGrid>>,
}

impl Current {
    pub fn new(world: World, puller: Arc<PullerStatus>, listed: bool) -> Current {
        Current {
            world: Arc::new(world),
            puller,
            listed,
            images: Arc::default(),
            menu: Arc::default(),
            prepulls: OnceLock::new(),
            grid: OnceLock::new(),
        }
    }

    /// The same world with a newer prepuller status.
    fn with_status(&self, puller: Arc<PullerStatus>) -> Current {
        Current {
            world: Arc::clone(&self.world),
            puller,
            listed: self.listed,
            images: Arc::clone(&self.images),
            menu: Arc::clone(&self.menu),
            prepulls: OnceLock::new(),
            grid: OnceLock::new(),
        }
    }

    /// A new world that shows the same images, menu and node states as this one (a node
    /// event that changed nothing visible, such as a heartbeat) keeps the bodies.
    fn rebuilt(&self, world: World, puller: Arc<PullerStatus>, listed: bool) -> Current {
        let old = &self.world;
        let same_view = Arc::ptr_eq(&old.listing, &world.listing)
            && old.eligible == world.eligible
            && old.presence == world.presence;
        let mut next = Current::new(world, puller, listed);
        if same_view {
            next.images = Arc::clone(&self.images);
            next.menu = Arc::clone(&self.menu);
        }
        next
    }
}

/// The service state shared by all requests.
pub struct ServiceState<S> {
    pub(crate) config: Arc<Config>,
    pub(crate) source: Arc<S>,
    pub(crate) current: watch::Receiver<Arc<Current>>,
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
}

impl<S: ImageSource> ServiceState<S> {
    fn current(&self) -> Arc<Current> {
        Arc::clone(&self.current.borrow())
    }

    fn listing(&self) -> Arc<Listing> {
        Arc::clone(&self.current.borrow().world.listing)
    }
}

/// Combines the latest inputs into a world whenever one of them changes, until every input
/// is gone (the service is stopping). `placeholder` is the empty listing the listings channel
/// starts with: a world built from it is not `listed`.
pub async fn world_task(
    config: Arc<Config>,
    placeholder: Arc<Listing>,
    mut listings: watch::Receiver<Arc<Listing>>,
    mut nodes: watch::Receiver<Option<Arc<Vec<NodeInfo>>>>,
    mut puller: watch::Receiver<Arc<PullerStatus>>,
    current: watch::Sender<Arc<Current>>,
) {
    let mut last_pulled: Option<Arc<PulledSet>> = None;
    let no_nodes: Arc<Vec<NodeInfo>> = Arc::default();
    loop {
        let listing = Arc::clone(&listings.borrow_and_update());
        let listed = !Arc::ptr_eq(&listing, &placeholder);
        let node_list = nodes
            .borrow_and_update()
            .clone()
            .unwrap_or_else(|| Arc::clone(&no_nodes));
        let status = Arc::clone(&puller.borrow_and_update());
        // A status change that did not add a pull changes no presence: keep the world, with
        // the new status (the status page shows pulls in progress).
        let pulled_changed = last_pulled
            .as_ref()
            .is_none_or(|last| !Arc::ptr_eq(last, &status.pulled));
        last_pulled = Some(Arc::clone(&status.pulled));
        let previous = Arc::clone(&current.borrow());
        let same_inputs = Arc::ptr_eq(&previous.world.listing, &listing)
            && !pulled_changed
            && previous.world.built_from(&node_list);
        let next = if same_inputs {
            previous.with_status(status)
        } else {
            let config = Arc::clone(&config);
            // Building a world and its bodies takes milliseconds: keep it off the threads
            // that answer requests.
            let built = tokio::task::spawn_blocking(move || {
                let world = World::from_shared(listing, node_list, &config, &status.pulled);
                let next = previous.rebuilt(world, status, listed);
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
        tokio::time::sleep(SETTLE).await;
    }
}

impl Current {
    /// The `/images` body, built once per world (gzip included, so no request waits for it).
    fn images_body(&self, config: &Config) -> JsonBody {
        self.images
            .get_or_init(|| {
                let body = JsonBody::new(&views::spawner_images(
                    &self.world,
                    &config.images.recommended_tag,
                ));
                body.gzip();
                body
            })
            .clone()
    }

    fn prepulls_body(&self, config: &Config) -> JsonBody {
        self.prepulls
            .get_or_init(|| {
                let errors = views::prepull_errors(&self.puller);
                JsonBody::new(&views::prepuller_status(&self.world, config, &errors))
            })
            .clone()
    }

    /// The status pages' grid, built at the first page view of this snapshot.
    fn status_grid(&self) -> Arc<StatusGrid> {
        Arc::clone(
            self.grid
                .get_or_init(|| Arc::new(StatusGrid::build(Arc::clone(&self.world), &self.puller))),
        )
    }

    /// The menu body; when it is stale, one caller recomputes it in the background and
    /// everyone gets the previous one meanwhile.
    fn menu_body(self: &Arc<Self>, config: &Arc<Config>) -> JsonBody {
        let cached = lock(&self.menu.body).clone();
        match cached {
            Some((made, body)) if made.elapsed() < MENU_MAX_AGE => body,
            Some((_, body)) => {
                if !self.menu.refreshing.swap(true, Ordering::AcqRel) {
                    let (current, config) = (Arc::clone(self), Arc::clone(config));
                    tokio::task::spawn_blocking(move || {
                        // Cleared however the computation ends: a panic must not leave the
                        // menu stale for the rest of this world.
                        let _clear = ClearOnDrop(&current.menu.refreshing);
                        current.compute_menu(&config);
                    });
                }
                body
            }
            None => self.compute_menu(config),
        }
    }

    fn compute_menu(&self, config: &Config) -> JsonBody {
        let body = JsonBody::new(&views::menu(&self.world, config, Utc::now()));
        body.gzip();
        *lock(&self.menu.body) = Some((Instant::now(), body.clone()));
        body
    }
}

/// Clears a flag when dropped.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
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
    fn spawner_images(&self) -> SpawnerImages {
        views::spawner_images(&self.current().world, &self.config.images.recommended_tag)
            .into_owned()
    }

    fn prepulls(&self) -> PrepullerStatus {
        let current = self.current();
        views::prepuller_status(
            &current.world,
            &self.config,
            &views::prepull_errors(&current.puller),
        )
    }

    fn menu(&self) -> MenuImages {
        views::menu(&self.current().world, &self.config, Utc::now())
    }

    fn spawner_images_body(&self) -> JsonBody {
        self.current().images_body(&self.config)
    }

    fn prepulls_body(&self) -> JsonBody {
        self.current().prepulls_body(&self.config)
    }

    fn menu_body(&self) -> JsonBody {
        self.current().menu_body(&self.config)
    }

    fn image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError> {
        views::image_for_tag(&self.current().world, tag)
            .ok_or_else(|| LookupError::tag_not_found(tag))
    }

    async fn resolve(&self, selection: ImageSelection) -> Result<ResolvedImage, LookupError> {
        let listing = self.listing();
        let source = self.source.as_ref();
        let result = match selection {
            ImageSelection::List(reference) | ImageSelection::Dropdown(reference) => {
                source::image_for_reference(source, &listing, &reference).await
            }
            ImageSelection::Class(class) => {
                listing.image_for_class(class, &self.config.images.recommended_tag)
            }
            ImageSelection::Tag(tag) => source::image_for_tag_name(source, &listing, &tag).await,
        };
        result
    }

    fn status(&self) -> StatusView {
        let record = lock(&self.refresh).clone();
        StatusView {
            refresh: RefreshView {
                source: self.source.describe(),
                last_success: record.last_success,
                last_error: record.last_error,
                failing_since: record.failing_since,
                consecutive_failures: record.consecutive_failures,
            },
            leader: self.leader.is_leading(),
            prepulling: self.prepulling,
            grid: self.current().status_grid(),
            tasks: self.health.tasks(),
        }
    }

    fn has_listing(&self) -> bool {
        self.current.borrow().listed
    }

    /// Follows the state as it is now: the world the API answers from holds a refreshed
    /// listing, and every task the API depends on runs.
    fn ready(&self) -> Result<(), NotReady> {
        if !self.has_listing() {
            return Err(NotReady::NoListing);
        }
        self.health.ready()
    }

    fn metrics(&self) -> MetricsSnapshot {
        let current = self.current();
        let world = &current.world;
        let record = lock(&self.refresh).clone();
        let puller = &current.puller;
        let images = views::prepull_images(&world.listing);
        let plan = views::plan_for_images(world, &images);
        let (eligible_nodes, ineligible_nodes) = views::nodes_by_eligibility(world);
        MetricsSnapshot {
            refresh_success_total: record.success_total,
            refresh_failure_total: record.failure_total,
            refresh_durations: record.durations,
            last_refresh_success: record.last_success,
            refresh_interval: self.config.images.refresh_interval,
            images_seen: world.listing.catalog.len() as u64,
            tags_seen: world.listing.tag_count() as u64,
            leader: self.prepulling.then(|| self.leader.is_leading()),
            prepull_pods_in_flight: puller.in_flight as u64,
            prepull_pods_max: self.config.prepuller.max_in_flight as u64,
            prepull_durations: self.prepull_durations.clone(),
            prepull_successes_total: puller.succeeded_total,
            prepull_failures: puller
                .failed_total
                .iter()
                .map(|(reason, count)| (reason.as_str().to_owned(), *count))
                .collect(),
            missing_pairs: plan.pulls().count() as u64,
            eligible_nodes,
            ineligible_nodes,
            prepull_image_missing_nodes: views::missing_nodes_by_image(&plan, &images),
            warm_nodes_cold: world.warm.as_ref().map(|warm| warm.cold.len() as u64),
            warm_waits: self.warm.waits.clone(),
            warm_released_by_timeout_total: self.warm.released_by_timeout(),
            tasks: self.health.metrics(),
        }
    }
}
