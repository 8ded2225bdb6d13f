//! `rsp-images serve` as an operator runs it: what is refused before anything starts, how it
//! stops on each signal, and what it logs while it is not ready.

use rsp_testkit::kube::{node, FakeCluster};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsp-images-serve-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A configuration with a Docker source at `api` (nothing needs to answer there) and a
/// static cluster reading `nodes_file`, plus `extra` lines.
fn write_config(dir: &Path, api: SocketAddr, nodes_file: &str, extra: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "images:\n  source:\n    type: docker\n    registry: registry.example\n    \
             repository: lsst/sciplat-lab\n    apiUrl: http://{api}\n  refreshInterval: 1h\n\
             cluster:\n  type: static\n  nodesFile: {nodes_file}\n{extra}"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("nodes.json"), r#"{"items": []}"#).unwrap();
    path
}

fn serve(config: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rsp-images serve")
}

/// Waits for the process to exit; its status and stderr.
fn finish(mut child: Child, timeout: Duration) -> (ExitStatus, String) {
    // The process writes little; its stderr pipe does not fill before it exits.
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return (status, stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rsp-images serve did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

async fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// Waits until the service answers at all.
async fn answering(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(addr, "/healthz").await.is_none() {
        assert!(Instant::now() < deadline, "the service never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Regression (issue 10): `server.listen: not-an-address` exited 1 with "cannot listen"; it
/// is a configuration error naming the key (and `--listen` names the option).
#[test]
fn a_listen_address_that_is_no_address_is_a_configuration_error() {
    let dir = temp_dir("listen");
    let config = write_config(
        &dir,
        free_addr(),
        "nodes.json",
        "server:\n  listen: not-an-address\n",
    );
    let (status, stderr) = finish(serve(&config, &[]), Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("server.listen"), "{stderr}");

    let config = write_config(&dir, free_addr(), "nodes.json", "");
    let (status, stderr) = finish(
        serve(&config, &["--listen", "not-an-address"]),
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
}

/// Regression (issue 10): a missing `nodesFile` was reported after "Starting rsp-images",
/// with the refresh loop already talking to the registry.
#[test]
fn a_missing_nodes_file_is_refused_before_anything_starts() {
    let dir = temp_dir("nodes");
    let registry = TcpListener::bind("127.0.0.1:0").unwrap();
    registry.set_nonblocking(true).unwrap();
    let config = write_config(&dir, registry.local_addr().unwrap(), "missing.json", "");
    let (status, stderr) = finish(
        serve(&config, &["--listen", &free_addr().to_string()]),
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");
    assert!(!stderr.contains("Starting rsp-images"), "{stderr}");
    assert!(
        registry.accept().is_err(),
        "the registry was contacted before the configuration was checked"
    );
}

/// Regression (issue 10): SIGHUP killed the process without the drain.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_drains_like_sigterm() {
    let dir = temp_dir("sighup");
    let addr = free_addr();
    let config = write_config(&dir, free_addr(), "nodes.json", "");
    let child = serve(&config, &["--listen", &addr.to_string()]);
    answering(addr).await;
    signal(&child, "HUP");
    let (status, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Shutdown requested"), "{stderr}");
    assert!(stderr.contains("Stopping"), "the drain ran: {stderr}");
}

/// Regression (issue 10): expected `/readyz` 503s were logged as errors on every probe.
/// Also, end to end: before the first listing the API answers the not-ready 503.
#[tokio::test(flavor = "multi_thread")]
async fn not_ready_is_not_logged_as_an_error() {
    let dir = temp_dir("notready");
    let addr = free_addr();
    // Nothing listens at the registry's address: every refresh fails.
    let config = write_config(&dir, free_addr(), "nodes.json", "");
    let child = serve(&config, &["--listen", &addr.to_string()]);
    answering(addr).await;
    for _ in 0..3 {
        let (status, body) = get(addr, "/readyz").await.expect("readyz answers");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("not_ready"), "{body}");
    }
    let images = get(addr, "/nublado/spawner/v1/images").await;
    signal(&child, "TERM");
    let (status, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#))
        .collect();
    assert!(errors.is_empty(), "errors logged: {errors:#?}");
    let (status, body) = images.expect("images answers");
    assert_eq!((status, body.contains("not_ready")), (503, true), "{body}");
}

/// Regression (issue 10): when the first refresh landed before start-up had built its
/// initial state (a slow cluster connection, a fast registry), `/readyz` stayed 503 for a
/// whole `refreshInterval` while the API already served the listing.
#[tokio::test(flavor = "multi_thread")]
async fn readiness_follows_a_first_refresh_that_lands_during_start_up() {
    let cluster = FakeCluster::start().await;
    for i in 0..500 {
        cluster.add_node(node(&format!("node{i:03}")));
    }
    let dir = temp_dir("race");
    let digest = format!("sha256:{}", "4".repeat(64));
    let listing = serde_json::json!({"dockerImages": [{
        "name": format!("lsst/sciplat-lab@{digest}"),
        "uri": format!("registry.example/lsst/sciplat-lab@{digest}"),
        "tags": ["recommended", "w_2077_43"],
    }]});
    std::fs::write(dir.join("listing.json"), listing.to_string()).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
         users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    \
         cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n",
        cluster.url()
    );
    std::fs::write(dir.join("kubeconfig"), kubeconfig).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "images:\n  source:\n    type: snapshot\n    path: listing.json\n    \
             registry: registry.example\n    repository: lsst/sciplat-lab\n  \
             refreshInterval: 1h\nmetadataPath: {}\nprepuller:\n  namespace: nublado\n",
            dir.join("podinfo").display()
        ),
    )
    .unwrap();
    let addr = free_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["serve", "--listen", &addr.to_string(), "--config"])
        .arg(&config)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rsp-images serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        ready = get(addr, "/readyz")
            .await
            .is_some_and(|(status, _)| status == 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !ready {
        let _ = child.kill();
        let (_, stderr) = finish(child, Duration::from_secs(30));
        panic!("never ready within 20 s: {stderr}");
    }
    signal(&child, "TERM");
    let (status, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
}
