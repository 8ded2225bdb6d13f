//! `serve`: assembles the running service and stops it cleanly.
//!
//! The pieces, each a task talking through `watch` channels (latest value wins, nobody waits
//! for a slow reader):
//!
//! ```text
//! refresh loop ──listing──┐                       ┌──> HTTP (ServiceState)
//! node watcher ──nodes────┼──> world_task ──world─┤
//! prepuller ────status────┘                       └
//! listing ──wanted images──> prepuller (only while this replica holds the lease)
//! ```
//!
//! Startup needs neither the registry nor the cluster: the HTTP server answers at once
//! (`/readyz` fails until the first refresh succeeds), the watchers retry with backoff.
//! On shutdown the server drains its requests, the prepuller stops creating pods and deletes
//! the ones in flight, and `serve` returns.

use crate::form::{FormAuth, LabForm};
use crate::http::{self, server::ServerLimits};
use crate::metrics::{Histogram, PREPULL_BUCKETS};
use crate::refresh::{self, RefreshRecord};
use crate::state::{self, Current, ServiceState};
use crate::views::{self, World};
use rsp_config::{ClusterConfig, Config, REPERTOIRE_VARIABLE};
use rsp_gafaelfawr::GafaelfawrClient;
use rsp_kube::prepuller::{PrepullerHandle, PrepullerStatus as PullerStatus};
use rsp_kube::{LeaderConfig, LeaderElection, NodeWatcher, OwnerPod, PodTemplate};
use rsp_model::node::NodeInfo;
use rsp_model::plan::PulledSet;
use rsp_registry::source::{AnySource, ImageSource, Listing};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration cannot work (exit status 2).
    #[error("{0}")]
    Config(String),
    /// Something the service needs is not available (exit status 1).
    #[error("{0}")]
    Failed(String),
}

/// Where nodes come from and who prepulls, once the cluster side is started.
struct Cluster {
    nodes: watch::Receiver<Option<Arc<Vec<NodeInfo>>>>,
    puller: watch::Receiver<Arc<PullerStatus>>,
    leader: watch::Receiver<bool>,
    prepuller: Option<PrepullerHandle>,
    /// Released on shutdown, so that another replica takes over at once.
    election: Option<LeaderElection>,
    /// Kept alive for as long as the service runs (they own watch senders and tasks).
    _keep: Vec<Box<dyn Send + Sync>>,
}

/// What `serve` takes from the process environment; the binary reads it, tests give their own.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `REPERTOIRE_BASE_URL`: where Repertoire lists Gafaelfawr, when set.
    pub repertoire_base_url: Option<String>,
}

impl Environment {
    /// The values of this process's environment.
    pub fn from_process() -> Environment {
        Environment {
            repertoire_base_url: std::env::var(REPERTOIRE_VARIABLE).ok(),
        }
    }
}

/// Runs the service until `shutdown` completes.
pub async fn serve(
    config: Config,
    config_dir: &Path,
    listen: &str,
    environment: Environment,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let form = lab_form(&config, &environment)?;
    let config = Arc::new(config);
    let source = Arc::new(
        AnySource::from_config(&config.images, config_dir)
            .await
            .map_err(|error| ServeError::Config(error.to_string()))?,
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| ServeError::Failed(format!("cannot listen on {listen}: {error}")))?;
    tracing::info!(
        listen = %listener.local_addr().map_or_else(|_| listen.to_owned(), |a| a.to_string()),
        source = %source.describe(),
        users = %form.describe_auth(),
        "Starting rsp-images"
    );
    for notice in crate::status::lab_form_notices(&form.setup()) {
        tracing::warn!(detail = %notice.detail, "{}", notice.title);
    }

    let (registry, repository) = source.registry_and_repository();
    let (listings_tx, listings) = watch::channel(Arc::new(Listing::empty(registry, repository)));
    let (stop_tx, stop) = watch::channel(false);
    let record = Arc::new(Mutex::new(RefreshRecord::default()));
    let refresher = tokio::spawn(refresh::run(
        Arc::clone(&source),
        config.images.clone(),
        listings_tx,
        Arc::clone(&record),
        stop.clone(),
    ));
    let cluster = start_cluster(&config, config_dir, listings.clone()).await?;
    let prepulling = cluster.prepuller.is_some();
    let prepull_durations = Histogram::new(PREPULL_BUCKETS);
    if let Some(prepuller) = &cluster.prepuller {
        tokio::spawn(state::record_prepull_durations(
            prepuller.events(),
            prepull_durations.clone(),
        ));
    }

    let empty = World::new(
        Arc::clone(&listings.borrow()),
        &[],
        &config,
        &PulledSet::default(),
    );
    let (current_tx, current) = watch::channel(Arc::new(Current::new(
        empty,
        Arc::new(PullerStatus::default()),
    )));
    let ready = readiness(current.clone());
    tokio::spawn(state::world_task(
        Arc::clone(&config),
        listings,
        cluster.nodes.clone(),
        cluster.puller.clone(),
        current_tx,
    ));
    let backend = Arc::new(ServiceState {
        config: Arc::clone(&config),
        source,
        current,
        refresh: record,
        ready,
        leader: cluster.leader.clone(),
        prepulling,
        prepull_durations,
        form,
    });
    let router = http::router(backend, &config.path_prefix)
        .map_err(|error| ServeError::Config(format!("pathPrefix: {error}")))?;
    http::server::serve(
        listener,
        router,
        ServerLimits::from_config(&config.server),
        shutdown,
    )
    .await;

    tracing::info!("Stopping: no new prepull pods; deleting those in flight");
    stop_tx.send_replace(true);
    if let Some(prepuller) = cluster.prepuller {
        prepuller.shutdown().await;
    }
    if let Some(election) = cluster.election {
        election.shutdown().await;
    }
    refresher.abort();
    Ok(())
}

