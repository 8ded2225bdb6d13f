//! The live state behind the HTTP layer: the current [`World`], how refreshes went, and what
//! the prepuller reports; the [`Backend`] the routes read.
//!
//! Writers never block readers: the world is rebuilt off to the side and published through a
//! `watch` channel whenever the listing, the nodes or the prepuller's successes change (see
//! `world_task`), and every request reads the latest `Arc<World>`. Bodies derived from a world
//! are computed once per world and shared, so a burst of spawner requests costs one
//! computation, not one per request; the menu, the lab form's images and `/prepulls` are
//! computed on the blocking pool, never on the threads that answer requests and probes.

use crate::backend::{
    Backend, ImageSelection, LookupError, MetricsSnapshot, NotReady, RefreshView, ResolvedImage,
    StatusView,
};
use crate::body::JsonBody;
use crate::form::LabForm;
use crate::metrics::Histogram;
use crate::pages::{self, RenderError};
use crate::refresh::SharedRecord;
use crate::status::StatusGrid;
use crate::supervise::Health;
use crate::views::{self, World};
use axum::body::Bytes;
use chrono::Utc;
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerReport;
use rsp_kube::NodeSnapshot;
use rsp_model::api::{MenuImages, PrepulledImage, PrepullerStatus, SpawnerImages};
use rsp_model::listing::Listing;
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

/// The menu of one world and what is derived from it: its JSON body and the images half of
/// the lab form, each made at the first request that needs it (a large menu makes both
/// tens of megabytes, and a hub may only ever ask for one). Recomputed in the background when it gets older than `MENU_MAX_AGE` while
/// requests keep getting the previous one; an unchanged menu keeps its body and form.
#[derive(Default)]
struct MenuCache {
    latest: Mutex<Option<Arc<MenuEntry>>>,
    refreshing: AtomicBool,
    /// Held while the first menu of the world is computed, so concurrent first requests wait
    /// for one computation instead of each starting their own.
    first: tokio::sync::Mutex<()>,
}

struct MenuEntry {
    made: Instant,
    menu: MenuImages,
    /// The JSON body, serialised (and compressed) at the first menu request.
    body: Arc<OnceLock<JsonBody>>,
    /// The lab form's images half, rendered at the first form request for this menu.
    form: Arc<OnceLock<Result<Bytes, RenderError>>>,
}

/// The world with its bodies. `images` and `menu` depend only on the world and are shared
/// with the next `Current` when a rebuild changed nothing they show; `prepulls` and the
/// status pages' grid also show the prepuller's activity, so they belong to one `Current`.
pub struct Current {
    pub world: Arc<World>,
    pub puller: Arc<PrepullerReport>,
    /// Whether the world holds a refreshed listing rather than the empty placeholder the
    /// service starts with: what readiness and the listing routes follow.
    pub listed: bool,
    images: Arc<OnceLock<JsonBody>>,
    menu: Arc<MenuCache>,
    prepulls: tokio::sync::OnceCell<JsonBody>,
    grid: OnceLock<Arc<StatusGrid>>,
}

impl Current {
    pub fn new(world: World, puller: Arc<PrepullerReport>, listed: bool) -> Current {
        Current {
            world: Arc::new(world),
            puller,
            listed,
            images: Arc::default(),
            menu: Arc::default(),
            prepulls: tokio::sync::OnceCell::new(),
            grid: OnceLock::new(),
        }
    }

    /// The same world with a newer prepuller status.
    fn with_status(&self, puller: Arc<PrepullerReport>) -> Current {
        Current {
            world: Arc::clone(&self.world),
            puller,
            listed: self.listed,
            images: Arc::clone(&self.images),
            menu: Arc::clone(&self.menu),
            prepulls: tokio::sync::OnceCell::new(),
            grid: OnceLock::new(),
        }
    }

