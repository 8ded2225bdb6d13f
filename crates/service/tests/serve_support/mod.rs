//! `serve` on a free loopback port for tests that go through real HTTP: started, awaited
//! until `/readyz` says so, stopped (and drained) on request.

#![allow(dead_code)] // Each test binary uses a different part.

use rsp_config::Config;
use rsp_service::run::{serve, Environment};
use std::path::Path;
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Polls `{base}/readyz` until it answers 200 (panics after `limit`).
pub async fn wait_ready(base: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the service never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running service.
pub struct Running {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Serves `config` (relative paths from `config_dir`) and waits until it is ready.
    pub async fn start(config: Config, config_dir: &Path, environment: Environment) -> Running {
        let listen = format!("127.0.0.1:{}", free_port());
        let base = format!("http://{listen}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config_dir = config_dir.to_owned();
        let task = tokio::spawn(async move {
            serve(config, &config_dir, &listen, environment, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve runs and stops cleanly");
        });
        wait_ready(&base, Duration::from_secs(30)).await;
        Running { base, stop, task }
    }

    /// Stops the service and waits for its drain.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("serve does not panic");
    }
}
