//! The prepuller: puts the images the policy chose onto every eligible node, quickly and
//! without overloading the cluster, and leaves no pod behind.
//!
//! It is a reconcile loop: node snapshots, the wanted images, a watcher of prepull pods (a
//! reflector store) and timers wake it; the pure [`reconcile::Reconciler`] decides; API calls
//! run as tasks whose results wake the loop again. It prepulls only while this replica leads
//! ([`Leadership`]); every API call is guarded by the leadership itself, so the moment the
//! tenure ends no write is started or continued, and the session ends and leaves its pods to
//! the next leader, which adopts or deletes them. [`PrepullerHandle::shutdown`] deletes the
//! pods in flight within a bounded time.

mod observe;
mod ops;
pub mod reconcile;
mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use rsp_model::plan::{PrepullImage, PulledSet};
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

pub use observe::{progress, Progress};
pub use status::{
    FailureReason, PrepullEvent, PrepullOutcome, PrepullerReport, PullStatus, WarmEvent,
    WarmOutcome,
};

use crate::backoff::WatchBackoff;
use crate::config::PrepullerSettings;
use crate::leadership::Leadership;
use crate::nodes::NodeSnapshot;
use crate::pod::PREPULLER_SELECTOR;
use reconcile::{PodView, Reconciler};

/// The wanted images, in priority order; `None` until the first registry refresh.
pub type WantedImages = Option<Arc<[PrepullImage]>>;

/// Least time between two published statuses (many pulls finishing together publish once).
const STATUS_INTERVAL: Duration = Duration::from_millis(100);
/// Least pause between two passes woken by timers, a guard against busy loops.
const MIN_PAUSE: Duration = Duration::from_millis(5);
/// Events kept for slow subscribers; older ones are dropped for them (metrics only).
const EVENT_BUFFER: usize = 4096;

/// A running prepuller.
pub struct PrepullerHandle {
    status: watch::Receiver<Arc<PrepullerReport>>,
    events: Feed<PrepullEvent>,
    warm_events: Feed<WarmEvent>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl PrepullerHandle {
    /// Starts prepulling. `nodes` comes from a [`crate::nodes::NodeWatcher`], `images` from
    /// the refresh loop, `leadership` from [`crate::leader::LeaderElection`] (or
    /// [`Leadership::always`] when election is off).
    pub fn start(
        client: Client,
        config: PrepullerSettings,
        nodes: watch::Receiver<Option<NodeSnapshot>>,
        images: watch::Receiver<WantedImages>,
        leadership: Leadership,
    ) -> PrepullerHandle {
        Self::resume(client, config, nodes, images, leadership, Arc::default())
    }

    /// As [`PrepullerHandle::start`], remembering the successful pulls of a previous run (a
    /// prepuller restarted after it died), so that nothing is pulled again or shown missing.
    pub fn resume(
        client: Client,
        config: PrepullerSettings,
        nodes: watch::Receiver<Option<NodeSnapshot>>,
        images: watch::Receiver<WantedImages>,
        leadership: Leadership,
        pulled: Arc<PulledSet>,
    ) -> PrepullerHandle {
        let (status_tx, status) = watch::channel(Arc::new(PrepullerReport {
            pulled: Arc::clone(&pulled),
            ..PrepullerReport::default()
        }));
        let (events, warm_events) = (Feed::new(), Feed::new());
        let (stop, stop_rx) = watch::channel(false);
        let runner = Runner {
            nodes_api: Api::all(client.clone()),
            api: Api::namespaced(client, &config.pod.namespace),
            config,
            nodes,
            images,
            leadership,
            stop: stop_rx,
            status: status_tx,
            events: events.sender.clone(),
            warm_events: warm_events.sender.clone(),
            pulled,
            followed: None,
        };
        PrepullerHandle {
            status,
            events,
            warm_events,
            stop,
            task: Some(tokio::spawn(runner.run())),
        }
    }

    /// Status snapshots, published after every change (at most every 100 ms). Do not hold a
    /// `borrow()` across an await: it blocks the next publication.
    pub fn status(&self) -> watch::Receiver<Arc<PrepullerReport>> {
        self.status.clone()
    }

    /// Finished pulls: the first call gets every event since start, later calls those from
    /// now on. A receiver more than 4096 events behind loses the oldest (`Lagged`).
    pub fn events(&self) -> broadcast::Receiver<PrepullEvent> {
        self.events.subscribe()
    }

    /// Warm taints this replica removed, as [`PrepullerHandle::events`] hands them out.
    pub fn warm_events(&self) -> broadcast::Receiver<WarmEvent> {
        self.warm_events.subscribe()
    }

    /// Completes if the loop ends before [`PrepullerHandle::shutdown`], which it never should:
    /// with its panic, if it panicked. The service supervises the prepuller through this.
    pub async fn ended(&mut self) -> Result<(), tokio::task::JoinError> {
        match self.task.as_mut() {
            Some(task) => task.await,
            None => std::future::pending().await,
        }
    }

    /// Stops creating pods, deletes the ones in flight (within the configured shutdown
    /// timeout) and waits for the loop to end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::error!(%error, "Prepuller task ended abnormally");
            }
        }
    }
}