    /// A new world that shows the same images, menu and node states as this one (a node
    /// event that changed nothing visible, such as a heartbeat) keeps the bodies.
    fn rebuilt(&self, world: World, puller: Arc<PrepullerReport>, listed: bool) -> Current {
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
    pub(crate) form: LabForm,
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
    mut nodes: watch::Receiver<Option<NodeSnapshot>>,
    mut puller: watch::Receiver<Arc<PrepullerReport>>,
    current: watch::Sender<Arc<Current>>,
) {
    let mut last_pulled: Option<Arc<PulledSet>> = None;
    let no_nodes: NodeSnapshot = Arc::default();
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

    /// The `/prepulls` body, serialised once per `Current` on the blocking pool (thousands
    /// of nodes make it large).
    async fn prepulls_body(self: &Arc<Self>, config: &Arc<Config>) -> JsonBody {
        self.prepulls
            .get_or_init(|| {
                let (current, config) = (Arc::clone(self), Arc::clone(config));
                offload(move || {
                    let errors = views::prepull_errors(&current.puller);
                    JsonBody::new(&views::prepuller_status(&current.world, &config, &errors))
                })
            })
            .await
            .clone()
    }

    /// The status pages' grid, built at the first page view of this snapshot.
    fn status_grid(&self) -> Arc<StatusGrid> {
        Arc::clone(
            self.grid
                .get_or_init(|| Arc::new(StatusGrid::build(Arc::clone(&self.world), &self.puller))),
        )
    }

    /// The current menu entry; when it is stale, one caller recomputes it in the background
    /// and everyone gets the previous one meanwhile. The first is computed once, awaited by
    /// every request that asks for it meanwhile.
    async fn menu_entry(self: &Arc<Self>, config: &Arc<Config>) -> Arc<MenuEntry> {
        let latest = lock(&self.menu.latest).clone();
        match latest {
            Some(entry) if entry.made.elapsed() < MENU_MAX_AGE => entry,
            Some(entry) => {
                if !self.menu.refreshing.swap(true, Ordering::AcqRel) {
                    let (current, config) = (Arc::clone(self), Arc::clone(config));
                    tokio::spawn(async move {
                        // Cleared however the computation ends: a panic must not leave the
                        // menu stale for the rest of this world.
                        let _clear = ClearOnDrop(&current.menu.refreshing);
                        current.compute_menu(&config).await;
                    });
                }
                entry
            }
            None => {
                let _first = self.menu.first.lock().await;
                if let Some(entry) = lock(&self.menu.latest).clone() {
                    return entry;
                }
                self.compute_menu(config).await
            }
        }
    }

    /// Computes the menu on the blocking pool and publishes it; a menu equal to the previous
    /// one keeps the previous body and form (the dropdown's age filters rarely change it).
    async fn compute_menu(self: &Arc<Self>, config: &Arc<Config>) -> Arc<MenuEntry> {
        let (current, config) = (Arc::clone(self), Arc::clone(config));
        let previous = lock(&self.menu.latest).clone();
        let entry = offload(move || {
            let menu = views::menu(&current.world, &config, Utc::now());
            let entry = match previous {
                Some(previous) if previous.menu == menu => MenuEntry {
                    made: Instant::now(),
                    menu,
                    body: Arc::clone(&previous.body),
                    form: Arc::clone(&previous.form),
                },
                _ => MenuEntry {
                    made: Instant::now(),
                    menu,
                    body: Arc::default(),
                    form: Arc::default(),
                },
            };
            Arc::new(entry)
        })
        .await;
        *lock(&self.menu.latest) = Some(Arc::clone(&entry));
        entry
    }

    /// The `/menu` body for the current menu: serialised once per menu, on the blocking pool.
    async fn menu_body(self: &Arc<Self>, config: &Arc<Config>) -> JsonBody {
        let entry = self.menu_entry(config).await;
        derived(
            entry,
            |entry| &entry.body,
            |menu| {
                let body = JsonBody::new(menu);
                body.gzip();
                body
            },
        )
        .await
    }

    /// The lab form's images half for the current menu: rendered once per menu, on the
    /// blocking pool (a large dropdown makes it megabytes), and shared by every request.
    async fn form_images(self: &Arc<Self>, config: &Arc<Config>) -> Result<Bytes, RenderError> {
        let entry = self.menu_entry(config).await;
        derived(entry, |entry| &entry.form, pages::lab_form::images).await
    }
}

/// What `cell` of a menu entry holds, made from the menu by `make` on the blocking pool the
/// first time; concurrent first callers wait there for the one making it.
async fn derived<T: Clone + Send + Sync + 'static>(
    entry: Arc<MenuEntry>,
    cell: fn(&MenuEntry) -> &OnceLock<T>,
    make: fn(&MenuImages) -> T,
) -> T {
    if let Some(value) = cell(&entry).get() {
        return value.clone();
    }
    offload(move || cell(&entry).get_or_init(|| make(&entry.menu)).clone()).await
}

/// Runs CPU-heavy work on the blocking pool and waits for it without holding a request
/// thread. A panic there is a bug, resumed here, where the request's panic layer logs and
/// answers it; work cancelled because the runtime is stopping never completes, and the
/// request goes with the runtime.
async fn offload<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => std::future::pending().await,
        },
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
        self.current().form_images(&self.config).await
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
            lab_form: self.form.setup(),
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