/// The lab form's settings: the configured sizes, and Gafaelfawr where it is configured.
fn lab_form(config: &Config, environment: &Environment) -> Result<LabForm, ServeError> {
    let endpoint = config
        .gafaelfawr
        .endpoint(environment.repertoire_base_url.as_deref())
        .map_err(|error| ServeError::Config(error.to_string()))?;
    let auth = match endpoint {
        Some(endpoint) => FormAuth::Gafaelfawr(
            GafaelfawrClient::new(&endpoint, &config.gafaelfawr).map_err(ServeError::Failed)?,
        ),
        None => FormAuth::Open,
    };
    Ok(LabForm {
        sizes: config.lab.sizes.clone(),
        auth,
    })
}

/// True from the first successful refresh on.
fn readiness(mut current: watch::Receiver<Arc<Current>>) -> watch::Receiver<bool> {
    // Ready once the world the API answers from holds a refreshed listing, not merely once
    // the listing arrived: the world is rebuilt from it a moment later, and a `readyz` that
    // turned 200 in between let clients find even `recommended` missing (found by the
    // end-to-end suite). Until the first refresh the world keeps the initial empty listing.
    let initial = Arc::clone(&current.borrow().world.listing);
    let (ready_tx, ready) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            if !Arc::ptr_eq(&current.borrow_and_update().world.listing, &initial) {
                ready_tx.send_replace(true);
                // Keep the sender (and so the value) alive as long as worlds come.
                while current.changed().await.is_ok() {}
                return;
            }
            if current.changed().await.is_err() {
                return;
            }
        }
    });
    ready
}

async fn start_cluster(
    config: &Config,
    config_dir: &Path,
    listings: watch::Receiver<Arc<Listing>>,
) -> Result<Cluster, ServeError> {
    match &config.cluster {
        ClusterConfig::Static { nodes_file } => {
            let path = config_dir.join(nodes_file);
            let nodes = read_node_list(&path)?;
            let (nodes_tx, nodes) = watch::channel(Some(Arc::new(nodes)));
            let (puller_tx, puller) = watch::channel(Arc::new(PullerStatus::default()));
            // The only replica that plans, so it leads (the page then reads "plan only").
            let (leader_tx, leader) = watch::channel(true);
            Ok(Cluster {
                nodes,
                puller,
                leader,
                prepuller: None,
                election: None,
                _keep: vec![Box::new(nodes_tx), Box::new(puller_tx), Box::new(leader_tx)],
            })
        }
        ClusterConfig::Kubernetes => start_kubernetes(config, listings).await,
    }
}

