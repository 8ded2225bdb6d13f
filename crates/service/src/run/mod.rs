//! `serve`: assembles the running service and stops it cleanly.
//!
//! The pieces, each a supervised task (`crate::supervise`) talking through `watch` channels
//! (latest value wins, nobody waits for a slow reader):
//!
//! ```text
//! init image resolver ──digests──> refresh loop (attached to each listing)
//! refresh loop ──listing──┐                                   ┌──> HTTP (ServiceState)
//! node watcher ──nodes────┼──> snapshot task ──served snapshot─┤
//! prepuller ────status────┘                                   └
//! listing ──wanted images──> prepuller (only while this replica holds the lease)
//! ```
//!
//! The channels belong to `serve`, not to the tasks, so that a task that dies and is started
//! again writes to the same channel and its readers never notice more than a pause.
//!
//! Start-up happens in two steps. [`prepare`] checks and builds everything that can fail
//! because of the configuration or the machine (the registry client and its credentials, the
//! nodes file, the Kubernetes client configuration, the routes, the listen socket) and starts
//! nothing, so that a mistake is reported before any task runs or any request reaches the
//! registry. [`Prepared::run`] then starts the tasks. The service needs neither the registry
//! nor the cluster to be up: the HTTP server answers at once (`/readyz` and the routes that
//! read the listing answer 503 until the first refresh succeeds), the watchers retry with
//! backoff. On shutdown the server drains its requests, the prepuller stops creating pods and
//! deletes the ones in flight, the Lease is released, and `serve` returns.

mod cluster;

use crate::form::{FormAuth, LabForm};
use crate::http::{self, server::ServerLimits};
use crate::init_images::{self, DigestResolver};
use crate::metrics::{Histogram, PREPULL_BUCKETS};
use crate::refresh::{self, RefreshRecord};
use crate::served::ListingOnNodes;
use crate::snapshot::{ListingOrigin, ServedSnapshot};
use crate::state::{self, ServiceState};
use crate::supervise::{Faults, Supervisor, Task};
use crate::warm::WarmMetrics;
pub use cluster::pod_template;
use cluster::ClusterSetup;
use rsp_config::{Config, REPERTOIRE_VARIABLE};
use rsp_gafaelfawr::GafaelfawrClient;
use rsp_kube::prepuller::PrepullerReport;
use rsp_model::listing::Listing;
use rsp_model::plan::PulledSet;
use rsp_registry::source::{AnySource, ImageSource};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
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

/// What `serve` can be given besides the configuration: tests reach a fake cluster and kill
/// tasks through these; the binary uses the defaults and the process environment.
#[derive(Default)]
pub struct Options {
    /// The Kubernetes client; default: in-cluster service account or `KUBECONFIG`.
    pub kube_client: Option<rsp_kube::Client>,
    /// Fault hooks of the supervised tasks ([`Faults::none`] by default).
    pub faults: Faults,
    /// What the service reads from the process environment (none by default).
    pub environment: Environment,
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
    let options = Options {
        environment,
        ..Options::default()
    };
    prepare(config, config_dir, listen, options)
        .await?
        .run(shutdown)
        .await
}

/// Everything checked and built, nothing started.
pub struct Prepared {
    config: Arc<Config>,
    source: Arc<AnySource>,
    cluster: ClusterSetup,
    listener: TcpListener,
    faults: Faults,
    form: LabForm,
}

/// Checks and builds what can fail before anything starts (see the module documentation).
pub async fn prepare(
    config: Config,
    config_dir: &Path,
    listen: &str,
    options: Options,
) -> Result<Prepared, ServeError> {
    rsp_config::check_listen(listen).map_err(ServeError::Config)?;
    let form = lab_form(&config, &options.environment)?;
    let source = AnySource::from_config(&config.images, config_dir)
        .await
        .map_err(|error| ServeError::Config(error.to_string()))?;
    let cluster = ClusterSetup::prepare(&config, config_dir, options.kube_client).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| ServeError::Failed(format!("cannot listen on {listen}: {error}")))?;
    Ok(Prepared {
        config: Arc::new(config),
        source: Arc::new(source),
        cluster,
        listener,
        faults: options.faults,
        form,
    })
}

