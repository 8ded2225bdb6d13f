//! A real Prometheus scrapes a running `rsp-images serve` (over a real `docker-registry`),
//! sees its series through the HTTP API, and fires `RspImagesListingStale` from the shipped
//! rule file when the registry goes away. `promtool check metrics` lints a real scrape.
//!
//! The one change to the shipped rules is openly made here: `RspImagesListingStale`'s
//! `for: 10m` becomes `for: 1s`, so that the test takes seconds, not minutes. The threshold
//! itself is the shipped one (three refresh intervals; the service refreshes every 2 s).

mod prometheus_support;

use prometheus_support::{free_port, promtool_check_metrics, Prometheus};
use rsp_testkit::registry::{DockerRegistry, Pusher, RegistryAuth, TempDir};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const REPO: &str = "lsst-sqre/sciplat-lab";
const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/prometheus/rsp-images.rules.yaml"
);

/// `rsp-images serve`, killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The shipped rules with `RspImagesListingStale`'s `for:` shortened to one second.
fn rules_with_short_for(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(RULES).expect("the shipped rule file");
    let mut rules: serde_yaml::Value = serde_yaml::from_str(&text).expect("rules are YAML");
    let mut shortened = 0;
    for group in rules["groups"].as_sequence_mut().expect("groups") {
        for rule in group["rules"].as_sequence_mut().expect("rules") {
            if rule["alert"] == "RspImagesListingStale" {
                rule["for"] = "1s".into();
                shortened += 1;
            }
        }
    }
    assert_eq!(shortened, 1, "the rule file has one RspImagesListingStale");
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml::to_string(&rules).expect("YAML")).expect("write rules");
    path
}

fn start_serve(dir: &Path, registry: &DockerRegistry, listen: &str) -> Serve {
    let nodes = dir.join("nodes.json");
    std::fs::write(
        &nodes,
        r#"{"apiVersion": "v1", "kind": "NodeList", "items": [{"metadata": {"name": "node-1"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}"#,
    )
    .expect("write nodes");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "images:\n  source:\n    type: docker\n    registry: {host}\n    repository: {REPO}\n    \
             apiUrl: {url}\n  refreshInterval: 2s\n  recommendedTag: recommended\n\
             cluster:\n  type: static\n  nodesFile: nodes.json\n",
            host = registry.host(),
            url = registry.url(),
        ),
    )
    .expect("write config");
    let log = std::fs::File::create(dir.join("serve.log")).expect("serve log");
    let child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", listen])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("run rsp-images serve");
    Serve(child)
}

