//! The whole service in process, for tests that go through real HTTP: [`Running`] prepares it
//! on a loopback port the system picks (so no two tests race for a port), runs it, waits until
//! `/readyz` says ready, and stops (and drains) it on request; with [`Options`] a test reaches
//! a fake cluster, sets the environment, or kills tasks through the fault hooks.
//!
//! The service tests' support modules are named `<harness>_support`: this one (`serve_support`)
//! runs `serve`; `http_support` is the router over an in-memory backend; `scale_support` makes
//! large snapshots; `conformance_support` reads the specification's vectors.

#![allow(dead_code)] // Each test binary uses a different part.

use rsp_config::Config;
use rsp_service::run::{prepare, Options, Prepared};
use rsp_service::supervise::Faults;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a service may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub base: String,
    /// The fault hooks it was started with (`Options::faults`).
    pub faults: Faults,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Serves `config` (relative paths from `config_dir`) with `options` and waits until it
    /// is ready.
    pub async fn start(config: Config, config_dir: &Path, options: Options) -> Running {
        let faults = options.faults.clone();
        let prepared = prepare_on_loopback(config, config_dir, options).await;
        let addr = prepared.local_addr().expect("a bound listener");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            prepared
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve runs and stops cleanly");
        });
        let running = Running {
            addr,
            base: format!("http://{addr}"),
            faults,
            stop,
            task,
        };
        wait_ready(&running.base, READY_WITHIN).await;
        running
    }

    /// `GET {path}`: status and body (empty when it cannot be read).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// The value of a sample of `/metrics`, e.g. `rsp_images_task_restarts_total{task="world"}`.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits until `/readyz` answers 200 again.
    pub async fn wait_ready(&self) {
        wait_ready(&self.base, READY_WITHIN).await;
    }

    /// Stops the service and waits for its drain.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the service stops")
            .expect("serve does not panic");
    }
}

/// Checks and binds the service on a loopback port the system picks, starting nothing: for a
/// test that runs it on a runtime of its own (`Prepared::run`).
pub async fn prepare_on_loopback(config: Config, config_dir: &Path, options: Options) -> Prepared {
    prepare(config, config_dir, "127.0.0.1:0", options)
        .await
        .expect("the service starts")
}

/// Polls `{base}/readyz` until it answers 200 (panics after `limit`).
pub async fn wait_ready(base: &str, limit: Duration) {
    eventually("the service is ready", limit, || async {
        reqwest::get(format!("{base}/readyz"))
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

/// Polls `check` every 20 ms until it holds, for at most `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
