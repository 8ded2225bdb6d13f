//! `GET /spawner/v1/prepulls` byte for byte as the original answered on the conformance
//! suite's `plan` inputs (decisions §8): the same configuration files, registries serving the
//! same fixtures, the same nodes, through `serve` and real HTTP. The recorded bodies are the
//! original's (`wire/prepulls*.json`, see that directory's README for the mapping).

mod conformance_support;
mod serve_support;

use conformance_support::{json, read};
use rsp_config::Config;
use rsp_service::run::Options;
use rsp_testkit::gar::{DockerImage, FakeGar, GarRepository};
use rsp_testkit::registry::FakeDockerRegistry;
use rsp_testkit::registry::TempDir;
use serde_json::{json, Value};
use serve_support::Running;

/// A conformance fixture's Docker image as the Artifact Registry REST API lists it.
fn rest_image(image: &Value) -> DockerImage {
    let text = |key: &str| image[key].as_str().unwrap_or_default().to_owned();
    DockerImage {
        name: text("name"),
        uri: text("uri"),
        tags: image["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        image_size_bytes: image["image_size_bytes"].to_string(),
        upload_time: text("upload_time"),
        media_type: text("media_type"),
        build_time: text("build_time"),
        update_time: text("update_time"),
        artifact_type: None,
        image_manifests: Vec::new(),
    }
}

/// Loads a GAR fixture into the fake, grouped by repository as the fixture names them.
fn load_gar(fake: &FakeGar, fixture: &str) {
    let images = json(&format!("registry/{fixture}"));
    let mut by_parent: Vec<(String, Vec<DockerImage>)> = Vec::new();
    for image in images.as_array().expect("a list of images") {
        let name = image["name"].as_str().expect("a name");
        let parent = name.split("/dockerImages/").next().unwrap_or_default();
        match by_parent.iter_mut().find(|(p, _)| p == parent) {
            Some((_, list)) => list.push(rest_image(image)),
            None => by_parent.push((parent.to_owned(), vec![rest_image(image)])),
        }
    }
    for (parent, images) in by_parent {
        // projects/{p}/locations/{l}/repositories/{r}
        let parts: Vec<&str> = parent.split('/').collect();
        let repo = GarRepository::new(parts[3], parts[1], parts[5]);
        fake.set_images(&repo, images);
    }
}

/// A fixture node map as a Kubernetes NodeList (what `kubectl get nodes -o json` prints).
fn node_list(fixture: &str) -> Value {
    let nodes = json(&format!("nodes/{fixture}"));
    let items: Vec<Value> = nodes
        .as_object()
        .expect("a node map")
        .iter()
        .map(|(name, node)| {
            let images: Vec<Value> = node["images"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| json!({"names": i["names"], "sizeBytes": i.get("size_bytes").cloned().unwrap_or(json!(0))}))
                .collect();
            let mut spec = json!({});
            if let Some(taints) = node.get("taints").filter(|t| !t.is_null()) {
                spec["taints"] = taints.clone();
            }
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": node.get("labels").cloned().unwrap_or(json!({}))},
                "spec": spec,
                "status": {"images": images},
            })
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": items})
}

/// A fixture configuration pointed at a fake registry and a static node file.
fn config_text(fixture: &str, api_url: &str, google: bool) -> String {
    let mut out = Vec::new();
    let mut in_images = false;
    for line in read(&format!("config/{fixture}")).lines() {
        out.push(line.to_owned());
        if line.trim_end() == "images:" {
            in_images = true;
        } else if !line.starts_with(' ') && !line.is_empty() {
            in_images = false;
        }
        if in_images && line.trim_end() == "  source:" {
            out.push(format!("    apiUrl: {api_url}"));
            if google {
                out.push("    auth: none".to_owned());
            }
        }
    }
    out.push("cluster:\n  type: static\n  nodesFile: nodes.json".to_owned());
    out.join("\n") + "\n"
}

/// Serves `config` and returns the `/prepulls` body once the service is ready.
async fn prepulls_body(config: &str, nodes: Value) -> Vec<u8> {
    let dir = TempDir::new("rsp-prepulls-wire").expect("a temporary directory");
    std::fs::write(dir.path().join("nodes.json"), nodes.to_string()).unwrap();
    let (config, _) = Config::from_yaml(config).expect("the fixture configuration loads");
    let running = Running::start(config, dir.path(), Options::default()).await;
    let reply = reqwest::get(format!("{}/nublado/spawner/v1/prepulls", running.base))
        .await
        .expect("an answer");
    assert_eq!(reply.status(), 200);
    let body = reply.bytes().await.expect("a body").to_vec();
    running.stop().await;
    body
}

fn assert_same_bytes(scenario: &str, got: &[u8], wire: &str) {
    let want = read(&format!("wire/{wire}"));
    let got = String::from_utf8_lossy(got);
    assert!(
        got == want.trim_end_matches('\n'),
        "{scenario}: /prepulls differs from the original's {wire}\n  want: {want}\n  got:  {got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepulls_are_byte_identical_to_the_original() {
    let docker = FakeDockerRegistry::start().await.expect("a fake registry");
    let tags = json("registry/docker.json");
    docker.set_tags(
        "library/sketchbook",
        tags.as_object()
            .expect("tag → digest")
            .iter()
            .map(|(tag, digest)| (tag.as_str(), digest.as_str().unwrap_or_default())),
    );
    let gar = FakeGar::start().await.expect("a fake Artifact Registry");
    load_gar(&gar, "gar.json");
    load_gar(&gar, "gar-cycle.json");
    for (scenario, config, google, nodes, wire) in [
        (
            "docker-standard",
            "standard.yaml",
            false,
            "standard.json",
            "prepulls.json",
        ),
        (
            "docker-node-selector",
            "prepuller.yaml",
            false,
            "prepuller.json",
            "prepulls-selector.json",
        ),
        (
            "gar-before",
            "gar.yaml",
            true,
            "empty.json",
            "prepulls-gar.json",
        ),
        (
            "gar-cycle",
            "gar-cycle.yaml",
            true,
            "gar-cycle.json",
            "prepulls-gar-cycle.json",
        ),
    ] {
        let api = if google { gar.url() } else { docker.url() };
        let body = prepulls_body(&config_text(config, api, google), node_list(nodes)).await;
        assert_same_bytes(scenario, &body, wire);
    }
}
