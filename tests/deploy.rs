//! The manifests in `deploy/kubernetes/` work as a whole: the container listens where its
//! probes look even when the ConfigMap has no `server.listen`, a PodDisruptionBudget keeps a
//! replica through drains, and the Kustomization lists every manifest. (Their schemas are
//! checked by `scripts/validate-manifests` in CI; the RBAC verbs by
//! `crates/kube/tests/rbac.rs`.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_yaml::Value;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

/// Every document of every manifest file, with its file name.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(DEPLOY)
        .expect("deploy/kubernetes")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            serde_yaml::Deserializer::from_str(&text)
                .map(|doc| (name.clone(), Value::deserialize(doc).unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn of_kind(kind: &str) -> Value {
    documents()
        .into_iter()
        .map(|(_, doc)| doc)
        .find(|doc| doc["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in deploy/kubernetes"))
}

/// The address `rsp-images serve` binds when started with `args`: from its JSON log line
/// "Starting rsp-images", or from its error when the address is taken.
fn listen_address(args: &[String]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rsp-images serve");
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut found = None;
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(30)) {
        if let Some(taken) = line.split("cannot listen on ").nth(1) {
            found = taken.split(": ").next().map(str::to_owned);
            break;
        }
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if record["message"] == "Starting rsp-images" {
            found = record["listen"].as_str().map(str::to_owned);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found.expect("rsp-images serve said where it listens")
}

#[test]
fn the_container_listens_where_its_probes_look_without_server_listen() {
    let deployment = of_kind("Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let port = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "http")
        .and_then(|p| p["containerPort"].as_u64())
        .expect("a port named http");
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    // The ConfigMap's configuration without `server.listen`, with the demo's offline source
    // so that the service starts here.
    let configmap = of_kind("ConfigMap");
    let mut config: Value =
        serde_yaml::from_str(configmap["data"]["config.yaml"].as_str().unwrap()).unwrap();
    let server = config["server"].as_mapping_mut().unwrap();
    server.remove("listen");
    let demo: Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml"))
            .unwrap(),
    )
    .unwrap();
    config["images"]["source"] = demo["images"]["source"].clone();
    config["cluster"] = demo["cluster"].clone();
    let dir = std::env::temp_dir().join(format!("rsp-images-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["demo-snapshot.json", "demo-nodes.json"] {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        std::fs::copy(examples.join(file), dir.join(file)).unwrap();
    }
    let path = dir.join("config.yaml");
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    let args: Vec<String> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .map(|a| {
            if a == "/etc/rsp-images/config.yaml" {
                path.display().to_string()
            } else {
                a
            }
        })
        .collect();
    let address = listen_address(&args);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        address,
        format!("0.0.0.0:{port}"),
        "the probes reach the pod on its IP, port {port}"
    );
}

#[test]
fn a_disruption_budget_keeps_a_replica_through_drains() {
    let deployment = of_kind("Deployment");
    let budget = of_kind("PodDisruptionBudget");
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
    let min = budget["spec"]["minAvailable"].as_u64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} of {replicas}"
    );
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = of_kind("Kustomization");
    let listed: Vec<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let mut files: Vec<String> = documents()
        .into_iter()
        .filter(|(_, doc)| doc["kind"] != "Kustomization")
        .map(|(file, _)| file)
        .collect();
    files.dedup();
    for file in &files {
        // An optional manifest says so on its first line, and the default installation
        // leaves it out (warm-nodes.yaml: patch on nodes only where warm nodes are on).
        let text = std::fs::read_to_string(format!("{DEPLOY}/{file}")).unwrap();
        let optional = text.starts_with("# Optional:");
        assert_eq!(
            listed.contains(&file.as_str()),
            !optional,
            "{file}: every manifest is in the kustomization except optional ones"
        );
    }
    assert!(files.contains(&"warm-nodes.yaml".to_owned()));
}