impl Drop for PrepullerHandle {
    /// Dropping without [`PrepullerHandle::shutdown`] stops the loop where it is; pods in
    /// flight are then left to the next run, which adopts or deletes them.
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A broadcast whose first subscriber gets every message since start: its receiver is
/// made before the loop starts and handed out by the first `subscribe`.
struct Feed<T> {
    sender: broadcast::Sender<T>,
    first: std::sync::Mutex<Option<broadcast::Receiver<T>>>,
}

impl<T: Clone> Feed<T> {
    fn new() -> Self {
        let (sender, first) = broadcast::channel(EVENT_BUFFER);
        Feed {
            sender,
            first: std::sync::Mutex::new(Some(first)),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<T> {
        let first = match self.first.lock() {
            Ok(mut first) => first.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        first.unwrap_or_else(|| self.sender.subscribe())
    }
}

struct Runner {
    api: Api<Pod>,
    /// Nodes, for removing the warm taint (the only node write).
    nodes_api: Api<Node>,
    config: PrepullerSettings,
    nodes: watch::Receiver<Option<NodeSnapshot>>,
    images: watch::Receiver<WantedImages>,
    leadership: Leadership,
    stop: watch::Receiver<bool>,
    status: watch::Sender<Arc<PrepullerReport>>,
    events: broadcast::Sender<PrepullEvent>,
    warm_events: broadcast::Sender<WarmEvent>,
    /// Successful pulls, kept across leadership changes.
    pulled: Arc<PulledSet>,
    /// The node snapshot `pulled` last followed while not leading: the next is followed
    /// only in the nodes that changed since.
    followed: Option<NodeSnapshot>,
}

/// How a session of prepulling ended.
enum SessionEnd {
    Stopped,
    LostLeadership,
    /// The pod watch stream ended, which kube-runtime's watcher never does with a backoff
    /// that never gives up; without it pods would go unobserved, so the loop ends and its
    /// supervisor starts it again with a new watch (adopting the pods in flight).
    PodWatchEnded,
}

impl Runner {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                return;
            }
            if self.leadership.is_leading() {
                // The session follows nodes itself; afterwards the next snapshot is followed
                // whole.
                self.followed = None;
                match self.session().await {
                    SessionEnd::Stopped => return,
                    SessionEnd::LostLeadership => {
                        tracing::info!("Lost leadership: stopped prepulling");
                        continue;
                    }
                    SessionEnd::PodWatchEnded => {
                        tracing::error!("Prepull pod watch ended unexpectedly; stopping");
                        return;
                    }
                }
            }
            self.publish_inactive();
            // Not leading: keep the memory of pulls true to what nodes report (an evicted image
            // must not look cached), until this replica leads or stops.
            let mut leadership = self.leadership.clone();
            loop {
                tokio::select! {
                    _ = self.stop.changed() => return,
                    gained = leadership.gained() => {
                        if !gained {
                            // Nobody can make us lead any more: wait for the stop.
                            let _ = self.stop.changed().await;
                            return;
                        }
                        break;
                    }
                    changed = self.nodes.changed() => {
                        if changed.is_err() {
                            let _ = self.stop.changed().await;
                            return;
                        }
                        self.follow_reports();
                    }
                }
            }
        }
    }

    /// Forgets remembered pulls that the nodes' latest reports prove evicted: those of the
    /// nodes that changed since the last snapshot followed, or of every node.
    fn follow_reports(&mut self) {
        let nodes = self.nodes.borrow_and_update().clone();
        let Some(nodes) = nodes else { return };
        let max_images = self.config.node_status_max_images;
        let changed = self
            .followed
            .as_ref()
            .and_then(|before| nodes.changed_since(before, reconcile::few_changed(nodes.len())));
        let followed = match changed {
            Some(changed) => {
                PulledSet::follow_reports_of(&mut self.pulled, &nodes, &changed, max_images)
            }
            None => match self.pulled.follow_reports(nodes.nodes(), max_images) {
                Some(pulled) => {
                    self.pulled = Arc::new(pulled);
                    true
                }
                None => false,
            },
        };
        self.followed = Some(nodes);
        if followed {
            self.publish_inactive();
        }
    }

    fn publish_inactive(&self) {
        let mut status = PrepullerReport::clone(&self.status.borrow());
        status.active = false;
        status.in_flight = 0;
        status.pulls.clear();
        status.pulled = self.pulled.clone();
        self.status.send_replace(Arc::new(status));
    }