impl Prepared {
    /// The address the service listens on (the port chosen, when `:0` was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts every task and serves until `shutdown` completes, then stops them all.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Prepared {
            config,
            source,
            cluster,
            listener,
            faults,
            form,
        } = self;
        tracing::info!(
            listen = %listener.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string()),
            source = %source.describe(),
            users = %form.describe_auth(),
            "Starting rsp-images"
        );
        for notice in crate::status::lab_form_notices(&form.setup()) {
            tracing::warn!(detail = %notice.detail, "{}", notice.title);
        }
        let (stop_tx, stop) = watch::channel(false);
        let mut supervisor = Supervisor::new(stop.clone(), faults);

        // Until the first refresh the listings channel holds this placeholder; a snapshot built
        // from it is not `listed`, whenever the first refresh lands.
        let (registry, repository) = source.registry_and_repository();
        let placeholder = Arc::new(Listing::empty(registry, repository));
        let (listings_tx, listings) = watch::channel(Arc::clone(&placeholder));
        let record = Arc::new(Mutex::new(RefreshRecord::default()));
        // The init container images, by tag until their digests are learnt. The resolver is
        // not supervised: nothing waits on it, and without it the images stay prepulled by
        // tag, which is what it falls back to anyway when their registries are out of reach.
        let (init_tx, init) = watch::channel(init_images::by_name(&config));
        let resolver = tokio::spawn(until_stopped(
            stop.clone(),
            DigestResolver::new(config.lab.init_images.clone())
                .run(config.images.refresh_interval, init_tx),
        ));
        supervisor.spawn(Task::Refresh, {
            let (source, record, stop) = (Arc::clone(&source), Arc::clone(&record), stop.clone());
            let options = config.images.clone();
            move || {
                until_stopped(
                    stop.clone(),
                    refresh::run(
                        Arc::clone(&source),
                        options.clone(),
                        listings_tx.clone(),
                        Arc::clone(&record),
                        init.clone(),
                        stop.clone(),
                    ),
                )
            }
        });

        let prepull_durations = Histogram::new(PREPULL_BUCKETS);
        let warm = WarmMetrics::default();
        let cluster = cluster.start(
            &mut supervisor,
            cluster::Inputs {
                listings: listings.clone(),
                placeholder: Arc::clone(&placeholder),
                prepull_durations: prepull_durations.clone(),
                warm: warm.clone(),
                stop: stop.clone(),
            },
        );

        let empty = ListingOnNodes::new(
            Arc::clone(&placeholder),
            &[],
            &config,
            &PulledSet::default(),
        );
        let (current_tx, current) = watch::channel(Arc::new(ServedSnapshot::new(
            empty,
            Arc::new(PrepullerReport::default()),
            ListingOrigin::Placeholder,
        )));
        supervisor.spawn(Task::World, {
            let (config, stop) = (Arc::clone(&config), stop.clone());
            let (nodes, puller) = (cluster.nodes.clone(), cluster.puller.clone());
            move || {
                until_stopped(
                    stop.clone(),
                    state::snapshot_task(
                        Arc::clone(&config),
                        Arc::clone(&placeholder),
                        listings.clone(),
                        nodes.clone(),
                        puller.clone(),
                        current_tx.clone(),
                    ),
                )
            }
        });

        let backend = Arc::new(ServiceState {
            config: Arc::clone(&config),
            source,
            current,
            refresh: record,
            health: supervisor.health(),
            leader: cluster.leader.clone(),
            prepulling: cluster.prepulling,
            prepull_durations,
            warm,
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
        supervisor.join().await;
        resolver.abort();
        Ok(())
    }
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

/// `work`, ended early when `stop` turns true (for tasks with nothing to clean up).
async fn until_stopped(mut stop: watch::Receiver<bool>, work: impl Future<Output = ()>) {
    tokio::select! {
        () = work => {}
        _ = stop.wait_for(|stop| *stop) => {}
    }
}
