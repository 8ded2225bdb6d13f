//! The lab form under load (issue: a form of a million tags is 100 MB of HTML; rendered per
//! request, four concurrent requests took the process from 1.05 to 1.8 GB and `/healthz` took
//! 2–4 s, beyond kubelet's default probe timeout of 1 s).
//!
//! A large listing (every tag in the dropdown, as an empty `dropdownMenu` policy puts them)
//! is served by `serve` on a runtime of its own with two worker threads, like the two cores
//! of a small pod. While four clients load the form at once, `/healthz` must keep answering
//! within a second, and the four forms are the same bytes: the images half is rendered once
//! and shared, off the threads that answer probes.

mod serve_support;

use rsp_config::Config;
use rsp_service::run::Options;
use rsp_testkit::gar::{generate_images, GarRepository};
use rsp_testkit::registry::TempDir;
use serve_support::{prepare_on_loopback, wait_ready};
use std::time::{Duration, Instant};

/// Tags in the listing: enough that rendering the form on a request thread stalls probes
/// for seconds in a debug build.
const TAGS: usize = 60_000;

/// kubelet's default `timeoutSeconds` for probes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Writes the snapshot and configuration; returns the configuration.
fn setup(dir: &std::path::Path) -> Config {
    let repo = GarRepository::new("us-central1", "p", "r");
    let images = generate_images(&repo, "lab", TAGS);
    let snapshot = serde_json::json!({ "dockerImages": images });
    std::fs::write(dir.join("snapshot.json"), snapshot.to_string()).unwrap();
    std::fs::write(dir.join("nodes.json"), r#"{"items": []}"#).unwrap();
    let text = "
images:
  source:
    type: snapshot
    path: snapshot.json
    registry: us-central1-docker.pkg.dev
    repository: p/r/lab
lab:
  sizes:
    - size: small
      resources:
        limits: {cpu: 1, memory: 3Gi}
        requests: {cpu: 1, memory: 3Gi}
cluster:
  type: static
  nodesFile: nodes.json
";
    Config::from_yaml(text)
        .expect("the test configuration loads")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_large_forms_are_served() {
    let dir = TempDir::new("rsp-form-load").unwrap();
    let config = setup(dir.path());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = tokio::sync::oneshot::channel();
    let config_dir = dir.path().to_owned();
    // The service on two worker threads of its own, as in a pod with two cores.
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let prepared = prepare_on_loopback(config, &config_dir, Options::default()).await;
            bound
                .send(prepared.local_addr().expect("a bound listener"))
                .expect("the test waits for the address");
            prepared
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    });
    let base = format!("http://{}", addr.await.expect("the service binds"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    wait_ready(&base, Duration::from_secs(120)).await;

    let started = Instant::now();
    let forms: Vec<_> = (0..4)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let reply = client
                    .get(format!("{base}/nublado/spawner/v1/lab-form/user{i}"))
                    .send()
                    .await
                    .expect("the form is answered");
                assert_eq!(reply.status(), 200);
                reply.bytes().await.expect("the whole form")
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while !forms.iter().all(|form| form.is_finished()) {
        let asked = Instant::now();
        let reply = client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("healthz answers");
        assert!(reply.status().is_success());
        slowest = slowest.max(asked.elapsed());
        probes += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = started.elapsed();
    let mut bodies = Vec::new();
    for form in forms {
        bodies.push(form.await.expect("a form task"));
    }
    let _ = stop.send(());
    server
        .join()
        .expect("serve does not panic")
        .expect("serve stops cleanly");

    let options = bodies[0].windows(8).filter(|w| w == b"<option ").count();
    assert_eq!(options, TAGS, "every tag is in the dropdown");
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "the same form for all"
    );
    assert!(
        slowest < PROBE_TIMEOUT,
        "/healthz took {slowest:?} while {} forms of {} bytes were served ({probes} probes \
         in {busy:?})",
        bodies.len(),
        bodies[0].len()
    );
}
