//! The cluster side of `serve`: where nodes come from and who prepulls.
//!
//! A static cluster is a NodeList read once; a Kubernetes cluster runs the node watcher and
//! the prepuller (with its Lease) as supervised tasks. Each writes to a channel that outlives
//! it, so that a restarted task picks up where the dead one left: the nodes and the prepuller
//! status stay at their last values meanwhile, and a restarted prepuller remembers what was
//! pulled. A prepuller that dies releases its Lease before it is started again: a replica
//! that cannot prepull must not keep others from doing it.

use super::ServeError;
use crate::metrics::Histogram;
use crate::served;
use crate::state::{self, lock};
use crate::supervise::{propagate_panic, Supervisor, Task};
use crate::warm::WarmMetrics;
use rsp_config::{ClusterConfig, Config};
use rsp_kube::prepuller::{PrepullerReport, WantedImages};
use rsp_kube::{
    LeaderConfig, LeaderElection, Leadership, NodeSelection, NodeSnapshot, NodeWatcher,
    PodTemplate, Tenure,
};
use rsp_model::listing::Listing;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What `prepare` found out about the cluster; nothing runs yet.
pub(super) enum ClusterSetup {
    Static(rsp_model::selected::SelectedNodes),
    Kubernetes(Box<KubernetesSetup>),
}

pub(super) struct KubernetesSetup {
    client: rsp_kube::Client,
    /// What the node watcher selects, judged with the prepuller's tolerations.
    selection: NodeSelection,
    prepuller: rsp_kube::PrepullerSettings,
    /// `None` when leader election is off.
    leader: Option<LeaderConfig>,
}

/// What the cluster side reads from the rest of the service.
pub(super) struct Inputs {
    pub listings: watch::Receiver<Arc<Listing>>,
    pub placeholder: Arc<Listing>,
    pub prepull_durations: Histogram,
    pub warm: WarmMetrics,
    pub stop: watch::Receiver<bool>,
}

/// The cluster side, running: what the snapshot task and the status page read.
pub(super) struct Cluster {
    pub nodes: watch::Receiver<Option<NodeSnapshot>>,
    pub puller: watch::Receiver<Arc<PrepullerReport>>,
    /// Whether, and until when, this replica is the one that prepulls: the tenure of the
    /// current run's election, forwarded (it survives the runs).
    pub leader: Leadership,
    /// Whether prepull pods are really created (false for a static cluster: plan only).
    pub prepulling: bool,
    /// Senders nobody writes to, kept so that their channels stay open (a closed channel
    /// would end the snapshot task).
    _senders: Vec<Box<dyn Send + Sync>>,
}

impl ClusterSetup {
    pub(super) async fn prepare(
        config: &Config,
        config_dir: &Path,
        client: Option<rsp_kube::Client>,
    ) -> Result<ClusterSetup, ServeError> {
        let ClusterConfig::Static { nodes_file } = &config.cluster else {
            return KubernetesSetup::prepare(config, client)
                .await
                .map(|setup| ClusterSetup::Kubernetes(Box::new(setup)));
        };
        rsp_kube::read_node_list(&config_dir.join(nodes_file))
            .map(|nodes| ClusterSetup::Static(served::select_nodes(nodes, config)))
            .map_err(|error| ServeError::Config(error.to_string()))
    }

    pub(super) fn start(self, supervisor: &mut Supervisor, inputs: Inputs) -> Cluster {
        match self {
            ClusterSetup::Static(nodes) => {
                let (nodes_tx, nodes) = watch::channel(Some(Arc::new(nodes)));
                let (puller_tx, puller) = watch::channel(Arc::new(PrepullerReport::default()));
                // The only replica that plans, so it leads (the page then reads "plan only").
                Cluster {
                    nodes,
                    puller,
                    leader: Leadership::always(),
                    prepulling: false,
                    _senders: vec![Box::new(nodes_tx), Box::new(puller_tx)],
                }
            }
            ClusterSetup::Kubernetes(setup) => setup.start(supervisor, inputs),
        }
    }
}

impl KubernetesSetup {
    async fn prepare(
        config: &Config,
        client: Option<rsp_kube::Client>,
    ) -> Result<KubernetesSetup, ServeError> {
        let client = match client {
            Some(client) => client,
            None => rsp_kube::default_client()
                .await
                .map_err(|error| ServeError::Failed(error.to_string()))?,
        };
        let template = pod_template(config);
        let identity = rsp_kube::config::pod_name(&config.metadata_path)
            .unwrap_or_else(|| format!("rsp-images-{:08x}", rand::random::<u32>()));
        let leader = config
            .prepuller
            .leader_election
            .then(|| LeaderConfig::new(template.namespace.clone(), identity));
        let mut prepuller = rsp_kube::PrepullerSettings::new(template.namespace.clone());
        prepuller.pod = template;
        prepuller.node_selector = config.lab.node_selector.clone();
        prepuller.max_in_flight = config.prepuller.max_in_flight;
        prepuller.prepull_timeout = config.images.prepull_timeout;
        prepuller.node_status_max_images = config.prepuller.node_status_max_images;
        if let Some(warm) = &config.prepuller.warm_taint {
            prepuller = prepuller.with_warm(rsp_kube::WarmConfig {
                taint: warm.taint(),
                timeout: config.prepuller.warm_timeout,
            });
        }
        Ok(KubernetesSetup {
            client,
            selection: prepuller.node_selection(),
            prepuller,
            leader,
        })
    }

