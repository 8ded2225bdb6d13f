//! The served snapshot: what the API, the status pages and `/metrics` answer from at one
//! moment, and the bodies made from it.
//!
//! A [`ServedSnapshot`] is one [`ListingOnNodes`] (a listing, the selected nodes, where each
//! digest is cached) with the prepuller's status. Everything the routes answer is a function
//! of it and of the service's own facts (how refreshes went, the tasks, the leader): the
//! status report ([`ServedSnapshot::status_report`]), the metrics
//! ([`ServedSnapshot::metrics`]) and the bodies. The service (`state`) and the HTTP tests'
//! backend call the same functions, so the tests check what the service computes.
//!
//! Bodies derived from a snapshot are computed once and shared, so a burst of spawner
//! requests costs one computation, not one per request; the menu, the lab form's images and
//! `/prepulls` are computed on the blocking pool, never on the threads that answer requests
//! and probes.

use crate::backend::{MetricsSnapshot, TaskMetrics};
use crate::body::JsonBody;
use crate::metrics::Histogram;
use crate::pages::{self, RenderError};
use crate::refresh::RefreshRecord;
use crate::served::{self, ListingOnNodes};
use crate::state::lock;
use crate::status::{LabFormSetup, RefreshReport, StatusGrid, StatusReport, TaskReport};
use axum::body::Bytes;
use chrono::Utc;
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerReport;
use rsp_model::api::MenuImages;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How stale the dropdown's age filters may get: a cutoff measured in days or weeks moving
/// a few seconds late changes nothing anyone can see.
const MENU_MAX_AGE: Duration = Duration::from_secs(10);

/// The menu of one listing on nodes and what is derived from it: its JSON body and the
/// images half of the lab form, each made at the first request that needs it (a large menu
/// makes both tens of megabytes, and a hub may only ever ask for one). Recomputed in the
/// background when it gets older than `MENU_MAX_AGE` while requests keep getting the previous
/// one; an unchanged menu keeps its body and form.
#[derive(Default)]
struct MenuCache {
    latest: Mutex<Option<Arc<MenuEntry>>>,
    refreshing: AtomicBool,
    /// Held while the first menu of the listing on nodes is computed, so concurrent first
    /// requests wait for one computation instead of each starting their own.
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

/// Where a snapshot's listing comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingOrigin {
    /// A refresh of the registry: the service answers from it.
    Refreshed,
    /// The empty listing the service starts with, before the first refresh.
    Placeholder,
}

/// What is served for one listing on one node snapshot and one prepuller status, with the
/// bodies made from it. `images` and `menu` depend only on the [`ListingOnNodes`] and are
/// shared with the next snapshot when a rebuild changed nothing they show; `prepulls` and the
/// status pages' grid also show the prepuller's activity, so they belong to one snapshot.
pub struct ServedSnapshot {
    pub listing_on_nodes: Arc<ListingOnNodes>,
    pub puller: Arc<PrepullerReport>,
    /// Whether it holds a refreshed listing rather than the empty placeholder the
    /// service starts with: what readiness and the listing routes follow.
    pub listed: bool,
    images: Arc<OnceLock<JsonBody>>,
    menu: Arc<MenuCache>,
    prepulls: tokio::sync::OnceCell<JsonBody>,
    grid: OnceLock<Arc<StatusGrid>>,
}

impl ServedSnapshot {
    /// The snapshot of `world` with the prepuller's `puller` status; no body is made yet.
    pub fn new(
        world: ListingOnNodes,
        puller: Arc<PrepullerReport>,
        origin: ListingOrigin,
    ) -> ServedSnapshot {
        ServedSnapshot {
            listing_on_nodes: Arc::new(world),
            puller,
            listed: origin == ListingOrigin::Refreshed,
            images: Arc::default(),
            menu: Arc::default(),
            prepulls: tokio::sync::OnceCell::new(),
            grid: OnceLock::new(),
        }
    }

    /// The same listing on nodes with a newer prepuller status.
    pub(crate) fn with_status(&self, puller: Arc<PrepullerReport>) -> ServedSnapshot {
        ServedSnapshot {
            listing_on_nodes: Arc::clone(&self.listing_on_nodes),
            puller,
            listed: self.listed,
            images: Arc::clone(&self.images),
            menu: Arc::clone(&self.menu),
            prepulls: tokio::sync::OnceCell::new(),
            grid: OnceLock::new(),
        }
    }

    /// The snapshot of a new listing on nodes; one that shows the same images, menu and node
    /// states as this one (a node event that changed nothing visible, such as a heartbeat)
    /// keeps the bodies.
    pub(crate) fn rebuilt(
        &self,
        world: ListingOnNodes,
        puller: Arc<PrepullerReport>,
        origin: ListingOrigin,
    ) -> ServedSnapshot {
        let old = &self.listing_on_nodes;
        let shows_the_same = Arc::ptr_eq(&old.listing, &world.listing)
            && old.eligible == world.eligible
            && old.presence == world.presence;
        let mut next = ServedSnapshot::new(world, puller, origin);
        if shows_the_same {
            next.images = Arc::clone(&self.images);
            next.menu = Arc::clone(&self.menu);
        }
        next
    }
}

