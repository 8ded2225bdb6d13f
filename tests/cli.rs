//! The command line as an operator uses it: exit statuses, error messages, and the
//! `snapshot` → `plan` round trip against a loopback Artifact Registry.

use rsp_testkit::gar::{FakeGar, GarRepository};
use std::path::Path;
use std::process::{Command, Output};

fn rsp_images(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(args)
        .output()
        .expect("run rsp-images")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rsp-images-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_usage_and_bad_config_exit_2_with_one_sentence() {
    let output = rsp_images(&["plan"]);
    assert_eq!(output.status.code(), Some(2));
    let output = rsp_images(&["plan", "--config", "/nonexistent/config.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/config.yaml"),
        "{}",
        stderr(&output)
    );

    let dir = temp_dir("badconfig");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "images:\n  source:\n    type: docker\n    repository: r\n    registy: x\n",
    )
    .unwrap();
    let output = rsp_images(&["plan", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("images.source.registy"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_exists_for_every_subcommand() {
    for sub in ["serve", "plan", "snapshot", "tags"] {
        let output = rsp_images(&[sub, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{sub} --help");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage"));
    }
}

fn write_nodes(path: &Path, digest: &str) {
    let nodes = serde_json::json!({
        "apiVersion": "v1", "kind": "NodeList", "metadata": {},
        "items": [
            {"metadata": {"name": "node1", "labels": {}}, "spec": {},
             "status": {"images": [{"names": [format!("example/x@{digest}")], "sizeBytes": 1}]}},
            {"metadata": {"name": "node2", "labels": {}}, "spec": {}, "status": {}},
        ]
    });
    std::fs::write(path, nodes.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_then_plan_gives_the_same_answers_as_the_registry() {
    let gar = FakeGar::start().await.unwrap();
    let repo = GarRepository::new("us-central1", "project", "repo");
    let weekly = "sha256:".to_owned() + &"1".repeat(64);
    let daily = "sha256:".to_owned() + &"2".repeat(64);
    gar.set_images(
        &repo,
        vec![
            repo.image(
                "lab",
                &weekly,
                &["w_2077_43", "recommended", "latest_weekly"],
                4000,
            ),
            repo.image("lab", &daily, &["d_2077_10_23"], 3000),
            repo.image("other", &daily, &["bogus"], 10),
        ],
    );
    gar.set_max_page_size(1);
    let dir = temp_dir("snapshot");
    let google = dir.join("google.yaml");
    std::fs::write(
        &google,
        format!(
            "images:\n  source:\n    type: google\n    location: us-central1\n    projectId: \
             project\n    repository: repo\n    image: lab\n    apiUrl: {}\n    auth: none\n",
            gar.url()
        ),
    )
    .unwrap();
    let nodes = dir.join("nodes.json");
    write_nodes(&nodes, &weekly);

    let (google_s, nodes_s) = (
        google.to_str().unwrap().to_owned(),
        nodes.to_str().unwrap().to_owned(),
    );
    let snapshot =
        tokio::task::spawn_blocking(move || rsp_images(&["snapshot", "--config", &google_s]))
            .await
            .unwrap();
    assert!(snapshot.status.success(), "{}", stderr(&snapshot));
    std::fs::write(dir.join("listing.json"), &snapshot.stdout).unwrap();
    let offline = dir.join("offline.yaml");
    std::fs::write(
        &offline,
        "images:\n  source:\n    type: snapshot\n    path: listing.json\n    registry: \
         us-central1-docker.pkg.dev\n    repository: project/repo/lab\n",
    )
    .unwrap();

    let google_s = google.to_str().unwrap().to_owned();
    let live = tokio::task::spawn_blocking({
        let nodes_s = nodes_s.clone();
        move || rsp_images(&["plan", "--config", &google_s, "--nodes", &nodes_s])
    })
    .await
    .unwrap();
    assert!(live.status.success(), "{}", stderr(&live));
    let offline_s = offline.to_str().unwrap().to_owned();
    let saved = rsp_images(&["plan", "--config", &offline_s, "--nodes", &nodes_s]);
    assert!(saved.status.success(), "{}", stderr(&saved));

    let live: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let saved: serde_json::Value = serde_json::from_slice(&saved.stdout).unwrap();
    for key in ["images", "menu", "pods"] {
        assert_eq!(
            live[key], saved[key],
            "{key} differs between registry and snapshot"
        );
    }
    // The listing itself is right: aliases resolved, the other image skipped, one pod for the
    // daily on each node and one for the weekly on node2 only.
    assert_eq!(
        live["images"]["recommended"]["name"],
        "Recommended (Weekly 2077_43)"
    );
    let tags: Vec<&str> = live["images"]["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["tag"].as_str().unwrap())
        .collect();
    assert!(!tags.contains(&"bogus"), "{tags:?}");
    let pods: Vec<(&str, &str)> = live["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pod| (pod["node"].as_str().unwrap(), pod["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pods,
        vec![
            ("node1", "prepull-d-2077-10-23-node1"),
            ("node2", "prepull-w-2077-43-node2"),
            ("node2", "prepull-d-2077-10-23-node2"),
        ]
    );
}

/// `REPERTOIRE_BASE_URL` is read only when set, and a value that is not a URL is a
/// configuration error naming the variable (exit 2, before anything starts).
#[test]
fn a_bad_repertoire_url_is_a_configuration_error() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["serve", "--config", demo, "--listen", "127.0.0.1:0"])
        .env(
            "REPERTOIRE_BASE_URL",
            "ftp://user:secret@repertoire.example",
        )
        .output()
        .expect("run rsp-images");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("REPERTOIRE_BASE_URL"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}