async fn start_kubernetes(
    config: &Config,
    listings: watch::Receiver<Arc<Listing>>,
) -> Result<Cluster, ServeError> {
    let client = kube::Client::try_default().await.map_err(|error| {
        ServeError::Failed(format!(
            "cannot configure a Kubernetes client (in-cluster service account or KUBECONFIG): \
             {error}; to run without a cluster, configure cluster: {{type: static, nodesFile: F}}"
        ))
    })?;
    let namespace = config
        .prepuller
        .namespace
        .clone()
        .unwrap_or_else(|| rsp_kube::config::default_namespace(&config.metadata_path));
    let owner = OwnerPod::from_metadata_dir(&config.metadata_path);
    let identity = match &owner {
        Some(owner) => owner.name.clone(),
        None => format!("rsp-images-{:08x}", rand::random::<u32>()),
    };
    let node_watcher = NodeWatcher::start(client.clone(), &config.lab.node_selector);
    let nodes = node_watcher.subscribe();
    let (active, election): (watch::Receiver<bool>, Option<LeaderElection>) =
        if config.prepuller.leader_election {
            let election = LeaderElection::start(
                client.clone(),
                LeaderConfig::new(namespace.clone(), identity),
            );
            (election.subscribe(), Some(election))
        } else {
            (watch::channel(true).1, None)
        };
    let mut prepuller_config = rsp_kube::PrepullerConfig::new(namespace.clone());
    prepuller_config.pod = PodTemplate {
        namespace,
        pull_secret: config.lab.pull_secret.clone(),
        tolerations: config.lab.tolerations.clone(),
        owner,
    };
    prepuller_config.node_selector = config.lab.node_selector.clone();
    prepuller_config.max_in_flight = config.prepuller.max_in_flight;
    prepuller_config.prepull_timeout = config.images.prepull_timeout;
    let wanted = wanted_images(listings);
    let prepuller = PrepullerHandle::start(
        client,
        prepuller_config,
        nodes.clone(),
        wanted,
        active.clone(),
    );
    let puller = prepuller.status();
    let keep: Vec<Box<dyn Send + Sync>> = vec![Box::new(node_watcher)];
    Ok(Cluster {
        nodes,
        puller,
        leader: active,
        prepuller: Some(prepuller),
        election,
        _keep: keep,
    })
}

/// The images the prepuller should place, republished after every successful refresh
/// (`None` until then, so nothing is deleted or pulled on an empty listing).
fn wanted_images(
    mut listings: watch::Receiver<Arc<Listing>>,
) -> watch::Receiver<rsp_kube::prepuller::WantedImages> {
    let (wanted_tx, wanted) = watch::channel(None);
    tokio::spawn(async move {
        while listings.changed().await.is_ok() {
            let images = views::prepull_images(&listings.borrow_and_update());
            wanted_tx.send_replace(Some(Arc::new(images)));
        }
    });
    wanted
}

/// Reads a NodeList file (`kubectl get nodes -o json`).
pub fn read_node_list(path: &Path) -> Result<Vec<NodeInfo>, ServeError> {
    #[derive(serde::Deserialize)]
    struct NodeList {
        #[serde(default)]
        items: Vec<k8s_openapi::api::core::v1::Node>,
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        ServeError::Config(format!(
            "cannot read nodes file {}: {error}",
            path.display()
        ))
    })?;
    let list: NodeList = serde_json::from_str(&text).map_err(|error| {
        ServeError::Config(format!(
            "nodes file {} is not a Kubernetes NodeList (kubectl get nodes -o json): {error}",
            path.display()
        ))
    })?;
    Ok(rsp_kube::node_infos(&list.items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(listing: Arc<Listing>, config: &Config) -> Arc<Current> {
        let world = World::new(listing, &[], config, &PulledSet::default());
        Arc::new(Current::new(world, Arc::new(PullerStatus::default())))
    }

    /// Regression (end-to-end suite): `readyz` must not turn 200 before the API answers
    /// from the first refreshed listing.
    #[tokio::test]
    async fn ready_only_once_the_world_holds_a_refreshed_listing() {
        let (config, _) =
            Config::from_yaml("images:\n  source:\n    type: docker\n    repository: r\n")
                .expect("config");
        let initial = Arc::new(Listing::empty("docker.io", "r"));
        let (tx, rx) = watch::channel(current(Arc::clone(&initial), &config));
        let mut ready = readiness(rx);
        // A rebuild with the same initial listing (e.g. nodes arrived) is not readiness.
        tx.send_replace(current(Arc::clone(&initial), &config));
        tokio::task::yield_now().await;
        assert!(!*ready.borrow_and_update());
        tx.send_replace(current(Arc::new(Listing::empty("docker.io", "r")), &config));
        tokio::time::timeout(std::time::Duration::from_secs(5), ready.wait_for(|r| *r))
            .await
            .expect("ready within 5 s")
            .expect("sender alive");
    }
}