impl ServedSnapshot {
    /// The `/images` body, built once per listing on nodes (gzip included, so no request
    /// waits for it).
    pub fn images_body(&self, config: &Config) -> JsonBody {
        self.images
            .get_or_init(|| {
                let body = JsonBody::new(&served::spawner_images(
                    &self.listing_on_nodes,
                    &config.images.recommended_tag,
                ));
                body.gzip();
                body
            })
            .clone()
    }

    /// The `/prepulls` body, serialised once per snapshot on the blocking pool (thousands
    /// of nodes make it large).
    pub async fn prepulls_body(self: &Arc<Self>, config: &Arc<Config>) -> JsonBody {
        self.prepulls
            .get_or_init(|| {
                let (current, config) = (Arc::clone(self), Arc::clone(config));
                offload(move || {
                    let errors = served::prepull_errors(&current.puller);
                    JsonBody::new(&served::prepuller_status(
                        &current.listing_on_nodes,
                        &config,
                        &errors,
                    ))
                })
            })
            .await
            .clone()
    }

    /// The status pages' grid, built at the first page view of this snapshot.
    pub fn status_grid(&self) -> Arc<StatusGrid> {
        Arc::clone(self.grid.get_or_init(|| {
            Arc::new(StatusGrid::build(
                Arc::clone(&self.listing_on_nodes),
                &self.puller,
            ))
        }))
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
                        // menu stale for the rest of this snapshot.
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
            let menu = served::menu(&current.listing_on_nodes, &config, Utc::now());
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
    pub async fn menu_body(self: &Arc<Self>, config: &Arc<Config>) -> JsonBody {
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
    pub async fn lab_form_images(
        self: &Arc<Self>,
        config: &Arc<Config>,
    ) -> Result<Bytes, RenderError> {
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

/// What the status pages show besides the snapshot: the service's own facts.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    pub refresh: RefreshReport,
    /// Whether this replica is the one that prepulls.
    pub leader: bool,
    /// Whether prepull pods are really created (false for a static cluster: plan only).
    pub prepulling: bool,
    /// The supervised tasks, in a fixed order.
    pub tasks: Vec<TaskReport>,
    pub lab_form: LabFormSetup,
}

/// What `/metrics` reads besides the snapshot: the service's own counters and settings.
#[derive(Debug, Clone)]
pub struct ServiceCounters {
    /// Refreshes: totals, durations, the last success.
    pub refresh: RefreshRecord,
    /// `images.refreshInterval`.
    pub refresh_interval: Duration,
    /// Whether this replica prepulls; `None` when nothing is prepulled (a static cluster).
    pub leader: Option<bool>,
    /// `prepuller.maxInFlight`.
    pub prepull_pods_max: u64,
    /// Durations of successful prepulls.
    pub prepull_durations: Histogram,
    /// From node Ready to its warm taint removed, releases by this replica.
    pub warm_waits: Histogram,
    /// Warm taints removed at the warm timeout with images still missing.
    pub warm_released_by_timeout_total: u64,
    pub tasks: Vec<TaskMetrics>,
}

impl ServedSnapshot {
    /// What the status pages show: this snapshot's grid (built at the first call) with the
    /// service's facts.
    pub fn status_report(&self, facts: ServiceFacts) -> StatusReport {
        StatusReport {
            refresh: facts.refresh,
            leader: facts.leader,
            prepulling: facts.prepulling,
            grid: self.status_grid(),
            tasks: facts.tasks,
            lab_form: facts.lab_form,
        }
    }

    /// What `/metrics` shows: the counts of this snapshot (images, nodes, missing pairs, the
    /// prepuller's counters) with the service's counters. The counts of the listing on nodes are
    /// made once for it (at the first scrape), never from a whole plan.
    pub fn metrics(&self, counters: ServiceCounters) -> MetricsSnapshot {
        let world = &self.listing_on_nodes;
        let puller = &self.puller;
        let counts = world.metric_counts();
        MetricsSnapshot {
            refresh_success_total: counters.refresh.success_total,
            refresh_failure_total: counters.refresh.failure_total,
            refresh_durations: counters.refresh.durations,
            last_refresh_success: counters.refresh.last_success,
            refresh_interval: counters.refresh_interval,
            images_seen: world.listing.catalog.len() as u64,
            tags_seen: world.listing.tag_count() as u64,
            leader: counters.leader,
            prepull_pods_in_flight: puller.in_flight as u64,
            prepull_pods_max: counters.prepull_pods_max,
            prepull_durations: counters.prepull_durations,
            prepull_successes_total: puller.succeeded_total,
            prepull_failures: puller
                .failed_total
                .iter()
                .map(|(reason, count)| (reason.as_str().to_owned(), *count))
                .collect(),
            missing_pairs: counts.missing_pairs,
            eligible_nodes: counts.eligible_nodes,
            ineligible_nodes: counts.ineligible_nodes.clone(),
            prepull_image_missing_nodes: counts.missing_by_image.clone(),
            warm_nodes_cold: world.warm.as_ref().map(|warm| warm.cold.len() as u64),
            warm_waits: counters.warm_waits,
            warm_released_by_timeout_total: counters.warm_released_by_timeout_total,
            tasks: counters.tasks,
        }
    }
}