async fn scrape(url: &str, accept: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let reply = request.send().await.expect("scrape /metrics");
    assert!(reply.status().is_success());
    reply.text().await.expect("metrics text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_service_and_fires_listing_stale_when_the_registry_goes_away() {
    let dir = TempDir::new("rsp-prometheus").expect("temp dir");
    let registry = DockerRegistry::start(RegistryAuth::None)
        .await
        .expect("docker-registry");
    let pusher = Pusher::new(registry.url(), None);
    pusher
        .push_image(REPO, "weekly", &["w_2077_43", "recommended"])
        .await
        .expect("push");
    pusher
        .push_image(REPO, "daily", &["d_2077_10_23"])
        .await
        .expect("push");
    let listen = format!("127.0.0.1:{}", free_port());
    let _serve = start_serve(dir.path(), &registry, &listen);
    let rules = rules_with_short_for(dir.path());
    let prometheus = Prometheus::start(&dir.path().join("prometheus"), &listen, &rules).await;

    // The service's series arrive through a real scrape, with the values the service has;
    // the request histogram shows Prometheus' own scrapes from the second scrape on.
    let own_scrapes =
        "rsp_images_http_request_duration_seconds_count{route=\"/metrics\",status=\"200\"}";
    prometheus
        .wait_for(
            "tags seen and scrapes counted",
            Duration::from_secs(30),
            || async {
                let tags = prometheus.query("rsp_images_tags_seen").await;
                let scrapes = prometheus.query(own_scrapes).await;
                tags.first().is_some_and(|s| s["value"][1] == "3") && !scrapes.is_empty()
            },
        )
        .await;
    let up = prometheus.query("up{job=\"rsp-images\"}").await;
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let names = prometheus
        .query("count by (__name__) ({__name__=~\"rsp_images_.+\"})")
        .await;
    let names: Vec<&str> = names
        .iter()
        .filter_map(|s| s["metric"]["__name__"].as_str())
        .collect();
    for expected in [
        "rsp_images_refresh_total",
        "rsp_images_refresh_duration_seconds_bucket",
        "rsp_images_refresh_last_success_timestamp_seconds",
        "rsp_images_refresh_interval_seconds",
        "rsp_images_images_seen",
        "rsp_images_prepull_pods_in_flight",
        "rsp_images_prepull_pods_max",
        "rsp_images_prepulls_total",
        "rsp_images_missing_pairs",
        "rsp_images_nodes_eligible",
        "rsp_images_nodes_ineligible",
        "rsp_images_prepull_image_missing_nodes",
        "rsp_images_http_request_duration_seconds_count",
        "rsp_images_task_restarts_total",
        "rsp_images_task_up",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    // A static cluster prepulls nothing, so it has no leader series (and no NoLeader alert).
    assert!(!names.contains(&"rsp_images_leader"), "{names:?}");

    // promtool lints a real scrape in the text format without a finding.
    let metrics_url = format!("http://{listen}/metrics");
    let (clean, findings) = promtool_check_metrics(&scrape(&metrics_url, None).await);
    assert!(clean && findings.trim().is_empty(), "promtool: {findings}");
    // The OpenMetrics scrape (what Prometheus reads) draws one objection from Debian's
    // promtool 2.42, whose linter reads the 0.0.4 format: OpenMetrics names a counter family
    // without `_total` (`# HELP rsp_images_refresh`), so the linter finds the `_total`
    // samples without a HELP line ("no help text"). Nothing else.
    let openmetrics = scrape(&metrics_url, Some("application/openmetrics-text")).await;
    let (_, findings) = promtool_check_metrics(&openmetrics);
    let mut objections: Vec<&str> = findings.lines().collect();
    objections.sort_unstable();
    assert_eq!(
        objections,
        [
            "rsp_images_prepulls_total no help text",
            "rsp_images_refresh_total no help text",
            "rsp_images_task_restarts_total no help text",
            "rsp_images_warm_released_by_timeout_total no help text"
        ],
        "promtool on OpenMetrics: {findings}"
    );

    // While the registry answers, the rule is evaluated and quiet.
    prometheus
        .wait_for(
            "RspImagesListingStale evaluated",
            Duration::from_secs(20),
            || async {
                prometheus
                    .alert_state("RspImagesListingStale")
                    .await
                    .is_some()
            },
        )
        .await;
    assert_eq!(
        prometheus
            .alert_state("RspImagesListingStale")
            .await
            .as_deref(),
        Some("inactive")
    );

    // The registry goes away: the service keeps its listing, and after three refresh
    // intervals without a success the alert fires.
    drop(registry);
    prometheus
        .wait_for(
            "RspImagesListingStale firing",
            Duration::from_secs(30),
            || async {
                prometheus
                    .alert_state("RspImagesListingStale")
                    .await
                    .as_deref()
                    == Some("firing")
            },
        )
        .await;
    let firing = prometheus.api("alerts").await;
    let alert = firing["alerts"]
        .as_array()
        .and_then(|alerts| {
            alerts
                .iter()
                .find(|a| a["labels"]["alertname"] == "RspImagesListingStale")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(alert["labels"]["instance"], listen.as_str(), "{alert}");
    assert_eq!(alert["labels"]["severity"], "warning", "{alert}");
    let tags = prometheus.query("rsp_images_tags_seen").await;
    assert_eq!(
        tags[0]["value"][1], "3",
        "the last good listing is still served"
    );
}