    /// Prepulls until stopped or no longer active.
    async fn session(&mut self) -> SessionEnd {
        let namespace = self.config.pod.namespace.clone();
        let (reader, writer) = reflector::store();
        let pod_events = watcher(
            self.api.clone(),
            watcher::Config::default().labels(PREPULLER_SELECTOR),
        )
        .backoff(WatchBackoff::default())
        .reflect(writer);
        let mut pod_events = std::pin::pin!(pod_events);
        let pods = StoreView {
            store: reader,
            namespace: namespace.clone(),
        };
        let mut reconciler = Reconciler::new(self.config.clone(), self.pulled.clone());
        reconciler.set_nodes(self.nodes.borrow_and_update().clone());
        reconciler.set_images(self.images.borrow_and_update().clone());
        let mut ops: JoinSet<reconcile::OpDone> = JoinSet::new();
        let mut lost = std::pin::pin!({
            let mut leadership = self.leadership.clone();
            async move { leadership.lost().await }
        });
        let (mut nodes_open, mut images_open) = (true, true);
        let mut stopping_until: Option<Instant> = None;
        let mut last_publish: Option<Instant> = None;
        let mut publish_pending = true;
        tracing::info!("Prepuller active");
        loop {
            let now = Instant::now();
            let publish_at =
                publish_pending.then(|| last_publish.map_or(now, |last| last + STATUS_INTERVAL));
            let wake = [reconciler.next_wakeup(now), publish_at, stopping_until]
                .into_iter()
                .flatten()
                .min()
                .map(|wake| wake.max(now + MIN_PAUSE));
            tokio::select! {
                changed = self.stop.changed(), if stopping_until.is_none() => {
                    if changed.is_err() || *self.stop.borrow() {
                        tracing::info!("Prepuller stopping: deleting pods in flight");
                        reconciler.stop();
                        stopping_until = Some(Instant::now() + self.config.shutdown_timeout);
                    }
                }
                () = &mut lost => {
                    // In-flight calls are guarded by the leadership and stop by themselves;
                    // dropping the set also aborts their tasks.
                    self.pulled = reconciler.pulled();
                    return SessionEnd::LostLeadership;
                }
                changed = self.nodes.changed(), if nodes_open => match changed {
                    Err(_) => nodes_open = false,
                    Ok(()) => reconciler.set_nodes(self.nodes.borrow_and_update().clone()),
                },
                changed = self.images.changed(), if images_open => match changed {
                    Err(_) => images_open = false,
                    Ok(()) => reconciler.set_images(self.images.borrow_and_update().clone()),
                },
                event = pod_events.next() => match event {
                    Some(Ok(watcher::Event::InitDone)) => reconciler.pods_synced(),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::warn!(%error, "Prepull pod watch failed, retrying with backoff");
                    }
                    None => {
                        self.pulled = reconciler.pulled();
                        return SessionEnd::PodWatchEnded;
                    }
                },
                Some(done) = ops.join_next(), if !ops.is_empty() => match done {
                    Ok(done) => reconciler.op_done(done, Instant::now(), chrono::Utc::now()),
                    Err(error) => tracing::error!(%error, "Prepull API call task failed"),
                },
                () = sleep_until(wake) => {}
            }
            let now = Instant::now();
            for action in reconciler.reconcile(now, chrono::Utc::now(), &pods) {
                let call = ops::execute(
                    self.api.clone(),
                    self.nodes_api.clone(),
                    namespace.clone(),
                    action,
                );
                ops.spawn(guarded(self.leadership.clone(), call));
            }
            // No subscriber is fine: events only feed logs and metrics.
            for event in reconciler.take_events() {
                let _ = self.events.send(event);
            }
            for event in reconciler.take_warm_events() {
                let _ = self.warm_events.send(event);
            }
            publish_pending |= reconciler.has_status_changes();
            if publish_pending && last_publish.is_none_or(|last| now >= last + STATUS_INTERVAL) {
                if let Some(status) = reconciler.take_status() {
                    self.status.send_replace(Arc::new(status));
                }
                self.pulled = reconciler.pulled();
                last_publish = Some(now);
                publish_pending = false;
            }
            if let Some(until) = stopping_until {
                if reconciler.is_idle() || now >= until {
                    if !reconciler.is_idle() {
                        tracing::warn!("Prepuller stopped with pods still being deleted");
                    }
                    self.pulled = reconciler.pulled();
                    return SessionEnd::Stopped;
                }
            }
        }
    }
}

/// An API call that runs only while this replica leads; when the tenure ends first, its
/// result is that the call was abandoned.
async fn guarded(
    leadership: Leadership,
    call: impl std::future::Future<Output = reconcile::OpDone>,
) -> reconcile::OpDone {
    match leadership.run(call).await {
        Some(done) => done,
        None => reconcile::OpDone::Abandoned,
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(wake).await,
        None => std::future::pending().await,
    }
}

/// The pod watcher's reflector store, seen by name.
struct StoreView {
    store: Store<Pod>,
    namespace: String,
}

impl PodView for StoreView {
    fn get(&self, name: &str) -> Option<Arc<Pod>> {
        self.store
            .get(&ObjectRef::new(name).within(&self.namespace))
    }

    fn all(&self) -> Vec<Arc<Pod>> {
        self.store.state()
    }
}
