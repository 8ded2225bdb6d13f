//! The live state behind the HTTP layer: the current [`World`], how refreshes went, and what
//! the prepuller reports; the [`Backend`] the routes read.
//!
//! Writers never block readers: the world is rebuilt off to the side and published through a
//! `watch` channel whenever the listing, the nodes or the prepuller's successes change (see
//! `world_task`), and every request reads the latest `Arc<World>`. Bodies derived from a world
//! are computed once per world and shared (`BodyCache`), so a burst of spawner requests costs
//! one computation, not one per request.

use crate::backend::{
    Backend, CellState, ImageRow, ImageSelection, LookupError, MetricsSnapshot, RefreshView,
    ResolvedImage, StatusView,
};
use crate::body::JsonBody;
use crate::metrics::Histogram;
use crate::refresh::SharedRecord;
use crate::views::{self, PrepullErrors, World};
use chrono::Utc;
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerStatus as PullerStatus;
use rsp_model::api::{MenuImages, PrepulledImage, PrepullerStatus, SpawnerImages};
use rsp_model::node::NodeInfo;
use rsp_model::plan::PulledSet;
use rsp_registry::source::{self, ImageSource, Listing};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Bodies computed from one world, at most once each. The menu depends on the clock too (the
/// dropdown's age filters), so it is recomputed when older than `MENU_MAX_AGE`.
#[derive(Default)]
struct BodyCache {
    images: OnceLock<JsonBody>,
    prepulls: OnceLock<JsonBody>,
    menu: Mutex<Option<(Instant, JsonBody)>>,
}

/// How stale the dropdown's age filters may get: a cutoff measured in days or weeks moving
/// a few seconds late changes nothing anyone can see.
const MENU_MAX_AGE: Duration = Duration::from_secs(10);

/// The world with its cached bodies.
pub struct Current {
    pub world: World,
    pub puller: Arc<PullerStatus>,
    cache: BodyCache,
}

impl Current {
    pub fn new(world: World, puller: Arc<PullerStatus>) -> Current {
        Current {
            world,
            puller,
            cache: BodyCache::default(),
        }
    }
}

/// The service state shared by all requests.
pub struct ServiceState<S> {
    pub(crate) config: Arc<Config>,
    pub(crate) source: Arc<S>,
    pub(crate) current: watch::Receiver<Arc<Current>>,
    pub(crate) refresh: SharedRecord,
    pub(crate) ready: watch::Receiver<bool>,
    pub(crate) leader: watch::Receiver<bool>,
    /// Whether prepull pods are really created (false for a static cluster).
    pub(crate) prepulling: bool,
    /// Durations of successful prepulls (see `record_prepull_durations`).
    pub(crate) prepull_durations: SharedHistogram,
}

/// A histogram written by one task and read at scrape time.
pub type SharedHistogram = Arc<Mutex<Histogram>>;

impl<S: ImageSource> ServiceState<S> {
    fn current(&self) -> Arc<Current> {
        Arc::clone(&self.current.borrow())
    }

    fn listing(&self) -> Arc<Listing> {
        Arc::clone(&self.current.borrow().world.listing)
    }
}

/// Combines the latest inputs into a world whenever one of them changes, until every input
/// is gone (the service is stopping).
pub async fn world_task(
    config: Arc<Config>,
    mut listings: watch::Receiver<Arc<Listing>>,
    mut nodes: watch::Receiver<Option<Arc<Vec<NodeInfo>>>>,
    mut puller: watch::Receiver<Arc<PullerStatus>>,
    current: watch::Sender<Arc<Current>>,
) {
    let mut last_pulled: Option<Arc<PulledSet>> = None;
    loop {
        let listing = Arc::clone(&listings.borrow_and_update());
        let node_list = nodes.borrow_and_update().clone().unwrap_or_default();
        let status = Arc::clone(&puller.borrow_and_update());
        // A status change that did not add a pull changes no presence: skip the rebuild,
        // but keep the status (the status page shows pulls in progress).
        let pulled_changed = last_pulled
            .as_ref()
            .is_none_or(|last| !Arc::ptr_eq(last, &status.pulled));
        last_pulled = Some(Arc::clone(&status.pulled));
        let previous = Arc::clone(&current.borrow());
        let same_inputs = Arc::ptr_eq(&previous.world.listing, &listing)
            && !pulled_changed
            && previous.world.built_from(&node_list);
        let next = if same_inputs {
            Current::new(previous.world.clone(), status)
        } else {
            Current::new(
                World::from_shared(listing, node_list, &config, &status.pulled),
                status,
            )
        };
        current.send_replace(Arc::new(next));
        tokio::select! {
            changed = listings.changed() => if changed.is_err() { return },
            changed = nodes.changed() => if changed.is_err() { return },
            changed = puller.changed() => if changed.is_err() { return },
        }
    }
}

/// The last prepull error of each (node, digest) pair, for `/prepulls`.
fn prepull_errors(puller: &PullerStatus) -> PrepullErrors {
    puller
        .pulls
        .iter()
        .filter_map(|(key, pull)| Some((key.clone(), pull.last_error.clone()?)))
        .collect()
}

/// Counts the duration of every successful prepull until the prepuller stops.
pub async fn record_prepull_durations(
    mut events: tokio::sync::broadcast::Receiver<rsp_kube::prepuller::PrepullEvent>,
    histogram: SharedHistogram,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => {
                if event.outcome == rsp_kube::prepuller::PrepullOutcome::Succeeded {
                    let mut guard = match histogram.lock() {
                        Ok(guard) => guard,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    guard.observe(event.duration.as_secs_f64());
                }
            }
            // Missed events only cost metric samples; keep counting the next ones.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}

fn system_time(time: chrono::DateTime<Utc>) -> SystemTime {
    SystemTime::from(time)
}

impl<S: ImageSource> Backend for ServiceState<S> {
    fn spawner_images(&self) -> SpawnerImages {
        views::spawner_images(&self.current().world, &self.config.images.recommended_tag)
    }

    fn prepulls(&self) -> PrepullerStatus {
        let current = self.current();
        views::prepuller_status(
            &current.world,
            &self.config,
            &prepull_errors(&current.puller),
        )
    }

    fn menu(&self) -> MenuImages {
        views::menu(&self.current().world, &self.config, Utc::now())
    }

    fn spawner_images_body(&self) -> JsonBody {
        let current = self.current();
        current
            .cache
            .images
            .get_or_init(|| {
                JsonBody::new(&views::spawner_images(
                    &current.world,
                    &self.config.images.recommended_tag,
                ))
            })
            .clone()
    }

    fn prepulls_body(&self) -> JsonBody {
        let current = self.current();
        current
            .cache
            .prepulls
            .get_or_init(|| {
                let errors = prepull_errors(&current.puller);
                JsonBody::new(&views::prepuller_status(
                    &current.world,
                    &self.config,
                    &errors,
                ))
            })
            .clone()
    }

    fn menu_body(&self) -> JsonBody {
        let current = self.current();
        let mut cached = match current.cache.menu.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match cached.as_ref() {
            Some((made, body)) if made.elapsed() < MENU_MAX_AGE => body.clone(),
            _ => {
                let body = JsonBody::new(&views::menu(&current.world, &self.config, Utc::now()));
                *cached = Some((Instant::now(), body.clone()));
                body
            }
        }
    }

    fn image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError> {
        views::image_for_tag(&self.current().world, tag)
            .ok_or_else(|| LookupError::UnknownImage(format!("Docker tag \"{tag}\" not found")))
    }

    async fn resolve(&self, selection: ImageSelection) -> Result<ResolvedImage, LookupError> {
        let listing = self.listing();
        let source = self.source.as_ref();
        let result = match selection {
            ImageSelection::List(reference) | ImageSelection::Dropdown(reference) => {
                source::image_for_reference(source, &listing, &reference).await
            }
            ImageSelection::Class(class) => {
                source::image_for_class(&listing, class, &self.config.images.recommended_tag)
            }
            ImageSelection::Tag(tag) => source::image_for_tag_name(source, &listing, &tag).await,
        };
        result.map_err(LookupError::from)
    }

    fn status(&self) -> StatusView {
        let current = self.current();
        let world = &current.world;
        let record = match self.refresh.lock() {
            Ok(record) => record.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let nodes = views::node_views(world);
        let images = views::prepull_images(&world.listing)
            .into_iter()
            .map(|wanted| {
                let image = world.listing.catalog.get(&wanted.tag);
                let cells = world
                    .nodes
                    .iter()
                    .map(|node| cell(&current, &node.name, &wanted.digest))
                    .collect();
                ImageRow {
                    name: image
                        .map(|i| i.display_name().to_string())
                        .unwrap_or_default(),
                    reference: image.map(|i| i.reference()).unwrap_or_default(),
                    size: world
                        .presence
                        .size(&wanted.digest)
                        .or_else(|| image.and_then(|i| i.size())),
                    tag: wanted.tag,
                    digest: wanted.digest,
                    cells,
                }
            })
            .collect();
        StatusView {
            refresh: RefreshView {
                source: self.source.describe(),
                last_success: record.last_success,
                last_error: record.last_error,
            },
            nodes,
            images,
            leader: *self.leader.borrow(),
            prepulling: self.prepulling,
        }
    }

    fn ready(&self) -> bool {
        *self.ready.borrow()
    }

    fn metrics(&self) -> MetricsSnapshot {
        let current = self.current();
        let record = match self.refresh.lock() {
            Ok(record) => record.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let puller = &current.puller;
        let plan = views::prepull_plan(&current.world, &self.config, &puller.pulled);
        MetricsSnapshot {
            refresh_success_total: record.success_total,
            refresh_failure_total: record.failure_total,
            refresh_durations: record.durations,
            images_seen: current.world.listing.catalog.len() as u64,
            tags_seen: current.world.listing.tag_count() as u64,
            prepull_pods_in_flight: puller.in_flight as u64,
            prepull_durations: match self.prepull_durations.lock() {
                Ok(histogram) => histogram.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
            prepull_failures: puller
                .failed_total
                .iter()
                .map(|(reason, count)| (reason.as_str().to_owned(), *count))
                .collect(),
            missing_pairs: plan.pulls().count() as u64,
        }
    }
}

/// The state of one image on one node, as the status page shows it.
fn cell(current: &Current, node: &str, digest: &str) -> CellState {
    if current.world.presence.is_on(digest, node) {
        return CellState::Cached;
    }
    let Some(pull) = current.puller.pull(node, digest) else {
        return CellState::Missing;
    };
    if let Some(since) = pull.pulling_since {
        return CellState::Pulling {
            since: system_time(since),
        };
    }
    match (&pull.last_error, pull.last_error_at, pull.backing_off_until) {
        (Some(reason), Some(failed_at), Some(until)) => CellState::BackingOff {
            reason: reason.clone(),
            failed_at: system_time(failed_at),
            until: system_time(until),
        },
        _ => CellState::Missing,
    }
}
