//! A real `docker-registry` (Debian's package of distribution 2.8) run by a test.
//!
//! [`DockerRegistry::start`] writes a config (filesystem storage in a fresh temporary
//! directory, deletes enabled, `127.0.0.1` on a free port, optional `htpasswd` or `token`
//! authentication), starts `docker-registry serve CONFIG`, waits until `/v2/` answers and
//! kills the process when dropped. A missing binary is an error that says what to install:
//! tests must fail loudly rather than skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::HarnessError;

/// How the registry authenticates clients.
#[derive(Debug, Clone)]
pub enum RegistryAuth {
    None,
    /// `auth: htpasswd` with one bcrypt user (made with `htpasswd -B`).
    Htpasswd {
        username: String,
        password: String,
    },
    /// `auth: token`, trusting JWTs signed by the key of `root_cert_pem`.
    Token {
        realm: String,
        service: String,
        issuer: String,
        root_cert_pem: String,
    },
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self, HarnessError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{prefix}-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path)
            .map_err(|e| HarnessError(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary: `$DOCKER_REGISTRY_BIN`, else `docker-registry` from `PATH` or `/usr/bin`.
fn binary() -> Result<PathBuf, HarnessError> {
    let candidates: Vec<PathBuf> = match std::env::var_os("DOCKER_REGISTRY_BIN") {
        Some(path) => vec![PathBuf::from(path)],
        None => std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("docker-registry"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .chain([PathBuf::from("/usr/bin/docker-registry")])
            .collect(),
    };
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        HarnessError(
            "the docker-registry binary is not installed: run `apt-get install -y docker-registry` \
             (Debian package; or set DOCKER_REGISTRY_BIN)"
                .to_owned(),
        )
    })
}

/// A bcrypt htpasswd line for `username`, made by `htpasswd -B` (apache2-utils).
fn htpasswd_line(username: &str, password: &str) -> Result<String, HarnessError> {
    let output = Command::new("htpasswd")
        .args(["-Bbn", username, password])
        .output()
        .map_err(|e| {
            HarnessError(format!(
                "cannot run htpasswd ({e}): run `apt-get install -y apache2-utils`"
            ))
        })?;
    if !output.status.success() {
        return Err(HarnessError(format!(
            "htpasswd failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn free_port() -> Result<u16, HarnessError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| HarnessError(format!("cannot find a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| HarnessError(format!("cannot find a free port: {e}")))
}

/// A running `docker-registry`; killed on drop.
#[derive(Debug)]
pub struct DockerRegistry {
    child: Child,
    url: String,
    dir: TempDir,
}

impl DockerRegistry {
    /// Starts a registry and waits (up to 20 s) until `/v2/` answers.
    pub async fn start(auth: RegistryAuth) -> Result<Self, HarnessError> {
        let binary = binary()?;
        // Another process may take the port between choosing and binding it: try again.
        let mut last = None;
        for _ in 0..3 {
            match Self::try_start(&binary, &auth).await {
                Ok(registry) => return Ok(registry),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError("docker-registry did not start".to_owned())))
    }

    async fn try_start(binary: &Path, auth: &RegistryAuth) -> Result<Self, HarnessError> {
        let dir = TempDir::new("rsp-docker-registry")?;
        let port = free_port()?;
        let storage = dir.path().join("storage");
        let auth_section = match auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Htpasswd { username, password } => {
                let file = dir.path().join("htpasswd");
                write(&file, &format!("{}\n", htpasswd_line(username, password)?))?;
                format!(
                    "auth:\n  htpasswd:\n    realm: rsp-test\n    path: {}\n",
                    file.display()
                )
            }
            RegistryAuth::Token {
                realm,
                service,
                issuer,
                root_cert_pem,
            } => {
                let file = dir.path().join("token-root.pem");
                write(&file, root_cert_pem)?;
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    file.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: rsp-testkit-secret\n{auth_section}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        write(&config_path, &config)?;
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| HarnessError(format!("cannot create {}: {e}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError(format!("cannot duplicate the log file handle: {e}")))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| HarnessError(format!("cannot run {}: {e}", binary.display())))?;
        let mut registry = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        registry.wait_ready(&log_path).await?;
        Ok(registry)
    }

    async fn wait_ready(&mut self, log_path: &Path) -> Result<(), HarnessError> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = format!("{}/v2/", self.url);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                return Err(HarnessError(format!(
                    "docker-registry exited ({status}) before answering: {log}"
                )));
            }
            // Any HTTP answer (200, or 401 with authentication) means it is serving.
            if client.get(&probe).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                return Err(HarnessError(format!(
                    "docker-registry did not answer on {probe} within 20 s: {log}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, the registry as image references name it.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The registry's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) -> Result<(), HarnessError> {
    std::fs::write(path, text)
        .map_err(|e| HarnessError(format!("cannot write {}: {e}", path.display())))
}
