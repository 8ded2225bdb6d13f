//! Real Prometheus parts for the tests: Debian's `prometheus` server started on loopback
//! (scraping what the test names, evaluating the test's rule file) and its HTTP API, and
//! `promtool check metrics`. A missing binary fails the test with the package to install.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str =
    "run `apt-get install -y prometheus` (Debian's package has prometheus and promtool)";

/// A free loopback port (another process may take it before it is bound; tests retry).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `promtool check metrics` over `exposition`: its exit success and what it printed.
pub fn promtool_check_metrics(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run promtool ({error}): {INSTALL}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A `prometheus` server on loopback; killed (and its data removed) on drop.
pub struct Prometheus {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) every second and evaluating
    /// `rules` every second, and waits until it is ready.
    pub async fn start(dir: &Path, target: &str, rules: &Path) -> Prometheus {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: rsp-images\n    static_configs:\n      \
                 - targets: ['{target}']\n",
                rules = rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run prometheus ({error}): {INSTALL}"));
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
        };
        prometheus
            .wait_for("Prometheus ready", Duration::from_secs(30), || async {
                let ready = reqwest::get(format!("{}/-/ready", prometheus.url)).await;
                ready.is_ok_and(|reply| reply.status().is_success())
            })
            .await;
        prometheus
    }

    /// `GET /api/v1/{path}`'s `data`, after checking the API's `status`.
    pub async fn api(&self, path: &str) -> Value {
        let reply: Value = reqwest::get(format!("{}/api/v1/{path}", self.url))
            .await
            .unwrap_or_else(|error| panic!("Prometheus API {path}: {error}"))
            .json()
            .await
            .unwrap_or_else(|error| panic!("Prometheus API {path}: not JSON: {error}"));
        assert_eq!(reply["status"], "success", "{path}: {reply}");
        reply["data"].clone()
    }

    /// The result vector of an instant query.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let mut url = reqwest::Url::parse("http://x/query").expect("static URL");
        url.query_pairs_mut().append_pair("query", promql);
        let path = format!("query?{}", url.query().unwrap_or(""));
        let data = self.api(&path).await;
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// The state (`inactive`, `pending`, `firing`) of the alerting rule `name`, once
    /// Prometheus has evaluated it without error.
    pub async fn alert_state(&self, name: &str) -> Option<String> {
        let data = self.api("rules?type=alert").await;
        let rules = data["groups"].as_array()?.iter().flat_map(|group| {
            group["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
        });
        let rule = rules.into_iter().find(|rule| rule["name"] == name)?;
        assert_eq!(rule["health"], "ok", "rule {name}: {rule}");
        let evaluated = rule["lastEvaluation"]
            .as_str()
            .is_some_and(|time| !time.starts_with("0001-"));
        evaluated.then(|| rule["state"].as_str().unwrap_or("").to_owned())
    }

    /// Polls `condition` every 200 ms until it holds; panics with the log after `timeout`.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, mut condition: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        while !condition().await {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; Prometheus log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
