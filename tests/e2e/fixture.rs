//! The world the service lives in: a real `docker-registry` (htpasswd, so there is a
//! credential to leak) behind a [`Proxy`], a [`FakeCluster`] hosted by the test process, a
//! temporary directory with the config, kubeconfig and credentials file, and the
//! `rsp-images serve` child processes (replicas).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsp_testkit::kube::{node, pod, FakeCluster, PullBehaviour};
use rsp_testkit::registry::{basic_authorization, DockerRegistry, Pusher, RegistryAuth, TempDir};

use super::checker::Shared;
use super::http;
use super::proxy::Proxy;

pub const REPO: &str = "lsst-sqre/sciplat-lab";
pub const PREFIX: &str = "/nublado";
pub const USER: &str = "e2e-bot";
/// The registry password: it must never appear in a log.
pub const PASSWORD: &str = "e2e-Pa55word-never-logged";
/// Timings of the service under test.
pub const REFRESH: Duration = Duration::from_secs(2);
pub const PREPULL_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_IN_FLIGHT: usize = 2;
/// The label every lab node carries (`lab.nodeSelector`).
pub const POOL: (&str, &str) = ("pool", "lab");

/// One `rsp-images serve` process.
pub struct Replica {
    pub name: String,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Child,
}

impl Replica {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; its status, or `None`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct World {
    pub registry: DockerRegistry,
    pub pusher: Pusher,
    pub proxy: Proxy,
    pub cluster: FakeCluster,
    pub dir: TempDir,
    pub shared: Arc<Shared>,
    /// Every log file written so far (replicas come and go; their logs stay).
    pub logs: Vec<PathBuf>,
    /// The original controller's prepull pods (name, uid), which must never be touched.
    pub foreign: Vec<(String, String)>,
    started: u32,
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

impl World {
    pub async fn start(lab_nodes: usize) -> World {
        let registry = DockerRegistry::start(RegistryAuth::Htpasswd {
            username: USER.into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("docker-registry starts");
        let pusher = Pusher::new(registry.url(), Some(basic_authorization(USER, PASSWORD)));
        let proxy = Proxy::start(registry.host().parse().expect("registry address")).await;
        let cluster = FakeCluster::start().await;
        // Convergence is read from the nodes' `status.images`; kubelet's cap of 50 would hide
        // images a long soak pulled long ago (the prepuller's handling of the cap has its own
        // tests), and a node edited in place would lose what the cap hides.
        cluster.set_max_images(None);
        for i in 1..=lab_nodes {
            cluster.add_node(node(&format!("node{i}")).label(POOL.0, POOL.1));
        }
        // A node outside the selector: it must never get a prepull pod.
        cluster.add_node(node("infra1").label("pool", "infra"));
        let dir = TempDir::new("rsp-images-e2e").expect("temp dir");
        let world = World {
            registry,
            pusher,
            proxy,
            cluster,
            dir,
            shared: Arc::new(Shared::default()),
            logs: Vec::new(),
            foreign: Vec::new(),
            started: 0,
        };
        world.write_files();
        world
    }

    /// A Nublado controller running beside rsp-images: its prepull pods, with its label and
    /// name prefix, in the same namespace, one pulling for ever and one finished.
    pub fn add_foreign_pods(&mut self) {
        let image = "registry.example/original/sciplat-lab";
        self.cluster
            .set_pull("original-controller-hangs", PullBehaviour::Hang);
        let pods = [
            (
                "prepull-w-2077-01-node1",
                "node1",
                format!("{image}:original-controller-hangs"),
            ),
            (
                "prepull-w-2077-01-node2",
                "node2",
                format!("{image}:original-controller-hangs"),
            ),
            (
                "prepull-r21-0-1-node2",
                "node2",
                format!("{image}:original-controller-done"),
            ),
        ];
        for (name, node, image) in pods {
            let pod = pod(name, &image)
                .namespace("default")
                .node(node)
                .label("nublado.lsst.io/category", "prepuller")
                .build();
            let created = self.cluster.create_pod_directly(pod);
            self.foreign
                .push((name.to_owned(), created.metadata.uid.unwrap_or_default()));
        }
    }

    /// `127.0.0.1:PORT/lsst-sqre/sciplat-lab`: the repository as references name it.
    pub fn image_repo(&self) -> String {
        format!("{}/{REPO}", self.registry.host())
    }

    /// A kubeconfig for the fake cluster with `user`'s token: the fake tells replicas apart
    /// by it, as the API server does with their service-account tokens.
    fn kubeconfig(&self, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             users:\n- name: fake\n  user:\n    token: {user}\ncontexts:\n- name: fake\n  \
             context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\n",
            self.cluster.url()
        )
    }

    fn write_files(&self) {
        let d = self.dir.path();
        let auth = basic_authorization(USER, PASSWORD)
            .trim_start_matches("Basic ")
            .to_owned();
        let proxy_host = self.proxy.url().trim_start_matches("http://").to_owned();
        let credentials = serde_json::json!({"auths": {
            self.registry.host(): {"auth": auth},
            proxy_host: {"auth": auth},
        }});
        std::fs::write(d.join("dockerconfig.json"), credentials.to_string()).unwrap();
    }

    fn config_text(&self, metadata: &Path) -> String {
        format!(
            "images:
  source:
    type: docker
    registry: {registry}
    repository: {REPO}
    apiUrl: {api}
  refreshInterval: {refresh}s
  prepullTimeout: {timeout}s
  recommendedTag: recommended
  numReleases: 1
  numWeeklies: 2
  numDailies: 2
  dockerCredentialsPath: {creds}
dropdownMenu:
  release:
    number: 100
  weekly:
    number: 100
  daily:
    number: 100
lab:
  nodeSelector:
    {pool_key}: {pool_value}
pathPrefix: {PREFIX}
metadataPath: {metadata}
prepuller:
  namespace: default
  maxInFlight: {MAX_IN_FLIGHT}
  leaderElection: true
",
            registry = self.registry.host(),
            api = self.proxy.url(),
            refresh = REFRESH.as_secs(),
            timeout = PREPULL_TIMEOUT.as_secs(),
            creds = self.dir.path().join("dockerconfig.json").display(),
            pool_key = POOL.0,
            pool_value = POOL.1,
            metadata = metadata.display(),
        )
    }

    /// Starts one more `rsp-images serve` and registers it with the checker.
    pub fn start_replica(&mut self) -> Replica {
        self.started += 1;
        let name = format!("replica{}", self.started);
        let base = self.dir.path().join(&name);
        let metadata = base.join("podinfo");
        std::fs::create_dir_all(&metadata).unwrap();
        // The downward API's pod name: the replica's identity in the Lease, and (as its
        // token) in the fake's request log.
        std::fs::write(metadata.join("name"), &name).unwrap();
        std::fs::write(base.join("kubeconfig"), self.kubeconfig(&name)).unwrap();
        let config = base.join("config.yaml");
        std::fs::write(&config, self.config_text(&metadata)).unwrap();
        let log = base.join("stderr.log");
        let file = std::fs::File::create(&log).unwrap();
        let addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(addr.to_string())
            .env("KUBECONFIG", base.join("kubeconfig"))
            .env(
                "RUST_LOG",
                "debug,hyper=info,h2=info,rustls=info,tower=info",
            )
            .env_remove("HOME")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start rsp-images serve");
        self.logs.push(log.clone());
        self.shared.add_replica(&name, addr);
        Replica {
            name,
            addr,
            log,
            child,
        }
    }

    /// Stops a replica with `signal` (`TERM`: clean drain, `KILL`: crash) and waits for it.
    pub async fn stop_replica(&self, mut replica: Replica, signal: &str) {
        self.shared.remove_replica(&replica.name);
        super::proxy::signal(replica.pid(), signal);
        let status = replica.wait_exit(Duration::from_secs(30)).await;
        let status = status.unwrap_or_else(|| {
            panic!(
                "{} did not exit within 30 s of SIG{signal}; log:\n{}",
                replica.name,
                tail(&replica.log_text())
            )
        });
        if signal == "TERM" {
            assert!(
                status.success(),
                "{} exited with {status} after SIGTERM; log:\n{}",
                replica.name,
                tail(&replica.log_text())
            );
        }
    }

    /// Waits until a replica answers `/readyz` with 200.
    pub async fn wait_ready(&self, replica: &Replica, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = http::get(replica.addr, "/readyz").await {
                if r.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within {timeout:?}; log:\n{}",
                replica.name,
                tail(&replica.log_text())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the replica says it holds the lease (status page).
    pub async fn is_leader(&self, replica: &Replica) -> bool {
        match http::get(replica.addr, &format!("{PREFIX}/")).await {
            Ok(r) => r.status == 200 && !r.body.contains("standby"),
            Err(_) => false,
        }
    }

    /// Pushes an image under `tags` and records them as present in the registry.
    pub async fn push(&self, seed: &str, tags: &[&str]) -> String {
        let digest = self
            .pusher
            .push_image(REPO, seed, tags)
            .await
            .unwrap_or_else(|e| panic!("push {tags:?}: {e}"));
        self.shared.registry_set(tags, &digest);
        digest
    }

    /// Deletes a manifest; its tags leave the checker's view of the registry first.
    pub async fn delete(&self, digest: &str) {
        self.shared.registry_remove_digest(digest);
        self.pusher
            .delete_manifest(REPO, digest)
            .await
            .unwrap_or_else(|e| panic!("delete {digest}: {e}"));
    }

    /// Every log so far, concatenated.
    pub fn all_logs(&self) -> String {
        self.logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The last 60 lines of a log, for assertion messages.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
