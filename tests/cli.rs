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

/// Runs rsp-images and fails the test if it has not finished within `limit` (the child is
/// killed), so that a hang shows as a failure instead of holding the suite.
fn rsp_images_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rsp-images");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for rsp-images").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rsp-images {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("read rsp-images' output")
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
    assert_eq!(
        stderr(&snapshot),
        "",
        "no progress when stderr is not a terminal"
    );
    std::fs::write(dir.join("listing.json"), &snapshot.stdout).unwrap();

    // On a terminal (util-linux `script` gives it one), the pages and tags so far: one
    // image per page here, the other repository's image left out.
    let command = format!(
        "{} snapshot --config {} >/dev/null",
        env!("CARGO_BIN_EXE_rsp-images"),
        google.display()
    );
    let terminal = tokio::task::spawn_blocking(move || {
        Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("run script (util-linux)")
    })
    .await
    .unwrap();
    assert!(terminal.status.success(), "{}", stderr(&terminal));
    let screen = String::from_utf8_lossy(&terminal.stdout);
    assert!(
        screen.contains("rsp-images: listing ") && screen.contains(": 3 pages, 4 tags\r\n"),
        "{screen:?}"
    );
    assert!(
        screen.contains("rsp-images: saved 4 tags in "),
        "{screen:?}"
    );
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
            ("node1", "rsp-prepull-d-2077-10-23-node1"),
            ("node2", "rsp-prepull-w-2077-43-node2"),
            ("node2", "rsp-prepull-d-2077-10-23-node2"),
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

/// Regression (issue 10): a release number beyond 64 bits is a release in the original, and
/// `tags parse` writes it as a JSON integer of any length, as Python's `json` does.
#[test]
fn release_numbers_beyond_64_bits_are_written_whole() {
    let big = "999999999999999999999";
    let output = rsp_images(&["tags", "parse", &format!("r{big}_0_0")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(line.contains(r#""image_type":"Release""#), "{line}");
    assert!(
        line.contains(&format!(
            r#""version":{{"major":{big},"minor":0,"patch":0,"#
        )),
        "{line}"
    );
    assert!(line.contains(&format!("Release r{big}.0.0")), "{line}");
}

/// Regression (issue 10): deep nesting did not finish parsing, and long values were echoed
/// whole; policy files go through the same guards as the configuration.
#[test]
fn bad_policy_files_are_refused_quickly_and_briefly() {
    let dir = temp_dir("policy");
    let deep = dir.join("deep.yaml");
    std::fs::write(&deep, format!("weekly: {}", "[".repeat(200_000))).unwrap();
    let output = rsp_images_within(
        &[
            "tags",
            "filter",
            "--policy",
            deep.to_str().unwrap(),
            "w_2077_01",
        ],
        std::time::Duration::from_secs(5),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nests more than"),
        "{}",
        stderr(&output)
    );

    let long = dir.join("long.yaml");
    let value = "x".repeat(1_000_000);
    std::fs::write(&long, format!("weekly:\n  cutoffDate: \"{value}\"\n")).unwrap();
    let output = rsp_images(&[
        "tags",
        "filter",
        "--policy",
        long.to_str().unwrap(),
        "w_2077_01",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).len() < 1000,
        "{} bytes",
        stderr(&output).len()
    );
}

fn demo_plan(args: &[&str]) -> Output {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    let mut all = vec!["plan", "--config", config, "--now", "2026-12-01T00:00:00Z"];
    all.extend_from_slice(args);
    rsp_images(&all)
}

/// The columns of a table line: cells separated by runs of at least two spaces.
fn columns(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

#[test]
fn plan_prints_tables_for_people() {
    let output = demo_plan(&["--output", "table"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    for title in [
        "MENU (3 images; 95 in the dropdown) from us-central1-docker.pkg.dev/",
        "PREPULL IMAGES (6)",
        "NODES (6, 4 eligible)",
        "PODS TO CREATE (6)",
    ] {
        assert!(text.contains(title), "{title} in\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    // Columns are aligned: in each table every cell starts where its header does.
    let header = lines
        .iter()
        .position(|line| line.starts_with("NAME ") && line.contains("ELIGIBLE"))
        .expect("the node table");
    let starts = |line: &str| -> Vec<usize> {
        let mut from = 0;
        columns(line)
            .iter()
            .map(|cell| {
                let start = from + line[from..].find(cell).unwrap();
                from = start + cell.len();
                start
            })
            .collect()
    };
    let header_starts = starts(lines[header]);
    let node_lines = &lines[header + 1..header + 7];
    for line in node_lines {
        assert_eq!(starts(line)[..3], header_starts[..3], "{line}\n{text}");
    }
    assert_eq!(
        columns(node_lines[4])[..3],
        ["rsp-node-5", "no", "cordoned"]
    );
    assert_eq!(columns(node_lines[5])[..3], ["rsp-node-6", "no", "tainted"]);
    assert!(node_lines[5].ends_with("Node is tainted (NoSchedule, nvidia.com/gpu = true)"));
    assert_eq!(columns(node_lines[0])[..3], ["rsp-node-1", "yes", "<none>"]);
    let pods = lines
        .iter()
        .skip_while(|line| !line.starts_with("PODS TO CREATE"))
        .skip(2)
        .map(|line| columns(line)[0])
        .collect::<Vec<_>>();
    assert_eq!(pods.len(), 6, "{text}");
    assert_eq!(pods[0], "rsp-prepull-d-2026-11-25-rsp-node-1");
}

#[test]
fn plan_writes_json_when_not_on_a_terminal_and_tables_on_one() {
    let piped = demo_plan(&[]);
    let json = demo_plan(&["--output", "json"]);
    assert!(piped.status.success() && json.status.success());
    assert_eq!(piped.stdout, json.stdout, "auto is json when piped");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["pods"].as_array().unwrap().len(), 6);

    // On a terminal (util-linux `script` gives the command one), auto is the table.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    let command = format!(
        "{} plan --config {config} --now 2026-12-01T00:00:00Z",
        env!("CARGO_BIN_EXE_rsp-images")
    );
    let terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("run script (util-linux)");
    assert!(terminal.status.success(), "{}", stderr(&terminal));
    let text = String::from_utf8_lossy(&terminal.stdout);
    assert!(text.starts_with("MENU ("), "{text}");
    assert!(!text.contains("\"pods\""), "{text}");
}

/// Regression: `plan | head` closed the pipe early and `print!` panicked (exit 101).
#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["plan", "--config", config, "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rsp-images");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}