    fn start(self, supervisor: &mut Supervisor, inputs: Inputs) -> Cluster {
        let (nodes_tx, nodes) = watch::channel(None);
        let (puller_tx, puller) = watch::channel(Arc::new(PrepullerReport::default()));
        let (leader_tx, leader) = watch::channel(Tenure::Follower);

        supervisor.spawn(Task::NodeWatcher, {
            let (client, selection, stop) =
                (self.client.clone(), self.selection, inputs.stop.clone());
            move || {
                watch_nodes(
                    NodeWatcher::start(client.clone(), selection.clone()),
                    nodes_tx.clone(),
                    stop.clone(),
                )
            }
        });

        let prepuller = Arc::new(Prepuller {
            client: self.client,
            config: self.prepuller,
            leader_config: self.leader,
            nodes: nodes.clone(),
            listings: inputs.listings,
            placeholder: inputs.placeholder,
            status: puller_tx,
            leader: leader_tx,
            durations: inputs.prepull_durations,
            warm: inputs.warm,
            election: Mutex::new(None),
            stop: inputs.stop,
        });
        let cleanup = Arc::clone(&prepuller);
        supervisor.spawn_with_cleanup(
            Task::Prepuller,
            move || Arc::clone(&prepuller).run(),
            move || Arc::clone(&cleanup).release_lease(),
        );
        Cluster {
            nodes,
            puller,
            leader: Leadership::new(leader),
            prepulling: true,
            _senders: Vec::new(),
        }
    }
}

/// One run of the node watcher: its snapshots copied to `nodes` until it ends or the service
/// stops.
async fn watch_nodes(
    mut watcher: NodeWatcher,
    nodes: watch::Sender<Option<NodeSnapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut snapshots = watcher.subscribe();
    loop {
        tokio::select! {
            outcome = watcher.ended() => return propagate_panic(outcome),
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                nodes.send_replace(snapshots.borrow_and_update().clone());
            }
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Everything a run of the prepuller needs, and the channels it writes to.
struct Prepuller {
    client: rsp_kube::Client,
    config: rsp_kube::PrepullerSettings,
    leader_config: Option<LeaderConfig>,
    nodes: watch::Receiver<Option<NodeSnapshot>>,
    listings: watch::Receiver<Arc<Listing>>,
    placeholder: Arc<Listing>,
    status: watch::Sender<Arc<PrepullerReport>>,
    leader: watch::Sender<Tenure>,
    durations: Histogram,
    warm: WarmMetrics,
    /// The current run's election, kept outside the run so that it can be released after
    /// the run died.
    election: Mutex<Option<LeaderElection>>,
    stop: watch::Receiver<bool>,
}

impl Prepuller {
    /// The images to prepull from a listing; `None` before the first refresh, so that
    /// nothing is deleted or pulled on an empty listing.
    fn wanted(&self, listing: &Arc<Listing>) -> WantedImages {
        (!Arc::ptr_eq(listing, &self.placeholder)).then(|| Arc::clone(listing.prepull_images()))
    }

    /// One run: campaigns for the Lease, prepulls while it holds it, and forwards status,
    /// leadership and durations, until the prepuller ends or the service stops.
    async fn run(self: Arc<Self>) {
        let mut listings = self.listings.clone();
        let (wanted_tx, wanted) = watch::channel(self.wanted(&listings.borrow_and_update()));
        let leadership = match &self.leader_config {
            Some(config) => {
                let election = LeaderElection::start(self.client.clone(), config.clone());
                let leadership = election.leadership();
                *lock(&self.election) = Some(election);
                leadership
            }
            None => Leadership::always(),
        };
        let pulled = Arc::clone(&self.status.borrow().pulled);
        let mut prepuller = rsp_kube::PrepullerHandle::resume(
            self.client.clone(),
            self.config.clone(),
            self.nodes.clone(),
            wanted,
            leadership.clone(),
            pulled,
        );
        let (events, warm_events) = (prepuller.events(), prepuller.warm_events());
        let (histogram, warm) = (self.durations.clone(), self.warm.clone());
        let durations = async move {
            tokio::join!(
                state::record_prepull_durations(events, histogram),
                warm.record(warm_events),
            );
        };
        tokio::pin!(durations);
        let (mut status, mut tenure, mut stop) =
            (prepuller.status(), leadership, self.stop.clone());
        self.leader.send_replace(tenure.tenure());
        let (mut tenure_open, mut durations_open) = (true, true);
        loop {
            tokio::select! {
                outcome = prepuller.ended() => return propagate_panic(outcome),
                Ok(()) = status.changed() => {
                    self.status.send_replace(Arc::clone(&status.borrow_and_update()));
                }
                changed = tenure.changed(), if tenure_open => match changed {
                    Ok(next) => { self.leader.send_replace(next); }
                    Err(_) => tenure_open = false,
                },
                Ok(()) = listings.changed() => {
                    wanted_tx.send_replace(self.wanted(&listings.borrow_and_update()));
                }
                () = &mut durations, if durations_open => durations_open = false,
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        prepuller.shutdown().await;
        self.release_lease().await;
    }

    /// Gives up the Lease of the last run, so that another replica prepulls at once.
    async fn release_lease(self: Arc<Self>) {
        self.leader.send_replace(Tenure::Follower);
        let election = lock(&self.election).take();
        if let Some(election) = election {
            election.shutdown().await;
        }
    }
}

/// What every prepull pod carries, from the configuration: the namespace
/// (`prepuller.namespace`, else the service's own), the pull secret and the tolerations
/// (`lab.tolerations`, and the warm taint's when one is configured).
/// `rsp-images plan --output manifests` prints pods made from the same template.
pub fn pod_template(config: &Config) -> PodTemplate {
    PodTemplate {
        namespace: config
            .prepuller
            .namespace
            .clone()
            .unwrap_or_else(|| rsp_kube::config::default_namespace(&config.metadata_path)),
        pull_secret: config.lab.pull_secret.clone(),
        tolerations: config.eligibility_tolerations(),
    }
}
